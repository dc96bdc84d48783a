"""Building the A-ASSOCIATE-RQ a DIMSE requestor proposes, and saying in words why an
association was rejected: shared by the blocking and the asyncio requestors."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from dicomul.dimse.sop import GET_SOP_CLASSES, is_storage
from dicomul.errors import AssociationRejected
from dicomul.ul.associate import Associate

__all__ = ["MAX_CONTEXTS", "build_request", "describe_reject"]

#: Presentation context IDs are odd, 1..255: at most 128 contexts per association.
MAX_CONTEXTS = 128

_REJECT_REASONS = {
    (1, 1): "no reason given",
    (1, 2): "application context name not supported",
    (1, 3): "calling AE title not recognized",
    (1, 7): "called AE title not recognized",
    (2, 1): "no reason given",
    (2, 2): "protocol version not supported",
    (3, 1): "temporary congestion",
    (3, 2): "local limit exceeded",
}
_SOURCES = {1: "the service user", 2: "the service provider (ACSE)", 3: "the service provider"}


def build_request(
    *,
    calling_ae: str,
    called_ae: str,
    max_pdu: int,
    contexts: Sequence[tuple[str, Sequence[str]]],
    roles: Mapping[str, tuple[bool, bool]] | None = None,
    user_identity: tuple[Any, ...] | None = None,
    async_operations: tuple[int, int] | None = None,
    sop_class_extended: Mapping[str, bytes] | None = None,
    common_extended: Sequence[tuple[str, str, Sequence[str]]] = (),
) -> Associate:
    """The A-ASSOCIATE-RQ: ``contexts`` as (abstract syntax, transfer syntaxes) pairs with
    IDs 1, 3, 5... in order; ``roles``: SOP class -> (SCU, SCP) role selection (default:
    SCP role for every storage class when a C-GET class is proposed, so the peer can send
    its C-STORE sub-operations); ``user_identity``: arguments of
    :meth:`Associate.set_user_identity`; ``async_operations``: (invoked, performed) for a
    53H item (0 = unlimited; None: no item, PS3.7's 1/1); ``sop_class_extended``: SOP
    class -> application information (56H, PS3.7 D.3.3.5); ``common_extended``: (SOP
    class, service class, related general SOP classes) items (57H, D.3.3.6).
    ValueError/TypeError for bad arguments."""
    ctx = list(contexts)
    if not ctx:
        raise ValueError("propose at least one presentation context")
    if len(ctx) > MAX_CONTEXTS:
        raise ValueError(
            f"{len(ctx)} presentation contexts proposed, more than the {MAX_CONTEXTS} "
            "an association can carry (IDs are odd, 1..255)"
        )
    rq = Associate(request=True).default_associate()
    rq.set_calling(calling_ae)
    rq.set_called(called_ae)
    rq.set_max_length(True, max_pdu)
    for i, (abstract, syntaxes) in enumerate(ctx):
        if isinstance(syntaxes, str):
            raise TypeError(f"transfer syntaxes of {abstract} must be a sequence, not a str")
        rq.add_presentation(2 * i + 1, abstract, 0, list(syntaxes))
    if roles is None:
        wants_get = any(a in GET_SOP_CLASSES for a, _ in ctx)
        roles = {a: (True, True) for a, _ in ctx if wants_get and is_storage(a)}
    for uid, (scu, scp) in roles.items():
        pc_id = rq.find_abstract(uid)
        if pc_id == 0:
            raise ValueError(f"role selection for {uid}, which is not proposed")
        rq.set_role_select(pc_id, True, int(bool(scu)), int(bool(scp)))
    if user_identity is not None:
        rq.set_user_identity(*user_identity)
    if async_operations is not None:
        rq.set_async_operations(True, *async_operations)
    for uid, info in (sop_class_extended or {}).items():
        pc_id = rq.find_abstract(uid)
        if pc_id == 0:
            raise ValueError(f"extended negotiation for {uid}, which is not proposed")
        rq.set_extended(pc_id, info)
    for sop, service, related in common_extended:
        rq.add_common_extended(sop, service, related)
    return rq


def describe_reject(exc: AssociationRejected, where: str) -> str:
    """``where`` (e.g. "STORESCP@host:104") permanently/transiently rejected the
    association: the PS3.8 Table 9-21 reason in words, and by whom."""
    what = _REJECT_REASONS.get((exc.source, exc.reason), f"reason {exc.reason}")
    kind = "permanently" if exc.result == 1 else "transiently"
    src = _SOURCES.get(exc.source, f"source {exc.source}")
    return f"{where} {kind} rejected the association: {what} (by {src})"
