"""The group-0000 command set codec behind :mod:`dicomul.dimse` (PS3.7 6.3.1, Annex E).

Private: import the public names from :mod:`dicomul.dimse`. See that module's docstring
for the rules this codec enforces.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from dicomul.errors import DIMSEError

__all__ = [
    "DIMSEError",
    "DATASET_PRESENT",
    "NO_DATASET",
    "COMMAND_ELEMENTS",
    "RETIRED_COMMAND_ELEMENTS",
    "encode_command",
    "decode_command",
]


#: Command Data Set Type (0000,0800) written when a data set follows (DCMTK and pynetdicom
#: write the same; PS3.7 only requires "not 0101H").
DATASET_PRESENT = 0x0001
#: Command Data Set Type (0000,0800) meaning "no data set" (PS3.7 E.1).
NO_DATASET = 0x0101

# VR kinds. RAW: kept as bytes (retired or unknown elements).
_US, _UL, _UI, _AE, _LO, _AT, _RAW = range(7)
_KIND_OF_VR = {"US": _US, "UL": _UL, "UI": _UI, "AE": _AE, "LO": _LO, "AT": _AT}

#: PS3.7 Table E.1-1: element number -> (keyword, VR).
COMMAND_ELEMENTS: Mapping[int, tuple[str, str]] = {
    0x0000: ("CommandGroupLength", "UL"),
    0x0002: ("AffectedSOPClassUID", "UI"),
    0x0003: ("RequestedSOPClassUID", "UI"),
    0x0100: ("CommandField", "US"),
    0x0110: ("MessageID", "US"),
    0x0120: ("MessageIDBeingRespondedTo", "US"),
    0x0600: ("MoveDestination", "AE"),
    0x0700: ("Priority", "US"),
    0x0800: ("CommandDataSetType", "US"),
    0x0900: ("Status", "US"),
    0x0901: ("OffendingElement", "AT"),
    0x0902: ("ErrorComment", "LO"),
    0x0903: ("ErrorID", "US"),
    0x1000: ("AffectedSOPInstanceUID", "UI"),
    0x1001: ("RequestedSOPInstanceUID", "UI"),
    0x1002: ("EventTypeID", "US"),
    0x1005: ("AttributeIdentifierList", "AT"),
    0x1008: ("ActionTypeID", "US"),
    0x1020: ("NumberOfRemainingSuboperations", "US"),
    0x1021: ("NumberOfCompletedSuboperations", "US"),
    0x1022: ("NumberOfFailedSuboperations", "US"),
    0x1023: ("NumberOfWarningSuboperations", "US"),
    0x1030: ("MoveOriginatorApplicationEntityTitle", "AE"),
    0x1031: ("MoveOriginatorMessageID", "US"),
}

#: PS3.7 Table E.2-1 (retired): decoded and re-encoded as raw bytes.
RETIRED_COMMAND_ELEMENTS: Mapping[int, tuple[str, str]] = {
    0x0001: ("CommandLengthToEnd", "UL"),
    0x0010: ("CommandRecognitionCode", "SH"),
    0x0200: ("Initiator", "AE"),
    0x0300: ("Receiver", "AE"),
    0x0400: ("FindLocation", "AE"),
    0x0850: ("NumberOfMatches", "US"),
    0x0860: ("ResponseSequenceNumber", "US"),
    0x4000: ("DialogReceiver", "LT"),
    0x4010: ("TerminalType", "LT"),
    0x5010: ("MessageSetID", "SH"),
    0x5020: ("EndMessageID", "SH"),
    0x5110: ("DisplayFormat", "LT"),
    0x5120: ("PagePositionID", "LT"),
    0x5130: ("TextFormatID", "CS"),
    0x5140: ("NormalReverse", "CS"),
    0x5150: ("AddGrayScale", "CS"),
    0x5160: ("Borders", "CS"),
    0x5170: ("Copies", "IS"),
    0x5180: ("CommandMagnificationType", "CS"),
    0x5190: ("Erase", "CS"),
    0x51A0: ("Print", "CS"),
    0x51B0: ("Overlays", "US"),
}

_KIND: dict[int, int] = {e: _KIND_OF_VR[vr] for e, (_kw, vr) in COMMAND_ELEMENTS.items()}

_HDR = struct.Struct("<HHI")
_US_ELEM = struct.Struct("<HHIH")
_UL_ELEM = struct.Struct("<HHII")
_U32 = struct.Struct("<I")
_GROUP_LENGTH_HDR = _HDR.pack(0, 0, 4)
_UI_DELETE = b"0123456789."


# ----------------------------------------------------------------------------- encoding
def _name(elem: int) -> str:
    entry = COMMAND_ELEMENTS.get(elem) or RETIRED_COMMAND_ELEMENTS.get(elem)
    return f"(0000,{elem:04X}) {entry[0]}" if entry else f"(0000,{elem:04X})"


def _enc_us(elem: int, value: int) -> bytes:
    if type(value) is not int and not isinstance(value, int):
        raise TypeError(f"{_name(elem)} is US: expected int, got {type(value).__name__}")
    if not 0 <= value <= 0xFFFF:
        raise ValueError(f"{_name(elem)} is US: {value} is outside 0..65535")
    return _US_ELEM.pack(0, elem, 2, value)


def _enc_ul(elem: int, value: int) -> bytes:
    if not isinstance(value, int):
        raise TypeError(f"{_name(elem)} is UL: expected int, got {type(value).__name__}")
    if not 0 <= value <= 0xFFFFFFFF:
        raise ValueError(f"{_name(elem)} is UL: {value} is outside 0..2**32-1")
    return _UL_ELEM.pack(0, elem, 4, value)


def _enc_ui(elem: int, value: str) -> bytes:
    if not isinstance(value, str):
        raise TypeError(f"{_name(elem)} is UI: expected str, got {type(value).__name__}")
    raw = value.encode("ascii", "replace")
    if len(raw) > 64 or raw.translate(None, _UI_DELETE):
        raise ValueError(f"{_name(elem)}: {value!r} is not a UID (digits and dots, <= 64)")
    if len(raw) & 1:
        raw += b"\0"
    return _HDR.pack(0, elem, len(raw)) + raw


def _enc_text(elem: int, value: str, limit: int, vr: str) -> bytes:
    if not isinstance(value, str):
        raise TypeError(f"{_name(elem)} is {vr}: expected str, got {type(value).__name__}")
    if len(value) > limit or "\\" in value or not value.isprintable() or not value.isascii():
        raise ValueError(
            f"{_name(elem)}: {value!r} is not a valid {vr} value "
            f"(printable ASCII without backslash, <= {limit} characters)"
        )
    raw = value.encode("ascii")
    if len(raw) & 1:
        raw += b" "
    return _HDR.pack(0, elem, len(raw)) + raw


def _enc_ae(elem: int, value: str) -> bytes:
    return _enc_text(elem, value, 16, "AE")


def _enc_lo(elem: int, value: str) -> bytes:
    return _enc_text(elem, value, 64, "LO")


def _enc_at(elem: int, value: int | Iterable[int]) -> bytes:
    tags = (value,) if isinstance(value, int) else tuple(value)
    out = bytearray(_HDR.pack(0, elem, 4 * len(tags)))
    for tag in tags:
        if not isinstance(tag, int) or not 0 <= tag <= 0xFFFFFFFF:
            raise ValueError(f"{_name(elem)} is AT: {tag!r} is not a 32-bit tag")
        out += struct.pack("<HH", tag >> 16, tag & 0xFFFF)
    return bytes(out)


def _enc_raw(elem: int, value: bytes | bytearray | memoryview) -> bytes:
    raw = bytes(value)
    if len(raw) & 1:
        raise ValueError(f"{_name(elem)}: raw value has odd length {len(raw)}")
    return _HDR.pack(0, elem, len(raw)) + raw


_ENCODERS: dict[int, Callable[[int, Any], bytes]] = {
    _US: _enc_us,
    _UL: _enc_ul,
    _UI: _enc_ui,
    _AE: _enc_ae,
    _LO: _enc_lo,
    _AT: _enc_at,
}


def _encode_element(elem: int, value: Any) -> bytes:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return _enc_raw(elem, value)
    kind = _KIND.get(elem, _RAW)
    if kind == _RAW:
        raise TypeError(f"{_name(elem)} is retired or unknown: give its value as bytes")
    return _ENCODERS[kind](elem, value)


def _with_group_length(parts: list[bytes]) -> bytes:
    body = b"".join(parts)
    return _GROUP_LENGTH_HDR + _U32.pack(len(body)) + body


def encode_command(fields: Mapping[int, Any]) -> bytes:
    """Encode ``{element: value}`` as a group-0000 command set (Implicit VR LE).

    Keys are element numbers of group 0000 (``0x0100`` or, equally, the full tag
    ``0x00000100``). (0000,0000) is ignored if given: Command Group Length is always
    computed and written first. Elements are written in ascending order; a value of
    ``None`` omits the element. Raises TypeError/ValueError for bad keys or values.
    """
    parts = []
    for elem in sorted(fields):
        if not isinstance(elem, int) or not 0 <= elem <= 0xFFFF:
            raise ValueError(f"command elements are in group 0000: bad key {elem!r}")
        value = fields[elem]
        if elem and value is not None:
            parts.append(_encode_element(elem, value))
    return _with_group_length(parts)


# ----------------------------------------------------------------------------- decoding
def _text(data: bytes, start: int, end: int, elem: int) -> str:
    try:
        return data[start:end].decode("ascii")
    except UnicodeDecodeError:
        raise DIMSEError(f"{_name(elem)}: value is not ASCII", offset=start) from None


def decode_command(data: bytes | bytearray | memoryview) -> dict[int, Any]:
    """Decode a command set into ``{element: value}``, (0000,0000) included.

    The inverse of :func:`encode_command`: ``encode_command(decode_command(b)) == b`` for
    every well-formed, canonically padded ``b``. Raises :class:`DIMSEError` on anything
    malformed (see the module docstring).
    """
    if type(data) is not bytes:
        data = bytes(data)
    n = len(data)
    if n < 12:
        raise DIMSEError(f"command set of {n} bytes is shorter than its group length element")
    g, e, length = _HDR.unpack_from(data, 0)
    if g or e or length != 4:
        raise DIMSEError("a command set must start with (0000,0000) UL, length 4", offset=0)
    group_length = _U32.unpack_from(data, 8)[0]
    if group_length & 1:
        raise DIMSEError(f"odd Command Group Length {group_length}", offset=8)
    if group_length != n - 12:
        raise DIMSEError(
            f"Command Group Length {group_length} does not match the {n - 12} bytes that follow",
            offset=8,
        )
    out: dict[int, Any] = {0: group_length}
    kinds = _KIND
    unpack = _HDR.unpack_from
    off = 12
    prev = 0
    while off < n:
        if off + 8 > n:
            raise DIMSEError("truncated element header", offset=off)
        g, e, length = unpack(data, off)
        if g:
            raise DIMSEError(f"element ({g:04X},{e:04X}) is not in group 0000", offset=off)
        if e <= prev:
            raise DIMSEError(
                f"(0000,{e:04X}) follows (0000,{prev:04X}): elements must be unique and "
                "in ascending order",
                offset=off,
            )
        start = off + 8
        end = start + length
        if end > n:
            raise DIMSEError(f"{_name(e)}: length {length} runs past the end", offset=off)
        if length & 1:
            raise DIMSEError(f"{_name(e)}: odd value length {length}", offset=off)
        kind = kinds.get(e, _RAW)
        if kind == _US:
            if length != 2:
                raise DIMSEError(f"{_name(e)} is US but has length {length}", offset=off)
            value: Any = data[start] | data[start + 1] << 8
        elif kind == _UI:
            value = _text(data, start, end, e).rstrip("\0 ")
        elif kind == _AE or kind == _LO:
            value = _text(data, start, end, e).strip(" \0")
        elif kind == _AT:
            if length & 3:
                raise DIMSEError(f"{_name(e)} is AT but has length {length}", offset=off)
            value = tuple(
                (data[i] | data[i + 1] << 8) << 16 | data[i + 2] | data[i + 3] << 8
                for i in range(start, end, 4)
            )
        elif kind == _UL:
            if length != 4:
                raise DIMSEError(f"{_name(e)} is UL but has length {length}", offset=off)
            value = _U32.unpack_from(data, start)[0]
        else:
            value = data[start:end]
        out[e] = value
        prev = e
        off = end
    return out
