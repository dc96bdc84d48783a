"""Floods against a real ``dicomul storescp`` process, as a port scanner, a load
balancer's health checks or a misbehaving modality would send them: connect-and-reset,
one-byte connections, failed TLS handshakes (x300 each), idle associations beyond the
limit, and a requestor pipelining 5,000 C-STOREs under a low open-file limit. After each:
a legitimate requestor associates and stores at once, the server's file descriptors are
back where they started, and SIGTERM stops it promptly leaving no temporary file.

Every wait is bounded; the only sleeps are the polls of a bounded wait for the server's
fd count to settle (it closes sockets on its own schedule)."""

from __future__ import annotations

import asyncio
import importlib.util
import os
import re
import signal
import socket
import ssl
import struct
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pydicom
import pytest
from pydicom.uid import ImplicitVRLittleEndian
from sample_objects import tiny_dataset  # noqa: E402  (tests/ is on sys.path: tests/conftest.py)

from dicomul import AssociationRejected, aio
from dicomul.storage.contexts import contexts_for_files, storage_contexts
from dicomul.sync import Association

pytestmark = [
    pytest.mark.timeout(180),
    pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="counts fds in /proc"),
]

T = 10.0
CT = str(Path(pydicom.__file__).parent / "data" / "test_files" / "CT_small.dcm")
ENV = dict(os.environ, PYTHONUNBUFFERED="1")
N = 300


def fd_count(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def settle(pid: int, target: int, timeout: float = T) -> int:
    """The server's fd count once it is back to ``target`` (bounded wait), else now."""
    end = time.monotonic() + timeout
    n = fd_count(pid)
    while n > target and time.monotonic() < end:
        time.sleep(0.05)  # ok-sleep: bounded poll of another process's fd count
        n = fd_count(pid)
    return n


class Storescp:
    """``dicomul storescp`` with one worker (so that its fds can be counted), started and
    stopped (SIGTERM, by PID) by the test."""

    def __init__(self, out: Path, *args: str, limit: int | None = None) -> None:
        def lower_limit() -> None:  # hard limit too: the server raises soft to hard
            import resource

            resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))

        self.out = out
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "dicomul", "storescp", "0", "--bind", "127.0.0.1",
             "--workers", "1", "-od", str(out), *args],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=ENV,
            preexec_fn=lower_limit if limit else None,
        )  # fmt: skip
        self.pid = self.proc.pid
        try:
            self.port = self._listening()
        except BaseException:
            self.proc.kill()  # never leave it running (the fixture does not know it yet)
            self.proc.wait(timeout=T)
            raise

    def _listening(self) -> int:
        assert self.proc.stdout is not None
        seen = []
        for _ in range(20):  # a warning may come first (the open-file limit)
            line = self.proc.stdout.readline()
            seen.append(line)
            m = re.search(r"listening on 127\.0\.0\.1:(\d+)", line)
            if m or not line:
                break
        assert m, "".join(seen)
        return int(m.group(1))

    def stop(self) -> float:
        """SIGTERM; the seconds it took to exit (bounded wait)."""
        t0 = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=T)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=T)
            raise AssertionError("storescp did not stop on SIGTERM") from None
        return time.monotonic() - t0


@pytest.fixture
def scp(tmp_path: Path) -> Iterator[Any]:
    started: list[Storescp] = []

    def start(*args: str, limit: int | None = None) -> Storescp:
        s = Storescp(tmp_path / f"out{len(started)}", *args, limit=limit)
        started.append(s)
        return s

    yield start
    for s in started:
        if s.proc.poll() is None:
            s.proc.kill()
            s.proc.wait(timeout=T)


def legitimate_store(port: int, **kw: Any) -> int:
    with Association.connect("127.0.0.1", port, called_ae="ANY", contexts=contexts_for_files([CT]),
                             acse_timeout=T, dimse_timeout=T, **kw) as a:  # fmt: skip
        return a.store(CT)


def finish(server: Storescp, baseline: int) -> str:
    """The checks after every flood: a real requestor is served at once, the fds are
    back, SIGTERM stops the server promptly and no temporary file is left; returns what
    the server printed."""
    assert legitimate_store(server.port) == 0
    assert settle(server.pid, baseline) == baseline
    assert server.stop() < 5.0  # "within a second" as a bound with room for a slow CI
    assert server.proc.returncode == 0
    assert not list(server.out.glob(".*.part")), "a temporary file was left behind"
    assert list(server.out.glob("*.dcm"))
    assert server.proc.stdout is not None
    output = server.proc.stdout.read()
    assert "Traceback" not in output, output
    return output


def test_connect_and_reset_flood(scp: Any) -> None:
    server = scp()
    baseline = fd_count(server.pid)
    for _ in range(N):  # what a port scanner or an SO_LINGER 0 health check does
        s = socket.create_connection(("127.0.0.1", server.port), timeout=T)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()
    finish(server, baseline)


def test_connect_and_close_health_checks(scp: Any) -> None:
    server = scp()
    baseline = fd_count(server.pid)
    for _ in range(N):
        socket.create_connection(("127.0.0.1", server.port), timeout=T).close()
    output = finish(server, baseline)
    assert "WARNING" not in output and "ERROR" not in output, output  # debug level only


def test_one_byte_connections_do_not_lock_anyone_out(scp: Any) -> None:
    server = scp("--max-pending", "64")
    baseline = fd_count(server.pid)
    idle = []
    try:
        for _ in range(N):
            s = socket.create_connection(("127.0.0.1", server.port), timeout=T)
            s.sendall(b"\x01")
            idle.append(s)
        # the 300 are still connected (on our side): a real requestor gets in at once
        assert legitimate_store(server.port) == 0
    finally:
        for s in idle:
            s.close()
    finish(server, baseline)


def test_failed_tls_handshakes(scp: Any, tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location(
        "dicomul_test_make_certs", Path(__file__).parent / "certs" / "make_certs.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    certs = module.make_certs(tmp_path / "certs")
    if certs is None:
        pytest.skip("no tool to make test certificates")
    server = scp("--tls", "--tls-cert", str(certs["server_cert"]), "--tls-key",
                 str(certs["server_key"]), "-ta", "5")  # fmt: skip
    baseline = fd_count(server.pid)
    for i in range(N):
        s = socket.create_connection(("127.0.0.1", server.port), timeout=T)
        if i % 3 == 0:
            s.sendall(b"\x16\x03\x01\x00\x05hello")  # a broken ClientHello
        elif i % 3 == 1:
            s.sendall(b"GET / HTTP/1.0\r\n\r\n")  # not TLS at all
        s.close()
    ctx = ssl.create_default_context(cafile=str(certs["ca"]))
    assert legitimate_store(server.port, ssl_context=ctx) == 0
    assert settle(server.pid, baseline) == baseline
    assert server.stop() < 5.0 and server.proc.returncode == 0


def test_idle_associations_beyond_the_limit(scp: Any) -> None:
    server = scp("--max-associations", "5", "--idle-timeout", "1")
    baseline = fd_count(server.pid)

    async def scenario() -> None:
        idle = [await aio.connect("127.0.0.1", server.port, called_ae="ANY", acse_timeout=T)
                for _ in range(5)]  # fmt: skip
        with pytest.raises(AssociationRejected, match="local limit exceeded"):
            await aio.connect("127.0.0.1", server.port, called_ae="ANY", acse_timeout=T)
        loop = asyncio.get_running_loop()
        end = loop.time() + T
        while any(a.is_established for a in idle) and loop.time() < end:
            await asyncio.sleep(0.05)  # the server aborts them after its idle timeout
        assert not any(a.is_established for a in idle)

    asyncio.run(scenario())
    finish(server, baseline)


def test_pipelining_requestor_under_a_low_open_file_limit(scp: Any) -> None:
    server = scp("--max-associations", "8", "--max-pending", "8", limit=64)
    baseline = fd_count(server.pid)
    objs = [tiny_dataset(i, "FLOOD") for i in range(5000)]

    async def scenario() -> list[int]:
        contexts = storage_contexts(["1.2.840.10008.5.1.4.1.1.7"], [ImplicitVRLittleEndian])
        async with await aio.connect("127.0.0.1", server.port, called_ae="ANY",
                                     contexts=contexts, async_operations=(16, 16),
                                     acse_timeout=T, dimse_timeout=T) as a:  # fmt: skip
            return await asyncio.gather(*(a.store(o) for o in objs))

    statuses = asyncio.run(scenario())
    assert statuses == [0] * len(objs)
    assert len(list(server.out.glob("*.dcm"))) == len(objs)
    finish(server, baseline)
