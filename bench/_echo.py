"""Hand-built C-ECHO command sets (Implicit VR Little Endian, PS3.7 9.3.5) for the
benchmarks, until the DIMSE layer exists. Also a dicomul acceptor that answers them."""

from __future__ import annotations

import struct

import dicomul
from dicomul.net import Net

VERIFICATION = b"1.2.840.10008.1.1\x00"  # even length: padded with one NUL


def _elem(elem: int, value: bytes) -> bytes:
    return struct.pack("<HHI", 0, elem, len(value)) + value


def _command(*elems: bytes) -> bytes:
    body = b"".join(elems)
    return _elem(0x0000, struct.pack("<I", len(body))) + body


def echo_rq(message_id: int) -> bytes:
    return _command(
        _elem(0x0002, VERIFICATION),
        _elem(0x0100, struct.pack("<H", 0x0030)),
        _elem(0x0110, struct.pack("<H", message_id)),
        _elem(0x0800, struct.pack("<H", 0x0101)),
    )


def echo_rsp(message_id: int) -> bytes:
    return _command(
        _elem(0x0002, VERIFICATION),
        _elem(0x0100, struct.pack("<H", 0x8030)),
        _elem(0x0120, struct.pack("<H", message_id)),
        _elem(0x0800, struct.pack("<H", 0x0101)),
        _elem(0x0900, struct.pack("<H", 0)),
    )


def message_id(command: bytes) -> int:
    """(0000,0110) or (0000,0120) of a command set."""
    off = 0
    while off + 8 <= len(command):
        _g, e, n = struct.unpack_from("<HHI", command, off)
        if e in (0x0110, 0x0120):
            return int(struct.unpack_from("<H", command, off + 8)[0])
        off += 8 + n
    raise ValueError("no message ID")


class EchoSCP(Net):
    """Accepts every proposed context with its first transfer syntax; answers C-ECHO."""

    def on_receive_associate_request(self, rq: dicomul.Associate) -> None:
        ac = dicomul.Associate(request=False).default_associate()
        ac.max_length = 0
        for pc in rq.presentation_contexts:
            ac.add_presentation(pc.id, 0, pc.abstract_syntax)
            ac.add_transfer(pc.id, pc.transfer_syntaxes[0])
        self.send_associate_accept(ac)

    def on_receive_data(self, pc_id: int, command: bytes, dataset: object) -> None:
        self.send_data(pc_id, echo_rsp(message_id(command)))

    def on_receive_release_request(self) -> None:
        self.send_release_response()


def verification_rq(called: str = "BENCH_SCP") -> dicomul.Associate:
    rq = dicomul.Associate(request=True).default_associate()
    rq.called, rq.calling = called, "BENCH_SCU"
    rq.add_presentation(1, dicomul.VERIFICATION_SOP_CLASS)
    rq.add_transfer(1, dicomul.IMPLICIT_VR_LITTLE_ENDIAN)
    return rq
