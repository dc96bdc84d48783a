"""Part 10 files, data set preparation and Part10Writer (dicomul.storage.part10)."""

from __future__ import annotations

import io
import os
import time
import tracemalloc
from pathlib import Path

import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_file_meta_info
from pydicom.uid import generate_uid

from dicomul.errors import DicomULError
from dicomul.storage import transcode
from dicomul.storage.part10 import (
    FileMeta,
    Part10File,
    PreparedDataset,
    StorageError,
    decode_dataset,
    encode_dataset,
    is_compressed_syntax,
    prepare_dataset,
    read_part10,
)
from dicomul.storage.writer import DiscardWriter, Part10Writer, encode_file_meta, safe_filename
from dicomul.ul.constants import (
    DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN as DEFL,
)
from dicomul.ul.constants import (
    EXPLICIT_VR_BIG_ENDIAN as EBE,
)
from dicomul.ul.constants import (
    EXPLICIT_VR_LITTLE_ENDIAN as ELE,
)
from dicomul.ul.constants import (
    IMPLEMENTATION_CLASS_UID,
    IMPLEMENTATION_VERSION_NAME,
    JPEG2000,
    JPEG_BASELINE,
)
from dicomul.ul.constants import (
    IMPLICIT_VR_LITTLE_ENDIAN as ILE,
)
from dicomul.ul.constants import (
    RLE_LOSSLESS as RLE,
)

FILES = {
    "CT_small.dcm": ELE,
    "MR_small.dcm": ELE,
    "JPEG2000.dcm": JPEG2000,
    "SC_rgb_jpeg_dcmtk.dcm": JPEG_BASELINE,
    "rtplan.dcm": ILE,
    "image_dfl.dcm": DEFL,
    "MR_small_bigendian.dcm": EBE,
}


def _path(name: str) -> str:
    p = get_testdata_file(name)
    if p is None:
        pytest.skip(f"pydicom test file {name} not available")
    return str(p)


def _read_all(f) -> bytes:
    with f:
        return f.read()


def _little(ds: Dataset) -> bool:
    return ds.file_meta.TransferSyntaxUID != EBE


def _swapped(value: bytes, width: int) -> bytes:
    v = bytearray(value)
    for i in range(width):
        v[i::width] = value[width - 1 - i :: width]
    return bytes(v)


def _same_dataset(a: Dataset, b: Dataset) -> None:
    """Equal element by element (values compared after pydicom decodes them); OW values
    of data sets of different endianness compared after swapping their bytes."""
    assert sorted(a.keys()) == sorted(b.keys())
    swap = _little(a) != _little(b)
    for tag in a.keys():
        va, vb = a[tag].value, b[tag].value
        if swap and b[tag].VR == "OW" and isinstance(vb, bytes):
            vb = _swapped(vb, 2)
        assert va == vb, tag


# ---- read_part10 -------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(FILES))
def test_read_part10_matches_pydicom(name: str) -> None:
    path = _path(name)
    pf = read_part10(path)
    ds = pydicom.dcmread(path)
    fm = ds.file_meta
    assert pf.meta.transfer_syntax == FILES[name] == fm.TransferSyntaxUID
    assert pf.meta.sop_class_uid == fm.MediaStorageSOPClassUID
    assert pf.meta.sop_instance_uid == fm.MediaStorageSOPInstanceUID
    assert pf.meta.implementation_class_uid == fm.get("ImplementationClassUID")
    assert pf.meta.implementation_version_name == fm.get("ImplementationVersionName")
    assert pf.meta.source_ae_title == fm.get("SourceApplicationEntityTitle")
    assert pf.is_compressed == (name in ("JPEG2000.dcm", "SC_rgb_jpeg_dcmtk.dcm"))
    # offset: the group 0002 that pydicom re-encodes ends exactly there
    raw = Path(path).read_bytes()
    assert raw[128:132] == b"DICM"
    fp = DicomBytesIO()
    write_file_meta_info(fp, fm, enforce_standard=False)
    assert pf.dataset_offset == 132 + len(fp.getvalue())
    assert pf.dataset_length == len(raw) - pf.dataset_offset
    data = _read_all(pf.open_dataset())
    assert data == raw[pf.dataset_offset :]
    # and the data set bytes decode to pydicom's data set
    _same_dataset(decode_dataset(data, pf.meta.transfer_syntax), ds)


def test_open_dataset_readinto_seek_and_bounds() -> None:
    pf = read_part10(_path("CT_small.dcm"))
    raw = Path(pf.path).read_bytes()[pf.dataset_offset :]
    with pf.open_dataset() as f:
        assert f.readable() and not f.writable()
        buf = bytearray(100)
        assert f.readinto(buf) == 100 and bytes(buf) == raw[:100]
        assert f.tell() == 100
        chunks = []
        while chunk := f.read(4096):
            chunks.append(chunk)
        assert b"".join(chunks) == raw[100:]
        assert f.read(10) == b""
        f.seek(0)
        assert f.read(8) == raw[:8]
        f.seek(-4, io.SEEK_END)
        assert f.read() == raw[-4:]
    with pytest.raises(ValueError):
        f.read(1)


def test_compressed_classification() -> None:
    assert not is_compressed_syntax(ILE) and not is_compressed_syntax(ELE)
    assert not is_compressed_syntax(EBE) and not is_compressed_syntax(DEFL)
    assert is_compressed_syntax(JPEG_BASELINE) and is_compressed_syntax("1.2.840.10008.1.2.5")


def _write_part10(path: Path, meta: FileMeta, data: bytes) -> None:
    path.write_bytes(encode_file_meta(meta) + data)


def test_read_part10_errors(tmp_path: Path) -> None:
    p = tmp_path / "x.dcm"
    p.write_bytes(b"\0" * 300)
    with pytest.raises(StorageError, match="DICM"):
        read_part10(p)
    assert issubclass(StorageError, DicomULError)
    p.write_bytes(b"")
    with pytest.raises(StorageError):
        read_part10(p)
    # a meta group without (0002,0010)
    full = encode_file_meta(FileMeta(ELE, "1.2.3", "4.5.6"))
    group = full[132 + 12 :]
    # drop the transfer syntax element and fix nothing else: scanning still finds the end
    off = group.index(b"\x02\x00\x10\x00UI")
    ln = int.from_bytes(group[off + 6 : off + 8], "little")
    no_ts = group[:off] + group[off + 8 + ln :]
    p.write_bytes(bytes(128) + b"DICM" + no_ts + b"\x08\x00\x16\x00UI\x02\x001\x00")
    with pytest.raises(StorageError, match=r"\(0002,0010\)"):
        read_part10(p)
    # truncated inside group 0002
    p.write_bytes(full[:150])
    with pytest.raises(StorageError):
        read_part10(p)
    with pytest.raises(FileNotFoundError):
        read_part10(tmp_path / "missing.dcm")


def test_read_part10_force(tmp_path: Path) -> None:
    # a bare Implicit VR LE data set (what force=True is for)
    rt = read_part10(_path("rtplan.dcm"))
    bare = tmp_path / "bare.dcm"
    bare.write_bytes(rt.read_dataset_bytes())
    with pytest.raises(StorageError, match="force"):
        read_part10(bare)
    pf = read_part10(bare, force=True)
    assert pf.forced and pf.dataset_offset == 0 and pf.dataset_length == rt.dataset_length
    assert pf.meta.transfer_syntax == ILE
    ds = pydicom.dcmread(_path("rtplan.dcm"))  # (its meta and data set UIDs differ)
    assert pf.meta.sop_instance_uid == ds.SOPInstanceUID
    assert pf.meta.sop_class_uid == ds.SOPClassUID
    assert _read_all(prepare_dataset(pf, [ILE]).data) == rt.read_dataset_bytes()
    # group 0002 without preamble
    raw = Path(_path("CT_small.dcm")).read_bytes()[132:]
    p = tmp_path / "nopre.dcm"
    p.write_bytes(raw)
    pf2 = read_part10(p, force=True)
    ref = read_part10(_path("CT_small.dcm"))
    assert pf2.meta == ref.meta and pf2.dataset_offset == ref.dataset_offset - 132
    p.write_bytes(b"garbage " * 10)
    with pytest.raises(StorageError):
        read_part10(p, force=True)


def test_read_part10_deflated_group_length_is_trusted(tmp_path: Path) -> None:
    # a data set whose first bytes look like a group 0002 tag must not be read as meta
    data = b"\x02\x00\x20\x00UI\x02\x0012" + b"\x00" * 10
    p = tmp_path / "d.dcm"
    _write_part10(p, FileMeta(DEFL, "1.2.3", "4.5.6"), data)
    pf = read_part10(p)
    assert _read_all(pf.open_dataset()) == data


def test_read_part10_1gb_sparse_is_instant(tmp_path: Path) -> None:
    p = tmp_path / "big.dcm"
    _write_part10(p, FileMeta(ELE, "1.2.3", "4.5.6"), b"")
    with open(p, "r+b") as f:
        f.truncate(1 << 30)
    t = time.perf_counter()
    pf = read_part10(p)
    assert time.perf_counter() - t < 0.5
    assert pf.dataset_length == (1 << 30) - pf.dataset_offset


# ---- encode / decode / prepare -----------------------------------------------------------


@pytest.mark.parametrize("ts", [ILE, ELE, EBE, DEFL])
@pytest.mark.parametrize("name", ["CT_small.dcm", "MR_small.dcm", "MR_small_bigendian.dcm"])
def test_encode_decode_round_trip(name: str, ts: str) -> None:
    ds = pydicom.dcmread(_path(name))
    back = decode_dataset(encode_dataset(ds, ts), ts)
    assert back.file_meta.TransferSyntaxUID == ts
    _same_dataset(back, ds)
    assert (back.pixel_array == ds.pixel_array).all()


def test_encode_does_not_modify_caller_and_skips_group2() -> None:
    ds = pydicom.dcmread(_path("CT_small.dcm"))
    before = ds.PixelData
    ds.add_new(0x00020010, "UI", ELE)
    data = encode_dataset(ds, EBE)
    assert ds.PixelData == before and 0x00020010 in ds
    assert 0x00020010 not in decode_dataset(data, EBE)
    with pytest.raises(TypeError):
        encode_dataset(b"x", ELE)
    with pytest.raises(StorageError, match="inflate"):
        decode_dataset(b"\xff\xff not deflate", DEFL)


def test_prepare_part10_streams_as_is() -> None:
    for name, ts in FILES.items():
        path = _path(name)
        raw = Path(path).read_bytes()
        pf = read_part10(path)
        for obj in (pf, path, Path(path)):
            prep = prepare_dataset(obj, [ILE, ts])
            assert isinstance(prep, PreparedDataset)
            own = pydicom.dcmread(path, stop_before_pixels=True)  # the data set's UIDs
            assert (prep.transfer_syntax, prep.sop_class_uid, prep.sop_instance_uid) == (
                ts,
                own.SOPClassUID,
                own.SOPInstanceUID,
            )
            assert hasattr(prep.data, "read")
            assert _read_all(prep.data) == raw[pf.dataset_offset :]
            prep.close()


@pytest.mark.parametrize(
    "name,accepted,target",
    [
        ("CT_small.dcm", [ILE], ILE),
        ("CT_small.dcm", [ILE, EBE, ELE + ".x"], ILE),
        ("CT_small.dcm", [EBE], EBE),
        ("rtplan.dcm", [EBE, ELE], ELE),
        ("image_dfl.dcm", [ILE, ELE], ELE),
        ("MR_small_bigendian.dcm", [ILE], ILE),
        ("MR_small.dcm", [DEFL], DEFL),
    ],
)
def test_prepare_part10_reencodes_uncompressed(name: str, accepted: list, target: str) -> None:
    path = _path(name)
    ds = pydicom.dcmread(path)
    prep = prepare_dataset(path, accepted)
    assert prep.transfer_syntax == target
    assert isinstance(prep.data, bytes)
    back = decode_dataset(prep.data, target)
    _same_dataset(back, ds)
    if "PixelData" in ds:
        assert (back.pixel_array == ds.pixel_array).all()
        if (target == EBE) == (ds.file_meta.TransferSyntaxUID == EBE):
            assert back.PixelData == ds.PixelData  # same endianness: identical pixel bytes


@pytest.mark.parametrize("name", ["JPEG2000.dcm", "SC_rgb_jpeg_dcmtk.dcm"])
def test_prepare_compressed_without_codecs_names_the_extra(name: str, monkeypatch) -> None:
    monkeypatch.setattr(transcode, "codecs_available", lambda: False)
    path = _path(name)
    ts = FILES[name]
    with pytest.raises(StorageError) as exc:
        prepare_dataset(path, [ELE, ILE])
    text = str(exc.value)
    assert ts in text and ELE in text and ILE in text and "dicomul[codecs]" in text
    with pytest.raises(StorageError, match="none"):
        prepare_dataset(path, [])
    ds = pydicom.dcmread(path)  # as a Dataset too
    with pytest.raises(StorageError, match=r"dicomul\[codecs\]"):
        prepare_dataset(ds, [ELE])
    prep = prepare_dataset(ds, [ELE, ts])  # its own syntax needs no codec
    assert prep.transfer_syntax == ts
    assert prep.data == read_part10(path).read_dataset_bytes()


@pytest.mark.parametrize("name", ["JPEG2000.dcm", "SC_rgb_jpeg_dcmtk.dcm", "MR_small_RLE.dcm"])
def test_prepare_compressed_is_decompressed_for_an_uncompressed_peer(name: str) -> None:
    path = _path(name)
    original = pydicom.dcmread(path)
    for obj in (path, original):
        prep = prepare_dataset(obj, [ILE, ELE])
        assert prep.transfer_syntax == ELE  # the first of REENCODE_PREFERENCE accepted
        back = decode_dataset(prep.data, ELE)
        assert (back.pixel_array == original.pixel_array).all()
        assert back.SOPInstanceUID == original.SOPInstanceUID
    assert original.file_meta.TransferSyntaxUID != ELE  # the caller's Dataset untouched
    assert original.PixelData == pydicom.dcmread(path).PixelData


def test_prepare_for_a_peer_that_accepts_only_rle_compresses() -> None:
    for name in ("CT_small.dcm", "JPEG2000.dcm"):
        original = pydicom.dcmread(_path(name))
        prep = prepare_dataset(_path(name), [RLE])
        assert prep.transfer_syntax == RLE
        back = decode_dataset(prep.data, RLE)
        assert (back.pixel_array == original.pixel_array).all()


def test_prepare_nothing_transcodable_accepted() -> None:
    for obj in (_path("CT_small.dcm"), pydicom.dcmread(_path("CT_small.dcm"))):
        with pytest.raises(StorageError, match="none of the syntaxes dicomul can transcode"):
            prepare_dataset(obj, [JPEG2000])


def test_prepare_pydicom_dataset() -> None:
    ds = pydicom.dcmread(_path("CT_small.dcm"))
    raw = read_part10(_path("CT_small.dcm")).read_dataset_bytes()
    own = prepare_dataset(ds, [ILE, ELE])  # its own syntax first when accepted
    assert own.transfer_syntax == ELE and own.data == raw
    assert own.sop_instance_uid == ds.SOPInstanceUID and own.sop_class_uid == ds.SOPClassUID
    other = prepare_dataset(ds, [EBE, ILE])  # accepted order, big endian last
    assert other.transfer_syntax == ILE
    _same_dataset(decode_dataset(other.data, ILE), ds)
    # a dataset built in memory, no file meta
    new = Dataset()
    new.SOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
    new.SOPInstanceUID = generate_uid()
    new.PatientName = "Doe^J"
    prep = prepare_dataset(new, [ELE])
    assert prep.transfer_syntax == ELE
    assert decode_dataset(prep.data, ELE).PatientName == "Doe^J"
    with pytest.raises(StorageError, match="SOP"):
        prepare_dataset(Dataset(), [ELE])
    with pytest.raises(TypeError):
        prepare_dataset(42, [ELE])


def test_prepare_encoded_tuple() -> None:
    pf = read_part10(_path("CT_small.dcm"))
    raw = pf.read_dataset_bytes()
    m = pf.meta
    prep = prepare_dataset((raw, ELE, m.sop_class_uid, m.sop_instance_uid), [ELE])
    assert prep.data is raw and prep.transfer_syntax == ELE
    prep = prepare_dataset((memoryview(raw), ELE, m.sop_class_uid, m.sop_instance_uid), [ILE])
    assert prep.transfer_syntax == ILE
    _same_dataset(decode_dataset(prep.data, ILE), decode_dataset(raw, ELE))
    from pydicom.encaps import encapsulate

    broken = pydicom.dcmread(_path("JPEG2000.dcm"))
    broken.PixelData = encapsulate([b"\x00" * 100])  # not a JPEG 2000 code stream
    with pytest.raises(StorageError, match=f"cannot decompress.*{JPEG2000}"):
        prepare_dataset((encode_dataset(broken, JPEG2000), JPEG2000, "1.2", "3.4"), [ELE])


# ---- safe_filename -------------------------------------------------------------------------


HOSTILE = [
    "../../etc/passwd",
    "/abs",
    "/",
    "a/../../b",
    "\x00",
    "a\x00b",
    "..",
    ".",
    "...",
    "",
    "x" * 300,
    "1." * 150,
    "C:\\x",
    "C:",
    "\\\\server\\share\\f",
    "ünïcødé/ü",
    "\u202e\ufeff",
    "-rf",
    ".hidden",
    "CON",
    "nul",
    "a" + os.sep + "b",
    "\udcff",
]


@pytest.mark.parametrize("uid", HOSTILE)
def test_safe_filename_hostile(uid: str, tmp_path: Path) -> None:
    name = safe_filename(uid)
    assert name.endswith(".dcm") and len(name) <= 204
    stem = name[:-4]
    assert stem and not name.startswith((".", "-")) and ".." not in name
    assert all(c.isascii() and (c.isalnum() or c in "._-") for c in name)
    assert stem.split(".")[0].upper() not in ("CON", "NUL")
    p = tmp_path / name
    assert os.path.dirname(os.path.realpath(p)) == os.path.realpath(tmp_path)
    p.write_bytes(b"")  # a real, creatable file name
    assert safe_filename(uid) == name  # deterministic


def test_safe_filename_valid_uid_and_prefix() -> None:
    uid = "1.2.840.10008.5.1.4.1.1.2.12345"
    assert safe_filename(uid) == uid + ".dcm"
    assert safe_filename(uid, "CT_") == "CT_" + uid + ".dcm"
    assert safe_filename("../x", "../") != safe_filename("x")
    assert safe_filename("a/b") != safe_filename("a_b")  # hostile names stay distinct
    assert safe_filename("x" * 300) != safe_filename("x" * 299)
    assert len({safe_filename(u) for u in HOSTILE}) == len(HOSTILE)


# ---- Part10Writer ----------------------------------------------------------------------------


def _ct() -> tuple[Part10File, bytes]:
    pf = read_part10(_path("CT_small.dcm"))
    return pf, pf.read_dataset_bytes()


def test_encode_file_meta_matches_pydicom() -> None:
    meta = FileMeta(ELE, "1.2.840.10008.5.1.4.1.1.2", "1.2.3.44", source_ae_title="STORESCU")
    ours = encode_file_meta(meta)
    fm = FileMetaDataset()
    fm.FileMetaInformationVersion = b"\x00\x01"
    fm.MediaStorageSOPClassUID = meta.sop_class_uid
    fm.MediaStorageSOPInstanceUID = meta.sop_instance_uid
    fm.TransferSyntaxUID = ELE
    fm.ImplementationClassUID = IMPLEMENTATION_CLASS_UID
    fm.ImplementationVersionName = IMPLEMENTATION_VERSION_NAME
    fm.SourceApplicationEntityTitle = "STORESCU"
    fp = DicomBytesIO()
    write_file_meta_info(fp, fm)
    assert ours == bytes(128) + b"DICM" + fp.getvalue()


def test_writer_round_trip(tmp_path: Path) -> None:
    pf, data = _ct()
    meta = FileMeta(ELE, pf.meta.sop_class_uid, pf.meta.sop_instance_uid, source_ae_title="SCU")
    w = Part10Writer(tmp_path, meta)
    assert w.temp_path is not None and w.temp_path.exists()
    assert w.temp_path.parent == tmp_path.resolve() and w.temp_path.name.endswith(".part")
    assert w.temp_path.name.startswith(".dicomul-")
    mv = memoryview(data)
    for i in range(0, len(data), 1000):
        assert w.write(mv[i : i + 1000]) == len(mv[i : i + 1000])
    assert w.bytes_written == len(data)
    final = w.commit()
    assert final == tmp_path.resolve() / safe_filename(meta.sop_instance_uid) == w.path
    assert sorted(p.name for p in tmp_path.iterdir()) == [final.name]  # no .part left
    got = pydicom.dcmread(final)
    ref = pydicom.dcmread(_path("CT_small.dcm"))
    _same_dataset(got, ref)
    fm = got.file_meta
    assert fm.TransferSyntaxUID == ELE
    assert fm.MediaStorageSOPClassUID == ref.SOPClassUID
    assert fm.MediaStorageSOPInstanceUID == ref.SOPInstanceUID
    assert fm.ImplementationClassUID == IMPLEMENTATION_CLASS_UID
    assert fm.ImplementationVersionName == IMPLEMENTATION_VERSION_NAME
    assert fm.SourceApplicationEntityTitle == "SCU"
    assert fm.FileMetaInformationVersion == b"\x00\x01"
    again = read_part10(final)
    assert again.meta.transfer_syntax == ELE and again.read_dataset_bytes() == data
    with pytest.raises(ValueError):
        w.write(b"x")
    with pytest.raises(ValueError):
        w.commit()
    w.abort()  # no-op after commit
    assert final.exists()


def test_writer_fsync_and_filename(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pf, data = _ct()
    synced: list[int] = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real_fsync(fd))[1])
    with Part10Writer(tmp_path, pf.meta, fsync=True, filename="mine.dcm") as w:
        w.write(data)
        final = w.commit()
    assert len(synced) == 2  # the file, then the directory
    with Part10Writer(tmp_path, pf.meta) as w:
        w.write(data)
        w.commit().unlink()
    assert len(synced) == 2  # fsync=False: none
    assert final.name == "mine.dcm"
    assert read_part10(final).read_dataset_bytes() == data
    for bad in ("../x.dcm", "/etc/x", "a/b", "..", ".", "", "a\\b", "a\x00b"):
        with pytest.raises(ValueError):
            Part10Writer(tmp_path, pf.meta, filename=bad)
    assert [p.name for p in tmp_path.iterdir()] == ["mine.dcm"]


def test_writer_abort_and_context_manager(tmp_path: Path) -> None:
    pf, data = _ct()
    w = Part10Writer(tmp_path, pf.meta)
    w.write(data)
    w.abort()
    w.abort()
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(RuntimeError):
        with Part10Writer(tmp_path, pf.meta) as w:
            w.write(data[:100])
            assert len(list(tmp_path.iterdir())) == 1
            raise RuntimeError("peer aborted")
    assert list(tmp_path.iterdir()) == []
    with Part10Writer(tmp_path, pf.meta) as w:  # left without commit: aborted
        w.write(data)
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(FileNotFoundError):
        Part10Writer(tmp_path / "nope", pf.meta)


def test_writer_name_collisions(tmp_path: Path) -> None:
    pf, data = _ct()
    first = tmp_path / safe_filename(pf.meta.sop_instance_uid)
    first.write_bytes(b"precious")
    paths = []
    for _ in range(3):
        with Part10Writer(tmp_path, pf.meta) as w:
            w.write(data)
            paths.append(w.commit())
    stem = first.name[:-4]
    assert [p.name for p in paths] == [f"{stem}-{i}.dcm" for i in (1, 2, 3)]
    assert first.read_bytes() == b"precious"
    assert all(read_part10(p).read_dataset_bytes() == data for p in paths)
    # a symlink planted under the final name is skipped, not followed
    outside = tmp_path.parent / f"{tmp_path.name}-outside"
    outside.mkdir()
    link = tmp_path / "planted.dcm"
    link.symlink_to(outside / "target.dcm")
    with Part10Writer(tmp_path, pf.meta, filename="planted.dcm") as w:
        w.write(data)
        assert w.commit().name == "planted-1.dcm"
    assert list(outside.iterdir()) == []


@pytest.mark.parametrize("uid", HOSTILE)
def test_writer_hostile_uids_stay_inside(uid: str, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    meta = FileMeta(ELE, "1.2.3", uid if "\udcff" not in uid else "x\udcff")
    with Part10Writer(out, meta) as w:
        w.write(b"\x08\x00\x16\x00UI\x04\x001.23")
        final = w.commit()
    assert os.path.dirname(os.path.realpath(final)) == os.path.realpath(out)
    assert [p.name for p in tmp_path.iterdir()] == ["out"]
    assert [p.name for p in out.iterdir()] == [final.name]
    assert pydicom.dcmread(final).file_meta.MediaStorageSOPClassUID == "1.2.3"


def test_discard_writer() -> None:
    d = DiscardWriter()
    assert d.write(b"abc") == 3 and d.write(memoryview(bytes(10))) == 10
    assert d.bytes_written == 13
    with d:
        assert d.commit() is None
    d.abort()


def _stream_synthetic(directory: Path, total: int) -> tuple[Path, int]:
    chunk = memoryview(bytes(range(256)) * 256)  # 64 KiB
    body = total - 12
    header = b"\xe0\x7f\x10\x00OW\x00\x00" + body.to_bytes(4, "little")
    meta = FileMeta(ELE, "1.2.840.10008.5.1.4.1.1.7", generate_uid())
    tracemalloc.start()
    try:
        with Part10Writer(directory, meta) as w:
            w.write(header)
            left = body
            while left:
                n = min(left, len(chunk))
                w.write(chunk[:n])
                left -= n
            final = w.commit()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return final, peak


@pytest.mark.parametrize("mb", [20, pytest.param(300, marks=pytest.mark.slow)])
def test_writer_large_bounded_memory(mb: int, tmp_path: Path) -> None:
    total = mb * 1024 * 1024
    final, peak = _stream_synthetic(tmp_path, total)
    assert peak < 4 * 1024 * 1024, peak
    pf = read_part10(final)
    assert pf.dataset_length == total
    with pf.open_dataset() as f:
        assert f.read(12)[:4] == b"\xe0\x7f\x10\x00"
        f.seek(total - 4)
        assert f.read() == (bytes(range(256)) * 2)[(total - 16) % 256 :][:4]
    final.unlink()


def test_transcoded_data_set_has_dictionary_vrs_not_un() -> None:
    """rtdose_rle_1frame.dcm was written with every element as UN (gdcmconv); sent as is
    that is its own business, but a transcoded data set is written anew, and DCMTK's
    storescp, which looks for (0008,0016) as UI, answered 0xC000 to the UN copy."""
    path = _path("rtdose_rle_1frame.dcm")
    assert read_part10(path).read_dataset_bytes()[4:6] == b"UN"  # the premise
    prep = prepare_dataset(path, [ELE])
    data = bytes(prep.data)
    assert b"\x08\x00\x16\x00UI" in data and b"UN" not in data[:400]
