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
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from dicomul.aio.protocol import SessionProtocol
from dicomul.dimse.messages import CEchoRQ, CFindRQ, CGetRQ, CMoveRQ, CStoreRQ, DIMSEMessage
from dicomul.dimse.request import build_request, describe_reject
from dicomul.dimse.session import AssociationInfo, Operation, ResponseReceived
from dicomul.dimse.sop import VERIFICATION, model_uid
from dicomul.errors import AssociationAborted, AssociationRejected, DicomULError
from dicomul.storage.commitment import CommitmentResult, check_action_result, commitment_request
from dicomul.storage.contexts import prepare_store, prepare_to_send, verification_contexts
from dicomul.storage.n_calls import NCalls
from dicomul.storage.normalized import NResult, n_result
from dicomul.storage.part10 import decode_dataset, encode_dataset
from dicomul.storage.requestor import Requestor, RequestorViews, StoreHandler
from dicomul.storage.sources import refers_to_a_file, send_form
from dicomul.ul.events import AbortRequest, AssociateRequest, ReleaseRequest

if TYPE_CHECKING:
    import ssl


__all__ = ["Association", "connect"]

log = logging.getLogger("dicomul")


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


class Association(NCalls, RequestorViews):
    """One association this side requested (see the module docstring); made by
    :func:`connect`. ``contexts``: the accepted ``{id: (abstract syntax, transfer
    syntax)}``; ``roles``: the negotiated (SCU, SCP) roles per SOP class.

    The DIMSE state (response matching, C-GET sub-operations, release, the end) is the
    shared sans-IO :class:`dicomul.storage.requestor.Requestor`; this class drives it
    from the event loop and wakes the coroutine that waits for what it was given: one
    future per operation waiting for a response, one for the A-ASSOCIATE answer and one
    for the end of the connection.

    The DIMSE-N methods (``n_get``, ``n_set``, ``n_action``, ``n_create``, ``n_delete``,
    ``n_event_report``; see :class:`dicomul.storage.n_calls.NCalls`) are coroutines
    giving an :class:`~dicomul.storage.normalized.NResult`. N-EVENT-REPORTs the peer
    sends go to ``on_event_report(NRequest)`` when set (plain; its return as a server
    handler's), else those of Storage Commitment are kept for :meth:`commit`."""

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
        self._loop = asyncio.get_running_loop()
        self._core = Requestor(called_ae=called_ae, artim_timeout=acse_timeout or 30.0)
        #: The DIMSE Session of this association (and its sans-IO Connection).
        self.session = self._core.session
        self.protocol: SessionProtocol | None = None
        self._established: asyncio.Future[None] = self._loop.create_future()
        self._closed: asyncio.Future[None] = self._loop.create_future()
        #: The future each operation's waiting coroutine awaits (see _next).
        self._wakers: dict[Operation, asyncio.Future[None]] = {}
        #: loop.time() by when each waiting operation's response is due (dimse_timeout),
        #: and the one timer for the earliest of them (see _next).
        self._deadlines: dict[Operation, float] = {}
        self._deadline_timer: asyncio.TimerHandle | None = None
        self._report_waker: asyncio.Future[None] | None = None

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
        self._core.request = rq
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
            self._core.releasing = True
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
        self._core.end(AssociationAborted(0, 0))
        self._wake()

    async def __aenter__(self) -> Association:
        return self

    async def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is None:
            await self.release()
        else:
            self.abort()

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
        pc_id = self._core.context(VERIFICATION, "Verification")
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
        self._core.check_open()
        if refers_to_a_file(obj):  # opened and read (a small one whole) off the loop
            pc_id, prepared, data = await self._loop.run_in_executor(
                None, prepare_to_send, self.contexts, obj
            )
        else:
            pc_id, prepared = prepare_store(self.contexts, obj)
            data = send_form(prepared.data)
        orig_ae, orig_id = move_originator if move_originator is not None else (None, None)
        try:
            op = self._request(
                pc_id,
                CStoreRQ,
                data,
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
        pc_id = self._core.context(sop, "C-FIND")
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
        pc_id = self._core.context(sop, "C-GET")
        ts = self.contexts[pc_id][1]
        self._core.receive_into(store_handler, output_dir)
        op = self._request(pc_id, CGetRQ, encode_dataset(identifier, ts))
        async for ev in self._responses(op):
            yield int(ev.message.status), ev.message

    async def move(
        self, identifier: Any, destination_ae: str, model: str = "study"
    ) -> AsyncIterator[tuple[int, Any]]:
        """C-MOVE the matches to ``destination_ae``: ``async for status, rsp in ...``."""
        sop = model_uid(model, "move")
        pc_id = self._core.context(sop, "C-MOVE")
        ts = self.contexts[pc_id][1]
        op = self._request(pc_id, CMoveRQ, encode_dataset(identifier, ts),
                           move_destination=destination_ae)  # fmt: skip
        async for ev in self._responses(op):
            yield int(ev.message.status), ev.message

    async def _n(self, operation: str, sop_class_uid: str, sop_instance_uid: str | None,
                 **kw: Any) -> NResult:  # fmt: skip
        op, ts = self._core.invoke_n(operation, sop_class_uid, sop_instance_uid, **kw)
        self._pump()
        rsp = await self._next(op)
        return n_result(rsp.message, rsp.dataset, ts, sop_instance_uid)

    async def commit(self, objects: Any, *, timeout: float = 60.0,
                     transaction_uid: str | None = None) -> CommitmentResult | None:  # fmt: skip
        """Storage Commitment (PS3.4 J.3): ask the peer to commit ``objects`` ((class,
        instance) pairs, Datasets or file paths), then wait up to ``timeout`` seconds for
        its report on this association. None when none came (the SCP may send it later
        on an association of its own to this AE: a Server's ``on_commitment`` gets it).
        Raises CommitmentRefused when the SCP refuses the request."""
        txn, call = commitment_request(objects, transaction_uid)
        check_action_result(await self.n_action(**call))
        end = self._loop.time() + timeout
        core = self._core
        while True:
            result = core.commitment_result(txn)
            if result is not None:
                return result
            remaining = end - self._loop.time()
            if core.ended is not None or remaining <= 0:
                return None
            waker = self._report_waker = self._loop.create_future()
            try:
                await asyncio.wait_for(waker, remaining)
            except asyncio.TimeoutError:
                return None
            finally:
                self._report_waker = None

    # ---- plumbing ---------------------------------------------------------------------

    def _request(
        self, pc_id: int, cls: type[DIMSEMessage], dataset: Any = None, **fields: Any
    ) -> Operation:
        op = self._core.invoke(pc_id, cls, dataset, **fields)
        self._pump()
        return op

    async def _next(self, op: Operation) -> ResponseReceived:
        """The next response to ``op``; raises why the association ended, or
        TimeoutError (and aborts) after dimse_timeout without one."""
        core = self._core
        got = core.take(op)
        if got is not None:
            return got
        waker = self._wakers[op] = self._loop.create_future()
        if self.dimse_timeout is not None:
            # Not a timer (nor asyncio.wait_for) per response, this runs once per C-STORE:
            # the deadline is noted, and one timer wakes at the earliest one (usually the
            # oldest, long answered by then: it looks again at the next).
            at = self._deadlines[op] = self._loop.time() + self.dimse_timeout
            timer = self._deadline_timer
            if timer is None or at < timer.when():
                if timer is not None:
                    timer.cancel()
                self._deadline_timer = self._loop.call_at(at, self._deadlines_due)
        try:
            await waker
        except asyncio.TimeoutError:
            core.forget(op)
            self.abort()
            raise TimeoutError(
                f"no DIMSE response to message {op.message_id} within {self.dimse_timeout}s: "
                "the association was aborted"
            ) from None
        finally:
            self._deadlines.pop(op, None)
            if self._wakers.get(op) is waker:
                del self._wakers[op]
        got = core.take(op)
        assert got is not None  # (woken: a response came, or take raises the end)
        return got

    async def _responses(self, op: Operation) -> AsyncIterator[ResponseReceived]:
        try:
            while True:
                ev = await self._next(op)
                yield ev
                if ev.final:
                    return
        finally:
            if self._core.stop(op):  # the caller stopped early: cancel the rest
                self._pump()

    def _pump(self) -> None:
        if self.protocol is not None:
            self.protocol.pump()

    def _on_events(self, events: list[Any]) -> None:
        core = self._core
        core.handle(events)
        if self._report_waker is not None and core.event_reports:
            _settle(self._report_waker)
        if core.ended is not None or not self._established.done():
            self._wake()
            return
        wakers = self._wakers
        if wakers:
            for ev in events:
                if type(ev) is ResponseReceived:
                    waker = wakers.pop(ev.operation, None)
                    if waker is not None and not waker.done():
                        waker.set_result(None)

    def _on_lost(self, exc: BaseException | None) -> None:
        core = self._core
        core.end(core.lost(), released=core.releasing)
        self._wake()
        _settle(self._closed)

    def _deadlines_due(self) -> None:
        """The deadline timer: time out the operations whose response is overdue, then
        wait for the earliest deadline left (if any)."""
        self._deadline_timer = None
        # (a loop may run a timer up to its clock's resolution early: uvloop's is 1 ms)
        now = self._loop.time() + 0.002
        earliest = None
        for op, at in list(self._deadlines.items()):
            if at <= now:
                del self._deadlines[op]
                waker = self._wakers.get(op)
                if waker is not None:
                    _expire(waker)
            elif earliest is None or at < earliest:
                earliest = at
        if earliest is not None:
            self._deadline_timer = self._loop.call_at(earliest, self._deadlines_due)

    def _wake(self) -> None:
        """Settle the futures after a change of the association's state: the
        A-ASSOCIATE answer, the release, and (once it ended) every waiting operation."""
        core = self._core
        established = self._established
        if not established.done():
            if core.accepted:
                established.set_result(None)
            elif core.ended is not None:
                established.set_exception(core.ended)
                established.exception()  # retrieved: no "never retrieved" warning
        if core.released:
            _settle(self._closed)
        if core.ended is not None and self._report_waker is not None:
            _settle(self._report_waker)
        if core.ended is not None and self._deadline_timer is not None:
            self._deadline_timer.cancel()
            self._deadline_timer = None
        if core.ended is not None and self._wakers:
            wakers = list(self._wakers.values())
            self._wakers.clear()
            for waker in wakers:
                _settle(waker)


def _settle(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def _expire(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_exception(asyncio.TimeoutError())
