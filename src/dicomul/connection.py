"""The sans-IO Connection: one transport connection = one association (PS3.8 9.1.1).

Theory of operation
-------------------
A Connection is the PS3.8 state machine plus what its actions need, and nothing that does
I/O. It takes bytes (``receive_data``; ``b""`` means the transport closed), user requests
(``send``), transport notifications (``connection_made``) and the time (``now=`` on every
entry point, and ``handle_timer(now)``); it gives back events (``events()``), bytes to
write (``data_to_send()``), a timer deadline (``timer_deadline()``) and whether the
transport should be closed (``close_requested``).

Every input is mapped to one of Evt1..Evt19 and run through Table 9-10 (``dicomul._fsm``,
the C transcription): the cell gives an action and its effects as bits, applied here in
ascending bit order, then the next state is entered. A local request whose cell is blank
raises LocalProtocolError before anything changes. Bytes from the peer never raise: an
unrecognized or malformed PDU is Evt19 and ends in the A-ABORT the table names (source 2,
with the reason of the decoding error); so does a P-DATA stream that breaks Annex E.

ARTIM is a deadline, started and stopped by the actions; the transport calls
``handle_timer(now)`` when ``timer_deadline()`` passes (Evt18).
"""

from __future__ import annotations

import enum
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any

from dicomul import _fsm
from dicomul._core import (
    DEFAULT_MAX_PDU_LENGTH,
    Abort,
    AssociateReject,
    Framer,
    PDataTF,
    ReleaseRP,
    ReleaseRQ,
    decode_pdata,
    decode_short,
)
from dicomul._pdata import AnnexEViolation, Reassembler, message_batches
from dicomul.associate import Associate
from dicomul.errors import LocalProtocolError, ProtocolError
from dicomul.events import (
    Aborted,
    AbortRequest,
    AssociateAccept,
    AssociateRejectRequest,
    AssociateRequest,
    AssociationAccepted,
    AssociationRejectedEvent,
    AssociationRequested,
    DataReceived,
    DataRequest,
    Event,
    PDUReceived,
    ReleaseConfirmed,
    ReleaseRequest,
    ReleaseRequested,
    ReleaseResponse,
    Request,
    TransportClosed,
)

__all__ = ["Connection", "Role", "State", "DEFAULT_ARTIM_TIMEOUT"]

#: ARTIM timer value in seconds (PS3.8 9.1.4 leaves it to the implementation).
DEFAULT_ARTIM_TIMEOUT = 30.0
#: Maximum length announced when an A-ASSOCIATE PDU has no 51H sub-item: be conservative.
ABSENT_MAX_LENGTH = 16384
#: Floor of the reader's PDU limit, so that a large A-ASSOCIATE-RQ/AC is still read.
MIN_READ_LIMIT = 1024 * 1024


class Role(enum.Enum):
    """Which side of the association this Connection is."""

    REQUESTOR = "requestor"
    ACCEPTOR = "acceptor"


class State(enum.IntEnum):
    """PS3.8 Tables 9-1..9-5."""

    STA1 = 1  # idle
    STA2 = 2  # transport open, awaiting A-ASSOCIATE-RQ PDU
    STA3 = 3  # awaiting local A-ASSOCIATE response primitive
    STA4 = 4  # awaiting transport connection to open
    STA5 = 5  # awaiting A-ASSOCIATE-AC or -RJ PDU
    STA6 = 6  # association established, ready for data transfer
    STA7 = 7  # awaiting A-RELEASE-RP PDU
    STA8 = 8  # awaiting local A-RELEASE response primitive
    STA9 = 9  # release collision requestor: awaiting local A-RELEASE response
    STA10 = 10  # release collision acceptor: awaiting A-RELEASE-RP PDU
    STA11 = 11  # release collision requestor: awaiting A-RELEASE-RP PDU
    STA12 = 12  # release collision acceptor: awaiting local A-RELEASE response
    STA13 = 13  # awaiting transport connection close


# Events (PS3.8 Table 9-10 rows) for each received PDU type.
_PDU_EVENT = {1: 6, 2: 3, 3: 4, 4: 10, 5: 12, 6: 13, 7: 16}
# Events for each local request type.
_REQUEST_EVENT: dict[type, int] = {
    AssociateRequest: 1,
    AssociateAccept: 7,
    AssociateRejectRequest: 8,
    DataRequest: 9,
    ReleaseRequest: 11,
    ReleaseResponse: 14,
    AbortRequest: 15,
}
_PROTOCOL_VERSION_BIT = 0x0001
_FX_BITS = [1 << i for i in range(32) if (1 << i) & _fsm.FX_DO_MASK]


class Connection:
    """One association's protocol state, without I/O (see the module docstring).

    Parameters: ``role``; ``artim_timeout`` seconds; ``max_pdu_length``, the largest PDU
    accepted from the peer once no A-ASSOCIATE PDU has announced one (the limit becomes
    our announced maximum length once associated, 0 meaning this value);
    ``dataset_sink(context_id, command) -> writable | None`` to stream received data sets;
    ``raw_pdus`` to get a :class:`PDUReceived` event before each PDU's own event.
    """

    def __init__(
        self,
        role: Role,
        *,
        artim_timeout: float = DEFAULT_ARTIM_TIMEOUT,
        max_pdu_length: int = DEFAULT_MAX_PDU_LENGTH,
        dataset_sink: Callable[[int, bytes], Any] | None = None,
        raw_pdus: bool = False,
    ) -> None:
        if not isinstance(role, Role):
            raise TypeError(f"role must be a Role, not {role!r}")
        if artim_timeout <= 0:
            raise ValueError("artim_timeout must be positive")
        self.role = role
        self.artim_timeout = float(artim_timeout)
        self.max_pdu_length = int(max_pdu_length)
        self.dataset_sink = dataset_sink
        self.raw_pdus = raw_pdus
        self.state = State.STA1
        self.request: Associate | None = None  # the A-ASSOCIATE-RQ sent or received
        self.accept: Associate | None = None  # the A-ASSOCIATE-AC sent or received
        self.peer_max_length: int | None = None  # what the peer can receive (0 = no limit)
        self.close_requested = False
        self._framer = self._new_framer(self.max_pdu_length)
        self._events: deque[Event] = deque()
        self._out: deque[tuple[int, int, list[Any] | Iterator[list[Any]]]] = deque()
        self._deadline: float | None = None
        self._now = 0.0
        self._reassembler: Reassembler | None = None
        self._abort_reason = 0  # reason for a provider A-ABORT we are about to send
        self._abort_message = ""
        self._pending: Any = None  # the primitive or PDU the current action acts on

    # ---- inputs ---------------------------------------------------------------------

    def _new_framer(self, limit: int) -> Framer:
        return Framer(limit, None if self.raw_pdus else Associate.decode)

    def _tick(self, now: float | None) -> None:
        if now is not None:
            self._now = now

    def send(self, request: Request, *, now: float | None = None) -> None:
        """A local service primitive (PS3.8 Evt1, 7, 8, 9, 11, 14, 15).

        Raises LocalProtocolError when Table 9-10 has no transition for it in this state,
        ValueError/TypeError for bad arguments; in both cases nothing changes.
        """
        event = _REQUEST_EVENT.get(type(request))
        if event is None:
            raise TypeError(f"not a request primitive: {request!r}")
        cell = _fsm.step(self.state, event, requestor=self.role is Role.REQUESTOR)
        if cell is None:
            raise LocalProtocolError(
                f"{type(request).__name__} is not allowed in {self.state.name} (PS3.8 Table 9-10)"
            )
        self._check_request(request)
        self._tick(now)
        self._pending = request
        self._run(event)

    def _check_request(self, request: Request) -> None:
        """Argument checks that must pass before the state machine moves."""
        if isinstance(request, AssociateRequest):
            if not request.associate.is_request:
                raise ValueError("AssociateRequest needs an A-ASSOCIATE-RQ Associate")
            if self.role is not Role.REQUESTOR:
                raise LocalProtocolError("an acceptor does not send A-ASSOCIATE-RQ")
            request.associate.encode()  # raises ValueError if it cannot be sent
        elif isinstance(request, AssociateAccept):
            if request.associate.is_request:
                raise ValueError("AssociateAccept needs an A-ASSOCIATE-AC Associate")
            request.associate.encode()
        elif isinstance(request, AssociateRejectRequest):
            from dicomul.constants import validate_reject

            validate_reject(request.result, request.source, request.reason)
        elif isinstance(request, DataRequest):
            if request.context_id not in self.accepted_contexts:
                raise ValueError(f"presentation context {request.context_id} was not accepted")
        elif isinstance(request, AbortRequest):
            from dicomul.constants import validate_abort

            validate_abort(request.source, request.reason)

    def connection_made(self, *, now: float | None = None) -> None:
        """The transport connection is open: Evt2 (requestor) or Evt5 (acceptor)."""
        self._tick(now)
        event = 2 if self.role is Role.REQUESTOR else 5
        if _fsm.step(self.state, event) is None:
            raise LocalProtocolError(f"connection_made() in {self.state.name}")
        self._run(event)

    def receive_data(
        self, data: bytes | bytearray | memoryview, *, now: float | None = None
    ) -> None:
        """Bytes from the peer, in chunks of any size; ``b""`` = transport closed (Evt17).

        Never raises for anything the peer sends: protocol errors become A-ABORTs."""
        self._tick(now)
        if not data:
            if self.state is not State.STA1:
                self._pending = None
                self._run(17)
            return
        if self.state in (State.STA1, State.STA4):
            return  # no transport from the state machine's view: nothing to act upon
        try:
            pdus = self._framer.feed(data)
        except ProtocolError as exc:
            self._invalid_pdu(exc.abort_reason, str(exc))
            return
        for pdu in pdus:
            if self.state is State.STA1:
                return
            self._on_pdu(pdu)

    def handle_timer(self, now: float) -> None:
        """Call when ``timer_deadline()`` has passed: ARTIM expiry is Evt18."""
        self._tick(now)
        if self._deadline is not None and now >= self._deadline:
            self._deadline = None
            self._run(18)

    # ---- outputs --------------------------------------------------------------------

    def events(self) -> list[Event]:
        """The events produced since the last call, in order."""
        out = list(self._events)
        self._events.clear()
        return out

    def data_to_send(self, limit: int | None = None) -> list[Any]:
        """Buffers to write, in order (for ``socket.sendmsg`` or ``writelines``).

        With ``limit``, stops after about that many bytes (a large data set is then read
        and fragmented a window at a time); call again until it returns ``[]``."""
        return [b for _, _, bufs in self.take_outgoing(limit) for b in bufs]

    def take_outgoing(self, limit: int | None = None) -> list[tuple[int, int, list[Any]]]:
        """Like data_to_send(), grouped: ``(pdu_type, nbytes, buffers)`` per queued item
        (a P-DATA item may be one window of a long message)."""
        got: list[tuple[int, int, list[Any]]] = []
        total = 0
        while self._out and (limit is None or total < limit):
            pdu_type, nbytes, src = self._out[0]
            if isinstance(src, list):
                self._out.popleft()
                got.append((pdu_type, nbytes, src))
                total += nbytes
                continue
            batch = next(src, None)
            if batch is None:
                self._out.popleft()
                continue
            size = sum(len(b) for b in batch)
            got.append((pdu_type, size, batch))
            total += size
        return got

    @property
    def pending_output(self) -> bool:
        """Whether anything is queued for data_to_send()."""
        return bool(self._out)

    def timer_deadline(self) -> float | None:
        """When ARTIM expires (in the clock of the ``now`` values given), or None."""
        return self._deadline

    # ---- derived state --------------------------------------------------------------

    @property
    def is_established(self) -> bool:
        """Sta6: the association is established and ready for data transfer."""
        return self.state is State.STA6

    @property
    def accepted_contexts(self) -> dict[int, tuple[str | None, str]]:
        """Accepted presentation contexts: ``{id: (abstract syntax, transfer syntax)}``."""
        ac = self.accept
        if ac is None:
            return {}
        out: dict[int, tuple[str | None, str]] = {}
        for pc in ac.presentation_contexts:
            if pc.result == 0 and pc.transfer_syntaxes:
                out[pc.id] = (pc.abstract_syntax, pc.transfer_syntaxes[0])
        return out

    # ---- the state machine ----------------------------------------------------------

    def _on_pdu(self, pdu: Any) -> None:
        if self.raw_pdus:  # the framer gave raw bytes: announce, then decode
            raw = bytes(pdu)
            self._events.append(PDUReceived(raw[0], raw))
            try:
                pdu = _decode(raw)
            except ProtocolError as exc:
                self._invalid_pdu(exc.abort_reason, str(exc))
                return
        self._pending = pdu
        if isinstance(pdu, Associate):
            event = 6 if pdu.is_request else 3
        else:
            event = _PDU_EVENT[pdu.pdu_type]
        if event == 10 and self.state in (State.STA6, State.STA7):
            messages = self._reassemble(pdu)
            if messages is None:
                return
            self._pending = messages
        self._run(event, provider_abort=isinstance(pdu, Abort) and pdu.source != 0)

    def _invalid_pdu(self, reason: int, message: str) -> None:
        """Evt19: an unrecognized or invalid PDU (or bytes that are not a PDU)."""
        self._abort_reason = reason
        self._abort_message = message
        self._pending = None
        self._run(19)

    def _reassemble(self, pdu: PDataTF) -> list[DataReceived] | None:
        """Checks a P-DATA-TF against our maximum length and Annex E and returns the
        messages it completes; None when it was turned into a provider abort (Evt19)."""
        ours = self.request if self.role is Role.REQUESTOR else self.accept
        limit = ours.max_length if ours is not None else None
        size = sum(6 + len(p.data) for p in pdu.pdvs)
        if limit and size > limit:
            self._invalid_pdu(6, f"P-DATA-TF of {size} bytes exceeds our maximum {limit}")
            return None
        if self._reassembler is None:
            self._reassembler = Reassembler(set(self.accepted_contexts), self.dataset_sink)
        done: list[DataReceived] = []
        try:
            for pdv in pdu.pdvs:
                msg = self._reassembler.add(pdv.context_id, pdv.control, pdv.data)
                if msg is not None:
                    done.append(DataReceived(*msg))
        except AnnexEViolation as exc:
            self._invalid_pdu(6, f"PS3.8 Annex E: {exc}")
            return None
        return done

    def _run(self, event: int, *, provider_abort: bool = False) -> None:
        acceptable = True
        if event == 6:
            acceptable = bool(self._pending.version & _PROTOCOL_VERSION_BIT)
        cell = _fsm.step(
            self.state,
            event,
            requestor=self.role is Role.REQUESTOR,
            acceptable=acceptable,
            provider_abort=provider_abort,
        )
        if cell is None:
            # Only reachable for network events in states where the table is blank
            # (e.g. a PDU in Sta1/Sta4): nothing to do.
            return
        _action, next_state, effects = cell
        for bit in _FX_BITS:
            if effects & bit:
                self._apply(bit, effects, event)
        was_open = self.state is not State.STA1
        self.state = State(next_state)
        if was_open and self.state is State.STA1:  # the transport is (to be) closed
            self.close_requested = True
            self._deadline = None
            self._events.append(TransportClosed())

    def _apply(self, bit: int, effects: int, event: int) -> None:  # noqa: C901 - a dispatch
        p = self._pending
        if bit == _fsm.FX_ARTIM_STOP:
            self._deadline = None
        elif bit == _fsm.FX_ARTIM_START:
            self._deadline = self._now + self.artim_timeout
        elif bit in (_fsm.FX_CONNECT, _fsm.FX_ACCEPT_TRANSPORT):
            if bit == _fsm.FX_CONNECT:
                self.request = p.associate
            self.close_requested = False
        elif bit == _fsm.FX_SEND_ASSOC_RQ:
            assert self.request is not None
            self._queue(1, self.request.encode())
        elif bit == _fsm.FX_SEND_ASSOC_AC:
            self.accept = p.associate
            if self.request is not None and not self.accept.called:
                # PS3.8 9.3.3: the AC's AE title fields carry the values of the RQ.
                self.accept.called = self.request.called
                self.accept.calling = self.request.calling
            self._peer_announced(self.request)
            self._read_limit(self.accept)
            self._queue(2, self.accept.encode())
        elif bit == _fsm.FX_SEND_ASSOC_RJ:
            if isinstance(p, AssociateRejectRequest):
                rj = AssociateReject(p.result, p.source, p.reason)
            else:  # AE-6, not acceptable: protocol version not supported (PS3.8 9.3.4)
                rj = AssociateReject(1, 2, 2)
            self._queue(3, rj.encode())
        elif bit == _fsm.FX_SEND_PDATA:
            self._queue_message(p)
        elif bit == _fsm.FX_SEND_RELEASE_RQ:
            self._queue(5, ReleaseRQ().encode())
        elif bit == _fsm.FX_SEND_RELEASE_RP:
            self._queue(6, ReleaseRP().encode())
        elif bit == _fsm.FX_SEND_ABORT:
            if effects & _fsm.FX_SEND_ABORT_PROVIDER:  # AA-7, AA-8
                ab = Abort(2, self._abort_reason if event == 19 else 2)
            elif isinstance(p, AbortRequest):
                ab = Abort(p.source, p.reason)
            else:  # AA-1 on a PDU in Sta2: PS3.8 says service-user source
                ab = Abort(0, 0)
            self._queue(7, ab.encode())
        elif bit == _fsm.FX_IND_ASSOC_RQ:
            self.request = p
            self._events.append(AssociationRequested(p))
        elif bit == _fsm.FX_IND_ASSOC_AC:
            assert self.request is not None
            p.backfill_abstracts(self.request)
            self.accept = p
            self._peer_announced(p)
            self._read_limit(self.request)
            self._events.append(AssociationAccepted(p))
        elif bit == _fsm.FX_IND_ASSOC_RJ:
            self._events.append(AssociationRejectedEvent(p.result, p.source, p.reason))
        elif bit == _fsm.FX_IND_PDATA:
            self._events.extend(p)  # the messages _reassemble() completed
        elif bit == _fsm.FX_IND_RELEASE_RQ:
            collision = self.state in (State.STA7,)
            self._events.append(ReleaseRequested(collision=collision))
        elif bit == _fsm.FX_IND_RELEASE_RP:
            self._events.append(ReleaseConfirmed())
        elif bit == _fsm.FX_IND_ABORT:
            self._events.append(self._abort_event(effects, event))
        elif bit == _fsm.FX_CLOSE_TRANSPORT:
            self.close_requested = True
        # FX_IGNORE_PDU: nothing to do.

    def _abort_event(self, effects: int, event: int) -> Aborted:
        if event == 16 and isinstance(self._pending, Abort):
            ab = self._pending
            return Aborted(ab.source, ab.reason, provider=ab.source != 0)
        if event == 17:
            return Aborted(2, 0, provider=True, message="transport connection closed")
        return Aborted(
            2,
            self._abort_reason if event == 19 else 2,
            provider=True,
            local=True,
            message=self._abort_message or f"unexpected PDU in {self.state.name}",
        )

    def _peer_announced(self, assoc: Associate | None) -> None:
        ml = assoc.max_length if assoc is not None else None
        self.peer_max_length = ABSENT_MAX_LENGTH if ml is None else ml

    def _read_limit(self, ours: Associate | None) -> None:
        """Once associated, the reader's limit is what we announced (floored for safety)."""
        announced = ours.max_length if ours is not None else None
        limit = self.max_pdu_length if not announced else max(announced, MIN_READ_LIMIT)
        self._framer.max_pdu_length = min(limit, 0xFFFFFFFF)

    def _queue(self, pdu_type: int, data: bytes) -> None:
        self._out.append((pdu_type, len(data), [data]))

    def _queue_message(self, req: DataRequest) -> None:
        peer = self.peer_max_length if self.peer_max_length is not None else ABSENT_MAX_LENGTH
        batches = message_batches(req.context_id, req.command, req.dataset, peer)
        self._out.append((4, 0, batches))


def _decode(raw: bytes) -> Any:
    if raw[0] in (1, 2):
        return Associate.decode(raw)
    if raw[0] == 4:
        return decode_pdata(raw)
    return decode_short(raw)
