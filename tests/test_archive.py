"""dicomul.storage.archive.Archive on both servers and both requestors, over 127.0.0.1:
what is stored is indexed before it is answered (a C-FIND right after finds it),
retrieved by C-GET, committed by Storage Commitment through the index, and a file that
has gone is a failed sub-operation. Every wait is bounded."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pydicom
import pytest
from interop.archive_data import write_archive
from pydicom.dataset import Dataset

from dicomul import aio
from dicomul.dimse.sop import STORAGE_COMMITMENT_PUSH
from dicomul.storage.archive import Archive
from dicomul.storage.contexts import contexts_for_files
from dicomul.sync import Server as SyncServer
from dicomul.sync.services import Association, qr_contexts

pytestmark = pytest.mark.timeout(60)

T = 10.0
UNCOMPRESSED = ["1.2.840.10008.1.2.1", "1.2.840.10008.1.2"]


def _study_query(study: str) -> Dataset:
    q = Dataset()
    q.QueryRetrieveLevel, q.StudyInstanceUID = "STUDY", study
    q.NumberOfStudyRelatedInstances = None
    return q


def test_the_blocking_server_and_requestor(tmp_path: Path) -> None:
    files = write_archive(tmp_path / "files")[:4]  # two studies of patient 0
    archive = Archive(tmp_path / "archive")
    srv = SyncServer("ARCHIVE", acse_timeout=T, **archive.server_options())
    port = srv.start()
    study = str(pydicom.dcmread(files[0]).StudyInstanceUID)
    contexts = (
        contexts_for_files(files)
        + qr_contexts(["study"], ["find", "get"])
        + [(STORAGE_COMMITMENT_PUSH, UNCOMPRESSED)]
    )
    try:
        with Association.connect(
            "127.0.0.1", port, called_ae="ARCHIVE", contexts=contexts, dimse_timeout=T
        ) as a:
            assert [a.store(f) for f in files] == [0, 0, 0, 0]
            found = [ds for st, ds in a.find(_study_query(study)) if ds is not None]
            assert [int(d.NumberOfStudyRelatedInstances) for d in found] == [2]
            refs = [
                (str(d.SOPClassUID), str(d.SOPInstanceUID)) for d in map(pydicom.dcmread, files)
            ]
            result = a.commit([*refs, (refs[0][0], "1.2.3.404")], timeout=T)
            assert result is not None and list(result.committed) == refs
            assert result.failed == ((refs[0][0], "1.2.3.404", 0x0112),)
    finally:
        srv.stop()
    assert len(archive.index) == 4


def test_the_asyncio_server_and_requestor_with_a_file_gone(tmp_path: Path) -> None:
    files = write_archive(tmp_path / "files")[:2]  # one study, two images
    archive = Archive(tmp_path / "archive")
    study = str(pydicom.dcmread(files[0]).StudyInstanceUID)

    async def scenario() -> Any:
        srv = aio.Server("ARCHIVE", acse_timeout=T, **archive.server_options())
        port = await srv.start()
        try:
            contexts = contexts_for_files(files) + qr_contexts(["study"], ["get"])
            async with await aio.connect(
                "127.0.0.1",
                port,
                called_ae="ARCHIVE",
                contexts=contexts,
                dimse_timeout=T,
                roles={contexts[0][0]: (True, True)},
            ) as a:
                assert [await a.store(f) for f in files] == [0, 0]
                gone = archive.index.locate(str(pydicom.dcmread(files[0]).SOPInstanceUID))
                assert gone is not None
                gone.unlink()
                final = [r async for r in a.get(_study_query(study))][-1]
                return final, len(a.received)
        finally:
            await srv.close()

    (status, rsp), received = asyncio.run(asyncio.wait_for(scenario(), 30))
    assert status == 0xB000 and rsp.failed_suboperations == 1 and received == 1
    assert len(archive.index) == 1  # the gone one is forgotten
