"""The archive index in PostgreSQL (marked ``postgresql``: run with ``-m postgresql``;
a real server the suite starts and stops itself, see pg_server.py): the same matching
as SQLite on the same data (every case of test_index.py, and generated queries), and
two ``dicomul qrscp`` processes over one storage directory sharing one PostgreSQL index,
as behind a load balancer: what is stored through one is found and retrieved through
the other, and survives both restarting."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pydicom
import pytest
from interop.archive_data import write_archive
from interop.test_qrscp_dcmtk import _dcmtk, _pynetdicom_get, _run, findscu, start_qrscp
from pg_server import postgres
from test_index import CASES, _found, _q

from dicomul.storage.index import ArchiveIndex

pytestmark = [pytest.mark.postgresql, pytest.mark.timeout(300)]


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="dicomul-pg-") as tmp:
        os.chmod(tmp, 0o755)
        with postgres(Path(tmp) / "pg") as url:
            yield url


@pytest.fixture(scope="module")
def both(pg_url: str, tmp_path_factory: pytest.TempPathFactory) -> Any:
    tmp = tmp_path_factory.mktemp("pgindex")
    write_archive(tmp / "files")
    lite = ArchiveIndex(tmp / "files")
    pg = ArchiveIndex(tmp / "files", pg_url)
    assert lite.add_tree(tmp / "files") == pg.add_tree(tmp / "files") == (36, 0)
    yield lite, pg
    pg._db.query("DROP TABLE instances")
    pg._db.query("DROP TABLE dicomul_schema")
    pg.close()


@pytest.mark.parametrize("level, keys", CASES)
def test_postgresql_matches_as_sqlite_does(both: Any, level: str, keys: dict[str, str]) -> None:
    lite, pg = both
    query = _q(level, **keys)
    assert _found(pg, query) == _found(lite, query)


def test_postgresql_counts_as_sqlite_does(both: Any) -> None:
    lite, pg = both
    q = _q("STUDY", PatientName="*")
    for kw in ("NumberOfStudyRelatedInstances", "NumberOfStudyRelatedSeries", "ModalitiesInStudy"):
        setattr(q, kw, None)
    assert [d.to_json_dict() for d in pg.find(q)] == [d.to_json_dict() for d in lite.find(q)]


def test_two_qrscp_share_one_postgresql_index(pg_url: str, tmp_path: Path) -> None:
    files = write_archive(tmp_path / "files")[:4]
    storage = tmp_path / "common-storage"
    a, port_a = start_qrscp(storage, None, "--index", pg_url)
    b, port_b = start_qrscp(storage, None, "--index", pg_url)
    from interop import capture_dcmtk as cap

    try:
        r = _run(
            [_dcmtk("storescu"), "-aec", "ARCHIVE", "127.0.0.1", str(port_a), *map(str, files)]
        )
        assert r.returncode == 0, r.stderr
        studies = sorted(
            {str(pydicom.dcmread(f, stop_before_pixels=True).StudyInstanceUID) for f in files}
        )
        study = str(pydicom.dcmread(files[0], stop_before_pixels=True).StudyInstanceUID)
        keys = ["QueryRetrieveLevel=IMAGE", f"StudyInstanceUID={study}", "SOPInstanceUID"]
        assert len(findscu(port_b, "ARCHIVE", "-S", keys, tmp_path / "b")) == 2
        status, failed, got = _pynetdicom_get(port_b, study)
        assert (status, failed, len(got)) == (0, None, 2)
    finally:
        cap._stop(a)
        cap._stop(b)
    c, port_c = start_qrscp(tmp_path / "elsewhere", None, "--index", pg_url)
    try:  # a third process, another storage directory, the same index: it knows them all
        keys = ["QueryRetrieveLevel=STUDY", "StudyInstanceUID=" + "\\".join(studies)]
        assert len(studies) == 2
        assert len(findscu(port_c, "ARCHIVE", "-S", keys, tmp_path / "c")) == 2
    finally:
        cap._stop(c)


def test_postgresql_indexes_a_file_just_stored_in_a_thread_without_reading_it(
    pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """add_now never writes over the network (an event loop would wait on it): False,
    and add() then makes the row from the bytes written, not from the file read back."""
    from dicomul.storage import index as index_module
    from dicomul.storage.part10 import read_part10
    from dicomul.storage.writer import write_file

    source = write_archive(tmp_path / "files")[0]
    (tmp_path / "store").mkdir()
    index = ArchiveIndex(tmp_path / "store", pg_url)  # (it has the writer keep the bytes)
    p10 = read_part10(source)
    path = write_file(tmp_path / "store", p10.meta, [source.read_bytes()[p10.dataset_offset :]])
    reads: list[Any] = []
    real_read = index_module.read_part10
    monkeypatch.setattr(index_module, "read_part10", lambda p: reads.append(p) or real_read(p))
    uid = str(pydicom.dcmread(source).SOPInstanceUID)
    try:
        assert index.add_now(path) is False
        assert index.locate(uid) is None
        index.add(path)
        assert index.locate(uid) == Path(path).resolve()
        assert reads == []
    finally:
        index.remove([uid])
        index.close()
