"""Net's transport on the process's event loop (``sync/_loop.py``): no thread per
connection. One :class:`NetProtocol` drives one Net's Connection; :class:`Incoming` is
what a listening Net's server makes for each accepted connection until ``on_accept``
hands it to a Net.

The Connection is shared with user threads, which queue sends on it (``Net.send_*``)
under the Net's lock; only the loop reads, writes the socket and runs the callbacks.
Callbacks run with the lock released, so a callback may send, and a user thread that
waits for a callback's effect cannot deadlock with it.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

from dicomul.aio.protocol import (
    RECV_ASSOCIATED,
    RECV_IDLE,
    DeadlineTimer,
    shared_scratch,
    write_buffers,
)
from dicomul.ul.connection import Connection, State
from dicomul.ul.events import Event

__all__ = ["NetProtocol", "Incoming", "WRITE_WINDOW"]

log = logging.getLogger("dicomul")
_STA6 = State.STA6

#: Bytes taken from the Connection per turn while the transport accepts more.
WRITE_WINDOW = 1 << 20


class NetProtocol(asyncio.BufferedProtocol):
    """Drives ``connection`` (guarded by ``lock``) from the loop.

    ``on_events(events)`` gets each batch of events, ``on_sent(error, pdu_type,
    nbytes)`` each PDU (or window of one) handed to the transport, ``on_idle()`` the
    network timeout (no bytes for ``network_timeout`` seconds while associated; it
    queues the A-ABORT), and ``on_end(error)`` the end of the connection, once.
    """

    def __init__(
        self,
        connection: Connection,
        lock: threading.RLock,
        *,
        on_events: Callable[[list[Event]], None],
        on_sent: Callable[[int, int, int], None],
        on_idle: Callable[[], None],
        on_end: Callable[[int], None],
        network_timeout: float | None,
    ) -> None:
        self.connection = connection
        self.lock = lock
        self.on_events = on_events
        self.on_sent = on_sent
        self.on_idle = on_idle
        self.on_end = on_end
        self.network_timeout = network_timeout
        self.loop = asyncio.get_running_loop()
        self.transport: asyncio.Transport | None = None
        self.last_rx = time.monotonic()
        self.drained = threading.Condition(lock)  # user threads wait for output to go
        self._paused = False
        self._ended = False
        self._pumping = False
        self._again = False
        self._kicked = False  # a pump is scheduled from another thread
        self._timer = DeadlineTimer(self.loop, self._on_timer, time.monotonic)
        self._close_timer: asyncio.TimerHandle | None = None
        self._loop_thread = threading.get_ident()

    # ---- asyncio's side ---------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:  # pragma: no cover - a socket that refuses it still works
                pass
        self.last_rx = time.monotonic()
        self.pump()

    def get_buffer(self, sizehint: int) -> memoryview:
        conn = self.connection
        with self.lock:
            size = RECV_ASSOCIATED if conn.is_established else RECV_IDLE
            return conn.recv_buffer(size, shared_scratch())  # (on the loop's thread)

    def buffer_updated(self, nbytes: int) -> None:
        self.last_rx = now = time.monotonic()
        with self.lock:
            self.connection.received(nbytes, now=now)
            events = self.connection.events()
        if events:
            self.on_events(events)
        self.pump()

    def eof_received(self) -> bool:
        self._feed_end()
        self.pump()
        return False  # close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        if self._ended:
            return
        self._feed_end()
        self._ended = True
        self._timer.cancel()
        if self._close_timer is not None:
            self._close_timer.cancel()
        with self.lock:
            self.connection.discard_output()
            self.drained.notify_all()
        error = 0
        if exc is not None:
            error = getattr(exc, "errno", None) or errno.ECONNRESET
        self.on_end(error)

    def pause_writing(self) -> None:
        self._paused = True

    def resume_writing(self) -> None:
        self._paused = False
        self.pump()

    # ---- our side ---------------------------------------------------------------------

    @property
    def on_loop(self) -> bool:
        """Whether the calling thread is the loop's."""
        return threading.get_ident() == self._loop_thread

    def kick(self) -> None:
        """Write what a send queued: now on the loop, or soon from another thread."""
        if threading.get_ident() == self._loop_thread:
            self.pump()
            return
        with self.lock:
            if self._kicked or self._ended:
                return
            self._kicked = True
        try:
            self.loop.call_soon_threadsafe(self._kicked_pump)
        except RuntimeError:  # the loop is closed (the process is exiting)
            pass

    def wait_drained(self, timeout: float | None) -> None:
        """From a user thread: wait until what is queued has gone to the transport and the
        transport is below its high-water mark (back-pressure on a sender that is faster
        than the peer), or the connection has ended, or ``timeout`` passes."""
        with self.drained:
            self.drained.wait_for(self._drained, timeout)

    def _drained(self) -> bool:
        conn = self.connection
        return self._ended or conn.state is not _STA6 or not (conn.pending_output or self._paused)

    def close(self) -> None:
        """Close the transport at once (no PDU is sent), from any thread."""
        if threading.get_ident() == self._loop_thread:
            self._abort_transport()
        else:
            try:
                self.loop.call_soon_threadsafe(self._abort_transport)
            except RuntimeError:  # pragma: no cover - the loop is gone
                pass

    def _abort_transport(self) -> None:
        if self.transport is not None and not self._ended:
            self.transport.abort()

    def _kicked_pump(self) -> None:
        with self.lock:
            self._kicked = False
        self.pump()

    def pump(self) -> None:
        """Write what is queued (calling on_sent per item), deliver events the writing
        made, re-arm the timer, close the transport once the Connection asks and all is
        written. Re-entrant calls (a send from inside on_sent) fold into the running one."""
        if self._ended or self.transport is None:
            return
        if self._pumping:
            self._again = True
            return
        self._pumping = True
        try:
            self._pump()
        finally:
            self._pumping = False

    def _pump(self) -> None:
        conn, lock, transport = self.connection, self.lock, self.transport
        assert transport is not None
        for _ in range(1000):  # callbacks may queue more: bounded, then the next turn
            self._again = False
            while not self._paused and conn.pending_output and not self._ended:
                with lock:
                    items = conn.take_outgoing(WRITE_WINDOW, now=time.monotonic())
                    events = conn.events() if conn.has_events else None
                for pdu_type, nbytes, bufs in items:
                    write_buffers(transport, bufs)
                    self.on_sent(0, pdu_type, nbytes)
                if events:  # a data set source failed while it was read: A-ABORT
                    self.on_events(events)
            with lock:
                self.drained.notify_all()  # (a waiting sender checks for itself)
                closing = conn.close_requested
                flushed = not conn.pending_output
            if closing and not self._ended:
                # A peer that does not read would keep the output (ours, or the
                # transport's in close()) waiting for ever: after ARTIM's time, drop it.
                if self._close_timer is None:
                    self._close_timer = self.loop.call_later(
                        conn.artim_timeout, self._abort_transport
                    )
                if flushed:
                    transport.close()
                    return
            if not self._again:
                break
        self._timer.arm(self._deadline())

    def _feed_end(self) -> None:
        with self.lock:
            if self.connection.state is not State.STA1:
                self.connection.receive_data(b"", now=time.monotonic())
            events = self.connection.events()
        if events:
            self.on_events(events)

    def _deadline(self) -> float | None:
        conn = self.connection
        deadline = conn.timer_deadline()
        limit = self.network_timeout
        if limit is not None and conn.state is _STA6:
            idle = self.last_rx + limit
            deadline = idle if deadline is None else min(deadline, idle)
        return deadline

    def _on_timer(self) -> None:
        if self._ended:
            return
        now = time.monotonic()
        conn = self.connection
        with self.lock:
            deadline = conn.timer_deadline()
            if deadline is not None and now >= deadline:
                conn.handle_timer(now)
            idle = (
                self.network_timeout is not None
                and conn.state is _STA6
                and now - self.last_rx >= self.network_timeout
            )
        if idle:
            log.info("network timeout: no data for %ss, aborting", self.network_timeout)
            self.on_idle()
        with self.lock:
            events = conn.events()
        if events:
            self.on_events(events)
        self.pump()


class Incoming(asyncio.BufferedProtocol):
    """An accepted connection (after its TLS handshake, if any) until ``on_accept``
    takes it: ``take(transport)`` runs on the loop inside ``connection_made``; when it
    leaves the connection untaken, the transport is closed."""

    def __init__(self, take: Callable[[asyncio.Transport], bool]) -> None:
        self._take = take
        self._scratch = bytearray(1)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        try:
            taken = self._take(transport)  # type: ignore[arg-type]
        except Exception:  # noqa: BLE001 - a callback must not stop the listener
            log.exception("on_accept raised")
            taken = False
        if not taken:
            transport.close()

    def get_buffer(self, sizehint: int) -> memoryview:  # pragma: no cover - never taken
        return memoryview(self._scratch)

    def buffer_updated(self, nbytes: int) -> None:  # pragma: no cover - closed at once
        pass

    def connection_lost(self, exc: Exception | None) -> None:
        pass


def run_on_loop(loop: asyncio.AbstractEventLoop, fn: Callable[[], Any]) -> Any:
    """Run ``fn()`` on ``loop`` and return its result, from another thread."""
    done = threading.Event()
    box: list[Any] = []

    def call() -> None:
        try:
            box.append((True, fn()))
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller
            box.append((False, exc))
        done.set()

    loop.call_soon_threadsafe(call)
    done.wait()
    ok, value = box[0]
    if not ok:
        raise value
    return value
