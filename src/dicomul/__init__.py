"""dicomul: the DICOM Upper Layer protocol (PS3.8) with a C core.

The public surface: :class:`Associate` (the A-ASSOCIATE-RQ/AC parameters handle that
mirrors the LEADTOOLS associate functions), :func:`decode_pdu` and :class:`PDUReader` for
the wire, the PDU classes, the protocol constants and the exception hierarchy.

The names are imported on first use (PEP 562), so ``import dicomul`` and the command
line's start-up load only what a command needs.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # what the lazy table below resolves to, for type checkers and IDEs
    from dicomul._core import PDV, Abort, AssociateReject, PDataTF, ReleaseRP, ReleaseRQ
    from dicomul.associate import (
        Associate,
        CommonExtended,
        PresentationContext,
        UserIdentity,
        create_associate,
    )
    from dicomul.connection import Connection, Role, State
    from dicomul.constants import (
        APPLICATION_CONTEXT_NAME,
        EXPLICIT_VR_BIG_ENDIAN,
        EXPLICIT_VR_LITTLE_ENDIAN,
        IMPLEMENTATION_CLASS_UID,
        IMPLEMENTATION_VERSION_NAME,
        IMPLICIT_VR_LITTLE_ENDIAN,
        VERIFICATION_SOP_CLASS,
        AbortReason,
        AbortSource,
        ItemType,
        PDUType,
        PresentationResult,
        RejectReasonACSE,
        RejectReasonPresentation,
        RejectReasonUser,
        RejectResult,
        RejectSource,
        RoleSupport,
        UserIdentityType,
    )
    from dicomul.errors import (
        AssociationAborted,
        AssociationRejected,
        DicomError,
        DicomULError,
        DIMSEError,
        LocalProtocolError,
        ProtocolError,
    )
    from dicomul.negotiation import SupportedContexts, check_request, negotiate
    from dicomul.net import Net
    from dicomul.pdu import PDU, PDUReader, decode_pdu

__version__ = "0.1.0"

#: Public name -> the module that defines it.
_LAZY: dict[str, str] = {
    "Abort": "dicomul._core",
    "AssociateReject": "dicomul._core",
    "PDV": "dicomul._core",
    "PDataTF": "dicomul._core",
    "ReleaseRP": "dicomul._core",
    "ReleaseRQ": "dicomul._core",
    "Associate": "dicomul.associate",
    "CommonExtended": "dicomul.associate",
    "PresentationContext": "dicomul.associate",
    "UserIdentity": "dicomul.associate",
    "create_associate": "dicomul.associate",
    "Connection": "dicomul.connection",
    "Role": "dicomul.connection",
    "State": "dicomul.connection",
    "APPLICATION_CONTEXT_NAME": "dicomul.constants",
    "AbortReason": "dicomul.constants",
    "AbortSource": "dicomul.constants",
    "EXPLICIT_VR_BIG_ENDIAN": "dicomul.constants",
    "EXPLICIT_VR_LITTLE_ENDIAN": "dicomul.constants",
    "IMPLEMENTATION_CLASS_UID": "dicomul.constants",
    "IMPLEMENTATION_VERSION_NAME": "dicomul.constants",
    "IMPLICIT_VR_LITTLE_ENDIAN": "dicomul.constants",
    "ItemType": "dicomul.constants",
    "PDUType": "dicomul.constants",
    "PresentationResult": "dicomul.constants",
    "RejectReasonACSE": "dicomul.constants",
    "RejectReasonPresentation": "dicomul.constants",
    "RejectReasonUser": "dicomul.constants",
    "RejectResult": "dicomul.constants",
    "RejectSource": "dicomul.constants",
    "RoleSupport": "dicomul.constants",
    "UserIdentityType": "dicomul.constants",
    "VERIFICATION_SOP_CLASS": "dicomul.constants",
    "AssociationAborted": "dicomul.errors",
    "AssociationRejected": "dicomul.errors",
    "DIMSEError": "dicomul.errors",
    "DicomError": "dicomul.errors",
    "DicomULError": "dicomul.errors",
    "LocalProtocolError": "dicomul.errors",
    "ProtocolError": "dicomul.errors",
    "SupportedContexts": "dicomul.negotiation",
    "check_request": "dicomul.negotiation",
    "negotiate": "dicomul.negotiation",
    "Net": "dicomul.net",
    "PDU": "dicomul.pdu",
    "PDUReader": "dicomul.pdu",
    "decode_pdu": "dicomul.pdu",
}


__all__ = [
    "APPLICATION_CONTEXT_NAME",
    "EXPLICIT_VR_BIG_ENDIAN",
    "EXPLICIT_VR_LITTLE_ENDIAN",
    "IMPLEMENTATION_CLASS_UID",
    "IMPLEMENTATION_VERSION_NAME",
    "IMPLICIT_VR_LITTLE_ENDIAN",
    "VERIFICATION_SOP_CLASS",
    "PDU",
    "PDV",
    "Abort",
    "AbortReason",
    "AbortSource",
    "Associate",
    "AssociateReject",
    "AssociationAborted",
    "AssociationRejected",
    "CommonExtended",
    "Connection",
    "DicomError",
    "DIMSEError",
    "DicomULError",
    "ItemType",
    "LocalProtocolError",
    "Net",
    "PDUReader",
    "PDUType",
    "PDataTF",
    "PresentationContext",
    "PresentationResult",
    "ProtocolError",
    "RejectReasonACSE",
    "RejectReasonPresentation",
    "RejectReasonUser",
    "RejectResult",
    "RejectSource",
    "ReleaseRP",
    "ReleaseRQ",
    "Role",
    "RoleSupport",
    "State",
    "SupportedContexts",
    "UserIdentity",
    "UserIdentityType",
    "__version__",
    "check_request",
    "create_associate",
    "decode_pdu",
    "negotiate",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'dicomul' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
