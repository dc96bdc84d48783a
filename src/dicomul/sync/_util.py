"""What is left of the threaded layer's helpers: message IDs under a lock, and decoding a
command set with the failure logged."""

from __future__ import annotations

import itertools
import logging
import threading

from dicomul.dimse.messages import DIMSEMessage, decode_message
from dicomul.errors import DicomULError

__all__ = ["MessageIDs", "decode_command_quietly"]

log = logging.getLogger("dicomul")


class MessageIDs:
    """Message IDs for one association: 1, 2, ... 65535, then 1 again (thread-safe)."""

    def __init__(self) -> None:
        self._it = itertools.cycle(range(1, 0x10000))
        self._lock = threading.Lock()

    def next(self) -> int:
        """The next message ID."""
        with self._lock:
            return next(self._it)


def decode_command_quietly(command: bytes) -> DIMSEMessage | None:
    """decode_message, or None (logged) for a command set that does not decode."""
    try:
        return decode_message(command)
    except DicomULError as exc:
        log.warning("undecodable DIMSE command set: %s", exc)
        return None
