"""A small generated archive for the Q/R tests: 6 patients (names with and without
upper case, a Latin-1 one, an apostrophe), 2 studies each on different dates and times,
the second with a CT and an MR series, 2 images per series: 36 files with distinct UIDs,
written as Part 10 files from CT_small's pixels.
"""

from __future__ import annotations

import os
from pathlib import Path

import pydicom
from pydicom.uid import generate_uid

NAMES = ["DOE^JOHN", "DOE^JANE", "SMITH^ANNA", "Smith^Bob", "MÜLLER^HANS", "O'NEIL^PAT"]


def write_archive(out: Path) -> list[Path]:
    """Write the files into ``out``; their paths."""
    src = pydicom.dcmread(
        os.path.join(os.path.dirname(pydicom.__file__), "data", "test_files", "CT_small.dcm")
    )
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for p, name in enumerate(NAMES):
        for s in range(2):
            study = generate_uid()
            for se, modality in enumerate(["CT", "MR"][: s + 1]):
                series = generate_uid()
                for i in range(2):
                    ds = src.copy()
                    ds.SpecificCharacterSet = "ISO_IR 100"
                    ds.PatientName, ds.PatientID = name, f"PID{p:03d}"
                    ds.PatientBirthDate, ds.PatientSex = f"19{50 + p}0101", "MF"[p % 2]
                    ds.StudyInstanceUID = study
                    ds.StudyDate = f"20{19 + s}{p + 1:02d}15"
                    ds.StudyTime = f"{8 + p:02d}{s * 30:02d}00"
                    ds.AccessionNumber, ds.StudyID = f"ACC{p}{s}", f"S{s}"
                    ds.StudyDescription = f"desc {p} {s}"
                    ds.SeriesInstanceUID, ds.Modality, ds.SeriesNumber = series, modality, se + 1
                    ds.SOPInstanceUID = generate_uid()
                    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
                    ds.InstanceNumber = i + 1
                    path = out / f"{p}_{s}_{se}_{i}.dcm"
                    ds.save_as(path)
                    paths.append(path)
    return paths
