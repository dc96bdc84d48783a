"""The dicomul exception hierarchy (DESIGN.md section 6)."""

from __future__ import annotations

__all__ = [
    "DicomULError",
    "DicomError",
    "ProtocolError",
    "LocalProtocolError",
    "AssociationRejected",
    "AssociationAborted",
    "DIMSEError",
    "ContextNotAccepted",
]


class DicomULError(Exception):
    """Base class of every error dicomul raises on its own account."""


#: LEADTOOLS' name for the base error (API.md a.1 item 7).
DicomError = DicomULError


class ProtocolError(DicomULError):
    """Bytes that break PS3.8, or a request PS3.8 forbids.

    ``abort_source`` and ``abort_reason`` are the A-ABORT values PS3.8 prescribes for the
    fault (source 2 = service provider; reasons per PS3.8 Table 9-26), ``offset`` the byte
    offset in the PDU where decoding failed (or None).
    """

    def __init__(
        self,
        message: str,
        *,
        abort_source: int = 2,
        abort_reason: int = 0,
        offset: int | None = None,
    ) -> None:
        super().__init__(message)
        self.abort_source = abort_source
        self.abort_reason = abort_reason
        self.offset = offset


class LocalProtocolError(ProtocolError):
    """The local user asked for something PS3.8 forbids in the current state; nothing changed."""


class AssociationRejected(DicomULError):
    """The peer answered A-ASSOCIATE-RJ with ``result``, ``source`` and ``reason``."""

    def __init__(self, result: int, source: int, reason: int) -> None:
        super().__init__(f"association rejected: result={result} source={source} reason={reason}")
        self.result = result
        self.source = source
        self.reason = reason


class AssociationAborted(DicomULError):
    """The association was aborted (A-ABORT or A-P-ABORT) with ``source`` and ``reason``."""

    def __init__(self, source: int, reason: int) -> None:
        super().__init__(f"association aborted: source={source} reason={reason}")
        self.source = source
        self.reason = reason


class DIMSEError(DicomULError):
    """A command set or DIMSE message that breaks PS3.7; ``offset`` is where, if known."""

    def __init__(self, message: str, *, offset: int | None = None) -> None:
        super().__init__(message if offset is None else f"{message} (at byte {offset})")
        self.offset = offset


class ContextNotAccepted(DicomULError, LookupError):
    """No accepted presentation context can carry the requested operation."""
