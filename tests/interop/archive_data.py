"""A small generated archive for the Q/R tests: 6 patients (names with and without
upper case, a Latin-1 one, an apostrophe), 2 studies each on different dates and times,
the second with a CT and an MR series, 2 images per series: 36 files with distinct UIDs,
written as Part 10 files from CT_small's pixels. Beyond what the index holds, each study
has an Institution Name, a Patient's Age and a Procedure Code Sequence (one item, or two
for the second study), so that queries on other keys have something to match.
"""

from __future__ import annotations

import os
from pathlib import Path

import pydicom
from pydicom.dataset import Dataset
from pydicom.uid import generate_uid


def _code(value: str, meaning: str) -> Dataset:
    item = Dataset()
    item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = value, "LOCAL", meaning
    return item


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
                    ds.InstitutionName = ["JFK IMAGING CENTER", "St. Mary's", "Nord"][p % 3]
                    ds.PatientAge = f"0{40 + p}Y"
                    # (local time and its UTC offset: -0300 .. +0200)
                    ds.AcquisitionDateTime = f"{ds.StudyDate}{ds.StudyTime}{p - 3:+03d}00"
                    ds.ProcedureCodeSequence = [_code(f"P{p}{s}", f"proc {p} {s}")]
                    if s:
                        ds.ProcedureCodeSequence.append(_code("CTHEAD", "CT head"))
                    ds.SeriesInstanceUID, ds.Modality, ds.SeriesNumber = series, modality, se + 1
                    ds.SOPInstanceUID = generate_uid()
                    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
                    ds.InstanceNumber = i + 1
                    path = out / f"{p}_{s}_{se}_{i}.dcm"
                    ds.save_as(path)
                    paths.append(path)
    return paths


#: Worklist items: (patient name, modality, station AE, scheduled date)
WORKLIST = [
    ("DOE^JOHN", "CT", "CT1", "20261201"),
    ("DOE^JANE", "MR", "MR1", "20261202"),
    ("SMITH^ANNA", "CT", "CT2", "20261203"),
    ("Müller^Eva", "US", "US1", "20261203"),
]


def write_worklist(out: Path) -> list[Path]:
    """Modality Worklist items as Part 10 ``.wl`` files (as DCMTK's wlmscpfs keeps them,
    with the ``lockfile`` it wants) in ``out``."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian

    out.mkdir(parents=True, exist_ok=True)
    (out / "lockfile").touch()
    paths = []
    for i, (name, modality, ae, date) in enumerate(WORKLIST):
        ds = Dataset()
        ds.SpecificCharacterSet = "ISO_IR 100"
        ds.PatientName, ds.PatientID = name, f"P{i}"
        ds.PatientBirthDate, ds.PatientSex = f"19{70 + i}0101", "FM"[i % 2]
        ds.AccessionNumber, ds.RequestedProcedureID = f"A{i}", f"RP{i}"
        ds.RequestedProcedureDescription = f"procedure {i}"
        ds.StudyInstanceUID = generate_uid()
        ds.ReferringPhysicianName = "REF^DOC"
        sps = Dataset()
        sps.Modality, sps.ScheduledStationAETitle = modality, ae
        sps.ScheduledProcedureStepStartDate = date
        sps.ScheduledProcedureStepStartTime = f"{9 + i:02d}0000"
        sps.ScheduledPerformingPhysicianName = "PERF^DOC"
        sps.ScheduledProcedureStepDescription = f"step {i}"
        sps.ScheduledProcedureStepID, sps.ScheduledStationName = f"SPS{i}", "ST"
        ds.ScheduledProcedureStepSequence = [sps]
        ds.file_meta = FileMetaDataset()
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.31"
        ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        path = out / f"item{i}.wl"
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths
