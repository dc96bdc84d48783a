"""dicomul.sync.services (the requestor) against dicomul.sync.server over 127.0.0.1: echo, store
(Datasets, bytes, Part 10 files, compressed), find, get, move, cancel, timeouts, status
pass-through, and the context helpers.

Every listener uses port 0, every wait has a timeout, nothing sleeps.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset

from dicomul import AssociationAborted
from dicomul.dimse.sop import STORAGE_SOP_CLASSES, STUDY_ROOT_FIND, model_uid
from dicomul.storage import transcode
from dicomul.storage.part10 import StorageError, encode_dataset, read_part10
from dicomul.sync.server import Server, current_operation
from dicomul.sync.services import (
    Association,
    ContextNotAccepted,
    contexts_for_files,
    contexts_for_objects,
    contexts_for_pair,
    plan_associations,
    qr_contexts,
    storage_contexts,
    verification_contexts,
)

pytestmark = pytest.mark.timeout(60)

T = 10.0  # generous timeouts for every wait
EXPLICIT, IMPLICIT = "1.2.840.10008.1.2.1", "1.2.840.10008.1.2"
CT = get_testdata_file("CT_small.dcm")
MR = get_testdata_file("MR_small.dcm")
JPEG = get_testdata_file("SC_rgb_jpeg_dcmtk.dcm")  # JPEG Baseline
FILES = [CT, MR, JPEG]


def connect(port: int, contexts=None, **kw) -> Association:
    kw.setdefault("dimse_timeout", T)
    kw.setdefault("acse_timeout", T)
    kw.setdefault("connect_timeout", T)
    return Association.connect("127.0.0.1", port, called_ae="SCP", contexts=contexts, **kw)


@pytest.fixture
def server():
    servers: list[Server] = []

    def make(**kw) -> tuple[Server, int]:
        srv = Server("SCP", **kw)
        port = srv.start("127.0.0.1", 0)
        servers.append(srv)
        return srv, port

    yield make
    for srv in servers:
        srv.stop(timeout=T)


def assert_same_file(received: Path, source: str, calling: str = "DICOMUL") -> None:
    got, src = read_part10(received), read_part10(source)
    assert got.read_dataset_bytes() == src.read_dataset_bytes()
    assert got.meta.transfer_syntax == src.meta.transfer_syntax
    assert got.meta.sop_class_uid == src.meta.sop_class_uid
    assert got.meta.sop_instance_uid == src.meta.sop_instance_uid
    assert got.meta.source_ae_title == calling


def match(i: int) -> Dataset:
    ds = Dataset()
    ds.PatientName = f"DOE^{i}"
    ds.PatientID = str(i)
    ds.QueryRetrieveLevel = "PATIENT"
    return ds


# ---- echo and association set-up ------------------------------------------------------


def test_echo_and_release(server):
    _, port = server()
    with connect(port) as assoc:
        assert assoc.is_established
        assert assoc.echo() == 0
        assert assoc.echo() == 0
    assert not assoc.is_established


def test_echo_handler_status(server):
    _, port = server(on_echo=lambda: 0x0110)
    with connect(port) as assoc:
        assert assoc.echo() == 0x0110


def test_connection_refused_is_clear():
    srv = Server()
    port = srv.start()
    srv.stop()
    with pytest.raises(ConnectionRefusedError, match="refused"):
        connect(port)


def test_no_context_for_operation(server):
    _, port = server()
    with connect(port) as assoc:
        with pytest.raises(ContextNotAccepted, match="Study Root"):
            assoc.find(match(1))
        with pytest.raises(StorageError, match="no accepted presentation context"):
            assoc.store(CT)


def test_user_identity_is_sent(server):
    srv, port = server()
    seen = []
    srv.on_echo = lambda: 0
    with connect(port, user_identity=(2, "alice", "secret")) as assoc:
        seen.append(assoc.request.user_identity)
        assert assoc.echo() == 0
    assert seen[0].primary == b"alice" and seen[0].secondary == b"secret"


def test_exception_in_with_block_aborts(server):
    _, port = server()
    with pytest.raises(RuntimeError):
        with connect(port) as assoc:
            raise RuntimeError("boom")
    assert not assoc.is_established
    with pytest.raises(AssociationAborted):
        assoc.echo()


# ---- store ----------------------------------------------------------------------------


def test_store_part10_files_byte_for_byte(server, tmp_path):
    srv, port = server(store_dir=tmp_path, accept_all_storage=True)
    with connect(port, contexts_for_files(FILES)) as assoc:
        for f in FILES:
            assert assoc.store(f) == 0
    for f in FILES:
        uid = read_part10(f).meta.sop_instance_uid
        assert_same_file(tmp_path / f"{uid}.dcm", f)
    assert not list(tmp_path.glob(".dicomul-*"))  # no temporary files left


def test_store_datasets_and_bytes(server, tmp_path):
    _, port = server(store_dir=tmp_path)
    ct = pydicom.dcmread(CT)
    mr = pydicom.dcmread(MR)
    raw = encode_dataset(mr, IMPLICIT)
    contexts = storage_contexts([ct.SOPClassUID, mr.SOPClassUID], [IMPLICIT])
    with connect(port, contexts) as assoc:
        assert assoc.store(ct) == 0
        assert assoc.store((raw, IMPLICIT, mr.SOPClassUID, "1.2.3.4.5")) == 0
    got = read_part10(tmp_path / f"{ct.SOPInstanceUID}.dcm")
    assert got.meta.transfer_syntax == IMPLICIT  # re-encoded: its own syntax was not proposed
    assert got.read_dataset_bytes() == encode_dataset(ct, IMPLICIT)
    got = read_part10(tmp_path / "1.2.3.4.5.dcm")
    assert got.read_dataset_bytes() == raw
    assert got.meta.sop_class_uid == mr.SOPClassUID


def test_store_compressed_not_accepted_without_codecs_names_the_extra(
    server, tmp_path, monkeypatch
):
    monkeypatch.setattr(transcode, "codecs_available", lambda: False)
    _, port = server(store_dir=tmp_path)  # uncompressed transfer syntaxes only
    contexts = [(read_part10(JPEG).meta.sop_class_uid, [read_part10(JPEG).meta.transfer_syntax])]
    assert contexts_for_files([JPEG]) == contexts  # nothing it could not send
    with connect(port, contexts + verification_contexts()) as assoc:
        with pytest.raises(StorageError, match=r"pip install 'dicomul\[codecs\]'"):
            assoc.store(JPEG)
        assert assoc.echo() == 0  # the association is still fine
    assert not list(tmp_path.iterdir())


def test_store_compressed_to_an_uncompressed_peer_is_decompressed(server, tmp_path):
    _, port = server(store_dir=tmp_path)  # uncompressed transfer syntaxes only
    with connect(port, contexts_for_files([JPEG])) as assoc:
        assert assoc.store(JPEG) == 0
    (got,) = tmp_path.iterdir()
    back, original = pydicom.dcmread(got), pydicom.dcmread(JPEG)
    assert not back.file_meta.TransferSyntaxUID.is_compressed
    assert (back.pixel_array == original.pixel_array).all()
    assert back.SOPInstanceUID == original.SOPInstanceUID


def test_store_handler_status_passes_through(server):
    seen = []

    def on_store(meta, data, info):
        seen.append((meta.sop_instance_uid, len(data), info.calling_ae))
        return 0xA700

    _, port = server(on_store=on_store)
    with connect(port, contexts_for_files([CT])) as assoc:
        assert assoc.store(CT) == 0xA700
    uid = read_part10(CT).meta.sop_instance_uid
    assert seen == [(uid, read_part10(CT).dataset_length, "DICOMUL")]


def test_store_move_originator_reaches_server(server):
    got = []
    _, port = server(on_store=lambda meta, data, info: got.append(meta) or 0)
    with connect(port, contexts_for_files([CT])) as assoc:
        assert assoc.store(CT, priority=1, move_originator=("ORIG", 7)) == 0
    assert len(got) == 1


# ---- find -----------------------------------------------------------------------------


def test_find_yields_pending_then_final(server):
    queries = []

    def on_find(identifier, model):
        queries.append((identifier.PatientName, model))
        for i in range(3):
            yield 0xFF00, match(i)

    _, port = server(on_find=on_find)
    with connect(port, qr_contexts(("study",), ("find",))) as assoc:
        results = list(assoc.find(match(99), "study"))
    assert [s for s, _ in results] == [0xFF00, 0xFF00, 0xFF00, 0x0000]
    assert [str(ds.PatientName) for _, ds in results[:3]] == ["DOE^0", "DOE^1", "DOE^2"]
    assert results[3][1] is None
    assert queries == [("DOE^99", STUDY_ROOT_FIND)]


def test_find_handler_failure_status(server):
    def on_find(identifier, model):
        yield 0xFF00, match(1)
        yield 0xA700, None

    _, port = server(on_find=on_find)
    with connect(port, qr_contexts(("patient",), ("find",))) as assoc:
        statuses = [s for s, _ in assoc.find(match(1), "patient")]
        assert statuses == [0xFF00, 0xA700]


def test_cancel_during_find(server):
    def on_find(identifier, model):
        op = current_operation()
        yield 0xFF00, match(1)
        assert op.cancelled.wait(T)
        yield 0xFF00, match(2)  # the server notices the cancel here
        yield 0xFF00, match(3)

    _, port = server(on_find=on_find)
    contexts = qr_contexts(("study",), ("find",)) + verification_contexts()
    with connect(port, contexts) as assoc:
        responses = assoc.find(match(0))
        status, ds = next(responses)
        assert status == 0xFF00 and str(ds.PatientName) == "DOE^1"
        responses.cancel()
        rest = list(responses)
        assert [s for s, _ in rest] == [0xFE00]
        assert assoc.echo() == 0  # the association is still usable


def test_leaving_find_early_with_block_cancels(server):
    def on_find(identifier, model):
        op = current_operation()
        yield 0xFF00, match(1)
        op.cancelled.wait(T)
        yield 0xFF00, match(2)

    _, port = server(on_find=on_find)
    contexts = qr_contexts(("study",), ("find",)) + verification_contexts()
    with connect(port, contexts) as assoc:
        with assoc.find(match(0)) as responses:
            for _status, _ds in responses:
                break
        assert responses.final is not None and responses.final.status == 0xFE00
        assert assoc.echo() == 0


def test_dimse_timeout_aborts(server):
    release = threading.Event()

    def on_find(identifier, model):
        release.wait(T)
        yield 0x0000, None

    _, port = server(on_find=on_find)
    try:
        assoc = connect(port, qr_contexts(("study",), ("find",)), dimse_timeout=0.5)
        responses = assoc.find(match(0))
        with pytest.raises(TimeoutError, match="aborted"):
            next(responses)
        assert not assoc.is_established
        with pytest.raises(AssociationAborted):
            assoc.echo()
    finally:
        release.set()


# ---- get and move ---------------------------------------------------------------------


def get_contexts(files):
    return qr_contexts(("study",), ("get",)) + contexts_for_files(files)


def test_get_into_output_dir(server, tmp_path):
    asked = []

    def on_get(identifier):
        asked.append(str(identifier.PatientID))
        return FILES

    _, port = server(on_get=on_get)
    out = tmp_path / "out"
    with connect(port, get_contexts(FILES)) as assoc:
        results = list(assoc.get(match(5), output_dir=out))
    assert asked == ["5"]
    statuses = [s for s, _ in results]
    assert statuses == [0xFF00, 0xFF00, 0x0000]
    assert [r.remaining_suboperations for _, r in results[:2]] == [2, 1]
    final = results[-1][1]
    assert (final.completed_suboperations, final.failed_suboperations) == (3, 0)
    for f in FILES:
        uid = read_part10(f).meta.sop_instance_uid
        assert_same_file(out / f"{uid}.dcm", f, calling="SCP")


def test_get_with_handler_and_in_memory(server):
    ct = pydicom.dcmread(CT)
    _, port = server(on_get=lambda identifier: iter([ct, MR]))
    got = []

    def handler(ds, meta):
        got.append((ds.SOPInstanceUID, meta.transfer_syntax))
        return 0

    with connect(port, get_contexts([CT, MR])) as assoc:
        results = list(assoc.get(match(1), store_handler=handler))
        assert results[-1][0] == 0
        assert [uid for uid, _ in got] == [ct.SOPInstanceUID, pydicom.dcmread(MR).SOPInstanceUID]
        # without handler or directory: kept in memory
        results = list(assoc.get(match(1)))
        assert results[-1][0] == 0
        assert [m.sop_instance_uid for _, m in assoc.received] == [u for u, _ in got]
        assert assoc.received[1][0] == read_part10(MR).read_dataset_bytes()


def test_cancel_during_get(server):
    _, port = server(on_get=lambda identifier: FILES)
    with connect(port, get_contexts(FILES)) as assoc:
        got = []

        def handler(ds, meta):  # runs in the I/O thread, before the C-STORE-RSP is sent
            got.append(meta.sop_instance_uid)
            responses.cancel()
            return 0

        responses = assoc.get(match(1), store_handler=handler)
        results = list(responses)
    status, final = results[-1]
    assert status == 0xFE00
    assert len(got) == 1
    assert (final.completed_suboperations, final.remaining_suboperations) == (1, 2)


def test_get_failures_counted(server, tmp_path):
    ds = Dataset()  # a SOP class the requestor did not propose: cannot be sent
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.481.1"
    ds.SOPInstanceUID = "1.2.3.9"
    _, port = server(on_get=lambda identifier: [CT, ds])
    with connect(port, get_contexts([CT])) as assoc:
        results = list(assoc.get(match(1), output_dir=tmp_path))
    status, final = results[-1]
    assert status == 0xB000
    assert (final.completed_suboperations, final.failed_suboperations) == (1, 1)


def test_get_without_scp_role_fails_suboperations(server, tmp_path):
    _, port = server(on_get=lambda identifier: [CT])
    with connect(port, get_contexts([CT]), roles={}) as assoc:
        results = list(assoc.get(match(1), output_dir=tmp_path))
    assert results[-1][0] == 0xA702
    assert not list(tmp_path.iterdir())


def test_move_to_second_server(server, tmp_path):
    dest_dir = tmp_path / "dest"
    dest, dest_port = server(store_dir=dest_dir, accept_all_storage=True)
    _, port = server(
        on_move=lambda identifier, ae: FILES, move_destinations={"DEST": ("127.0.0.1", dest_port)}
    )
    with connect(port, qr_contexts(("study",), ("move",))) as assoc:
        results = list(assoc.move(match(1), "DEST"))
        assert [s for s, _ in results] == [0xFF00, 0xFF00, 0x0000]
        assert results[-1][1].completed_suboperations == 3
        unknown = list(assoc.move(match(1), "NOWHERE"))
        assert [s for s, _ in unknown] == [0xA801]
    for f in FILES:
        uid = read_part10(f).meta.sop_instance_uid
        assert_same_file(dest_dir / f"{uid}.dcm", f, calling="SCP")


# ---- helpers --------------------------------------------------------------------------


def test_contexts_for_files_order_and_dedup():
    ctx = contexts_for_files([CT, CT, JPEG, MR])
    assert ctx[0] == (read_part10(CT).meta.sop_class_uid, [EXPLICIT, IMPLICIT])
    jpeg = read_part10(JPEG).meta
    # a compressed syntax alone in its context (an SCP may pick any syntax of a context,
    # and real ones prefer uncompressed), then the fallback it can be decompressed into
    i = ctx.index((jpeg.sop_class_uid, [jpeg.transfer_syntax]))
    assert ctx[i + 1] == (jpeg.sop_class_uid, [EXPLICIT, IMPLICIT])
    assert len(ctx) == 4
    assert contexts_for_objects([pydicom.dcmread(CT)]) == ctx[:1]


def test_contexts_per_syntax(monkeypatch):
    cls = "1.2.840.10008.5.1.4.1.1.7"
    fallback = (cls, [EXPLICIT, IMPLICIT])
    assert contexts_for_pair(cls, IMPLICIT) == [(cls, [IMPLICIT])]
    assert contexts_for_pair(cls, EXPLICIT) == [fallback]
    assert contexts_for_pair(cls, None) == [fallback]
    for own in ("1.2.840.10008.1.2.2", "1.2.840.10008.1.2.1.99", "1.2.840.10008.1.2.5"):
        assert contexts_for_pair(cls, own) == [(cls, [own]), fallback]
    monkeypatch.setattr(transcode, "codecs_available", lambda: False)
    assert contexts_for_pair(cls, "1.2.840.10008.1.2.5") == [(cls, ["1.2.840.10008.1.2.5"])]
    big = "1.2.840.10008.1.2.2"
    assert contexts_for_pair(cls, big) == [(cls, [big]), fallback]


def test_more_than_128_contexts_are_planned_over_several_associations():
    objs = [(b"", ts, cls, "1.2.3") for cls in list(STORAGE_SOP_CLASSES)[:70]
            for ts in ("1.2.840.10008.1.2.4.50", IMPLICIT)]  # fmt: skip
    with pytest.raises(ValueError, match="128"):
        contexts_for_objects(objs)  # 70 x 3 contexts
    plan = plan_associations(objs)
    assert [o for _, batch in plan for o in batch] == objs  # all, in order
    assert all(len(ctx) <= 128 for ctx, _ in plan) and len(plan) == 2
    for ctx, batch in plan:
        assert contexts_for_objects(batch) == ctx


def test_context_limit_is_clear():
    classes = list(STORAGE_SOP_CLASSES)[:129]
    assert len(storage_contexts(classes[:128])) == 128
    with pytest.raises(ValueError, match="128"):
        storage_contexts(classes)


def test_model_names():
    assert model_uid("STUDY", "find") == STUDY_ROOT_FIND
    assert model_uid("1.2.3", "get") == "1.2.3"
    with pytest.raises(ValueError, match="no GET"):
        model_uid("worklist", "get")
    with pytest.raises(ValueError, match="unknown"):
        model_uid("nope", "find")


def test_abort_from_another_thread_ends_a_waiting_call(server):
    """The blocking Association has no thread of its own: the caller's waits for the
    answer. Another thread may abort it; the waiting call then raises at once, and the
    server serves the next association."""
    import threading

    release, started = threading.Event(), threading.Event()

    def slow_find(identifier, sop_class):
        started.set()
        release.wait(T)  # an archive that takes its time
        yield 0x0000, None

    _, port = server(on_find=slow_find)
    assoc = connect(port, qr_contexts(operations=("find",)), dimse_timeout=None)
    q = Dataset()
    q.QueryRetrieveLevel = "STUDY"
    outcome: list[BaseException] = []

    def waiting() -> None:
        try:
            list(assoc.find(q))
        except BaseException as exc:  # noqa: BLE001
            outcome.append(exc)

    t = threading.Thread(target=waiting)
    t.start()
    try:
        assert started.wait(T)  # the find is in flight: the thread waits for its answer
        assoc.abort()
        t.join(T)
        assert not t.is_alive(), "the waiting call did not see the abort"
        assert len(outcome) == 1 and isinstance(outcome[0], AssociationAborted)
    finally:
        release.set()
        t.join(T)
    with connect(port) as again:
        assert again.echo() == 0
