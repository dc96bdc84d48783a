"""The six DIMSE-N services and Storage Commitment against pynetdicom (3.x), live over
127.0.0.1, both directions and both dicomul APIs:

* pynetdicom SCU -> dicomul Server (blocking and asyncio): N-GET, N-SET, N-ACTION,
  N-CREATE, N-DELETE, N-EVENT-REPORT reach the service object registered for the SOP
  class, with their arguments; its answers (status, data set, error comment) come back.
* dicomul Association (blocking and asyncio) -> pynetdicom SCP: the same six, answered by
  pynetdicom's handlers.
* Storage Commitment: pynetdicom SCU -> dicomul SCP with the report on the same
  association and, when the SCU has released, on a new association the SCP opens to the
  SCU's AE (role selection, SCP role); dicomul SCU -> pynetdicom SCP with the report on
  the same association and on a reverse association into a dicomul Server's
  ``on_commitment``.

Every pynetdicom server is shut down and every association released or aborted in a
finally; every wait has a timeout.
"""

from __future__ import annotations

import asyncio
import queue
import shutil
import threading
from pathlib import Path
from typing import Any

import pytest

pynetdicom = pytest.importorskip("pynetdicom")

import pydicom  # noqa: E402
from pydicom.dataset import Dataset  # noqa: E402
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian  # noqa: E402
from pynetdicom import AE, build_role, evt  # noqa: E402

from dicomul import aio  # noqa: E402
from dicomul.dimse.sop import (  # noqa: E402
    MPPS,
    STORAGE_COMMITMENT_INSTANCE,
    STORAGE_COMMITMENT_PUSH,
)
from dicomul.storage.normalized import NReply, NRequest  # noqa: E402
from dicomul.storage.writer import safe_filename  # noqa: E402
from dicomul.sync import Server as SyncServer  # noqa: E402
from dicomul.sync.services import Association  # noqa: E402

pytestmark = [pytest.mark.interop, pytest.mark.timeout(60)]

T = 10.0
UNCOMPRESSED = [ExplicitVRLittleEndian, ImplicitVRLittleEndian]
DATA = Path(pydicom.__file__).parent / "data" / "test_files"
CT = DATA / "CT_small.dcm"
CT_CLASS = "1.2.840.10008.5.1.4.1.1.2"
PRINTER = "1.2.840.10008.5.1.1.16"  # N-GET, N-EVENT-REPORT (PS3.4 H.4.6)
FILM_SESSION = "1.2.840.10008.5.1.1.1"  # N-CREATE, N-SET, N-DELETE, N-ACTION (H.4.1)
PRINTER_INSTANCE = "1.2.840.10008.5.1.1.17"
FILM_INSTANCE = "1.2.826.0.1.3680043.9.7433.1.1"


class Recorder:
    """A dicomul N-service object that records each request and answers with a data set
    naming the operation (N-DELETE: a status only)."""

    def __init__(self) -> None:
        self.seen: list[NRequest] = []

    def _answer(self, req: NRequest) -> Any:
        self.seen.append(req)
        ds = Dataset()
        ds.PatientComments = req.operation
        return 0, ds

    n_get = n_set = n_action = n_create = n_event_report = _answer

    def n_delete(self, req: NRequest) -> Any:
        self.seen.append(req)
        return NReply(status=0x0112, error_comment="no such film session")


def _attrs(text: str) -> Dataset:
    ds = Dataset()
    ds.PatientComments = text
    return ds


def _pynetdicom_sends_all_six(port: int) -> dict[str, Any]:
    ae = AE(ae_title="PYSCU")
    for uid in (PRINTER, FILM_SESSION):
        ae.add_requested_context(uid, UNCOMPRESSED)
    assoc = ae.associate("127.0.0.1", port, ae_title="SCP")
    assert assoc.is_established
    got: dict[str, Any] = {}
    try:
        got["N-GET"] = assoc.send_n_get([0x00100010, 0x00104000], PRINTER, PRINTER_INSTANCE)
        got["N-SET"] = assoc.send_n_set(_attrs("set"), FILM_SESSION, FILM_INSTANCE)
        got["N-ACTION"] = assoc.send_n_action(_attrs("act"), 1, FILM_SESSION, FILM_INSTANCE)
        got["N-CREATE"] = assoc.send_n_create(_attrs("new"), FILM_SESSION)
        got["N-DELETE"] = assoc.send_n_delete(FILM_SESSION, FILM_INSTANCE)
        got["N-EVENT-REPORT"] = assoc.send_n_event_report(
            _attrs("evt"), 3, PRINTER, PRINTER_INSTANCE
        )
    finally:
        assoc.release()
    return got


def _check_six(rec: Recorder, got: dict[str, Any]) -> None:
    ops = [r.operation for r in rec.seen]
    assert ops == ["N-GET", "N-SET", "N-ACTION", "N-CREATE", "N-DELETE", "N-EVENT-REPORT"]
    get, nset, action, create, delete, report = rec.seen
    assert (get.sop_class_uid, get.sop_instance_uid) == (PRINTER, PRINTER_INSTANCE)
    assert get.attributes == (0x00100010, 0x00104000) and get.dataset is None
    assert nset.dataset.PatientComments == "set" and nset.sop_instance_uid == FILM_INSTANCE
    assert action.type_id == 1 and action.dataset.PatientComments == "act"
    assert create.dataset.PatientComments == "new"
    assert create.sop_instance_uid.startswith("2.25.")  # pynetdicom left it to us
    assert report.type_id == 3 and report.dataset.PatientComments == "evt"
    assert get.info.calling_ae == "PYSCU"
    for op in ("N-GET", "N-SET", "N-ACTION", "N-CREATE", "N-EVENT-REPORT"):
        status, ds = got[op]
        assert status.Status == 0, op
        assert ds.PatientComments == op, op
    assert got["N-DELETE"].Status == 0x0112
    assert got["N-DELETE"].ErrorComment == "no such film session"


def test_pynetdicom_scu_to_the_blocking_server() -> None:
    rec = Recorder()
    srv = SyncServer("SCP", n_services={PRINTER: rec, FILM_SESSION: rec}, acse_timeout=T)
    port = srv.start("127.0.0.1", 0)
    try:
        got = _pynetdicom_sends_all_six(port)
    finally:
        srv.stop()
    _check_six(rec, got)


class AsyncRecorder(Recorder):
    async def n_get(self, req: NRequest) -> Any:  # type: ignore[override]
        await asyncio.sleep(0)
        return self._answer(req)


def test_pynetdicom_scu_to_the_asyncio_server_with_async_handlers() -> None:
    rec = AsyncRecorder()
    out: dict[str, Any] = {}

    async def scenario() -> None:
        srv = aio.Server("SCP", n_services={PRINTER: rec, FILM_SESSION: rec}, acse_timeout=T)
        port = await srv.start("127.0.0.1", 0)
        try:
            out.update(await asyncio.to_thread(_pynetdicom_sends_all_six, port))
        finally:
            await srv.close()

    asyncio.run(asyncio.wait_for(scenario(), 30))
    _check_six(rec, out)


def test_a_server_without_the_service_answers_unrecognized_operation() -> None:
    srv = SyncServer("SCP", contexts=None, n_services={PRINTER: Recorder()}, acse_timeout=T)
    srv.n_services = {PRINTER: object()}  # a service with none of the six methods
    port = srv.start("127.0.0.1", 0)
    ae = AE(ae_title="PYSCU")
    ae.add_requested_context(PRINTER, UNCOMPRESSED)
    assoc = ae.associate("127.0.0.1", port, ae_title="SCP")
    try:
        status, _ = assoc.send_n_get([0x00100010], PRINTER, PRINTER_INSTANCE)
        assert status.Status == 0x0211
    finally:
        assoc.release()
        srv.stop()


# ---- dicomul requestor -> pynetdicom SCP ------------------------------------------------


class PynetdicomSCP:
    """A pynetdicom AE serving the six N-services for PRINTER and FILM_SESSION, recording
    each request's event (command and data set)."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, Any, Any]] = []
        ae = AE(ae_title="PYSCP")
        for uid in (PRINTER, FILM_SESSION):
            ae.add_supported_context(uid, UNCOMPRESSED)

        def answer(name: str) -> Any:
            def handler(event: Any) -> Any:
                ds = None
                if name in ("N-SET", "N-CREATE"):
                    ds = event.attribute_list if name == "N-CREATE" else event.modification_list
                elif name == "N-ACTION":
                    ds = event.action_information
                elif name == "N-EVENT-REPORT":
                    ds = event.event_information
                self.seen.append((name, event.request, ds))
                reply = Dataset()
                reply.PatientComments = name
                if name == "N-CREATE":  # (pynetdicom's way of choosing the instance UID)
                    reply.AffectedSOPInstanceUID = "1.2.3.999"
                if name == "N-DELETE":
                    return 0x0000
                return 0x0000, reply

            return handler

        handlers = [
            (evt.EVT_N_GET, answer("N-GET")),
            (evt.EVT_N_SET, answer("N-SET")),
            (evt.EVT_N_ACTION, answer("N-ACTION")),
            (evt.EVT_N_CREATE, answer("N-CREATE")),
            (evt.EVT_N_DELETE, answer("N-DELETE")),
            (evt.EVT_N_EVENT_REPORT, answer("N-EVENT-REPORT")),
        ]
        self.server = ae.start_server(("127.0.0.1", 0), block=False, evt_handlers=handlers)
        self.port = self.server.server_address[1]

    def check(self, results: dict[str, Any]) -> None:
        names = [s[0] for s in self.seen]
        assert names == ["N-GET", "N-SET", "N-ACTION", "N-CREATE", "N-DELETE", "N-EVENT-REPORT"]
        get_rq = self.seen[0][1]
        assert get_rq.RequestedSOPInstanceUID == PRINTER_INSTANCE
        assert list(get_rq.AttributeIdentifierList) == [0x00100010, 0x00100020]
        assert self.seen[1][2].PatientComments == "set"
        assert self.seen[2][1].ActionTypeID == 7 and self.seen[2][2].PatientComments == "act"
        assert self.seen[3][2].PatientComments == "new"
        assert self.seen[5][1].EventTypeID == 2
        for op, result in results.items():
            assert result.status == 0, op
            if op != "N-DELETE":
                assert result.dataset.PatientComments == op
        assert results["N-DELETE"].dataset is None
        assert results["N-CREATE"].sop_instance_uid == "1.2.3.999"  # pynetdicom's choice


def _six_blocking(a: Association) -> dict[str, Any]:
    return {
        "N-GET": a.n_get(PRINTER, PRINTER_INSTANCE, [0x00100010, 0x00100020]),
        "N-SET": a.n_set(FILM_SESSION, FILM_INSTANCE, _attrs("set")),
        "N-ACTION": a.n_action(FILM_SESSION, FILM_INSTANCE, 7, _attrs("act")),
        "N-CREATE": a.n_create(FILM_SESSION, _attrs("new")),
        "N-DELETE": a.n_delete(FILM_SESSION, FILM_INSTANCE),
        "N-EVENT-REPORT": a.n_event_report(PRINTER, PRINTER_INSTANCE, 2, _attrs("evt")),
    }


def _contexts() -> list[tuple[str, list[str]]]:
    return [(PRINTER, UNCOMPRESSED), (FILM_SESSION, UNCOMPRESSED)]


def test_the_blocking_requestor_to_pynetdicom() -> None:
    scp = PynetdicomSCP()
    try:
        with Association.connect(
            "127.0.0.1", scp.port, called_ae="PYSCP", contexts=_contexts(), dimse_timeout=T
        ) as a:
            results = _six_blocking(a)
    finally:
        scp.server.shutdown()
    scp.check(results)


def test_the_asyncio_requestor_to_pynetdicom() -> None:
    scp = PynetdicomSCP()

    async def scenario() -> dict[str, Any]:
        async with await aio.connect(
            "127.0.0.1", scp.port, called_ae="PYSCP", contexts=_contexts(), dimse_timeout=T
        ) as a:
            return {
                "N-GET": await a.n_get(PRINTER, PRINTER_INSTANCE, [0x00100010, 0x00100020]),
                "N-SET": await a.n_set(FILM_SESSION, FILM_INSTANCE, _attrs("set")),
                "N-ACTION": await a.n_action(FILM_SESSION, FILM_INSTANCE, 7, _attrs("act")),
                "N-CREATE": await a.n_create(FILM_SESSION, _attrs("new")),
                "N-DELETE": await a.n_delete(FILM_SESSION, FILM_INSTANCE),
                "N-EVENT-REPORT": await a.n_event_report(
                    PRINTER, PRINTER_INSTANCE, 2, _attrs("evt")
                ),
            }

    try:
        results = asyncio.run(asyncio.wait_for(scenario(), 30))
    finally:
        scp.server.shutdown()
    scp.check(results)


# ---- Storage Commitment -----------------------------------------------------------------


def _store_with_ct(tmp_path: Path) -> tuple[Path, str, str]:
    """A store directory holding CT_small as dicomul's receiver names it."""
    store = tmp_path / "store"
    store.mkdir()
    ds = pydicom.dcmread(CT)
    shutil.copyfile(CT, store / safe_filename(str(ds.SOPInstanceUID)))
    return store, str(ds.SOPClassUID), str(ds.SOPInstanceUID)


def _commit_request(refs: list[tuple[str, str]], txn: str) -> Dataset:
    ds = Dataset()
    ds.TransactionUID = txn
    items = []
    for cls, inst in refs:
        item = Dataset()
        item.ReferencedSOPClassUID = cls
        item.ReferencedSOPInstanceUID = inst
        items.append(item)
    ds.ReferencedSOPSequence = items
    return ds


def test_pynetdicom_scu_gets_the_report_on_its_association(tmp_path: Path) -> None:
    store, cls, inst = _store_with_ct(tmp_path)
    srv = SyncServer("SCP", store_dir=store, storage_commitment=True, acse_timeout=T)
    port = srv.start("127.0.0.1", 0)
    reports: queue.Queue[Any] = queue.Queue()

    def on_report(event: Any) -> Any:
        reports.put((event.request.EventTypeID, event.event_information))
        return 0x0000, None

    ae = AE(ae_title="PYSCU")
    ae.add_requested_context(STORAGE_COMMITMENT_PUSH, UNCOMPRESSED)
    assoc = ae.associate(
        "127.0.0.1", port, ae_title="SCP", evt_handlers=[(evt.EVT_N_EVENT_REPORT, on_report)]
    )
    try:
        refs = [(cls, inst), (cls, "1.2.3.404"), ("1.2.840.10008.5.1.4.1.1.4", inst)]
        status, _ = assoc.send_n_action(
            _commit_request(refs, "1.2.3.77"),
            1,
            STORAGE_COMMITMENT_PUSH,
            STORAGE_COMMITMENT_INSTANCE,
        )
        assert status.Status == 0
        event_type, info = reports.get(timeout=T)
    finally:
        assoc.release()
        srv.stop()
    assert event_type == 2 and info.TransactionUID == "1.2.3.77"
    committed = [
        (i.ReferencedSOPClassUID, i.ReferencedSOPInstanceUID) for i in info.ReferencedSOPSequence
    ]
    assert committed == [(cls, inst)]
    failed = {
        i.ReferencedSOPInstanceUID + "/" + i.ReferencedSOPClassUID: i.FailureReason
        for i in info.FailedSOPSequence
    }
    assert failed == {f"1.2.3.404/{cls}": 0x0112, f"{inst}/1.2.840.10008.5.1.4.1.1.4": 0x0119}


def test_pynetdicom_scu_gets_the_report_on_a_reverse_association(tmp_path: Path) -> None:
    """The SCU releases before the SCP has checked its store: the SCP opens an
    association to the SCU's AE (move_destinations), proposing the SCP role."""
    store, cls, inst = _store_with_ct(tmp_path)
    released = threading.Event()

    def locate(uid: str) -> Path | None:
        assert released.wait(T)  # (the pool thread waits; the loop does not)
        return store / safe_filename(uid)

    reports: queue.Queue[Any] = queue.Queue()

    def on_report(event: Any) -> Any:
        reports.put(
            (event.request.EventTypeID, event.event_information, event.assoc.requestor.ae_title)
        )
        return 0x0000, None

    scu_ae = AE(ae_title="PYSCU")
    scu_ae.add_supported_context(
        STORAGE_COMMITMENT_PUSH, UNCOMPRESSED, scu_role=True, scp_role=True
    )
    listener = scu_ae.start_server(
        ("127.0.0.1", 0), block=False, evt_handlers=[(evt.EVT_N_EVENT_REPORT, on_report)]
    )
    srv = SyncServer(
        "SCP",
        store_dir=store,
        storage_commitment=locate,
        acse_timeout=T,
        move_destinations={"PYSCU": ("127.0.0.1", listener.server_address[1])},
    )
    port = srv.start("127.0.0.1", 0)
    try:
        scu_ae.add_requested_context(STORAGE_COMMITMENT_PUSH, UNCOMPRESSED)
        assoc = scu_ae.associate("127.0.0.1", port, ae_title="SCP")
        status, _ = assoc.send_n_action(
            _commit_request([(cls, inst)], "1.2.3.78"),
            1,
            STORAGE_COMMITMENT_PUSH,
            STORAGE_COMMITMENT_INSTANCE,
        )
        assoc.release()
        released.set()
        assert status.Status == 0
        event_type, info, requestor = reports.get(timeout=T)
    finally:
        released.set()
        srv.stop()
        listener.shutdown()
    assert (event_type, info.TransactionUID, requestor) == (1, "1.2.3.78", "SCP")
    assert [i.ReferencedSOPInstanceUID for i in info.ReferencedSOPSequence] == [inst]
    assert "FailedSOPSequence" not in info


class PynetdicomCommitmentSCP:
    """pynetdicom as Storage Commitment SCP: answers the N-ACTION, then reports every
    instance committed, from a thread, on the same association or (``reverse``) on one
    it opens to ``reverse``=(port, AE) proposing the SCP role."""

    def __init__(self, reverse: tuple[int, str] | None = None) -> None:
        ae = AE(ae_title="PYSCP")
        ae.add_supported_context(STORAGE_COMMITMENT_PUSH, UNCOMPRESSED)
        ae.add_requested_context(STORAGE_COMMITMENT_PUSH, UNCOMPRESSED)
        self.errors: list[BaseException] = []

        def report(assoc: Any, info: Any) -> None:
            try:
                ds = Dataset()
                ds.TransactionUID = info.TransactionUID
                ds.ReferencedSOPSequence = info.ReferencedSOPSequence
                if reverse is None:
                    assoc.send_n_event_report(
                        ds, 1, STORAGE_COMMITMENT_PUSH, STORAGE_COMMITMENT_INSTANCE
                    )
                    return
                role = build_role(STORAGE_COMMITMENT_PUSH, scp_role=True)
                back = ae.associate("127.0.0.1", reverse[0], ae_title=reverse[1], ext_neg=[role])
                assert back.is_established, "the reverse association was not accepted"
                status, _ = back.send_n_event_report(
                    ds, 1, STORAGE_COMMITMENT_PUSH, STORAGE_COMMITMENT_INSTANCE
                )
                assert status.Status == 0, status
                back.release()
            except BaseException as exc:  # noqa: BLE001 - the test reports it
                self.errors.append(exc)

        def on_action(event: Any) -> Any:
            info = event.action_information
            threading.Thread(target=report, args=(event.assoc, info), daemon=True).start()
            return 0x0000, None

        self.server = ae.start_server(
            ("127.0.0.1", 0), block=False, evt_handlers=[(evt.EVT_N_ACTION, on_action)]
        )
        self.port = self.server.server_address[1]


def test_the_blocking_scu_gets_the_report_of_pynetdicom_on_its_association() -> None:
    scp = PynetdicomCommitmentSCP()
    refs = [(CT_CLASS, "1.2.3.1"), (CT_CLASS, "1.2.3.2")]
    try:
        with Association.connect(
            "127.0.0.1",
            scp.port,
            called_ae="PYSCP",
            dimse_timeout=T,
            contexts=[(STORAGE_COMMITMENT_PUSH, UNCOMPRESSED)],
        ) as a:
            result = a.commit(refs, timeout=T)
    finally:
        scp.server.shutdown()
    assert not scp.errors
    assert result is not None and result.all_committed
    assert list(result.committed) == refs


def test_the_asyncio_scu_gets_the_report_of_pynetdicom_on_a_reverse_association() -> None:
    results: list[Any] = []

    async def scenario() -> Any:
        got = asyncio.Event()

        def on_commitment(result: Any, info: Any) -> None:
            results.append((result, info.calling_ae))
            loop.call_soon_threadsafe(got.set)

        loop = asyncio.get_running_loop()
        srv = aio.Server("MYSCU", on_commitment=on_commitment, acse_timeout=T)
        port = await srv.start("127.0.0.1", 0)
        scp = PynetdicomCommitmentSCP(reverse=(port, "MYSCU"))
        try:
            async with await aio.connect(
                "127.0.0.1",
                scp.port,
                calling_ae="MYSCU",
                called_ae="PYSCP",
                dimse_timeout=T,
                contexts=[(STORAGE_COMMITMENT_PUSH, UNCOMPRESSED)],
            ) as a:
                direct = await a.commit([(CT_CLASS, "1.2.3.9")], timeout=0.5)
            await asyncio.wait_for(got.wait(), T)
        finally:
            await srv.close()
            scp.server.shutdown()
        assert not scp.errors
        return direct

    direct = asyncio.run(asyncio.wait_for(scenario(), 30))
    assert direct is None  # not on the requesting association
    ((result, calling),) = results
    assert calling == "PYSCP" and result.all_committed
    assert list(result.committed) == [(CT_CLASS, "1.2.3.9")]


# ---- MPPS -------------------------------------------------------------------------------


def test_pynetdicom_mpps_scu_against_the_dicomul_mpps_scp() -> None:
    srv = SyncServer("SCP", mpps=True, acse_timeout=T)
    port = srv.start("127.0.0.1", 0)
    ae = AE(ae_title="MODALITY")
    ae.add_requested_context(MPPS, UNCOMPRESSED)
    assoc = ae.associate("127.0.0.1", port, ae_title="SCP")
    try:
        create = Dataset()
        create.PerformedProcedureStepStatus = "IN PROGRESS"
        create.PatientID = "P1"
        status, _ = assoc.send_n_create(create, MPPS, "1.2.3.500")
        assert status.Status == 0
        status, _ = assoc.send_n_create(create, MPPS, "1.2.3.500")
        assert status.Status == 0x0111  # duplicate
        bad = Dataset()
        bad.PerformedProcedureStepStatus = "COMPLETED"
        status, _ = assoc.send_n_create(bad, MPPS, "1.2.3.501")
        assert status.Status == 0x0106  # a new step must be IN PROGRESS
        done = Dataset()
        done.PerformedProcedureStepStatus = "COMPLETED"
        status, _ = assoc.send_n_set(done, MPPS, "1.2.3.500")
        assert status.Status == 0
        status, _ = assoc.send_n_set(done, MPPS, "1.2.3.500")
        assert status.Status == 0x0110  # may no longer be updated
        status, _ = assoc.send_n_set(done, MPPS, "1.2.3.502")
        assert status.Status == 0x0112  # no such instance
    finally:
        assoc.release()
        srv.stop()
    assert srv.mpps.status("1.2.3.500") == "COMPLETED"
    assert srv.mpps.steps["1.2.3.500"].PatientID == "P1"
    assert "1.2.3.501" not in srv.mpps.steps
