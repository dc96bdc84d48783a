from collections.abc import Sequence
from typing import Any

def scan_command(
    data: bytes, kinds: dict[int, int]
) -> dict[int, Any] | tuple[int, int, int, int, int, int]: ...
def encode_command_set(
    elems: Sequence[int],
    kinds: Sequence[int],
    values: Sequence[Any],
    required: Sequence[bool],
    raw_ok: bool,
) -> bytes | tuple[int, int, Any]: ...
