"""The sans-IO DIMSE Session: whole conversations between two Sessions wired in memory
(echo, store, find/get/move with pending responses, C-GET sub-operations, cancel, the
asynchronous operations window 1, 4 and unlimited), fed whole, byte by byte and in
random chunks, hypothesis over interleavings, and the peer's mistakes ending in A-ABORT."""

from __future__ import annotations

import io
import random
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_connection_helpers import chunks

from dicomul.dimse.messages import (
    CEchoRQ,
    CEchoRSP,
    CFindRQ,
    CGetRQ,
    CMoveRQ,
    CStoreRQ,
)
from dicomul.dimse.session import (
    CancelReceived,
    Operation,
    RequestReceived,
    ResponseReceived,
    Session,
)
from dicomul.ul.associate import Associate
from dicomul.ul.connection import Connection, Role, State
from dicomul.ul.constants import IMPLICIT_VR_LITTLE_ENDIAN, VERIFICATION_SOP_CLASS
from dicomul.ul.events import (
    AbortIndication,
    AssociateAcceptResponse,
    AssociateRequest,
    DataRequest,
    ReleaseConfirmation,
    ReleaseIndication,
    ReleaseRequest,
    ReleaseResponse,
)

CT = "1.2.840.10008.5.1.4.1.1.2"
FIND = "1.2.840.10008.5.1.4.1.2.2.1"
MOVE = "1.2.840.10008.5.1.4.1.2.2.2"
GET = "1.2.840.10008.5.1.4.1.2.2.3"
ECHO_CTX, CT_CTX, FIND_CTX, MOVE_CTX, GET_CTX = 1, 3, 5, 7, 9
CONTEXTS = {ECHO_CTX: VERIFICATION_SOP_CLASS, CT_CTX: CT, FIND_CTX: FIND, MOVE_CTX: MOVE,
            GET_CTX: GET}  # fmt: skip


def make_pair(
    window: tuple[int, int] | None = None,
    ac_window: tuple[int, int] | None = None,
    chunking: Any = "whole",
    sink: Any = None,
) -> tuple[Session, Session]:
    """A requestor and an acceptor Session, associated; ``window``: the RQ's 53H item
    (invoked, performed), ``ac_window`` the AC's (default: the RQ's)."""
    rq = Associate(True)
    rq.called, rq.calling = "SCP", "SCU"
    for ctx, abstract in CONTEXTS.items():
        rq.add_presentation(ctx, abstract, 0, [IMPLICIT_VR_LITTLE_ENDIAN])
    rq.set_role_select(CT_CTX, True, 1, 1)  # C-GET: the requestor is also storage SCP
    if window is not None:
        rq.set_async_operations(True, *window)
    ac = Associate(False)
    for ctx in CONTEXTS:
        ac.add_presentation(ctx, CONTEXTS[ctx], 0, [IMPLICIT_VR_LITTLE_ENDIAN])
    ac.set_role_select(CT_CTX, True, 1, 1)
    if window is not None or ac_window is not None:
        ac.set_async_operations(True, *(ac_window or window or (1, 1)))
    r = Session(Connection(Role.REQUESTOR))
    a = Session(Connection(Role.ACCEPTOR), dataset_sink=sink)
    r.connection.send(AssociateRequest(rq))
    r.connection.connection_made()
    a.connection.connection_made()
    pump(r, a, chunking)
    a.connection.send(AssociateAcceptResponse(ac))
    pump(r, a, chunking)
    assert r.connection.state is State.STA6 and a.connection.state is State.STA6
    r.events()
    a.events()
    return r, a


def pump(x: Session, y: Session, chunking: Any = "whole") -> None:
    """Move bytes both ways until neither side has anything queued."""
    for _ in range(10_000):
        moved = False
        for src, dst in ((x, y), (y, x)):
            while bufs := src.data_to_send():
                moved = True
                for piece in chunks(b"".join(bytes(b) for b in bufs), chunking):
                    dst.receive_data(piece)
        if not moved:
            return
    raise AssertionError("the sessions never went quiet")


def of(events: list[Any], cls: type) -> list[Any]:
    return [e for e in events if isinstance(e, cls)]


CHUNKINGS = ["whole", "bytes", random.Random(7)]


@pytest.mark.parametrize("chunking", CHUNKINGS, ids=["whole", "bytes", "random"])
def test_echo(chunking: Any) -> None:
    r, a = make_pair(chunking=chunking)
    op = r.request(ECHO_CTX, CEchoRQ)
    assert op.sent and not op.done and op.message_id == 1
    pump(r, a, chunking)
    (req,) = a.events()
    assert isinstance(req, RequestReceived) and isinstance(req.message, CEchoRQ)
    assert req.message.message_id == 1 and req.operation is None and a.performing == 1
    a.respond(req, 0x0000)
    pump(r, a, chunking)
    (rsp,) = r.events()
    assert isinstance(rsp, ResponseReceived) and isinstance(rsp.message, CEchoRSP)
    assert rsp.final and rsp.operation is op and op.done and op.status == 0
    assert rsp.message.affected_sop_class_uid == VERIFICATION_SOP_CLASS
    assert r.outstanding == 0 and a.performing == 0


@pytest.mark.parametrize("chunking", CHUNKINGS, ids=["whole", "bytes", "random"])
@pytest.mark.parametrize("to_sink", [False, True])
def test_store_with_and_without_a_sink(chunking: Any, to_sink: bool) -> None:
    data = random.Random(1).randbytes(100_001) + b"\0"
    sunk: list[tuple[int, Any]] = []

    def sink(ctx: int, message: Any) -> Any:
        sunk.append((ctx, message))
        return io.BytesIO()

    r, a = make_pair(chunking=chunking, sink=sink if to_sink else None)
    op = r.request(CT_CTX, CStoreRQ, data, affected_sop_instance_uid="1.2.3.4", priority=2)
    pump(r, a, chunking)
    (req,) = a.events()
    assert req.message.affected_sop_instance_uid == "1.2.3.4" and req.message.priority == 2
    assert req.message.affected_sop_class_uid == CT and req.message.has_dataset
    if to_sink:
        assert [(c, m.message_id) for c, m in sunk] == [(CT_CTX, op.message_id)]
        assert isinstance(req.dataset, io.BytesIO) and req.dataset.getvalue() == data
    else:
        assert req.dataset == data
    a.respond(req, 0xB000)
    pump(r, a, chunking)
    (rsp,) = r.events()
    assert rsp.message.affected_sop_instance_uid == "1.2.3.4"  # filled from the request
    assert op.done and op.status == 0xB000


def test_the_session_tells_its_connection_which_messages_have_a_data_set() -> None:
    """The upper layer reads no DIMSE field: the Session's predicate (the command set's
    (0000,0800)) delimits a C-STORE with its data set, an echo and a data set-less
    store. The wire is fed whole and cut in two at every point."""
    data = bytes(range(256)) * 2
    r, a = make_pair()
    r.request(CT_CTX, CStoreRQ, data, affected_sop_instance_uid="1.2.3")
    r.request(ECHO_CTX, CEchoRQ)
    r.invoke_window = 0  # (the third request goes out too)
    r.request(CT_CTX, CStoreRQ, None, affected_sop_instance_uid="1.2.4")
    wire = b"".join(bytes(b) for b in r.data_to_send())
    for cut in range(len(wire) + 1):
        sunk: list[Any] = []

        def sink(ctx: int, message: Any, sunk: list[Any] = sunk) -> Any:
            sunk.append(message.affected_sop_instance_uid)
            return io.BytesIO()

        _r, a = make_pair(sink=sink)
        a.perform_window = 0
        for piece in (wire[:cut], wire[cut:]):
            if piece:
                a.receive_data(piece)
        evs = a.events()
        assert [type(e.message).__name__ for e in evs] == ["CStoreRQ", "CEchoRQ", "CStoreRQ"]
        assert evs[0].dataset.getvalue() == data and sunk == ["1.2.3"]
        assert evs[1].dataset is None and evs[2].dataset is None
        assert a.connection.is_established


@pytest.mark.parametrize("chunking", CHUNKINGS, ids=["whole", "bytes", "random"])
def test_find_with_pending_responses(chunking: Any) -> None:
    r, a = make_pair(chunking=chunking)
    op = r.request(FIND_CTX, CFindRQ, b"query\0")
    pump(r, a, chunking)
    (req,) = a.events()
    assert req.dataset == b"query\0"
    for i in range(3):
        a.respond(req, 0xFF00, f"match{i}".encode())
    a.respond(req, 0x0000)
    pump(r, a, chunking)
    rsps = r.events()
    assert [e.final for e in rsps] == [False, False, False, True]
    assert [e.dataset for e in rsps] == [b"match0", b"match1", b"match2", None]
    assert op.responses == 4 and op.done and op.status == 0


def test_get_counts_its_store_suboperations() -> None:
    r, a = make_pair(window=(1, 1))
    get = r.request(GET_CTX, CGetRQ, b"query\0")
    pump(r, a)
    (req,) = a.events()
    for i in range(3):
        store = a.request(CT_CTX, CStoreRQ, b"pixels", affected_sop_instance_uid=f"1.2.{i}")
        pump(r, a)
        (sub,) = r.events()
        assert isinstance(sub, RequestReceived) and sub.operation is get
        r.respond(sub, 0x0000 if i < 2 else 0xA700)
        pump(r, a)
        (stored,) = a.events()
        assert stored.operation is store and store.status == (0 if i < 2 else 0xA700)
        a.respond(req, 0xFF00, remaining_suboperations=2 - i, completed_suboperations=min(i + 1, 2),
                  failed_suboperations=int(i == 2), warning_suboperations=0)  # fmt: skip
        pump(r, a)
        (pending,) = r.events()
        assert not pending.final and get.remaining == 2 - i
    a.respond(req, 0xB000, completed_suboperations=2, failed_suboperations=1,
              warning_suboperations=0)  # fmt: skip
    pump(r, a)
    (final,) = r.events()
    assert final.final and get.done and get.status == 0xB000
    assert (get.completed, get.failed, get.warning, get.stores_received) == (2, 1, 0, 3)


def test_move_final_counts() -> None:
    r, a = make_pair()
    op = r.request(MOVE_CTX, CMoveRQ, b"query\0", move_destination="DEST")
    pump(r, a)
    (req,) = a.events()
    assert req.message.move_destination == "DEST"
    a.respond(req, 0x0000, completed_suboperations=5, failed_suboperations=0,
              warning_suboperations=0)  # fmt: skip
    pump(r, a)
    assert op.done and op.completed == 5


def test_cancel_a_find() -> None:
    r, a = make_pair()
    op = r.request(FIND_CTX, CFindRQ, b"q\0")
    pump(r, a)
    (req,) = a.events()
    a.respond(req, 0xFF00, b"m1")
    pump(r, a)
    r.events()
    r.cancel(op)
    r.cancel(op)  # once is enough: a second call sends nothing
    pump(r, a)
    (cancel,) = a.events()
    assert isinstance(cancel, CancelReceived) and cancel.request is req.message
    a.respond(req, 0xFE00)
    pump(r, a)
    (rsp,) = r.events()
    assert rsp.final and op.done and op.status == 0xFE00 and op.cancelled


def test_cancel_crossing_the_final_response_is_ignored() -> None:
    r, a = make_pair()
    op = r.request(FIND_CTX, CFindRQ, b"q\0")
    pump(r, a)
    (req,) = a.events()
    a.respond(req, 0x0000)  # final, still in flight when the cancel goes out
    r.cancel(op)
    pump(r, a)
    assert a.events() == [] and op.done and op.status == 0
    assert r.connection.state is State.STA6 and a.connection.state is State.STA6


def test_cancel_of_a_queued_request_never_sends_it() -> None:
    r, a = make_pair(window=(1, 1))
    first = r.request(FIND_CTX, CFindRQ, b"q\0")
    second = r.request(FIND_CTX, CFindRQ, b"q\0")
    assert first.sent and not second.sent
    r.cancel(second)
    assert second.done and second.cancelled and r.outstanding == 1
    pump(r, a)
    assert len(a.events()) == 1


@pytest.mark.parametrize("window", [1, 4, 0], ids=["window 1", "window 4", "unlimited"])
def test_the_window_is_performed(window: int) -> None:
    r, a = make_pair(window=(window, window))
    assert (r.invoke_window, r.perform_window, a.invoke_window, a.perform_window) == (window,) * 4
    ops = [r.request(ECHO_CTX, CEchoRQ) for _ in range(10)]
    expect = window or 10
    assert sum(op.sent for op in ops) == expect
    pump(r, a)
    reqs = a.events()
    assert len(reqs) == expect and a.performing == expect
    answered = 0
    while reqs:  # answer the newest first: responses are matched by message ID
        a.respond(reqs.pop(), 0x0000)
        answered += 1
        pump(r, a)
        reqs += a.events()
    assert all(op.done and op.status == 0 for op in ops) and answered == 10
    assert [e.operation for e in r.events()].count(ops[0]) == 1


def test_no_53h_item_means_one_operation_at_a_time() -> None:
    r, a = make_pair(window=None)
    assert (r.invoke_window, r.perform_window) == (1, 1)
    assert (a.invoke_window, a.perform_window) == (1, 1)


def test_the_acceptor_can_narrow_the_window() -> None:
    r, a = make_pair(window=(8, 2), ac_window=(3, 1))
    assert (r.invoke_window, r.perform_window) == (3, 1)
    assert (a.invoke_window, a.perform_window) == (1, 3)


def test_message_ids_wrap_and_skip_outstanding_ones() -> None:
    r, a = make_pair(window=(0, 0))
    keep = r.request(ECHO_CTX, CEchoRQ)  # message ID 1 stays outstanding
    r._next_id = 0xFFFF  # as after 65,534 requests  # noqa: SLF001
    assert [r.request(ECHO_CTX, CEchoRQ).message_id for _ in range(2)] == [0xFFFF, 2]
    assert keep.message_id == 1


def test_release_ends_what_is_outstanding() -> None:
    r, a = make_pair(window=(2, 2))
    op = r.request(ECHO_CTX, CEchoRQ)
    pump(r, a)
    a.events()
    r.connection.send(ReleaseRequest())
    pump(r, a)
    assert of(a.events(), ReleaseIndication)
    a.connection.send(ReleaseResponse())
    pump(r, a)
    assert of(r.events(), ReleaseConfirmation) and op.done and op.status is None
    assert r.outstanding == 0


# ---- local misuse raises, changes nothing -------------------------------------------


def test_local_misuse_raises() -> None:
    r, a = make_pair()
    with pytest.raises(ValueError, match="not accepted"):
        r.request(99, CEchoRQ)
    with pytest.raises(ValueError, match="not a request"):
        r.request(ECHO_CTX, CEchoRSP)  # type: ignore[arg-type]
    op = r.request(ECHO_CTX, CEchoRQ)
    with pytest.raises(ValueError, match="cannot be cancelled"):
        r.cancel(op)
    pump(r, a)
    (req,) = a.events()
    with pytest.raises(ValueError, match="no pending responses"):
        a.respond(req, 0xFF00)
    a.respond(req, 0)
    with pytest.raises(ValueError, match="not an operation being performed"):
        a.respond(req, 0)
    with pytest.raises(TypeError):
        r.request(CT_CTX, CStoreRQ, b"x")  # no SOP instance UID: refused before sending
    with pytest.raises(ValueError):
        r.request(CT_CTX, CStoreRQ, b"x", affected_sop_instance_uid="1.2", priority=70000)
    assert r.outstanding == 1 and r.data_to_send() == []


# ---- the peer's mistakes end in A-ABORT, never an exception -------------------------


def _raw(session: Session, ctx: int, command: bytes, dataset: bytes | None = None) -> None:
    session.connection.send(DataRequest(ctx, command, dataset))


def _aborted(s: Session) -> AbortIndication:
    (ab,) = of(s.events(), AbortIndication)
    return ab


def test_response_to_nothing_outstanding_aborts() -> None:
    r, a = make_pair()
    _raw(a, ECHO_CTX, CEchoRSP(message_id_being_responded_to=42).encode())
    pump(r, a)
    ab = _aborted(r)
    assert ab.local and "not outstanding" in ab.message
    assert _aborted(a).source == 0  # the peer got the A-ABORT


def test_response_of_the_wrong_kind_aborts() -> None:
    r, a = make_pair()
    op = r.request(FIND_CTX, CFindRQ, b"q\0")
    from dicomul.dimse.messages import CStoreRSP

    _raw(a, FIND_CTX, CStoreRSP(message_id_being_responded_to=op.message_id).encode())
    pump(r, a)
    assert "answers CFindRQ" in _aborted(r).message and op.done


def test_pending_echo_response_aborts() -> None:
    r, a = make_pair()
    r.request(ECHO_CTX, CEchoRQ)
    pump(r, a)
    a.events()
    _raw(a, ECHO_CTX, CEchoRSP(message_id_being_responded_to=1, status=0xFF00).encode())
    pump(r, a)
    assert "pending status" in _aborted(r).message


def test_more_operations_than_the_window_aborts() -> None:
    r, a = make_pair(window=(1, 1))
    r.invoke_window = 0  # a requestor that ignores what was negotiated
    r.request(ECHO_CTX, CEchoRQ)
    r.request(ECHO_CTX, CEchoRQ)
    pump(r, a)
    events = a.events()
    assert len(of(events, RequestReceived)) == 1
    assert "asynchronous operations window" in of(events, AbortIndication)[0].message
    assert of(r.events(), AbortIndication) and r.outstanding == 0


def test_a_command_set_that_does_not_decode_aborts() -> None:
    r, a = make_pair()
    _raw(r, ECHO_CTX, b"\x00\x00\x00\x00\x04\x00\x00\x00\x02\x00\x00\x00")  # length lies
    pump(r, a)
    assert "does not decode" in _aborted(a).message


def test_a_reused_message_id_aborts() -> None:
    r, a = make_pair(window=(0, 0))
    command = CEchoRQ(message_id=5).encode()
    _raw(r, ECHO_CTX, command)
    _raw(r, ECHO_CTX, command)
    pump(r, a)
    assert "still being performed" in _aborted(a).message


# ---- hypothesis: any interleaving of requests and out-of-order answers --------------


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    window=st.sampled_from([1, 2, 4, 0]),
    plan=st.lists(
        st.tuples(
            st.sampled_from(["echo", "store", "find"]), st.integers(0, 3), st.integers(0, 0xFFF)
        ),
        min_size=1,
        max_size=12,
    ),  # fmt: skip
    order=st.randoms(use_true_random=False),
)
def test_any_interleaving_completes_every_operation(
    window: int, plan: list[tuple[str, int, int]], order: random.Random
) -> None:
    r, a = make_pair(window=(window, window), chunking=order)
    ops: list[tuple[Operation, int, int]] = []
    for kind, pendings, status in plan:
        if kind == "echo":
            op = r.request(ECHO_CTX, CEchoRQ)
        elif kind == "store":
            op = r.request(CT_CTX, CStoreRQ, order.randbytes(order.randrange(0, 3000, 2)),
                           affected_sop_instance_uid=f"1.2.{len(ops) + 1}")  # fmt: skip
        else:
            op = r.request(FIND_CTX, CFindRQ, b"q\0")
        ops.append((op, pendings if kind == "find" else 0, status & 0x0FFF))
    want = {op.message_id: (p, s) for op, p, s in ops}
    performing: list[RequestReceived] = []
    for _ in range(1000):
        pump(r, a, order)
        performing += of(a.events(), RequestReceived)
        assert len(performing) <= (window or len(ops))
        if not performing:
            break
        req = performing[order.randrange(len(performing))]  # answer in any order
        left, status = want[req.message.message_id]
        if left:
            want[req.message.message_id] = (left - 1, status)
            a.respond(req, 0xFF00, b"match\0")
        else:
            performing.remove(req)
            a.respond(req, status)
    pump(r, a, order)
    responses = of(r.events(), ResponseReceived)
    for op, pendings, status in ops:
        assert op.done and op.status == status and op.responses == pendings + 1
    assert len(responses) == sum(p + 1 for _, p, _ in ops)
    assert r.outstanding == 0 and a.performing == 0
    assert r.connection.state is State.STA6


# ---- DIMSE-N (issue 11) -----------------------------------------------------------------

COMMIT = "1.2.840.10008.1.20.1"  # Storage Commitment Push Model
COMMIT_INSTANCE = "1.2.840.10008.1.20.1.1"  # its well-known instance


@pytest.mark.parametrize("chunking", CHUNKINGS, ids=["whole", "bytes", "random"])
def test_n_action_then_an_event_report_the_other_way(chunking: Any) -> None:
    """Storage commitment's shape: the requestor's N-ACTION (with a data set) is answered,
    then the acceptor invokes N-EVENT-REPORT on the same association and the requestor
    answers it; the responses carry the object and the C(=) type IDs."""
    from dicomul.dimse.n_messages import NActionRQ, NActionRSP, NEventReportRQ, NEventReportRSP

    r, a = make_pair(chunking=chunking)
    op = r.request(CT_CTX, NActionRQ, b"\x08\x00\x50\x11\x02\x00\x00\x00\x31\x00",
                   requested_sop_class_uid=COMMIT,
                   requested_sop_instance_uid=COMMIT_INSTANCE, action_type_id=1)  # fmt: skip
    pump(r, a, chunking)
    (req,) = a.events()
    assert isinstance(req.message, NActionRQ) and req.message.action_type_id == 1
    assert bytes(req.dataset) == b"\x08\x00\x50\x11\x02\x00\x00\x00\x31\x00"
    a.respond(req, 0x0000)
    pump(r, a, chunking)
    (rsp,) = r.events()
    assert rsp.operation is op and rsp.final and isinstance(rsp.message, NActionRSP)
    assert rsp.message.affected_sop_class_uid == COMMIT
    assert rsp.message.affected_sop_instance_uid == COMMIT_INSTANCE
    assert rsp.message.action_type_id == 1
    report = a.request(CT_CTX, NEventReportRQ, b"\x08\x00\x50\x11\x02\x00\x00\x00\x31\x00",
                       affected_sop_class_uid=COMMIT,
                       affected_sop_instance_uid=COMMIT_INSTANCE, event_type_id=1)  # fmt: skip
    pump(r, a, chunking)
    (ind,) = r.events()
    assert isinstance(ind.message, NEventReportRQ) and ind.message.event_type_id == 1
    r.respond(ind, 0x0000)
    pump(r, a, chunking)
    (conf,) = a.events()
    assert conf.operation is report and isinstance(conf.message, NEventReportRSP)
    assert conf.message.event_type_id == 1 and report.done
    assert r.outstanding == a.outstanding == 0


def test_a_pending_status_for_an_n_service_aborts() -> None:
    from dicomul.dimse.n_messages import NGetRQ, NGetRSP

    r, a = make_pair()
    r.request(CT_CTX, NGetRQ, requested_sop_instance_uid="1.2.3")
    pump(r, a)
    (req,) = a.events()
    assert req.message.requested_sop_class_uid == CT  # the context's abstract syntax
    with pytest.raises(ValueError, match="no pending responses"):
        a.respond(req, 0xFF00)
    rsp = NGetRSP(message_id_being_responded_to=req.message.message_id, status=0xFF00)
    _raw(a, CT_CTX, rsp.encode())
    pump(r, a)
    assert "pending status" in _aborted(r).message
