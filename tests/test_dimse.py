"""DIMSE command sets and messages (dicomul.dimse.messages), status categories
(dicomul.dimse.status).

The byte-exact expectations are written by hand from PS3.7 6.3.1 / Annex E: every element
is tag (group, element as two little-endian US), a 4-byte little-endian length and the
value; (0000,0000) UL leads and counts the bytes after its own value.
"""

from __future__ import annotations

import struct
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dicomul.dimse import status as S
from dicomul.dimse.messages import (
    COMMAND_ELEMENTS,
    DATASET_PRESENT,
    NO_DATASET,
    RETIRED_COMMAND_ELEMENTS,
    CCancelRQ,
    CEchoRQ,
    CEchoRSP,
    CFindRQ,
    CFindRSP,
    CGetRQ,
    CGetRSP,
    CMoveRQ,
    CMoveRSP,
    CommandField,
    CStoreRQ,
    CStoreRSP,
    DIMSEError,
    DIMSEMessage,
    Priority,
    decode_command,
    decode_message,
    encode_command,
)
from dicomul.dimse.status import StatusCategory
from dicomul.errors import DicomULError

CT = "1.2.840.10008.5.1.4.1.1.2"  # 25 characters: odd, padded with one NUL
STUDY_ROOT_FIND = "1.2.840.10008.5.1.4.1.2.2.1"
STUDY_ROOT_GET = "1.2.840.10008.5.1.4.1.2.2.3"
STUDY_ROOT_MOVE = "1.2.840.10008.5.1.4.1.2.2.2"


def elem(e: int, value: bytes) -> bytes:
    """One group-0000 element, written independently of the code under test."""
    return struct.pack("<HHI", 0, e, len(value)) + value


def us(e: int, v: int) -> bytes:
    return elem(e, struct.pack("<H", v))


def command(*elements: bytes) -> bytes:
    body = b"".join(elements)
    return elem(0x0000, struct.pack("<I", len(body))) + body


# Every message type, minimal and with every optional field set.
MESSAGES: list[DIMSEMessage] = [
    CEchoRQ(message_id=1),
    CEchoRSP(message_id_being_responded_to=1),
    CEchoRSP(
        message_id_being_responded_to=65535,
        status=0x0122,
        affected_sop_class_uid=None,
        error_comment="SOP class not supported",
        error_id=7,
        offending_element=(0x00000002,),
    ),
    CStoreRQ(message_id=2, affected_sop_class_uid=CT, affected_sop_instance_uid="1.2.3.4"),
    CStoreRQ(
        message_id=3,
        affected_sop_class_uid=CT,
        affected_sop_instance_uid="1.2.826.0.1.3680043.8.498.1",
        priority=Priority.LOW,
        move_originator_ae_title="MOVESCU",
        move_originator_message_id=99,
    ),
    CStoreRSP(message_id_being_responded_to=2),
    CStoreRSP(
        message_id_being_responded_to=2,
        status=0xA900,
        affected_sop_class_uid=CT,
        affected_sop_instance_uid="1.2.3.4",
        offending_element=(0x00100010, 0x00100020),
        error_comment="does not match",
        error_id=0x1234,
    ),
    CFindRQ(message_id=4, affected_sop_class_uid=STUDY_ROOT_FIND),
    CFindRQ(message_id=4, affected_sop_class_uid=STUDY_ROOT_FIND, priority=Priority.HIGH),
    CFindRSP(message_id_being_responded_to=4, status=0xFF00, has_dataset=True),
    CFindRSP(
        message_id_being_responded_to=4,
        status=0xC001,
        affected_sop_class_uid=STUDY_ROOT_FIND,
        offending_element=(0x00080052,),
        error_comment="bad level",
        error_id=1,
    ),
    CGetRQ(message_id=5, affected_sop_class_uid=STUDY_ROOT_GET),
    CGetRSP(message_id_being_responded_to=5, status=0x0000),
    CGetRSP(
        message_id_being_responded_to=5,
        status=0xFF00,
        affected_sop_class_uid=STUDY_ROOT_GET,
        remaining_suboperations=10,
        completed_suboperations=3,
        failed_suboperations=1,
        warning_suboperations=0,
    ),
    CGetRSP(
        message_id_being_responded_to=5,
        status=0xB000,
        completed_suboperations=3,
        failed_suboperations=1,
        warning_suboperations=2,
        has_dataset=True,
        error_comment="x",
        error_id=2,
        offending_element=(),
    ),
    CMoveRQ(message_id=6, affected_sop_class_uid=STUDY_ROOT_MOVE, move_destination="STORESCP"),
    CMoveRQ(
        message_id=6,
        affected_sop_class_uid=STUDY_ROOT_MOVE,
        move_destination="DEST",
        priority=Priority.LOW,
    ),
    CMoveRSP(message_id_being_responded_to=6, status=0xA801, error_comment="unknown AE"),
    CMoveRSP(
        message_id_being_responded_to=6,
        status=0xFF00,
        affected_sop_class_uid=STUDY_ROOT_MOVE,
        remaining_suboperations=65535,
        completed_suboperations=0,
        failed_suboperations=0,
        warning_suboperations=0,
    ),
    CCancelRQ(message_id_being_responded_to=4),
]


# ------------------------------------------------------------------------------ round trips
@pytest.mark.parametrize("msg", MESSAGES, ids=lambda m: type(m).__name__)
def test_every_message_round_trips(msg: DIMSEMessage) -> None:
    data = msg.encode()
    back = decode_message(data)
    assert type(back) is type(msg)
    assert back == msg
    assert back.encode() == data
    assert encode_command(decode_command(data)) == data


@pytest.mark.parametrize("msg", MESSAGES, ids=lambda m: type(m).__name__)
def test_command_field_and_dataset_type(msg: DIMSEMessage) -> None:
    fields = decode_command(msg.encode())
    assert fields[0x0100] == type(msg).command_field
    assert fields[0x0800] == (DATASET_PRESENT if msg.has_dataset else NO_DATASET)


def test_every_command_field_has_a_class() -> None:
    classes = {m.command_field: type(m) for m in MESSAGES}
    assert set(classes) == set(CommandField)


def test_has_dataset_defaults() -> None:
    assert CStoreRQ(
        message_id=1, affected_sop_class_uid=CT, affected_sop_instance_uid="1"
    ).has_dataset
    assert CFindRQ(message_id=1, affected_sop_class_uid=CT).has_dataset
    assert CGetRQ(message_id=1, affected_sop_class_uid=CT).has_dataset
    assert CMoveRQ(message_id=1, affected_sop_class_uid=CT, move_destination="A").has_dataset
    for m in (
        CEchoRQ(message_id=1),
        CEchoRSP(message_id_being_responded_to=1),
        CStoreRSP(message_id_being_responded_to=1),
        CCancelRQ(message_id_being_responded_to=1),
    ):
        assert not m.has_dataset


def test_any_dataset_type_but_0101_means_present() -> None:
    for value in (0x0000, 0x0001, 0x0102, 0xFEFE):
        data = command(
            elem(0x0002, b"1.2.840.10008.1.1\0"),
            us(0x0100, 0x0030),
            us(0x0110, 1),
            us(0x0800, value),
        )
        assert decode_message(data).has_dataset
    data = command(
        elem(0x0002, b"1.2.840.10008.1.1\0"), us(0x0100, 0x0030), us(0x0110, 1), us(0x0800, 0x0101)
    )
    assert not decode_message(data).has_dataset


def test_response_category() -> None:
    assert (
        CFindRSP(message_id_being_responded_to=1, status=0xFF01).category is StatusCategory.PENDING
    )
    assert CStoreRSP(message_id_being_responded_to=1).category is StatusCategory.SUCCESS
    assert (
        CMoveRSP(message_id_being_responded_to=1, status=0xB000).category is StatusCategory.WARNING
    )


def test_messages_are_frozen_and_slotted() -> None:
    m = CEchoRQ(message_id=1)
    with pytest.raises(AttributeError):
        m.message_id = 2  # type: ignore[misc]
    assert not hasattr(m, "__dict__")
    assert hash(m) == hash(CEchoRQ(message_id=1))


def test_absent_optional_fields_decode_as_none() -> None:
    # An echo response without (0000,0002) must not gain the constructor's default.
    data = command(us(0x0100, 0x8030), us(0x0120, 9), us(0x0800, 0x0101), us(0x0900, 0))
    m = decode_message(data)
    assert isinstance(m, CEchoRSP)
    assert m.affected_sop_class_uid is None
    assert m.encode() == data


# ------------------------------------------------------------------------------ exact bytes
def test_c_echo_rq_bytes() -> None:
    expected = bytes.fromhex(
        "00000000 04000000 38000000"  # (0000,0000) UL 4: 56 bytes follow
        "00000200 12000000 312e322e3834302e31303030382e312e3100"  # UI 1.2.840.10008.1.1 + NUL
        "00000001 02000000 3000"  # (0000,0100) C-ECHO-RQ
        "00001001 02000000 0100"  # (0000,0110) Message ID 1
        "00000008 02000000 0101"  # (0000,0800) no data set
    )
    assert CEchoRQ(message_id=1).encode() == expected
    assert decode_message(expected) == CEchoRQ(message_id=1)


def test_c_store_rq_bytes() -> None:
    expected = bytes.fromhex(
        "00000000 04000000 74000000"  # 116 bytes follow
        "00000200 1a000000 312e322e3834302e31303030382e352e312e342e312e312e3200"  # CT + NUL
        "00000001 02000000 0100"  # C-STORE-RQ
        "00001001 02000000 3412"  # Message ID 0x1234
        "00000007 02000000 0100"  # Priority HIGH
        "00000008 02000000 0100"  # data set present (0001H)
        "00000010 08000000 312e322e332e3400"  # (0000,1000) 1.2.3.4 + NUL
        "00003010 08000000 4d4f564553435520"  # (0000,1030) AE MOVESCU + space
        "00003110 02000000 0500"  # (0000,1031) 5
    )
    msg = CStoreRQ(
        message_id=0x1234,
        affected_sop_class_uid=CT,
        affected_sop_instance_uid="1.2.3.4",
        priority=Priority.HIGH,
        move_originator_ae_title="MOVESCU",
        move_originator_message_id=5,
    )
    assert msg.encode() == expected
    assert decode_message(expected) == msg


def test_c_get_rsp_bytes_field_order() -> None:
    msg = CGetRSP(
        message_id_being_responded_to=3,
        status=0xFF00,
        remaining_suboperations=4,
        completed_suboperations=1,
        failed_suboperations=0,
        warning_suboperations=2,
        error_comment="ok",
    )
    expected = command(
        us(0x0100, 0x8010),
        us(0x0120, 3),
        us(0x0800, 0x0101),
        us(0x0900, 0xFF00),
        elem(0x0902, b"ok"),
        us(0x1020, 4),
        us(0x1021, 1),
        us(0x1022, 0),
        us(0x1023, 2),
    )
    assert msg.encode() == expected


def test_c_cancel_rq_bytes() -> None:
    expected = command(us(0x0100, 0x0FFF), us(0x0120, 7), us(0x0800, 0x0101))
    assert CCancelRQ(message_id_being_responded_to=7).encode() == expected


# ------------------------------------------------------------------------------ padding
def test_ui_padding() -> None:
    assert encode_command({0x0002: "1.2"})[12:] == elem(0x0002, b"1.2\0")
    assert encode_command({0x0002: "1.23"})[12:] == elem(0x0002, b"1.23")
    assert encode_command({0x1000: ""})[12:] == elem(0x1000, b"")
    # decoding strips the NUL, and tolerates a (non-conforming) trailing space
    assert decode_command(command(elem(0x0002, b"1.2\0")))[0x0002] == "1.2"
    assert decode_command(command(elem(0x0002, b"1.2 ")))[0x0002] == "1.2"


@pytest.mark.parametrize("e", [0x0600, 0x1030])
def test_ae_padding(e: int) -> None:
    assert encode_command({e: "ABC"})[12:] == elem(e, b"ABC ")
    assert encode_command({e: "ABCD"})[12:] == elem(e, b"ABCD")
    assert decode_command(command(elem(e, b"ABC ")))[e] == "ABC"
    assert decode_command(command(elem(e, b"  ABC   ")))[e] == "ABC"  # leading spaces too


def test_lo_padding() -> None:
    assert encode_command({0x0902: "bad"})[12:] == elem(0x0902, b"bad ")
    assert decode_command(command(elem(0x0902, b"bad ")))[0x0902] == "bad"


def test_at_encoding() -> None:
    # AT: group then element, each a little-endian US
    assert encode_command({0x0901: (0x00100020, 0x7FE00010)})[12:] == elem(
        0x0901, bytes.fromhex("10002000 e07f1000")
    )
    assert encode_command({0x0901: 0x00100020})[12:] == elem(0x0901, bytes.fromhex("10002000"))
    assert decode_command(command(elem(0x1005, bytes.fromhex("10002000 e07f1000"))))[0x1005] == (
        0x00100020,
        0x7FE00010,
    )


# ------------------------------------------------------------------------------ group length, order
def test_group_length_first_and_correct() -> None:
    data = encode_command({0x0900: 0, 0x0100: 0x8030, 0x0120: 1, 0x0800: 0x0101})
    assert data[:8] == bytes.fromhex("00000000 04000000")
    assert struct.unpack_from("<I", data, 8)[0] == len(data) - 12
    assert decode_command(data)[0x0000] == len(data) - 12


def test_given_group_length_is_ignored() -> None:
    assert encode_command({0x0000: 12345, 0x0110: 1}) == command(us(0x0110, 1))


def test_ascending_order_whatever_the_input_order() -> None:
    data = encode_command({0x1031: 5, 0x0002: "1.2", 0x0800: 0x0101, 0x0100: 1, 0x0110: 2})
    tags = []
    off = 12
    while off < len(data):
        _g, e, n = struct.unpack_from("<HHI", data, off)
        tags.append(e)
        off += 8 + n
    assert tags == sorted(tags) == [0x0002, 0x0100, 0x0110, 0x0800, 0x1031]


def test_none_omits_an_element() -> None:
    assert encode_command({0x0110: 1, 0x0903: None}) == command(us(0x0110, 1))


def test_full_tags_and_element_numbers_are_the_same_key() -> None:
    assert encode_command({0x00000110: 1}) == encode_command({0x0110: 1})


# ------------------------------------------------------------------------------ unknown elements
def test_unknown_and_retired_elements_are_kept() -> None:
    data = command(
        elem(0x0002, b"1.2.840.10008.1.1\0"),
        elem(0x0010, b"RC"),  # retired SH
        us(0x0100, 0x0030),
        us(0x0110, 1),
        us(0x0800, 0x0101),
        us(0x0850, 3),  # retired US
        elem(0x7777, b"\x01\x02\x03\x04"),  # unknown
    )
    fields = decode_command(data)
    assert fields[0x0010] == b"RC"
    assert fields[0x0850] == b"\x03\x00"
    assert fields[0x7777] == b"\x01\x02\x03\x04"
    assert encode_command(fields) == data
    msg = decode_message(data)
    assert isinstance(msg, CEchoRQ)
    assert dict(msg.extra) == {0x0010: b"RC", 0x0850: b"\x03\x00", 0x7777: b"\x01\x02\x03\x04"}
    assert msg.encode() == data


def test_extra_with_known_element_types() -> None:
    # RequestedSOPClassUID is not a C-FIND-RQ field: it lands in extra, typed.
    msg = CFindRQ(
        message_id=1, affected_sop_class_uid=CT, extra={0x0003: "1.2.3", 0x1005: (0x00100010,)}
    )
    back = decode_message(msg.encode())
    assert back == msg
    assert back.extra == {0x0003: "1.2.3", 0x1005: (0x00100010,)}


def test_extra_may_not_duplicate_a_field() -> None:
    with pytest.raises(ValueError):
        CEchoRQ(message_id=1, extra={0x0110: 2}).encode()


def test_retired_elements_need_bytes() -> None:
    with pytest.raises(TypeError):
        encode_command({0x0850: 3})
    with pytest.raises(ValueError):
        encode_command({0x7777: b"abc"})  # odd raw length


def test_dictionary_tables_are_disjoint_group_0000() -> None:
    assert not set(COMMAND_ELEMENTS) & set(RETIRED_COMMAND_ELEMENTS)
    assert all(0 <= e <= 0xFFFF for e in [*COMMAND_ELEMENTS, *RETIRED_COMMAND_ELEMENTS])


# ------------------------------------------------------------------------------ malformed input
ECHO = CEchoRQ(message_id=1).encode()


def _with_group_length(body: bytes, length: int | None = None) -> bytes:
    return elem(0x0000, struct.pack("<I", len(body) if length is None else length)) + body


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (b"", "shorter"),
        (ECHO[:11], "shorter"),
        (us(0x0110, 1) + us(0x0100, 0x30), "start with"),
        (elem(0x0000, b"\x00\x00") + us(0x0110, 1), "start with"),  # group length not UL
        (_with_group_length(us(0x0110, 1) + b"\x00\x00\x00", 13), "odd"),
        (_with_group_length(us(0x0110, 1), 12), "does not match"),
        (_with_group_length(us(0x0110, 1), 8), "does not match"),
        (_with_group_length(us(0x0110, 1) + b"\x00\x00\x00\x01"), "truncated"),  # 4-byte header
        (_with_group_length(struct.pack("<HHI", 0, 0x0110, 4) + b"\x01\x00"), "past the end"),
        (_with_group_length(struct.pack("<HHI", 0, 0x0002, 0xFFFFFFFF) + b"1."), "past the end"),
        (_with_group_length(elem(0x0110, b"\x01\x00\x00\x00")), "US but has length 4"),
        (_with_group_length(elem(0x0110, b"")), "US but has length 0"),
        (_with_group_length(struct.pack("<HHI", 0, 0x0002, 3) + b"1.2" + b"\0"), "odd value"),
        (_with_group_length(elem(0x0901, b"\x10\x00")), "AT but has length 2"),
        (_with_group_length(us(0x0110, 1) + us(0x0100, 0x30)), "ascending"),
        (_with_group_length(us(0x0110, 1) + us(0x0110, 1)), "ascending"),
        (_with_group_length(struct.pack("<HHIH", 8, 0x0110, 2, 1)), "not in group 0000"),
        (_with_group_length(elem(0x0002, b"1.\xff\0")), "not ASCII"),
    ],
)
def test_malformed_command_sets(data: bytes, match: str) -> None:
    with pytest.raises(DIMSEError, match=match):
        decode_command(data)
    with pytest.raises(DIMSEError):
        decode_message(data)


def test_dimse_error_is_a_dicomul_error_with_offset() -> None:
    assert issubclass(DIMSEError, DicomULError)
    with pytest.raises(DIMSEError) as info:
        decode_command(_with_group_length(us(0x0110, 1) + elem(0x0120, b"\x01\x00\x00\x00")))
    assert info.value.offset == 22


def test_unknown_command_field() -> None:
    for cf in (0x0002, 0x0200, 0xFFFF):  # nonsense
        with pytest.raises(DIMSEError, match="unsupported Command Field"):
            decode_message(command(us(0x0100, cf), us(0x0110, 1), us(0x0800, 0x0101)))
    # (issue 11: the DIMSE-N messages decode now; this N-EVENT-REPORT lacks its UIDs)
    with pytest.raises(DIMSEError, match="required .* is missing"):
        decode_message(command(us(0x0100, 0x0100), us(0x0110, 1), us(0x0800, 0x0101)))


def test_missing_command_field() -> None:
    with pytest.raises(DIMSEError, match="CommandField"):
        decode_message(command(us(0x0110, 1), us(0x0800, 0x0101)))


@pytest.mark.parametrize("drop", [0x0002, 0x0110, 0x0700, 0x0800, 0x1000])
def test_missing_required_field_c_store_rq(drop: int) -> None:
    fields = decode_command(MESSAGES[3].encode())
    del fields[drop]
    with pytest.raises(DIMSEError, match="missing"):
        decode_message(encode_command(fields))


def test_decoding_names_the_missing_field() -> None:
    """The compiled decoder (build_message) reports the first missing required field
    of the layout, an empty one as missing, and a missing Data Set Type by name."""
    echo = CEchoRQ(message_id=7, affected_sop_class_uid="1.2.840.10008.1.1").encode()
    fields = decode_command(echo)
    del fields[0x0800]
    with pytest.raises(DIMSEError, match=r"CEchoRQ: required \(0000,0800\) CommandDataSetType"):
        decode_message(encode_command(fields))
    fields = decode_command(echo)
    fields[0x0002] = ""
    with pytest.raises(DIMSEError, match=r"CEchoRQ: required .*0002.* is missing"):
        decode_message(encode_command(fields))
    fields = decode_command(echo)
    fields[0x0900] = 0  # not a field of C-ECHO-RQ: kept in extra, in order
    msg = decode_message(encode_command(fields))
    assert msg == CEchoRQ(message_id=7, affected_sop_class_uid="1.2.840.10008.1.1",
                          extra={0x0900: 0})  # fmt: skip
    assert msg.encode() == encode_command(fields)
    assert decode_message(echo).extra == {} and decode_message(echo).extra is not msg.extra


@pytest.mark.parametrize(
    ("msg", "drop"),
    [
        (MESSAGES[0], 0x0002),
        (MESSAGES[1], 0x0120),
        (MESSAGES[1], 0x0900),
        (MESSAGES[7], 0x0700),
        (MESSAGES[15], 0x0600),
        (MESSAGES[-1], 0x0120),
        (MESSAGES[-1], 0x0800),
    ],
)
def test_missing_required_field(msg: DIMSEMessage, drop: int) -> None:
    fields = decode_command(msg.encode())
    del fields[drop]
    with pytest.raises(DIMSEError, match="missing"):
        decode_message(encode_command(fields))


def test_empty_required_string_is_missing() -> None:
    data = command(
        elem(0x0002, b"1.2\0"),
        us(0x0100, 0x0021),
        us(0x0110, 1),
        elem(0x0600, b"  "),
        us(0x0700, 0),
        us(0x0800, 1),
    )
    with pytest.raises(DIMSEError, match="MoveDestination"):
        decode_message(data)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_random_bytes_raise_only_dimse_error(data: bytes) -> None:
    try:
        decode_message(data)
    except DIMSEError:
        pass


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(MESSAGES), st.data())
def test_mutated_messages_raise_only_dimse_error(msg: DIMSEMessage, data: Any) -> None:
    raw = bytearray(msg.encode())
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(raw) - 1))
        raw[i] = data.draw(st.integers(0, 255))
    try:
        decode_message(bytes(raw))
    except DIMSEError:
        pass


def test_accepts_any_buffer() -> None:
    assert (
        decode_message(bytearray(ECHO)) == decode_message(memoryview(ECHO)) == CEchoRQ(message_id=1)
    )


# ------------------------------------------------------------------------------ encode misuse
@pytest.mark.parametrize(
    ("fields", "exc"),
    [
        ({0x0110: -1}, ValueError),
        ({0x0110: 65536}, ValueError),
        ({0x0110: "1"}, TypeError),
        ({0x0002: "1.2.x"}, ValueError),
        ({0x0002: "1." * 33}, ValueError),
        ({0x0002: 12}, TypeError),
        ({0x0600: "A" * 17}, ValueError),
        ({0x0600: "A\\B"}, ValueError),
        ({0x0902: "x" * 65}, ValueError),
        ({0x0902: "caf\u00e9"}, ValueError),
        ({0x0901: (1 << 32,)}, ValueError),
        ({0x10000: 1}, ValueError),
        ({-1: 1}, ValueError),
    ],
)
def test_encode_command_rejects_bad_values(fields: dict[int, Any], exc: type) -> None:
    with pytest.raises(exc):
        encode_command(fields)


def test_message_encode_rejects_missing_or_bad_fields() -> None:
    with pytest.raises(ValueError, match="required"):
        CStoreRQ(message_id=1, affected_sop_class_uid="", affected_sop_instance_uid="1").encode()
    with pytest.raises(ValueError, match="required"):
        CMoveRQ(message_id=1, affected_sop_class_uid=CT, move_destination="").encode()
    with pytest.raises(ValueError):
        CEchoRQ(message_id=70000).encode()
    with pytest.raises(ValueError):
        CStoreRSP(message_id_being_responded_to=1, status=0x10000).encode()


# ------------------------------------------------------------------------------ status
SUCCESS, WARNING, FAILURE = StatusCategory.SUCCESS, StatusCategory.WARNING, StatusCategory.FAILURE
CANCEL, PENDING = StatusCategory.CANCEL, StatusCategory.PENDING

NAMED = {
    # storage (PS3.4 B.2.3)
    S.OUT_OF_RESOURCES: FAILURE,  # 0xA700
    S.DATASET_DOES_NOT_MATCH_SOP_CLASS: FAILURE,  # 0xA900
    S.CANNOT_UNDERSTAND: FAILURE,  # 0xC000
    S.COERCION_OF_DATA_ELEMENTS: WARNING,  # 0xB000
    S.DATASET_DOES_NOT_MATCH_SOP_CLASS_WARNING: WARNING,  # 0xB007
    S.ELEMENTS_DISCARDED: WARNING,  # 0xB006
    # query/retrieve (PS3.4 C.4)
    S.OUT_OF_RESOURCES_NUMBER_OF_MATCHES: FAILURE,  # 0xA701
    S.OUT_OF_RESOURCES_SUB_OPERATIONS: FAILURE,  # 0xA702
    S.MOVE_DESTINATION_UNKNOWN: FAILURE,  # 0xA801
    S.IDENTIFIER_DOES_NOT_MATCH_SOP_CLASS: FAILURE,  # 0xA900
    S.UNABLE_TO_PROCESS: FAILURE,  # 0xC000
    S.CANCEL: CANCEL,
    S.PENDING: PENDING,
    S.PENDING_WARNING: PENDING,
    S.SUB_OPERATIONS_COMPLETE_WITH_FAILURES: WARNING,  # 0xB000
    # general (PS3.7 Annex C)
    S.SUCCESS: SUCCESS,
    S.PROCESSING_FAILURE: FAILURE,  # 0x0110
    S.NO_SUCH_SOP_INSTANCE: FAILURE,  # 0x0112
    S.INVALID_OBJECT_INSTANCE: FAILURE,  # 0x0117
    S.SOP_CLASS_NOT_SUPPORTED: FAILURE,  # 0x0122
    S.NOT_AUTHORIZED: FAILURE,  # 0x0124
    S.DUPLICATE_INVOCATION: FAILURE,  # 0x0210
    S.UNRECOGNIZED_OPERATION: FAILURE,  # 0x0211
    S.MISTYPED_ARGUMENT: FAILURE,  # 0x0212
    S.WARNING_OPTIONAL_ATTRIBUTES_NOT_SUPPORTED: WARNING,  # 0x0001
    S.WARNING_ATTRIBUTE_LIST_ERROR: WARNING,  # 0x0107
    S.WARNING_ATTRIBUTE_VALUE_OUT_OF_RANGE: WARNING,  # 0x0116
}


def test_named_codes_have_the_standard_values() -> None:
    assert (S.OUT_OF_RESOURCES, S.DATASET_DOES_NOT_MATCH_SOP_CLASS, S.CANNOT_UNDERSTAND) == (
        0xA700,
        0xA900,
        0xC000,
    )
    assert (
        S.COERCION_OF_DATA_ELEMENTS,
        S.DATASET_DOES_NOT_MATCH_SOP_CLASS_WARNING,
        S.ELEMENTS_DISCARDED,
    ) == (0xB000, 0xB007, 0xB006)
    assert (
        S.OUT_OF_RESOURCES_NUMBER_OF_MATCHES,
        S.OUT_OF_RESOURCES_SUB_OPERATIONS,
        S.MOVE_DESTINATION_UNKNOWN,
    ) == (0xA701, 0xA702, 0xA801)
    assert (S.CANCEL, S.PENDING, S.PENDING_WARNING) == (0xFE00, 0xFF00, 0xFF01)
    assert (
        S.PROCESSING_FAILURE,
        S.NO_SUCH_SOP_INSTANCE,
        S.INVALID_OBJECT_INSTANCE,
        S.SOP_CLASS_NOT_SUPPORTED,
        S.NOT_AUTHORIZED,
    ) == (0x0110, 0x0112, 0x0117, 0x0122, 0x0124)
    assert (S.DUPLICATE_INVOCATION, S.UNRECOGNIZED_OPERATION, S.MISTYPED_ARGUMENT) == (
        0x0210,
        0x0211,
        0x0212,
    )


@pytest.mark.parametrize(("code", "cat"), sorted(NAMED.items()))
def test_named_code_categories(code: int, cat: StatusCategory) -> None:
    assert S.category(code) is cat
    assert S.is_valid(code)
    assert S.describe(code)


@pytest.mark.parametrize(
    ("code", "cat"),
    [
        (0x0000, SUCCESS),
        (0x0001, WARNING),
        (0x0002, FAILURE),  # unassigned: counted as failure, but not valid
        (0x00FF, FAILURE),
        (0x0100, FAILURE),
        (0x0106, FAILURE),
        (0x0107, WARNING),
        (0x0108, FAILURE),
        (0x0115, FAILURE),
        (0x0116, WARNING),
        (0x0117, FAILURE),
        (0x01FF, FAILURE),
        (0x0200, FAILURE),
        (0x02FF, FAILURE),
        (0x0300, FAILURE),
        (0x9FFF, FAILURE),
        (0xA000, FAILURE),
        (0xAFFF, FAILURE),
        (0xB000, WARNING),
        (0xBFFF, WARNING),
        (0xC000, FAILURE),
        (0xCFFF, FAILURE),
        (0xD000, FAILURE),
        (0xFDFF, FAILURE),
        (0xFE00, CANCEL),
        (0xFE01, FAILURE),
        (0xFEFF, FAILURE),
        (0xFF00, PENDING),
        (0xFF01, PENDING),
        (0xFF02, FAILURE),
        (0xFFFF, FAILURE),
    ],
)
def test_category_boundaries(code: int, cat: StatusCategory) -> None:
    assert S.category(code) is cat


@pytest.mark.parametrize(
    "code", [0x0002, 0x00FF, 0x0300, 0x9FFF, 0xD000, 0xFDFF, 0xFE01, 0xFF02, 0xFFFF]
)
def test_unassigned_codes_are_not_valid(code: int) -> None:
    assert not S.is_valid(code)
    assert "not assigned" in S.describe(code)


def test_every_code_has_exactly_one_category() -> None:
    counts = {c: 0 for c in StatusCategory}
    for code in range(0x10000):
        counts[S.category(code)] += 1
    assert counts[SUCCESS] == 1
    assert counts[CANCEL] == 1
    assert counts[PENDING] == 2
    assert counts[WARNING] == 1 + 2 + 0x1000
    valid = sum(S.is_valid(c) for c in range(0x10000))
    assert valid == 1 + (3 + 0x1000) + (0x1000 * 2 + 0x200 - 2) + 1 + 2


def test_helpers() -> None:
    assert S.is_success(0) and not S.is_success(1)
    assert S.is_pending(0xFF00) and S.is_pending(0xFF01) and not S.is_pending(0xFE00)
    assert S.is_cancel(0xFE00)
    assert S.is_warning(0xB123) and S.is_failure(0xC123) and S.is_failure(0x0122)
    for bad in (-1, 0x10000, "0"):
        with pytest.raises(ValueError):
            S.category(bad)  # type: ignore[arg-type]


def test_describe_by_service() -> None:
    assert S.describe(0xC000, "storage") == "Error: cannot understand"
    assert S.describe(0xC000, "qr") == "Failed: unable to process"
    assert "coercion" in S.describe(0xB000, "storage")
    assert "sub-operations" in S.describe(0xB000, "qr")
    assert S.describe(0x0122) == "Refused: SOP Class not supported"
    assert S.describe(0xC123, "storage") == "Failure (0xC123)"
    with pytest.raises(ValueError):
        S.describe(0, "nope")


# ---- the compiled encoder's faults: each one, with its exception type and message ------


@pytest.mark.parametrize(
    ("make", "exc", "match"),
    [
        (lambda: CEchoRQ(message_id="1"), TypeError,
         r"\(0000,0110\) MessageID is US: expected int, got str"),
        (lambda: CEchoRQ(message_id=70000), ValueError, r"is US: 70000 is outside 0\.\.65535"),
        (lambda: CEchoRQ(message_id=-1), ValueError, r"is US: -1 is outside"),
        (lambda: CEchoRQ(message_id=None), ValueError, r"CEchoRQ\.message_id is required"),
        (lambda: CEchoRQ(message_id=1, affected_sop_class_uid="1.2.x"), ValueError, "is not a UID"),
        (lambda: CEchoRQ(message_id=1, affected_sop_class_uid="1." * 33), ValueError,
         "is not a UID"),
        (lambda: CEchoRQ(message_id=1, affected_sop_class_uid=b"1.2"), TypeError,
         "expected str, got bytes"),
        (lambda: CMoveRQ(message_id=1, affected_sop_class_uid=CT, move_destination="A" * 17),
         ValueError, r"MoveDestination: 'A{17}' is not a valid AE value .*<= 16 characters"),
        (lambda: CMoveRQ(message_id=1, affected_sop_class_uid=CT, move_destination="A\\B"),
         ValueError, "not a valid AE value"),
        (lambda: CMoveRQ(message_id=1, affected_sop_class_uid=CT, move_destination="\u00e9"),
         ValueError, "not a valid AE value"),
        (lambda: CStoreRSP(message_id_being_responded_to=1, status=0xC000, error_comment="x" * 65),
         ValueError, r"ErrorComment: .* not a valid LO value .*<= 64 characters"),
        (lambda: CStoreRSP(message_id_being_responded_to=1, status=0xC000,
                           offending_element=(1 << 32,)),
         ValueError, r"OffendingElement is AT: 4294967296 is not a 32-bit tag"),
    ],
)  # fmt: skip
def test_encoder_faults(make, exc, match) -> None:
    with pytest.raises(exc, match=match):
        make().encode()


@pytest.mark.parametrize(
    ("fields", "exc", "match"),
    [
        ({0x0000: 0, 0x0110: 1 << 16}, ValueError, "outside 0..65535"),
        ({0x0001: 5}, TypeError, r"\(0000,0001\) CommandLengthToEnd is retired or unknown"),
        ({0x7777: b"abc"}, ValueError, r"\(0000,7777\): raw value has odd length 3"),
        ({0x0120: 1.0}, TypeError, "expected int, got float"),
        ({0x10000: 1}, ValueError, "bad key"),
    ],
)
def test_encode_command_faults(fields, exc, match) -> None:
    with pytest.raises(exc, match=match):
        encode_command(fields)


def test_encoder_pads_text_and_writes_raw_and_tags_exactly() -> None:
    got = encode_command(
        {0x0002: "1.2.3", 0x0600: "ABC", 0x0901: (0x00100010, 0x7FE00010), 0x7777: b"ab"}
    )
    body = (
        struct.pack("<HHI", 0, 0x0002, 6) + b"1.2.3\0"
        + struct.pack("<HHI", 0, 0x0600, 4) + b"ABC "
        + struct.pack("<HHI", 0, 0x0901, 8) + struct.pack("<4H", 0x0010, 0x0010, 0x7FE0, 0x0010)
        + struct.pack("<HHI", 0, 0x7777, 2) + b"ab"
    )  # fmt: skip
    assert got == struct.pack("<HHII", 0, 0, 4, len(body)) + body
    assert decode_command(got)[0x0901] == (0x00100010, 0x7FE00010)


def test_has_dataset_none_means_no_data_set_on_both_encoding_paths() -> None:
    plain = CEchoRQ(message_id=1, has_dataset=None).encode()  # type: ignore[arg-type]
    assert decode_command(plain)[0x0800] == NO_DATASET
    extra = CEchoRQ(message_id=1, has_dataset=None, extra={0x7777: b"ab"})  # type: ignore[arg-type]
    assert decode_command(extra.encode())[0x0800] == NO_DATASET


def test_every_field_of_a_message_is_in_its_layout() -> None:
    """The compiled decoder (build_message) fills the layout's fields, has_dataset and
    extra, and nothing else: a field outside the layout would be left unset."""
    from dicomul.dimse.messages import MESSAGE_CLASSES
    from dicomul.dimse.n_messages import N_MESSAGE_CLASSES

    for cls in (*MESSAGE_CLASSES.values(), *N_MESSAGE_CLASSES.values()):
        layout = {name for _elem, name in cls._DEC_FIELDS}
        assert set(cls.__record_fields__) == layout | {"has_dataset", "extra"}, cls
