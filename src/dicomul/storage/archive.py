"""An archive: a storage directory with its index, as a Server's handlers. It stores
what it receives (and indexes it before answering, so a C-FIND right after a C-STORE
finds it), answers C-FIND from the index (Patient Root, Study Root, and the Modality
Worklist from its worklist items), C-GET and C-MOVE from the files the index names, and
Storage Commitment from the files that are there intact.

    archive = Archive("/srv/archive", worklist="/srv/worklist")
    server = Server("ARCHIVE", **archive.server_options(), move_destinations=...)

An instance whose file was removed behind the index's back is not served: its
sub-operation fails (it is in the Failed SOP Instance UID List), it is logged, and the
index forgets it.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from dicomul.dimse.sop import MODALITY_WORKLIST_FIND
from dicomul.dimse.status import PENDING, PROCESSING_FAILURE, SUCCESS
from dicomul.storage.index import ArchiveIndex
from dicomul.storage.sources import Unavailable
from dicomul.storage.worklist import Worklist

__all__ = ["Archive"]

log = logging.getLogger("dicomul")


class Archive:
    """A storage directory and its index (see the module docstring). ``worklist``: a
    directory of worklist items (DICOM JSON ``*.json`` or DICOM files) for the Modality
    Worklist C-FIND, or None. ``database``: a PostgreSQL URL to keep the index in (shared
    by several archives over one storage directory), else SQLite in the directory."""

    def __init__(
        self,
        directory: str | os.PathLike[str],
        worklist: str | os.PathLike[str] | None = None,
        database: str | None = None,
    ) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.index = ArchiveIndex(self.directory, database)
        self._lock = threading.Lock()
        self._deferred: set[str] = set()  # files left to on_store, not indexed yet
        self.worklist = Worklist(worklist) if worklist is not None else None

    def server_options(self) -> dict[str, Any]:
        """The keyword arguments of a Server (asyncio or blocking) serving this archive."""
        return {
            "store_dir": self.directory,
            "on_store": self.on_store,
            "on_store_now": self.on_store_now,
            "on_find": self.on_find,
            "on_get": self.on_get,
            "on_move": self.on_move,
            "storage_commitment": self.index.locate,
        }

    def on_store(self, meta: Any, data: Any, info: Any) -> int:
        """Index the file just committed (``data``, its Path); in the server's pool."""
        try:
            self.index.add(data)
        except Exception:  # noqa: BLE001 - stored but not indexed: say so, fail the store
            log.exception("cannot index %s", data)
            return PROCESSING_FAILURE
        finally:
            with self._lock:
                self._deferred.discard(str(data))
        return SUCCESS

    def on_store_now(self, meta: Any, data: Any, info: Any) -> int | None:
        """:meth:`on_store` on the server's loop, for a file just written there: SUCCESS
        when indexed without any wait (ArchiveIndex.add_now), None to leave it to
        on_store in the pool. While a file left to on_store waits, every file is left
        to it, so rows are committed in the order their files were stored (a UID
        stored twice ends up naming its later file)."""
        with self._lock:
            if self._deferred:
                self._deferred.add(str(data))
                return None
        try:
            if self.index.add_now(data):
                return SUCCESS
        except Exception:  # noqa: BLE001 - stored but not indexed: say so, fail the store
            log.exception("cannot index %s", data)
            return PROCESSING_FAILURE
        with self._lock:
            self._deferred.add(str(data))
        return None

    def on_find(self, identifier: Any, sop_class_uid: str) -> Iterator[tuple[int, Any]]:
        """C-FIND: the index's matches (the worklist's for the worklist SOP class)."""
        if sop_class_uid == MODALITY_WORKLIST_FIND:
            found = self.worklist.find(identifier) if self.worklist is not None else []
        else:
            found = self.index.find(identifier)
        for match in found:
            yield PENDING, match

    def on_get(self, identifier: Any) -> list[Any]:
        """C-GET: the files of the instances the identifier names."""
        return self._objects(identifier)

    def on_move(self, identifier: Any, destination_ae: str) -> list[Any]:
        """C-MOVE: the files of the instances the identifier names."""
        return self._objects(identifier)

    def _objects(self, identifier: Any) -> list[Any]:
        objs: list[Any] = []
        gone: list[str] = []
        for inst in self.index.instances(identifier):
            if os.path.isfile(inst.path):
                objs.append(inst.path)
            else:
                log.warning(
                    "%s is indexed but its file %s has gone: not served, forgotten",
                    inst.sop_instance_uid,
                    inst.path,
                )
                gone.append(inst.sop_instance_uid)
                objs.append(Unavailable(inst.sop_class_uid, inst.sop_instance_uid, "file gone"))
        if gone:
            self.index.remove(gone)
        return objs
