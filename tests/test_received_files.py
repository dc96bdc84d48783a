"""Received files (Part10Writer.commit, dicomul.storage._received_files): the mode follows the
umask, a free final name is found in amortised constant time, and no file is ever
overwritten (races between writers, a stale cache, planted symlinks, no hard links).
Every test runs both ways a file gets its name: the one-call no-replace rename
(storage._fsops) and the link + unlink fallback. Calls are counted, never timed; nothing
sleeps.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

import pytest

from dicomul.storage import _fsops, _received_files
from dicomul.storage import writer as writer_module
from dicomul.storage.part10 import FileMeta, read_part10
from dicomul.storage.writer import Part10Writer, safe_filename, write_file
from dicomul.ul.constants import EXPLICIT_VR_LITTLE_ENDIAN as ELE

pytestmark = pytest.mark.timeout(60)

CT_CLASS = "1.2.840.10008.5.1.4.1.1.2"
UID = "1.2.826.0.1.3680043.2.1125.1.77"
META = FileMeta(ELE, CT_CLASS, UID)
STEM = safe_filename(UID)[: -len(".dcm")]


def _element(n: int) -> bytes:
    """A tiny data set that tells the commits apart: (0020,0013) IS n."""
    value = str(n).encode()
    value += b" " * (len(value) % 2)
    return b"\x20\x00\x13\x00IS" + len(value).to_bytes(2, "little") + value


def _store(directory: Path, n: int, meta: FileMeta = META) -> Path:
    """Commit a file the way the ``how`` fixture chose."""
    return _HOW["store"](directory, n, meta)


def _streamed(directory: Path, n: int, meta: FileMeta) -> Path:
    with Part10Writer(directory, meta) as w:
        w.write(_element(n))
        return w.commit()


def _whole(directory: Path, n: int, meta: FileMeta) -> Path:
    return write_file(directory, meta, [_element(n)])


_HOW = {"store": _streamed}


@pytest.fixture(autouse=True, params=["streamed", "whole"])
def how(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Part10Writer (written as it arrives) or write_file (all in memory, one call)."""
    monkeypatch.setitem(_HOW, "store", _streamed if request.param == "streamed" else _whole)
    return str(request.param)


@pytest.fixture(autouse=True, params=["rename-noreplace", "link-unlink"])
def naming(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """How committed files get their name: natively, or as where the system has no
    no-replace rename (the fallback every platform has)."""
    monkeypatch.setattr(writer_module, "_no_rename_noreplace", set())
    if request.param == "link-unlink":
        monkeypatch.setattr(writer_module, "rename_noreplace", lambda src, dst: False)
        real = writer_module.store_file

        def store_file(tmp: str, dst: Any, *args: Any) -> int:  # its rename refused, too
            return real(tmp, None, *args)  # (written, NOT_RENAMED; or TMP_EXISTS)

        monkeypatch.setattr(writer_module, "store_file", store_file)
    return str(request.param)


@pytest.fixture
def fresh_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    """As in a new process: no umask read yet, no suffix known."""
    monkeypatch.setattr(_received_files, "_umask", None)
    monkeypatch.setattr(_received_files, "_next", OrderedDict())


class _Counter:
    """Counts os.path.lexists, os.link and no-replace rename calls (monkeypatched)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls = 0
        lexists, link = os.path.lexists, os.link

        def counted_lexists(path: str) -> bool:
            self.calls += 1
            return lexists(path)

        def counted_link(src: str, dst: str, **kw: object) -> None:
            self.calls += 1
            link(src, dst, **kw)  # type: ignore[arg-type]

        rename = writer_module.rename_noreplace

        def counted_rename(src: str, dst: str) -> bool:
            self.calls += 1
            done = rename(src, dst)
            self.calls -= not done  # (refused: nothing tried; the link that follows counts)
            return done

        monkeypatch.setattr(os.path, "lexists", counted_lexists)
        monkeypatch.setattr(os, "link", counted_link)
        monkeypatch.setattr(writer_module, "rename_noreplace", counted_rename)


# ---- the mode ---------------------------------------------------------------------------


@pytest.mark.skipif(not hasattr(os, "fchmod"), reason="POSIX modes")
@pytest.mark.parametrize("proc", [True, False], ids=["proc-status", "os.umask"])
@pytest.mark.parametrize("mask", [0o022, 0o027, 0o077, 0o002], ids=oct)
def test_committed_file_mode_follows_umask(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_cache: None, mask: int, proc: bool
) -> None:
    if not proc:  # the fallback: no /proc/self/status to read
        monkeypatch.setattr(_received_files, "_PROC_STATUS", str(tmp_path / "no-such-file"))
    old = os.umask(mask)
    try:
        with Part10Writer(tmp_path, META) as w:
            assert stat.S_IMODE(os.stat(w.temp_path).st_mode) == 0o600  # private while partial
            w.write(_element(1))
            final = w.commit()
        assert os.umask(mask) == mask  # the fallback put the umask back
    finally:
        os.umask(old)
    assert stat.S_IMODE(final.stat().st_mode) == 0o666 & ~mask
    assert _received_files.file_mode() == 0o666 & ~mask  # read once, cached


@pytest.mark.skipif(not hasattr(os, "fchmod"), reason="POSIX modes")
@pytest.mark.parametrize("mask", [0o022, 0o007], ids=oct)
def test_committed_file_mode_in_a_new_process(tmp_path: Path, mask: int) -> None:
    code = (
        "import os, sys\n"
        f"os.umask({mask})\n"
        "from dicomul.storage.part10 import FileMeta\n"
        "from dicomul.storage.writer import Part10Writer\n"
        f"w = Part10Writer(sys.argv[1], FileMeta({ELE!r}, {CT_CLASS!r}, {UID!r}))\n"
        "w.write(b'')\n"
        "print(oct(os.stat(w.commit()).st_mode & 0o777))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    assert out.stdout.strip() == oct(0o666 & ~mask)


# ---- free names in constant time --------------------------------------------------------


def test_same_uid_300_times_costs_constant_calls(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_cache: None
) -> None:
    counter = _Counter(monkeypatch)
    paths, costs = [], []
    for n in range(300):
        before = counter.calls
        paths.append(_store(tmp_path, n))
        costs.append(counter.calls - before)
    assert max(costs[-100:]) <= 3, costs[-100:]
    assert sum(costs) <= 3 * 300, sum(costs)
    # the naming scheme is kept: name.dcm, then name-1.dcm ... name-299.dcm
    assert [p.name for p in paths] == [f"{STEM}.dcm"] + [f"{STEM}-{i}.dcm" for i in range(1, 300)]
    # all there, distinct, none overwritten: each file holds its own data set
    assert len(set(paths)) == 300 and len(list(tmp_path.iterdir())) == 300
    for n, p in enumerate(paths):
        assert read_part10(p).read_dataset_bytes() == _element(n)


def test_new_process_finds_a_free_suffix_in_log_calls(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_cache: None
) -> None:
    # another process stored this UID 1000 times: name.dcm, name-1.dcm ... name-999.dcm
    (tmp_path / f"{STEM}.dcm").write_bytes(b"first")
    for i in range(1, 1000):
        (tmp_path / f"{STEM}-{i}.dcm").write_bytes(b"%d" % i)
    counter = _Counter(monkeypatch)
    first = _store(tmp_path, 1000)
    assert first.name == f"{STEM}-1000.dcm"
    assert counter.calls <= 2 * 10 + 3, counter.calls  # exponential probe + bisection
    before = counter.calls
    assert _store(tmp_path, 1001).name == f"{STEM}-1001.dcm"
    assert counter.calls - before <= 3  # then O(1)
    assert (tmp_path / f"{STEM}.dcm").read_bytes() == b"first"
    assert all((tmp_path / f"{STEM}-{i}.dcm").read_bytes() == b"%d" % i for i in range(1, 1000))


def test_stale_cache_never_overwrites(tmp_path: Path, fresh_cache: None) -> None:
    _store(tmp_path, 0)
    _store(tmp_path, 1)  # cache: the next suffix is 2
    # meanwhile another process took name-2.dcm, and someone planted name-3.dcm -> outside
    (tmp_path / f"{STEM}-2.dcm").write_bytes(b"theirs")
    outside = tmp_path.parent / f"{tmp_path.name}-outside"
    outside.mkdir()
    (tmp_path / f"{STEM}-3.dcm").symlink_to(outside / "target.dcm")
    p = _store(tmp_path, 2)
    assert p.name == f"{STEM}-4.dcm"
    assert (tmp_path / f"{STEM}-2.dcm").read_bytes() == b"theirs"
    assert os.path.islink(tmp_path / f"{STEM}-3.dcm") and list(outside.iterdir()) == []
    # name.dcm freed (moved away by a watcher): it is taken again first
    (tmp_path / f"{STEM}.dcm").unlink()
    assert _store(tmp_path, 3).name == f"{STEM}.dcm"


def test_without_hard_links_never_overwrites(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_cache: None
) -> None:
    def no_link(src: str, dst: str, **kw: object) -> None:
        raise PermissionError(1, "hard links not supported here", dst)

    monkeypatch.setattr(os, "link", no_link)
    (tmp_path / f"{STEM}.dcm").write_bytes(b"precious")
    paths = [_store(tmp_path, n) for n in range(3)]
    assert [p.name for p in paths] == [f"{STEM}-{i}.dcm" for i in (1, 2, 3)]
    assert (tmp_path / f"{STEM}.dcm").read_bytes() == b"precious"
    assert [read_part10(p).read_dataset_bytes() for p in paths] == [_element(n) for n in range(3)]
    assert not list(tmp_path.glob(".dicomul-*"))


# ---- concurrent writers -----------------------------------------------------------------


def _run_threads(targets: list, timeout: float = 30.0) -> None:
    errors: list[BaseException] = []

    def wrap(fn):  # type: ignore[no-untyped-def]
        def run() -> None:
            try:
                fn()
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        return run

    threads = [threading.Thread(target=wrap(t)) for t in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout)
        assert not t.is_alive()
    assert not errors, errors


def test_two_writers_commit_the_same_name_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_cache: None
) -> None:
    # both threads reach os.link for name.dcm together (a barrier in the wrapper)
    barrier = threading.Barrier(2, timeout=30)
    first_call = threading.local()
    link, rename = os.link, writer_module.rename_noreplace

    def meet() -> None:
        if not getattr(first_call, "done", False):
            first_call.done = True
            barrier.wait()

    def racing_link(src: str, dst: str, **kw: object) -> None:
        meet()
        link(src, dst, **kw)  # type: ignore[arg-type]

    def racing_rename(src: str, dst: str) -> bool:
        meet()
        return rename(src, dst)

    monkeypatch.setattr(os, "link", racing_link)
    monkeypatch.setattr(writer_module, "rename_noreplace", racing_rename)
    writers = [Part10Writer(tmp_path, META) for _ in range(2)]
    results: dict[int, Path] = {}
    for n, w in enumerate(writers):
        w.write(_element(n))

    def commit(n: int):  # type: ignore[no-untyped-def]
        return lambda: results.__setitem__(n, writers[n].commit())

    _run_threads([commit(0), commit(1)])
    assert sorted(p.name for p in results.values()) == [f"{STEM}-1.dcm", f"{STEM}.dcm"]
    for n, p in results.items():  # both kept, each with its own data set
        assert read_part10(p).read_dataset_bytes() == _element(n)
    assert sorted(os.listdir(tmp_path)) == sorted(p.name for p in results.values())


def test_many_threads_storing_one_uid_keep_every_file(tmp_path: Path, fresh_cache: None) -> None:
    results: list[tuple[int, Path]] = []
    lock = threading.Lock()

    def worker(base: int):  # type: ignore[no-untyped-def]
        def run() -> None:
            for k in range(25):
                n = base * 100 + k
                p = _store(tmp_path, n)
                with lock:
                    results.append((n, p))

        return run

    _run_threads([worker(i) for i in range(8)])
    assert len({p for _, p in results}) == 200 == len(os.listdir(tmp_path))
    for n, p in results:
        assert read_part10(p).read_dataset_bytes() == _element(n)


# ---- the one-call rename itself -----------------------------------------------------------


def test_rename_noreplace_renames_and_never_replaces(tmp_path: Path) -> None:
    src, dst, other = tmp_path / "a.part", tmp_path / "a.dcm", tmp_path / "b.dcm"
    src.write_bytes(b"new")
    other.write_bytes(b"precious")
    native = _fsops.rename_noreplace(src, dst)
    if not native:  # this platform or file system has no such call: nothing was done
        assert src.read_bytes() == b"new" and not dst.exists()
        return
    assert not src.exists() and dst.read_bytes() == b"new"
    with pytest.raises(FileExistsError):
        _fsops.rename_noreplace(dst, other)
    assert dst.read_bytes() == b"new" and other.read_bytes() == b"precious"
    with pytest.raises(FileNotFoundError):
        _fsops.rename_noreplace(tmp_path / "missing", tmp_path / "c.dcm")


def test_a_file_system_without_it_is_asked_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, naming: str
) -> None:
    """Where the no-replace rename is refused (an old kernel, a file system without the
    flag), the file system is remembered and later commits go straight to link + unlink."""
    if naming != "rename-noreplace":
        pytest.skip("about the native rename's refusal")
    asked: list[str] = []

    def refused(src: str, dst: str) -> bool:
        asked.append(dst)
        return False

    monkeypatch.setattr(writer_module, "rename_noreplace", refused)
    paths = [_store(tmp_path, n) for n in range(3)]
    assert len(asked) == 1
    assert [read_part10(p).read_dataset_bytes() for p in paths] == [_element(n) for n in range(3)]
    assert not list(tmp_path.glob(".dicomul-*"))


# ---- a whole file in one call ---------------------------------------------------------------


def test_write_file_is_what_part10writer_writes(tmp_path: Path, fresh_cache: None) -> None:
    """Same bytes, name and mode; the data set may come in several chunks."""
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    data = _element(1) + _element(22)
    with Part10Writer(a, META) as w:
        w.write(data)
        streamed = w.commit()
    whole = write_file(b, META, [_element(1), memoryview(_element(22)), bytearray()])
    assert whole.name == streamed.name == f"{STEM}.dcm"
    assert whole.read_bytes() == streamed.read_bytes()
    assert stat.S_IMODE(whole.stat().st_mode) == stat.S_IMODE(streamed.stat().st_mode)
    assert read_part10(whole).read_dataset_bytes() == data
    assert not list(b.glob(".dicomul-*"))


def test_write_file_with_fsync_and_a_name(tmp_path: Path) -> None:
    p = write_file(tmp_path, META, [_element(3)], fsync=True, filename="x.dcm")
    q = write_file(tmp_path, META, [_element(4)], fsync=True, filename="x.dcm")
    assert (p.name, q.name) == ("x.dcm", "x-1.dcm")
    assert read_part10(q).read_dataset_bytes() == _element(4)
    with pytest.raises(ValueError):
        write_file(tmp_path, META, [b""], filename="../x.dcm")


def test_write_file_skips_a_taken_temporary_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    taken = tmp_path / ".dicomul-taken.part"
    taken.write_bytes(b"someone else's")
    names = iter([str(taken), str(tmp_path / ".dicomul-free.part")])
    monkeypatch.setattr(writer_module, "_temp_path", lambda directory: next(names))
    p = write_file(tmp_path, META, [_element(5)])
    assert read_part10(p).read_dataset_bytes() == _element(5)
    assert taken.read_bytes() == b"someone else's"
    assert sorted(x.name for x in tmp_path.iterdir()) == [taken.name, p.name]


def test_write_file_fails_cleanly(tmp_path: Path) -> None:
    """A directory that is gone: OSError, nothing left behind; a directory that is a
    file: the same."""
    with pytest.raises(OSError):
        write_file(tmp_path / "gone", META, [_element(6)])
    (tmp_path / "f").write_bytes(b"")
    with pytest.raises(OSError):
        write_file(tmp_path / "f", META, [_element(6)])
    assert [x.name for x in tmp_path.iterdir()] == ["f"]


def test_write_file_where_there_is_no_such_call(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """(Windows) store_file is UNSUPPORTED: Part10Writer does it, with the same result."""
    monkeypatch.setattr(writer_module, "store_file", lambda *a: _fsops.UNSUPPORTED)
    p = write_file(tmp_path, META, [_element(7), _element(8)])
    assert p.name == f"{STEM}.dcm"
    assert read_part10(p).read_dataset_bytes() == _element(7) + _element(8)
    assert not list(tmp_path.glob(".dicomul-*"))
