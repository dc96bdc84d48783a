"""Argument checks for the Associate setters (ValueError / TypeError with clear messages),
and a few small helpers of associate.py.

Only local misuse is checked here; received PDUs are decoded tolerantly and never pass
through these functions.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Iterable
from typing import Any

from .constants import AE_TITLE_MAX_SIZE, IMPLEMENTATION_VERSION_NAME_MAX_SIZE, UID_MAX_SIZE

__all__ = [
    "check_int",
    "check_range",
    "check_index",
    "check_ae_title",
    "check_uid",
    "check_pc_id",
    "check_result",
    "check_role",
    "check_bytes",
    "check_implementation_version_name",
]

_UID_CHARS = re.compile(r"[0-9.]*\Z")
_INT_TYPES = (int,)


def check_int(name: str, value: object) -> int:
    """Return ``value`` if it is an int (bool excluded), else raise TypeError."""
    if not isinstance(value, _INT_TYPES) or isinstance(value, bool):
        raise TypeError(f"{name} must be an int, not {type(value).__name__}")
    return value


def check_range(name: str, value: object, low: int, high: int) -> int:
    """Return ``value`` if it is an int in ``low..high``; raise TypeError / ValueError."""
    v = check_int(name, value)
    if not low <= v <= high:
        raise ValueError(f"{name} {v} is out of range {low}..{high}")
    return v


def check_index(name: str, index: object, count: int) -> int:
    """Return a valid 0-based ``index`` into a list of ``count`` items; raise IndexError."""
    i = check_int(name, index)
    if not 0 <= i < count:
        if count == 0:
            raise IndexError(f"{name} {i} is out of range: there are no items")
        raise IndexError(f"{name} {i} is out of range 0..{count - 1}")
    return i


def check_ae_title(name: str, value: object) -> str:
    """Validate an AE title (PS3.8 Table 9-11, the AE VR) and return it without padding.

    Leading and trailing spaces are not significant and are stripped; what remains must
    be 1-16 ASCII characters without backslash or control characters.
    """
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, not {type(value).__name__}")
    title = value.strip(" ")
    if not title:
        raise ValueError(f"{name} {value!r} is empty or all spaces")
    for ch in title:
        o = ord(ch)
        if o < 0x20 or o == 0x7F:
            raise ValueError(f"{name} {value!r} contains a control character ({o:#04x})")
        if o > 0x7F:
            raise ValueError(f"{name} {value!r} contains a non-ASCII character {ch!r}")
        if ch == "\\":
            raise ValueError(f"{name} {value!r} contains a backslash")
    if len(title) > AE_TITLE_MAX_SIZE:
        raise ValueError(
            f"{name} {value!r} is {len(title)} characters long; the maximum is {AE_TITLE_MAX_SIZE}"
        )
    return title


def check_uid(name: str, value: object) -> str:
    """Validate a UID (PS3.5 9.1): 1-64 characters, digits and dots, no empty component,
    no leading or trailing dot, no component with a leading zero (except "0")."""
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, not {type(value).__name__}")
    if not value:
        raise ValueError(f"{name} is empty")
    if len(value) > UID_MAX_SIZE:
        raise ValueError(
            f"{name} {value!r} is {len(value)} characters long; the maximum is {UID_MAX_SIZE}"
        )
    if not _UID_CHARS.match(value):
        raise ValueError(f"{name} {value!r} contains characters other than digits and dots")
    if value[0] == "." or value[-1] == ".":
        raise ValueError(f"{name} {value!r} starts or ends with a dot")
    for comp in value.split("."):
        if not comp:
            raise ValueError(f"{name} {value!r} has an empty component")
        if len(comp) > 1 and comp[0] == "0":
            raise ValueError(f"{name} {value!r} has a component with a leading zero ({comp!r})")
    return value


def check_pc_id(value: object) -> int:
    """Validate a presentation context ID: odd, 1-255 (PS3.8 9.3.2.2)."""
    v = check_int("presentation context ID", value)
    if not 1 <= v <= 255:
        raise ValueError(f"presentation context ID {v} is out of range 1..255")
    if not v & 1:
        raise ValueError(f"presentation context ID {v} is even; IDs are odd numbers")
    return v


def check_result(value: object, request: bool) -> int:
    """Validate a presentation context result 0-4; in an A-ASSOCIATE-RQ it must be 0."""
    v = check_int("presentation context result", value)
    if not 0 <= v <= 4:
        raise ValueError(f"presentation context result {v} is out of range 0..4")
    if request and v != 0:
        raise ValueError(
            f"presentation context result {v} in an A-ASSOCIATE-RQ; a request carries 0"
        )
    return v


def check_role(name: str, value: object) -> int:
    """Validate a role selection value: 0 (unsupported) or 1 (supported); bools allowed."""
    if isinstance(value, bool):
        return int(value)
    v = check_int(name, value)
    if v not in (0, 1):
        raise ValueError(f"{name} {v} is not 0 (unsupported) or 1 (supported)")
    return v


def check_bytes(name: str, value: object, max_len: int = 0xFFFF) -> bytes:
    """Return bytes-like ``value`` as bytes if it is at most ``max_len`` bytes long."""
    if isinstance(value, str) or not isinstance(value, (bytes, bytearray, memoryview)):
        raise TypeError(f"{name} must be bytes-like, not {type(value).__name__}")
    b = bytes(value)
    if len(b) > max_len:
        raise ValueError(f"{name} is {len(b)} bytes long; the maximum is {max_len}")
    return b


def check_implementation_version_name(value: object) -> str:
    """Validate an implementation version name: 1-16 printable ASCII characters, no
    backslash (PS3.7 D.3.3.2, the SH VR). Leading and trailing spaces are not significant
    in SH (PS3.5 6.2) and are removed, as the decoder does."""
    if not isinstance(value, str):
        raise TypeError(f"implementation version name must be a str, not {type(value).__name__}")
    value = value.strip(" ")
    if not value:
        raise ValueError("implementation version name is empty (or only spaces)")
    if len(value) > IMPLEMENTATION_VERSION_NAME_MAX_SIZE:
        raise ValueError(
            f"implementation version name {value!r} is {len(value)} characters long; "
            f"the maximum is {IMPLEMENTATION_VERSION_NAME_MAX_SIZE}"
        )
    for ch in value:
        if not " " <= ch <= "~" or ch == "\\":
            raise ValueError(
                f"implementation version name {value!r} contains {ch!r}; only printable "
                "ASCII without backslash is allowed"
            )
    return value


def check_encodable(request: bool, called: str, calling: str, pcs: list[list[Any]]) -> None:
    """Raise ValueError when an Associate cannot form a valid A-ASSOCIATE-RQ/AC PDU."""
    if request:
        if not called or not calling:
            raise ValueError("an A-ASSOCIATE-RQ needs the called and calling AE titles")
        if not pcs:
            raise ValueError("an A-ASSOCIATE-RQ needs at least one presentation context")
        for pc in pcs:
            if pc[2] is None or not pc[3]:
                raise ValueError(
                    f"presentation context {pc[0]} needs an abstract syntax and at least "
                    "one transfer syntax"
                )
    else:
        for pc in pcs:
            if len(pc[3]) > 1 or (pc[1] == 0 and not pc[3]):
                raise ValueError(
                    f"presentation context {pc[0]} of an A-ASSOCIATE-AC has {len(pc[3])} "
                    "transfer syntaxes; an accepted one needs exactly one"
                )


# ---- small helpers shared with associate.py -------------------------------------------


_H = struct.Struct(">H")


def _lp(data: bytes) -> bytes:
    """A 2-byte big-endian length followed by the data."""
    return _H.pack(len(data)) + data


def _latin1(uid: str) -> bytes:
    return _lp(uid.encode("latin-1"))


def raw_value(item: tuple[Any, ...]) -> bytes:
    """The wire value of a decoded user-information tuple of _core (for repeated typed
    items, which Associate.decode keeps raw). 59H stays the bare server response: _core
    adds its length field when encoding."""
    t = item[0]
    if len(item) == 2 and isinstance(item[1], (bytes, bytearray)):
        return bytes(item[1])
    if t == 0x51:
        return struct.pack(">I", item[1])
    if t in (0x52, 0x55):
        return str(item[1]).encode("latin-1")
    if t == 0x53:
        return struct.pack(">HH", item[1], item[2])
    if t == 0x54:
        return _latin1(item[1]) + bytes((item[2], item[3]))
    if t == 0x56:
        return _latin1(item[1]) + item[2]  # type: ignore[no-any-return]
    if t == 0x57:
        rel = b"".join(_latin1(u) for u in item[3])
        return _latin1(item[1]) + _latin1(item[2]) + _lp(rel)
    if t == 0x58:
        return bytes((item[1], item[2])) + _lp(item[3]) + _lp(item[4])
    raise ValueError(f"cannot re-encode user information item {item!r}")  # pragma: no cover


def to_bytes(name: str, value: str | bytes | bytearray | memoryview) -> bytes:
    """``value`` as bytes: a str is UTF-8 encoded, a bytes-like is checked (<= 65535)."""
    if isinstance(value, str):
        return value.encode("utf-8")
    return check_bytes(name, value)


def user_items(
    max_length: int | None,
    impl_class: str | None,
    async_ops: tuple[int, int] | None,
    roles: dict[str, tuple[int, int]],
    impl_version: str | None,
    extended: dict[str, bytes],
    common: Iterable[Any],
    identity: Any,
    identity_response: bytes | None,
    raw: list[tuple[int, bytes]],
) -> list[tuple[Any, ...]]:
    """The user-information list for ``_core.encode_associate``, in ascending type order
    (51H, 52H, 53H, 54H..., 55H, 56H..., 57H..., 58H, 59H), then the raw items."""
    items: list[tuple[Any, ...]] = []
    if max_length is not None:
        items.append((0x51, max_length))
    if impl_class is not None:
        items.append((0x52, impl_class))
    if async_ops is not None:
        items.append((0x53, *async_ops))
    items.extend((0x54, uid, scu, scp) for uid, (scu, scp) in roles.items())
    if impl_version is not None:
        items.append((0x55, impl_version))
    items.extend((0x56, uid, info) for uid, info in extended.items())
    items.extend((0x57, c[0], c[1], list(c[2])) for c in common)
    if identity is not None:
        i = identity
        items.append((0x58, i.identity_type, int(i.positive_response), i.primary, i.secondary))
    if identity_response is not None:
        items.append((0x59, identity_response))  # _core adds its length field
    items.extend(raw)
    return items


def split_user_items(user: list[tuple[Any, ...]], common_type: Any, identity_type: Any) -> Any:
    """Sort a decoded user-information list into the typed fields, in one pass.

    Returns ``(max_length, impl_class, async, roles, impl_version, extended, common,
    identity, identity_response, raw)``. The first item of each kind (per SOP class for
    54H/56H/57H) is typed; repeats and unknown types go to ``raw`` as wire values.
    """
    ml = ic = asy = iv = ident = resp = None
    roles: dict[str, tuple[int, int]] = {}
    extended: dict[str, bytes] = {}
    common: dict[str, Any] = {}
    raw: list[tuple[int, bytes]] = []
    for item in user:
        t = item[0]
        n = len(item)
        if t == 0x51 and n == 2 and ml is None and isinstance(item[1], int):
            ml = item[1]
        elif t == 0x52 and n == 2 and ic is None and isinstance(item[1], str):
            ic = item[1]
        elif t == 0x53 and n == 3 and asy is None:
            asy = (item[1], item[2])
        elif t == 0x54 and n == 4 and item[1] not in roles:
            roles[item[1]] = (item[2], item[3])
        elif t == 0x55 and n == 2 and iv is None and isinstance(item[1], str):
            iv = item[1]
        elif t == 0x56 and n == 3 and item[1] not in extended:
            extended[item[1]] = item[2]
        elif t == 0x57 and n == 4 and item[1] not in common:
            common[item[1]] = common_type(item[1], item[2], tuple(item[3]))
        elif t == 0x58 and n == 5 and ident is None:
            ident = identity_type(item[1], item[3], item[4], bool(item[2]))
        elif t == 0x59 and n == 2 and resp is None:
            resp = item[1]
        else:
            raw.append((t, raw_value(item)))
    return ml, ic, asy, roles, iv, extended, common, ident, resp, raw
