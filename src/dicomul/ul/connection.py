"""The sans-IO Connection: one transport connection = one association (PS3.8 9.1.1).

Theory of operation
-------------------
A Connection is the PS3.8 state machine plus what its actions need, and nothing that does
I/O. It takes bytes (``receive_data``; ``b""`` means the transport closed), user requests
(``send``), transport notifications (``connection_made``) and the time (``now=`` on every
entry point, and ``handle_timer(now)``); it gives back events (``events()``), bytes to
write (``data_to_send()``), a timer deadline (``timer_deadline()``) and whether the
transport should be closed (``close_requested``).

Every input is mapped to one of Evt1..Evt19 and run through Table 9-10 (``dicomul.ul._fsm``,
the C transcription): the cell gives an action and its effects as bits, applied here in
ascending bit order, then the next state is entered. A local request whose cell is blank
raises LocalProtocolError before anything changes; so do bad arguments (ValueError,
TypeError): ``send`` checks them, and encodes the A-ASSOCIATE-RQ/AC PDU, before the machine
moves, so that no action can fail half-way. The AC's AE title fields are those of the RQ,
byte for byte (PS3.8 9.3.3).

Bytes from the peer never raise. The framer cuts the stream into PDUs and each is decoded
on its own, so a malformed PDU acts after the ones before it: it is Evt19 and ends in the
A-ABORT the table names (AA-1, source 0, in Sta2; AA-8, source 2 with the reason of the
decoding error, elsewhere; AA-7 in Sta13); so does a P-DATA-TF longer than our announced
maximum or one that breaks Annex E (reason 6). A framing error (an unknown PDU type, a
length over the limit) leaves the stream out of step: later bytes are discarded.

Inbound P-DATA is delimited by the PDV control headers alone (Annex E, see
``dicomul.ul.pdata``): whether a complete command set is followed by a data set is the
answer of ``needs_dataset``, given by the layer above, which owns the DIMSE fields; where
the data set's bytes go (memory, or the writable ``dataset_sink`` returns) is chosen
above too.

Outbound P-DATA is queued as a generator of whole P-DATA-TF PDUs, one window of the data
set at a time (``dicomul.ul.pdata``); an A-ABORT drops what of it was not yet taken by
``data_to_send``. ARTIM is a deadline, started and stopped by the actions; the transport
calls ``handle_timer(now)`` when ``timer_deadline()`` passes (Evt18).
"""

from __future__ import annotations

import enum
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any

from dicomul.errors import LocalProtocolError, ProtocolError
from dicomul.ul import _fsm
from dicomul.ul._core import (
    DEFAULT_MAX_PDU_LENGTH,
    Abort,
    AssociateReject,
    Framer,
    PDataTF,
    ReleaseRP,
    ReleaseRQ,
    fragment,
    fragment_size,
    whole_command,
)
from dicomul.ul.associate import Associate
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
    Request,
    TransportClosed,
)
from dicomul.ul.pdata import (
    AnnexEViolation,
    Reassembler,
    check_dataset,
    message_batches,
    ready_message,
)
from dicomul.ul.pdu import decode_pdu

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
    AssociateAcceptResponse: 7,
    AssociateRejectResponse: 8,
    DataRequest: 9,
    ReleaseRequest: 11,
    ReleaseResponse: 14,
    AbortRequest: 15,
}
_PROTOCOL_VERSION_BIT = 0x0001
_FX_BITS = [1 << i for i in range(32) if (1 << i) & _fsm.FX_DO_MASK]
_FX_SEND_PDATA, _FX_IND_PDATA = _fsm.FX_SEND_PDATA, _fsm.FX_IND_PDATA
# The data transfer fast paths in send() and receive_data() assume these two cells:
for _requestor in (False, True):
    assert _fsm.step(6, 9, requestor=_requestor) == ("DT-1", 6, _FX_SEND_PDATA)
    assert _fsm.step(6, 10, requestor=_requestor) == ("DT-2", 6, _FX_IND_PDATA)
_STATES = (None, *State)  # state number -> State, without Enum.__call__ on the hot path
_STEPS: dict[tuple[int, int, bool, bool, bool], tuple[int, int, tuple[int, ...]] | None] = {}


def _step(
    state: int, event: int, requestor: bool, acceptable: bool, provider_abort: bool
) -> tuple[int, int, tuple[int, ...]] | None:
    """Table 9-10 (the C table via _fsm.step), memoised: (next state, effects, the effect
    bits to apply in ascending order), or None for a blank cell."""
    key = (state, event, requestor, acceptable, provider_abort)
    try:
        return _STEPS[key]
    except KeyError:
        pass
    cell = _fsm.step(
        state, event, requestor=requestor, acceptable=acceptable, provider_abort=provider_abort
    )
    out = None
    if cell is not None:
        _action, next_state, effects = cell
        out = (next_state, effects, tuple(b for b in _FX_BITS if effects & b))
    _STEPS[key] = out
    return out


_STA6 = State.STA6
_NO_PDUS = frozenset((State.STA1, State.STA4))  # no transport from the table's view


class Connection:
    """One association's protocol state, without I/O (see the module docstring).

    Parameters: ``role``; ``artim_timeout`` seconds; ``max_pdu_length``, the largest PDU
    accepted from the peer once no A-ASSOCIATE PDU has announced one (the limit becomes
    our announced maximum length once associated, 0 meaning this value);
    ``needs_dataset(command) -> bool``, whether a data set follows a received command set:
    the upper layer reads no DIMSE field, so the layer above says (pass
    :func:`dicomul.dimse.messages.command_has_dataset`; a DIMSE Session sets it itself);
    None, the default, means no command set is followed by a data set, and a data set
    fragment then ends the association (PS3.8 Annex E); it must not raise;
    ``dataset_sink(context_id, command) -> writable | None`` to stream received data sets;
    ``raw_pdus`` to get a :class:`PDUReceived` event before each PDU's own event;
    ``file_regions``: a data set that offers ``file_region()`` (a Part 10 file's) is
    mapped from the file (mmap) rather than read: the buffers handed out are views of the
    mapping, to be given only to the kernel (``sendmsg``), which then copies straight
    from the page cache. A file cut short meanwhile fails the write (EFAULT); Python code
    reading such a view would get SIGBUS instead, so TLS transports leave this off.
    """

    def __init__(
        self,
        role: Role,
        *,
        artim_timeout: float = DEFAULT_ARTIM_TIMEOUT,
        max_pdu_length: int = DEFAULT_MAX_PDU_LENGTH,
        needs_dataset: Callable[[bytes], bool] | None = None,
        dataset_sink: Callable[[int, bytes], Any] | None = None,
        raw_pdus: bool = False,
        file_regions: bool = False,
    ) -> None:
        if not isinstance(role, Role):
            raise TypeError(f"role must be a Role, not {role!r}")
        if artim_timeout <= 0:
            raise ValueError("artim_timeout must be positive")
        self.role = role
        self.artim_timeout = float(artim_timeout)
        self.max_pdu_length = int(max_pdu_length)
        self.needs_dataset = needs_dataset  # read at the first P-DATA-TF, as is the sink
        self.dataset_sink = dataset_sink
        self.raw_pdus = raw_pdus
        self.file_regions = file_regions
        self.state = State.STA1
        self.request: Associate | None = None  # the A-ASSOCIATE-RQ sent or received
        self.accept: Associate | None = None  # the A-ASSOCIATE-AC sent or received
        self.peer_max_length: int | None = None  # what the peer can receive (0 = no limit)
        self.close_requested = False
        self._framer = self._new_framer(self.max_pdu_length)
        self._events: list[Event] = []
        self._out: deque[tuple[int, int, list[Any] | Iterator[list[Any]]]] = deque()
        self._deadline: float | None = None
        self._now = 0.0
        self._reassembler: Reassembler | None = None
        self._abort_reason = 0  # reason for a provider A-ABORT we are about to send
        self._abort_message = ""
        self._pending: Any = None  # the primitive or PDU the current action acts on
        self._prepared: bytes | None = None  # PDU bytes send() checked and encoded
        self._rq_bytes: bytes | None = None  # our A-ASSOCIATE-RQ, encoded at send()
        self._stream_failed = False  # the byte stream can no longer be framed
        self._accepted: dict[int, tuple[str | None, str]] | None = None  # cache

    # ---- inputs ---------------------------------------------------------------------

    def _new_framer(self, limit: int) -> Framer:
        # The framer decodes as it frames (one pass, PDV payloads as views). PDUs that
        # precede a malformed one in the same chunk are returned first and its error is
        # kept in framer.error, so the result does not depend on how bytes are chunked.
        return Framer(limit, None if self.raw_pdus else Associate.decode, errors_inline=True)

    def _tick(self, now: float | None) -> None:
        if now is not None:
            self._now = now

    def send(self, request: Request, *, now: float | None = None) -> None:
        """A local service primitive (PS3.8 Evt1, 7, 8, 9, 11, 14, 15).

        Raises LocalProtocolError when Table 9-10 has no transition for it in this state,
        ValueError/TypeError for bad arguments; in both cases nothing changes.
        """
        if type(request) is DataRequest and self.state is _STA6:
            self._send_pdata(request.context_id, request.command, request.dataset, now)
            return
        event = _REQUEST_EVENT.get(type(request))
        if event is None:
            raise TypeError(f"not a request primitive: {request!r}")
        cell = _step(self.state, event, self.role is Role.REQUESTOR, True, False)
        if cell is None:
            raise LocalProtocolError(
                f"{type(request).__name__} is not allowed in {self.state.name} (PS3.8 Table 9-10)"
            )
        prepared = self._check_request(request)
        self._tick(now)
        self._pending = request
        self._prepared = prepared
        try:
            self._run(event)
        finally:
            self._prepared = None

    def _send_pdata(self, context_id: int, command: Any, dataset: Any, now: float | None) -> None:
        """DT-1 in Sta6 (Table 9-10: send P-DATA-TF, stay in Sta6), checked at import
        against the table; send()'s general path gives the same result, slower. The
        caller has checked that the state is Sta6; Net calls this directly."""
        peer = self._check_pdata(context_id, dataset)
        if now is not None:
            self._now = now
        self._queue_message(context_id, command, dataset, peer)

    def _check_pdata(self, context_id: int, dataset: Any) -> int:
        """The checks of a P-DATA request (ValueError/TypeError); the peer's limit."""
        accepted = self._accepted
        if accepted is None or context_id not in accepted:
            raise ValueError(f"presentation context {context_id} was not accepted")
        peer = self._peer_limit()
        if fragment_size(peer) == 0:
            raise ValueError(f"the peer's maximum length {peer} is too small for P-DATA")
        if dataset is not None:
            check_dataset(dataset)
        return peer

    def _check_request(self, request: Request) -> bytes | None:
        """Argument checks that must pass before the state machine moves; returns the
        A-ASSOCIATE PDU to send, encoded now so that the action cannot fail."""
        if isinstance(request, DataRequest):  # (subclasses too)
            self._check_pdata(request.context_id, request.dataset)
            return None
        if isinstance(request, AssociateRequest):
            if self.role is not Role.REQUESTOR:
                raise LocalProtocolError("an acceptor does not send A-ASSOCIATE-RQ")
            if not isinstance(request.associate, Associate) or not request.associate.is_request:
                raise ValueError("AssociateRequest needs an A-ASSOCIATE-RQ Associate")
            return request.associate.encode()  # raises ValueError if it cannot be sent
        if isinstance(request, AssociateAcceptResponse):
            if not isinstance(request.associate, Associate) or request.associate.is_request:
                raise ValueError("AssociateAcceptResponse needs an A-ASSOCIATE-AC Associate")
            return _echo_titles(request.associate.encode(), self.request)
        elif isinstance(request, AssociateRejectResponse):
            from dicomul.ul.constants import validate_reject

            validate_reject(request.result, request.source, request.reason)
        elif isinstance(request, AbortRequest):
            from dicomul.ul.constants import validate_abort

            validate_abort(request.source, request.reason)
        return None

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
        if self.state in (State.STA1, State.STA4) or self._stream_failed:
            # No transport from the state machine's view, or bytes after a framing error
            # (we are in Sta13 then): there is no PDU to act upon.
            return
        try:
            pdus = self._framer.feed(data)
        except ProtocolError:
            pdus = []
        self._process(pdus)

    def recv_buffer(self, size: int | None = None, scratch: bytearray | None = None) -> memoryview:
        """A writable buffer for ``socket.recv_into``, then call ``received(n)``: the same
        as ``receive_data`` with the bytes received, minus a copy (a large PDU's bytes go
        straight from the kernel into the PDU's own buffer). ``size``: of the scratch
        buffer between PDUs (default 256 KiB; a transport holding many idle connections
        asks for less). ``scratch``: a bytearray of at least ``size`` bytes to use as that
        buffer; nothing in it outlives ``received()``, so one thread's connections may
        share one (dicomul.aio.protocol.shared_scratch)."""
        if size is None:
            return self._framer.recv_buffer(scratch=scratch)
        return self._framer.recv_buffer(size, scratch)

    def received(self, nbytes: int, *, now: float | None = None) -> None:
        """``nbytes`` bytes were received into the last ``recv_buffer()``; 0 means the
        transport closed (Evt17). Never raises for anything the peer sends."""
        if nbytes == 0:
            self.receive_data(b"", now=now)
            return
        if now is not None:
            self._now = now
        if self.state in _NO_PDUS or self._stream_failed:
            return
        try:
            pdus = self._framer.received(nbytes)
        except ProtocolError:
            pdus = []
        self._process(pdus)

    def _process(self, pdus: list[Any]) -> None:
        framer = self._framer
        for pdu in pdus:
            state = self.state
            if state is _STA6 and type(pdu) is PDataTF:
                # DT-2 in Sta6 (Table 9-10: P-DATA indication, stay in Sta6), checked at
                # import against the table; _on_pdu gives the same result, slower.
                messages = self._reassemble(pdu)
                if messages:
                    self._events.extend(messages)
                continue
            if state is State.STA1:
                return
            self._on_pdu(pdu)
        exc = framer.error
        if exc is not None and self.state is not State.STA1 and not self._stream_failed:
            self._stream_failed = True  # the stream is out of step: ignore what follows
            self._invalid_pdu(exc.abort_reason, str(exc))

    def handle_timer(self, now: float) -> None:
        """Call when ``timer_deadline()`` has passed: ARTIM expiry is Evt18."""
        self._tick(now)
        if self._deadline is not None and now >= self._deadline:
            self._deadline = None
            self._run(18)

    # ---- outputs --------------------------------------------------------------------

    def events(self) -> list[Event]:
        """The events produced since the last call, in order."""
        out = self._events
        self._events = []
        return out

    def data_to_send(self, limit: int | None = None) -> list[Any]:
        """Buffers to write, in order (for ``socket.sendmsg`` or ``writelines``).

        With ``limit``, stops after about that many bytes (a large data set is then read
        and fragmented a window at a time); call again until it returns ``[]``. A data
        set source that raises while it is read (an I/O error, a file cut short) cannot
        be taken back from the wire: the association is aborted (A-ABORT, and an AbortIndication
        event with the exception), nothing is raised here."""
        return [b for _, _, bufs in self.take_outgoing(limit) for b in bufs]

    def take_outgoing(
        self, limit: int | None = None, *, now: float | None = None
    ) -> list[tuple[int, int, list[Any]]]:
        """Like data_to_send(), grouped: ``(pdu_type, nbytes, buffers)`` per queued item
        (a P-DATA item may be one window of a long message). ``now``: the time, for the
        ARTIM timer an A-ABORT starts if a data set source fails (see data_to_send)."""
        if now is not None:
            self._now = now
        out = self._out
        if len(out) == 1 and isinstance(out[0][2], list):  # one ready PDU: the usual case
            return [out.popleft()]  # type: ignore[list-item]
        got: list[tuple[int, int, list[Any]]] = []
        total = 0
        while self._out and (limit is None or total < limit):
            pdu_type, nbytes, src = self._out[0]
            if isinstance(src, list):
                self._out.popleft()
                got.append((pdu_type, nbytes, src))
                total += nbytes
                continue
            try:
                batch = next(src, None)
            except Exception as exc:  # noqa: BLE001 - a read error, a file cut short, ...
                self._out.popleft()
                self._source_failed(exc)
                continue
            if batch is None:
                self._out.popleft()
                continue
            size = sum(len(b) for b in batch)
            got.append((pdu_type, size, batch))
            total += size
        return got

    def _source_failed(self, exc: Exception) -> None:
        """The data set of a message being sent could not be read to its end. Part of the
        message may be on the wire and P-DATA cannot be taken back, so the association is
        aborted (A-ABORT, source: service user), and an AbortIndication event says why."""
        if self.state in (State.STA1, State.STA13):
            return
        self.send(AbortRequest(0, 0))
        self._events.append(
            AbortIndication(0, 0, provider=False, local=True, error=exc, message=(
                f"the data set being sent could not be read: {type(exc).__name__}: {exc}"))
        )  # fmt: skip

    def discard_output(self) -> None:
        """Drop everything queued for sending (the transport can no longer be written)."""
        self._drop_pdata()
        self._out.clear()

    def _drop_pdata(self) -> None:
        for item in self._out:
            src = item[2]
            if item[0] == 4 and not isinstance(src, list):
                src.close()  # type: ignore[attr-defined] # a generator: stop reading it
        kept = [item for item in self._out if item[0] != 4]
        self._out.clear()  # in place: Net keeps a reference to peek at it
        self._out.extend(kept)

    @property
    def has_events(self) -> bool:
        """Whether events() has something to give."""
        return bool(self._events)

    @property
    def partial_pdu(self) -> int:
        """Bytes received of a PDU not yet complete (0: the stream is between PDUs)."""
        return int(self._framer.buffered)

    @property
    def pdu_bytes_missing(self) -> int:
        """Bytes the peer has yet to send of the PDU begun (0: between PDUs, or in its
        6-byte header): a transport may wait for that many before it reads again."""
        return int(self._framer.missing)

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
        return self._accepted if self._accepted is not None else {}

    def _compute_accepted(self) -> dict[int, tuple[str | None, str]]:
        ac = self.accept
        assert ac is not None
        proposed = {}
        if self.request is not None:
            proposed = {pc.id: pc.abstract_syntax for pc in self.request.presentation_contexts}
        out: dict[int, tuple[str | None, str]] = {}
        for pc in ac.presentation_contexts:
            if pc.result == 0 and pc.transfer_syntaxes:
                abstract = pc.abstract_syntax or proposed.get(pc.id)
                out[pc.id] = (abstract, pc.transfer_syntaxes[0])
        return out

    # ---- the state machine ----------------------------------------------------------

    def _on_pdu(self, pdu: Any) -> None:
        if isinstance(pdu, ProtocolError):  # framed, but did not decode: Evt19
            self._invalid_pdu(pdu.abort_reason, str(pdu))
            return
        if self.raw_pdus:  # the framer gave raw bytes: announce, then decode
            raw = bytes(pdu)
            self._events.append(PDUReceived(raw[0], raw))
            try:
                pdu = decode_pdu(raw)
            except ProtocolError as exc:
                self._invalid_pdu(exc.abort_reason, str(exc))
                return
        self._abort_message = ""
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

    def _reassemble(self, pdu: PDataTF) -> list[DataIndication] | None:
        """Checks a P-DATA-TF against our maximum length and Annex E and returns the
        messages it completes; None when it was turned into a provider abort (Evt19)."""
        if self.raw_pdus:  # the framer's P-DATA limit does not see raw PDUs' lengths
            limit = self._framer.max_pdata_length
            size = sum(6 + len(p.data) for p in pdu.pdvs)
            if limit and size > limit:
                self._invalid_pdu(6, f"P-DATA-TF of {size} bytes exceeds our maximum {limit}")
                return None
        reassembler = self._reassembler
        if reassembler is None:
            reassembler = Reassembler(
                set(self.accepted_contexts), self.dataset_sink, needs_dataset=self.needs_dataset
            )
            self._reassembler = reassembler
        whole = whole_command(pdu)  # one PDV, a whole command set: C-ECHO, responses, ...
        if whole is not None and reassembler.accepts_whole(whole[0]):
            msg = reassembler.command(*whole)  # None: a data set follows
            return [] if msg is None else [DataIndication(*msg)]
        done: list[DataIndication] = []
        try:
            for pdv in pdu.pdvs:
                msg = reassembler.add(pdv.context_id, pdv.control, pdv.data)
                if msg is not None:
                    done.append(DataIndication(*msg))
        except AnnexEViolation as exc:
            self._invalid_pdu(6, f"PS3.8 Annex E: {exc}")
            return None
        return done

    def _run(self, event: int, *, provider_abort: bool = False) -> None:
        acceptable = True
        if event == 6:
            acceptable = bool(self._pending.version & _PROTOCOL_VERSION_BIT)
        cell = _step(self.state, event, self.role is Role.REQUESTOR, acceptable, provider_abort)
        if cell is None:
            # Only reachable for network events in states where the table is blank
            # (e.g. a PDU in Sta1/Sta4): nothing to do.
            return
        next_state, effects, bits = cell
        for bit in bits:
            self._apply(bit, effects, event)
        was_open = self.state is not State.STA1
        self.state = _STATES[next_state]
        if (
            self._reassembler is not None
            and self.state in (State.STA1, State.STA13)
            and self._reassembler.in_progress
        ):
            self._reassembler.discard()  # a data set that will never complete: abort its sink
        if was_open and self.state is State.STA1:  # the transport is (to be) closed
            if event == 17:
                self._drop_pdata()  # the peer is gone: nothing more can be sent
            self.close_requested = True
            self._deadline = None
            self._events.append(TransportClosed())

    def _apply(self, bit: int, effects: int, event: int) -> None:  # noqa: C901 - a dispatch
        p = self._pending
        if bit == _FX_SEND_PDATA:  # the data transfer phase first: it is the hot path
            self._queue_message(p.context_id, p.command, p.dataset, self._peer_limit())
        elif bit == _FX_IND_PDATA:
            self._events.extend(p)  # the messages _reassemble() completed
        elif bit == _fsm.FX_ARTIM_STOP:
            self._deadline = None
        elif bit == _fsm.FX_ARTIM_START:
            self._deadline = self._now + self.artim_timeout
        elif bit in (_fsm.FX_CONNECT, _fsm.FX_ACCEPT_TRANSPORT):
            if bit == _fsm.FX_CONNECT:
                self.request = p.associate
                self._rq_bytes = self._prepared
            self.close_requested = False
        elif bit == _fsm.FX_SEND_ASSOC_RQ:
            assert self._rq_bytes is not None
            self._queue(1, self._rq_bytes)
        elif bit == _fsm.FX_SEND_ASSOC_AC:
            # The bytes were encoded by send(), AE titles echoing the RQ (PS3.8 9.3.3).
            assert self._prepared is not None
            self.accept = p.associate
            self._accepted = self._compute_accepted()  # a snapshot: the AC as sent
            self._fill_titles(self.accept, self.request)
            self._peer_announced(self.request)
            self._read_limit(self.accept)
            self._queue(2, self._prepared)
        elif bit == _fsm.FX_SEND_ASSOC_RJ:
            if isinstance(p, AssociateRejectResponse):
                rj = AssociateReject(p.result, p.source, p.reason)
            else:  # AE-6, not acceptable: protocol version not supported (PS3.8 9.3.4)
                rj = AssociateReject(1, 2, 2)
            self._queue(3, rj.encode())
        elif bit == _fsm.FX_SEND_RELEASE_RQ:
            self._queue(5, ReleaseRQ().encode())
        elif bit == _fsm.FX_SEND_RELEASE_RP:
            self._queue(6, ReleaseRP().encode())
        elif bit == _fsm.FX_SEND_ABORT:
            # P-DATA not yet handed to the transport is dropped: the association is
            # gone, and whole PDUs only were handed out, so the stream stays well formed.
            self._drop_pdata()
            if effects & _fsm.FX_SEND_ABORT_PROVIDER:  # AA-7, AA-8
                ab = Abort(2, self._abort_reason if event == 19 else 2)
            elif isinstance(p, AbortRequest):
                ab = Abort(p.source, p.reason)
            else:  # AA-1 on a PDU in Sta2: PS3.8 says service-user source
                ab = Abort(0, 0)
            self._queue(7, ab.encode())
        elif bit == _fsm.FX_IND_ASSOC_RQ:
            self.request = p
            self._events.append(AssociateIndication(p))
        elif bit == _fsm.FX_IND_ASSOC_AC:
            assert self.request is not None
            p.backfill_abstracts(self.request)
            self.accept = p
            self._accepted = self._compute_accepted()
            self._peer_announced(p)
            self._read_limit(self.request)
            self._events.append(AssociateAcceptConfirmation(p))
        elif bit == _fsm.FX_IND_ASSOC_RJ:
            self._events.append(AssociateRejectConfirmation(p.result, p.source, p.reason))
        elif bit == _fsm.FX_IND_RELEASE_RQ:
            collision = self.state in (State.STA7,)
            self._events.append(ReleaseIndication(collision=collision))
        elif bit == _fsm.FX_IND_RELEASE_RP:
            self._events.append(ReleaseConfirmation())
        elif bit == _fsm.FX_IND_ABORT:
            self._events.append(self._abort_event(effects, event))
        elif bit == _fsm.FX_CLOSE_TRANSPORT:
            self.close_requested = True
        # FX_IGNORE_PDU: nothing to do.

    def _abort_event(self, effects: int, event: int) -> AbortIndication:
        if event == 16 and isinstance(self._pending, Abort):
            ab = self._pending
            return AbortIndication(ab.source, ab.reason, provider=ab.source != 0)
        if event == 17:
            return AbortIndication(2, 0, provider=True, message="transport connection closed")
        return AbortIndication(
            2,
            self._abort_reason if event == 19 else 2,
            provider=True,
            local=True,
            message=self._abort_message or f"unexpected PDU in {self.state.name}",
        )

    @staticmethod
    def _fill_titles(ac: Associate, rq: Associate | None) -> None:
        """An AC handle sent without AE titles gets the RQ's (as on the wire), if they are
        valid AE titles; the handle is left alone otherwise."""
        if rq is None or ac.called:
            return
        try:
            probe = Associate(False)
            probe.called, probe.calling = rq.called, rq.calling
        except ValueError:
            return
        ac.called, ac.calling = probe.called, probe.calling

    def _peer_announced(self, assoc: Associate | None) -> None:
        ml = assoc.max_length if assoc is not None else None
        self.peer_max_length = ABSENT_MAX_LENGTH if ml is None else ml

    def _read_limit(self, ours: Associate | None) -> None:
        """Once associated, the reader's limit is what we announced (floored for safety)."""
        announced = ours.max_length if ours is not None else None
        limit = self.max_pdu_length if not announced else max(announced, MIN_READ_LIMIT)
        self._framer.max_pdu_length = min(limit, 0xFFFFFFFF)
        self._framer.max_pdata_length = announced or 0  # P-DATA-TF: what we announced

    def _queue(self, pdu_type: int, data: bytes) -> None:
        self._out.append((pdu_type, len(data), [data]))

    def _peer_limit(self) -> int:
        return self.peer_max_length if self.peer_max_length is not None else ABSENT_MAX_LENGTH

    def _queue_message(self, context_id: int, command: Any, dataset: Any, peer: int) -> None:
        # The common small message (no data set, or a small bytes-like one): one ready
        # list, fragmented now, no generator.
        if dataset is None:
            ready = fragment(context_id, True, command, peer)
        else:
            ready = ready_message(context_id, command, dataset, peer)
        if ready is not None:
            self._out.append((4, sum(map(len, ready)), ready))
            return
        batches = message_batches(context_id, command, dataset, peer, regions=self.file_regions)
        self._out.append((4, 0, batches))


def _echo_titles(ac: bytes, rq: Associate | None) -> bytes:
    """An encoded A-ASSOCIATE-AC with bytes 11-42 set to the RQ's called and calling AE
    titles (PS3.8 9.3.3: sent as received, not tested). The RQ was decoded tolerantly, so
    its titles are copied as they are, valid AE titles or not."""
    if rq is None:
        return ac
    titles = b"".join(
        t.encode("latin-1", "replace")[:16].ljust(16) for t in (rq.called, rq.calling)
    )
    return ac[:10] + titles + ac[42:]
