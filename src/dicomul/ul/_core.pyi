"""The binding of csrc/ (ul.h): buffers in, spans out, spans turned into Python objects.

Every byte is parsed and every length checked in C. Malformed input raises
:class:`~dicomul.errors.ProtocolError` carrying the A-ABORT source and reason PS3.8
prescribes (Table 9-26) and the byte offset where decoding failed; a value that does not fit
its field on encoding raises ValueError. Any contiguous bytes-like object of byte items is
accepted where a buffer is taken.
"""

from collections.abc import Callable, Iterable
from typing import Any, ClassVar, TypeAlias

from typing_extensions import disjoint_base

from dicomul.errors import ProtocolError

_Buffer: TypeAlias = bytes | bytearray | memoryview

MAX_PRESENTATION_CONTEXTS: int
"""256: the most presentation context items one A-ASSOCIATE-RQ/AC may hold here."""
MAX_TRANSFER_SYNTAXES: int
"""4096: the most transfer syntax sub-items (40H) one A-ASSOCIATE-RQ/AC may hold here."""
MAX_USER_ITEMS: int
"""512: the most user-information sub-items one A-ASSOCIATE-RQ/AC may hold here."""
MAX_RELATED_UIDS: int
"""256: the most related general SOP class UIDs in one 57H sub-item (PS3.7 D.3.3.6)."""
DEFAULT_MAX_PDU_LENGTH: int
"""4 MiB: the largest PDU length field a :class:`Framer` accepts by default."""

# ---- A-ASSOCIATE-RQ / -AC (PS3.8 Tables 9-11..9-20) ---------------------------------------

def decode_associate(
    data: _Buffer,
) -> tuple[int, int, str, str, str, list[list[Any]], list[tuple[Any, ...]]]:
    """Decode one whole A-ASSOCIATE-RQ or -AC PDU (header included, nothing after it).

    Returns ``(pdu_type, version, called, calling, app_context, pcs, user)``: AE titles
    without padding; ``pcs`` a list of ``[id, result, abstract_syntax or None,
    [transfer syntaxes]]`` in wire order (an AC has no abstract syntax; an empty 40H item
    gives ``[""]``, no 40H item ``[]``); ``user`` a list of tuples, one per user-information
    sub-item in wire order: ``(0x51, max_length)``, ``(0x52, uid)``, ``(0x53, invoked,
    performed)``, ``(0x54, sop_class_uid, scu_role, scp_role)``, ``(0x55, name)``,
    ``(0x56, sop_class_uid, app_info)``, ``(0x57, sop_class_uid, service_class_uid,
    [related uids])``, ``(0x58, type, positive_response, primary, secondary)``,
    ``(0x59, server_response)``, and ``(type, raw_value)`` for any other type.
    UID values lose trailing NUL/space padding. Items of unknown type are skipped,
    reserved fields are not tested.

    Raises:
        ProtocolError: malformed input, with the A-ABORT reason and byte offset.
    """

def encode_associate(
    pdu_type: int,
    version: int,
    called: str | _Buffer,
    calling: str | _Buffer,
    app_context: str | _Buffer,
    pcs: list[list[Any]],
    user: list[tuple[Any, ...]],
) -> bytes:
    """Encode an A-ASSOCIATE-RQ (``pdu_type`` 1) or -AC (2) PDU; the inverse of
    :func:`decode_associate`, taking the same shapes.

    A ``(type, bytes)`` user item is written raw whatever its type, except
    ``(0x59, server_response)``, which gets its 2-byte length field. AE titles are
    space-padded to 16 bytes; an AC context with no transfer syntax gets an empty 40H item.
    Reserved fields are written as zeros. str values must be ASCII.

    Raises:
        ValueError: a value does not fit its field (an AE title over 16 bytes, an item over
            65535 bytes, an ID or result outside 0..255, a non-ASCII str).
    """

# ---- A-ASSOCIATE-RJ, A-RELEASE-RQ/RP, A-ABORT (Tables 9-21, 9-24..9-26) -----------------

@disjoint_base
class AssociateReject:
    """An A-ASSOCIATE-RJ PDU (PS3.8 Table 9-21): result, source and reason/diagnostic.

    Values are taken as they come (a received PDU is never refused for an unusual code);
    dicomul.ul.constants.validate_reject checks a combination before sending.
    """

    pdu_type: ClassVar[int]
    """03H."""

    def __init__(self, result: int, source: int, reason: int) -> None:
        """Each value 0..255 (else ValueError)."""

    @property
    def result(self) -> int:
        """1 rejected-permanent, 2 rejected-transient."""

    @property
    def source(self) -> int:
        """1 service-user, 2 service-provider (ACSE), 3 service-provider (presentation)."""

    @property
    def reason(self) -> int:
        """Reason/diagnostic; its meaning depends on the source (PS3.8 9.3.4)."""

    def encode(self) -> bytes:
        """The 10-byte PDU, reserved bytes zero."""

    def __eq__(self, other: object, /) -> bool: ...
    def __hash__(self) -> int: ...

class ReleaseRQ:
    """An A-RELEASE-RQ PDU (PS3.8 Table 9-24)."""

    pdu_type: ClassVar[int]
    """05H."""

    def encode(self) -> bytes:
        """``05 00 00000004 00000000``."""

    def __eq__(self, other: object, /) -> bool: ...
    def __hash__(self) -> int: ...

class ReleaseRP:
    """An A-RELEASE-RP PDU (PS3.8 Table 9-25)."""

    pdu_type: ClassVar[int]
    """06H."""

    def encode(self) -> bytes:
        """``06 00 00000004 00000000``."""

    def __eq__(self, other: object, /) -> bool: ...
    def __hash__(self) -> int: ...

@disjoint_base
class Abort:
    """An A-ABORT PDU (PS3.8 Table 9-26): source (0 user, 2 provider) and reason."""

    pdu_type: ClassVar[int]
    """07H."""

    def __init__(self, source: int = 0, reason: int = 0) -> None:
        """Each value 0..255 (else ValueError)."""

    @property
    def source(self) -> int:
        """0 UL service-user, 2 UL service-provider (1 is reserved)."""

    @property
    def reason(self) -> int:
        """Reason/diagnostic for source 2 (0-6, PS3.8 9.3.8); not significant for source 0."""

    def encode(self) -> bytes:
        """The 10-byte PDU, reserved bytes zero."""

    def __eq__(self, other: object, /) -> bool: ...
    def __hash__(self) -> int: ...

def decode_short(data: _Buffer) -> AssociateReject | ReleaseRQ | ReleaseRP | Abort:
    """Decode a whole A-ASSOCIATE-RJ, A-RELEASE-RQ/RP or A-ABORT PDU (exactly 10 bytes).

    Reserved bytes are not tested.

    Raises:
        ProtocolError: another PDU type, a PDU-length other than 4, or bytes missing or
            left over.
    """

# ---- P-DATA-TF (Tables 9-22, 9-23, Annex E) ---------------------------------------------

@disjoint_base
class PDV:
    """One presentation data value item (PS3.8 Table 9-23, Annex E.2).

    ``data`` is the fragment, a memoryview into the received PDU (no copy) or the buffer
    given; ``control`` the message control header byte (bit 0 command, bit 1 last; bits 2-7
    are kept but never interpreted).
    """

    def __init__(self, context_id: int, control: int, data: _Buffer) -> None:
        """``context_id`` and ``control`` 0..255 (else ValueError); ``data`` is viewed, not
        copied."""

    @staticmethod
    def make(context_id: int, is_command: bool, is_last: bool, data: _Buffer) -> PDV:
        """A PDV from its flags: ``PDV.make(1, True, True, command_bytes)``."""

    @property
    def context_id(self) -> int:
        """The presentation context ID."""

    @property
    def control(self) -> int:
        """The message control header byte, as received."""

    @property
    def data(self) -> memoryview:
        """The fragment (a byte memoryview)."""

    @property
    def is_command(self) -> bool:
        """Bit 0 of the control header: a command set fragment (else a data set one)."""

    @property
    def is_last(self) -> bool:
        """Bit 1 of the control header: the last fragment of its command or data set."""

    def __eq__(self, other: object, /) -> bool: ...
    def __hash__(self) -> int: ...

@disjoint_base
class PDataTF:
    """A P-DATA-TF PDU (PS3.8 Table 9-22): a list of PDVs."""

    pdu_type: ClassVar[int]
    """04H."""

    def __init__(self, pdvs: Iterable[PDV]) -> None:
        """Raises TypeError when an element is not a :class:`PDV`."""

    @property
    def pdvs(self) -> list[PDV]:
        """The PDV items, in wire order."""

    def encode(self) -> bytes:
        """The whole PDU (one copy of every fragment)."""

    def __eq__(self, other: object, /) -> bool: ...
    def __hash__(self) -> int: ...

def decode_pdata(data: _Buffer) -> PDataTF:
    """Decode a whole P-DATA-TF PDU; PDV data are memoryviews into ``data``.

    Raises:
        ProtocolError: no PDV, a PDV shorter than 2 bytes, a length running past the end,
            or bytes left over.
    """

def encode_pdata(pdvs: Iterable[tuple[int, int, _Buffer]]) -> bytes:
    """Encode one P-DATA-TF PDU holding ``pdvs``: an iterable of (context_id, control, data).

    Raises:
        ValueError: an ID or control byte outside 0..255, or a PDU over 2**32 - 1 bytes.
    """

def whole_command(pdu: PDataTF) -> tuple[int, bytes] | None:
    """``(context_id, command)`` when ``pdu`` is one PDV holding a whole command set
    (command and last bits set); None otherwise (the PDVs then go to the reassembler).
    Whether a data set follows is not read here: the layer above decides."""

def fragment_size(peer_max_length: int) -> int:
    """The largest PDV fragment for a peer maximum length (the P-DATA-TF PDU-length field;
    0 = unlimited): ``peer_max_length - 6`` rounded down to even, 0xFFFFFFF8 when unlimited,
    0 when 1..7 (too small for any data). ``peer_max_length`` is 0..2**32 - 1."""

def fragment(
    context_id: int,
    is_command: bool,
    data: _Buffer,
    peer_max_length: int,
    last: bool = True,
) -> list[bytes | memoryview]:
    """Split one message part (command set or data set) into P-DATA-TF PDUs, one PDV each.

    Returns a flat list ``[header, fragment, header, fragment, ...]`` ready for
    ``socket.sendmsg``: each header is 12 bytes (PDU header + PDV header), each fragment a
    memoryview into ``data`` (never copied). Fragments are at most :func:`fragment_size`
    bytes; the last one carries the "last" bit unless ``last`` is False (more of the same
    message part follows in a later call). An empty ``data`` gives one empty fragment.

    Raises:
        ValueError: ``context_id`` outside 0..255, or ``peer_max_length`` too small.
    """

# ---- framing ----------------------------------------------------------------------------

@disjoint_base
class Framer:
    """Cuts a byte stream into whole PDUs (PS3.8 9.3.1), copying each PDU's bytes once.

    ``feed(chunk)`` takes any bytes-like chunk and returns the list of PDUs completed by it,
    each a bytes-like object holding header and body: a PDU of 1 KiB or more that lies whole
    inside an immutable ``bytes`` chunk is a memoryview into it (no copy); any other is
    copied once. With ``decode`` set, each PDU is decoded first: P-DATA-TF, A-ASSOCIATE-RJ,
    A-RELEASE-RQ/RP and A-ABORT here, A-ASSOCIATE-RQ/AC by calling ``decode(raw)``.
    A header that declares more than ``max_pdu_length`` is refused before anything is
    allocated for it; an unknown PDU type is refused at its first byte. After an error the
    framer stays failed: every later feed raises the same ProtocolError.
    """

    def __init__(
        self,
        max_pdu_length: int = ...,
        decode: Callable[[memoryview], Any] | None = None,
        errors_inline: bool = False,
    ) -> None:
        """``max_pdu_length``: the largest PDU-length field accepted, 0..2**32 - 1
        (default :data:`DEFAULT_MAX_PDU_LENGTH`). ``decode``: called with each whole
        A-ASSOCIATE-RQ/AC PDU (a byte memoryview); None hands on raw PDUs undecoded.
        ``errors_inline``: a PDU that frames but does not decode is returned as its
        ProtocolError, in its place, and framing goes on."""

    max_pdu_length: int
    """The largest PDU-length field accepted, 0..2**32 - 1; may be changed between feeds
    (it applies to the next PDU header read)."""

    max_pdata_length: int
    """When not 0, the largest P-DATA-TF PDU-length field accepted (our announced
    maximum length)."""

    def recv_buffer(self, size: int = 262144, scratch: bytearray | None = None) -> memoryview:
        """A writable buffer for ``socket.recv_into``; then call ``received(n)``
        (``scratch``: a shared buffer of at least ``size`` bytes to read into between
        PDUs)."""

    def received(self, n: int) -> list[Any]:
        """``n`` bytes were written into the last ``recv_buffer()``: the PDUs they
        complete, as ``feed()`` returns them."""

    @property
    def error(self) -> ProtocolError | None:
        """The ProtocolError that stopped this framer, or None."""

    @property
    def buffered(self) -> int:
        """Bytes held of a PDU not yet complete."""
    @property
    def missing(self) -> int:
        """Bytes still to come of the PDU being filled (0: between PDUs)."""

    def feed(self, data: _Buffer) -> list[Any]:
        """Take a chunk of the stream; return the PDUs it completes, in order: raw PDUs
        (bytes, bytearray or memoryview) without ``decode``, else decoded objects
        (:class:`PDataTF`, :class:`AssociateReject`, :class:`ReleaseRQ`,
        :class:`ReleaseRP`, :class:`Abort`, or what ``decode`` returns).

        Raises:
            ProtocolError: an unknown PDU type, a PDU-length over ``max_pdu_length``, a
                malformed PDU; and again on every later call.
        """
