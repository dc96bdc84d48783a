"""The mode and the final name of a received file, for :meth:`storage.Part10Writer.commit`.

Mode: ``tempfile.mkstemp`` creates 0600; a committed file gets ``0o666 & ~umask`` (0644
with the usual 022), as files made by ``open()`` in other tools do. The umask is read
once per process and cached: from /proc/self/status "Umask:" on Linux (race-free), else
with ``os.umask`` set to 077 and restored at once, under a lock (a file another thread
creates meanwhile is then private, never more open).

Names: "name.dcm", then "name-1.dcm", "name-2.dcm"... The next suffix of a name found
taken is cached process-wide per (directory, name), so storing one SOP Instance UID
again costs O(1); with nothing cached (a new process, or a name another process took),
an exponential probe and a binary search find a free suffix in O(log n) ``lexists``
calls, once. The caller's ``os.link`` decides: it is atomic and never overwrites, so a
stale cache or a race costs another try, never a file.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from typing import Any

__all__ = ["file_mode", "set_file_mode", "free_names"]

_PROC_STATUS = "/proc/self/status"
_umask: int | None = None
_umask_lock = threading.Lock()


def _read_umask() -> int:
    try:
        with open(_PROC_STATUS, encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8) & 0o777
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o077)  # (racy: done once, and restrictive while it lasts)
    os.umask(mask)
    return mask & 0o777


def file_mode() -> int:
    """``0o666 & ~umask``: the mode a committed received file gets. The umask is read
    on the first call and cached for the process."""
    global _umask
    with _umask_lock:
        if _umask is None:
            _umask = _read_umask()
        return 0o666 & ~_umask


def set_file_mode(f: Any, path: str | os.PathLike[str]) -> None:
    """Give the open file ``f`` (at ``path``) :func:`file_mode`: ``os.fchmod`` where it
    exists, ``os.chmod(path)`` otherwise (Windows)."""
    mode = file_mode()
    if hasattr(os, "fchmod"):
        os.fchmod(f.fileno(), mode)
    else:
        os.chmod(path, mode)


# ---- free names -------------------------------------------------------------------------

_MAX_CACHED = 4096  # (directory, name) pairs remembered; the oldest go first
_next: OrderedDict[tuple[str, str], int] = OrderedDict()
_next_lock = threading.Lock()


def _first_free(taken: Callable[[int], bool], lo: int) -> int:
    """A suffix >= ``lo`` that is not taken, in O(log n) calls: probe lo, lo+1, lo+2,
    lo+4... up to a free one, then bisect back to the first free one after the last taken
    (exact when the taken suffixes from ``lo`` on are contiguous, as this scheme makes)."""
    if not taken(lo):
        return lo
    last, step = lo, 1
    while taken(lo + step):
        last = lo + step
        step *= 2
    free = lo + step
    while free - last > 1:
        mid = (last + free) // 2
        if taken(mid):
            last = mid
        else:
            free = mid
    return free


def _claim(key: tuple[str, str], found: int | None) -> int | None:
    """Reserve a suffix for ``key``: the cached next one, or ``found`` if larger (a free
    one just looked up); None when nothing is cached and nothing was ``found``."""
    with _next_lock:
        cached = _next.get(key)
        n = found if cached is None else cached if found is None else max(cached, found)
        if n is None:
            return None
        _next[key] = n + 1
        _next.move_to_end(key)
        while len(_next) > _MAX_CACHED:
            _next.popitem(last=False)
        return n


def free_names(directory: str, filename: str) -> Iterator[str]:
    """Names to try, in order, for a file called ``filename`` in ``directory``:
    ``filename``, then ``stem-N.ext``. Ask for the next name only when the last one was
    taken (the caller links atomically and moves on if it exists). Every suffix is
    reserved as it is given, so two writers of this process never try the same one."""
    yield filename
    stem, ext = os.path.splitext(filename)
    key = (directory, filename)

    def name(i: int) -> str:
        return f"{stem}-{i}{ext}"

    def taken(i: int) -> bool:
        return os.path.lexists(os.path.join(directory, name(i)))

    suffix = _claim(key, None)
    if suffix is None:  # nothing cached: look once
        suffix = _claim(key, _first_free(taken, 1)) or 1
    while True:
        yield name(suffix)
        # taken meanwhile (another process, or a stale cache): look again past it
        suffix = _claim(key, _first_free(taken, suffix + 1)) or suffix + 1
