"""The floor of a C-ECHO round trip from Python: no DICOM work on our side at all. One
association made with dicomul's sans-IO Connection, then per round trip one prepared
P-DATA-TF (a C-ECHO-RQ) written and one whole PDU read, blocking or on an asyncio loop.
Whatever dicomul does per message comes on top of this, so a C-ECHO target above the
floor's ratio cannot be met by any Python code on this machine."""

from __future__ import annotations

import asyncio
import socket
import struct
import time
from typing import Any

from dicomul.dimse.messages import CEchoRQ
from dicomul.ul.associate import Associate
from dicomul.ul.connection import Connection, Role
from dicomul.ul.constants import IMPLICIT_VR_LITTLE_ENDIAN, VERIFICATION_SOP_CLASS
from dicomul.ul.events import AssociateAcceptConfirmation, AssociateRequest


def _associated(port: int) -> socket.socket:
    rq = Associate(True)
    rq.called, rq.calling = "ANY", "FLOOR"
    rq.add_presentation(1, VERIFICATION_SOP_CLASS, 0, [IMPLICIT_VR_LITTLE_ENDIAN])
    conn = Connection(Role.REQUESTOR)
    conn.send(AssociateRequest(rq))
    conn.connection_made()
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.sendall(b"".join(bytes(b) for b in conn.data_to_send()))
    for _ in range(100):  # bounded: the A-ASSOCIATE-AC comes in a few reads
        conn.receive_data(sock.recv(65536))
        if any(isinstance(e, AssociateAcceptConfirmation) for e in conn.events()):
            return sock
    raise RuntimeError("not associated")


def _echo_pdu() -> bytes:
    cmd = CEchoRQ(message_id=1).encode()
    pdv = struct.pack(">IBB", len(cmd) + 2, 1, 0x03) + cmd  # command, last fragment
    return struct.pack(">BBI", 4, 0, len(pdv)) + pdv


def _whole(buf: bytearray | memoryview, got: int) -> bool:
    return got >= 6 and got >= 6 + int.from_bytes(buf[2:6], "big")


def floor_blocking(port: int, n: int) -> float:
    """C-ECHO round trips per second, blocking socket calls."""
    sock, pdu, buf = _associated(port), _echo_pdu(), bytearray(65536)
    view = memoryview(buf)
    t0 = time.perf_counter()
    for _ in range(n):
        sock.sendall(pdu)
        got = sock.recv_into(buf)
        while got and not _whole(buf, got):
            got += sock.recv_into(view[got:])
    dt = time.perf_counter() - t0
    sock.close()  # (an abrupt end: DCMTK's storescp logs it and goes on)
    return n / dt


class _Echoes(asyncio.Protocol):
    def __init__(self) -> None:
        self.buf = bytearray()
        self.done: asyncio.Future[None] | None = None

    def data_received(self, data: bytes) -> None:
        self.buf += data
        if _whole(self.buf, len(self.buf)) and self.done is not None:
            self.buf.clear()
            self.done.set_result(None)


async def floor_asyncio(port: int, n: int) -> float:
    """C-ECHO round trips per second on the running loop (a Protocol and a future each)."""
    loop = asyncio.get_running_loop()
    sock = _associated(port)
    sock.setblocking(False)
    transport, proto = await loop.create_connection(_Echoes, sock=sock)
    pdu = _echo_pdu()
    t0 = time.perf_counter()
    for _ in range(n):
        proto.done = loop.create_future()
        transport.write(pdu)
        await proto.done
    dt = time.perf_counter() - t0
    transport.abort()
    return n / dt


def floor(port: int, n: int, kind: str) -> dict[str, Any]:
    """``kind``: "blocking" or "asyncio" (the installed loop: uvloop if installed)."""
    c0 = time.process_time()
    if kind == "blocking":
        rate = floor_blocking(port, n)
    else:
        rate = asyncio.run(floor_asyncio(port, n))
    return {"per_s": rate, "cpu_per_10k": (time.process_time() - c0) / n * 10_000}
