"""Protocol constants of the DICOM Upper Layer (PS3.8) and the UIDs dicomul needs.

The enums mirror the LEADTOOLS constants (API.md a.2); every value is the one PS3.8 /
PS3.7 define. A-ASSOCIATE-RJ reasons overlap numerically across sources (reason 2 means
three different things), so there is one reason enum per source and
:func:`validate_reject` checks ``(result, source, reason)`` triples.
"""

from __future__ import annotations

from enum import IntEnum

__all__ = [
    "PDUType",
    "ItemType",
    "PresentationResult",
    "RejectResult",
    "RejectSource",
    "RejectReasonUser",
    "RejectReasonACSE",
    "RejectReasonPresentation",
    "RejectReason",
    "AbortSource",
    "AbortReason",
    "RoleSupport",
    "UserIdentityType",
    "reject_reason_enum",
    "validate_reject",
    "validate_abort",
    "APPLICATION_CONTEXT_NAME",
    "VERIFICATION_SOP_CLASS",
    "IMPLICIT_VR_LITTLE_ENDIAN",
    "EXPLICIT_VR_LITTLE_ENDIAN",
    "DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN",
    "EXPLICIT_VR_BIG_ENDIAN",
    "JPEG_BASELINE",
    "JPEG_LOSSLESS_SV1",
    "JPEG2000_LOSSLESS",
    "JPEG2000",
    "RLE_LOSSLESS",
    "UID_MAX_SIZE",
    "AE_TITLE_MAX_SIZE",
    "IMPLEMENTATION_VERSION_NAME_MAX_SIZE",
    "IMPLEMENTATION_CLASS_UID",
    "IMPLEMENTATION_VERSION_NAME",
    "DEFAULT_MAX_LENGTH",
    "PROTOCOL_VERSION",
]


class PDUType(IntEnum):
    """PDU type byte (PS3.8 9.3); LEADTOOLS ``PDU_*``. 0 is LEADTOOLS' "unknown"."""

    UNKNOWN = 0
    ASSOCIATE_RQ = 1
    ASSOCIATE_AC = 2
    ASSOCIATE_RJ = 3
    DATA_TF = 4
    RELEASE_RQ = 5
    RELEASE_RP = 6
    ABORT = 7


class ItemType(IntEnum):
    """Item and user-information sub-item types (PS3.8 9.3, Annex D; PS3.7 D.3.3)."""

    APPLICATION_CONTEXT = 0x10
    PRESENTATION_CONTEXT_RQ = 0x20
    PRESENTATION_CONTEXT_AC = 0x21
    ABSTRACT_SYNTAX = 0x30
    TRANSFER_SYNTAX = 0x40
    USER_INFORMATION = 0x50
    MAXIMUM_LENGTH = 0x51
    IMPLEMENTATION_CLASS_UID = 0x52
    ASYNCHRONOUS_OPERATIONS_WINDOW = 0x53
    ROLE_SELECTION = 0x54
    IMPLEMENTATION_VERSION_NAME = 0x55
    SOP_CLASS_EXTENDED_NEGOTIATION = 0x56
    SOP_CLASS_COMMON_EXTENDED_NEGOTIATION = 0x57
    USER_IDENTITY_RQ = 0x58
    USER_IDENTITY_AC = 0x59


class PresentationResult(IntEnum):
    """Presentation context result/reason of an A-ASSOCIATE-AC (PS3.8 Table 9-18)."""

    ACCEPTANCE = 0
    USER_REJECTION = 1
    NO_REASON = 2
    ABSTRACT_SYNTAX_NOT_SUPPORTED = 3
    TRANSFER_SYNTAXES_NOT_SUPPORTED = 4


class RejectResult(IntEnum):
    """A-ASSOCIATE-RJ result (PS3.8 Table 9-21)."""

    PERMANENT = 1
    TRANSIENT = 2


class RejectSource(IntEnum):
    """A-ASSOCIATE-RJ source (PS3.8 Table 9-21)."""

    USER = 1
    PROVIDER_ACSE = 2
    PROVIDER_PRESENTATION = 3


class RejectReasonUser(IntEnum):
    """A-ASSOCIATE-RJ reason when the source is 1, UL service-user (4-6 and 8-10 reserved)."""

    NO_REASON = 1
    APPLICATION_CONTEXT_NOT_SUPPORTED = 2
    CALLING_AE_NOT_RECOGNIZED = 3
    CALLED_AE_NOT_RECOGNIZED = 7


class RejectReasonACSE(IntEnum):
    """A-ASSOCIATE-RJ reason when the source is 2, UL service-provider (ACSE)."""

    NO_REASON = 1
    PROTOCOL_VERSION_NOT_SUPPORTED = 2


class RejectReasonPresentation(IntEnum):
    """A-ASSOCIATE-RJ reason when the source is 3, UL service-provider (presentation)."""

    TEMPORARY_CONGESTION = 1
    LOCAL_LIMIT_EXCEEDED = 2


#: Any of the three per-source reason enums.
RejectReason = RejectReasonUser | RejectReasonACSE | RejectReasonPresentation


class AbortSource(IntEnum):
    """A-ABORT source (PS3.8 Table 9-26); 1 is reserved."""

    USER = 0
    PROVIDER = 2


class AbortReason(IntEnum):
    """A-ABORT reason/diagnostic, significant only when the source is 2 (3 is reserved)."""

    NOT_SPECIFIED = 0
    UNRECOGNIZED_PDU = 1
    UNEXPECTED_PDU = 2
    UNRECOGNIZED_PDU_PARAMETER = 4
    UNEXPECTED_PDU_PARAMETER = 5
    INVALID_PDU_PARAMETER_VALUE = 6


class RoleSupport(IntEnum):
    """SCU/SCP role values of the role selection sub-item (PS3.7 Tables D.3-9/D.3-10)."""

    UNSUPPORTED = 0
    SUPPORTED = 1


class UserIdentityType(IntEnum):
    """User identity type of sub-item 58H (PS3.7 Table D.3-14)."""

    USERNAME = 1
    USERNAME_AND_PASSCODE = 2
    KERBEROS = 3
    SAML = 4
    JWT = 5


_REASONS_BY_SOURCE: dict[int, type[IntEnum]] = {
    RejectSource.USER: RejectReasonUser,
    RejectSource.PROVIDER_ACSE: RejectReasonACSE,
    RejectSource.PROVIDER_PRESENTATION: RejectReasonPresentation,
}


def _check_int(name: str, value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{name} must be an int, not {type(value).__name__}")
    return value


def reject_reason_enum(source: int) -> type[IntEnum]:
    """Return the reason enum that applies to A-ASSOCIATE-RJ ``source`` (1, 2 or 3).

    Raises ValueError for any other source.
    """
    _check_int("reject source", source)
    try:
        return _REASONS_BY_SOURCE[source]
    except KeyError:
        raise ValueError(
            f"reject source {source} is not defined; expected 1 (service-user), "
            "2 (service-provider ACSE) or 3 (service-provider presentation)"
        ) from None


def validate_reject(
    result: int, source: int, reason: int
) -> tuple[RejectResult, RejectSource, RejectReason]:
    """Check an A-ASSOCIATE-RJ ``(result, source, reason)`` triple (PS3.8 Table 9-21).

    Returns the three values as enum members; raises TypeError for non-int values and
    ValueError for undefined or reserved values (the reason is checked against the
    reasons of *that* source).
    """
    _check_int("reject result", result)
    _check_int("reject reason", reason)
    if result not in (1, 2):
        raise ValueError(
            f"reject result {result} is not defined; expected 1 (permanent) or 2 (transient)"
        )
    reasons = reject_reason_enum(source)
    try:
        typed_reason = reasons(reason)
    except ValueError:
        allowed = ", ".join(f"{m.value} ({m.name})" for m in reasons)
        raise ValueError(
            f"reject reason {reason} is not defined for source {source}; expected one of {allowed}"
        ) from None
    return RejectResult(result), RejectSource(source), typed_reason  # type: ignore[return-value]


def validate_abort(source: int, reason: int) -> tuple[AbortSource, AbortReason]:
    """Check an A-ABORT ``(source, reason)`` pair for sending (PS3.8 Table 9-26).

    Source 0 (service-user) must be sent with reason 0; source 2 (service-provider) takes
    a reason of :class:`AbortReason`. Source 1 and reason 3 are reserved. Raises TypeError
    or ValueError.
    """
    _check_int("abort source", source)
    _check_int("abort reason", reason)
    if source not in (0, 2):
        raise ValueError(
            f"abort source {source} is not defined; expected 0 (service-user) "
            "or 2 (service-provider)"
        )
    if source == AbortSource.USER:
        if reason != 0:
            raise ValueError(
                f"abort reason must be 0 when the source is 0 (service-user), not {reason}"
            )
        return AbortSource.USER, AbortReason.NOT_SPECIFIED
    try:
        return AbortSource.PROVIDER, AbortReason(reason)
    except ValueError:
        raise ValueError(
            f"abort reason {reason} is not defined; expected 0, 1, 2, 4, 5 or 6"
        ) from None


# ---- UIDs (PS3.6 Annex A) ------------------------------------------------------------

#: The DICOM application context name (PS3.7 Annex A.2.1); LEADTOOLS UID_APPLICATION_CONTEXT_NAME.
APPLICATION_CONTEXT_NAME = "1.2.840.10008.3.1.1.1"
#: Verification SOP Class (C-ECHO).
VERIFICATION_SOP_CLASS = "1.2.840.10008.1.1"

IMPLICIT_VR_LITTLE_ENDIAN = "1.2.840.10008.1.2"
EXPLICIT_VR_LITTLE_ENDIAN = "1.2.840.10008.1.2.1"
DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN = "1.2.840.10008.1.2.1.99"
EXPLICIT_VR_BIG_ENDIAN = "1.2.840.10008.1.2.2"
JPEG_BASELINE = "1.2.840.10008.1.2.4.50"
JPEG_LOSSLESS_SV1 = "1.2.840.10008.1.2.4.70"
JPEG2000_LOSSLESS = "1.2.840.10008.1.2.4.90"
JPEG2000 = "1.2.840.10008.1.2.4.91"
RLE_LOSSLESS = "1.2.840.10008.1.2.5"

#: Maximum length of a UID (PS3.5 9.1); LEADTOOLS UID_MAX_SIZE.
UID_MAX_SIZE = 64
#: Maximum length of an AE title (PS3.8 Table 9-11, the AE VR).
AE_TITLE_MAX_SIZE = 16
#: Maximum length of an implementation version name (PS3.7 D.3.3.2).
IMPLEMENTATION_VERSION_NAME_MAX_SIZE = 16

#: dicomul's own implementation class UID (sub-item 52H): a UUID-derived UID under 2.25
#: (PS3.5 B.2), so it needs no registered root.
IMPLEMENTATION_CLASS_UID = "2.25.196782911307077230955355943077318147496"
#: dicomul's own implementation version name (sub-item 55H).
IMPLEMENTATION_VERSION_NAME = "DICOMUL_010"
#: Maximum length (sub-item 51H) that :meth:`Associate.default_associate` announces: the
#: 16 KiB DCMTK uses by default.
DEFAULT_MAX_LENGTH = 16384
#: The only protocol version PS3.8 defines (bit 0 of bytes 7-8).
PROTOCOL_VERSION = 1
