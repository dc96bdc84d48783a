"""Modality Performed Procedure Step SCP state (PS3.4 Annex F.7) without I/O: the
procedure steps a modality creates (N-CREATE, status IN PROGRESS) and updates (N-SET)
until it ends them as COMPLETED or DISCONTINUED, after which they are final.

An :class:`MPPSStore` is a DIMSE-N service object: give it to a server as
``n_services={MPPS: store}`` (``mpps=True`` does so with a new one). Its methods are
thread-safe (a server runs them in its handler pool).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from dicomul.dimse.status import (
    DUPLICATE_SOP_INSTANCE,
    INVALID_ATTRIBUTE_VALUE,
    MISSING_ATTRIBUTE_VALUE,
    NO_SUCH_SOP_INSTANCE,
    PROCESSING_FAILURE,
)
from dicomul.storage.normalized import NReply, NRequest

__all__ = ["MPPSStore", "IN_PROGRESS", "COMPLETED", "DISCONTINUED"]

IN_PROGRESS = "IN PROGRESS"
COMPLETED = "COMPLETED"
DISCONTINUED = "DISCONTINUED"
_STATES = (IN_PROGRESS, COMPLETED, DISCONTINUED)
_STATUS_TAG = 0x00400252  # Performed Procedure Step Status


def _status_of(ds: Any) -> str | None:
    if ds is None or _STATUS_TAG not in ds:
        return None
    return str(ds[_STATUS_TAG].value or "").strip()


class MPPSStore:
    """The procedure steps this SCP keeps: ``steps[instance UID]`` is the step's data set
    (a pydicom Dataset) as created and updated. ``on_change(instance_uid, dataset)`` is
    called (in the handler's thread) after each accepted N-CREATE and N-SET."""

    def __init__(self, on_change: Callable[[str, Any], None] | None = None) -> None:
        self.steps: dict[str, Any] = {}
        self.on_change = on_change
        self._lock = threading.Lock()

    def status(self, sop_instance_uid: str) -> str | None:
        """The step's Performed Procedure Step Status, or None when it does not exist."""
        with self._lock:
            ds = self.steps.get(sop_instance_uid)
            return _status_of(ds) if ds is not None else None

    def n_create(self, req: NRequest) -> NReply:
        """Create a step: it must not exist and must be IN PROGRESS (PS3.4 F.7.2.1)."""
        ds = req.dataset
        status = _status_of(ds)
        if status is None:
            return NReply(
                status=MISSING_ATTRIBUTE_VALUE,
                offending_element=(_STATUS_TAG,),
                error_comment="N-CREATE without Performed Procedure Step Status",
            )
        if status != IN_PROGRESS:
            return NReply(
                status=INVALID_ATTRIBUTE_VALUE,
                offending_element=(_STATUS_TAG,),
                error_comment=f"a new step must be {IN_PROGRESS}, not {status!r}",
            )
        with self._lock:
            if req.sop_instance_uid in self.steps:
                return NReply(
                    status=DUPLICATE_SOP_INSTANCE,
                    error_comment="this procedure step exists already",
                )
            self.steps[req.sop_instance_uid] = ds
        self._changed(req.sop_instance_uid, ds)
        return NReply()

    def n_set(self, req: NRequest) -> NReply:
        """Update a step IN PROGRESS; one COMPLETED or DISCONTINUED is final (PS3.4
        F.7.2.2: "Performed Procedure Step Object may no longer be updated", 0x0110)."""
        mods = req.dataset
        if mods is None:
            return NReply(status=PROCESSING_FAILURE, error_comment="N-SET without modifications")
        new_status = _status_of(mods)
        if new_status is not None and new_status not in _STATES:
            return NReply(
                status=INVALID_ATTRIBUTE_VALUE,
                offending_element=(_STATUS_TAG,),
                error_comment=f"not a procedure step status: {new_status!r}",
            )
        with self._lock:
            step = self.steps.get(req.sop_instance_uid)
            if step is None:
                return NReply(status=NO_SUCH_SOP_INSTANCE)
            if _status_of(step) != IN_PROGRESS:
                return NReply(
                    status=PROCESSING_FAILURE,
                    error_comment=("Performed Procedure Step Object may no longer be updated"),
                )
            updated = step.copy()
            for elem in mods:
                updated[elem.tag] = elem
            self.steps[req.sop_instance_uid] = updated
        self._changed(req.sop_instance_uid, updated)
        return NReply()

    def _changed(self, uid: str, ds: Any) -> None:
        if self.on_change is not None:
            self.on_change(uid, ds)
