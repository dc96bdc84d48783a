"""The storage SCP side of C-STORE (a server's, and a C-GET requestor's): where a received
data set goes (a Part 10 file, nowhere, memory), the status to answer with, and the
C-STORE-RSP that echoes only valid UIDs."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from dicomul.dimse.messages import CStoreRQ, decode_message
from dicomul.dimse.status import (
    CANNOT_UNDERSTAND,
    OUT_OF_RESOURCES,
    SOP_CLASS_NOT_SUPPORTED,
    SUCCESS,
)
from dicomul.dimse.uids import store_uid_error
from dicomul.errors import DicomULError
from dicomul.storage.part10 import FileMeta, StorageError, decode_dataset
from dicomul.storage.writer import DiscardWriter, Part10Writer, PendingFile
from dicomul.ul.constants import IMPLEMENTATION_CLASS_UID, IMPLEMENTATION_VERSION_NAME

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["StoreReceiver", "Deliver", "store_response", "deliver_retrieved"]

log = logging.getLogger("dicomul")


class _Guard:
    """Wraps a writer given to Net's dataset sink: a failing write must not raise in the
    I/O thread (that would end the connection without a C-STORE-RSP), so the first error
    is kept and later writes are dropped."""

    __slots__ = ("writer", "meta", "error", "refused")

    def __init__(self, writer: Any, meta: FileMeta, refused: tuple[int, str] | None = None) -> None:
        self.writer = writer
        self.meta = meta
        self.error: BaseException | None = None
        #: store_uid_error() of the request, found when the command set arrived.
        self.refused = refused

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


def deliver_retrieved(
    handler: Callable[[Any, FileMeta], int] | None,
    received: list[tuple[bytes, FileMeta]],
    meta: FileMeta,
    data: bytes | Path,
) -> int:
    """What a C-GET requestor does with a retrieved data set: ``handler(dataset, meta)``
    (a pydicom Dataset, or the raw bytes if it does not decode) gives the status; without
    a handler, in-memory bytes are kept in ``received`` and the status is success."""
    if handler is None:
        if isinstance(data, bytes):
            received.append((data, meta))
        return SUCCESS
    try:
        obj: Any = decode_dataset(data, meta.transfer_syntax)
    except StorageError:
        obj = data
    return handler(obj, meta)


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
        #: commit() hands in-memory data sets back even without ``deliver`` (the caller
        #: delivers them itself).
        self.wants_bytes = False
        #: Given the PendingFile (where and how to store), the writable to use instead
        #: (e.g. one that makes and writes the file in a worker thread); None: the file
        #: is made when the data set's command set arrives.
        self.open_writer: Callable[[PendingFile], Any] | None = None
        # Data sets being received or not yet committed (several when requests are
        # pipelined); a lock, as commit() may run in a worker thread.
        self._pending: set[_Guard] = set()
        self._lock = threading.Lock()
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
        return self.sink_for(msg, ts)

    def sink_for(self, msg: Any, ts: str) -> _Guard | None:
        """:meth:`sink` for a decoded request (what a DIMSE Session's sink is given)."""
        if not isinstance(msg, CStoreRQ) or (not self.ignore and self.directory is None):
            return None
        meta = self.meta(msg, ts)
        refused = store_uid_error(msg.affected_sop_class_uid, msg.affected_sop_instance_uid)
        if refused is not None:  # refused by commit(): nothing is written
            return _Guard(DiscardWriter(), meta, refused)
        try:
            writer: Any
            if self.ignore:
                writer = DiscardWriter()
            elif self.open_writer is not None:  # the file is made later, elsewhere
                writer = self.open_writer(PendingFile(self.directory, meta, self.fsync))
            else:
                writer = Part10Writer(self.directory, meta, fsync=self.fsync)  # type: ignore[arg-type]
        except Exception as exc:  # noqa: BLE001 - e.g. the directory went away
            log.warning("cannot store %s: %s", msg.affected_sop_instance_uid, exc)
            writer = DiscardWriter()
            guard = _Guard(writer, meta)
            guard.error = exc
            return guard
        guard = _Guard(writer, meta)
        with self._lock:
            self._pending.add(guard)
        return guard

    def complete(self, rq: CStoreRQ, ts: str, dataset: Any) -> int:
        """The status to answer the C-STORE-RQ with, after storing its data set (and
        handing it to ``deliver``, if set)."""
        status, meta, data = self.commit(rq, ts, dataset)
        if data is None or self.deliver is None:
            return status
        return self._call(meta, data)  # type: ignore[arg-type]

    def commit(self, rq: CStoreRQ, ts: str, dataset: Any) -> tuple[int, FileMeta | None, Any]:
        """Store the data set without delivering it: ``(status, meta, data)``, where
        ``data`` (the committed Path, or the bytes when nothing is written) is what
        ``deliver`` would get, and None when it must not get it (refused, failed,
        ignored). For callers that run the handler themselves (off the event loop)."""
        if isinstance(dataset, _Guard):
            with self._lock:
                self._pending.discard(dataset)
            refused = dataset.refused  # (the same request's UIDs, checked once)
        else:
            refused = store_uid_error(rq.affected_sop_class_uid, rq.affected_sop_instance_uid)
        if refused is not None:
            if isinstance(dataset, _Guard):
                _abort(dataset.writer)
            log.warning("C-STORE refused with status 0x%04X: %s", refused[0], refused[1])
            return refused[0], None, None
        if isinstance(dataset, _Guard):
            if dataset.error is not None:
                _abort(dataset.writer)
                return OUT_OF_RESOURCES, None, None
            try:
                path = dataset.writer.commit()
            except Exception as exc:  # noqa: BLE001 - disk full, rename failed...
                log.warning("committing %s failed: %s", rq.affected_sop_instance_uid, exc)
                _abort(dataset.writer)
                return OUT_OF_RESOURCES, None, None
            if self.ignore:
                return SUCCESS, dataset.meta, None
            from pathlib import Path

            return SUCCESS, dataset.meta, Path(path)
        if self.ignore:
            return SUCCESS, None, None
        meta = self.meta(rq, ts)
        if self.deliver is None and not self.wants_bytes:
            return SOP_CLASS_NOT_SUPPORTED, meta, None
        return SUCCESS, meta, bytes(dataset or b"")

    def _call(self, meta: FileMeta, data: bytes | Path) -> int:
        try:
            status = self.deliver(meta, data)  # type: ignore[misc]
        except Exception:  # noqa: BLE001 - a handler failure is a failure status
            log.exception("store handler failed for %s", meta.sop_instance_uid)
            return CANNOT_UNDERSTAND
        return SUCCESS if status is None else int(status)

    def abort_pending(self) -> None:
        """Drop the data sets being received or not yet committed (the association ended
        mid-transfer): their temporary files are removed."""
        with self._lock:
            guards, self._pending = list(self._pending), set()
        for guard in guards:
            _abort(guard.writer)


def _abort(writer: Any) -> None:
    try:
        writer.abort()
    except Exception:  # noqa: BLE001
        log.debug("aborting a writer failed", exc_info=True)


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
