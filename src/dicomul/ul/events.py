"""Primitives the local user hands to a Connection, and events a Connection gives back.

Names follow PS3.8's four primitive types, so each says which way it goes: a *request*
or *response* is what this side asks of the upper layer (``Connection.send``); an
*indication* or *confirmation* is what the upper layer reports (``Connection.events()``).
PDUs on the wire are the ``*PDU`` classes of :mod:`dicomul.ul.pdu`, and the exceptions
a failed association raises are ``AssociationRejected`` / ``AssociationAborted``. So the
four kinds of "abort" are: :class:`AbortRequest` (we abort), :class:`AbortIndication`
(the association was aborted, by the peer or the provider), ``AbortPDU`` (A-ABORT on the
wire) and ``AssociationAborted`` (what a call on an aborted association raises).

Requests and responses: :class:`AssociateRequest`, :class:`AssociateAcceptResponse`,
:class:`AssociateRejectResponse`, :class:`DataRequest` (P-DATA), :class:`ReleaseRequest`,
:class:`ReleaseResponse`, :class:`AbortRequest`.

Indications and confirmations: :class:`AssociateIndication` (the peer asks to
associate), :class:`AssociateAcceptConfirmation` / :class:`AssociateRejectConfirmation`
(the peer's answer to ours), :class:`DataIndication` (a whole DIMSE message),
:class:`ReleaseIndication` (the peer asks to release), :class:`ReleaseConfirmation`,
:class:`AbortIndication` (A-ABORT or A-P-ABORT); and, outside PS3.8's primitives,
:class:`PDUReceived` (raw PDUs, only when asked for) and :class:`TransportClosed`.

The names of earlier releases (``AssociationRequested``, ``AssociationAccepted``,
``AssociationRejectedEvent``, ``ReleaseRequested``, ``ReleaseConfirmed``, ``Aborted``,
``DataReceived``, ``AssociateAccept``, ``AssociateRejectRequest``) remain as aliases.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, BinaryIO

from dicomul._record import record
from dicomul.ul.associate import Associate

__all__ = [
    "Dataset",
    "AssociateRequest",
    "AssociateAcceptResponse",
    "AssociateRejectResponse",
    "DataRequest",
    "ReleaseRequest",
    "ReleaseResponse",
    "AbortRequest",
    "Request",
    "AssociateIndication",
    "AssociateAcceptConfirmation",
    "AssociateRejectConfirmation",
    "DataIndication",
    "ReleaseIndication",
    "ReleaseConfirmation",
    "AbortIndication",
    "PDUReceived",
    "TransportClosed",
    "Event",
]

#: What a data set to send may be: bytes-like, a readable binary file, or buffers.
Dataset = bytes | bytearray | memoryview | BinaryIO | Iterable[Any]


# ---- requests -------------------------------------------------------------------------


@record
class AssociateRequest:
    """A-ASSOCIATE request (Evt1): ``associate`` is an RQ handle."""

    associate: Associate


@record
class AssociateAcceptResponse:
    """A-ASSOCIATE response, accept (Evt7): ``associate`` is the AC handle to send."""

    associate: Associate


@record
class AssociateRejectResponse:
    """A-ASSOCIATE response, reject (Evt8), with PS3.8 Table 9-21 codes."""

    result: int
    source: int
    reason: int


@record
class DataRequest:
    """P-DATA request (Evt9): one DIMSE message on an accepted presentation context.

    ``command`` is the encoded command set (Implicit VR Little Endian); ``dataset`` is
    None, or bytes-like, a readable binary file (read as it is sent), or an iterable of
    bytes-like buffers. Nothing is concatenated or copied on the way out.
    """

    context_id: int
    command: bytes | bytearray | memoryview
    dataset: Dataset | None = None


@record
class ReleaseRequest:
    """A-RELEASE request (Evt11)."""


@record
class ReleaseResponse:
    """A-RELEASE response (Evt14)."""


@record
class AbortRequest:
    """A-ABORT request (Evt15): source 0 (service-user) and reason 0 unless told."""

    source: int = 0
    reason: int = 0


Request = (
    AssociateRequest
    | AssociateAcceptResponse
    | AssociateRejectResponse
    | DataRequest
    | ReleaseRequest
    | ReleaseResponse
    | AbortRequest
)


# ---- events ---------------------------------------------------------------------------


@record
class AssociateIndication:
    """A-ASSOCIATE indication: the peer's A-ASSOCIATE-RQ (acceptor side)."""

    associate: Associate


@record
class AssociateAcceptConfirmation:
    """A-ASSOCIATE confirmation (accept): the peer's AC, abstract syntaxes back-filled."""

    associate: Associate


@record
class AssociateRejectConfirmation:
    """A-ASSOCIATE confirmation (reject): the peer's A-ASSOCIATE-RJ codes."""

    result: int
    source: int
    reason: int


@record
class DataIndication:
    """P-DATA indication of one whole DIMSE message.

    ``command`` is the command set's bytes; ``dataset`` the data set's bytes, None when
    the message has none (the Connection's ``needs_dataset`` said so; the upper layer
    reads no DIMSE field), or the sink object the dataset_sink hook chose (already
    written to). ``error``: the exception the sink raised (the data set is then
    incomplete and the sink was aborted), else None.
    """

    context_id: int
    command: bytes
    dataset: Any = None
    error: BaseException | None = None


@record
class ReleaseIndication:
    """A-RELEASE indication (the peer sent A-RELEASE-RQ; answer with ReleaseResponse)."""

    collision: bool = False


@record
class ReleaseConfirmation:
    """A-RELEASE confirmation (the peer's A-RELEASE-RP)."""


@record
class AbortIndication:
    """A-ABORT (``provider`` False, the peer's user aborted) or A-P-ABORT indication.

    ``source``/``reason`` are those of the A-ABORT PDU received, or of the one this side
    sent for a protocol error (``local`` True), or 2/0 when the transport just went away.
    ``message`` says what happened; ``error`` is the exception behind a local abort, if
    one was (a data set source that failed while being sent).
    """

    source: int
    reason: int
    provider: bool
    local: bool = False
    message: str = ""
    error: BaseException | None = None


@record
class PDUReceived:
    """A raw PDU as received, before it is acted upon (only with ``raw_pdus=True``)."""

    pdu_type: int
    data: bytes


@record
class TransportClosed:
    """The transport connection is closed (by either side); the Connection is in Sta1."""


Event = (
    AssociateIndication
    | AssociateAcceptConfirmation
    | AssociateRejectConfirmation
    | DataIndication
    | ReleaseIndication
    | ReleaseConfirmation
    | AbortIndication
    | PDUReceived
    | TransportClosed
)

# The names of earlier releases (see the module docstring).
AssociationRequested = AssociateIndication
AssociationAccepted = AssociateAcceptConfirmation
AssociationRejectedEvent = AssociateRejectConfirmation
ReleaseRequested = ReleaseIndication
ReleaseConfirmed = ReleaseConfirmation
Aborted = AbortIndication
DataReceived = DataIndication
AssociateAccept = AssociateAcceptResponse
AssociateRejectRequest = AssociateRejectResponse
