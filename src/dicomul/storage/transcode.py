"""Transcoding, for peers that accept none of a data set's own transfer syntax.

With the optional extra ``pip install 'dicomul[codecs]'`` (NumPy, pylibjpeg and its
libjpeg, openjpeg and RLE plugins), pydicom's pixel handlers decompress JPEG (baseline,
extended, lossless), JPEG-LS, JPEG 2000 and RLE Lossless data sets into an uncompressed
syntax the peer accepted, or compress to RLE Lossless when that is all it accepted. Without
the extra, :func:`transcode` raises a :class:`~dicomul.storage.part10.StorageError` that names
it. Nothing here runs unless a data set has to change syntax: files in an accepted syntax
are sent as they are, and a storage SCP stores exactly the bytes it receives.

Decompressed pixels are what pydicom decodes from the original (colour JPEG in YCbCr comes
out as RGB with Photometric Interpretation updated, as pydicom's ``decompress`` does);
attributes that record lossy compression are kept. The SOP Instance UID is kept too: the
object is the same instance in another encoding (PS3.5 8.2: lossless changes of syntax
keep it; a decompressed lossy image stays marked lossy).
"""

from __future__ import annotations

import functools
import importlib.util
from collections.abc import Sequence
from typing import Any

from dicomul.storage.part10 import (
    REENCODE_PREFERENCE,
    StorageError,
    decode_dataset,
    encode_dataset,
    is_compressed_syntax,
)
from dicomul.ul.constants import EXPLICIT_VR_LITTLE_ENDIAN, RLE_LOSSLESS

__all__ = [
    "INSTALL_HINT",
    "ENCODABLE_SYNTAXES",
    "codecs_available",
    "can_transcode",
    "transcode",
    "transcode_dataset",
]

#: What to install for transcoding; error messages and the CLI name it.
INSTALL_HINT = "pip install 'dicomul[codecs]'"
#: Compressed syntaxes dicomul encodes into (when the peer accepts nothing uncompressed).
ENCODABLE_SYNTAXES = (RLE_LOSSLESS,)
_NEEDED = ("numpy", "pylibjpeg", "libjpeg", "openjpeg", "rle")


@functools.cache
def codecs_available() -> bool:
    """Whether the ``codecs`` extra is installed (found, not imported: cheap)."""
    try:
        return all(importlib.util.find_spec(m) is not None for m in _NEEDED)
    except (ImportError, ValueError):  # a finder that refuses, a module set to None
        return False


def can_transcode(transfer_syntax: str) -> bool:
    """Whether a data set in ``transfer_syntax`` can be sent in an uncompressed syntax:
    always for native and deflated ones, with the codecs extra for compressed ones."""
    return not is_compressed_syntax(transfer_syntax) or codecs_available()


def _target(accepted: Sequence[str]) -> str | None:
    for ts in (*REENCODE_PREFERENCE, *ENCODABLE_SYNTAXES):
        if ts in accepted:
            return ts
    return None


def transcode(
    data: Any, transfer_syntax: str, accepted: Sequence[str], what: str
) -> tuple[str, bytes]:
    """Re-encode the data set ``data`` (bytes or a binary file, in ``transfer_syntax``)
    into an accepted syntax; returns ``(syntax, bytes)``. See :func:`transcode_dataset`."""
    return transcode_dataset(decode_dataset(data, transfer_syntax), accepted, what)


def transcode_dataset(ds: Any, accepted: Sequence[str], what: str) -> tuple[str, bytes]:
    """Encode a pydicom Dataset (``file_meta.TransferSyntaxUID``: its syntax; native if
    unset; the Dataset may be changed: pass a copy) into the
    first accepted of Explicit VR LE, Implicit VR LE, Deflated, Explicit VR BE, then RLE
    Lossless, decompressing its pixel data first if need be. Raises StorageError when
    nothing accepted will do, when the codecs extra is missing (naming it), or when the
    pixel data does not decode (saying why)."""
    fm = getattr(ds, "file_meta", None)
    own = str(fm.get("TransferSyntaxUID") or "") if fm is not None else ""
    if not own:  # an in-memory data set: native, as pydicom holds it
        from pydicom.dataset import FileMetaDataset

        if fm is None:
            ds.file_meta = FileMetaDataset()
        own = ds.file_meta.TransferSyntaxUID = EXPLICIT_VR_LITTLE_ENDIAN
    target = _target(accepted)
    if target is None:
        raise StorageError(
            f"{what} is in {own}; the peer accepted none of the syntaxes dicomul can "
            f"transcode it into (accepted: {', '.join(accepted) or 'none'})"
        )
    if (is_compressed_syntax(own) or target in ENCODABLE_SYNTAXES) and not codecs_available():
        raise StorageError(
            f"{what} is in transfer syntax {own}, which the peer did not accept (accepted: "
            f"{', '.join(accepted)}); transcoding it needs the codecs extra: {INSTALL_HINT}"
        )
    _known_vrs(ds)
    if is_compressed_syntax(own) and "PixelData" in ds:
        ds = _decompressed(ds, what)
    if target in ENCODABLE_SYNTAXES and "PixelData" in ds:
        ds = _compressed(ds, target, what)
    return target, encode_dataset(ds, target)


def _known_vrs(ds: Any) -> None:
    """Give every element read as UN its dictionary VR (pydicom converts an element when
    it is first accessed): a transcoded data set is written anew, and receivers that
    do not resolve UN themselves (DCMTK's storescp looks for (0008,0016) as UI) must find
    the standard VRs. Files sent as they are keep their bytes."""
    for _ in ds.iterall():
        pass


#: Syntaxes whose compression is always lossy (JPEG 2000 .91 may be either).
_LOSSY = frozenset({"1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.4.51", "1.2.840.10008.1.2.4.81"})


def _decompressed(ds: Any, what: str) -> Any:
    own = str(ds.file_meta.TransferSyntaxUID)
    try:
        ds.decompress(generate_instance_uid=False)
    except Exception as exc:  # noqa: BLE001 - pydicom and the plugins raise many kinds
        raise StorageError(
            f"{what}: cannot decompress its pixel data ({ds.file_meta.TransferSyntaxUID}): {exc}"
        ) from exc
    if own in _LOSSY and not ds.get("LossyImageCompression"):
        ds.LossyImageCompression = "01"  # PS3.3 C.7.6.1.1.5: it has been lossy compressed
    return ds


def _compressed(ds: Any, target: str, what: str) -> Any:
    try:
        ds.compress(target, generate_instance_uid=False)
    except Exception as exc:  # noqa: BLE001
        raise StorageError(f"{what}: cannot compress its pixel data to {target}: {exc}") from exc
    return ds
