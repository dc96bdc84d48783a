"""The committed SOP class table (dicomul/dimse/_sop_table.py) is what
scripts/gen_sop_table.py makes of the installed pydicom's UID dictionary: a pydicom
upgrade that adds or renames UIDs fails here until the table is regenerated. And
importing dicomul.dimse.sop reads no pydicom."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

from pydicom.uid import UID_dictionary

from dicomul.dimse import _sop_table

GENERATOR = Path(__file__).resolve().parent.parent / "scripts" / "gen_sop_table.py"


def _generator() -> ModuleType:
    """scripts/gen_sop_table.py as a module (scripts/ is not a package)."""
    spec = importlib.util.spec_from_file_location("gen_sop_table", GENERATOR)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# In a fresh interpreter: pynetdicom (a test dependency, imported by other tests) adds
# transfer syntaxes to pydicom's UID_dictionary when it is imported, so this process's
# copy may not be pydicom's own.
_CHECK = """
import importlib.util, sys
from pydicom.uid import UID_dictionary
from dicomul.dimse import _sop_table, sop
spec = importlib.util.spec_from_file_location("gen_sop_table", sys.argv[1])
gen = importlib.util.module_from_spec(spec)
spec.loader.exec_module(gen)
expected = gen.tables(UID_dictionary)
assert list(_sop_table.NAMES.items()) == list(expected.names.items()), "NAMES"
assert _sop_table.STORAGE == expected.storage, "STORAGE"
assert _sop_table.RETIRED_STORAGE == expected.retired_storage, "RETIRED_STORAGE"
assert _sop_table.TRANSFER_SYNTAXES == expected.transfer_syntaxes, "TRANSFER_SYNTAXES"
with open(_sop_table.__file__, encoding="utf-8") as f:
    assert f.read() == gen.render(UID_dictionary), "the file is not the generator's text"

storage = {uid: e[0] for uid, e in UID_dictionary.items()
           if e[1] == "SOP Class" and e[0].endswith("Storage")}
assert list(sop.STORAGE_SOP_CLASSES.items()) == list(storage.items()), "STORAGE_SOP_CLASSES"
assert any("Retired" in UID_dictionary[uid][3] for uid in storage), "retired included"
syntaxes = [uid for uid, e in UID_dictionary.items() if e[1] == "Transfer Syntax"]
assert set(sop.TRANSFER_SYNTAXES) == set(syntaxes) | set(sop.UNCOMPRESSED_TRANSFER_SYNTAXES)
assert all(sop.name_of(uid) == e[0] for uid, e in UID_dictionary.items()), "name_of"
assert sop.name_of("1.2.3.4.5") == "1.2.3.4.5"
print("ok")
"""


def test_committed_table_is_what_pydicom_gives() -> None:
    """The table, and the sop tables built from it, equal what the installed pydicom's
    dictionary gives; the file is exactly the generator's text (no hand edits)."""
    r = subprocess.run([sys.executable, "-c", _CHECK, str(GENERATOR)],
                       capture_output=True, text=True, timeout=60)  # fmt: skip
    assert r.stdout.strip() == "ok", (
        f"{r.stderr}\nregenerate the table: python scripts/gen_sop_table.py"
    )


def test_generator_check_mode_agrees() -> None:
    r = subprocess.run([sys.executable, str(GENERATOR), "--check"],
                       capture_output=True, text=True, timeout=60)  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr


def test_table_module_is_plain_literals() -> None:
    """Nothing but a docstring and annotated assignments of literals: no imports, calls
    or comprehensions at import."""
    import ast

    tree = ast.parse(Path(_sop_table.__file__).read_text(encoding="utf-8"))
    body = tree.body[1:]
    assert isinstance(tree.body[0], ast.Expr)  # the docstring
    assert body and all(isinstance(node, ast.AnnAssign) for node in body)
    for node in body:
        assert isinstance(node, ast.AnnAssign) and node.value is not None
        ast.literal_eval(node.value)


def test_importing_sop_reads_no_pydicom() -> None:
    """Neither imports pydicom nor opens any file of it (an audit hook sees every open)."""
    code = (
        "import sys\n"
        "opened = []\n"
        "sys.addaudithook(lambda event, args: event == 'open' and opened.append(args[0]))\n"
        "import dicomul.dimse.sop\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'pydicom'))\n"
        "print(sorted(str(p) for p in opened if 'pydicom' in str(p)))\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split("\n")[:2] == ["[]", "[]"], r.stdout


def test_a_new_sop_class_in_pydicom_would_fail_the_check() -> None:
    gen = _generator()
    grown = dict(UID_dictionary)  # (as this process has it: see _CHECK)
    grown["1.2.840.10008.5.1.4.1.1.999999"] = ("Future Image Storage", "SOP Class", "", "", "")
    assert gen.tables(grown).storage != _sop_table.STORAGE
    assert gen.render(grown) != gen.render(UID_dictionary)
