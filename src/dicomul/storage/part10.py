"""DICOM Part 10 files and data sets for the storage services (PS3.10, PS3.5, issue 4).

Sending: :func:`read_part10` parses the preamble, "DICM" and the File Meta Information
(group 0002, Explicit VR Little Endian) with a small parser of its own and never reads
the data set, so it costs the same for a 1 KB and a 1 GB file. :func:`prepare_dataset`
picks what goes on the wire for an accepted presentation context:

* a Part 10 file whose transfer syntax is accepted is streamed as is
  (:meth:`Part10File.open_dataset`, no decoding);
* otherwise an uncompressed file (native or deflated) is decoded and re-encoded with
  pydicom into the first accepted of Explicit VR LE, Implicit VR LE, Deflated Explicit VR
  LE, Explicit VR BE (:data:`REENCODE_PREFERENCE`);
* a compressed (encapsulated) file whose syntax is not accepted, or any data set when the
  peer accepted only compressed syntaxes, goes through :mod:`dicomul.storage.transcode`
  (decompressed, or compressed to RLE; needs the ``codecs`` extra, or
  :class:`StorageError` says which syntax it has, what was accepted and what to install).

Receiving: see :mod:`dicomul.storage.writer`.

Transfer syntax classes: *native* = Implicit VR LE, Explicit VR LE, Explicit VR BE;
*deflated* = Deflated Explicit VR LE (not native, but pydicom can decode and re-encode it);
everything else is *compressed* (encapsulated pixel data, or at least nothing we may
decode). pydicom is used for data sets and for the force-read fallback, never per PDV.
"""

from __future__ import annotations

import copy
import io
import logging
import mmap
import os
import struct
import zlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, BinaryIO

from dicomul._record import record, replace
from dicomul.errors import DicomULError
from dicomul.storage._dataset_head import HEAD_BYTES, LONG_VRS, element_text, inflate_head, sop_uids
from dicomul.ul.constants import (
    DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN,
    EXPLICIT_VR_BIG_ENDIAN,
    EXPLICIT_VR_LITTLE_ENDIAN,
    IMPLICIT_VR_LITTLE_ENDIAN,
)

if TYPE_CHECKING:
    from pathlib import Path

_log = logging.getLogger("dicomul")

__all__ = [
    "StorageError",
    "FileMeta",
    "Part10File",
    "PreparedDataset",
    "NATIVE_TRANSFER_SYNTAXES",
    "REENCODE_PREFERENCE",
    "is_compressed_syntax",
    "read_part10",
    "prepare_dataset",
    "encode_dataset",
    "decode_dataset",
]

#: Uncompressed transfer syntaxes whose data set bytes pydicom reads and writes directly.
NATIVE_TRANSFER_SYNTAXES = frozenset(
    {IMPLICIT_VR_LITTLE_ENDIAN, EXPLICIT_VR_LITTLE_ENDIAN, EXPLICIT_VR_BIG_ENDIAN}
)
_UNCOMPRESSED = NATIVE_TRANSFER_SYNTAXES | {DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN}
#: Order in which a re-encoding target is chosen among the accepted transfer syntaxes.
REENCODE_PREFERENCE = (
    EXPLICIT_VR_LITTLE_ENDIAN,
    IMPLICIT_VR_LITTLE_ENDIAN,
    DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN,
    EXPLICIT_VR_BIG_ENDIAN,
)

_PREAMBLE_LEN = 128
_MAGIC = b"DICM"
_TAG_VR = struct.Struct("<HH2s")
_READ_CHUNK = 1 << 20
#: What read_part10 reads at once: preamble, a usual group 0002, and HEAD_BYTES of data.
_PREFETCH = _PREAMBLE_LEN + 4 + 4096 + HEAD_BYTES


def _as_path(path: str | os.PathLike[str]) -> Path:
    """``Path(path)``, pathlib imported on first use: it costs 4 ms of the start-up of
    every command, and an echo never touches a file."""
    from pathlib import Path

    return Path(path)


class StorageError(DicomULError):
    """A file or data set cannot be read, stored or sent as asked (the message says why)."""


def is_compressed_syntax(transfer_syntax: str) -> bool:
    """True unless ``transfer_syntax`` is native (Implicit/Explicit LE, Explicit BE) or
    Deflated Explicit VR LE: i.e. pydicom could not re-encode it without a codec."""
    return transfer_syntax not in _UNCOMPRESSED


@record
class FileMeta:
    """The File Meta Information that matters (PS3.10 7.1): (0002,0010) transfer syntax,
    (0002,0002)/(0002,0003) media storage SOP class/instance, (0002,0012)/(0002,0013)
    implementation class UID / version name, (0002,0016) source AE title."""

    transfer_syntax: str
    sop_class_uid: str
    sop_instance_uid: str
    implementation_class_uid: str | None = None
    implementation_version_name: str | None = None
    source_ae_title: str | None = None


# ---- reading Part 10 files --------------------------------------------------------------


class _SliceReader(io.RawIOBase):
    """A read-only raw file over bytes [offset, offset + length) of a file."""

    def __init__(self, path: str | os.PathLike[str], offset: int, length: int) -> None:
        super().__init__()
        self._f = open(path, "rb", buffering=0)  # noqa: SIM115 - closed by close()
        self._start, self._end = offset, offset + length
        self._pos = offset
        self._f.seek(offset)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        mv = memoryview(b).cast("B")
        n = min(len(mv), self._end - self._pos)
        if n <= 0:
            return 0
        got = self._f.readinto(mv[:n]) or 0
        if got == 0:  # the file was cut short after it was opened: not a short data set
            raise OSError(f"{self._f.name}: the file ends at byte {self._pos}, before the "
                          f"end of its data set at byte {self._end}")  # fmt: skip
        self._pos += got
        return got

    def tell(self) -> int:
        return self._pos - self._start

    def seek(self, pos: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: self._start, io.SEEK_CUR: self._pos, io.SEEK_END: self._end}
        target = min(max(base[whence] + pos, self._start), self._end)
        self._pos = self._f.seek(target)
        return self._pos - self._start

    def close(self) -> None:
        if not self.closed:
            self._f.close()
        super().close()


class FileRegion:
    """Bytes [offset, offset + length) of an open file (``file`` has ``fileno()``),
    for message_batches to map into memory rather than read. Holds the file object, so
    the file stays open while the region is queued."""

    __slots__ = ("file", "offset", "length")

    def __init__(self, file: Any, offset: int, length: int) -> None:
        self.file, self.offset, self.length = file, offset, length

    def __len__(self) -> int:
        return self.length

    def map(self, start: int, length: int) -> memoryview:
        """A read-only view of bytes [start, start + length) of the region, mapped from
        the file. Only the kernel should read it (sendmsg): a file truncated meanwhile
        then fails the write with EFAULT, where a read from Python would get SIGBUS.
        OSError if the file is shorter than the region now, or cannot be mapped."""
        pos = self.offset + start
        base = pos - pos % mmap.ALLOCATIONGRANULARITY
        size = pos - base + length
        fd = int(self.file.fileno())
        if os.fstat(fd).st_size < pos + length:  # (mmap would say "ValueError")
            raise OSError(
                f"the file ends before byte {pos + length} of the data set being sent "
                "(was it changed while queued?)"
            )
        # Mapped lazily: pages are read in as the kernel copies them out (sendmsg), not
        # here, so no disk read happens while the caller holds a lock.
        m = mmap.mmap(fd, size, access=mmap.ACCESS_READ, offset=base)
        return memoryview(m)[pos - base :]

    def __repr__(self) -> str:
        return f"FileRegion(offset={self.offset}, length={self.length})"


class _DatasetFile(io.BufferedReader):
    """The data set of a Part 10 file, opened: a buffered reader that can also hand the
    unread rest as a FileRegion, for the sender to map rather than read."""

    def file_region(self) -> FileRegion:
        """The unread rest of the data set, as a region of the underlying file (whose
        ``fileno()`` it uses while this file is open: close it once mapped)."""
        raw: _SliceReader = self.raw  # type: ignore[assignment]
        start = raw._start + self.tell()
        return FileRegion(raw._f, start, raw._end - start)


class Part10File:
    """A parsed Part 10 file: ``meta``, and where the data set lies (``dataset_offset``,
    ``dataset_length``: the rest of the file). ``forced`` is True when the file had no
    preamble/"DICM" and was read with ``force=True``."""

    __slots__ = ("path", "meta", "dataset_offset", "dataset_length", "forced", "_uids", "_head")

    def __init__(
        self,
        path: str | os.PathLike[str],
        meta: FileMeta,
        dataset_offset: int,
        dataset_length: int,
        forced: bool = False,
    ) -> None:
        self.path = _as_path(path)
        self.meta = meta
        self.dataset_offset = dataset_offset
        self.dataset_length = dataset_length
        self.forced = forced
        self._uids: tuple[str, str] | None = None
        #: The data set's first bytes, when read_part10 read them with the header.
        self._head: bytes | None = None

    def dataset_uids(self) -> tuple[str, str]:
        """(SOP Class UID, SOP Instance UID) of the data set itself, (0008,0016) and
        (0008,0018): what a C-STORE must carry. Read from the first bytes of the data set
        (no decoding; pydicom only for a data set the header walk cannot follow); the
        file meta's value where the data set has none. A disagreement with the file meta
        is logged as a warning. Computed once."""
        if self._uids is None:
            cls, inst = self._scan_uids()
            meta = self.meta
            for what, own, theirs in (
                ("SOP Class", cls, meta.sop_class_uid),
                ("SOP Instance", inst, meta.sop_instance_uid),
            ):
                if own is not None and theirs and own != theirs:
                    _log.warning(
                        "%s: the data set's %s UID %s differs from the file meta's %s: "
                        "sending the data set's", self.path, what, own, theirs,
                    )  # fmt: skip
            self._uids = (cls or meta.sop_class_uid, inst or meta.sop_instance_uid)
        return self._uids

    @property
    def encoding(self) -> tuple[bool, bool]:
        """(implicit VR, little endian) of the data set (encapsulated: Explicit VR LE)."""
        return _encoding_of(self.meta.transfer_syntax)

    def dataset_head(self) -> tuple[bytes, bool]:
        """The first :data:`HEAD_BYTES` of the data set (inflated when it is deflated),
        and whether they are the whole of it: what a walk of its element headers reads."""
        want = min(HEAD_BYTES, self.dataset_length)
        if self._head is not None and len(self._head) >= want:
            head = self._head[:want]
        else:
            with open(self.path, "rb") as f:
                f.seek(self.dataset_offset)
                head = f.read(want)
        complete = len(head) == self.dataset_length
        if self.meta.transfer_syntax == DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN:
            head = inflate_head(head)
            complete = complete and len(head) < HEAD_BYTES
        return head, complete

    def _scan_uids(self) -> tuple[str | None, str | None]:
        head, complete = self.dataset_head()
        found = sop_uids(head, *self.encoding, complete)
        if found is not None:
            return found
        import pydicom  # an undefined-length element before (0008,0018): rare

        try:
            ds = pydicom.dcmread(
                self.path, stop_before_pixels=True, force=self.forced,
                specific_tags=["SOPClassUID", "SOPInstanceUID"],
            )  # fmt: skip
        except Exception:  # noqa: BLE001 - the file meta's UIDs are all we have then
            return None, None
        cls, inst = ds.get("SOPClassUID"), ds.get("SOPInstanceUID")
        return (str(cls) if cls else None), (str(inst) if inst else None)

    @property
    def is_compressed(self) -> bool:
        """The transfer syntax is neither native nor deflated (see module doc)."""
        return is_compressed_syntax(self.meta.transfer_syntax)

    def open_dataset(self, buffer_size: int = 256 * 1024) -> BinaryIO:
        """A read-only binary file positioned at the data set that ends where the data set
        ends (read(n), readinto, seek/tell relative to the data set). Close it after use."""
        raw = _SliceReader(self.path, self.dataset_offset, self.dataset_length)
        return _DatasetFile(raw, buffer_size)

    def read_dataset_bytes(self) -> bytes:
        """The whole data set as bytes (in memory: for small files and tests)."""
        with self.open_dataset() as f:
            return f.read()

    def __repr__(self) -> str:
        return (
            f"Part10File({str(self.path)!r}, ts={self.meta.transfer_syntax}, "
            f"offset={self.dataset_offset}, length={self.dataset_length})"
        )


def _read_exact(f: BinaryIO, n: int, path: Any) -> bytes:
    b = f.read(n)
    if len(b) != n:
        raise StorageError(f"{path}: truncated File Meta Information")
    return b


def _parse_group2(f: BinaryIO, start: int, size: int, path: Any) -> tuple[dict[int, bytes], int]:
    """Read group 0002 elements from ``start``; return ``({element: value}, end offset)``.

    Stops at the first tag of another group, or exactly where (0002,0000) says the group
    ends (so a deflated data set that happens to start with 02 00 is not misread)."""
    elems: dict[int, bytes] = {}
    pos = start
    declared_end: int | None = None
    f.seek(pos)
    while pos + 8 <= size and pos != declared_end:
        head = _read_exact(f, 8, path)
        group, elem, vr = _TAG_VR.unpack_from(head)
        if group != 2:
            break
        if vr in LONG_VRS:
            length = struct.unpack("<I", _read_exact(f, 4, path))[0]
            hlen = 12
        elif vr.isalpha() and vr.isupper():
            length = struct.unpack_from("<H", head, 6)[0]
            hlen = 8
        else:  # a non-conformant Implicit VR group 0002
            length = struct.unpack_from("<I", head, 4)[0]
            hlen = 8
        if length == 0xFFFFFFFF or pos + hlen + length > size:
            raise StorageError(f"{path}: bad length {length} in (0002,{elem:04X})")
        value = _read_exact(f, length, path) if length <= 1 << 24 else b""
        if length > 1 << 24:
            f.seek(pos + hlen + length)
        elems[elem] = value
        pos += hlen + length
        if elem == 0 and length == 4 and declared_end is None:
            declared_end = pos + struct.unpack("<I", value)[0]
    return elems, pos


def read_part10(path: str | os.PathLike[str], *, force: bool = False) -> Part10File:
    """Parse a Part 10 file's header without reading its data set.

    Raises :class:`StorageError` if the file has no "DICM" at byte 128 (unless
    ``force``), or lacks (0002,0002), (0002,0003) or (0002,0010). With ``force=True`` a
    file without preamble is accepted: group 0002 is parsed if the file starts with it,
    else pydicom reads the data set (``stop_before_pixels``) for the SOP UIDs and the
    encoding it detects (normally Implicit VR LE). OSError propagates.
    """
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        # One read for the header and the data set's head (what an index walks): a
        # small file is parsed from memory, with no more system calls.
        first = f.read(_PREFETCH)
        head = first[: _PREAMBLE_LEN + 4]
        if len(head) == _PREAMBLE_LEN + 4 and head[_PREAMBLE_LEN:] == _MAGIC:
            start, forced = _PREAMBLE_LEN + 4, False
        elif not force:
            raise StorageError(
                f"{path}: not a DICOM Part 10 file (no 'DICM' prefix at byte 128); "
                "use force=True to read a data set without preamble"
            )
        elif head[:2] == b"\x02\x00":
            start, forced = 0, True
        else:
            return _read_forced(path, size)
        try:
            elems, end = _parse_group2(io.BytesIO(first), start, min(size, len(first)), path)
        except StorageError:
            if len(first) == size:
                raise
            end = len(first)  # (a value past what was read: from the file, below)
        if len(first) < size and end + 12 > len(first):  # group 0002 runs on: from the file
            elems, end = _parse_group2(f, start, size, path)
    if not elems.get(0x0010):
        raise StorageError(f"{path}: File Meta Information lacks (0002,0010) transfer syntax")
    opt = {k: element_text(elems[e]) if e in elems else None for k, e in _OPTIONAL_META.items()}
    meta = FileMeta(
        transfer_syntax=element_text(elems[0x0010]),
        sop_class_uid=element_text(elems.get(0x0002, b"")),
        sop_instance_uid=element_text(elems.get(0x0003, b"")),
        **opt,
    )
    p10 = Part10File(path, meta, end, size - end, forced)
    if len(first) > end:
        p10._head = first[end:]
    if not meta.sop_class_uid or not meta.sop_instance_uid:
        # (0002,0002)/(0002,0003) missing: the data set's own UIDs stand in (what the
        # C-STORE carries anyway); a file with neither is refused.
        cls, inst = p10.dataset_uids()
        if not cls or not inst:
            missing = [f"(0002,{e:04X})" for e in (0x0002, 0x0003) if not elems.get(e)]
            raise StorageError(
                f"{path}: File Meta Information lacks {', '.join(missing)} and the data set "
                "has no SOP Class/Instance UID"
            )
        p10.meta = replace(meta, sop_class_uid=cls, sop_instance_uid=inst)
    return p10


_OPTIONAL_META = {
    "implementation_class_uid": 0x0012,
    "implementation_version_name": 0x0013,
    "source_ae_title": 0x0016,
}


def _read_forced(path: str | os.PathLike[str], size: int) -> Part10File:
    import pydicom

    try:
        ds = pydicom.dcmread(path, force=True, stop_before_pixels=True)
        cls, inst = ds.get("SOPClassUID"), ds.get("SOPInstanceUID")
        implicit, little = ds.original_encoding
    except Exception as exc:  # pydicom raises many kinds on garbage
        raise StorageError(f"{path}: cannot read as a DICOM data set: {exc}") from exc
    if not cls or not inst:
        raise StorageError(f"{path}: data set without SOP Class/Instance UID")
    if implicit is False:
        ts = EXPLICIT_VR_LITTLE_ENDIAN if little else EXPLICIT_VR_BIG_ENDIAN
    else:
        ts = IMPLICIT_VR_LITTLE_ENDIAN
    return Part10File(path, FileMeta(ts, str(cls), str(inst)), 0, size, True)


# ---- encoding and decoding data sets (pydicom) -------------------------------------------

_SWAP_WIDTH = {"OW": 2, "OF": 4, "OL": 4, "OD": 8, "OV": 8}


def _swap_words(ds: Any) -> None:
    """Byte-swap the raw OW/OF/OL/OD/OV values of ``ds`` in place (recursively): pydicom
    writes them as they are, so a change of endianness must swap them itself."""
    for elem in ds:
        if elem.VR == "SQ":
            for item in elem.value or ():
                _swap_words(item)
        elif elem.VR in _SWAP_WIDTH and isinstance(elem.value, (bytes, bytearray)):
            w = _SWAP_WIDTH[elem.VR]
            v = bytearray(elem.value)
            n = len(v) - len(v) % w
            for i in range(w):  # reverse the bytes of each w-byte word
                v[i:n:w] = elem.value[w - 1 - i : n : w]
            elem.value = bytes(v)


def _encoding_of(transfer_syntax: str) -> tuple[bool, bool]:
    """(implicit_vr, little_endian) of a transfer syntax (encapsulated ones: Explicit LE)."""
    if transfer_syntax == IMPLICIT_VR_LITTLE_ENDIAN:
        return True, True
    return False, transfer_syntax != EXPLICIT_VR_BIG_ENDIAN


def _source_little_endian(ds: Any) -> bool | None:
    ts = _dataset_syntax(ds)
    if ts is not None:
        return _encoding_of(ts)[1]
    little: bool | None = ds.original_encoding[1]
    return little


def encode_dataset(ds: Any, transfer_syntax: str) -> bytes:
    """Encode a pydicom Dataset (without its file meta) in ``transfer_syntax``.

    Native syntaxes are written by pydicom (ambiguous VRs corrected, OW/OF... values
    byte-swapped on a change of endianness); Deflated is Explicit VR LE + raw deflate;
    any other syntax is written as Explicit VR LE, trusting that the pixel data is already
    encapsulated in it. Group 0002 elements in the data set itself are left out. The
    caller's dataset is not modified.
    """
    from pydicom.dataset import Dataset
    from pydicom.filebase import DicomBytesIO
    from pydicom.filewriter import correct_ambiguous_vr, write_dataset

    if not isinstance(ds, Dataset):
        raise TypeError(f"expected a pydicom Dataset, not {type(ds).__name__}")
    implicit, little = _encoding_of(transfer_syntax)
    src_little = _source_little_endian(ds)
    if any(tag.group == 2 for tag in ds.keys()):  # a new Dataset sharing the elements
        clean = Dataset({t: ds.get_item(t) for t in ds.keys() if t.group != 2})
        implicit0, little0 = ds.original_encoding
        clean.set_original_encoding(implicit0, little0, ds.original_character_set)
        ds = clean
    if src_little is not None and src_little != little:
        ds = copy.deepcopy(ds)
        correct_ambiguous_vr(ds, src_little)  # resolve "OB or OW" before swapping
        _swap_words(ds)
    fp = DicomBytesIO()
    fp.is_implicit_VR, fp.is_little_endian = implicit, little
    write_dataset(fp, ds)
    data = fp.getvalue()
    if transfer_syntax == DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN:
        comp = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -zlib.MAX_WBITS)
        data = comp.compress(data) + comp.flush()
        if len(data) % 2:
            data += b"\x00"  # PS3.5 A.5: padded to even length
    return data


def decode_dataset(data: Any, transfer_syntax: str) -> Any:
    """Decode data set bytes (bytes-like or a readable binary file) encoded in
    ``transfer_syntax`` into a pydicom Dataset whose ``file_meta.TransferSyntaxUID`` is
    set, so :func:`prepare_dataset` knows its syntax. Raises StorageError on bad data."""
    from pydicom.dataset import FileMetaDataset
    from pydicom.filereader import read_dataset
    from pydicom.uid import UID

    if hasattr(data, "read"):
        data = data.read()
    raw = bytes(data)
    if transfer_syntax == DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN:
        try:
            raw = zlib.decompressobj(-zlib.MAX_WBITS).decompress(raw)
        except zlib.error:
            try:  # some writers add a zlib header
                raw = zlib.decompress(raw)
            except zlib.error as exc:
                raise StorageError(f"cannot inflate a deflated data set: {exc}") from exc
    implicit, little = _encoding_of(transfer_syntax)
    try:
        ds = read_dataset(io.BytesIO(raw), implicit, little)
    except Exception as exc:
        raise StorageError(f"cannot decode data set in {transfer_syntax}: {exc}") from exc
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = UID(transfer_syntax)
    return ds


# ---- choosing what to send ---------------------------------------------------------------


@record
class PreparedDataset:
    """What to send in a C-STORE: the SOP class/instance for the command set, the transfer
    syntax the data is encoded in (pick the presentation context by it), and ``data``:
    bytes/memoryview, or a binary file to be closed by whoever sends it (``close()``)."""

    sop_class_uid: str
    sop_instance_uid: str
    transfer_syntax: str
    data: Any

    def close(self) -> None:
        """Close ``data`` if it is a file (safe to call more than once)."""
        if hasattr(self.data, "close"):
            self.data.close()


def _dataset_syntax(ds: Any) -> str | None:
    meta = getattr(ds, "file_meta", None)
    ts = meta.get("TransferSyntaxUID") if meta is not None else None
    return str(ts) if ts else None


def _reencode_target(accepted: Sequence[str]) -> str | None:
    return next((ts for ts in REENCODE_PREFERENCE if ts in accepted), None)


def _prepare_pydicom(ds: Any, accepted: Sequence[str], what: str) -> PreparedDataset:
    fm = getattr(ds, "file_meta", None) or {}
    cls = ds.get("SOPClassUID") or fm.get("MediaStorageSOPClassUID")
    inst = ds.get("SOPInstanceUID") or fm.get("MediaStorageSOPInstanceUID")
    if not cls or not inst:
        raise StorageError(f"{what} has no SOP Class UID / SOP Instance UID")
    own = _dataset_syntax(ds)
    pixels = any(k in ds for k in ("PixelData", "FloatPixelData", "DoubleFloatPixelData"))
    if own is not None and is_compressed_syntax(own) and pixels:
        if own not in accepted:  # decompressed (or compressed to RLE) on a copy
            from dicomul.storage.transcode import transcode_dataset

            target, data = transcode_dataset(copy.deepcopy(ds), accepted, what)
            return PreparedDataset(str(cls), str(inst), target, data)
        target: str | None = own
    elif own in accepted:
        target = own
    else:  # accepted order, Explicit VR BE (retired, needs byte swapping) last
        order = [ts for ts in accepted if ts in _UNCOMPRESSED and ts != EXPLICIT_VR_BIG_ENDIAN]
        target = order[0] if order else _reencode_target(accepted)
    if target is None:  # only compressed syntaxes accepted: RLE, if one of them
        from dicomul.storage.transcode import transcode_dataset

        target, data = transcode_dataset(copy.deepcopy(ds), accepted, what)
        return PreparedDataset(str(cls), str(inst), target, data)
    return PreparedDataset(str(cls), str(inst), target, encode_dataset(ds, target))


def _prepare_encoded(
    data: Any, ts: str, cls: str, inst: str, accepted: Sequence[str], what: str
) -> PreparedDataset:
    if ts in accepted:
        return PreparedDataset(cls, inst, ts, data)
    target = _reencode_target(accepted)
    if target is None or is_compressed_syntax(ts):  # pixel data must change encoding
        from dicomul.storage.transcode import transcode

        target, encoded = transcode(data, ts, accepted, what)
        return PreparedDataset(cls, inst, target, encoded)
    return PreparedDataset(cls, inst, target, encode_dataset(decode_dataset(data, ts), target))


def prepare_dataset(obj: Any, accepted_transfer_syntaxes: Sequence[str]) -> PreparedDataset:
    """Choose the encoding of ``obj`` for a peer that accepted ``accepted_transfer_syntaxes``
    (for its SOP class; in order of preference) and return it ready to send.

    ``obj``: a pydicom Dataset, a :class:`Part10File`, a path (read with
    :func:`read_part10`), or ``(data, transfer_syntax, sop_class_uid, sop_instance_uid)``
    with already-encoded data set bytes. Rules (issue 4 item 2): a file (or encoded bytes)
    whose syntax is accepted goes as is, a file opened with ``open_dataset()``; an
    uncompressed one (native or deflated) otherwise is re-encoded into the first accepted
    syntax of :data:`REENCODE_PREFERENCE`; a compressed one with no match is transcoded
    (:func:`dicomul.storage.transcode.transcode`; StorageError without the codecs extra). A
    Dataset goes in its own syntax (``file_meta``) if accepted, else in the first accepted
    uncompressed syntax (Explicit VR BE last); a Dataset with compressed pixel data is
    transcoded on a copy.
    """
    accepted = list(accepted_transfer_syntaxes)
    if isinstance(obj, (str, os.PathLike)):
        obj = read_part10(obj)
    if isinstance(obj, Part10File):
        ts, what = obj.meta.transfer_syntax, f"{obj.path}"
        cls, inst = obj.dataset_uids()
        if ts in accepted:
            return PreparedDataset(cls, inst, ts, obj.open_dataset())
        with obj.open_dataset() as f:
            return _prepare_encoded(f, ts, cls, inst, accepted, what)
    if isinstance(obj, tuple) and len(obj) == 4:
        data, ts, cls, inst = obj
        return _prepare_encoded(data, ts, cls, inst, accepted, f"data set {inst}")
    from pydicom.dataset import Dataset

    if isinstance(obj, Dataset):
        return _prepare_pydicom(obj, accepted, f"data set {obj.get('SOPInstanceUID', '?')}")
    raise TypeError(
        "expected a pydicom Dataset, a Part10File, a path or "
        f"(bytes, transfer_syntax, sop_class_uid, sop_instance_uid), not {type(obj).__name__}"
    )
