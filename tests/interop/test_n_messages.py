"""The DIMSE-N messages (PS3.7 10.3): every request and response encoded by dicomul,
decoded back equal, read with pydicom's Implicit VR LE reader (its dictionary supplies
the VRs) with every field equal, and checked against the elements pynetdicom's message
classes define for the same message."""

from __future__ import annotations

from typing import Any

import pytest

pydicom = pytest.importorskip("pydicom")
pynetdicom = pytest.importorskip("pynetdicom")

from pydicom.filebase import DicomBytesIO  # noqa: E402
from pydicom.filereader import read_dataset  # noqa: E402
from pynetdicom import dimse_messages as PM  # noqa: E402

from dicomul._record import fields as fields_of  # noqa: E402
from dicomul.dimse import n_messages as N  # noqa: E402
from dicomul.dimse.messages import decode_message  # noqa: E402

PPS = "1.2.840.10008.3.1.2.3.3"  # Modality Performed Procedure Step
COMMIT = "1.2.840.10008.1.20.1"  # Storage Commitment Push Model
INSTANCE = "1.2.826.0.1.3680043.8.498.1"

RSP = dict(affected_sop_class_uid=PPS, affected_sop_instance_uid=INSTANCE, status=0x0106,
           error_comment="bad value", error_id=7,
           attribute_identifier_list=(0x00400252,))  # fmt: skip
CASES: list[Any] = [
    N.NEventReportRQ(message_id=1, affected_sop_class_uid=COMMIT,
                     affected_sop_instance_uid=INSTANCE, event_type_id=1, has_dataset=True),
    N.NEventReportRSP(message_id_being_responded_to=1, event_type_id=2, **RSP),
    N.NGetRQ(message_id=2, requested_sop_class_uid=PPS, requested_sop_instance_uid=INSTANCE,
             attribute_identifier_list=(0x00100010, 0x00100020)),
    N.NGetRSP(message_id_being_responded_to=2, has_dataset=True, **RSP),
    N.NSetRQ(message_id=3, requested_sop_class_uid=PPS, requested_sop_instance_uid=INSTANCE),
    N.NSetRSP(message_id_being_responded_to=3, **RSP),
    N.NActionRQ(message_id=4, requested_sop_class_uid=COMMIT,
                requested_sop_instance_uid="1.2.840.10008.1.20.1.1", action_type_id=1,
                has_dataset=True),
    N.NActionRSP(message_id_being_responded_to=4, action_type_id=1, **RSP),
    N.NCreateRQ(message_id=5, affected_sop_class_uid=PPS),
    N.NCreateRQ(message_id=6, affected_sop_class_uid=PPS, affected_sop_instance_uid=INSTANCE),
    N.NCreateRSP(message_id_being_responded_to=6, **RSP),
    N.NDeleteRQ(message_id=7, requested_sop_class_uid=PPS, requested_sop_instance_uid=INSTANCE),
    N.NDeleteRSP(message_id_being_responded_to=7, affected_sop_class_uid=PPS),
]  # fmt: skip

KEYWORD = {
    "message_id": "MessageID",
    "message_id_being_responded_to": "MessageIDBeingRespondedTo",
    "affected_sop_class_uid": "AffectedSOPClassUID",
    "affected_sop_instance_uid": "AffectedSOPInstanceUID",
    "requested_sop_class_uid": "RequestedSOPClassUID",
    "requested_sop_instance_uid": "RequestedSOPInstanceUID",
    "event_type_id": "EventTypeID",
    "action_type_id": "ActionTypeID",
    "attribute_identifier_list": "AttributeIdentifierList",
    "status": "Status",
    "offending_element": "OffendingElement",
    "error_comment": "ErrorComment",
    "error_id": "ErrorID",
}
PYNETDICOM_CLASS = {
    cls: getattr(PM, name)
    for cls, name in (
        (N.NEventReportRQ, "N_EVENT_REPORT_RQ"), (N.NEventReportRSP, "N_EVENT_REPORT_RSP"),
        (N.NGetRQ, "N_GET_RQ"), (N.NGetRSP, "N_GET_RSP"), (N.NSetRQ, "N_SET_RQ"),
        (N.NSetRSP, "N_SET_RSP"), (N.NActionRQ, "N_ACTION_RQ"),
        (N.NActionRSP, "N_ACTION_RSP"), (N.NCreateRQ, "N_CREATE_RQ"),
        (N.NCreateRSP, "N_CREATE_RSP"), (N.NDeleteRQ, "N_DELETE_RQ"),
        (N.NDeleteRSP, "N_DELETE_RSP"),
    )
}  # fmt: skip


def _id(m: Any) -> str:
    return type(m).__name__


@pytest.mark.parametrize("msg", CASES, ids=_id)
def test_round_trip(msg: Any) -> None:
    data = msg.encode()
    assert decode_message(data) == msg
    assert decode_message(data).encode() == data


@pytest.mark.parametrize("msg", CASES, ids=_id)
def test_pydicom_reads_every_field(msg: Any) -> None:
    ds = read_dataset(DicomBytesIO(msg.encode()), is_implicit_VR=True, is_little_endian=True)
    assert ds.CommandField == msg.command_field
    assert ds.CommandDataSetType == (0x0001 if msg.has_dataset else 0x0101)
    written = {e.keyword for e in ds} - {"CommandGroupLength", "CommandField",
                                         "CommandDataSetType"}  # fmt: skip
    expected = set()
    for name in fields_of(msg):
        value = getattr(msg, name)
        if name in ("has_dataset", "extra") or value is None:
            continue
        keyword = KEYWORD[name]
        expected.add(keyword)
        got = ds[keyword].value
        if keyword == "AttributeIdentifierList":
            got = (int(got),) if isinstance(got, int) else tuple(int(t) for t in got)
        assert got == value, keyword
    assert written == expected


@pytest.mark.parametrize("cls", list(PYNETDICOM_CLASS), ids=lambda c: c.__name__)
def test_the_elements_are_those_pynetdicom_defines(cls: Any) -> None:
    theirs = {e.tag.element for e in PYNETDICOM_CLASS[cls]().command_set}
    ours = {elem for elem, _name, _kind in cls._LAYOUT} | {0x0000}
    # Optional error fields dicomul also defines: Offending Element (0000,0901), and the
    # Attribute Identifier List (0000,1005) that PS3.7 Annex C names beside statuses such
    # as 0106H in every N response (pynetdicom defines it for N-GET-RSP only).
    optional = {0x0901, 0x1005} if cls.command_field & 0x8000 else set()
    assert ours - optional == theirs - optional
    assert theirs <= ours


def test_every_n_command_field_decodes() -> None:
    assert set(N.N_MESSAGE_CLASSES) == {int(f) for f in N.NCommandField}
