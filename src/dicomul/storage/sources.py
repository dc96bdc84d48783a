"""Data set sources for sending: a file read in chunks as the sender pulls them, or mapped
from disk (a FileRegion) where the transport can send from a mapping; closed once sent."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, BinaryIO

__all__ = ["file_chunks", "FileSource", "send_form"]

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
