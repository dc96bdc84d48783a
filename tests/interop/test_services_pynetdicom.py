"""dicomul's DIMSE services against pynetdicom (3.x) live over 127.0.0.1, both directions.

* dicomul Association -> pynetdicom AE SCP (``start_server(block=False)``): echo, store
  (the data set bytes pynetdicom received are the source file's), find (pending
  identifiers), get (pynetdicom's C-STOREs come back on our association by role
  selection), move (pynetdicom's sub-association goes to a second dicomul Server), cancel.
* pynetdicom AE SCU -> dicomul Server: echo, store (a Dataset read from a sample file and
  the file itself), find, get (build_role + an EVT_C_STORE handler), move (to a pynetdicom
  storage SCP), cancel.

PEERS.md: no unknown user-information items are sent to pynetdicom. Every pynetdicom
server is shut down and every association aborted in a finally; every wait has a timeout.
"""

from __future__ import annotations

import threading

import pytest

pynetdicom = pytest.importorskip("pynetdicom")

import pydicom  # noqa: E402
from pydicom.dataset import Dataset  # noqa: E402
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian  # noqa: E402
from pynetdicom import AE, build_role, evt  # noqa: E402
from pynetdicom.sop_class import (  # noqa: E402
    PatientRootQueryRetrieveInformationModelFind,
    StudyRootQueryRetrieveInformationModelFind,
    StudyRootQueryRetrieveInformationModelGet,
    StudyRootQueryRetrieveInformationModelMove,
    Verification,
)

from dicomul.storage.part10 import read_part10  # noqa: E402
from dicomul.sync.server import current_operation  # noqa: E402
from dicomul.sync.services import (  # noqa: E402
    contexts_for_files,
    qr_contexts,
    verification_contexts,
)

from . import capture_dcmtk as cap  # noqa: E402
from .test_services_dcmtk import (  # noqa: E402
    CT_STUDY,
    NAMES,
    SAMPLE,
    SC_STUDY,
    Archive,
    Servers,
    dataset_bytes,
)

pytestmark = [pytest.mark.interop, pytest.mark.timeout(60)]

T = 10.0
UNCOMPRESSED = [ExplicitVRLittleEndian, ImplicitVRLittleEndian]
# (the two MR samples share a SOP Instance UID: tests that key by it use one of them)
FILES = [SAMPLE[n] for n in NAMES if n != "MR_small.dcm"]
META = {f: read_part10(f).meta for f in FILES}
#: The data set's own SOP Instance UID: what a C-STORE carries (rtplan's meta differs).
UID = {f: read_part10(f).dataset_uids()[1] for f in FILES}


def _ae(title: str) -> AE:
    ae = AE(ae_title=title)
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = T
    return ae


def _storage_contexts(ae: AE, files, *, requested=False, roles=False) -> None:
    for f in files:
        m = read_part10(f).meta
        syntaxes = list(dict.fromkeys([m.transfer_syntax, *UNCOMPRESSED]))
        if requested:
            ae.add_requested_context(m.sop_class_uid, syntaxes)
        else:
            ae.add_supported_context(
                m.sop_class_uid,
                syntaxes,
                scu_role=True if roles else None,
                scp_role=True if roles else None,
            )


@pytest.fixture
def server():
    """dicomul Servers: ``server(ae, **kw) -> (Server, port)``, stopped at the end."""
    servers = Servers()
    yield servers
    servers.stop()


@pytest.fixture
def pyscp():
    """Start a pynetdicom AE SCP on a free port; shut down at the end of the test."""
    servers = []

    def start(ae: AE, handlers) -> int:
        port = cap._free_port()
        servers.append(ae.start_server(("127.0.0.1", port), block=False, evt_handlers=handlers))
        return port

    yield start
    for s in servers:
        s.shutdown()


@pytest.fixture
def pyassoc():
    """Associate a pynetdicom AE SCU; aborted at the end if still established."""
    opened = []

    def associate(ae: AE, port: int, **kw):
        a = ae.associate("127.0.0.1", port, ae_title="DICOMUL", **kw)
        opened.append(a)
        assert a.is_established
        return a

    yield associate
    for a in opened:
        if a.is_established:
            a.abort()


def _connect(port: int, contexts, **kw):
    from dicomul.sync.services import Association

    return Association.connect(
        "127.0.0.1",
        port,
        called_ae="PYNETDICOM",
        contexts=contexts,
        dimse_timeout=T,
        acse_timeout=T,
        connect_timeout=T,
        **kw,
    )


def _query(study: str = "") -> Dataset:
    q = Dataset()
    q.QueryRetrieveLevel, q.StudyInstanceUID = "STUDY", study
    return q


# ---- dicomul Association -> pynetdicom SCP ------------------------------------------------


def test_echo_and_store_to_pynetdicom(pyscp):
    got = {}

    def on_store(event):
        rq = event.request
        got[str(rq.AffectedSOPInstanceUID)] = (
            rq.DataSet.getvalue(),
            event.context.transfer_syntax,
            event.assoc.requestor.ae_title,
        )
        return 0x0000

    ae = _ae("PYNETDICOM")
    ae.add_supported_context(Verification)
    _storage_contexts(ae, FILES)
    port = pyscp(ae, [(evt.EVT_C_STORE, on_store)])
    with _connect(port, verification_contexts() + contexts_for_files(FILES)) as assoc:
        assert assoc.echo() == 0
        for f in FILES:
            assert assoc.store(f) == 0, f.name
    for f in FILES:  # sent as they are in the file, received as they were sent
        data, ts, calling = got[UID[f]]
        assert ts == META[f].transfer_syntax and calling == "DICOMUL"
        assert data == dataset_bytes(f), f.name


def test_store_dataset_to_pynetdicom(pyscp):
    got = []
    ae = _ae("PYNETDICOM")
    ae.add_supported_context(
        pydicom.dcmread(SAMPLE["CT_small.dcm"]).SOPClassUID, ImplicitVRLittleEndian
    )
    port = pyscp(ae, [(evt.EVT_C_STORE, lambda e: got.append(e.dataset) or 0)])
    ct = pydicom.dcmread(SAMPLE["CT_small.dcm"])
    with _connect(port, contexts_for_files([SAMPLE["CT_small.dcm"]])) as assoc:
        assert assoc.store(ct) == 0  # re-encoded into the accepted Implicit VR LE
    assert got[0] == ct and got[0].PixelData == ct.PixelData


def test_find_from_pynetdicom(pyscp):
    archive = Archive(FILES)

    def on_find(event):
        yield from archive.on_find(event.identifier, None)
        yield 0x0000, None

    ae = _ae("PYNETDICOM")
    ae.add_supported_context(StudyRootQueryRetrieveInformationModelFind)
    port = pyscp(ae, [(evt.EVT_C_FIND, on_find)])
    q = _query()
    q.PatientName = ""
    with _connect(port, qr_contexts(["study"], ["find"])) as assoc:
        results = list(assoc.find(q, "study"))
    assert [s for s, _ in results] == [0xFF00] * 4 + [0]
    assert {str(ds.StudyInstanceUID) for _, ds in results[:4]} == archive.studies()
    assert results[-1][1] is None


def test_cancel_find_at_pynetdicom(pyscp):
    seen = []

    def on_find(event):
        for i in range(1, 1000):
            if event.is_cancelled:
                seen.append(i)
                yield 0xFE00, None
                return
            m = Dataset()
            m.QueryRetrieveLevel, m.PatientID = "PATIENT", str(i)
            yield 0xFF00, m
            if i == 1:  # on until pynetdicom's DUL thread has seen the C-CANCEL-RQ
                cancelled.wait(T)

    cancelled = threading.Event()
    ae = _ae("PYNETDICOM")
    ae.add_supported_context(PatientRootQueryRetrieveInformationModelFind)
    ae.add_supported_context(Verification)
    port = pyscp(ae, [(evt.EVT_C_FIND, on_find)])
    q = Dataset()
    q.QueryRetrieveLevel, q.PatientID = "PATIENT", ""
    with _connect(port, qr_contexts(["patient"], ["find"]) + verification_contexts()) as assoc:
        responses = assoc.find(q, "patient")
        status, ds = next(responses)
        assert status == 0xFF00 and ds.PatientID == "1"
        responses.cancel()
        cancelled.set()
        rest = [s for s, _ in responses]  # (a few pending ones may still come)
        assert rest[-1] == 0xFE00 and set(rest[:-1]) <= {0xFF00} and len(rest) < 999
        assert assoc.echo() == 0
    assert len(seen) == 1 and seen[0] < 999


def test_get_from_pynetdicom(pyscp, tmp_path):
    files = [SAMPLE["CT_small.dcm"], SAMPLE["SC_rgb_jpeg_dcmtk.dcm"]]
    archive = Archive(files)

    def on_get(event):
        found = archive.on_retrieve(event.identifier)
        yield len(found)
        for p in found:
            yield 0xFF00, pydicom.dcmread(p)

    ae = _ae("PYNETDICOM")
    ae.add_supported_context(StudyRootQueryRetrieveInformationModelGet)
    _storage_contexts(ae, files, roles=True)
    port = pyscp(ae, [(evt.EVT_C_GET, on_get)])
    out = tmp_path / "got"
    with _connect(port, qr_contexts(["study"], ["get"]) + contexts_for_files(files)) as assoc:
        for study, f in zip((CT_STUDY, SC_STUDY), files, strict=True):
            results = list(assoc.get(_query(study), "study", output_dir=out))
            assert results[-1][0] == 0, results
            assert results[-1][1].completed_suboperations == 1
            got = read_part10(out / f"{META[f].sop_instance_uid}.dcm")
            assert got.meta.transfer_syntax == META[f].transfer_syntax
            assert got.meta.source_ae_title == "PYNETDICOM"
            # pynetdicom re-encodes the Dataset with pydicom: the same bytes again
            assert got.read_dataset_bytes() == dataset_bytes(f)


def test_move_from_pynetdicom_to_dicomul(pyscp, server, tmp_path):
    dest_dir = tmp_path / "dest"
    _, dest_port = server("DEST", store_dir=dest_dir, accept_all_storage=True)
    archive = Archive(FILES)
    asked = []

    def on_move(event):
        asked.append(event.move_destination)
        yield "127.0.0.1", dest_port
        found = archive.on_retrieve(event.identifier)
        yield len(found)
        for p in found:
            yield 0xFF00, pydicom.dcmread(p)

    ae = _ae("PYNETDICOM")
    ae.add_supported_context(StudyRootQueryRetrieveInformationModelMove)
    _storage_contexts(ae, FILES, requested=True)  # what its sub-association proposes
    port = pyscp(ae, [(evt.EVT_C_MOVE, on_move)])
    with _connect(port, qr_contexts(["study"], ["move"])) as assoc:
        for study in (CT_STUDY, SC_STUDY):
            results = list(assoc.move(_query(study), "DEST", "study"))
            assert results[-1][0] == 0, results
            assert results[-1][1].completed_suboperations == 1
    assert asked == ["DEST", "DEST"]
    for f in (SAMPLE["CT_small.dcm"], SAMPLE["SC_rgb_jpeg_dcmtk.dcm"]):
        got = read_part10(dest_dir / f"{META[f].sop_instance_uid}.dcm")
        assert got.meta.transfer_syntax == META[f].transfer_syntax
        assert got.meta.source_ae_title == "PYNETDICOM"
        assert got.read_dataset_bytes() == dataset_bytes(f)


# ---- pynetdicom SCU -> dicomul Server -------------------------------------------------------


def test_pynetdicom_echo_and_store_to_dicomul(server, pyassoc, tmp_path):
    _, port = server(store_dir=tmp_path, accept_all_storage=True)
    ae = _ae("PYNET_SCU")
    ae.add_requested_context(Verification)
    _storage_contexts(ae, FILES, requested=True)
    assoc = pyassoc(ae, port)
    assert assoc.send_c_echo().Status == 0
    for f in FILES:
        ds = pydicom.dcmread(f)
        if f.name == "rtplan.dcm":  # its file meta names another instance UID
            ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        assert assoc.send_c_store(ds).Status == 0, f.name
    assoc.release()
    for f in FILES:
        ds = pydicom.dcmread(f)
        got = read_part10(tmp_path / f"{ds.SOPInstanceUID}.dcm")
        assert got.meta.transfer_syntax == META[f].transfer_syntax
        assert got.meta.sop_class_uid == META[f].sop_class_uid
        assert got.meta.source_ae_title == "PYNET_SCU"
        assert got.read_dataset_bytes() == dataset_bytes(f), f.name


def test_pynetdicom_store_file_path_to_dicomul(server, pyassoc, tmp_path):
    _, port = server(store_dir=tmp_path, accept_all_storage=True)
    ae = _ae("PYNET_SCU")
    files = [SAMPLE["MR_small_RLE.dcm"], SAMPLE["CT_small.dcm"]]
    _storage_contexts(ae, files, requested=True)
    assoc = pyassoc(ae, port)
    for f in files:  # pynetdicom sends a file's data set without decoding it
        assert assoc.send_c_store(f).Status == 0
    assoc.release()
    for f in files:
        got = read_part10(tmp_path / f"{META[f].sop_instance_uid}.dcm")
        assert got.meta.transfer_syntax == META[f].transfer_syntax
        assert got.read_dataset_bytes() == dataset_bytes(f)


def test_pynetdicom_find_and_cancel_at_dicomul(server, pyassoc):
    archive = Archive(FILES)
    cancelled = []

    def on_find(identifier, model):
        if identifier.QueryRetrieveLevel == "PATIENT":  # the one to be cancelled
            op = current_operation()
            for i in range(1, 100):
                m = Dataset()
                m.QueryRetrieveLevel, m.PatientID = "PATIENT", str(i)
                yield 0xFF00, m
                if i == 1:
                    cancelled.append(op.cancelled.wait(T))
            return
        yield from archive.on_find(identifier, model)

    _, port = server(on_find=on_find)
    ae = _ae("PYNET_SCU")
    ae.add_requested_context(StudyRootQueryRetrieveInformationModelFind)
    ae.add_requested_context(PatientRootQueryRetrieveInformationModelFind)
    assoc = pyassoc(ae, port)
    q = _query()
    q.PatientName = ""
    results = list(assoc.send_c_find(q, StudyRootQueryRetrieveInformationModelFind))
    assert [r.Status for r, _ in results] == [0xFF00] * 4 + [0]
    assert {str(i.StudyInstanceUID) for _, i in results[:4]} == archive.studies()
    names = {str(i.StudyInstanceUID): str(i.PatientName) for _, i in results[:4]}
    assert names[SC_STUDY] == "Lestrade^G"

    p = Dataset()
    p.QueryRetrieveLevel, p.PatientID = "PATIENT", ""
    responses = assoc.send_c_find(p, PatientRootQueryRetrieveInformationModelFind, msg_id=9)
    status, ident = next(responses)
    assert status.Status == 0xFF00 and ident.PatientID == "1"
    assoc.send_c_cancel(9, query_model=PatientRootQueryRetrieveInformationModelFind)
    rest = [s.Status for s, _ in responses]
    assert rest[-1] == 0xFE00 and len(rest) <= 2
    assert cancelled == [True]
    assoc.release()


def test_pynetdicom_get_from_dicomul(server, pyassoc):
    files = [SAMPLE["CT_small.dcm"], SAMPLE["SC_rgb_jpeg_dcmtk.dcm"], SAMPLE["rtplan.dcm"]]
    archive = Archive(files)
    _, port = server(on_get=archive.on_retrieve)
    got = {}

    def on_store(event):
        got[str(event.request.AffectedSOPInstanceUID)] = (
            event.request.DataSet.getvalue(),
            event.context.transfer_syntax,
        )
        return 0x0000

    ae = _ae("PYNET_SCU")
    ae.add_requested_context(StudyRootQueryRetrieveInformationModelGet)
    _storage_contexts(ae, files, requested=True)
    roles = [build_role(read_part10(f).meta.sop_class_uid, scp_role=True) for f in files]
    assoc = pyassoc(ae, port, ext_neg=roles, evt_handlers=[(evt.EVT_C_STORE, on_store)])
    for f in files:
        study = pydicom.dcmread(f, stop_before_pixels=True).StudyInstanceUID
        results = list(assoc.send_c_get(_query(study), StudyRootQueryRetrieveInformationModelGet))
        final = results[-1][0]
        assert final.Status == 0 and final.NumberOfCompletedSuboperations == 1, f.name
        data, ts = got[UID[f]]
        assert ts == META[f].transfer_syntax
        assert data == dataset_bytes(f), f.name
    assoc.release()


def test_pynetdicom_move_via_dicomul_to_pynetdicom(server, pyscp, pyassoc):
    files = [SAMPLE["CT_small.dcm"], SAMPLE["SC_rgb_jpeg_dcmtk.dcm"]]
    received = {}

    def on_store(event):
        received[str(event.request.AffectedSOPInstanceUID)] = (
            event.request.DataSet.getvalue(),
            event.context.transfer_syntax,
            event.request.MoveOriginatorApplicationEntityTitle,
        )
        return 0x0000

    store_ae = _ae("PYSTORE")
    _storage_contexts(store_ae, files)
    store_port = pyscp(store_ae, [(evt.EVT_C_STORE, on_store)])
    archive = Archive(files)
    _, port = server(
        on_move=archive.on_retrieve, move_destinations={"PYSTORE": ("127.0.0.1", store_port)}
    )
    ae = _ae("PYNET_SCU")
    ae.add_requested_context(StudyRootQueryRetrieveInformationModelMove)
    assoc = pyassoc(ae, port)
    for study in (CT_STUDY, SC_STUDY):
        results = list(
            assoc.send_c_move(_query(study), "PYSTORE", StudyRootQueryRetrieveInformationModelMove)
        )
        assert results[-1][0].Status == 0
        assert results[-1][0].NumberOfCompletedSuboperations == 1
    unknown = list(
        assoc.send_c_move(_query(CT_STUDY), "NOWHERE", StudyRootQueryRetrieveInformationModelMove)
    )
    assert unknown[-1][0].Status == 0xA801
    assoc.release()
    for f in files:
        data, ts, originator = received[UID[f]]
        assert ts == META[f].transfer_syntax
        assert originator.strip() == "PYNET_SCU"
        assert data == dataset_bytes(f)
