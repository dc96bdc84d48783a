"""Storage Commitment Push Model (PS3.4 Annex J) without I/O: the N-ACTION request the
SCU sends, the check the SCP makes of its store, the N-EVENT-REPORT it answers with, and
the result the SCU reads from that report.

    ds = action_dataset([(sop_class, sop_instance), ...], transaction_uid)   # SCU
    txn, refs = parse_action(ds)                                             # SCP
    committed, failed = check_references(refs, locate)                       # SCP, in a pool
    event_type, report = report_dataset(txn, committed, failed)              # SCP
    result = parse_report(report, event_type)                                # SCU
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from dicomul._record import record
from dicomul.dimse.sop import STORAGE_COMMITMENT_INSTANCE, STORAGE_COMMITMENT_PUSH
from dicomul.dimse.status import (
    CLASS_INSTANCE_CONFLICT,
    NO_SUCH_SOP_INSTANCE,
    PROCESSING_FAILURE,
    describe,
    is_failure,
)
from dicomul.errors import DicomULError
from dicomul.storage.normalized import NRequest, NResult, new_uid

if TYPE_CHECKING:
    from pathlib import Path

__all__ = [
    "CommitmentResult",
    "Reference",
    "action_dataset",
    "parse_action",
    "check_references",
    "report_dataset",
    "parse_report",
    "references_of",
    "commitment_request",
    "check_action_result",
    "report_for",
    "CommitmentRefused",
    "ACTION_REQUEST",
    "EVENT_SUCCESS",
    "EVENT_FAILURES",
]

#: Action Type ID of "Request Storage Commitment" (PS3.4 J.3.2.1.1).
ACTION_REQUEST = 1
#: Event Type IDs of the report (PS3.4 J.3.3.1.1): all committed / some failed.
EVENT_SUCCESS = 1
EVENT_FAILURES = 2

#: (SOP Class UID, SOP Instance UID) of one instance.
Reference = tuple[str, str]


@record(kw_only=True)
class CommitmentResult:
    """A Storage Commitment report: the transaction it answers, the instances committed,
    and those that failed with their Failure Reason (0x0110 processing failure, 0x0112
    no such object instance, 0x0119 class/instance conflict, ... PS3.4 J.3.3.1.1)."""

    transaction_uid: str
    committed: tuple[Reference, ...] = ()
    failed: tuple[tuple[str, str, int], ...] = ()

    @property
    def all_committed(self) -> bool:
        """Whether every instance asked for was committed."""
        return not self.failed


def references_of(objects: Iterable[Any]) -> list[Reference]:
    """``(class, instance)`` of each object: such a pair, a pydicom Dataset, or a path to
    a DICOM file (its header is read)."""
    refs: list[Reference] = []
    for obj in objects:
        if isinstance(obj, tuple) and len(obj) == 2:
            refs.append((str(obj[0]), str(obj[1])))
            continue
        if isinstance(obj, (str, os.PathLike)):
            import pydicom

            obj = pydicom.dcmread(
                obj, stop_before_pixels=True, specific_tags=["SOPClassUID", "SOPInstanceUID"]
            )
        refs.append((str(obj.SOPClassUID), str(obj.SOPInstanceUID)))
    return refs


def _sequence(refs: Iterable[Reference], reason: dict[Reference, int] | None = None) -> Any:
    from pydicom.dataset import Dataset
    from pydicom.sequence import Sequence

    items = []
    for cls, inst in refs:
        item = Dataset()
        item.ReferencedSOPClassUID = cls
        item.ReferencedSOPInstanceUID = inst
        if reason is not None:
            item.FailureReason = reason[(cls, inst)]
        items.append(item)
    return Sequence(items)


def action_dataset(references: Iterable[Reference], transaction_uid: str) -> Any:
    """The N-ACTION-RQ data set asking to commit ``references`` (PS3.4 J.3.2.1.1)."""
    from pydicom.dataset import Dataset

    ds = Dataset()
    ds.TransactionUID = transaction_uid
    ds.ReferencedSOPSequence = _sequence(references)
    return ds


def _pairs(seq: Any, what: str) -> list[Reference]:
    pairs = []
    for i, item in enumerate(seq or ()):
        cls = str(item.get("ReferencedSOPClassUID", "") or "")
        inst = str(item.get("ReferencedSOPInstanceUID", "") or "")
        if not cls or not inst:
            raise ValueError(f"{what} item {i} lacks a Referenced SOP Class or Instance UID")
        pairs.append((cls, inst))
    return pairs


def parse_action(ds: Any) -> tuple[str, list[Reference]]:
    """``(transaction UID, references)`` of an N-ACTION-RQ data set; ValueError saying
    what is missing when it is not a valid commitment request."""
    if ds is None:
        raise ValueError("the N-ACTION carries no data set")
    txn = str(ds.get("TransactionUID", "") or "")
    if not txn:
        raise ValueError("the N-ACTION data set has no Transaction UID (0008,1195)")
    refs = _pairs(ds.get("ReferencedSOPSequence"), "Referenced SOP Sequence")
    if not refs:
        raise ValueError("the Referenced SOP Sequence (0008,1199) is empty")
    return txn, refs


def _check_one(ref: Reference, path: Path | None) -> int | None:
    """None when ``path`` holds ``ref`` whole, else the Failure Reason."""
    if path is None or not path.is_file():
        return NO_SUCH_SOP_INSTANCE
    import pydicom
    from pydicom.errors import InvalidDicomError

    try:
        ds = pydicom.dcmread(path)
        for _elem in ds.iterall():  # every value parsed: a truncated file fails here
            pass
        if "PixelData" in ds:
            _ = len(ds.PixelData)
    except (InvalidDicomError, OSError, ValueError, EOFError, TypeError, KeyError):
        return PROCESSING_FAILURE
    except Exception:  # noqa: BLE001 - pydicom raises many kinds on damaged files
        return PROCESSING_FAILURE
    if str(ds.get("SOPInstanceUID", "")) != ref[1]:
        return PROCESSING_FAILURE
    if str(ds.get("SOPClassUID", "")) != ref[0]:
        return CLASS_INSTANCE_CONFLICT
    return None


def check_references(
    references: Iterable[Reference], locate: Callable[[str], Path | None]
) -> tuple[list[Reference], list[tuple[str, str, int]]]:
    """``(committed, failed)``: each reference is committed when ``locate(instance)``
    gives a file that reads whole as a data set of that class and instance. Reads the
    files: run it off an event loop."""
    committed: list[Reference] = []
    failed: list[tuple[str, str, int]] = []
    seen: set[Reference] = set()
    for ref in references:
        if ref in seen:
            continue
        seen.add(ref)
        reason = _check_one(ref, locate(ref[1]))
        if reason is None:
            committed.append(ref)
        else:
            failed.append((ref[0], ref[1], reason))
    return committed, failed


def report_dataset(
    transaction_uid: str, committed: Iterable[Reference], failed: Iterable[tuple[str, str, int]]
) -> tuple[int, Any]:
    """``(Event Type ID, N-EVENT-REPORT data set)`` for a transaction (PS3.4 J.3.3.1.1):
    1 when all were committed, 2 with the Failed SOP Sequence otherwise."""
    from pydicom.dataset import Dataset

    ds = Dataset()
    ds.TransactionUID = transaction_uid
    committed = list(committed)
    failed = list(failed)
    if committed:
        ds.ReferencedSOPSequence = _sequence(committed)
    if not failed:
        return EVENT_SUCCESS, ds
    reasons = {(c, i): r for c, i, r in failed}
    ds.FailedSOPSequence = _sequence([(c, i) for c, i, _ in failed], reasons)
    return EVENT_FAILURES, ds


def parse_report(ds: Any, event_type: int | None = None) -> CommitmentResult:
    """The :class:`CommitmentResult` of an N-EVENT-REPORT data set; ValueError when it
    is not one (no Transaction UID, or a failure report without failures)."""
    if ds is None or not hasattr(ds, "get"):
        raise ValueError("the N-EVENT-REPORT carries no data set")
    txn = str(ds.get("TransactionUID", "") or "")
    if not txn:
        raise ValueError("the N-EVENT-REPORT data set has no Transaction UID")
    committed = _pairs(ds.get("ReferencedSOPSequence"), "Referenced SOP Sequence")
    failed = []
    for item, pair in zip(
        ds.get("FailedSOPSequence") or (),
        _pairs(ds.get("FailedSOPSequence"), "Failed SOP Sequence"),
        strict=True,
    ):
        failed.append((*pair, int(item.get("FailureReason", PROCESSING_FAILURE))))
    if event_type == EVENT_FAILURES and not failed:
        raise ValueError("a failure report (event type 2) without a Failed SOP Sequence")
    return CommitmentResult(transaction_uid=txn, committed=tuple(committed), failed=tuple(failed))


class CommitmentRefused(DicomULError):
    """The SCP refused a storage commitment request (a failure N-ACTION status)."""

    def __init__(self, result: NResult) -> None:
        self.result = result
        super().__init__(f"the storage commitment request was refused: {describe(result.status)}")


def commitment_request(
    objects: Iterable[Any], transaction_uid: str | None = None
) -> tuple[str, dict[str, Any]]:
    """``(transaction UID, keyword arguments of n_action)`` to ask for commitment of
    ``objects`` (see :func:`references_of`); a new transaction UID unless given."""
    txn = transaction_uid or new_uid()
    ds = action_dataset(references_of(objects), txn)
    return txn, {
        "sop_class_uid": STORAGE_COMMITMENT_PUSH,
        "sop_instance_uid": STORAGE_COMMITMENT_INSTANCE,
        "action_type_id": ACTION_REQUEST,
        "dataset": ds,
    }


def check_action_result(result: NResult) -> None:
    """Raise CommitmentRefused for a failure N-ACTION response."""
    if is_failure(result.status):
        raise CommitmentRefused(result)


def report_for(transaction_uid: str) -> Callable[[NRequest], bool]:
    """Whether an N-EVENT-REPORT is the commitment report of ``transaction_uid``."""

    def match(req: NRequest) -> bool:
        ds = req.dataset
        return (
            req.sop_class_uid == STORAGE_COMMITMENT_PUSH
            and hasattr(ds, "get")
            and str(ds.get("TransactionUID", "")) == transaction_uid
        )

    return match
