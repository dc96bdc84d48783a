"""P-DATA over two in-memory Connections: fragmentation against the peer's maximum
length, every kind of data set source, bounded output for large data sets, data set
sinks, and PS3.8 Annex E violations from a hand-made peer."""

from __future__ import annotations

import io
import random

import pytest
from test_connection_helpers import (
    associate,
    chunks,
    command,
    make_ac,
    make_rq,
    transfer,
    wire_pdus,
)

from dicomul.ul._core import Framer, encode_pdata
from dicomul.ul.connection import State
from dicomul.ul.events import (
    AbortIndication,
    DataIndication,
    DataRequest,
    PDUReceived,
    ReleaseRequest,
    TransportClosed,
)
from dicomul.ul.pdata import DEFAULT_WINDOW, READY_LIMIT, message_batches, ready_message

MAX_LENGTHS = [0, 8, 9, 16, 1000, 16384, 16385]
KINDS = ["bytes", "memoryview", "bytearray", "BytesIO", "tempfile", "iterable"]


def _payload(n: int, seed: int = 0) -> bytes:
    return random.Random(seed).randbytes(n)


def _source(kind: str, data: bytes, tmp_path):
    if kind == "bytes":
        return data
    if kind == "memoryview":
        return memoryview(bytearray(b"xx" + data + b"yy"))[2:-2]
    if kind == "bytearray":
        return bytearray(data)
    if kind == "BytesIO":
        return io.BytesIO(data)
    if kind == "tempfile":
        path = tmp_path / "ds.bin"
        path.write_bytes(data)
        return open(path, "rb")  # noqa: SIM115 - closed by the test
    assert kind == "iterable"
    sizes, out, i = [1, 3, 5, 7, 9, 1001, 33], [], 0
    while i < len(data):
        n = sizes[len(out) % len(sizes)]
        out.append(data[i : i + n])
        i += n
    return iter(out)


def _check_pdata_wire(wire: bytes, peer_max: int) -> None:
    for t, pdu in wire_pdus(wire):
        if t != 4:
            continue
        length = len(pdu) - 6
        if peer_max:
            assert length <= peer_max
        item_len = int.from_bytes(pdu[6:10], "big")
        assert 10 + item_len == len(pdu), "one PDV per P-DATA-TF PDU"
        assert (item_len - 2) % 2 == 0, "fragments have even length"


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("peer_max", MAX_LENGTHS)
@pytest.mark.parametrize("direction", ["r->a", "a->r"])
def test_pdata_fragments_and_reassembles(kind, peer_max, direction, tmp_path) -> None:
    # the receiver announces peer_max; the sender fragments for it
    rq_max, ac_max = (16384, peer_max) if direction == "r->a" else (peer_max, 16384)
    r, a = associate(make_rq(rq_max), make_ac(ac_max))
    src, dst = (r, a) if direction == "r->a" else (a, r)
    assert src.peer_max_length == peer_max
    size = 600 if peer_max in (8, 9, 16) else 50_000
    data = _payload(size)
    ds = _source(kind, data, tmp_path)
    cmd_only = command(False, extra=33)
    cmd = command(True, extra=101)
    src.send(DataRequest(1, cmd_only))
    src.send(DataRequest(3, cmd, ds))
    wire = transfer(src, dst)
    if kind == "tempfile":
        ds.close()
    _check_pdata_wire(wire, peer_max)
    assert dst.events() == [DataIndication(1, cmd_only), DataIndication(3, cmd, data)]


@pytest.mark.parametrize("chunking", ["bytes", random.Random(3), random.Random(4)],
                         ids=["bytes", "rand3", "rand4"])  # fmt: skip
def test_pdata_any_chunking(chunking) -> None:
    r, a = associate(make_rq(1000), make_ac(1000))
    data = _payload(5000, 1)
    r.send(DataRequest(3, command(True), [data[:777], data[777:]]))
    a.send(DataRequest(1, command(False)))
    wire = transfer(r, a, chunking)
    transfer(a, r, chunking)
    _check_pdata_wire(wire, 1000)
    assert a.events() == [DataIndication(3, command(True), data)]
    assert r.events() == [DataIndication(1, command(False))]


def test_empty_dataset_still_completes_the_message() -> None:
    r, a = associate()
    r.send(DataRequest(1, command(True), b""))
    transfer(r, a)
    assert a.events() == [DataIndication(1, command(True), b"")]


@pytest.mark.parametrize("peer_max", [0, 16384])
@pytest.mark.parametrize("kind", ["bytes", "BytesIO"])
def test_large_dataset_bounded_batches(peer_max, kind) -> None:
    size = 20 * 1024 * 1024
    data = bytes(range(256)) * (size // 256)
    r, a = associate(make_rq(16384), make_ac(peer_max))
    r.send(DataRequest(3, command(True), data if kind == "bytes" else io.BytesIO(data)))
    limit = 1024 * 1024
    calls = 0
    while True:
        bufs = r.data_to_send(limit=limit)
        if not bufs:
            break
        calls += 1
        sizes = [len(b) for b in bufs]
        assert max(sizes) <= DEFAULT_WINDOW, "no buffer larger than one window"
        assert sum(sizes) <= limit + DEFAULT_WINDOW + 64 * 1024
        for b in bufs:
            a.receive_data(b)
    assert calls >= size // (DEFAULT_WINDOW + 64 * 1024)
    (ev,) = a.events()
    assert ev.command == command(True) and ev.dataset == data


def test_dataset_sink_chosen_from_command() -> None:
    sinks: list[io.BytesIO] = []

    def sink(context_id: int, cmd: bytes):
        assert cmd == command(True, extra=3)
        if context_id != 3:
            return None  # keep in memory
        sinks.append(io.BytesIO())
        return sinks[-1]

    r, a = associate()
    a.dataset_sink = sink
    data = _payload(40_000, 5)
    r.send(DataRequest(3, command(True, extra=3), data))
    r.send(DataRequest(1, command(True, extra=3), data[:100]))
    transfer(r, a, random.Random(9))
    e1, e2 = a.events()
    assert e1.dataset is sinks[0] and sinks[0].getvalue() == data
    assert e2.dataset == data[:100]


def test_dataset_sink_constructor_argument() -> None:
    got = io.BytesIO()
    r, a = associate(dataset_sink=lambda ctx, cmd: got)
    r.send(DataRequest(1, command(True), b"ab" * 10))
    transfer(r, a)
    (ev,) = a.events()
    assert ev.dataset is got and got.getvalue() == b"ab" * 10


# ---- Annex E violations from a hand-made peer ----------------------------------------------

PROVIDER_ABORT_6 = bytes.fromhex("07000000000400000206")


def _pdv(ctx: int, control: int, data: bytes) -> bytes:
    return encode_pdata([(ctx, control, data)])


VIOLATIONS = {
    "unknown context": [_pdv(7, 3, command(False))],
    "rejected context": [_pdv(5, 3, command(False))],
    "even context": [_pdv(2, 3, command(False))],
    "interleaved": [_pdv(1, 1, command(False)[:8]), _pdv(3, 3, command(False))],
    "interleaved in one PDU": [encode_pdata([(1, 1, command(True)[:8]), (3, 3, command(True))])],
    "data before command": [_pdv(1, 2, b"\0\0")],
    "data before last command fragment": [_pdv(1, 1, command(True)[:8]), _pdv(1, 2, b"\0\0")],
    "command after last": [_pdv(1, 3, command(True)), _pdv(1, 3, command(True))],
    "data after command-only message": [_pdv(1, 3, command(False)), _pdv(1, 2, b"\0\0")],
    "larger than our maximum": [_pdv(1, 3, b"\0" * 16380)],
}


@pytest.mark.parametrize("name", list(VIOLATIONS))
@pytest.mark.parametrize("receiver", ["acceptor", "requestor"])
def test_annex_e_violation_aborts(name, receiver) -> None:
    r, a = associate()
    conn = a if receiver == "acceptor" else r
    for pdu in VIOLATIONS[name]:
        conn.receive_data(pdu, now=5.0)
    evs = conn.events()
    # a message completed before the violation is still delivered
    assert [type(e) for e in evs] == [DataIndication] * (len(evs) - 1) + [AbortIndication]
    ab = evs[-1]
    assert (ab.source, ab.reason, ab.provider, ab.local) == (2, 6, True, True)
    assert ab.message
    assert conn.state is State.STA13
    assert conn.timer_deadline() == 5.0 + conn.artim_timeout  # AA-8 starts ARTIM
    assert b"".join(bytes(b) for b in conn.data_to_send()) == PROVIDER_ABORT_6


def test_violation_in_sta7_aborts_too() -> None:
    r, a = associate()
    r.send(ReleaseRequest())
    r.data_to_send()
    r.receive_data(_pdv(9, 3, command(False)))
    assert r.state is State.STA13
    assert b"".join(bytes(b) for b in r.data_to_send()) == PROVIDER_ABORT_6


def test_pdata_within_our_maximum_is_fine() -> None:
    r, a = associate()
    a.receive_data(_pdv(1, 3, command(False) + b"\0" * (16378 - len(command(False)))))
    assert [type(e) for e in a.events()] == [DataIndication]


def test_raw_pdus_event_before_each_event() -> None:
    r, a = associate(make_rq(100), make_ac(100), raw_pdus=True)
    data = _payload(300, 2)
    r.send(DataRequest(3, command(True), data))
    wire = transfer(r, a)
    pdus = wire_pdus(wire)
    evs = a.events()
    assert evs[:-1] == [PDUReceived(4, raw) for _, raw in pdus]
    assert evs[-1] == DataIndication(3, command(True), data)
    r.send(ReleaseRequest())
    transfer(r, a)
    assert [type(e).__name__ for e in a.events()] == ["PDUReceived", "ReleaseIndication"]


def test_raw_pdus_during_association() -> None:
    from test_connection_helpers import to_sta5

    r, a = to_sta5(raw_pdus=True)
    wire = transfer(r, a)
    evs = a.events()
    assert evs[0] == PDUReceived(1, wire)
    assert type(evs[1]).__name__ == "AssociateIndication" and len(evs) == 2


def test_chunks_helper_covers_everything() -> None:
    data = bytes(range(200))
    for c in ["whole", "bytes", random.Random(0)]:
        assert b"".join(chunks(data, c)) == data


# ---- malformed bytes: Evt19 and Evt17 per Table 9-10 -----------------------------------------

MALFORMED = {
    "garbage": bytes([0xA5]) + random.Random(11).randbytes(40),
    "unknown type 08H": bytes.fromhex("08000000000400000000"),
    "type 00H": bytes.fromhex("00000000000400000000"),
    "RELEASE-RQ of length 6": bytes.fromhex("050000000006000000000000"),
    "ABORT of length 2": bytes.fromhex("0700000000020000"),
    "P-DATA-TF without PDV": bytes.fromhex("040000000000"),
    "PDV item overrunning": bytes.fromhex("040000000006000000090103"),
    "A-ASSOCIATE-AC too short": bytes.fromhex("02000000000400010000"),
}

FRAMING_ERRORS = {"garbage", "unknown type 08H", "type 00H"}


def _expected_reason(raw: bytes) -> int:
    from dicomul.errors import ProtocolError
    from dicomul.ul.associate import Associate

    try:
        Framer(1 << 22, Associate.decode).feed(raw)
    except ProtocolError as exc:
        return exc.abort_reason
    raise AssertionError(f"{raw.hex()} decodes")


def _in_state(state: int):
    from test_connection_helpers import to_sta5

    if state == 2:
        r, a = to_sta5()
        return a
    if state == 5:
        r, a = to_sta5()
        r.data_to_send()
        return r
    r, a = associate()
    return a


@pytest.mark.parametrize("name", list(MALFORMED))
@pytest.mark.parametrize("state", [2, 5, 6])
@pytest.mark.parametrize("split", [False, True], ids=["whole", "bytes"])
def test_malformed_pdu(name, state, split) -> None:
    raw = MALFORMED[name]
    conn = _in_state(state)
    conn.events()
    for piece in chunks(raw, "bytes" if split else "whole"):
        conn.receive_data(piece, now=20.0)  # never raises
    assert conn.state is State.STA13
    assert conn.timer_deadline() == 20.0 + conn.artim_timeout
    wire = b"".join(bytes(b) for b in conn.data_to_send())
    evs = conn.events()
    if state == 2:  # AA-1: A-ABORT with source 0 (service-user), no indication
        assert wire == bytes.fromhex("07000000000400000000")
        assert evs == []
    else:  # AA-8: A-ABORT source 2 with the decoding error's reason, A-P-ABORT indication
        reason = _expected_reason(raw)
        assert wire == bytes([7, 0, 0, 0, 0, 4, 0, 0, 2, reason])
        assert len(evs) == 1 and isinstance(evs[0], AbortIndication)
        ab = evs[0]
        assert (ab.source, ab.reason, ab.provider, ab.local) == (2, reason, True, True)
    # Then, in Sta13: after a framing error the stream is out of step and later bytes are
    # not PDUs (ignored); after a PDU that framed but did not decode, the next PDUs are
    # acted upon: A-RELEASE-RQ ignored (AA-6), an invalid PDU answered by A-ABORT (AA-7).
    conn.receive_data(bytes.fromhex("05000000000400000000") + raw)
    again = b"".join(bytes(b) for b in conn.data_to_send())
    if name in FRAMING_ERRORS:
        assert again == b""
    else:
        assert again == bytes([7, 0, 0, 0, 0, 4, 0, 0, 2, _expected_reason(raw)])
    assert conn.events() == [] and conn.state is State.STA13


@pytest.mark.parametrize("state", [2, 5, 6])
def test_truncated_header_then_close(state) -> None:
    conn = _in_state(state)
    conn.events()
    conn.receive_data(b"\x04\x00\x00")
    assert conn.events() == [] and conn.state == state
    conn.receive_data(b"")
    evs = conn.events()
    assert conn.state is State.STA1 and conn.data_to_send() == []
    if state == 2:  # AA-5
        assert evs == [TransportClosed()]
    else:  # AA-4
        assert [type(e) for e in evs] == [AbortIndication, TransportClosed]
        assert evs[0].provider and evs[0].source == 2


def test_pdus_before_a_malformed_one_in_the_same_chunk_act_first() -> None:
    r, a = associate()
    a.receive_data(_pdv(1, 3, command(False)) + bytes.fromhex("050000000006000000000000"))
    evs = a.events()
    assert [type(e) for e in evs] == [DataIndication, AbortIndication]


# ---- Sta13: AA-6 ignores, AA-7 answers A-ASSOCIATE-RQ and invalid PDUs ---------------------


def _sta13():
    from test_connection_helpers import drive

    conn, r, a = drive(13)
    conn.data_to_send()
    conn.events()
    return conn


IGNORED_IN_STA13 = {
    "RELEASE-RQ": bytes.fromhex("05000000000400000000"),
    "RELEASE-RP": bytes.fromhex("06000000000400000000"),
    "RJ": bytes.fromhex("03000000000400010101"),
    "P-DATA-TF": _pdv(1, 3, command(False)),
    "P-DATA-TF on unknown context": _pdv(9, 0, b"\0\0"),
}


@pytest.mark.parametrize("name", list(IGNORED_IN_STA13))
def test_sta13_ignores_pdus(name) -> None:
    conn = _sta13()
    conn.receive_data(IGNORED_IN_STA13[name])
    assert conn.state is State.STA13
    assert conn.data_to_send() == [] and conn.events() == []


def test_sta13_ignores_ac() -> None:
    conn = _sta13()
    ac = make_ac()
    ac.called, ac.calling = "A", "B"
    conn.receive_data(ac.encode())
    assert conn.state is State.STA13 and conn.data_to_send() == [] and conn.events() == []


def test_sta13_answers_rq_with_abort() -> None:  # AA-7
    conn = _sta13()
    conn.receive_data(make_rq().encode())
    assert conn.state is State.STA13 and conn.events() == []
    assert b"".join(bytes(b) for b in conn.data_to_send()) == bytes.fromhex("07000000000400000202")


def test_sta13_answers_invalid_pdu_with_abort() -> None:  # Evt19: AA-7
    conn = _sta13()
    raw = MALFORMED["RELEASE-RQ of length 6"]
    conn.receive_data(raw)
    assert conn.state is State.STA13 and conn.events() == []
    wire = b"".join(bytes(b) for b in conn.data_to_send())
    assert wire == bytes([7, 0, 0, 0, 0, 4, 0, 0, 2, _expected_reason(raw)])


def test_sta13_abort_closes() -> None:  # AA-2
    conn = _sta13()
    conn.receive_data(bytes.fromhex("07000000000400000000"))
    assert conn.state is State.STA1 and conn.events() == [TransportClosed()]
    assert conn.close_requested and conn.timer_deadline() is None


def test_events_returns_a_new_list_each_time() -> None:
    r, a = associate()
    first = a.events()
    r.send(DataRequest(1, command(False)))
    transfer(r, a)
    second = a.events()
    assert first == [] and second == [DataIndication(1, command(False))]
    assert a.events() == [] and second == [DataIndication(1, command(False))]


@pytest.mark.parametrize("bad", [12345, "text", 1.5, None.__class__])
def test_a_bad_data_set_argument_raises_before_anything_is_queued(bad) -> None:
    r, a = associate()
    with pytest.raises(TypeError, match="data set is bytes-like"):
        r.send(DataRequest(3, command(True), bad))
    assert r.state is State.STA6 and not r.pending_output


def test_whole_command_checks_its_argument() -> None:
    from dicomul.ul._core import PDataTF, whole_command

    with pytest.raises(TypeError):
        whole_command(None)  # type: ignore[arg-type]
    pdu = PDataTF([])
    pdu.pdvs.append(1.5)  # (a list: the type is checked when it is read)
    with pytest.raises(TypeError):
        whole_command(pdu)


@pytest.mark.parametrize("peer_max", [0, 8, 9, 1000, 16384, 131072])
@pytest.mark.parametrize("size", [0, 1, 2, 999, 1000, 16378, 16379, 65537, READY_LIMIT])
@pytest.mark.parametrize("kind", [bytes, bytearray, memoryview])
def test_ready_message_is_message_batches_at_once(peer_max, size, kind) -> None:
    """A small bytes-like data set is fragmented at once (no generator): the very bytes
    message_batches gives, odd lengths padded the same way."""
    cmd, data = command(True), kind(_payload(size, seed=size))
    ready = ready_message(3, cmd, data, peer_max)
    assert ready is not None
    lazy = [bytes(b) for batch in message_batches(3, cmd, data, peer_max) for b in batch]
    assert b"".join(bytes(b) for b in ready) == b"".join(lazy)


def test_ready_message_leaves_the_rest_to_message_batches() -> None:
    assert ready_message(1, command(True), bytes(READY_LIMIT + 1), 16384) is None
    assert ready_message(1, command(True), io.BytesIO(b"ab"), 16384) is None
    assert ready_message(1, command(True), [b"ab"], 16384) is None
    strided = memoryview(bytes(range(16)))[::2]  # not contiguous
    assert ready_message(1, command(True), strided, 16384) is None


def test_ready_message_copies_only_the_tail_of_an_odd_data_set() -> None:
    data, cmd = bytearray(b"\1" * 100_001), command(True)
    ready = ready_message(1, cmd, data, 16384)
    assert ready is not None
    pieces = ready[3::2]  # [header, command, header, fragment, header, fragment, ...]
    assert sum(len(b) for b in pieces) == 100_002
    viewed = sum(len(b) for b in pieces if b.obj is data)
    assert viewed == 100_001 - 100_001 % 16378  # every whole fragment a view of data
    assert len(pieces[-1]) == 100_001 % 16378 + 1 and pieces[-1].obj is not data


def test_ready_message_leaves_a_released_view_to_message_batches() -> None:
    view = memoryview(b"abcd")
    view.release()
    assert ready_message(1, command(True), view, 16384) is None
