"""The hand-built PS3.8 vectors (tests/vectors/ps38_vectors.py) through decode_pdu and
PDUReader: whole, byte by byte, at every split point, as bytes / bytearray / memoryview,
with trailing bytes, truncated, re-encoded; plus the reader's limits and failure mode.
"""

from __future__ import annotations

import importlib.util
import sys
import tracemalloc
from pathlib import Path
from typing import Any

import pytest

import dicomul
from dicomul import Abort, Associate, AssociateReject, PDataTF, ProtocolError, ReleaseRP, ReleaseRQ

_core = pytest.importorskip("dicomul.ul._core", reason="dicomul.ul._core is not built")


def _load_vectors() -> Any:
    path = Path(__file__).parent / "vectors" / "ps38_vectors.py"
    spec = importlib.util.spec_from_file_location("ps38_vectors", path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("ps38_vectors", mod)
    spec.loader.exec_module(mod)
    return mod


V = _load_vectors()
VECTORS = V.VECTORS
RELEASE_RQ = V.BY_NAME["release-rq"].data
BUFFER_TYPES = [bytes, bytearray, memoryview]

ASSOC_VECTORS = [v for v in VECTORS if v.kind in ("RQ", "AC")]
# same-length vectors with garbage in reserved fields (re-encoded as zeros)
GARBAGE_VECTORS = [v for v in VECTORS if "garbage" in v.name]

vectors = pytest.mark.parametrize("v", VECTORS, ids=lambda v: v.name)
buffer_types = pytest.mark.parametrize("buf", BUFFER_TYPES, ids=lambda t: t.__name__)


# ---- an independent struct walker: checks each vector's length fields ------------------


def _u16(b: bytes, i: int) -> int:
    return int.from_bytes(b[i : i + 2], "big")


def _u32(b: bytes, i: int) -> int:
    return int.from_bytes(b[i : i + 4], "big")


def _walk_items(b: bytes, pos: int, end: int) -> list[tuple[int, int, int]]:
    """(type, value offset, value length) of the 4-byte-header items in b[pos:end]."""
    out = []
    while pos < end:
        assert end - pos >= 4, f"item header truncated at {pos}"
        t, n = b[pos], _u16(b, pos + 2)
        assert pos + 4 + n <= end, f"item {t:02X}H at {pos} runs past its parent"
        out.append((t, pos + 4, n))
        pos += 4 + n
    assert pos == end
    return out


def _lv_fields(b: bytes, pos: int, end: int) -> int:
    """Walks 2-byte-length fields to end; returns their count."""
    count = 0
    while pos < end:
        n = _u16(b, pos)
        assert pos + 2 + n <= end
        pos += 2 + n
        count += 1
    return count


def reference_walk(b: bytes) -> set[int]:
    """Check every length field of one whole PDU; return the cut points (PDU lengths) at
    which a prefix, with its PDU-length rewritten, is still a valid PDU of the same type."""
    assert 1 <= b[0] <= 7
    assert _u32(b, 2) == len(b) - 6, "PDU-length field"
    valid: set[int] = set()
    if b[0] in (1, 2):
        pc_type = 0x20 if b[0] == 1 else 0x21
        seen: set[int] = set()
        for t, off, n in _walk_items(b, 74, len(b)):
            if t == pc_type:
                subs = _walk_items(b, off + 4, off + n)
                if t == 0x20:
                    assert [s[0] for s in subs].count(0x30) == 1
                    assert any(s[0] == 0x40 for s in subs)
                else:
                    assert [s[0] for s in subs].count(0x40) <= 1
            if t == 0x50:
                for st, so, sn in _walk_items(b, off, off + n):
                    if st in (0x51, 0x53):
                        assert sn == 4
                    elif st == 0x54:
                        assert _u16(b, so) + 4 == sn
                    elif st == 0x56:
                        assert _u16(b, so) + 2 <= sn
                    elif st == 0x57:
                        a = _u16(b, so)
                        c = _u16(b, so + 2 + a)
                        r = _u16(b, so + 4 + a + c)
                        assert 6 + a + c + r == sn
                        _lv_fields(b, so + 6 + a + c, so + sn)
                    elif st == 0x58:
                        p = _u16(b, so + 2)
                        assert 6 + p + _u16(b, so + 4 + p) == sn
                    elif st == 0x59:
                        assert _u16(b, so) + 2 == sn
            seen.add(t)
            if {0x10, pc_type, 0x50} <= seen:
                valid.add(off + n)
    elif b[0] == 4:
        pos = 6
        while pos < len(b):
            n = _u32(b, pos)
            assert n >= 2 and pos + 4 + n <= len(b)
            pos += 4 + n
            valid.add(pos)
    else:
        assert len(b) == 10
    valid.discard(len(b))
    return valid


@vectors
def test_vector_lengths_are_consistent(v: Any) -> None:
    reference_walk(v.data)
    reference_walk(v.encoded)


# ---- field checks ---------------------------------------------------------------------

_TYPES = {
    "RQ": Associate,
    "AC": Associate,
    "RJ": AssociateReject,
    "PDATA": PDataTF,
    "RELEASE_RQ": ReleaseRQ,
    "RELEASE_RP": ReleaseRP,
    "ABORT": Abort,
}


def check_fields(v: Any, pdu: object) -> None:
    """Every decoded field of pdu against the vector's expected value."""
    assert type(pdu) is _TYPES[v.kind], (v.name, type(pdu))
    if v.kind in ("RQ", "AC"):
        assert isinstance(pdu, Associate)
        for name, want in v.expected["view"].items():
            got = getattr(pdu, name)
            if name == "is_request":
                got = bool(got)
            assert got == want, (v.name, name)
        assert pdu.presentation_count == len(v.expected["view"]["presentation_contexts"])
    elif v.kind == "RJ":
        assert isinstance(pdu, AssociateReject)
        assert (pdu.result, pdu.source, pdu.reason) == v.expected
    elif v.kind == "ABORT":
        assert isinstance(pdu, Abort)
        assert (pdu.source, pdu.reason) == v.expected
    elif v.kind == "PDATA":
        assert isinstance(pdu, PDataTF)
        got = [(p.context_id, p.control, bytes(p.data)) for p in pdu.pdvs]
        assert got == v.expected
        for p, (_, control, _) in zip(pdu.pdvs, v.expected, strict=True):
            assert p.is_command == bool(control & 1)
            assert p.is_last == bool(control & 2)
            assert isinstance(p.data, memoryview)
    assert pdu.pdu_type == v.data[0] if not isinstance(pdu, Associate) else True


@vectors
@buffer_types
def test_decode_whole(v: Any, buf: type) -> None:
    check_fields(v, dicomul.decode_pdu(buf(v.data)))


@pytest.mark.parametrize("v", ASSOC_VECTORS, ids=lambda v: v.name)
def test_core_decode_associate(v: Any) -> None:
    core = _core.decode_associate(v.data)
    assert core == v.expected["core"]
    # the tuple is also what encode_associate takes, and it survives a round trip, except
    # that an AC context without a 40H item comes back with an empty one (ul.h)
    want = [[i, r, a, ts or [""]] if v.kind == "AC" else [i, r, a, ts] for i, r, a, ts in core[5]]
    assert _core.decode_associate(_core.encode_associate(*core)) == core[:5] + (want, core[6])


# ---- re-encoding ----------------------------------------------------------------------


@vectors
def test_reencode(v: Any) -> None:
    pdu = dicomul.decode_pdu(v.data)
    assert pdu.encode() == v.encoded
    if v.kind in ("RQ", "AC"):
        assert Associate.decode(v.data).encode() == v.encoded
    # where the re-encoding differs, it still decodes to the same value
    again = dicomul.decode_pdu(v.encoded)
    check_fields(v, again)
    assert again == pdu


@pytest.mark.parametrize("v", GARBAGE_VECTORS, ids=lambda v: v.name)
def test_reencoding_differs_only_where_expected(v: Any) -> None:
    """A vector with garbage in reserved fields differs from its re-encoding only at those
    bytes, which the re-encoding holds as zeros."""
    assert v.reencoded is not None and len(v.reencoded) == len(v.data)
    diff = [i for i in range(len(v.data)) if v.data[i] != v.reencoded[i]]
    assert diff
    assert all(v.reencoded[i] == 0 for i in diff)


# ---- PDUReader: whole, byte by byte, every split, buffer types -------------------------


def _feed_all(chunks: list[bytes], buf: type, max_pdu_length: int | None = None) -> list[Any]:
    reader = dicomul.PDUReader() if max_pdu_length is None else dicomul.PDUReader(max_pdu_length)
    out: list[Any] = []
    for c in chunks:
        out.extend(reader.feed(buf(c)))
    assert reader.buffered == 0
    return out


@vectors
@buffer_types
def test_reader_whole(v: Any, buf: type) -> None:
    (pdu,) = _feed_all([v.data], buf)
    check_fields(v, pdu)


@vectors
@buffer_types
def test_reader_byte_by_byte(v: Any, buf: type) -> None:
    reader = dicomul.PDUReader()
    for i in range(len(v.data) - 1):
        assert reader.feed(buf(v.data[i : i + 1])) == []
        assert reader.buffered == i + 1
    (pdu,) = reader.feed(buf(v.data[-1:]))
    assert reader.buffered == 0
    check_fields(v, pdu)


@vectors
@buffer_types
def test_reader_every_split(v: Any, buf: type) -> None:
    whole = dicomul.decode_pdu(v.data)
    for k in range(1, len(v.data)):
        reader = dicomul.PDUReader()
        assert reader.feed(buf(v.data[:k])) == []
        assert reader.buffered == k
        (pdu,) = reader.feed(buf(v.data[k:]))
        assert pdu == whole, (v.name, k)
    check_fields(v, pdu)


@vectors
def test_reader_does_not_alias_mutable_chunks(v: Any) -> None:
    chunk = bytearray(v.data)
    (pdu,) = dicomul.PDUReader().feed(chunk)
    chunk[:] = bytes(len(chunk))  # the caller reuses its receive buffer
    check_fields(v, pdu)


@vectors
@buffer_types
def test_reader_keeps_trailing_bytes(v: Any, buf: type) -> None:
    second = V.BY_NAME["pdata-one-pdv"].data
    for k in (1, 5, 6, len(second) - 1):
        reader = dicomul.PDUReader()
        (pdu,) = reader.feed(buf(v.data + second[:k]))
        check_fields(v, pdu)
        assert reader.buffered == k
        (nxt,) = reader.feed(buf(second[k:]))
        assert nxt == dicomul.decode_pdu(second)
        assert reader.buffered == 0
    # two whole PDUs in one chunk, and the vector twice
    assert len(dicomul.PDUReader().feed(buf(v.data + second))) == 2
    a, b = dicomul.PDUReader().feed(buf(v.data * 2))
    check_fields(v, a)
    check_fields(v, b)


# ---- decode_pdu: trailing bytes, truncation -------------------------------------------


@vectors
@pytest.mark.parametrize("extra", [b"\x00", RELEASE_RQ], ids=["one-byte", "release-rq"])
def test_decode_pdu_rejects_trailing_bytes(v: Any, extra: bytes) -> None:
    with pytest.raises(ProtocolError) as e:
        dicomul.decode_pdu(v.data + extra)
    assert e.value.abort_source == 2
    assert e.value.abort_reason == 6  # invalid-PDU-parameter-value (the PDU-length)
    assert e.value.offset == len(v.data)


@vectors
def test_every_truncation_raises(v: Any) -> None:
    """A prefix of a PDU: the PDU-length field runs past the end of the bytes."""
    for k in range(len(v.data)):
        with pytest.raises(ProtocolError) as e:
            dicomul.decode_pdu(v.data[:k])
        assert e.value.abort_source == 2
        assert e.value.abort_reason == 6, (k, e.value)
        # before the header is complete: where it stops; after: the PDU-length field
        assert e.value.offset == (k if k < 6 else 2), (k, e.value)


@vectors
def test_every_truncation_with_consistent_pdu_length(v: Any) -> None:
    """A prefix whose PDU-length says so: the damage is inside (an item or PDV runs past the
    end, a mandatory item is missing, a fixed-size PDU is short). Cuts at item boundaries
    that leave a valid PDU must decode."""
    valid = reference_walk(v.data)
    for k in range(6, len(v.data)):
        cut = v.data[:2] + (k - 6).to_bytes(4, "big") + v.data[6:k]
        if k in valid:
            assert type(dicomul.decode_pdu(cut)) is _TYPES[v.kind]
            continue
        with pytest.raises(ProtocolError) as e:
            dicomul.decode_pdu(cut)
        assert e.value.abort_source == 2
        # 6 invalid-PDU-parameter-value (a length), 4 unrecognized-PDU-parameter (missing)
        assert e.value.abort_reason in (4, 6), (k, e.value)
        assert e.value.offset is not None and 0 <= e.value.offset <= k, (k, e.value)
        # the reader fails the same way, and then stays failed
        reader = dicomul.PDUReader()
        with pytest.raises(ProtocolError):
            reader.feed(cut)
        with pytest.raises(ProtocolError):
            reader.feed(RELEASE_RQ)


@vectors
def test_reader_waits_on_a_truncated_pdu(v: Any) -> None:
    for k in range(1, len(v.data)):
        reader = dicomul.PDUReader()
        assert reader.feed(v.data[:k]) == []
        assert reader.buffered == k


# ---- limits and failure ----------------------------------------------------------------


@vectors
def test_max_pdu_length_is_checked_at_the_header(v: Any) -> None:
    declared = len(v.data) - 6
    reader = dicomul.PDUReader(max_pdu_length=declared - 1)
    assert reader.feed(v.data[:5]) == []
    with pytest.raises(ProtocolError) as e:
        reader.feed(v.data[5:6])
    assert e.value.abort_source == 2 and e.value.abort_reason == 6
    assert reader.buffered <= 6
    with pytest.raises(ProtocolError):  # and it stays failed
        reader.feed(v.data[6:])
    # the whole PDU in one chunk is refused as well; at the limit it is accepted
    with pytest.raises(ProtocolError):
        dicomul.PDUReader(max_pdu_length=declared - 1).feed(v.data)
    (pdu,) = dicomul.PDUReader(max_pdu_length=declared).feed(v.data)
    check_fields(v, pdu)


@pytest.mark.parametrize("pdu_type", range(1, 8))
def test_huge_declared_length_refused_without_allocation(pdu_type: int) -> None:
    reader = dicomul.PDUReader(max_pdu_length=1 << 20)
    header = bytes([pdu_type, 0, 0xFF, 0xFF, 0xFF, 0xFF])
    tracemalloc.start()
    try:
        with pytest.raises(ProtocolError) as e:
            reader.feed(header)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert e.value.abort_reason == 6
    assert reader.buffered <= 6
    assert peak < 64 * 1024
    # split header: nothing happens until the sixth byte, which fails at once
    reader = dicomul.PDUReader(max_pdu_length=1 << 20)
    for i in range(5):
        assert reader.feed(header[i : i + 1]) == []
    with pytest.raises(ProtocolError):
        reader.feed(header[5:])
    assert reader.buffered <= 6


@pytest.mark.parametrize("pdu_type", [0x00, 0x08, 0xFF])
@buffer_types
def test_unknown_pdu_type_fails_at_once(pdu_type: int, buf: type) -> None:
    reader = dicomul.PDUReader()
    with pytest.raises(ProtocolError) as e:
        reader.feed(buf(bytes([pdu_type])))
    assert e.value.abort_source == 2
    assert e.value.abort_reason == 1  # unrecognized-PDU
    assert e.value.offset == 0
    # after an error the reader keeps raising, with the same error
    with pytest.raises(ProtocolError) as again:
        reader.feed(RELEASE_RQ)
    assert again.value is e.value
    with pytest.raises(ProtocolError):
        reader.feed(b"")
    # the type byte after a whole PDU, and after a header split over chunks
    reader = dicomul.PDUReader()
    assert len(reader.feed(RELEASE_RQ)) == 1
    with pytest.raises(ProtocolError):
        reader.feed(buf(bytes([pdu_type, 0, 0, 0])))
    # decode_pdu refuses it too
    with pytest.raises(ProtocolError) as d:
        dicomul.decode_pdu(bytes([pdu_type, 0, 0, 0, 0, 4, 0, 0, 0, 0]))
    assert d.value.abort_reason == 1 and d.value.offset == 0


def test_decode_pdu_empty() -> None:
    with pytest.raises(ProtocolError) as e:
        dicomul.decode_pdu(b"")
    assert e.value.abort_reason == 6 and e.value.offset == 0
    assert dicomul.PDUReader().feed(b"") == []


def test_release_rq_literal() -> None:
    """The PS3.8 Table 9-24 example, spelled as in the brief."""
    assert V.BY_NAME["release-rq"].data == bytes.fromhex("05 00 00000004 00000000")
    assert ReleaseRQ().encode() == bytes.fromhex("05 00 00000004 00000000")
    assert ReleaseRP().encode() == bytes.fromhex("06 00 00000004 00000000")


def test_every_vector_kind_is_covered() -> None:
    kinds = {v.kind for v in VECTORS}
    assert kinds == set(_TYPES)
    assert {v.expected for v in VECTORS if v.kind == "RJ"} == set(V.RJ_VALID)
    assert {v.expected for v in VECTORS if v.kind == "ABORT"} == set(V.ABORT_VALID)
    controls = {c for v in VECTORS if v.kind == "PDATA" for _, c, _ in v.expected}
    assert {0, 1, 2, 3} <= controls and any(c & 0xFC for c in controls)
    sub_items = {
        item[0] for v in VECTORS if v.kind in ("RQ", "AC") for item in v.expected["core"][6]
    }
    assert set(range(0x51, 0x5A)) | {0x77} <= sub_items
    id_types = {
        item[1] for v in VECTORS if v.kind == "RQ" for item in v.expected["core"][6]
        if item[0] == 0x58
    }  # fmt: skip
    assert id_types == {1, 2, 3, 4, 5}
    ac_results = {pc[1] for v in VECTORS if v.kind == "AC" for pc in v.expected["core"][5]}
    assert ac_results == {0, 1, 2, 3, 4}


# ---- buffers of another item format ------------------------------------------------------

# decode_pdu() and PDUReader.feed() take any contiguous buffer, whatever its item format.


def _as_uint16_view(data: bytes) -> memoryview:
    import array

    a = array.array("H")
    a.frombytes(data)
    return memoryview(a)


def test_decode_pdu_other_format_memoryview_short_pdus() -> None:
    for name in ("release-rq", "rq-full", "abort-source2-reason4"):
        v = V.BY_NAME[name]
        check_fields(v, dicomul.decode_pdu(_as_uint16_view(v.data)))


def test_decode_pdu_other_format_memoryview_pdata() -> None:
    v = V.BY_NAME["pdata-one-pdv"]
    check_fields(v, dicomul.decode_pdu(_as_uint16_view(v.data)))


def test_reader_other_format_memoryview() -> None:
    v = V.BY_NAME["release-rq"]
    (pdu,) = dicomul.PDUReader().feed(_as_uint16_view(v.data))
    check_fields(v, pdu)
