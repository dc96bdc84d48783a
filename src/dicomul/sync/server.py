"""The DIMSE service acceptor: a server with one handler per service.

::

    server = Server("STORESCP", store_dir="/data/in", accept_all_storage=True)
    server.on_find = lambda identifier, model: iter([(0xFF00, match), (0x0000, None)])
    port = server.start("0.0.0.0", 11112)
    server.serve_forever()  # until server.stop() (e.g. from a signal handler)

Theory of operation. A listening :class:`~dicomul.sync.net.Net` hands each connection to a
:class:`_ServerNet` (one per association). Its I/O thread negotiates the association
(:func:`~dicomul.ul.negotiation.check_request` with the AE allow-lists, then
:func:`~dicomul.ul.negotiation.negotiate`), answers C-ECHO and C-STORE itself (a C-STORE
data set is streamed through Net's ``dataset_sink`` into a Part 10 file, and the success
response is sent only once the file is committed), and hands C-FIND, C-GET and C-MOVE
to a worker thread of the association, so that the I/O thread stays free to receive
C-CANCEL-RQs and the C-STORE-RSPs of C-GET sub-operations. A handler can see whether its
operation was cancelled through :func:`current_operation`.

Handlers (attributes, settable after construction):

* ``on_echo() -> status``
* ``on_store(meta: FileMeta, data: bytes | Path, info: AssociationInfo) -> status``:
  ``data`` is the committed file when ``store_dir`` is set, else the data set bytes.
* ``on_find(identifier: Dataset, sop_class_uid) -> Iterator[(status, Dataset | None)]``
* ``on_get(identifier) -> Iterable[Dataset | Part10File | path]``: sent back as C-STORE
  sub-operations on the same association (the requestor must have SCP role).
* ``on_move(identifier, destination_ae) -> Iterable[...]``: sent to
  ``move_destinations[destination_ae] = (host, port)`` on a new association.

Logging goes to ``logging.getLogger("dicomul")`` only.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from dicomul.dimse.messages import (
    CCancelRQ,
    CEchoRQ,
    CEchoRSP,
    CFindRQ,
    CFindRSP,
    CGetRQ,
    CGetRSP,
    CMoveRQ,
    CMoveRSP,
    CStoreRQ,
    CStoreRSP,
    DIMSEMessage,
)
from dicomul.dimse.policy import decide, supported_for
from dicomul.dimse.session import AssociationInfo
from dicomul.dimse.status import (
    CANCEL,
    MOVE_DESTINATION_UNKNOWN,
    OUT_OF_RESOURCES_SUB_OPERATIONS,
    PENDING,
    SUB_OPERATIONS_COMPLETE_WITH_FAILURES,
    SUCCESS,
    UNABLE_TO_PROCESS,
    is_failure,
    is_pending,
    is_warning,
)
from dicomul.errors import DicomULError
from dicomul.storage.contexts import contexts_for_objects, refuse_invalid_uids, sop_class_of
from dicomul.storage.part10 import (
    FileMeta,
    StorageError,
    decode_dataset,
    encode_dataset,
    prepare_dataset,
)
from dicomul.storage.receiver import StoreReceiver, store_response
from dicomul.storage.sources import send_form
from dicomul.sync._util import MessageIDs, decode_command_quietly
from dicomul.sync.net import Net
from dicomul.sync.services import Association
from dicomul.ul.associate import Associate
from dicomul.ul.events import AssociateRejectRequest
from dicomul.ul.negotiation import (
    SupportedContexts,
    negotiated_roles,
    requestor_accepted,
)

if TYPE_CHECKING:
    import ssl

__all__ = ["Server", "Operation", "current_operation", "AssociationInfo"]

log = logging.getLogger("dicomul")

_UNCOMPRESSED = ("1.2.840.10008.1.2.1", "1.2.840.10008.1.2")
_local = threading.local()
#: Connections accepted beyond max_associations (to answer them with A-ASSOCIATE-RJ).
_ACCEPT_SLACK = 16


@dataclass
class Operation:
    """The C-FIND/C-GET/C-MOVE a handler is running for (see :func:`current_operation`)."""

    message_id: int
    sop_class_uid: str
    info: AssociationInfo
    cancelled: threading.Event = field(default_factory=threading.Event)


def current_operation() -> Operation | None:
    """Inside an on_find/on_get/on_move handler: its operation (``.cancelled`` is set
    when the requestor sent a C-CANCEL-RQ or the association ended)."""
    return getattr(_local, "operation", None)


class _Ended(Exception):
    """The association ended while a worker waited for it."""


class Server:
    """A DICOM acceptor (SCP) for Verification, Storage and Query/Retrieve.

    ``contexts``: the supported abstract syntaxes and transfer syntaxes; by default
    Verification, the Q/R SOP classes of the handlers that are set, and (when storage is
    configured: ``store_dir``, ``on_store``, ``ignore``, ``on_get``) every storage SOP
    class in Explicit and Implicit VR Little Endian. ``accept_all_storage``: every storage
    SOP class with every transfer syntax offered, compressed ones included, the
    requestor's first choice winning (storescp +xa uses its own order instead).
    ``allowed_calling`` / ``allowed_called``: AE title allow-lists (None = anyone).
    ``max_pdu``: our maximum PDU length. ``max_associations``: more concurrent
    associations than this are rejected (transient, local limit exceeded).
    ``store_dir``: received data sets are streamed into Part 10 files there (``fsync`` to
    sync each before answering); ``ignore``: receive and answer success,
    store nothing. ``dimse_timeout``: how long a C-GET/C-MOVE waits for a sub-operation
    response.
    """

    def __init__(
        self,
        ae_title: str = "DICOMUL",
        *,
        contexts: SupportedContexts | None = None,
        accept_all_storage: bool = False,
        allowed_calling: Collection[str] | None = None,
        allowed_called: Collection[str] | None = None,
        max_pdu: int = 16384,
        max_associations: int = 64,
        store_dir: str | os.PathLike[str] | None = None,
        fsync: bool = False,
        ignore: bool = False,
        on_echo: Callable[[], int] | None = None,
        on_store: Callable[[FileMeta, bytes | Path, AssociationInfo], int] | None = None,
        on_find: Callable[[Any, str], Iterable[tuple[int, Any]]] | None = None,
        on_get: Callable[[Any], Iterable[Any]] | None = None,
        on_move: Callable[[Any, str], Iterable[Any]] | None = None,
        move_destinations: dict[str, tuple[str, int]] | None = None,
        ssl_context: ssl.SSLContext | None = None,
        acse_timeout: float = 30.0,
        dimse_timeout: float | None = 60.0,
        network_timeout: float | None = None,
        prefer: Literal["acceptor", "requestor"] = "acceptor",
    ) -> None:
        self.ae_title = ae_title
        self.contexts = contexts
        self.accept_all_storage = accept_all_storage
        self.allowed_calling = allowed_calling
        self.allowed_called = allowed_called
        self.max_pdu = max_pdu
        self.max_associations = max_associations
        self.store_dir = Path(store_dir) if store_dir is not None else None
        self.fsync = fsync
        self.ignore = ignore
        self.on_echo = on_echo
        self.on_store = on_store
        self.on_find = on_find
        self.on_get = on_get
        self.on_move = on_move
        self.move_destinations: dict[str, tuple[str, int]] = dict(move_destinations or {})
        self.ssl_context = ssl_context
        self.acse_timeout = acse_timeout
        self.dimse_timeout = dimse_timeout
        self.network_timeout = network_timeout
        self.prefer = prefer
        self.port: int | None = None
        self._listener: Net | None = None
        self._lock = threading.Lock()
        self._live: set[_ServerNet] = set()
        self._stopped = threading.Event()
        self._stopping = False
        if self.store_dir is not None:
            self.store_dir.mkdir(parents=True, exist_ok=True)

    # ---- life cycle -----------------------------------------------------------------

    def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        """Listen on ``host:port`` (0 = a free port) and return the port; returns at once."""
        if self._listener is not None:
            raise RuntimeError("the server is already started")
        listener = Net(ssl_context=self.ssl_context, artim_timeout=self.acse_timeout)
        listener.on_accept = self._on_accept  # type: ignore[method-assign]
        self._stopped.clear()
        self._stopping = False
        self.port = listener.listen(host, port)
        self._listener = listener
        log.info("%s listening on %s:%d", self.ae_title, host, self.port)
        return self.port

    def serve_forever(self) -> None:
        """Block until :meth:`stop` is called (from another thread or a signal handler)."""
        if self._listener is None:
            raise RuntimeError("call start() first")
        self._stopped.wait()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop listening, abort the live associations and wait (up to ``timeout``
        seconds each) for their connections to close."""
        with self._lock:
            self._stopping = True
            listener, self._listener = self._listener, None
            live = list(self._live)
        if listener is not None:
            listener.close()
        for net in live:
            try:
                if net.is_connected:
                    net.send_abort(0, 0)  # queued at once even if a writer is stuck
            except DicomULError:
                pass
            net.close()
        for net in live:
            net.wait(timeout)
        self._stopped.set()

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def associations(self) -> int:
        """The number of live associations."""
        with self._lock:
            return len(self._live)

    def _on_accept(self, error: int) -> None:
        listener = self._listener
        if error or listener is None:
            return
        child = _ServerNet(self)
        with self._lock:
            if self._stopping:  # stop() has begun: refuse (the socket is closed for us)
                return
            if len(self._live) >= self.max_associations + _ACCEPT_SLACK:
                # Connections that have not sent an A-ASSOCIATE-RQ yet (each holds a
                # thread until ARTIM) are bounded too: beyond this, refuse the connection.
                log.warning("refusing a connection: %d open already", len(self._live))
                return
            self._live.add(child)
        listener.accept(into=child)

    def _forget(self, net: _ServerNet) -> None:
        with self._lock:
            self._live.discard(net)

    # ---- negotiation policy ---------------------------------------------------------

    def supported_for(self, rq: Associate) -> SupportedContexts:
        """The contexts this server supports for the A-ASSOCIATE-RQ ``rq``
        (:func:`dicomul.dimse.policy.supported_for`)."""
        return supported_for(self, rq)


class _ServerNet(Net):
    """One association of a :class:`Server`."""

    def __init__(self, server: Server) -> None:
        super().__init__(
            artim_timeout=server.acse_timeout,
            network_timeout=server.network_timeout,
            dataset_sink=self._sink,
        )
        self.server = server
        self.contexts: dict[int, tuple[str, str]] = {}
        self.roles: dict[str, tuple[bool, bool]] = {}
        self.info = AssociationInfo("", "", None)
        self.receiver: StoreReceiver | None = None
        self._ids = MessageIDs()
        self._jobs: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._subops: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._worker: threading.Thread | None = None
        self._ops: dict[int, Operation] = {}
        self._ops_lock = threading.Lock()
        self._ended = threading.Event()

    # ---- association ----------------------------------------------------------------

    def on_receive_associate_request(self, assoc: Associate) -> None:
        srv = self.server
        with srv._lock:
            busy = len(srv._live) > srv.max_associations  # this one is counted already
        if busy:
            log.warning(
                "rejecting %r: %d associations at once", assoc.calling, srv.max_associations
            )
            # PS3.8 Table 9-21: rejected-transient, service-provider (presentation),
            # local-limit-exceeded
            self.send_associate_reject(2, 3, 2)
            return
        ac = decide(srv, assoc)
        if isinstance(ac, AssociateRejectRequest):
            self.send_associate_reject(ac.result, ac.source, ac.reason)
            return
        self.contexts = requestor_accepted(assoc, ac)
        self.roles = negotiated_roles(assoc, ac)
        calling = assoc.calling.strip()
        self.info = AssociationInfo(
            calling, assoc.called.strip(), self.peer_address, assoc, dict(self.contexts)
        )
        self.receiver = StoreReceiver(
            directory=srv.store_dir,
            deliver=self._deliver if srv.on_store is not None else None,
            ignore=srv.ignore,
            fsync=srv.fsync,
            source_ae=calling,
        )
        self.send_associate_accept(ac)
        log.info(
            "association from %s (%s): %d contexts", calling, self.peer_address, len(self.contexts)
        )

    def on_receive_release_request(self) -> None:
        self.send_release_response()

    def on_receive_abort(self, source: int, reason: int) -> None:
        self._end()

    def on_close(self, error: int, peer: Net) -> None:
        self._end()
        self.server._forget(self)

    def _end(self) -> None:
        if self._ended.is_set():
            return
        self._ended.set()
        if self.receiver is not None:
            self.receiver.abort_pending()
        with self._ops_lock:
            for op in self._ops.values():
                op.cancelled.set()
        self._subops.put(None)
        self._jobs.put(None)

    # ---- DIMSE ----------------------------------------------------------------------

    def _sink(self, pc_id: int, command: bytes) -> Any:
        ctx = self.contexts.get(pc_id)
        if self.receiver is None or ctx is None:
            return None
        return self.receiver.sink(ctx[1], command)

    def _deliver(self, meta: FileMeta, data: bytes | Path) -> int:
        handler = self.server.on_store
        return SUCCESS if handler is None else handler(meta, data, self.info)

    def on_receive_data(self, pc_id: int, command: bytes, dataset: Any) -> None:
        msg = decode_command_quietly(command)
        if msg is None:
            self.send_abort(2, 0)
            return
        if isinstance(msg, CEchoRQ):
            status = SUCCESS
            if self.server.on_echo is not None:
                try:
                    status = int(self.server.on_echo())
                except Exception:  # noqa: BLE001
                    log.exception("on_echo failed")
                    status = UNABLE_TO_PROCESS
            self.send_data(
                pc_id,
                CEchoRSP(message_id_being_responded_to=msg.message_id, status=status).encode(),
            )
        elif isinstance(msg, CStoreRQ):
            assert self.receiver is not None
            status = self.receiver.complete(msg, self.contexts[pc_id][1], dataset)
            self.send_data(pc_id, store_response(msg, status))
        elif isinstance(msg, (CFindRQ, CGetRQ, CMoveRQ)):
            op = Operation(msg.message_id, msg.affected_sop_class_uid, self.info)
            with self._ops_lock:
                self._ops[msg.message_id] = op
            self._jobs.put((pc_id, msg, dataset, op))
            if self._worker is None:
                self._worker = threading.Thread(
                    target=self._work, name="dicomul-scp-worker", daemon=True
                )
                self._worker.start()
        elif isinstance(msg, CCancelRQ):
            with self._ops_lock:
                target = self._ops.get(msg.message_id_being_responded_to)
            if target is not None:
                target.cancelled.set()
        elif isinstance(msg, CStoreRSP):
            self._subops.put(msg)
        else:
            log.warning("unexpected %s from %s: ignored", type(msg).__name__, self.info.calling_ae)

    # ---- the worker: C-FIND, C-GET, C-MOVE ------------------------------------------

    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            pc_id, msg, dataset, op = job
            _local.operation = op
            try:
                if isinstance(msg, CFindRQ):
                    self._find(pc_id, msg, dataset, op)
                elif isinstance(msg, CGetRQ):
                    self._retrieve(pc_id, msg, dataset, op, None)
                else:
                    self._retrieve(pc_id, msg, dataset, op, msg.move_destination)
            except _Ended:
                return
            except Exception:  # noqa: BLE001 - never let a handler kill the worker
                log.exception("%s failed", type(msg).__name__)
            finally:
                _local.operation = None
                with self._ops_lock:
                    self._ops.pop(msg.message_id, None)

    def _respond(self, pc_id: int, rsp: DIMSEMessage, identifier: Any = None) -> None:
        if self._ended.is_set():
            raise _Ended
        data = None
        if identifier is not None:
            data = encode_dataset(identifier, self.contexts[pc_id][1])
        try:
            self.send_data(pc_id, rsp.encode(), data)
        except DicomULError as exc:  # the association went away under us
            raise _Ended from exc

    def _identifier(self, pc_id: int, dataset: Any) -> Any:
        try:
            return decode_dataset(dataset or b"", self.contexts[pc_id][1])
        except StorageError as exc:
            log.warning("undecodable identifier: %s", exc)
            return None

    def _find(self, pc_id: int, rq: CFindRQ, dataset: Any, op: Operation) -> None:
        def rsp(status: int, has: bool) -> CFindRSP:
            return CFindRSP(
                message_id_being_responded_to=rq.message_id,
                status=status,
                affected_sop_class_uid=rq.affected_sop_class_uid,
                has_dataset=has,
            )

        identifier = self._identifier(pc_id, dataset)
        handler = self.server.on_find
        if identifier is None or handler is None:
            self._respond(pc_id, rsp(UNABLE_TO_PROCESS, False))
            return
        final = SUCCESS
        results: Iterator[tuple[int, Any]] = iter(())
        try:
            results = iter(handler(identifier, rq.affected_sop_class_uid))
            for status, match in results:
                if op.cancelled.is_set():
                    final = CANCEL
                    break
                if not is_pending(status):
                    final = status
                    break
                self._respond(pc_id, rsp(status, match is not None), match)
            else:
                if op.cancelled.is_set():
                    final = CANCEL
        except _Ended:
            raise
        except Exception:  # noqa: BLE001
            log.exception("on_find failed")
            final = UNABLE_TO_PROCESS
        finally:
            close = getattr(results, "close", None)
            if close is not None:
                close()
        self._respond(pc_id, rsp(final, False))

    def _retrieve(
        self, pc_id: int, rq: CGetRQ | CMoveRQ, dataset: Any, op: Operation, dest: str | None
    ) -> None:
        cls = CGetRSP if dest is None else CMoveRSP
        counts = {"completed": 0, "failed": 0, "warning": 0}

        def rsp(status: int, remaining: int | None, identifier: Any = None) -> Any:
            return cls(
                message_id_being_responded_to=rq.message_id,
                status=status,
                affected_sop_class_uid=rq.affected_sop_class_uid,
                remaining_suboperations=remaining,
                completed_suboperations=counts["completed"],
                failed_suboperations=counts["failed"],
                warning_suboperations=counts["warning"],
                has_dataset=identifier is not None,
            )

        identifier = self._identifier(pc_id, dataset)
        handler = self.server.on_get if dest is None else self.server.on_move
        if identifier is None or handler is None:
            self._respond(pc_id, rsp(UNABLE_TO_PROCESS, None))
            return
        target: tuple[str, int] | None = None
        if dest is not None:
            target = self.server.move_destinations.get(dest.strip())
            if target is None:
                log.info("C-MOVE to unknown destination %r", dest)
                self._respond(pc_id, rsp(MOVE_DESTINATION_UNKNOWN, None))
                return
        try:
            call: Any = handler
            found = call(identifier) if dest is None else call(identifier, dest)
            items: Sequence[Any] = found if isinstance(found, Sequence) else list(found)
        except Exception:  # noqa: BLE001
            log.exception("retrieve handler failed")
            self._respond(pc_id, rsp(UNABLE_TO_PROCESS, None))
            return
        total = len(items)
        failed_uids: list[str] = []
        sender: Callable[[Any], int | None]
        sub: Association | None = None
        if target is not None and total:
            try:
                sub = Association.connect(
                    target[0],
                    target[1],
                    calling_ae=self.server.ae_title,
                    called_ae=dest or "",
                    contexts=contexts_for_objects(items),
                    acse_timeout=self.server.acse_timeout,
                    dimse_timeout=self.server.dimse_timeout,
                )
            except Exception as exc:  # noqa: BLE001
                log.warning("C-MOVE: cannot associate with %s at %s: %s", dest, target, exc)
                counts["failed"] = total
                self._respond(pc_id, rsp(OUT_OF_RESOURCES_SUB_OPERATIONS, None))
                return
            orig = (self.info.calling_ae, rq.message_id)
            sender = lambda obj: sub.store(obj, move_originator=orig)  # noqa: E731
        else:
            sender = self._sub_store
        final = None
        try:
            for i, obj in enumerate(items):
                if op.cancelled.is_set():
                    final = CANCEL
                    remaining = total - i
                    break
                status = self._one(sender, obj, failed_uids)
                key = (
                    "failed"
                    if status is None or is_failure(status)
                    else ("warning" if is_warning(status) else "completed")
                )
                counts[key] += 1
                if i < total - 1:
                    self._respond(pc_id, rsp(PENDING, total - i - 1))
        finally:
            if sub is not None:
                try:
                    sub.release()
                except Exception:  # noqa: BLE001
                    sub.abort()
        if final == CANCEL:
            self._respond(
                pc_id, rsp(CANCEL, remaining, _failed_list(failed_uids)), _failed_list(failed_uids)
            )
            return
        if counts["failed"] == total and total:
            final = OUT_OF_RESOURCES_SUB_OPERATIONS
        elif counts["failed"] or counts["warning"]:
            final = SUB_OPERATIONS_COMPLETE_WITH_FAILURES
        else:
            final = SUCCESS
        ident = _failed_list(failed_uids)
        self._respond(pc_id, rsp(final, None, ident), ident)

    def _one(self, sender: Callable[[Any], int | None], obj: Any, failed: list[str]) -> int | None:
        try:
            status = sender(obj)
        except (StorageError, ValueError, TypeError) as exc:
            log.warning("sub-operation failed: %s", exc)
            status = None
        except (DicomULError, TimeoutError) as exc:
            if self._ended.is_set():
                raise _Ended from exc
            log.warning("sub-operation failed: %s", exc)
            status = None
        if status is None or is_failure(status):
            uid = _instance_uid(obj)
            if uid:
                failed.append(uid)
        return status

    def _sub_store(self, obj: Any) -> int | None:
        """A C-STORE sub-operation of a C-GET, on this association."""
        sop = sop_class_of(obj)
        scp_ok = self.roles.get(sop, (True, False))[1]
        choices = [(i, ts) for i, (a, ts) in self.contexts.items() if a == sop]
        if not choices or not scp_ok:
            log.warning("C-GET: no context with SCP role for the requestor for %s", sop)
            return None
        prepared = prepare_dataset(obj, [ts for _, ts in choices])
        refuse_invalid_uids(prepared, "C-GET: ")  # a failed sub-operation, not sent
        ctx = next(i for i, ts in choices if ts == prepared.transfer_syntax)
        msg_id = self._ids.next()
        rq = CStoreRQ(
            message_id=msg_id,
            affected_sop_class_uid=prepared.sop_class_uid,
            affected_sop_instance_uid=prepared.sop_instance_uid,
        )
        try:
            self.send_data(ctx, rq.encode(), send_form(prepared.data))
        except BaseException:
            prepared.close()
            raise
        while True:
            try:
                rsp = self._subops.get(timeout=self.server.dimse_timeout)
            except queue.Empty:
                log.warning("C-GET: no C-STORE-RSP within %ss: aborting", self.server.dimse_timeout)
                self.send_abort(0, 0)
                raise _Ended from None
            if rsp is None:
                self._subops.put(None)
                raise _Ended
            if rsp.message_id_being_responded_to == msg_id:
                return int(rsp.status)


def _instance_uid(obj: Any) -> str | None:
    try:
        if isinstance(obj, tuple):
            return str(obj[3])
        if hasattr(obj, "meta"):
            return str(obj.meta.sop_instance_uid)
        if isinstance(obj, (str, os.PathLike)):
            from dicomul.storage.part10 import read_part10

            return read_part10(obj).meta.sop_instance_uid
        return str(obj.SOPInstanceUID)
    except Exception:  # noqa: BLE001
        return None


def _failed_list(uids: list[str]) -> Any:
    """The identifier of a final C-GET/C-MOVE response: Failed SOP Instance UID List."""
    if not uids:
        return None
    from pydicom.dataset import Dataset

    ds = Dataset()
    ds.FailedSOPInstanceUIDList = uids
    return ds
