"""writer.recent_files: what write_file just made, described from the bytes it had in
memory, so that the archive's index need not read each received file back. It must
describe exactly what reading the file gives; it is off until asked for, bounded, and
gives each file once."""

from __future__ import annotations

from pathlib import Path

import pydicom
import pytest

from dicomul.storage import index as index_module
from dicomul.storage import writer as writer_module
from dicomul.storage.index import ArchiveIndex
from dicomul.storage.part10 import FileMeta, read_part10
from dicomul.storage.writer import RecentFiles, write_file

DATA = Path(pydicom.__file__).parent / "data" / "test_files"
CT = DATA / "CT_small.dcm"


@pytest.fixture
def recent(monkeypatch: pytest.MonkeyPatch) -> RecentFiles:
    """A fresh process-wide RecentFiles (others' tests may have turned theirs on)."""
    fresh = RecentFiles()
    monkeypatch.setattr(writer_module, "recent_files", fresh)
    monkeypatch.setattr(index_module, "recent_files", fresh)
    return fresh


def _ct() -> tuple[FileMeta, bytes]:
    p10 = read_part10(CT)
    return p10.meta, p10.read_dataset_bytes()


def test_off_until_asked(tmp_path: Path, recent: RecentFiles) -> None:
    meta, data = _ct()
    path = write_file(tmp_path, meta, [data])
    assert recent.take(path) is None


def test_it_describes_what_reading_the_file_gives(tmp_path: Path, recent: RecentFiles) -> None:
    recent.keep(4)
    meta, data = _ct()
    path = write_file(tmp_path, meta, [data[:1000], memoryview(data[1000:])])
    mine, disk = recent.take(path), read_part10(path)
    assert mine is not None
    assert (mine.meta, mine.dataset_offset, mine.dataset_length) == (
        disk.meta, disk.dataset_offset, disk.dataset_length,
    )  # fmt: skip
    assert mine.dataset_head() == disk.dataset_head()
    assert mine.dataset_uids() == disk.dataset_uids()
    assert recent.take(path) is None  # once


def test_bounded_oldest_first(tmp_path: Path, recent: RecentFiles) -> None:
    recent.keep(2)
    meta, data = _ct()
    paths = [write_file(tmp_path, meta, [data]) for _ in range(3)]
    assert [recent.take(p) is not None for p in paths] == [False, True, True]
    recent.keep(0)
    write_file(tmp_path, meta, [data])
    assert len(list(tmp_path.iterdir())) == 4


def test_the_index_turns_it_on_and_indexes_the_same_row(
    tmp_path: Path, recent: RecentFiles
) -> None:
    """A received file is indexed from memory with exactly the row reading it gives."""
    index = ArchiveIndex(tmp_path / "archive")
    try:
        meta, data = _ct()
        path = write_file(tmp_path / "archive", meta, [data])
        from_memory = index.row_of(path)
        assert recent.take(path) is None  # (row_of took it)
        assert from_memory == index.row_of(path)  # read from the file this time
        index.add(write_file(tmp_path / "archive", meta, [data]))
        assert len(index) == 1
    finally:
        index.close()
