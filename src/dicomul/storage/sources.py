"""Data set sources for sending: a file read in chunks as the sender pulls them, or mapped
from disk (a FileRegion) where the transport can send from a mapping; closed once sent."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any, BinaryIO

__all__ = [
    "file_chunks", "FileSource", "send_form", "preload", "PRELOAD_LIMIT", "refers_to_a_file",
    "Unavailable",
]  # fmt: skip

_CHUNK = 4 * 1024 * 1024


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


#: A file's data set of at most this many bytes is read whole by :func:`preload` (in a
#: worker thread, by the asyncio API, so that the event loop never waits for a disk);
#: a larger one is streamed as it is sent (from the page cache, a window at a time).
PRELOAD_LIMIT = 8 * 1024 * 1024


def refers_to_a_file(obj: Any) -> bool:
    """Whether preparing ``obj`` to send reads a file (a path or a Part10File)."""
    return isinstance(obj, (str, os.PathLike)) or hasattr(obj, "dataset_offset")


def preload(data: Any) -> Any:
    """What to queue for a prepared data set, its file read now when it is small: bytes
    (the file closed) for a file data set of at most PRELOAD_LIMIT bytes, else
    :func:`send_form`. Blocking: call it where a disk may wait (a worker thread).
    Raises OSError when the file is shorter than its data set (cut short meanwhile)."""
    region = data.file_region() if hasattr(data, "file_region") else None
    if region is None or region.length > PRELOAD_LIMIT:
        return send_form(data)
    try:
        raw = data.read()
    finally:
        data.close()
    if len(raw) != region.length:
        raise OSError(f"the file ends {region.length - len(raw)} bytes before its data set")
    return raw


class Unavailable:
    """What a C-GET / C-MOVE handler yields for an instance it knows of but cannot send
    (its file has gone): the sub-operation fails, and its UID is in the Failed SOP
    Instance UID List, without trying to send anything."""

    __slots__ = ("sop_class_uid", "sop_instance_uid", "reason")

    def __init__(self, sop_class_uid: str, sop_instance_uid: str, reason: str = "") -> None:
        self.sop_class_uid = sop_class_uid
        self.sop_instance_uid = sop_instance_uid
        self.reason = reason

    def __repr__(self) -> str:
        return f"Unavailable({self.sop_instance_uid!r}, {self.reason!r})"
