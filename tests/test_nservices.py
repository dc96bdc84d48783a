"""DIMSE-N above the Session (dicomul.storage.normalized), Storage Commitment's sans-IO
part (dicomul.storage.commitment), the MPPS SCP's state (dicomul.storage.mpps), and the
N-services of dicomul's own requestors and servers against each other over 127.0.0.1,
both APIs: service dispatch, handler failures, undecodable data sets, the commitment
report on the same association and on a reverse one, MPPS transitions, negotiation.
Every wait is bounded."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path
from typing import Any

import pydicom
import pytest
from pydicom.dataset import Dataset

from dicomul import aio
from dicomul.dimse import n_messages as N
from dicomul.dimse.sop import MPPS, STORAGE_COMMITMENT_INSTANCE, STORAGE_COMMITMENT_PUSH
from dicomul.errors import ContextNotAccepted
from dicomul.storage import commitment as C
from dicomul.storage.mpps import MPPSStore
from dicomul.storage.normalized import (
    NReply,
    NRequest,
    n_invocation,
    n_reply,
    n_request,
    reply_fields,
)
from dicomul.storage.part10 import encode_dataset
from dicomul.storage.writer import safe_filename
from dicomul.sync import Server as SyncServer
from dicomul.sync.services import Association

pytestmark = pytest.mark.timeout(60)

T = 10.0
EXPLICIT = "1.2.840.10008.1.2.1"
UNCOMPRESSED = [EXPLICIT, "1.2.840.10008.1.2"]
DATA = Path(pydicom.__file__).parent / "data" / "test_files"
CT = DATA / "CT_small.dcm"
CT_CLASS = "1.2.840.10008.5.1.4.1.1.2"
PRINTER = "1.2.840.10008.5.1.1.16"


#: An undefined-length UN element that never ends: pydicom cannot decode it.
BAD = b"\x10\x00\x10\x00UN\x00\x00\xff\xff\xff\xff\x01\x02"


def _ds(**kw: Any) -> Dataset:
    ds = Dataset()
    for k, v in kw.items():
        setattr(ds, k, v)
    return ds


# ---- normalized: requests and replies ----------------------------------------------------


@pytest.mark.parametrize(
    "operation, kw, cls",
    [
        ("N-GET", {"attributes": [0x00100010]}, N.NGetRQ),
        ("N-SET", {"dataset": _ds(PatientID="1")}, N.NSetRQ),
        ("N-ACTION", {"type_id": 1, "dataset": _ds(PatientID="1")}, N.NActionRQ),
        ("N-CREATE", {"dataset": _ds(PatientID="1")}, N.NCreateRQ),
        ("N-DELETE", {}, N.NDeleteRQ),
        ("N-EVENT-REPORT", {"type_id": 2}, N.NEventReportRQ),
    ],
)
def test_each_invocation_builds_its_request(operation: str, kw: dict[str, Any], cls: type) -> None:
    got, data, fields = n_invocation(operation, PRINTER, "1.2.3", EXPLICIT, **kw)
    assert got is cls
    assert (data is not None) == ("dataset" in kw)
    message = cls(message_id=1, **fields)  # the fields are the message's own
    if operation in ("N-CREATE", "N-EVENT-REPORT"):
        assert message.affected_sop_instance_uid == "1.2.3"
    else:
        assert message.requested_sop_instance_uid == "1.2.3"


@pytest.mark.parametrize(
    "operation, kw, needs",
    [
        ("N-GET", {"dataset": _ds(PatientID="1")}, "no data set"),
        ("N-SET", {}, "Modification List"),
        ("N-ACTION", {}, "Action Type ID"),
        ("N-EVENT-REPORT", {}, "Event Type ID"),
        ("N-DELETE", {"dataset": _ds(PatientID="1")}, "no data set"),
        ("C-ECHO", {}, "not a DIMSE-N operation"),
    ],
)
def test_invocations_missing_what_they_need_say_so(
    operation: str, kw: dict[str, Any], needs: str
) -> None:
    with pytest.raises(ValueError, match=needs):
        n_invocation(operation, PRINTER, "1.2.3", EXPLICIT, **kw)


def test_only_n_create_may_leave_the_instance_out() -> None:
    for operation in ("N-GET", "N-SET", "N-ACTION", "N-DELETE", "N-EVENT-REPORT"):
        with pytest.raises(ValueError, match="SOP Instance UID"):
            n_invocation(operation, PRINTER, None, EXPLICIT)
    assert n_invocation("N-CREATE", PRINTER, None, EXPLICIT)[0] is N.NCreateRQ


def test_a_create_without_an_instance_gets_one_and_the_reply_carries_it() -> None:
    cls, data, fields = n_invocation("N-CREATE", MPPS, None, EXPLICIT, dataset=_ds(PatientID="7"))
    msg = cls(message_id=3, **fields)
    req = n_request(msg, data, EXPLICIT, 1)
    assert req.operation == "N-CREATE" and req.sop_instance_uid.startswith("2.25.")
    assert req.dataset.PatientID == "7"
    data, rsp = reply_fields(
        req, NReply(status=0x0106, error_comment="bad", offending_element=(0x00400252,)), EXPLICIT
    )
    assert data is None and rsp["affected_sop_instance_uid"] == req.sop_instance_uid
    assert rsp["error_comment"] == "bad" and rsp["offending_element"] == (0x00400252,)


@pytest.mark.parametrize(
    "answer, status, has_data",
    [
        (None, 0, False),
        (0x0112, 0x0112, False),
        ((0x0001, _ds(PatientID="x")), 1, True),
        (_ds(PatientID="x"), 0, True),
        (NReply(status=0x0110), 0x0110, False),
    ],
)
def test_what_a_handler_may_answer(answer: Any, status: int, has_data: bool) -> None:
    reply = n_reply(answer)
    assert reply.status == status and (reply.dataset is not None) == has_data


def test_a_request_whose_data_set_does_not_decode_raises_storage_error() -> None:
    from dicomul.storage.part10 import StorageError

    msg = N.NSetRQ(message_id=1, requested_sop_class_uid=MPPS, requested_sop_instance_uid="1.2")
    with pytest.raises(StorageError):
        n_request(msg, BAD, EXPLICIT, 1)


# ---- commitment: request, check, report ---------------------------------------------------


def test_action_and_report_round_trip() -> None:
    refs = [(CT_CLASS, "1.2.3.1"), (CT_CLASS, "1.2.3.2")]
    txn, refs_back = C.parse_action(C.action_dataset(refs, "1.2.3.9"))
    assert (txn, refs_back) == ("1.2.3.9", refs)
    event, report = C.report_dataset(txn, refs[:1], [(CT_CLASS, "1.2.3.2", 0x0112)])
    assert event == C.EVENT_FAILURES
    result = C.parse_report(report, event)
    assert result.committed == (refs[0],) and result.failed == ((CT_CLASS, "1.2.3.2", 0x0112),)
    assert not result.all_committed
    event, report = C.report_dataset(txn, refs, [])
    assert event == C.EVENT_SUCCESS and "FailedSOPSequence" not in report
    assert C.parse_report(report, event).all_committed


@pytest.mark.parametrize(
    "ds, why",
    [
        (None, "no data set"),
        (_ds(PatientID="1"), "Transaction UID"),
        (_ds(TransactionUID="1.2"), "empty"),
    ],
)
def test_a_bad_commitment_request_says_what_is_wrong(ds: Any, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        C.parse_action(ds)


def test_a_failure_report_without_failures_is_refused() -> None:
    with pytest.raises(ValueError, match="Failed SOP Sequence"):
        C.parse_report(_ds(TransactionUID="1.2"), C.EVENT_FAILURES)


def test_the_store_commits_only_what_it_holds_intact(tmp_path: Path) -> None:
    ct = pydicom.dcmread(CT)
    inst = str(ct.SOPInstanceUID)
    whole = tmp_path / "whole.dcm"
    shutil.copyfile(CT, whole)
    cut = tmp_path / "cut.dcm"
    cut.write_bytes(CT.read_bytes()[: CT.stat().st_size // 2])
    paths = {inst: whole, "1.2.3.cut": cut}
    refs = [
        (CT_CLASS, inst),
        ("1.2.840.10008.5.1.4.1.1.4", inst),
        (CT_CLASS, "1.2.3.none"),
        (CT_CLASS, "1.2.3.cut"),
        (CT_CLASS, inst),
    ]
    committed, failed = C.check_references(refs, paths.get)
    assert committed == [(CT_CLASS, inst)]  # (once, though asked twice)
    assert failed == [
        ("1.2.840.10008.5.1.4.1.1.4", inst, 0x0119),
        (CT_CLASS, "1.2.3.none", 0x0112),
        (CT_CLASS, "1.2.3.cut", 0x0110),
    ]


def test_references_from_pairs_datasets_and_files() -> None:
    ct = pydicom.dcmread(CT)
    pair = (str(ct.SOPClassUID), str(ct.SOPInstanceUID))
    assert C.references_of([pair, ct, CT, str(CT)]) == [pair] * 4


# ---- MPPS state -------------------------------------------------------------------------


def _mpps(operation: str, uid: str, **attrs: Any) -> NRequest:
    return NRequest(
        operation=operation, sop_class_uid=MPPS, sop_instance_uid=uid, dataset=_ds(**attrs)
    )


def test_mpps_transitions() -> None:
    changes: list[str] = []
    store = MPPSStore(on_change=lambda uid, ds: changes.append(ds.PerformedProcedureStepStatus))
    assert store.n_create(_mpps("N-CREATE", "1", PatientID="P")).status == 0x0120 + 1  # missing
    ok = store.n_create(_mpps("N-CREATE", "1", PerformedProcedureStepStatus="IN PROGRESS"))
    assert ok.status == 0
    dup = store.n_create(_mpps("N-CREATE", "1", PerformedProcedureStepStatus="IN PROGRESS"))
    assert dup.status == 0x0111
    bad = store.n_set(_mpps("N-SET", "1", PerformedProcedureStepStatus="PAUSED"))
    assert bad.status == 0x0106 and bad.offending_element == (0x00400252,)
    assert store.n_set(_mpps("N-SET", "1", PatientID="P2")).status == 0
    assert store.n_set(_mpps("N-SET", "1", PerformedProcedureStepStatus="DISCONTINUED")).status == 0
    late = store.n_set(_mpps("N-SET", "1", PatientID="P3"))
    assert late.status == 0x0110 and "no longer" in (late.error_comment or "")
    assert store.n_set(_mpps("N-SET", "2", PatientID="P")).status == 0x0112
    assert store.status("1") == "DISCONTINUED" and store.steps["1"].PatientID == "P2"
    assert changes == ["IN PROGRESS", "IN PROGRESS", "DISCONTINUED"]


# ---- dicomul to dicomul -------------------------------------------------------------------


async def _connect(port: int, called_ae: str, sop_class: str, **kw: Any) -> aio.Association:
    """An association to the server on ``port`` with one context for ``sop_class``."""
    return await aio.connect(
        "127.0.0.1",
        port,
        called_ae=called_ae,
        dimse_timeout=T,
        contexts=[(sop_class, UNCOMPRESSED)],
        **kw,
    )


def run(coro: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coro, 30))


class Failing:
    def n_get(self, req: NRequest) -> Any:
        raise RuntimeError("boom")

    async def n_action(self, req: NRequest) -> Any:
        return NReply(status=0x0001, dataset=_ds(PatientID=str(req.type_id)))


def test_handler_failures_and_undecodable_data_sets_are_processing_failures() -> None:
    async def scenario() -> None:
        srv = aio.Server("SCP", n_services={PRINTER: Failing()}, acse_timeout=T)
        port = await srv.start()
        try:
            async with await _connect(port, "SCP", PRINTER) as a:
                assert (await a.n_get(PRINTER, "1.2.3")).status == 0x0110
                got = await a.n_action(PRINTER, "1.2.3", 5)
                assert got.status == 0x0001 and got.dataset.PatientID == "5"
                assert (await a.n_delete(PRINTER, "1.2.3")).status == 0x0211  # no method
                # a data set that is not one: answered 0x0110, the association lives on
                pc_id = a._core.context(PRINTER, "test")
                op = a._core.invoke(
                    pc_id,
                    N.NActionRQ,
                    BAD,
                    action_type_id=1,
                    requested_sop_class_uid=PRINTER,
                    requested_sop_instance_uid="1.2.3",
                )
                a._pump()
                rsp = await a._next(op)
                assert rsp.message.status == 0x0110
                assert (await a.n_get(PRINTER, "1.2.3")).status == 0x0110  # still up
                with pytest.raises(ContextNotAccepted):
                    await a.n_get(MPPS, "1.2.3")
        finally:
            await srv.close()

    run(scenario())


def test_the_default_contexts_offer_what_the_server_performs() -> None:
    srv = aio.Server("SCP", mpps=True, storage_commitment=True)
    assert srv.n_sop_classes == (STORAGE_COMMITMENT_PUSH, MPPS)
    assert aio.Server("SCP").n_sop_classes == ()
    from dicomul.dimse.policy import base_contexts

    assert MPPS in base_contexts(srv) and MPPS not in base_contexts(aio.Server("SCP"))


def _store_ct(tmp_path: Path) -> tuple[Path, tuple[str, str]]:
    store = tmp_path / "store"
    store.mkdir()
    ct = pydicom.dcmread(CT)
    shutil.copyfile(CT, store / safe_filename(str(ct.SOPInstanceUID)))
    return store, (str(ct.SOPClassUID), str(ct.SOPInstanceUID))


def test_blocking_commit_against_the_blocking_server(tmp_path: Path) -> None:
    store, ref = _store_ct(tmp_path)
    srv = SyncServer("SCP", store_dir=store, storage_commitment=True, acse_timeout=T)
    port = srv.start()
    try:
        with Association.connect(
            "127.0.0.1",
            port,
            called_ae="SCP",
            dimse_timeout=T,
            contexts=[(STORAGE_COMMITMENT_PUSH, UNCOMPRESSED)],
        ) as a:
            result = a.commit([ref, (CT_CLASS, "1.2.3.4")], timeout=T)
            assert result is not None
            assert result.committed == (ref,) and result.failed == ((CT_CLASS, "1.2.3.4", 0x0112),)
            # a refused request raises: an Action Type that does not exist
            bad = a.n_action(
                STORAGE_COMMITMENT_PUSH,
                STORAGE_COMMITMENT_INSTANCE,
                9,
                C.action_dataset([ref], "1.2.5"),
            )
            assert bad.status == 0x0123
            with pytest.raises(C.CommitmentRefused, match="invalid argument"):
                a.commit([], timeout=1)
    finally:
        srv.stop()


def test_the_report_comes_on_a_new_association_once_the_first_is_gone(tmp_path: Path) -> None:
    """dicomul SCP -> dicomul SCU, both asyncio: the requestor releases at once, the SCP
    opens an association to it (its AE in move_destinations) and reports there."""
    store, ref = _store_ct(tmp_path)

    async def scenario() -> Any:
        got: asyncio.Queue[Any] = asyncio.Queue()

        async def on_commitment(result: Any, info: Any) -> None:
            await got.put((result, info.calling_ae, info.request.role_selections))

        scu = aio.Server("MODALITY", on_commitment=on_commitment, acse_timeout=T)
        scu_port = await scu.start()
        scp = aio.Server(
            "ARCHIVE",
            store_dir=store,
            storage_commitment=True,
            acse_timeout=T,
            move_destinations={"MODALITY": ("127.0.0.1", scu_port)},
        )
        port = await scp.start()
        try:
            async with await _connect(
                port, "ARCHIVE", STORAGE_COMMITMENT_PUSH, calling_ae="MODALITY"
            ) as a:
                txn, call = C.commitment_request([ref], "1.2.3.42")
                assert (await a.n_action(**call)).status == 0
            return await asyncio.wait_for(got.get(), T)
        finally:
            await scp.close()
            await scu.close()

    result, calling, roles = run(scenario())
    assert calling == "ARCHIVE" and result.transaction_uid == "1.2.3.42"
    assert result.committed == (ref,) and result.all_committed
    assert roles[STORAGE_COMMITMENT_PUSH] == (0, 1)  # the SCP proposed the SCP role


def test_mpps_through_the_blocking_requestor() -> None:
    srv = SyncServer("SCP", mpps=True, acse_timeout=T)
    port = srv.start()
    try:
        with Association.connect(
            "127.0.0.1", port, called_ae="SCP", dimse_timeout=T, contexts=[(MPPS, UNCOMPRESSED)]
        ) as a:
            made = a.n_create(MPPS, _ds(PerformedProcedureStepStatus="IN PROGRESS"))
            assert made.status == 0 and made.sop_instance_uid.startswith("2.25.")
            done = _ds(PerformedProcedureStepStatus="COMPLETED")
            assert a.n_set(MPPS, made.sop_instance_uid, done).status == 0
            again = a.n_set(MPPS, made.sop_instance_uid, done)
            assert again.status == 0x0110
            assert again.message.error_comment.startswith("Performed Procedure Step")
            assert a.n_get(MPPS, made.sop_instance_uid).status == 0x0211  # not an MPPS op
    finally:
        srv.stop()
    assert srv.mpps.status(made.sop_instance_uid) == "COMPLETED"


def test_a_requestor_answers_event_reports_with_its_hook_or_refuses_them() -> None:
    """The SCP side sends N-EVENT-REPORTs back on the association: with no hook those of
    other SOP classes are refused (0x0211); with one, its answer goes back."""

    class Reporter:
        async def n_action(self, req: NRequest) -> Any:
            answers.append(await req.peer.event_report(PRINTER, "1.2.3", 4, _ds(PatientID="e")))
            return 0

    answers: list[Any] = []

    async def scenario() -> None:
        srv = aio.Server("SCP", n_services={PRINTER: Reporter()}, acse_timeout=T)
        port = await srv.start()
        try:
            async with await _connect(port, "SCP", PRINTER) as a:
                assert (await a.n_action(PRINTER, "1.2.3", 1)).status == 0
                seen: list[NRequest] = []
                a.on_event_report = lambda req: (seen.append(req), (0x0001, _ds(PatientID="r")))[1]
                assert (await a.n_action(PRINTER, "1.2.3", 1)).status == 0
                assert seen[0].type_id == 4 and seen[0].dataset.PatientID == "e"
        finally:
            await srv.close()

    run(scenario())
    assert answers[0].status == 0x0211
    assert answers[1].status == 0x0001 and answers[1].dataset.PatientID == "r"


def test_encoded_requests_decode_as_pydicom_reads_them() -> None:
    """The N-ACTION data set is the standard's bytes: pydicom reads it back."""
    ds = C.action_dataset([(CT_CLASS, "1.2.3")], "1.2.9")
    raw = encode_dataset(ds, EXPLICIT)
    from io import BytesIO

    back = pydicom.dcmread(BytesIO(raw), force=True)
    assert back.TransactionUID == "1.2.9"
    assert back.ReferencedSOPSequence[0].ReferencedSOPInstanceUID == "1.2.3"


def test_a_report_nobody_can_receive_is_logged_and_the_server_goes_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The requestor releases before its report is ready and is not in
    move_destinations (or its port refuses): the SCP logs that it cannot report and
    keeps serving."""
    import socket
    import threading

    store, ref = _store_ct(tmp_path)
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    released = threading.Event()

    def locate(uid: str) -> Path | None:
        released.wait(T)  # (in the pool: the report is made after the release)
        return store / safe_filename(uid)

    async def scenario() -> None:
        scp = aio.Server(
            "ARCHIVE",
            storage_commitment=locate,
            acse_timeout=T,
            move_destinations={"GONE": ("127.0.0.1", dead)},
        )
        port = await scp.start()
        try:
            for calling in ("NOBODY", "GONE"):
                async with await _connect(
                    port, "ARCHIVE", STORAGE_COMMITMENT_PUSH, calling_ae=calling
                ) as a:
                    _txn, call = C.commitment_request([ref])
                    assert (await a.n_action(**call)).status == 0
            released.set()
            loop = asyncio.get_running_loop()
            end = loop.time() + T
            while "report to 'GONE'" not in caplog.text and loop.time() < end:
                await asyncio.sleep(0.02)
            async with await _connect(
                port, "ARCHIVE", STORAGE_COMMITMENT_PUSH
            ) as a:  # still serving
                assert (await a.commit([ref], timeout=T)).all_committed
        finally:
            released.set()
            await scp.close()

    with caplog.at_level("INFO", logger="dicomul"):
        run(scenario())
    assert "'NOBODY' is not in move_destinations" in caplog.text
    assert "cannot send the commitment report to 'GONE'" in caplog.text


def test_the_destinations_file(tmp_path: Path) -> None:
    from dicomul.cli.qrscp import read_destinations

    good = tmp_path / "good.txt"
    good.write_text("# AE host port\nVIEWER 10.0.0.1 104\n\nOFFSITE backup 2762 tls  # x\n")
    dests = read_destinations(str(good))
    assert dests["VIEWER"] == ("10.0.0.1", 104)
    assert dests["OFFSITE"][:2] == ("backup", 2762) and dests["OFFSITE"][2] is not None
    for line, why in (
        ("A b", "expected"),
        ("A b 0", "not a TCP port"),
        ("A b 99999", "not a TCP port"),
        ("AVERYLONGAETITLE17 b 1", "AE title"),
        ("A b 1 ssl", "expected"),
    ):
        bad = tmp_path / "bad.txt"
        bad.write_text(f"# header\n{line}\n")
        with pytest.raises(ValueError, match=f"bad.txt:2: .*{why}"):
            read_destinations(str(bad))
    with pytest.raises(ValueError, match="nowhere.txt"):
        read_destinations(str(tmp_path / "nowhere.txt"))
