"""The DIMSE service requestor: associate once, then echo, store, find, get and move.

::

    with Association.connect("pacs", 104, called_ae="PACS",
                             contexts=contexts_for_files(paths)) as assoc:
        for p in paths:
            status = assoc.store(p)

Theory of operation. An :class:`Association` is the shared sans-IO requestor
(:class:`dicomul.storage.requestor.Requestor`: the DIMSE Session, response matching,
C-GET sub-operations) driven by the calling thread over a blocking socket
(``sync/_blocking.py``) while it waits for a response: no thread of its own, no polling,
no sleeps. C-STORE-RQs that arrive during a C-GET (this side then acts as storage SCP on
the same association, by role selection) are answered as they arrive: the data set is
streamed into a Part 10 file, or kept in memory, or handed to the caller's handler.

find/get/move return a :class:`Responses` iterator: the request is sent at once, the
iterator yields the pending responses as they arrive and then the final one; its
``message_id`` and ``cancel()`` send a C-CANCEL-RQ. ``close()`` (or leaving a
``with assoc.find(...) as responses:`` block early) cancels and drains the operation, so
the association stays usable. Data sets in responses are
decoded with the transfer syntax of the context they came on.

Errors: AssociationRejected / AssociationAborted / TimeoutError / ConnectionRefusedError
(from connect, with readable messages), ContextNotAccepted (no accepted context for an
operation), StorageError (a data set that cannot be sent as accepted), TimeoutError
after ``dimse_timeout`` without a response (the association is aborted first).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from dicomul.dimse.messages import CEchoRQ, CFindRQ, CGetRQ, CMoveRQ, CStoreRQ, DIMSEMessage
from dicomul.dimse.request import build_request, describe_reject
from dicomul.dimse.session import AssociationInfo, Operation, ResponseReceived
from dicomul.dimse.sop import VERIFICATION, model_uid
from dicomul.dimse.status import is_pending
from dicomul.errors import AssociationAborted, AssociationRejected, ContextNotAccepted, DicomULError
from dicomul.storage.commitment import CommitmentResult, check_action_result, commitment_request
from dicomul.storage.contexts import (
    contexts_for_files,
    contexts_for_objects,
    contexts_for_pair,
    plan_associations,
    prepare_store,
    storage_contexts,
    verification_contexts,
)
from dicomul.storage.n_calls import NCalls
from dicomul.storage.normalized import NResult, n_result
from dicomul.storage.part10 import StorageError, decode_dataset, encode_dataset
from dicomul.storage.requestor import Requestor, RequestorViews, StoreHandler
from dicomul.storage.sources import send_form
from dicomul.sync._blocking import BlockingTransport
from dicomul.ul.associate import Associate
from dicomul.ul.events import AbortRequest, AssociateRequest, ReleaseRequest

if TYPE_CHECKING:
    import ssl

__all__ = [
    "Association",
    "Responses",
    "ContextNotAccepted",
    "StorageError",
    "verification_contexts",
    "storage_contexts",
    "contexts_for_files",
    "contexts_for_objects",
    "contexts_for_pair",
    "plan_associations",
    "qr_contexts",
]

log = logging.getLogger("dicomul")


def qr_contexts(
    models: Sequence[str] = ("study",),
    operations: Sequence[str] = ("find", "get", "move"),
    transfer_syntaxes: Sequence[str] = ("1.2.840.10008.1.2.1", "1.2.840.10008.1.2"),
) -> list[tuple[str, list[str]]]:
    """Contexts for the query/retrieve ``operations`` of ``models`` ("patient", "study",
    "psonly", "worklist" or UIDs); operations a model lacks are skipped."""
    out: list[tuple[str, list[str]]] = []
    for model in models:
        for op in operations:
            try:
                uid = model_uid(model, op)
            except ValueError:
                continue
            if all(uid != a for a, _ in out):
                out.append((uid, list(transfer_syntaxes)))
    return out


class Association(NCalls, RequestorViews):
    """A DIMSE requestor on one association. Make it with :meth:`connect`.

    Not thread-safe: use an Association from one thread at a time (the thread that waits
    for a response also drives the connection); :meth:`abort` may come from any thread.
    ``contexts``: the accepted ``{id: (abstract syntax, transfer syntax)}``; ``roles``:
    the negotiated (SCU, SCP) roles per SOP class; ``received``: data sets a C-GET
    brought back without ``output_dir`` or handler, as (bytes, FileMeta).

    The DIMSE-N methods (``n_get``, ``n_set``, ``n_action``, ``n_create``, ``n_delete``,
    ``n_event_report``; see :class:`dicomul.storage.n_calls.NCalls`) return an
    :class:`~dicomul.storage.normalized.NResult`. N-EVENT-REPORTs the peer sends (while
    a call waits) go to ``on_event_report(NRequest)`` when set, else those of Storage
    Commitment are kept for :meth:`commit`."""

    def __init__(
        self,
        *,
        calling_ae: str = "DICOMUL",
        called_ae: str = "ANY-SCP",
        dimse_timeout: float | None = None,
        acse_timeout: float | None = 30.0,
        connect_timeout: float | None = 30.0,
        network_timeout: float | None = None,
        max_pdu: int = 16384,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.calling_ae = calling_ae
        self.called_ae = called_ae
        self.dimse_timeout = dimse_timeout
        self.acse_timeout = acse_timeout
        self.connect_timeout = connect_timeout
        self.network_timeout = network_timeout
        self.max_pdu = max_pdu
        self.ssl_context = ssl_context
        plain = ssl_context is None and hasattr(socket.socket, "sendmsg")
        # file_regions: a Part 10 file's data set is mapped and handed to the kernel alone
        self._core = Requestor(
            called_ae=called_ae, artim_timeout=acse_timeout or 30.0, file_regions=plain
        )
        #: The DIMSE Session of this association (and its sans-IO Connection).
        self.session = self._core.session
        self._transport: BlockingTransport | None = None
        self._driver = 0  # the thread waiting in a call (it drives the connection), or 0

    # ---- association set-up and tear-down -------------------------------------------

    @classmethod
    def connect(
        cls,
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
        network_timeout: float | None = None,
        ssl_context: ssl.SSLContext | None = None,
        user_identity: tuple[Any, ...] | None = None,
    ) -> Association:
        """Connect to ``host:port`` and negotiate an association.

        ``contexts``: (abstract syntax, transfer syntaxes) pairs, IDs 1, 3, 5... in order
        (default: Verification). ``roles``: SOP class -> (SCU, SCP) role selection
        proposals; by default, when a C-GET SOP class is proposed, SCP role is proposed
        for every storage SOP class proposed, so the peer can send its C-STORE
        sub-operations. ``max_pdu``: our maximum PDU length (0 = unlimited).
        ``user_identity``: arguments of :meth:`Associate.set_user_identity`. Raises
        ConnectionRefusedError/OSError, AssociationRejected, AssociationAborted or
        TimeoutError (after ``acse_timeout``), each saying what happened.
        """
        self = cls(
            calling_ae=calling_ae,
            called_ae=called_ae,
            dimse_timeout=dimse_timeout,
            acse_timeout=acse_timeout,
            connect_timeout=connect_timeout,
            network_timeout=network_timeout,
            max_pdu=max_pdu,
            ssl_context=ssl_context,
        )
        rq = self._build_request(contexts, roles, user_identity)
        self._open(host, port, rq)
        return self

    def _build_request(
        self,
        contexts: Sequence[tuple[str, Sequence[str]]] | None,
        roles: Mapping[str, tuple[bool, bool]] | None,
        user_identity: tuple[Any, ...] | None,
    ) -> Associate:
        return build_request(
            calling_ae=self.calling_ae,
            called_ae=self.called_ae,
            max_pdu=self.max_pdu,
            contexts=contexts if contexts is not None else verification_contexts(),
            roles=roles,
            user_identity=user_identity,
        )

    def _open(self, host: str, port: int, rq: Associate) -> None:
        where = f"{self.called_ae}@{host}:{port}"
        core = self._core
        sock = self._connect_socket(host, port)
        self._transport = BlockingTransport(
            sock, self.session, network_timeout=self.network_timeout
        )
        core.request = rq
        conn = core.connection
        conn.send(AssociateRequest(rq), now=time.monotonic())
        conn.connection_made(now=time.monotonic())
        end = None if self.acse_timeout is None else time.monotonic() + self.acse_timeout
        try:
            self._run_until(lambda: core.accepted or core.ended is not None, end)
        except TimeoutError:
            self.abort()
            raise TimeoutError(
                f"no A-ASSOCIATE answer from {where} within {self.acse_timeout}s"
            ) from None
        if core.accepted:
            log.debug("associated with %s: %d contexts accepted", where, len(self.contexts))
            return
        self._see_the_end()  # rejected or aborted: nothing is left open
        error = core.ended
        if isinstance(error, AssociationRejected):
            error.args = (describe_reject(error, where),)
        elif isinstance(error, AssociationAborted):
            error.args = (f"{where} aborted the association request ({error})",)
        assert error is not None
        raise error

    def _connect_socket(self, host: str, port: int) -> socket.socket:
        try:
            sock = socket.create_connection(
                (host.encode("ascii") if host.isascii() else host, port),
                timeout=self.connect_timeout,
            )
        except ConnectionRefusedError as exc:
            raise ConnectionRefusedError(
                exc.errno, f"connection to {host}:{port} refused (is the SCP running?)"
            ) from None
        except TimeoutError:
            raise TimeoutError(
                f"connecting to {host}:{port} timed out after {self.connect_timeout}s"
            ) from None
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self.ssl_context is not None:
                sock = self.ssl_context.wrap_socket(sock, server_hostname=host)
        except BaseException:
            sock.close()
            raise
        return sock

    def release(self) -> None:
        """Release the association (A-RELEASE) and wait for the connection to close."""
        core, conn = self._core, self._core.connection
        if self._transport is None:
            return
        if not conn.is_established:
            self._transport.close()
            return
        core.releasing = True
        conn.send(ReleaseRequest(), now=time.monotonic())
        end = None if self.acse_timeout is None else time.monotonic() + self.acse_timeout
        try:
            self._run_until(lambda: self._transport is None or self._transport.closed, end)
        except TimeoutError:
            self.abort()
            raise TimeoutError(f"no A-RELEASE answer within {self.acse_timeout}s") from None
        if not core.released and isinstance(core.ended, AssociationAborted):
            raise core.ended

    def abort(self) -> None:
        """Abort the association (A-ABORT, service user) and close the connection. From
        another thread than the one using the association, it just ends the connection
        (the waiting call then raises AssociationAborted)."""
        transport = self._transport
        if transport is None:
            return
        driver = self._driver
        if driver and driver != threading.get_ident():
            # Another thread is waiting in a call and drives the connection: end the
            # transport under it (it sees the connection close) and touch nothing else.
            transport.shutdown()
            return
        conn = self._core.connection
        try:
            if conn.state.value not in (1, 13):
                conn.send(AbortRequest(0, 0), now=time.monotonic())
                transport.flush()
        except (DicomULError, OSError):
            pass
        transport.shutdown()
        transport.close()
        self._core.end(AssociationAborted(0, 0))

    def __enter__(self) -> Association:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is None:
            self.release()
        else:
            self.abort()

    @property
    def is_established(self) -> bool:
        """Whether the association is up."""
        return self._core.connection.is_established and self._core.ended is None

    def info(self) -> AssociationInfo:
        """Who is on this association."""
        peer = self._transport.peer_address if self._transport is not None else None
        return AssociationInfo(self.calling_ae, self.called_ae, peer, self.request, self.contexts)

    # ---- the services ---------------------------------------------------------------

    def echo(self) -> int:
        """C-ECHO; returns the status."""
        pc_id = self._core.context(VERIFICATION, "Verification")
        op = self._core.invoke(pc_id, CEchoRQ)
        return int(self._next(op).message.status)

    def store(
        self,
        obj: Any,
        *,
        priority: int = 0,
        move_originator: tuple[str, int] | None = None,
    ) -> int:
        """C-STORE ``obj`` (a pydicom Dataset, a Part10File, a path or ``(bytes, ts,
        sop_class, sop_instance)``); returns the status. Part 10 files in an accepted
        transfer syntax are streamed from disk as they are. ``move_originator`` is
        (AE title, message ID) for C-STOREs made on behalf of a C-MOVE. Raises
        StorageError when no accepted context suits the data set."""
        self._core.check_open()
        pc_id, prepared = prepare_store(self.contexts, obj)
        orig_ae, orig_id = move_originator if move_originator is not None else (None, None)
        try:
            op = self._core.invoke(
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
            prepared.close()  # never handed to the sender
            raise
        return int(self._next(op).message.status)

    def find(self, identifier: Any, model: str = "study") -> Responses:
        """C-FIND with ``identifier`` (a pydicom Dataset) on ``model`` ("patient",
        "study", "psonly", "worklist" or a SOP class UID). Iterate the result for
        ``(status, identifier or None)``: each pending match as it arrives, then the
        final status."""
        sop = model_uid(model, "find")
        return self._start(sop, "C-FIND", CFindRQ, identifier, "find")

    def get(
        self,
        identifier: Any,
        model: str = "study",
        *,
        store_handler: StoreHandler | None = None,
        output_dir: str | os.PathLike[str] | None = None,
    ) -> Responses:
        """C-GET: the peer sends the matches as C-STORE sub-operations on this
        association (propose SCP role for their storage SOP classes: the default of
        :meth:`connect` when a C-GET context is proposed). Each received data set goes
        to ``store_handler(dataset, meta) -> status`` (a pydicom Dataset, or the raw
        bytes if it does not decode), or is streamed into a Part 10 file in
        ``output_dir``, or kept in :attr:`received`. Iterate for ``(status, CGetRSP)``.
        """
        sop = model_uid(model, "get")
        self._core.context(sop, "C-GET")  # (raises before the receiver changes)
        self._core.receive_into(store_handler, output_dir)
        return self._start(sop, "C-GET", CGetRQ, identifier, "get")

    def move(self, identifier: Any, destination_ae: str, model: str = "study") -> Responses:
        """C-MOVE the matches of ``identifier`` to ``destination_ae``. Iterate for
        ``(status, CMoveRSP)``."""
        sop = model_uid(model, "move")
        return self._start(
            sop, "C-MOVE", CMoveRQ, identifier, "move", move_destination=destination_ae
        )

    def cancel(self, message_id: int) -> None:
        """Send a C-CANCEL-RQ for the find/get/move with ``message_id``."""
        op = self._operations.get(message_id)
        if op is None or op.done:
            raise ValueError(f"no operation with message ID {message_id} is in progress")
        self.session.cancel(op)
        self._flush()

    def _n(self, operation: str, sop_class_uid: str, sop_instance_uid: str | None,
           **kw: Any) -> NResult:  # fmt: skip
        op, ts = self._core.invoke_n(operation, sop_class_uid, sop_instance_uid, **kw)
        self._flush()
        rsp = self._next(op)
        return n_result(rsp.message, rsp.dataset, ts, sop_instance_uid)

    def commit(self, objects: Any, *, timeout: float = 60.0,
               transaction_uid: str | None = None) -> CommitmentResult | None:  # fmt: skip
        """Storage Commitment (PS3.4 J.3): ask the peer to commit ``objects`` ((class,
        instance) pairs, Datasets or file paths), then wait up to ``timeout`` seconds for
        its report on this association. None when none came (the SCP may send it later
        on an association of its own to this AE: a Server's ``on_commitment`` gets it).
        Raises CommitmentRefused when the SCP refuses the request."""
        txn, call = commitment_request(objects, transaction_uid)
        check_action_result(self.n_action(**call))
        core = self._core
        found: list[CommitmentResult] = []

        def done() -> bool:
            result = core.commitment_result(txn)
            if result is not None:
                found.append(result)
            return bool(found) or core.ended is not None

        if not done():
            try:
                self._run_until(done, time.monotonic() + timeout)
            except TimeoutError:
                return None
        return found[0] if found else None

    # ---- plumbing -------------------------------------------------------------------

    @property
    def _operations(self) -> dict[int, Operation]:
        return {op.message_id: op for op in self._core.operations()}

    def _start(
        self, sop: str, what: str, cls: type[DIMSEMessage], identifier: Any, kind: str,
        **fields: Any,
    ) -> Responses:  # fmt: skip
        pc_id = self._core.context(sop, what)
        ts = self.contexts[pc_id][1]
        op = self._core.invoke(pc_id, cls, encode_dataset(identifier, ts), **fields)
        self._flush()
        return Responses(self, op, kind, ts)

    def _flush(self) -> None:
        if self._transport is not None:
            self._transport.flush()

    def _next(self, op: Operation) -> ResponseReceived:
        """The next response to ``op``, driving the connection until it comes; raises
        why the association ended, or TimeoutError (and aborts) after dimse_timeout."""
        core = self._core
        got = core.take(op)
        if got is not None:
            return got
        end = None if self.dimse_timeout is None else time.monotonic() + self.dimse_timeout
        try:
            self._run_until(lambda: core.waiting(op), end)
        except TimeoutError:
            core.forget(op)
            self.abort()
            raise TimeoutError(
                f"no DIMSE response to message {op.message_id} within {self.dimse_timeout}s: "
                "the association was aborted"
            ) from None
        got = core.take(op)
        assert got is not None  # (take raises once the association has ended)
        return got

    def _run_until(self, done: Any, end: float | None) -> None:
        """Drive the connection until ``done()``, or the connection ends (done() is then
        checked once more), or TimeoutError at ``end``."""
        transport, core = self._transport, self._core
        assert transport is not None
        self._driver = threading.get_ident()
        try:
            self._drive(transport, core, done, end)
        finally:
            self._driver = 0

    def _drive(self, transport: BlockingTransport, core: Requestor, done: Any,
               end: float | None) -> None:  # fmt: skip
        while not done():
            if transport.closed:
                core.handle(self.session.events())
                if not done():
                    core.end(core.lost())
                return
            if end is not None and time.monotonic() >= end:
                raise TimeoutError
            core.handle(transport.turn(end))
            if transport.timed_out and core.ended is None:
                error = AssociationAborted(0, 0)
                error.args = (f"{error}: no data for {self.network_timeout}s (network timeout)",)
                core.end(error)

    def _see_the_end(self) -> None:
        """After a reject or an abort: let the connection close (bounded), then close."""
        transport = self._transport
        if transport is None:
            return
        end = time.monotonic() + min(5.0, self.acse_timeout or 5.0)
        try:
            self._run_until(lambda: transport.closed, end)
        except TimeoutError:
            pass
        transport.close()


class Responses(Iterator[tuple[int, Any]]):
    """The responses to a C-FIND, C-GET or C-MOVE, as ``(status, payload)`` pairs:
    pending ones as they arrive, then the final one. The payload is the identifier
    (find: a pydicom Dataset or None) or the response message (get/move)."""

    def __init__(self, assoc: Association, op: Operation, kind: str, ts: str) -> None:
        self.association = assoc
        self.operation = op
        self.message_id = op.message_id
        self.kind = kind
        self.final: Any = None  #: the final response message, once received
        self._ts = ts
        self._done = False
        self._cancelled = False

    def __iter__(self) -> Responses:
        return self

    def __next__(self) -> tuple[int, Any]:
        if self._done:
            raise StopIteration
        try:
            ev = self.association._next(self.operation)
        except BaseException:
            self._done = True
            raise
        msg = ev.message
        if ev.final or not is_pending(msg.status):
            self.final = msg
            self._done = True
        if self.kind == "find":
            data = ev.dataset
            return msg.status, decode_dataset(data, self._ts) if data is not None else None
        return msg.status, msg

    def cancel(self) -> None:
        """Send a C-CANCEL-RQ; the peer ends the operation with a final response."""
        if not self._done and not self._cancelled:
            self._cancelled = True
            self.association.cancel(self.message_id)

    def close(self) -> None:
        """Cancel the operation if it is still running and consume its remaining
        responses (so the association stays usable)."""
        if self._done:
            return
        try:
            self.cancel()
            for _ in self:
                pass
        except (DicomULError, TimeoutError, OSError, ValueError):
            self._done = True

    def __enter__(self) -> Responses:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
