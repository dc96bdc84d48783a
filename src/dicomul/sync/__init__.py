"""The blocking API: ``Net`` (the LEADTOOLS-style network handle with its callbacks),
``Association`` (the DIMSE requestor), ``Server`` (the acceptor) and ``store_all``.

    from dicomul.sync import Association, Server, contexts_for_files, verification_contexts

The names are imported on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dicomul._lazy import lazy_attributes

if TYPE_CHECKING:
    from dicomul.sync.net import Net
    from dicomul.sync.sending import StoreReport, StoreResult, store_all
    from dicomul.sync.server import AssociationInfo, Server, current_operation
    from dicomul.sync.services import (
        Association,
        ContextNotAccepted,
        Responses,
        StorageError,
        contexts_for_files,
        contexts_for_objects,
        contexts_for_pair,
        plan_associations,
        qr_contexts,
        storage_contexts,
        verification_contexts,
    )

_SERVICES = "dicomul.sync.services"
_NAMES = {
    **dict.fromkeys(
        (
            "Association",
            "ContextNotAccepted",
            "Responses",
            "StorageError",
            "contexts_for_files",
            "contexts_for_objects",
            "contexts_for_pair",
            "plan_associations",
            "qr_contexts",
            "storage_contexts",
            "verification_contexts",
        ),
        _SERVICES,
    ),  # fmt: skip
    **dict.fromkeys(("Server", "AssociationInfo", "current_operation"), "dicomul.sync.server"),
    **dict.fromkeys(("store_all", "StoreReport", "StoreResult"), "dicomul.sync.sending"),
    "Net": "dicomul.sync.net",
}
__all__ = [
    "Association",
    "AssociationInfo",
    "ContextNotAccepted",
    "Net",
    "Responses",
    "Server",
    "StorageError",
    "StoreReport",
    "StoreResult",
    "contexts_for_files",
    "contexts_for_objects",
    "contexts_for_pair",
    "current_operation",
    "plan_associations",
    "qr_contexts",
    "storage_contexts",
    "store_all",
    "verification_contexts",
]
assert set(__all__) == set(_NAMES)
__getattr__, __dir__ = lazy_attributes(__name__, _NAMES, globals())
