"""UID validity (PS3.5 9.1) and the C-STORE UID policy, the same when sending and receiving.

Policy: a C-STORE whose SOP Instance UID or SOP Class UID is not a valid UID (at most 64
characters, only digits and ".", no empty component, no leading zero in a component
other than "0") fails, as DCMTK and pynetdicom refuse such UIDs. Sending,
``Association.store`` raises :class:`~dicomul.storage.part10.StorageError` before anything is
sent; receiving (the storage SCP and a C-GET requestor), the request is answered with
0x0117 "Invalid SOP Instance" (0x0122 "SOP Class not supported" for the class UID),
nothing is stored, a warning is logged and the association goes on.
"""

from __future__ import annotations

import re

from dicomul.dimse.status import INVALID_OBJECT_INSTANCE, SOP_CLASS_NOT_SUPPORTED

__all__ = ["MAX_UID_LENGTH", "uid_problem", "is_valid_uid", "store_uid_error"]

#: The longest UID PS3.5 9.1 allows, in characters.
MAX_UID_LENGTH = 64
_ALLOWED = frozenset("0123456789.")
#: A valid UID, matched in C: the fast path (every C-STORE checks four UIDs).
_VALID = re.compile(r"(?:0|[1-9][0-9]*)(?:\.(?:0|[1-9][0-9]*))*", re.ASCII).fullmatch


def uid_problem(uid: object) -> str | None:
    """Why ``uid`` is not a valid UID by PS3.5 9.1 (a short phrase), or None if it is.

    Checked: a non-empty str of at most 64 characters, only ASCII digits and ".",
    no empty component (leading, trailing or doubled dot), no component with a
    leading zero (a component may be "0" itself)."""
    if type(uid) is str and len(uid) <= MAX_UID_LENGTH and _VALID(uid) is not None:
        return None
    if not isinstance(uid, str):
        return f"it is a {type(uid).__name__}, not a str"
    if not uid:
        return "it is empty"
    if len(uid) > MAX_UID_LENGTH:
        return f"it has {len(uid)} characters, more than {MAX_UID_LENGTH}"
    for i, c in enumerate(uid):
        if c not in _ALLOWED:
            return f"character {c!r} at position {i} is not a digit or '.'"
    for n, component in enumerate(uid.split("."), 1):
        if not component:
            return f"component {n} is empty (a leading, trailing or doubled '.')"
        if len(component) > 1 and component[0] == "0":
            return f"component {n} ({component!r}) has a leading zero"
    return None


def is_valid_uid(uid: object) -> bool:
    """True if ``uid`` is a valid UID by PS3.5 9.1 (see :func:`uid_problem`)."""
    return uid_problem(uid) is None


def store_uid_error(sop_class_uid: object, sop_instance_uid: object) -> tuple[int, str] | None:
    """``(status, message)`` for a C-STORE whose UIDs break PS3.5 9.1, or None if both
    are valid. The instance UID is checked first: 0x0117 "Invalid SOP Instance" (PS3.7
    Annex C, the status whose Affected SOP Instance UID "violated the UID construction
    rules"); then the class UID: 0x0122 "Refused: SOP Class not supported". The message
    says which UID, why, and that DCMTK and pynetdicom refuse it."""
    if (  # uid_problem's own first test for both UIDs, without the loop (per C-STORE)
        type(sop_instance_uid) is str and type(sop_class_uid) is str
        and len(sop_instance_uid) <= MAX_UID_LENGTH and len(sop_class_uid) <= MAX_UID_LENGTH
        and _VALID(sop_instance_uid) is not None and _VALID(sop_class_uid) is not None
    ):  # fmt: skip
        return None
    for status, what, uid in (
        (INVALID_OBJECT_INSTANCE, "SOP Instance UID", sop_instance_uid),
        (SOP_CLASS_NOT_SUPPORTED, "SOP Class UID", sop_class_uid),
    ):
        problem = uid_problem(uid)
        if problem is not None:
            return status, (
                f"{what} {uid!r} is not a valid UID (PS3.5 9.1): {problem}; "
                "DCMTK and pynetdicom refuse it"
            )
    return None
