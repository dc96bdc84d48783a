"""Presentation contexts to propose for the objects to send (one syntax per context for
compressed files, the uncompressed fallback only where dicomul can convert), the split
of a batch over associations (128 contexts each), and the UID check of the sending side.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from dicomul.dimse.request import MAX_CONTEXTS
from dicomul.dimse.sop import VERIFICATION, name_of
from dicomul.dimse.uids import store_uid_error
from dicomul.errors import ContextNotAccepted
from dicomul.storage.part10 import (
    Part10File,
    PreparedDataset,
    StorageError,
    prepare_dataset,
    read_part10,
)
from dicomul.storage.transcode import INSTALL_HINT, can_transcode
from dicomul.ul.constants import EXPLICIT_VR_LITTLE_ENDIAN, IMPLICIT_VR_LITTLE_ENDIAN

__all__ = [
    "prepare_to_send",
    "Contexts",
    "MAX_CONTEXTS",
    "verification_contexts",
    "storage_contexts",
    "contexts_for_files",
    "contexts_for_objects",
    "contexts_for_pair",
    "plan_associations",
    "refuse_invalid_uids",
    "sop_and_syntax",
    "sop_class_of",
    "context_error",
    "context_for",
    "prepare_store",
]

#: Proposed presentation contexts: (abstract syntax, transfer syntaxes) pairs.
Contexts = list[tuple[str, list[str]]]


_UNCOMPRESSED = (EXPLICIT_VR_LITTLE_ENDIAN, IMPLICIT_VR_LITTLE_ENDIAN)


def _dedup(items: Iterable[str]) -> list[str]:
    out: list[str] = []
    for x in items:
        if x not in out:
            out.append(x)
    return out


def _check_count(contexts: Contexts) -> Contexts:
    if len(contexts) > MAX_CONTEXTS:
        raise ValueError(
            f"{len(contexts)} presentation contexts needed, more than the {MAX_CONTEXTS} one "
            "association can carry (IDs are odd, 1..255): split the objects over several "
            "associations"
        )
    return contexts


def verification_contexts() -> Contexts:
    """One context: Verification with Explicit and Implicit VR Little Endian."""
    return [(VERIFICATION, list(_UNCOMPRESSED))]


def storage_contexts(
    sop_classes: Iterable[str], transfer_syntaxes: Sequence[str] = _UNCOMPRESSED
) -> Contexts:
    """One context per SOP class, each proposing ``transfer_syntaxes``. Raises
    ValueError beyond 128 contexts."""
    if isinstance(transfer_syntaxes, str):
        raise TypeError("transfer_syntaxes must be a sequence of UIDs, not a str")
    ts = _dedup(transfer_syntaxes)
    return _check_count([(uid, list(ts)) for uid in _dedup(sop_classes)])


def contexts_for_pair(sop_class: str, transfer_syntax: str | None) -> Contexts:
    """The contexts that let an object of ``sop_class`` in ``transfer_syntax`` be sent to
    any SCP, which may pick any syntax of a context (and real ones prefer uncompressed):

    - Implicit VR LE (the default syntax, that every SCP accepts): ``[ILE]``;
    - Explicit VR LE, or no syntax known (an in-memory data set): ``[ELE, ILE]``;
    - any other syntax (compressed, deflated, big endian) in a context of its own, so an
      SCP that accepts it takes it and the object goes as it is, plus the fallback
      ``[ELE, ILE]`` when dicomul can convert the object into it: always for deflated and
      big endian, with the codecs extra for compressed syntaxes (:mod:`dicomul.storage.transcode`).

    This is DCMTK storescu's one-syntax-per-context proposal for compressed files, with
    the uncompressed fallback only where it can be used."""
    if transfer_syntax == IMPLICIT_VR_LITTLE_ENDIAN:
        return [(sop_class, [IMPLICIT_VR_LITTLE_ENDIAN])]
    if transfer_syntax in (None, EXPLICIT_VR_LITTLE_ENDIAN):
        return [(sop_class, list(_UNCOMPRESSED))]
    out: Contexts = [(sop_class, [transfer_syntax])]
    if can_transcode(transfer_syntax):
        out.append((sop_class, list(_UNCOMPRESSED)))
    return out


def _pairs_to_contexts(pairs: Iterable[tuple[str, str | None]]) -> Contexts:
    return _check_count(_merge(contexts_for_pair(sop, ts) for sop, ts in pairs))


def _merge(groups: Iterable[Contexts]) -> Contexts:
    seen: set[tuple[str, tuple[str, ...]]] = set()
    out: Contexts = []
    for group in groups:
        for sop, syntaxes in group:
            if (sop, tuple(syntaxes)) not in seen:
                seen.add((sop, tuple(syntaxes)))
                out.append((sop, syntaxes))
    return out


def contexts_for_files(paths: Iterable[str | os.PathLike[str]]) -> Contexts:
    """Contexts to send these Part 10 files: :func:`contexts_for_pair` for each distinct
    (SOP class of the data set, transfer syntax), deduplicated. Only the file meta and
    the data set's first bytes are read. Raises ValueError beyond 128 contexts (see
    :func:`plan_associations` to split a batch instead), StorageError for a file that is
    not Part 10."""
    return _pairs_to_contexts(sop_and_syntax(read_part10(p)) for p in paths)


def plan_associations(objs: Iterable[Any]) -> list[tuple[Contexts, list[Any]]]:
    """Split ``objs`` (what :func:`contexts_for_objects` takes) into batches whose
    contexts fit in one association (128), in order: ``[(contexts, objects), ...]``."""
    plan: list[tuple[Contexts, list[Any]]] = []
    contexts: Contexts = []
    batch: list[Any] = []
    for obj in objs:
        own = contexts_for_pair(*sop_and_syntax(obj))
        merged = _merge([contexts, own])
        if len(merged) > MAX_CONTEXTS and batch:
            plan.append((contexts, batch))
            merged, batch = _merge([own]), []
        contexts = merged
        batch.append(obj)
    if batch:
        plan.append((contexts, batch))
    return plan


def contexts_for_objects(objs: Iterable[Any]) -> Contexts:
    """Like :func:`contexts_for_files` for anything ``storage.prepare_dataset`` takes
    (pydicom Datasets, Part10File, paths, ``(bytes, ts, sop_class, sop_instance)``)."""
    return _pairs_to_contexts(sop_and_syntax(o) for o in objs)


def sop_and_syntax(obj: Any) -> tuple[str, str | None]:
    """(SOP class UID, transfer syntax or None) of anything ``prepare_dataset`` takes."""
    if isinstance(obj, (str, os.PathLike)):
        obj = read_part10(obj)
    if isinstance(obj, Part10File):  # the data set's own class: what the C-STORE carries
        return obj.dataset_uids()[0], obj.meta.transfer_syntax
    if isinstance(obj, tuple):
        return str(obj[2]), str(obj[1])
    sop = getattr(obj, "SOPClassUID", None)
    if sop is None:
        raise StorageError("the data set has no SOP Class UID (0008,0016)")
    fm = getattr(obj, "file_meta", None)
    ts = getattr(fm, "TransferSyntaxUID", None) if fm is not None else None
    return str(sop), (str(ts) if ts else None)


def refuse_invalid_uids(prepared: PreparedDataset, prefix: str = "") -> None:
    """Raise StorageError (and close ``prepared``) if its SOP Class/Instance UIDs break
    the UID policy of :mod:`dicomul.dimse.uids`: the sending side of it, for every C-STORE
    dicomul makes (requestor and C-GET sub-operations)."""
    refused = store_uid_error(prepared.sop_class_uid, prepared.sop_instance_uid)
    if refused is not None:
        prepared.close()
        raise StorageError(f"{prefix}cannot send the data set: {refused[1]}")


def sop_class_of(obj: Any) -> str:
    """The SOP class UID of anything ``storage.prepare_dataset`` takes."""
    return sop_and_syntax(obj)[0]


def context_error(sop_class: str, what: str) -> ContextNotAccepted:
    """The error for an operation with no accepted context for its SOP class."""
    return ContextNotAccepted(
        f"no accepted presentation context for {name_of(sop_class)} ({sop_class}): "
        f"propose it when connecting, or the peer does not support {what}"
    )


def context_for(accepted: Mapping[int, tuple[str | None, str]], sop_class: str, what: str) -> int:
    """The ID of an accepted context for ``sop_class``; :func:`context_error` if none."""
    for pc_id, (abstract, _ts) in accepted.items():
        if abstract == sop_class:
            return pc_id
    raise context_error(sop_class, what)


def prepare_store(
    accepted: Mapping[int, tuple[str | None, str]], obj: Any
) -> tuple[int, PreparedDataset]:
    """The accepted presentation context to C-STORE ``obj`` on, and ``obj`` prepared for
    its transfer syntax (as it is when accepted, else converted or transcoded: see
    :func:`dicomul.storage.part10.prepare_dataset`). ``accepted``: ``{context ID:
    (abstract syntax, transfer syntax)}``. Raises StorageError when no accepted context
    suits the object (saying what to install when transcoding would), or when its UIDs
    break the UID policy."""
    sop, own_ts = sop_and_syntax(obj)
    choices = [(i, ts) for i, (a, ts) in accepted.items() if a == sop]
    if not choices:
        hint = ""
        if own_ts is not None and not can_transcode(own_ts):
            hint = (
                f"; it is in {own_ts}, and sending it in another syntax needs the "
                f"codecs extra: {INSTALL_HINT}"
            )
        raise StorageError(
            f"no accepted presentation context for {name_of(sop)} ({sop}): propose it "
            f"(e.g. contexts_for_files()) or the peer does not accept it{hint}"
        )
    prepared = prepare_dataset(obj, [ts for _, ts in choices])
    refuse_invalid_uids(prepared)
    return next(i for i, ts in choices if ts == prepared.transfer_syntax), prepared


def prepare_to_send(
    accepted: Mapping[int, tuple[str | None, str]], obj: Any
) -> tuple[int, PreparedDataset, Any]:
    """:func:`prepare_store`, plus what to queue for the data set (a small file read
    whole, see :func:`dicomul.storage.sources.preload`): ``(context ID, prepared,
    data)``. Blocking (it reads files): the asyncio API runs it in a worker thread."""
    from dicomul.storage.sources import preload

    pc_id, prepared = prepare_store(accepted, obj)
    try:
        data = preload(prepared.data)
    except BaseException:
        prepared.close()
        raise
    return pc_id, prepared, data
