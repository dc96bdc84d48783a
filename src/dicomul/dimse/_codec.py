"""The group-0000 command set codec behind :mod:`dicomul.dimse.messages` (PS3.7 6.3.1, Annex E).

Private: import the public names from :mod:`dicomul.dimse.messages`. See that module's docstring
for the rules this codec enforces.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from typing import Any

from dicomul.dimse._cmdset import encode_command_set, scan_command
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

_U32 = struct.Struct("<I")


# ----------------------------------------------------------------------------- encoding
def _name(elem: int) -> str:
    entry = COMMAND_ELEMENTS.get(elem) or RETIRED_COMMAND_ELEMENTS.get(elem)
    return f"(0000,{elem:04X}) {entry[0]}" if entry else f"(0000,{elem:04X})"


_VR_OF_KIND = {kind: vr for vr, kind in _KIND_OF_VR.items()}
_TEXT_LIMIT = {_AE: 16, _LO: 64}


def encode_fault(elem: int, kind: int, code: int, detail: Any) -> Exception:
    """The exception for a fault tuple of the compiled encoder (see _cmdset.pyx)."""
    name = _name(elem)
    vr = _VR_OF_KIND.get(kind if kind >= 0 else _US, "")
    if code == 1:  # E_TYPE
        expected = "int" if kind in (_US, _UL, -1) else "str"
        return TypeError(f"{name} is {vr}: expected {expected}, got {detail}")
    if code == 2:  # E_RANGE
        top = "65535" if kind != _UL else "2**32-1"
        return ValueError(f"{name} is {vr}: {detail} is outside 0..{top}")
    if code == 3:  # E_UID
        return ValueError(f"{name}: {detail!r} is not a UID (digits and dots, <= 64)")
    if code == 4:  # E_TEXT
        return ValueError(
            f"{name}: {detail!r} is not a valid {vr} value "
            f"(printable ASCII without backslash, <= {_TEXT_LIMIT[kind]} characters)"
        )
    if code == 5:  # E_TAG
        return ValueError(f"{name} is AT: {detail!r} is not a 32-bit tag")
    if code == 6:  # E_ODD_RAW
        return ValueError(f"{name}: raw value has odd length {detail}")
    if code == 7:  # E_RETIRED
        return TypeError(f"{name} is retired or unknown: give its value as bytes")
    return ValueError(f"{name} is required")  # E_REQUIRED (callers word their own)


def encode_command(fields: Mapping[int, Any]) -> bytes:
    """Encode ``{element: value}`` as a group-0000 command set (Implicit VR LE).

    Keys are element numbers of group 0000 (``0x0100`` or, equally, the full tag
    ``0x00000100``). (0000,0000) is ignored if given: Command Group Length is always
    computed and written first. Elements are written in ascending order; a value of
    ``None`` omits the element; a bytes-like value is written as it is. Raises
    TypeError/ValueError for bad keys or values.
    """
    elems = []
    for elem in sorted(fields):
        if not isinstance(elem, int) or not 0 <= elem <= 0xFFFF:
            raise ValueError(f"command elements are in group 0000: bad key {elem!r}")
        if elem:
            elems.append(elem)
    kinds = [_KIND.get(e, _RAW) for e in elems]
    values = [fields[e] for e in elems]
    out = encode_command_set(elems, kinds, values, _NOT_REQUIRED * len(elems), True)
    if type(out) is bytes:
        return out
    i, code, detail = out
    raise encode_fault(elems[i], kinds[i], code, detail)


_NOT_REQUIRED = (False,)


# ----------------------------------------------------------------------------- decoding
_DECODE_FAULTS = {
    -2: "a command set must start with (0000,0000) UL, length 4",
    -5: "truncated element header",
}


def decode_command(data: bytes | bytearray | memoryview) -> dict[int, Any]:
    """Decode a command set into ``{element: value}``, (0000,0000) included.

    The inverse of :func:`encode_command`: ``encode_command(decode_command(b)) == b`` for
    every well-formed, canonically padded ``b``. Raises :class:`DIMSEError` on anything
    malformed (see the module docstring).
    """
    if type(data) is not bytes:
        data = bytes(data)
    out = scan_command(data, _KIND)
    if type(out) is dict:
        return out
    raise _decode_fault(data, *out)


def _decode_fault(data: bytes, code: int, off: int, g: int, e: int, prev: int,
                  length: int) -> DIMSEError:  # fmt: skip
    """The DIMSEError for a fault tuple of the compiled decoder (see _cmdset.pyx)."""
    n = len(data)
    if code == -1:
        return DIMSEError(f"command set of {n} bytes is shorter than its group length element")
    if code in _DECODE_FAULTS:
        return DIMSEError(_DECODE_FAULTS[code], offset=off)
    if code in (-3, -4):
        gl = _U32.unpack_from(data, 8)[0]
        if code == -3:
            return DIMSEError(f"odd Command Group Length {gl}", offset=8)
        return DIMSEError(
            f"Command Group Length {gl} does not match the {n - 12} bytes that follow",
            offset=8,
        )
    if code == -6:
        return DIMSEError(f"element ({g:04X},{e:04X}) is not in group 0000", offset=off)
    if code == -7:
        return DIMSEError(
            f"(0000,{e:04X}) follows (0000,{prev:04X}): elements must be unique and "
            "in ascending order",
            offset=off,
        )
    if code == -8:
        return DIMSEError(f"{_name(e)}: length {length} runs past the end", offset=off)
    if code == -9:
        return DIMSEError(f"{_name(e)}: odd value length {length}", offset=off)
    if code == 4:
        return DIMSEError(f"{_name(e)}: value is not ASCII", offset=off)
    vr = {1: "US", 2: "UL", 3: "AT"}[code]
    return DIMSEError(f"{_name(e)} is {vr} but has length {length}", offset=off)
