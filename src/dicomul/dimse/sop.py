"""SOP class UIDs the services use: Verification, every Storage SOP class, the
Query/Retrieve information models and Modality Worklist (PS3.4 Annexes A, B, C, K).

The tables come from :mod:`dicomul.dimse._sop_table`, generated from pydicom's UID
dictionary by scripts/gen_sop_table.py (tests/test_sop_table.py checks it against the
installed pydicom), so importing this module imports no pydicom. The storage table holds
every entry of type "SOP Class" whose name ends in "Storage", retired ones included (old
modalities still send them; DCMTK's storescp accepts them too).
:data:`STORAGE_SOP_CLASSES` maps UID -> name; :func:`name_of` names any UID.

:data:`QR_MODELS` maps the short model names the requestor API takes ("patient",
"study", "worklist", ...) to the SOP class per operation; :func:`model_uid` resolves a
name or a UID.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from dicomul.dimse import _sop_table

__all__ = [
    "VERIFICATION",
    "STORAGE_SOP_CLASSES",
    "TRANSFER_SYNTAXES",
    "UNCOMPRESSED_TRANSFER_SYNTAXES",
    "PATIENT_ROOT_FIND",
    "PATIENT_ROOT_MOVE",
    "PATIENT_ROOT_GET",
    "STUDY_ROOT_FIND",
    "STUDY_ROOT_MOVE",
    "STUDY_ROOT_GET",
    "PATIENT_STUDY_ONLY_FIND",
    "PATIENT_STUDY_ONLY_MOVE",
    "PATIENT_STUDY_ONLY_GET",
    "MODALITY_WORKLIST_FIND",
    "STORAGE_COMMITMENT_PUSH",
    "STORAGE_COMMITMENT_INSTANCE",
    "MPPS",
    "QR_MODELS",
    "FIND_SOP_CLASSES",
    "GET_SOP_CLASSES",
    "MOVE_SOP_CLASSES",
    "common_storage_classes",
    "is_storage",
    "model_uid",
    "name_of",
]

VERIFICATION = "1.2.840.10008.1.1"

PATIENT_ROOT_FIND = "1.2.840.10008.5.1.4.1.2.1.1"
PATIENT_ROOT_MOVE = "1.2.840.10008.5.1.4.1.2.1.2"
PATIENT_ROOT_GET = "1.2.840.10008.5.1.4.1.2.1.3"
STUDY_ROOT_FIND = "1.2.840.10008.5.1.4.1.2.2.1"
STUDY_ROOT_MOVE = "1.2.840.10008.5.1.4.1.2.2.2"
STUDY_ROOT_GET = "1.2.840.10008.5.1.4.1.2.2.3"
PATIENT_STUDY_ONLY_FIND = "1.2.840.10008.5.1.4.1.2.3.1"
PATIENT_STUDY_ONLY_MOVE = "1.2.840.10008.5.1.4.1.2.3.2"
PATIENT_STUDY_ONLY_GET = "1.2.840.10008.5.1.4.1.2.3.3"
MODALITY_WORKLIST_FIND = "1.2.840.10008.5.1.4.31"
#: Storage Commitment Push Model SOP Class and its well-known instance (PS3.4 J.3.5).
STORAGE_COMMITMENT_PUSH = "1.2.840.10008.1.20.1"
STORAGE_COMMITMENT_INSTANCE = "1.2.840.10008.1.20.1.1"
#: Modality Performed Procedure Step SOP Class (PS3.4 F.7).
MPPS = "1.2.840.10008.3.1.2.3.3"

#: Every Storage SOP class pydicom knows: UID -> name (PS3.4 B.5, retired ones included).
STORAGE_SOP_CLASSES: Mapping[str, str] = MappingProxyType(
    {uid: _sop_table.NAMES[uid] for uid in _sop_table.STORAGE}
)

#: Every transfer syntax pydicom knows, uncompressed ones first.
UNCOMPRESSED_TRANSFER_SYNTAXES: tuple[str, ...] = (
    "1.2.840.10008.1.2.1",  # Explicit VR Little Endian
    "1.2.840.10008.1.2",  # Implicit VR Little Endian
    "1.2.840.10008.1.2.1.99",  # Deflated Explicit VR Little Endian
    "1.2.840.10008.1.2.2",  # Explicit VR Big Endian (retired)
)
TRANSFER_SYNTAXES: tuple[str, ...] = UNCOMPRESSED_TRANSFER_SYNTAXES + tuple(
    uid for uid in _sop_table.TRANSFER_SYNTAXES if uid not in UNCOMPRESSED_TRANSFER_SYNTAXES
)

#: Short model names -> {"find"|"get"|"move": SOP class UID}.
QR_MODELS: Mapping[str, Mapping[str, str]] = MappingProxyType(
    {
        "patient": MappingProxyType(
            {"find": PATIENT_ROOT_FIND, "get": PATIENT_ROOT_GET, "move": PATIENT_ROOT_MOVE}
        ),
        "study": MappingProxyType(
            {"find": STUDY_ROOT_FIND, "get": STUDY_ROOT_GET, "move": STUDY_ROOT_MOVE}
        ),
        "psonly": MappingProxyType(
            {
                "find": PATIENT_STUDY_ONLY_FIND,
                "get": PATIENT_STUDY_ONLY_GET,
                "move": PATIENT_STUDY_ONLY_MOVE,
            }
        ),
        "worklist": MappingProxyType({"find": MODALITY_WORKLIST_FIND}),
    }
)

FIND_SOP_CLASSES: frozenset[str] = frozenset(m["find"] for m in QR_MODELS.values() if "find" in m)
GET_SOP_CLASSES: frozenset[str] = frozenset(m["get"] for m in QR_MODELS.values() if "get" in m)
MOVE_SOP_CLASSES: frozenset[str] = frozenset(m["move"] for m in QR_MODELS.values() if "move" in m)


def is_storage(uid: str) -> bool:
    """Whether ``uid`` is a Storage SOP class known to pydicom."""
    return uid in STORAGE_SOP_CLASSES


def model_uid(model: str, operation: str) -> str:
    """The SOP class of a Q/R ``operation`` ("find", "get", "move") for ``model``: a short
    name from :data:`QR_MODELS` (case-insensitive) or a UID, returned as given.

    Raises ValueError for an unknown name or an operation the model does not have."""
    if model and model[0].isdigit():
        return model
    entry = QR_MODELS.get(model.lower())
    if entry is None:
        raise ValueError(
            f"unknown query/retrieve model {model!r}: use one of {sorted(QR_MODELS)} or a UID"
        )
    uid = entry.get(operation)
    if uid is None:
        raise ValueError(f"the {model!r} model has no {operation.upper()} SOP class")
    return uid


def name_of(uid: str) -> str:
    """The dictionary name of a UID, or the UID itself when pydicom does not know it."""
    return _sop_table.NAMES.get(uid, uid)


# Name fragments of the storage SOP classes a retrieving SCU is most likely to receive,
# most common first (CT, MR, projection X-ray, US, SC, NM/PET, RT, SR and key objects,
# presentation states, encapsulated documents, ...). Used to choose which classes to
# propose when there is room for fewer than all of them (128 contexts per association).
_COMMON = (
    "CT Image",
    "MR Image",
    "Computed Radiography",
    "Digital X-Ray",
    "Digital Mammography",
    "Ultrasound",
    "Secondary Capture",
    "Nuclear Medicine",
    "Positron Emission",
    "RT ",
    "SR Storage",
    "Key Object",
    "Presentation State",
    "Encapsulated",
    "X-Ray Angiographic",
    "X-Ray Radiofluoroscopic",
    "Segmentation",
    "Registration",
    "ECG",
    "Waveform",
    "VL ",
    "Raw Data",
    "Ophthalmic",
    "Breast",
    "Enhanced",
    "Legacy Converted",
)


def common_storage_classes(limit: int = 127) -> list[str]:
    """At most ``limit`` storage SOP class UIDs, the most commonly exchanged first:
    current classes matching :data:`_COMMON` in that order, then the other current
    ones, then retired ones (by UID)."""

    def rank(uid: str) -> tuple[int, int, str]:
        name = STORAGE_SOP_CLASSES[uid]
        retired = int(uid in _sop_table.RETIRED_STORAGE)
        first = next((i for i, frag in enumerate(_COMMON) if frag in name), len(_COMMON))
        return retired, first, uid

    return sorted(STORAGE_SOP_CLASSES, key=rank)[:limit]
