"""Shared helpers for tests/test_connection_*.py: two Connections wired in memory.

``pump(a, b)`` moves ``a.data_to_send()`` into ``b.receive_data()`` (and back) until
neither side has anything queued; ``chunking`` says how the bytes are cut: ``"whole"``
(each data_to_send() batch joined into one chunk), ``"bytes"`` (one byte at a time) or a
``random.Random`` (random chunk sizes). ``drive(state, ...)`` builds a requestor/acceptor
pair with one side in the wanted PS3.8 state, using the public API only.

The few tests at the bottom check the helpers themselves.
"""

from __future__ import annotations

import random
import struct
from typing import Any

import pytest

from dicomul.dimse.messages import command_has_dataset
from dicomul.ul.associate import Associate
from dicomul.ul.connection import Connection, Role, State
from dicomul.ul.constants import (
    EXPLICIT_VR_LITTLE_ENDIAN,
    IMPLICIT_VR_LITTLE_ENDIAN,
    VERIFICATION_SOP_CLASS,
)
from dicomul.ul.events import (
    AbortRequest,
    AssociateAcceptResponse,
    AssociateRejectResponse,
    AssociateRequest,
    DataRequest,
    ReleaseRequest,
    ReleaseResponse,
)

CT_IMAGE = "1.2.840.10008.5.1.4.1.1.2"
MR_IMAGE = "1.2.840.10008.5.1.4.1.1.4"

REQUEST_TYPES = [
    AssociateRequest,
    AssociateAcceptResponse,
    AssociateRejectResponse,
    DataRequest,
    ReleaseRequest,
    ReleaseResponse,
    AbortRequest,
]
REQUEST_EVENT = {
    AssociateRequest: 1,
    AssociateAcceptResponse: 7,
    AssociateRejectResponse: 8,
    DataRequest: 9,
    ReleaseRequest: 11,
    ReleaseResponse: 14,
    AbortRequest: 15,
}


# ---- association parameters -------------------------------------------------------------


def make_rq(max_length: int | None = 16384, *, called: str = "STORESCP", calling: str = "STORESCU",
            version: int = 1) -> Associate:  # fmt: skip
    rq = Associate(True)
    rq.called = called
    rq.calling = calling
    rq.version = version
    rq.add_presentation(1, VERIFICATION_SOP_CLASS, 0, [IMPLICIT_VR_LITTLE_ENDIAN])
    rq.add_presentation(3, CT_IMAGE, 0, [EXPLICIT_VR_LITTLE_ENDIAN, IMPLICIT_VR_LITTLE_ENDIAN])
    rq.add_presentation(5, MR_IMAGE, 0, [IMPLICIT_VR_LITTLE_ENDIAN])
    rq.max_length = max_length
    return rq


def make_ac(max_length: int | None = 16384, *, reject_mr: bool = True) -> Associate:
    """An AC for make_rq(): 1 and 3 accepted, 5 rejected (abstract syntax not supported)."""
    ac = Associate(False)
    ac.add_presentation(1, None, 0, [IMPLICIT_VR_LITTLE_ENDIAN])
    ac.add_presentation(3, None, 0, [EXPLICIT_VR_LITTLE_ENDIAN])
    if reject_mr:
        ac.add_presentation(5, None, 3, [])
    else:
        ac.add_presentation(5, None, 0, [IMPLICIT_VR_LITTLE_ENDIAN])
    ac.max_length = max_length
    return ac


def command(has_dataset: bool, extra: int = 0) -> bytes:
    """A small Implicit VR LE command set: (0000,0100) CommandField, (0000,0800)
    CommandDataSetType and ``extra`` bytes of (0000,1000) padding-ish UID to vary its size."""

    def el(elem: int, value: bytes) -> bytes:
        return struct.pack("<HHI", 0, elem, len(value)) + value

    body = el(0x0100, struct.pack("<H", 0x0001 if has_dataset else 0x0030))
    body += el(0x0800, struct.pack("<H", 0x0000 if has_dataset else 0x0101))
    if extra:
        body += el(0x1000, b"1" * (extra + extra % 2))
    return el(0x0000, struct.pack("<I", len(body))) + body


# ---- wiring -------------------------------------------------------------------------------


def chunks(data: bytes, chunking: Any) -> list[bytes]:
    if not data:
        return []
    if chunking == "whole":
        return [data]
    if chunking == "bytes":
        return [data[i : i + 1] for i in range(len(data))]
    rng: random.Random = chunking
    out, i = [], 0
    while i < len(data):
        n = rng.choice([1, 2, 3, 5, 6, 7, 11, 64, 1000, 5000, len(data)])
        out.append(data[i : i + n])
        i += n
    return out


def transfer(src: Connection, dst: Connection, chunking: Any = "whole",
             limit: int | None = None) -> bytes:  # fmt: skip
    """Move what src has queued into dst; returns the bytes moved."""
    moved = bytearray()
    while True:
        bufs = src.data_to_send(limit)
        if not bufs:
            return bytes(moved)
        data = b"".join(bytes(b) for b in bufs)
        moved += data
        for piece in chunks(data, chunking):
            dst.receive_data(piece)


def pump(a: Connection, b: Connection, chunking: Any = "whole") -> None:
    """Move bytes both ways until neither side has anything queued."""
    for _ in range(1000):
        if not (a.pending_output or b.pending_output):
            return
        transfer(a, b, chunking)
        transfer(b, a, chunking)
    raise AssertionError("pump did not settle")


def wire_pdus(data: bytes) -> list[tuple[int, bytes]]:
    """Split a byte stream into (pdu_type, whole PDU bytes) with a tiny struct decoder."""
    out, i = [], 0
    while i < len(data):
        t, length = struct.unpack_from(">BxI", data, i)
        out.append((t, data[i : i + 6 + length]))
        i += 6 + length
    assert i == len(data)
    return out


def types_of(data: bytes) -> list[int]:
    return [t for t, _ in wire_pdus(data)]


def new_pair(**kw: Any) -> tuple[Connection, Connection]:
    """A requestor and an acceptor; whether a data set follows a command set is read from
    its (0000,0800) by the DIMSE layer's predicate unless ``needs_dataset`` is given."""
    kw.setdefault("needs_dataset", command_has_dataset)
    return Connection(Role.REQUESTOR, **kw), Connection(Role.ACCEPTOR, **kw)


def to_sta5(rq: Associate | None = None, **kw: Any) -> tuple[Connection, Connection]:
    """Requestor in Sta5 with its RQ queued, acceptor in Sta2."""
    r, a = new_pair(**kw)
    r.send(AssociateRequest(rq or make_rq()), now=0.0)
    r.connection_made(now=0.0)
    a.connection_made(now=0.0)
    return r, a


def to_sta3(rq: Associate | None = None, chunking: Any = "whole", **kw: Any):
    """Acceptor in Sta3 (A-ASSOCIATE indication given), requestor in Sta5."""
    r, a = to_sta5(rq, **kw)
    transfer(r, a, chunking)
    return r, a


def associate(rq: Associate | None = None, ac: Associate | None = None,
              chunking: Any = "whole", **kw: Any) -> tuple[Connection, Connection]:  # fmt: skip
    """Both sides in Sta6, events drained."""
    r, a = to_sta3(rq, chunking, **kw)
    a.send(AssociateAcceptResponse(ac or make_ac()))
    pump(r, a, chunking)
    assert r.state is State.STA6 and a.state is State.STA6
    r.events()
    a.events()
    return r, a


def drive(state: int, side: str = "any") -> tuple[Connection, Connection, Connection]:
    """``(conn, requestor, acceptor)`` with ``conn`` (one of the two) in Sta<state>, through
    the public API only. ``side`` picks "requestor"/"acceptor" when both can be there.
    Output of ``conn`` that the step leading to ``state`` queued is left queued."""
    if state == 1:
        r, a = new_pair()
        return (a if side == "acceptor" else r), r, a
    if state == 2:
        r, a = to_sta5()
        return a, r, a
    if state == 3:
        r, a = to_sta3()
        return a, r, a
    if state == 4:
        r, a = new_pair()
        r.send(AssociateRequest(make_rq()))
        return r, r, a
    if state == 5:
        r, a = to_sta5()
        return r, r, a
    r, a = associate()
    if state == 6:
        return (a if side == "acceptor" else r), r, a
    if state in (7, 8):
        target, other = (a, r) if side == "acceptor" else (r, a)
        if state == 7:
            target.send(ReleaseRequest())
        else:
            other.send(ReleaseRequest())
            transfer(other, target)
        return target, r, a
    if state in (9, 10, 11, 12):
        r.send(ReleaseRequest())
        a.send(ReleaseRequest())
        if state in (9, 11):
            transfer(a, r)  # requestor: Sta7 -> Sta9
            if state == 11:
                r.send(ReleaseResponse())
            return r, r, a
        transfer(r, a)  # acceptor: Sta7 -> Sta10
        if state == 12:
            transfer(a, r)  # requestor to Sta9
            r.send(ReleaseResponse())  # AR-9: Sta11
            transfer(r, a)  # acceptor: A-RELEASE-RP -> AR-10, Sta12
        return a, r, a
    if state == 13:
        r, a = to_sta3()
        a.send(AssociateRejectResponse(1, 1, 1))
        return a, r, a
    raise ValueError(state)


def request_for(cls: type, conn: Connection | None = None) -> Any:
    """A well-formed instance of a request type."""
    if cls is AssociateRequest:
        return AssociateRequest(make_rq())
    if cls is AssociateAcceptResponse:
        return AssociateAcceptResponse(make_ac())
    if cls is AssociateRejectResponse:
        return AssociateRejectResponse(2, 3, 1)
    if cls is DataRequest:
        return DataRequest(1, command(False))
    return cls()


# ---- tests of the helpers -------------------------------------------------------------------


@pytest.mark.parametrize("state", range(1, 14))
def test_drive_reaches_each_state(state: int) -> None:
    conn, _, _ = drive(state)
    assert conn.state == state


@pytest.mark.parametrize("state", [6, 7, 8])
def test_drive_acceptor_side(state: int) -> None:
    conn, _, a = drive(state, "acceptor")
    assert conn is a and conn.state == state


def test_command_helper_announces_dataset() -> None:
    assert command_has_dataset(command(True))
    assert not command_has_dataset(command(False, extra=7))
