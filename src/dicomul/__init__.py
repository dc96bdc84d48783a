"""dicomul: the DICOM Upper Layer protocol (PS3.8) with a C core.

The public surface: :class:`Associate` (the A-ASSOCIATE-RQ/AC parameters handle that
mirrors the LEADTOOLS associate functions), :func:`decode_pdu` and :class:`PDUReader` for
the wire, the PDU classes, the protocol constants and the exception hierarchy.

The names are imported on first use (PEP 562), so ``import dicomul`` and the command
line's start-up load only what a command needs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dicomul._lazy import lazy_attributes

if TYPE_CHECKING:  # what the lazy table below resolves to, for type checkers and IDEs
    from dicomul.errors import (
        AssociationAborted,
        AssociationRejected,
        DicomError,
        DicomULError,
        DIMSEError,
        LocalProtocolError,
        ProtocolError,
    )
    from dicomul.sync.net import Net
    from dicomul.ul._core import PDV, Abort, AssociateReject, PDataTF, ReleaseRP, ReleaseRQ
    from dicomul.ul.associate import (
        Associate,
        CommonExtended,
        PresentationContext,
        UserIdentity,
        create_associate,
    )
    from dicomul.ul.connection import Connection, Role, State
    from dicomul.ul.constants import (
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
    from dicomul.ul.negotiation import SupportedContexts, check_request, negotiate
    from dicomul.ul.pdu import PDU, AbortPDU, AssociateRejectPDU, PDUReader, decode_pdu

__version__ = "0.1.0"

#: Public name -> the module that defines it.
_LAZY: dict[str, str] = {
    "Abort": "dicomul.ul._core",
    "AbortPDU": "dicomul.ul.pdu",
    "AssociateRejectPDU": "dicomul.ul.pdu",
    "AssociateReject": "dicomul.ul._core",
    "PDV": "dicomul.ul._core",
    "PDataTF": "dicomul.ul._core",
    "ReleaseRP": "dicomul.ul._core",
    "ReleaseRQ": "dicomul.ul._core",
    "Associate": "dicomul.ul.associate",
    "CommonExtended": "dicomul.ul.associate",
    "PresentationContext": "dicomul.ul.associate",
    "UserIdentity": "dicomul.ul.associate",
    "create_associate": "dicomul.ul.associate",
    "Connection": "dicomul.ul.connection",
    "Role": "dicomul.ul.connection",
    "State": "dicomul.ul.connection",
    "APPLICATION_CONTEXT_NAME": "dicomul.ul.constants",
    "AbortReason": "dicomul.ul.constants",
    "AbortSource": "dicomul.ul.constants",
    "EXPLICIT_VR_BIG_ENDIAN": "dicomul.ul.constants",
    "EXPLICIT_VR_LITTLE_ENDIAN": "dicomul.ul.constants",
    "IMPLEMENTATION_CLASS_UID": "dicomul.ul.constants",
    "IMPLEMENTATION_VERSION_NAME": "dicomul.ul.constants",
    "IMPLICIT_VR_LITTLE_ENDIAN": "dicomul.ul.constants",
    "ItemType": "dicomul.ul.constants",
    "PDUType": "dicomul.ul.constants",
    "PresentationResult": "dicomul.ul.constants",
    "RejectReasonACSE": "dicomul.ul.constants",
    "RejectReasonPresentation": "dicomul.ul.constants",
    "RejectReasonUser": "dicomul.ul.constants",
    "RejectResult": "dicomul.ul.constants",
    "RejectSource": "dicomul.ul.constants",
    "RoleSupport": "dicomul.ul.constants",
    "UserIdentityType": "dicomul.ul.constants",
    "VERIFICATION_SOP_CLASS": "dicomul.ul.constants",
    "AssociationAborted": "dicomul.errors",
    "AssociationRejected": "dicomul.errors",
    "DIMSEError": "dicomul.errors",
    "DicomError": "dicomul.errors",
    "DicomULError": "dicomul.errors",
    "LocalProtocolError": "dicomul.errors",
    "ProtocolError": "dicomul.errors",
    "SupportedContexts": "dicomul.ul.negotiation",
    "check_request": "dicomul.ul.negotiation",
    "negotiate": "dicomul.ul.negotiation",
    "Net": "dicomul.sync.net",
    "PDU": "dicomul.ul.pdu",
    "PDUReader": "dicomul.ul.pdu",
    "decode_pdu": "dicomul.ul.pdu",
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
    "AbortPDU",
    "AssociateRejectPDU",
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


__getattr__, __dir__ = lazy_attributes(__name__, _LAZY, globals())
