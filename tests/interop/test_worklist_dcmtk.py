"""The Modality Worklist of ``dicomul qrscp --worklist DIR`` against DCMTK's wlmscpfs over
the same ``.wl`` items (archive_data.write_worklist): findscu -W asks both the same
queries, with sequence matching on the Scheduled Procedure Step Sequence, and the
answers must be the same. ``dicomul find -W`` with DCMTK's ``-k`` sequence syntax
queries wlmscpfs. Every process is stopped by its PID; every wait is bounded.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from . import capture_dcmtk as cap
from .archive_data import write_worklist
from .test_qrscp_dcmtk import _dcmtk, _run, _wait_port, findscu, start_qrscp

pytestmark = [pytest.mark.interop, pytest.mark.timeout(120)]


@pytest.fixture(scope="module")
def worklists(tmp_path_factory: pytest.TempPathFactory) -> Any:
    tmp = tmp_path_factory.mktemp("wl")
    write_worklist(tmp / "WLM")
    started: list[subprocess.Popen[Any]] = []
    try:
        wl_port = cap._free_port()
        wlm = subprocess.Popen(
            [_dcmtk("wlmscpfs"), "-dfp", str(tmp), str(wl_port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=cap._env(),
        )
        started.append(wlm)
        _wait_port(wl_port, wlm)
        qr, qr_port = start_qrscp(tmp / "archive", None, "--worklist", str(tmp / "WLM"))
        started.append(qr)
        yield {"tmp": tmp, "wlm": wl_port, "qr": qr_port}
    finally:
        for proc in started:
            cap._stop(proc)


def flat(ds: Any, prefix: str = "") -> list[tuple[str, str]]:
    """Every leaf of a response as (path, value), sequences included."""
    out: list[tuple[str, str]] = []
    for elem in ds:
        if int(elem.tag) in (0x00080005,):
            continue
        path = f"{prefix}{int(elem.tag):08X}"
        if elem.VR == "SQ":
            for i, item in enumerate(elem.value):
                out += flat(item, f"{path}[{i}].")
            if not elem.value:
                out.append((path, "[]"))
        else:
            out.append((path, str(elem.value if elem.value is not None else "").strip()))
    return sorted(out)


SPS = "ScheduledProcedureStepSequence[0]"
ITEM_KEYS = [
    f"{SPS}.Modality",
    f"{SPS}.ScheduledStationAETitle",
    f"{SPS}.ScheduledProcedureStepStartDate",
    f"{SPS}.ScheduledProcedureStepID",
]
QUERIES = {
    "modality": [f"{SPS}.Modality=CT", f"{SPS}.ScheduledStationAETitle", "PatientName"],
    "station": [f"{SPS}.ScheduledStationAETitle=MR1", f"{SPS}.Modality", "PatientID"],
    "date-range": [
        f"{SPS}.ScheduledProcedureStepStartDate=20261202-20261203",
        f"{SPS}.Modality",
        "PatientName",
        "AccessionNumber",
    ],
    "name-wildcard": ["PatientName=DOE*", *ITEM_KEYS],
    "patient-id": ["PatientID=P2", "PatientName", "PatientBirthDate", *ITEM_KEYS],
    "everything": [
        "PatientName",
        "PatientID",
        "AccessionNumber",
        "RequestedProcedureID",
        "StudyInstanceUID",
        *ITEM_KEYS,
    ],
    "no-match": [f"{SPS}.Modality=XA", "PatientName"],
}


@pytest.mark.parametrize("name", sorted(QUERIES))
def test_the_worklist_answers_as_wlmscpfs_does(worklists: Any, name: str) -> None:
    keys = QUERIES[name]
    tmp: Path = worklists["tmp"]
    ours = findscu(worklists["qr"], "ARCHIVE", "-W", keys, tmp / f"ours-{name}")
    theirs = findscu(worklists["wlm"], "WLM", "-W", keys, tmp / f"theirs-{name}")
    assert sorted(map(flat, ours)) == sorted(map(flat, theirs)), name
    assert theirs or name == "no-match"


def test_dicomul_find_w_with_sequence_keys(worklists: Any) -> None:
    r = _run(
        [
            sys.executable,
            "-m",
            "dicomul",
            "find",
            "-W",
            "-aec",
            "WLM",
            "127.0.0.1",
            str(worklists["wlm"]),
            "-k",
            f"{SPS}.Modality=CT",
            "-k",
            "PatientName",
            "-k",
            "(0040,0100)[0].(0040,0001)",
        ]
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert "DOE^JOHN" in r.stdout and "SMITH^ANNA" in r.stdout and "DOE^JANE" not in r.stdout
    assert "CT1" in r.stdout and "CT2" in r.stdout
