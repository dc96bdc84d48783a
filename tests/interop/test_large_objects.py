"""Large objects (20 MB by default, 100 MB with ``-m slow``) streamed with bounded memory.

* dicomul Association -> dicomul Server(store_dir) running in a subprocess;
* dicomul Association -> DCMTK storescp (+B: it writes what it receives);
* DCMTK storescu -> dicomul Server(store_dir) in a subprocess.

The object is a Secondary Capture Part 10 file written to disk in 1 MiB chunks (never held
in memory), its data set hashed while it is written. What arrives is hashed the same way.
Memory: the receiving dicomul Server runs in its own process (a small script started
here); its peak RSS (VmHWM in /proc/<pid>/status) is reset through /proc/<pid>/clear_refs
after a warm-up store, and must grow by less than 16 MiB while it receives the object.
The sending dicomul side is this process: its VmHWM is reset the same way before it sends
the file from disk and must grow by less than 16 MiB too (the file is not loaded).

Every process is stopped by its PID; every wait has a timeout; nothing sleeps.
"""

from __future__ import annotations

import hashlib
import os
import random
import re
import select
import struct
import subprocess
import sys
from pathlib import Path

import pytest
from pydicom.dataset import Dataset
from pydicom.uid import generate_uid

import dicomul
from dicomul.storage.part10 import FileMeta, encode_dataset, read_part10
from dicomul.storage.writer import encode_file_meta
from dicomul.sync.services import Association, contexts_for_files, verification_contexts

from . import capture_dcmtk as cap
from .test_services_dcmtk import SAMPLE, connect_when_up, finish

pytestmark = [pytest.mark.interop, pytest.mark.timeout(180)]

T = 30.0
MiB = 1 << 20
LIMIT = 16 * MiB  # allowed peak RSS growth while one object goes through
EXPLICIT = "1.2.840.10008.1.2.1"
SECONDARY_CAPTURE = "1.2.840.10008.5.1.4.1.1.7"
SIZES = [
    pytest.param(20 * MiB, id="20MB"),
    pytest.param(100 * MiB, id="100MB", marks=pytest.mark.slow),
]

# argv: store_dir, or "" for a Server that keeps data sets in memory (the control)
SERVER_SCRIPT = r"""
import sys
from dicomul.sync.server import Server

kept = []
srv = Server("BIGSCP", store_dir=sys.argv[1] or None, accept_all_storage=True,
             on_store=None if sys.argv[1] else lambda meta, data, info: kept.append(data),
             acse_timeout=30, dimse_timeout=60)
print(srv.start("127.0.0.1", 0), flush=True)
sys.stdin.read()  # until the test closes our stdin
srv.stop(timeout=10)
"""


# ---- memory ------------------------------------------------------------------------------


def _status_kib(pid: int | str, field: str) -> int:
    with open(f"/proc/{pid}/status") as f:
        m = re.search(rf"^{field}:\s+(\d+) kB", f.read(), re.M)
    assert m, f"no {field} in /proc/{pid}/status"
    return int(m.group(1))


def reset_peak(pid: int | str = "self") -> int:
    """Reset the peak RSS of ``pid`` to its current RSS (Linux >= 4.0, clear_refs "5")
    and return the baseline in bytes: VmHWM after the reset, or before it if the kernel
    does not let us reset it."""
    try:
        with open(f"/proc/{pid}/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass
    return _status_kib(pid, "VmHWM") * 1024


def peak_growth(baseline: int, pid: int | str = "self") -> int:
    return _status_kib(pid, "VmHWM") * 1024 - baseline


# ---- the object ----------------------------------------------------------------------------


def make_big_file(path: Path, size: int) -> tuple[str, str]:
    """A Secondary Capture file whose pixel data (OB, 8 bits) has ``size`` bytes of
    pseudo-random content, written in 1 MiB chunks. Returns (SOP Instance UID, sha256 of
    the data set bytes)."""
    assert size % MiB == 0
    ds = Dataset()
    ds.SOPClassUID, ds.SOPInstanceUID = SECONDARY_CAPTURE, generate_uid()
    ds.PatientName, ds.PatientID, ds.Modality = "BIG^OBJECT", "BIG1", "OT"
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.Rows, ds.Columns = size // 4096, 4096
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
    head = encode_dataset(ds, EXPLICIT) + struct.pack("<HH2sHI", 0x7FE0, 0x0010, b"OB", 0, size)
    digest = hashlib.sha256(head)
    block = bytearray(random.Random(size).randbytes(MiB))
    with open(path, "wb") as f:
        f.write(encode_file_meta(FileMeta(EXPLICIT, SECONDARY_CAPTURE, ds.SOPInstanceUID)))
        f.write(head)
        for i in range(size // MiB):
            block[:8] = i.to_bytes(8, "little")
            f.write(block)
            digest.update(block)
    return str(ds.SOPInstanceUID), digest.hexdigest()


def dataset_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with read_part10(path).open_dataset() as f:
        while chunk := f.read(MiB):
            digest.update(chunk)
    return digest.hexdigest()


@pytest.fixture(scope="module")
def big_files(tmp_path_factory):
    made: dict[int, tuple[Path, str, str]] = {}

    def get(size: int) -> tuple[Path, str, str]:
        if size not in made:
            path = tmp_path_factory.mktemp("big") / f"big-{size // MiB}MB.dcm"
            made[size] = (path, *make_big_file(path, size))
        return made[size]

    yield get
    for path, _uid, _digest in made.values():
        path.unlink(missing_ok=True)


# ---- the dicomul Server in a subprocess ----------------------------------------------------


@pytest.fixture
def scp_process(tmp_path):
    """Start SERVER_SCRIPT (a dicomul Server with store_dir) in a subprocess; returns
    (process, port, store_dir). Stopped by closing its stdin, then by its PID."""
    started: list[subprocess.Popen] = []

    def start(in_memory: bool = False) -> tuple[subprocess.Popen, int, Path]:
        out = tmp_path / "scp"
        env = cap._env()
        src = str(Path(dicomul.__file__).resolve().parent.parent)  # the dicomul under test
        env["PYTHONPATH"] = os.pathsep.join([src, env.get("PYTHONPATH", "")])
        argv = [sys.executable, "-c", SERVER_SCRIPT, "" if in_memory else str(out)]
        proc = subprocess.Popen(argv, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        started.append(proc)
        ready, _, _ = select.select([proc.stdout], [], [], T)
        line = proc.stdout.readline() if ready else b""
        assert line.strip().isdigit(), f"the server did not start: {line!r}"
        return proc, int(line), out

    yield start
    for proc in started:
        try:
            proc.stdin.close()
            proc.wait(timeout=T)
        except (OSError, subprocess.TimeoutExpired):
            pass
        cap._stop(proc)


def _connect(port: int, files, called="BIGSCP", **kw) -> Association:
    return Association.connect(
        "127.0.0.1",
        port,
        called_ae=called,
        dimse_timeout=T,
        acse_timeout=T,
        connect_timeout=T,
        contexts=verification_contexts() + contexts_for_files(files),
        **kw,
    )


def _warm_up(assoc: Association) -> None:
    """A C-ECHO and a small C-STORE first: imports, threads and buffers are in place in
    both processes before the baselines are taken."""
    assert assoc.echo() == 0
    assert assoc.store(SAMPLE["CT_small.dcm"]) == 0


# ---- the tests ---------------------------------------------------------------------------------


@pytest.mark.parametrize("size", SIZES)
def test_dicomul_to_dicomul_server(big_files, scp_process, size):
    path, uid, digest = big_files(size)
    proc, port, out = scp_process()
    with _connect(port, [path, SAMPLE["CT_small.dcm"]]) as assoc:
        _warm_up(assoc)
        scp_base = reset_peak(proc.pid)
        own_base = reset_peak()
        assert assoc.store(path) == 0  # the response comes after the file is committed
        sent = peak_growth(own_base)
        received = peak_growth(scp_base, proc.pid)
    got = out / f"{uid}.dcm"
    meta = read_part10(got).meta
    assert (
        meta.transfer_syntax,
        meta.sop_class_uid,
        meta.sop_instance_uid,
        meta.source_ae_title,
    ) == (EXPLICIT, SECONDARY_CAPTURE, uid, "DICOMUL")
    assert dataset_sha256(got) == digest
    assert received < LIMIT, f"the SCP's peak RSS grew by {received / MiB:.1f} MiB"
    assert sent < LIMIT, f"the sender's peak RSS grew by {sent / MiB:.1f} MiB"


@pytest.mark.parametrize("size", SIZES)
def test_dicomul_to_storescp(dcmtk, procs, free_port, tmp_path, big_files, size):
    path, uid, digest = big_files(size)
    out = tmp_path / "storescp"
    out.mkdir()
    proc = procs(
        [
            dcmtk("storescp"),
            "+B",
            "-od",
            str(out),
            "-uf",
            "+xa",
            "-aet",
            "STORESCP",
            "-pdu",
            "131072",
            "-ta",
            "30",
            "-td",
            "60",
            str(free_port),
        ]
    )
    with connect_when_up(
        proc,
        free_port,
        called_ae="STORESCP",
        dimse_timeout=T,
        contexts=verification_contexts() + contexts_for_files([path, SAMPLE["CT_small.dcm"]]),
    ) as assoc:
        _warm_up(assoc)
        own_base = reset_peak()
        assert assoc.store(path) == 0
        sent = peak_growth(own_base)
    got = out / f"SC.{uid}"  # storescp -uf: modality prefix + SOP Instance UID
    assert read_part10(got).meta.sop_instance_uid == uid
    assert dataset_sha256(got) == digest
    assert sent < LIMIT, f"the sender's peak RSS grew by {sent / MiB:.1f} MiB"


@pytest.mark.parametrize("size", SIZES)
def test_storescu_to_dicomul_server(dcmtk, procs, big_files, scp_process, size):
    path, uid, digest = big_files(size)
    proc, port, out = scp_process()
    with _connect(port, [SAMPLE["CT_small.dcm"]]) as assoc:  # the warm-up
        _warm_up(assoc)
    scp_base = reset_peak(proc.pid)
    status, output = finish(
        procs(
            [
                dcmtk("storescu"),
                "-to",
                "30",
                "-ta",
                "30",
                "-td",
                "60",
                "-pdu",
                "131072",
                "-aec",
                "BIGSCP",
                "127.0.0.1",
                str(port),
                str(path),
            ]
        ),
        timeout=120,
    )
    assert status == 0, output
    received = peak_growth(scp_base, proc.pid)
    got = out / f"{uid}.dcm"
    assert read_part10(got).meta.source_ae_title == "STORESCU"
    assert dataset_sha256(got) == digest  # storescu re-encodes: the same bytes here
    assert received < LIMIT, f"the SCP's peak RSS grew by {received / MiB:.1f} MiB"


def test_memory_measurement_sees_a_loaded_object(big_files, scp_process):
    """The control: the same measurement catches an object that is held in memory, in
    this process (a 20 MiB buffer) and in a Server that keeps data sets in memory
    (on_store without store_dir)."""
    base = reset_peak()
    buf = bytearray(20 * MiB)
    buf[::4096] = b"x" * len(buf[::4096])  # touch every page
    assert peak_growth(base) >= 19 * MiB
    del buf
    path, _uid, _digest = big_files(20 * MiB)
    proc, port, _ = scp_process(in_memory=True)
    with _connect(port, [path, SAMPLE["CT_small.dcm"]]) as assoc:
        _warm_up(assoc)
        scp_base = reset_peak(proc.pid)
        assert assoc.store(path) == 0
        assert peak_growth(scp_base, proc.pid) >= 20 * MiB
