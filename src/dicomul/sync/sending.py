"""Send many objects, as a user sending a study expects: every object is tried, and each
failure is reported at the end.

::

    report = store_all("pacs", 104, paths, called_ae="PACS")
    for r in report.failures:
        print(r.obj, r.error or f"status 0x{r.status:04X}")

The objects are planned over as many associations as their presentation contexts need
(at most 128 each, :func:`~dicomul.sync.services.plan_associations`). An object that cannot be
sent (no accepted context, a transcoding failure, a failure status) is recorded and the
next one follows on the same association. When the association is lost (the peer
aborts, a DIMSE timeout, a vanished connection), the object being sent is recorded as
failed with that reason, a new association is made, and the rest follow; after
``max_lost`` associations lost in a row without one object stored, the remaining
objects of that batch are recorded as failed rather than retried forever.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

from dicomul._record import record
from dicomul.dimse.status import is_success
from dicomul.errors import DicomULError
from dicomul.storage.part10 import StorageError
from dicomul.sync.services import Association, plan_associations

__all__ = ["StoreResult", "StoreReport", "store_all"]

log = logging.getLogger("dicomul")


@record
class StoreResult:
    """The outcome of one object: the C-STORE status, or the error that kept it from
    being stored (``status`` None)."""

    obj: Any
    status: int | None = None
    error: str | None = None
    #: The exception behind ``error``, if any.
    exception: BaseException | None = None

    @property
    def ok(self) -> bool:
        """Stored: success, or a warning status (0xB000, 0xB006, 0xB007)."""
        s = self.status
        return s is not None and (is_success(s) or s & 0xF000 == 0xB000)


class StoreReport:
    """Every object's :class:`StoreResult`, in the order given; ``associations`` made."""

    def __init__(self, results: list[StoreResult] | None = None, associations: int = 0) -> None:
        self.results: list[StoreResult] = [] if results is None else results
        self.associations = associations

    def __repr__(self) -> str:
        return f"StoreReport(results={self.results!r}, associations={self.associations})"

    @property
    def failures(self) -> list[StoreResult]:
        """The results that are not ``ok``."""
        return [r for r in self.results if not r.ok]


def _text(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


def store_all(
    host: str,
    port: int,
    objs: Iterable[Any],
    *,
    max_lost: int = 3,
    on_result: Callable[[StoreResult], None] | None = None,
    **connect: Any,
) -> StoreReport:
    """C-STORE every object of ``objs`` (anything :meth:`Association.store` takes) to
    ``host:port``, re-associating after a lost association (see the module doc).
    ``connect``: keyword arguments of :meth:`Association.connect` (AE titles, timeouts,
    TLS; not ``contexts``, which are planned here). ``on_result`` is called after each
    object. Never raises for what happens to an object; raises ValueError/StorageError
    only for an object it cannot plan (a path that is not a Part 10 file)."""
    if "contexts" in connect:
        raise TypeError("store_all plans its own presentation contexts")
    report = StoreReport()

    def record(result: StoreResult) -> None:
        report.results.append(result)
        if on_result is not None:
            on_result(result)

    for contexts, batch in plan_associations(objs):
        pending = deque(batch)
        lost_in_a_row = 0
        while pending:
            if lost_in_a_row >= max_lost:
                why = f"not sent: {lost_in_a_row} associations in a row were lost"
                while pending:
                    record(StoreResult(pending.popleft(), error=why))
                break
            try:
                assoc = Association.connect(host, port, contexts=contexts, **connect)
            except (OSError, DicomULError) as exc:
                why = f"cannot associate: {_text(exc)}"
                while pending:
                    record(StoreResult(pending.popleft(), error=why, exception=exc))
                break
            report.associations += 1
            if _send(assoc, pending, record):
                lost_in_a_row = 0
            else:
                lost_in_a_row += 1
    return report


def _send(assoc: Association, pending: deque[Any], record: Callable[[StoreResult], None]) -> bool:
    """Store from ``pending`` until it is empty or the association is lost; release it
    (or abort it). True if the association stayed up or stored something."""
    stored = False
    while pending:
        obj = pending.popleft()
        try:
            status = assoc.store(obj)
        except (OSError, DicomULError) as exc:
            record(StoreResult(obj, error=_text(exc), exception=exc))
            if isinstance(exc, StorageError) or assoc.is_established:
                continue  # this object only (it cannot be read or sent as accepted)
            log.warning("association lost while sending %s: %s", obj, _text(exc))
            assoc.abort()
            return stored
        stored = True
        record(StoreResult(obj, status=status))
    try:
        assoc.release()
    except (OSError, DicomULError) as exc:  # everything was answered already
        log.info("release failed: %s", _text(exc))
    return True
