"""The package shows its layers (DESIGN.md 2): imports run downwards only, and the public
names of the packages resolve. Checked on the source, as a reader would with grep."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

import dicomul
import dicomul.aio
import dicomul.sync

SRC = Path(dicomul.__file__).resolve().parent
#: Each layer and what it may import from dicomul (besides the shared top-level helpers).
LAYERS = ("ul", "dimse", "storage", "aio", "sync", "cli")
SHARED = {"errors", "_record", "_lazy"}


def _dicomul_imports(path: Path) -> set[str]:
    """The dicomul modules ``path`` imports, anywhere in it (lazy imports included)."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.startswith("dicomul"):
                out.add(node.module)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name.startswith("dicomul"))
    return out


@pytest.mark.parametrize("layer", LAYERS)
def test_imports_run_downwards_only(layer: str) -> None:
    allowed = set(LAYERS[: LAYERS.index(layer) + 1]) | SHARED
    if layer == "cli":
        allowed.add("")  # the package's public names (which reach into every layer)
    bad = []
    for path in sorted((SRC / layer).glob("*.py")):
        for module in _dicomul_imports(path):
            parts = module.split(".")
            top = parts[1] if len(parts) > 1 else ""
            if top not in allowed:
                bad.append(f"{path.relative_to(SRC)} imports {module}")
    assert not bad, "\n".join(bad)


def test_the_upper_layer_reads_no_dimse_field() -> None:
    """PS3.8 delimits a message by its PDV control headers alone; whether a data set
    follows a command set is PS3.7's (0000,0800), read by dimse/ and handed to ul/ as a
    predicate. No source of ul/ (Python, Cython, stubs) names that element."""
    words = ("command_dataset_type", "commanddatasettype", "0x0800", "0x08000000",
             "(0000,0800)", "_dataset_type")  # fmt: skip
    bad = []
    for path in sorted((SRC / "ul").iterdir()):
        if path.suffix not in (".py", ".pyx", ".pyi", ".pxd"):
            continue  # (the C files Cython generates quote its own version numbers)
        text = path.read_text(encoding="utf-8").lower()
        bad += [f"ul/{path.name} mentions {w}" for w in words if w in text]
    assert not bad, "\n".join(bad)
    assert not hasattr(importlib.import_module("dicomul.ul._core"), "command_dataset_type")


def test_every_module_is_in_a_layer() -> None:
    loose = sorted(p.name for p in SRC.glob("*.py"))
    assert loose == ["__init__.py", "__main__.py", "_lazy.py", "_record.py", "errors.py"]


@pytest.mark.parametrize("package", [dicomul, dicomul.sync, dicomul.aio])
def test_public_names_resolve(package: object) -> None:
    for name in package.__all__:  # type: ignore[attr-defined]
        assert getattr(package, name) is not None, name
    assert set(package.__all__) <= set(dir(package))  # type: ignore[attr-defined]
    with pytest.raises(AttributeError):
        package.no_such_name  # type: ignore[attr-defined]  # noqa: B018


def test_sync_names_are_the_defining_modules_objects() -> None:
    services = importlib.import_module("dicomul.sync.services")
    assert dicomul.sync.Association is services.Association
    part10 = importlib.import_module("dicomul.storage.part10")
    assert dicomul.sync.StorageError is part10.StorageError
