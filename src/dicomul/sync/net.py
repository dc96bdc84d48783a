"""Net: the LEADTOOLS-style network handle over a sans-IO Connection.

One Net is one TCP (optionally TLS) connection and one association. By default its
connection runs on the process's event loop (``sync/_loop.py``, one thread for every Net
and blocking Server of the process; the transport is ``sync/_netloop.py``): the loop
reads, feeds the Connection, turns its events into the ``on_*`` callbacks and writes
what the Connection queues. No thread per connection, no polling, no sleeps. The
``send_*`` methods check and queue at once (raising ``LocalProtocolError`` when PS3.8
forbids the request now) and are safe to call from inside callbacks; ``send_data`` from
another thread returns once the loop has taken what it queued (back-pressure on a sender
faster than the peer). ``io_thread=False`` is the other transport: no loop, the caller
drives its own blocking socket with :meth:`Net.process` (one thread fewer per round trip,
what a blocking SCU wants).

Callbacks are plain methods: override them in a subclass, or assign a function to the
attribute (``net.on_receive_data = handler``); an assigned function is called without
``self``. They run on the loop: a callback that blocks holds up every connection of the
process, so hand long work to a thread. A listening Net hands each incoming connection
to a new Net (``on_accept`` -> ``accept()``), which inherits the listener's
configuration and assigned callbacks.
"""

from __future__ import annotations

import errno
import logging
import socket
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from dicomul.dimse.messages import command_has_dataset
from dicomul.errors import AssociationAborted, AssociationRejected, LocalProtocolError
from dicomul.sync._netio import (
    Poller,
    Waker,
    is_tls,
    shutdown_quietly,
    write_all,
    write_plain,
)
from dicomul.sync._netpump import DEFAULT_SPIN_WAIT, SPIN_MISSES, SPIN_PAUSE, PumpedTransport
from dicomul.ul._core import DEFAULT_MAX_PDU_LENGTH
from dicomul.ul.associate import Associate
from dicomul.ul.connection import DEFAULT_ARTIM_TIMEOUT, Connection, Role, State
from dicomul.ul.events import (
    AbortIndication,
    AbortRequest,
    AssociateAcceptConfirmation,
    AssociateAcceptResponse,
    AssociateIndication,
    AssociateRejectConfirmation,
    AssociateRejectResponse,
    AssociateRequest,
    DataIndication,
    DataRequest,
    Event,
    PDUReceived,
    ReleaseConfirmation,
    ReleaseIndication,
    ReleaseRequest,
    ReleaseResponse,
    TransportClosed,
)

if TYPE_CHECKING:
    import asyncio
    import ssl

    from dicomul.sync._netloop import NetProtocol

__all__ = ["Net", "DEFAULT_SPIN_WAIT", "SPIN_MISSES", "SPIN_PAUSE"]

log = logging.getLogger("dicomul")
_STA6 = State.STA6


_CALLBACKS = (
    "on_connect",
    "on_accept",
    "on_close",
    "on_send",
    "on_receive",
    "on_receive_associate_request",
    "on_receive_associate_accept",
    "on_receive_associate_reject",
    "on_receive_data",
    "on_receive_release_request",
    "on_receive_release_response",
    "on_receive_abort",
)


def _resolver_host(host: str) -> str | bytes:
    """``host`` for getaddrinfo: an ASCII name or address as bytes, which skips the IDNA
    codec that a str host costs (an import of encodings.idna, stringprep, unicodedata:
    2 ms of every command's start-up); other names go as they are, IDNA-encoded."""
    return host.encode("ascii") if host.isascii() else host


class Net(PumpedTransport):
    """A DICOM network handle (LEADTOOLS ``HDICOMNET``): connect or listen, send, callbacks.

    Parameters: ``ssl_context`` (an ``ssl.SSLContext``; client side by default, server
    side on listening Nets), ``server_hostname`` for TLS clients, ``connect_timeout``
    seconds, ``artim_timeout`` seconds (PS3.8 ARTIM), ``network_timeout`` seconds without
    receiving anything while associated before an A-ABORT (None = no limit),
    ``max_pdu_length`` the largest PDU accepted before an association sets it,
    ``dataset_sink(context_id, command) -> writable | None`` to stream received data sets.
    ``io_thread=True`` (the default): the connection runs on the process's event loop
    and the callbacks run there. ``io_thread=False``: no loop; the caller drives the
    connection with :meth:`process` (the blocking conveniences do it while they wait),
    and callbacks run in the caller's thread. One thread fewer per round trip: what a
    blocking SCU wants. (The name is LEADTOOLS-era: there is no thread per Net either way.)
    ``spin_wait`` seconds (default 0: never; DICOMUL_SPIN_WAIT sets the default), for
    ``io_thread=False`` Nets only: before sleeping until the peer answers, check for the
    answer without sleeping for up to this long. A sleeping CPU, on a virtual machine
    above all, takes tens of microseconds to wake up, longer than a fast peer takes to
    answer, so this trades up to that much CPU per wait for latency. It is bounded: after
    4 waits in a row longer than the window it stops spinning for the next 256 waits (a
    slow or idle peer costs next to nothing). The loop never spins.
    """

    def __init__(
        self,
        *,
        ssl_context: ssl.SSLContext | None = None,
        server_hostname: str | None = None,
        connect_timeout: float | None = 30.0,
        artim_timeout: float = DEFAULT_ARTIM_TIMEOUT,
        network_timeout: float | None = None,
        max_pdu_length: int = DEFAULT_MAX_PDU_LENGTH,
        dataset_sink: Callable[[int, bytes], Any] | None = None,
        io_thread: bool = True,
        spin_wait: float | None = None,
    ) -> None:
        self.io_thread = io_thread
        self._spin_arg = spin_wait  # what listeners hand their children
        if spin_wait is None:
            spin_wait = DEFAULT_SPIN_WAIT
        if spin_wait < 0:
            raise ValueError("spin_wait must be >= 0")
        self.spin_wait = float(spin_wait)
        self._spin_misses = 0  # consecutive waits the spin did not cover
        self._spin_pause = 0  # turns left without spinning after SPIN_MISSES misses
        self.ssl_context = ssl_context
        self.server_hostname = server_hostname
        self.connect_timeout = connect_timeout
        self.artim_timeout = artim_timeout
        self.network_timeout = network_timeout
        self.max_pdu_length = max_pdu_length
        self.dataset_sink = dataset_sink
        self._lock = threading.RLock()  # guards the Connection
        self._wlock = threading.Lock()  # serialises writes to the socket
        self._conn: Connection | None = None
        self._sock: socket.socket | None = None
        self._server: socket.socket | None = None
        self._waker: Waker | None = None
        self._poller: Poller | None = None
        self._last_rx = 0.0
        self._pump = threading.RLock()  # one pumping thread at a time (io_thread=False)
        self._writer = 0  # ident of the thread holding _wlock, 0 when none
        self._tls = False
        self._write: Callable[[socket.socket, list[Any], int], None] = write_all
        self._closed = threading.Event()
        self._cond = threading.Condition(self._lock)
        self._outcome: Event | None = None  # the last association-level event
        self._peer: tuple[Any, ...] | None = None
        self.connections: list[Net] = []  # live children of a listening Net
        self._proto: NetProtocol | None = None  # the loop's transport (io_thread=True)
        self._aserver: asyncio.AbstractServer | None = None  # a listener's, on the loop
        self._incoming: asyncio.Transport | None = None  # inside on_accept: to be taken

    # ---- callbacks (override, or assign a function to the attribute) -----------------

    def on_connect(self, error: int) -> None:
        """The TCP/TLS connection to the peer is up (error 0) or failed (an errno)."""

    def on_accept(self, error: int) -> None:
        """A listening Net got an incoming connection: call ``accept()`` to take it (the
        default does); if not taken, it is closed when this returns."""
        if error == 0:
            self.accept()

    def on_close(self, error: int, peer: Net) -> None:
        """The transport connection of ``peer`` (this Net) is closed."""

    def on_send(self, error: int, pdu_type: int, nbytes: int) -> None:
        """A queued PDU (or window of a long P-DATA message) was written: ``nbytes``."""

    def on_receive(self, error: int, pdu_type: int, raw: bytes) -> None:
        """A raw PDU arrived, before its own callback (only called when overridden)."""

    def on_receive_associate_request(self, assoc: Associate) -> None:
        """A-ASSOCIATE-RQ received: answer with send_associate_accept or _reject."""

    def on_receive_associate_accept(self, assoc: Associate) -> None:
        """A-ASSOCIATE-AC received (abstract syntaxes back-filled from our RQ)."""

    def on_receive_associate_reject(self, result: int, source: int, reason: int) -> None:
        """A-ASSOCIATE-RJ received."""

    def on_receive_data(self, pc_id: int, command: bytes, dataset: Any) -> None:
        """A whole DIMSE message: command set bytes and data set (bytes, sink or None)."""

    def on_receive_release_request(self) -> None:
        """A-RELEASE-RQ received: answer with send_release_response()."""

    def on_receive_release_response(self) -> None:
        """A-RELEASE-RP received; the connection closes."""

    def on_receive_abort(self, source: int, reason: int) -> None:
        """A-ABORT received, or the association was aborted (A-P-ABORT) by the provider."""

    # ---- connection set-up ----------------------------------------------------------

    def connect(
        self,
        peer_host: str,
        peer_port: int,
        local_host: str | None = None,
        local_port: int = 0,
    ) -> None:
        """Open the transport connection to the peer (TLS if ``ssl_context``) and start
        driving it. Raises OSError (after ``on_connect(errno)``) on failure."""
        if self._conn is not None:
            raise LocalProtocolError("this Net is already connected")
        source = (local_host or "", local_port) if local_host or local_port else None
        sock: socket.socket | None = None
        try:
            sock = socket.create_connection(
                (_resolver_host(peer_host), peer_port),
                timeout=self.connect_timeout,
                source_address=source,
            )
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self.io_thread:
                sock.settimeout(None)
                self._attach(sock, self.server_hostname or peer_host)
            else:
                if self.ssl_context is not None:
                    sock = self.ssl_context.wrap_socket(
                        sock, server_hostname=self.server_hostname or peer_host
                    )
                sock.settimeout(None)
                self._start(sock, Role.REQUESTOR)
        except OSError as exc:
            if sock is not None:
                sock.close()
            self._conn = self._sock = None
            self._call("on_connect", exc.errno or errno.ECONNREFUSED)
            raise
        self._call("on_connect", 0)

    def _attach(self, sock: socket.socket, server_hostname: str) -> None:
        """Hand a connected requestor socket to the loop (its TLS handshake runs there)."""
        from dicomul.sync import _loop

        loop = _loop.loop()
        self._prepare(sock, Role.REQUESTOR, sock.getpeername())
        tls: dict[str, Any] = {}
        if self.ssl_context is not None:
            tls = {"ssl": self.ssl_context, "server_hostname": server_hostname}
            if self.connect_timeout:
                tls["ssl_handshake_timeout"] = self.connect_timeout
        _loop.run(loop.create_connection(self._new_protocol, sock=sock, **tls))

    def _new_protocol(self) -> NetProtocol:
        from dicomul.sync._netloop import NetProtocol

        assert self._conn is not None
        self._proto = NetProtocol(
            self._conn,
            self._lock,
            on_events=self._dispatch,
            on_sent=self._sent,
            on_idle=self._idle,
            on_end=self._shutdown,
            network_timeout=self.network_timeout,
        )
        return self._proto

    def listen(self, host: str, port: int, backlog: int = 16) -> int:
        """Listen for incoming connections (port 0 picks a free one); returns the port.
        Each connection (after its TLS handshake, with ``ssl_context``) calls
        ``on_accept(0)`` on the loop."""
        from dicomul.sync import _loop
        from dicomul.sync._netloop import Incoming

        loop = _loop.loop()
        srv = socket.create_server((host, port), backlog=backlog, reuse_port=False)
        tls: dict[str, Any] = {}
        if self.ssl_context is not None:
            tls = {"ssl": self.ssl_context}
            if self.connect_timeout:
                tls["ssl_handshake_timeout"] = self.connect_timeout
        self._server = srv
        self._closed.clear()
        made = loop.create_server(lambda: Incoming(self._take), sock=srv, **tls)
        self._aserver = _loop.run(made)  # type: ignore[arg-type]
        return int(srv.getsockname()[1])

    def _take(self, transport: asyncio.Transport) -> bool:
        """An accepted connection (on the loop): offer it to on_accept; whether taken."""
        self._incoming = transport
        try:
            self._call("on_accept", 0)
        finally:
            taken = self._incoming is None
            self._incoming = None
            if not taken:
                log.debug("incoming connection not taken by on_accept: closed")
        return taken

    def accept(self, into: Net | None = None) -> Net:
        """Inside ``on_accept``: take the incoming connection into ``into`` (a new Net
        with this one's configuration and assigned callbacks by default) and start it.
        The child runs on the loop whatever its ``io_thread``; its TLS is the listener's
        (the handshake is done before ``on_accept``)."""
        transport = self._incoming
        if transport is None:
            raise LocalProtocolError("accept() is only valid inside on_accept")
        child = into if into is not None else self._child()
        if child.ssl_context is not None and self.ssl_context is None:
            raise LocalProtocolError(
                "a listening Net without TLS cannot accept into a TLS Net: "
                "give the listening Net the ssl_context"
            )
        self._incoming = None
        child.ssl_context = self.ssl_context
        child.io_thread = True
        sock = transport.get_extra_info("socket")
        with self._lock:
            self.connections = [c for c in self.connections if not c._closed.is_set()]
            self.connections.append(child)
        child._prepare(sock, Role.ACCEPTOR, transport.get_extra_info("peername"))
        proto = child._new_protocol()
        transport.set_protocol(proto)
        proto.connection_made(transport)
        return child

    def _child(self) -> Net:
        child = type(self).__new__(type(self))
        Net.__init__(
            child,
            ssl_context=self.ssl_context,
            connect_timeout=self.connect_timeout,
            artim_timeout=self.artim_timeout,
            network_timeout=self.network_timeout,
            max_pdu_length=self.max_pdu_length,
            dataset_sink=self.dataset_sink,
            spin_wait=self._spin_arg,
        )
        for name in _CALLBACKS:  # callbacks assigned on the listener carry over
            if name in self.__dict__:
                setattr(child, name, self.__dict__[name])
        return child

    def _prepare(self, sock: Any, role: Role, peer: tuple[Any, ...] | None) -> None:
        """Set up the Connection for a connected socket."""
        self._sock = sock
        self._peer = peer
        raw = type(self).on_receive is not Net.on_receive or "on_receive" in self.__dict__
        self._conn = Connection(
            role,
            artim_timeout=self.artim_timeout,
            max_pdu_length=self.max_pdu_length,
            needs_dataset=command_has_dataset,
            dataset_sink=self.dataset_sink,
            raw_pdus=raw,
            file_regions=self._write is write_plain,  # the kernel alone reads the data
        )
        if role is Role.ACCEPTOR:
            self._conn.connection_made(now=time.monotonic())
        self._closed.clear()

    def _start(self, sock: socket.socket, role: Role) -> None:
        """Set up a connected socket that the caller drives (io_thread=False)."""
        # Reads happen only when poll() says so (or with MSG_DONTWAIT); the timeout
        # bounds writes: a peer that stops reading for network_timeout seconds ends the
        # connection instead of blocking a writer forever.
        sock.settimeout(self.network_timeout)
        self._tls = is_tls(sock)
        plain = hasattr(sock, "sendmsg") and not self._tls
        self._write = write_plain if plain else write_all
        self._waker = Waker()
        self._prepare(sock, role, sock.getpeername())

    # ---- sends (queue and return; safe inside callbacks) ----------------------------

    def _request(self, request: Any) -> None:
        with self._lock:
            conn = self._conn
            if conn is None:
                raise LocalProtocolError("not connected: call connect() first")
            before = (conn.state, conn.timer_deadline(), conn.close_requested)
            conn.send(request, now=time.monotonic())
            if isinstance(request, AssociateRequest):
                conn.connection_made(now=time.monotonic())
            changed = before != (conn.state, conn.timer_deadline(), conn.close_requested)
        self._kick(changed)

    def send_associate_request(self, assoc: Associate) -> None:
        """Queue the A-ASSOCIATE-RQ (after connect())."""
        self._request(AssociateRequest(assoc))

    def send_associate_accept(self, assoc: Associate) -> None:
        """Queue the A-ASSOCIATE-AC (inside or after on_receive_associate_request)."""
        self._request(AssociateAcceptResponse(assoc))

    def send_associate_reject(self, result: int, source: int, reason: int) -> None:
        """Queue an A-ASSOCIATE-RJ with PS3.8 Table 9-21 codes."""
        self._request(AssociateRejectResponse(result, source, reason))

    def send_data(self, pc_id: int, command: Any, dataset: Any = None) -> None:
        """Queue one DIMSE message on an accepted presentation context: the encoded
        command set and an optional data set (bytes-like, binary file or buffers). From a
        thread other than the loop's, it returns once the loop has taken it (or the
        connection has ended): a sender cannot queue faster than the peer reads."""
        with self._lock:
            conn = self._conn
            fast = conn is not None and conn.state is _STA6
            if fast:  # DT-1: the state, the timer and a close request stay as they are
                conn.send(DataRequest(pc_id, command, dataset))  # type: ignore[union-attr]
        if not fast:
            self._request(DataRequest(pc_id, command, dataset))
            return
        proto = self._proto
        if proto is None:
            self._kick(False)
        elif not proto.on_loop:
            proto.kick()
            proto.wait_drained(self.network_timeout)
        else:
            proto.kick()

    def send_release_request(self) -> None:
        """Queue an A-RELEASE-RQ."""
        self._request(ReleaseRequest())

    def send_release_response(self) -> None:
        """Queue an A-RELEASE-RP (inside or after on_receive_release_request)."""
        self._request(ReleaseResponse())

    def send_abort(self, source: int = 0, reason: int = 0) -> None:
        """Queue an A-ABORT (service-user source by default)."""
        self._request(AbortRequest(source, reason))

    def close(self) -> None:
        """Close the transport (a listening Net stops listening); no PDU is sent."""
        aserver, self._aserver = self._aserver, None
        if aserver is not None:
            from dicomul.sync import _loop

            self._server = None
            _loop.loop().call_soon_threadsafe(aserver.close)
            with self._cond:
                self._closed.set()
                self._cond.notify_all()
        proto = self._proto
        if proto is not None:
            proto.close()  # the loop sees the end and reports on_close
            return
        sock = self._sock
        if sock is not None:
            shutdown_quietly(sock)
            self._pump_until(self._closed.is_set, 5.0)  # see the end here
        self._wake()

    # ---- blocking conveniences for scripts ------------------------------------------

    def associate(
        self, host: str, port: int, assoc: Associate, timeout: float | None = None
    ) -> Associate:
        """Connect, send the A-ASSOCIATE-RQ, and wait: returns the AC, raises
        AssociationRejected / AssociationAborted, or TimeoutError."""
        self.connect(host, port)
        self.send_associate_request(assoc)
        outcome = self._wait_for(
            lambda: self._outcome is not None or self._closed.is_set(), timeout
        )
        if isinstance(outcome, AssociateAcceptConfirmation):
            return outcome.associate
        # Rejected or aborted: the connection is closing (AE-4, AA-3); see it through so
        # that nothing is left open when the caller gets the exception.
        self.close()
        self.wait(5.0)
        self._raise_for(outcome)
        raise AssertionError("unreachable")

    def release(self, timeout: float | None = None) -> None:
        """Send an A-RELEASE-RQ and wait for the release to complete and the connection
        to close. Raises AssociationAborted if it was aborted instead."""
        self.send_release_request()
        self._wait_for(self._closed.is_set, timeout)
        if isinstance(self._outcome, AbortIndication):
            self._raise_for(self._outcome)

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until the connection (or listener) is closed; True if it is."""
        if not self.io_thread and self._conn is not None:
            return self._pump_until(self._closed.is_set, timeout)
        self._not_on_loop()
        return self._closed.wait(timeout)

    def _wait_for(self, predicate: Callable[[], bool], timeout: float | None) -> Event | None:
        if not self.io_thread and self._conn is not None:
            if not self._pump_until(predicate, timeout):
                raise TimeoutError("no answer from the peer in time")
            return self._outcome
        self._not_on_loop()
        with self._cond:
            if not self._cond.wait_for(predicate, timeout):
                raise TimeoutError("no answer from the peer in time")
            return self._outcome

    def _not_on_loop(self) -> None:
        proto = self._proto
        if proto is not None and proto.on_loop:
            raise RuntimeError(
                "a blocking Net call (associate, release, wait) from inside a callback: "
                "callbacks run on the event loop, which would wait for itself"
            )

    @staticmethod
    def _raise_for(outcome: Event | None) -> None:
        if isinstance(outcome, AssociateRejectConfirmation):
            raise AssociationRejected(outcome.result, outcome.source, outcome.reason)
        if isinstance(outcome, AbortIndication):
            raise AssociationAborted(outcome.source, outcome.reason)
        raise AssociationAborted(2, 0)  # the transport closed with no answer

    # ---- state queries --------------------------------------------------------------

    @property
    def is_connected(self) -> bool:
        """The transport connection is open."""
        return self._sock is not None and not self._closed.is_set()

    @property
    def is_associated(self) -> bool:
        """The association is established (PS3.8 Sta6)."""
        return self._conn is not None and self._conn.state is State.STA6

    @property
    def association(self) -> Associate | None:
        """The A-ASSOCIATE-AC of the association (sent or received), or None."""
        return self._conn.accept if self._conn is not None else None

    @property
    def request(self) -> Associate | None:
        """The A-ASSOCIATE-RQ of the association (sent or received), or None."""
        return self._conn.request if self._conn is not None else None

    @property
    def accepted_contexts(self) -> dict[int, tuple[str | None, str]]:
        """Accepted presentation contexts: ``{id: (abstract syntax, transfer syntax)}``."""
        return self._conn.accepted_contexts if self._conn is not None else {}

    @property
    def pending_sends(self) -> bool:
        """Whether anything queued has not been written yet."""
        return self._conn is not None and self._conn.pending_output

    @property
    def peer_address(self) -> tuple[Any, ...] | None:
        """The peer's (host, port)."""
        return self._peer

    @property
    def local_address(self) -> tuple[Any, ...] | None:
        """This side's (host, port), of the connection or the listener."""
        s = self._server or self._sock
        return s.getsockname() if s is not None else None

    @property
    def state(self) -> State | None:
        """The PS3.8 state of the association (None before connect/accept)."""
        return self._conn.state if self._conn is not None else None

    # ---- driving the connection --------------------------------------------------------

    def _call(self, name: str, *args: Any) -> None:
        getattr(self, name)(*args)

    def _sent(self, error: int, pdu_type: int, nbytes: int) -> None:
        try:
            self.on_send(error, pdu_type, nbytes)
        except Exception:  # noqa: BLE001 - a failing callback must not stop the writes
            log.exception("on_send raised")

    def _idle(self) -> None:
        """The network timeout (on the loop): abort the association."""
        with self._cond:
            if self._conn is not None and self._conn.state is _STA6:
                self._conn.send(AbortRequest(0, 0), now=time.monotonic())
                self._outcome = AbortIndication(0, 0, provider=True, local=True, message="timeout")

    def _kick(self, changed: bool = True) -> None:
        """Write what a send queued: the loop does it (io_thread=True), else this thread
        does now. A caller waiting in process() is woken only when the state, the timer
        or a close request changed (it must re-arm its timeout or notice the close)."""
        proto = self._proto
        if proto is not None:
            proto.kick()
            return
        self._flush()
        if changed:
            self._wake()

    def process(self, timeout: float | None = None) -> bool:
        """Drive the connection from this thread for one turn: write what is queued, wait
        up to ``timeout`` seconds for bytes (or a timer), read them and run the
        callbacks. For ``io_thread=False`` Nets; returns False once the connection has
        ended (True otherwise). On the loop (io_thread=True), it just waits up to
        ``timeout``."""
        if self.io_thread:
            return not self._closed.wait(timeout)
        with self._pump:
            if self._closed.is_set() or self._conn is None:
                return False
            if self._poller is None:
                self._loop_begin()
            error = 0
            try:
                if self._turn(timeout):
                    return True
            except Exception as exc:  # noqa: BLE001 - report, then close
                log.exception("processing the connection failed")
                error = getattr(exc, "errno", None) or errno.EIO
            self._loop_end(error)
            return False

    def _dispatch(self, events: list[Event]) -> None:
        for ev in events:
            if type(ev) is DataIndication:  # the hot path
                try:
                    self.on_receive_data(ev.context_id, ev.command, ev.dataset)
                except Exception:  # noqa: BLE001 - a failing callback must not kill the loop
                    log.exception("on_receive_data raised")
                continue
            if isinstance(
                ev, (AssociateAcceptConfirmation, AssociateRejectConfirmation, AbortIndication)
            ):
                if isinstance(ev, AbortIndication) and ev.error is not None:
                    log.error("%s: aborting the association", ev.message, exc_info=ev.error)
                with self._cond:
                    self._outcome = ev
                    self._cond.notify_all()
            try:
                self._callback_for(ev)
            except Exception:  # noqa: BLE001 - a failing callback must not kill the loop
                log.exception("callback for %s raised", type(ev).__name__)

    def _callback_for(self, ev: Event) -> None:
        if isinstance(ev, DataIndication):
            self._call("on_receive_data", ev.context_id, ev.command, ev.dataset)
        elif isinstance(ev, PDUReceived):
            self._call("on_receive", 0, ev.pdu_type, ev.data)
        elif isinstance(ev, AssociateIndication):
            self._call("on_receive_associate_request", ev.associate)
        elif isinstance(ev, AssociateAcceptConfirmation):
            self._call("on_receive_associate_accept", ev.associate)
        elif isinstance(ev, AssociateRejectConfirmation):
            self._call("on_receive_associate_reject", ev.result, ev.source, ev.reason)
        elif isinstance(ev, ReleaseIndication):
            self._call("on_receive_release_request")
        elif isinstance(ev, ReleaseConfirmation):
            self._call("on_receive_release_response")
        elif isinstance(ev, AbortIndication):
            self._call("on_receive_abort", ev.source, ev.reason)
        elif isinstance(ev, TransportClosed):
            pass  # handled when the loop ends

    def _shutdown(self, error: int) -> None:
        sock = self._sock
        if sock is not None and self._proto is None:  # (the loop's transport closes its own)
            try:
                sock.close()
            except OSError:
                pass
        waker, self._waker = self._waker, None
        if waker is not None:
            waker.close()
        with self._cond:
            self._closed.set()
            self._cond.notify_all()
        try:
            self._call("on_close", error, self)
        except Exception:  # noqa: BLE001
            log.exception("on_close raised")
