"""The blocking Association's transport: a DIMSE Session driven over a connected socket
by the thread that calls the Association, while it waits for an answer. No loop, no
thread of its own: one round trip costs a send and a receive, as in DCMTK's SCUs.

(DESIGN.md has the blocking API over the event loop. It is, for servers and Net; a
blocking *requestor* that handed every request to the loop thread would pay two thread
hand-offs per message, and a C-ECHO would cost twice DCMTK's. The Session, its rules and
its events are the same ones the asyncio requestor uses.)

Another thread may end the association (``shutdown``): the waiting thread then sees the
connection close. Nothing else here is thread-safe.
"""

from __future__ import annotations

import socket
import time
from typing import Any

from dicomul.dimse.session import Session
from dicomul.sync._netio import is_tls, shutdown_quietly, write_all, write_plain
from dicomul.ul.connection import State
from dicomul.ul.events import AbortRequest

__all__ = ["BlockingTransport"]

_STA6 = State.STA6
#: Bytes taken from the Connection per write.
WRITE_WINDOW = 4 * 1024 * 1024
_UNSET = object()


class BlockingTransport:
    """Drives ``session`` over ``sock`` (connected; TLS-wrapped or plain).

    ``network_timeout``: seconds without receiving anything while associated before the
    association is aborted (None: no limit)."""

    def __init__(
        self, sock: socket.socket, session: Session, *, network_timeout: float | None
    ) -> None:
        self.sock = sock
        self.session = session
        self.connection = session.connection
        self.network_timeout = network_timeout
        tls = is_tls(sock)
        self._write = write_plain if hasattr(sock, "sendmsg") and not tls else write_all
        self.last_rx = time.monotonic()
        self.closed = False
        self.timed_out = False  # the network timeout aborted the association
        self._sock_timeout: Any = _UNSET

    @property
    def peer_address(self) -> tuple[Any, ...] | None:
        try:
            return tuple(self.sock.getpeername())
        except OSError:
            return None

    def flush(self) -> None:
        """Write everything the Connection has queued (blocking while the peer reads)."""
        conn, sock, write = self.connection, self.sock, self._write
        if conn.pending_output and self._sock_timeout != self.network_timeout:
            # A peer that stops reading for network_timeout ends the connection
            # instead of blocking this writer for ever.
            sock.settimeout(self.network_timeout)
            self._sock_timeout = self.network_timeout
        while conn.pending_output and not self.closed:
            for _type, nbytes, bufs in conn.take_outgoing(WRITE_WINDOW, now=time.monotonic()):
                try:
                    write(sock, bufs, nbytes)
                except OSError as exc:  # the peer is gone or stuck: ends on the next read
                    self.timed_out = isinstance(exc, TimeoutError)
                    conn.discard_output()
                    shutdown_quietly(sock)
                    return

    def turn(self, deadline: float | None) -> list[Any]:
        """Write what is queued, then wait until bytes arrive, a timer is due or
        ``deadline`` (time.monotonic()) passes; returns the Session's events."""
        session, conn = self.session, self.connection
        self.flush()
        if self.closed:
            return session.events()
        if conn.close_requested and not conn.pending_output:
            self.close()
            session.receive_data(b"", now=time.monotonic())  # (Sta1 already: no event)
            return session.events()
        now = time.monotonic()
        wake = conn.timer_deadline()
        idle_at = None
        if self.network_timeout is not None and conn.state is _STA6:
            idle_at = self.last_rx + self.network_timeout
            wake = idle_at if wake is None else min(wake, idle_at)
        if deadline is not None:
            wake = deadline if wake is None else min(wake, deadline)
        timeout = None if wake is None else max(0.0, wake - now) + 0.0005
        if timeout != self._sock_timeout:
            self.sock.settimeout(timeout)
            self._sock_timeout = timeout
        try:
            n: int | None = self.sock.recv_into(session.recv_buffer())
        except TimeoutError:
            n = None
        except OSError:
            n = 0  # reset, or shut down by another thread: as closed
        now = time.monotonic()
        if n is not None:
            if n:
                self.last_rx = now
            session.received(n, now=now)
            if n == 0:
                self.close()
            return session.events()
        timer = conn.timer_deadline()
        if timer is not None and now >= timer:
            session.handle_timer(now)
        if idle_at is not None and now >= idle_at and conn.state is _STA6:
            self.timed_out = True
            conn.send(AbortRequest(0, 0), now=now)
        return session.events()

    def shutdown(self) -> None:
        """End the connection from any thread (the waiting thread sees it close)."""
        shutdown_quietly(self.sock)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            try:
                self.sock.close()
            except OSError:  # pragma: no cover
                pass
