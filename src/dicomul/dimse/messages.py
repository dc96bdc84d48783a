"""DIMSE command sets and DIMSE-C messages (PS3.7 chapters 6.3, 9, 10 and Annex E;
the DIMSE-N messages are in :mod:`dicomul.dimse.n_messages`).

A command set is group 0000 in Implicit VR Little Endian: each element is a 2+2-byte tag,
a 4-byte length and the value, in ascending tag order, led by Command Group Length
(0000,0000) UL, which counts the bytes after its own value (PS3.7 6.3.1). The VR of each
element comes from the command dictionary (Table E.1-1, retired ones Table E.2-1), because
Implicit VR does not carry it. This module encodes and decodes that with ``struct`` and
bytes operations only; pydicom is not involved.

Two levels:

* :func:`encode_command` / :func:`decode_command`: a mapping ``{element: value}`` to bytes
  and back. Values: US/UL -> int, UI/AE/LO -> str (UI padded with NUL, AE/LO with a
  space on encode; decode strips trailing NUL/space, and leading spaces of AE/LO),
  AT -> tuple of 32-bit tags. Retired and unknown group-0000 elements are kept as raw
  ``bytes`` and written back unchanged, and any value given as bytes is written as is.
* Message classes (:class:`CEchoRQ` ... :class:`CCancelRQ`): immutable records with the
  fields PS3.7 9.3 lists, ``.encode()`` and ``has_dataset``; :func:`decode_message`
  dispatches on Command Field (0000,0100). Elements a message does not define are kept in
  its ``extra`` mapping, so decode -> encode keeps them.

Command Data Set Type (0000,0800): PS3.7 E.1 says 0101H means "no data set" and any other
value means one follows. dicomul writes 0001H for "present", the value DCMTK
(DIMSE_DATASET_PRESENT) and pynetdicom both write, and accepts any value other than 0101H
as "present" on decode. :func:`command_has_dataset` reads just that element of a
received command set, leniently and in C: it is what tells the upper layer (a
Connection's ``needs_dataset``) whether a data set follows.

Decoding is strict (PS3.7 6.3.1): the set must start with (0000,0000) UL, the group
length must be even and equal to the bytes that follow, every element must be in group
0000, in strictly ascending order, with an even length that stays inside the set, and
fixed-size VRs must have their exact size. Any violation raises :class:`DIMSEError`.
Bad arguments to the encoders raise ValueError or TypeError before anything is returned.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import IntEnum
from operator import attrgetter
from typing import Any, ClassVar

from dicomul._record import Factory, record
from dicomul.dimse._cmdset import build_message, command_has_dataset, encode_command_set
from dicomul.dimse._codec import (
    _AE,
    _AT,
    _LO,
    _UI,
    _US,
    COMMAND_ELEMENTS,
    DATASET_PRESENT,
    NO_DATASET,
    RETIRED_COMMAND_ELEMENTS,
    DIMSEError,
    _name,
    decode_command,
    encode_command,
    encode_fault,
)
from dicomul.dimse.status import StatusCategory, category

__all__ = [
    "DIMSEError",
    "CommandField",
    "Priority",
    "DATASET_PRESENT",
    "NO_DATASET",
    "COMMAND_ELEMENTS",
    "RETIRED_COMMAND_ELEMENTS",
    "encode_command",
    "decode_command",
    "decode_message",
    "command_has_dataset",
    "DIMSEMessage",
    "CEchoRQ",
    "CEchoRSP",
    "CStoreRQ",
    "CStoreRSP",
    "CFindRQ",
    "CFindRSP",
    "CGetRQ",
    "CGetRSP",
    "CMoveRQ",
    "CMoveRSP",
    "CCancelRQ",
]


class CommandField(IntEnum):
    """Command Field (0000,0100) values of the DIMSE-C services (PS3.7 E.1)."""

    C_STORE_RQ = 0x0001
    C_STORE_RSP = 0x8001
    C_GET_RQ = 0x0010
    C_GET_RSP = 0x8010
    C_FIND_RQ = 0x0020
    C_FIND_RSP = 0x8020
    C_MOVE_RQ = 0x0021
    C_MOVE_RSP = 0x8021
    C_ECHO_RQ = 0x0030
    C_ECHO_RSP = 0x8030
    C_CANCEL_RQ = 0x0FFF


class Priority(IntEnum):
    """Priority (0000,0700) values (PS3.7 E.1)."""

    MEDIUM = 0x0000
    HIGH = 0x0001
    LOW = 0x0002


# ----------------------------------------------------------------------------- messages
# Field specs: (element, attribute name, VR kind). Per class, in ascending element order.
_F_SOP_CLASS = (0x0002, "affected_sop_class_uid", _UI)
_F_COMMAND = (0x0100, "", -1)  # Command Field: the class constant
_F_MSG_ID = (0x0110, "message_id", _US)
_F_RESP_TO = (0x0120, "message_id_being_responded_to", _US)
_F_MOVE_DEST = (0x0600, "move_destination", _AE)
_F_PRIORITY = (0x0700, "priority", _US)
_F_DATASET = (0x0800, "", -2)  # Command Data Set Type: from has_dataset
_F_STATUS = (0x0900, "status", _US)
_F_OFFENDING = (0x0901, "offending_element", _AT)
_F_COMMENT = (0x0902, "error_comment", _LO)
_F_ERROR_ID = (0x0903, "error_id", _US)
_F_SOP_INSTANCE = (0x1000, "affected_sop_instance_uid", _UI)
_F_SUBOPS = (
    (0x1020, "remaining_suboperations", _US),
    (0x1021, "completed_suboperations", _US),
    (0x1022, "failed_suboperations", _US),
    (0x1023, "warning_suboperations", _US),
)
_F_ORIGINATOR = (
    (0x1030, "move_originator_ae_title", _AE),
    (0x1031, "move_originator_message_id", _US),
)
_STATUS_FIELDS = (_F_STATUS, _F_OFFENDING, _F_COMMENT, _F_ERROR_ID)
_RSP_HEAD = (_F_SOP_CLASS, _F_COMMAND, _F_RESP_TO, _F_DATASET)


class DIMSEMessage:
    """Base of the DIMSE-C message classes: encoding and decoding driven by ``_LAYOUT``."""

    __slots__ = ()
    command_field: ClassVar[int]
    _LAYOUT: ClassVar[tuple[tuple[int, str, int], ...]]
    _REQUIRED: ClassVar[frozenset[str]]
    _ELEMENTS: ClassVar[frozenset[int]]
    _ENC_ELEMS: ClassVar[tuple[int, ...]]
    _ENC_KINDS: ClassVar[tuple[int, ...]]
    _ENC_REQUIRED: ClassVar[tuple[bool, ...]]
    _ENC_GET: ClassVar[attrgetter[Any]]
    _DEC_FIELDS: ClassVar[tuple[tuple[int, str], ...]]
    _DEC_PLAN: ClassVar[tuple[tuple[int, str, bool], ...]]
    has_dataset: bool
    extra: Mapping[int, Any]

    def __init_subclass__(
        cls,
        *,
        command_field: int = -1,
        required: tuple[str, ...] = (),
        layout: tuple[tuple[int, str, int], ...] = (),
        **kw: Any,
    ) -> None:
        super().__init_subclass__(**kw)
        if command_field < 0:
            return
        cls.command_field = command_field
        cls._LAYOUT = layout
        cls._REQUIRED = frozenset(required)
        cls._ELEMENTS = frozenset(e for e, _n, _k in layout) | {0x0000}
        # For the compiled encoder: parallel tuples, and one attrgetter for all values
        # (the Command Field is the class constant, the Data Set Type from has_dataset).
        cls._ENC_ELEMS = tuple(e for e, _n, _k in layout)
        cls._ENC_KINDS = tuple(k for _e, _n, k in layout)
        cls._ENC_REQUIRED = tuple(n in cls._REQUIRED for _e, n, _k in layout)
        cls._DEC_FIELDS = tuple((e, n) for e, n, _k in layout if n)
        cls._DEC_PLAN = tuple((e, n, n in cls._REQUIRED) for e, n in cls._DEC_FIELDS)
        cls._ENC_GET = attrgetter(
            *(n or ("command_field" if k == -1 else "has_dataset") for _e, n, k in layout)
        )

    def encode(self) -> bytes:
        """The command set of this message (Implicit VR LE, group length first).

        Raises ValueError/TypeError for a missing required field or a bad value.
        """
        if self.extra:
            return self._encode_with_extra()
        return self._encode_layout()

    def _encode_layout(self) -> bytes:
        values = self._ENC_GET(self)
        out = encode_command_set(
            self._ENC_ELEMS, self._ENC_KINDS, values, self._ENC_REQUIRED, False
        )
        if type(out) is bytes:
            return out
        i, code, detail = out
        elem, name, kind = self._LAYOUT[i]
        if code == 8:  # E_REQUIRED
            raise ValueError(f"{type(self).__name__}.{name} is required")
        raise encode_fault(elem, kind, code, detail)

    def _encode_with_extra(self) -> bytes:
        self._encode_layout()  # the fields are checked as in a message without extras
        fields: dict[int, Any] = {}
        for (elem, _, kind), value in zip(self._LAYOUT, self._ENC_GET(self), strict=True):
            if kind == -2:
                value = DATASET_PRESENT if value else NO_DATASET
            fields[elem] = value
        for elem, value in self.extra.items():
            if elem in self._ELEMENTS:
                raise ValueError(f"extra[{elem:#06x}] duplicates a field of the message")
            if not isinstance(elem, int) or not 0 < elem <= 0xFFFF:
                raise ValueError(f"command elements are in group 0000: bad key {elem!r}")
            fields[elem] = value
        return encode_command(fields)

    @classmethod
    def _from_fields(cls, command: dict[int, Any]) -> DIMSEMessage:
        # Absent optional fields become None, not the constructor's default, so that
        # decode -> encode writes back exactly what was received (see build_message).
        out = build_message(cls, command, cls._DEC_PLAN)
        if type(out) is not int:
            return out  # type: ignore[no-any-return]
        if out == 0x0800:
            raise DIMSEError(f"{cls.__name__}: required (0000,0800) CommandDataSetType is missing")
        raise DIMSEError(f"{cls.__name__}: required {_name(out)} is missing")


class _Response(DIMSEMessage):
    __slots__ = ()
    status: int

    @property
    def category(self) -> StatusCategory:
        """The Status Class of :attr:`status` (PS3.7 Annex C)."""
        return category(self.status)


@record(kw_only=True, hidden=("extra",))
class CEchoRQ(
    DIMSEMessage,
    command_field=CommandField.C_ECHO_RQ,
    required=("affected_sop_class_uid", "message_id"),
    layout=(_F_SOP_CLASS, _F_COMMAND, _F_MSG_ID, _F_DATASET),
):
    """C-ECHO-RQ (PS3.7 9.3.5.1)."""

    message_id: int
    affected_sop_class_uid: str = "1.2.840.10008.1.1"
    has_dataset: bool = False
    extra: Mapping[int, Any] = Factory(dict)


@record(kw_only=True, hidden=("extra",))
class CEchoRSP(
    _Response,
    command_field=CommandField.C_ECHO_RSP,
    required=("message_id_being_responded_to", "status"),
    layout=_RSP_HEAD + _STATUS_FIELDS,
):
    """C-ECHO-RSP (PS3.7 9.3.5.2).

    ``affected_sop_class_uid`` defaults to Verification when constructed; a decoded
    response that lacks (0000,0002) has None there, so it re-encodes without it.
    """

    message_id_being_responded_to: int
    status: int = 0x0000
    affected_sop_class_uid: str | None = "1.2.840.10008.1.1"
    offending_element: tuple[int, ...] | None = None
    error_comment: str | None = None
    error_id: int | None = None
    has_dataset: bool = False
    extra: Mapping[int, Any] = Factory(dict)


@record(kw_only=True, hidden=("extra",))
class CStoreRQ(
    DIMSEMessage,
    command_field=CommandField.C_STORE_RQ,
    required=("affected_sop_class_uid", "message_id", "priority", "affected_sop_instance_uid"),
    layout=(_F_SOP_CLASS, _F_COMMAND, _F_MSG_ID, _F_PRIORITY, _F_DATASET, _F_SOP_INSTANCE)
    + _F_ORIGINATOR,
):
    """C-STORE-RQ (PS3.7 9.3.1.1)."""

    message_id: int
    affected_sop_class_uid: str
    affected_sop_instance_uid: str
    priority: int = Priority.MEDIUM
    move_originator_ae_title: str | None = None
    move_originator_message_id: int | None = None
    has_dataset: bool = True
    extra: Mapping[int, Any] = Factory(dict)


@record(kw_only=True, hidden=("extra",))
class CStoreRSP(
    _Response,
    command_field=CommandField.C_STORE_RSP,
    required=("message_id_being_responded_to", "status"),
    layout=_RSP_HEAD + _STATUS_FIELDS + (_F_SOP_INSTANCE,),
):
    """C-STORE-RSP (PS3.7 9.3.1.2)."""

    message_id_being_responded_to: int
    status: int = 0x0000
    affected_sop_class_uid: str | None = None
    affected_sop_instance_uid: str | None = None
    offending_element: tuple[int, ...] | None = None
    error_comment: str | None = None
    error_id: int | None = None
    has_dataset: bool = False
    extra: Mapping[int, Any] = Factory(dict)


@record(kw_only=True, hidden=("extra",))
class CFindRQ(
    DIMSEMessage,
    command_field=CommandField.C_FIND_RQ,
    required=("affected_sop_class_uid", "message_id", "priority"),
    layout=(_F_SOP_CLASS, _F_COMMAND, _F_MSG_ID, _F_PRIORITY, _F_DATASET),
):
    """C-FIND-RQ (PS3.7 9.3.2.1); the identifier follows as the data set."""

    message_id: int
    affected_sop_class_uid: str
    priority: int = Priority.MEDIUM
    has_dataset: bool = True
    extra: Mapping[int, Any] = Factory(dict)


@record(kw_only=True, hidden=("extra",))
class CFindRSP(
    _Response,
    command_field=CommandField.C_FIND_RSP,
    required=("message_id_being_responded_to", "status"),
    layout=_RSP_HEAD + _STATUS_FIELDS,
):
    """C-FIND-RSP (PS3.7 9.3.2.2); pending responses carry an identifier data set."""

    message_id_being_responded_to: int
    status: int
    affected_sop_class_uid: str | None = None
    offending_element: tuple[int, ...] | None = None
    error_comment: str | None = None
    error_id: int | None = None
    has_dataset: bool = False
    extra: Mapping[int, Any] = Factory(dict)


@record(kw_only=True, hidden=("extra",))
class CGetRQ(
    DIMSEMessage,
    command_field=CommandField.C_GET_RQ,
    required=("affected_sop_class_uid", "message_id", "priority"),
    layout=(_F_SOP_CLASS, _F_COMMAND, _F_MSG_ID, _F_PRIORITY, _F_DATASET),
):
    """C-GET-RQ (PS3.7 9.3.3.1); the identifier follows as the data set."""

    message_id: int
    affected_sop_class_uid: str
    priority: int = Priority.MEDIUM
    has_dataset: bool = True
    extra: Mapping[int, Any] = Factory(dict)


@record(kw_only=True, hidden=("extra",))
class _RetrieveRSP(_Response):
    """The fields C-GET-RSP and C-MOVE-RSP share (PS3.7 9.3.3.2, 9.3.4.2), with the
    sub-operation counts (0000,1020-1023)."""

    message_id_being_responded_to: int
    status: int
    affected_sop_class_uid: str | None = None
    remaining_suboperations: int | None = None
    completed_suboperations: int | None = None
    failed_suboperations: int | None = None
    warning_suboperations: int | None = None
    offending_element: tuple[int, ...] | None = None
    error_comment: str | None = None
    error_id: int | None = None
    has_dataset: bool = False
    extra: Mapping[int, Any] = Factory(dict)


@record(kw_only=True, hidden=("extra",))
class CGetRSP(
    _RetrieveRSP,
    command_field=CommandField.C_GET_RSP,
    required=("message_id_being_responded_to", "status"),
    layout=_RSP_HEAD + _STATUS_FIELDS + _F_SUBOPS,
):
    """C-GET-RSP (PS3.7 9.3.3.2) with the sub-operation counts (0000,1020-1023)."""


@record(kw_only=True, hidden=("extra",))
class CMoveRQ(
    DIMSEMessage,
    command_field=CommandField.C_MOVE_RQ,
    required=("affected_sop_class_uid", "message_id", "priority", "move_destination"),
    layout=(_F_SOP_CLASS, _F_COMMAND, _F_MSG_ID, _F_MOVE_DEST, _F_PRIORITY, _F_DATASET),
):
    """C-MOVE-RQ (PS3.7 9.3.4.1); the identifier follows as the data set."""

    message_id: int
    affected_sop_class_uid: str
    move_destination: str
    priority: int = Priority.MEDIUM
    has_dataset: bool = True
    extra: Mapping[int, Any] = Factory(dict)


@record(kw_only=True, hidden=("extra",))
class CMoveRSP(
    _RetrieveRSP,
    command_field=CommandField.C_MOVE_RSP,
    required=("message_id_being_responded_to", "status"),
    layout=_RSP_HEAD + _STATUS_FIELDS + _F_SUBOPS,
):
    """C-MOVE-RSP (PS3.7 9.3.4.2) with the sub-operation counts (0000,1020-1023)."""


@record(kw_only=True, hidden=("extra",))
class CCancelRQ(
    DIMSEMessage,
    command_field=CommandField.C_CANCEL_RQ,
    required=("message_id_being_responded_to",),
    layout=(_F_COMMAND, _F_RESP_TO, _F_DATASET),
):
    """C-CANCEL-RQ (PS3.7 9.3.2.3, 9.3.3.3, 9.3.4.3): cancels the request it names."""

    message_id_being_responded_to: int
    has_dataset: bool = False
    extra: Mapping[int, Any] = Factory(dict)


_BY_COMMAND_FIELD: dict[int, type[DIMSEMessage]] = {
    cls.command_field: cls
    for cls in (
        CEchoRQ,
        CEchoRSP,
        CStoreRQ,
        CStoreRSP,
        CFindRQ,
        CFindRSP,
        CGetRQ,
        CGetRSP,
        CMoveRQ,
        CMoveRSP,
        CCancelRQ,
    )
}
MESSAGE_CLASSES: Mapping[int, type[DIMSEMessage]] = _BY_COMMAND_FIELD
#: The DIMSE-N Command Fields (their classes: dicomul.dimse.n_messages).
_N_COMMAND_FIELDS = frozenset(
    {0x0100, 0x8100, 0x0110, 0x8110, 0x0120, 0x8120, 0x0130, 0x8130, 0x0140, 0x8140, 0x0150, 0x8150}
)


def decode_message(data: bytes | bytearray | memoryview) -> DIMSEMessage:
    """Decode a command set into its message object, dispatching on (0000,0100).

    Raises :class:`DIMSEError` for malformed bytes, a missing or unknown Command Field,
    or a missing required field.
    """
    command = decode_command(data)
    command_field = command.get(0x0100)
    if command_field is None:
        raise DIMSEError("required (0000,0100) CommandField is missing")
    cls = _BY_COMMAND_FIELD.get(command_field)
    if cls is None and command_field in _N_COMMAND_FIELDS:
        # (imported on first use: dicomul.dimse.n_messages builds on this module)
        from dicomul.dimse.n_messages import N_MESSAGE_CLASSES

        cls = N_MESSAGE_CLASSES[command_field]
    if cls is None:
        raise DIMSEError(f"unsupported Command Field 0x{command_field:04X}")
    return cls._from_fields(command)
