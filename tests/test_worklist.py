"""Worklist items (dicomul.storage.worklist): loading DICOM JSON and DICOM files,
reloading when the directory changes, answering with the query's keys (sequence items
that match, with their keys); and the CLI's -k keys in DCMTK's syntax (dicomul.cli.keys)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from interop.archive_data import write_worklist
from pydicom.dataset import Dataset

from dicomul.cli.keys import KeyArgumentError, parse_keys
from dicomul.storage.worklist import Worklist

SPS = "ScheduledProcedureStepSequence[0]"


def test_items_from_dicom_and_json_files_and_reloads(tmp_path: Path) -> None:
    write_worklist(tmp_path)
    wl = Worklist(tmp_path)
    assert len(wl.items()) == 4
    item = Dataset()
    item.PatientName, item.PatientID = "JSON^PAT", "J1"
    sps = Dataset()
    sps.Modality = "CT"
    item.ScheduledProcedureStepSequence = [sps]
    (tmp_path / "extra.json").write_text(json.dumps([item.to_json_dict()]))
    (tmp_path / "broken.json").write_text("{not json")
    query = parse_keys(
        [f"{SPS}.Modality=CT", "PatientName", f"{SPS}.ScheduledStationAETitle"], None
    )
    found = wl.find(query)
    names = sorted(str(d.PatientName) for d in found)
    assert names == ["DOE^JOHN", "JSON^PAT", "SMITH^ANNA"]  # the new file, the bad one skipped
    john = next(d for d in found if d.PatientName == "DOE^JOHN")
    assert set(john.dir()) == {
        "PatientName",
        "ScheduledProcedureStepSequence",
        "SpecificCharacterSet",
    }
    step = john.ScheduledProcedureStepSequence[0]
    assert (step.Modality, step.ScheduledStationAETitle) == ("CT", "CT1")
    assert set(step.dir()) == {"Modality", "ScheduledStationAETitle"}


def test_a_missing_directory_is_an_empty_worklist(tmp_path: Path) -> None:
    assert Worklist(tmp_path / "nowhere").find(parse_keys(["PatientName"], None)) == []


def test_keys_in_dcmtk_syntax() -> None:
    ds = parse_keys(
        [
            f"{SPS}.Modality=CT",
            "(0040,0100)[0].(0040,0001)=CT1",
            "ScheduledProcedureStepSequence[1]",
            "00100010=DOE*",
            "0010,0020",
            "ReferencedStudySequence",
            "Rows=512",
        ],
        "STUDY",
    )
    assert ds.QueryRetrieveLevel == "STUDY"
    items = ds.ScheduledProcedureStepSequence
    assert len(items) == 2 and items[0].Modality == "CT"
    assert items[0].ScheduledStationAETitle == "CT1" and len(items[1]) == 0
    assert ds.PatientName == "DOE*" and ds.PatientID in ("", None)
    assert ds.ReferencedStudySequence == [] and ds.Rows == 512


@pytest.mark.parametrize(
    "key, why",
    [
        ("Nonsense=1", "unknown keyword"),
        ("PatientName[0].Modality=CT", "not a sequence"),
        ("ScheduledProcedureStepSequence.Modality=CT", "Sequence\\[0\\]"),
        ("ScheduledProcedureStepSequence=CT", "takes items"),
        ("Rows=many", "needs numbers"),
        ("(zzzz,0010)=1", "not a tag"),
        ("ScheduledProcedureStepSequence[999].Modality", "too large"),
    ],
)
def test_keys_that_cannot_be_understood_say_why(key: str, why: str) -> None:
    with pytest.raises(KeyArgumentError, match=why):
        parse_keys([key], None)
