"""Part 10 data sets sent from a mapping of the file (FileRegion) instead of read into
memory: the bytes on the wire are exactly those of the read path, at every fragment size;
a file cut short under a queued message aborts the association with a clear message and
never crashes the process; end to end through Association.store to a dicomul Server."""

from __future__ import annotations

import errno
import io
import os
import shutil
import socket
import sys
import threading
from pathlib import Path

import pytest
from pydicom.data import get_testdata_file
from test_connection_helpers import associate, command, make_ac, make_rq, transfer

from dicomul import AssociationAborted
from dicomul.storage.part10 import FileRegion, read_part10
from dicomul.storage.sources import FileSource, send_form
from dicomul.sync.server import Server
from dicomul.sync.services import Association, contexts_for_files
from dicomul.ul.connection import State
from dicomul.ul.events import AbortIndication, DataIndication, DataRequest
from dicomul.ul.pdata import message_batches

T = 10.0
MAX_LENGTHS = [0, 8, 9, 1000, 16384, 131072]


class _Source:
    """A data set source that offers a FileRegion, like an opened Part 10 data set."""

    def __init__(self, region: FileRegion) -> None:
        self.region = region

    def file_region(self) -> FileRegion:
        return self.region


def _file(tmp_path: Path, size: int, name: str = "data.bin") -> Path:
    path = tmp_path / name
    path.write_bytes(bytes((i * 7 + 3) & 0xFF for i in range(size)))
    return path


@pytest.mark.parametrize("peer_max", MAX_LENGTHS)
@pytest.mark.parametrize(("offset", "size"), [(0, 0), (1, 2), (132, 70_000), (4097, 300_001)])
@pytest.mark.parametrize("window", [4096, 65536, 4 << 20])
def test_mapped_batches_are_the_read_batches(tmp_path, peer_max, offset, size, window) -> None:
    if peer_max in (8, 9) and size > 2:
        size = 3000  # (6-byte fragments: keep the PDU count reasonable)
    path = _file(tmp_path, offset + size + 5)
    data = path.read_bytes()[offset : offset + size]
    cmd = command(True)
    with open(path, "rb") as f:
        region = FileRegion(f, offset, size)
        mapped = list(message_batches(3, cmd, _Source(region), peer_max, window, regions=True))
    read = list(message_batches(3, cmd, data, peer_max, window))
    wire = b"".join(bytes(b) for batch in mapped for b in batch)
    assert wire == b"".join(bytes(b) for batch in read for b in batch)  # the same PDUs
    for batch in mapped[1:]:  # bounded batches: a window of data (or one fragment)
        assert sum(len(b) for b in batch[1::2]) <= max(window, peer_max or window)


@pytest.mark.parametrize("span", [1, 5000, 20_000])
def test_regions_larger_than_one_mapping_are_mapped_in_spans(tmp_path, monkeypatch, span) -> None:
    import dicomul.ul.pdata as pdata

    monkeypatch.setattr(pdata, "MAP_SPAN", span)
    path = _file(tmp_path, 100_000)
    data = path.read_bytes()[7 : 7 + 90_000]
    with open(path, "rb") as f:
        region = FileRegion(f, 7, 90_000)
        mapped = list(message_batches(1, command(True), _Source(region), 1000, 4096, True))
    read = list(message_batches(1, command(True), data, 1000, 4096))
    assert b"".join(bytes(b) for m in mapped for b in m) == b"".join(
        bytes(b) for m in read for b in m
    )


def test_without_regions_the_source_is_read_as_usual(tmp_path) -> None:
    path = _file(tmp_path, 10_000)
    with open(path, "rb") as f:
        src = FileSource(f)
        assert src.file_region() is None  # a plain file has no data set region
        batches = list(message_batches(1, command(True), src, 16384, regions=True))
    assert b"".join(bytes(b) for b in batches[-1][1::2]).endswith(path.read_bytes()[-100:])


@pytest.mark.parametrize("peer_max", [0, 16384])
def test_connection_sends_a_part10_data_set_from_the_mapping(peer_max) -> None:
    pf = read_part10(get_testdata_file("CT_small.dcm"))
    r, a = associate(make_rq(16384), make_ac(peer_max))
    r.file_regions = True
    cmd = command(True)
    r.send(DataRequest(3, cmd, send_form(pf.open_dataset())))
    transfer(r, a)
    assert a.events() == [DataIndication(3, cmd, pf.read_dataset_bytes())]


def test_a_file_cut_short_before_it_is_sent_aborts_with_a_clear_message(tmp_path) -> None:
    src = tmp_path / "ct.dcm"
    shutil.copy(get_testdata_file("CT_small.dcm"), src)
    pf = read_part10(src)
    r, a = associate(make_rq(16384), make_ac(16384))
    r.file_regions = True
    r.send(DataRequest(3, command(True), send_form(pf.open_dataset())))
    os.truncate(src, pf.dataset_offset + 10)
    wire = transfer(r, a)  # never raises: the source's failure becomes an A-ABORT
    assert r.state is State.STA13
    (ev,) = r.events()
    assert isinstance(ev, AbortIndication) and ev.local and ev.source == 0
    assert "could not be read" in ev.message and "the file ends at byte" in ev.message
    assert isinstance(ev.error, OSError)
    assert wire[-10:] == bytes([7, 0, 0, 0, 0, 4, 0, 0, 0, 0])  # A-ABORT, service user
    assert any(isinstance(e, AbortIndication) for e in a.events())


def test_a_failing_source_of_any_kind_aborts_the_same_way() -> None:
    def chunks():
        yield b"\0" * 1000
        raise OSError("disk gone")

    r, a = associate(make_rq(16384), make_ac(16384))
    r.send(DataRequest(3, command(True), chunks()))
    transfer(r, a)
    (ev,) = r.events()
    assert isinstance(ev, AbortIndication) and "disk gone" in ev.message
    assert r.state is State.STA13


@pytest.mark.skipif(sys.platform != "linux", reason="Linux mmap semantics")
def test_a_file_cut_short_after_mapping_fails_the_write_not_the_process(tmp_path) -> None:
    path = _file(tmp_path, 1 << 20)
    a, b = socket.socketpair()
    drain = threading.Thread(target=lambda: [0 for _ in iter(lambda: b.recv(1 << 16), b"")])
    drain.start()
    try:
        with open(path, "rb") as f:
            view = FileRegion(f, 100, (1 << 20) - 100).map(0, (1 << 20) - 100)
            os.truncate(path, 4096)  # pages beyond this now fault: the kernel says EFAULT
            with pytest.raises(OSError) as info:
                sent = 0
                for _ in range(1000):  # bounded: the first pages may still go
                    sent += a.sendmsg([view[sent:]])
            assert info.value.errno == errno.EFAULT
            view.release()
    finally:
        a.close()
        drain.join(T)
        b.close()


@pytest.fixture
def server(tmp_path):
    srv = Server("SCP", store_dir=tmp_path / "in", accept_all_storage=True)
    port = srv.start("127.0.0.1", 0)
    yield srv, port
    srv.stop(timeout=T)


def _connect(port: int, files: list[Path]) -> Association:
    return Association.connect("127.0.0.1", port, called_ae="SCP",
                               contexts=contexts_for_files(files),
                               dimse_timeout=T, acse_timeout=T, connect_timeout=T)  # fmt: skip


def test_store_streams_from_the_mapping_byte_for_byte(server, tmp_path) -> None:
    _srv, port = server
    files = [Path(get_testdata_file(n)) for n in ("CT_small.dcm", "MR_small.dcm")]
    with _connect(port, files) as assoc:
        assert assoc.session.connection.file_regions  # a plain socket: the mapped path is taken
        for f in files:
            assert assoc.store(f) == 0
    for f in files:
        pf = read_part10(f)
        got = read_part10(tmp_path / "in" / f"{pf.meta.sop_instance_uid}.dcm")
        assert got.read_dataset_bytes() == pf.read_dataset_bytes()


def test_store_of_a_file_cut_short_raises_and_the_server_goes_on(server, tmp_path) -> None:
    _srv, port = server
    src = tmp_path / "ct.dcm"
    shutil.copy(get_testdata_file("CT_small.dcm"), src)
    pf = read_part10(src)
    os.truncate(src, pf.dataset_offset + 10)  # read_part10 saw the whole file
    with _connect(port, [src]) as assoc, pytest.raises(AssociationAborted):
        assoc.store(pf)
    good = Path(get_testdata_file("MR_small.dcm"))
    with _connect(port, [good]) as assoc:
        assert assoc.store(good) == 0
    assert not list((tmp_path / "in").glob(f"{pf.meta.sop_instance_uid}*"))


def test_a_file_cut_short_between_two_mappings_is_an_error(tmp_path, monkeypatch) -> None:
    import dicomul.ul.pdata as pdata

    monkeypatch.setattr(pdata, "MAP_SPAN", 8192)  # map 8 KiB (two 4 KiB windows) at a time
    path = _file(tmp_path, 100_000)
    with open(path, "rb") as f:
        batches = message_batches(1, command(True), _Source(FileRegion(f, 0, 100_000)),
                                  16384, 4096, regions=True)  # fmt: skip
        for _ in range(3):  # the command set, then the first mapping's two windows
            next(batches)
        os.truncate(path, 9000)
        with pytest.raises(OSError, match="file ends before byte"):
            next(batches)  # (the Connection turns this into an A-ABORT: see above)


def test_a_file_system_without_mmap_falls_back_to_reading(monkeypatch) -> None:
    import dicomul.storage.part10 as storage

    def no_mmap(self, start, length):
        raise OSError(errno.ENODEV, "No such device")

    monkeypatch.setattr(storage.FileRegion, "map", no_mmap)
    pf = read_part10(get_testdata_file("MR_small.dcm"))
    r, a = associate(make_rq(16384), make_ac(16384))
    r.file_regions = True
    cmd = command(True)
    r.send(DataRequest(3, cmd, send_form(pf.open_dataset())))
    transfer(r, a)
    assert a.events() == [DataIndication(3, cmd, pf.read_dataset_bytes())]


@pytest.mark.parametrize("regions", [True, False])
def test_the_file_is_closed_once_sent_or_dropped(regions) -> None:
    pf = read_part10(get_testdata_file("CT_small.dcm"))
    for drop in (False, True):
        r, a = associate(make_rq(16384), make_ac(16384))
        r.file_regions = regions
        f = pf.open_dataset()
        r.send(DataRequest(3, command(True), send_form(f)))
        if drop:
            r.take_outgoing(1)  # started, then the association goes away
            r.discard_output()
        else:
            transfer(r, a)
        assert f.closed


def _pdv_payloads(batches: list) -> list[bytes]:
    """The data set PDV fragments of message_batches output (headers dropped)."""
    return [bytes(b) for batch in batches[1:] for b in batch[1::2]]


@pytest.mark.parametrize("peer_max", [0, 9, 1000, 16384])
@pytest.mark.parametrize("size", [1, 3, 999, 1001, 70_001])
@pytest.mark.parametrize("kind", ["bytes", "chunks", "file", "region"])
def test_an_odd_data_set_goes_out_padded_to_even(tmp_path, peer_max, size, kind) -> None:
    """PS3.5 A.5 (a deflated data set ends with one NUL pad byte when odd) and DCMTK's
    "Odd Fragment Length" abort: whatever the source, no fragment is odd, and the data
    set arrives as its bytes plus one trailing NUL."""
    if peer_max == 9 and size > 1001:
        size = 1001
    path = _file(tmp_path, size + 10)
    data = path.read_bytes()[5 : 5 + size]
    with open(path, "rb") as f:
        region = FileRegion(f, 5, size)
        f.seek(5)
        source = {
            "bytes": data,
            "chunks": [data[: size // 2], data[size // 2 :]],
            "file": io.BytesIO(data),
            "region": _Source(region),
        }[kind]
        frags = _pdv_payloads(list(message_batches(1, command(True), source, peer_max, 4096,
                                                   regions=kind == "region")))  # fmt: skip
    assert all(len(x) % 2 == 0 for x in frags)
    assert b"".join(frags) == data + b"\x00"
