"""DIMSE status codes and their categories (PS3.7 Annex C, PS3.4 service classes).

Every code falls into one Status Class, by the convention at the head of PS3.7 Annex C:

    Success   0000
    Warning   0001, Bxxx, 0107, 0116
    Failure   Axxx, Cxxx, 01xx (except 0107 and 0116), 02xx
    Cancel    FE00
    Pending   FF00, FF01

PS3.7 says implementations shall not use codes outside that table. A peer that does
anyway gets :attr:`StatusCategory.FAILURE` from :func:`category` (a requestor must never
mistake an unknown code for success); :func:`is_valid` tells the two cases apart.

The same number can mean different things in different services (0xC000 is "Cannot
understand" for C-STORE and "Unable to process" for C-FIND, 0xB000 is "Coercion of data
elements" for C-STORE and "Sub-operations complete, one or more failures or warnings"
for C-GET/C-MOVE), so the well-known codes are plain ``int`` constants and the
descriptions live in one table per service (:data:`GENERAL`, :data:`STORAGE`,
:data:`QUERY_RETRIEVE`), read through :func:`describe`.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum
from types import MappingProxyType

__all__ = [
    "StatusCategory",
    "category",
    "is_valid",
    "is_success",
    "is_warning",
    "is_failure",
    "is_cancel",
    "is_pending",
    "describe",
    "GENERAL",
    "STORAGE",
    "QUERY_RETRIEVE",
    "SUCCESS",
    "WARNING_OPTIONAL_ATTRIBUTES_NOT_SUPPORTED",
    "WARNING_ATTRIBUTE_LIST_ERROR",
    "WARNING_ATTRIBUTE_VALUE_OUT_OF_RANGE",
    "NO_SUCH_ATTRIBUTE",
    "INVALID_ATTRIBUTE_VALUE",
    "PROCESSING_FAILURE",
    "DUPLICATE_SOP_INSTANCE",
    "NO_SUCH_SOP_INSTANCE",
    "NO_SUCH_EVENT_TYPE",
    "NO_SUCH_ARGUMENT",
    "INVALID_ARGUMENT_VALUE",
    "INVALID_OBJECT_INSTANCE",
    "NO_SUCH_SOP_CLASS",
    "CLASS_INSTANCE_CONFLICT",
    "MISSING_ATTRIBUTE",
    "MISSING_ATTRIBUTE_VALUE",
    "SOP_CLASS_NOT_SUPPORTED",
    "NO_SUCH_ACTION",
    "NOT_AUTHORIZED",
    "DUPLICATE_INVOCATION",
    "UNRECOGNIZED_OPERATION",
    "MISTYPED_ARGUMENT",
    "RESOURCE_LIMITATION",
    "OUT_OF_RESOURCES",
    "OUT_OF_RESOURCES_NUMBER_OF_MATCHES",
    "OUT_OF_RESOURCES_SUB_OPERATIONS",
    "MOVE_DESTINATION_UNKNOWN",
    "DATASET_DOES_NOT_MATCH_SOP_CLASS",
    "IDENTIFIER_DOES_NOT_MATCH_SOP_CLASS",
    "CANNOT_UNDERSTAND",
    "UNABLE_TO_PROCESS",
    "COERCION_OF_DATA_ELEMENTS",
    "SUB_OPERATIONS_COMPLETE_WITH_FAILURES",
    "ELEMENTS_DISCARDED",
    "DATASET_DOES_NOT_MATCH_SOP_CLASS_WARNING",
    "CANCEL",
    "PENDING",
    "PENDING_WARNING",
]


class StatusCategory(Enum):
    """The Status Class of a DIMSE status code (PS3.7 Annex C)."""

    SUCCESS = "Success"
    WARNING = "Warning"
    FAILURE = "Failure"
    CANCEL = "Cancel"
    PENDING = "Pending"


# --- General statuses (PS3.7 C.1-C.5; the 01xx/02xx codes are reserved to the standard) ---
SUCCESS = 0x0000
WARNING_OPTIONAL_ATTRIBUTES_NOT_SUPPORTED = 0x0001
WARNING_ATTRIBUTE_LIST_ERROR = 0x0107
WARNING_ATTRIBUTE_VALUE_OUT_OF_RANGE = 0x0116
NO_SUCH_ATTRIBUTE = 0x0105
INVALID_ATTRIBUTE_VALUE = 0x0106
PROCESSING_FAILURE = 0x0110
DUPLICATE_SOP_INSTANCE = 0x0111
NO_SUCH_SOP_INSTANCE = 0x0112
NO_SUCH_EVENT_TYPE = 0x0113
NO_SUCH_ARGUMENT = 0x0114
INVALID_ARGUMENT_VALUE = 0x0115
INVALID_OBJECT_INSTANCE = 0x0117
NO_SUCH_SOP_CLASS = 0x0118
CLASS_INSTANCE_CONFLICT = 0x0119
MISSING_ATTRIBUTE = 0x0120
MISSING_ATTRIBUTE_VALUE = 0x0121
SOP_CLASS_NOT_SUPPORTED = 0x0122
NO_SUCH_ACTION = 0x0123
NOT_AUTHORIZED = 0x0124
DUPLICATE_INVOCATION = 0x0210
UNRECOGNIZED_OPERATION = 0x0211
MISTYPED_ARGUMENT = 0x0212
RESOURCE_LIMITATION = 0x0213
CANCEL = 0xFE00
PENDING = 0xFF00
PENDING_WARNING = 0xFF01

# --- Storage (PS3.4 B.2.3) and Query/Retrieve (PS3.4 C.4.1-C.4.3) ---
OUT_OF_RESOURCES = 0xA700  # Refused: out of resources (Storage A7xx, C-FIND)
OUT_OF_RESOURCES_NUMBER_OF_MATCHES = 0xA701  # C-GET/C-MOVE
OUT_OF_RESOURCES_SUB_OPERATIONS = 0xA702  # C-GET/C-MOVE
MOVE_DESTINATION_UNKNOWN = 0xA801  # C-MOVE
DATASET_DOES_NOT_MATCH_SOP_CLASS = 0xA900  # Storage A9xx
IDENTIFIER_DOES_NOT_MATCH_SOP_CLASS = 0xA900  # Query/Retrieve
CANNOT_UNDERSTAND = 0xC000  # Storage Cxxx
UNABLE_TO_PROCESS = 0xC000  # Query/Retrieve Cxxx
COERCION_OF_DATA_ELEMENTS = 0xB000  # Storage warning
SUB_OPERATIONS_COMPLETE_WITH_FAILURES = 0xB000  # C-GET/C-MOVE warning
ELEMENTS_DISCARDED = 0xB006  # Storage warning
DATASET_DOES_NOT_MATCH_SOP_CLASS_WARNING = 0xB007  # Storage warning

#: Codes with standard meanings in every DIMSE service (PS3.7 Annex C).
GENERAL: Mapping[int, str] = MappingProxyType(
    {
        SUCCESS: "Success",
        WARNING_OPTIONAL_ATTRIBUTES_NOT_SUPPORTED: (
            "Warning: requested optional attributes are not supported"
        ),
        NO_SUCH_ATTRIBUTE: "Failure: no such attribute",
        INVALID_ATTRIBUTE_VALUE: "Failure: invalid attribute value",
        WARNING_ATTRIBUTE_LIST_ERROR: "Warning: attribute list error",
        PROCESSING_FAILURE: "Failure: processing failure",
        DUPLICATE_SOP_INSTANCE: "Failure: duplicate SOP Instance",
        NO_SUCH_SOP_INSTANCE: "Failure: no such SOP Instance",
        NO_SUCH_EVENT_TYPE: "Failure: no such event type",
        NO_SUCH_ARGUMENT: "Failure: no such argument",
        INVALID_ARGUMENT_VALUE: "Failure: invalid argument value",
        WARNING_ATTRIBUTE_VALUE_OUT_OF_RANGE: "Warning: attribute value out of range",
        INVALID_OBJECT_INSTANCE: "Failure: invalid object instance",
        NO_SUCH_SOP_CLASS: "Failure: no such SOP Class",
        CLASS_INSTANCE_CONFLICT: "Failure: class-instance conflict",
        MISSING_ATTRIBUTE: "Failure: missing attribute",
        MISSING_ATTRIBUTE_VALUE: "Failure: missing attribute value",
        SOP_CLASS_NOT_SUPPORTED: "Refused: SOP Class not supported",
        NO_SUCH_ACTION: "Failure: no such action",
        NOT_AUTHORIZED: "Refused: not authorized",
        DUPLICATE_INVOCATION: "Failure: duplicate invocation",
        UNRECOGNIZED_OPERATION: "Failure: unrecognized operation",
        MISTYPED_ARGUMENT: "Failure: mistyped argument",
        RESOURCE_LIMITATION: "Failure: resource limitation",
        CANCEL: "Cancel",
        PENDING: "Pending",
        PENDING_WARNING: "Pending with warning",
    }
)

#: C-STORE statuses of the Storage Service Class (PS3.4 B.2.3).
STORAGE: Mapping[int, str] = MappingProxyType(
    {
        OUT_OF_RESOURCES: "Refused: out of resources",
        DATASET_DOES_NOT_MATCH_SOP_CLASS: "Error: data set does not match SOP Class",
        CANNOT_UNDERSTAND: "Error: cannot understand",
        COERCION_OF_DATA_ELEMENTS: "Warning: coercion of data elements",
        ELEMENTS_DISCARDED: "Warning: elements discarded",
        DATASET_DOES_NOT_MATCH_SOP_CLASS_WARNING: "Warning: data set does not match SOP Class",
    }
)

#: C-FIND/C-GET/C-MOVE statuses of the Query/Retrieve Service Class (PS3.4 C.4).
QUERY_RETRIEVE: Mapping[int, str] = MappingProxyType(
    {
        OUT_OF_RESOURCES: "Refused: out of resources",
        OUT_OF_RESOURCES_NUMBER_OF_MATCHES: (
            "Refused: out of resources - unable to calculate number of matches"
        ),
        OUT_OF_RESOURCES_SUB_OPERATIONS: (
            "Refused: out of resources - unable to perform sub-operations"
        ),
        MOVE_DESTINATION_UNKNOWN: "Refused: move destination unknown",
        IDENTIFIER_DOES_NOT_MATCH_SOP_CLASS: "Error: identifier does not match SOP Class",
        UNABLE_TO_PROCESS: "Failed: unable to process",
        SUB_OPERATIONS_COMPLETE_WITH_FAILURES: (
            "Warning: sub-operations complete - one or more failures or warnings"
        ),
        CANCEL: "Cancel: terminated due to a cancel request",
        PENDING: "Pending: matches or sub-operations are continuing",
        PENDING_WARNING: (
            "Pending: matches are continuing - one or more optional keys were not supported"
        ),
    }
)

_SERVICES: Mapping[str, Mapping[int, str]] = {
    "general": GENERAL,
    "storage": STORAGE,
    "qr": QUERY_RETRIEVE,
    "query_retrieve": QUERY_RETRIEVE,
}

_SUCCESS = StatusCategory.SUCCESS
_WARNING = StatusCategory.WARNING
_FAILURE = StatusCategory.FAILURE
# Category by high byte; the 0x00, 0x01, 0xFE and 0xFF high bytes are refined in category().
_BY_HIGH: list[StatusCategory | None] = [None] * 256
for _hi in range(0xA0, 0xB0):
    _BY_HIGH[_hi] = _FAILURE
for _hi in range(0xB0, 0xC0):
    _BY_HIGH[_hi] = _WARNING
for _hi in range(0xC0, 0xD0):
    _BY_HIGH[_hi] = _FAILURE
_BY_HIGH[0x01] = _FAILURE
_BY_HIGH[0x02] = _FAILURE
_EXACT: dict[int, StatusCategory] = {
    0x0000: _SUCCESS,
    0x0001: _WARNING,
    0x0107: _WARNING,
    0x0116: _WARNING,
    0xFE00: StatusCategory.CANCEL,
    0xFF00: StatusCategory.PENDING,
    0xFF01: StatusCategory.PENDING,
}


def _check(status: int) -> None:
    if not isinstance(status, int) or not 0 <= status <= 0xFFFF:
        raise ValueError(f"a DIMSE status is a US value (0..0xFFFF), not {status!r}")


def is_valid(status: int) -> bool:
    """True when PS3.7 Annex C assigns ``status`` to a Status Class at all."""
    _check(status)
    return status in _EXACT or _BY_HIGH[status >> 8] is not None


def category(status: int) -> StatusCategory:
    """The Status Class of ``status`` (PS3.7 Annex C).

    Codes outside every class (e.g. 0x0002, 0x0300, 0xD000, 0xFF02) count as
    :attr:`StatusCategory.FAILURE`: PS3.7 forbids them, so a peer that sends one has failed.
    Raises ValueError for values that are not a 16-bit unsigned integer.
    """
    cat = _EXACT.get(status)
    if cat is not None:
        return cat
    _check(status)
    return _BY_HIGH[status >> 8] or _FAILURE


def is_success(status: int) -> bool:
    """True for 0x0000."""
    return category(status) is _SUCCESS


def is_warning(status: int) -> bool:
    """True for 0x0001, 0x0107, 0x0116 and 0xB000-0xBFFF."""
    return category(status) is _WARNING


def is_failure(status: int) -> bool:
    """True for the failure codes (and for codes PS3.7 does not assign)."""
    return category(status) is _FAILURE


def is_cancel(status: int) -> bool:
    """True for 0xFE00."""
    return category(status) is StatusCategory.CANCEL


def is_pending(status: int) -> bool:
    """True for 0xFF00 and 0xFF01."""
    return category(status) is StatusCategory.PENDING


def describe(status: int, service: str | None = None) -> str:
    """A human-readable meaning of ``status``, e.g. ``"Refused: out of resources"``.

    ``service`` ("storage", "qr"/"query_retrieve" or "general") picks the service table
    first; the general table follows; otherwise the Status Class and the code are given.
    """
    cat = category(status)
    if service is not None:
        try:
            table = _SERVICES[service]
        except KeyError:
            known = sorted(_SERVICES)
            raise ValueError(f"unknown service {service!r}; use one of {known}") from None
        if status in table:
            return table[status]
    if status in GENERAL:
        return GENERAL[status]
    if not is_valid(status):
        return f"Failure: status 0x{status:04X} is not assigned by PS3.7"
    return f"{cat.value} (0x{status:04X})"
