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
def command_dataset_type(command: bytes | bytearray | memoryview) -> int:
    """(0000,0800) CommandDataSetType of an Implicit VR LE command set, or -1 when absent
    or unreadable (0x0101: no data set follows)."""

def command_has_dataset(command: bytes | bytearray | memoryview) -> bool:
    """Whether the command set's (0000,0800) is present and not 0101H (PS3.7 E.1)."""

def build_message(
    cls: type[Any], command: dict[int, Any], fields: tuple[tuple[int, str, bool], ...]
) -> Any:
    """The message object for a decoded command set, or the element of the first missing
    required field (0x0800: the Command Data Set Type)."""
