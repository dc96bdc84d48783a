"""Network benchmark: C-ECHO/s on one association, C-STORE objects/s and MB/s, the raw TCP
ceiling, and the SCP's memory while receiving a large object; every pair in separate
processes, in one run.

    python bench/bench_net.py [--seconds S] [--repeat N] [--quick] [--skip-rss]

Pairs (requestor -> acceptor): dicomul -> dicomul, dicomul -> DCMTK storescp,
DCMTK storescu -> dicomul storescp, and the baselines pynetdicom -> pynetdicom and
DCMTK -> DCMTK. The receivers discard what they get (storescp --ignore, dicomul storescp
--ignore, a pynetdicom handler that returns success). Objects: 4 KiB, 1 MiB and 32 MiB
(Secondary Capture with OB pixel data, Explicit VR Little Endian) with 128 KiB PDUs,
and 32 MiB with unlimited PDUs between dicomul processes. TCP_NODELAY on everywhere.
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _peers import dcmtk, free_port, wait_port  # noqa: E402
from bench_assoc import ENV, NOSPIN, kind_env, stop  # noqa: E402

SC = "1.2.840.10008.5.1.4.1.1.7"
ELE = "1.2.840.10008.1.2.1"
SIZES = {"4 KiB": 4 * 1024, "1 MiB": 1 << 20, "32 MiB": 32 << 20}
PDU = 131072


def make_file(directory: Path, size: int) -> Path:
    """A Part 10 Secondary Capture file whose pixel data makes it about ``size`` bytes."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    ds = Dataset()
    ds.SOPClassUID = SC
    ds.SOPInstanceUID = generate_uid()
    ds.PatientName, ds.PatientID, ds.Modality = "BENCH^NET", "BENCH", "OT"
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    cols = 4096 if size > 8192 else 64
    rows = max(1, (size - 512) // cols)
    n = rows * cols
    ds.Rows, ds.Columns, ds.SamplesPerPixel, ds.BitsAllocated = rows, cols, 1, 8
    ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 7, 0
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.add_new(0x7FE00010, "OB", bytes(range(256)) * (n // 256) + bytes(n % 256))
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = SC
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    path = directory / f"obj_{size}.dcm"
    ds.save_as(path, enforce_file_format=True)
    return path


# ---- servers ----------------------------------------------------------------------------


def start_server(kind: str, max_pdu: int = PDU) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    if kind == "dcmtk":
        exe = dcmtk("storescp")
        assert exe
        proc = subprocess.Popen(
            [exe, "--ignore", "+xa", "-aet", "BENCH_SCP", "--max-pdu", str(max_pdu), str(port)],
            env=ENV,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_port(port, proc)
        return proc, port
    kind, env = kind_env(kind)
    proc = subprocess.Popen(
        [sys.executable, __file__, "_serve", kind, str(port), str(max_pdu)],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    assert proc.stdout is not None
    if b"ready" not in proc.stdout.readline():
        raise RuntimeError(f"{kind} server did not start")
    return proc, port


def serve(kind: str, port: int, max_pdu: int) -> None:
    if kind == "dicomul":
        from dicomul.sync.server import Server

        Server(
            "BENCH_SCP", accept_all_storage=True, ignore=True, max_pdu=max_pdu, dimse_timeout=None
        ).start("127.0.0.1", port)
    elif kind == "pynetdicom":
        from pynetdicom import AE, evt
        from pynetdicom.sop_class import SecondaryCaptureImageStorage, Verification

        ae = AE(ae_title="BENCH_SCP")
        ae.maximum_pdu_size = max_pdu
        ae.add_supported_context(Verification)
        ae.add_supported_context(SecondaryCaptureImageStorage, [ELE])
        ae.start_server(
            ("127.0.0.1", port),
            block=False,
            evt_handlers=[(evt.EVT_C_ECHO, lambda e: 0x0000), (evt.EVT_C_STORE, lambda e: 0x0000)],
        )
    elif kind == "raw":  # the ceiling: read and discard as fast as the kernel delivers
        srv = socket.create_server(("127.0.0.1", port))
        print("ready", flush=True)
        while True:
            c, _ = srv.accept()
            c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            buf = bytearray(1 << 20)
            while c.recv_into(buf):
                pass
            c.sendall(b"x")
            c.close()
    print("ready", flush=True)
    sys.stdin.read()


# ---- clients ----------------------------------------------------------------------------


def client(kind: str, port: int, mode: str, arg: str, seconds: float, max_pdu: int) -> dict:
    if mode == "echo":
        return {"rate": echo_client(kind, port, seconds)}
    return store_client(kind, port, Path(arg), seconds, max_pdu)


def echo_client(kind: str, port: int, seconds: float) -> float:
    n, t0 = 0, time.perf_counter()
    if kind == "dicomul":
        from dicomul.sync.services import Association

        with Association.connect("127.0.0.1", port, called_ae="BENCH_SCP") as assoc:
            t0 = time.perf_counter()
            while time.perf_counter() - t0 < seconds:
                assoc.echo()
                n += 1
    else:
        from pynetdicom import AE
        from pynetdicom.sop_class import Verification

        ae = AE(ae_title="BENCH_SCU")
        ae.add_requested_context(Verification)
        assoc = ae.associate("127.0.0.1", port, ae_title="BENCH_SCP")
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            assoc.send_c_echo()
            n += 1
        assoc.release()
    return n / (time.perf_counter() - t0)


def store_client(kind: str, port: int, path: Path, seconds: float, max_pdu: int) -> dict:
    n, size = 0, path.stat().st_size
    if kind == "dicomul":
        from dicomul.storage.part10 import read_part10
        from dicomul.sync.services import Association, contexts_for_files

        p10 = read_part10(path)
        with Association.connect(
            "127.0.0.1",
            port,
            called_ae="BENCH_SCP",
            max_pdu=max_pdu,
            contexts=contexts_for_files([path]),
        ) as assoc:
            t0 = time.perf_counter()
            while time.perf_counter() - t0 < seconds or n == 0:
                assert assoc.store(p10) == 0
                n += 1
            dt = time.perf_counter() - t0
    else:
        from pydicom import dcmread
        from pynetdicom import AE

        ds = dcmread(path)
        ae = AE(ae_title="BENCH_SCU")
        ae.maximum_pdu_size = max_pdu
        ae.add_requested_context(SC, [ELE])
        assoc = ae.associate("127.0.0.1", port, ae_title="BENCH_SCP")
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < seconds or n == 0:
            assert assoc.send_c_store(ds).Status == 0
            n += 1
        dt = time.perf_counter() - t0
        assoc.release()
    return {"rate": n / dt, "mbps": n * size / dt / 1e6}


def run_client(
    kind: str, port: int, mode: str, arg: str, seconds: float, max_pdu: int = PDU
) -> dict:
    if kind == "dcmtk":
        return dcmtk_client(port, mode, arg, seconds, max_pdu)
    kind, env = kind_env(kind)
    out = subprocess.run(
        [
            sys.executable,
            __file__,
            "_client",
            kind,
            str(port),
            mode,
            arg,
            str(seconds),
            str(max_pdu),
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=seconds * 20 + 180,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def dcmtk_client(port: int, mode: str, arg: str, seconds: float, max_pdu: int) -> dict:
    if mode == "echo":
        n = int(seconds * 15000)
        t0 = time.perf_counter()
        subprocess.run(
            [
                dcmtk("echoscu") or "echoscu",
                "--repeat",
                str(n),
                "-aec",
                "BENCH_SCP",
                "127.0.0.1",
                str(port),
            ],
            env=ENV,
            check=True,
            timeout=seconds * 20 + 60,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        return {"rate": n / (time.perf_counter() - t0)}
    path = Path(arg)
    size = path.stat().st_size
    n = max(1, min(int(seconds * 2000e6 / size), 2000))  # about `seconds` at 2 GB/s
    t0 = time.perf_counter()
    subprocess.run(
        [
            dcmtk("storescu") or "storescu",
            "-aec",
            "BENCH_SCP",
            "--max-pdu",
            str(max_pdu),
            "-xe",
            "127.0.0.1",
            str(port),
            *([str(path)] * n),
        ],
        env=ENV,
        check=True,
        timeout=seconds * 60 + 120,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    dt = time.perf_counter() - t0
    return {"rate": n / dt, "mbps": n * size / dt / 1e6}


def raw_tcp(seconds: float, payload: bytes | None = None) -> float:
    """MB/s of plain sendall() of 4 MiB pieces of ``payload`` to a process that reads and
    discards. ``payload``: the bytes of the 32 MiB object, so that the ceiling copies the
    same data the C-STOREs do; None sends one zero-filled buffer, which is faster than
    any real data (its pages are all the one shared zero page, always in cache), shown
    for reference only."""
    proc, port = start_server("raw")
    try:
        piece = 4 << 20
        views = ([memoryview(payload)[i : i + piece] for i in range(0, len(payload), piece)]
                 if payload else [memoryview(bytes(piece))])  # fmt: skip
        s = socket.create_connection(("127.0.0.1", port))
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        n, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            for v in views:
                s.sendall(v)
                n += len(v)
        s.shutdown(socket.SHUT_WR)
        s.recv(1)
        dt = time.perf_counter() - t0
        s.close()
        return n / dt / 1e6
    finally:
        stop(proc)


def rss_growth(directory: Path) -> float | None:
    """Peak RSS growth (MiB) of a default dicomul storescp receiving one 256 MiB object."""
    if not Path("/proc/self/status").exists():
        return None
    path = make_file(directory, 256 << 20)
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "dicomul",
            "storescp",
            str(port),
            "--ignore",
            "--bind",
            "127.0.0.1",
            "-aet",
            "BENCH_SCP",
        ],
        env=ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert proc.stdout is not None
        proc.stdout.readline()  # "listening on ..."
        before = _hwm(proc.pid)
        run_client("dicomul", port, "store", str(path), 0.0, 16384)
        return (_hwm(proc.pid) - before) / 1024
    finally:
        stop(proc)
        path.unlink()


def _hwm(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


# ---- orchestration ----------------------------------------------------------------------

PAIRS = [
    ("dicomul", "dicomul"),
    ("dicomul", "dcmtk"),
    ("dcmtk", "dicomul"),
    ("pynetdicom", "pynetdicom"),
    ("dcmtk", "dcmtk"),
]
ECHO_PAIRS = [*PAIRS[:1], (NOSPIN, NOSPIN), *PAIRS[1:]]  # and dicomul without spinning


def measure(
    client_kind: str, server_kind: str, mode: str, arg: str, seconds: float, max_pdu: int = PDU
) -> dict | None:
    if "dcmtk" in (client_kind, server_kind) and not dcmtk("storescp"):
        return None
    proc, port = start_server(server_kind, max_pdu)
    try:
        return run_client(client_kind, port, mode, arg, seconds, max_pdu)
    finally:
        stop(proc)


def _median(values: list) -> Any:
    """The median of floats, or of result dicts field by field (None if any is None)."""
    if any(v is None for v in values):
        return None
    if isinstance(values[0], dict):
        return {k: statistics.median(v[k] for v in values) for k in values[0]}
    return statistics.median(values)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "_serve":
        serve(argv[1], int(argv[2]), int(argv[3]))
        return 0
    if argv and argv[0] == "_client":
        print(
            json.dumps(
                client(argv[1], int(argv[2]), argv[3], argv[4], float(argv[5]), int(argv[6]))
            )
        )
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="per measurement")
    parser.add_argument("--quick", action="store_true", help="0.2 s per measurement, no RSS")
    parser.add_argument("--skip-rss", action="store_true", help="skip the 256 MiB RSS test")
    parser.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="rounds of every measurement; the median is shown (default 3)",
    )
    args = parser.parse_args(argv)
    seconds = 0.2 if args.quick else args.seconds
    rounds = 1 if args.quick else max(1, args.repeat)
    with tempfile.TemporaryDirectory(prefix="dicomul-bench-") as tmp:
        files = {name: make_file(Path(tmp), size) for name, size in SIZES.items()}
        payload = files["32 MiB"].read_bytes()
        runs = []  # whole rounds, so that drift in the machine's load hits every pair alike
        for _ in range(rounds):
            run: dict[object, object] = {"ceiling": raw_tcp(seconds, payload),
                                         "zeros": raw_tcp(seconds)}  # fmt: skip
            run.update({("echo", p): measure(*p, "echo", "-", seconds) for p in ECHO_PAIRS})
            run.update({(p, name): measure(*p, "store", str(f), seconds)
                        for name, f in files.items() for p in PAIRS})  # fmt: skip
            run["unlimited"] = measure("dicomul", "dicomul", "store", str(files["32 MiB"]),
                                       seconds, 0)  # fmt: skip
            runs.append(run)
        med = {key: _median([r[key] for r in runs]) for key in runs[0]}
        ceiling, zeros, unlimited = med["ceiling"], med["zeros"], med["unlimited"]
        echo = {p: med[("echo", p)] for p in ECHO_PAIRS}
        store = {(p, name): med[(p, name)] for name in files for p in PAIRS}
        rss = None if (args.quick or args.skip_rss) else rss_growth(Path(tmp))
    print(f"median of {rounds} round(s), {seconds:g} s per measurement")
    print(
        f"raw loopback TCP, the 32 MiB object's bytes: {ceiling:,.0f} MB/s (the ceiling; "
        f"a zero-filled buffer, always in cache, gives {zeros:,.0f})"
    )
    base_e = echo.get(("dcmtk", "dcmtk"))
    print(
        f"{'C-ECHO, one association':<34} {'per s':>9} {'vs DCMTK':>9}   "
        f"({NOSPIN}: DICOMUL_SPIN_WAIT=0 in both processes)"
    )
    for p in ECHO_PAIRS:
        r = echo[p]
        ratio = f"{r['rate'] / base_e['rate']:.2f}x" if r and base_e else "-"
        print(f"{p[0] + ' -> ' + p[1]:<34} {r['rate'] if r else 0:>9.0f} {ratio:>9}")
    print(
        f"\n{'C-STORE (128 KiB PDUs)':<34} {'object':>7} {'obj/s':>8} {'MB/s':>8} "
        f"{'vs DCMTK':>9} {'of TCP':>7}"
    )
    for name in SIZES:
        base = store.get((("dcmtk", "dcmtk"), name))
        for p in PAIRS:
            r = store[(p, name)]
            if not r:
                continue
            ratio = f"{r['mbps'] / base['mbps']:.2f}x" if base else "-"
            print(
                f"{p[0] + ' -> ' + p[1]:<34} {name:>7} {r['rate']:>8.0f} {r['mbps']:>8.0f} "
                f"{ratio:>9} {r['mbps'] / ceiling:>7.0%}"
            )
    if unlimited:
        print(
            f"{'dicomul -> dicomul, unlimited PDU':<34} {'32 MiB':>7} {unlimited['rate']:>8.0f} "
            f"{unlimited['mbps']:>8.0f} {'':>9} {unlimited['mbps'] / ceiling:>7.0%}"
        )
    if rss is not None:
        print(
            f"\ndicomul storescp (defaults) peak RSS growth receiving one 256 MiB object: "
            f"{rss:.1f} MiB (target < 4 MiB)"
        )
    _targets(echo, store, unlimited, ceiling)
    return 0


def _targets(echo: dict, store: dict, unlimited: dict | None, ceiling: float) -> None:
    """The issue's targets, met or not, from the medians above."""

    def verdict(ok: bool) -> str:
        return "met" if ok else "MISSED"

    dd, cc = echo.get(("dicomul", "dicomul")), echo.get(("dcmtk", "dcmtk"))
    ns = echo.get((NOSPIN, NOSPIN))
    if dd and cc:
        r = dd["rate"] / cc["rate"]
        plain = f"; without spinning {ns['rate'] / cc['rate']:.2f}x" if ns else ""
        print(f"target C-ECHO >= 1.1x DCMTK: {r:.2f}x ({verdict(r >= 1.1)}{plain})")
    big, base = (
        store.get((("dicomul", "dicomul"), "32 MiB")),
        store.get((("dcmtk", "dcmtk"), "32 MiB")),
    )
    if big:
        of_tcp = [big["mbps"] / ceiling] + ([unlimited["mbps"] / ceiling] if unlimited else [])
        shown = " and ".join(f"{x:.0%}" for x in of_tcp)
        print(
            f"target 32 MiB C-STORE >= 90% of TCP (128 KiB and unlimited PDUs): {shown} "
            f"({verdict(min(of_tcp) >= 0.9)})"
        )
        if base:
            r = big["mbps"] / base["mbps"]
            print(f"target 32 MiB C-STORE >= 2x DCMTK: {r:.2f}x ({verdict(r >= 2)})")


if __name__ == "__main__":
    raise SystemExit(main())
