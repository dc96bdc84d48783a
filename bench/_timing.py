"""Small timing helpers shared by the benchmarks (no third-party dependency)."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable


def per_call_us(fn: Callable[[], object], min_time: float = 0.2, repeats: int = 7) -> float:
    """Median over ``repeats`` runs of the mean time of one call, in microseconds."""
    loops = 1
    while True:  # calibrate: enough loops for one run to take min_time / repeats
        t0 = time.perf_counter()
        for _ in range(loops):
            fn()
        dt = time.perf_counter() - t0
        if dt >= min_time / repeats or loops >= 1 << 20:
            break
        loops *= 2
    runs = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(loops):
            fn()
        runs.append((time.perf_counter() - t0) / loops)
    return statistics.median(runs) * 1e6


def row(name: str, ours_us: float, theirs_us: float, target: float | None = None) -> str:
    ratio = theirs_us / ours_us if ours_us else float("inf")
    verdict = ""
    if target is not None:
        verdict = f"  target >= {target:g}x: {'met' if ratio >= target else 'MISSED'}"
    return f"{name:<44} {ours_us:>11.2f} {theirs_us:>13.2f} {ratio:>9.1f}x{verdict}"


HEADER = f"{'operation':<44} {'dicomul µs':>11} {'pynetdicom µs':>13} {'ratio':>10}"
