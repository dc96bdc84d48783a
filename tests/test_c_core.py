"""Runs the plain-C tests of csrc/ (tests/c, under ASan + UBSan) from pytest.

Skipped only when there is no C compiler or no make on this machine.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CC = os.environ.get("CC", "cc")


def _missing_tool() -> str | None:
    if shutil.which("make") is None:
        return "make is not installed"
    if shutil.which(CC) is None:
        return f"no C compiler ({CC!r} not found on PATH)"
    return None


@pytest.mark.skipif(sys.platform == "win32", reason="the C tests use a POSIX Makefile")
@pytest.mark.timeout(300)
def test_c_core(tmp_path: Path) -> None:
    missing = _missing_tool()
    if missing:
        pytest.skip(missing)
    proc = subprocess.run(
        ["make", "-C", "tests/c", "test", f"BUILD={tmp_path}", f"CC={CC}"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=300,
    )
    out = proc.stdout
    assert proc.returncode == 0, f"make -C tests/c test failed ({proc.returncode}):\n{out}"
    results = re.findall(r"^(?:.*: )?(\d+) (?:passed|inputs), (\d+) failed$", out, re.M)
    assert results, f"no 'N passed, M failed' line in the output:\n{out}"
    assert all(failed == "0" for _, failed in results), out
    assert re.search(r"^\d+ passed, 0 failed$", out, re.M), out  # test_pdu ran
