"""C-GET and C-MOVE for the asyncio Server (:mod:`dicomul.aio.server`): the
sub-operations of one retrieve, their counts, the pending and final responses, and the
association to a C-MOVE destination.

:func:`retrieve` is given what it needs of the association explicitly (the server's
settings, the session, the requestor's AE title, the cancelled message IDs and the
association's respond, handler-results, sub-operation C-STORE and drain functions).
"""

from __future__ import annotations

import inspect
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Container
from typing import TYPE_CHECKING, Any

from dicomul.dimse.session import RequestReceived, Session
from dicomul.dimse.status import (
    CANCEL,
    MOVE_DESTINATION_UNKNOWN,
    OUT_OF_RESOURCES_SUB_OPERATIONS,
    PENDING,
    SUB_OPERATIONS_COMPLETE_WITH_FAILURES,
    SUCCESS,
    UNABLE_TO_PROCESS,
    is_failure,
    is_warning,
)
from dicomul.errors import DicomULError
from dicomul.storage.contexts import contexts_for_objects
from dicomul.storage.part10 import encode_dataset
from dicomul.storage.sources import Unavailable

if TYPE_CHECKING:
    from dicomul.aio.server import Server

__all__ = ["retrieve"]

log = logging.getLogger("dicomul")


async def retrieve(
    ev: RequestReceived,
    identifier: Any,
    ts: str,
    fn: Callable[..., Any],
    dest: str | None,
    *,
    server: Server,
    session: Session,
    calling: str,
    cancelled: Container[int],
    items: Callable[..., AsyncIterator[Any]],
    respond: Callable[..., None],
    sub_store: Callable[[Any, RequestReceived], Awaitable[int]],
    drain: Callable[[], Awaitable[None]],
) -> None:
    """C-GET (``dest`` None: sub-operations on this association) or C-MOVE (to
    ``move_destinations[dest]``): pending responses with the counts after each
    sub-operation but the last, then the final one (PS3.4 C.4.2/C.4.3): success,
    0xB000 with the Failed SOP Instance UID List, 0xA702 when every one failed, or
    0xFE00 with the remaining count when cancelled.

    ``identifier`` is the decoded request identifier, ``ts`` the transfer syntax of its
    context, ``fn`` the on_get or on_move handler. Of the association: ``server`` (its
    move_destinations, ae_title, dimse_timeout), ``session``, ``calling`` (the
    requestor's AE title, the move originator), ``cancelled`` (the message IDs a
    C-CANCEL-RQ named, read as the sub-operations go), ``items(fn, *args)`` (a handler's
    results as an async iterator), ``respond(ev, status, dataset=None, **fields)``,
    ``sub_store(obj, ev)`` (one C-GET sub-operation: its status) and ``drain()`` (wait
    while the requestor does not read)."""
    mid = ev.message.message_id  # type: ignore[attr-defined]
    if dest is not None:
        dest = dest.strip()
        if dest not in server.move_destinations:
            log.info("C-MOVE to unknown destination %r", dest)
            respond(ev, MOVE_DESTINATION_UNKNOWN)
            return
    args = (identifier,) if dest is None else (identifier, dest)
    try:
        objs = [obj async for obj in items(fn, *args)]
    except Exception:  # noqa: BLE001
        log.exception("the retrieve handler failed")
        respond(ev, UNABLE_TO_PROCESS)
        return
    total = len(objs)
    counts = {"completed": 0, "failed": 0, "warning": 0}
    failed: list[str] = []
    target = None
    sendable = [o for o in objs if not isinstance(o, Unavailable)]
    if dest is not None and sendable:
        target = await _open_move(server, dest, sendable)
        if target is None:
            counts["failed"] = total
            respond(ev, OUT_OF_RESOURCES_SUB_OPERATIONS, **_subops(counts, None))
            return
    try:
        for i, obj in enumerate(objs):
            if not session.connection.is_established:
                return  # the association ended: nobody to answer
            if mid in cancelled:
                ident = _failed_list(failed)
                respond(ev, CANCEL, _encoded(ident, ts), **_subops(counts, total - i))
                return
            try:
                if isinstance(obj, Unavailable):
                    log.warning("sub-operation failed: %s is unavailable (%s)",
                                obj.sop_instance_uid, obj.reason)  # fmt: skip
                    status = 0xA702
                elif target is None:
                    status = await sub_store(obj, ev)
                else:
                    status = await target.store(obj, move_originator=(calling, mid))
            except (DicomULError, OSError, TimeoutError, ValueError, TypeError) as exc:
                log.warning("sub-operation failed: %s", exc)  # (StorageError included)
                status = 0xA702
            outcome = _outcome(status)
            counts[outcome] += 1
            if outcome == "failed":
                uid = _instance_uid(obj)
                if uid:
                    failed.append(uid)
            if i < total - 1:
                respond(ev, PENDING, **_subops(counts, total - i - 1))
                await drain()
    finally:
        if target is not None:
            try:
                await target.release()
            except Exception:  # noqa: BLE001
                target.abort()
    if total and counts["failed"] == total:
        final = OUT_OF_RESOURCES_SUB_OPERATIONS
    elif counts["failed"] or counts["warning"]:
        final = SUB_OPERATIONS_COMPLETE_WITH_FAILURES
    else:
        final = SUCCESS
    respond(ev, final, _encoded(_failed_list(failed), ts), **_subops(counts, None))


async def _open_move(server: Server, dest: str, objs: list[Any]) -> Any:
    """An association to the C-MOVE destination ``dest`` proposing contexts for ``objs``,
    or None (logged) when it cannot be made."""
    from dicomul.aio.association import connect

    host, port, *tls = server.move_destinations[dest]  # (host, port[, SSLContext])
    try:
        return await connect(host, port, calling_ae=server.ae_title, called_ae=dest,
                             contexts=contexts_for_objects(objs) if objs else None,
                             dimse_timeout=server.dimse_timeout,
                             ssl_context=tls[0] if tls else None)  # fmt: skip
    except Exception as exc:  # noqa: BLE001
        log.warning("cannot associate with move destination %s: %s", dest, exc)
        return None


def _subops(counts: dict[str, int], remaining: int | None) -> dict[str, Any]:
    return {
        "remaining_suboperations": remaining,
        "completed_suboperations": counts["completed"],
        "failed_suboperations": counts["failed"],
        "warning_suboperations": counts["warning"],
    }


def _outcome(status: int) -> str:
    return "failed" if is_failure(status) else "warning" if is_warning(status) else "completed"


def _instance_uid(obj: Any) -> str | None:
    """The SOP Instance UID of an object to send, for the Failed SOP Instance UID List."""
    try:
        if isinstance(obj, Unavailable):
            return obj.sop_instance_uid
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


def _encoded(identifier: Any, ts: str) -> bytes | None:
    return None if identifier is None else encode_dataset(identifier, ts)


async def handler_items(run_handler: Callable[..., Any], fn: Callable[..., Any], *args: Any) -> Any:
    """A Q/R handler's results as an async iterator, whatever it is: an async generator,
    a coroutine or plain function returning an (async) iterable, or a generator, which
    may block (a database) and so is advanced in the pool by ``run_handler``."""
    if inspect.isasyncgenfunction(fn):
        async for item in fn(*args):
            yield item
        return
    result = await run_handler(fn, *args)
    if hasattr(result, "__aiter__"):
        async for item in result:
            yield item
        return
    it = iter(result or ())
    done = object()
    while True:
        item = await run_handler(next, it, done)
        if item is done:
            return
        yield item
