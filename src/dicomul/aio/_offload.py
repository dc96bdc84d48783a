"""Writes of received data sets off the event loop. A file is made, written and committed
in the server's thread pool: a small data set (up to START bytes) waits in memory until
its message is complete, and the file is then made, written and committed by one
compiled call (storage.writer.write_file: the interpreter lock released once, not once
per system call), and handed to a plain on_store, in one hand-off to the pool; a larger
one starts being written as soon as START bytes are in, its writes one after the other
while the loop goes on receiving. When more than BACKLOG bytes wait for the disk, reading
from that peer pauses until they are written, so a slow disk costs memory only up to
that bound and stalls only the association that fills it.

A small data set with nothing else to wait for (no plain on_store, no fsync) is written on
the loop instead while such writes stay quick (:class:`QuickWrites`): a hand-off to a pool
thread and back costs far more than writing a few KiB to the page cache (on a 2-core VM,
250 µs of CPU against 40: 1,560 -> 2,650 objects/s from 4 DCMTK storescu into tmpfs).
A write that is slow (a remote or failing disk, a full page cache) sends every write to
the pool for a while, so a slow disk stalls the loop for one write, not for each.
(The event-loop design had every disk write off the loop; this is a measured departure
from it, for small files on a disk that keeps up, and ``write_on_loop=False`` /
``storescp --writes-in-pool`` turns it off: for a network file system, where one write
may hang.)"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Executor
from typing import TYPE_CHECKING, Any

from dicomul.dimse.status import SUCCESS

if TYPE_CHECKING:
    from dicomul.storage.writer import PendingFile

__all__ = ["BackgroundWriter", "BACKLOG", "START", "QuickWrites", "commit_and_call"]

log = logging.getLogger("dicomul")

#: Bytes waiting for the disk before reading from the peer pauses.
BACKLOG = 8 * 1024 * 1024
#: Bytes of a data set kept in memory before its file is made and written to: each
#: hand-off to a thread costs interpreter-lock switches, so a small object is one.
START = 256 * 1024


class BackgroundWriter:
    """A writable whose file (a storage.writer.PendingFile) is made in a worker thread.
    ``write`` copies the bytes (the framer reuses its buffer) and returns at once;
    ``await flushed()`` waits until no write is running; ``commit()`` (after that, in a
    worker thread) makes the file if not made yet, writes what waits, raises the first
    error (making the file, or a write), else commits; ``abort()`` drops what waits and
    aborts the file."""

    def __init__(
        self,
        file: PendingFile,
        pool: Executor,
        loop: asyncio.AbstractEventLoop,
        pause: Callable[[], None],
        resume: Callable[[], None],
    ) -> None:
        self._file = file
        self.inner: Any = None  # the file's Part10Writer, once opened (in a worker thread)
        self._pool = pool
        self._loop = loop
        self._pause, self._resume = pause, resume
        self._queue: deque[bytes] = deque()
        self._lock = threading.Lock()
        self._running = False
        self._pending = 0
        self._paused = False
        self._aborted = False
        self._error: BaseException | None = None
        self._waiters: list[asyncio.Future[None]] = []

    def write(self, data: Any) -> int:
        chunk = bytes(data)
        with self._lock:
            if self._aborted:
                return len(chunk)
            self._queue.append(chunk)
            self._pending += len(chunk)
            start = not self._running and self._pending >= START
            if start:
                self._running = True
            pause = self._pending > BACKLOG and not self._paused
            if pause:
                self._paused = True
        if start:
            self._pool.submit(self._drain)
        if pause:
            self._pause()
        return len(chunk)

    @property
    def whole(self) -> bool:
        """Everything is waiting in memory, no file made: ``commit()`` is one write."""
        return not self._running and self.inner is None and self._error is None

    def _made(self) -> bool:  # in a worker thread
        """Make the file if not made yet; False once anything failed (kept for commit)."""
        if self.inner is None and self._error is None:
            try:
                self.inner = self._file.open()
            except Exception as exc:  # noqa: BLE001 - reported at commit
                self._error = exc
        return self._error is None

    def _write_inner(self, chunk: bytes) -> None:  # in a worker thread
        if not self._made():
            return
        try:
            self.inner.write(chunk)
        except Exception as exc:  # noqa: BLE001 - reported at commit
            self._error = exc

    def _drain(self) -> None:  # in a worker thread
        while True:
            with self._lock:
                if not self._queue or self._aborted:
                    self._queue.clear()
                    self._running = False
                    aborted = self._aborted
                    break
                chunk = self._queue.popleft()
            self._write_inner(chunk)
            with self._lock:
                self._pending -= len(chunk)
                resume = self._paused and self._pending < BACKLOG // 2
                if resume:
                    self._paused = False
            if resume:
                self._loop.call_soon_threadsafe(self._resume)
        if aborted:
            self._abort_inner()
        self._loop.call_soon_threadsafe(self._wake)

    def _wake(self) -> None:
        if self._running:
            return
        waiters, self._waiters = self._waiters, []
        for fut in waiters:
            if not fut.done():
                fut.set_result(None)

    async def flushed(self) -> None:
        """Wait until no write is running (what waits in memory is commit()'s)."""
        with self._lock:
            if not self._running:
                return
            fut = self._loop.create_future()
            self._waiters.append(fut)
        await fut

    def commit(self) -> Any:  # in a worker thread, after flushed()
        with self._lock:
            chunks, self._queue = list(self._queue), deque()
            self._pending = 0
            aborted = self._aborted
        if aborted:  # (the association ended before its commit ran: what waited is gone)
            raise ConnectionAbortedError("the association ended before the file was stored")
        if self.inner is None and self._error is None:  # all in memory: one call
            return self._file.write_whole(chunks)
        self._made()
        for chunk in chunks:
            self._write_inner(chunk)
        if self._error is not None:
            raise self._error
        return self.inner.commit()

    def abort(self) -> None:
        with self._lock:
            self._aborted = True
            running = self._running
            if not running:
                self._queue.clear()
            if self._paused:
                self._paused = False
                self._loop.call_soon_threadsafe(self._resume)
        if not running:  # else the worker aborts the file when it stops
            self._abort_inner()

    def _abort_inner(self) -> None:
        if self.inner is None:
            return
        try:
            self.inner.abort()
        except Exception:  # noqa: BLE001 - best effort clean-up
            pass


class QuickWrites:
    """Whether small writes may go on the loop now: yes unless a write (reported with
    :meth:`took`) was slower than ``slow`` seconds in the last ``pause`` seconds.
    (Wall-clock time: it includes taking the interpreter lock back after the compiled
    write, up to one switch interval, 5 ms, when pool threads are busy; so ``slow`` is
    above that, and a write misread as slow only costs ``pause`` seconds in the pool.)"""

    def __init__(
        self, slow: float = 0.010, pause: float = 30.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.slow, self.pause, self._clock = slow, pause, clock
        self._until = float("-inf")  # writes go to the pool until then

    def now(self) -> bool:
        """Write on the loop now?"""
        return self._clock() >= self._until

    def took(self, seconds: float) -> None:
        """A write on the loop took ``seconds``: a slow one moves writes to the pool."""
        if seconds > self.slow:
            self._until = self._clock() + self.pause
            log.warning(
                "a %.0f ms write of a received data set: writes go to the thread pool for "
                "%.0f s", seconds * 1000, self.pause,
            )  # fmt: skip


def commit_and_call(
    receiver: Any, rq: Any, ts: str, dataset: Any, handler: Any, info: Any
) -> tuple[int, Any, Any]:
    """Commit a received file and (when ``handler``, a plain on_store, is given) call the
    handler with it, in one hand-off to the pool: ``(status, meta, data)``."""
    status, meta, data = receiver.commit(rq, ts, dataset)
    if handler is None or data is None:
        return status, meta, data
    try:
        result = handler(meta, data, info)
        return (SUCCESS if result is None else int(result)), meta, data
    except Exception:  # noqa: BLE001 - a handler failure is a failure status
        log.exception("on_store failed for %s", getattr(rq, "affected_sop_instance_uid", ""))
        return 0xC000, meta, data
