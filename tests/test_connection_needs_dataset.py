"""The upper layer reads no DIMSE field: whether a data set follows a command set is the
``needs_dataset`` predicate's answer (given from above), never (0000,0800)'s. Each
conversation is fed whole, byte by byte, and at every split point (DESIGN.md 7)."""

from __future__ import annotations

import struct

import pytest
from test_connection_helpers import associate, chunks, command, make_ac, make_rq

from dicomul.dimse.messages import (
    CEchoRQ,
    CStoreRQ,
    command_has_dataset,
)
from dicomul.dimse.session import Session
from dicomul.ul._core import decode_pdata, encode_pdata, whole_command
from dicomul.ul.connection import Connection, Role, State
from dicomul.ul.events import AbortIndication, DataIndication, DataRequest

PROVIDER_ABORT_6 = bytes.fromhex("07000000000400000206")


def _never(command: bytes) -> bool:
    return False


def _always(command: bytes) -> bool:
    return True


def _wire(r: Connection, *requests: DataRequest) -> bytes:
    for rq in requests:
        r.send(rq)
    return b"".join(bytes(b) for b in r.data_to_send())


def _splits(wire: bytes) -> list[list[bytes]]:
    """The wire whole, byte by byte, and cut in two at every point."""
    return [[wire], chunks(wire, "bytes")] + [[wire[:i], wire[i:]] for i in range(1, len(wire))]


def _feed(needs_dataset, pieces: list[bytes], max_length: int = 16384) -> Connection:
    _r, a = associate(make_rq(max_length), make_ac(max_length), needs_dataset=needs_dataset)
    for piece in pieces:
        a.receive_data(piece, now=1.0)
    return a


def test_no_data_set_says_the_predicate_though_0800_announces_one() -> None:
    """A command whose (0000,0800) says a data set follows is a whole message when the
    predicate says none does (no data set was sent)."""
    seen: list[bytes] = []

    def never(cmd: bytes) -> bool:
        seen.append(cmd)
        return False

    r, _ = associate()
    wire = _wire(r, DataRequest(1, command(True)), DataRequest(3, command(True, extra=40)))
    for pieces in _splits(wire):
        seen.clear()
        a = _feed(never, pieces)
        assert a.events() == [
            DataIndication(1, command(True)),
            DataIndication(3, command(True, extra=40)),
        ]
        assert seen == [command(True), command(True, extra=40)]
        assert a.state is State.STA6
    # two PDVs in one PDU: the reassembler's path, not the one-PDV fast path
    a = _feed(never, [encode_pdata([(1, 3, command(True)), (3, 3, command(True))])])
    assert a.events() == [DataIndication(1, command(True)), DataIndication(3, command(True))]


def test_a_data_set_after_a_command_the_predicate_says_is_whole_is_annex_e() -> None:
    """The data set that (0000,0800) announced then breaks Annex E: the command was
    delivered, then the provider A-ABORT (reason 6), as for any stray data fragment."""
    r, _ = associate()
    wire = _wire(r, DataRequest(1, command(True), b"xy" * 10))
    for pieces in _splits(wire):
        a = _feed(_never, pieces)
        evs = a.events()
        assert evs[0] == DataIndication(1, command(True))
        assert [type(e) for e in evs[1:]] == [AbortIndication]
        ab = evs[1]
        assert (ab.source, ab.reason, ab.provider, ab.local) == (2, 6, True, True)
        assert "no message in progress" in ab.message
        assert a.state is State.STA13
        assert b"".join(bytes(b) for b in a.data_to_send()) == PROVIDER_ABORT_6


def test_a_data_set_follows_says_the_predicate_though_0800_says_none() -> None:
    """A command whose (0000,0800) is 0101H waits for a data set when the predicate says
    one follows, and the message is complete with the data set's last fragment."""
    r, _ = associate(make_rq(100), make_ac(100))
    data = bytes(range(256))  # several fragments at a maximum length of 100
    wire = _wire(r, DataRequest(1, command(False), data), DataRequest(3, command(False), b"z" * 2))
    for pieces in _splits(wire):
        a = _feed(_always, pieces, max_length=100)
        assert a.events() == [
            DataIndication(1, command(False), data),
            DataIndication(3, command(False), b"zz"),
        ]


def test_a_command_set_in_fragments_is_judged_once_whole() -> None:
    seen: list[bytes] = []

    def needs(cmd: bytes) -> bool:
        seen.append(cmd)
        return True

    r, _ = associate(make_rq(64), make_ac(64))
    cmd = command(False, extra=200)  # over 58 bytes: several command fragments
    wire = _wire(r, DataRequest(1, cmd, b"ab"))
    for pieces in ([wire], chunks(wire, "bytes")):
        seen.clear()
        a = _feed(needs, pieces, max_length=64)
        assert a.events() == [DataIndication(1, cmd, b"ab")]
        assert seen == [cmd] and type(seen[0]) is bytes


def test_the_sink_is_asked_only_when_the_predicate_says_a_data_set_follows() -> None:
    asked: list[tuple[int, bytes]] = []

    def sink(context_id: int, cmd: bytes) -> None:
        asked.append((context_id, cmd))

    r, a = associate(needs_dataset=_always, dataset_sink=sink)
    r.send(DataRequest(1, command(False), b"ab"))
    r.send(DataRequest(3, command(False), b"cd"))
    a.receive_data(b"".join(bytes(b) for b in r.data_to_send()))
    assert [e.dataset for e in a.events()] == [b"ab", b"cd"]
    assert asked == [(1, command(False)), (3, command(False))]
    asked.clear()
    r2, a2 = associate(needs_dataset=_never, dataset_sink=sink)
    r2.send(DataRequest(1, command(True)))
    a2.receive_data(b"".join(bytes(b) for b in r2.data_to_send()))
    assert a2.events() == [DataIndication(1, command(True))] and asked == []


def test_without_a_predicate_no_command_set_is_followed_by_a_data_set() -> None:
    r, _ = associate()
    wire = _wire(r, DataRequest(1, command(False)), DataRequest(1, command(True), b"ab"))
    _r, a = associate(needs_dataset=None)
    a.receive_data(wire)
    evs = a.events()
    assert evs[:2] == [DataIndication(1, command(False)), DataIndication(1, command(True))]
    assert type(evs[2]) is AbortIndication and evs[2].reason == 6
    assert Connection(Role.ACCEPTOR).needs_dataset is None


def test_a_session_gives_its_connection_the_dimse_predicate() -> None:
    conn = Connection(Role.ACCEPTOR)
    Session(conn)
    assert conn.needs_dataset is command_has_dataset


def test_whole_command_does_not_read_0800() -> None:
    for cmd in (command(True), command(False), b"\x01\x02"):
        pdu = decode_pdata(encode_pdata([(3, 3, cmd)]))
        assert whole_command(pdu) == (3, cmd)
    assert whole_command(decode_pdata(encode_pdata([(3, 1, command(True))]))) is None


# ---- the DIMSE layer's predicate ---------------------------------------------------------


def _element(elem: int, value: bytes) -> bytes:
    return struct.pack("<HHI", 0, elem, len(value)) + value


STORE_RQ = CStoreRQ(
    message_id=1, affected_sop_class_uid="1.2", affected_sop_instance_uid="1.3", has_dataset=True
).encode()


@pytest.mark.parametrize(
    ("cmd", "expected"),
    [
        (command(True), True),
        (command(False), False),
        (CEchoRQ(message_id=1, affected_sop_class_uid="1.2").encode(), False),
        (STORE_RQ, True),
        (_element(0x0800, b"\xfe\xfe"), True),  # any value but 0101H (PS3.7 E.1)
        (_element(0x0800, b"\x00\x00"), True),
        (_element(0x0100, b"\x30\x00"), False),  # absent
        (_element(0x0800, b"\x01"), False),  # too short to read
        (_element(0x0800, b"\x01\x00")[:9], False),  # cut short
        (_element(0x0100, b"\x30\x00")[:6] + b"\xff\xff", False),  # a length past the end
        (b"", False),
    ],
)
def test_command_has_dataset(cmd: bytes, expected: bool) -> None:
    assert command_has_dataset(cmd) is expected
    assert command_has_dataset(bytearray(cmd)) is expected
    assert command_has_dataset(memoryview(cmd)) is expected
