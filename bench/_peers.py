"""Helpers every benchmark shares: finding DCMTK's own binaries, a free port on
127.0.0.1, and waiting (bounded) until a server process listens."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from typing import Any


def dcmtk(tool: str) -> str | None:
    """DCMTK's own binary (pynetdicom installs console scripts with the same names)."""
    for path in (f"/usr/bin/{tool}", shutil.which(tool)):
        if path and os.path.exists(path):
            out = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=10)
            if "dcmtk" in out.stdout.lower():
                return path
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, proc: subprocess.Popen[Any], timeout: float = 20.0) -> None:
    """Until something accepts on ``port``; RuntimeError if ``proc`` exits or time runs out."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            try:
                proc.wait(0.05)
            except subprocess.TimeoutExpired:
                pass
    raise RuntimeError(f"nothing listens on port {port}")
