import os
from collections.abc import Iterable
from typing import Any

STORED: int
TMP_EXISTS: int
DST_EXISTS: int
NOT_RENAMED: int
UNSUPPORTED: int

def rename_noreplace(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> bool: ...
def store_file(
    tmp: str | os.PathLike[str],
    dst: str | os.PathLike[str] | None,
    directory: str | os.PathLike[str],
    chunks: Iterable[Any],
    mode: int,
    fsync: bool,
) -> int:
    """Write a whole file and give it its name in one call (see the module)."""
