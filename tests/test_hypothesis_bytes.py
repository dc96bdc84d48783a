"""Property tests of the receive path over arbitrary and mutated bytes (DESIGN.md 1.7, 7).

Random bytes and mutations of valid PDUs (bit flips, truncations, insertions, length-field
changes) fed to the decoders and to the Framer in random chunkings may only return or raise
ProtocolError. Framing is chunking-invariant; P-DATA fragments respect the peer's maximum
length (PS3.8 Annex E, PS3.8.md c.4).
"""

from __future__ import annotations

import struct
from typing import Any

import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from dicomul.errors import ProtocolError  # noqa: E402
from dicomul.ul import _core  # noqa: E402

FAST = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
MANY = settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])

APP = "1.2.840.10008.3.1.1.1"
VERIFY = "1.2.840.10008.1.1"
CT = "1.2.840.10008.5.1.4.1.1.2"
IMPLICIT = "1.2.840.10008.1.2"
EXPLICIT = "1.2.840.10008.1.2.1"

# ---- valid PDUs -----------------------------------------------------------------------

ae = st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-", min_size=1, max_size=16)
uid = st.lists(st.integers(0, 99999), min_size=2, max_size=8).map(
    lambda parts: ".".join(map(str, parts))
)
small_bytes = st.binary(max_size=24)

user_item = st.one_of(
    st.builds(lambda v: (0x51, v), st.integers(0, 0xFFFFFFFF)),
    st.builds(lambda u: (0x52, u), uid),
    st.builds(lambda a, b: (0x53, a, b), st.integers(0, 0xFFFF), st.integers(0, 0xFFFF)),
    st.builds(lambda u, a, b: (0x54, u, a, b), uid, st.integers(0, 1), st.integers(0, 1)),
    st.builds(lambda n: (0x55, n), ae),
    st.builds(lambda u, info: (0x56, u, info), uid, small_bytes),
    st.builds(lambda a, b, rel: (0x57, a, b, rel), uid, uid, st.lists(uid, max_size=3)),
    st.builds(
        lambda t, p, a, b: (0x58, t, p, a, b),
        st.integers(1, 5),
        st.integers(0, 1),
        small_bytes,
        small_bytes,
    ),
    st.builds(lambda r: (0x59, r), small_bytes),
    st.builds(lambda t, v: (t, v), st.integers(0x5A, 0xFF), small_bytes),
)


@st.composite
def associate_pdus(draw: st.DrawFn) -> bytes:
    pdu_type = draw(st.sampled_from([1, 2]))
    n_pcs = draw(st.integers(1, 4))
    ids = draw(
        st.lists(
            st.integers(0, 127).map(lambda i: 2 * i + 1),
            min_size=n_pcs,
            max_size=n_pcs,
            unique=True,
        )
    )
    pcs = []
    for pid in ids:
        if pdu_type == 1:
            ts = draw(st.lists(st.sampled_from([IMPLICIT, EXPLICIT]) | uid, min_size=1, max_size=3))
            pcs.append([pid, 0, draw(st.sampled_from([VERIFY, CT]) | uid), ts])
        else:
            result = draw(st.integers(0, 4))
            ts = [draw(st.sampled_from([IMPLICIT, EXPLICIT]))] if result == 0 else []
            pcs.append([pid, result, None, ts])
    user = draw(st.lists(user_item, max_size=6))
    return _core.encode_associate(pdu_type, 1, draw(ae), draw(ae), APP, pcs, user)


@st.composite
def pdata_pdus(draw: st.DrawFn) -> bytes:
    pdvs = draw(
        st.lists(
            st.tuples(st.integers(0, 255), st.integers(0, 255), st.binary(max_size=40)),
            min_size=1,
            max_size=4,
        )
    )
    return _core.encode_pdata(pdvs)


short_pdus = st.one_of(
    st.builds(lambda s, r: _core.Abort(s, r).encode(), st.integers(0, 255), st.integers(0, 255)),
    st.builds(
        lambda a, b, c: _core.AssociateReject(a, b, c).encode(),
        st.integers(0, 255),
        st.integers(0, 255),
        st.integers(0, 255),
    ),
    st.just(_core.ReleaseRQ().encode()),
    st.just(_core.ReleaseRP().encode()),
    st.just(_core.Abort(2, 1).encode()),
)

valid_pdus = st.one_of(associate_pdus(), pdata_pdus(), short_pdus)

# ---- mutations --------------------------------------------------------------------------


def _length_fields(pdu: bytes) -> list[tuple[int, int]]:
    """(offset, size) of every length field of a PDU, found by a tiny struct-based walker
    independent of the C core: the PDU length, item and sub-item lengths, PDV lengths."""
    fields = [(2, 4)]
    if len(pdu) < 6:
        return fields[:0]
    end = min(len(pdu), 6 + struct.unpack_from(">I", pdu, 2)[0])

    def items(pos: int, stop: int, nested: bool) -> None:
        while pos + 4 <= stop:
            t = pdu[pos]
            (n,) = struct.unpack_from(">H", pdu, pos + 2)
            fields.append((pos + 2, 2))
            if nested and t in (0x20, 0x21):
                items(pos + 8, min(stop, pos + 4 + n), False)
            elif nested and t == 0x50:
                items(pos + 4, min(stop, pos + 4 + n), False)
            pos += 4 + n

    if pdu[0] in (1, 2):
        items(74, end, True)
    elif pdu[0] == 4:
        pos = 6
        while pos + 4 <= end:
            fields.append((pos, 4))
            pos += 4 + struct.unpack_from(">I", pdu, pos)[0]
    return fields


@st.composite
def mutated(draw: st.DrawFn, base: st.SearchStrategy[bytes] = valid_pdus) -> bytes:
    data = bytearray(draw(base))
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "truncate", "insert", "length", "byte"]))
        if kind == "flip" and data:
            i = draw(st.integers(0, len(data) - 1))
            data[i] ^= 1 << draw(st.integers(0, 7))
        elif kind == "truncate" and data:
            data = data[: draw(st.integers(0, len(data) - 1))]
        elif kind == "insert":
            i = draw(st.integers(0, len(data)))
            data[i:i] = draw(st.binary(min_size=1, max_size=8))
        elif kind == "byte" and data:
            data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
        elif kind == "length":
            fields = _length_fields(bytes(data))
            if not fields:
                continue
            off, size = draw(st.sampled_from(fields))
            fmt = ">I" if size == 4 else ">H"
            old = struct.unpack_from(fmt, data, off)[0]
            top = (1 << (8 * size)) - 1
            new = draw(
                st.one_of(
                    st.integers(0, top),
                    st.integers(-8, 8).map(lambda d, o=old, t=top: min(max(o + d, 0), t)),
                    st.sampled_from([0, 1, 2, 3, 4, top, top - 1]),
                )
            )
            struct.pack_into(fmt, data, off, new)
    if len(data) >= 6 and draw(st.booleans()):
        # keep the PDU length consistent so that the damage is found inside the PDU
        struct.pack_into(">I", data, 2, len(data) - 6)
    return bytes(data)


any_bytes = st.one_of(st.binary(max_size=300), mutated())

# ---- the decoders never raise anything but ProtocolError ------------------------------


def _decode_all(data: bytes) -> None:
    for decode in (_core.decode_associate, _core.decode_short, _core.decode_pdata):
        for buf in (data, bytearray(data), memoryview(data)):
            try:
                decode(buf)
            except ProtocolError as e:
                assert e.abort_source == 2
                assert e.offset is None or 0 <= e.offset <= max(len(data), 6)


@MANY
@given(st.binary(max_size=400))
def test_random_bytes_decode(data: bytes) -> None:
    _decode_all(data)


@MANY
@given(mutated())
def test_mutated_pdus_decode(data: bytes) -> None:
    _decode_all(data)


@FAST
@given(st.binary(min_size=6, max_size=200), st.sampled_from([1, 2, 3, 4, 5, 6, 7]))
def test_random_body_under_valid_header(body: bytes, pdu_type: int) -> None:
    # a header whose length is right, so the decoders get past the framing checks
    data = bytes([pdu_type, 0]) + struct.pack(">I", len(body)) + body
    _decode_all(data)


@FAST
@given(associate_pdus())
def test_every_truncation_of_an_associate(pdu: bytes) -> None:
    assert _core.decode_associate(pdu)
    for k in range(len(pdu)):
        with pytest.raises(ProtocolError):
            _core.decode_associate(pdu[:k])
        if k >= 6:
            patched = pdu[:2] + struct.pack(">I", k - 6) + pdu[6:k]
            with pytest.raises(ProtocolError):
                _core.decode_associate(patched)


@FAST
@given(associate_pdus())
def test_associate_round_trip(pdu: bytes) -> None:
    decoded = _core.decode_associate(pdu)
    again = _core.encode_associate(*decoded)
    assert _core.decode_associate(again) == decoded
    assert again == pdu


@FAST
@given(pdata_pdus())
def test_pdata_round_trip(pdu: bytes) -> None:
    decoded = _core.decode_pdata(pdu)
    assert decoded.encode() == pdu


# ---- framing ------------------------------------------------------------------------


def _reference_frames(stream: bytes, max_len: int) -> tuple[list[bytes], bool]:
    """A struct-based reference framer: the whole PDUs at the head of the stream and
    whether a header error (unknown type, length over max_len) stops it."""
    out, pos = [], 0
    while pos < len(stream):
        if not 1 <= stream[pos] <= 7:
            return out, True
        if len(stream) - pos < 6:
            break
        (n,) = struct.unpack_from(">I", stream, pos + 2)
        if n > max_len:
            return out, True
        if len(stream) - pos < 6 + n:
            break
        out.append(stream[pos : pos + 6 + n])
        pos += 6 + n
    return out, False


def _chunks(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({min(c, len(data)) for c in cuts})
    out, prev = [], 0
    for p in points + [len(data)]:
        out.append(data[prev:p])
        prev = p
    return out


def _feed(framer: _core.Framer, chunks: list[bytes]) -> tuple[list[bytes], ProtocolError | None]:
    got: list[bytes] = []
    for chunk in chunks:
        try:
            got.extend(bytes(p) for p in framer.feed(chunk))
        except ProtocolError as e:
            return got, e
    # PDUs completed before bad bytes are returned first; the error is kept on the framer
    return got, framer.error


MAXIMA = st.sampled_from([0, 1, 10, 64, 300, 4096, _core.DEFAULT_MAX_PDU_LENGTH])


@MANY
@given(
    st.lists(st.one_of(valid_pdus, mutated(), st.binary(max_size=20)), max_size=5).map(b"".join),
    st.lists(st.integers(0, 2000), max_size=12),
    MAXIMA,
)
def test_framer_chunking(stream: bytes, cuts: list[int], max_len: int) -> None:
    want, want_error = _reference_frames(stream, max_len)
    whole, whole_err = _feed(_core.Framer(max_len), [stream])
    framer = _core.Framer(max_len)
    got, err = _feed(framer, _chunks(stream, cuts))
    assert (err is not None) == want_error == (whole_err is not None)
    if err is None:
        assert got == whole == want
        assert framer.buffered == len(stream) - sum(map(len, want))
    else:
        # every PDU completed before the bad bytes is returned, whatever the chunking
        assert got == want == whole
        assert err.abort_source == 2 and err.abort_reason in (1, 6)
        # a failed framer stays failed
        with pytest.raises(ProtocolError):
            framer.feed(b"\x05\x00\x00\x00\x00\x04\x00\x00\x00\x00")


@FAST
@given(st.lists(valid_pdus, min_size=1, max_size=4))
def test_framer_every_split_point(pdus: list[bytes]) -> None:
    stream = b"".join(pdus)
    for split in range(len(stream) + 1):
        got, err = _feed(_core.Framer(), [stream[:split], stream[split:]])
        assert err is None and got == pdus
    got, err = _feed(_core.Framer(), [stream[i : i + 1] for i in range(len(stream))])
    assert err is None and got == pdus


# ---- P-DATA fragmentation ------------------------------------------------------------


@MANY
@given(
    st.integers(0, 255),
    st.booleans(),
    st.binary(max_size=3000),
    st.one_of(st.just(0), st.integers(8, 600), st.sampled_from([8, 9, 16383, 16384])),
)
def test_fragments(context_id: int, is_command: bool, data: bytes, max_len: int) -> None:
    parts = _core.fragment(context_id, is_command, data, max_len)
    headers, frags = parts[0::2], [bytes(f) for f in parts[1::2]]
    assert len(headers) == len(frags) >= 1
    if max_len == 0:
        assert len(frags) == 1
    assert b"".join(frags) == data
    for i, f in enumerate(frags):
        h = headers[i]
        last = i == len(frags) - 1
        if max_len:
            assert len(f) <= max_len - 6
        if not last or len(data) % 2 == 0:
            assert len(f) % 2 == 0
        if not last:
            assert len(f) > 0
        assert len(h) == 12
        pdata = _core.decode_pdata(bytes(h) + f)
        assert struct.unpack_from(">I", h, 2)[0] == 6 + len(f)
        if max_len:
            assert 6 + len(f) <= max_len  # the PDU length field is within the peer's maximum
        (pdv,) = pdata.pdvs
        assert pdv.context_id == context_id
        assert pdv.is_command == is_command
        assert pdv.is_last == last
        assert pdv.control & ~3 == 0
        assert bytes(pdv.data) == f


@pytest.mark.parametrize("max_len", [1, 2, 6, 7])
def test_fragment_max_too_small(max_len: int) -> None:
    with pytest.raises(ValueError):
        _core.fragment(1, False, b"ab", max_len)


def _feed_via_recv_buffer(
    framer: _core.Framer,
    stream: bytes,
    cuts: list[int],
    form: Any = bytes,
    read_size: Any = lambda c: c % 5000 + 1,
) -> tuple[list[Any], ProtocolError | None]:
    """Like _feed, but the way a socket does it: recv_into(recv_buffer()), received(n),
    at most ``read_size(cut)`` bytes a read; each PDU handed on as ``form(pdu)``."""
    got: list[Any] = []
    pos = 0
    sizes = [read_size(c) for c in cuts] or [len(stream) or 1]
    k = 0
    while pos < len(stream):
        buf = framer.recv_buffer(4096)
        n = min(len(buf), sizes[k % len(sizes)], len(stream) - pos)
        k += 1
        buf[:n] = stream[pos : pos + n]
        pos += n
        try:
            got.extend(form(p) for p in framer.received(n))
        except ProtocolError as e:
            return got, e
    return got, framer.error


@MANY
@given(
    st.lists(st.one_of(valid_pdus, mutated(), st.binary(max_size=20)), max_size=5).map(b"".join),
    st.lists(st.integers(0, 20000), max_size=12),
    MAXIMA,
)
def test_recv_buffer_path_matches_feed(stream: bytes, cuts: list[int], max_len: int) -> None:
    """recv_buffer()/received() frame exactly as feed() does, including errors."""
    want, want_err = _feed(_core.Framer(max_len), [stream])
    got, err = _feed_via_recv_buffer(_core.Framer(max_len), stream, cuts)
    assert got == want
    assert (err is None) == (want_err is None)


def _decoded(item: object) -> object:
    """A comparable form of what a decoding framer hands on."""
    if isinstance(item, ProtocolError):
        return ("error", str(item))
    if isinstance(item, _core.PDataTF):
        return ("P-DATA", [(v.context_id, v.control, bytes(v.data)) for v in item.pdvs])
    return (type(item).__name__, repr(item))


def _decoding_framer() -> _core.Framer:
    from dicomul.ul.associate import Associate

    return _core.Framer(_core.DEFAULT_MAX_PDU_LENGTH, Associate.decode, errors_inline=True)


#: P-DATA-TF PDUs long enough to be read into their own buffer, with room after them for
#: the next PDU's header (what a long data set's PDUs are).
large_pdata = st.builds(
    lambda ctx, n, fill: _core.encode_pdata([(ctx, 0x00, bytes([fill]) * n)]),
    st.integers(1, 255),
    st.integers(32_768, 70_000),
    st.integers(0, 255),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.one_of(large_pdata, valid_pdus, mutated(), st.binary(max_size=20)), max_size=6).map(
        b"".join
    ),
    st.lists(st.integers(0, 80_000), max_size=12),
)
def test_recv_buffer_decoding_matches_feed(stream: bytes, cuts: list[int]) -> None:
    """A decoding framer (the Connection's) read through recv_buffer()/received(), whose
    buffer for a PDU's body also takes up to 6 bytes of the next PDU, hands on exactly
    what feed() does for the same stream, at any read sizes."""
    whole = _decoding_framer()
    want: list[object] = []
    try:
        want += [_decoded(p) for p in whole.feed(stream)] if stream else []
    except ProtocolError:
        pass
    got, err = _feed_via_recv_buffer(
        _decoding_framer(), stream, cuts, form=_decoded, read_size=lambda c: c + 1
    )
    assert got == want
    assert (err is None) == (whole.error is None)


def test_recv_buffer_takes_the_next_header_with_a_body() -> None:
    """One read brings a large PDU's rest and the next PDU's header: the next body then
    goes straight into its own buffer (missing says how much of it is still to come)."""
    first = _core.encode_pdata([(1, 0x00, b"a" * 40_000)])
    second = _core.encode_pdata([(1, 0x02, b"b" * 50_000)])
    stream = first + second
    framer = _decoding_framer()
    buf = framer.recv_buffer(4096)
    buf[:4096] = stream[:4096]
    assert framer.received(4096) == []
    assert framer.missing == len(first) - 4096
    buf = framer.recv_buffer(4096)
    assert len(buf) == len(first) - 4096 + 6  # the rest, and the next header
    buf[:] = stream[4096 : len(first) + 6]
    (pdu,) = framer.received(len(buf))
    assert bytes(pdu.pdvs[0].data) == b"a" * 40_000
    assert framer.missing == len(second) - 6
    buf = framer.recv_buffer(4096)
    assert len(buf) == len(second) - 6 + 6
    buf[: len(second) - 6] = stream[len(first) + 6 :]
    (pdu,) = framer.received(len(second) - 6)
    assert bytes(pdu.pdvs[0].data) == b"b" * 50_000 and framer.missing == 0


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.lists(st.one_of(large_pdata, valid_pdus), max_size=4).map(b"".join),
        min_size=2,
        max_size=2,
    ),  # fmt: skip
    st.lists(st.integers(500, 80_000), min_size=1, max_size=12),
    st.sampled_from([4096, 65536, 262144]),
)
def test_framers_sharing_one_scratch_buffer(
    streams: list[bytes], cuts: list[int], size: int
) -> None:
    """Two framers read alternately through one shared scratch buffer (as the
    connections of one event loop do) each hand on what feed() gives for its stream, and
    nothing they hand on refers to the buffer: it is overwritten after every read and
    the PDUs are only looked at in the end."""
    shared = bytearray(size)
    framers = [_decoding_framer(), _decoding_framer()]
    want = [[_decoded(p) for p in _decoding_framer().feed(s)] if s else [] for s in streams]
    kept: list[list[object]] = [[], []]
    pos = [0, 0]
    for k in range(2 * sum(len(s) for s in streams) // 500 + 50):  # (reads >= 500 B)
        i = k % 2
        if pos[i] >= len(streams[i]):
            if pos[1 - i] >= len(streams[1 - i]):
                break
            continue
        buf = framers[i].recv_buffer(size, shared)
        n = min(len(buf), cuts[k % len(cuts)] + 1, len(streams[i]) - pos[i])
        buf[:n] = streams[i][pos[i] : pos[i] + n]
        pos[i] += n
        kept[i].extend(framers[i].received(n))
        if buf.obj is shared:
            buf[:n] = b"\xa5" * n  # the next read's bytes, as far as anything can tell
    assert pos == [len(s) for s in streams]
    assert [[_decoded(p) for p in k] for k in kept] == want
