"""DIMSE command sets against pydicom and pynetdicom as oracles, in both directions.

* dicomul -> pydicom: every message type encoded by dicomul, read back with pydicom's
  Implicit VR Little Endian reader (its own data dictionary supplies the VRs); every
  field compared, and nothing extra present.
* pydicom -> dicomul: the same command built as a pydicom Dataset, written with
  ``write_dataset`` in Implicit VR LE, decoded by dicomul; fields compared, and the bytes
  are identical to dicomul's own encoding (both pad UI with NUL and AE/LO with a space).
* pynetdicom -> dicomul: a DIMSE primitive turned into a message with
  ``primitive_to_message`` and encoded with ``encode_msg``; the command set (the command
  PDVs, without their message control header) decoded by dicomul, every field equal.
  The bytes are identical too: both write Command Data Set Type 0001H when a data set
  follows (DCMTK's DIMSE_DATASET_PRESENT is also 0001H), so no exception is needed.
  pynetdicom has no Error ID (0000,0903) parameter and no Offending Element for C-ECHO:
  cases with those are checked against pydicom only.
* dicomul -> pynetdicom: dicomul's bytes decoded with ``decode_msg`` and turned back into
  a primitive with ``message_to_primitive``; every parameter compared.
"""

from __future__ import annotations

from io import BytesIO
from typing import Any

import pytest

pydicom = pytest.importorskip("pydicom")
pynetdicom = pytest.importorskip("pynetdicom")

from pydicom.datadict import dictionary_VR, keyword_for_tag  # noqa: E402
from pydicom.dataset import Dataset  # noqa: E402
from pydicom.filebase import DicomBytesIO  # noqa: E402
from pydicom.filereader import read_dataset  # noqa: E402
from pydicom.filewriter import write_dataset  # noqa: E402
from pynetdicom import dimse_messages as PM  # noqa: E402
from pynetdicom import dimse_primitives as PP  # noqa: E402
from pynetdicom.pdu_primitives import P_DATA  # noqa: E402

from dicomul._record import fields as fields_of  # noqa: E402
from dicomul.dimse.messages import (  # noqa: E402
    COMMAND_ELEMENTS,
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
    CStoreRQ,
    CStoreRSP,
    DIMSEMessage,
    decode_command,
    decode_message,
)

pytestmark = pytest.mark.interop

#: dicomul field name -> PS3.7 E.1 keyword (= pydicom keyword = pynetdicom parameter).
KEYWORD = {
    "message_id": "MessageID",
    "message_id_being_responded_to": "MessageIDBeingRespondedTo",
    "affected_sop_class_uid": "AffectedSOPClassUID",
    "affected_sop_instance_uid": "AffectedSOPInstanceUID",
    "priority": "Priority",
    "move_destination": "MoveDestination",
    "move_originator_ae_title": "MoveOriginatorApplicationEntityTitle",
    "move_originator_message_id": "MoveOriginatorMessageID",
    "status": "Status",
    "offending_element": "OffendingElement",
    "error_comment": "ErrorComment",
    "error_id": "ErrorID",
    "remaining_suboperations": "NumberOfRemainingSuboperations",
    "completed_suboperations": "NumberOfCompletedSuboperations",
    "failed_suboperations": "NumberOfFailedSuboperations",
    "warning_suboperations": "NumberOfWarningSuboperations",
}

#: dicomul class -> (pynetdicom primitive, pynetdicom message, data set parameter or None)
PYNETDICOM = {
    CEchoRQ: (PP.C_ECHO, PM.C_ECHO_RQ, None),
    CEchoRSP: (PP.C_ECHO, PM.C_ECHO_RSP, None),
    CStoreRQ: (PP.C_STORE, PM.C_STORE_RQ, "DataSet"),
    CStoreRSP: (PP.C_STORE, PM.C_STORE_RSP, None),
    CFindRQ: (PP.C_FIND, PM.C_FIND_RQ, "Identifier"),
    CFindRSP: (PP.C_FIND, PM.C_FIND_RSP, "Identifier"),
    CGetRQ: (PP.C_GET, PM.C_GET_RQ, "Identifier"),
    CGetRSP: (PP.C_GET, PM.C_GET_RSP, "Identifier"),
    CMoveRQ: (PP.C_MOVE, PM.C_MOVE_RQ, "Identifier"),
    CMoveRSP: (PP.C_MOVE, PM.C_MOVE_RSP, "Identifier"),
    CCancelRQ: (PP.C_CANCEL, PM.C_CANCEL_RQ, None),
}

CT = "1.2.840.10008.5.1.4.1.1.2"
FIND = "1.2.840.10008.5.1.4.1.2.2.1"
MOVE = "1.2.840.10008.5.1.4.1.2.2.2"
GET = "1.2.840.10008.5.1.4.1.2.2.3"
VERIFICATION = "1.2.840.10008.1.1"
IDENTIFIER = b"\x08\x00\x52\x00\x06\x00\x00\x00STUDY "  # (0008,0052) QueryRetrieveLevel

# (class, fields, pynetdicom can express it)
CASES: list[tuple[type[DIMSEMessage], dict[str, Any], bool]] = [
    (CEchoRQ, {"message_id": 1, "affected_sop_class_uid": VERIFICATION}, True),
    (CEchoRQ, {"message_id": 65535, "affected_sop_class_uid": VERIFICATION}, True),
    (
        CEchoRSP,
        {"message_id_being_responded_to": 1, "status": 0, "affected_sop_class_uid": VERIFICATION},
        True,
    ),
    (
        CEchoRSP,
        {
            "message_id_being_responded_to": 2,
            "status": 0x0122,
            "affected_sop_class_uid": VERIFICATION,
            "error_comment": "no echo",
        },
        True,
    ),
    (
        CEchoRSP,
        {
            "message_id_being_responded_to": 2,
            "status": 0x0110,
            "error_id": 3,
            "offending_element": (0x00000002,),
            "affected_sop_class_uid": None,
        },
        False,
    ),
    (
        CStoreRQ,
        {
            "message_id": 7,
            "affected_sop_class_uid": CT,
            "affected_sop_instance_uid": "1.2.3.4",
            "priority": 0,
        },
        True,
    ),
    (
        CStoreRQ,
        {
            "message_id": 8,
            "affected_sop_class_uid": CT,
            "affected_sop_instance_uid": "1.2.826.0.1.3680043.8.498.10",
            "priority": 2,
            "move_originator_ae_title": "MOVESCU",
            "move_originator_message_id": 3,
        },
        True,
    ),
    (
        CStoreRSP,
        {
            "message_id_being_responded_to": 7,
            "status": 0,
            "affected_sop_class_uid": CT,
            "affected_sop_instance_uid": "1.2.3.4",
        },
        True,
    ),
    (
        CStoreRSP,
        {
            "message_id_being_responded_to": 7,
            "status": 0xB000,
            "affected_sop_class_uid": CT,
            "affected_sop_instance_uid": "1.2.3.4",
            "offending_element": (0x00100010, 0x00100020),
            "error_comment": "coerced",
        },
        True,
    ),
    (
        CStoreRSP,
        {
            "message_id_being_responded_to": 7,
            "status": 0xC000,
            "error_id": 0x0102,
            "error_comment": "cannot understand",
        },
        False,
    ),
    (CFindRQ, {"message_id": 9, "affected_sop_class_uid": FIND, "priority": 1}, True),
    (
        CFindRSP,
        {
            "message_id_being_responded_to": 9,
            "status": 0xFF00,
            "affected_sop_class_uid": FIND,
            "has_dataset": True,
        },
        True,
    ),
    (
        CFindRSP,
        {"message_id_being_responded_to": 9, "status": 0, "affected_sop_class_uid": FIND},
        True,
    ),
    (
        CFindRSP,
        {
            "message_id_being_responded_to": 9,
            "status": 0xA900,
            "affected_sop_class_uid": FIND,
            "offending_element": (0x00080052,),
            "error_comment": "bad identifier",
        },
        True,
    ),
    (CGetRQ, {"message_id": 10, "affected_sop_class_uid": GET, "priority": 0}, True),
    (
        CGetRSP,
        {
            "message_id_being_responded_to": 10,
            "status": 0xFF00,
            "affected_sop_class_uid": GET,
            "remaining_suboperations": 5,
            "completed_suboperations": 1,
            "failed_suboperations": 0,
            "warning_suboperations": 0,
        },
        True,
    ),
    (
        CGetRSP,
        {
            "message_id_being_responded_to": 10,
            "status": 0xB000,
            "affected_sop_class_uid": GET,
            "completed_suboperations": 4,
            "failed_suboperations": 1,
            "warning_suboperations": 1,
            "has_dataset": True,
        },
        True,
    ),
    (
        CGetRSP,
        {
            "message_id_being_responded_to": 10,
            "status": 0xA702,
            "error_comment": "no room",
            "error_id": 1,
        },
        False,
    ),
    (
        CMoveRQ,
        {
            "message_id": 11,
            "affected_sop_class_uid": MOVE,
            "priority": 0,
            "move_destination": "STORESCP",
        },
        True,
    ),
    (
        CMoveRQ,
        {
            "message_id": 11,
            "affected_sop_class_uid": MOVE,
            "priority": 2,
            "move_destination": "DST",
        },
        True,
    ),
    (
        CMoveRSP,
        {
            "message_id_being_responded_to": 11,
            "status": 0xFF00,
            "affected_sop_class_uid": MOVE,
            "remaining_suboperations": 65535,
            "completed_suboperations": 0,
            "failed_suboperations": 0,
            "warning_suboperations": 0,
        },
        True,
    ),
    (
        CMoveRSP,
        {
            "message_id_being_responded_to": 11,
            "status": 0xA801,
            "affected_sop_class_uid": MOVE,
            "error_comment": "unknown AE",
            "offending_element": (0x00000600,),
        },
        True,
    ),
    (CCancelRQ, {"message_id_being_responded_to": 9}, True),
]
IDS = [f"{cls.__name__}-{i}" for i, (cls, _f, _p) in enumerate(CASES)]
PYN_CASES = [c for c in CASES if c[2]]
PYN_IDS = [i for i, c in zip(IDS, CASES, strict=True) if c[2]]


def _has_dataset(cls: type[DIMSEMessage], fields: dict[str, Any]) -> bool:
    default = fields_of(cls)["has_dataset"]
    return bool(fields.get("has_dataset", default))


def _norm(keyword: str, value: Any) -> Any:
    """pydicom/pynetdicom values in dicomul's representation."""
    if keyword in ("OffendingElement", "AttributeIdentifierList"):
        if value is None or value == "":
            return ()
        if isinstance(value, int):  # VM 1: a pydicom BaseTag (an int subclass)
            return (int(value),)
        return tuple(int(t) for t in value)  # VM > 1: MultiValue / list of tags
    if isinstance(value, str):
        return str(value).strip(" \0")
    if isinstance(value, bytes):
        return value.decode("ascii").strip(" \0")
    return value


def _pydicom_read(data: bytes) -> Dataset:
    return read_dataset(BytesIO(data), is_implicit_VR=True, is_little_endian=True)


def _pydicom_write(cls: type[DIMSEMessage], fields: dict[str, Any]) -> bytes:
    ds = Dataset()
    ds.CommandGroupLength = 0
    ds.CommandField = int(cls.command_field)
    ds.CommandDataSetType = 0x0001 if _has_dataset(cls, fields) else 0x0101
    for name, value in fields.items():
        if name != "has_dataset" and value is not None:
            setattr(ds, KEYWORD[name], list(value) if isinstance(value, tuple) else value)

    def write() -> bytes:
        fp = DicomBytesIO()
        fp.is_little_endian = True
        fp.is_implicit_VR = True
        write_dataset(fp, ds)
        return fp.getvalue()

    ds.CommandGroupLength = len(write()) - 12
    return write()


def _pynetdicom_encode(cls: type[DIMSEMessage], fields: dict[str, Any]) -> bytes:
    prim_cls, msg_cls, dataset_param = PYNETDICOM[cls]
    prim: Any = prim_cls()
    for name, value in fields.items():
        if name != "has_dataset" and value is not None:
            setattr(prim, KEYWORD[name], list(value) if isinstance(value, tuple) else value)
    if dataset_param and _has_dataset(cls, fields):
        setattr(prim, dataset_param, BytesIO(IDENTIFIER))
    msg = msg_cls()
    msg.primitive_to_message(prim)
    command = b""
    for pdata in msg.encode_msg(1, 0):
        for _context_id, pdv in pdata.presentation_data_value_list:
            if pdv[0] & 1:  # command fragment (PS3.8 E.2 message control header)
                command += pdv[1:]
    return command


def _check_fields(msg: DIMSEMessage, cls: type[DIMSEMessage], fields: dict[str, Any]) -> None:
    assert type(msg) is cls
    for name in fields_of(cls):
        if name == "extra":
            assert msg.extra == {}
        elif name == "has_dataset":
            assert msg.has_dataset == _has_dataset(cls, fields)
        else:
            assert getattr(msg, name) == fields.get(name), name


# --------------------------------------------------------------------- dictionary
def test_command_dictionary_matches_pydicom() -> None:
    for elem, (keyword, vr) in {**COMMAND_ELEMENTS, **RETIRED_COMMAND_ELEMENTS}.items():
        assert keyword_for_tag(elem) == keyword, hex(elem)
        assert dictionary_VR(elem) == vr, keyword


# --------------------------------------------------------------------- dicomul -> pydicom
@pytest.mark.parametrize(("cls", "fields", "_pyn"), CASES, ids=IDS)
def test_dicomul_to_pydicom(cls: type[DIMSEMessage], fields: dict[str, Any], _pyn: bool) -> None:
    data = cls(**fields).encode()
    ds = _pydicom_read(data)
    expected = {KEYWORD[n]: v for n, v in fields.items() if n != "has_dataset" and v is not None}
    expected |= {
        "CommandGroupLength": len(data) - 12,
        "CommandField": cls.command_field,
        "CommandDataSetType": 0x0001 if _has_dataset(cls, fields) else 0x0101,
    }
    got = {el.keyword: _norm(el.keyword, el.value) for el in ds}
    assert got == expected
    for el in ds:  # pydicom chose each VR from its own dictionary
        assert el.VR == dictionary_VR(el.tag)


# --------------------------------------------------------------------- pydicom -> dicomul
@pytest.mark.parametrize(("cls", "fields", "_pyn"), CASES, ids=IDS)
def test_pydicom_to_dicomul(cls: type[DIMSEMessage], fields: dict[str, Any], _pyn: bool) -> None:
    data = _pydicom_write(cls, fields)
    _check_fields(decode_message(data), cls, fields)
    assert data == cls(**fields).encode()


def test_pydicom_unknown_and_retired_elements_survive() -> None:
    ds = Dataset()
    ds.CommandGroupLength = 0
    ds.AffectedSOPClassUID = VERIFICATION
    ds.CommandField = 0x0030
    ds.MessageID = 4
    ds.CommandDataSetType = 0x0101
    ds.NumberOfMatches = 12  # retired (0000,0850) US
    ds.Initiator = "OLDAE"  # retired (0000,0200) AE
    ds.RequestedSOPClassUID = "1.2.3"  # not a C-ECHO-RQ field
    fp = DicomBytesIO()
    fp.is_little_endian, fp.is_implicit_VR = True, True
    write_dataset(fp, ds)
    ds.CommandGroupLength = len(fp.getvalue()) - 12
    fp = DicomBytesIO()
    fp.is_little_endian, fp.is_implicit_VR = True, True
    write_dataset(fp, ds)
    data = fp.getvalue()
    msg = decode_message(data)
    assert msg == CEchoRQ(message_id=4, extra=msg.extra)
    assert msg.extra == {0x0003: "1.2.3", 0x0200: b"OLDAE ", 0x0850: b"\x0c\x00"}
    assert msg.encode() == data
    assert _pydicom_read(msg.encode()).NumberOfMatches == 12


# --------------------------------------------------------------------- pynetdicom -> dicomul
@pytest.mark.parametrize(("cls", "fields", "_pyn"), PYN_CASES, ids=PYN_IDS)
def test_pynetdicom_to_dicomul(cls: type[DIMSEMessage], fields: dict[str, Any], _pyn: bool) -> None:
    data = _pynetdicom_encode(cls, fields)
    _check_fields(decode_message(data), cls, fields)
    # Byte for byte: same element set, same padding, same CommandDataSetType (0001H).
    assert data == cls(**fields).encode()


# --------------------------------------------------------------------- dicomul -> pynetdicom
@pytest.mark.parametrize(("cls", "fields", "_pyn"), PYN_CASES, ids=PYN_IDS)
def test_dicomul_to_pynetdicom(cls: type[DIMSEMessage], fields: dict[str, Any], _pyn: bool) -> None:
    data = cls(**fields).encode()
    pdvs: Any = [[1, b"\x03" + data]]  # pynetdicom insists on lists, not tuples
    if _has_dataset(cls, fields):
        pdvs.append([1, b"\x02" + IDENTIFIER])
    pdata = P_DATA()
    pdata.presentation_data_value_list = pdvs
    msg = PM.DIMSEMessage()
    assert msg.decode_msg(pdata)
    assert type(msg) is PYNETDICOM[cls][1]
    prim = msg.message_to_primitive()
    checked = set()
    for name, keyword in KEYWORD.items():
        if hasattr(prim, keyword) and name in fields_of(cls):
            got = getattr(prim, keyword)
            want = fields.get(name)
            assert (_norm(keyword, got) if got is not None else None) == want, keyword
            checked.add(name)
    assert checked >= {n for n, v in fields.items() if v is not None and n != "has_dataset"}
    dataset_param = PYNETDICOM[cls][2]
    if dataset_param and _has_dataset(cls, fields):
        assert getattr(prim, dataset_param).getvalue() == IDENTIFIER
    assert int(msg.command_set.CommandDataSetType) == (
        0x0001 if _has_dataset(cls, fields) else 0x0101
    )


def test_decode_command_agrees_with_pydicom_on_every_element() -> None:
    for cls, fields, _pyn in CASES:
        data = cls(**fields).encode()
        ours = decode_command(data)
        theirs = {int(el.tag): _norm(el.keyword, el.value) for el in _pydicom_read(data)}
        assert {e: v for e, v in ours.items()} == theirs
