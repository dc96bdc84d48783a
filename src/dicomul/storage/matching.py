"""C-FIND attribute matching (PS3.4 C.2.2.2) over pydicom Datasets, without I/O.

A query key's value selects the kind of matching:

* empty (zero length): universal matching, everything matches (the key is returned);
* a UID list (``UI`` with ``\\``): any of the UIDs;
* ``*`` / ``?`` in a string that is not a date, time or UID: wildcard matching;
* ``a-b``, ``-b``, ``a-`` in a DA, TM or DT: range matching (inclusive; a bound given to
  a coarser precision includes all of it; DT values and bounds with a UTC offset
  ``&ZZXX`` are compared as instants, a side without one read in the other's offset);
* a sequence with one item: sequence matching, each key of the item against the items
  of the candidate's sequence (one item must match them all);
* anything else: single value matching, exact; PN values (and their wildcards) match
  without regard to case, as C.2.2.2.1 allows, so "smith*" finds "SMITH^JOHN".

:func:`matches` decides one candidate, :func:`response_for` answers with it; :func:`key_kind`
tells which kind a key is (the SQL index translates the same kinds, and is tested against
this module).
"""

from __future__ import annotations

import calendar
import re
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from typing import Any

__all__ = [
    "matches",
    "key_kind",
    "wildcard_regex",
    "normal_time",
    "in_range",
    "as_text",
    "response_for",
    "selects",
    "is_key",
    "CONTROL_KEYS",
]

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
    if vr == "SQ":  # an item with no key that selects anything: universal (C.2.2.2.6)
        return "sequence" if value and selects(value[0]) else "universal"
    text = as_text(value)
    if text == "":
        return "universal"
    if vr == "UI" and "\\" in text:
        return "list"
    if vr in _RANGED and "-" in text and not (vr == "DT" and _DT.fullmatch(text.strip())):
        return "range"  # (a DT with a negative UTC offset is a single value)
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


#: A DT value (PS3.5 6.2): YYYY[MM[DD[HH[MM[SS[.F{1,6}]]]]]][&ZZXX].
_DT = re.compile(
    r"(\d{4})(?:(\d{2})(?:(\d{2})(?:(\d{2})(?:(\d{2})(?:(\d{2})(?:\.(\d{1,6}))?)?)?)?)?)?"
    r"([+-](?:0\d|1[0-4])[0-5]\d)?"
)


def _dt_bounds(rng: str) -> tuple[str, str] | None:
    """A DT range's bounds: the "-" between them is the one with a DT (or nothing) on
    each side (the others belong to negative UTC offsets); None if there is none."""
    for i, c in enumerate(rng):
        if c != "-":
            continue
        low, high = rng[:i].strip(), rng[i + 1 :].strip()
        if (not low or _DT.fullmatch(low)) and (not high or _DT.fullmatch(high)):
            return low, high
    return None


def _instant(dt: str, end: bool, offset: str | None) -> datetime | None:
    """The first (or with ``end`` the last) instant a DT denotes, in UTC, its missing
    UTC offset taken as ``offset`` (or none); None if it is not a valid DT."""
    m = _DT.fullmatch(dt)
    if m is None:
        return None
    year, month, day, hour, minute, second, frac, own = m.groups()
    y = int(year)
    mo = int(month or (12 if end else 1))
    try:
        last_day = calendar.monthrange(y, mo)[1] if 1 <= mo <= 12 else 0
        at = datetime(
            y, mo, int(day or (last_day if end else 1)), int(hour or (23 if end else 0)),
            int(minute or (59 if end else 0)),
            min(59, int(second or (59 if end else 0))),  # (a leap second: as :59)
            int((frac or "").ljust(6, "9" if end else "0")), tzinfo=timezone.utc,
        )  # fmt: skip
        zone = own or offset
        if zone:
            sign = -1 if zone[0] == "-" else 1
            at -= sign * timedelta(hours=int(zone[1:3]), minutes=int(zone[3:5]))
    except (ValueError, OverflowError):  # (not a date, or beyond year 1..9999 in UTC)
        return None
    return at


def _has_offset(*dts: str) -> bool:
    return any((m := _DT.fullmatch(d.strip())) is not None and m.group(8) for d in dts if d)


def _dt_in_range(value: str, low: str, high: str) -> bool:
    own = _DT.fullmatch(value)
    if own is None:
        return False
    for bound, end in ((low, False), (high, True)):
        if not bound:
            continue
        b = _DT.fullmatch(bound)
        zone_v, zone_b = own.group(8), b.group(8) if b is not None else None
        at = _instant(value, False, zone_b)
        edge = _instant(bound, end, zone_v)
        if at is None or edge is None or (at > edge if end else at < edge):
            return False
    return True


def selects(identifier: Any) -> bool:
    """Whether any key of ``identifier`` (a query, or a sequence key's item) has a value
    that selects, i.e. is not universal."""
    return any(key_kind(e.VR, e.value) != "universal" for e in identifier)


def is_key(tag: Any) -> bool:
    """Whether an element of a query (its pydicom Tag) is a key to match: not a control
    (CONTROL_KEYS), not private, not File Meta, not a group length (some toolkits send
    them)."""
    return not (tag in CONTROL_KEYS or tag.is_private or tag.group == 0x0002 or tag.element == 0)


def in_range(vr: str, value: str, rng: str) -> bool:
    """Whether ``value`` (a DA, TM or DT) is in the range ``a-b`` / ``-b`` / ``a-``."""
    if vr == "DT":
        bounds = _dt_bounds(rng)
        if bounds is None:
            return False
        if _has_offset(value, *bounds):  # compared as instants
            return _dt_in_range(value.strip(), *bounds)
    low, _, high = rng.partition("-")
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


#: Elements of a query that are not matched: Specific Character Set, Query/Retrieve Level
#: and View, and what the SCP fills in itself (Retrieve AE Title, Instance Availability,
#: Retrieve URL and Location UID); Timezone Offset From UTC qualifies the query's values
#: (PS3.4 C.2.2.2.5: not taken into account here, but not matched either).
CONTROL_KEYS = frozenset(
    {0x00080005, 0x00080052, 0x00080053, 0x00080054, 0x00080056, 0x00080201, 0x00081190,
     0x0040E011}
)  # fmt: skip


def matches(identifier: Any, candidate: Any) -> bool:
    """Whether ``candidate`` (a Dataset) matches every key of ``identifier``."""
    for key in identifier:
        if is_key(key.tag) and not _match_element(key, candidate.get(key.tag)):
            return False
    return True


def response_for(identifier: Any, candidate: Any) -> Any:
    """The C-FIND response for a matching ``candidate`` (a Dataset): each key of the query
    with the candidate's value (empty when it has none); a sequence key gives the
    candidate's sequence items that match its item, with that item's keys."""
    from pydicom.dataset import Dataset

    out = Dataset()
    charset = candidate.get(0x00080005)
    if charset is not None:
        out.add(charset)
    for key in identifier:
        if key.tag.group == 0x0002 or key.tag == 0x00080005:
            continue
        have = candidate.get(key.tag)
        if key.VR == "SQ":
            items = list(have.value) if have is not None and have.value else []
            if key.value and len(key.value[0]):  # (an empty item: the whole sequence)
                sub = key.value[0]
                items = [response_for(sub, it) for it in items if matches(sub, it)]
            out.add_new(key.tag, "SQ", items)
        else:
            out.add_new(key.tag, key.VR, have.value if have is not None else None)
    return out
