"""The transport of a Net that its caller drives (``io_thread=False``): the caller's thread
writes what is queued, waits in poll() for the socket (or a wake-up from another thread
that sent something), reads, and runs the callbacks, while it waits in a blocking
convenience or in ``Net.process``. Optionally it spins before sleeping
(``spin_wait``, off by default). A part of :class:`~dicomul.sync.net.Net`, kept apart
because the loop's transport (``_netloop.py``) is the other one.
"""

from __future__ import annotations

import errno
import logging
import os
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from dicomul.sync._netio import (
    WRITE_WINDOW,
    Poller,
    Waker,
    recv_into,
    shutdown_quietly,
)
from dicomul.ul.connection import State
from dicomul.ul.events import AbortIndication, AbortRequest

if TYPE_CHECKING:
    import socket

    from dicomul.ul.connection import Connection
    from dicomul.ul.events import Event

__all__ = ["PumpedTransport", "DEFAULT_SPIN_WAIT", "SPIN_MISSES", "SPIN_PAUSE"]

log = logging.getLogger("dicomul")
_STA6 = State.STA6


def _spin_default() -> float:
    """0 (no spinning: a library in a gateway shares its cores), or the environment's
    DICOMUL_SPIN_WAIT in seconds (e.g. 0.0001 to spin up to 100 µs before each sleep,
    which buys latency with CPU). A value that is not a number >= 0 is reported and
    ignored."""
    value = os.environ.get("DICOMUL_SPIN_WAIT", "").strip()
    if not value:
        return 0.0
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not seconds >= 0:  # (also NaN)
        log.warning("DICOMUL_SPIN_WAIT=%r is not a number of seconds >= 0: ignored", value)
        return 0.0
    return seconds


#: Net(spin_wait=) default, in seconds (see _spin_default).
DEFAULT_SPIN_WAIT = _spin_default()
SPIN_MISSES = 4  # waits in a row longer than spin_wait before spinning pauses
SPIN_PAUSE = 256  # waits without spinning after that


class PumpedTransport:
    """The io_thread=False half of Net (see the module docstring)."""

    _conn: Connection | None
    _sock: Any
    _lock: threading.RLock
    _wlock: threading.Lock
    _writer: int
    _write: Callable[[socket.socket, list[Any], int], None]
    _waker: Waker | None
    _poller: Poller | None
    _last_rx: float
    _tls: bool
    _peer: tuple[Any, ...] | None
    _outcome: Event | None
    _spin_misses: int
    _spin_pause: int
    spin_wait: float
    network_timeout: float | None
    on_send: Callable[[int, int, int], None]

    # Net's, used here:
    process: Callable[[float | None], bool]
    _shutdown: Callable[[int], None]
    _dispatch: Callable[[list[Event]], None]

    def _wake(self) -> None:
        w = self._waker
        if w is not None:
            w.wake()

    def _flush(self, blocking: bool = True) -> None:
        """Write what is queued (io_thread=False). The pumping thread does not block when
        another thread is writing (a large data set from a user thread): it goes on
        reading, so that two peers sending large messages at once cannot block each
        other, and the writer wakes it if anything is left when it is done. A user thread
        waits a moment at most (a writer stuck on a peer that does not read must not
        block an abort or a close: what it queued is written by the writer, or dropped
        when the connection ends)."""
        conn, sock = self._conn, self._sock
        if conn is None or sock is None:
            return
        me = threading.get_ident()
        if self._writer == me:
            return  # a send from inside on_send: the writing loop below picks it up
        wlock = self._wlock
        if not wlock.acquire(False):
            if not blocking:
                return
            if not wlock.acquire(True, 0.2):
                self._wake()
                return
        self._writer = me
        lock, take, write, on_send = self._lock, conn.take_outgoing, self._write, self.on_send
        state = conn.state
        try:
            while conn.pending_output:  # (unlocked peek: see the end of this function)
                with lock:
                    items = take(WRITE_WINDOW, now=time.monotonic())
                for pdu_type, nbytes, bufs in items:
                    try:
                        write(sock, bufs, nbytes)
                    except OSError as exc:  # TimeoutError: the peer did not read in time
                        on_send(exc.errno or errno.EPIPE, pdu_type, nbytes)
                        self._write_failed(exc)
                        return
                    on_send(0, pdu_type, nbytes)
        finally:
            self._writer = 0
            wlock.release()
        if blocking and (conn.pending_output or conn.state is not state):
            # queued by the pumping thread while we held the lock, or taking the output
            # changed the state (a data set source failed: A-ABORT, ARTIM started)
            self._wake()

    def _write_failed(self, exc: BaseException) -> None:
        """The peer cannot be written to (gone, or not reading within network_timeout):
        drop what is queued and shut the socket down; the I/O loop then sees the end."""
        log.info("write to %s failed: %s", self._peer, exc)
        with self._lock:
            if self._conn is not None:
                self._conn.discard_output()
        if self._sock is not None:
            shutdown_quietly(self._sock)
        self._wake()

    def _pump_until(self, predicate: Callable[[], bool], timeout: float | None) -> bool:
        """Process (pumped Nets) until predicate() holds or timeout passes."""
        end = None if timeout is None else time.monotonic() + timeout
        while not predicate():
            left = None if end is None else end - time.monotonic()
            if left is not None and left <= 0:
                return False
            if not self.process(left) and not predicate():
                return predicate()
        return True

    def _loop_begin(self) -> None:
        assert self._sock is not None and self._waker is not None
        self._poller = Poller(self._sock, self._waker)
        self._last_rx = time.monotonic()

    def _loop_end(self, error: int) -> None:
        if self._poller is not None:
            self._poller.close()
        self._shutdown(error)

    def _turn(self, max_wait: float | None) -> bool:
        """One turn of the I/O loop; False when the connection is to be closed.

        Unlocked peeks (at the output queue, the timer, a close request) are single
        attribute reads; whoever changes them afterwards flushes or wakes this thread, and
        a close is confirmed under the lock."""
        conn, sock, poller = self._conn, self._sock, self._poller
        assert conn is not None and sock is not None and poller is not None
        if conn.pending_output:
            self._flush(blocking=False)
        if conn.close_requested:
            with self._lock:
                closing = conn.close_requested and not conn.pending_output
            if closing:
                with self._wlock:  # let a user thread finish what it is writing
                    return False
        deadline = conn.timer_deadline()
        idle_limit = self.network_timeout
        if idle_limit is not None and conn.state is _STA6:
            idle = self._last_rx + idle_limit
            deadline = idle if deadline is None else min(deadline, idle)
        else:
            idle_limit = None
        if deadline is None:
            timeout = max_wait
        else:
            timeout = max(0.0, deadline - time.monotonic())
            if max_wait is not None and max_wait < timeout:
                timeout = max_wait
        if self.spin_wait and timeout != 0:
            sock_ready, wake_ready = self._spin_then_wait(poller, timeout)
        else:
            sock_ready, wake_ready = poller.wait(timeout)
        if wake_ready:
            self._waker.drain()  # type: ignore[union-attr]
        now = time.monotonic()
        with self._lock:
            if sock_ready and recv_into(sock, conn, now, self._tls):
                self._last_rx = now
            if deadline is not None:
                dl = conn.timer_deadline()
                if dl is not None and now >= dl:
                    conn.handle_timer(now)
                if (
                    idle_limit is not None
                    and conn.state is _STA6
                    and now - self._last_rx >= idle_limit
                ):
                    log.info("network timeout: no data for %ss, aborting", idle_limit)
                    conn.send(AbortRequest(0, 0), now=now)
                    self._outcome = AbortIndication(
                        0, 0, provider=True, local=True, message="timeout"
                    )
            events = conn.events()
        if events:
            self._dispatch(events)
        return True

    def _spin_then_wait(self, poller: Poller, timeout: float | None) -> tuple[bool, bool]:
        """poller.wait(timeout), preceded by up to spin_wait seconds of checking without
        sleeping (see the class docstring), adaptively."""
        if self._spin_pause:
            self._spin_pause -= 1
            return poller.wait(timeout)
        spin = self.spin_wait if timeout is None else min(self.spin_wait, timeout)
        got = poller.spin(spin)
        if got is not None:
            self._spin_misses = 0
            return got
        self._spin_misses += 1
        if self._spin_misses >= SPIN_MISSES:
            self._spin_misses = 0
            self._spin_pause = SPIN_PAUSE
        return poller.wait(None if timeout is None else max(0.0, timeout - spin))
