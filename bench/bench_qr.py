"""Query/Retrieve archive benchmark: ``dicomul qrscp`` against DCMTK dcmqrscp and
pynetdicom's qrscp app over the same generated instances, in one run.

    python bench/bench_qr.py [--instances 100000] [--repeat 20] [--quick]

1. Generates header-only Part 10 files (no pixel data; what an index reads is the
   header): patients of 2 studies of 1 series of 25 images, and one study with a
   100-image series for C-MOVE. Each archive indexes the same files its own way:
   ``dicomul index`` (timed: objects/s), DCMTK's dcmqridx, pynetdicom's qrscp database
   module (``db.add_instance``; pynetdicom only indexes what it receives).
2. C-FIND at study level, Study Root, three queries: an exact Patient ID, a name
   wildcard and a one-month date range. One client for all three servers (dicomul's
   blocking Association, one association per server), each query ``--repeat`` times:
   the median latency and the server process's CPU seconds (utime + stime, children
   included: dcmqrscp forks per association) are printed with the ratios.
3. C-MOVE of the 100-image series from each server to one dicomul storescp --ignore.
4. Indexing while receiving: C-STORE into a fresh qrscp (which indexes each object
   before answering) and a fresh storescp (which does not), --workers 1 and 2: 4,000 of
   the files from 4 DCMTK storescu at once (objects/s, server CPU seconds), and 4 KiB
   objects from bench_aio.py's asyncio load generator over 16 associations for 3 s.

dcmqridx indexes about 50 objects/s here and slows as its index grows, so dcmqrscp takes
part only up to ``--dcmqrscp-limit`` instances (default 20,000; at 100,000 it would need
hours): above that it is left out and the run says so.

Targets (issue 11): each C-FIND at least 10x faster than pynetdicom's qrscp and faster
than dcmqrscp; indexing at least 2,000 objects/s while receiving. On this machine
(2 cores) with 100,000 instances the whole run takes several minutes, most of it
generating files and filling the other two archives' databases.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _peers import dcmtk, free_port, wait_port  # noqa: E402

ENV = dict(os.environ, TCP_NODELAY="1")
CT = "1.2.840.10008.5.1.4.1.1.2"
PER_PATIENT = 50  # 2 studies x 1 series x 25 images


def _write_patient(args: tuple[str, int]) -> int:
    from pydicom.uid import generate_uid

    out, p = args
    n = 0
    for s in range(2):
        study, series = generate_uid(), generate_uid()
        for i in range(25):
            n += _write(out, f"{p:06d}_{s}_{i}", p, s, study, series, i, "CT")
    return n


def _write(out: str, name: str, p: int, s: int, study: str, series: str, i: int, mod: str) -> int:
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    ds = Dataset()
    ds.SOPClassUID, ds.SOPInstanceUID = CT, generate_uid()
    ds.PatientName, ds.PatientID = f"NAME{p:06d}^GIVEN", f"PID{p:06d}"
    ds.PatientBirthDate, ds.PatientSex = f"19{40 + p % 60:02d}0101", "MF"[p % 2]
    ds.StudyInstanceUID, ds.SeriesInstanceUID = study, series
    day = (p * 2 + s) % 365
    ds.StudyDate = f"20{10 + (p % 15):02d}{1 + day // 31 % 12:02d}{1 + day % 28:02d}"
    ds.StudyTime, ds.AccessionNumber = f"{8 + s:02d}0000", f"A{p:06d}{s}"
    ds.StudyID, ds.Modality, ds.SeriesNumber, ds.InstanceNumber = str(s), mod, 1, i + 1
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID, ds.file_meta.MediaStorageSOPInstanceUID = (
        CT,
        ds.SOPInstanceUID,
    )
    ds.save_as(os.path.join(out, name + ".dcm"), enforce_file_format=True)
    return 1


def generate(out: Path, instances: int) -> str:
    """Write the files; the Study Instance UID of the 100-image series."""
    from pydicom.uid import generate_uid

    out.mkdir(parents=True, exist_ok=True)
    patients = max(1, (instances - 100) // PER_PATIENT)
    with ProcessPoolExecutor(os.cpu_count() or 1) as pool:
        list(pool.map(_write_patient, [(str(out), p) for p in range(patients)], chunksize=64))
    study, series = generate_uid(), generate_uid()
    for i in range(100):
        _write(str(out), f"move_{i:03d}", 999999, 0, study, series, i, "MR")
    return study


def cpu(pid: int) -> float:
    """utime + stime (+ children's) of a process, seconds (Linux /proc; else 0)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def start(argv: list[str], port: int, log: Path, cwd: Path | None = None) -> subprocess.Popen[Any]:
    proc = subprocess.Popen(
        argv, stdout=open(log, "wb"), stderr=subprocess.STDOUT, env=ENV, cwd=cwd
    )
    wait_port(port, proc, timeout=600)
    return proc


def stop(proc: subprocess.Popen[Any]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


def queries() -> dict[str, dict[str, str]]:
    base = {
        "QueryRetrieveLevel": "STUDY",
        "StudyInstanceUID": "",
        "PatientName": "",
        "StudyDate": "",
    }
    return {
        "exact Patient ID": {**base, "PatientID": "PID000123"},
        "name wildcard": {**base, "PatientName": "NAME00012*"},
        "date range": {**base, "StudyDate": "20150301-20150331"},
    }


def time_find(
    port: int, aec: str, keys: dict[str, str], repeat: int, pid: int
) -> tuple[float, float, int]:
    """(median seconds per C-FIND, server CPU seconds per C-FIND, matches)."""
    from pydicom.dataset import Dataset

    from dicomul.sync.services import Association, qr_contexts

    q = Dataset()
    for k, v in keys.items():
        setattr(q, k, v)
    with Association.connect(
        "127.0.0.1",
        port,
        called_ae=aec,
        dimse_timeout=600,
        contexts=qr_contexts(["study"], ["find"]),
    ) as a:
        list(a.find(q, "study"))  # warm up (a server's first query loads its modules)
        times, found = [], 0
        c0 = cpu(pid)
        for _ in range(repeat):
            t0 = time.perf_counter()
            found = sum(1 for st, ds in a.find(q, "study") if ds is not None)
            times.append(time.perf_counter() - t0)
        used = (cpu(pid) - c0) / repeat
    return statistics.median(times), used, found


def time_move(port: int, aec: str, study: str) -> tuple[float, int]:
    from pydicom.dataset import Dataset

    from dicomul.sync.services import Association, qr_contexts

    q = Dataset()
    q.QueryRetrieveLevel, q.StudyInstanceUID = "STUDY", study
    with Association.connect(
        "127.0.0.1",
        port,
        called_ae=aec,
        dimse_timeout=600,
        contexts=qr_contexts(["study"], ["move"]),
    ) as a:
        t0 = time.perf_counter()
        final = list(a.move(q, "SINK", "study"))[-1][1]
        return time.perf_counter() - t0, int(final.completed_suboperations or 0)


@contextmanager
def fresh_scp(archive: bool, tmp: Path, workers: int) -> Iterator[tuple[int, int, Path]]:
    """A fresh ``dicomul qrscp`` (archive) or ``storescp`` with ``workers`` processes:
    ``(port, pid, storage directory)``; stopped and its files removed afterwards."""
    port = free_port()
    cmd = "qrscp" if archive else "storescp"
    out = tmp / f"{cmd}-{port}"
    argv = [
        sys.executable,
        "-m",
        "dicomul",
        cmd,
        str(port),
        "--bind",
        "127.0.0.1",
        "--workers",
        str(workers),
        "--storage" if archive else "-od",
        str(out),
    ]
    proc = start(argv, port, tmp / f"{cmd}-{port}.log")
    try:
        yield port, proc.pid, out
    finally:
        stop(proc)
        shutil.rmtree(out, ignore_errors=True)


def ingest(
    files: list[Path], archive: bool, tmp: Path, workers: int = 1, clients: int = 4
) -> tuple[float, float]:
    """(objects/s, server CPU seconds per 1,000 objects) of C-STOREs from ``clients``
    DCMTK storescu processes at once into a fresh qrscp (archive) or storescp with
    ``workers`` processes (CPU: the main process's, so only with one worker)."""
    storescu = dcmtk("storescu")
    assert storescu, "DCMTK storescu is needed for the ingest measurement"
    with fresh_scp(archive, tmp, workers) as (port, pid, out):
        c0 = cpu(pid)
        t0 = time.perf_counter()
        runs = [
            subprocess.Popen(
                [storescu, "127.0.0.1", str(port), *map(str, files[i::clients])],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                env=ENV,
            )
            for i in range(clients)
        ]
        failed = sum(r.wait(timeout=600) != 0 for r in runs)
        dt = time.perf_counter() - t0
        used = cpu(pid) - c0
        assert not failed, f"{failed} storescu runs failed"
        stored = sum(1 for p in out.iterdir() if p.suffix == ".dcm")
        assert stored == len(files), f"{stored} of {len(files)} stored"
        return len(files) / dt, used / len(files) * 1000


def ingest_loadgen(archive: bool, tmp: Path, workers: int) -> tuple[float, int]:
    """(objects/s, failures) of 16 associations storing 4 KiB objects for 3 s from the
    asyncio load generator of bench_aio.py into a fresh qrscp or storescp."""
    import json

    with fresh_scp(archive, tmp, workers) as (port, _pid, _out):
        r = subprocess.run(
            [
                sys.executable,
                str(HERE / "_loadgen.py"),
                "store",
                str(port),
                "--concurrency",
                "16",
                "--size",
                "4096",
                "--seconds",
                "3",
            ],
            capture_output=True,
            text=True,
            env=ENV,
            timeout=300,
            check=True,
        )
        got = json.loads(r.stdout.strip().splitlines()[-1])
        return float(got["per_s"]), int(got["failures"])


def pynetdicom_db(files: list[Path], location: Path) -> None:
    import pydicom
    from pynetdicom.apps.qrscp import db
    from sqlalchemy.orm import sessionmaker

    engine = db.create(f"sqlite:///{location}")
    session = sessionmaker(bind=engine)()
    for i, f in enumerate(files):
        db.add_instance(pydicom.dcmread(f, stop_before_pixels=True), session, str(f))
        if i % 5000 == 4999:
            session.commit()
    session.commit()
    session.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--instances", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--quick", action="store_true", help="10,000 instances, 5 repeats")
    ap.add_argument("--keep", help="use (and keep) this directory for the generated files")
    ap.add_argument(
        "--dcmqrscp-limit",
        type=int,
        default=20_000,
        help="leave dcmqrscp out above this many instances (dcmqridx is slow)",
    )
    ap.add_argument(
        "--ingest-dir",
        action="append",
        help="where the C-STORE ingest rows store (repeatable; default: the temporary "
        "directory's file system, and /dev/shm too when it exists, to tell the server's "
        "cost from the disk's)",
    )
    args = ap.parse_args()
    if args.quick:
        args.instances, args.repeat = 10_000, 5
    tmp = Path(tempfile.mkdtemp(prefix="dicomul-qr-"))
    data = Path(args.keep) if args.keep else tmp / "files"
    procs: list[subprocess.Popen[Any]] = []
    try:
        t0 = time.perf_counter()
        move_study = generate(data, args.instances) if not any(data.glob("*.dcm")) else None
        files = sorted(data.glob("*.dcm"))
        if move_study is None:
            import pydicom

            move_study = str(pydicom.dcmread(data / "move_000.dcm").StudyInstanceUID)
        print(f"{len(files)} instances in {data} ({time.perf_counter() - t0:.0f}s to make)")

        sink = free_port()
        procs.append(
            start(
                [
                    sys.executable,
                    "-m",
                    "dicomul",
                    "storescp",
                    str(sink),
                    "--bind",
                    "127.0.0.1",
                    "--workers",
                    "1",
                    "--ignore",
                ],
                sink,
                tmp / "sink.log",
            )
        )
        dests = tmp / "dest.txt"
        dests.write_text(f"SINK 127.0.0.1 {sink}\n")

        servers: dict[str, tuple[int, str, int]] = {}  # name -> (port, AE, pid)
        (data / "index.sqlite").unlink(missing_ok=True)
        r = subprocess.run(
            [sys.executable, "-m", "dicomul", "index", str(data)],
            capture_output=True,
            text=True,
            env=ENV,
        )
        print(f"dicomul index: {r.stdout.strip() or r.stderr.strip()}")
        port = free_port()
        p = start(
            [
                sys.executable,
                "-m",
                "dicomul",
                "qrscp",
                str(port),
                "--bind",
                "127.0.0.1",
                "--workers",
                "1",
                "--storage",
                str(data),
                "--destinations",
                str(dests),
                "-aet",
                "ARCHIVE",
            ],
            port,
            tmp / "qrscp.log",
        )
        procs.append(p)
        servers["dicomul qrscp"] = (port, "ARCHIVE", p.pid)

        if len(files) > args.dcmqrscp_limit:
            print(
                f"dcmqrscp left out: {len(files)} instances > --dcmqrscp-limit "
                f"{args.dcmqrscp_limit} (dcmqridx: ~50 objects/s, slower as it grows)"
            )
        elif dcmtk("dcmqrscp") and dcmtk("dcmqridx"):
            db = tmp / "dcmqr"
            db.mkdir()
            t1 = time.perf_counter()
            for i in range(0, len(files), 2000):  # (argument lists of bounded length)
                subprocess.run(
                    [dcmtk("dcmqridx"), str(db), *map(str, files[i : i + 2000])],
                    check=True,
                    capture_output=True,
                )
            print(f"dcmqridx: {len(files) / (time.perf_counter() - t1):.0f} objects/s")
            port = free_port()
            (tmp / "dcmqrscp.cfg").write_text(
                f"NetworkTCPPort = {port}\nMaxPDUSize = 16384\nMaxAssociations = 16\n"
                f"HostTable BEGIN\nsink = (SINK, localhost, {sink})\nHostTable END\n"
                "VendorTable BEGIN\nVendorTable END\n"
                f"AETable BEGIN\nDCMQR {db} RW (1000000, 100000mb) ANY\nAETable END\n"
            )
            p = start(
                [dcmtk("dcmqrscp"), "-c", str(tmp / "dcmqrscp.cfg"), str(port)],
                port,
                tmp / "dcmqrscp.log",
            )
            procs.append(p)
            servers["DCMTK dcmqrscp"] = (port, "DCMQR", p.pid)

        try:
            t1 = time.perf_counter()
            pynetdicom_db(files, tmp / "pyn.sqlite")
            print(
                f"pynetdicom db.add_instance: {len(files) / (time.perf_counter() - t1):.0f} "
                "objects/s"
            )
            port = free_port()
            (tmp / "pyn.ini").write_text(
                f"[DEFAULT]\nae_title: PYQR\nport: {port}\nmax_pdu: 16382\nacse_timeout: 30\n"
                "dimse_timeout: 600\nnetwork_timeout: 600\nbind_address: 127.0.0.1\n"
                f"instance_location: {data}\ndatabase_location: {tmp / 'pyn.sqlite'}\n"
                f"log_identifier: False\n[SINK]\naddress: 127.0.0.1\nport: {sink}\n"
            )
            p = start(
                [sys.executable, "-m", "pynetdicom", "qrscp", "-q", "-c", str(tmp / "pyn.ini")],
                port,
                tmp / "pyn.log",
            )
            procs.append(p)
            servers["pynetdicom qrscp"] = (port, "PYQR", p.pid)
        except ImportError as exc:
            print(f"pynetdicom's qrscp skipped: {exc} (pip install sqlalchemy)")

        print(f"\nC-FIND, study level, median of {args.repeat} (ms; server CPU ms per query)")
        results: dict[str, dict[str, tuple[float, float, int]]] = {}
        for qname, keys in queries().items():
            for sname, (port, aec, pid) in servers.items():
                results.setdefault(qname, {})[sname] = time_find(port, aec, keys, args.repeat, pid)
        for qname, by in results.items():
            ours = by["dicomul qrscp"][0]
            line = [f"  {qname:18s}"]
            for sname, (lat, used, n) in by.items():
                ratio = "" if sname.startswith("dicomul") else f" ({lat / ours:.1f}x)"
                line.append(
                    f"{sname}: {lat * 1e3:8.2f} ms{ratio} cpu {used * 1e3:.1f}, {n} matches"
                )
            print(" | ".join(line))
        print("\nC-MOVE of a 100-image series to a dicomul storescp --ignore")
        for sname, (port, aec, _pid) in servers.items():
            dt, done = time_move(port, aec, move_study)
            print(f"  {sname:18s} {dt:7.2f} s, {done} completed ({done / dt:.0f} objects/s)")
        sample = files[:4000]
        print(
            f"\nC-STORE of {len(sample):,} files from 4 DCMTK storescu at once "
            "(indexing while receiving)"
        )
        places = [Path(d) for d in args.ingest_dir or []] or [
            tmp,
            *([Path("/dev/shm")] if os.path.isdir("/dev/shm") else []),
        ]
        for place in places:
            into = Path(tempfile.mkdtemp(prefix="dicomul-ingest-", dir=place))
            try:
                for workers in (1, 2):
                    qr, qr_cpu = ingest(sample, True, into, workers)
                    sc, sc_cpu = ingest(sample, False, into, workers)
                    cpus = f", {qr_cpu:.2f} / {sc_cpu:.2f} CPU s per 1,000" if workers == 1 else ""
                    print(
                        f"  into {place}, --workers {workers}: qrscp (indexes each before "
                        f"answering) {qr:.0f} objects/s, storescp {sc:.0f} objects/s{cpus} "
                        "(target: qrscp >= 2,000/s)"
                    )
            finally:
                shutil.rmtree(into, ignore_errors=True)
    finally:
        for p in procs:
            stop(p)
        shutil.rmtree(tmp, ignore_errors=True)  # (a --keep directory is elsewhere: kept)
    return 0


if __name__ == "__main__":
    sys.exit(main())
