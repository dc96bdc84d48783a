"""The sans-IO DIMSE session: one association's DIMSE conversation (PS3.7) over one
:class:`~dicomul.ul.connection.Connection`.

Theory of operation
-------------------
A Session owns a Connection and adds what PS3.7 puts above it: message IDs, matching
each response to the request it answers, the pending responses of C-FIND/C-GET/C-MOVE,
C-GET sub-operations (C-STORE requests from the peer while our C-GET is outstanding),
C-CANCEL, and the asynchronous operations window (PS3.7 D.3.3.3), negotiated *and*
performed. Like the Connection it does no I/O and reads no clock: the transport feeds it
bytes (``receive_data``) and the time, takes ``data_to_send()``, and drains ``events()``.

Requests: ``request(context_id, CStoreRQ, dataset, affected_sop_class_uid=...)`` builds
the message with a fresh message ID and returns its :class:`Operation`. At most the
window's operations are outstanding (``invoke_window``; 0 = unlimited): later requests
wait in the session, in order, and go out as final responses free the window. The peer's
responses come back as :class:`ResponseReceived` (``final`` False for pending ones), each
with its Operation, whose ``status``, sub-operation counts and ``done`` they update.
``cancel(operation)`` sends C-CANCEL-RQ for a C-FIND/C-GET/C-MOVE still outstanding.

Operations the peer invokes arrive as :class:`RequestReceived`; answer each with
``respond(event, status, dataset=None, **fields)``, pending responses first where the
service has them. The peer may have ``perform_window`` operations outstanding on us: one
more is a protocol violation. A C-CANCEL-RQ for an operation being performed arrives as
:class:`CancelReceived` (one for an operation already answered is ignored, as PS3.7 9.3.2.3
allows a cancel to cross the final response).

Data sets: whether one follows a received command set is read here, from its (0000,0800)
(the Session gives the Connection :func:`~dicomul.dimse.messages.command_has_dataset`: the
upper layer reads no DIMSE field). A received one is bytes, or goes to a writable that
``dataset_sink(context_id, message)`` returned when its command set was complete (the
storage layer chooses; None keeps it in memory). A sent one is anything a Connection
sends (bytes-like, a file, an iterable of buffers, a Part 10 file region): it is never
copied here.

The peer's DIMSE mistakes (a command set that does not decode, a response to nothing
outstanding or of the wrong kind, an operation beyond the window, a pending status where
the service has none) never raise: the session aborts the association (A-ABORT, source
service-user) and reports :class:`~dicomul.ul.events.AbortIndication` with ``local`` True and the
reason in ``message``. Local misuse (a response to a request not being performed, a
cancel of an echo, a context not accepted) raises ValueError before anything changes.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

from dicomul._record import Factory, record
from dicomul.dimse._codec import DIMSEError
from dicomul.dimse.messages import (
    CCancelRQ,
    CEchoRSP,
    CFindRSP,
    CGetRSP,
    CMoveRSP,
    CommandField,
    CStoreRSP,
    DIMSEMessage,
    command_has_dataset,
    decode_message,
)
from dicomul.dimse.n_messages import N_MESSAGE_CLASSES, NActionRQ, NDeleteRQ, NGetRQ, NSetRQ
from dicomul.dimse.status import is_pending
from dicomul.ul.associate import Associate
from dicomul.ul.connection import Connection
from dicomul.ul.events import (
    AbortIndication,
    AbortRequest,
    DataIndication,
    DataRequest,
    ReleaseConfirmation,
    TransportClosed,
)

__all__ = [
    "Session",
    "AssociationInfo",
    "Operation",
    "RequestReceived",
    "ResponseReceived",
    "CancelReceived",
    "RESPONSE_CLASSES",
]

_CF = CommandField
#: The response class of each request's Command Field.
RESPONSE_CLASSES: dict[int, type[DIMSEMessage]] = {
    _CF.C_ECHO_RQ: CEchoRSP,
    _CF.C_STORE_RQ: CStoreRSP,
    _CF.C_FIND_RQ: CFindRSP,
    _CF.C_GET_RQ: CGetRSP,
    _CF.C_MOVE_RQ: CMoveRSP,
    **{cf: N_MESSAGE_CLASSES[cf | 0x8000] for cf in N_MESSAGE_CLASSES if not cf & 0x8000},
}
#: Requests that name their object by Requested SOP Class/Instance UID (PS3.7 10.3).
_BY_REQUESTED = frozenset({NGetRQ, NSetRQ, NActionRQ, NDeleteRQ})
#: Services whose operations may have pending responses (and can be cancelled).
_MULTI = frozenset({_CF.C_FIND_RQ, _CF.C_GET_RQ, _CF.C_MOVE_RQ})
_SUBOPS = ("remaining", "completed", "failed", "warning")
_SUBOP_FIELDS = tuple((name, f"{name}_suboperations") for name in _SUBOPS)
_RETRIEVE = frozenset({_CF.C_GET_RQ, _CF.C_MOVE_RQ})
#: The Pending statuses (is_pending, for a decoded US value: no range check needed).
_PENDING = frozenset({0xFF00, 0xFF01})
#: Connection events after which no operation can complete.
_ENDINGS = (AbortIndication, ReleaseConfirmation, TransportClosed)


class Operation:
    """One operation this side invoked: its request, and what the responses said.

    ``status`` is the last response's status (None before any); ``done`` once the final
    response came (or the association ended); ``responses`` counts them. For C-GET and
    C-MOVE, ``remaining`` ... ``warning`` are the last response's sub-operation counts,
    and for C-GET ``stores_received`` counts the C-STORE sub-operations that came on this
    association while it was outstanding. ``sent`` is False while the request waits for
    room in the window.
    """

    __slots__ = (
        "message_id", "context_id", "request", "command", "dataset", "status", "responses", "done",
        "sent", "cancelled", "remaining", "completed", "failed", "warning", "stores_received",
    )  # fmt: skip

    def __init__(self, message_id: int, context_id: int, request: DIMSEMessage) -> None:
        self.message_id = message_id
        self.context_id = context_id
        self.request = request
        self.command = b""  # the encoded command set, until it is sent
        self.dataset: Any = None
        self.status: int | None = None
        self.responses = 0
        self.done = False
        self.sent = False
        self.cancelled = False
        self.remaining: int | None = None
        self.completed: int | None = None
        self.failed: int | None = None
        self.warning: int | None = None
        self.stores_received = 0

    @property
    def kind(self) -> int:
        """The request's Command Field (CommandField.C_STORE_RQ, ...)."""
        return self.request.command_field

    def __repr__(self) -> str:
        state = "done" if self.done else "outstanding" if self.sent else "queued"
        name = type(self.request).__name__
        return f"<Operation {name} id={self.message_id} ctx={self.context_id} {state}>"


@record
class RequestReceived:
    """The peer invoked an operation; answer it with ``Session.respond(event, ...)``.

    ``dataset``: the data set's bytes, the writable the dataset sink chose, or None;
    ``error``: what the sink raised (the data set is then incomplete). ``operation``: for
    a C-STORE that is a sub-operation of our outstanding C-GET, that C-GET's Operation.
    """

    context_id: int
    message: DIMSEMessage
    dataset: Any = None
    error: BaseException | None = None
    operation: Operation | None = None


@record
class ResponseReceived:
    """A response to one of our operations (``final`` False: a pending one, more follow)."""

    context_id: int
    message: DIMSEMessage
    operation: Operation
    final: bool
    dataset: Any = None


@record
class CancelReceived:
    """The peer cancels an operation we are performing (answer it with status 0xFE00)."""

    context_id: int
    message: CCancelRQ
    request: DIMSEMessage


@record
class AssociationInfo:
    """What a handler may want to know about the association a request came on."""

    calling_ae: str
    called_ae: str
    peer_address: tuple[Any, ...] | None
    request: Associate | None = None
    contexts: dict[int, tuple[str, str]] = Factory(dict)


DatasetSink = Callable[[int, DIMSEMessage], Any]


class Session:
    """DIMSE over one Connection (see the module docstring).

    ``dataset_sink(context_id, message) -> writable | None`` chooses where received data
    sets go. The windows are read from the negotiated 53H items when the association is
    established; ``invoke_window``/``perform_window`` may be lowered by the caller (0 =
    unlimited).
    """

    def __init__(self, connection: Connection, *, dataset_sink: DatasetSink | None = None) -> None:
        self.connection = connection
        self.dataset_sink = dataset_sink
        connection.needs_dataset = command_has_dataset  # PS3.7 E.1, for the upper layer
        connection.dataset_sink = self._sink
        self._invoke_window = 1
        self._perform_window = 1
        self._invoked: dict[int, Operation] = {}  # message ID -> outstanding operation
        self._queued: deque[Operation] = deque()  # waiting for room in the window
        self._performing: dict[int, RequestReceived] = {}  # peer's message ID -> request
        self._ids: set[int] = set()  # message IDs of invoked and queued operations
        self._next_id = 1
        self._windows_read = False
        self._events: list[Any] = []
        self._sunk: tuple[bytes, DIMSEMessage] | None = None  # the command a sink saw

    # ---- the transport's side ---------------------------------------------------------

    def receive_data(
        self, data: bytes | bytearray | memoryview, *, now: float | None = None
    ) -> None:
        """Bytes from the peer (``b""``: the transport closed)."""
        self.connection.receive_data(data, now=now)
        self._drain()

    def received(self, nbytes: int, *, now: float | None = None) -> None:
        """``nbytes`` were read into ``connection.recv_buffer()``."""
        self.connection.received(nbytes, now=now)
        self._drain()

    def recv_buffer(self, size: int | None = None, scratch: bytearray | None = None) -> memoryview:
        """Where to read the next bytes into (then call :meth:`received`); see
        Connection.recv_buffer."""
        return self.connection.recv_buffer(size, scratch)

    def handle_timer(self, now: float) -> None:
        self.connection.handle_timer(now)
        self._drain()

    def data_to_send(self, limit: int | None = None) -> list[Any]:
        return self.connection.data_to_send(limit)

    def events(self) -> list[Any]:
        """DIMSE events and the Connection's other events, in the order they happened."""
        if self.connection.has_events:
            self._drain()
        out, self._events = self._events, []
        return out

    @property
    def has_events(self) -> bool:
        """Whether events() has something (cheap: for transports' hot paths)."""
        return bool(self._events) or self.connection.has_events

    @property
    def invoke_window(self) -> int:
        """How many operations we may have outstanding (0 = unlimited): negotiated."""
        self._read_windows()
        return self._invoke_window

    @invoke_window.setter
    def invoke_window(self, value: int) -> None:
        self._read_windows()
        self._invoke_window = value

    @property
    def perform_window(self) -> int:
        """How many operations the peer may have outstanding on us (0 = unlimited)."""
        self._read_windows()
        return self._perform_window

    @perform_window.setter
    def perform_window(self, value: int) -> None:
        self._read_windows()
        self._perform_window = value

    def _read_windows(self) -> None:
        if not self._windows_read and self.connection.is_established:
            self._windows()

    @property
    def outstanding(self) -> int:
        """Operations we invoked that await their final response (queued ones included)."""
        return len(self._invoked) + len(self._queued)

    @property
    def performing(self) -> int:
        """Operations the peer invoked that we have not answered finally."""
        return len(self._performing)

    # ---- requests ---------------------------------------------------------------------

    def request(
        self,
        context_id: int,
        cls: type[DIMSEMessage],
        dataset: Any = None,
        **fields: Any,
    ) -> Operation:
        """Invoke an operation: a ``cls`` request (CEchoRQ, CStoreRQ, ...) on an accepted
        context, with a new message ID and ``fields``; ``affected_sop_class_uid``
        defaults to the context's abstract syntax. Sent now, or when the window has room.
        """
        if cls.command_field not in RESPONSE_CLASSES:
            raise ValueError(f"{cls.__name__} is not a request that takes a response")
        contexts = self.connection.accepted_contexts
        if context_id not in contexts:
            raise ValueError(f"presentation context {context_id} is not accepted")
        # (N-GET, N-SET, N-ACTION and N-DELETE name their object by Requested UIDs)
        uid_field = "requested_sop_class_uid" if cls in _BY_REQUESTED else "affected_sop_class_uid"
        fields.setdefault(uid_field, contexts[context_id][0])
        fields["has_dataset"] = dataset is not None
        message_id = self._new_message_id()
        message = cls(message_id=message_id, **fields)
        command = message.encode()  # bad fields raise here, before anything changes
        op = Operation(message_id, context_id, message)
        self._ids.add(message_id)
        if (
            self._windows_read
            and not self._queued
            and self.connection.is_established
            and self._has_room()
        ):
            # Nothing queued before it: sent now (what _flush would do, without the
            # queue; the usual case of a blocking requestor).
            self._send(op, command, dataset)
            return op
        op.command = command
        op.dataset = dataset
        self._queued.append(op)
        self._flush()
        return op

    def cancel(self, operation: Operation) -> None:
        """Send C-CANCEL-RQ for an outstanding C-FIND, C-GET or C-MOVE (a queued one is
        dropped from the queue and completes as cancelled, without being sent)."""
        if operation.kind not in _MULTI:
            raise ValueError(f"{type(operation.request).__name__} cannot be cancelled")
        if operation.done or operation.cancelled:
            return
        operation.cancelled = True
        if not operation.sent:
            self._queued.remove(operation)
            self._ids.discard(operation.message_id)
            operation.done = True
            return
        rq = CCancelRQ(message_id_being_responded_to=operation.message_id)
        self.connection.send(DataRequest(operation.context_id, rq.encode()))

    def _new_message_id(self) -> int:
        mid = self._next_id
        if mid not in self._ids:  # the usual case: the next one is free
            self._next_id = mid % 0xFFFF + 1
            return mid
        for _ in range(0x10000):
            mid = self._next_id
            self._next_id = mid % 0xFFFF + 1  # 1 .. 65535, then 1 again
            if mid not in self._ids:
                return mid
        raise ValueError("65535 operations outstanding: no message ID is free")

    def _flush(self) -> None:
        """Send queued requests while the window has room."""
        if not self._queued or not self.connection.is_established:
            return
        if not self._windows_read:
            self._windows()
        while self._queued and self._has_room():
            op = self._queued.popleft()
            dataset, op.dataset = op.dataset, None
            command, op.command = op.command, b""
            self._send(op, command, dataset)

    def _has_room(self) -> bool:
        """Whether the invoke window (read already) has room for one more operation."""
        window = self._invoke_window
        return not window or len(self._invoked) < window

    def _send(self, op: Operation, command: bytes, dataset: Any) -> None:
        """Send ``op``'s request: it is outstanding from now on."""
        self._invoked[op.message_id] = op
        op.sent = True
        self.connection.send(DataRequest(op.context_id, command, dataset))

    # ---- responses --------------------------------------------------------------------

    def respond(
        self,
        event: RequestReceived,
        status: int = 0x0000,
        dataset: Any = None,
        **fields: Any,
    ) -> None:
        """Answer an operation the peer invoked: a pending response (status 0xFF00/0xFF01,
        C-FIND/C-GET/C-MOVE only) or the final one, which ends the operation."""
        rq = event.message
        mid = rq.message_id  # type: ignore[attr-defined]
        if self._performing.get(mid) is not event:
            raise ValueError(f"message {mid} is not an operation being performed")
        pending = is_pending(status)
        if pending and rq.command_field not in _MULTI:
            raise ValueError(f"{type(rq).__name__} has no pending responses")
        cls = RESPONSE_CLASSES[rq.command_field]
        sop_class = getattr(rq, "affected_sop_class_uid", None)
        fields.setdefault(
            "affected_sop_class_uid",
            sop_class if sop_class is not None else getattr(rq, "requested_sop_class_uid", None),
        )
        if cls is CStoreRSP:
            fields.setdefault("affected_sop_instance_uid", rq.affected_sop_instance_uid)  # type: ignore[attr-defined]
        elif rq.command_field in N_MESSAGE_CLASSES:  # the object acted on, and C(=) fields
            instance = getattr(rq, "affected_sop_instance_uid", None)
            if instance is None:
                instance = getattr(rq, "requested_sop_instance_uid", None)
            fields.setdefault("affected_sop_instance_uid", instance)
            for name in ("event_type_id", "action_type_id"):
                if hasattr(rq, name):
                    fields.setdefault(name, getattr(rq, name))
        rsp = cls(
            message_id_being_responded_to=mid,
            status=status,
            has_dataset=dataset is not None,
            **fields,
        )
        command = rsp.encode()
        if not pending:
            del self._performing[mid]
        self.connection.send(DataRequest(event.context_id, command, dataset))

    # ---- received messages ------------------------------------------------------------

    def _sink(self, context_id: int, command: bytes) -> Any:
        """The Connection's dataset_sink: decode the command set once, let the user's
        sink choose where the data set goes."""
        if self.dataset_sink is None:
            return None
        try:
            message = decode_message(command)
        except DIMSEError:
            return None  # reported when the whole message arrives
        self._sunk = (command, message)
        return self.dataset_sink(context_id, message)

    def _drain(self) -> None:
        for ev in self.connection.events():
            if type(ev) is DataIndication:
                if not self._windows_read:
                    self._windows()
                self._on_message(ev)
                continue
            self._events.append(ev)
            if type(ev) in _ENDINGS:
                self._ended()
        self._flush()

    def _windows(self) -> None:
        """The windows of the negotiated 53H items (PS3.7 D.3.3.3): absent = 1/1."""
        self._windows_read = True
        ac = self.connection.accept
        rq = self.connection.request
        invoked, performed = (ac.async_operations if ac is not None else None) or (1, 1)
        if rq is not None and rq.async_operations is None:
            invoked, performed = 1, 1
        requestor = self.connection.role.value == "requestor"
        # The RQ's invoked/performed are the requestor's; the AC answers with the numbers
        # the requestor may invoke and the acceptor may invoke (the requestor performs).
        self._invoke_window = invoked if requestor else performed
        self._perform_window = performed if requestor else invoked

    def _ended(self) -> None:
        for op in (*self._invoked.values(), *self._queued):
            op.done = True
        self._invoked.clear()
        self._queued.clear()
        self._performing.clear()

    def _violation(self, why: str) -> None:
        """The peer broke PS3.7: A-ABORT (service-user), and say why."""
        self._ended()
        if self.connection.is_established:
            self.connection.send(AbortRequest(0, 0))
        self._events.append(AbortIndication(0, 0, provider=False, local=True, message=why))

    def _on_message(self, ev: DataIndication) -> None:
        sunk, self._sunk = self._sunk, None
        try:
            if sunk is not None and sunk[0] == ev.command:
                message = sunk[1]
            else:
                message = decode_message(ev.command)
        except DIMSEError as exc:
            self._violation(f"a command set that does not decode: {exc}")
            return
        cf = message.command_field
        if cf & 0x8000:
            self._on_response(ev, message)
        elif cf == _CF.C_CANCEL_RQ:
            target = self._performing.get(message.message_id_being_responded_to)  # type: ignore[attr-defined]
            if target is not None:
                self._events.append(CancelReceived(ev.context_id, message, target.message))  # type: ignore[arg-type]
        elif cf in RESPONSE_CLASSES:
            self._on_request(ev, message)
        else:
            self._violation(f"unexpected Command Field 0x{cf:04X}")

    def _on_request(self, ev: DataIndication, message: DIMSEMessage) -> None:
        mid = message.message_id  # type: ignore[attr-defined]
        if mid in self._performing:
            self._violation(f"request with message ID {mid}, which is still being performed")
            return
        if self._perform_window and len(self._performing) >= self._perform_window:
            self._violation(
                f"the peer has more than {self._perform_window} operation(s) outstanding "
                "(the asynchronous operations window)"
            )
            return
        parent = None
        if message.command_field == _CF.C_STORE_RQ:
            for op in self._invoked.values():
                if op.kind == _CF.C_GET_RQ:
                    parent = op
                    op.stores_received += 1
                    break
        req = RequestReceived(ev.context_id, message, ev.dataset, ev.error, parent)
        self._performing[mid] = req
        self._events.append(req)

    def _on_response(self, ev: DataIndication, message: DIMSEMessage) -> None:
        mid = message.message_id_being_responded_to  # type: ignore[attr-defined]
        op = self._invoked.get(mid)
        if op is None:
            self._violation(f"a response to message {mid}, which is not outstanding")
            return
        kind = op.request.command_field
        if message.command_field != kind | 0x8000:
            self._violation(f"{type(message).__name__} answers {type(op.request).__name__} {mid}")
            return
        status = message.status  # type: ignore[attr-defined]
        final = status not in _PENDING
        if not final and kind not in _MULTI:
            self._violation(f"pending status 0x{status:04X} for {type(op.request).__name__}")
            return
        op.status = status
        op.responses += 1
        if kind in _RETRIEVE:  # (only C-GET and C-MOVE responses count sub-operations)
            for name, field in _SUBOP_FIELDS:
                value = getattr(message, field, None)
                if value is not None:
                    setattr(op, name, value)
        if final:
            op.done = True
            del self._invoked[mid]
            self._ids.discard(mid)
        self._events.append(ResponseReceived(ev.context_id, message, op, final, ev.dataset))
