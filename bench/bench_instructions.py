"""Instructions per message (valgrind's callgrind), dicomul beside DCMTK: the one figure
of this machine that does not move with its load. Wall-clock rates on a shared 2-core VM
move by 30% from one minute to the next; the instructions a process executes for the
same work do not (user space only: the kernel's share is not counted).

    python bench/bench_instructions.py [--quick]

Rows: a C-ECHO requestor (dicomul blocking and asyncio, DCMTK echoscu) against DCMTK
storescp; an acceptor (dicomul storescp --workers 1 --ignore, DCMTK storescp --ignore)
for C-ECHO and for 4 KiB C-STOREs from bench/_loadgen.py. Each figure is the
difference between two runs of different lengths divided by the difference in messages,
so start-up, imports and association set-up cancel out. Needs valgrind (Debian:
valgrind) and DCMTK (dcmtk).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _peers import dcmtk, free_port, wait_port  # noqa: E402

# The same hash seed in every run: dict and set layouts (and so the instruction count of
# a lookup) depend on it.
ENV = dict(os.environ, TCP_NODELAY="1", DICOMUL_SPIN_WAIT="0", PYTHONHASHSEED="0")
LOADGEN = [sys.executable, str(HERE / "_loadgen.py")]


def callgrind(cmd: list[str]) -> list[str]:
    return ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", *cmd]


def collected(stderr: str) -> int:
    """The instruction total callgrind prints when the process ends."""
    m = re.search(r"Collected : (\d+)", stderr)
    if m is None:
        raise RuntimeError(f"no callgrind total in: {stderr[-500:]}")
    return int(m.group(1))


def client_run(cmd: list[str]) -> int:
    """Instructions of one requestor process run under callgrind."""
    out = subprocess.run(callgrind(cmd), capture_output=True, text=True, env=ENV, timeout=900)
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-2000:])
    return collected(out.stderr)


class Acceptor:
    """A server process (optionally under callgrind), stopped by its PID."""

    def __init__(self, kind: str, counted: bool) -> None:
        self.port = free_port()
        if kind == "dicomul":
            cmd = [sys.executable, "-m", "dicomul", "storescp", str(self.port), "--bind",
                   "127.0.0.1", "--ignore", "--workers", "1", "--max-pdu", "131072"]  # fmt: skip
        else:
            cmd = [str(dcmtk("storescp")), "--ignore", "--max-pdu", "131072", str(self.port)]
        # stderr to a file, not a pipe: nobody reads it until the end, and a server's log
        # could fill a pipe and stop it.
        self.log = tempfile.TemporaryFile("w+")
        self.proc = subprocess.Popen(callgrind(cmd) if counted else cmd, env=ENV,
                                     stdout=subprocess.DEVNULL, stderr=self.log)  # fmt: skip
        wait_port(self.port, self.proc, timeout=120)

    def stop(self) -> int:
        """Stop it (SIGTERM: callgrind then writes its total); its instructions (0 when
        it ran without callgrind)."""
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=30)
        self.log.seek(0)
        err = self.log.read()
        self.log.close()
        return collected(err) if "Collected" in err else 0


def per_message(run: Callable[[int], tuple[int, int]], small: int, large: int) -> float:
    """(instructions, messages) of a short and a long run: the cost of one more message."""
    i1, n1 = run(small)
    i2, n2 = run(large)
    return (i2 - i1) / max(1, n2 - n1)


def requestor(kind: str, port: int) -> Callable[[int], tuple[int, int]]:
    def run(n: int) -> tuple[int, int]:
        if kind == "echoscu":
            cmd = [str(dcmtk("echoscu")), "--repeat", str(n), "127.0.0.1", str(port)]
        else:
            blocking = ["--blocking"] if kind == "blocking" else []
            cmd = [*LOADGEN, "echo", str(port), str(n), *blocking]
        return client_run(cmd), n

    return run


def acceptor(kind: str, what: str) -> Callable[[int], tuple[int, int]]:
    def run(n: int) -> tuple[int, int]:
        server = Acceptor(kind, counted=True)
        try:
            port = str(server.port)
            if what == "echo":
                cmd = [*LOADGEN, "echo", port, str(n), "--blocking"]
            else:  # C-STOREs for n tenths of a second (callgrind slows the server ~50x)
                cmd = [*LOADGEN, "store", port, "--size", "4096", "--seconds", str(n / 10)]
            out = subprocess.run(cmd, capture_output=True, text=True, env=ENV, timeout=900)
            done = n
            if what != "echo" and out.returncode == 0:
                done = int(json.loads(out.stdout.strip().splitlines()[-1])["objects"])
            if out.returncode != 0:
                raise RuntimeError(out.stderr[-2000:])
        finally:
            total = server.stop()
        return total, done

    return run


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="short runs: a smoke test")
    args = ap.parse_args()
    if shutil.which("valgrind") is None or dcmtk("storescp") is None or dcmtk("echoscu") is None:
        print("valgrind and DCMTK are needed (Debian: valgrind, dcmtk)")
        return 1
    echoes = (200, 600) if args.quick else (1000, 5000)
    store_tenths = (10, 20) if args.quick else (30, 90)
    rows: dict[str, float] = {}

    print("instructions per message (callgrind, user space; the difference of two runs)")
    plain = Acceptor("dcmtk", counted=False)
    try:
        for name, kind in (("DCMTK echoscu", "echoscu"), ("dicomul blocking", "blocking"),
                           ("dicomul asyncio", "asyncio")):  # fmt: skip
            rows[f"{name} C-ECHO requestor"] = per_message(requestor(kind, plain.port), *echoes)
    finally:
        plain.stop()
    for name, kind in (("DCMTK storescp", "dcmtk"), ("dicomul storescp", "dicomul")):
        rows[f"{name} C-ECHO acceptor"] = per_message(acceptor(kind, "echo"), *echoes)
        rows[f"{name} 4 KiB C-STORE acceptor"] = per_message(acceptor(kind, "store"), *store_tenths)
    for name, value in rows.items():
        print(f"  {name:<40} {value:>10,.0f}")
    for role in ("C-ECHO requestor", "C-ECHO acceptor", "4 KiB C-STORE acceptor"):
        ours = [v for k, v in rows.items() if k.endswith(role) and k.startswith("dicomul")]
        theirs = [v for k, v in rows.items() if k.endswith(role) and k.startswith("DCMTK")]
        print(f"{role}: dicomul {min(ours) / theirs[0]:.1f}x DCMTK's instructions"
              + (" (blocking)" if role == "C-ECHO requestor" else ""))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
