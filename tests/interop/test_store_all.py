"""Sending a study goes on past a failed object and past a peer that aborts: store_all
(and ``dicomul store``, which uses it) re-associates and reports each failure at the end.

The aborting peer is a real pynetdicom storage SCP whose C-STORE handler aborts the
association on one chosen object, as a PACS does when something goes wrong on its side.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

pynetdicom = pytest.importorskip("pynetdicom")

import pydicom  # noqa: E402
from pynetdicom import AE, StoragePresentationContexts, evt  # noqa: E402

from dicomul.sync.sending import store_all  # noqa: E402
from dicomul.sync.server import Server  # noqa: E402

pytestmark = [pytest.mark.interop, pytest.mark.timeout(60)]
T = 10.0
TEST_FILES = Path(pydicom.__file__).parent / "data" / "test_files"
# distinct data-set SOP Instance UIDs, three SOP classes, three transfer syntaxes
NAMES = ["CT_small.dcm", "MR_small.dcm", "rtplan.dcm", "SC_rgb_small_odd.dcm", "liver_1frame.dcm"]
FILES = [TEST_FILES / n for n in NAMES]
UIDS = {f: str(pydicom.dcmread(f, stop_before_pixels=True).SOPInstanceUID) for f in FILES}


def _aborting_scp(victim: str | None) -> tuple[Any, int, list[str]]:
    """A pynetdicom storage SCP that aborts the association when ``victim`` arrives
    (None: whatever arrives)."""
    received: list[str] = []
    lock = threading.Lock()

    def on_store(event: Any) -> int:
        uid = str(event.request.AffectedSOPInstanceUID)
        if victim is None or uid == victim:
            event.assoc.abort()
            return 0xC000
        with lock:
            received.append(uid)
        return 0x0000

    ae = AE("PYSCP")
    ae.supported_contexts = StoragePresentationContexts
    srv = ae.start_server(("127.0.0.1", 0), block=False, evt_handlers=[(evt.EVT_C_STORE, on_store)])
    return srv, srv.server_address[1], received


def test_an_abort_part_way_re_associates_and_sends_the_rest() -> None:
    victim = FILES[1]
    srv, port, received = _aborting_scp(UIDS[victim])
    try:
        report = store_all("127.0.0.1", port, FILES, called_ae="PYSCP", dimse_timeout=T,
                           acse_timeout=T)  # fmt: skip
    finally:
        srv.shutdown()
    assert [r.obj for r in report.results] == FILES  # every object tried, in order
    (failed,) = report.failures
    assert failed.obj == victim and failed.status is None and "abort" in failed.error.lower()
    assert sorted(received) == sorted(UIDS[f] for f in FILES if f != victim)
    assert report.associations == 2


def test_a_peer_that_aborts_every_time_is_given_up_on() -> None:
    srv, port, received = _aborting_scp(None)
    try:
        report = store_all("127.0.0.1", port, FILES, called_ae="PYSCP", dimse_timeout=T,
                           acse_timeout=T, max_lost=3)  # fmt: skip
    finally:
        srv.shutdown()
    assert [r.obj for r in report.results] == FILES and not received
    assert report.associations == 3  # one per object tried, then it stops trying
    assert all("abort" in r.error.lower() for r in report.results[:3])
    assert all("3 associations in a row were lost" in r.error for r in report.results[3:])


def test_a_peer_that_rejects_fails_every_object_saying_why() -> None:
    srv, port, received = _aborting_scp("")
    srv.ae.require_calling_aet = ["SOMEONE-ELSE"]  # pynetdicom rejects our calling AE
    try:
        report = store_all("127.0.0.1", port, FILES, called_ae="PYSCP", acse_timeout=T)
    finally:
        srv.shutdown()
    assert len(report.failures) == len(FILES) and not received
    assert all("cannot associate" in r.error and "rejected" in r.error for r in report.failures)
    assert report.associations == 0


def test_a_failure_status_is_reported_and_the_association_goes_on(tmp_path: Path) -> None:
    victim = UIDS[FILES[2]]

    def on_store(meta: Any, data: Any, info: Any) -> int:
        return 0xA700 if meta.sop_instance_uid == victim else 0

    srv = Server("SCP", accept_all_storage=True, on_store=on_store)
    port = srv.start("127.0.0.1", 0)
    try:
        report = store_all("127.0.0.1", port, FILES, called_ae="SCP", dimse_timeout=T)
    finally:
        srv.stop(timeout=T)
    (failed,) = report.failures
    assert failed.obj == FILES[2] and failed.status == 0xA700
    assert report.associations == 1 and sum(r.ok for r in report.results) == len(FILES) - 1
