"""A throw-away PostgreSQL server for the marked suite (``-m postgresql``): Debian's
postgresql binaries, a cluster made with initdb in a temporary directory, listening on a
free port of 127.0.0.1 only, trust authentication; stopped by its PID at the end.
PostgreSQL refuses to run as root: as root, initdb and the server run as ``postgres``.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


def _bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}")) or [shutil.which(name) or ""]
    if not found[-1] or not os.path.exists(found[-1]):
        pytest.skip(f"PostgreSQL's {name} is not installed (apt-get install postgresql)")
    return found[-1]


def _owner() -> dict[str, str]:
    """Popen's arguments that run a program as ``postgres`` when we are root."""
    return {"user": "postgres", "group": "postgres"} if os.geteuid() == 0 else {}


@contextmanager
def postgres(directory: Path) -> Iterator[str]:
    """Run a server with its data in ``directory``; yields its connection URL."""
    pytest.importorskip("psycopg")
    initdb, server = _bin("initdb"), _bin("postgres")
    directory.mkdir(parents=True, exist_ok=True)
    data = directory / "data"
    if os.geteuid() == 0:
        shutil.chown(directory, "postgres")
    r = subprocess.run(
        [initdb, "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=directory,
        **_owner(),
    )
    assert r.returncode == 0, r.stderr
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = open(directory / "postgres.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [
            server,
            "-D",
            str(data),
            "-p",
            str(port),
            "-h",
            "127.0.0.1",
            "-k",
            str(directory),
            "-c",
            "fsync=off",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=directory,
        **_owner(),
    )
    url = f"postgresql://postgres@127.0.0.1:{port}/postgres"
    try:
        import psycopg

        end = time.monotonic() + 30
        while True:
            assert proc.poll() is None, (directory / "postgres.log").read_text()
            try:
                psycopg.connect(url, connect_timeout=2).close()
                break
            except psycopg.OperationalError:
                assert time.monotonic() < end, "PostgreSQL did not start"
                time.sleep(0.1)  # ok-sleep: bounded wait for a server another process starts
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        log.close()
