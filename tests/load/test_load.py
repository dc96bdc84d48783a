"""Load (marked slow: ``bash scripts/run-tests -m slow``; about 30 s here): one
``dicomul storescp`` process holding 1,000 associations at once, each storing objects and
releasing, every object acknowledged and found intact on disk afterwards, with the
process's fd count and RSS before and after (printed, and checked for leaks); and 300
one-byte idle connections while a real requestor associates and stores."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from pydicom.uid import ImplicitVRLittleEndian
from sample_objects import SC, tiny_dataset  # noqa: E402  (tests/ is on sys.path: tests/conftest.py)

from dicomul import aio
from dicomul.storage.contexts import storage_contexts
from dicomul.storage.part10 import read_part10

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(600),
    pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="reads /proc"),
]
T = 60.0
ASSOCIATIONS = 1000
PER_ASSOCIATION = 3


def raise_nofile() -> None:
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def status_kib(pid: int, field: str) -> int:
    text = Path(f"/proc/{pid}/status").read_text()
    m = re.search(rf"^{field}:\s+(\d+) kB", text, re.M)
    assert m, field
    return int(m.group(1))


def start(out: Path) -> tuple[subprocess.Popen[str], int]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "dicomul", "storescp", "0", "--bind", "127.0.0.1",
         "--workers", "1", "--max-associations", str(ASSOCIATIONS), "-od", str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    assert proc.stdout is not None
    for _ in range(20):
        line = proc.stdout.readline()
        m = re.search(r"listening on 127\.0\.0\.1:(\d+)", line)
        if m:
            return proc, int(m.group(1))
    raise AssertionError("storescp did not start")


def stop(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


def test_one_process_holds_1000_associations(tmp_path: Path) -> None:
    raise_nofile()
    proc, port = start(tmp_path)
    try:
        fds_before = len(os.listdir(f"/proc/{proc.pid}/fd"))
        rss_before = status_kib(proc.pid, "VmRSS")
        objs = [tiny_dataset(i, f"LOAD{i}") for i in range(ASSOCIATIONS * PER_ASSOCIATION)]
        contexts = storage_contexts([SC], [ImplicitVRLittleEndian])

        async def scenario() -> tuple[float, list[int]]:
            in_flight = asyncio.Semaphore(100)  # connection attempts at a time
            all_up = asyncio.Barrier(ASSOCIATIONS)

            async def one(k: int) -> list[int]:
                async with in_flight:
                    a = await aio.connect("127.0.0.1", port, called_ae="ANY", contexts=contexts,
                                          acse_timeout=T, dimse_timeout=T)  # fmt: skip
                await all_up.wait()  # every association is up at once here
                batch = objs[k * PER_ASSOCIATION : (k + 1) * PER_ASSOCIATION]
                statuses = [await a.store(o) for o in batch]
                await a.release()
                return statuses

            t0 = time.perf_counter()
            results = await asyncio.gather(*(one(k) for k in range(ASSOCIATIONS)))
            return time.perf_counter() - t0, [s for r in results for s in r]

        elapsed, statuses = asyncio.run(scenario())
        assert statuses == [0] * len(objs)
        stored = {p.stem: p for p in tmp_path.glob("*.dcm")}
        assert len(stored) == len(objs)
        for data, _ts, _sop, uid in objs[:: len(objs) // 50]:  # a sample, read back
            p10 = read_part10(stored[uid])
            assert Path(stored[uid]).read_bytes()[p10.dataset_offset :] == data
        end = time.monotonic() + 10
        while len(os.listdir(f"/proc/{proc.pid}/fd")) > fds_before and time.monotonic() < end:
            time.sleep(0.05)  # ok-sleep: bounded poll of another process's fd count
        fds_after = len(os.listdir(f"/proc/{proc.pid}/fd"))
        rss_after = status_kib(proc.pid, "VmRSS")
        peak = status_kib(proc.pid, "VmHWM")
        print(f"\n1,000 associations x {PER_ASSOCIATION} C-STOREs in {elapsed:.1f} s; "
              f"storescp fds {fds_before} -> {fds_after}, RSS {rss_before // 1024} -> "
              f"{rss_after // 1024} MiB, peak {peak // 1024} MiB")  # fmt: skip
        assert fds_after == fds_before
        assert rss_after - rss_before < 128 * 1024, "RSS grew by more than 128 MiB"
    finally:
        stop(proc)
    assert not list(tmp_path.glob(".*.part"))


def test_idle_one_byte_connections_while_a_requestor_stores(tmp_path: Path) -> None:
    raise_nofile()
    proc, port = start(tmp_path)
    idle = []
    try:
        for _ in range(300):
            s = socket.create_connection(("127.0.0.1", port), timeout=10)
            s.sendall(b"\x01")
            idle.append(s)

        async def scenario() -> int:
            contexts = storage_contexts([SC], [ImplicitVRLittleEndian])
            async with await aio.connect("127.0.0.1", port, called_ae="ANY", contexts=contexts,
                                         acse_timeout=10, dimse_timeout=10) as a:  # fmt: skip
                return await a.store(tiny_dataset(0))

        assert asyncio.run(scenario()) == 0
    finally:
        for s in idle:
            s.close()
        stop(proc)
    assert len(list(tmp_path.glob("*.dcm"))) == 1
