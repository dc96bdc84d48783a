"""The asyncio load generator of bench_aio.py, run in a process of its own; prints one
JSON line. The same generator drives dicomul's and DCMTK's servers.

    python bench/_loadgen.py echo PORT N [--blocking]
    python bench/_loadgen.py floor PORT N [--blocking]   (bench/_floor.py: no DICOM work)
    python bench/_loadgen.py store PORT --concurrency C --size BYTES --seconds S [--window W]
    python bench/_loadgen.py associate PORT --count N --in-flight K
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import sys
import time
from typing import Any

from dicomul import aio
from dicomul.storage.contexts import storage_contexts

SC = "1.2.840.10008.5.1.4.1.1.7"
ILE = "1.2.840.10008.1.2"


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def dataset(size: int, uid: str) -> bytes:
    """An Implicit VR LE data set of about ``size`` bytes: SOP class/instance, pixels."""

    def element(group: int, elem: int, value: bytes) -> bytes:
        if len(value) % 2:
            value += b"\0"
        return (group.to_bytes(2, "little") + elem.to_bytes(2, "little")
                + len(value).to_bytes(4, "little") + value)  # fmt: skip

    head = element(0x0008, 0x0016, SC.encode()) + element(0x0008, 0x0018, uid.encode())
    return head + element(0x7FE0, 0x0010, b"\0" * max(0, size - len(head) - 8))


async def echo(port: int, n: int) -> dict[str, Any]:
    a = await aio.connect("127.0.0.1", port, called_ae="ANY")
    c0, t0 = _cpu(), time.perf_counter()
    for _ in range(n):
        await a.echo()
    dt, dc = time.perf_counter() - t0, _cpu() - c0
    await a.release()
    return {"per_s": n / dt, "cpu_per_10k": dc / n * 10_000}


def echo_blocking(port: int, n: int) -> dict[str, Any]:
    from dicomul.sync import Association

    a = Association.connect("127.0.0.1", port, called_ae="ANY")
    c0, t0 = _cpu(), time.perf_counter()
    for _ in range(n):
        a.echo()
    dt, dc = time.perf_counter() - t0, _cpu() - c0
    a.release()
    return {"per_s": n / dt, "cpu_per_10k": dc / n * 10_000}


async def store(
    port: int, concurrency: int, size: int, seconds: float, window: int
) -> dict[str, Any]:
    """``concurrency`` associations, each with ``window`` C-STOREs in flight, for
    ``seconds`` once every association is up."""
    contexts = storage_contexts([SC], [ILE])
    counts = [0] * concurrency
    failures = [0]
    pid = os.getpid()
    up = [0]
    all_up = asyncio.Event()
    go = asyncio.Event()
    stop_at = [0.0]

    async def one(k: int) -> None:
        async_ops = (window, window) if window != 1 else None
        a = await aio.connect("127.0.0.1", port, called_ae="ANY", contexts=contexts,
                              max_pdu=131072, async_operations=async_ops,
                              acse_timeout=60, dimse_timeout=60)  # fmt: skip
        up[0] += 1
        if up[0] == concurrency:
            all_up.set()
        await go.wait()
        i = 0

        async def lane() -> None:
            nonlocal i
            # One buffer per lane, its UID patched in place (same length): building a
            # 32 MiB data set per object would measure the generator, not the transfer.
            base = f"1.2.826.0.1.3680043.9.7433.{pid}.{k}."
            first = base + "1" + "0" * 8  # fixed width, and no leading zero (PS3.5 9.1)
            buf = bytearray(dataset(size, first))
            at = buf.find(first.encode())
            while time.perf_counter() < stop_at[0]:
                i += 1
                uid = f"{base}1{i:08d}"
                buf[at : at + len(uid)] = uid.encode()
                if await a.store((memoryview(buf), ILE, SC, uid)):
                    failures[0] += 1
                counts[k] += 1

        await asyncio.gather(*(lane() for _ in range(max(1, window))))
        await a.release()

    tasks = [asyncio.ensure_future(one(k)) for k in range(concurrency)]
    await asyncio.wait_for(all_up.wait(), 120)
    c0, t0 = _cpu(), time.perf_counter()
    stop_at[0] = t0 + seconds
    go.set()
    await asyncio.gather(*tasks)
    dt, dc = time.perf_counter() - t0, _cpu() - c0
    total = sum(counts)
    return {"objects": total, "per_s": total / dt, "mb_s": total * size / dt / 1e6,
            "cpu": dc, "failures": failures[0]}  # fmt: skip


async def associate(port: int, count: int, in_flight: int) -> dict[str, Any]:
    limit = asyncio.Semaphore(in_flight)
    held: list[Any] = []

    async def one() -> None:
        async with limit:
            held.append(await aio.connect("127.0.0.1", port, called_ae="ANY", acse_timeout=60))

    t0 = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(count)))
    dt = time.perf_counter() - t0
    await asyncio.gather(*(a.release() for a in held))
    return {"seconds": dt, "associations": len(held)}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["echo", "floor", "store", "associate"])
    ap.add_argument("port", type=int)
    ap.add_argument("n", type=int, nargs="?", default=1000)
    ap.add_argument("--blocking", action="store_true")
    ap.add_argument("--concurrency", type=int, default=1)
    ap.add_argument("--size", type=int, default=4096)
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--window", type=int, default=1)
    ap.add_argument("--count", type=int, default=1000)
    ap.add_argument("--in-flight", type=int, default=100)
    ap.add_argument("--uvloop", action="store_true", help="run on uvloop's event loop")
    args = ap.parse_args()
    if args.uvloop:
        import uvloop

        uvloop.install()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if args.mode == "echo":
        if args.blocking:
            out = echo_blocking(args.port, args.n)
        else:
            out = asyncio.run(echo(args.port, args.n))
    elif args.mode == "floor":
        from _floor import floor

        out = floor(args.port, args.n, "blocking" if args.blocking else "asyncio")
    elif args.mode == "store":
        out = asyncio.run(store(args.port, args.concurrency, args.size, args.seconds, args.window))
    else:
        out = asyncio.run(associate(args.port, args.count, args.in_flight))
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
