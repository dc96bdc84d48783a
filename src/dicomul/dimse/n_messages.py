"""The DIMSE-N messages (PS3.7 chapter 10, command fields in Annex E): N-EVENT-REPORT,
N-GET, N-SET, N-ACTION, N-CREATE and N-DELETE, requests and responses, as immutable
records encoded and decoded by the same compiled command-set codec as the DIMSE-C ones
(:mod:`dicomul.dimse.messages`, whose :func:`~dicomul.dimse.messages.decode_message`
dispatches to them too).

A request names the object it acts on by *Requested* SOP Class/Instance UID (0000,0003)
and (0000,1001) (N-GET, N-SET, N-ACTION, N-DELETE) or by *Affected* ones (0000,0002) and
(0000,1000) (N-EVENT-REPORT, N-CREATE: the instance UID of N-CREATE is optional, the
performer then assigns one). A response carries the Affected UIDs. Data sets: an
N-EVENT-REPORT or N-ACTION may carry Event/Action Information, N-SET a Modification
List, N-CREATE an Attribute List, and their responses the corresponding replies.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import IntEnum
from typing import Any

from dicomul._record import Factory, record
from dicomul.dimse._codec import _AT, _UI, _US
from dicomul.dimse.messages import (
    _F_COMMAND,
    _F_DATASET,
    _F_MSG_ID,
    _F_RESP_TO,
    _F_SOP_CLASS,
    _F_SOP_INSTANCE,
    _STATUS_FIELDS,
    DIMSEMessage,
    _Response,
)

__all__ = [
    "NCommandField",
    "NEventReportRQ",
    "NEventReportRSP",
    "NGetRQ",
    "NGetRSP",
    "NSetRQ",
    "NSetRSP",
    "NActionRQ",
    "NActionRSP",
    "NCreateRQ",
    "NCreateRSP",
    "NDeleteRQ",
    "NDeleteRSP",
    "N_MESSAGE_CLASSES",
]


class NCommandField(IntEnum):
    """Command Field (0000,0100) values of the DIMSE-N services (PS3.7 E.1)."""

    N_EVENT_REPORT_RQ = 0x0100
    N_EVENT_REPORT_RSP = 0x8100
    N_GET_RQ = 0x0110
    N_GET_RSP = 0x8110
    N_SET_RQ = 0x0120
    N_SET_RSP = 0x8120
    N_ACTION_RQ = 0x0130
    N_ACTION_RSP = 0x8130
    N_CREATE_RQ = 0x0140
    N_CREATE_RSP = 0x8140
    N_DELETE_RQ = 0x0150
    N_DELETE_RSP = 0x8150


_F_REQ_CLASS = (0x0003, "requested_sop_class_uid", _UI)
_F_REQ_INSTANCE = (0x1001, "requested_sop_instance_uid", _UI)
_F_EVENT = (0x1002, "event_type_id", _US)
_F_ATTRIBUTES = (0x1005, "attribute_identifier_list", _AT)
_F_ACTION = (0x1008, "action_type_id", _US)
_REQUESTED = ("requested_sop_class_uid", "requested_sop_instance_uid", "message_id")
_RSP = ("message_id_being_responded_to", "status")
# Responses: Affected SOP Class UID, Command Field, Message ID Being Responded To, Data
# Set Type, Status and its error fields, Affected SOP Instance UID (PS3.7 10.3).
# The Attribute Identifier List (0000,1005) accompanies some error statuses (PS3.7 C).
_RSP_LAYOUT = (_F_SOP_CLASS, _F_COMMAND, _F_RESP_TO, _F_DATASET, *_STATUS_FIELDS,
               _F_SOP_INSTANCE, _F_ATTRIBUTES)  # fmt: skip


@record(kw_only=True, hidden=("extra",))
class _NResponse(_Response):
    """The fields every DIMSE-N response has (PS3.7 10.3): the object acted on, the
    status and its error fields."""

    message_id_being_responded_to: int
    status: int = 0x0000
    affected_sop_class_uid: str | None = None
    affected_sop_instance_uid: str | None = None
    offending_element: tuple[int, ...] | None = None
    error_comment: str | None = None
    error_id: int | None = None
    attribute_identifier_list: tuple[int, ...] | None = None
    has_dataset: bool = False
    extra: Mapping[int, Any] = Factory(dict)


class _NRequest(DIMSEMessage):
    __slots__ = ()


@record(kw_only=True, hidden=("extra",))
class NEventReportRQ(
    _NRequest,
    command_field=NCommandField.N_EVENT_REPORT_RQ,
    required=(
        "affected_sop_class_uid",
        "affected_sop_instance_uid",
        "message_id",
        "event_type_id",
    ),  # fmt: skip
    layout=(_F_SOP_CLASS, _F_COMMAND, _F_MSG_ID, _F_DATASET, _F_SOP_INSTANCE, _F_EVENT),
):
    """N-EVENT-REPORT-RQ (PS3.7 10.3.1): an event of a SOP instance (Event Information
    in the data set, if any)."""

    message_id: int
    affected_sop_class_uid: str
    affected_sop_instance_uid: str
    event_type_id: int
    has_dataset: bool = False
    extra: Mapping[int, Any] = Factory(dict)


@record(kw_only=True, hidden=("extra",))
class NEventReportRSP(
    _NResponse,
    command_field=NCommandField.N_EVENT_REPORT_RSP,
    required=_RSP,
    layout=(*_RSP_LAYOUT[:-1], _F_EVENT, _F_ATTRIBUTES),
):
    """N-EVENT-REPORT-RSP (PS3.7 10.3.1) (Event Reply in the data set, if any)."""

    event_type_id: int | None = None


@record(kw_only=True, hidden=("extra",))
class NGetRQ(
    _NRequest,
    command_field=NCommandField.N_GET_RQ,
    required=_REQUESTED,
    layout=(_F_REQ_CLASS, _F_COMMAND, _F_MSG_ID, _F_DATASET, _F_REQ_INSTANCE, _F_ATTRIBUTES),
):
    """N-GET-RQ (PS3.7 10.3.2): the attributes of an instance (all of them when
    ``attribute_identifier_list`` is None)."""

    message_id: int
    requested_sop_class_uid: str
    requested_sop_instance_uid: str
    attribute_identifier_list: tuple[int, ...] | None = None
    has_dataset: bool = False
    extra: Mapping[int, Any] = Factory(dict)


@record(kw_only=True, hidden=("extra",))
class NGetRSP(
    _NResponse, command_field=NCommandField.N_GET_RSP, required=_RSP,
              layout=_RSP_LAYOUT):  # fmt: skip
    """N-GET-RSP (PS3.7 10.3.2) (the Attribute List in the data set)."""


@record(kw_only=True, hidden=("extra",))
class NSetRQ(
    _NRequest,
    command_field=NCommandField.N_SET_RQ,
    required=_REQUESTED,
    layout=(_F_REQ_CLASS, _F_COMMAND, _F_MSG_ID, _F_DATASET, _F_REQ_INSTANCE),
):
    """N-SET-RQ (PS3.7 10.3.3) (the Modification List in the data set)."""

    message_id: int
    requested_sop_class_uid: str
    requested_sop_instance_uid: str
    has_dataset: bool = True
    extra: Mapping[int, Any] = Factory(dict)


@record(kw_only=True, hidden=("extra",))
class NSetRSP(
    _NResponse, command_field=NCommandField.N_SET_RSP, required=_RSP,
              layout=_RSP_LAYOUT):  # fmt: skip
    """N-SET-RSP (PS3.7 10.3.3) (the Attribute List in the data set, if any)."""


@record(kw_only=True, hidden=("extra",))
class NActionRQ(
    _NRequest,
    command_field=NCommandField.N_ACTION_RQ,
    required=(*_REQUESTED, "action_type_id"),
    layout=(_F_REQ_CLASS, _F_COMMAND, _F_MSG_ID, _F_DATASET, _F_REQ_INSTANCE, _F_ACTION),
):
    """N-ACTION-RQ (PS3.7 10.3.4) (Action Information in the data set, if any)."""

    message_id: int
    requested_sop_class_uid: str
    requested_sop_instance_uid: str
    action_type_id: int
    has_dataset: bool = False
    extra: Mapping[int, Any] = Factory(dict)


@record(kw_only=True, hidden=("extra",))
class NActionRSP(
    _NResponse,
    command_field=NCommandField.N_ACTION_RSP,
    required=_RSP,
    layout=(*_RSP_LAYOUT[:-1], _F_ATTRIBUTES, _F_ACTION),
):
    """N-ACTION-RSP (PS3.7 10.3.4) (Action Reply in the data set, if any)."""

    action_type_id: int | None = None


@record(kw_only=True, hidden=("extra",))
class NCreateRQ(
    _NRequest,
    command_field=NCommandField.N_CREATE_RQ,
    required=("affected_sop_class_uid", "message_id"),
    layout=(_F_SOP_CLASS, _F_COMMAND, _F_MSG_ID, _F_DATASET, _F_SOP_INSTANCE),
):
    """N-CREATE-RQ (PS3.7 10.3.5) (the Attribute List in the data set, if any); without
    ``affected_sop_instance_uid`` the performer assigns the instance UID."""

    message_id: int
    affected_sop_class_uid: str
    affected_sop_instance_uid: str | None = None
    has_dataset: bool = True
    extra: Mapping[int, Any] = Factory(dict)


@record(kw_only=True, hidden=("extra",))
class NCreateRSP(
    _NResponse, command_field=NCommandField.N_CREATE_RSP, required=_RSP,
                 layout=_RSP_LAYOUT):  # fmt: skip
    """N-CREATE-RSP (PS3.7 10.3.5): the created instance's UID (and its Attribute List in
    the data set, if any)."""


@record(kw_only=True, hidden=("extra",))
class NDeleteRQ(
    _NRequest,
    command_field=NCommandField.N_DELETE_RQ,
    required=_REQUESTED,
    layout=(_F_REQ_CLASS, _F_COMMAND, _F_MSG_ID, _F_DATASET, _F_REQ_INSTANCE),
):
    """N-DELETE-RQ (PS3.7 10.3.6)."""

    message_id: int
    requested_sop_class_uid: str
    requested_sop_instance_uid: str
    has_dataset: bool = False
    extra: Mapping[int, Any] = Factory(dict)


@record(kw_only=True, hidden=("extra",))
class NDeleteRSP(
    _NResponse, command_field=NCommandField.N_DELETE_RSP, required=_RSP,
                 layout=_RSP_LAYOUT):  # fmt: skip
    """N-DELETE-RSP (PS3.7 10.3.6)."""


#: Command Field -> class, for the DIMSE-N messages.
N_MESSAGE_CLASSES: Mapping[int, type[DIMSEMessage]] = {
    cls.command_field: cls
    for cls in (NEventReportRQ, NEventReportRSP, NGetRQ, NGetRSP, NSetRQ, NSetRSP,
                NActionRQ, NActionRSP, NCreateRQ, NCreateRSP, NDeleteRQ, NDeleteRSP)
}  # fmt: skip
