"""Whole-process benchmark: a one-shot `dicomul echo` (and `dicomul store` of one small
file) from process start to exit, against DCMTK's echoscu/storescu and pynetdicom's, all
talking to one DCMTK storescp (--ignore, TCP_NODELAY) in the same run.

    python bench/bench_startup.py [--runs N] [--quick]

Prints the median wall and CPU seconds (user + system of the child) of each command and
the ratio of dicomul's wall time to DCMTK's. Target (issue 9): `dicomul echo` no slower
than echoscu as a whole process, echoscu as shipped. DCMTK's tools leave Nagle's algorithm
on unless TCP_NODELAY=1 is in their environment, which costs them a delayed ACK (~40 ms)
per association; both variants are printed. dicomul always sets TCP_NODELAY; what is left
against echoscu with TCP_NODELAY=1 is CPython's own start-up (the interpreter and the
standard modules any Python DICOM client needs: logging, socket, threading, argparse).

Measure an installed (non-editable) dicomul: an editable checkout with
PYTHONDONTWRITEBYTECODE set recompiles every module on each start.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

try:
    import resource
except ImportError:  # Windows: wall time only
    resource = None  # type: ignore[assignment]

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _peers import dcmtk, free_port, wait_port  # noqa: E402

ENV = dict(os.environ, TCP_NODELAY="1")
ECHOSCU = "echo: DCMTK echoscu (as shipped)"
ECHOSCU_NODELAY = "echo: DCMTK echoscu TCP_NODELAY=1"
STORESCU = "store 1 file: DCMTK storescu (as shipped)"
STORESCU_NODELAY = "store 1 file: DCMTK storescu TCP_NODELAY=1"


def dicomul_command() -> list[str]:
    """The `dicomul` console script beside this interpreter (what a user runs)."""
    script = Path(sys.executable).with_name("dicomul")
    return [str(script)] if script.exists() else [sys.executable, "-m", "dicomul"]


def _child_cpu() -> float:
    if resource is None:
        return 0.0
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def time_runs(cmd: list[str], runs: int, env: dict[str, str]) -> tuple[float, float]:
    """(median wall s, median CPU s) of ``runs`` runs of ``cmd``; each must exit 0."""
    walls, cpus = [], []
    for _ in range(runs):
        c0, t0 = _child_cpu(), time.perf_counter()
        out = subprocess.run(cmd, capture_output=True, env=env, timeout=60)
        walls.append(time.perf_counter() - t0)
        cpus.append(_child_cpu() - c0)
        if out.returncode != 0:
            raise RuntimeError(f"{cmd[0]} exited {out.returncode}: {out.stderr[-500:]!r}")
    return statistics.median(walls), statistics.median(cpus)


def sample_file() -> Path | None:
    try:
        import pydicom
    except ImportError:
        return None
    path = Path(pydicom.__file__).parent / "data" / "test_files" / "CT_small.dcm"
    return path if path.exists() else None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=21, help="runs of each command")
    ap.add_argument("--quick", action="store_true", help="3 runs each (a smoke test)")
    args = ap.parse_args()
    runs = 3 if args.quick else args.runs
    storescp, echoscu, storescu = dcmtk("storescp"), dcmtk("echoscu"), dcmtk("storescu")
    if storescp is None or echoscu is None:
        print("DCMTK (storescp, echoscu) not found: nothing to compare against")
        return 1
    port = free_port()
    server = subprocess.Popen([storescp, "--ignore", str(port)], env=ENV,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        wait_port(port, server)
        ours = dicomul_command()
        host, p = "127.0.0.1", str(port)
        shipped = {k: v for k, v in os.environ.items() if k != "TCP_NODELAY"}
        rows: list[tuple[str, list[str], dict[str, str]]] = [
            ("echo: dicomul echo", [*ours, "echo", host, p, "-aec", "ANY"], shipped),
            (ECHOSCU, [echoscu, host, p], shipped),
            (ECHOSCU_NODELAY, [echoscu, host, p], ENV),
        ]
        try:
            import pynetdicom  # noqa: F401

            pyn = [sys.executable, "-m", "pynetdicom", "echoscu", host, p]
            rows.append(("echo: pynetdicom echoscu", pyn, shipped))
        except ImportError:
            pass
        sample = sample_file()
        if sample is not None and storescu is not None:
            store = [*ours, "store", host, p, "-aec", "ANY", str(sample)]
            rows.append(("store 1 file: dicomul store", store, shipped))
            rows.append((STORESCU, [storescu, host, p, str(sample)], shipped))
            rows.append((STORESCU_NODELAY, [storescu, host, p, str(sample)], ENV))
        results: dict[str, tuple[float, float]] = {}
        for name, cmd, env in rows:
            time_runs(cmd, 1, env)  # warm the page cache
            results[name] = time_runs(cmd, runs, env)
    finally:
        server.terminate()
        try:
            server.wait(5)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    print(f"whole process, median of {runs} runs, against DCMTK storescp --ignore")
    print(f"{'command':<44} {'wall s':>8} {'cpu s':>8}")
    for name, (wall, cpu) in results.items():
        print(f"{name:<44} {wall:>8.3f} {cpu:>8.3f}")
    print("targets:")
    ours_echo = results["echo: dicomul echo"][0]
    ratio = ours_echo / results[ECHOSCU][0]
    verdict = "met" if ratio <= 1.0 else "MISSED"
    print(f"  dicomul echo / echoscu as shipped, wall {ratio:.2f}x (target <= 1.0x: {verdict})")
    ratio = ours_echo / results[ECHOSCU_NODELAY][0]
    print(f"  dicomul echo / echoscu TCP_NODELAY=1, wall {ratio:.2f}x (no target)")
    if STORESCU in results:
        ratio = results["store 1 file: dicomul store"][0] / results[STORESCU][0]
        print(f"  dicomul store / storescu as shipped, one small file, wall {ratio:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
