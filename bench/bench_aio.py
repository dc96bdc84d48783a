"""Event-loop benchmark (issue 10): the asyncio API and ``dicomul storescp`` against DCMTK,
every party in its own process, TCP_NODELAY on, nobody spinning (DICOMUL_SPIN_WAIT=0).
One load generator (bench/_loadgen.py, asyncio) drives both servers.

    python bench/bench_aio.py [--seconds S] [--quick]

Rows: C-ECHO on one association (blocking and asyncio requestors, DCMTK echoscu), with
CPU seconds per 10,000, and the floor of any Python requestor (bench/_floor.py: a
prepared PDU written and one PDU read per round trip, no DICOM work); the asynchronous
operations window 8 against 1 (4 KiB C-STORE); aggregate C-STORE with 1, 16 and 256
requestors (4 KiB and 1 MiB) into dicomul storescp (--workers = CPUs) and DCMTK
storescp --fork; 1,000 associations at once (association phase, peak RSS of one dicomul
storescp process); 32 MiB C-STORE against raw TCP.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _peers import dcmtk, free_port, wait_port  # noqa: E402

ENV = dict(os.environ, TCP_NODELAY="1", DICOMUL_SPIN_WAIT="0")
CPUS = os.cpu_count() or 1


class Server:
    """A server process, stopped by its PID."""

    def __init__(self, kind: str, workers: int = 1) -> None:
        self.port = free_port()
        if kind == "dicomul":
            cmd = [sys.executable, "-m", "dicomul", "storescp", str(self.port), "--bind",
                   "127.0.0.1", "--ignore", "--workers", str(workers),
                   "--max-pdu", "131072"]  # fmt: skip
        else:
            storescp = dcmtk("storescp")
            assert storescp is not None
            cmd = [storescp, "--ignore", "--max-pdu", "131072", str(self.port)]
            if kind == "dcmtk-fork":
                cmd.insert(1, "--fork")
        self.proc = subprocess.Popen(cmd, env=ENV, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)  # fmt: skip
        wait_port(self.port, self.proc)

    def cpu_seconds(self) -> float:
        """CPU seconds of the server so far: its own, its reaped children's (DCMTK's forked
        associations) and its live or not yet reaped children's (dicomul's workers)."""
        return _proc_cpu(self.proc.pid, children=True) + sum(
            _proc_cpu(c) for c in _children(self.proc.pid)
        )

    def peak_rss_mib(self) -> float:
        text = Path(f"/proc/{self.proc.pid}/status").read_text()
        m = re.search(r"^VmHWM:\s+(\d+) kB", text, re.M)
        return int(m.group(1)) / 1024 if m else float("nan")

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def _proc_cpu(pid: int, children: bool = False) -> float:
    """utime + stime (+ cutime + cstime) of a process from /proc (0 where there is none)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    ticks = sum(int(f) for f in fields[11 : 15 if children else 13])
    return ticks / os.sysconf("SC_CLK_TCK")


def _children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (a scan of /proc)."""
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(stat[1]) == pid:
                out.append(int(entry.name))
    return out


def loadgen(*args: Any) -> dict[str, Any]:
    out = subprocess.run([sys.executable, str(HERE / "_loadgen.py"), *map(str, args)],
                         capture_output=True, text=True, env=ENV, timeout=600)  # fmt: skip
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-2000:])
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def child_cpu() -> float:
    import resource

    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def echoscu_rate(port: int, n: int) -> tuple[float, float]:
    echoscu = dcmtk("echoscu")
    assert echoscu is not None
    c0, t0 = child_cpu(), time.perf_counter()
    subprocess.run([echoscu, "--repeat", str(n), "127.0.0.1", str(port)], env=ENV, check=True,
                   timeout=600, stdout=subprocess.DEVNULL)  # fmt: skip
    dt = time.perf_counter() - t0
    return n / dt, (child_cpu() - c0) / n * 10_000


def raw_tcp_mb_s(size: int) -> float:
    """Loopback TCP ceiling for ``size`` bytes: a sender thread, a receiver that discards."""
    import threading

    srv = socket.create_server(("127.0.0.1", 0))
    port = srv.getsockname()[1]
    got = [0]

    def recv() -> None:
        conn, _ = srv.accept()
        buf = bytearray(1 << 20)
        while n := conn.recv_into(buf):
            got[0] += n
        conn.close()

    t = threading.Thread(target=recv)
    t.start()
    data = memoryview(bytes(size))
    c = socket.create_connection(("127.0.0.1", port))
    t0 = time.perf_counter()
    c.sendall(data)
    c.close()
    t.join()
    dt = time.perf_counter() - t0
    srv.close()
    return got[0] / dt / 1e6


def median(values: list[float]) -> float:
    values = sorted(values)
    return values[len(values) // 2]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=3.0, help="per throughput row")
    ap.add_argument("--quick", action="store_true", help="small counts: a smoke test")
    args = ap.parse_args()
    secs = 0.5 if args.quick else args.seconds
    n_echo = 500 if args.quick else 10_000
    if dcmtk("storescp") is None or dcmtk("echoscu") is None:
        print("DCMTK not found: nothing to compare against")
        return 1
    targets: list[str] = []

    print(f"C-ECHO on one association, {n_echo} round trips (no spinning)")
    print(f"{'requestor -> acceptor':<36} {'C-ECHO/s':>10} {'CPU s/10k':>10}")
    rows: dict[str, tuple[float, float]] = {}
    with Server("dcmtk") as d, Server("dicomul") as u:
        for name, fn in (
            ("DCMTK echoscu -> DCMTK storescp", lambda: echoscu_rate(d.port, n_echo)),
            ("dicomul blocking -> DCMTK storescp",
             lambda: _rate(loadgen("echo", d.port, n_echo, "--blocking"))),
            ("dicomul asyncio -> DCMTK storescp", lambda: _rate(loadgen("echo", d.port, n_echo))),
            *([("dicomul asyncio on uvloop -> DCMTK",
                lambda: _rate(loadgen("echo", d.port, n_echo, "--uvloop")))]
              if _has_uvloop() else []),
            ("floor: Python blocking -> DCMTK",
             lambda: _rate(loadgen("floor", d.port, n_echo, "--blocking"))),
            ("floor: Python asyncio -> DCMTK", lambda: _rate(loadgen("floor", d.port, n_echo))),
            *([("floor: Python uvloop -> DCMTK",
                lambda: _rate(loadgen("floor", d.port, n_echo, "--uvloop")))]
              if _has_uvloop() else []),
            ("dicomul blocking -> dicomul storescp",
             lambda: _rate(loadgen("echo", u.port, n_echo, "--blocking"))),
            ("dicomul asyncio -> dicomul storescp", lambda: _rate(loadgen("echo", u.port, n_echo))),
        ):  # fmt: skip
            rows[name] = max((fn() for _ in range(1 if args.quick else 3)), key=lambda r: r[0])
            print(f"{name:<36} {rows[name][0]:>10.0f} {rows[name][1]:>10.2f}")
    base = rows["DCMTK echoscu -> DCMTK storescp"][0]
    for kind in ("blocking", "asyncio"):
        r = rows[f"dicomul {kind} -> DCMTK storescp"][0] / base
        f = rows[f"floor: Python {kind} -> DCMTK"][0] / base
        targets.append(f"C-ECHO {kind} vs DCMTK: {r:.2f}x (target >= 1.0x: "
                       f"{'met' if r >= 1.0 else 'MISSED'}; the floor, Python doing no "
                       f"DICOM work at all: {f:.2f}x)")  # fmt: skip

    print("\nasynchronous operations window, one association, 4 KiB C-STORE -> dicomul")
    with Server("dicomul") as u:
        w1 = loadgen("store", u.port, "--size", 4096, "--seconds", secs, "--window", 1)
        w8 = loadgen("store", u.port, "--size", 4096, "--seconds", secs, "--window", 8)
    print(f"  window 1: {w1['per_s']:.0f}/s   window 8: {w8['per_s']:.0f}/s")
    r = w8["per_s"] / w1["per_s"]
    targets.append(f"window 8 vs 1: {r:.2f}x (target >= 3x: {'met' if r >= 3 else 'MISSED'})")

    print(f"\naggregate C-STORE objects/s (dicomul --workers {CPUS}; DCMTK --fork), "
          "one asyncio load generator")  # fmt: skip
    print("(and each server's CPU per object, all its processes, in µs; the load generator's)")
    print(f"{'requestors':>10} {'size':>8} {'dicomul':>10} {'DCMTK':>10} {'ratio':>7}"
          f" {'CPU/obj dicomul':>16} {'DCMTK':>7} {'loadgen':>8}")  # fmt: skip
    levels = (1, 16) if args.quick else (1, 16, 256)
    for size in (4096, 1 << 20):
        for c in levels:
            got, cpu, gen = {}, {}, {}
            for kind in ("dicomul", "dcmtk-fork"):
                with Server(kind, workers=CPUS) as s:
                    time.sleep(0.5 if kind == "dicomul" else 0)  # (the workers' start-up)
                    c0 = s.cpu_seconds()
                    out = loadgen("store", s.port, "--concurrency", c, "--size", size,
                                  "--seconds", secs)  # fmt: skip
                    time.sleep(0.3)  # the forked children end and are reaped
                    cpu[kind] = (s.cpu_seconds() - c0) / max(1, out["objects"]) * 1e6
                    got[kind], gen[kind] = out["per_s"], out["cpu"] / max(1, out["objects"]) * 1e6
            r = got["dicomul"] / got["dcmtk-fork"]
            label = "4 KiB" if size == 4096 else "1 MiB"
            print(f"{c:>10} {label:>8} {got['dicomul']:>10.0f} {got['dcmtk-fork']:>10.0f} "
                  f"{r:>6.2f}x {cpu['dicomul']:>16.0f} {cpu['dcmtk-fork']:>7.0f} "
                  f"{gen['dicomul']:>8.0f}")  # fmt: skip
            if c >= 16:
                targets.append(f"aggregate {c} x {label}: {r:.2f}x DCMTK --fork "
                               f"(target >= 2x: {'met' if r >= 2 else 'MISSED'})")  # fmt: skip

    count = 200 if args.quick else 1000
    print(f"\n{count} associations at once (100 connection attempts in flight)")
    with Server("dicomul", workers=1) as u:
        ours = loadgen("associate", u.port, "--count", count, "--in-flight", 100)
        rss = u.peak_rss_mib()
    with Server("dcmtk-fork") as d:
        theirs = loadgen("associate", d.port, "--count", count, "--in-flight", 100)
    print(f"  dicomul storescp (1 process) {ours['seconds']:.2f} s, peak RSS {rss:.0f} MiB; "
          f"DCMTK storescp --fork {theirs['seconds']:.2f} s")  # fmt: skip
    r = theirs["seconds"] / ours["seconds"]
    verdict = "met" if r >= 1 else "MISSED"
    targets.append(f"{count} associations: {r:.2f}x DCMTK --fork (target >= 1.0x: {verdict}); "
                   f"peak RSS {rss:.0f} MiB (target < 256)")  # fmt: skip

    size = 32 << 20
    with Server("dicomul") as u:
        big = loadgen("store", u.port, "--size", size, "--seconds", max(secs, 1.0))
    raw = median([raw_tcp_mb_s(size) for _ in range(3)])
    r = big["mb_s"] / raw
    print(f"\n32 MiB C-STORE asyncio -> dicomul storescp: {big['mb_s']:.0f} MB/s; "
          f"raw loopback TCP {raw:.0f} MB/s ({r:.0%})")  # fmt: skip
    targets.append(f"32 MiB C-STORE: {r:.0%} of raw TCP (target >= 90%: "
                   f"{'met' if r >= 0.9 else 'MISSED'})")  # fmt: skip

    print("\ntargets:")
    for t in targets:
        print(f"  {t}")
    return 0


def _has_uvloop() -> bool:
    import importlib.util

    return importlib.util.find_spec("uvloop") is not None


def _rate(result: dict[str, Any]) -> tuple[float, float]:
    return float(result["per_s"]), float(result["cpu_per_10k"])


if __name__ == "__main__":
    sys.exit(main())
