"""The DIMSE-N operations of a requested association, one definition for both APIs:
each method returns what ``self._n`` returns, an :class:`~dicomul.storage.normalized.
NResult` on the blocking ``dicomul.sync.Association`` and a coroutine giving one on
``dicomul.aio.Association``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["NCalls"]


class NCalls:
    """N-GET, N-SET, N-ACTION, N-CREATE, N-DELETE and N-EVENT-REPORT (PS3.7 10.1), each
    on an accepted context for its SOP class. They raise ContextNotAccepted when there is
    none and ValueError for a missing argument; the response's status, data set (decoded)
    and instance are in the NResult."""

    def _n(
        self, operation: str, sop_class_uid: str, sop_instance_uid: str | None, **kw: Any
    ) -> Any:
        raise NotImplementedError

    def n_get(
        self, sop_class_uid: str, sop_instance_uid: str, attributes: Sequence[int] = ()
    ) -> Any:
        """N-GET the ``attributes`` (tags as ints; empty: all) of an instance."""
        return self._n("N-GET", sop_class_uid, sop_instance_uid, attributes=attributes)

    def n_set(self, sop_class_uid: str, sop_instance_uid: str, modifications: Any) -> Any:
        """N-SET: change an instance's attributes to those of ``modifications`` (a Dataset)."""
        return self._n("N-SET", sop_class_uid, sop_instance_uid, dataset=modifications)

    def n_action(
        self, sop_class_uid: str, sop_instance_uid: str, action_type_id: int, dataset: Any = None
    ) -> Any:
        """N-ACTION ``action_type_id`` on an instance, with ``dataset`` as its information."""
        return self._n(
            "N-ACTION", sop_class_uid, sop_instance_uid, type_id=action_type_id, dataset=dataset
        )

    def n_create(
        self, sop_class_uid: str, dataset: Any = None, sop_instance_uid: str | None = None
    ) -> Any:
        """N-CREATE an instance with ``dataset``'s attributes; without ``sop_instance_uid``
        the performer assigns one (the result's ``sop_instance_uid``)."""
        return self._n("N-CREATE", sop_class_uid, sop_instance_uid, dataset=dataset)

    def n_delete(self, sop_class_uid: str, sop_instance_uid: str) -> Any:
        """N-DELETE an instance."""
        return self._n("N-DELETE", sop_class_uid, sop_instance_uid)

    def n_event_report(
        self, sop_class_uid: str, sop_instance_uid: str, event_type_id: int, dataset: Any = None
    ) -> Any:
        """N-EVENT-REPORT event ``event_type_id`` of an instance, with ``dataset``."""
        return self._n(
            "N-EVENT-REPORT",
            sop_class_uid,
            sop_instance_uid,
            type_id=event_type_id,
            dataset=dataset,
        )
