"""The DIMSE-N services of the asyncio Server: performing a request with the service
object registered for its SOP class, the handle a handler gets to send the requestor
N requests back, and Storage Commitment's SCP (answer the N-ACTION, check the store,
report on the same association or, when it has gone, on a new one to the requestor).

A service object has any of the methods ``n_get``, ``n_set``, ``n_action``,
``n_create``, ``n_delete`` and ``n_event_report``, plain or coroutines, each taking an
:class:`~dicomul.storage.normalized.NRequest` and returning a status, ``(status,
dataset)``, a Dataset or an :class:`~dicomul.storage.normalized.NReply`. A request whose
method is missing is answered 0x0211 (unrecognized operation); one whose data set does
not decode, or whose method raises, 0x0110 (processing failure).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dicomul.dimse.n_messages import NEventReportRQ
from dicomul.dimse.policy import UNCOMPRESSED
from dicomul.dimse.session import RequestReceived
from dicomul.dimse.sop import MPPS, STORAGE_COMMITMENT_INSTANCE, STORAGE_COMMITMENT_PUSH
from dicomul.dimse.status import (
    INVALID_ARGUMENT_VALUE,
    NO_SUCH_ACTION,
    NO_SUCH_EVENT_TYPE,
    NO_SUCH_SOP_INSTANCE,
    PROCESSING_FAILURE,
    SUCCESS,
    UNRECOGNIZED_OPERATION,
)
from dicomul.storage.commitment import (
    ACTION_REQUEST,
    EVENT_FAILURES,
    EVENT_SUCCESS,
    check_references,
    parse_action,
    parse_report,
    report_dataset,
)
from dicomul.storage.normalized import (
    N_OPERATIONS,
    NReply,
    NRequest,
    NResult,
    n_invocation,
    n_reply,
    n_request,
    n_result,
    reply_fields,
)
from dicomul.storage.part10 import StorageError
from dicomul.storage.writer import safe_filename

if TYPE_CHECKING:
    from dicomul.aio.server import Server, _Peer

__all__ = ["perform", "PeerHandle", "CommitmentService", "NServices"]

log = logging.getLogger("dicomul")


class NServices:
    """The Server's DIMSE-N configuration (``n_services``, ``storage_commitment``,
    ``on_commitment``, ``mpps``: see dicomul.aio.server) and its background tasks."""

    n_services: dict[str, Any]
    storage_commitment: Any
    on_commitment: Any
    mpps: Any
    _commitment: CommitmentService
    _background: set[asyncio.Task[Any]]

    def n_service(self, sop_class_uid: str) -> Any:
        """The DIMSE-N service object for a SOP class, or None."""
        service = self.n_services.get(sop_class_uid)
        if service is not None:
            return service
        if sop_class_uid == STORAGE_COMMITMENT_PUSH and (
            self.storage_commitment or self.on_commitment is not None
        ):
            return self._commitment
        if sop_class_uid == MPPS:
            return self.mpps
        return None

    @property
    def n_sop_classes(self) -> tuple[str, ...]:
        """The SOP classes of the DIMSE-N services this server performs."""
        uids = {*self.n_services, STORAGE_COMMITMENT_PUSH, MPPS}
        return tuple(sorted(u for u in uids if self.n_service(u) is not None))

    def background(self, coro: Any) -> asyncio.Task[Any]:
        """Run ``coro`` as a task of the server's (cancelled by :meth:`close`), not of an
        association's: a Storage Commitment report outlives the association asking."""
        task = asyncio.get_running_loop().create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task


async def perform(peer: _Peer, ev: RequestReceived, service: Any) -> None:
    """Perform the N request ``ev`` with ``service`` and answer it."""
    ts = peer.contexts[ev.context_id][1]
    name = N_OPERATIONS[ev.message.command_field][1]
    method = getattr(service, name, None)
    if method is None:
        peer.respond(ev, UNRECOGNIZED_OPERATION)
        return
    try:
        req = n_request(ev.message, ev.dataset, ts, ev.context_id, peer.info, PeerHandle(peer))
    except StorageError as exc:
        log.warning("%s from %r: the data set does not decode: %s", name, peer.calling, exc)
        peer.respond(ev, PROCESSING_FAILURE, error_comment="the data set does not decode")
        return
    try:
        reply = n_reply(await peer.server.run_handler(method, req))
        data, fields = reply_fields(req, reply, ts)
    except Exception:  # noqa: BLE001 - a handler failure is a failure status
        log.exception("%s handler failed", name)
        reply = NReply(status=PROCESSING_FAILURE)
        data, fields = reply_fields(req, reply, ts)
    peer.respond(ev, reply.status, data, **fields)


class PeerHandle:
    """What a server's N-service handler has of the requestor's association
    (``request.peer``): whether it is still up, and DIMSE-N requests back to it."""

    def __init__(self, peer: _Peer) -> None:
        self._peer = peer

    @property
    def is_established(self) -> bool:
        """Whether the association is still up."""
        return self._peer.session.connection.is_established

    async def event_report(
        self, sop_class_uid: str, sop_instance_uid: str, event_type_id: int, dataset: Any = None
    ) -> NResult:
        """Send the requestor an N-EVENT-REPORT and wait for its answer. Raises
        ConnectionError when the association has ended, TimeoutError after the server's
        ``dimse_timeout``, ContextNotAccepted without a context for the SOP class."""
        peer = self._peer
        if not self.is_established:
            raise ConnectionError("the association has ended")
        pc_id = peer.context_for(sop_class_uid)
        ts = peer.contexts[pc_id][1]
        cls, data, fields = n_invocation(
            "N-EVENT-REPORT",
            sop_class_uid,
            sop_instance_uid,
            ts,
            dataset=dataset,
            type_id=event_type_id,
        )
        assert cls is NEventReportRQ
        rsp = await peer.invoke(pc_id, cls, data, **fields)
        return n_result(rsp.message, rsp.dataset, ts, sop_instance_uid)


class CommitmentService:
    """Storage Commitment Push Model on a Server: as SCP (``n_action``: commit what
    ``locate(instance UID)`` finds intact, by default the files of ``store_dir``) and
    as SCU receiving reports (``n_event_report``: ``on_commitment(result, info)``)."""

    def __init__(self, server: Server) -> None:
        self.server = server

    def locate(self, sop_instance_uid: str) -> Path | None:
        """Where the store holds an instance (a user's ``storage_commitment`` callable,
        else ``store_dir``'s file of that name), or None."""
        custom = self.server.storage_commitment
        if callable(custom):
            return custom(sop_instance_uid)  # type: ignore[no-any-return]
        if self.server.store_dir is None:
            return None
        return Path(self.server.store_dir) / safe_filename(sop_instance_uid)

    async def n_action(self, req: NRequest) -> NReply | int:
        if not self.server.storage_commitment:
            return UNRECOGNIZED_OPERATION
        if req.type_id != ACTION_REQUEST:
            return NReply(status=NO_SUCH_ACTION, error_comment="only Action Type 1 exists")
        if req.sop_instance_uid != STORAGE_COMMITMENT_INSTANCE:
            return NReply(
                status=NO_SUCH_SOP_INSTANCE,
                error_comment="not the well-known Storage Commitment instance",
            )
        try:
            txn, refs = parse_action(req.dataset)
        except ValueError as exc:
            return NReply(status=INVALID_ARGUMENT_VALUE, error_comment=str(exc)[:64])
        calling = req.info.calling_ae if req.info is not None else ""
        self.server.background(self._report(req.peer, calling, txn, refs))
        return SUCCESS  # answered first: the report follows (PS3.4 J.3.2)

    async def _report(self, peer: PeerHandle, calling: str, txn: str, refs: list[Any]) -> None:
        committed, failed = await self.server.run_handler(check_references, refs, self.locate)
        event_type, ds = report_dataset(txn, committed, failed)
        log.info(
            "storage commitment %s for %r: %d committed, %d failed",
            txn,
            calling,
            len(committed),
            len(failed),
        )
        if peer.is_established:
            try:
                await peer.event_report(
                    STORAGE_COMMITMENT_PUSH, STORAGE_COMMITMENT_INSTANCE, event_type, ds
                )
                return
            except (ConnectionError, OSError, asyncio.TimeoutError) as exc:
                log.info("commitment report on the association failed (%s): a new one", exc)
        await self._report_anew(calling, event_type, ds)

    async def _report_anew(self, calling: str, event_type: int, ds: Any) -> None:
        """Send the report on an association of our own to ``calling``, found in
        ``move_destinations``, taking the SCP role by role selection (PS3.4 J.3.3)."""
        from dicomul.aio.association import connect

        server = self.server
        dest = server.move_destinations.get(calling)
        if dest is None:
            log.error("cannot send the commitment report: %r is not in move_destinations", calling)
            return
        try:
            assoc = await connect(
                dest[0],
                dest[1],
                ssl_context=dest[2] if len(dest) > 2 else None,
                calling_ae=server.ae_title,
                called_ae=calling,
                contexts=[(STORAGE_COMMITMENT_PUSH, UNCOMPRESSED)],
                roles={STORAGE_COMMITMENT_PUSH: (False, True)},
                dimse_timeout=server.dimse_timeout,
            )
            async with assoc:
                result = await assoc.n_event_report(
                    STORAGE_COMMITMENT_PUSH, STORAGE_COMMITMENT_INSTANCE, event_type, ds
                )
            log.info("commitment report sent to %r: status 0x%04X", calling, result.status)
        except Exception as exc:  # noqa: BLE001 - logged: nobody waits for it here
            log.error("cannot send the commitment report to %r: %s", calling, exc)

    async def n_event_report(self, req: NRequest) -> NReply | int:
        handler: Callable[..., Any] | None = self.server.on_commitment
        if handler is None:
            return UNRECOGNIZED_OPERATION
        if req.type_id not in (EVENT_SUCCESS, EVENT_FAILURES):
            return NO_SUCH_EVENT_TYPE
        try:
            result = parse_report(req.dataset, req.type_id)
        except ValueError as exc:
            return NReply(status=PROCESSING_FAILURE, error_comment=str(exc)[:64])
        await self.server.run_handler(handler, result, req.info)
        return SUCCESS
