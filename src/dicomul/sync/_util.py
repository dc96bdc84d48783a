"""Helpers shared by the requestor (:mod:`dicomul.sync.services`) and the acceptor
(:mod:`dicomul.sync.server`): presentation context lists, message IDs, the storage SCP
machinery that both need (a C-GET requestor is a storage SCP too), and small adapters.

Private: the public names are re-exported by :mod:`dicomul.sync.services` and
:mod:`dicomul.sync.server`.
"""

from __future__ import annotations

import itertools
import logging
import os
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, BinaryIO

from dicomul._record import Factory, record
from dicomul.dimse.messages import CStoreRQ, DIMSEMessage, decode_message
from dicomul.dimse.sop import VERIFICATION, name_of
from dicomul.dimse.status import (
    CANNOT_UNDERSTAND,
    OUT_OF_RESOURCES,
    SOP_CLASS_NOT_SUPPORTED,
    SUCCESS,
)
from dicomul.dimse.uids import store_uid_error
from dicomul.errors import DicomULError
from dicomul.storage.part10 import (
    DiscardWriter,
    FileMeta,
    Part10File,
    Part10Writer,
    PreparedDataset,
    StorageError,
    read_part10,
)
from dicomul.storage.transcode import can_transcode
from dicomul.ul.associate import Associate
from dicomul.ul.constants import (
    EXPLICIT_VR_LITTLE_ENDIAN,
    IMPLEMENTATION_CLASS_UID,
    IMPLEMENTATION_VERSION_NAME,
    IMPLICIT_VR_LITTLE_ENDIAN,
)

if TYPE_CHECKING:
    from pathlib import Path

__all__ = [
    "AssociationInfo",
    "ContextNotAccepted",
    "Contexts",
    "MAX_CONTEXTS",
    "MessageIDs",
    "StoreReceiver",
    "verification_contexts",
    "storage_contexts",
    "contexts_for_files",
    "contexts_for_objects",
    "contexts_for_pair",
    "plan_associations",
    "refuse_invalid_uids",
    "sop_and_syntax",
    "sop_class_of",
    "file_chunks",
    "send_form",
    "store_response",
    "decode_command_quietly",
    "context_error",
]

log = logging.getLogger("dicomul")

#: Proposed presentation contexts: (abstract syntax, transfer syntaxes) pairs.
Contexts = list[tuple[str, list[str]]]
#: Presentation context IDs are odd, 1..255: at most 128 contexts per association.
MAX_CONTEXTS = 128
_UNCOMPRESSED = (EXPLICIT_VR_LITTLE_ENDIAN, IMPLICIT_VR_LITTLE_ENDIAN)
_CHUNK = 4 * 1024 * 1024


class ContextNotAccepted(DicomULError, LookupError):
    """No accepted presentation context can carry the requested operation."""


@record
class AssociationInfo:
    """What a handler may want to know about the association a request came on."""

    calling_ae: str
    called_ae: str
    peer_address: tuple[Any, ...] | None
    request: Associate | None = None
    contexts: dict[int, tuple[str, str]] = Factory(dict)


class MessageIDs:
    """Message IDs for one association: 1, 2, ... 65535, then 1 again (thread-safe)."""

    def __init__(self) -> None:
        self._it = itertools.cycle(range(1, 0x10000))
        self._lock = threading.Lock()

    def next(self) -> int:
        """The next message ID."""
        with self._lock:
            return next(self._it)


# ---- presentation contexts --------------------------------------------------------------


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


def file_chunks(f: BinaryIO, size: int = _CHUNK) -> Iterator[bytes]:
    """Read ``f`` in chunks as the sender pulls them, and close it when done (or when the
    generator is dropped, e.g. after an abort)."""
    try:
        while True:
            chunk = f.read(size)
            if not chunk:
                return
            yield chunk
    finally:
        f.close()


class FileSource:
    """A file data set for Net.send_data: iterated, it is read in chunks and closed at the
    end (or when dropped); on a plain TCP socket it is mapped from the file instead, as a
    FileRegion (see _pdata.message_batches), when the file offers one. Either way the
    file is closed once the sender is done with it (a mapping keeps its own reference
    to the file)."""

    __slots__ = ("file",)

    def __init__(self, file: BinaryIO) -> None:
        self.file = file

    def __iter__(self) -> Iterator[bytes]:
        return file_chunks(self.file)

    def file_region(self) -> Any:
        region = getattr(self.file, "file_region", None)
        return region() if region is not None else None

    def sent(self) -> None:
        """The sender is done with it (sent, or dropped): close the file."""
        self.file.close()


def send_form(data: Any) -> Any:
    """What Net.send_data should get for a prepared data set: files are streamed."""
    if hasattr(data, "read"):
        return FileSource(data)
    return data


# ---- the storage SCP side (server C-STORE and requestor C-GET) --------------------------


class _Guard:
    """Wraps a writer given to Net's dataset sink: a failing write must not raise in the
    I/O thread (that would end the connection without a C-STORE-RSP), so the first error
    is kept and later writes are dropped."""

    __slots__ = ("writer", "meta", "error")

    def __init__(self, writer: Any, meta: FileMeta) -> None:
        self.writer = writer
        self.meta = meta
        self.error: BaseException | None = None

    def write(self, data: Any) -> int:
        if self.error is None:
            try:
                self.writer.write(data)
            except Exception as exc:  # noqa: BLE001 - reported as a status
                self.error = exc
                log.warning("writing %s failed: %s", self.meta.sop_instance_uid, exc)
        return len(data)


#: ``deliver(meta, data) -> status``: data is the committed Path or the data set bytes.
Deliver = Callable[[FileMeta, "bytes | Path"], int]


class StoreReceiver:
    """Receives C-STORE data sets: streamed into a Part 10 file in ``directory``, thrown
    away (``ignore``), or kept in memory, then handed to ``deliver`` for a status.

    ``sink(ts, command)`` is what Net's dataset_sink calls (returns the writer or None);
    ``complete(rq, ts, dataset)`` commits and returns the status to answer with; the
    success status is only returned once the file is committed (renamed into place,
    fsync'ed if asked). ``abort_pending()`` drops a half-received file. A request whose
    SOP Instance or Class UID is not a valid UID is answered 0x0117 or 0x0122 and its
    data set dropped, never stored nor delivered (:func:`dicomul.dimse.uids.store_uid_error`).
    """

    def __init__(
        self,
        *,
        directory: str | os.PathLike[str] | None = None,
        deliver: Deliver | None = None,
        ignore: bool = False,
        fsync: bool = False,
        source_ae: str | None = None,
    ) -> None:
        from pathlib import Path

        self.directory = Path(directory) if directory is not None else None
        self.deliver = deliver
        self.ignore = ignore
        self.fsync = fsync
        self.source_ae = source_ae
        self._pending: _Guard | None = None
        if self.directory is not None:
            self.directory.mkdir(parents=True, exist_ok=True)

    def meta(self, rq: CStoreRQ, ts: str) -> FileMeta:
        """The file meta of a received data set."""
        return FileMeta(
            ts,
            rq.affected_sop_class_uid,
            rq.affected_sop_instance_uid,
            implementation_class_uid=IMPLEMENTATION_CLASS_UID,
            implementation_version_name=IMPLEMENTATION_VERSION_NAME,
            source_ae_title=self.source_ae or None,
        )

    def sink(self, ts: str, command: bytes) -> _Guard | None:
        """Choose where a C-STORE data set goes once its command set is known."""
        if not self.ignore and self.directory is None:
            return None
        try:
            msg = decode_message(command)
        except DicomULError:
            return None  # answered (or aborted) when the message completes
        if not isinstance(msg, CStoreRQ):
            return None
        meta = self.meta(msg, ts)
        if store_uid_error(msg.affected_sop_class_uid, msg.affected_sop_instance_uid):
            return _Guard(DiscardWriter(), meta)  # refused by complete(): nothing is written
        try:
            writer: Any = (
                DiscardWriter()
                if self.ignore
                else Part10Writer(self.directory, meta, fsync=self.fsync)  # type: ignore[arg-type]
            )
        except Exception as exc:  # noqa: BLE001 - e.g. the directory went away
            log.warning("cannot store %s: %s", msg.affected_sop_instance_uid, exc)
            writer = DiscardWriter()
            guard = _Guard(writer, meta)
            guard.error = exc
            return guard
        self._pending = guard = _Guard(writer, meta)
        return guard

    def complete(self, rq: CStoreRQ, ts: str, dataset: Any) -> int:
        """The status to answer the C-STORE-RQ with, after storing its data set."""
        self._pending = None
        refused = store_uid_error(rq.affected_sop_class_uid, rq.affected_sop_instance_uid)
        if refused is not None:
            if isinstance(dataset, _Guard):
                _abort(dataset.writer)
            log.warning("C-STORE refused with status 0x%04X: %s", refused[0], refused[1])
            return refused[0]
        if isinstance(dataset, _Guard):
            if dataset.error is not None:
                _abort(dataset.writer)
                return OUT_OF_RESOURCES
            try:
                path = dataset.writer.commit()
            except Exception as exc:  # noqa: BLE001 - disk full, rename failed...
                log.warning("committing %s failed: %s", rq.affected_sop_instance_uid, exc)
                _abort(dataset.writer)
                return OUT_OF_RESOURCES
            if self.ignore or self.deliver is None:
                return SUCCESS
            from pathlib import Path

            return self._call(dataset.meta, Path(path))
        meta = self.meta(rq, ts)
        if self.deliver is None:
            return SOP_CLASS_NOT_SUPPORTED if not self.ignore else SUCCESS
        return self._call(meta, bytes(dataset or b""))

    def _call(self, meta: FileMeta, data: bytes | Path) -> int:
        try:
            status = self.deliver(meta, data)  # type: ignore[misc]
        except Exception:  # noqa: BLE001 - a handler failure is a failure status
            log.exception("store handler failed for %s", meta.sop_instance_uid)
            return CANNOT_UNDERSTAND
        return SUCCESS if status is None else int(status)

    def abort_pending(self) -> None:
        """Drop a data set being received (the association ended mid-transfer)."""
        guard, self._pending = self._pending, None
        if guard is not None:
            _abort(guard.writer)


def _abort(writer: Any) -> None:
    try:
        writer.abort()
    except Exception:  # noqa: BLE001
        log.debug("aborting a writer failed", exc_info=True)


def decode_command_quietly(command: bytes) -> DIMSEMessage | None:
    """decode_message, or None (logged) for a command set that does not decode."""
    try:
        return decode_message(command)
    except DicomULError as exc:
        log.warning("undecodable DIMSE command set: %s", exc)
        return None


def store_response(rq: CStoreRQ, status: int) -> bytes:
    """The encoded C-STORE-RSP for ``rq``; the affected SOP class/instance are echoed when
    they are valid UIDs (a hostile peer's are not, and must not stop the answer)."""
    from dicomul.dimse.messages import CStoreRSP

    try:
        return CStoreRSP(
            message_id_being_responded_to=rq.message_id,
            status=status,
            affected_sop_class_uid=rq.affected_sop_class_uid,
            affected_sop_instance_uid=rq.affected_sop_instance_uid,
        ).encode()
    except (TypeError, ValueError):
        return CStoreRSP(message_id_being_responded_to=rq.message_id, status=status).encode()


def context_error(sop_class: str, what: str) -> ContextNotAccepted:
    """The error for an operation with no accepted context for its SOP class."""
    return ContextNotAccepted(
        f"no accepted presentation context for {name_of(sop_class)} ({sop_class}): "
        f"propose it when connecting, or the peer does not support {what}"
    )
