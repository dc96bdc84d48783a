"""The acceptor's negotiation policy, shared by the blocking and the asyncio servers: which
presentation contexts a storage/Q-R server supports for a given A-ASSOCIATE-RQ, and the
decision (the A-ASSOCIATE-AC to send, or the reject) for it.

A server is described by duck-typed attributes (:class:`ServerConfig`): its AE title,
``contexts`` (explicit SupportedContexts, or None), the handlers it has (``on_find``,
``on_get``, ``on_move``), whether it stores (``store_dir``, ``on_store``, ``ignore``,
``accept_all_storage``), the AE allow-lists, ``max_pdu`` and ``prefer``.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

from dicomul.dimse.sop import (
    FIND_SOP_CLASSES,
    GET_SOP_CLASSES,
    MOVE_SOP_CLASSES,
    STORAGE_SOP_CLASSES,
    is_storage,
)
from dicomul.ul.associate import Associate
from dicomul.ul.constants import RejectReasonUser, RejectResult, RejectSource
from dicomul.ul.events import AssociateRejectResponse
from dicomul.ul.negotiation import SupportedContexts, check_request, negotiate

__all__ = ["ServerConfig", "base_contexts", "supported_for", "decide", "UNCOMPRESSED"]

log = logging.getLogger("dicomul")

UNCOMPRESSED = ("1.2.840.10008.1.2.1", "1.2.840.10008.1.2")


class ServerConfig(Protocol):
    """What :func:`decide` reads of a server."""

    ae_title: str
    contexts: SupportedContexts | None
    accept_all_storage: bool
    allowed_calling: Any
    allowed_called: Any
    max_pdu: int
    prefer: str
    store_dir: Any
    on_store: Any
    on_find: Any
    on_get: Any
    on_move: Any
    ignore: bool


def _stores(cfg: ServerConfig) -> bool:
    return bool(
        cfg.store_dir is not None
        or cfg.on_store is not None
        or cfg.ignore
        or cfg.accept_all_storage
        or cfg.on_get is not None
    )


_CACHE: dict[tuple[Any, ...], SupportedContexts] = {}


def base_contexts(cfg: ServerConfig) -> SupportedContexts:
    """The supported contexts before looking at a request: Verification, the Q/R SOP
    classes of the handlers that are set, those of its DIMSE-N services
    (``n_sop_classes``), and every storage SOP class in Explicit and
    Implicit VR Little Endian when the server stores (cached per configuration)."""
    if cfg.contexts is not None:
        return SupportedContexts(cfg.contexts)
    n_classes = tuple(getattr(cfg, "n_sop_classes", ()))
    key = (cfg.on_find is not None, cfg.on_get is not None, cfg.on_move is not None,
           _stores(cfg), n_classes)  # fmt: skip
    cached = _CACHE.get(key)
    if cached is not None:
        return cached
    supported = SupportedContexts().verification()
    services = (FIND_SOP_CLASSES, GET_SOP_CLASSES, MOVE_SOP_CLASSES)
    for uids, on in zip(services, key[:3], strict=True):
        for uid in sorted(uids) if on else ():
            supported.add(uid, UNCOMPRESSED)
    if key[3]:
        for uid in STORAGE_SOP_CLASSES:
            supported.add(uid, UNCOMPRESSED)
    for uid in n_classes:
        supported.add(uid, UNCOMPRESSED)
    _CACHE[key] = supported
    return supported


def supported_for(cfg: ServerConfig, rq: Associate) -> SupportedContexts:
    """The contexts supported for ``rq``: the base set, plus, for storage SOP classes,
    every transfer syntax the RQ offers (the requestor's first choice first) when
    ``accept_all_storage`` is set or when the requestor proposes SCP role for them to a
    server with ``on_get``."""
    base = base_contexts(cfg)
    roles = rq.role_selections
    offered = SupportedContexts()
    for pc in rq.presentation_contexts:
        uid = pc.abstract_syntax
        if not uid or not is_storage(uid) or not pc.transfer_syntaxes:
            continue
        if cfg.accept_all_storage or (cfg.on_get is not None and roles.get(uid, (1, 0))[1]):
            try:
                offered.add(uid, pc.transfer_syntaxes)
            except (TypeError, ValueError):  # a tolerantly decoded RQ: skip bad UIDs
                continue
    if not offered:
        return base
    return offered.extended(base)  # the base appended after the offered ones


def decide(cfg: ServerConfig, rq: Associate) -> Associate | AssociateRejectResponse:
    """The A-ASSOCIATE-AC for ``rq``, or the reject: the AE allow-lists first
    (:func:`~dicomul.ul.negotiation.check_request`), then PS3.7 D.3.3 negotiation. A local
    failure while negotiating is a transient reject, never an exception."""
    rj = check_request(rq, cfg.allowed_called, cfg.allowed_calling)
    if rj is not None:
        log.info("rejecting %r -> %r: reason %d", rq.calling, rq.called, rj.reason)
        return rj
    try:
        supported = supported_for(cfg, rq)
        roles = {uid: (True, True) for uid in supported if is_storage(uid)}
        return negotiate(
            rq,
            supported,
            roles=roles,
            max_length=cfg.max_pdu,
            ae_title=cfg.ae_title,
            # the asyncio server's window and SOP class extended negotiation hook
            async_window=getattr(cfg, "async_operations", None),
            extended=getattr(cfg, "on_extended", None),
            # accept_all_storage: the requestor's first choice wins (storescp +xa differs),
            # so two contexts of one SOP class in different syntaxes both get theirs
            prefer="requestor" if cfg.accept_all_storage else cfg.prefer,  # type: ignore[arg-type]
        )
    except Exception:  # noqa: BLE001 - a local failure: reject, do not die
        log.exception("negotiation failed")
        return AssociateRejectResponse(
            RejectResult.TRANSIENT, RejectSource.USER, RejectReasonUser.NO_REASON
        )
