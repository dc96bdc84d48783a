"""``dicomul qrscp`` (the real CLI process) against DCMTK, with DCMTK's dcmqrscp as the
oracle: the same 36 generated files (archive_data.py) are stored into qrscp with
storescu (ingest: indexed as they arrive) and indexed for dcmqrscp with dcmqridx, then
findscu asks both the same queries, every C.2.2.2 matching kind, at every level of
Study Root and Patient Root, and the answers must be the same. getscu and movescu
retrieve the same instances from both; pynetdicom queries qrscp too.

Where dicomul departs from dcmqrscp on purpose it is asserted on its own: PN matching
ignores case (PS3.4 C.2.2.2.1 allows it; dcmqrscp is case-sensitive), and the counts
(Number of Study Related Instances, Modalities in Study) dcmqrscp does not compute.

The index survives a restart; a file removed behind the index's back is reported as a
failed sub-operation, never served, and ``dicomul index --prune`` forgets it.
Every process is stopped by its PID; every wait is bounded.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pydicom
import pytest

from . import capture_dcmtk as cap
from .archive_data import write_archive
from .test_haproxy import wait_port as _wait_port

pytestmark = [pytest.mark.interop, pytest.mark.timeout(180)]

T = 20.0
TS = ["-to", "10", "-ta", "10", "-td", "20"]


def _dcmtk(name: str) -> str:
    path = cap.find_dcmtk(name) or f"/usr/bin/{name}"
    if not os.path.exists(path):
        pytest.skip(f"DCMTK {name} is not installed")
    return path


def _run(argv: list[str], timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=cap._env())


def start_qrscp(
    storage: Path, destinations: Path | None = None, *extra: str
) -> tuple[subprocess.Popen[Any], int]:
    port = cap._free_port()
    argv = [
        sys.executable,
        "-m",
        "dicomul",
        "qrscp",
        str(port),
        "--bind",
        "127.0.0.1",
        "--workers",
        "1",
        "--storage",
        str(storage),
        "-aet",
        "ARCHIVE",
    ]
    if destinations is not None:
        argv += ["--destinations", str(destinations)]
    argv += extra
    storage.parent.mkdir(parents=True, exist_ok=True)
    log = open(storage.parent / f"qrscp-{port}.log", "wb")  # noqa: SIM115 - the process's
    proc = subprocess.Popen(
        argv,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env=cap._env(),
    )
    _wait_port(port, proc)
    return proc, port


@pytest.fixture(scope="module")
def archives(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """qrscp and dcmqrscp over the same files, and a DCMTK storescp "DEST" that both
    know as their C-MOVE destination."""
    tmp = tmp_path_factory.mktemp("qr")
    files = write_archive(tmp / "files")
    started: list[subprocess.Popen[Any]] = []
    try:
        dest_port = cap._free_port()
        dest_dir = tmp / "dest"
        dest_dir.mkdir()
        dest = subprocess.Popen(
            [_dcmtk("storescp"), "-aet", "DEST", "-od", str(dest_dir), str(dest_port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=cap._env(),
        )
        started.append(dest)
        (tmp / "destinations.txt").write_text(f"# test\nDEST 127.0.0.1 {dest_port}\n")
        qr, qr_port = start_qrscp(tmp / "archive", tmp / "destinations.txt")
        started.append(qr)
        stored = _run(
            [
                _dcmtk("storescu"),
                *TS,
                "-aec",
                "ARCHIVE",
                "127.0.0.1",
                str(qr_port),
                *map(str, files),
            ]
        )
        assert stored.returncode == 0, stored.stderr
        db = tmp / "db"
        db.mkdir()
        idx = _run([_dcmtk("dcmqridx"), str(db), *map(str, files)])
        assert idx.returncode == 0, idx.stderr
        dq_port = cap._free_port()
        cfg = tmp / "dcmqrscp.cfg"
        cfg.write_text(
            f"NetworkTCPPort = {dq_port}\nMaxPDUSize = 16384\nMaxAssociations = 16\n"
            f"HostTable BEGIN\ndest = (DEST, localhost, {dest_port})\nHostTable END\n"
            "VendorTable BEGIN\nVendorTable END\n"
            f"AETable BEGIN\nDCMQR {db} RW (100, 1024mb) ANY\nAETable END\n"
        )
        # (forking, not -s: dcmqrscp 3.6.7 -s crashes with SIGSEGV after an association)
        dq_log = open(tmp / "dcmqrscp.log", "wb")  # noqa: SIM115 - closed with the process
        dq = subprocess.Popen(
            [_dcmtk("dcmqrscp"), "-c", str(cfg), str(dq_port)],
            stdout=dq_log,
            stderr=subprocess.STDOUT,
            env=cap._env(),
        )
        started.append(dq)
        _wait_port(dq_port, dq)
        _wait_port(dest_port, dest)
        studies = sorted(
            {str(pydicom.dcmread(f, stop_before_pixels=True).StudyInstanceUID) for f in files}
        )
        yield {
            "tmp": tmp,
            "files": files,
            "qr": qr_port,
            "dq": dq_port,
            "dest": dest_dir,
            "studies": studies,
            "qr_proc": qr,
        }
    finally:
        for proc in started:
            cap._stop(proc)


def findscu(port: int, aec: str, model: str, keys: list[str], out: Path) -> list[Any]:
    """The response identifiers findscu got (-X writes each to a file)."""
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    argv = [_dcmtk("findscu"), *TS, model, "-aec", aec, "-X", "-od", str(out)]
    for k in keys:
        argv += ["-k", k]
    r = _run([*argv, "127.0.0.1", str(port)])
    assert r.returncode == 0, r.stderr + r.stdout
    return [pydicom.dcmread(p, force=True) for p in sorted(out.glob("rsp*.dcm"))]


_SKIP = {0x00080005, 0x00080052, 0x00080054, 0x00080056}  # charset, level, AE, availability


def answers(rsps: list[Any]) -> list[tuple[Any, ...]]:
    """Each response as sorted (tag, value) pairs, the list sorted: order-free."""
    out = []
    for ds in rsps:
        out.append(
            tuple(
                sorted(
                    (int(e.tag), str(e.value if e.value is not None else ""))
                    for e in ds
                    if int(e.tag) not in _SKIP
                )
            )
        )
    return sorted(out)


def both(archives: Any, model: str, keys: list[str], name: str) -> tuple[list[Any], list[Any]]:
    tmp = archives["tmp"]
    ours = findscu(archives["qr"], "ARCHIVE", model, keys, tmp / f"ours-{name}")
    theirs = findscu(archives["dq"], "DCMQR", model, keys, tmp / f"theirs-{name}")
    return ours, theirs


STUDY = "QueryRetrieveLevel=STUDY"
QUERIES: dict[str, tuple[str, list[str]]] = {
    "single-value": (
        "-S",
        [STUDY, "PatientID=PID002", "StudyInstanceUID", "StudyDate", "PatientName"],
    ),
    "wildcard-star": ("-S", [STUDY, "PatientName=DOE*", "StudyInstanceUID", "AccessionNumber"]),
    "wildcard-question": ("-S", [STUDY, "PatientName=?OE^J*", "StudyInstanceUID"]),
    "apostrophe": ("-S", [STUDY, "PatientName=O'NEIL*", "StudyDescription"]),
    "date-range": ("-S", [STUDY, "StudyDate=20190101-20190430", "StudyInstanceUID", "PatientID"]),
    "date-up-to": ("-S", [STUDY, "StudyDate=-20190301", "StudyInstanceUID", "StudyDate"]),
    "date-from": ("-S", [STUDY, "StudyDate=20200501-", "StudyInstanceUID", "StudyDate"]),
    "time-range": ("-S", [STUDY, "StudyTime=0900-1130", "StudyInstanceUID", "StudyTime"]),
    "accession": ("-S", [STUDY, "AccessionNumber=ACC31", "StudyInstanceUID", "StudyID"]),
    "universal": (
        "-S",
        [
            STUDY,
            "StudyInstanceUID",
            "PatientName",
            "PatientID",
            "StudyDate",
            "StudyTime",
            "AccessionNumber",
            "StudyDescription",
            "PatientBirthDate",
            "PatientSex",
        ],
    ),
    "uid-list": ("-S", [STUDY, "StudyInstanceUID={s0}\\{s3}\\1.2.3.4.404", "StudyDate"]),
    "series-level": (
        "-S",
        [
            "QueryRetrieveLevel=SERIES",
            "StudyInstanceUID={s1}",
            "SeriesInstanceUID",
            "Modality",
            "SeriesNumber",
        ],
    ),
    "series-modality": (
        "-S",
        ["QueryRetrieveLevel=SERIES", "StudyInstanceUID={s1}", "Modality=MR", "SeriesInstanceUID"],
    ),
    "image-level": (
        "-S",
        [
            "QueryRetrieveLevel=IMAGE",
            "StudyInstanceUID={s1}",
            "SeriesInstanceUID",
            "SOPInstanceUID",
            "InstanceNumber",
        ],
    ),
    "patient-root-patient": (
        "-P",
        [
            "QueryRetrieveLevel=PATIENT",
            "PatientName=M*",
            "PatientID",
            "PatientBirthDate",
            "PatientSex",
        ],
    ),
    "patient-root-all-patients": ("-P", ["QueryRetrieveLevel=PATIENT", "PatientName", "PatientID"]),
    "patient-root-study": ("-P", [STUDY, "PatientID=PID001", "StudyInstanceUID", "StudyDate"]),
}


@pytest.mark.parametrize("name", sorted(QUERIES))
def test_qrscp_answers_as_dcmqrscp_does(archives: Any, name: str) -> None:
    model, keys = QUERIES[name]
    s = archives["studies"]
    keys = [k.format(s0=s[0], s1=_two_series_study(archives), s3=s[3]) for k in keys]
    ours, theirs = both(archives, model, keys, name)
    assert answers(ours) == answers(theirs), name
    assert theirs or name == "never-empty", f"{name}: the oracle found nothing to compare"


def _two_series_study(archives: Any) -> str:
    """A study with a CT and an MR series (the second study of patient 0)."""
    ds = pydicom.dcmread(archives["tmp"] / "files" / "0_1_1_0.dcm", stop_before_pixels=True)
    return str(ds.StudyInstanceUID)


def test_person_names_match_without_regard_to_case(archives: Any) -> None:
    keys = [STUDY, "PatientName=smith*", "StudyInstanceUID"]
    ours = findscu(archives["qr"], "ARCHIVE", "-S", keys, archives["tmp"] / "case")
    assert sorted(str(d.PatientName) for d in ours) == ["SMITH^ANNA"] * 2 + ["Smith^Bob"] * 2
    assert len(ours) == 4
    upper = findscu(
        archives["dq"],
        "DCMQR",
        "-S",
        [*keys[:1], "PatientName=SMITH*", *keys[2:]],
        archives["tmp"] / "case-dq",
    )
    lower = findscu(
        archives["dq"],
        "DCMQR",
        "-S",
        [*keys[:1], "PatientName=Smith*", *keys[2:]],
        archives["tmp"] / "case-dq2",
    )
    assert answers(ours) == sorted(answers(upper) + answers(lower))


def test_the_counts_dcmqrscp_does_not_compute(archives: Any) -> None:
    study = _two_series_study(archives)
    keys = [
        STUDY,
        f"StudyInstanceUID={study}",
        "NumberOfStudyRelatedInstances",
        "NumberOfStudyRelatedSeries",
        "ModalitiesInStudy",
    ]
    (rsp,) = findscu(archives["qr"], "ARCHIVE", "-S", keys, archives["tmp"] / "counts")
    assert (rsp.NumberOfStudyRelatedInstances, rsp.NumberOfStudyRelatedSeries) == (4, 2)
    assert sorted(rsp.ModalitiesInStudy) == ["CT", "MR"]
    mr = findscu(
        archives["qr"],
        "ARCHIVE",
        "-S",
        [STUDY, "ModalitiesInStudy=MR", "StudyInstanceUID"],
        archives["tmp"] / "mis",
    )
    assert len(mr) == 6  # every patient's second study has an MR series


def test_keys_dcmqrscp_does_not_index_are_matched_on_the_files(archives: Any) -> None:
    """findscu's sequence syntax and a wildcard on a key the index does not hold: the
    studies that the matching rules (dicomul.storage.matching) pick from the files."""
    from pydicom.dataset import Dataset

    from dicomul.storage.matching import matches

    files = [pydicom.dcmread(f, stop_before_pixels=True) for f in archives["files"]]
    keys = [STUDY, "StudyInstanceUID", "InstitutionName=St*", "PatientAge",
            "ProcedureCodeSequence[0].CodeValue=CTHEAD",
            "ProcedureCodeSequence[0].CodeMeaning"]  # fmt: skip
    ours = findscu(archives["qr"], "ARCHIVE", "-S", keys, archives["tmp"] / "beyond")
    q = Dataset()
    q.InstitutionName = "St*"
    item = Dataset()
    item.CodeValue = "CTHEAD"
    q.ProcedureCodeSequence = [item]
    want = {str(f.StudyInstanceUID) for f in files if matches(q, f)}
    assert want and {str(d.StudyInstanceUID) for d in ours} == want
    for d in ours:
        assert d.InstitutionName == "St. Mary's" and d.PatientAge
        assert [(i.CodeValue, i.CodeMeaning) for i in d.ProcedureCodeSequence] == [
            ("CTHEAD", "CT head")
        ]


def _instances(directory: Path) -> set[str]:
    return {
        str(pydicom.dcmread(p, stop_before_pixels=True).SOPInstanceUID)
        for p in directory.iterdir()
        if p.is_file()
    }


def test_getscu_retrieves_what_dcmqrscp_retrieves(archives: Any) -> None:
    study = _two_series_study(archives)
    got = {}
    for who, port, aec in (
        ("ours", archives["qr"], "ARCHIVE"),
        ("theirs", archives["dq"], "DCMQR"),
    ):
        out = archives["tmp"] / f"get-{who}"
        out.mkdir()
        r = _run(
            [
                _dcmtk("getscu"),
                *TS,
                "-S",
                "-aec",
                aec,
                "-od",
                str(out),
                "-k",
                STUDY,
                "-k",
                f"StudyInstanceUID={study}",
                "127.0.0.1",
                str(port),
            ]
        )
        assert r.returncode == 0, r.stderr
        got[who] = _instances(out)
    assert len(got["ours"]) == 4 and got["ours"] == got["theirs"]


def test_movescu_moves_what_dcmqrscp_moves(archives: Any) -> None:
    s = archives["studies"]
    dest: Path = archives["dest"]
    moved = {}
    for who, port, aec in (
        ("ours", archives["qr"], "ARCHIVE"),
        ("theirs", archives["dq"], "DCMQR"),
    ):
        for p in dest.iterdir():
            p.unlink()
        r = _run(
            [
                _dcmtk("movescu"),
                *TS,
                "-S",
                "-aec",
                aec,
                "-aem",
                "DEST",
                "-k",
                STUDY,
                "-k",
                f"StudyInstanceUID={s[2]}\\{s[5]}",
                "127.0.0.1",
                str(port),
            ]
        )
        assert r.returncode == 0, r.stderr
        moved[who] = _instances(dest)
    assert moved["ours"] and moved["ours"] == moved["theirs"]


def test_pynetdicom_queries_and_gets_from_qrscp(archives: Any) -> None:
    pytest.importorskip("pynetdicom")
    from pydicom.dataset import Dataset
    from pynetdicom import AE
    from pynetdicom.sop_class import StudyRootQueryRetrieveInformationModelFind

    ae = AE(ae_title="PYSCU")
    ae.add_requested_context(StudyRootQueryRetrieveInformationModelFind)
    assoc = ae.associate("127.0.0.1", archives["qr"], ae_title="ARCHIVE")
    assert assoc.is_established
    try:
        q = Dataset()
        q.QueryRetrieveLevel, q.PatientName, q.StudyInstanceUID = "STUDY", "DOE*", ""
        found = [
            ds.StudyInstanceUID
            for _st, ds in assoc.send_c_find(q, StudyRootQueryRetrieveInformationModelFind)
            if ds
        ]
    finally:
        assoc.release()
    assert len(found) == 4
    status, failed, got = _pynetdicom_get(archives["qr"], _two_series_study(archives))
    assert (status, failed, len(set(got))) == (0, None, 4)


def _pynetdicom_get(port: int, study: str) -> tuple[int, Any, list[str]]:
    """C-GET a study with pynetdicom (DCMTK's getscu does not read the identifier of the
    final C-GET-RSP): the final status, its Failed SOP Instance UID List, what came."""
    pytest.importorskip("pynetdicom")
    from pydicom.dataset import Dataset
    from pynetdicom import AE, build_role, evt
    from pynetdicom.sop_class import CTImageStorage, StudyRootQueryRetrieveInformationModelGet

    ae = AE(ae_title="PYSCU")
    ae.add_requested_context(StudyRootQueryRetrieveInformationModelGet)
    ae.add_requested_context(CTImageStorage)
    got: list[str] = []

    def on_store(event: Any) -> int:
        got.append(str(event.dataset.SOPInstanceUID))
        return 0

    assoc = ae.associate(
        "127.0.0.1",
        port,
        ae_title="ARCHIVE",
        ext_neg=[build_role(CTImageStorage, scp_role=True)],
        evt_handlers=[(evt.EVT_C_STORE, on_store)],
    )
    assert assoc.is_established
    try:
        q = Dataset()
        q.QueryRetrieveLevel, q.StudyInstanceUID = "STUDY", study
        status, ident = list(assoc.send_c_get(q, StudyRootQueryRetrieveInformationModelGet))[-1]
    finally:
        assoc.release()
    failed = ident.get("FailedSOPInstanceUIDList") if ident is not None else None
    return int(status.Status), failed, got


def test_the_index_survives_a_restart_and_gone_files_are_reported(tmp_path: Path) -> None:
    files = write_archive(tmp_path / "files")[:4]  # patient 0, study 0 (2 images) + study 1
    storage = tmp_path / "archive"
    qr, port = start_qrscp(storage)
    try:
        r = _run(
            [_dcmtk("storescu"), *TS, "-aec", "ARCHIVE", "127.0.0.1", str(port), *map(str, files)]
        )
        assert r.returncode == 0, r.stderr
    finally:
        cap._stop(qr)
    gone = pydicom.dcmread(files[0], stop_before_pixels=True)
    stored = [p for p in storage.iterdir() if p.name.startswith(str(gone.SOPInstanceUID))]
    assert len(stored) == 1
    stored[0].unlink()  # behind the index's back
    qr, port = start_qrscp(storage)  # a new process: the index is read from disk
    try:
        keys = [
            "QueryRetrieveLevel=IMAGE",
            f"StudyInstanceUID={gone.StudyInstanceUID}",
            "SeriesInstanceUID",
            "SOPInstanceUID",
        ]
        found = findscu(port, "ARCHIVE", "-S", keys, tmp_path / "found")
        assert len(found) == 2  # (still indexed until a retrieve or --prune finds out)
        status, failed, got = _pynetdicom_get(port, str(gone.StudyInstanceUID))
        assert status == 0xB000  # sub-operations complete, one or more failures
        assert failed == str(gone.SOPInstanceUID)  # the Failed SOP Instance UID List
        assert got == [str(pydicom.dcmread(files[1]).SOPInstanceUID)]
        found = findscu(port, "ARCHIVE", "-S", keys, tmp_path / "found2")
        assert len(found) == 1  # forgotten
    finally:
        cap._stop(qr)
    (tmp_path / "files" / "extra").mkdir()
    r = _run([sys.executable, "-m", "dicomul", "index", str(storage), "--prune"])
    assert r.returncode == 0 and "instances in" in r.stdout, r.stdout + r.stderr
