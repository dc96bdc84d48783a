"""The naming scheme of the upper layer's primitives (dicomul.ul.events docstring): each
name says which way it goes, and the names of earlier releases still work."""

from __future__ import annotations

import dicomul
import dicomul.ul.events as ev
from dicomul.ul import pdu

OLD_TO_NEW = {
    "AssociationRequested": "AssociateIndication",
    "AssociationAccepted": "AssociateAcceptConfirmation",
    "AssociationRejectedEvent": "AssociateRejectConfirmation",
    "ReleaseRequested": "ReleaseIndication",
    "ReleaseConfirmed": "ReleaseConfirmation",
    "Aborted": "AbortIndication",
    "DataReceived": "DataIndication",
    "AssociateAccept": "AssociateAcceptResponse",
    "AssociateRejectRequest": "AssociateRejectResponse",
}


def test_old_names_are_the_new_classes() -> None:
    for old, new in OLD_TO_NEW.items():
        assert getattr(ev, old) is getattr(ev, new), old
        assert new in ev.__all__ and old not in ev.__all__


def test_every_primitive_name_says_its_direction() -> None:
    requests = {t.__name__ for t in ev.Request.__args__}  # type: ignore[attr-defined]
    events = {t.__name__ for t in ev.Event.__args__}  # type: ignore[attr-defined]
    assert all(n.endswith(("Request", "Response")) for n in requests), requests
    ps38 = events - {"PDUReceived", "TransportClosed"}  # (not PS3.8 primitives)
    assert all(n.endswith(("Indication", "Confirmation")) for n in ps38), ps38


def test_pdu_names() -> None:
    assert pdu.AbortPDU is dicomul.Abort is dicomul.AbortPDU
    assert pdu.AssociateRejectPDU is dicomul.AssociateReject is dicomul.AssociateRejectPDU
