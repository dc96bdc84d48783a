"""The blocking DIMSE service acceptor: a server with one handler per service.

::

    server = Server("STORESCP", store_dir="/data/in", accept_all_storage=True)
    server.on_find = lambda identifier, model: iter([(0xFF00, match), (0x0000, None)])
    port = server.start("0.0.0.0", 11112)
    server.serve_forever()  # until server.stop() (e.g. from a signal handler)

Theory of operation. This is the asyncio acceptor (:class:`dicomul.aio.server.Server`)
run on the process's event loop thread (:mod:`dicomul.sync._loop`): no thread per
connection or association, the same limits (unassociated connections evicted oldest
first, ARTIM, idle timeout), the same negotiation and the same services. Handlers are
plain functions here and run in the server's bounded thread pool; a handler can see
whether its operation was cancelled through :func:`current_operation`. Small received
files are written on the loop thread while such writes are quick, as in the asyncio
server (``write_on_loop``), and so is ``on_store_now`` (the archive's index rows).

Handlers (attributes, settable after construction, also while the server runs):

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

import os
import threading
from collections.abc import Callable, Collection, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from dicomul.aio.server import Operation, current_operation
from dicomul.aio.server import Server as _AioServer
from dicomul.dimse.policy import supported_for
from dicomul.dimse.session import AssociationInfo
from dicomul.storage.part10 import FileMeta
from dicomul.sync import _loop
from dicomul.ul.associate import Associate
from dicomul.ul.negotiation import SupportedContexts

if TYPE_CHECKING:
    import ssl

__all__ = ["Server", "Operation", "current_operation", "AssociationInfo"]

#: Attributes that live on the asyncio server (read and set through this one).
_SHARED = frozenset(
    {
        "ae_title", "contexts", "accept_all_storage", "allowed_calling", "allowed_called",
        "max_pdu", "max_associations", "store_dir", "fsync", "ignore", "write_on_loop",
        "on_echo", "on_store", "on_store_now", "on_find", "on_get", "on_move",
        "move_destinations", "ssl_context", "acse_timeout", "dimse_timeout", "prefer", "port",
        "accept", "on_user_identity", "on_extended", "max_pending", "max_per_calling_ae",
        "async_operations", "n_services", "storage_commitment", "on_commitment", "mpps",
        "n_sop_classes",
    }
)  # fmt: skip


class Server:
    """A blocking DIMSE acceptor (see the module docstring).

    ``contexts``: a :class:`~dicomul.ul.negotiation.SupportedContexts` to accept exactly
    those; by default Verification, the Q/R SOP classes of the handlers that are set, and
    (when storage is configured: ``store_dir``, ``on_store``, ``ignore``, ``on_get``)
    every storage SOP class in Explicit and Implicit VR Little Endian.
    ``accept_all_storage``: every storage SOP class with every transfer syntax offered,
    compressed ones included, the requestor's first choice winning.
    ``allowed_calling`` / ``allowed_called``: AE title allow-lists (None = anyone).
    ``max_pdu``: our maximum PDU length. ``max_associations``: more concurrent
    associations than this are rejected (transient, local limit exceeded).
    ``store_dir``: received data sets are streamed into Part 10 files there (``fsync`` to
    sync each before answering); ``ignore``: receive and answer success, store nothing.
    ``dimse_timeout``: how long a C-GET sub-operation waits for its response;
    ``network_timeout``: an association idle this long is aborted (None: never).
    Other keyword arguments go to :class:`dicomul.aio.server.Server` (``accept``,
    ``on_user_identity``, ``on_extended``, ``max_pending``, ``max_per_calling_ae``,
    ``async_operations``, ``handler_threads``, and the DIMSE-N services: ``n_services``,
    ``storage_commitment``, ``on_commitment``, ``mpps``; plain handlers only here).
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
        move_destinations: dict[str, tuple[Any, ...]] | None = None,
        ssl_context: ssl.SSLContext | None = None,
        acse_timeout: float = 30.0,
        dimse_timeout: float | None = 60.0,
        network_timeout: float | None = None,
        prefer: Literal["acceptor", "requestor"] = "acceptor",
        **aio_options: Any,
    ) -> None:
        if store_dir is not None:
            store_dir = Path(store_dir)
            store_dir.mkdir(parents=True, exist_ok=True)  # an OSError now, not per association
        aio = _AioServer(
            ae_title, contexts=contexts, accept_all_storage=accept_all_storage,
            allowed_calling=allowed_calling, allowed_called=allowed_called, max_pdu=max_pdu,
            max_associations=max_associations, store_dir=store_dir, fsync=fsync,
            ignore=ignore, on_echo=on_echo, on_store=on_store, on_find=on_find,
            on_get=on_get, on_move=on_move, move_destinations=move_destinations,
            ssl_context=ssl_context, acse_timeout=acse_timeout, dimse_timeout=dimse_timeout,
            idle_timeout=network_timeout, prefer=prefer, **aio_options,
        )  # fmt: skip
        object.__setattr__(self, "_aio", aio)
        object.__setattr__(self, "_stopped", threading.Event())
        object.__setattr__(self, "_started", False)

    def __getattr__(self, name: str) -> Any:
        if name in _SHARED:
            return getattr(self._aio, name)
        if name == "network_timeout":
            return self._aio.idle_timeout
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _SHARED:
            setattr(self._aio, name, value)
        elif name == "network_timeout":
            self._aio.idle_timeout = value
        else:
            object.__setattr__(self, name, value)

    # ---- life cycle -------------------------------------------------------------------

    def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        """Listen on ``host:port`` (0 = a free port) and return the port; returns at once."""
        if self._started:
            raise RuntimeError("the server is already started")
        port = _loop.run(self._aio.start(host, port))
        object.__setattr__(self, "_started", True)
        self._stopped.clear()
        return port

    def serve_forever(self) -> None:
        """Block until :meth:`stop` is called (from another thread or a signal handler)."""
        if not self._started:
            raise RuntimeError("call start() first")
        self._stopped.wait()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop listening, abort the live associations (files being received are
        removed) and wait up to ``timeout`` seconds for their connections to close."""
        if self._started:
            object.__setattr__(self, "_started", False)
            _loop.run(self._aio.close(timeout), timeout + 5.0)
        self._stopped.set()

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def associations(self) -> int:
        """The number of live associations."""
        return int(self._aio.associations)

    def supported_for(self, rq: Associate) -> SupportedContexts:
        """The contexts this server supports for the A-ASSOCIATE-RQ ``rq``
        (:func:`dicomul.dimse.policy.supported_for`)."""
        return supported_for(self._aio, rq)
