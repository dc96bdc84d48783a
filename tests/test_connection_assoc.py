"""Association establishment over two in-memory Connections, and local requests that
PS3.8 Table 9-10 forbids (every state x every request type)."""

from __future__ import annotations

import random

import pytest
from test_connection_helpers import (
    REQUEST_EVENT,
    REQUEST_TYPES,
    associate,
    drive,
    make_ac,
    make_rq,
    new_pair,
    pump,
    request_for,
    to_sta3,
    to_sta5,
    transfer,
    types_of,
    wire_pdus,
)

from dicomul.errors import LocalProtocolError
from dicomul.ul import _fsm
from dicomul.ul.connection import Connection, Role, State
from dicomul.ul.constants import EXPLICIT_VR_LITTLE_ENDIAN, IMPLICIT_VR_LITTLE_ENDIAN
from dicomul.ul.events import (
    AbortIndication,
    AbortRequest,
    AssociateAcceptConfirmation,
    AssociateAcceptResponse,
    AssociateIndication,
    AssociateRejectConfirmation,
    AssociateRejectResponse,
    AssociateRequest,
    DataRequest,
    ReleaseRequest,
    TransportClosed,
)

CHUNKINGS = ["whole", "bytes", random.Random(1), random.Random(2)]


# ---- accept ---------------------------------------------------------------------------------


@pytest.mark.parametrize("chunking", CHUNKINGS, ids=["whole", "bytes", "rand1", "rand2"])
def test_accept_events_on_both_sides(chunking) -> None:
    rq, ac = make_rq(32768), make_ac(20000)
    r, a = to_sta5(rq)
    assert r.state is State.STA5 and a.state is State.STA2
    assert r.events() == [] and a.events() == []
    transfer(r, a, chunking)
    evs = a.events()
    assert len(evs) == 1 and isinstance(evs[0], AssociateIndication)
    got = evs[0].associate
    assert got.called == "STORESCP" and got.calling == "STORESCU"
    assert [pc.id for pc in got.presentation_contexts] == [1, 3, 5]
    assert got.max_length == 32768
    assert a.state is State.STA3
    assert a.timer_deadline() is None  # AE-6 stops ARTIM
    a.send(AssociateAcceptResponse(ac))
    assert a.state is State.STA6
    assert types_of(b"".join(bytes(b) for b in a.data_to_send())) == [2]
    assert a.pending_output is False
    # put the AC back for the requestor via a fresh pair (same input), chunked
    r2, a2 = to_sta3(make_rq(32768))
    a2.events()
    a2.send(AssociateAcceptResponse(make_ac(20000)))
    transfer(a2, r2, chunking)
    evs = r2.events()
    assert len(evs) == 1 and isinstance(evs[0], AssociateAcceptConfirmation)
    assert r2.state is State.STA6 and r2.is_established
    # each side knows what the other can receive
    assert r2.peer_max_length == 20000
    assert a2.peer_max_length == 32768
    assert a.peer_max_length == 32768


def test_accepted_contexts_on_both_sides() -> None:
    r, a = associate()
    want = {1: ("1.2.840.10008.1.1", IMPLICIT_VR_LITTLE_ENDIAN),
            3: ("1.2.840.10008.5.1.4.1.1.2", EXPLICIT_VR_LITTLE_ENDIAN)}  # fmt: skip
    assert r.accepted_contexts == want
    assert a.accepted_contexts == want
    assert 5 not in r.accepted_contexts


def test_ac_abstract_syntaxes_backfilled() -> None:
    r, a = to_sta3()
    a.send(AssociateAcceptResponse(make_ac()))
    transfer(a, r)
    (ev,) = r.events()
    pcs = {pc.id: pc for pc in ev.associate.presentation_contexts}
    assert pcs[3].abstract_syntax == "1.2.840.10008.5.1.4.1.1.2"
    assert pcs[5].result == 3


@pytest.mark.parametrize("ac_titles", [None, ("OTHER", "TITLES")])
def test_ac_ae_titles_echo_the_rq(ac_titles) -> None:
    r, a = to_sta3(make_rq(called="  SCP1", calling="SCU-9 "))
    a.events()
    ac = make_ac()
    if ac_titles:
        ac.called, ac.calling = ac_titles
    a.send(AssociateAcceptResponse(ac))
    wire = b"".join(bytes(b) for b in a.data_to_send())
    assert wire[0] == 2
    assert wire[10:26] == b"SCP1".ljust(16) and wire[26:42] == b"SCU-9".ljust(16)
    r.receive_data(wire)
    (ev,) = r.events()
    assert ev.associate.called == "SCP1" and ev.associate.calling == "SCU-9"


def test_ac_echoes_rq_titles_that_fail_validation() -> None:
    """A peer's RQ is decoded tolerantly; echoing odd titles must not raise."""
    r, a = to_sta5()
    wire = bytearray(b"".join(bytes(b) for b in r.data_to_send()))
    wire[10:26] = b" " * 16  # all-spaces called AE title: invalid, but echoed as received
    wire[26:42] = b"A\\B".ljust(16)
    a.receive_data(bytes(wire))
    assert isinstance(a.events()[0], AssociateIndication)
    a.send(AssociateAcceptResponse(make_ac()))
    out = b"".join(bytes(b) for b in a.data_to_send())
    assert out[0] == 2 and out[10:26] == b" " * 16 and out[26:42] == b"A\\B".ljust(16)
    assert a.state is State.STA6


def test_peer_max_length_absent_and_unlimited() -> None:
    r, a = associate(make_rq(None), make_ac(0))
    assert r.peer_max_length == 0  # the acceptor announced "no maximum"
    assert a.peer_max_length == 16384  # no 51H item: conservative default


def test_requestor_rq_is_encoded_when_sent() -> None:
    """The RQ is checked and encoded by send(); later changes to the handle don't leak."""
    rq = make_rq()
    r = Connection(Role.REQUESTOR)
    r.send(AssociateRequest(rq))
    rq.called = "CHANGED"
    r.connection_made()
    wire = b"".join(bytes(b) for b in r.data_to_send())
    assert wire[10:26] == b"STORESCP".ljust(16)


def test_bad_requests_raise_value_error_and_change_nothing() -> None:
    r = Connection(Role.REQUESTOR)
    bad = make_rq()
    bad.del_presentation(1)
    bad.del_presentation(3)
    bad.del_presentation(5)
    with pytest.raises(ValueError):
        r.send(AssociateRequest(bad))
    assert r.state is State.STA1 and not r.pending_output
    with pytest.raises(ValueError):
        r.send(AssociateRequest(make_ac()))
    with pytest.raises(TypeError):
        r.send("A-ASSOCIATE")  # type: ignore[arg-type]
    a = Connection(Role.ACCEPTOR)
    with pytest.raises(LocalProtocolError):
        a.send(AssociateRequest(make_rq()))
    assert a.state is State.STA1
    r2, a2 = to_sta3()
    with pytest.raises(ValueError):
        a2.send(AssociateRejectResponse(1, 1, 4))  # reserved reason
    with pytest.raises(ValueError):
        a2.send(AssociateAcceptResponse(make_rq()))
    assert a2.state is State.STA3 and not a2.pending_output
    r3, a3 = associate()
    with pytest.raises(ValueError):
        r3.send(DataRequest(5, b"\0\0"))  # rejected context
    with pytest.raises(ValueError):
        r3.send(AbortRequest(0, 3))
    assert r3.state is State.STA6 and not r3.pending_output


def test_data_request_refused_when_peer_max_length_too_small() -> None:
    r, a = associate(ac=make_ac(7))
    with pytest.raises(ValueError):
        r.send(DataRequest(1, b"\0\0\0\0"))
    assert r.state is State.STA6 and not r.pending_output


# ---- reject -----------------------------------------------------------------------------------


@pytest.mark.parametrize("codes", [(1, 1, 1), (1, 1, 2), (2, 1, 3), (1, 1, 7), (2, 2, 1),
                                   (1, 2, 2), (2, 3, 1), (1, 3, 2)])  # fmt: skip
def test_reject_by_user(codes) -> None:
    r, a = to_sta3()
    a.events()
    a.send(AssociateRejectResponse(*codes), now=100.0)
    assert a.state is State.STA13
    assert a.timer_deadline() == 100.0 + a.artim_timeout  # AE-8 starts ARTIM
    wire = transfer(a, r, "bytes")
    assert wire == bytes([3, 0, 0, 0, 0, 4, 0, *codes])
    assert r.events() == [AssociateRejectConfirmation(*codes), TransportClosed()]
    assert r.state is State.STA1 and r.close_requested  # AE-4
    assert a.events() == []


def test_rejecting_acceptor_closes_when_requestor_closes() -> None:
    r, a = to_sta3()
    a.events()
    a.send(AssociateRejectResponse(1, 1, 1))
    transfer(a, r)
    a.receive_data(b"")  # Evt17 in Sta13: AR-5
    assert a.state is State.STA1
    assert a.events() == [TransportClosed()]
    assert a.timer_deadline() is None


def test_rejecting_acceptor_closes_on_artim() -> None:
    r, a = to_sta3()
    a.send(AssociateRejectResponse(1, 1, 1), now=10.0)
    a.events()
    a.handle_timer(10.0 + a.artim_timeout - 0.001)
    assert a.state is State.STA13
    a.handle_timer(10.0 + a.artim_timeout)  # Evt18 in Sta13: AA-2
    assert a.state is State.STA1 and a.close_requested
    assert a.events() == [TransportClosed()]


@pytest.mark.parametrize("version", [0, 2, 0x8000, 0xFFFE])
def test_reject_by_provider_for_protocol_version(version) -> None:
    r, a = to_sta5(make_rq(version=version))
    transfer(r, a)
    assert a.events() == []  # no indication: AE-6, not acceptable
    assert a.state is State.STA13
    wire = transfer(a, r)
    assert wire == bytes.fromhex("03000000000400010202")
    assert r.events() == [AssociateRejectConfirmation(1, 2, 2), TransportClosed()]


@pytest.mark.parametrize("version", [1, 3, 0xFFFF])
def test_protocol_version_bit0_is_enough(version) -> None:
    r, a = to_sta5(make_rq(version=version))
    transfer(r, a)
    assert isinstance(a.events()[0], AssociateIndication)


# ---- every state x every local request -----------------------------------------------------


def _snapshot(conn: Connection):
    return (conn.state, conn.timer_deadline(), conn.close_requested, conn.peer_max_length,
            conn.request, conn.accept)  # fmt: skip


def _drain(conn: Connection):
    return b"".join(bytes(b) for b in conn.data_to_send()), conn.events()


REACHABLE = {s: ["requestor", "acceptor"] if s in (6, 7, 8) else ["any"] for s in range(1, 14)}
CASES = [(s, side, cls) for s in range(1, 14) for side in REACHABLE[s] for cls in REQUEST_TYPES]


@pytest.mark.parametrize("state,side,cls", CASES,
                         ids=[f"Sta{s}-{side}-{c.__name__}" for s, side, c in CASES])  # fmt: skip
def test_local_request_in_every_state(state, side, cls) -> None:
    conn, _, _ = drive(state, side)
    twin, _, _ = drive(state, side)  # the same history, to compare queued output and events
    before = _snapshot(conn)
    blank = _fsm.cell(state, REQUEST_EVENT[cls]) == ""
    role_forbids = cls is AssociateRequest and conn.role is Role.ACCEPTOR
    if blank or role_forbids:
        with pytest.raises(LocalProtocolError):
            conn.send(request_for(cls, conn), now=12345.0)
        assert _snapshot(conn) == before
        assert _drain(conn) == _drain(twin)
    else:
        conn.send(request_for(cls, conn), now=12345.0)
        action, nxt, _ = _fsm.step(state, REQUEST_EVENT[cls], requestor=conn.role is Role.REQUESTOR)
        assert conn.state == nxt, action


@pytest.mark.parametrize("state", range(1, 14))
def test_connection_made_only_where_the_table_has_it(state) -> None:
    conn, _, _ = drive(state)
    event = 2 if conn.role is Role.REQUESTOR else 5
    before = _snapshot(conn)
    if _fsm.cell(state, event) == "":
        with pytest.raises(LocalProtocolError):
            conn.connection_made()
        assert _snapshot(conn) == before
    else:
        conn.connection_made()


def test_all_states_reached_through_public_api() -> None:
    """Every one of the 13 states is reachable with drive(): no private field is poked."""
    assert sorted({drive(s)[0].state for s in range(1, 14)}) == list(range(1, 14))


def test_abort_in_sta4_closes_without_sending() -> None:
    conn, _, _ = drive(4)
    conn.send(AbortRequest())
    assert conn.state is State.STA1
    assert _drain(conn) == (b"", [TransportClosed()])


def test_abort_in_sta3_sends_abort_and_starts_artim() -> None:
    r, a = to_sta3()
    a.events()
    a.send(AbortRequest(), now=3.0)
    assert a.state is State.STA13 and a.timer_deadline() == 3.0 + a.artim_timeout
    wire = transfer(a, r)
    assert [t for t, _ in wire_pdus(wire)] == [7]
    assert r.events() == [AbortIndication(0, 0, provider=False), TransportClosed()]


def test_full_conversation_whole_and_bytes() -> None:
    for chunking in CHUNKINGS:
        r, a = associate(chunking=chunking)
        r.send(DataRequest(1, b"\x00\x00\x00\x00"))
        r.send(ReleaseRequest())
        pump(r, a, chunking)
        assert a.state is State.STA8
        assert [type(e).__name__ for e in a.events()] == ["DataIndication", "ReleaseIndication"]


def test_new_pair_defaults() -> None:
    r, a = new_pair()
    assert r.state is State.STA1 and a.state is State.STA1
    assert r.timer_deadline() is None and not r.pending_output and r.events() == []
    with pytest.raises(TypeError):
        Connection("requestor")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        Connection(Role.REQUESTOR, artim_timeout=0)
