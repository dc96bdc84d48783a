"""The asyncio requestor: ``await connect(...)`` gives an :class:`Association` whose
services are coroutines and async iterators, all driven by the one event loop.

    async with await connect("pacs", 104, called_ae="PACS",
                             contexts=verification_contexts() + contexts_for_files(paths)) as a:
        assert await a.echo() == 0
        for path in paths:
            status = await a.store(path)
        async for status, match in a.find(query, "study"):
            ...

Several operations may run at once on one association (``asyncio.gather``): up to the
negotiated asynchronous operations window are outstanding (``async_operations=(n, n)``
proposes one), the rest wait in order. A DIMSE response that does not come within
``dimse_timeout`` aborts the association (TimeoutError); the association's end fails
every operation still waiting with AssociationAborted.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from dicomul.aio.protocol import SessionProtocol
from dicomul.dimse.messages import (
    CEchoRQ,
    CFindRQ,
    CGetRQ,
    CMoveRQ,
    CommandField,
    CStoreRQ,
    DIMSEMessage,
)
from dicomul.dimse.request import build_request, describe_reject
from dicomul.dimse.session import (
    AssociationInfo,
    Operation,
    RequestReceived,
    ResponseReceived,
    Session,
)
from dicomul.dimse.sop import VERIFICATION, model_uid
from dicomul.dimse.status import SOP_CLASS_NOT_SUPPORTED, SUCCESS
from dicomul.errors import AssociationAborted, AssociationRejected, DicomULError
from dicomul.storage.contexts import context_error, prepare_store, verification_contexts
from dicomul.storage.part10 import FileMeta, decode_dataset, encode_dataset
from dicomul.storage.receiver import StoreReceiver, deliver_retrieved
from dicomul.storage.sources import send_form
from dicomul.ul.connection import Connection, Role
from dicomul.ul.events import (
    Aborted,
    AbortRequest,
    AssociateRequest,
    AssociationAccepted,
    AssociationRejectedEvent,
    ReleaseConfirmed,
    ReleaseRequest,
    ReleaseRequested,
    ReleaseResponse,
    TransportClosed,
)
from dicomul.ul.negotiation import negotiated_roles, requestor_accepted

if TYPE_CHECKING:
    import ssl
    from pathlib import Path

__all__ = ["Association", "connect"]

log = logging.getLogger("dicomul")

#: ``store_handler(dataset, meta) -> status`` for data sets a C-GET brings back.
StoreHandler = Callable[[Any, FileMeta], int]


async def connect(
    host: str,
    port: int,
    *,
    calling_ae: str = "DICOMUL",
    called_ae: str = "ANY-SCP",
    contexts: Sequence[tuple[str, Sequence[str]]] | None = None,
    roles: Mapping[str, tuple[bool, bool]] | None = None,
    max_pdu: int = 16384,
    connect_timeout: float | None = 30.0,
    acse_timeout: float | None = 30.0,
    dimse_timeout: float | None = None,
    ssl_context: ssl.SSLContext | None = None,
    server_hostname: str | None = None,
    user_identity: tuple[Any, ...] | None = None,
    async_operations: tuple[int, int] | None = None,
    sop_class_extended: Mapping[str, bytes] | None = None,
    common_extended: Sequence[tuple[str, str, Sequence[str]]] = (),
) -> Association:
    """Connect to ``host:port`` (a name, an IPv4 or an IPv6 address) and negotiate an
    association; the arguments are those of the blocking ``Association.connect``, plus
    ``async_operations`` (invoked, performed) to propose an operations window, and
    ``sop_class_extended`` / ``common_extended`` (see :func:`dicomul.dimse.request.
    build_request`); the answers are in :attr:`Association.accept`. Raises
    ConnectionRefusedError/OSError, AssociationRejected, AssociationAborted or
    TimeoutError, each saying what happened."""
    assoc = Association(calling_ae=calling_ae, called_ae=called_ae, dimse_timeout=dimse_timeout,
                        acse_timeout=acse_timeout)  # fmt: skip
    rq = build_request(
        calling_ae=calling_ae,
        called_ae=called_ae,
        max_pdu=max_pdu,
        contexts=contexts if contexts is not None else verification_contexts(),
        roles=roles,
        user_identity=user_identity,
        async_operations=async_operations,
        sop_class_extended=sop_class_extended,
        common_extended=common_extended,
    )
    await assoc._open(host, port, rq, connect_timeout, ssl_context, server_hostname)
    return assoc


class Association:
    """One association this side requested (see the module docstring); made by
    :func:`connect`. ``contexts``: the accepted ``{id: (abstract syntax, transfer
    syntax)}``; ``roles``: the negotiated (SCU, SCP) roles per SOP class."""

    def __init__(
        self,
        *,
        calling_ae: str,
        called_ae: str,
        dimse_timeout: float | None,
        acse_timeout: float | None,
    ) -> None:
        self.calling_ae = calling_ae
        self.called_ae = called_ae
        self.dimse_timeout = dimse_timeout
        self.acse_timeout = acse_timeout
        self.request: Any = None
        self.accept: Any = None
        self.contexts: dict[int, tuple[str, str]] = {}
        self.roles: dict[str, tuple[bool, bool]] = {}
        #: Data sets a C-GET received without ``output_dir`` or handler: (bytes, FileMeta).
        self.received: list[tuple[bytes, FileMeta]] = []
        self._loop = asyncio.get_running_loop()
        self.session = Session(Connection(Role.REQUESTOR, artim_timeout=acse_timeout or 30.0),
                               dataset_sink=self._sink)  # fmt: skip
        self.protocol: SessionProtocol | None = None
        self._established: asyncio.Future[None] = self._loop.create_future()
        self._closed: asyncio.Future[None] = self._loop.create_future()
        self._waiters: dict[Operation, asyncio.Queue[Any]] = {}
        self._ended: BaseException | None = None
        self._releasing = False
        self._receiver: StoreReceiver | None = None
        self._store_handler: StoreHandler | None = None

    # ---- set-up and tear-down ---------------------------------------------------------

    async def _open(
        self,
        host: str,
        port: int,
        rq: Any,
        connect_timeout: float | None,
        ssl_context: ssl.SSLContext | None,
        server_hostname: str | None,
    ) -> None:
        where = f"{self.called_ae}@{host}:{port}"
        self.request = rq
        self.session.connection.send(AssociateRequest(rq))

        def protocol() -> SessionProtocol:
            self.protocol = SessionProtocol(self.session, self._on_events, self._on_lost)
            return self.protocol

        kw: dict[str, Any] = {}
        if ssl_context is not None:
            kw = {"ssl": ssl_context, "server_hostname": server_hostname or host}
        try:
            await asyncio.wait_for(
                self._loop.create_connection(protocol, host, port, **kw), connect_timeout
            )
        except ConnectionRefusedError as exc:
            raise ConnectionRefusedError(
                exc.errno, f"connection to {host}:{port} refused (is the SCP running?)"
            ) from None
        except asyncio.TimeoutError:
            raise TimeoutError(
                f"connecting to {host}:{port} timed out after {connect_timeout}s"
            ) from None
        try:
            await asyncio.wait_for(asyncio.shield(self._established), self.acse_timeout)
        except asyncio.TimeoutError:
            self.abort()
            raise TimeoutError(
                f"no A-ASSOCIATE answer from {where} within {self.acse_timeout}s"
            ) from None
        except AssociationRejected as exc:
            exc.args = (describe_reject(exc, where),)
            raise
        except AssociationAborted as exc:
            exc.args = (f"{where} aborted the association request ({exc})",)
            raise
        log.debug("associated with %s: %d contexts accepted", where, len(self.contexts))

    async def release(self) -> None:
        """Release the association (A-RELEASE) and wait for the connection to close."""
        conn = self.session.connection
        if conn.is_established:
            self._releasing = True
            conn.send(ReleaseRequest())
            self._pump()
            try:
                await asyncio.wait_for(asyncio.shield(self._closed), self.acse_timeout)
            except asyncio.TimeoutError:
                self.abort()
                raise TimeoutError(f"no A-RELEASE answer within {self.acse_timeout}s") from None
        elif self.protocol is not None and not self.protocol.closed:
            self.abort()

    def abort(self) -> None:
        """Abort the association (A-ABORT, service user) and close the connection."""
        conn = self.session.connection
        try:
            if conn.state.value not in (1, 13):
                conn.send(AbortRequest(0, 0))
                self._pump()
        except DicomULError:
            pass
        if self.protocol is not None:
            self.protocol.abort_transport()
        self._end(AssociationAborted(0, 0))

    async def __aenter__(self) -> Association:
        return self

    async def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is None:
            await self.release()
        else:
            self.abort()

    @property
    def user_identity_response(self) -> bytes | None:
        """The acceptor's user identity server response (59H), or None."""
        return self.accept.get_user_identity_response() if self.accept is not None else None

    @property
    def is_established(self) -> bool:
        """Whether the association is up."""
        return self.session.connection.is_established

    def info(self) -> AssociationInfo:
        """Who is on this association."""
        peer = self.protocol.peer_address if self.protocol is not None else None
        return AssociationInfo(self.calling_ae, self.called_ae, peer, self.request, self.contexts)

    # ---- the services -----------------------------------------------------------------

    async def echo(self) -> int:
        """C-ECHO; returns the status."""
        pc_id = self._context(VERIFICATION, "Verification")
        op = self._request(pc_id, CEchoRQ)
        rsp = await self._next(op)
        return int(rsp.message.status)

    async def store(
        self,
        obj: Any,
        *,
        priority: int = 0,
        move_originator: tuple[str, int] | None = None,
    ) -> int:
        """C-STORE ``obj`` (a pydicom Dataset, a Part10File, a path or ``(bytes, ts,
        sop_class, sop_instance)``); returns the status. Raises StorageError when no
        accepted context suits it (see the blocking ``Association.store``)."""
        self._check_open()
        pc_id, prepared = prepare_store(self.contexts, obj)
        orig_ae, orig_id = move_originator if move_originator is not None else (None, None)
        try:
            op = self._request(
                pc_id,
                CStoreRQ,
                send_form(prepared.data),
                affected_sop_class_uid=prepared.sop_class_uid,
                affected_sop_instance_uid=prepared.sop_instance_uid,
                priority=priority,
                move_originator_ae_title=orig_ae,
                move_originator_message_id=orig_id,
            )
        except BaseException:
            prepared.close()
            raise
        rsp = await self._next(op)
        return int(rsp.message.status)

    async def find(self, identifier: Any, model: str = "study") -> AsyncIterator[tuple[int, Any]]:
        """C-FIND: ``async for status, match in assoc.find(query, "study")`` gives each
        pending match (a pydicom Dataset) as it arrives, then the final status with None.
        Closing the iterator early cancels the query (C-CANCEL): ``async with
        contextlib.aclosing(assoc.find(...)) as matches:`` closes it on leaving the block
        (a plain ``break`` leaves that to the garbage collector)."""
        sop = model_uid(model, "find")
        pc_id = self._context(sop, "C-FIND")
        ts = self.contexts[pc_id][1]
        op = self._request(pc_id, CFindRQ, encode_dataset(identifier, ts))
        async for ev in self._responses(op):
            match = decode_dataset(ev.dataset, ts) if ev.dataset is not None else None
            yield int(ev.message.status), match

    async def get(
        self,
        identifier: Any,
        model: str = "study",
        *,
        store_handler: StoreHandler | None = None,
        output_dir: str | os.PathLike[str] | None = None,
    ) -> AsyncIterator[tuple[int, Any]]:
        """C-GET: the matches come back as C-STORE sub-operations on this association,
        into ``store_handler(dataset, meta) -> status``, Part 10 files in ``output_dir``,
        or :attr:`received`; ``async for status, rsp in ...`` gives each C-GET-RSP."""
        sop = model_uid(model, "get")
        pc_id = self._context(sop, "C-GET")
        ts = self.contexts[pc_id][1]
        self._store_handler = store_handler
        self._receiver = StoreReceiver(
            directory=output_dir if store_handler is None else None,
            deliver=self._deliver,
            source_ae=self.called_ae,
        )
        op = self._request(pc_id, CGetRQ, encode_dataset(identifier, ts))
        async for ev in self._responses(op):
            yield int(ev.message.status), ev.message

    async def move(
        self, identifier: Any, destination_ae: str, model: str = "study"
    ) -> AsyncIterator[tuple[int, Any]]:
        """C-MOVE the matches to ``destination_ae``: ``async for status, rsp in ...``."""
        sop = model_uid(model, "move")
        pc_id = self._context(sop, "C-MOVE")
        ts = self.contexts[pc_id][1]
        op = self._request(pc_id, CMoveRQ, encode_dataset(identifier, ts),
                           move_destination=destination_ae)  # fmt: skip
        async for ev in self._responses(op):
            yield int(ev.message.status), ev.message

    # ---- plumbing ---------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._ended is not None:
            raise self._ended

    def _context(self, sop: str, what: str) -> int:
        self._check_open()
        for pc_id, (abstract, _ts) in self.contexts.items():
            if abstract == sop:
                return pc_id
        raise context_error(sop, what)

    def _request(
        self, pc_id: int, cls: type[DIMSEMessage], dataset: Any = None, **fields: Any
    ) -> Operation:
        self._check_open()
        op = self.session.request(pc_id, cls, dataset, **fields)
        self._waiters[op] = asyncio.Queue()
        self._pump()
        return op

    async def _next(self, op: Operation) -> ResponseReceived:
        """The next response to ``op``; TimeoutError (and an abort) after dimse_timeout."""
        queue = self._waiters[op]
        try:
            item = await asyncio.wait_for(queue.get(), self.dimse_timeout)
        except asyncio.TimeoutError:
            self._waiters.pop(op, None)
            self.abort()
            raise TimeoutError(
                f"no DIMSE response to message {op.message_id} within {self.dimse_timeout}s: "
                "the association was aborted"
            ) from None
        if isinstance(item, BaseException):
            self._waiters.pop(op, None)
            raise item
        if item.final:
            self._waiters.pop(op, None)
        return item  # type: ignore[no-any-return]

    async def _responses(self, op: Operation) -> AsyncIterator[ResponseReceived]:
        try:
            while True:
                ev = await self._next(op)
                yield ev
                if ev.final:
                    return
        finally:
            if not op.done and self.session.connection.is_established:
                self.session.cancel(op)  # the caller stopped early: cancel the rest
                self._waiters.pop(op, None)
                self._pump()

    def _pump(self) -> None:
        if self.protocol is not None:
            self.protocol.pump()

    def _sink(self, pc_id: int, message: DIMSEMessage) -> Any:
        ctx = self.contexts.get(pc_id)
        if self._receiver is None or ctx is None:
            return None
        return self._receiver.sink_for(message, ctx[1])

    def _deliver(self, meta: FileMeta, data: bytes | Path) -> int:
        return deliver_retrieved(self._store_handler, self.received, meta, data)

    def _on_request(self, ev: RequestReceived) -> None:
        """An operation the peer invoked: a C-GET sub-operation, or an echo."""
        msg = ev.message
        if msg.command_field == CommandField.C_ECHO_RQ:
            self.session.respond(ev, SUCCESS)
            return
        ctx = self.contexts.get(ev.context_id)
        status = SOP_CLASS_NOT_SUPPORTED
        if msg.command_field == CommandField.C_STORE_RQ and self._receiver is not None and ctx:
            status = self._receiver.complete(msg, ctx[1], ev.dataset)  # type: ignore[arg-type]
        try:
            self.session.respond(ev, status)
        except ValueError:  # the peer's UIDs are not valid UIDs: answer without them
            self.session.respond(
                ev, status, affected_sop_class_uid=None, affected_sop_instance_uid=None
            )

    def _on_events(self, events: list[Any]) -> None:
        for ev in events:
            kind = type(ev)
            if kind is ResponseReceived:
                queue = self._waiters.get(ev.operation)
                if queue is not None:
                    queue.put_nowait(ev)
            elif kind is RequestReceived:
                self._on_request(ev)
            elif kind is AssociationAccepted:
                self.accept = ev.associate
                self.contexts = requestor_accepted(self.request, ev.associate)
                self.roles = negotiated_roles(self.request, ev.associate)
                _settle(self._established, None)
            elif kind is AssociationRejectedEvent:
                self._end(AssociationRejected(ev.result, ev.source, ev.reason))
            elif kind is ReleaseRequested:  # the peer releases: answer (PS3.8 allows it)
                self.session.connection.send(ReleaseResponse())
            elif kind is ReleaseConfirmed:
                self._end(DicomULError("the association is released"), released=True)
            elif kind is Aborted:
                error = AssociationAborted(ev.source, ev.reason)
                if ev.message:
                    error.args = (f"{error}: {ev.message}",)
                self._end(error)
            elif kind is TransportClosed:
                self._end(self._lost(), released=self._releasing)

    def _lost(self) -> BaseException:
        if self._releasing:
            return DicomULError("the association is released")
        error = AssociationAborted(2, 0)
        error.args = (f"{error}: the connection closed",)
        return error

    def _on_lost(self, exc: BaseException | None) -> None:
        self._end(self._lost(), released=self._releasing)
        _settle(self._closed, None)

    def _end(self, error: BaseException, released: bool = False) -> None:
        """The association is over: fail what still waits (unless it was released)."""
        if self._receiver is not None:
            self._receiver.abort_pending()
        if self._ended is None:
            self._ended = error
        if not self._established.done():
            self._established.set_exception(error)
            self._established.exception()  # retrieved: no "never retrieved" warning
        if released:
            _settle(self._closed, None)
        for queue in self._waiters.values():
            queue.put_nowait(error)
        self._waiters.clear()


def _settle(future: asyncio.Future[None], value: None) -> None:
    if not future.done():
        future.set_result(value)
