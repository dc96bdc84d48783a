"""Each benchmark runs once, briefly, so that it cannot rot (DESIGN.md 7). No timing is
asserted: only that it runs and prints its table."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run(script: str, *args: str, timeout: float) -> str:
    env = dict(os.environ)
    out = subprocess.run(
        [sys.executable, str(ROOT / "bench" / script), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=ROOT,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout


@pytest.mark.interop
@pytest.mark.timeout(300)
def test_bench_codec_runs() -> None:
    pytest.importorskip("pynetdicom")
    text = _run("bench_codec.py", "--quick", timeout=280)
    assert "A-ASSOCIATE-RQ 128 contexts decode" in text
    assert "4 MiB data set: fragment + reassemble" in text


@pytest.mark.interop
@pytest.mark.timeout(400)
def test_bench_assoc_runs() -> None:
    pytest.importorskip("pynetdicom")
    text = _run("bench_assoc.py", "--quick", timeout=380)
    assert "dicomul -> dicomul" in text
    assert "targets:" in text


@pytest.mark.interop
@pytest.mark.timeout(500)
def test_bench_net_runs() -> None:
    pytest.importorskip("pynetdicom")
    text = _run("bench_net.py", "--quick", timeout=480)
    assert "raw loopback TCP, the 32 MiB object's bytes" in text
    assert "C-ECHO, one association" in text
    assert "dicomul -> dicomul, unlimited PDU" in text


@pytest.mark.interop
@pytest.mark.timeout(120)
def test_bench_startup_runs() -> None:
    if not (os.path.exists("/usr/bin/echoscu") and os.path.exists("/usr/bin/storescp")):
        pytest.skip("DCMTK (Debian dcmtk) not installed")
    text = _run("bench_startup.py", "--quick", timeout=100)
    assert "echo: dicomul echo" in text and "echo: DCMTK echoscu (as shipped)" in text
    assert "targets:" in text


@pytest.mark.interop
@pytest.mark.timeout(600)
def test_bench_aio_runs() -> None:
    if not (os.path.exists("/usr/bin/echoscu") and os.path.exists("/usr/bin/storescp")):
        pytest.skip("DCMTK (Debian dcmtk) not installed")
    text = _run("bench_aio.py", "--quick", timeout=580)
    assert "dicomul asyncio -> DCMTK storescp" in text and "window 8 vs 1" in text
    assert "floor: Python blocking -> DCMTK" in text and "the floor, Python doing no" in text
    assert "targets:" in text


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_bench_instructions_runs() -> None:
    """(slow: every process under valgrind; about 2.5 minutes)"""
    if not (os.path.exists("/usr/bin/echoscu") and os.path.exists("/usr/bin/storescp")):
        pytest.skip("DCMTK (Debian dcmtk) not installed")
    if shutil.which("valgrind") is None:
        pytest.skip("valgrind (Debian valgrind) not installed")
    text = _run("bench_instructions.py", "--quick", timeout=880)
    assert "dicomul blocking C-ECHO requestor" in text and "DCMTK echoscu C-ECHO requestor" in text
    assert "4 KiB C-STORE acceptor: dicomul" in text
