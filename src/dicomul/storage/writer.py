"""Writing received data sets as Part 10 files (PS3.10).

Receiving: :class:`Part10Writer` writes preamble + "DICM" + group 0002 into a temporary
file *in* the output directory, appends the data set bytes as they arrive (it is the
writable a ``dataset_sink`` returns), and :meth:`~Part10Writer.commit` gives it its final
name atomically. Final names come from :func:`safe_filename`, which cannot name anything
outside the directory. An existing file is never overwritten: the new one gets a "-1",
"-2", ... suffix. The rename refuses to overwrite (so two associations storing the same
SOP Instance UID at once both keep their file): one system call where the platform has a
no-replace rename (Linux renameat2, macOS renamex_np), else ``os.link`` + ``os.unlink``;
on file systems without hard links, an existence check and ``os.replace``.
"""

from __future__ import annotations

import functools
import itertools
import logging
import os
import re
import struct
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from dicomul._record import replace
from dicomul.storage._dataset_head import HEAD_BYTES
from dicomul.storage._fsops import (
    DST_EXISTS,
    STORED,
    TMP_EXISTS,
    UNSUPPORTED,
    rename_noreplace,
    store_file,
)
from dicomul.storage._received_files import file_mode, free_names, set_file_mode
from dicomul.storage.part10 import (
    _MAGIC,
    _PREAMBLE_LEN,
    FileMeta,
    Part10File,
    StorageError,
    _as_path,
)
from dicomul.ul.constants import IMPLEMENTATION_CLASS_UID, IMPLEMENTATION_VERSION_NAME

if TYPE_CHECKING:
    from pathlib import Path

_log = logging.getLogger("dicomul")
_T = TypeVar("_T")

__all__ = [
    "encode_file_meta",
    "safe_filename",
    "Part10Writer",
    "DiscardWriter",
    "PendingFile",
    "write_file",
    "RecentFiles",
    "recent_files",
]

# ---- receiving: file names and writers -----------------------------------------------------

_UNSAFE = re.compile(r"[^0-9A-Za-z._-]")
_DOTS = re.compile(r"\.{2,}")
_MAX_NAME = 200
_WINDOWS_RESERVED = frozenset(
    ["CON", "PRN", "AUX", "NUL"] + [f"{p}{i}" for p in ("COM", "LPT") for i in range(1, 10)]
)


@functools.lru_cache(maxsize=64)
def _real_directory(directory: str) -> str:
    """``os.path.realpath`` of a storage directory, once per directory (a server makes
    a writer per received object, and realpath costs a system call per component)."""
    return os.path.realpath(directory)


def safe_filename(sop_instance_uid: str, prefix: str = "") -> str:
    """A file name for ``prefix + sop_instance_uid`` that cannot leave its directory.

    Characters outside [0-9A-Za-z._-] become "_", runs of dots one dot, leading dots and
    dashes go; if anything changed, a hash of the original is appended so that distinct
    hostile UIDs stay distinct. An empty result becomes "uid-<hash>". At most 200
    characters (longer names are cut and get the hash), then ".dcm". Windows device names
    (CON, NUL, COM1...) get a leading "_". A valid UID comes back unchanged + ".dcm".
    """
    original = f"{prefix}{sop_instance_uid}"
    import hashlib  # here, not at the top: it costs start-up time of every command

    digest = hashlib.sha256(original.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    name = _DOTS.sub(".", _UNSAFE.sub("_", original)).lstrip(".-").rstrip(".")
    if not name:
        name = f"uid-{digest}"
    elif name != original or len(name) > _MAX_NAME:
        name = f"{name[: _MAX_NAME - len(digest) - 1]}_{digest}"
    if name.split(".")[0].upper() in _WINDOWS_RESERVED:
        name = f"_{name}"
    return f"{name}.dcm"


def _ui(value: str) -> bytes:
    b = value.encode("ascii", "replace")
    return b + b"\x00" if len(b) % 2 else b


def _padded(value: str) -> bytes:
    b = value.encode("ascii", "replace")
    return b + b" " if len(b) % 2 else b


def _short(elem: int, vr: bytes, value: bytes) -> bytes:
    if len(value) > 0xFFFF:
        raise StorageError(f"(0002,{elem:04X}) value too long: {len(value)} bytes")
    return struct.pack("<HH2sH", 2, elem, vr, len(value)) + value


def encode_file_meta(meta: FileMeta) -> bytes:
    """Preamble (128 zero bytes), "DICM" and group 0002 in Explicit VR LE, with
    (0002,0000) group length and (0002,0001) version 00 01. Implementation class UID and
    version name are dicomul's unless ``meta`` gives them; the source AE title only if
    given. Non-ASCII characters become "?"."""
    body = [
        struct.pack("<HH2sHI", 2, 1, b"OB", 0, 2) + b"\x00\x01",
        _short(0x0002, b"UI", _ui(meta.sop_class_uid)),
        _short(0x0003, b"UI", _ui(meta.sop_instance_uid)),
        _short(0x0010, b"UI", _ui(meta.transfer_syntax)),
        _short(0x0012, b"UI", _ui(meta.implementation_class_uid or IMPLEMENTATION_CLASS_UID)),
        _short(
            0x0013, b"SH", _padded(meta.implementation_version_name or IMPLEMENTATION_VERSION_NAME)
        ),
    ]
    if meta.source_ae_title:
        body.append(_short(0x0016, b"AE", _padded(meta.source_ae_title)))
    group = b"".join(body)
    length = struct.pack("<HH2sHI", 2, 0, b"UL", 4, len(group))
    return bytes(_PREAMBLE_LEN) + _MAGIC + length + group


_temp_names = itertools.count()
_temp_tag: tuple[int, str] = (-1, "")


def _temp_path(directory: str) -> str:
    """The next ``.dicomul-<tag>-<n>.part`` name in ``directory``: the tag is random per
    process (a forked child gets its own), n counts up."""
    global _temp_tag
    pid = os.getpid()
    if _temp_tag[0] != pid:
        _temp_tag = (pid, f"{pid}-{os.urandom(4).hex()}")
    return os.path.join(directory, f".dicomul-{_temp_tag[1]}-{next(_temp_names)}.part")


def _in_temp(directory: str, create: Callable[[str], _T | None]) -> tuple[_T, str]:
    """``create(path)`` with :func:`_temp_path` names until one was free (``create``
    returns None for a name found taken): ``(its result, path)``."""
    for _ in range(100):
        path = _temp_path(directory)
        got = create(path)
        if got is not None:
            return got, path
    raise FileExistsError(f"no free temporary file name in {directory}")


_TEMP_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
_TEMP_FLAGS |= getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)


def _open_new(path: str) -> int | None:
    try:
        return os.open(path, _TEMP_FLAGS, 0o600)
    except FileExistsError:
        return None


def _create_temp(directory: str) -> tuple[int, str]:
    """Create a :func:`_temp_path` (O_EXCL, mode 0600: private while partial): ``(fd,
    path)``; a name found taken is skipped. What tempfile.mkstemp does, without its
    per-call cost."""
    return _in_temp(directory, _open_new)


_no_rename_noreplace: set[int] = set()  # st_dev of file systems that refuse the flag


def _rename_noreplace(tmp: str, final: str) -> None:
    """Give ``tmp`` the name ``final`` atomically, never replacing a file there
    (FileExistsError): one rename where the system has a no-replace flag (on ext4 a
    twelfth of what link + unlink cost), else link + unlink; without hard links, a
    check and os.replace."""
    dev = -1
    if _no_rename_noreplace:
        try:
            dev = os.stat(tmp).st_dev
        except OSError:
            dev = -1
    if dev not in _no_rename_noreplace:
        if rename_noreplace(tmp, final):
            return
        try:  # this platform or file system cannot: do not ask again for it
            _no_rename_noreplace.add(os.stat(tmp).st_dev)
        except OSError:
            pass
    try:
        os.link(tmp, final)  # atomic, never overwrites (nor follows a symlink)
    except FileExistsError:
        raise
    except OSError:  # no hard links here: check, then replace
        if os.path.lexists(final):
            raise FileExistsError(17, "File exists", final) from None
        os.replace(tmp, final)
    else:
        os.unlink(tmp)


def _fsync_dir(directory: str) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # e.g. Windows: directories cannot be opened
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _check_filename(filename: str | None) -> None:
    if filename is not None and (
        filename in ("", ".", "..") or any(c in filename for c in "/\\\x00")
    ):
        raise ValueError(f"filename must be a plain file name, not {filename!r}")


def _final_path(directory: str, name: str) -> str:
    if os.path.basename(name) != name or name in (".", ".."):
        raise StorageError(f"file name {name!r} escapes {directory}")
    return os.path.join(directory, name)


def _give_name(tmp: str, directory: str, names: Any) -> str:
    """Rename the complete file ``tmp`` to the first of ``names`` (free_names) that is
    free, never replacing a file; the final path."""
    for name in names:  # O(1) amortised
        final = _final_path(directory, name)
        try:
            _rename_noreplace(tmp, final)
        except FileExistsError:
            continue
        return final
    raise AssertionError("free_names() never ends")  # pragma: no cover


class Part10Writer:
    """Stream one received data set into a Part 10 file in ``directory``.

    Creation opens ``.dicomul-*.part`` in ``directory`` and writes the file meta
    (:func:`encode_file_meta`); :meth:`write` appends data set bytes (use it as the
    ``dataset_sink`` writable); :meth:`commit` flushes, fsyncs if ``fsync`` (file, then
    directory), and renames to ``filename`` or ``safe_filename(meta.sop_instance_uid)``,
    never overwriting: if the name exists, "name-1.dcm", "name-2.dcm"... is used (found in
    amortised constant time, :mod:`dicomul.storage._received_files`), with mode 0o666 & ~umask.
    :meth:`abort` deletes the temporary file. As a context manager it aborts on an
    exception (and also when leaving without commit). ``bytes_written`` counts data set
    bytes (not the header). ``filename`` must be a plain name, not a path (ValueError).
    """

    def __init__(
        self,
        directory: str | os.PathLike[str],
        meta: FileMeta,
        *,
        fsync: bool = False,
        filename: str | None = None,
    ) -> None:
        _check_filename(filename)
        self.directory = _real_directory(os.fspath(directory))
        self.meta = meta
        self.fsync = fsync
        self.filename = filename or safe_filename(meta.sop_instance_uid)
        self.bytes_written = 0
        self.path: Path | None = None  # the final path, after commit()
        fd, tmp = _create_temp(self.directory)
        self.temp_path: Path | None = _as_path(tmp)
        self._f: Any = open(fd, "wb", buffering=256 * 1024)  # noqa: SIM115
        try:
            self._f.write(encode_file_meta(meta))
        except BaseException:
            self.abort()
            raise

    def write(self, b: Any) -> int:
        """Append data set bytes (any bytes-like); return the number of bytes written."""
        if self._f is None:
            raise ValueError("write() on a committed or aborted Part10Writer")
        n = memoryview(b).nbytes
        self._f.write(b)
        self.bytes_written += n
        return n

    def commit(self) -> Path:
        """Finish the file and give it its final name (see the class doc); return it."""
        if self._f is None or self.temp_path is None:
            raise ValueError("commit() on a committed or aborted Part10Writer")
        tmp = str(self.temp_path)
        try:
            self._f.flush()
            set_file_mode(self._f, tmp)  # 0o666 & ~umask, not mkstemp's 0600
            if self.fsync:
                os.fsync(self._f.fileno())
            self._f.close()
            self._f = None
            final = _give_name(tmp, self.directory, free_names(self.directory, self.filename))
        except BaseException:
            self.abort()
            raise
        self.temp_path = None
        if self.fsync:
            _fsync_dir(self.directory)
        self.path = _as_path(final)
        return self.path

    def abort(self) -> None:
        """Close and delete the temporary file (no-op after commit or abort)."""
        if self._f is not None:
            try:
                self._f.close()
            except OSError:
                pass
            self._f = None
        if self.temp_path is not None:
            try:
                os.unlink(self.temp_path)
            except FileNotFoundError:
                pass
            self.temp_path = None

    def __enter__(self) -> Part10Writer:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.abort()

    def __repr__(self) -> str:
        return f"Part10Writer({self.directory!r}, {self.filename!r}, {self.bytes_written} bytes)"


def write_file(
    directory: str | os.PathLike[str],
    meta: FileMeta,
    chunks: list[Any],
    *,
    fsync: bool = False,
    filename: str | None = None,
) -> Path:
    """Store a data set whose bytes are all in memory (``chunks``, bytes-like) as a Part
    10 file in ``directory``, exactly as :class:`Part10Writer` + write() + commit() would
    (the same names, modes, fsyncs and no-replace rename), in one compiled call: the
    interpreter lock is released once for the file, not once per system call, so threads
    storing at once do not queue behind each step. Where that call is missing (Windows),
    it is Part10Writer. Returns the final path."""
    _check_filename(filename)
    directory = _real_directory(os.fspath(directory))
    spans = [encode_file_meta(meta), *chunks]
    names = free_names(directory, filename or safe_filename(meta.sop_instance_uid))
    final = _final_path(directory, next(names))
    # Once some file system here refused the no-replace flag, the rename is left to
    # _rename_noreplace, which knows which ones.
    dst = None if _no_rename_noreplace else final

    def store(tmp: str) -> int | None:
        rc = store_file(tmp, dst, directory, spans, file_mode(), fsync)
        return None if rc == TMP_EXISTS else rc

    rc, tmp = _in_temp(directory, store)
    if rc == STORED:
        recent_files.add(final, meta, spans)
        return _as_path(final)
    if rc == UNSUPPORTED:
        with Part10Writer(directory, meta, fsync=fsync, filename=filename) as w:
            for chunk in chunks:
                w.write(chunk)
            return w.commit()
    try:  # complete under tmp: the first name is taken, or the rename is ours to do
        if rc != DST_EXISTS:
            try:
                _rename_noreplace(tmp, final)
            except FileExistsError:
                rc = DST_EXISTS
        if rc == DST_EXISTS:
            final = _give_name(tmp, directory, names)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    if fsync:
        _fsync_dir(directory)
    recent_files.add(final, meta, spans)
    return _as_path(final)


class RecentFiles:
    """What :func:`write_file` made lately, described from the bytes it had in memory: a
    :class:`Part10File` per file (with the data set's first HEAD_BYTES), for a reader in
    this process that wants the file right after it is made (the archive's index) and
    need not read it back. Off until :meth:`keep` is called; at most that many files,
    the oldest forgotten first; :meth:`take` gives each one once."""

    def __init__(self) -> None:
        self._limit = 0
        self._files: OrderedDict[str, Part10File] = OrderedDict()
        self._lock = threading.Lock()

    def keep(self, limit: int) -> None:
        """Remember up to ``limit`` files (0: none, and forget those remembered)."""
        with self._lock:
            self._limit = max(0, limit)
            while len(self._files) > self._limit:
                self._files.popitem(last=False)

    def peek(self, path: str | os.PathLike[str]) -> Part10File | None:
        """What :meth:`take` would give, without forgetting it."""
        if not self._limit:
            return None
        with self._lock:
            return self._files.get(os.path.abspath(path))

    def add(self, path: str, meta: FileMeta, spans: list[Any]) -> None:
        """``path`` was just written as ``spans``: encode_file_meta(meta), then the data
        set's chunks."""
        if not self._limit:
            return
        header, chunks = spans[0], spans[1:]
        length = sum(memoryview(c).nbytes for c in chunks)
        head = bytearray()
        for c in chunks:
            if len(head) >= HEAD_BYTES:
                break
            head += memoryview(c)[: HEAD_BYTES - len(head)]
        written = replace(  # (what reading the file's header back would give)
            meta,
            implementation_class_uid=meta.implementation_class_uid or IMPLEMENTATION_CLASS_UID,
            implementation_version_name=(
                meta.implementation_version_name or IMPLEMENTATION_VERSION_NAME
            ),
        )
        f = Part10File(path, written, len(header), length)
        f._head = bytes(head)
        with self._lock:
            self._files[os.path.abspath(path)] = f
            while len(self._files) > self._limit:
                self._files.popitem(last=False)

    def take(self, path: str | os.PathLike[str]) -> Part10File | None:
        """The Part10File of ``path`` if it was just written (and forget it), else None."""
        if not self._limit:
            return None
        with self._lock:
            return self._files.pop(os.path.abspath(path), None)


#: The process's RecentFiles (see there).
recent_files = RecentFiles()


class PendingFile:
    """A received data set's file, to be made later by whoever holds its bytes (the
    asyncio server's writer, in its thread pool): :meth:`open` for a data set written
    as it arrives, :meth:`write_whole` for one whose bytes are all in memory."""

    __slots__ = ("directory", "meta", "fsync")

    def __init__(self, directory: str | os.PathLike[str], meta: FileMeta, fsync: bool) -> None:
        self.directory, self.meta, self.fsync = directory, meta, fsync

    def open(self) -> Part10Writer:
        """A Part10Writer for the file."""
        return Part10Writer(self.directory, self.meta, fsync=self.fsync)

    def write_whole(self, chunks: list[Any]) -> Path:
        """The file made from ``chunks`` at once (:func:`write_file`); its path."""
        return write_file(self.directory, self.meta, chunks, fsync=self.fsync)


class DiscardWriter:
    """A writable that counts and drops data set bytes (``storescp --ignore``); same
    methods as :class:`Part10Writer`, ``commit()`` returns None."""

    __slots__ = ("bytes_written",)

    def __init__(self) -> None:
        self.bytes_written = 0

    def write(self, b: Any) -> int:
        """Count ``b`` and drop it."""
        n = memoryview(b).nbytes
        self.bytes_written += n
        return n

    def commit(self) -> None:
        """Nothing to do."""

    def abort(self) -> None:
        """Nothing to do."""

    def __enter__(self) -> DiscardWriter:
        return self

    def __exit__(self, *exc: Any) -> None:
        pass
