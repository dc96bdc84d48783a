"""Small synthetic objects for the tests that store many (floods, load, HAProxy): an
Implicit VR Little Endian data set with its own SOP Instance UID, in the
``(bytes, transfer syntax, SOP class, SOP instance)`` form ``Association.store`` takes."""

from __future__ import annotations

import os

import pydicom
from pydicom.dataset import Dataset
from pydicom.uid import ImplicitVRLittleEndian

#: Secondary Capture Image Storage.
SC = "1.2.840.10008.5.1.4.1.1.7"


def tiny_dataset(i: int, patient_id: str = "") -> tuple[bytes, str, str, str]:
    """Object number ``i`` of this process (UIDs distinct across processes too)."""
    ds = Dataset()
    ds.SOPClassUID = SC
    ds.SOPInstanceUID = f"1.2.826.0.1.3680043.9.7433.{os.getpid()}.{i}"
    if patient_id:
        ds.PatientID = patient_id
    raw = pydicom.filebase.DicomBytesIO()
    raw.is_implicit_VR, raw.is_little_endian = True, True
    pydicom.filewriter.write_dataset(raw, ds)
    return raw.getvalue(), ImplicitVRLittleEndian, SC, ds.SOPInstanceUID
