"""Net callbacks not covered elsewhere: the raw on_receive callback (RECEIVECALLBACK) and
the connect/close notifications, in both the subclass and the attribute style."""

from __future__ import annotations

import threading

import dicomul
from dicomul.sync.net import Net

TIMEOUT = 10.0


def _rq() -> dicomul.Associate:
    rq = dicomul.Associate(request=True).default_associate()
    rq.called, rq.calling = "SCP", "SCU"
    rq.add_presentation(1, dicomul.VERIFICATION_SOP_CLASS)
    rq.add_transfer(1, dicomul.IMPLICIT_VR_LITTLE_ENDIAN)
    return rq


class RawSCP(Net):
    """Records every raw PDU before its own callback, then accepts and releases."""

    seen: list[tuple[int, int, bytes, str]] = []

    def on_receive(self, error: int, pdu_type: int, raw: bytes) -> None:
        self.seen.append((error, pdu_type, raw, "raw"))

    def on_receive_associate_request(self, assoc: dicomul.Associate) -> None:
        self.seen.append((0, 1, b"", "rq"))
        supported = dicomul.SupportedContexts().verification([dicomul.IMPLICIT_VR_LITTLE_ENDIAN])
        self.send_associate_accept(dicomul.negotiate(assoc, supported))

    def on_receive_release_request(self) -> None:
        self.seen.append((0, 5, b"", "release"))
        self.send_release_response()


def test_on_receive_gets_each_raw_pdu_before_its_callback() -> None:
    RawSCP.seen = []
    server = RawSCP()
    port = server.listen("127.0.0.1", 0)
    closed = threading.Event()
    events: list[tuple[str, int]] = []
    try:
        scu = Net()
        scu.on_connect = lambda error: events.append(("connect", error))
        scu.on_close = lambda error, peer: (events.append(("close", error)), closed.set())
        rq = _rq()
        scu.associate("127.0.0.1", port, rq, timeout=TIMEOUT)
        scu.release(timeout=TIMEOUT)
        assert closed.wait(TIMEOUT)
    finally:
        server.close()
    kinds = [(t, k) for _e, t, _r, k in RawSCP.seen]
    assert kinds == [(1, "raw"), (1, "rq"), (5, "raw"), (5, "release")]
    raw_rq = RawSCP.seen[0][2]
    assert raw_rq == rq.encode()  # the bytes as they came, whole PDU with its header
    assert RawSCP.seen[2][2] == bytes.fromhex("05000000000400000000")
    assert events == [("connect", 0), ("close", 0)]


def test_connect_refused_reports_on_connect_and_raises() -> None:
    import socket

    with socket.socket() as s:  # a port with nobody listening
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    errors: list[int] = []
    net = Net(connect_timeout=TIMEOUT)
    net.on_connect = errors.append
    try:
        net.connect("127.0.0.1", port)
    except ConnectionRefusedError:
        pass
    else:  # pragma: no cover - the port was free a moment ago
        raise AssertionError("connect() to a closed port succeeded")
    assert len(errors) == 1 and errors[0] != 0
