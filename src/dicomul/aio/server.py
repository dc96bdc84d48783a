"""The asyncio acceptor: one event loop serves every connection and association.

    server = Server("STORESCP", store_dir="incoming", accept_all_storage=True)
    port = await server.start("0.0.0.0", 11112)
    await server.serve_forever()           # until server.close()

Theory of operation. Each TCP connection is a :class:`SessionProtocol` over a Session
over a Connection, and costs a socket and a 4 KiB receive buffer until its A-ASSOCIATE-RQ
is in: no thread, no task. Limits, each a defined outcome rather than a lock-out:

* ``max_connections``: a connection beyond it is closed at once.
* ``max_pending``: connections that have not associated yet; when full, the oldest is
  closed to make room, so idle sockets (a port scanner, one-byte floods) cannot keep real
  requestors out. ARTIM (``acse_timeout``) closes each of them anyway.
* ``max_associations`` and ``max_per_calling_ae``: an A-ASSOCIATE-RQ beyond them is
  rejected (transient, local limit exceeded).
* ``idle_timeout``: an association that receives nothing for so long is aborted.

A TCP connect and close (a load balancer's health check) leaves nothing behind and logs
at debug level only. Any failure while setting up an association (the storage directory
cannot be made, the policy raises) answers the peer with a reject, never silence.

Handlers may be plain functions or coroutines (async generators for the Q/R ones):

* ``on_echo() -> status``
* ``on_store(meta, data, info) -> status`` (``data``: the committed file's Path when
  ``store_dir`` is set, else the data set's bytes)
* ``on_store_now(meta, data, info) -> status | None``: optional, plain, quick and never
  blocking: tried on the loop right after a file was written there (see below); None
  leaves the file to ``on_store`` (the archive indexes this way).
* ``on_find(identifier, sop_class_uid) -> iterable of (status, Dataset | None)``
* ``on_get(identifier) -> iterable of objects to send back as C-STORE sub-operations``
* ``on_move(identifier, destination_ae) -> iterable of objects``, sent to
  ``move_destinations[destination_ae] = (host, port)`` (or ``(host, port, ssl_context)``)
  on a new association.
* ``on_user_identity(identity, info) -> True | bytes | False``: the requestor's user
  identity (all five types: ``identity.identity_type``, ``.primary``, ``.secondary``);
  False or None refuses the association, True accepts, bytes accept with that server
  response (Kerberos, SAML, JWT), sent when the requestor asked for a positive response
  (an empty one for types 1 and 2).
* ``on_extended(sop_class_uid, info) -> bytes | None``: the answer to SOP class extended
  negotiation (56H). Common extended negotiation (57H, in the RQ only) is in
  ``info.request.common_extended`` for the accept policy.

Plain handlers run in a bounded thread pool (``handler_threads``), so a slow one never
stalls the loop; coroutines run on the loop. Received files are written in that pool,
except a small data set (up to 256 KiB, with no plain on_store and no ``fsync``): that
one is written on the loop while such writes take under 10 ms, and in the pool for 30 s
after one that did not (``write_on_loop=False``: always in the pool, for storage on a
network file system). ``accept(info) -> bool`` (plain or async)
decides, after the allow-lists, whether to accept a requestor: it sees the peer address
and both AE titles.

DIMSE-N services (see :mod:`dicomul.aio._nservice`): ``n_services={sop_class_uid:
service}``, a service being an object with any of ``n_get``, ``n_set``, ``n_action``,
``n_create``, ``n_delete``, ``n_event_report`` (plain or coroutines, given an NRequest
whose ``peer.event_report(...)`` reaches back to the requestor). Built in:

* ``storage_commitment=True``: Storage Commitment SCP; it commits what ``store_dir``
  holds intact (or what a callable ``storage_commitment(instance_uid) -> Path | None``
  finds) and reports on the same association, or on a new one to the requestor's AE
  in ``move_destinations`` when that has gone.
* ``on_commitment(result, info)``: commitment reports sent to this server (a
  CommitmentResult each), as the Storage Commitment SCU's reverse association.
* ``mpps=True`` (or an MPPSStore): the Modality Performed Procedure Step SCP, with its
  steps in ``server.mpps.steps``.
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import logging
import os
import socket
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Callable, Collection
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Literal

from dicomul.aio._nservice import CommitmentService, NServices, perform
from dicomul.aio._offload import BackgroundWriter, QuickWrites, commit_and_call
from dicomul.aio._retrieve import handler_items, retrieve
from dicomul.aio.protocol import SessionProtocol
from dicomul.dimse.messages import CommandField, CStoreRQ
from dicomul.dimse.n_messages import N_MESSAGE_CLASSES
from dicomul.dimse.policy import decide
from dicomul.dimse.session import (
    AssociationInfo,
    CancelReceived,
    RequestReceived,
    ResponseReceived,
    Session,
)
from dicomul.dimse.status import (
    CANCEL,
    PENDING,
    SUCCESS,
    UNABLE_TO_PROCESS,
    UNRECOGNIZED_OPERATION,
)
from dicomul.storage.contexts import context_for, prepare_store, prepare_to_send, sop_class_of
from dicomul.storage.mpps import MPPSStore
from dicomul.storage.part10 import FileMeta, StorageError, decode_dataset, encode_dataset
from dicomul.storage.receiver import StoreReceiver
from dicomul.storage.sources import refers_to_a_file, send_form
from dicomul.ul.connection import Connection, Role
from dicomul.ul.events import (
    AbortIndication,
    AbortRequest,
    AssociateAcceptResponse,
    AssociateIndication,
    AssociateRejectResponse,
    ReleaseIndication,
    ReleaseResponse,
    TransportClosed,
)
from dicomul.ul.negotiation import SupportedContexts, negotiated_roles, requestor_accepted

if TYPE_CHECKING:
    import ssl

__all__ = ["Server", "Operation", "current_operation"]

log = logging.getLogger("dicomul")


class Operation:
    """The C-FIND/C-GET/C-MOVE a handler is running for (see :func:`current_operation`):
    ``cancelled`` (a threading.Event, so that plain handlers in the pool can wait on it)
    is set when the requestor sends C-CANCEL-RQ or the association ends."""

    __slots__ = ("message_id", "sop_class_uid", "info", "cancelled")

    def __init__(self, message_id: int, sop_class_uid: str, info: AssociationInfo) -> None:
        self.message_id = message_id
        self.sop_class_uid = sop_class_uid
        self.info = info
        self.cancelled = threading.Event()


_current: contextvars.ContextVar[Operation | None] = contextvars.ContextVar(
    "dicomul_operation", default=None
)


def current_operation() -> Operation | None:
    """Inside an on_find/on_get/on_move handler (plain or async): its operation."""
    return _current.get()


# PS3.8 Table 9-21: rejected-transient, service-provider (presentation), local-limit-exceeded
_BUSY = AssociateRejectResponse(2, 3, 2)
# rejected-transient, service-user, no-reason-given
_LOCAL_FAILURE = AssociateRejectResponse(2, 1, 1)
# rejected-permanent, service-user, no-reason-given (the accept policy said no)
_REFUSED = AssociateRejectResponse(1, 1, 1)


class Server(NServices):
    """An asyncio DIMSE acceptor (see the module docstring for the limits and handlers);
    the other parameters are those of the blocking ``dicomul.sync.Server``."""

    def __init__(
        self,
        ae_title: str = "DICOMUL",
        *,
        contexts: SupportedContexts | None = None,
        accept_all_storage: bool = False,
        allowed_calling: Collection[str] | None = None,
        allowed_called: Collection[str] | None = None,
        accept: Callable[[AssociationInfo], Any] | None = None,
        on_user_identity: Callable[[Any, AssociationInfo], Any] | None = None,
        on_extended: Callable[[str, bytes], bytes | None] | None = None,
        max_pdu: int = 16384,
        max_associations: int = 1000,
        max_pending: int = 256,
        max_connections: int | None = None,
        max_per_calling_ae: int | None = None,
        store_dir: str | os.PathLike[str] | None = None,
        fsync: bool = False,
        ignore: bool = False,
        write_on_loop: bool = True,
        on_echo: Callable[[], Any] | None = None,
        on_store: Callable[[FileMeta, Any, AssociationInfo], Any] | None = None,
        on_store_now: Callable[[FileMeta, Any, AssociationInfo], int | None] | None = None,
        on_find: Callable[[Any, str], Any] | None = None,
        on_get: Callable[[Any], Any] | None = None,
        on_move: Callable[[Any, str], Any] | None = None,
        move_destinations: dict[str, tuple[Any, ...]] | None = None,
        ssl_context: ssl.SSLContext | None = None,
        acse_timeout: float = 30.0,
        dimse_timeout: float | None = 60.0,
        idle_timeout: float | None = 300.0,
        async_operations: tuple[int, int] = (16, 16),
        prefer: Literal["acceptor", "requestor"] = "acceptor",
        handler_threads: int = 8,
        n_services: dict[str, Any] | None = None,
        storage_commitment: bool | Callable[[str], Any] = False,
        on_commitment: Callable[[Any, AssociationInfo], Any] | None = None,
        mpps: bool | MPPSStore = False,
    ) -> None:
        for name, value in (("max_associations", max_associations), ("max_pending", max_pending)):
            if value < 1:
                raise ValueError(f"{name} must be at least 1")
        self.ae_title = ae_title
        self.contexts = contexts
        self.accept_all_storage = accept_all_storage
        self.allowed_calling = allowed_calling
        self.allowed_called = allowed_called
        self.accept = accept
        self.on_user_identity = on_user_identity
        self.on_extended = on_extended
        self.max_pdu = max_pdu
        self.max_associations = max_associations
        self.max_pending = max_pending
        self.max_connections = max_connections or max_associations + max_pending
        self.max_per_calling_ae = max_per_calling_ae
        self.store_dir = store_dir
        self.fsync = fsync
        self.ignore = ignore
        self.write_on_loop = write_on_loop
        self._quick = QuickWrites()
        self.on_echo = on_echo
        self.on_store = on_store
        self.on_store_now = on_store_now
        self.on_find = on_find
        self.on_get = on_get
        self.on_move = on_move
        self.move_destinations = dict(move_destinations or {})
        self.ssl_context = ssl_context
        self.acse_timeout = acse_timeout
        self.dimse_timeout = dimse_timeout
        self.idle_timeout = idle_timeout
        self.async_operations = async_operations
        self.prefer = prefer
        self.n_services = dict(n_services or {})
        self.storage_commitment = storage_commitment
        self.on_commitment = on_commitment
        #: The MPPS SCP's procedure steps (``mpps=True``), or None.
        self.mpps: MPPSStore | None = MPPSStore() if mpps is True else (mpps or None)
        self._commitment = CommitmentService(self)
        self._background: set[asyncio.Task[Any]] = set()
        self.port: int | None = None
        self._handler_threads = handler_threads
        self._pool: ThreadPoolExecutor | None = None
        self._servers: list[asyncio.AbstractServer] = []
        self._pending: OrderedDict[_Peer, None] = OrderedDict()
        self._associated: set[_Peer] = set()
        self._per_ae: Counter[str] = Counter()
        self._closed = asyncio.Event()

    # ---- life cycle -------------------------------------------------------------------

    async def start(
        self,
        host: str | None = "127.0.0.1",
        port: int = 0,
        *,
        reuse_port: bool = False,
        sock: socket.socket | None = None,
    ) -> int:
        """Listen on ``host:port`` (0 = a free port; ``"::"``: IPv6 and, where the system
        allows, IPv4 too; None: every interface), or on the listening ``sock`` given, and
        return the port."""
        loop = asyncio.get_running_loop()
        self._pool = ThreadPoolExecutor(self._handler_threads, thread_name_prefix="dicomul")
        self._closed.clear()
        tls: dict[str, Any] = {}
        if self.ssl_context is not None:
            tls = {"ssl": self.ssl_context, "ssl_handshake_timeout": self.acse_timeout}
        if sock is None and host == "::" and socket.has_dualstack_ipv6():
            sock = socket.create_server(("::", port), family=socket.AF_INET6, backlog=1024,
                                        dualstack_ipv6=True, reuse_port=reuse_port)  # fmt: skip
        if sock is not None:
            server = await loop.create_server(self._make_protocol, sock=sock, **tls)
        else:
            server = await loop.create_server(self._make_protocol, host, port, backlog=1024,
                                              reuse_port=reuse_port or None, **tls)  # fmt: skip
        self._servers.append(server)
        self.port = int(server.sockets[0].getsockname()[1])
        log.info("%s listening on %s:%d", self.ae_title, host, self.port)
        return self.port

    async def serve_forever(self) -> None:
        """Wait until :meth:`close` is called."""
        await self._closed.wait()

    async def close(self, timeout: float = 5.0) -> None:
        """Stop listening, abort every connection (A-ABORT where associated; files being
        received are removed) and wait up to ``timeout`` seconds for them to close."""
        for server in self._servers:
            server.close()
        for task in list(self._background):
            task.cancel()
        peers = [*self._pending, *self._associated]
        for peer in peers:
            peer.abort()
        if peers:
            await asyncio.wait([p.lost for p in peers], timeout=timeout)
        for server in self._servers:
            await server.wait_closed()
        self._servers.clear()
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
        self._closed.set()

    async def __aenter__(self) -> Server:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    @property
    def associations(self) -> int:
        """Associations established now."""
        return len(self._associated)

    @property
    def connections(self) -> int:
        """Open connections, associated or not."""
        return len(self._pending) + len(self._associated)

    # ---- connections ------------------------------------------------------------------

    def _make_protocol(self) -> asyncio.BaseProtocol:
        if self.connections >= self.max_connections:
            log.warning("refusing a connection: %d open already", self.connections)
            return _Refuse()
        return _Peer(self).protocol

    def _connected(self, peer: _Peer) -> bool:
        """A connection is made (after its TLS handshake, if any: a handshake that fails
        never gets here, and so costs no slot): count it, closing the oldest connection
        that has not associated when there are ``max_pending`` already."""
        if self.connections >= self.max_connections:
            log.warning("refusing a connection: %d open already", self.connections)
            return False
        if len(self._pending) >= self.max_pending:
            oldest = next(iter(self._pending))
            log.info("closing the oldest of %d unassociated connections", len(self._pending))
            self._forget(oldest)
            oldest.abort()
        self._pending[peer] = None
        return True

    def _associating(self, peer: _Peer, calling: str) -> AssociateRejectResponse | None:
        """Room for one more association (from ``calling``)? None, or the reject."""
        if len(self._associated) >= self.max_associations:
            log.warning("rejecting %r: %d associations at once", calling, self.max_associations)
            return _BUSY
        limit = self.max_per_calling_ae
        if limit is not None and self._per_ae[calling] >= limit:
            log.warning("rejecting %r: %d associations from it at once", calling, limit)
            return _BUSY
        return None

    def _associated_now(self, peer: _Peer, calling: str) -> None:
        self._pending.pop(peer, None)
        self._associated.add(peer)
        self._per_ae[calling] += 1

    def _forget(self, peer: _Peer) -> None:
        self._pending.pop(peer, None)
        if peer in self._associated:
            self._associated.discard(peer)
            self._per_ae[peer.calling] -= 1
            if self._per_ae[peer.calling] <= 0:
                del self._per_ae[peer.calling]

    def writes_here(self, writer: BackgroundWriter) -> bool:
        """Commit this received data set on the loop: it waits whole in memory (up to
        _offload.START bytes), no fsync was asked for, ``write_on_loop`` is on and no
        recent write was slow (_offload.QuickWrites)."""
        return self.write_on_loop and not self.fsync and writer.whole and self._quick.now()

    async def run_handler(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Call a handler: a coroutine function on the loop, a plain one in the pool."""
        if inspect.iscoroutinefunction(fn):
            return await fn(*args)
        loop = asyncio.get_running_loop()
        context = contextvars.copy_context()  # current_operation() in the pool thread too
        return await loop.run_in_executor(self._pool, context.run, fn, *args)


class _Refuse(asyncio.Protocol):
    """A connection over ``max_connections``: closed at once, without a word."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport.abort()


class _Peer:
    """One connection of a Server, and the association on it once there is one."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.calling = ""
        self.info = AssociationInfo("", "", None)
        self.contexts: dict[int, tuple[str, str]] = {}
        self.receiver: StoreReceiver | None = None
        self.session = Session(
            Connection(Role.ACCEPTOR, artim_timeout=server.acse_timeout), dataset_sink=self._sink
        )
        self.protocol = SessionProtocol(
            self.session, self._on_events, self._on_lost, on_made=self._on_made
        )
        loop = asyncio.get_running_loop()
        self.lost: asyncio.Future[None] = loop.create_future()
        self._loop = loop
        self._tasks: dict[int, asyncio.Task[Any]] = {}  # message ID -> Q/R operation
        self._cancelled: set[int] = set()
        self._ops: dict[int, Operation] = {}
        self._waiters: dict[Any, asyncio.Future[Any]] = {}  # sub-operation -> response
        self._idle: asyncio.TimerHandle | None = None
        self._associated = False
        self.roles: dict[str, tuple[bool, bool]] = {}

    # ---- connection -------------------------------------------------------------------

    def abort(self) -> None:
        conn = self.session.connection
        try:
            if conn.is_established:
                conn.send(AbortRequest(0, 0))
                self.protocol.pump()
        except Exception:  # noqa: BLE001 - closing anyway
            pass
        self.protocol.abort_transport()

    def _on_made(self) -> None:
        if not self.server._connected(self):
            self.protocol.abort_transport()
            self.protocol.connection_lost(None)

    def _on_lost(self, exc: BaseException | None) -> None:
        self.server._forget(self)
        self._end()
        if not self._associated:
            log.debug("connection from %s closed before associating", self.protocol.peer_address)
        if not self.lost.done():
            self.lost.set_result(None)

    def _end(self) -> None:
        if self.receiver is not None:
            self.receiver.abort_pending()
        for op in self._ops.values():
            op.cancelled.set()
        for task in self._tasks.values():
            task.cancel()
        self._tasks.clear()
        for fut in self._waiters.values():
            if not fut.done():
                fut.set_exception(ConnectionError("the association ended"))
        self._waiters.clear()
        if self._idle is not None:
            self._idle.cancel()

    def _arm_idle(self) -> None:
        timeout = self.server.idle_timeout
        if timeout is None:
            return
        at = self.protocol.last_input + timeout
        now = self._loop.time()
        if at <= now:  # idle, but busy for the peer: look again later, not in a loop
            stalled = self.protocol.stalled_since
            at = now + timeout if stalled is None else max(now, stalled + timeout) + 0.001
        self._idle = self._loop.call_at(at, self._check_idle)

    def _check_idle(self) -> None:
        timeout = self.server.idle_timeout or 0
        now = self._loop.time()
        stalled = self.protocol.stalled_since
        # Idle: nothing received for so long, and nothing being done for the peer, or
        # what is being done for it is stuck because it does not read.
        busy = self._tasks and (stalled is None or now - stalled < timeout)
        if now - self.protocol.last_input >= timeout and not busy:
            if self.protocol.read_any():  # bytes of a PDU may be waiting: read them first
                self._idle = self._loop.call_later(min(0.1, timeout), self._check_idle)
                return
            log.info("aborting the association from %r: idle for %ss", self.calling, timeout)
            self.abort()
        else:
            self._arm_idle()

    # ---- events -----------------------------------------------------------------------

    def _on_events(self, events: list[Any]) -> None:
        for ev in events:
            kind = type(ev)
            if kind is RequestReceived:
                self._on_request(ev)
            elif kind is ResponseReceived:
                fut = self._waiters.pop(ev.operation, None)
                if fut is not None and not fut.done() and ev.final:
                    fut.set_result(ev)
            elif kind is CancelReceived:
                target = ev.message.message_id_being_responded_to
                self._cancelled.add(target)
                op = self._ops.get(target)
                if op is not None:
                    op.cancelled.set()
            elif kind is AssociateIndication:
                self._on_associate(ev.associate)
            elif kind is ReleaseIndication:
                self.session.connection.send(ReleaseResponse())
            elif kind in (AbortIndication, TransportClosed):
                self._end()
        self.protocol.pump()

    def _on_associate(self, rq: Any) -> None:
        server = self.server
        calling = rq.calling.strip()
        self.calling = calling
        rj = server._associating(self, calling)
        if rj is not None:
            self.session.connection.send(rj)
            return
        decision = decide(server, rq)
        if isinstance(decision, AssociateRejectResponse):
            self.session.connection.send(decision)
            return
        wants_identity = server.on_user_identity is not None and rq.user_identity is not None
        if server.accept is not None or wants_identity:  # user hooks: they may wait
            info = AssociationInfo(calling, rq.called.strip(), self.protocol.peer_address, rq)
            self._spawn(-1, self._accept_policy(rq, decision, info))
            return
        self._accept(rq, decision)

    async def _accept_policy(self, rq: Any, ac: Any, info: AssociationInfo) -> None:
        """The user's accept policy, then the user identity hook (PS3.7 D.3.3.7): a
        refusal is A-ASSOCIATE-RJ rejected-permanent, service-user, no-reason-given."""
        server = self.server
        verdict: Any = True
        try:
            if server.accept is not None:
                verdict = await server.run_handler(server.accept, info)
            identity = rq.user_identity
            if verdict is True and identity is not None and server.on_user_identity is not None:
                answer = await server.run_handler(server.on_user_identity, identity, info)
                verdict = answer is not False and answer is not None
                if verdict and identity.positive_response:
                    ac.set_user_identity_response(
                        b"" if answer is True or identity.identity_type in (1, 2) else answer
                    )
        except Exception:  # noqa: BLE001
            log.exception("the accept policy or the user identity hook failed")
            verdict = _LOCAL_FAILURE
        if verdict is True:
            self._accept(rq, ac)
        else:
            reject = verdict if isinstance(verdict, AssociateRejectResponse) else _REFUSED
            log.info("refusing %r: %s", self.calling, "by the accept policy or user identity")
            self.session.connection.send(reject)
        self.protocol.pump()

    def _accept(self, rq: Any, ac: Any) -> None:
        server = self.server
        if server._associating(self, self.calling) is not None:  # filled up meanwhile
            self.session.connection.send(_BUSY)
            return
        try:
            self.receiver = StoreReceiver(
                directory=server.store_dir,
                ignore=server.ignore,
                fsync=server.fsync,
                source_ae=self.calling,
            )
            self.receiver.wants_bytes = server.on_store is not None
            if server._pool is not None:
                self.receiver.open_writer = self._background_writer
        except OSError as exc:  # the storage directory cannot be made: say so, reject
            log.error("rejecting %r: storage is not available: %s", self.calling, exc)
            self.session.connection.send(_LOCAL_FAILURE)
            return
        self.contexts = requestor_accepted(rq, ac)
        self.info = AssociationInfo(self.calling, rq.called.strip(), self.protocol.peer_address,
                                    rq, dict(self.contexts))  # fmt: skip
        self.session.connection.send(AssociateAcceptResponse(ac))
        self._associated = True
        server._associated_now(self, self.calling)
        self.roles = negotiated_roles(rq, ac)
        self._arm_idle()
        log.info("association from %s (%s): %d contexts", self.calling,
                 self.protocol.peer_address, len(self.contexts))  # fmt: skip

    # ---- DIMSE ------------------------------------------------------------------------

    def _sink(self, pc_id: int, message: Any) -> Any:
        ctx = self.contexts.get(pc_id)
        if self.receiver is None or ctx is None:
            return None
        return self.receiver.sink_for(message, ctx[1])

    def _background_writer(self, file: Any) -> BackgroundWriter:
        """The receiver's writable: the file made and written off the loop (aio._offload)."""
        return BackgroundWriter(
            file, self.server._pool, self._loop,  # type: ignore[arg-type]
            lambda: self.protocol.hold_reading("disk"),
            lambda: self.protocol.release_reading("disk"),
        )  # fmt: skip

    def _spawn(self, key: int, coro: Any) -> None:
        task = self._loop.create_task(coro)
        self._tasks[key] = task
        task.add_done_callback(lambda t, k=key: self._done(k, t))

    def _done(self, key: int, task: asyncio.Task[Any]) -> None:
        if self._tasks.get(key) is task:
            del self._tasks[key]
        self._cancelled.discard(key)
        self._ops.pop(key, None)
        if not task.cancelled() and task.exception() is not None:
            log.error("operation failed", exc_info=task.exception())

    def respond(self, ev: RequestReceived, status: int, dataset: Any = None, **kw: Any) -> None:
        """Answer the request ``ev`` (nothing once the association has ended)."""
        if not self.session.connection.is_established:
            return
        try:
            self.session.respond(ev, status, dataset, **kw)
        except ValueError:  # the peer's UIDs are not valid UIDs: answer without them
            kw.update(affected_sop_class_uid=None, affected_sop_instance_uid=None)
            self.session.respond(ev, status, dataset, **kw)
        self.protocol.pump()

    async def invoke(self, pc_id: int, cls: Any, dataset: Any = None, **fields: Any) -> Any:
        """Send the requestor a request and wait (``dimse_timeout``) for its final
        response (a ResponseReceived); ConnectionError when the association ends."""
        op = self.session.request(pc_id, cls, dataset, **fields)
        fut: asyncio.Future[Any] = self._loop.create_future()
        self._waiters[op] = fut
        self.protocol.pump()
        return await asyncio.wait_for(fut, self.server.dimse_timeout)

    def context_for(self, sop_class_uid: str) -> int:
        """An accepted context's ID for a SOP class; ContextNotAccepted if none."""
        return context_for(self.contexts, sop_class_uid, "a request to the requestor")

    def _on_request(self, ev: RequestReceived) -> None:
        cf = ev.message.command_field
        mid = ev.message.message_id  # type: ignore[attr-defined]
        server = self.server
        if cf == CommandField.C_ECHO_RQ:
            if server.on_echo is None:
                self.respond(ev, SUCCESS)
            else:
                self._spawn(mid, self._echo(ev))
        elif cf == CommandField.C_STORE_RQ:
            if not self._stored_now(ev):
                self._spawn(mid, self._store(ev))
        elif cf == CommandField.C_FIND_RQ and server.on_find is not None:
            self._spawn(mid, self._find(ev))
        elif cf == CommandField.C_GET_RQ and server.on_get is not None:
            self._spawn(mid, self._retrieve(ev, server.on_get, None))
        elif cf == CommandField.C_MOVE_RQ and server.on_move is not None:
            dest = ev.message.move_destination  # type: ignore[attr-defined]
            self._spawn(mid, self._retrieve(ev, server.on_move, dest))
        elif cf in N_MESSAGE_CLASSES:
            ctx = self.contexts.get(ev.context_id)
            service = server.n_service(ctx[0]) if ctx is not None else None
            if service is None:  # a DIMSE-N service this server does not perform
                self.respond(ev, UNRECOGNIZED_OPERATION)
            else:
                self._spawn(mid, perform(self, ev, service))
        else:
            self.respond(ev, 0x0122 if cf == CommandField.C_STORE_RQ else UNABLE_TO_PROCESS)

    async def _echo(self, ev: RequestReceived) -> None:
        try:
            status = await self.server.run_handler(self.server.on_echo)  # type: ignore[arg-type]
        except Exception:  # noqa: BLE001
            log.exception("on_echo failed")
            status = UNABLE_TO_PROCESS
        self.respond(ev, SUCCESS if status is None else int(status))

    def _stored_now(self, ev: RequestReceived) -> bool:
        """Answer a C-STORE on the spot when nothing would wait (no on_store or
        on_store_now, no file written off the loop: --ignore, a refused request): no
        task per object."""
        ctx = self.contexts.get(ev.context_id)
        if self.receiver is None or ctx is None:
            self.respond(ev, 0x0122)
            return True
        if self.server.on_store is not None or self.server.on_store_now is not None:
            return False
        writer = getattr(ev.dataset, "writer", None)
        if not isinstance(writer, BackgroundWriter):
            status = self.receiver.commit(ev.message, ctx[1], ev.dataset)[0]  # type: ignore[arg-type]
        elif self.server.writes_here(writer):
            status = self._commit_here(ev.message, ctx[1], ev.dataset)[0]  # type: ignore[arg-type]
        else:
            return False
        self.respond(ev, status)
        return True

    def _store_now(self, quick: Callable[..., Any], meta: Any, data: Any) -> int | None:
        """``on_store_now`` on the loop, timed as a write (it is one): its status, or None
        (on_store is to do it)."""
        t0 = time.perf_counter()
        try:
            result = quick(meta, data, self.info)
            return None if result is None else int(result)
        except Exception:  # noqa: BLE001 - a handler failure is a failure status
            log.exception("on_store_now failed for %s", getattr(meta, "sop_instance_uid", ""))
            return 0xC000
        finally:
            self.server._quick.took(time.perf_counter() - t0)

    def _commit_here(self, rq: CStoreRQ, ts: str, dataset: Any) -> tuple[int, Any, Any]:
        """Commit a data set held whole in memory on the loop, timing the write."""
        assert self.receiver is not None
        t0 = time.perf_counter()
        try:
            return self.receiver.commit(rq, ts, dataset)
        finally:
            self.server._quick.took(time.perf_counter() - t0)

    async def _store(self, ev: RequestReceived) -> None:
        rq: CStoreRQ = ev.message  # type: ignore[assignment]
        ctx = self.contexts[ev.context_id]  # (_stored_now answered one without them)
        receiver = self.receiver
        assert receiver is not None
        writer = getattr(ev.dataset, "writer", None)
        handler = self.server.on_store
        plain = handler is not None and not inspect.iscoroutinefunction(handler)
        quick = self.server.on_store_now
        if (
            isinstance(writer, BackgroundWriter)
            and (not plain or quick is not None)
            and self.server.writes_here(writer)
        ):
            status, meta, data = self._commit_here(rq, ctx[1], ev.dataset)
            if quick is not None and data is not None:
                done = self._store_now(quick, meta, data)
                if done is not None:
                    self.respond(ev, done)
                    return
        elif isinstance(writer, BackgroundWriter):  # written and committed off the loop,
            await writer.flushed()  # with a plain on_store called in the same hand-off
            status, meta, data = await self._loop.run_in_executor(
                self.server._pool, commit_and_call, receiver, rq, ctx[1], ev.dataset,
                handler if plain else None, self.info,
            )  # fmt: skip
            if plain:
                self.respond(ev, status)
                return
        else:
            status, meta, data = receiver.commit(rq, ctx[1], ev.dataset)
        if handler is not None and data is not None:
            try:
                result = await self.server.run_handler(handler, meta, data, self.info)
                status = SUCCESS if result is None else int(result)
            except Exception:  # noqa: BLE001 - a handler failure is a failure status
                log.exception("on_store failed for %s", rq.affected_sop_instance_uid)
                status = 0xC000
        self.respond(ev, status)

    def _items(self, fn: Callable[..., Any], *args: Any) -> Any:
        """A handler's results as an async iterator (see handler_items)."""
        return handler_items(self.server.run_handler, fn, *args)

    def _identifier(self, ev: RequestReceived, ts: str) -> Any:
        """The request's identifier (a pydicom Dataset), or None once a response saying
        that it cannot be decoded was sent (0xC000, unable to process)."""
        try:
            return decode_dataset(ev.dataset or b"", ts)
        except StorageError:
            self.respond(ev, UNABLE_TO_PROCESS)
            return None

    def _operation(self, ev: RequestReceived) -> Operation:
        mid = ev.message.message_id  # type: ignore[attr-defined]
        op = Operation(mid, ev.message.affected_sop_class_uid, self.info)  # type: ignore[attr-defined]
        self._ops[mid] = op
        _current.set(op)  # this task's own context: its handler calls see it
        return op

    async def _find(self, ev: RequestReceived) -> None:
        self._operation(ev)
        mid = ev.message.message_id  # type: ignore[attr-defined]
        ts = self.contexts[ev.context_id][1]
        identifier = self._identifier(ev, ts)
        if identifier is None:
            return
        final = SUCCESS
        try:
            async for status, match in self._items(self.server.on_find, identifier,  # type: ignore[arg-type]
                                                   ev.message.affected_sop_class_uid):  # type: ignore[attr-defined]  # fmt: skip
                if mid in self._cancelled:
                    final = CANCEL
                    break
                if status in (PENDING, 0xFF01) and match is not None:
                    self.respond(ev, status, encode_dataset(match, ts))
                    await self.protocol.drain()  # a requestor that does not read waits
                else:
                    final = status
                    break
        except Exception:  # noqa: BLE001
            log.exception("on_find failed")
            final = UNABLE_TO_PROCESS
        self.respond(ev, final)

    async def _retrieve(
        self, ev: RequestReceived, fn: Callable[..., Any], dest: str | None
    ) -> None:
        """C-GET (``dest`` None: sub-operations on this association) or C-MOVE (to
        ``move_destinations[dest]``), performed by :func:`dicomul.aio._retrieve.retrieve`."""
        self._operation(ev)
        ts = self.contexts[ev.context_id][1]
        identifier = self._identifier(ev, ts)
        if identifier is None:
            return
        await retrieve(
            ev, identifier, ts, fn, dest, server=self.server, session=self.session,
            calling=self.calling, cancelled=self._cancelled, items=self._items,
            respond=self.respond, sub_store=self._sub_store, drain=self.protocol.drain,
        )  # fmt: skip

    def _prepare_sub_store(self, obj: Any) -> tuple[int, Any, Any] | None:
        """``(context ID, prepared, data to queue)`` for a C-GET sub-operation, or None
        when the requestor has no SCP role for its SOP class (PS3.4 C.4.3.1). Reads the
        file of a path: the caller runs it in the pool then."""
        sop = sop_class_of(obj)
        if not self.roles.get(sop, (True, False))[1]:
            log.warning("C-GET: the requestor has no SCP role for %s", sop)
            return None
        if refers_to_a_file(obj):
            return prepare_to_send(self.contexts, obj)
        pc_id, prepared = prepare_store(self.contexts, obj)
        return pc_id, prepared, send_form(prepared.data)

    async def _sub_store(self, obj: Any, parent: RequestReceived) -> int:
        """One C-GET sub-operation: C-STORE on this association, wait for its response.
        The requestor must have taken the SCP role for the SOP class (PS3.4 C.4.3.1)."""
        # A file is opened and read (a small one whole) in the pool, in one hand-off: the
        # loop serves every association and must never wait for a disk.
        if refers_to_a_file(obj):
            got = await self._loop.run_in_executor(self.server._pool, self._prepare_sub_store, obj)
        else:
            got = self._prepare_sub_store(obj)
        if got is None:
            return 0xA702
        pc_id, prepared, data = got
        rsp = await self.invoke(
            pc_id, CStoreRQ, data,
            affected_sop_class_uid=prepared.sop_class_uid,
            affected_sop_instance_uid=prepared.sop_instance_uid,
        )  # fmt: skip
        return int(rsp.message.status)
