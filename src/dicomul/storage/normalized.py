"""The DIMSE-N services (PS3.7 chapter 10) above the Session, without I/O: what the
requestors (asyncio and blocking) send and get back, and what a server's N-service
handlers are given and may answer.

Requestor side: :func:`n_invocation` builds the request (message class, encoded data set,
fields) for one of the six operations; :func:`n_result` turns the final response into an
:class:`NResult`.

Performer side: :func:`n_request` turns a received request into an :class:`NRequest` for
a handler (its data set decoded); :func:`n_reply` reads what the handler returned: a
status, ``(status, dataset)``, a Dataset (success with it) or an :class:`NReply`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from dicomul._record import Factory, record
from dicomul.dimse.messages import DIMSEMessage
from dicomul.dimse.n_messages import (
    NActionRQ,
    NCommandField,
    NCreateRQ,
    NDeleteRQ,
    NEventReportRQ,
    NGetRQ,
    NSetRQ,
)
from dicomul.dimse.status import SUCCESS
from dicomul.storage.part10 import StorageError, decode_dataset, encode_dataset

__all__ = [
    "NRequest",
    "NReply",
    "NResult",
    "N_OPERATIONS",
    "n_invocation",
    "n_result",
    "n_request",
    "n_reply",
    "reply_fields",
    "new_uid",
]

_CF = NCommandField

#: Command Field of each request -> (operation name, handler method name).
N_OPERATIONS: dict[int, tuple[str, str]] = {
    _CF.N_EVENT_REPORT_RQ: ("N-EVENT-REPORT", "n_event_report"),
    _CF.N_GET_RQ: ("N-GET", "n_get"),
    _CF.N_SET_RQ: ("N-SET", "n_set"),
    _CF.N_ACTION_RQ: ("N-ACTION", "n_action"),
    _CF.N_CREATE_RQ: ("N-CREATE", "n_create"),
    _CF.N_DELETE_RQ: ("N-DELETE", "n_delete"),
}


def new_uid() -> str:
    """A new UID under 2.25 (PS3.5 B.2: a UUID as an integer)."""
    import uuid  # (not at start-up: the CLI's echo imports this module)

    return f"2.25.{uuid.uuid4().int}"


@record(kw_only=True)
class NResult:
    """The outcome of a DIMSE-N operation this side invoked: ``status``, the reply data
    set (a pydicom Dataset: N-GET's attributes, N-SET/N-CREATE's attribute list, an
    action or event reply; None when the response carried none), the instance the
    operation acted on (for N-CREATE: the one the performer assigned when the request
    left it out), and the response message itself (error comment, offending elements)."""

    status: int
    dataset: Any = None
    sop_instance_uid: str | None = None
    message: Any = None


@record(kw_only=True, hidden=("message", "info", "context_id", "transfer_syntax", "peer"))
class NRequest:
    """A DIMSE-N request the peer invoked, as a handler sees it: ``operation``
    ("N-CREATE", ...), the SOP class and instance it names (an N-CREATE without an
    instance UID gets a new one here, which the response carries, PS3.7 10.1.5.1.2),
    ``type_id`` (the Event or Action Type ID), ``attributes`` (an N-GET's Attribute
    Identifier List, empty = all), ``dataset`` (the decoded data set, or None), the
    message, who is on the association (``info``), the context and its syntax, and
    ``peer``: on a server, the association's handle for sending the requestor DIMSE-N
    requests back (``await request.peer.event_report(...)``), else None."""

    operation: str
    sop_class_uid: str
    sop_instance_uid: str
    type_id: int | None = None
    attributes: tuple[int, ...] = ()
    dataset: Any = None
    message: Any = None
    info: Any = None
    context_id: int = 0
    transfer_syntax: str = ""
    peer: Any = None


@record(kw_only=True)
class NReply:
    """What a handler may answer: a status, an optional reply data set, and for a
    failure the error comment / offending elements (0000,0902) / (0000,0901)."""

    status: int = SUCCESS
    dataset: Any = None
    error_comment: str | None = None
    offending_element: tuple[int, ...] | None = None
    attribute_identifier_list: tuple[int, ...] | None = None
    extra: dict[str, Any] = Factory(dict)


def n_invocation(
    operation: str,
    sop_class_uid: str,
    sop_instance_uid: str | None,
    transfer_syntax: str,
    *,
    dataset: Any = None,
    type_id: int | None = None,
    attributes: Sequence[int] | None = None,
) -> tuple[type[DIMSEMessage], bytes | None, dict[str, Any]]:
    """``(request class, data set bytes or None, fields)`` for ``operation`` (one of
    "N-EVENT-REPORT", "N-GET", "N-SET", "N-ACTION", "N-CREATE", "N-DELETE"); raises
    ValueError for a missing argument the operation requires (PS3.7 10.1)."""
    data = encode_dataset(dataset, transfer_syntax) if dataset is not None else None
    if operation == "N-CREATE":
        fields: dict[str, Any] = {"affected_sop_class_uid": sop_class_uid}
        if sop_instance_uid:
            fields["affected_sop_instance_uid"] = sop_instance_uid
        return NCreateRQ, data, fields
    if not sop_instance_uid:
        raise ValueError(f"{operation} needs the SOP Instance UID it acts on")
    if operation == "N-EVENT-REPORT":
        if type_id is None:
            raise ValueError("N-EVENT-REPORT needs an Event Type ID")
        return (
            NEventReportRQ,
            data,
            {
                "affected_sop_class_uid": sop_class_uid,
                "affected_sop_instance_uid": sop_instance_uid,
                "event_type_id": type_id,
            },
        )
    named = {
        "requested_sop_class_uid": sop_class_uid,
        "requested_sop_instance_uid": sop_instance_uid,
    }
    if operation == "N-GET":
        if data is not None:
            raise ValueError("N-GET carries no data set (name the attributes)")
        return NGetRQ, None, {**named, "attribute_identifier_list": tuple(attributes or ()) or None}
    if operation == "N-SET":
        if data is None:
            raise ValueError("N-SET needs a Modification List data set")
        return NSetRQ, data, named
    if operation == "N-ACTION":
        if type_id is None:
            raise ValueError("N-ACTION needs an Action Type ID")
        return NActionRQ, data, {**named, "action_type_id": type_id}
    if operation == "N-DELETE":
        if data is not None:
            raise ValueError("N-DELETE carries no data set")
        return NDeleteRQ, None, named
    raise ValueError(f"not a DIMSE-N operation: {operation!r}")


def n_result(message: Any, dataset: Any, transfer_syntax: str, requested: str | None) -> NResult:
    """The :class:`NResult` of a final N response (``dataset``: its bytes or None).
    A reply data set that does not decode is kept as bytes."""
    ds = None
    if dataset is not None:
        try:
            ds = decode_dataset(dataset, transfer_syntax)
        except StorageError:
            ds = bytes(dataset)
    instance = getattr(message, "affected_sop_instance_uid", None) or requested
    return NResult(
        status=int(message.status), dataset=ds, sop_instance_uid=instance, message=message
    )


def n_request(
    message: Any,
    dataset: Any,
    transfer_syntax: str,
    context_id: int,
    info: Any = None,
    peer: Any = None,
) -> NRequest:
    """The :class:`NRequest` a handler is given for a received request. Raises
    StorageError when its data set does not decode (answer 0x0110 then)."""
    cf = message.command_field
    operation = N_OPERATIONS[cf][0]
    sop_class = getattr(message, "affected_sop_class_uid", None) or getattr(
        message, "requested_sop_class_uid", ""
    )
    instance = getattr(message, "affected_sop_instance_uid", None) or getattr(
        message, "requested_sop_instance_uid", None
    )
    if not instance:  # an N-CREATE leaving it to us (PS3.7 10.1.5.1.2)
        instance = new_uid()
    type_id = getattr(message, "event_type_id", None)
    if type_id is None:
        type_id = getattr(message, "action_type_id", None)
    ds = decode_dataset(dataset, transfer_syntax) if dataset is not None else None
    return NRequest(
        operation=operation,
        sop_class_uid=sop_class or "",
        sop_instance_uid=instance,
        type_id=type_id,
        attributes=tuple(getattr(message, "attribute_identifier_list", None) or ()),
        dataset=ds,
        message=message,
        info=info,
        context_id=context_id,
        transfer_syntax=transfer_syntax,
        peer=peer,
    )


def n_reply(result: Any) -> NReply:
    """Read a handler's answer: None (success), a status, ``(status, dataset)``, a
    pydicom Dataset (success with it) or an :class:`NReply`."""
    if isinstance(result, NReply):
        return result
    if result is None:
        return NReply()
    if isinstance(result, int):
        return NReply(status=int(result))
    if isinstance(result, tuple) and len(result) == 2:
        return NReply(status=int(result[0]), dataset=result[1])
    return NReply(dataset=result)


def reply_fields(
    request: NRequest, reply: NReply, transfer_syntax: str
) -> tuple[Any, dict[str, Any]]:
    """``(data set bytes or None, response fields)`` to answer ``request`` with ``reply``."""
    fields: dict[str, Any] = {"affected_sop_instance_uid": request.sop_instance_uid, **reply.extra}
    for name in ("error_comment", "offending_element", "attribute_identifier_list"):
        value = getattr(reply, name)
        if value is not None:
            fields[name] = value
    data = encode_dataset(reply.dataset, transfer_syntax) if reply.dataset is not None else None
    return data, fields
