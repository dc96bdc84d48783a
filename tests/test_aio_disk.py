"""Where the asyncio server's disk work happens (aio._offload): a large received object's
file is made, written and committed in the server's thread pool; a small data set waits in
memory and is written in one compiled call, on the event loop while such writes are
quick (else, with write_on_loop=False or fsync, in one hand-off to the pool); a large
one starts being written before its last byte arrives; a file that cannot be made fails
that C-STORE with 0xA700 (out of resources) and the association goes on."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import pydicom
import pytest

from dicomul import aio
from dicomul.aio import _offload
from dicomul.storage import writer as writer_module
from dicomul.storage.contexts import contexts_for_files, verification_contexts

T = 10.0
DATA = Path(pydicom.__file__).parent / "data" / "test_files"
CT = str(DATA / "CT_small.dcm")  # 39 KiB of data set
CT_UID = "1.3.6.1.4.1.5962.1.1.1.1.1.20040119072730.12322"


def run(scenario: Any) -> Any:
    return asyncio.run(asyncio.wait_for(scenario(), 30.0))


async def store_one(directory: Path, **kw: Any) -> tuple[int, int]:
    """Store CT_small through a fresh server; (status, echo status after it)."""
    srv = aio.Server("SCP", store_dir=directory, accept_all_storage=True, acse_timeout=T, **kw)
    port = await srv.start("127.0.0.1", 0)
    try:
        contexts = verification_contexts() + contexts_for_files([CT])
        a = await aio.connect("127.0.0.1", port, called_ae="SCP", dimse_timeout=T,
                              contexts=contexts)  # fmt: skip
        status = await a.store(CT)
        echo = await a.echo() if a.is_established else -1
        await a.release()
        return status, echo
    finally:
        await srv.close()


class _Made:
    """Records the threads that make Part10Writers and call their write(), and those that
    store whole files with the compiled call (writer.store_file)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.make_threads: list[str] = []
        self.write_threads: list[str] = []
        self.whole_threads: list[str] = []
        real_store = writer_module.store_file

        def store_file(*args: Any) -> int:
            self.whole_threads.append(threading.current_thread().name)
            return real_store(*args)

        monkeypatch.setattr(writer_module, "store_file", store_file)
        real_init, real_write = (
            writer_module.Part10Writer.__init__,
            writer_module.Part10Writer.write,
        )

        def init(w: Any, *args: Any, **kw: Any) -> None:
            self.make_threads.append(threading.current_thread().name)
            real_init(w, *args, **kw)

        def write(w: Any, data: Any) -> int:
            self.write_threads.append(threading.current_thread().name)
            return real_write(w, data)

        monkeypatch.setattr(writer_module.Part10Writer, "__init__", init)
        monkeypatch.setattr(writer_module.Part10Writer, "write", write)


@pytest.mark.parametrize(
    "options, on_loop",
    [({}, True), ({"write_on_loop": False}, False), ({"fsync": True}, False)],
    ids=["default", "write_on_loop=False", "fsync"],
)
def test_a_small_object_is_made_and_written_in_one_call(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, options: dict[str, Any], on_loop: bool
) -> None:
    """In one compiled call (write_file), no Part10Writer at all: on the loop by default,
    in a pool thread when asked to or when the file is to be synced."""
    made = _Made(monkeypatch)
    assert run(lambda: store_one(tmp_path, **options)) == (0, 0)
    loop_thread = threading.current_thread().name  # (asyncio.run's loop runs here)
    assert len(made.whole_threads) == 1
    assert (made.whole_threads[0] == loop_thread) is on_loop
    assert made.make_threads == made.write_threads == []
    stored = tmp_path / f"{CT_UID}.dcm"
    assert pydicom.dcmread(stored).PixelData == pydicom.dcmread(CT).PixelData
    assert not list(tmp_path.glob(".dicomul-*"))


def test_a_large_object_is_written_while_it_arrives(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With START below the data set's size, the first writes run before the message is
    complete: the file exists (as a temporary file) while the rest is still coming."""
    monkeypatch.setattr(_offload, "START", 1024)
    gate = threading.Event()
    seen_partial: list[bool] = []
    real_write = writer_module.Part10Writer.write

    def write(w: Any, data: Any) -> int:
        if not gate.is_set():  # the first write: hold it until the test has looked
            seen_partial.append(bool(list(tmp_path.glob(".dicomul-*.part"))))
            assert gate.wait(T)
        return real_write(w, data)

    monkeypatch.setattr(writer_module.Part10Writer, "write", write)

    async def scenario() -> tuple[int, bool]:
        srv = aio.Server("SCP", store_dir=tmp_path, accept_all_storage=True, acse_timeout=T)
        port = await srv.start("127.0.0.1", 0)
        a = await aio.connect("127.0.0.1", port, called_ae="SCP", dimse_timeout=T, max_pdu=4096,
                              contexts=contexts_for_files([CT]))  # fmt: skip
        store = asyncio.ensure_future(a.store(CT))
        for _ in range(200):  # bounded: until the first write is under way
            if seen_partial:
                break
            await asyncio.sleep(0.01)
        early = store.done()
        gate.set()
        status = await store
        await a.release()
        await srv.close()
        return status, early

    status, early = run(scenario)
    assert (status, early, seen_partial) == (0, False, [True])
    stored = tmp_path / f"{CT_UID}.dcm"
    assert pydicom.dcmread(stored).PixelData == pydicom.dcmread(CT).PixelData


@pytest.mark.parametrize("start", [_offload.START, 1024], ids=["whole", "streamed"])
def test_a_file_that_cannot_be_made_fails_only_that_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, start: int
) -> None:
    """Whether the data set is stored whole (one compiled call) or streamed."""

    def refuse(directory: str, *args: Any) -> Any:
        raise OSError(28, "No space left on device", directory)

    monkeypatch.setattr(_offload, "START", start)
    monkeypatch.setattr(writer_module, "_create_temp", refuse)
    monkeypatch.setattr(writer_module, "store_file", refuse)
    assert run(lambda: store_one(tmp_path)) == (0xA700, 0)
    assert list(tmp_path.iterdir()) == []


def test_a_commit_after_the_association_ended_stores_nothing(tmp_path: Path) -> None:
    """The connection is lost after a whole message arrived but before its commit ran in
    the pool: the commit fails (no response can go anyway) and leaves no file, not a
    file with its data set missing."""
    from concurrent.futures import ThreadPoolExecutor

    from dicomul.storage.part10 import FileMeta
    from dicomul.storage.writer import PendingFile

    meta = FileMeta("1.2.840.10008.1.2", "1.2.840.10008.5.1.4.1.1.7", "1.2.3.4")
    loop = asyncio.new_event_loop()
    try:
        with ThreadPoolExecutor(1) as pool:
            for size in (100, _offload.START + 1):  # all in memory / being streamed
                w = _offload.BackgroundWriter(
                    PendingFile(tmp_path, meta, False), pool, loop, lambda: None, lambda: None
                )
                w.write(b"\0" * size)
                loop.run_until_complete(w.flushed())
                w.abort()
                with pytest.raises(ConnectionAbortedError):
                    pool.submit(w.commit).result(T)
    finally:
        loop.close()
    assert list(tmp_path.iterdir()) == []


def test_on_store_now_alone_is_called_on_the_loop(tmp_path: Path) -> None:
    """An on_store_now without an on_store is still called, on the loop, with the file
    just written there, and its status is the answer."""
    calls: list[tuple[str, Path]] = []

    def on_store_now(meta: Any, data: Any, info: Any) -> int:
        calls.append((threading.current_thread().name, data))
        return 0xB000  # (a warning status: seen by the requestor)

    assert run(lambda: store_one(tmp_path, on_store_now=on_store_now)) == (0xB000, 0)
    loop_thread = threading.current_thread().name
    assert calls == [(loop_thread, tmp_path / f"{CT_UID}.dcm")]
