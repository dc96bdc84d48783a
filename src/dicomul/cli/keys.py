"""Query keys of the command line (``-k``), in DCMTK's syntax: a keyword or a tag
(``PatientName``, ``0010,0010``, ``(0010,0010)``, ``00100010``), ``=value`` or nothing
(universal matching), and paths into sequences with an item number::

    -k "ScheduledProcedureStepSequence[0].Modality=CT"
    -k "(0040,0100)[0].(0040,0002)=20260101-20261231"
    -k "ScheduledProcedureStepSequence[0].ScheduledStationAETitle"
    -k ScheduledProcedureStepSequence        (an empty sequence: universal)
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

__all__ = ["KeyArgumentError", "parse_keys"]

_BINARY_NUMBER_VRS = ("US", "SS", "UL", "SL", "UV", "SV", "FL", "FD")
_ITEM = re.compile(r"(.+?)\[(\d+)\]\Z")
_HEX = frozenset("0123456789abcdefABCDEF")


class KeyArgumentError(ValueError):
    """A -k argument that cannot be understood (the message says why)."""


def _tag(word: str, pair: str) -> int:
    from pydicom.datadict import tag_for_keyword

    word = word.strip()
    bare = word.replace("(", "").replace(")", "")
    if "," in bare or (len(bare) == 8 and set(bare) <= _HEX):
        g, _, e = bare.partition(",")
        try:
            return int(g, 16) << 16 | int(e, 16) if e else int(bare, 16)
        except ValueError:
            raise KeyArgumentError(f"-k {pair!r}: {word!r} is not a tag gggg,eeee") from None
    tag = tag_for_keyword(word)
    if tag is None:
        raise KeyArgumentError(f"-k {pair!r}: unknown keyword {word!r}")
    return int(tag)


def _vr(tag: int, pair: str) -> str:
    from pydicom.datadict import dictionary_VR

    try:
        return str(dictionary_VR(tag)).split(" or ")[0]  # "US or SS" and the like: the first
    except KeyError:
        raise KeyArgumentError(f"-k {pair!r}: ({tag >> 16:04X},{tag & 0xFFFF:04X}) is not in the "
                        "DICOM dictionary") from None  # fmt: skip


def _item(ds: Any, word: str, pair: str) -> Any:
    """The item ``Seq[n]`` of ``ds`` (made, with the items before it, when missing)."""
    from pydicom.dataset import Dataset

    m = _ITEM.match(word.strip())
    if m is None:
        raise KeyArgumentError(f"-k {pair!r}: {word!r} must name a sequence item, as Sequence[0]")
    tag = _tag(m.group(1), pair)
    if _vr(tag, pair) != "SQ":
        raise KeyArgumentError(f"-k {pair!r}: {m.group(1)!r} is not a sequence")
    if tag not in ds:
        ds.add_new(tag, "SQ", [])
    seq = ds[tag].value
    index = int(m.group(2))
    if index > 64:
        raise KeyArgumentError(f"-k {pair!r}: item number {index} is too large")
    while len(seq) <= index:
        seq.append(Dataset())
    return seq[index]


def _value(vr: str, value: str, pair: str) -> Any:
    if vr not in _BINARY_NUMBER_VRS:
        return value
    try:  # binary numbers: pydicom cannot encode a str
        convert = float if vr in ("FL", "FD") else int
        numbers = [convert(v) for v in value.split("\\")]
    except ValueError:
        raise KeyArgumentError(f"-k {pair!r}: {vr} needs numbers") from None
    return numbers[0] if len(numbers) == 1 else numbers


def add_key(ds: Any, pair: str) -> None:
    """Add one -k argument to the identifier ``ds``."""
    path, eq, value = pair.partition("=")
    parts = path.split(".")
    for word in parts[:-1]:
        ds = _item(ds, word, pair)
    last = parts[-1].strip()
    if _ITEM.match(last):  # "Seq[0]" alone: an empty item (every item's attributes)
        if eq and value:
            raise KeyArgumentError(f"-k {pair!r}: a sequence item takes no value")
        _item(ds, last, pair)
        return
    tag = _tag(last, pair)
    vr = _vr(tag, pair)
    if vr == "SQ":
        if value:
            raise KeyArgumentError(f"-k {pair!r}: a sequence takes items (Sequence[0].Key=...), "
                            "not a value")  # fmt: skip
        if tag not in ds:
            ds.add_new(tag, "SQ", [])
        return
    ds.add_new(tag, vr, _value(vr, value, pair) if value else None)


def parse_keys(pairs: Sequence[str], level: str | None) -> Any:
    """A query identifier from -k arguments; KeyArgumentError for one that is not understood."""
    from pydicom.dataset import Dataset

    ds = Dataset()
    if level:
        ds.QueryRetrieveLevel = level
    for pair in pairs:
        add_key(ds, pair)
    return ds
