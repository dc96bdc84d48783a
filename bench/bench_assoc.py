"""Association benchmark: associate+release cycles/s and C-ECHO round trips/s on one
association, every pair in separate processes, in one run.

    python bench/bench_assoc.py [--seconds S] [--repeat N] [--quick]

Pairs (requestor -> acceptor): dicomul -> dicomul, dicomul -> pynetdicom,
pynetdicom -> dicomul, dicomul -> DCMTK storescp, DCMTK echoscu -> dicomul, and the
baselines pynetdicom -> pynetdicom and DCMTK echoscu -> DCMTK storescp. Each process runs
with TCP_NODELAY on (DCMTK through its TCP_NODELAY=1 environment switch). Round trips are
C-ECHO-RQ/RSP exchanges (command sets from dicomul.dimse.messages) on one association; the dicomul
requestor drives them from its callbacks, as a LEADTOOLS-style client does.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _peers import dcmtk, free_port, wait_port  # noqa: E402

# The dicomul under test is the one this interpreter imports (installed, or PYTHONPATH=src).
ENV = dict(os.environ, TCP_NODELAY="1")
NOSPIN = "dicomul-nospin"  # dicomul with DICOMUL_SPIN_WAIT=0: sleeps at once in every wait


def kind_env(kind: str) -> tuple[str, dict[str, str]]:
    """(the implementation, the environment of its process) for a benchmark kind."""
    if kind == NOSPIN:
        return "dicomul", dict(ENV, DICOMUL_SPIN_WAIT="0")
    return kind, ENV


# ---- servers (run in their own process) -----------------------------------------------


def serve(kind: str, port: int) -> None:
    if kind == "dicomul":
        from _echo import EchoSCP

        EchoSCP().listen("127.0.0.1", port, backlog=128)
    elif kind == "pynetdicom":
        from pynetdicom import AE, evt
        from pynetdicom.sop_class import Verification

        ae = AE(ae_title="BENCH_SCP")
        ae.add_supported_context(Verification)
        ae.maximum_associations = 64
        ae.start_server(
            ("127.0.0.1", port), block=False, evt_handlers=[(evt.EVT_C_ECHO, lambda e: 0x0000)]
        )
    print("ready", flush=True)
    sys.stdin.read()  # runs until the parent closes our stdin or kills us


# ---- clients (run in their own process, print a JSON result) ----------------------------


def client_cycles(kind: str, port: int, seconds: float) -> float:
    n, t0 = 0, time.perf_counter()
    if kind == "dicomul":
        from _echo import verification_rq

        from dicomul.sync.net import Net

        rq = verification_rq()
        while time.perf_counter() - t0 < seconds:
            net = Net()
            net.associate("127.0.0.1", port, rq, timeout=10)
            net.release(timeout=10)
            n += 1
    else:
        from pynetdicom import AE
        from pynetdicom.sop_class import Verification

        ae = AE(ae_title="BENCH_SCU")
        ae.add_requested_context(Verification)
        while time.perf_counter() - t0 < seconds:
            assoc = ae.associate("127.0.0.1", port, ae_title="BENCH_SCP")
            assert assoc.is_established
            assoc.release()
            n += 1
    return n / (time.perf_counter() - t0)


def client_echo(kind: str, port: int, seconds: float) -> float:
    if kind == "dicomul":
        from _echo import echo_rq, verification_rq

        from dicomul.sync.net import Net

        done = threading.Event()
        state = {"n": 0, "t0": 0.0, "t1": 0.0}
        request = echo_rq(1)  # the same message each time: this measures the transport

        class Client(Net):
            def on_receive_data(self, pc_id: int, command: bytes, dataset: object) -> None:
                state["n"] += 1
                if time.perf_counter() - state["t0"] < seconds:
                    self.send_data(1, request)
                else:
                    state["t1"] = time.perf_counter()
                    done.set()

        net = Client()
        net.associate("127.0.0.1", port, verification_rq(), timeout=10)
        state["t0"] = time.perf_counter()
        net.send_data(1, echo_rq(0))
        done.wait(seconds + 30)
        net.release(timeout=10)
        return state["n"] / (state["t1"] - state["t0"])
    from pynetdicom import AE
    from pynetdicom.sop_class import Verification

    ae = AE(ae_title="BENCH_SCU")
    ae.add_requested_context(Verification)
    assoc = ae.associate("127.0.0.1", port, ae_title="BENCH_SCP")
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        assoc.send_c_echo()
        n += 1
    rate = n / (time.perf_counter() - t0)
    assoc.release()
    return rate


# ---- orchestration ----------------------------------------------------------------------


def start_server(kind: str) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    if kind == "dcmtk":
        exe = dcmtk("storescp")
        assert exe
        proc = subprocess.Popen(
            [exe, "--ignore", "-aet", "BENCH_SCP", "--max-pdu", "131072", str(port)],
            env=ENV,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_port(port, proc)
        return proc, port
    kind, env = kind_env(kind)
    proc = subprocess.Popen(
        [sys.executable, __file__, "_serve", kind, str(port)],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if b"ready" not in line:
        raise RuntimeError(f"{kind} server did not start")
    return proc, port


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.kill()
    proc.wait(10)


def run_client(kind: str, mode: str, port: int, seconds: float) -> float:
    if kind == "dcmtk":
        exe = dcmtk("echoscu")
        assert exe and mode == "echo"
        n = int(seconds * 15000)
        t0 = time.perf_counter()
        subprocess.run(
            [exe, "--repeat", str(n), "-aec", "BENCH_SCP", "127.0.0.1", str(port)],
            env=ENV,
            check=True,
            timeout=seconds * 20 + 60,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        return n / (time.perf_counter() - t0)
    kind, env = kind_env(kind)
    out = subprocess.run(
        [sys.executable, __file__, "_client", kind, mode, str(port), str(seconds)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=seconds * 10 + 120,
    )
    return float(json.loads(out.stdout.strip().splitlines()[-1])["rate"])


def measure(client: str, server: str, mode: str, seconds: float) -> float | None:
    if "dcmtk" in (client, server) and not (dcmtk("storescp") and dcmtk("echoscu")):
        return None
    proc, port = start_server(server)
    try:
        return run_client(client, mode, port, seconds)
    finally:
        stop(proc)


PAIRS = [
    ("dicomul", "dicomul"),
    (NOSPIN, NOSPIN),
    ("dicomul", "pynetdicom"),
    ("pynetdicom", "dicomul"),
    ("dicomul", "dcmtk"),
    ("dcmtk", "dicomul"),
    ("pynetdicom", "pynetdicom"),
    ("dcmtk", "dcmtk"),
]


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "_serve":
        serve(argv[1], int(argv[2]))
        return 0
    if argv and argv[0] == "_client":
        kind, mode, port, seconds = argv[1], argv[2], int(argv[3]), float(argv[4])
        rate = (client_cycles if mode == "cycles" else client_echo)(kind, port, seconds)
        print(json.dumps({"rate": rate}))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="per measurement")
    parser.add_argument("--quick", action="store_true", help="0.3 s per measurement")
    parser.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="rounds of every measurement; the median is shown (default 3)",
    )
    args = parser.parse_args(argv)
    seconds = 0.3 if args.quick else args.seconds
    rounds = 1 if args.quick else max(1, args.repeat)
    if not args.quick:  # the first measurement of a run is slower (caches, clocks): discard
        measure("dicomul", "dicomul", "echo", 0.5)
    runs: list[dict[tuple[str, str, str], float | None]] = []
    for _ in range(rounds):  # whole rounds: drift in the machine's load hits every pair
        run: dict[tuple[str, str, str], float | None] = {}
        for client, server in PAIRS:
            for mode in ("cycles", "echo"):
                if client == "dcmtk" and mode == "cycles":
                    continue  # DCMTK runs one process per association: not comparable
                run[(client, server, mode)] = measure(client, server, mode, seconds)
        runs.append(run)
    results: dict[tuple[str, str, str], float | None] = {
        key: (None if any(r[key] is None for r in runs)
              else statistics.median(r[key] for r in runs))  # type: ignore[misc]
        for key in runs[0]
    }  # fmt: skip
    print(f"median of {rounds} round(s), {seconds:g} s per measurement")
    base_c = results.get(("pynetdicom", "pynetdicom", "cycles"))
    base_e = results.get(("pynetdicom", "pynetdicom", "echo"))
    dcmtk_e = results.get(("dcmtk", "dcmtk", "echo"))
    print(
        f"{'requestor -> acceptor':<34} {'assoc+release/s':>16} {'vs pynetdicom':>14} "
        f"{'C-ECHO/s':>10} {'vs pynetdicom':>14} {'vs DCMTK':>9}"
    )
    for client, server in PAIRS:
        c = results.get((client, server, "cycles"))
        e = results.get((client, server, "echo"))

        def fmt(v: float | None, base: float | None, w: int) -> str:
            return f"{'-':>{w}}" if v is None or not base else f"{v / base:>{w - 1}.1f}x"

        cs = f"{c:>16.0f}" if c is not None else f"{'-':>16}"
        es = f"{e:>10.0f}" if e is not None else f"{'n/a':>10}"
        print(
            f"{client + ' -> ' + server:<34} {cs} {fmt(c, base_c, 14)} {es} "
            f"{fmt(e, base_e, 14)} {fmt(e, dcmtk_e, 9)}"
        )
    dd_c, dd_e = (
        results.get(("dicomul", "dicomul", "cycles")),
        results.get(("dicomul", "dicomul", "echo")),
    )
    ns_e = results.get((NOSPIN, NOSPIN, "echo"))
    print(
        f"({NOSPIN}: both processes with DICOMUL_SPIN_WAIT=0, sleeping at once in every "
        "wait; dicomul spins up to 100 us first by default, see Net(spin_wait=))"
    )
    print(
        f"targets: dicomul->dicomul >= 3000 assoc+release/s: {dd_c or 0:.0f} "
        f"({'met' if (dd_c or 0) >= 3000 else 'MISSED'}); >= 15000 round trips/s: "
        f"{dd_e or 0:.0f} ({'met' if (dd_e or 0) >= 15000 else 'MISSED'}; without "
        f"spinning {ns_e or 0:.0f})"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
