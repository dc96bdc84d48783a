"""The DIMSE service requestor: associate once, then echo, store, find, get and move.

::

    with Association.connect("pacs", 104, called_ae="PACS",
                             contexts=contexts_for_files(paths)) as assoc:
        for p in paths:
            status = assoc.store(p)

Theory of operation. :class:`Association` owns a :class:`~dicomul.sync.net.Net` subclass. The
Net's I/O thread decodes every received command set in ``on_receive_data`` and puts
responses into the queue registered for their MessageIDBeingRespondedTo; the caller's
thread blocks on that queue (``dimse_timeout``), with no sleeping or polling. An abort or
a closed connection puts a sentinel into every queue. C-STORE-RQs that arrive during a
C-GET (this side then acts as storage SCP on the same association, by role selection)
are answered in the I/O thread: the data set is streamed into a Part 10 file through the
Net's ``dataset_sink`` hook, or kept in memory, or handed to the caller's handler.

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
import queue
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from dicomul.dimse.messages import (
    CCancelRQ,
    CEchoRQ,
    CFindRQ,
    CGetRQ,
    CMoveRQ,
    CStoreRQ,
    DIMSEMessage,
)
from dicomul.dimse.request import build_request, describe_reject
from dicomul.dimse.session import AssociationInfo
from dicomul.dimse.sop import VERIFICATION, model_uid
from dicomul.dimse.status import is_pending
from dicomul.errors import AssociationAborted, AssociationRejected, ContextNotAccepted, DicomULError
from dicomul.storage.contexts import (
    context_error,
    contexts_for_files,
    contexts_for_objects,
    contexts_for_pair,
    plan_associations,
    prepare_store,
    storage_contexts,
    verification_contexts,
)
from dicomul.storage.part10 import FileMeta, StorageError, decode_dataset, encode_dataset
from dicomul.storage.receiver import StoreReceiver, deliver_retrieved, store_response
from dicomul.storage.sources import send_form
from dicomul.sync._util import MessageIDs, decode_command_quietly
from dicomul.sync.net import Net
from dicomul.ul.associate import Associate
from dicomul.ul.negotiation import negotiated_roles, requestor_accepted

if TYPE_CHECKING:
    import ssl
    from pathlib import Path

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

StoreHandler = Callable[[Any, FileMeta], int]


class _Closed:
    """The sentinel put into every response queue when the association ends."""

    def __init__(self, error: BaseException) -> None:
        self.error = error


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


class _RequestorNet(Net):
    """The Net of an Association: routes every callback to its owner."""

    def __init__(self, owner: Association, **kw: Any) -> None:
        # No I/O thread: the caller's thread drives the connection while it waits for a
        # response (Net.process), as DCMTK's SCUs do, one thread hand-off fewer per
        # message. Everything the peer sends meanwhile (C-GET sub-operations, A-ABORT)
        # is handled in that thread.
        kw.setdefault("io_thread", False)
        super().__init__(dataset_sink=owner._sink, **kw)
        self._owner = owner

    def on_receive_data(self, pc_id: int, command: bytes, dataset: Any) -> None:
        self._owner._on_data(pc_id, command, dataset)

    def on_receive_abort(self, source: int, reason: int) -> None:
        self._owner._on_end(AssociationAborted(source, reason))

    def on_close(self, error: int, peer: Net) -> None:
        if self._owner._releasing:
            self._owner._on_end(DicomULError("the association is released"))
        else:
            self._owner._on_end(AssociationAborted(2, 0))

    def on_receive_release_request(self) -> None:
        self.send_release_response()


class Association:
    """A DIMSE requestor on one association. Make it with :meth:`connect`.

    Not thread-safe: use an Association from one thread at a time (the thread that waits
    for a response also drives the connection)."""

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
        self.max_pdu = max_pdu
        #: Data sets a C-GET received without ``output_dir`` or handler: (bytes, FileMeta).
        self.received: list[tuple[bytes, FileMeta]] = []
        self._ids = MessageIDs()
        self._lock = threading.Lock()
        self._waiters: dict[int, queue.SimpleQueue[Any]] = {}
        self._request_ctx: dict[int, int] = {}
        self._ended: BaseException | None = None
        self._releasing = False
        self._receiver: StoreReceiver | None = None
        self._get_handler: StoreHandler | None = None
        self.contexts: dict[int, tuple[str, str]] = {}
        self.roles: dict[str, tuple[bool, bool]] = {}
        self.request: Associate | None = None
        self.accept: Associate | None = None
        self.net = _RequestorNet(
            self,
            ssl_context=ssl_context,
            connect_timeout=connect_timeout,
            artim_timeout=acse_timeout or 30.0,
            network_timeout=network_timeout,
        )

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
        try:
            ac = self.net.associate(host, port, rq, timeout=self.acse_timeout)
        except ConnectionRefusedError as exc:
            raise ConnectionRefusedError(
                exc.errno, f"connection to {host}:{port} refused (is the SCP running?)"
            ) from None
        except AssociationRejected as exc:
            exc.args = (describe_reject(exc, where),)
            raise
        except AssociationAborted as exc:
            exc.args = (f"{where} aborted the association request ({exc})",)
            raise
        except TimeoutError:
            if self.net.peer_address is None:
                raise TimeoutError(
                    f"connecting to {host}:{port} timed out after {self.net.connect_timeout}s"
                ) from None
            self.abort()
            raise TimeoutError(
                f"no A-ASSOCIATE answer from {where} within {self.acse_timeout}s"
            ) from None
        self.request, self.accept = rq, ac
        self.contexts = requestor_accepted(rq, ac)
        self.roles = negotiated_roles(rq, ac)
        log.debug("associated with %s: %d contexts accepted", where, len(self.contexts))

    def release(self) -> None:
        """Release the association (A-RELEASE) and wait for the connection to close."""
        if self.net.is_associated:
            self._releasing = True
            try:
                self.net.release(timeout=self.acse_timeout)
            except TimeoutError:
                self.abort()
                raise
        else:
            self.net.close()

    def abort(self) -> None:
        """Abort the association (A-ABORT, service user) and close the connection."""
        try:
            if self.net.is_connected:
                self.net.send_abort(0, 0)
        except DicomULError:
            pass
        self.net.close()
        self.net.wait(self.acse_timeout)
        self._on_end(AssociationAborted(0, 0))

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
        return self.net.is_associated

    def info(self) -> AssociationInfo:
        """Who is on this association."""
        return AssociationInfo(
            self.calling_ae, self.called_ae, self.net.peer_address, self.request, self.contexts
        )

    # ---- the services ---------------------------------------------------------------

    def echo(self) -> int:
        """C-ECHO; returns the status."""
        pc_id, _ts = self._context(VERIFICATION, "Verification")
        msg_id = self._ids.next()
        rsp, _, _ = self._roundtrip(pc_id, CEchoRQ(message_id=msg_id), None)
        return int(rsp.status)

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
        pc_id, prepared = prepare_store(self.contexts, obj)
        orig_ae, orig_id = move_originator if move_originator is not None else (None, None)
        rq = CStoreRQ(
            message_id=self._ids.next(),
            affected_sop_class_uid=prepared.sop_class_uid,
            affected_sop_instance_uid=prepared.sop_instance_uid,
            priority=priority,
            move_originator_ae_title=orig_ae,
            move_originator_message_id=orig_id,
        )
        try:
            q = self._send(pc_id, rq, send_form(prepared.data))
        except BaseException:
            prepared.close()  # never handed to the sender
            raise
        try:  # a file is closed by the sender when read (or when dropped on abort)
            rsp, _, _ = self._wait(q, rq.message_id)
        finally:
            self._unregister(rq.message_id)
        return int(rsp.status)

    def find(self, identifier: Any, model: str = "study") -> Responses:
        """C-FIND with ``identifier`` (a pydicom Dataset) on ``model`` ("patient",
        "study", "psonly", "worklist" or a SOP class UID). Iterate the result for
        ``(status, identifier or None)``: each pending match as it arrives, then the
        final status."""
        sop = model_uid(model, "find")
        pc_id, ts = self._context(sop, "C-FIND")
        rq = CFindRQ(message_id=self._ids.next(), affected_sop_class_uid=sop)
        return self._start(pc_id, rq, encode_dataset(identifier, ts), "find")

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
        pc_id, ts = self._context(sop, "C-GET")
        self._get_handler = store_handler
        self._receiver = StoreReceiver(
            directory=output_dir if store_handler is None else None,
            deliver=self._deliver,
            source_ae=self.called_ae,
        )
        rq = CGetRQ(message_id=self._ids.next(), affected_sop_class_uid=sop)
        return self._start(pc_id, rq, encode_dataset(identifier, ts), "get")

    def move(self, identifier: Any, destination_ae: str, model: str = "study") -> Responses:
        """C-MOVE the matches of ``identifier`` to ``destination_ae``. Iterate for
        ``(status, CMoveRSP)``."""
        sop = model_uid(model, "move")
        pc_id, ts = self._context(sop, "C-MOVE")
        rq = CMoveRQ(
            message_id=self._ids.next(), affected_sop_class_uid=sop, move_destination=destination_ae
        )
        return self._start(pc_id, rq, encode_dataset(identifier, ts), "move")

    def cancel(self, message_id: int) -> None:
        """Send a C-CANCEL-RQ for the find/get/move with ``message_id``."""
        pc_id = self._request_ctx.get(message_id)
        if pc_id is None:
            raise ValueError(f"no operation with message ID {message_id} is in progress")
        self.net.send_data(pc_id, CCancelRQ(message_id_being_responded_to=message_id).encode())

    # ---- plumbing -------------------------------------------------------------------

    def _context(self, sop: str, what: str) -> tuple[int, str]:
        if self._ended is not None:
            raise self._ended
        for pc_id, (abstract, ts) in self.contexts.items():
            if abstract == sop:
                return pc_id, ts
        raise context_error(sop, what)

    def _register(self, msg_id: int, pc_id: int) -> queue.SimpleQueue[Any]:
        q: queue.SimpleQueue[Any] = queue.SimpleQueue()
        with self._lock:
            if self._ended is not None:
                raise self._ended
            self._waiters[msg_id] = q
            self._request_ctx[msg_id] = pc_id
        return q

    def _unregister(self, msg_id: int) -> None:
        with self._lock:
            self._waiters.pop(msg_id, None)
            self._request_ctx.pop(msg_id, None)

    def _send(self, pc_id: int, rq: DIMSEMessage, dataset: Any) -> queue.SimpleQueue[Any]:
        msg_id: int = rq.message_id  # type: ignore[attr-defined]
        q = self._register(msg_id, pc_id)
        try:
            self.net.send_data(pc_id, rq.encode(), dataset)
        except BaseException:
            self._unregister(msg_id)
            raise
        return q

    def _wait(self, q: queue.SimpleQueue[Any], msg_id: int) -> tuple[Any, int, Any]:
        try:
            if self.net.io_thread:
                item = q.get(timeout=self.dimse_timeout)
            else:  # drive the connection in this thread until the response is there
                if not self.net._pump_until(lambda: not q.empty(), self.dimse_timeout):
                    raise queue.Empty
                item = q.get_nowait()
        except queue.Empty:
            self._unregister(msg_id)
            self.abort()
            raise TimeoutError(
                f"no DIMSE response to message {msg_id} within {self.dimse_timeout}s: "
                "the association was aborted"
            ) from None
        if isinstance(item, _Closed):
            self._unregister(msg_id)
            raise item.error
        return item  # type: ignore[no-any-return]

    def _roundtrip(self, pc_id: int, rq: DIMSEMessage, dataset: Any) -> tuple[Any, int, Any]:
        msg_id: int = rq.message_id  # type: ignore[attr-defined]
        q = self._send(pc_id, rq, dataset)
        try:
            return self._wait(q, msg_id)
        finally:
            self._unregister(msg_id)

    def _start(self, pc_id: int, rq: DIMSEMessage, data: bytes, kind: str) -> Responses:
        q = self._send(pc_id, rq, data)
        return Responses(self, rq.message_id, q, kind)  # type: ignore[attr-defined]

    def _decode(self, pc_id: int, dataset: Any) -> Any:
        if dataset is None:
            return None
        ts = self.contexts.get(pc_id, ("", "1.2.840.10008.1.2"))[1]
        return decode_dataset(dataset, ts)

    # ---- I/O thread side ------------------------------------------------------------

    def _sink(self, pc_id: int, command: bytes) -> Any:
        receiver = self._receiver
        ctx = self.contexts.get(pc_id)
        if receiver is None or ctx is None:
            return None
        return receiver.sink(ctx[1], command)

    def _on_data(self, pc_id: int, command: bytes, dataset: Any) -> None:
        msg = decode_command_quietly(command)
        if msg is None:
            self.net.send_abort(2, 0)
            return
        if isinstance(msg, CStoreRQ):
            self._on_store(pc_id, msg, dataset)
            return
        msg_id = getattr(msg, "message_id_being_responded_to", None)
        with self._lock:
            q = self._waiters.get(msg_id) if msg_id is not None else None
        if q is None:
            log.warning("unexpected %s (responding to %s): ignored", type(msg).__name__, msg_id)
            return
        q.put((msg, pc_id, dataset))

    def _on_store(self, pc_id: int, rq: CStoreRQ, dataset: Any) -> None:
        receiver = self._receiver
        ctx = self.contexts.get(pc_id)
        if receiver is None or ctx is None:
            status = 0x0122  # SOP class not supported: no C-GET in progress
        else:
            status = receiver.complete(rq, ctx[1], dataset)
        self.net.send_data(pc_id, store_response(rq, status))

    def _deliver(self, meta: FileMeta, data: bytes | Path) -> int:
        return deliver_retrieved(self._get_handler, self.received, meta, data)

    def _on_end(self, error: BaseException) -> None:
        with self._lock:
            if self._ended is None:
                self._ended = error
            waiters = list(self._waiters.values())
        receiver = self._receiver
        if receiver is not None:
            receiver.abort_pending()
        for q in waiters:
            q.put(_Closed(self._ended))


class Responses(Iterator[tuple[int, Any]]):
    """The responses to a C-FIND, C-GET or C-MOVE, as ``(status, payload)`` pairs:
    pending ones as they arrive, then the final one. The payload is the identifier
    (find: a pydicom Dataset or None) or the response message (get/move)."""

    def __init__(
        self, assoc: Association, message_id: int, q: queue.SimpleQueue[Any], kind: str
    ) -> None:
        self.association = assoc
        self.message_id = message_id
        self.kind = kind
        self.final: Any = None  #: the final response message, once received
        self._q = q
        self._done = False
        self._cancelled = False

    def __iter__(self) -> Responses:
        return self

    def __next__(self) -> tuple[int, Any]:
        if self._done:
            raise StopIteration
        try:
            msg, pc_id, dataset = self.association._wait(self._q, self.message_id)
        except BaseException:
            self._finish()
            raise
        if not is_pending(msg.status):
            self.final = msg
            self._finish()
        if self.kind == "find":
            return msg.status, self.association._decode(pc_id, dataset)
        return msg.status, msg

    def _finish(self) -> None:
        self._done = True
        self.association._unregister(self.message_id)
        if self.kind == "get":
            self.association._receiver = None
            self.association._get_handler = None

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
        except (DicomULError, TimeoutError, OSError):
            self._finish()

    def __enter__(self) -> Responses:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
