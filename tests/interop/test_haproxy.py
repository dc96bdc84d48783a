"""Several dicomul storescp instances behind HAProxy (Debian's haproxy) in TCP mode with
health checks, as the README describes for running on several machines: every object
stored through HAProxy is found on one of the instances' disks, both instances take a
share, and the health checks (a TCP connect and close every 50 ms) leave nothing behind
in either instance: no file descriptor, no warning."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from pydicom.uid import ImplicitVRLittleEndian
from sample_objects import SC, tiny_dataset  # noqa: E402  (tests/ is on sys.path: tests/conftest.py)

from dicomul.storage.contexts import storage_contexts
from dicomul.sync import Association

HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"
pytestmark = [
    pytest.mark.interop,
    pytest.mark.timeout(120),
    pytest.mark.skipif(not os.path.exists(HAPROXY), reason="haproxy (Debian) not installed"),
    pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="counts fds in /proc"),
]
T = 10.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, proc: subprocess.Popen[str]) -> None:
    end = time.monotonic() + T
    while time.monotonic() < end:
        assert proc.poll() is None, f"exited with {proc.returncode}"
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)  # ok-sleep: bounded poll of a port another process opens
    raise AssertionError(f"nothing listens on {port}")


def start_storescp(out: Path) -> tuple[subprocess.Popen[str], int]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "dicomul", "storescp", "0", "--bind", "127.0.0.1",
         "--workers", "1", "-od", str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    assert proc.stdout is not None
    line = proc.stdout.readline()
    m = re.search(r"listening on 127\.0\.0\.1:(\d+)", line)
    assert m, line
    return proc, int(m.group(1))


def stop(proc: subprocess.Popen[str]) -> str:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=T)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=T)
    return proc.stdout.read() if proc.stdout else ""


def fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def test_storescp_instances_behind_haproxy(tmp_path: Path) -> None:
    backends = [start_storescp(tmp_path / f"b{i}") for i in range(2)]
    haproxy = None
    try:
        front = free_port()
        cfg = tmp_path / "haproxy.cfg"
        servers = "\n".join(
            f"    server b{i} 127.0.0.1:{port} check inter 50ms"
            for i, (_, port) in enumerate(backends)
        )
        cfg.write_text(
            "global\n    maxconn 1000\n"
            "defaults\n    mode tcp\n    timeout connect 5s\n    timeout client 60s\n"
            "    timeout server 60s\n"
            f"frontend dicom\n    bind 127.0.0.1:{front}\n    default_backend stores\n"
            f"backend stores\n    balance roundrobin\n{servers}\n"
        )
        haproxy = subprocess.Popen([HAPROXY, "-f", str(cfg), "-db"], text=True,
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT)  # fmt: skip
        wait_port(front, haproxy)
        baseline = [fds(p.pid) for p, _ in backends]
        objs = [tiny_dataset(i) for i in range(40)]
        contexts = storage_contexts([SC], [ImplicitVRLittleEndian])
        for obj in objs:  # one association each: HAProxy balances connections
            with Association.connect("127.0.0.1", front, called_ae="ANY", contexts=contexts,
                                     acse_timeout=T, dimse_timeout=T) as a:  # fmt: skip
                assert a.store(obj) == 0
        stored = [sorted(f.stem for f in (tmp_path / f"b{i}").glob("*.dcm")) for i in range(2)]
        assert sorted(stored[0] + stored[1]) == sorted(o[3] for o in objs)
        assert stored[0] and stored[1], "both instances take a share"
        time.sleep(1.0)  # ok-sleep: the subject, ~20 more health checks hit each instance
        for (proc, _), base in zip(backends, baseline, strict=True):
            end = time.monotonic() + T
            while fds(proc.pid) > base and time.monotonic() < end:
                time.sleep(0.05)  # ok-sleep: bounded poll of another process's fd count
            assert fds(proc.pid) <= base, "health checks left file descriptors behind"
    finally:
        if haproxy is not None:
            haproxy.send_signal(signal.SIGTERM)
            try:
                haproxy.wait(timeout=T)
            except subprocess.TimeoutExpired:
                haproxy.kill()
                haproxy.wait(timeout=T)
        outputs = [stop(p) for p, _ in backends]
    for out in outputs:
        assert "WARNING" not in out and "Traceback" not in out, out
