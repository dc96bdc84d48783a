"""Decoding whole PDUs and reading them from a byte stream.

``decode_pdu(data)`` turns one PDU into its typed object: an :class:`Associate` for
A-ASSOCIATE-RQ/AC, :class:`AssociateReject`, :class:`PDataTF`, :class:`ReleaseRQ`,
:class:`ReleaseRP` or :class:`Abort` (also named ``AbortPDU``; ``AssociateRejectPDU`` is
:class:`AssociateReject`). :class:`PDUReader` is fed chunks of any size and gives
back the PDUs they complete. Both raise :class:`~dicomul.errors.ProtocolError` (never another
exception) on bytes that break PS3.8; the error carries the A-ABORT reason to send.
"""

from __future__ import annotations

from dicomul.errors import ProtocolError
from dicomul.ul._core import (
    DEFAULT_MAX_PDU_LENGTH,
    Abort,
    AssociateReject,
    Framer,
    PDataTF,
    ReleaseRP,
    ReleaseRQ,
    decode_pdata,
    decode_short,
)
from dicomul.ul.associate import Associate

__all__ = [
    "PDU",
    "decode_pdu",
    "PDUReader",
    "DEFAULT_MAX_PDU_LENGTH",
    "AbortPDU",
    "AssociateRejectPDU",
]

#: The A-ABORT PDU (``Abort``) and A-ASSOCIATE-RJ PDU (``AssociateReject``) under names that
#: say they are PDUs, unlike ``AbortRequest`` / ``AbortIndication`` (dicomul.ul.events).
AbortPDU = Abort
AssociateRejectPDU = AssociateReject

PDU = Associate | AssociateReject | PDataTF | ReleaseRQ | ReleaseRP | Abort
Buffer = bytes | bytearray | memoryview


def decode_pdu(data: Buffer) -> PDU:
    """Decode exactly one whole PDU (6-byte header included, nothing after it)."""
    view = memoryview(data).cast("B")
    if not view:
        raise ProtocolError("empty PDU", abort_reason=6, offset=0)
    pdu_type = view[0]
    if pdu_type in (1, 2):
        return Associate.decode(view)
    if pdu_type == 4:
        return decode_pdata(view)
    if pdu_type in (3, 5, 6, 7):
        return decode_short(view)
    raise ProtocolError(f"unrecognized PDU type {pdu_type:#04x}", abort_reason=1, offset=0)


class PDUReader:
    """Incremental PDU reader: ``for pdu in reader.feed(chunk): ...``.

    Chunks may split PDUs anywhere. A PDU whose header declares more than
    ``max_pdu_length`` bytes is refused as soon as its header arrives, before anything is
    allocated for it. After a ProtocolError the reader stays failed.
    """

    __slots__ = ("_framer",)

    def __init__(self, max_pdu_length: int = DEFAULT_MAX_PDU_LENGTH) -> None:
        if not 0 <= max_pdu_length <= 0xFFFFFFFF:
            raise ValueError(f"max_pdu_length {max_pdu_length} out of range 0..0xFFFFFFFF")
        self._framer = Framer(max_pdu_length, Associate.decode)

    @property
    def max_pdu_length(self) -> int:
        """The largest PDU length field accepted."""
        return int(self._framer.max_pdu_length)

    @property
    def buffered(self) -> int:
        """Bytes held of a PDU not yet complete."""
        return int(self._framer.buffered)

    def feed(self, data: Buffer) -> list[PDU]:
        """Take a chunk of the stream; return the PDUs it completes, in order."""
        if isinstance(data, memoryview) and data.format != "B":
            data = data.cast("B")
        return self._framer.feed(data)
