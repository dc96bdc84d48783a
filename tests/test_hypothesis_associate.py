"""Property tests: random valid A-ASSOCIATE-RQ/AC handles built through the public API
survive encode/decode, and PDUReader is indifferent to how a stream is chunked."""

from __future__ import annotations

from typing import Any

import pytest

hypothesis = pytest.importorskip("hypothesis")

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import dicomul  # noqa: E402
from dicomul import (  # noqa: E402
    PDV,
    Abort,
    Associate,
    AssociateReject,
    PDataTF,
    ReleaseRP,
    ReleaseRQ,
)

pytest.importorskip("dicomul.ul._core", reason="dicomul.ul._core is not built")


def examples(n: int) -> Any:
    """Settings for one test: n examples, no deadline (the first call builds caches), no
    example database written into the tree."""
    return settings(
        max_examples=n,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


# ---- value strategies -----------------------------------------------------------------

# AE titles: ISO 646 G0 without backslash or control characters, not all spaces
# (PS3.8 Table 9-11, the AE VR). Leading/trailing spaces are legal and not significant.
_AE_CHARS = "".join(chr(c) for c in range(0x20, 0x7F) if chr(c) != "\\")
ae_titles = st.text(alphabet=_AE_CHARS, min_size=1, max_size=16).filter(lambda t: t.strip(" "))

# UIDs (PS3.5 9.1): digits and dots, components without leading zeros, at most 64 chars.
_component = st.one_of(st.just("0"), st.integers(1, 99999).map(str))
uids = st.lists(_component, min_size=2, max_size=10).map(".".join)

# Implementation version name: 1-16 printable ASCII without backslash. Edge spaces are left
# out here: see test_implementation_version_name_edge_spaces_round_trip.
_NAME_CHARS = "".join(chr(c) for c in range(0x21, 0x7F) if chr(c) != "\\")
version_names = st.one_of(
    st.text(alphabet=_NAME_CHARS, min_size=1, max_size=16),
    st.tuples(
        st.text(alphabet=_NAME_CHARS, min_size=1, max_size=7),
        st.text(alphabet=_NAME_CHARS, min_size=1, max_size=7),
    ).map(" ".join),
)

u16s = st.integers(0, 0xFFFF)
u32s = st.integers(0, 0xFFFFFFFF)
small_bytes = st.binary(max_size=48)
# raw user-information items: any type without a typed meaning (not 51H..59H)
raw_types = st.integers(0, 255).filter(lambda t: not 0x51 <= t <= 0x59)


def _optional(draw: Any, strategy: Any) -> Any:
    return draw(st.one_of(st.none(), strategy))


def _user_items(draw: Any, a: Associate, request: bool) -> None:
    """The optional user-information items every RQ/AC may carry (51H..56H, raw)."""
    ml = _optional(draw, u32s)
    if ml is not None:
        a.max_length = ml
    a.implementation_class_uid = _optional(draw, uids)
    a.implementation_version_name = _optional(draw, version_names)
    a.async_operations = _optional(draw, st.tuples(u16s, u16s))
    ids = [pc.id for pc in a.presentation_contexts]
    for pc_id in draw(st.lists(st.sampled_from(ids), max_size=6)):
        a.set_role_select(pc_id, True, draw(st.integers(0, 1)), draw(st.integers(0, 1)))
    for pc_id in draw(st.lists(st.sampled_from(ids), max_size=6)):
        a.set_extended(pc_id, draw(small_bytes))
    for t, data in draw(st.lists(st.tuples(raw_types, small_bytes), max_size=4)):
        a.add_user_info(t, data)


@st.composite
def requests(draw: Any, max_contexts: int = 128) -> Associate:
    """A random valid A-ASSOCIATE-RQ with every kind of item."""
    a = Associate(True)
    a.called = draw(ae_titles)
    a.calling = draw(ae_titles)
    if draw(st.booleans()):
        a.version = draw(st.integers(1, 0xFFFF))
    if draw(st.booleans()):
        a.application_context = draw(uids)
    abstracts = draw(st.lists(uids, min_size=1, max_size=8, unique=True))
    ids = draw(
        st.lists(st.integers(0, 127), min_size=1, max_size=max_contexts, unique=True)
    )  # odd, unique presentation context IDs 1..255
    for i in ids:
        a.add_presentation(
            2 * i + 1,
            draw(st.sampled_from(abstracts)),
            transfer_syntaxes=draw(st.lists(uids, min_size=1, max_size=4)),
        )
    _user_items(draw, a, True)
    for _ in range(draw(st.integers(0, 3))):
        a.add_common_extended(draw(uids), draw(uids), draw(st.lists(uids, max_size=3)))
    if draw(st.booleans()):
        id_type = draw(st.integers(1, 5))
        a.set_user_identity(
            id_type,
            draw(st.binary(min_size=1, max_size=64)),
            draw(st.binary(max_size=32)) if id_type == 2 else b"",
            draw(st.booleans()),
        )
    return a


@st.composite
def accepts(draw: Any, request: Associate) -> Associate:
    """A random valid A-ASSOCIATE-AC answering ``request``, abstract syntaxes included
    (an AC PDU does not carry them: compare after backfill_abstracts)."""
    a = Associate(False)
    a.called, a.calling = request.called, request.calling
    for pc in request.presentation_contexts:
        result = draw(st.integers(0, 4))
        ts = (
            [draw(st.sampled_from(pc.transfer_syntaxes))]
            if result == 0
            else draw(st.lists(uids, max_size=1))  # not significant when rejected
        )
        a.add_presentation(pc.id, pc.abstract_syntax, result, ts)
    _user_items(draw, a, False)
    a.user_identity_response = _optional(draw, st.binary(max_size=64))
    return a


# ---- round trips ------------------------------------------------------------------------


@examples(150)
@given(requests())
def test_request_round_trip(a: Associate) -> None:
    data = a.encode()
    b = Associate.decode(data)
    assert b == a
    assert b.encode() == data
    assert dicomul.decode_pdu(data) == a
    assert b.presentation_contexts == a.presentation_contexts


@examples(100)
@given(st.data())
def test_accept_round_trip_and_backfill(data: Any) -> None:
    rq = data.draw(requests(max_contexts=16))
    ac = data.draw(accepts(rq))
    wire = ac.encode()
    b = Associate.decode(wire)
    assert not b.is_request
    assert b.encode() == wire
    assert all(pc.abstract_syntax is None for pc in b.presentation_contexts)
    b.backfill_abstracts(rq)
    assert [pc.abstract_syntax for pc in b.presentation_contexts] == [
        pc.abstract_syntax for pc in rq.presentation_contexts
    ]
    assert b == ac
    assert b.encode() == wire
    # without the back-fill, the AC equals the one built with no abstract syntaxes
    for pc in ac.presentation_contexts:
        ac.set_abstract(pc.id, None)
    assert Associate.decode(wire) == ac


@examples(5)
@given(uids, st.lists(uids, min_size=1, max_size=3))
def test_request_with_128_contexts_round_trip(abstract: str, ts: list[str]) -> None:
    a = Associate(True)
    a.called, a.calling = "CALLED", "CALLING"
    for pc_id in range(1, 256, 2):
        a.add_presentation(pc_id, abstract, transfer_syntaxes=ts)
    assert a.presentation_count == 128
    data = a.encode()
    assert Associate.decode(data) == a
    assert Associate.decode(data).encode() == data


@pytest.mark.parametrize("name", [" X", "X ", " X "])
def test_implementation_version_name_edge_spaces_round_trip(name: str) -> None:
    """Edge spaces are not significant in SH: the setter drops them, as the decoder does."""
    a = Associate(True)
    a.called, a.calling = "A", "B"
    a.add_presentation(1, "1.2.3", transfer_syntaxes=["1.2.840.10008.1.2"])
    a.implementation_version_name = name
    assert a.implementation_version_name == "X"
    assert Associate.decode(a.encode()) == a


# ---- chunking invariance ----------------------------------------------------------------

_bytes_ = st.integers(0, 255)
pdus = st.one_of(
    requests(max_contexts=4),
    requests(max_contexts=2).flatmap(accepts),
    st.builds(AssociateReject, _bytes_, _bytes_, _bytes_),
    st.builds(
        PDataTF,
        st.lists(
            st.builds(
                PDV,
                st.integers(0, 127).map(lambda i: 2 * i + 1),
                _bytes_,
                st.one_of(st.binary(max_size=64), st.binary(min_size=1000, max_size=2100)),
            ),
            min_size=1,
            max_size=4,
        ),
    ),
    st.builds(ReleaseRQ),
    st.builds(ReleaseRP),
    st.builds(Abort, _bytes_, _bytes_),
)
chunk_types = st.sampled_from([bytes, bytearray, memoryview])


@examples(150)
@given(st.lists(pdus, min_size=1, max_size=8), st.data())
def test_reader_chunking_invariance(sequence: list[Any], data: Any) -> None:
    encoded = [p.encode() for p in sequence]
    stream = b"".join(encoded)
    cuts = sorted(data.draw(st.sets(st.integers(1, max(1, len(stream) - 1)), max_size=12)))
    bounds = [0, *cuts, len(stream)]
    reader = dicomul.PDUReader()
    out: list[Any] = []
    for lo, hi in zip(bounds, bounds[1:], strict=False):
        out.extend(reader.feed(data.draw(chunk_types)(stream[lo:hi])))
    assert reader.buffered == 0
    assert len(out) == len(sequence)
    assert out == [dicomul.decode_pdu(e) for e in encoded]
    assert [p.encode() for p in out] == encoded
    # and the same stream fed whole, and byte by byte for short streams
    assert dicomul.PDUReader().feed(stream) == out
    if len(stream) <= 2048:
        reader = dicomul.PDUReader()
        one: list[Any] = []
        for i in range(len(stream)):
            one.extend(reader.feed(stream[i : i + 1]))
        assert one == out
