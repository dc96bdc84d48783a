"""dicomul's DIMSE services against DCMTK 3.6.7, live over 127.0.0.1, both directions.

* dicomul Association -> storescp: C-ECHO, C-STORE of the sample files pydicom ships.
* storescu / echoscu -> dicomul Server(store_dir, accept_all_storage).
* findscu / getscu / movescu -> dicomul Server with Q/R handlers over a tiny archive.
* dicomul Association find/get/move (and store) -> dcmqrscp (DCMTK's Q/R archive).

What DCMTK does to the bytes (checked here, not assumed):

* storescp ``+B`` (bit preserving) writes the data set exactly as received: byte-identical
  to the source file's data set. Without ``+B`` it re-encodes and drops the Data Set
  Trailing Padding (FFFC,FFFC) that CT_small, MR_small and MR_small_RLE end with.
* storescu, and dcmqrscp as a C-STORE SCU, always re-encode ("Converting transfer syntax:
  X -> X") and drop the trailing padding too; a compressed file is only sent when its own
  transfer syntax is proposed (-xy JPEG baseline, -xr RLE), else the store fails.
* storescp checks the data set against the command (SOP class and instance UIDs):
  rtplan.dcm's file meta names another SOP Instance UID than its data set, dicomul streams
  the file without decoding and takes the UIDs from the file meta, so storescp answers
  0xA900 for it; a copy with a consistent file meta goes through byte for byte.
* MR_small.dcm and MR_small_RLE.dcm share one SOP Instance UID (DCMTK names files by it).

Every process runs with TCP_NODELAY=1 and is stopped by its PID (conftest ``procs``);
every wait has a timeout; nothing sleeps.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset

from dicomul.storage.part10 import FileMeta, read_part10
from dicomul.storage.writer import encode_file_meta
from dicomul.sync.server import Server, current_operation
from dicomul.sync.services import (
    Association,
    contexts_for_files,
    qr_contexts,
    verification_contexts,
)

from . import capture_dcmtk as cap

pytestmark = [pytest.mark.interop, pytest.mark.timeout(120)]

T = 10.0
TS = ["-to", "10", "-ta", "10", "-td", "10"]  # DCMTK timeouts: connect, ACSE, DIMSE
EXPLICIT, IMPLICIT = "1.2.840.10008.1.2.1", "1.2.840.10008.1.2"
JPEG_BASELINE, RLE = "1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.5"
NAMES = ("CT_small.dcm", "MR_small.dcm", "rtplan.dcm", "SC_rgb_jpeg_dcmtk.dcm", "MR_small_RLE.dcm")
SAMPLE = {n: Path(get_testdata_file(n)) for n in NAMES}
CT_STUDY = "1.3.6.1.4.1.5962.1.2.1.20040119072730.12322"
SC_STUDY = "1.2.826.0.1.3680043.8.498.12406831542731051035295345080039845114"


# ---- helpers (the other interop service tests import these) -------------------------------


def dataset_bytes(path) -> bytes:
    """The data set bytes of a Part 10 file (everything after the file meta)."""
    return read_part10(path).read_dataset_bytes()


def strip_trailing_padding(data: bytes, ts: str) -> bytes:
    """``data`` without a final Data Set Trailing Padding (FFFC,FFFC) element, which DCMTK
    drops when it re-encodes a data set."""
    header = 12 if ts != IMPLICIT else 8
    at = data.rfind(b"\xfc\xff\xfc\xff")
    if at >= 0:
        length = int.from_bytes(data[at + header - 4 : at + header], "little")
        if at + header + length == len(data):
            return data[:at]
    return data


def same_decoded(a, b) -> None:
    """The two files' data sets decode to equal elements, pixel bytes included."""
    da, db = pydicom.dcmread(a), pydicom.dcmread(b)
    pad = 0xFFFCFFFC
    assert [e for e in da if e.tag != pad] == [e for e in db if e.tag != pad]
    assert da.get("PixelData") == db.get("PixelData")


def consistent_copy(src: Path, directory: Path) -> Path:
    """``src`` with a file meta whose SOP Instance UID is the data set's own (rtplan.dcm's
    is not); the data set bytes are not touched."""
    p10 = read_part10(src)
    uid = pydicom.dcmread(src, stop_before_pixels=True).SOPInstanceUID
    out = directory / f"fixed-{src.name}"
    out.write_bytes(
        encode_file_meta(FileMeta(p10.meta.transfer_syntax, p10.meta.sop_class_uid, uid))
        + p10.read_dataset_bytes()
    )
    return out


def connect_when_up(proc: subprocess.Popen, port: int, **kw) -> Association:
    """Association.connect to a process that may not listen yet: a refused connection is
    retried, each retry paced by a timed wait on the process (which notices it dying)."""
    for k in ("dimse_timeout", "acse_timeout", "connect_timeout"):
        kw.setdefault(k, T)
    deadline = time.monotonic() + T
    while True:
        try:
            return Association.connect("127.0.0.1", port, **kw)
        except ConnectionRefusedError:
            if time.monotonic() > deadline:
                raise
            try:
                proc.wait(timeout=0.05)
            except subprocess.TimeoutExpired:
                continue
            raise RuntimeError(f"exited with {proc.returncode}: {cap._stop(proc)}") from None


def finish(proc: subprocess.Popen, timeout: float = 30.0) -> tuple[int, str]:
    """Wait for a tool to end (reading its output, so it never blocks on a full pipe)."""
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"{proc.args[0]} did not finish: {cap._stop(proc)}") from None
    return proc.returncode, out.decode("latin-1", "replace")


class Archive:
    """A tiny Q/R archive over some Part 10 files, for the Server handlers."""

    KEYS = {
        "PATIENT": "PatientID",
        "STUDY": "StudyInstanceUID",
        "SERIES": "SeriesInstanceUID",
        "IMAGE": "SOPInstanceUID",
    }

    def __init__(self, files) -> None:
        self.entries = [(Path(p), pydicom.dcmread(p, stop_before_pixels=True)) for p in files]
        self.queries: list[Dataset] = []

    def matches(self, identifier) -> list[tuple[Path, Dataset]]:
        def ok(ds, elem):
            return (
                elem.tag == 0x00080052
                or not elem.value
                or (elem.tag in ds and ds[elem.tag].value == elem.value)
            )

        return [(p, ds) for p, ds in self.entries if all(ok(ds, e) for e in identifier)]

    def on_find(self, identifier, _model):
        self.queries.append(identifier)
        level = str(identifier.get("QueryRetrieveLevel", "STUDY"))
        seen = set()
        for _p, ds in self.matches(identifier):
            key = ds.get(self.KEYS.get(level, "SOPInstanceUID"))
            if key in seen:
                continue
            seen.add(key)
            out = Dataset()
            for elem in identifier:
                out.add_new(elem.tag, elem.VR, ds[elem.tag].value if elem.tag in ds else None)
            out.QueryRetrieveLevel = level
            yield 0xFF00, out

    def on_retrieve(self, identifier, *_dest):
        self.queries.append(identifier)
        return [p for p, _ds in self.matches(identifier)]

    def studies(self) -> set[str]:
        return {str(ds.StudyInstanceUID) for _p, ds in self.entries}


class Servers:
    """Start dicomul Servers on 127.0.0.1 (port 0): ``servers(ae, **kw) -> (server, port)``;
    ``stop()`` stops them all."""

    def __init__(self) -> None:
        self.started: list[Server] = []

    def __call__(self, ae: str = "DICOMUL", **kw) -> tuple[Server, int]:
        kw.setdefault("dimse_timeout", T)
        kw.setdefault("acse_timeout", T)
        srv = Server(ae, **kw)
        self.started.append(srv)
        return srv, srv.start("127.0.0.1", 0)

    def stop(self) -> None:
        for srv in self.started:
            srv.stop(timeout=T)


@pytest.fixture
def server():
    servers = Servers()
    yield servers
    servers.stop()


# ---- dicomul Association -> storescp ---------------------------------------------------


def _storescp(dcmtk, procs, port, out, *extra):
    return procs(
        [
            dcmtk("storescp"),
            "-od",
            str(out),
            "-uf",
            "+xa",
            "-aet",
            "STORESCP",
            "-ta",
            "10",
            "-td",
            "10",
            *extra,
            str(port),
        ]
    )


def _stored(out: Path, uid: str) -> Path:
    found = [p for p in out.iterdir() if p.name.endswith(uid)]
    assert len(found) == 1, (uid, sorted(p.name for p in out.iterdir()))
    return found[0]


@pytest.mark.parametrize("bit_preserving", [True, False], ids=["+B", "-B"])
def test_echo_and_store_to_storescp(dcmtk, procs, free_port, tmp_path, bit_preserving):
    out = tmp_path / "out"
    out.mkdir()
    rtplan = consistent_copy(SAMPLE["rtplan.dcm"], tmp_path)
    files = [SAMPLE[n] for n in NAMES if n != "rtplan.dcm"] + [rtplan]
    # one context per file, in the file's own transfer syntax only: nothing re-encoded
    contexts = verification_contexts() + [
        (m.sop_class_uid, [m.transfer_syntax]) for m in (read_part10(f).meta for f in files)
    ]
    proc = _storescp(dcmtk, procs, free_port, out, *(["+B"] if bit_preserving else []))
    with connect_when_up(proc, free_port, called_ae="STORESCP", contexts=contexts) as assoc:
        assert assoc.echo() == 0
        assert len(assoc.contexts) == len(contexts)  # +xa: every one accepted as proposed
        for f in files:
            assert assoc.store(f) == 0, f.name
            # checked at once: MR_small and MR_small_RLE share a SOP Instance UID
            src = read_part10(f)
            got = read_part10(_stored(out, src.meta.sop_instance_uid))
            assert got.meta.transfer_syntax == src.meta.transfer_syntax
            assert got.meta.sop_class_uid == src.meta.sop_class_uid
            want = src.read_dataset_bytes()
            if not bit_preserving:  # storescp re-encodes: only the trailing padding goes
                want = strip_trailing_padding(want, src.meta.transfer_syntax)
            assert got.read_dataset_bytes() == want, f.name


def test_store_inconsistent_file_meta_is_stored_by_storescp(dcmtk, procs, free_port, tmp_path):
    """rtplan.dcm: file meta SOP Instance UID 1.2.999..., data set 1.2.777...; storescp
    checks the command against the data set (0xA900 when they differ, as they did when
    dicomul took the command's UIDs from the file meta): dicomul sends the data set's."""
    src = SAMPLE["rtplan.dcm"]
    meta = read_part10(src).meta
    own = pydicom.dcmread(src).SOPInstanceUID
    assert own != meta.sop_instance_uid  # the premise
    out = tmp_path / "out"
    out.mkdir()
    proc = _storescp(dcmtk, procs, free_port, out)  # (with +B it does not check)
    with connect_when_up(
        proc,
        free_port,
        called_ae="STORESCP",
        contexts=[(meta.sop_class_uid, [meta.transfer_syntax])],
    ) as assoc:
        assert assoc.store(src) == 0
    stored = pydicom.dcmread(_stored(out, own))
    assert stored.SOPInstanceUID == stored.file_meta.MediaStorageSOPInstanceUID == own


def test_store_reencoded_when_storescp_picks_another_syntax(dcmtk, procs, free_port, tmp_path):
    """A context of Implicit VR LE first, then Explicit VR LE, for the Implicit VR file
    rtplan.dcm: storescp +xa prefers Explicit VR LE, so dicomul re-encodes the data set
    with pydicom: the file storescp writes decodes to the same data set.
    (contexts_for_files proposes [Implicit] alone for such a file, so it goes as is.)"""
    out = tmp_path / "out"
    out.mkdir()
    rtplan = consistent_copy(SAMPLE["rtplan.dcm"], tmp_path)
    assert contexts_for_files([rtplan]) == [(read_part10(rtplan).meta.sop_class_uid, [IMPLICIT])]
    proc = _storescp(dcmtk, procs, free_port, out, "+B")
    contexts = [(read_part10(rtplan).meta.sop_class_uid, [IMPLICIT, EXPLICIT])]
    with connect_when_up(proc, free_port, called_ae="STORESCP", contexts=contexts) as assoc:
        assert list(assoc.contexts.values())[0][1] == EXPLICIT
        assert assoc.store(rtplan) == 0
    got = _stored(out, str(pydicom.dcmread(rtplan).SOPInstanceUID))
    assert read_part10(got).meta.transfer_syntax == EXPLICIT
    same_decoded(rtplan, got)


# ---- storescu / echoscu -> dicomul Server ------------------------------------------------


def test_echoscu_to_dicomul(dcmtk, procs, server):
    _, port = server()
    proc = procs(
        [dcmtk("echoscu"), *TS, "-aec", "DICOMUL", "--repeat", "3", "127.0.0.1", str(port)]
    )
    status, output = finish(proc)
    assert status == 0, output


@pytest.mark.parametrize(
    "name, options",
    [
        ("CT_small.dcm", []),  # default -x=: explicit VR LE first
        ("CT_small.dcm", ["-xs"]),  # JPEG lossless proposed too: storescu keeps the
        ("MR_small.dcm", ["-xe"]),  # file's syntax (separate contexts per syntax)
        ("rtplan.dcm", ["-xi"]),  # implicit VR LE only: sent as it is in the file
        ("SC_rgb_jpeg_dcmtk.dcm", ["-xy"]),  # JPEG baseline proposed: sent compressed
        ("MR_small_RLE.dcm", ["-xr"]),  # RLE proposed: sent compressed
    ],
)
def test_storescu_to_dicomul(dcmtk, procs, server, tmp_path, name, options):
    _, port = server(store_dir=tmp_path, accept_all_storage=True)
    src = SAMPLE[name]
    proc = procs(
        [
            dcmtk("storescu"),
            *TS,
            *options,
            "-aet",
            "STORESCU",
            "-aec",
            "DICOMUL",
            "127.0.0.1",
            str(port),
            str(src),
        ]
    )
    status, output = finish(proc)
    assert status == 0, output
    uid = str(pydicom.dcmread(src, stop_before_pixels=True).SOPInstanceUID)  # storescu's
    got = read_part10(tmp_path / f"{uid}.dcm")
    meta = read_part10(src).meta
    assert got.meta.transfer_syntax == meta.transfer_syntax
    assert (got.meta.sop_class_uid, got.meta.sop_instance_uid) == (meta.sop_class_uid, uid)
    assert got.meta.source_ae_title == "STORESCU"
    assert got.meta.implementation_class_uid not in (None, cap.DCMTK_IMPL_CLASS_UID)
    want = strip_trailing_padding(dataset_bytes(src), meta.transfer_syntax)
    assert got.read_dataset_bytes() == want


def test_storescu_many_files_one_association(dcmtk, procs, server, tmp_path):
    _, port = server(store_dir=tmp_path, accept_all_storage=True)
    files = [SAMPLE["CT_small.dcm"], SAMPLE["MR_small.dcm"], SAMPLE["SC_rgb_jpeg_dcmtk.dcm"]]
    proc = procs(
        [dcmtk("storescu"), *TS, "-xy", "-aec", "DICOMUL", "127.0.0.1", str(port), *map(str, files)]
    )
    status, output = finish(proc)
    assert status == 0, output
    for f in files:
        meta = read_part10(f).meta
        got = read_part10(tmp_path / f"{meta.sop_instance_uid}.dcm")
        assert got.meta.transfer_syntax == meta.transfer_syntax
        want = strip_trailing_padding(dataset_bytes(f), meta.transfer_syntax)
        assert got.read_dataset_bytes() == want


# ---- findscu / getscu / movescu -> dicomul Server -------------------------------------------


@pytest.fixture
def archive(tmp_path):
    d = tmp_path / "archive"
    d.mkdir()
    for n in NAMES:
        shutil.copy(SAMPLE[n], d / n)
    return Archive(sorted(d.iterdir()))


def test_findscu_to_dicomul(dcmtk, procs, server, archive, tmp_path):
    _, port = server(on_find=archive.on_find)
    out = tmp_path / "rsp"
    out.mkdir()
    proc = procs(
        [
            dcmtk("findscu"),
            *TS,
            "-S",
            "-aec",
            "DICOMUL",
            "-k",
            "QueryRetrieveLevel=STUDY",
            "-k",
            "StudyInstanceUID",
            "-k",
            "PatientName",
            "-X",
            "+sr",
            "-od",
            str(out),
            "127.0.0.1",
            str(port),
        ]
    )
    status, output = finish(proc)
    assert status == 0, output
    responses = [pydicom.dcmread(p) for p in sorted(out.glob("rsp*.dcm"))]
    assert {str(r.StudyInstanceUID) for r in responses} == archive.studies()
    assert len(responses) == len(archive.studies()) == 4
    names = {str(r.StudyInstanceUID): str(r.PatientName) for r in responses}
    assert names[CT_STUDY] == "CompressedSamples^CT1"
    assert output.count("Find Response") == 4  # and it prints every match
    query = archive.queries[0]
    assert query.QueryRetrieveLevel == "STUDY" and query.StudyInstanceUID == ""


def test_findscu_cancel_reaches_handler(dcmtk, procs, server):
    cancelled = []

    def on_find(identifier, _model):
        op = current_operation()
        for i in range(1, 100):
            m = Dataset()
            m.QueryRetrieveLevel, m.PatientID = "PATIENT", str(i)
            yield 0xFF00, m
            if i == 1:
                cancelled.append(op.cancelled.wait(T))

    _, port = server(on_find=on_find)
    proc = procs(
        [
            dcmtk("findscu"),
            *TS,
            "-v",
            "-P",
            "-aec",
            "DICOMUL",
            "--cancel",
            "1",
            "-k",
            "QueryRetrieveLevel=PATIENT",
            "-k",
            "PatientID",
            "127.0.0.1",
            str(port),
        ]
    )
    status, output = finish(proc)
    assert status == 0, output
    assert cancelled == [True]
    assert "Sending Cancel Request" in output


@pytest.mark.parametrize(
    "study, name, options",
    [
        (CT_STUDY, "CT_small.dcm", []),
        (SC_STUDY, "SC_rgb_jpeg_dcmtk.dcm", ["+xy"]),  # getscu prefers JPEG baseline
    ],
)
def test_getscu_from_dicomul(dcmtk, procs, server, archive, tmp_path, study, name, options):
    _, port = server(on_get=archive.on_retrieve)
    out = tmp_path / "got"
    out.mkdir()
    proc = procs(
        [
            dcmtk("getscu"),
            *TS,
            "-S",
            "+B",
            *options,
            "-aec",
            "DICOMUL",
            "-k",
            "QueryRetrieveLevel=STUDY",
            "-k",
            f"StudyInstanceUID={study}",
            "-od",
            str(out),
            "127.0.0.1",
            str(port),
        ]
    )
    status, output = finish(proc)
    assert status == 0, output
    src = read_part10(SAMPLE[name])
    got = read_part10(out / src.meta.sop_instance_uid)  # getscu names files by UID
    assert got.meta.transfer_syntax == src.meta.transfer_syntax
    assert got.read_dataset_bytes() == src.read_dataset_bytes()  # sent as is, written as is
    assert str(archive.queries[0].StudyInstanceUID) == study


def test_movescu_from_dicomul(dcmtk, procs, server, archive, tmp_path):
    move_port = cap._free_port()
    _, port = server(
        on_move=archive.on_retrieve, move_destinations={"MOVESCU": ("127.0.0.1", move_port)}
    )
    out = tmp_path / "moved"
    out.mkdir()
    for study, name in ((CT_STUDY, "CT_small.dcm"), (SC_STUDY, "SC_rgb_jpeg_dcmtk.dcm")):
        # movescu 3.6.7 ignores -od and writes into its working directory
        argv = [
            dcmtk("movescu"),
            *TS,
            "-S",
            "+B",
            "+xa",
            "-aet",
            "MOVESCU",
            "-aem",
            "MOVESCU",
            "+P",
            str(move_port),
            "-aec",
            "DICOMUL",
            "-od",
            str(out),
            "-k",
            "QueryRetrieveLevel=STUDY",
            "-k",
            f"StudyInstanceUID={study}",
            "127.0.0.1",
            str(port),
        ]
        proc = subprocess.Popen(
            argv,
            cwd=out,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=cap._env(),
        )
        try:
            status, output = finish(proc)
        finally:
            cap._stop(proc)
        assert status == 0, output
        src = read_part10(SAMPLE[name])
        got = read_part10(_stored(out, src.meta.sop_instance_uid))
        assert got.meta.transfer_syntax == src.meta.transfer_syntax
        assert got.read_dataset_bytes() == src.read_dataset_bytes()


def test_movescu_unknown_destination(dcmtk, procs, server, archive):
    _, port = server(on_move=archive.on_retrieve)
    proc = procs(
        [
            dcmtk("movescu"),
            *TS,
            "-v",
            "-S",
            "-aem",
            "NOWHERE",
            "-aec",
            "DICOMUL",
            "-k",
            "QueryRetrieveLevel=STUDY",
            "-k",
            f"StudyInstanceUID={CT_STUDY}",
            "127.0.0.1",
            str(port),
        ]
    )
    _status, output = finish(proc)
    assert "MoveDestinationUnknown" in output or "a801" in output.lower(), output


# ---- dicomul Association -> dcmqrscp ---------------------------------------------------------


@pytest.fixture
def dcmqrscp(dcmtk, procs, tmp_path, server):
    """dcmqrscp (single process) with one AE "QRSCP" over CT, MR and JPEG samples indexed
    with dcmqridx, and a dicomul storage Server known to it as move destination "DEST"
    (its HostTable wants a host name, not an IP address)."""
    db = tmp_path / "db"
    db.mkdir()
    names = ("CT_small.dcm", "MR_small.dcm", "SC_rgb_jpeg_dcmtk.dcm")
    for n in names:
        shutil.copy(SAMPLE[n], db / n)
    status, output = finish(procs([dcmtk("dcmqridx"), str(db), *(str(db / n) for n in names)]))
    assert status == 0, output
    dest_dir = tmp_path / "dest"
    _, dest_port = server("DEST", store_dir=dest_dir, accept_all_storage=True)
    port = cap._free_port()
    cfg = tmp_path / "dcmqrscp.cfg"
    cfg.write_text(
        f"NetworkTCPPort = {port}\nMaxPDUSize = 16384\nMaxAssociations = 16\n"
        f"HostTable BEGIN\ndest = (DEST, localhost, {dest_port})\nHostTable END\n"
        "VendorTable BEGIN\nVendorTable END\n"
        f"AETable BEGIN\nQRSCP {db} RW (10, 1024mb) ANY\nAETable END\n"
    )
    # +xy: it prefers JPEG baseline when it accepts (the storage contexts of a C-GET);
    # -xy: its C-STORE sub-association proposes it. Else it cannot send SC, which it
    # does not decompress (DCMTK chooses the transfer syntax of a context it accepts).
    proc = procs(
        [dcmtk("dcmqrscp"), "-s", "-c", str(cfg), "+xy", "-xy", "-ta", "10", "-td", "10", str(port)]
    )
    return proc, port, dest_dir


def _qr(proc, port, contexts):
    return connect_when_up(proc, port, called_ae="QRSCP", contexts=contexts)


def test_find_from_dcmqrscp(dcmqrscp):
    proc, port, _ = dcmqrscp
    q = Dataset()
    q.QueryRetrieveLevel, q.StudyInstanceUID, q.PatientName = "STUDY", "", ""
    with _qr(proc, port, qr_contexts(["study"], ["find"])) as assoc:
        results = list(assoc.find(q, "study"))
        one = Dataset()
        one.QueryRetrieveLevel, one.StudyInstanceUID, one.PatientID = "STUDY", SC_STUDY, ""
        single = list(assoc.find(one, "study"))
    assert [s for s, _ in results] == [0xFF00] * 3 + [0]
    studies = {str(ds.StudyInstanceUID) for _, ds in results[:3]}
    assert studies == {CT_STUDY, SC_STUDY, "1.3.6.1.4.1.5962.1.2.4.20040826185059.5457"}
    assert [s for s, _ in single] == [0xFF00, 0]
    assert single[0][1].PatientID == "ID1"


def test_get_from_dcmqrscp(dcmqrscp, tmp_path):
    proc, port, _ = dcmqrscp
    out = tmp_path / "got"
    files = [SAMPLE["CT_small.dcm"], SAMPLE["SC_rgb_jpeg_dcmtk.dcm"]]
    contexts = qr_contexts(["study"], ["get"]) + contexts_for_files(files)
    with _qr(proc, port, contexts) as assoc:
        for study, f in zip((CT_STUDY, SC_STUDY), files, strict=True):
            q = Dataset()
            q.QueryRetrieveLevel, q.StudyInstanceUID = "STUDY", study
            results = list(assoc.get(q, "study", output_dir=out))
            assert results[-1][0] == 0, results
            assert results[-1][1].completed_suboperations == 1
            src = read_part10(f)
            got = read_part10(out / f"{src.meta.sop_instance_uid}.dcm")
            assert got.meta.transfer_syntax == src.meta.transfer_syntax
            assert got.meta.source_ae_title == "QRSCP"
            # dcmqrscp re-encodes what it sends: only the trailing padding goes
            want = strip_trailing_padding(src.read_dataset_bytes(), src.meta.transfer_syntax)
            assert got.read_dataset_bytes() == want


def test_move_from_dcmqrscp(dcmqrscp):
    proc, port, dest_dir = dcmqrscp
    with _qr(proc, port, qr_contexts(["study"], ["move"])) as assoc:
        q = Dataset()
        q.QueryRetrieveLevel, q.StudyInstanceUID = "STUDY", SC_STUDY
        results = list(assoc.move(q, "DEST", "study"))
        assert results[-1][0] == 0, results
        assert results[-1][1].completed_suboperations == 1
        unknown = list(assoc.move(q, "NOWHERE", "study"))
        assert unknown[-1][0] == 0xA801
    src = read_part10(SAMPLE["SC_rgb_jpeg_dcmtk.dcm"])
    got = read_part10(dest_dir / f"{src.meta.sop_instance_uid}.dcm")
    assert got.meta.transfer_syntax == JPEG_BASELINE
    assert got.meta.source_ae_title == "QRSCP"
    assert got.read_dataset_bytes() == src.read_dataset_bytes()


def test_store_into_dcmqrscp_then_find(dcmqrscp, tmp_path):
    proc, port, _ = dcmqrscp
    rtplan = consistent_copy(SAMPLE["rtplan.dcm"], tmp_path)
    contexts = contexts_for_files([rtplan]) + qr_contexts(["study"], ["find"])
    q = Dataset()
    q.QueryRetrieveLevel, q.StudyInstanceUID = "STUDY", ""
    with _qr(proc, port, contexts) as assoc:
        assert assoc.store(rtplan) == 0
        studies = {str(ds.StudyInstanceUID) for s, ds in assoc.find(q, "study") if ds}
    assert str(pydicom.dcmread(rtplan).StudyInstanceUID) in studies
    assert len(studies) == 4
