"""The C-STORE's SOP Class/Instance UIDs come from the data set, not the file meta.

The header walk of _dataset_head is checked against pydicom over every sample file pydicom
ships (every transfer syntax they have), over data sets re-encoded in each native syntax
and deflated, and at every truncation of a small data set's head.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pydicom
import pytest

from dicomul.storage._dataset_head import sop_uids
from dicomul.storage.part10 import (
    FileMeta,
    StorageError,
    encode_dataset,
    prepare_dataset,
    read_part10,
)
from dicomul.storage.writer import encode_file_meta
from dicomul.sync.services import contexts_for_files

TEST_FILES = Path(os.path.dirname(pydicom.__file__)) / "data" / "test_files"


def _is_part10(path: Path) -> bool:
    with open(path, "rb") as f:
        return f.read(132)[128:] == b"DICM"


#: The Part 10 sample files (a few of pydicom's samples are raw data sets, no "DICM").
SAMPLES = [p for p in sorted(TEST_FILES.glob("*.dcm")) if _is_part10(p)]
ENCODINGS = {  # transfer syntax: (implicit, little)
    "1.2.840.10008.1.2": (True, True),
    "1.2.840.10008.1.2.1": (False, True),
    "1.2.840.10008.1.2.2": (False, False),
}


@pytest.mark.parametrize("path", SAMPLES, ids=[p.name for p in SAMPLES])
def test_dataset_uids_are_what_pydicom_reads(path: Path) -> None:
    ds = pydicom.dcmread(path, stop_before_pixels=True)
    try:
        p10 = read_part10(path)
    except StorageError:  # refused only when nothing says what it is
        meta = ds.file_meta
        assert not meta.get("TransferSyntaxUID") or not (
            (ds.get("SOPClassUID") or meta.get("MediaStorageSOPClassUID"))
            and (ds.get("SOPInstanceUID") or meta.get("MediaStorageSOPInstanceUID"))
        )
        return
    cls, inst = p10.dataset_uids()
    assert cls == str(ds.get("SOPClassUID") or p10.meta.sop_class_uid)
    assert inst == str(ds.get("SOPInstanceUID") or p10.meta.sop_instance_uid)


def test_samples_with_a_disagreeing_meta_send_the_data_sets_uids(caplog) -> None:
    """rtplan.dcm's file meta names another instance than its data set does (as real
    files sometimes do): DCMTK storescp answers 0xA900 to the meta's UID."""
    path = TEST_FILES / "rtplan.dcm"
    ds = pydicom.dcmread(path)
    assert ds.file_meta.MediaStorageSOPInstanceUID != ds.SOPInstanceUID  # the premise
    with caplog.at_level(logging.WARNING, logger="dicomul"):
        prep = prepare_dataset(path, ["1.2.840.10008.1.2"])
    prep.close()
    assert (prep.sop_class_uid, prep.sop_instance_uid) == (ds.SOPClassUID, ds.SOPInstanceUID)
    assert "differs from the file meta" in caplog.text
    assert contexts_for_files([path])[0][0] == ds.SOPClassUID


@pytest.mark.parametrize("ts", [*ENCODINGS, "1.2.840.10008.1.2.1.99"])
def test_each_encoding_and_every_truncation(tmp_path: Path, ts: str) -> None:
    ds = pydicom.dcmread(TEST_FILES / "CT_small.dcm")
    ds.SOPInstanceUID = "1.2.3.4.5.6.7"  # and a meta that says something else
    data = encode_dataset(ds, ts)
    path = tmp_path / "x.dcm"
    path.write_bytes(encode_file_meta(FileMeta(ts, "1.2.3", "9.9.9")) + data)
    assert read_part10(path).dataset_uids() == (ds.SOPClassUID, "1.2.3.4.5.6.7")
    if ts not in ENCODINGS:
        return
    implicit, little = ENCODINGS[ts]
    full = sop_uids(data, implicit, little, complete=True)
    assert full == (ds.SOPClassUID, "1.2.3.4.5.6.7")
    for cut in range(0, 600):  # a short head is "cannot tell" or the right answer
        got = sop_uids(data[:cut], implicit, little, complete=False)
        assert got in (None, full)


def test_undefined_length_before_the_uids_falls_back_to_pydicom(tmp_path: Path) -> None:
    from pydicom.dataset import Dataset
    from pydicom.sequence import Sequence

    ds = Dataset()
    ds.LanguageCodeSequence = Sequence([Dataset()])  # (0008,0006), before (0008,0016)
    ds.SOPClassUID, ds.SOPInstanceUID = "1.2.840.10008.5.1.4.1.1.7", "1.2.3.99"
    from pydicom.filebase import DicomBytesIO
    from pydicom.filewriter import write_dataset

    buf = DicomBytesIO()
    buf.is_implicit_VR, buf.is_little_endian = True, True
    for elem in ds:  # write the sequence with undefined length, as many writers do
        elem.is_undefined_length = elem.VR == "SQ"
    write_dataset(buf, ds)
    raw = buf.getvalue()
    assert sop_uids(raw, True, True, complete=True) is None  # the walk cannot tell
    path = tmp_path / "sq.dcm"
    path.write_bytes(encode_file_meta(FileMeta("1.2.840.10008.1.2", "1.2", "3.4")) + raw)
    assert read_part10(path).dataset_uids() == ("1.2.840.10008.5.1.4.1.1.7", "1.2.3.99")


def test_a_meta_without_sop_uids_takes_the_data_sets(tmp_path: Path) -> None:
    """No (0002,0002)/(0002,0003) in the meta: the data set's own UIDs stand in; a file
    with neither is refused, saying so."""
    ds = pydicom.dcmread(TEST_FILES / "CT_small.dcm")
    path = tmp_path / "nometa.dcm"
    meta = encode_file_meta(FileMeta("1.2.840.10008.1.2", "", ""))
    path.write_bytes(meta + encode_dataset(ds, "1.2.840.10008.1.2"))
    p10 = read_part10(path)
    assert (p10.meta.sop_class_uid, p10.meta.sop_instance_uid) == (
        ds.SOPClassUID, ds.SOPInstanceUID,
    )  # fmt: skip
    bare = pydicom.Dataset()
    bare.PatientName = "NOBODY"
    path.write_bytes(meta + encode_dataset(bare, "1.2.840.10008.1.2"))
    with pytest.raises(StorageError, match="no SOP Class/Instance UID"):
        read_part10(path)
