"""C-FIND attribute matching (PS3.4 C.2.2.2) over pydicom Datasets, without I/O.

A query key's value selects the kind of matching:

* empty (zero length): universal matching, everything matches (the key is returned);
* a UID list (``UI`` with ``\\``): any of the UIDs;
* ``*`` / ``?`` in a string that is not a date, time or UID: wildcard matching;
* ``a-b``, ``-b``, ``a-`` in a DA, TM or DT: range matching (inclusive);
* a sequence with one item: sequence matching, each key of the item against the items
  of the candidate's sequence (one item must match them all);
* anything else: single value matching, exact; PN values (and their wildcards) match
  without regard to case, as C.2.2.2.1 allows, so "smith*" finds "SMITH^JOHN".

:func:`matches` decides one candidate; :func:`key_kind` tells which kind a key is (the
SQL index translates the same kinds, and is tested against this module).
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

__all__ = ["matches", "key_kind", "wildcard_regex", "normal_time", "in_range", "as_text"]

_RANGED = frozenset({"DA", "TM", "DT"})
#: VRs without wildcard matching (C.2.2.2.4 lists the string VRs that have it).
_NO_WILDCARDS = frozenset(
    {"DA", "TM", "DT", "UI", "SQ", "IS", "DS", "US", "UL", "SS", "SL", "FL", "FD", "AT"}
)


def as_text(value: Any) -> str:
    """A key's value as the text it was sent as (several values joined with ``\\``)."""
    if value is None:
        return ""
    if isinstance(value, (list, tuple)) or type(value).__name__ == "MultiValue":
        return "\\".join(str(v) for v in value)
    return str(value)


def key_kind(vr: str, value: Any) -> str:
    """ "universal", "list", "wildcard", "range", "sequence" or "single"."""
    if vr == "SQ":
        return "sequence" if value else "universal"
    text = as_text(value)
    if text == "":
        return "universal"
    if vr == "UI" and "\\" in text:
        return "list"
    if vr in _RANGED and "-" in text:
        return "range"
    if vr not in _NO_WILDCARDS and ("*" in text or "?" in text):
        return "wildcard"
    return "single"


@lru_cache(maxsize=1024)
def wildcard_regex(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    """The regular expression of a C-FIND wildcard pattern (``*`` any run, ``?`` one)."""
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(body + r"\Z", re.DOTALL | (re.IGNORECASE if ignore_case else 0))


def normal_time(value: str) -> str:
    """A TM (or the time of a DT) without the ACR-NEMA colons."""
    return value.replace(":", "")


def in_range(vr: str, value: str, rng: str) -> bool:
    """Whether ``value`` (a DA, TM or DT) is in the range ``a-b`` / ``-b`` / ``a-``."""
    low, _, high = rng.partition("-")  # (a DT's UTC offset in a range is not supported)
    value, low, high = (
        normal_time(v) if vr != "DA" else v.replace(".", "") for v in (value, low, high)
    )
    if low and value < low:
        return False
    # a bound given to a coarser precision includes all of it: "1200" holds "120059"
    return not (high and value[: len(high)] > high)


def _values(elem: Any) -> list[str]:
    value = elem.value
    if value is None:
        return []
    if isinstance(value, (list, tuple)) or type(value).__name__ == "MultiValue":
        return [str(v) for v in value]
    return [str(value)]


def _match_element(key: Any, cand: Any) -> bool:
    vr = key.VR
    kind = key_kind(vr, key.value)
    if kind == "universal":
        return True
    if cand is None or cand.value in (None, "", b""):
        return False  # a key with a value does not match an empty or absent attribute
    if kind == "sequence":
        query = key.value[0]
        return any(matches(query, item) for item in cand.value)
    values = _values(cand)
    text = as_text(key.value)
    if kind == "list":
        wanted = set(text.split("\\"))
        return any(v in wanted for v in values)
    if kind == "range":
        return any(in_range(vr, v, text) for v in values)
    pn = vr == "PN"
    if kind == "wildcard":
        rx = wildcard_regex(text, pn)
        return any(rx.match(v) for v in values)
    if vr == "TM":
        return any(normal_time(v) == normal_time(text) for v in values)
    if pn:
        return any(v.lower() == text.lower() for v in values)
    return any(v.rstrip(" ") == text.rstrip(" ") for v in values)


_NOT_KEYS = frozenset({0x00080005, 0x00080052})  # Specific Character Set, Q/R Level


def matches(identifier: Any, candidate: Any) -> bool:
    """Whether ``candidate`` (a Dataset) matches every key of ``identifier``."""
    for key in identifier:
        if key.tag in _NOT_KEYS or key.tag.is_private or key.tag.group == 0x0002:
            continue
        if not _match_element(key, candidate.get(key.tag)):
            return False
    return True
