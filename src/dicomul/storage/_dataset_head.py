"""The SOP Class and SOP Instance UIDs of an encoded data set, read from its first bytes.

A C-STORE's Affected SOP Class/Instance UID must be the data set's own (0008,0016) and
(0008,0018) (PS3.4 B.2.1; DCMTK's storescp answers 0xA900 otherwise), and the file meta's
(0002,0002)/(0002,0003) sometimes disagree with them in real files. Both elements lie in
group 0008, near the start of every data set, so walking the element headers of the
first few kilobytes finds them without decoding anything (PS3.5 7.1: Implicit VR, Explicit
VR with 2- and 4-byte lengths, little and big endian).
"""

from __future__ import annotations

import struct
import zlib

__all__ = ["HEAD_BYTES", "LONG_VRS", "element_text", "inflate_head", "sop_uids", "element_values"]

#: Bytes of a data set read to find its SOP UIDs (group 0008 comes first).
HEAD_BYTES = 64 * 1024

#: Explicit VRs with a 2-byte reserved field and a 4-byte length (PS3.5 Table 7.1-1).
LONG_VRS = frozenset(b"OB OD OF OL OV OW SQ SV UC UN UR UT UV".split())
_SOP_CLASS, _SOP_INSTANCE = 0x00080016, 0x00080018
_SOP_TAGS = frozenset({_SOP_CLASS, _SOP_INSTANCE})
_UNDEFINED = 0xFFFFFFFF


def inflate_head(deflated: bytes, size: int = HEAD_BYTES) -> bytes:
    """The first ``size`` bytes (or fewer) of a deflated data set (PS3.5 A.5: raw
    deflate; a zlib header is tolerated). Empty if it does not inflate."""
    for wbits in (-zlib.MAX_WBITS, zlib.MAX_WBITS):
        try:
            return zlib.decompressobj(wbits).decompress(deflated, size)
        except zlib.error:
            continue
    return b""


def element_text(value: bytes) -> str:
    """A text or UI value without its padding (trailing NUL/space, leading space)."""
    return value.decode("ascii", "replace").rstrip("\x00 ").lstrip(" ")


def sop_uids(
    head: bytes, implicit: bool, little: bool, complete: bool
) -> tuple[str | None, str | None] | None:
    """(SOP Class UID, SOP Instance UID) of the data set whose first bytes are ``head``
    (``complete``: the whole data set), each None when the data set has no such element;
    None when the walk cannot tell (an element of undefined length, or the end of an
    incomplete ``head``, before both are passed)."""
    found = element_values(head, implicit, little, _SOP_TAGS, complete)
    if found is None:
        return None
    cls, inst = found.get(_SOP_CLASS), found.get(_SOP_INSTANCE)
    return (element_text(cls) if cls is not None else None,
            element_text(inst) if inst is not None else None)  # fmt: skip


def element_values(
    head: bytes, implicit: bool, little: bool, tags: frozenset[int], complete: bool
) -> dict[int, bytes] | None:
    """The raw values of the top-level elements ``tags`` of the data set whose first
    bytes are ``head`` (absent ones left out); None when the walk cannot tell (an element
    of undefined length, or the end of an incomplete ``head``, before the last of
    ``tags`` is passed). PS3.5 7.1: Implicit VR, Explicit VR with 2- and 4-byte lengths."""
    found: dict[int, bytes] = {}
    last = max(tags)
    end = "<" if little else ">"
    short = struct.Struct(end + "HH")
    u16, u32 = struct.Struct(end + "H"), struct.Struct(end + "I")
    pos, n = 0, len(head)
    while pos + 8 <= n:
        group, elem = short.unpack_from(head, pos)
        tag = group << 16 | elem
        if tag > last:
            return found
        if implicit or group == 0xFFFE:
            length, hlen = u32.unpack_from(head, pos + 4)[0], 8
        elif head[pos + 4 : pos + 6] in LONG_VRS:
            if pos + 12 > n:
                return None
            length, hlen = u32.unpack_from(head, pos + 8)[0], 12
        else:
            length, hlen = u16.unpack_from(head, pos + 6)[0], 8
        if length == _UNDEFINED:
            return None
        start = pos + hlen
        if tag in tags:
            if start + length > n:
                return None
            found[tag] = head[start : start + length]
        pos = start + length
    return found if complete and pos == n else None
