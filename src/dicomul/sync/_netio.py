"""The socket-level pieces under Net: reading into the Connection, writing buffer lists,
waiting for readiness and waking the thread that waits: the transport of a Net that its
caller drives (io_thread=False; the loop's transport is _netloop.py).

Nothing here knows PS3.8: these are the few hundred lines of transport that DESIGN.md
section 1 keeps apart from the protocol core.
"""

from __future__ import annotations

import logging
import os
import select
import selectors
import socket
import sys
import time
from typing import Any

from dicomul.ul.connection import Connection, State

log = logging.getLogger("dicomul")

READ_BURST = 4 * 1024 * 1024  # most bytes read per I/O loop turn
WRITE_WINDOW = 4 * 1024 * 1024  # most bytes taken from the Connection per write
IOV_MAX = 512  # buffers per sendmsg call


def shutdown_quietly(sock: socket.socket) -> None:
    """Shut a socket down both ways (waking a blocked accept() or recv() on Linux),
    ignoring that it may be closed or not connected already."""
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


#: recv flag for a read that must not wait, where the platform has one (not Windows).
_DONTWAIT: int | None = getattr(socket, "MSG_DONTWAIT", None)


def is_tls(sock: object) -> bool:
    """True if ``sock`` is an ssl.SSLSocket. ssl is imported only by those who use TLS
    (it costs start-up time): if nobody imported it, no socket can be one."""
    ssl = sys.modules.get("ssl")
    return ssl is not None and isinstance(sock, ssl.SSLSocket)


def _tls_wants_read(exc: OSError) -> bool:
    ssl = sys.modules.get("ssl")
    return ssl is not None and isinstance(exc, ssl.SSLWantReadError)


def recv_into(sock: socket.socket, conn: Connection, now: float, tls: bool) -> bool:
    """Read what is there straight into the Connection's receive buffers, handing each
    read on at once. After the first read (poll said the socket is readable), reads go on
    without waiting (MSG_DONTWAIT) while they fill their buffer, up to a few MiB, so a
    stream of large PDUs costs no poll per read. False if nothing could be read yet (a
    TLS record not complete). ``tls``: sock is an ssl.SSLSocket."""
    total = 0
    while True:
        buf = conn.recv_buffer()
        want = len(buf)
        try:
            if total == 0 or tls:
                n = sock.recv_into(buf)
            elif _DONTWAIT is None:  # no MSG_DONTWAIT (Windows): one read per poll
                return True
            else:
                n = sock.recv_into(buf, 0, _DONTWAIT)
        except OSError as exc:
            if isinstance(exc, (BlockingIOError, InterruptedError)) or _tls_wants_read(exc):
                return total > 0
            n = 0  # the connection broke: as closed
        conn.received(n, now=now)
        total += n
        if n == 0:
            return True
        if tls:
            if not sock.pending():  # type: ignore[attr-defined]
                return True
            continue  # decrypted bytes that poll() cannot see
        if n < want or total >= READ_BURST or conn.state is State.STA1:
            return True


class Waker:
    """Wakes the I/O thread from another thread: an eventfd where there is one (one fd,
    one syscall to make), else a socket pair."""

    def __init__(self) -> None:
        self._efd = -1
        self._pair: tuple[socket.socket, socket.socket] | None = None
        if hasattr(os, "eventfd"):
            self._efd = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
        else:  # pragma: no cover - not Linux
            r, w = socket.socketpair()
            r.setblocking(False)
            w.setblocking(False)
            self._pair = (r, w)

    def fileno(self) -> int:
        return self._efd if self._pair is None else self._pair[0].fileno()

    def wake(self) -> None:
        try:
            if self._pair is None:
                os.eventfd_write(self._efd, 1)
            else:
                self._pair[1].send(b"\0")
        except OSError:
            pass

    def drain(self) -> None:
        try:
            if self._pair is None:
                os.eventfd_read(self._efd)
            else:
                while self._pair[0].recv(4096):
                    pass
        except OSError:
            pass

    def close(self) -> None:
        if self._pair is None:
            if self._efd >= 0:
                os.close(self._efd)
                self._efd = -1
        else:
            for s in self._pair:
                s.close()


def write_plain(sock: socket.socket, bufs: list[Any], nbytes: int) -> None:
    """write_all() for a socket known to have sendmsg and no TLS: the hot path of small
    messages is one call."""
    if len(bufs) > IOV_MAX:
        _write_rest(sock, bufs, 0)
        return
    sent = sock.sendmsg(bufs)
    if sent != nbytes:
        _write_rest(sock, bufs, sent)


def write_all(sock: socket.socket, bufs: list[Any], nbytes: int | None = None) -> None:
    """Write every buffer, in order, without joining them (sendmsg where possible)."""
    if is_tls(sock) or not hasattr(sock, "sendmsg"):
        small: list[Any] = []
        for b in bufs:  # TLS: no sendmsg; join small pieces, send big ones as they are
            if len(b) < 65536:
                small.append(b)
                continue
            if small:
                sock.sendall(b"".join(small))
                small = []
            sock.sendall(b)
        if small:
            sock.sendall(b"".join(small))
        return
    if nbytes is None:
        _write_rest(sock, bufs, 0)
    else:
        write_plain(sock, bufs, nbytes)


def _write_rest(sock: socket.socket, bufs: list[Any], sent: int) -> None:
    """Write bufs with sendmsg, the first ``sent`` bytes of which are written already."""
    views = [memoryview(b).cast("B") for b in bufs]
    i = 0
    while i < len(views):  # skip what was sent, keep the rest of a partial buffer
        v = views[i]
        if sent >= len(v):
            sent -= len(v)
            i += 1
            continue
        if sent:
            views[i] = v[sent:]
        sent = sock.sendmsg(views[i : i + IOV_MAX])


class Poller:
    """Waits for the socket or the wake-up pipe to be readable (poll, else selectors)."""

    def __init__(self, sock: socket.socket, wake: Waker) -> None:
        self._sfd, self._wfd = sock.fileno(), wake.fileno()
        if hasattr(select, "poll"):
            self._poll: Any = select.poll()
            self._poll.register(self._sfd, select.POLLIN)
            self._poll.register(self._wfd, select.POLLIN)
            self._sel = None
        else:  # pragma: no cover - Windows
            self._poll = None
            self._sel = selectors.DefaultSelector()
            self._sel.register(sock, selectors.EVENT_READ, self._sfd)
            self._sel.register(self._wfd, selectors.EVENT_READ, self._wfd)

    def _classify(self, ready: list[tuple[int, int]]) -> tuple[bool, bool]:
        """poll()'s result as (socket readable, wake-up pipe readable)."""
        if len(ready) == 1:  # the usual case: one of the two
            sock = ready[0][0] == self._sfd
            return sock, not sock
        return bool(ready), bool(ready)  # both, or neither (timeout)

    def spin(self, seconds: float) -> tuple[bool, bool] | None:
        """Check for readiness without sleeping, for up to ``seconds``: the result of
        wait() as soon as something is ready, None if nothing was by then. Costs CPU
        (a non-blocking poll() per microsecond or so); see Net's ``spin_wait``."""
        if self._poll is None:  # pragma: no cover - Windows: no spinning
            return None
        poll, clock = self._poll.poll, time.perf_counter
        end = clock() + seconds
        while True:
            ready = poll(0)
            if ready:
                return self._classify(ready)
            if clock() >= end:
                return None

    def wait(self, timeout: float | None) -> tuple[bool, bool]:
        """(socket readable, wake-up pipe readable); both False on timeout."""
        if self._poll is not None:
            return self._classify(
                self._poll.poll(None if timeout is None else int(timeout * 1000) + 1)
            )
        s = w = False
        assert self._sel is not None
        for key, _ in self._sel.select(timeout):
            if key.data == self._sfd:
                s = True
            else:
                w = True
        return s, w

    def close(self) -> None:
        if self._sel is not None:
            self._sel.close()
