"""ArchiveIndex.add_now, the index write an event loop may make: a file this process has
just written is indexed from the bytes it wrote, in SQLite, without reading the file and
without waiting for the write lock (another connection or process writing: nothing done,
False, and add() does it later); its commits never checkpoint, a thread does that every
CHECKPOINT_EVERY commits, so the WAL stays bounded. And the archive's on_store_now (on
the loop, after a file written there), which leaves the row to on_store in the pool when
it cannot write at once: stores and indexes while another writer holds the lock."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path
from typing import Any

import pydicom
import pytest
from interop.archive_data import write_archive

from dicomul import aio
from dicomul.storage import _sql
from dicomul.storage import index as index_module
from dicomul.storage.archive import Archive
from dicomul.storage.contexts import contexts_for_files
from dicomul.storage.index import ArchiveIndex
from dicomul.storage.part10 import read_part10
from dicomul.storage.writer import write_file

pytestmark = pytest.mark.timeout(60)

T = 10.0


def _written(directory: Path, source: Path) -> Path:
    """``source`` stored again the way the server stores a small data set (one call)."""
    p10 = read_part10(source)
    raw = source.read_bytes()[p10.dataset_offset :]
    directory.mkdir(parents=True, exist_ok=True)
    return Path(write_file(directory, p10.meta, [raw]))


@pytest.fixture(scope="module")
def every_source(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return write_archive(tmp_path_factory.mktemp("files"))


@pytest.fixture(scope="module")
def sources(every_source: list[Path]) -> list[Path]:
    """The files whose indexed values are plain ASCII (the header walk's, not pydicom's)."""
    return [f for f in every_source if str(pydicom.dcmread(f).PatientName).isascii()]


def test_a_file_just_written_is_indexed_on_the_spot(tmp_path: Path, sources: list[Path]) -> None:
    index = ArchiveIndex(tmp_path / "archive")
    path = _written(tmp_path / "archive", sources[0])
    assert index.add_now(path) is True
    uid = str(pydicom.dcmread(sources[0]).SOPInstanceUID)
    assert index.locate(uid) == path.resolve()
    other = ArchiveIndex(tmp_path / "other")  # the same row as add() from the file on disk
    other.add(path)
    query = "SELECT * FROM instances"
    assert index._db.query(query) == other._db.query(query)


def test_a_file_not_just_written_is_not_read(tmp_path: Path, sources: list[Path]) -> None:
    index = ArchiveIndex(tmp_path / "archive")
    assert index.add_now(sources[0]) is False  # (it would have to be read: add() does that)
    assert len(index) == 0


def test_a_file_pydicom_must_read_is_left_to_add(tmp_path: Path, every_source: list[Path]) -> None:
    index = ArchiveIndex(tmp_path / "archive")
    source = next(f for f in every_source if not str(pydicom.dcmread(f).PatientName).isascii())
    path = _written(tmp_path / "archive", source)
    assert index.add_now(path) is False  # (MÜLLER^HANS: not plain ASCII)
    assert len(index) == 0
    index.add(path)
    assert len(index) == 1


def test_the_write_lock_held_elsewhere_is_not_waited_for(
    tmp_path: Path, sources: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    index = ArchiveIndex(tmp_path / "archive")
    path = _written(tmp_path / "archive", sources[0])
    other = sqlite3.connect(index.file, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another writer (a qrscp worker, dicomul index)
    try:
        assert index.add_now(path) is False
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert len(index) == 0
    reads: list[Any] = []
    real_read = index_module.read_part10
    monkeypatch.setattr(index_module, "read_part10", lambda p: reads.append(p) or real_read(p))
    index.add(path)  # (from the bytes add_now kept for it: the file is not read back)
    assert len(index) == 1 and reads == []


def _wal_frames(index: ArchiveIndex) -> int:
    """Frames in the index's write-ahead log now (what a checkpoint would look at)."""
    con = sqlite3.connect(index.file)
    try:
        return int(con.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()[1])
    finally:
        con.close()


def _fill(directory: Path, sources: list[Path], commits: int) -> ArchiveIndex:
    index = ArchiveIndex(directory)
    for i in range(commits):
        path = _written(directory, sources[i % len(sources)])
        if not index.add_now(path):  # (a checkpoint is running: as the archive does)
            index.add(path)
    for t in threading.enumerate():  # the last checkpoint's thread: wait until it ends
        if t.name == "dicomul-checkpoint":
            t.join(T)
            assert not t.is_alive(), "a checkpoint never ended"
    return index


def test_the_write_ahead_log_stays_bounded(
    tmp_path: Path, sources: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_sql.SQLiteDatabase, "CHECKPOINT_EVERY", 10**9)
    unbounded = _wal_frames(_fill(tmp_path / "a", sources, 200))
    monkeypatch.setattr(_sql.SQLiteDatabase, "CHECKPOINT_EVERY", 16)
    bounded = _wal_frames(_fill(tmp_path / "b", sources, 200))
    assert unbounded > 200  # (each commit writes a few pages)
    assert bounded < unbounded / 4, (bounded, unbounded)
    assert len(ArchiveIndex(tmp_path / "b")) == len(sources)  # (each one UID, stored again)


def _store_all(
    archive: Archive, files: list[Path], options: dict[str, Any], before: Any = None
) -> tuple[list[int], str]:
    """Store ``files`` through an asyncio Server with the archive's handlers (and
    ``options``), ``before()`` called once associated: (statuses, the loop's thread)."""

    async def scenario() -> tuple[list[int], str]:
        srv = aio.Server("ARCHIVE", acse_timeout=T, **archive.server_options(), **options)
        port = await srv.start()
        try:
            async with await aio.connect(
                "127.0.0.1", port, called_ae="ARCHIVE", contexts=contexts_for_files(files),
                dimse_timeout=T,
            ) as a:  # fmt: skip
                if before is not None:
                    before()
                return [await a.store(f) for f in files], threading.current_thread().name
        finally:
            await srv.close()

    return asyncio.run(asyncio.wait_for(scenario(), 30.0))


def _spy_pool_adds(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The threads in which ArchiveIndex.add (the archive's path through the pool) ran."""
    threads: list[str] = []
    real_add = ArchiveIndex.add

    def add(self: ArchiveIndex, path: Any, ds: Any = None) -> str:
        threads.append(threading.current_thread().name)
        return real_add(self, path, ds)

    monkeypatch.setattr(ArchiveIndex, "add", add)
    return threads


def test_the_archive_stores_and_indexes_while_another_writer_holds_the_lock(
    tmp_path: Path, sources: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first store finds the lock taken: its row goes to on_store in the pool, and
    so do the next ones while it waits (rows in the order of their files)."""
    archive = Archive(tmp_path / "archive")
    files = sources[:3]
    in_pool = _spy_pool_adds(monkeypatch)
    other = sqlite3.connect(archive.index.file, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    release = threading.Timer(0.3, lambda: other.execute("ROLLBACK"))

    try:  # (the first store waits in a thread until the release)
        statuses, _loop_thread = _store_all(archive, files, {}, before=release.start)
    finally:
        release.join()
        other.close()
    assert statuses == [0, 0, 0]
    assert len(in_pool) >= 1 and all(t.startswith("dicomul") for t in in_pool)
    uids = [str(pydicom.dcmread(f).SOPInstanceUID) for f in files]
    assert all(archive.index.locate(u) is not None for u in uids)
    assert len(archive.index) == 3


@pytest.mark.parametrize("options", [{}, {"write_on_loop": False}, {"fsync": True}],
                         ids=["default", "write_on_loop=False", "fsync"])  # fmt: skip
def test_index_rows_are_written_where_the_files_are(
    tmp_path: Path, sources: list[Path], monkeypatch: pytest.MonkeyPatch, options: dict[str, Any]
) -> None:
    """On the loop with the files written there (the default); in the pool, with no
    write on the loop at all, when the files are (write_on_loop=False, fsync)."""
    archive = Archive(tmp_path / "archive")
    files = sources[:3]
    in_pool = _spy_pool_adds(monkeypatch)
    now_threads: list[str] = []
    real_now = _sql.SQLiteDatabase.write_now

    def write_now(self: Any, sql: str, rows: Any) -> bool:
        now_threads.append(threading.current_thread().name)
        return real_now(self, sql, rows)

    monkeypatch.setattr(_sql.SQLiteDatabase, "write_now", write_now)

    statuses, loop_thread = _store_all(archive, files, options)
    assert statuses == [0, 0, 0] and len(archive.index) == 3
    if options:
        assert now_threads == [] and len(in_pool) == 3
    else:  # (the first one at least: a slow write there sends the next ones to the pool)
        assert now_threads and set(now_threads) == {loop_thread}
        assert len(now_threads) + len(in_pool) >= 3
