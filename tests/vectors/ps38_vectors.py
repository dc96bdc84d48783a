"""Hand-built PDU test vectors, written field by field from the PS3.8 / PS3.7 tables.

Nothing here comes from dicomul's encoder and nothing here imports dicomul: every byte is
typed from the tables it cites ("T9-11" = PS3.8 Table 9-11, "TD.3-14" = PS3.7 Table
D.3-14, "TD.1-1" = PS3.8 Table D.1-1), every length field is a literal. tests/test_vectors.py
checks the length fields with its own small struct walker before trusting a vector.

Each :class:`Vector` holds:

* ``data``       the PDU bytes;
* ``kind``       "RQ", "AC", "RJ", "PDATA", "RELEASE_RQ", "RELEASE_RP" or "ABORT";
* ``expected``   the decoded value:
    - RQ/AC: ``{"core": <the tuple dicomul.ul._core.decode_associate returns>,
                "view": <Associate attributes, see _view()>}``
    - RJ: ``(result, source, reason)``; ABORT: ``(source, reason)``; RELEASE_*: ``None``
    - PDATA: ``[(presentation context ID, message control header, fragment bytes), ...]``;
* ``reencoded``  the exact bytes dicomul must produce when it re-encodes the decoded PDU:
  the same as ``data`` unless the vector holds non-zero reserved fields (re-encoded as
  zeros), unknown items (dropped), UID padding (dropped), sub-items out of order (sorted)
  or a rejected AC presentation context without a 40H item (an empty 40H is written).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["Vector", "VECTORS", "BY_NAME"]


@dataclass(frozen=True)
class Vector:
    name: str
    data: bytes
    kind: str
    expected: Any
    reencoded: bytes | None = None

    @property
    def encoded(self) -> bytes:
        """The exact expected re-encoding."""
        return self.data if self.reencoded is None else self.reencoded


def u16(n: int) -> bytes:
    """A 2-byte big-endian unsigned field (PS3.8 9.3.1: all multi-byte fields big-endian)."""
    return n.to_bytes(2, "big")


def u32(n: int) -> bytes:
    """A 4-byte big-endian unsigned field."""
    return n.to_bytes(4, "big")


# ---- values used below (PS3.6 / PS3.4 UIDs, written out) ---------------------------------

APP = b"1.2.840.10008.3.1.1.1"  # DICOM application context name (PS3.7 A.2.1), 21 bytes
VERIF = b"1.2.840.10008.1.1"  # Verification SOP class, 17 bytes
CT = b"1.2.840.10008.5.1.4.1.1.2"  # CT Image Storage, 25 bytes
FIND = b"1.2.840.10008.5.1.4.1.2.2.1"  # Study Root Q/R Information Model - FIND, 27 bytes
IVRLE = b"1.2.840.10008.1.2"  # Implicit VR Little Endian, 17 bytes
EVRLE = b"1.2.840.10008.1.2.1"  # Explicit VR Little Endian, 19 bytes
EVRBE = b"1.2.840.10008.1.2.2"  # Explicit VR Big Endian, 19 bytes
IMPL = b"1.2.3.4.5.6.7.8.9.10"  # an implementation class UID, 20 bytes
IMPL_VER = b"DICOMUL_010"  # an implementation version name, 11 bytes
STORAGE = b"1.2.840.10008.4.2"  # Storage Service Class, 17 bytes
ECT = b"1.2.840.10008.5.1.4.1.1.2.1"  # Enhanced CT Image Storage, 27 bytes
LECT = b"1.2.840.10008.5.1.4.1.1.2.2"  # Legacy Converted Enhanced CT Image Storage, 27 bytes

CALLED = b"ANY-SCP         "  # 16 bytes: "ANY-SCP" + 9 spaces (T9-11: space padded)
CALLING = b"ECHOSCU         "  # 16 bytes: "ECHOSCU" + 9 spaces


def s(b: bytes) -> str:
    return b.decode("ascii")


def _assoc_fixed(
    pdu_type: int,
    pdu_length: int,
    *,
    version: int = 1,
    rsv2: bytes = b"\x00",
    rsv9: bytes = b"\x00\x00",
    called: bytes = CALLED,
    calling: bytes = CALLING,
    rsv43: bytes = bytes(32),
) -> bytes:
    """Bytes 1-74 of an A-ASSOCIATE-RQ (T9-11) or -AC (T9-17); the keyword arguments let a
    vector put garbage in the reserved fields."""
    assert len(rsv2) == 1 and len(rsv9) == 2 and len(rsv43) == 32
    assert len(called) == 16 and len(calling) == 16
    return b"".join(
        [
            bytes([pdu_type]),  # T9-11/T9-17 byte 1: PDU-type (01H RQ, 02H AC)
            rsv2,  # T9-11/T9-17 byte 2: reserved (sent 00H, not tested)
            u32(pdu_length),  # T9-11/T9-17 bytes 3-6: PDU-length (bytes after this field)
            u16(version),  # T9-11/T9-17 bytes 7-8: protocol-version (bit 0 = version 1)
            rsv9,  # T9-11/T9-17 bytes 9-10: reserved
            called,  # T9-11 bytes 11-26: called-AE-title (T9-17: reserved, echoes the RQ)
            calling,  # T9-11 bytes 27-42: calling-AE-title (T9-17: reserved, echoes the RQ)
            rsv43,  # T9-11/T9-17 bytes 43-74: reserved, 32 bytes
        ]
    )


# ---- item building blocks ---------------------------------------------------------------

APP_CTX_ITEM = b"".join(
    [
        b"\x10",  # T9-12 byte 1: item-type 10H (application context)
        b"\x00",  # T9-12 byte 2: reserved
        u16(21),  # T9-12 bytes 3-4: item-length
        APP,  # T9-12 bytes 5-xxx: application-context-name
    ]
)  # 25 bytes

PC1_RQ_ITEM = b"".join(
    [
        b"\x20",  # T9-13 byte 1: item-type 20H (presentation context, RQ)
        b"\x00",  # T9-13 byte 2: reserved
        u16(46),  # T9-13 bytes 3-4: item-length
        b"\x01",  # T9-13 byte 5: presentation-context-ID 1
        b"\x00",  # T9-13 byte 6: reserved
        b"\x00",  # T9-13 byte 7: reserved
        b"\x00",  # T9-13 byte 8: reserved
        b"\x30",  # T9-14 byte 1: item-type 30H (abstract syntax)
        b"\x00",  # T9-14 byte 2: reserved
        u16(17),  # T9-14 bytes 3-4: item-length
        VERIF,  # T9-14 bytes 5-xxx: abstract-syntax-name
        b"\x40",  # T9-15 byte 1: item-type 40H (transfer syntax)
        b"\x00",  # T9-15 byte 2: reserved
        u16(17),  # T9-15 bytes 3-4: item-length
        IVRLE,  # T9-15 bytes 5-xxx: transfer-syntax-name
    ]
)  # 50 bytes

PC1_AC_ITEM = b"".join(
    [
        b"\x21",  # T9-18 byte 1: item-type 21H (presentation context, AC)
        b"\x00",  # T9-18 byte 2: reserved
        u16(25),  # T9-18 bytes 3-4: item-length
        b"\x01",  # T9-18 byte 5: presentation-context-ID 1
        b"\x00",  # T9-18 byte 6: reserved
        b"\x00",  # T9-18 byte 7: result/reason 0 = acceptance
        b"\x00",  # T9-18 byte 8: reserved
        b"\x40",  # T9-19 byte 1: item-type 40H (transfer syntax)
        b"\x00",  # T9-19 byte 2: reserved
        u16(17),  # T9-19 bytes 3-4: item-length
        IVRLE,  # T9-19 bytes 5-xxx: transfer-syntax-name
    ]
)  # 29 bytes

MAX_LENGTH_16384 = b"".join(
    [
        b"\x51",  # TD.1-1 byte 1: item-type 51H (maximum length)
        b"\x00",  # TD.1-1 byte 2: reserved
        u16(4),  # TD.1-1 bytes 3-4: item-length 4
        u32(16384),  # TD.1-1 bytes 5-8: maximum-length-received
    ]
)  # 8 bytes

UI_MIN_ITEM = b"".join(
    [
        b"\x50",  # T9-16 byte 1: item-type 50H (user information)
        b"\x00",  # T9-16 byte 2: reserved
        u16(8),  # T9-16 bytes 3-4: item-length
        MAX_LENGTH_16384,  # T9-16 bytes 5-xxx: user-data, sub-item 51H
    ]
)  # 12 bytes


def _view(request: bool, **present: Any) -> dict[str, Any]:
    """The Associate-level view: every attribute, absent optional items as None / {} / []."""
    view: dict[str, Any] = {
        "is_request": request,
        "version": 1,
        "called": "ANY-SCP",
        "calling": "ECHOSCU",
        "application_context": s(APP),
        "presentation_contexts": [],
        "max_length": None,
        "implementation_class_uid": None,
        "implementation_version_name": None,
        "async_operations": None,
        "role_selections": {},
        "extended_negotiations": {},
        "common_extended": [],
        "user_identity": None,
        "user_identity_response": None,
        "user_info": [],
    }
    assert set(present) <= set(view), set(present) - set(view)
    view.update(present)
    return view


def _pc(pc_id: int, abstract: bytes | None, ts: list[bytes], result: int = 0) -> tuple:
    """One PresentationContext as a plain tuple (id, abstract, transfer syntaxes, result,
    scu_role, scp_role, extended); the role/extended fields are filled by _pcv()."""
    return (pc_id, None if abstract is None else s(abstract), tuple(s(t) for t in ts), result)


def _pcv(pc: tuple, roles: dict | None = None, ext: dict | None = None) -> tuple:
    uid = pc[1]
    scu, scp = (roles or {}).get(uid, (None, None))
    return (*pc, scu, scp, (ext or {}).get(uid))


VECTORS: list[Vector] = []


def _add(v: Vector) -> Vector:
    VECTORS.append(v)
    return v


# ==== A-ASSOCIATE-RQ (PS3.8 Table 9-11) ==================================================

# -- minimal RQ: 10H, one 20H, 50H with 51H ------------------------------------------------
RQ_MIN_DATA = b"".join(
    [
        _assoc_fixed(0x01, 155),  # T9-11 bytes 1-74; PDU-length 68 + 25 + 50 + 12 = 155
        APP_CTX_ITEM,  # T9-11 variable items: 10H (T9-12)
        PC1_RQ_ITEM,  # 20H (T9-13) with 30H and one 40H
        UI_MIN_ITEM,  # 50H (T9-16) with 51H
    ]
)
RQ_MIN_CORE = (1, 1, "ANY-SCP", "ECHOSCU", s(APP), [[1, 0, s(VERIF), [s(IVRLE)]]], [(0x51, 16384)])
RQ_MIN_VIEW = _view(True, presentation_contexts=[_pcv(_pc(1, VERIF, [IVRLE]))], max_length=16384)
_add(Vector("rq-minimal", RQ_MIN_DATA, "RQ", {"core": RQ_MIN_CORE, "view": RQ_MIN_VIEW}))

# -- full RQ: three 20H (several 40H), 50H with every sub-item 51H..58H and an unknown 77H --
_RQ_FULL_ROLES = {s(CT): (1, 1), s(VERIF): (0, 1)}
_RQ_FULL_EXT = {s(FIND): b"\x01\x01\x00\x00"}
RQ_FULL_DATA = b"".join(
    [
        _assoc_fixed(0x01, 622),  # T9-11 bytes 1-74; PDU-length 68+25+96+81+60+292 = 622
        APP_CTX_ITEM,  # 10H (T9-12), 25 bytes
        # 20H, presentation context 1: Verification, three transfer syntaxes (96 bytes)
        b"\x20",  # T9-13 byte 1: item-type 20H
        b"\x00",  # T9-13 byte 2: reserved
        u16(92),  # T9-13 bytes 3-4: item-length 4 + 21 + 21 + 23 + 23
        b"\x01",  # T9-13 byte 5: presentation-context-ID 1
        b"\x00\x00\x00",  # T9-13 bytes 6-8: reserved
        b"\x30",  # T9-14 byte 1: item-type 30H
        b"\x00",  # T9-14 byte 2: reserved
        u16(17),  # T9-14 bytes 3-4: item-length
        VERIF,  # T9-14 bytes 5-xxx: abstract-syntax-name
        b"\x40",  # T9-15 byte 1: item-type 40H
        b"\x00",  # T9-15 byte 2: reserved
        u16(17),  # T9-15 bytes 3-4: item-length
        IVRLE,  # T9-15 bytes 5-xxx: transfer-syntax-name
        b"\x40",  # T9-15 byte 1: item-type 40H
        b"\x00",  # T9-15 byte 2: reserved
        u16(19),  # T9-15 bytes 3-4: item-length
        EVRLE,  # T9-15 bytes 5-xxx: transfer-syntax-name
        b"\x40",  # T9-15 byte 1: item-type 40H
        b"\x00",  # T9-15 byte 2: reserved
        u16(19),  # T9-15 bytes 3-4: item-length
        EVRBE,  # T9-15 bytes 5-xxx: transfer-syntax-name
        # 20H, presentation context 3: CT Image Storage, two transfer syntaxes (81 bytes)
        b"\x20",  # T9-13 byte 1: item-type 20H
        b"\x00",  # T9-13 byte 2: reserved
        u16(77),  # T9-13 bytes 3-4: item-length 4 + 29 + 23 + 21
        b"\x03",  # T9-13 byte 5: presentation-context-ID 3
        b"\x00\x00\x00",  # T9-13 bytes 6-8: reserved
        b"\x30",  # T9-14 byte 1: item-type 30H
        b"\x00",  # T9-14 byte 2: reserved
        u16(25),  # T9-14 bytes 3-4: item-length
        CT,  # T9-14 bytes 5-xxx: abstract-syntax-name
        b"\x40",  # T9-15 byte 1: item-type 40H
        b"\x00",  # T9-15 byte 2: reserved
        u16(19),  # T9-15 bytes 3-4: item-length
        EVRLE,  # T9-15 bytes 5-xxx: transfer-syntax-name
        b"\x40",  # T9-15 byte 1: item-type 40H
        b"\x00",  # T9-15 byte 2: reserved
        u16(17),  # T9-15 bytes 3-4: item-length
        IVRLE,  # T9-15 bytes 5-xxx: transfer-syntax-name
        # 20H, presentation context 5: Study Root FIND, one transfer syntax (60 bytes)
        b"\x20",  # T9-13 byte 1: item-type 20H
        b"\x00",  # T9-13 byte 2: reserved
        u16(56),  # T9-13 bytes 3-4: item-length 4 + 31 + 21
        b"\x05",  # T9-13 byte 5: presentation-context-ID 5
        b"\x00\x00\x00",  # T9-13 bytes 6-8: reserved
        b"\x30",  # T9-14 byte 1: item-type 30H
        b"\x00",  # T9-14 byte 2: reserved
        u16(27),  # T9-14 bytes 3-4: item-length
        FIND,  # T9-14 bytes 5-xxx: abstract-syntax-name
        b"\x40",  # T9-15 byte 1: item-type 40H
        b"\x00",  # T9-15 byte 2: reserved
        u16(17),  # T9-15 bytes 3-4: item-length
        IVRLE,  # T9-15 bytes 5-xxx: transfer-syntax-name
        # 50H user information (292 bytes)
        b"\x50",  # T9-16 byte 1: item-type 50H
        b"\x00",  # T9-16 byte 2: reserved
        u16(288),  # T9-16 bytes 3-4: item-length 8+24+8+33+25+15+37+110+21+7
        MAX_LENGTH_16384,  # TD.1-1: 51H maximum length 16384 (8 bytes)
        b"\x52",  # TD.3-1 byte 1: item-type 52H (implementation class UID)
        b"\x00",  # TD.3-1 byte 2: reserved
        u16(20),  # TD.3-1 bytes 3-4: item-length
        IMPL,  # TD.3-1 bytes 5-xxx: implementation-class-uid
        b"\x53",  # TD.3-7 byte 1: item-type 53H (asynchronous operations window)
        b"\x00",  # TD.3-7 byte 2: reserved
        u16(4),  # TD.3-7 bytes 3-4: item-length 4
        u16(5),  # TD.3-7 bytes 5-6: maximum-number-operations-invoked
        u16(3),  # TD.3-7 bytes 7-8: maximum-number-operations-performed
        b"\x54",  # TD.3-9 byte 1: item-type 54H (SCP/SCU role selection)
        b"\x00",  # TD.3-9 byte 2: reserved
        u16(29),  # TD.3-9 bytes 3-4: item-length 2 + 25 + 2
        u16(25),  # TD.3-9 bytes 5-6: UID-length
        CT,  # TD.3-9 bytes 7-xxx: SOP-class-uid
        b"\x01",  # TD.3-9 byte xxx+1: SCU-role 1 (proposed)
        b"\x01",  # TD.3-9 byte xxx+2: SCP-role 1 (proposed)
        b"\x54",  # TD.3-9 byte 1: item-type 54H
        b"\x00",  # TD.3-9 byte 2: reserved
        u16(21),  # TD.3-9 bytes 3-4: item-length 2 + 17 + 2
        u16(17),  # TD.3-9 bytes 5-6: UID-length
        VERIF,  # TD.3-9 bytes 7-xxx: SOP-class-uid
        b"\x00",  # TD.3-9 byte xxx+1: SCU-role 0 (not proposed)
        b"\x01",  # TD.3-9 byte xxx+2: SCP-role 1 (proposed)
        b"\x55",  # TD.3-3 byte 1: item-type 55H (implementation version name)
        b"\x00",  # TD.3-3 byte 2: reserved
        u16(11),  # TD.3-3 bytes 3-4: item-length
        IMPL_VER,  # TD.3-3 bytes 5-xxx: implementation-version-name
        b"\x56",  # TD.3-11 byte 1: item-type 56H (SOP class extended negotiation)
        b"\x00",  # TD.3-11 byte 2: reserved
        u16(33),  # TD.3-11 bytes 3-4: item-length 2 + 27 + 4
        u16(27),  # TD.3-11 bytes 5-6: SOP-class-uid-length
        FIND,  # TD.3-11 bytes 7-xxx: SOP-class-uid
        b"\x01\x01\x00\x00",  # TD.3-11 xxx-xxx: service-class-application-information
        b"\x57",  # TD.3-12 byte 1: item-type 57H (SOP class common extended negotiation)
        b"\x00",  # TD.3-12 byte 2: sub-item-version 00H
        u16(106),  # TD.3-12 bytes 3-4: item-length 2+25 + 2+17 + 2 + 29+29
        u16(25),  # TD.3-12 bytes 5-6: SOP-class-uid-length
        CT,  # TD.3-12 bytes 7-xxx: SOP-class-uid
        u16(17),  # TD.3-12: service-class-uid-length
        STORAGE,  # TD.3-12: service-class-uid
        u16(58),  # TD.3-12: related-general-sop-class-identification-length
        u16(27),  # TD.3-13 bytes 1-2: related-general-sop-class-uid-length
        ECT,  # TD.3-13 bytes 3-xxx: related-general-sop-class-uid
        u16(27),  # TD.3-13 bytes 1-2: related-general-sop-class-uid-length
        LECT,  # TD.3-13 bytes 3-xxx: related-general-sop-class-uid
        b"\x58",  # TD.3-14 byte 1: item-type 58H (user identity negotiation, RQ)
        b"\x00",  # TD.3-14 byte 2: reserved
        u16(17),  # TD.3-14 bytes 3-4: item-length 1 + 1 + 2 + 5 + 2 + 6
        b"\x02",  # TD.3-14 byte 5: user-identity-type 2 (username and passcode)
        b"\x01",  # TD.3-14 byte 6: positive-response-requested 1
        u16(5),  # TD.3-14 bytes 7-8: primary-field-length
        b"alice",  # TD.3-14 bytes 9-n: primary-field (username)
        u16(6),  # TD.3-14 bytes n+1-n+2: secondary-field-length
        b"s3cret",  # TD.3-14 bytes n+3-m: secondary-field (passcode)
        b"\x77",  # 9.3.1: a sub-item type no table defines
        b"\x00",  # reserved
        u16(3),  # item-length
        b"\x01\x02\x03",  # opaque value, kept as (0x77, bytes)
    ]
)
RQ_FULL_CORE = (
    1,
    1,
    "ANY-SCP",
    "ECHOSCU",
    s(APP),
    [
        [1, 0, s(VERIF), [s(IVRLE), s(EVRLE), s(EVRBE)]],
        [3, 0, s(CT), [s(EVRLE), s(IVRLE)]],
        [5, 0, s(FIND), [s(IVRLE)]],
    ],
    [
        (0x51, 16384),
        (0x52, s(IMPL)),
        (0x53, 5, 3),
        (0x54, s(CT), 1, 1),
        (0x54, s(VERIF), 0, 1),
        (0x55, s(IMPL_VER)),
        (0x56, s(FIND), b"\x01\x01\x00\x00"),
        (0x57, s(CT), s(STORAGE), [s(ECT), s(LECT)]),
        (0x58, 2, 1, b"alice", b"s3cret"),
        (0x77, b"\x01\x02\x03"),
    ],
)
RQ_FULL_VIEW = _view(
    True,
    presentation_contexts=[
        _pcv(_pc(1, VERIF, [IVRLE, EVRLE, EVRBE]), _RQ_FULL_ROLES, _RQ_FULL_EXT),
        _pcv(_pc(3, CT, [EVRLE, IVRLE]), _RQ_FULL_ROLES, _RQ_FULL_EXT),
        _pcv(_pc(5, FIND, [IVRLE]), _RQ_FULL_ROLES, _RQ_FULL_EXT),
    ],
    max_length=16384,
    implementation_class_uid=s(IMPL),
    implementation_version_name=s(IMPL_VER),
    async_operations=(5, 3),
    role_selections=_RQ_FULL_ROLES,
    extended_negotiations=_RQ_FULL_EXT,
    common_extended=[(s(CT), s(STORAGE), (s(ECT), s(LECT)))],
    user_identity=(2, b"alice", b"s3cret", True),
    user_info=[(0x77, b"\x01\x02\x03")],
)
_add(Vector("rq-full", RQ_FULL_DATA, "RQ", {"core": RQ_FULL_CORE, "view": RQ_FULL_VIEW}))


# -- user identity (58H), one vector per identity type ---------------------------------------
def _rq_user_identity(
    pdu_length: int, ui_length: int, item_length: int, id_type: int, positive: int,
    primary: bytes, secondary: bytes,
) -> bytes:  # fmt: skip
    return b"".join(
        [
            _assoc_fixed(0x01, pdu_length),  # T9-11 bytes 1-74
            APP_CTX_ITEM,  # 10H
            PC1_RQ_ITEM,  # 20H
            b"\x50",  # T9-16 byte 1: item-type 50H
            b"\x00",  # T9-16 byte 2: reserved
            u16(ui_length),  # T9-16 bytes 3-4: item-length
            MAX_LENGTH_16384,  # TD.1-1: 51H
            b"\x58",  # TD.3-14 byte 1: item-type 58H
            b"\x00",  # TD.3-14 byte 2: reserved
            u16(item_length),  # TD.3-14 bytes 3-4: item-length
            bytes([id_type]),  # TD.3-14 byte 5: user-identity-type
            bytes([positive]),  # TD.3-14 byte 6: positive-response-requested
            u16(len(primary)),  # TD.3-14 bytes 7-8: primary-field-length
            primary,  # TD.3-14 bytes 9-n: primary-field
            u16(len(secondary)),  # TD.3-14 bytes n+1-n+2: secondary-field-length
            secondary,  # TD.3-14 bytes n+3-m: secondary-field (type 2 only, else empty)
        ]
    )


# (name, PDU-length, 50H item-length, 58H item-length, type, positive, primary, secondary)
_USER_IDENTITIES = [
    ("rq-user-identity-1-username", 170, 23, 11, 1, 0, b"alice", b""),
    ("rq-user-identity-2-username-passcode", 176, 29, 17, 2, 1, b"alice", b"s3cret"),
    ("rq-user-identity-3-kerberos", 173, 26, 14, 3, 1, b"\x6e\x82\x00\x04\xa0\x03\x02\x01", b""),
    ("rq-user-identity-4-saml", 182, 35, 23, 4, 0, b"<saml:Assertion/>", b""),
    ("rq-user-identity-5-jwt", 189, 42, 30, 5, 1, b"eyJhbGciOiJub25lIn0.e30.", b""),
]
for _name, _pl, _ul, _il, _t, _pos, _p, _s in _USER_IDENTITIES:
    _add(
        Vector(
            _name,
            _rq_user_identity(_pl, _ul, _il, _t, _pos, _p, _s),
            "RQ",
            {
                "core": RQ_MIN_CORE[:6] + ([(0x51, 16384), (0x58, _t, _pos, _p, _s)],),
                "view": {**RQ_MIN_VIEW, "user_identity": (_t, _p, _s, bool(_pos))},
            },
        )
    )


# -- twenty presentation contexts: a PDU over 1 KiB (PDUReader shares such PDUs, no copy) --
def _rq_pc_verification(pc_id: int) -> bytes:
    """A 20H item (T9-13) for Verification / implicit VR LE, like PC1_RQ_ITEM."""
    return b"".join(
        [
            b"\x20",  # T9-13 byte 1: item-type 20H
            b"\x00",  # T9-13 byte 2: reserved
            u16(46),  # T9-13 bytes 3-4: item-length 4 + 21 + 21
            bytes([pc_id]),  # T9-13 byte 5: presentation-context-ID
            b"\x00\x00\x00",  # T9-13 bytes 6-8: reserved
            b"\x30",  # T9-14 byte 1: item-type 30H
            b"\x00",  # T9-14 byte 2: reserved
            u16(17),  # T9-14 bytes 3-4: item-length
            VERIF,  # T9-14 bytes 5-xxx: abstract-syntax-name
            b"\x40",  # T9-15 byte 1: item-type 40H
            b"\x00",  # T9-15 byte 2: reserved
            u16(17),  # T9-15 bytes 3-4: item-length
            IVRLE,  # T9-15 bytes 5-xxx: transfer-syntax-name
        ]
    )


_IDS_20 = list(range(1, 41, 2))
_add(
    Vector(
        "rq-twenty-contexts",
        b"".join(
            [
                _assoc_fixed(0x01, 1105),  # T9-11 bytes 1-74; PDU-length 68+25+20*50+12
                APP_CTX_ITEM,  # 10H
                *(_rq_pc_verification(i) for i in _IDS_20),  # 20 x 20H, IDs 1, 3, ..., 39
                UI_MIN_ITEM,  # 50H with 51H
            ]
        ),
        "RQ",
        {
            "core": RQ_MIN_CORE[:5]
            + ([[i, 0, s(VERIF), [s(IVRLE)]] for i in _IDS_20],)
            + RQ_MIN_CORE[6:],
            "view": {
                **RQ_MIN_VIEW,
                "presentation_contexts": [_pcv(_pc(i, VERIF, [IVRLE])) for i in _IDS_20],
            },
        },
    )
)

# -- unknown items: a top-level 15H and 60H, a 35H inside the 20H item: all skipped ---------
_add(
    Vector(
        "rq-unknown-items-skipped",
        b"".join(
            [
                _assoc_fixed(0x01, 176),  # T9-11 bytes 1-74; PDU-length 68+25+6+58+12+7
                APP_CTX_ITEM,  # 10H
                b"\x15",  # 9.3.1: an item type T9-11 does not define (ignored and skipped)
                b"\x00",  # reserved
                u16(2),  # item-length
                b"\xde\xad",  # value
                b"\x20",  # T9-13 byte 1: item-type 20H
                b"\x00",  # T9-13 byte 2: reserved
                u16(54),  # T9-13 bytes 3-4: item-length 4 + 21 + 21 + 8
                b"\x01",  # T9-13 byte 5: presentation-context-ID 1
                b"\x00\x00\x00",  # T9-13 bytes 6-8: reserved
                b"\x30",  # T9-14 byte 1: item-type 30H
                b"\x00",  # T9-14 byte 2: reserved
                u16(17),  # T9-14 bytes 3-4: item-length
                VERIF,  # T9-14 bytes 5-xxx: abstract-syntax-name
                b"\x40",  # T9-15 byte 1: item-type 40H
                b"\x00",  # T9-15 byte 2: reserved
                u16(17),  # T9-15 bytes 3-4: item-length
                IVRLE,  # T9-15 bytes 5-xxx: transfer-syntax-name
                b"\x35",  # 9.3.1: a sub-item type T9-13 does not define (skipped)
                b"\x00",  # reserved
                u16(4),  # item-length
                b"\x01\x02\x03\x04",  # value
                UI_MIN_ITEM,  # 50H with 51H
                b"\x60",  # 9.3.1: an item type T9-11 does not define, after 50H (skipped)
                b"\x00",  # reserved
                u16(3),  # item-length
                b"xyz",  # value
            ]
        ),
        "RQ",
        {"core": RQ_MIN_CORE, "view": RQ_MIN_VIEW},
        reencoded=RQ_MIN_DATA,  # unknown items are not kept
    )
)

# -- user-information sub-items in any order (9.3.2.3 note): re-encoded in ascending order --
_ORDER_VALUE = {
    "55": b"".join([b"\x55", b"\x00", u16(11), IMPL_VER]),  # TD.3-3: 55H, 15 bytes
    "77": b"".join([b"\x77", b"\x00", u16(3), b"\x0a\x0b\x0c"]),  # unknown 77H, 7 bytes
    "51": MAX_LENGTH_16384,  # TD.1-1: 51H, 8 bytes
    # TD.3-9: 54H type, reserved, item-length 21, UID-length 17, UID, SCU-role 0, SCP-role 1
    "54": b"".join([b"\x54", b"\x00", u16(21), u16(17), VERIF, b"\x00", b"\x01"]),
    "52": b"".join([b"\x52", b"\x00", u16(20), IMPL]),  # TD.3-1: 52H, 24 bytes
}


def _rq_ordered(order: list[str]) -> bytes:
    return b"".join(
        [
            _assoc_fixed(0x01, 226),  # T9-11 bytes 1-74; PDU-length 68 + 25 + 50 + 83
            APP_CTX_ITEM,  # 10H
            PC1_RQ_ITEM,  # 20H
            b"\x50",  # T9-16 byte 1: item-type 50H
            b"\x00",  # T9-16 byte 2: reserved
            u16(79),  # T9-16 bytes 3-4: item-length 15 + 7 + 8 + 25 + 24
            *(_ORDER_VALUE[k] for k in order),  # the sub-items in the given order
        ]
    )


_add(
    Vector(
        "rq-user-items-any-order",
        _rq_ordered(["55", "77", "51", "54", "52"]),
        "RQ",
        {
            "core": RQ_MIN_CORE[:6]
            + (
                [
                    (0x55, s(IMPL_VER)),
                    (0x77, b"\x0a\x0b\x0c"),
                    (0x51, 16384),
                    (0x54, s(VERIF), 0, 1),
                    (0x52, s(IMPL)),
                ],
            ),
            "view": {
                **RQ_MIN_VIEW,
                "presentation_contexts": [_pcv(_pc(1, VERIF, [IVRLE]), {s(VERIF): (0, 1)})],
                "implementation_class_uid": s(IMPL),
                "implementation_version_name": s(IMPL_VER),
                "role_selections": {s(VERIF): (0, 1)},
                "user_info": [(0x77, b"\x0a\x0b\x0c")],
            },
        },
        reencoded=_rq_ordered(["51", "52", "54", "55", "77"]),  # typed ascending, raw last
    )
)

# -- UIDs padded with a trailing NUL (tolerated; dicomul sends them unpadded) ---------------
_add(
    Vector(
        "rq-nul-padded-uids",
        b"".join(
            [
                _assoc_fixed(0x01, 157),  # T9-11 bytes 1-74; PDU-length 68 + 25 + 52 + 12
                APP_CTX_ITEM,  # 10H
                b"\x20",  # T9-13 byte 1: item-type 20H
                b"\x00",  # T9-13 byte 2: reserved
                u16(48),  # T9-13 bytes 3-4: item-length 4 + 22 + 22
                b"\x01",  # T9-13 byte 5: presentation-context-ID 1
                b"\x00\x00\x00",  # T9-13 bytes 6-8: reserved
                b"\x30",  # T9-14 byte 1: item-type 30H
                b"\x00",  # T9-14 byte 2: reserved
                u16(18),  # T9-14 bytes 3-4: item-length
                VERIF + b"\x00",  # T9-14 bytes 5-xxx: abstract-syntax-name, NUL padded
                b"\x40",  # T9-15 byte 1: item-type 40H
                b"\x00",  # T9-15 byte 2: reserved
                u16(18),  # T9-15 bytes 3-4: item-length
                IVRLE + b"\x00",  # T9-15 bytes 5-xxx: transfer-syntax-name, NUL padded
                UI_MIN_ITEM,  # 50H with 51H
            ]
        ),
        "RQ",
        {"core": RQ_MIN_CORE, "view": RQ_MIN_VIEW},
        reencoded=RQ_MIN_DATA,
    )
)

# -- protocol version 3: only bit 0 is tested (9.3.2); the value is kept as received --------
_RQ_V3 = _assoc_fixed(0x01, 155, version=3) + RQ_MIN_DATA[74:]
_add(
    Vector(
        "rq-protocol-version-3",
        _RQ_V3,
        "RQ",
        {"core": (1, 3) + RQ_MIN_CORE[2:], "view": {**RQ_MIN_VIEW, "version": 3}},
    )
)

# -- non-zero garbage in every reserved field (PS3.8 9.3.1: not tested on receipt) ----------
_add(
    Vector(
        "rq-reserved-garbage",
        b"".join(
            [
                _assoc_fixed(
                    0x01,
                    155,
                    rsv2=b"\xff",  # T9-11 byte 2: reserved, garbage
                    rsv9=b"\xbe\xef",  # T9-11 bytes 9-10: reserved, garbage
                    rsv43=b"\xa5" * 32,  # T9-11 bytes 43-74: reserved, garbage
                ),
                b"\x10",  # T9-12 byte 1: item-type 10H
                b"\x11",  # T9-12 byte 2: reserved, garbage
                u16(21),  # T9-12 bytes 3-4: item-length
                APP,  # T9-12 bytes 5-xxx: application-context-name
                b"\x20",  # T9-13 byte 1: item-type 20H
                b"\x22",  # T9-13 byte 2: reserved, garbage
                u16(46),  # T9-13 bytes 3-4: item-length
                b"\x01",  # T9-13 byte 5: presentation-context-ID 1
                b"\x66",  # T9-13 byte 6: reserved, garbage
                b"\x77",  # T9-13 byte 7: reserved, garbage (not a result in an RQ)
                b"\x88",  # T9-13 byte 8: reserved, garbage
                b"\x30",  # T9-14 byte 1: item-type 30H
                b"\x33",  # T9-14 byte 2: reserved, garbage
                u16(17),  # T9-14 bytes 3-4: item-length
                VERIF,  # T9-14 bytes 5-xxx: abstract-syntax-name
                b"\x40",  # T9-15 byte 1: item-type 40H
                b"\x44",  # T9-15 byte 2: reserved, garbage
                u16(17),  # T9-15 bytes 3-4: item-length
                IVRLE,  # T9-15 bytes 5-xxx: transfer-syntax-name
                b"\x50",  # T9-16 byte 1: item-type 50H
                b"\x55",  # T9-16 byte 2: reserved, garbage
                u16(8),  # T9-16 bytes 3-4: item-length
                b"\x51",  # TD.1-1 byte 1: item-type 51H
                b"\x5a",  # TD.1-1 byte 2: reserved, garbage
                u16(4),  # TD.1-1 bytes 3-4: item-length
                u32(16384),  # TD.1-1 bytes 5-8: maximum-length-received
            ]
        ),
        "RQ",
        {"core": RQ_MIN_CORE, "view": RQ_MIN_VIEW},
        reencoded=RQ_MIN_DATA,  # every reserved field re-encoded as zeros
    )
)

# ==== A-ASSOCIATE-AC (PS3.8 Table 9-17) ==================================================

AC_MIN_DATA = b"".join(
    [
        _assoc_fixed(0x02, 134),  # T9-17 bytes 1-74; PDU-length 68 + 25 + 29 + 12 = 134
        APP_CTX_ITEM,  # 10H (T9-12)
        PC1_AC_ITEM,  # 21H (T9-18) result 0 with 40H
        UI_MIN_ITEM,  # 50H (T9-20) with 51H
    ]
)
AC_MIN_CORE = (2, 1, "ANY-SCP", "ECHOSCU", s(APP), [[1, 0, None, [s(IVRLE)]]], [(0x51, 16384)])
AC_MIN_VIEW = _view(False, presentation_contexts=[_pcv(_pc(1, None, [IVRLE]))], max_length=16384)
_add(Vector("ac-minimal", AC_MIN_DATA, "AC", {"core": AC_MIN_CORE, "view": AC_MIN_VIEW}))


def _ac_pc(pc_id: int, result: int, ts: bytes | None, item_length: int) -> bytes:
    """A 21H item (T9-18): with a 40H sub-item (T9-19) holding ts, or none when ts is None."""
    return b"".join(
        [
            b"\x21",  # T9-18 byte 1: item-type 21H
            b"\x00",  # T9-18 byte 2: reserved
            u16(item_length),  # T9-18 bytes 3-4: item-length
            bytes([pc_id]),  # T9-18 byte 5: presentation-context-ID
            b"\x00",  # T9-18 byte 6: reserved
            bytes([result]),  # T9-18 byte 7: result/reason
            b"\x00",  # T9-18 byte 8: reserved
            b""
            if ts is None
            else b"".join(
                [
                    b"\x40",  # T9-19 byte 1: item-type 40H
                    b"\x00",  # T9-19 byte 2: reserved
                    u16(len(ts)),  # T9-19 bytes 3-4: item-length
                    ts,  # T9-19 bytes 5-xxx: transfer-syntax-name (not significant if != 0)
                ]
            ),
        ]
    )


# -- every result 0-4 with a 40H item; 59H; every AC user item ------------------------------
_AC_ROLES = {s(CT): (1, 0)}
_AC_EXT = {s(FIND): b"\x01\x01\x00\x00"}
AC_FULL_DATA = b"".join(
    [
        _assoc_fixed(0x02, 398),  # T9-17 bytes 1-74; PDU-length 68+25+161+144 = 398
        APP_CTX_ITEM,  # 10H
        _ac_pc(1, 0, IVRLE, 25),  # 21H: 0 acceptance
        _ac_pc(3, 1, EVRLE, 27),  # 21H: 1 user-rejection
        _ac_pc(5, 2, IVRLE, 25),  # 21H: 2 no-reason (provider rejection)
        _ac_pc(7, 3, IVRLE, 25),  # 21H: 3 abstract-syntax-not-supported
        _ac_pc(9, 4, EVRBE, 27),  # 21H: 4 transfer-syntaxes-not-supported
        _ac_pc(11, 4, b"", 8),  # 21H: 4, with an empty 40H item
        b"\x50",  # T9-20 byte 1: item-type 50H
        b"\x00",  # T9-20 byte 2: reserved
        u16(140),  # T9-20 bytes 3-4: item-length 8+24+8+33+15+37+15
        b"\x51",  # TD.1-2 byte 1: item-type 51H
        b"\x00",  # TD.1-2 byte 2: reserved
        u16(4),  # TD.1-2 bytes 3-4: item-length
        u32(32768),  # TD.1-2 bytes 5-8: maximum-length-received
        b"\x52",  # TD.3-2 byte 1: item-type 52H
        b"\x00",  # TD.3-2 byte 2: reserved
        u16(20),  # TD.3-2 bytes 3-4: item-length
        IMPL,  # TD.3-2 bytes 5-xxx: implementation-class-uid
        b"\x53",  # TD.3-8 byte 1: item-type 53H
        b"\x00",  # TD.3-8 byte 2: reserved
        u16(4),  # TD.3-8 bytes 3-4: item-length
        u16(1),  # TD.3-8 bytes 5-6: maximum-number-operations-invoked
        u16(1),  # TD.3-8 bytes 7-8: maximum-number-operations-performed
        b"\x54",  # TD.3-10 byte 1: item-type 54H
        b"\x00",  # TD.3-10 byte 2: reserved
        u16(29),  # TD.3-10 bytes 3-4: item-length
        u16(25),  # TD.3-10 bytes 5-6: UID-length
        CT,  # TD.3-10 bytes 7-xxx: SOP-class-uid
        b"\x01",  # TD.3-10 byte xxx+1: SCU-role 1 (accepted)
        b"\x00",  # TD.3-10 byte xxx+2: SCP-role 0 (rejected)
        b"\x55",  # TD.3-4 byte 1: item-type 55H
        b"\x00",  # TD.3-4 byte 2: reserved
        u16(11),  # TD.3-4 bytes 3-4: item-length
        IMPL_VER,  # TD.3-4 bytes 5-xxx: implementation-version-name
        b"\x56",  # TD.3-11 byte 1: item-type 56H
        b"\x00",  # TD.3-11 byte 2: reserved
        u16(33),  # TD.3-11 bytes 3-4: item-length
        u16(27),  # TD.3-11 bytes 5-6: SOP-class-uid-length
        FIND,  # TD.3-11 bytes 7-xxx: SOP-class-uid
        b"\x01\x01\x00\x00",  # TD.3-11: service-class-application-information
        b"\x59",  # TD.3-15 byte 1: item-type 59H (user identity server response)
        b"\x00",  # TD.3-15 byte 2: reserved
        u16(11),  # TD.3-15 bytes 3-4: item-length
        u16(9),  # TD.3-15 bytes 5-6: server-response-length
        b"ticket-ok",  # TD.3-15 bytes 7-n: server-response
    ]
)
_add(
    Vector(
        "ac-full-every-result",
        AC_FULL_DATA,
        "AC",
        {
            "core": (
                2,
                1,
                "ANY-SCP",
                "ECHOSCU",
                s(APP),
                [
                    [1, 0, None, [s(IVRLE)]],
                    [3, 1, None, [s(EVRLE)]],
                    [5, 2, None, [s(IVRLE)]],
                    [7, 3, None, [s(IVRLE)]],
                    [9, 4, None, [s(EVRBE)]],
                    [11, 4, None, [""]],  # the empty 40H item, as _core reports it
                ],
                [
                    (0x51, 32768),
                    (0x52, s(IMPL)),
                    (0x53, 1, 1),
                    (0x54, s(CT), 1, 0),
                    (0x55, s(IMPL_VER)),
                    (0x56, s(FIND), b"\x01\x01\x00\x00"),
                    (0x59, b"ticket-ok"),
                ],
            ),
            "view": _view(
                False,
                presentation_contexts=[
                    _pcv(_pc(1, None, [IVRLE], 0)),
                    _pcv(_pc(3, None, [EVRLE], 1)),
                    _pcv(_pc(5, None, [IVRLE], 2)),
                    _pcv(_pc(7, None, [IVRLE], 3)),
                    _pcv(_pc(9, None, [EVRBE], 4)),
                    _pcv(_pc(11, None, [], 4)),  # "no transfer syntax" in the Associate view
                ],
                max_length=32768,
                implementation_class_uid=s(IMPL),
                implementation_version_name=s(IMPL_VER),
                async_operations=(1, 1),
                role_selections=_AC_ROLES,
                extended_negotiations=_AC_EXT,
                user_identity_response=b"ticket-ok",
            ),
        },
    )
)

# -- results 1-4 without a 40H item (T9-18: not significant when result != 0) --------------
_AC_NO_TS_CORE = (
    2, 1, "ANY-SCP", "ECHOSCU", s(APP),
    [[1, 0, None, [s(IVRLE)]], [3, 1, None, []], [5, 2, None, []], [7, 3, None, []],
     [9, 4, None, []]],
    [(0x51, 16384)],
)  # fmt: skip
_add(
    Vector(
        "ac-rejected-without-transfer-syntax",
        b"".join(
            [
                _assoc_fixed(0x02, 166),  # T9-17 bytes 1-74; PDU-length 68+25+29+4*8+12
                APP_CTX_ITEM,  # 10H
                PC1_AC_ITEM,  # 21H: 0 acceptance, with 40H
                _ac_pc(3, 1, None, 4),  # 21H: 1 user-rejection, no 40H
                _ac_pc(5, 2, None, 4),  # 21H: 2 no-reason, no 40H
                _ac_pc(7, 3, None, 4),  # 21H: 3 abstract-syntax-not-supported, no 40H
                _ac_pc(9, 4, None, 4),  # 21H: 4 transfer-syntaxes-not-supported, no 40H
                UI_MIN_ITEM,  # 50H with 51H
            ]
        ),
        "AC",
        {
            "core": _AC_NO_TS_CORE,
            "view": _view(
                False,
                presentation_contexts=[
                    _pcv(_pc(1, None, [IVRLE], 0)),
                    *(_pcv(_pc(i, None, [], r)) for i, r in ((3, 1), (5, 2), (7, 3), (9, 4))),
                ],
                max_length=16384,
            ),
        },
        # dicomul always writes one 40H item per 21H item (an empty one here)
        reencoded=b"".join(
            [
                _assoc_fixed(0x02, 182),  # T9-17 bytes 1-74; PDU-length 68+25+29+4*12+12
                APP_CTX_ITEM,  # 10H
                PC1_AC_ITEM,  # 21H: 0 acceptance
                _ac_pc(3, 1, b"", 8),  # 21H: 1, empty 40H
                _ac_pc(5, 2, b"", 8),  # 21H: 2, empty 40H
                _ac_pc(7, 3, b"", 8),  # 21H: 3, empty 40H
                _ac_pc(9, 4, b"", 8),  # 21H: 4, empty 40H
                UI_MIN_ITEM,  # 50H with 51H
            ]
        ),
    )
)

# -- non-zero garbage in the AC's reserved fields -------------------------------------------
_add(
    Vector(
        "ac-reserved-garbage",
        b"".join(
            [
                _assoc_fixed(
                    0x02,
                    134,
                    rsv2=b"\x99",  # T9-17 byte 2: reserved, garbage
                    rsv9=b"\x12\x34",  # T9-17 bytes 9-10: reserved, garbage
                    rsv43=bytes(range(0xE0, 0x100)),  # T9-17 bytes 43-74: reserved, garbage
                ),
                APP_CTX_ITEM,  # 10H
                b"\x21",  # T9-18 byte 1: item-type 21H
                b"\xaa",  # T9-18 byte 2: reserved, garbage
                u16(25),  # T9-18 bytes 3-4: item-length
                b"\x01",  # T9-18 byte 5: presentation-context-ID 1
                b"\xbb",  # T9-18 byte 6: reserved, garbage
                b"\x00",  # T9-18 byte 7: result/reason 0 acceptance
                b"\xcc",  # T9-18 byte 8: reserved, garbage
                b"\x40",  # T9-19 byte 1: item-type 40H
                b"\xdd",  # T9-19 byte 2: reserved, garbage
                u16(17),  # T9-19 bytes 3-4: item-length
                IVRLE,  # T9-19 bytes 5-xxx: transfer-syntax-name
                b"\x50",  # T9-20 byte 1: item-type 50H
                b"\xee",  # T9-20 byte 2: reserved, garbage
                u16(8),  # T9-20 bytes 3-4: item-length
                b"\x51",  # TD.1-2 byte 1: item-type 51H
                b"\xf0",  # TD.1-2 byte 2: reserved, garbage
                u16(4),  # TD.1-2 bytes 3-4: item-length
                u32(16384),  # TD.1-2 bytes 5-8: maximum-length-received
            ]
        ),
        "AC",
        {"core": AC_MIN_CORE, "view": AC_MIN_VIEW},
        reencoded=AC_MIN_DATA,
    )
)

# ==== A-ASSOCIATE-RJ (PS3.8 Table 9-21) ==================================================

# (result, source, reason/diag.) - every combination 9.3.4 defines
RJ_VALID = [
    (result, source, reason)
    for result in (1, 2)  # 1 rejected-permanent, 2 rejected-transient
    for source, reasons in (
        (1, (1, 2, 3, 7)),  # UL service-user: no-reason, app-context, calling AE, called AE
        (2, (1, 2)),  # UL service-provider (ACSE): no-reason, protocol-version
        (3, (1, 2)),  # UL service-provider (presentation): congestion, local-limit
    )
    for reason in reasons
]
for _r, _src, _d in RJ_VALID:
    _add(
        Vector(
            f"rj-result{_r}-source{_src}-reason{_d}",
            b"".join(
                [
                    b"\x03",  # T9-21 byte 1: PDU-type 03H
                    b"\x00",  # T9-21 byte 2: reserved
                    u32(4),  # T9-21 bytes 3-6: PDU-length 4
                    b"\x00",  # T9-21 byte 7: reserved
                    bytes([_r]),  # T9-21 byte 8: result
                    bytes([_src]),  # T9-21 byte 9: source
                    bytes([_d]),  # T9-21 byte 10: reason/diag.
                ]
            ),
            "RJ",
            (_r, _src, _d),
        )
    )
_add(
    Vector(
        "rj-reserved-garbage",
        b"".join(
            [
                b"\x03",  # T9-21 byte 1: PDU-type 03H
                b"\xfe",  # T9-21 byte 2: reserved, garbage
                u32(4),  # T9-21 bytes 3-6: PDU-length 4
                b"\xfd",  # T9-21 byte 7: reserved, garbage
                b"\x02",  # T9-21 byte 8: result 2 rejected-transient
                b"\x03",  # T9-21 byte 9: source 3 service-provider (presentation)
                b"\x01",  # T9-21 byte 10: reason 1 temporary-congestion
            ]
        ),
        "RJ",
        (2, 3, 1),
        reencoded=bytes.fromhex("03 00 00000004 00 02 03 01"),
    )
)

# ==== P-DATA-TF (PS3.8 Tables 9-22, 9-23; Annex E.2) =====================================

# a command fragment: (0000,0000) UL 4 = 56, implicit VR little endian
_CMD = b"\x00\x00\x00\x00\x04\x00\x00\x00\x38\x00\x00\x00"
_add(
    Vector(
        "pdata-one-pdv",
        b"".join(
            [
                b"\x04",  # T9-22 byte 1: PDU-type 04H
                b"\x00",  # T9-22 byte 2: reserved
                u32(18),  # T9-22 bytes 3-6: PDU-length 4 + 14
                u32(14),  # T9-23 bytes 1-4: item-length 2 + 12
                b"\x01",  # T9-23 byte 5: presentation-context-ID 1
                b"\x03",  # E.2 message control header: command, last fragment
                _CMD,  # T9-23 bytes 7-xxx: the fragment
            ]
        ),
        "PDATA",
        [(1, 0x03, _CMD)],
    )
)
_add(
    Vector(
        "pdata-several-pdvs",
        b"".join(
            [
                b"\x04",  # T9-22 byte 1: PDU-type 04H
                b"\x00",  # T9-22 byte 2: reserved
                u32(52),  # T9-22 bytes 3-6: PDU-length (4+6) + (4+6) + (4+28)
                u32(6),  # T9-23 bytes 1-4: item-length 2 + 4
                b"\x03",  # T9-23 byte 5: presentation-context-ID 3
                b"\x00",  # E.2 message control header: data set, more fragments follow
                b"\x08\x00\x16\x00",  # fragment
                u32(6),  # T9-23 bytes 1-4: item-length 2 + 4
                b"\x03",  # T9-23 byte 5: presentation-context-ID 3
                b"\x00",  # E.2 message control header: data set, more
                b"UI\x1a\x00",  # fragment
                u32(28),  # T9-23 bytes 1-4: item-length 2 + 26
                b"\x03",  # T9-23 byte 5: presentation-context-ID 3
                b"\x02",  # E.2 message control header: data set, last
                CT + b"\x00",  # fragment (26 bytes)
            ]
        ),
        "PDATA",
        [(3, 0x00, b"\x08\x00\x16\x00"), (3, 0x00, b"UI\x1a\x00"), (3, 0x02, CT + b"\x00")],
    )
)
for _ctl, _what in ((0x00, "data-more"), (0x01, "command-more"), (0x02, "data-last"),
                    (0x03, "command-last")):  # fmt: skip
    _add(
        Vector(
            f"pdata-control-{_ctl:02x}-{_what}",
            b"".join(
                [
                    b"\x04",  # T9-22 byte 1: PDU-type 04H
                    b"\x00",  # T9-22 byte 2: reserved
                    u32(8),  # T9-22 bytes 3-6: PDU-length 4 + 4
                    u32(4),  # T9-23 bytes 1-4: item-length 2 + 2
                    b"\x07",  # T9-23 byte 5: presentation-context-ID 7
                    bytes([_ctl]),  # E.2 message control header (bit 0 command, bit 1 last)
                    b"\xaa\xbb",  # fragment
                ]
            ),
            "PDATA",
            [(7, _ctl, b"\xaa\xbb")],
        )
    )
_add(
    Vector(
        "pdata-control-reserved-bits",
        b"".join(
            [
                b"\x04",  # T9-22 byte 1: PDU-type 04H
                b"\x00",  # T9-22 byte 2: reserved
                u32(16),  # T9-22 bytes 3-6: PDU-length (4+4) + (4+4)
                u32(4),  # T9-23 bytes 1-4: item-length
                b"\x01",  # T9-23 byte 5: presentation-context-ID 1
                b"\xfc",  # E.2: bits 2-7 set (never checked), data set, more
                b"\x01\x02",  # fragment
                u32(4),  # T9-23 bytes 1-4: item-length
                b"\x01",  # T9-23 byte 5: presentation-context-ID 1
                b"\xff",  # E.2: bits 2-7 set (never checked), command, last
                b"\x03\x04",  # fragment
            ]
        ),
        "PDATA",
        [(1, 0xFC, b"\x01\x02"), (1, 0xFF, b"\x03\x04")],  # the byte is kept as received
    )
)
_add(
    Vector(
        "pdata-empty-fragment",
        b"".join(
            [
                b"\x04",  # T9-22 byte 1: PDU-type 04H
                b"\x00",  # T9-22 byte 2: reserved
                u32(6),  # T9-22 bytes 3-6: PDU-length 4 + 2
                u32(2),  # T9-23 bytes 1-4: item-length 2 (ID and header, no data)
                b"\x05",  # T9-23 byte 5: presentation-context-ID 5
                b"\x02",  # E.2 message control header: data set, last
            ]
        ),
        "PDATA",
        [(5, 0x02, b"")],
    )
)
_add(
    Vector(
        "pdata-reserved-garbage",
        b"".join(
            [
                b"\x04",  # T9-22 byte 1: PDU-type 04H
                b"\x5a",  # T9-22 byte 2: reserved, garbage
                u32(8),  # T9-22 bytes 3-6: PDU-length
                u32(4),  # T9-23 bytes 1-4: item-length
                b"\x01",  # T9-23 byte 5: presentation-context-ID 1
                b"\x03",  # E.2 message control header: command, last
                b"\x10\x20",  # fragment
            ]
        ),
        "PDATA",
        [(1, 0x03, b"\x10\x20")],
        reencoded=bytes.fromhex("04 00 00000008 00000004 01 03 1020"),
    )
)

_LARGE = bytes(range(256)) * 7 + bytes(range(208))  # 2000 bytes
_add(
    Vector(
        "pdata-large-fragment",
        b"".join(
            [
                b"\x04",  # T9-22 byte 1: PDU-type 04H
                b"\x00",  # T9-22 byte 2: reserved
                u32(2006),  # T9-22 bytes 3-6: PDU-length 4 + 2002
                u32(2002),  # T9-23 bytes 1-4: item-length 2 + 2000
                b"\x09",  # T9-23 byte 5: presentation-context-ID 9
                b"\x00",  # E.2 message control header: data set, more
                _LARGE,  # fragment, 2000 bytes
            ]
        ),
        "PDATA",
        [(9, 0x00, _LARGE)],
    )
)

# ==== A-RELEASE-RQ / -RP (PS3.8 Tables 9-24, 9-25) =======================================

_add(
    Vector(
        "release-rq",
        b"".join(
            [
                b"\x05",  # T9-24 byte 1: PDU-type 05H
                b"\x00",  # T9-24 byte 2: reserved
                u32(4),  # T9-24 bytes 3-6: PDU-length 4
                b"\x00\x00\x00\x00",  # T9-24 bytes 7-10: reserved
            ]
        ),
        "RELEASE_RQ",
        None,
    )
)
_add(
    Vector(
        "release-rp",
        b"".join(
            [
                b"\x06",  # T9-25 byte 1: PDU-type 06H
                b"\x00",  # T9-25 byte 2: reserved
                u32(4),  # T9-25 bytes 3-6: PDU-length 4
                b"\x00\x00\x00\x00",  # T9-25 bytes 7-10: reserved
            ]
        ),
        "RELEASE_RP",
        None,
    )
)
_add(
    Vector(
        "release-rq-reserved-garbage",
        b"".join(
            [
                b"\x05",  # T9-24 byte 1: PDU-type 05H
                b"\x01",  # T9-24 byte 2: reserved, garbage
                u32(4),  # T9-24 bytes 3-6: PDU-length 4
                b"\xde\xad\xbe\xef",  # T9-24 bytes 7-10: reserved, garbage
            ]
        ),
        "RELEASE_RQ",
        None,
        reencoded=bytes.fromhex("05 00 00000004 00000000"),
    )
)
_add(
    Vector(
        "release-rp-reserved-garbage",
        b"".join(
            [
                b"\x06",  # T9-25 byte 1: PDU-type 06H
                b"\xff",  # T9-25 byte 2: reserved, garbage
                u32(4),  # T9-25 bytes 3-6: PDU-length 4
                b"\xff\xff\xff\xff",  # T9-25 bytes 7-10: reserved, garbage
            ]
        ),
        "RELEASE_RP",
        None,
        reencoded=bytes.fromhex("06 00 00000004 00000000"),
    )
)

# ==== A-ABORT (PS3.8 Table 9-26) =========================================================

ABORT_VALID = [(0, 0)] + [(2, reason) for reason in range(7)]  # (source, reason/diag.)
for _src, _d in ABORT_VALID:
    _add(
        Vector(
            f"abort-source{_src}-reason{_d}",
            b"".join(
                [
                    b"\x07",  # T9-26 byte 1: PDU-type 07H
                    b"\x00",  # T9-26 byte 2: reserved
                    u32(4),  # T9-26 bytes 3-6: PDU-length 4
                    b"\x00",  # T9-26 byte 7: reserved
                    b"\x00",  # T9-26 byte 8: reserved
                    bytes([_src]),  # T9-26 byte 9: source (0 service-user, 2 provider)
                    bytes([_d]),  # T9-26 byte 10: reason/diag. (0-6 for source 2)
                ]
            ),
            "ABORT",
            (_src, _d),
        )
    )
_add(
    Vector(
        "abort-reserved-garbage",
        b"".join(
            [
                b"\x07",  # T9-26 byte 1: PDU-type 07H
                b"\x80",  # T9-26 byte 2: reserved, garbage
                u32(4),  # T9-26 bytes 3-6: PDU-length 4
                b"\x81",  # T9-26 byte 7: reserved, garbage
                b"\x82",  # T9-26 byte 8: reserved, garbage
                b"\x02",  # T9-26 byte 9: source 2 service-provider
                b"\x06",  # T9-26 byte 10: reason 6 invalid-PDU-parameter-value
            ]
        ),
        "ABORT",
        (2, 6),
        reencoded=bytes.fromhex("07 00 00000004 00 00 02 06"),
    )
)

BY_NAME: dict[str, Vector] = {v.name: v for v in VECTORS}
assert len(BY_NAME) == len(VECTORS), "duplicate vector names"
