"""Release (both directions and the PS3.8 release collision), abort, transport closed
(Evt17) in every state, and the ARTIM timer, over two in-memory Connections."""

from __future__ import annotations

import random

import pytest
from test_connection_helpers import (
    associate,
    chunks,
    command,
    drive,
    make_ac,
    pump,
    to_sta3,
    to_sta5,
    transfer,
)

from dicomul.errors import LocalProtocolError
from dicomul.ul import _fsm
from dicomul.ul.connection import Connection, Role, State
from dicomul.ul.events import (
    AbortIndication,
    AbortRequest,
    AssociateAcceptResponse,
    AssociateIndication,
    DataIndication,
    DataRequest,
    ReleaseConfirmation,
    ReleaseIndication,
    ReleaseRequest,
    ReleaseResponse,
    TransportClosed,
)

RQ_PDU = bytes.fromhex("05000000000400000000")
RP_PDU = bytes.fromhex("06000000000400000000")
CHUNKINGS = ["whole", "bytes", random.Random(7)]


def _wire(conn: Connection) -> bytes:
    return b"".join(bytes(b) for b in conn.data_to_send())


# ---- release -------------------------------------------------------------------------------


@pytest.mark.parametrize("chunking", CHUNKINGS, ids=["whole", "bytes", "rand"])
@pytest.mark.parametrize("initiator", ["requestor", "acceptor"])
def test_release(initiator, chunking) -> None:
    r, a = associate(chunking=chunking)
    first, other = (r, a) if initiator == "requestor" else (a, r)
    first.send(ReleaseRequest(), now=1.0)
    assert first.state is State.STA7
    assert transfer(first, other, chunking) == RQ_PDU
    assert other.events() == [ReleaseIndication(collision=False)]
    assert other.state is State.STA8
    other.send(ReleaseResponse(), now=2.0)  # AR-4
    assert other.state is State.STA13
    assert other.timer_deadline() == 2.0 + other.artim_timeout
    assert not other.close_requested  # the releasing side closes first
    assert transfer(other, first, chunking) == RP_PDU
    assert first.events() == [ReleaseConfirmation(), TransportClosed()]  # AR-3
    assert first.state is State.STA1 and first.close_requested
    assert first.timer_deadline() is None
    other.receive_data(b"", now=3.0)  # AR-5
    assert other.events() == [TransportClosed()]
    assert other.state is State.STA1 and other.timer_deadline() is None


def test_data_flows_while_releasing() -> None:
    """AR-6: P-DATA received in Sta7; AR-7: P-DATA sent in Sta8."""
    r, a = associate()
    r.send(ReleaseRequest())
    transfer(r, a)
    assert a.events() == [ReleaseIndication()]
    a.send(DataRequest(1, command(False)))  # AR-7 in Sta8
    assert a.state is State.STA8
    a.send(ReleaseResponse())
    transfer(a, r)
    evs = r.events()
    assert evs == [DataIndication(1, command(False)), ReleaseConfirmation(), TransportClosed()]


def test_release_request_twice_is_a_local_error() -> None:
    r, a = associate()
    r.send(ReleaseRequest())
    with pytest.raises(LocalProtocolError):
        r.send(ReleaseRequest())
    assert _wire(r) == RQ_PDU


@pytest.mark.parametrize("chunking", CHUNKINGS, ids=["whole", "bytes", "rand"])
def test_release_collision(chunking) -> None:
    r, a = associate()
    r.send(ReleaseRequest())
    a.send(ReleaseRequest())
    assert r.state is State.STA7 and a.state is State.STA7
    to_r, to_a = _wire(a), _wire(r)  # both A-RELEASE-RQ cross on the wire
    assert to_r == to_a == RQ_PDU
    transfer_bytes(r, to_r, chunking)
    transfer_bytes(a, to_a, chunking)
    assert r.events() == [ReleaseIndication(collision=True)]  # AR-8
    assert a.events() == [ReleaseIndication(collision=True)]
    assert r.state is State.STA9 and a.state is State.STA10
    # the acceptor must wait for the requestor's answer (Evt14 is blank in Sta10)
    with pytest.raises(LocalProtocolError):
        a.send(ReleaseResponse())
    r.send(ReleaseResponse())  # AR-9
    assert r.state is State.STA11
    assert transfer(r, a, chunking) == RP_PDU
    assert a.events() == [ReleaseConfirmation()]  # AR-10
    assert a.state is State.STA12
    a.send(ReleaseResponse(), now=4.0)  # AR-4
    assert a.state is State.STA13 and a.timer_deadline() == 4.0 + a.artim_timeout
    assert transfer(a, r, chunking) == RP_PDU
    assert r.events() == [ReleaseConfirmation(), TransportClosed()]  # AR-3
    assert r.state is State.STA1 and r.close_requested
    a.receive_data(b"")
    assert a.events() == [TransportClosed()] and a.state is State.STA1


def transfer_bytes(dst: Connection, data: bytes, chunking) -> None:
    for piece in chunks(data, chunking):
        dst.receive_data(piece)


def test_release_collision_initiated_by_acceptor_first() -> None:
    """Who asked first does not matter: the association requestor answers first."""
    r, a = associate()
    a.send(ReleaseRequest())
    r.send(ReleaseRequest())
    pump(r, a)
    assert r.state is State.STA9 and a.state is State.STA10
    r.send(ReleaseResponse())
    pump(r, a)
    a.send(ReleaseResponse())
    pump(r, a)
    assert r.state is State.STA1 and a.state is State.STA13


# ---- abort ---------------------------------------------------------------------------------


@pytest.mark.parametrize("side", ["requestor", "acceptor"])
def test_abort(side) -> None:
    r, a = associate()
    first, other = (r, a) if side == "requestor" else (a, r)
    first.send(AbortRequest(), now=10.0)  # AA-1
    assert first.state is State.STA13
    assert first.timer_deadline() == 10.0 + first.artim_timeout
    assert transfer(first, other) == bytes.fromhex("07000000000400000000")
    assert other.events() == [AbortIndication(0, 0, provider=False), TransportClosed()]  # AA-3
    assert other.state is State.STA1 and other.close_requested
    first.receive_data(b"")
    assert first.events() == [TransportClosed()] and first.state is State.STA1


def test_provider_source_abort_request() -> None:
    r, a = associate()
    r.send(AbortRequest(2, 5))
    transfer(r, a)
    assert a.events() == [AbortIndication(2, 5, provider=True), TransportClosed()]


def test_abort_drops_queued_pdata() -> None:
    r, a = associate()
    # (over pdata.READY_LIMIT: a data set sent a window at a time; a smaller bytes-like
    # one is fragmented when queued and handed out whole, see the test below)
    r.send(DataRequest(3, command(True), b"\1\2" * 200_000))
    first = r.data_to_send(limit=1)  # the command and one window of the data set
    r.send(AbortRequest())
    rest = _wire(r)
    assert rest == bytes.fromhex("07000000000400000000")
    for b in first:
        a.receive_data(bytes(b))
    a.receive_data(rest)
    assert a.events() == [AbortIndication(0, 0, provider=False), TransportClosed()]


def test_a_small_message_is_handed_out_whole_before_an_abort() -> None:
    r, a = associate()
    r.send(DataRequest(3, command(True), b"\1\2" * 1000))
    first = r.data_to_send(limit=1)  # a small message is one ready unit of output
    r.send(AbortRequest())
    assert _wire(r) == bytes.fromhex("07000000000400000000")
    for b in first:
        a.receive_data(bytes(b))
    got = a.events()
    assert type(got[0]) is DataIndication and got[0].dataset == b"\1\2" * 1000
    a.receive_data(bytes.fromhex("07000000000400000000"))
    assert a.events() == [AbortIndication(0, 0, provider=False), TransportClosed()]


# ---- transport closed (Evt17) in every state -------------------------------------------------


@pytest.mark.parametrize("state", range(1, 14))
def test_transport_closed_in_every_state(state) -> None:
    conn, _, _ = drive(state)
    conn.events()
    conn.receive_data(b"")
    evs = conn.events()
    action = _fsm.cell(state, 17)
    if state == 1:
        assert action == "" and evs == [] and conn.state is State.STA1
        return
    assert conn.state is State.STA1
    assert conn.timer_deadline() is None
    if action == "AA-4":  # A-P-ABORT indication
        assert evs == [
            AbortIndication(2, 0, provider=True, message=evs[0].message),
            TransportClosed(),
        ]
    else:
        assert action in ("AA-5", "AR-5") and evs == [TransportClosed()]
    conn.receive_data(b"")  # nothing more happens
    assert conn.events() == []


def test_bytes_after_close_are_ignored() -> None:
    r, a = associate()
    a.receive_data(b"")
    a.events()
    a.receive_data(RQ_PDU)
    assert a.events() == [] and a.state is State.STA1 and not a.pending_output


# ---- ARTIM ---------------------------------------------------------------------------------


def test_artim_started_on_connection_made_for_acceptor() -> None:
    a = Connection(Role.ACCEPTOR, artim_timeout=5.0)
    assert a.timer_deadline() is None
    a.connection_made(now=100.0)  # AE-5
    assert a.state is State.STA2 and a.timer_deadline() == 105.0
    a.handle_timer(104.999)
    assert a.state is State.STA2 and a.events() == []
    a.handle_timer(105.0)  # Evt18 in Sta2: AA-2
    assert a.state is State.STA1 and a.close_requested
    assert a.events() == [TransportClosed()]
    assert a.timer_deadline() is None
    a.handle_timer(1000.0)
    assert a.events() == []


def test_no_artim_for_requestor_connect() -> None:
    r, a = to_sta5()
    assert r.timer_deadline() is None
    r.handle_timer(1e9)
    assert r.state is State.STA5


def test_artim_stopped_by_associate_rq() -> None:
    r, a = to_sta5()
    assert a.timer_deadline() == a.artim_timeout  # to_sta5 made it at now=0
    a.receive_data(_wire(r), now=1.0)  # AE-6 stops ARTIM
    assert isinstance(a.events()[0], AssociateIndication)
    assert a.timer_deadline() is None
    a.handle_timer(1e9)
    assert a.state is State.STA3


def test_artim_in_sta13_after_abort() -> None:
    r, a = associate()
    r.send(AbortRequest(), now=50.0)
    assert r.timer_deadline() == 50.0 + r.artim_timeout
    r.data_to_send()
    r.handle_timer(50.0 + r.artim_timeout)  # AA-2
    assert r.state is State.STA1 and r.events() == [TransportClosed()] and r.close_requested


def test_artim_after_release_response() -> None:
    r, a = associate(artim_timeout=2.5)
    r.send(ReleaseRequest())
    transfer(r, a)
    a.events()
    a.send(ReleaseResponse(), now=7.0)
    assert a.timer_deadline() == 9.5
    a.handle_timer(9.5)
    assert a.state is State.STA1 and a.events() == [TransportClosed()]


def test_artim_now_is_remembered_across_entry_points() -> None:
    """Entry points without now= use the last time seen."""
    r, a = to_sta3()
    a.events()
    a.handle_timer(40.0)  # no deadline: only the clock moves
    a.send(AssociateAcceptResponse(make_ac()))
    a.send(AbortRequest())  # AA-1 with no now=: uses 40.0
    assert a.timer_deadline() == 40.0 + a.artim_timeout


def test_handle_timer_without_deadline_is_harmless() -> None:
    r, a = associate()
    r.handle_timer(1e12)
    assert r.state is State.STA6 and r.events() == [] and not r.pending_output
