"""The requestor's side of an association, without I/O: what the asyncio and the
blocking ``Association`` share.

A :class:`Requestor` owns the DIMSE Session (and so the Connection) of one association
this side requested. It turns the Session's events into state: the negotiated contexts
and roles once accepted, each operation's responses in arrival order, the C-STORE
sub-operations of a C-GET (answered at once, their data sets streamed into Part 10 files
or handed to a handler), a release asked by the peer (answered), and the end of the
association (kept as the exception every later call raises). The transports feed it
bytes and wait for :meth:`Requestor.take` to give a response; it never waits itself.
"""

from __future__ import annotations

import logging
import os
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from dicomul.dimse.messages import CommandField, DIMSEMessage
from dicomul.dimse.n_messages import N_MESSAGE_CLASSES, NCommandField
from dicomul.dimse.session import Operation, RequestReceived, ResponseReceived, Session
from dicomul.dimse.sop import STORAGE_COMMITMENT_PUSH
from dicomul.dimse.status import (
    PROCESSING_FAILURE,
    SOP_CLASS_NOT_SUPPORTED,
    SUCCESS,
    UNRECOGNIZED_OPERATION,
)
from dicomul.errors import AssociationAborted, AssociationRejected, DicomULError
from dicomul.storage.commitment import CommitmentResult, parse_report, report_for
from dicomul.storage.contexts import context_for
from dicomul.storage.normalized import (
    NReply,
    NRequest,
    n_invocation,
    n_reply,
    n_request,
    reply_fields,
)
from dicomul.storage.part10 import FileMeta, StorageError
from dicomul.storage.receiver import StoreReceiver, deliver_retrieved
from dicomul.ul.connection import Connection, Role
from dicomul.ul.events import (
    AbortIndication,
    AssociateAcceptConfirmation,
    AssociateRejectConfirmation,
    ReleaseConfirmation,
    ReleaseIndication,
    ReleaseResponse,
    TransportClosed,
)
from dicomul.ul.negotiation import negotiated_roles, requestor_accepted

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["Requestor", "RequestorViews", "StoreHandler"]

#: ``store_handler(dataset, meta) -> status`` for data sets a C-GET brings back.
StoreHandler = Callable[[Any, FileMeta], int]

_C_ECHO_RQ = CommandField.C_ECHO_RQ
_C_STORE_RQ = CommandField.C_STORE_RQ
_N_EVENT_REPORT_RQ = NCommandField.N_EVENT_REPORT_RQ

log = logging.getLogger("dicomul")


class Requestor:
    """One requested association's DIMSE state (see the module docstring).

    ``contexts``: the accepted ``{id: (abstract syntax, transfer syntax)}``; ``roles``:
    the negotiated (SCU, SCP) roles per SOP class; ``received``: data sets a C-GET
    brought back without an ``output_dir`` or handler, as (bytes, FileMeta).
    """

    def __init__(self, *, called_ae: str, artim_timeout: float, file_regions: bool = False):
        self.called_ae = called_ae
        self.session = Session(
            Connection(Role.REQUESTOR, artim_timeout=artim_timeout, file_regions=file_regions),
            dataset_sink=self._sink,
        )
        self.connection = self.session.connection
        self.request: Any = None
        self.accept: Any = None
        self.contexts: dict[int, tuple[str, str]] = {}
        self.roles: dict[str, tuple[bool, bool]] = {}
        self.received: list[tuple[bytes, FileMeta]] = []
        self.accepted = False
        #: Why the association ended (raised by every later call), or None.
        self.ended: BaseException | None = None
        self.releasing = False
        self.released = False
        self._responses: dict[Operation, deque[ResponseReceived]] = {}
        self._receiver: StoreReceiver | None = None
        self._store_handler: StoreHandler | None = None
        #: ``on_event_report(NRequest) -> status | (status, dataset) | NReply``: answers
        #: the N-EVENT-REPORTs the peer sends on this association; without it those of
        #: Storage Commitment are kept in :attr:`event_reports` and answered success.
        self.on_event_report: Callable[[NRequest], Any] | None = None
        self.event_reports: deque[NRequest] = deque(maxlen=1024)

    # ---- operations -------------------------------------------------------------------

    def check_open(self) -> None:
        """Raise why the association ended, if it has."""
        if self.ended is not None:
            raise self.ended

    def context(self, sop: str, what: str) -> int:
        """The ID of an accepted context for ``sop``; ContextNotAccepted if none."""
        self.check_open()
        return context_for(self.contexts, sop, what)

    def invoke(
        self, pc_id: int, cls: type[DIMSEMessage], dataset: Any = None, **fields: Any
    ) -> Operation:
        """Invoke an operation (see Session.request); its responses are kept for take()."""
        self.check_open()
        op = self.session.request(pc_id, cls, dataset, **fields)
        self._responses[op] = deque()
        return op

    def invoke_n(
        self, operation: str, sop_class_uid: str, sop_instance_uid: str | None, **kw: Any
    ) -> tuple[Operation, str]:
        """Invoke a DIMSE-N ``operation`` (see :func:`~dicomul.storage.normalized.
        n_invocation`) on a context accepted for ``sop_class_uid``: ``(operation,
        transfer syntax)``; ContextNotAccepted or ValueError when it cannot be sent."""
        pc_id = self.context(sop_class_uid, operation)
        ts = self.contexts[pc_id][1]
        cls, data, fields = n_invocation(operation, sop_class_uid, sop_instance_uid, ts, **kw)
        return self.invoke(pc_id, cls, data, **fields), ts

    def event_report(self, match: Callable[[NRequest], bool]) -> NRequest | None:
        """Take the first kept N-EVENT-REPORT that ``match`` accepts, or None."""
        for req in self.event_reports:
            if match(req):
                self.event_reports.remove(req)
                return req
        return None

    def commitment_result(self, transaction_uid: str) -> CommitmentResult | None:
        """The Storage Commitment report of ``transaction_uid`` among the kept
        N-EVENT-REPORTs (taken), or None."""
        got = self.event_report(report_for(transaction_uid))
        return parse_report(got.dataset, got.type_id) if got is not None else None

    def receive_into(
        self, store_handler: StoreHandler | None, output_dir: str | os.PathLike[str] | None
    ) -> None:
        """Where the next C-GET's data sets go: ``store_handler(dataset, meta)``, Part 10
        files in ``output_dir``, or :attr:`received`."""
        self._store_handler = store_handler
        self._receiver = StoreReceiver(
            directory=output_dir if store_handler is None else None,
            deliver=self._deliver,
            source_ae=self.called_ae,
        )

    def take(self, op: Operation) -> ResponseReceived | None:
        """The next response to ``op`` that has arrived, or None. Raises why the
        association ended once nothing is left to give."""
        got = self._responses.get(op)
        if got:
            ev = got.popleft()
            if ev.final:
                self.forget(op)
            return ev
        if self.ended is not None:
            self.forget(op)
            raise self.ended
        return None

    def operations(self) -> list[Operation]:
        """The operations whose responses are being kept (not yet final)."""
        return list(self._responses)

    def waiting(self, op: Operation) -> bool:
        """Whether take(op) would give something (or raise)."""
        return bool(self._responses.get(op)) or self.ended is not None

    def forget(self, op: Operation) -> None:
        """Stop keeping responses to ``op`` (a caller that gave up on it)."""
        self._responses.pop(op, None)

    def stop(self, op: Operation) -> bool:
        """The caller left an operation before its final response: cancel the rest
        (C-CANCEL) when the association is up; whether anything was queued to send."""
        self.forget(op)
        if op.done or not self.connection.is_established:
            return False
        self.session.cancel(op)
        return True

    def end(self, error: BaseException, released: bool = False) -> None:
        """The association is over: later calls raise ``error`` (the first one given)."""
        if self._receiver is not None:
            self._receiver.abort_pending()
        if self.ended is None:
            self.ended = error
        if released:
            self.released = True

    def lost(self) -> BaseException:
        """What the closing of the transport means now."""
        if self.releasing:
            return DicomULError("the association is released")
        error = AssociationAborted(2, 0)
        error.args = (f"{error}: the connection closed",)
        return error

    # ---- events -----------------------------------------------------------------------

    def handle(self, events: list[Any]) -> None:
        """Take the Session's events (answers to the peer are queued on the Session)."""
        for ev in events:
            kind = type(ev)
            if kind is ResponseReceived:
                got = self._responses.get(ev.operation)
                if got is not None:
                    got.append(ev)
            elif kind is RequestReceived:
                self._on_request(ev)
            elif kind is AssociateAcceptConfirmation:
                self.accept = ev.associate
                self.contexts = requestor_accepted(self.request, ev.associate)
                self.roles = negotiated_roles(self.request, ev.associate)
                self.accepted = True
            elif kind is AssociateRejectConfirmation:
                self.end(AssociationRejected(ev.result, ev.source, ev.reason))
            elif kind is ReleaseIndication:  # the peer releases: answer (PS3.8 allows it)
                self.connection.send(ReleaseResponse())
            elif kind is ReleaseConfirmation:
                self.end(DicomULError("the association is released"), released=True)
            elif kind is AbortIndication:
                error = AssociationAborted(ev.source, ev.reason)
                if ev.message:
                    error.args = (f"{error}: {ev.message}",)
                self.end(error)
            elif kind is TransportClosed:
                self.end(self.lost(), released=self.releasing)

    def _on_request(self, ev: RequestReceived) -> None:
        """An operation the peer invoked: a C-GET sub-operation, or an echo."""
        msg = ev.message
        if msg.command_field == _C_ECHO_RQ:
            self.session.respond(ev, SUCCESS)
            return
        ctx = self.contexts.get(ev.context_id)
        status = SOP_CLASS_NOT_SUPPORTED
        if msg.command_field == _N_EVENT_REPORT_RQ and ctx:
            self._on_event_report(ev, ctx[1])
            return
        if msg.command_field in N_MESSAGE_CLASSES:  # an N request a requestor does not serve
            status = UNRECOGNIZED_OPERATION
        if msg.command_field == _C_STORE_RQ and self._receiver is not None and ctx:
            status = self._receiver.complete(msg, ctx[1], ev.dataset)  # type: ignore[arg-type]
        self._answer(ev, status)

    def _answer(self, ev: RequestReceived, status: int, data: Any = None, **fields: Any) -> None:
        try:
            self.session.respond(ev, status, data, **fields)
        except ValueError:  # the peer's UIDs are not valid UIDs: answer without them
            fields.update(affected_sop_class_uid=None, affected_sop_instance_uid=None)
            self.session.respond(ev, status, data, **fields)

    def _on_event_report(self, ev: RequestReceived, ts: str) -> None:
        """An N-EVENT-REPORT on this association (a Storage Commitment result, ...)."""
        try:
            req = n_request(ev.message, ev.dataset, ts, ev.context_id)
        except StorageError:
            self._answer(ev, PROCESSING_FAILURE)
            return
        if self.on_event_report is None:
            if req.sop_class_uid != STORAGE_COMMITMENT_PUSH:
                self._answer(ev, UNRECOGNIZED_OPERATION)
                return
            self.event_reports.append(req)
            self._answer(ev, SUCCESS)
            return
        try:
            reply = n_reply(self.on_event_report(req))
        except Exception:  # noqa: BLE001 - a handler failure is a failure status
            log.exception("on_event_report failed")
            reply = NReply(status=PROCESSING_FAILURE)
        data, fields = reply_fields(req, reply, ts)
        self._answer(ev, reply.status, data, **fields)

    def _sink(self, pc_id: int, message: DIMSEMessage) -> Any:
        ctx = self.contexts.get(pc_id)
        if self._receiver is None or ctx is None:
            return None
        return self._receiver.sink_for(message, ctx[1])

    def _deliver(self, meta: FileMeta, data: bytes | Path) -> int:
        return deliver_retrieved(self._store_handler, self.received, meta, data)


class RequestorViews:
    """What an Association (asyncio or blocking) shows of its Requestor, ``self._core``."""

    _core: Requestor

    @property
    def contexts(self) -> dict[int, tuple[str, str]]:
        """The accepted presentation contexts: ``{id: (abstract syntax, transfer syntax)}``."""
        return self._core.contexts

    @property
    def roles(self) -> dict[str, tuple[bool, bool]]:
        """The negotiated (SCU, SCP) roles per SOP class."""
        return self._core.roles

    @property
    def received(self) -> list[tuple[bytes, FileMeta]]:
        """Data sets a C-GET received without ``output_dir`` or handler: (bytes, FileMeta)."""
        return self._core.received

    @property
    def on_event_report(self) -> Callable[[NRequest], Any] | None:
        """``on_event_report(NRequest) -> status | (status, dataset) | NReply``: answers
        the peer's N-EVENT-REPORTs (see :attr:`Requestor.on_event_report`), or None."""
        return self._core.on_event_report

    @on_event_report.setter
    def on_event_report(self, handler: Callable[[NRequest], Any] | None) -> None:
        self._core.on_event_report = handler

    @property
    def request(self) -> Any:
        """The A-ASSOCIATE-RQ sent (an Associate)."""
        return self._core.request

    @property
    def accept(self) -> Any:
        """The A-ASSOCIATE-AC received (an Associate), or None."""
        return self._core.accept

    @property
    def user_identity_response(self) -> bytes | None:
        """The acceptor's user identity server response (59H), or None."""
        ac = self._core.accept
        return ac.get_user_identity_response() if ac is not None else None  # type: ignore[no-any-return]
