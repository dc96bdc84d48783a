"""The PDU codec against PDUs captured from DCMTK 3.6.7 (tests/vectors/dcmtk_*.hex).

The vectors come from tests/interop/capture_dcmtk.py; the stored files make these tests run
where DCMTK is absent. The one live test re-runs the capture when DCMTK is installed.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from dicomul.errors import ProtocolError
from dicomul.ul import _core

from . import capture_dcmtk as cap

pytestmark = pytest.mark.interop

VECTORS = sorted(cap.VECTOR_DIR.glob("dcmtk_*.hex"))
DCMTK_USER = [(0x52, cap.DCMTK_IMPL_CLASS_UID), (0x55, cap.DCMTK_IMPL_VERSION_NAME)]
UNCOMPRESSED = [cap.IMPLICIT_LE, cap.EXPLICIT_LE, cap.EXPLICIT_BE]

# The decoded fields each vector must have: what its capture command asked for, plus what
# DCMTK 3.6.7 adds on its own (implementation class UID / version name, its choices).
EXPECTED = {
    # echoscu -ppc 3 -pts 3: three Verification contexts (ids 1, 3, 5), each proposing the
    # first three entries of echoscu's transfer syntax table (implicit LE, explicit LE,
    # explicit BE, in that order); -pdu 16384; user items 51H, 52H, 55H in that order.
    "dcmtk_echoscu_rq": (
        1,
        1,
        cap.ECHO_AEC,
        cap.ECHO_AET,
        cap.APP_CONTEXT,
        [[i, 0, cap.VERIFICATION, UNCOMPRESSED] for i in (1, 3, 5)],
        [(0x51, cap.ECHO_MAX_PDU), *DCMTK_USER],
    ),
    # storescu -R with CT_small.dcm and MR_small.dcm (both explicit VR LE files): for each
    # SOP class a context with the file's own transfer syntax, then one with the other
    # uncompressed ones (explicit BE, implicit LE); -pdu 32768.
    "dcmtk_storescu_rq": (
        1,
        1,
        cap.STORE_AEC,
        cap.STORE_AET,
        cap.APP_CONTEXT,
        [
            [1, 0, cap.CT_IMAGE, [cap.EXPLICIT_LE]],
            [3, 0, cap.CT_IMAGE, [cap.EXPLICIT_BE, cap.IMPLICIT_LE]],
            [5, 0, cap.MR_IMAGE, [cap.EXPLICIT_LE]],
            [7, 0, cap.MR_IMAGE, [cap.EXPLICIT_BE, cap.IMPLICIT_LE]],
        ],
        [(0x51, cap.STORE_MAX_PDU), *DCMTK_USER],
    ),
    # storescp -aet STORESCP_TEST -pdu 65536, answering cap.scp_rq(): the AE fields echo
    # the RQ; results per cap.SCP_AC_RESULTS; no 53H/54H in the answer.
    "dcmtk_storescp_ac": (
        2,
        1,
        cap.SCP_AET,
        cap.SCP_CALLING,
        cap.APP_CONTEXT,
        [[pc_id, res, None, [ts]] for pc_id, (res, ts) in sorted(cap.SCP_AC_RESULTS.items())],
        [(0x51, cap.SCP_MAX_PDU), *DCMTK_USER],
    ),
}
SHORT = {
    "dcmtk_storescp_rj": _core.AssociateReject(1, 1, 1),  # permanent, service user, no reason
    "dcmtk_storescp_release_rp": _core.ReleaseRP(),
    "dcmtk_echoscu_release_rq": _core.ReleaseRQ(),
}


def _load(name: str) -> bytes:
    return cap.read_vector(cap.VECTOR_DIR / f"{name}.hex")[1]


def _ids(paths):
    return [p.stem for p in paths]


def _items(pdu: bytes):
    """(offset, type, length) of each variable item of an A-ASSOCIATE-RQ/AC."""
    out, off = [], 74
    while off < len(pdu):
        n = int.from_bytes(pdu[off + 2 : off + 4], "big")
        out.append((off, pdu[off], n))
        off += 4 + n
    assert off == len(pdu)
    return out


def test_every_vector_is_known():
    assert {p.stem for p in VECTORS} == set(EXPECTED) | set(SHORT)


@pytest.mark.parametrize("path", VECTORS, ids=_ids(VECTORS))
def test_provenance_header(path: Path):
    meta, pdu = cap.read_vector(path)
    for key in ("tool", "version", "command", "date", "expected", "length"):
        assert meta.get(key), f"{path.name} lacks '# {key}:'"
    assert meta["tool"][0] in ("echoscu", "storescu", "storescp")
    assert "v3.6.7" in meta["version"][0]
    assert meta["command"][0].startswith(meta["tool"][0] + " ")
    assert int(meta["length"][0].split()[0]) == len(pdu)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_decode_associate(name: str):
    assert _core.decode_associate(_load(name)) == EXPECTED[name]


def test_storescp_ac_answers_the_request_we_sent():
    meta, _ = cap.read_vector(cap.VECTOR_DIR / "dcmtk_storescp_ac.hex")
    (request,) = [n.split(": ", 1)[1] for n in meta["note"] if n.startswith("request: ")]
    rq = bytes.fromhex(request)
    assert rq == cap.scp_rq()  # our encoder is deterministic: same RQ today as at capture
    assert _core.decode_associate(rq) == (
        1,
        1,
        cap.SCP_AET,
        cap.SCP_CALLING,
        cap.APP_CONTEXT,
        cap.SCP_RQ_PCS,
        cap.SCP_RQ_USER,
    )
    ac = _core.decode_associate(_load("dcmtk_storescp_ac"))
    assert [pc[0] for pc in ac[5]] == [pc[0] for pc in cap.SCP_RQ_PCS]


@pytest.mark.parametrize("name", ["dcmtk_storescp_ac"])
def test_reencode_ac_identical(name: str):
    pdu = _load(name)
    assert _core.encode_associate(*_core.decode_associate(pdu)) == pdu


@pytest.mark.parametrize("name", ["dcmtk_echoscu_rq", "dcmtk_storescu_rq"])
def test_reencode_rq_differs_only_in_reserved_pc_byte(name: str):
    # DCMTK writes FFH (its ASC_P_NOTYETNEGOTIATED "result") into byte 7 of every
    # presentation context item (20H) of an A-ASSOCIATE-RQ. PS3.8 Table 9-13 makes that
    # byte reserved: sent as 00H, not tested on receipt. dicomul decodes it as result 0 and
    # re-encodes 00H, so exactly those bytes differ; everything else (item order, UID
    # lengths: DCMTK does not pad UIDs, AE padding, lengths) is byte-identical.
    pdu = _load(name)
    ours = _core.encode_associate(*_core.decode_associate(pdu))
    assert len(ours) == len(pdu)
    reserved = {off + 6 for off, t, _n in _items(pdu) if t == 0x20}
    assert len(reserved) == len(EXPECTED[name][5])
    assert {i for i in range(len(pdu)) if pdu[i] != ours[i]} == reserved
    assert all(pdu[i] == 0xFF and ours[i] == 0x00 for i in reserved)
    patched = bytearray(ours)
    for i in reserved:
        patched[i] = 0xFF
    assert bytes(patched) == pdu


@pytest.mark.parametrize("name", sorted(SHORT))
def test_decode_short(name: str):
    pdu = _load(name)
    got = _core.decode_short(pdu)
    assert got == SHORT[name]
    assert got.encode() == pdu


def test_reject_fields():
    rj = _core.decode_short(_load("dcmtk_storescp_rj"))
    assert (rj.result, rj.source, rj.reason) == (1, 1, 1)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_truncated_associate_raises(name: str):
    pdu = _load(name)
    for n in range(len(pdu)):
        with pytest.raises(ProtocolError):
            _core.decode_associate(pdu[:n])


@pytest.mark.parametrize("path", VECTORS, ids=_ids(VECTORS))
def test_framer_whole_bytewise_and_every_split(path: Path):
    pdu = cap.read_vector(path)[1]
    assert [bytes(p) for p in _core.Framer().feed(pdu)] == [pdu]

    framer, got = _core.Framer(), []
    for i in range(len(pdu)):
        got += framer.feed(pdu[i : i + 1])
        if i < len(pdu) - 1:
            assert got == []
    assert [bytes(p) for p in got] == [pdu]
    assert framer.buffered == 0

    for k in range(len(pdu) + 1):
        framer = _core.Framer()
        first = framer.feed(pdu[:k])
        second = framer.feed(pdu[k:])
        assert [bytes(p) for p in first + second] == [pdu], f"split at {k}"
        if k < len(pdu):
            assert first == []


def test_framer_stream_of_all_vectors():
    pdus = [cap.read_vector(p)[1] for p in VECTORS]
    stream = b"".join(pdus)
    framer, got = _core.Framer(), []
    for i in range(0, len(stream), 7):
        got += framer.feed(stream[i : i + 7])
    assert [bytes(p) for p in got] == pdus


@pytest.mark.skipif(shutil.which("echoscu") is None, reason="DCMTK not installed")
def test_live_capture_matches_stored():
    if cap.find_dcmtk("echoscu") is None:  # an echoscu on PATH that is not DCMTK's
        pytest.skip("the echoscu on PATH is not DCMTK's")
    live = {c.name: c for c in cap.capture_all()}
    assert set(live) == {p.stem for p in VECTORS}
    for name, c in live.items():
        stored = _load(name)
        meta = cap.read_vector(cap.VECTOR_DIR / f"{name}.hex")[0]
        assert c.version == meta["version"][0]
        if c.pdu[0] in (1, 2):
            assert _core.decode_associate(c.pdu) == _core.decode_associate(stored), name
        else:
            assert _core.decode_short(c.pdu) == _core.decode_short(stored), name
        # Nothing in these PDUs depends on the run (ports and dates are not in them).
        assert c.pdu == stored, name
