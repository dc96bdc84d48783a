"""dicomul: the DICOM Upper Layer protocol (PS3.8) with a C core.

The public surface: :class:`Associate` (the A-ASSOCIATE-RQ/AC parameters handle that
mirrors the LEADTOOLS associate functions), :func:`decode_pdu` and :class:`PDUReader` for
the wire, the PDU classes, the protocol constants and the exception hierarchy.
"""

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
