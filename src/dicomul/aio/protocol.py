"""The asyncio transport: an ``asyncio.BufferedProtocol`` over one sans-IO DIMSE Session
(and so one Connection). No protocol logic lives here.

Bytes are received straight into the Connection's framer buffer (``get_buffer`` hands out
``connection.recv_buffer()``); after each read, each timer and each local request the
protocol writes what the Connection has queued, hands the events to its owner (the
requestor or the acceptor), re-arms the one timer (ARTIM, from ``timer_deadline()``,
with ``loop.call_at``) and closes the transport when the Connection asks. Output is pulled
from the Connection a bounded amount at a time and stops while the transport's buffer is
over its high-water mark (``pause_writing``), so a 2 GB data set never sits in memory.
"""

from __future__ import annotations

import asyncio
import logging
import platform
import re
import socket
import sys
import threading
from collections.abc import Callable
from typing import Any

from dicomul.dimse.session import Session

__all__ = ["SessionProtocol", "DeadlineTimer", "WRITE_BATCH", "shared_scratch", "write_buffers"]

log = logging.getLogger("dicomul")

#: Linux's TCP_QUICKACK (the kernel clears it again), set after a read that leaves a
#: message incomplete when the peer may be waiting for our ACK: a peer whose Nagle
#: algorithm holds its next small segment until then (pynetdicom sends a C-STORE's data
#: set PDU after its command PDU so) must not wait for the 40 ms delayed ACK: 500 small
#: C-STOREs from pynetdicom's storescu took 23 s, 1.9 s with it. It may be waiting when
#: the read took all the socket had (fewer bytes than asked for), or ended exactly at
#: the end of a PDU (written with one send, the peer's next one may be held) having
#: brought less than two full segments (TCP ACKs every second one at once: RFC 1122
#: 4.2.3.2). Otherwise the peer is still sending: no system call (after every read of a
#: large data set that was ~10% of the server's CPU). Other systems have no such option
#: (None): nothing is done there.
_QUICKACK: int | None = getattr(socket, "TCP_QUICKACK", None)
_MAXSEG: int | None = getattr(socket, "TCP_MAXSEG", None)

#: SO_RCVLOWAT: while a large PDU is arriving the socket is reported readable only once
#: the rest of it is there (at most LOWAT_MAX bytes), so a PDU costs one wake-up and one
#: read instead of one per chunk the kernel delivers (~64 KiB on loopback: a 1 MiB data
#: set in 128 KiB PDUs took 18 reads, each a turn of the loop). The peer must send those
#: bytes whatever else it does (it declared the PDU's length); an end of stream or an
#: error still wakes the loop at once. Only on Linux 5.10 and later, where poll honours
#: it without stalling (older kernels could hang with small segments: "tcp: fix
#: SO_RCVLOWAT hangs with fat skbs"), and not over TLS (the socket carries ciphertext);
#: elsewhere reads are as they were.
_RCVLOWAT: int | None = getattr(socket, "SO_RCVLOWAT", None)
#: A PDU's rest below this is read as it comes (not worth two system calls).
LOWAT_MIN = 32 * 1024
#: At most this much is waited for (a slow peer's bytes still show as activity well
#: within any idle timeout; see SessionProtocol.read_any).
LOWAT_MAX = 256 * 1024


def _linux_at_least(release: str, want: tuple[int, int]) -> bool:
    """Whether a Linux kernel release string (``platform.release()``) is ``want`` or
    later."""
    m = re.match(r"(\d+)\.(\d+)", release)
    return m is not None and (int(m.group(1)), int(m.group(2))) >= want


#: Whether SO_RCVLOWAT is used here (see _RCVLOWAT; Linux also grows the receive buffer
#: to hold what is waited for).
LOWAT_SAFE = (
    _RCVLOWAT is not None
    and sys.platform.startswith("linux")
    and _linux_at_least(platform.release(), (5, 10))
)

#: Bytes pulled from the Connection per write while the transport accepts more.
WRITE_BATCH = 1 << 20
#: Buffers smaller than this are joined into one write (one system call).
JOIN_BELOW = 64 * 1024
#: Bytes read at most at once from a connection not yet associated, and from an
#: association (into the thread's shared scratch buffer: see shared_scratch).
RECV_IDLE = 4096
RECV_ASSOCIATED = 256 * 1024

_local = threading.local()


def shared_scratch(size: int = RECV_ASSOCIATED) -> bytearray:
    """This thread's scratch buffer (at least ``size`` bytes) for
    ``Connection.recv_buffer``: a loop reads from one connection at a time and nothing
    in the buffer outlives the call that reads into it, so every connection served by
    the thread shares it. A connection then holds no receive buffer of its own between
    PDUs, and a read can take several PDUs at once."""
    buf: bytearray | None = getattr(_local, "scratch", None)
    if buf is None or len(buf) < size:
        buf = _local.scratch = bytearray(size)
    return buf


def quickack_wanted(
    nbytes: int, asked: int, partial_pdu: int, two_segments: int, message_done: bool
) -> bool:
    """Whether a read of ``nbytes`` into a buffer of ``asked`` bytes may leave the peer
    waiting for our ACK (see _QUICKACK): it left a message incomplete and either took
    all the socket had, or ended at the end of a PDU (``partial_pdu`` 0) having brought
    less than ``two_segments`` bytes."""
    if message_done:
        return False
    return nbytes < asked or (nbytes < two_segments and not partial_pdu)


class DeadlineTimer:
    """One loop timer kept at a deadline (ARTIM's, or an idle limit's): ``arm(deadline)``
    re-arms it only when the deadline changed (None: no timer), ``cancel()`` stops it;
    when it fires it is disarmed, then ``callback()`` runs. ``clock`` is the deadline's
    time base (``loop.time`` or ``time.monotonic``)."""

    __slots__ = ("_loop", "_callback", "_clock", "_handle", "at")

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        callback: Callable[[], None],
        clock: Callable[[], float],
    ) -> None:
        self._loop, self._callback, self._clock = loop, callback, clock
        self._handle: asyncio.TimerHandle | None = None
        self.at: float | None = None

    def arm(self, deadline: float | None) -> None:
        if deadline == self.at:
            return
        self.cancel()
        if deadline is not None:
            self.at = deadline
            self._handle = self._loop.call_later(max(0.0, deadline - self._clock()), self._fire)

    def cancel(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
        self._handle = None
        self.at = None

    def _fire(self) -> None:
        self._handle = None
        self.at = None
        self._callback()


class SessionProtocol(asyncio.BufferedProtocol):
    """Drives ``session`` from the event loop; ``on_events(events)`` gets each batch of
    the Session's events (on the loop); ``on_lost(exc)`` once the transport is gone."""

    def __init__(
        self,
        session: Session,
        on_events: Callable[[list[Any]], None],
        on_lost: Callable[[BaseException | None], None] | None = None,
        on_made: Callable[[], None] | None = None,
    ) -> None:
        self.session = session
        self.on_made = on_made
        self.connection = session.connection
        self.on_events = on_events
        self.on_lost = on_lost
        self.transport: asyncio.Transport | None = None
        self._sock: Any = None
        self._quickack: int | None = None
        self._asked = 0  # the size of the last get_buffer()
        self._two_segments = 2 * 65535  # two full-sized TCP segments (set when known)
        self._use_lowat = False  # whether SO_RCVLOWAT is managed here
        self._lowat = 1  # its value now
        self.peer_address: tuple[Any, ...] | None = None
        self._loop = asyncio.get_running_loop()
        self._timer = DeadlineTimer(self._loop, self._on_timer, self._loop.time)
        self._close_timer: asyncio.TimerHandle | None = None
        self._paused = False
        self._closed = False
        self._drained: list[asyncio.Future[None]] = []
        self._holds: set[str] = set()
        #: loop.time() of the last bytes received (an idle timeout's measure: a large
        #: data set arriving slowly is activity, though it makes no event until done).
        self.last_input = self._loop.time()
        #: loop.time() since when the peer has not read what we send (writing paused).
        self.stalled_since: float | None = None

    # ---- asyncio's side ---------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:  # pragma: no cover - a socket that refuses it still works
                pass
        tcp = sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6)
        self._quickack, self._sock = (_QUICKACK if tcp else None), sock
        if self._quickack is not None and _MAXSEG is not None:
            try:  # (a segment's size: RFC 1122's "full-sized segment")
                self._two_segments = 2 * int(sock.getsockopt(socket.IPPROTO_TCP, _MAXSEG))
            except (OSError, TypeError, ValueError):
                pass
        if tcp and LOWAT_SAFE and transport.get_extra_info("sslcontext") is None:
            self._use_lowat = True
        self.peer_address = transport.get_extra_info("peername")
        if self.on_made is not None:  # (after a TLS handshake: a failed one never gets here)
            self.on_made()
        if self._closed:  # on_made refused the connection
            return
        self.connection.connection_made(now=self._loop.time())
        self.pump()

    def get_buffer(self, sizehint: int) -> memoryview:
        # Small reads until the association is up, then enough for several PDUs per
        # read, into the thread's shared scratch; large PDUs go into their own buffer.
        size = RECV_ASSOCIATED if self.connection.is_established else RECV_IDLE
        buf = self.connection.recv_buffer(size, shared_scratch())
        self._asked = len(buf)
        return buf

    def buffer_updated(self, nbytes: int) -> None:
        self.last_input = now = self._loop.time()
        self.session.received(nbytes, now=now)
        if self._quickack is not None and quickack_wanted(
            nbytes, self._asked, self.connection.partial_pdu, self._two_segments,
            self.session.has_events,
        ):  # fmt: skip
            try:  # the rest of a message is coming: ACK now (see _QUICKACK)
                self._sock.setsockopt(socket.IPPROTO_TCP, self._quickack, 1)
            except OSError:
                self._quickack = None
        if self._use_lowat:
            missing = self.connection.pdu_bytes_missing
            self._set_lowat(min(missing, LOWAT_MAX) if missing >= LOWAT_MIN else 1)
        self.pump()

    def _set_lowat(self, value: int) -> bool:
        """Set SO_RCVLOWAT; whether it changed."""
        if value == self._lowat:
            return False
        try:
            self._sock.setsockopt(socket.SOL_SOCKET, _RCVLOWAT, value)
        except OSError:  # refused here: read as the bytes come (if it can be put back)
            self._use_lowat = False
            return False
        self._lowat = value
        return True

    def read_any(self) -> bool:
        """From now on read bytes as they come, not only a large PDU's rest: called
        before the connection is judged idle, so that bytes of a PDU that arrives slowly
        still count as activity, and count when they arrive. Whether bytes may have been
        waiting unread (the caller then looks again a moment later)."""
        self._use_lowat = False  # (for good: this peer is slow, or about to be aborted)
        if self._lowat == 1 or self._closed:
            return False
        return self._set_lowat(1)

    def eof_received(self) -> bool:
        self.session.receive_data(b"", now=self._loop.time())
        self.pump()
        return False  # close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        if self._closed:
            return
        if self.connection.state.value != 1:  # the peer vanished: Evt17
            self.session.receive_data(b"", now=self._loop.time())
        self._closed = True
        self._timer.cancel()
        if self._close_timer is not None:
            self._close_timer.cancel()
        for fut in self._drained:
            if not fut.done():
                fut.set_result(None)
        self._drained.clear()
        self._dispatch()
        if self.on_lost is not None:
            self.on_lost(exc)

    def pause_writing(self) -> None:
        # The peer does not read what we send: stop reading what it sends too, so that
        # its requests wait in the kernel and not as queued responses in our memory.
        self._paused = True
        self.stalled_since = self._loop.time()
        self.hold_reading("write")

    def resume_writing(self) -> None:
        self._paused = False
        self.stalled_since = None
        self.release_reading("write")
        waiters, self._drained = self._drained, []
        for fut in waiters:
            if not fut.done():
                fut.set_result(None)
        self.pump()

    def hold_reading(self, reason: str) -> None:
        """Stop reading from the peer until every reason given is released (the socket
        buffers then fill and TCP slows the peer down)."""
        if not self._holds and self.transport is not None and not self._closed:
            self.transport.pause_reading()
        self._holds.add(reason)

    def release_reading(self, reason: str) -> None:
        if reason not in self._holds:
            return
        self._holds.discard(reason)
        if not self._holds and self.transport is not None and not self._closed:
            self.transport.resume_reading()

    async def drain(self) -> None:
        """Wait while the transport's buffer is over its high-water mark (a producer of
        many responses, e.g. C-FIND matches, calls this between them)."""
        if self._paused and not self._closed:
            fut = self._loop.create_future()
            self._drained.append(fut)
            await fut

    # ---- our side ---------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        return self._closed

    def pump(self) -> None:
        """Write what is queued, deliver the events, re-arm the timer, close if asked:
        call after any local request made on the Session or its Connection."""
        if self._closed:
            return
        transport = self.transport
        connection = self.connection
        session = self.session
        for _ in range(64):  # handlers may queue more (a response): write that too
            if transport is not None:
                while not self._paused and connection.pending_output:
                    bufs = session.data_to_send(WRITE_BATCH)
                    if not bufs:
                        break
                    write_buffers(transport, bufs)
            if not session.has_events or not self._dispatch():
                break
        self._timer.arm(self.connection.timer_deadline())
        if self.connection.close_requested and transport is not None and not self._closed:
            # A peer that does not read would keep the output (ours, or the transport's
            # in close()) waiting for ever: after ARTIM's time, drop what is left.
            if self._close_timer is None:
                self._close_timer = self._loop.call_later(
                    self.connection.artim_timeout, self.abort_transport
                )
            if not self.connection.pending_output:
                transport.close()

    def abort_transport(self) -> None:
        """Close the socket now, without waiting for queued output."""
        if self.transport is not None and not self._closed:
            self.transport.abort()

    def _dispatch(self) -> bool:
        events = self.session.events()
        if events:
            self.on_events(events)
        return bool(events)

    def _on_timer(self) -> None:
        if not self._closed:
            self.session.handle_timer(self._loop.time())
            self.pump()


def write_buffers(transport: asyncio.Transport, bufs: list[Any]) -> None:
    """Write the buffers, small ones joined: each ``write`` is a ``send`` system call
    when the socket has room, and a PDU's 12-byte headers must not cost one each. Large
    buffers (a data set's fragments) go as they are, uncopied."""
    small: list[Any] = []
    size = 0
    for buf in bufs:
        n = len(buf)
        if n >= JOIN_BELOW:
            if small:
                transport.write(b"".join(small))
                small, size = [], 0
            transport.write(buf)
            continue
        small.append(buf)
        size += n
        if size >= JOIN_BELOW:
            transport.write(b"".join(small))
            small, size = [], 0
    if small:
        transport.write(small[0] if len(small) == 1 else b"".join(small))
