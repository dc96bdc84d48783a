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

import asyncio
import logging
import os
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
        self.worklist = Worklist(worklist) if worklist is not None else None

    def server_options(self) -> dict[str, Any]:
        """The keyword arguments of a Server (asyncio or blocking) serving this archive."""
        return {
            "store_dir": self.directory,
            "on_store": self.on_store,
            "on_find": self.on_find,
            "on_get": self.on_get,
            "on_move": self.on_move,
            "storage_commitment": self.index.locate,
        }

    async def on_store(self, meta: Any, data: Any, info: Any) -> int:
        """Index the file just committed (``data``, its Path), on the server's loop when
        that needs no wait (ArchiveIndex.add_now: the row made from the bytes just
        written, SQLite's write lock free), else in a thread."""
        try:
            if not self.index.add_now(data):
                await asyncio.get_running_loop().run_in_executor(None, self.index.add, data)
        except Exception:  # noqa: BLE001 - stored but not indexed: say so, fail the store
            log.exception("cannot index %s", data)
            return PROCESSING_FAILURE
        return SUCCESS

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
