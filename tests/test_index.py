"""The archive index (dicomul.storage.index) against the C.2.2.2 matching rules of
dicomul.storage.matching over the same data sets: every matching kind on every indexed
attribute, by hand and by hypothesis over generated queries; levels, counts, restart,
pruning; and the matching module itself on the standard's examples."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pydicom
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from interop.archive_data import write_archive
from pydicom.datadict import dictionary_VR, tag_for_keyword
from pydicom.dataset import Dataset

from dicomul.storage.index import FIELDS, ArchiveIndex
from dicomul.storage.matching import in_range, key_kind, matches

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def indexed(tmp_path_factory: pytest.TempPathFactory) -> tuple[ArchiveIndex, list[Any]]:
    tmp = tmp_path_factory.mktemp("index")
    paths = write_archive(tmp / "files")
    index = ArchiveIndex(tmp / "files")
    done, skipped = index.add_tree(tmp / "files")
    assert (done, skipped) == (36, 0)
    return index, [pydicom.dcmread(p, stop_before_pixels=True) for p in paths]


def _q(level: str, **keys: Any) -> Dataset:
    """A query; a key's value may be a dict: a sequence key with one item of those keys."""
    ds = Dataset()
    ds.QueryRetrieveLevel = level
    for kw, value in keys.items():
        if isinstance(value, dict):
            item = Dataset()
            for k, v in value.items():
                setattr(item, k, v)
            ds.add_new(tag_for_keyword(kw), "SQ", [item])
        elif kw in FIELDS:
            ds.add_new(FIELDS[kw].tag, FIELDS[kw].vr, value)
        else:
            ds.add_new(tag_for_keyword(kw), dictionary_VR(tag_for_keyword(kw)), value)
    return ds


_UNIQUE = {"PATIENT": "PatientID", "STUDY": "StudyInstanceUID",
           "SERIES": "SeriesInstanceUID", "IMAGE": "SOPInstanceUID"}  # fmt: skip


def _oracle(query: Dataset, datasets: list[Any]) -> set[str]:
    """The unique keys of the level whose instances match, by dicomul.storage.matching."""
    key = _UNIQUE[query.QueryRetrieveLevel]
    return {str(ds.get(key)) for ds in datasets if matches(query, ds)}


def _found(index: ArchiveIndex, query: Dataset) -> set[str]:
    key = _UNIQUE[query.QueryRetrieveLevel]
    q = query.copy()
    if key not in q:
        q.add_new(FIELDS[key].tag, FIELDS[key].vr, None)
    return {str(ds.get(key)) for ds in index.find(q)}


CASES = [
    ("STUDY", {"PatientID": "PID003"}),
    ("STUDY", {"PatientName": "DOE*"}),
    ("STUDY", {"PatientName": "*o*"}),  # PN: any case
    ("STUDY", {"PatientName": "?OE^JAN?"}),
    ("STUDY", {"PatientName": "müller^hans"}),
    ("STUDY", {"StudyDate": "20190101-20190331"}),
    ("STUDY", {"StudyDate": "-20190301"}),
    ("STUDY", {"StudyDate": "20200401-"}),
    ("STUDY", {"StudyTime": "1000-1130"}),
    ("STUDY", {"StudyTime": "1030"}),
    ("STUDY", {"AccessionNumber": "ACC2?"}),
    ("STUDY", {"StudyDescription": "desc 1*", "StudyDate": "2020*"}),  # (no wildcards in DA)
    ("SERIES", {"Modality": "MR"}),
    ("SERIES", {"Modality": "C*", "PatientSex": "F"}),
    ("IMAGE", {"InstanceNumber": "2", "PatientBirthDate": "19500101-19521231"}),
    ("PATIENT", {"PatientName": "*^*A*"}),
    ("PATIENT", {}),
    # keys the index does not hold: matched on the files
    ("STUDY", {"InstitutionName": "St*"}),
    ("STUDY", {"InstitutionName": "Nord", "PatientID": "PID002"}),
    ("STUDY", {"PatientAge": "041Y"}),
    ("SERIES", {"InstitutionName": "JFK*", "Modality": "MR"}),
    ("IMAGE", {"PatientAge": "04?Y", "InstanceNumber": "1"}),
    ("STUDY", {"ProcedureCodeSequence": {"CodeValue": "CTHEAD"}}),
    ("STUDY", {"ProcedureCodeSequence": {"CodeValue": "P1*", "CodeMeaning": ""}}),
    ("STUDY", {"ProcedureCodeSequence": {"CodeValue": "P3?", "CodingSchemeDesignator": "OTHER"}}),
    ("STUDY", {"ProcedureCodeSequence": {}, "InstitutionName": ""}),  # universal: all
    ("IMAGE", {"AcquisitionDateTime": "20190101000000+0000-20190401000000+0000"}),
    ("SERIES", {"AcquisitionDateTime": "-20200301120000-0100", "Modality": "CT"}),
    ("IMAGE", {"AcquisitionDateTime": "2020-"}),
]


@pytest.mark.parametrize("level, keys", CASES)
def test_the_index_matches_as_the_rules_say(indexed: Any, level: str, keys: dict[str, str]) -> None:
    index, datasets = indexed
    query = _q(level, **keys)
    assert _found(index, query) == _oracle(query, datasets)


def test_a_query_with_no_keys_is_answered(indexed: Any) -> None:
    index, datasets = indexed  # (only the level: it raised ValueError in zip())
    found = list(index.find(_q("STUDY")))
    assert len(found) == len({str(d.StudyInstanceUID) for d in datasets})
    assert all(d.QueryRetrieveLevel == "STUDY" for d in found)


def test_uid_lists_and_counts(indexed: Any) -> None:
    index, datasets = indexed
    studies = sorted({str(d.StudyInstanceUID) for d in datasets})
    q = _q("STUDY", StudyInstanceUID="\\".join(studies[:3] + ["1.2.3"]))
    q.NumberOfStudyRelatedInstances = None
    q.NumberOfStudyRelatedSeries = None
    q.ModalitiesInStudy = None
    found = list(index.find(q))
    assert sorted(str(d.StudyInstanceUID) for d in found) == studies[:3]
    for d in found:
        mine = [x for x in datasets if x.StudyInstanceUID == d.StudyInstanceUID]
        assert int(d.NumberOfStudyRelatedInstances) == len(mine)
        assert int(d.NumberOfStudyRelatedSeries) == len({x.SeriesInstanceUID for x in mine})
        assert sorted(d.ModalitiesInStudy if d["ModalitiesInStudy"].VM > 1
                      else [d.ModalitiesInStudy]) == sorted({x.Modality for x in mine})  # fmt: skip


def test_keys_beyond_the_index_are_answered_from_the_files(indexed: Any) -> None:
    index, datasets = indexed
    q = _q("STUDY", PatientID="PID001", StudyDate="", InstitutionName="", PatientAge="",
           ProcedureCodeSequence={"CodeValue": "", "CodeMeaning": "proc*"})  # fmt: skip
    q.add_new(0x00091010, "LO", None)  # a private key: returned empty
    q.add_new(0x00080000, "UL", 1234)  # a group length (some toolkits send them): no key
    found = sorted(index.find(q), key=lambda d: str(d.StudyDate))
    mine = sorted((d for d in datasets if d.PatientID == "PID001"), key=lambda d: str(d.StudyDate))
    assert len(found) == 2
    for d, want in zip(found, mine[:: len(mine) // 2], strict=True):
        assert d.InstitutionName == "St. Mary's" and d.PatientAge == "041Y"
        codes = [(i.CodeValue, i.CodeMeaning) for i in d.ProcedureCodeSequence]
        assert codes == [(i.CodeValue, i.CodeMeaning) for i in want.ProcedureCodeSequence
                         if i.CodeMeaning.startswith("proc")]  # fmt: skip
        assert d[0x00091010].value in ("", None)
    q = _q("STUDY", PatientID="PID000", InstitutionName="nobody")
    assert list(index.find(q)) == []
    assert len(list(index.find(_q("STUDY", InstitutionName="St*"), limit=1))) == 1
    with pytest.raises(ValueError, match="Query/Retrieve Level"):
        list(index.find(_q("FRAME")))


def test_retrieval_filters_on_keys_beyond_the_index(indexed: Any) -> None:
    index, datasets = indexed
    q = _q("STUDY", ProcedureCodeSequence={"CodeValue": "CTHEAD"}, PatientName="DOE*")
    want = {str(d.SOPInstanceUID) for d in datasets if matches(q, d)}
    assert want and {i.sop_instance_uid for i in index.instances(q)} == want


def test_a_file_gone_behind_the_index_is_not_answered(tmp_path: Path) -> None:
    paths = write_archive(tmp_path / "files")[:4]  # patient 0: study 0 (2 files), study 1
    index = ArchiveIndex(tmp_path / "files")
    for p in paths:
        index.add(p)
    for p in paths[:2]:
        p.unlink()
    q = _q("STUDY", InstitutionName="JFK*", StudyInstanceUID="")
    found = list(index.find(q))
    assert [str(d.StudyInstanceUID) for d in found] == [
        str(pydicom.dcmread(paths[2]).StudyInstanceUID)
    ]


def _values(datasets: list[Any], kw: str) -> list[str]:
    return sorted({str(d.get(kw, "")) for d in datasets if str(d.get(kw, ""))})


#: Keys the index does not hold (matched on the files) that the generated queries use.
_BEYOND = ["InstitutionName", "PatientAge"]


@st.composite
def queries(draw: Any, datasets: list[Any]) -> Dataset:
    level = draw(st.sampled_from(["PATIENT", "STUDY", "SERIES", "IMAGE"]))
    keys: dict[str, str] = {}
    names = [*sorted(FIELDS), *_BEYOND]
    for kw in draw(st.lists(st.sampled_from(names), max_size=3, unique=True)):
        vr = FIELDS[kw].vr if kw in FIELDS else dictionary_VR(tag_for_keyword(kw))
        value = draw(st.sampled_from(_values(datasets, kw) or [""]))
        kind = draw(st.sampled_from(["single", "wild", "range", "list", "universal"]))
        if kind == "universal":
            value = ""
        elif kind == "wild" and vr not in ("DA", "TM", "UI", "IS") and value:
            cut = draw(st.integers(0, len(value)))
            mark = draw(st.sampled_from(["*", "?"]))
            value = value[:cut] + mark + value[cut + (mark == "?") :]
            if vr == "PN":
                value = draw(st.sampled_from([value, value.lower(), value.upper()]))
        elif kind == "range" and vr in ("DA", "TM") and value:
            other = draw(st.sampled_from(_values(datasets, kw)))
            low, high = sorted([value, other])
            value = draw(st.sampled_from([f"{low}-{high}", f"-{high}", f"{low}-"]))
        elif kind == "list" and vr == "UI":
            value = "\\".join(draw(st.lists(st.sampled_from(_values(datasets, kw)), min_size=1,
                                            max_size=3)))  # fmt: skip
        keys[kw] = value
    return _q(level, **keys)


def test_generated_queries_match_as_the_rules_say(indexed: Any) -> None:
    index, datasets = indexed

    @settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
    @given(queries(datasets))
    def check(query: Dataset) -> None:
        assert _found(index, query) == _oracle(query, datasets), query

    check()


def test_the_index_persists_and_forgets_gone_files(tmp_path: Path) -> None:
    paths = write_archive(tmp_path / "files")[:3]
    index = ArchiveIndex(tmp_path / "files")
    for p in paths:
        index.add(p)
    index.close()
    again = ArchiveIndex(tmp_path / "files")
    assert len(again) == 3
    uid = str(pydicom.dcmread(paths[0]).SOPInstanceUID)
    assert again.locate(uid) == Path(os.path.abspath(paths[0]))
    paths[0].unlink()
    assert again.prune() == 1 and len(again) == 2 and again.locate(uid) is None


# ---- the matching rules ---------------------------------------------------------------


def test_key_kinds() -> None:
    assert key_kind("PN", "") == "universal"
    assert key_kind("UI", "1.2\\1.3") == "list"
    assert key_kind("DA", "20200101-") == "range"
    assert key_kind("DA", "2020*") == "single"  # no wildcards in dates (C.2.2.2.4)
    assert key_kind("LO", "a*") == "wildcard"
    assert key_kind("SQ", []) == "universal"


def test_ranges_include_their_bounds_to_their_precision() -> None:
    assert in_range("TM", "120059", "1100-1200")
    assert not in_range("TM", "120100", "1100-1200")
    assert in_range("TM", "12:00:59", "-1200")
    assert in_range("DA", "20200101", "20200101-20200101")
    assert not in_range("DA", "20191231", "20200101-")


def test_date_times_with_utc_offsets_are_compared_as_instants() -> None:
    assert key_kind("DT", "20200101120000-0500") == "single"  # (a negative offset)
    assert key_kind("DT", "20200101-20200102") == "range"
    same = "20200101120000+0000-20200101120000+0000"
    assert in_range("DT", "20200101070000-0500", same)  # 07:00 at -0500 is 12:00 UTC
    assert in_range("DT", "20200101130000+0100", same)
    assert not in_range("DT", "20200101120000+0100", same)
    assert in_range("DT", "20200101070000-0500", "20200101-0500-20200101-0500")
    assert not in_range("DT", "20200101070000-0500", "-20200101065959-0500")
    # a side without an offset is read in the other's: wall-clock times compared
    assert in_range("DT", "20200101120000+0100", "20200101115959-20200101120000")
    assert not in_range("DT", "20200101120000+0100", "20200101110000-20200101110059")
    # a bound's precision includes all of it, with offsets too
    assert in_range("DT", "20200229235959.5+0000", "20200229+0000-20200229+0000")
    assert not in_range("DT", "20200301000000+0000", "-202002+0000")
    assert in_range("DT", "2020", "2019-2020") and not in_range("DT", "20200315", "-202002")
    assert not in_range("DT", "not a date+0100", "2019-2020")


def test_sequence_matching_needs_one_item_matching_every_key() -> None:
    item1, item2 = Dataset(), Dataset()
    item1.Modality, item1.ScheduledStationAETitle = "CT", "CT1"
    item2.Modality, item2.ScheduledStationAETitle = "MR", "MR1"
    cand = Dataset()
    cand.ScheduledProcedureStepSequence = [item1, item2]
    cand.PatientName = "DOE^JOHN"
    q_item = Dataset()
    q_item.Modality, q_item.ScheduledStationAETitle = "MR", "MR*"
    q = Dataset()
    q.ScheduledProcedureStepSequence = [q_item]
    q.PatientName = ""
    assert matches(q, cand)
    q_item.ScheduledStationAETitle = "CT1"  # each key matches some item, but not one item
    assert not matches(q, cand)
    q.ScheduledProcedureStepSequence = []  # an empty sequence key: universal
    assert matches(q, cand)


def test_the_fast_header_walk_reads_what_pydicom_reads(tmp_path: Path) -> None:
    """row_of walks the first bytes of a file for the indexed elements; where it cannot
    (undefined lengths first, non-ASCII text, deflated) pydicom reads the file. Both must
    give the same row, over every sample file pydicom ships and the generated archive."""
    import glob
    import os
    import warnings

    from dicomul.storage.index import _fast_values

    index = ArchiveIndex(tmp_path / "ix")
    samples = glob.glob(os.path.join(os.path.dirname(pydicom.__file__), "data", "test_files",
                                     "**", "*.dcm"), recursive=True)  # fmt: skip
    files = [*write_archive(tmp_path / "a"), *map(Path, samples)]
    compared = fast = 0
    for f in files:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                slow = index.row_of(f, pydicom.dcmread(f, stop_before_pixels=True))
            except Exception:  # noqa: BLE001 - not a file pydicom reads: nothing to compare
                continue
            got = index.row_of(f)
        compared += 1
        fast += _fast_values(f) is not None
        assert got[:-2] == slow[:-2], f
    assert compared > 80 and fast > compared // 2


def test_workers_opening_one_new_index_at_once(tmp_path: Path) -> None:
    """qrscp --workers N opens the index N times at once: the schema is checked and made
    by one at a time (none sees a half-made one), and an index of another layout is
    refused with a clear message."""
    import sqlite3
    import threading

    barrier = threading.Barrier(6)
    errors: list[BaseException] = []
    opened: list[ArchiveIndex] = []

    def open_it() -> None:
        barrier.wait(10)
        try:
            opened.append(ArchiveIndex(tmp_path / "one-index"))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=open_it) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors and len(opened) == 6
    for index in opened:
        index.close()
    db = sqlite3.connect(tmp_path / "one-index" / "index.sqlite")
    db.execute("PRAGMA user_version=99")
    db.close()
    with pytest.raises(ValueError, match="another layout"):
        ArchiveIndex(tmp_path / "one-index")


def test_beyond_the_index_review_cases(tmp_path: Path) -> None:
    """Keys beyond the index: a row matches when any of its instances' files does; a
    sequence key with an empty item (or only return keys) is universal and returns the
    whole sequence; control keys are not matched; a row whose first file is gone is
    still answered."""
    paths = write_archive(tmp_path / "files")
    for i, p in enumerate(paths):
        ds = pydicom.dcmread(p)
        ds.ImageComments = f"img{i}"
        if ds.PatientID == "PID000":
            del ds.ProcedureCodeSequence
        ds.save_as(p)
    index = ArchiveIndex(tmp_path / "files")
    for p in paths:
        index.add(p)
    datasets = [pydicom.dcmread(p, stop_before_pixels=True) for p in paths]
    for level in ("PATIENT", "STUDY", "SERIES", "IMAGE"):
        q = _q(level, ImageComments="img3")  # the second file of its series
        assert len(_found(index, q)) == len(_oracle(q, datasets)) == 1, level
    q = _q("STUDY", PatientID="", ProcedureCodeSequence={})
    found = list(index.find(q))
    assert len(found) == 12
    for d in found:
        want = [x for x in datasets if x.PatientID == d.PatientID]
        if d.PatientID == "PID000":
            assert len(d.ProcedureCodeSequence) == 0
        else:
            assert len(d.ProcedureCodeSequence) in (1, 2) and d.ProcedureCodeSequence[0].CodeValue
        assert want
    q = _q("STUDY", ProcedureCodeSequence={"CodeValue": ""})  # findscu's return key
    assert len(list(index.find(q))) == 12
    q = _q("STUDY", StudyInstanceUID="")
    q.TimezoneOffsetFromUTC = "+0100"
    q.RetrieveAETitle = "ARCHIVE"
    q.InstanceAvailability = "ONLINE"
    assert len(list(index.find(q))) == 12 and len(index.instances(q)) == 36
    first = min(str(p) for p in paths if p.name.startswith("1_0_"))
    Path(first).unlink()  # a study's first file gone: answered from the next one
    q = _q("STUDY", PatientID="PID001", InstitutionName="", StudyDate="")
    found = list(index.find(q))
    assert len(found) == 2 and all(d.InstitutionName == "St. Mary's" for d in found)


def test_date_time_ranges_and_offsets_are_told_apart() -> None:
    assert key_kind("DT", "2019-2020") == "range"  # (-2020 is no UTC offset)
    assert key_kind("DT", "20200101120000-1959") == "range"
    assert key_kind("DT", "20200101120000-0500 ") == "single"
    assert in_range("DT", "2020", "2019-2020")
    assert not in_range("DT", "99991231230000-0500", "-9999+0000")  # (no OverflowError)
    assert not in_range("DT", "00010101000000+0100", "0001-")
    assert in_range("DT", "20201231235960+0000", "2020+0000-2020+0000")  # a leap second
