"""Modality Worklist items (PS3.4 K) kept as files in a directory, matched in memory
with :mod:`dicomul.storage.matching` (sequence matching included) and answered with
the query's keys.

Items are DICOM JSON (PS3.18 F, ``*.json``: one object or a list of them) or DICOM
files (``*.wl``, ``*.dcm``, as DCMTK's wlmscpfs keeps them). The directory is read again
when a file in it changes, so items can be added while the server runs.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from pathlib import Path
from typing import Any

from dicomul.storage.matching import matches, response_for

__all__ = ["Worklist", "response_for", "load_items"]

log = logging.getLogger("dicomul")


def load_items(directory: Path) -> list[Any]:
    """Every worklist item in ``directory`` (unreadable files are logged and skipped)."""
    import pydicom
    from pydicom.dataset import Dataset

    items: list[Any] = []
    for path in sorted(directory.iterdir()):
        try:
            if path.suffix.lower() == ".json":
                data = json.loads(path.read_text(encoding="utf-8"))
                for obj in data if isinstance(data, list) else [data]:
                    items.append(Dataset.from_json(obj))
            elif path.suffix.lower() in (".wl", ".dcm"):
                items.append(pydicom.dcmread(path, force=True))
        except Exception as exc:  # noqa: BLE001 - a bad item must not hide the others
            log.warning("worklist item %s skipped: %s", path, exc)
    return items


class Worklist:
    """The worklist items of a directory (see the module docstring)."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)
        self._lock = threading.Lock()
        self._stamp: tuple[Any, ...] | None = None
        self._items: list[Any] = []

    def items(self) -> list[Any]:
        """The items now (read again when a file was added, changed or removed)."""
        try:
            stamp = tuple(
                sorted(
                    (e.name, e.stat().st_mtime_ns, e.stat().st_size)
                    for e in os.scandir(self.directory)
                )
            )
        except OSError as exc:
            log.warning("cannot read the worklist directory %s: %s", self.directory, exc)
            return []
        with self._lock:
            if stamp != self._stamp:
                self._items = load_items(self.directory)
                self._stamp = stamp
            return self._items

    def find(self, identifier: Any) -> list[Any]:
        """The responses of every item matching a worklist query."""
        return [
            response_for(identifier, item) for item in self.items() if matches(identifier, item)
        ]
