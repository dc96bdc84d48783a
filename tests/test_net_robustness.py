"""Peers that stop reading, sends from inside on_send, limits: nothing blocks forever,
nothing leaks (regressions found in review)."""

from __future__ import annotations

import os
import socket
import struct
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from pydicom.dataset import Dataset

import dicomul
from dicomul.errors import AssociationAborted, AssociationRejected
from dicomul.sync.net import Net
from dicomul.sync.server import Server
from dicomul.sync.services import Association, qr_contexts, verification_contexts
from dicomul.ul.events import DataRequest
from dicomul.ul.negotiation import negotiate

TIMEOUT = 10.0


def _bounded(fn: Callable[[], Any], timeout: float) -> tuple[bool, dict[str, Any]]:
    """Run fn in a thread; (finished within timeout, {"r": result} or {"e": exception})."""
    out: dict[str, Any] = {}

    def run() -> None:
        try:
            out["r"] = fn()
        except BaseException as exc:  # noqa: BLE001 - reported to the test
            out["e"] = exc

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(timeout)
    return not t.is_alive(), out


def _recv_pdu(s: socket.socket) -> bytes:
    head = b""
    while len(head) < 6:
        head += s.recv(6 - len(head))
    (n,) = struct.unpack(">I", head[2:])
    body = b""
    while len(body) < n:
        body += s.recv(n - len(body))
    return head + body


def _big_match() -> Dataset:
    ds = Dataset()
    ds.PatientName = "X"
    ds.add_new(0x00420011, "OB", b"\0" * (1 << 20))
    return ds


def test_stop_returns_while_a_writer_is_stuck_on_a_peer_that_does_not_read() -> None:
    srv = Server("SCP", on_find=lambda ident, sop: ((0xFF00, _big_match()) for _ in range(64)))
    port = srv.start("127.0.0.1", 0)
    a = Association.connect(
        "127.0.0.1", port, called_ae="SCP", contexts=qr_contexts(operations=("find",))
    )
    try:
        q = Dataset()
        q.PatientName, q.QueryRetrieveLevel = "*", "STUDY"
        a.find(q)  # sent; this side now reads nothing, so the server's writer blocks
        deadline = time.monotonic() + TIMEOUT  # wait until the server is stuck writing
        while time.monotonic() < deadline:  # (the server runs on the asyncio server now)
            peers = list(srv._aio._associated)
            transport = peers[0].protocol.transport if peers else None
            if transport is not None and transport.get_write_buffer_size() > 0:
                break
            threading.Event().wait(0.05)  # ok-sleep: polling a private state, bounded
        done, out = _bounded(lambda: srv.stop(timeout=2.0), 8.0)
        assert done, "Server.stop() blocked behind a stuck writer"
    finally:
        a.abort()
        srv.stop(timeout=2.0)


def _accept_then_never_read(ls: socket.socket, conn: list[socket.socket]) -> None:
    """A raw SCP: accepts one association (everything proposed), then never reads."""
    c, _ = ls.accept()
    conn.append(c)
    rq = dicomul.Associate.decode(_recv_pdu(c))
    sup = {pc.abstract_syntax: list(pc.transfer_syntaxes) for pc in rq.presentation_contexts}
    c.sendall(negotiate(rq, sup).encode())


def test_network_timeout_bounds_a_write_to_a_peer_that_does_not_read() -> None:
    ls = socket.create_server(("127.0.0.1", 0))
    port = ls.getsockname()[1]
    conn: list[socket.socket] = []

    t = threading.Thread(target=_accept_then_never_read, args=(ls, conn), daemon=True)
    t.start()
    sc = "1.2.840.10008.5.1.4.1.1.7"
    try:
        a = Association.connect(
            "127.0.0.1",
            port,
            called_ae="RAW",
            network_timeout=1.0,
            dimse_timeout=2.0,
            contexts=[(sc, ["1.2.840.10008.1.2.1"])],
        )
        data = (bytes(64 << 20), "1.2.840.10008.1.2.1", sc, "1.2.3.4")
        done, out = _bounded(lambda: a.store(data), 15.0)
        assert done, "store() to a peer that does not read never returned"
        assert isinstance(out.get("e"), (AssociationAborted, TimeoutError))
    finally:
        for c in conn:
            c.close()
        ls.close()


@pytest.mark.parametrize("io_thread", [True, False])
def test_send_from_inside_on_send_does_not_deadlock(io_thread: bool) -> None:
    class Echo(Net):
        def on_receive_associate_request(self, rq: dicomul.Associate) -> None:
            sup = dicomul.SupportedContexts().verification([dicomul.IMPLICIT_VR_LITTLE_ENDIAN])
            self.send_associate_accept(negotiate(rq, sup))

    server = Echo()
    port = server.listen("127.0.0.1", 0)
    try:
        rq = dicomul.Associate(True).default_associate()
        rq.called, rq.calling = "SCP", "SCU"
        rq.add_presentation(1, dicomul.VERIFICATION_SOP_CLASS)
        rq.add_transfer(1, dicomul.IMPLICIT_VR_LITTLE_ENDIAN)
        net = Net(io_thread=io_thread)
        net.associate("127.0.0.1", port, rq, timeout=TIMEOUT)
        sent: list[int] = []
        cmd = b"\x00\x00\x00\x08\x02\x00\x00\x00\x01\x01"

        def on_send(error: int, pdu_type: int, nbytes: int) -> None:
            sent.append(pdu_type)
            if len(sent) == 1:
                net.send_data(1, cmd)  # from inside on_send

        net.on_send = on_send  # type: ignore[method-assign]
        done, out = _bounded(lambda: net.send_data(1, cmd), 5.0)
        assert done and "e" not in out
        if not io_thread:
            net.process(0.5)
        deadline = time.monotonic() + TIMEOUT
        while len(sent) < 2 and time.monotonic() < deadline:
            net.process(0.1)
        assert sent[:2] == [4, 4]
        net.send_abort()
    finally:
        server.close()


def test_max_associations_rejects_with_local_limit_exceeded() -> None:
    srv = Server("SCP", max_associations=1)
    port = srv.start("127.0.0.1", 0)
    try:
        first = Association.connect(
            "127.0.0.1", port, called_ae="SCP", contexts=verification_contexts()
        )
        with pytest.raises(AssociationRejected) as info:
            Association.connect(
                "127.0.0.1", port, called_ae="SCP", contexts=verification_contexts()
            )
        assert (info.value.result, info.value.source, info.value.reason) == (2, 3, 2)
        first.release()
    finally:
        srv.stop()


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc")
def test_rejected_associations_leave_no_file_descriptors() -> None:
    srv = Server("SCP", allowed_calling=["SOMEONE-ELSE"])
    port = srv.start("127.0.0.1", 0)
    try:
        before = len(os.listdir("/proc/self/fd"))
        for _ in range(50):
            with pytest.raises(AssociationRejected):
                Association.connect(
                    "127.0.0.1", port, called_ae="SCP", contexts=verification_contexts()
                )
        # The server closes each rejected connection on its own thread, a moment after
        # the requestor saw the A-ASSOCIATE-RJ: wait (bounded) for the last ones.
        deadline = time.monotonic() + 5
        while len(os.listdir("/proc/self/fd")) > before + 2 and time.monotonic() < deadline:
            time.sleep(0.01)  # ok-sleep: the server closes on its own thread; bounded
        assert len(os.listdir("/proc/self/fd")) <= before + 2
    finally:
        srv.stop()


def test_a_data_set_source_failing_in_a_user_thread_wakes_the_io_thread() -> None:
    """The source fails while the user thread writes: the A-ABORT goes out, and the I/O
    thread (asleep with no timer) is woken to start ARTIM and report the abort, although
    this peer never closes the connection."""
    ls = socket.create_server(("127.0.0.1", 0))
    port = ls.getsockname()[1]
    conn: list[socket.socket] = []
    stop = threading.Event()

    def raw_scp() -> None:  # accepts, then reads and ignores everything, never closing
        c, _ = ls.accept()
        conn.append(c)
        rq = dicomul.Associate.decode(_recv_pdu(c))
        sup = {pc.abstract_syntax: list(pc.transfer_syntaxes) for pc in rq.presentation_contexts}
        c.sendall(negotiate(rq, sup).encode())
        c.settimeout(0.2)
        while not stop.is_set():
            try:
                if not c.recv(65536):
                    return
            except TimeoutError:
                continue
            except OSError:
                return

    t = threading.Thread(target=raw_scp, daemon=True)
    t.start()
    aborts: list[tuple[int, int]] = []
    net = Net(artim_timeout=0.5)
    net.on_receive_abort = lambda source, reason: aborts.append((source, reason))
    rq = dicomul.Associate(request=True).default_associate()
    rq.called, rq.calling = "RAW", "SCU"
    rq.add_presentation(1, dicomul.VERIFICATION_SOP_CLASS)
    rq.add_transfer(1, dicomul.IMPLICIT_VR_LITTLE_ENDIAN)
    try:
        net.associate("127.0.0.1", port, rq, timeout=TIMEOUT)

        def failing():
            yield b"\0" * 1000
            raise OSError("disk gone")

        cmd = b"\x00\x00\x00\x08\x02\x00\x00\x00\x01\x00"  # (0000,0800) 0001H: data set
        net.send_data(1, cmd, failing())  # this thread writes, and the source fails
        assert net.wait(TIMEOUT), "the I/O thread never saw the abort (ARTIM not started)"
        assert aborts == [(0, 0)]
        assert "disk gone" in net._outcome.message  # type: ignore[union-attr]
    finally:
        stop.set()
        net.close()
        t.join(TIMEOUT)
        for c in conn:
            c.close()
        ls.close()


def test_a_bad_data_set_argument_raises_and_sends_nothing() -> None:
    server = Server("SCP")
    port = server.start("127.0.0.1", 0)
    try:
        with Association.connect("127.0.0.1", port, called_ae="SCP",
                                 contexts=verification_contexts()) as a:  # fmt: skip
            for bad in (12345, "text", 1.5):
                with pytest.raises(TypeError, match="data set is bytes-like"):
                    a.session.connection.send(DataRequest(1, b"\0" * 12, bad))
                assert a.is_established and not a.session.connection.pending_output
            assert a.echo() == 0  # the association is intact
    finally:
        server.stop(timeout=TIMEOUT)


def test_children_inherit_the_spin_wait_asked_for() -> None:
    from dicomul.sync.net import DEFAULT_SPIN_WAIT

    assert Net(io_thread=False)._child().spin_wait == DEFAULT_SPIN_WAIT
    assert Net(spin_wait=0.001)._child().spin_wait == 0.001
    assert Net(spin_wait=0)._child().spin_wait == 0.0


def test_a_sender_faster_than_the_peer_waits_and_an_abort_frees_it() -> None:
    """send_data from a user thread to a peer that stops reading: the sender waits (the
    loop holds at most what the transport buffers), an A-ABORT from another thread
    ends the association, the sender returns, and the loop serves other Nets meanwhile."""
    ls = socket.create_server(("127.0.0.1", 0))
    port = ls.getsockname()[1]
    conn: list[socket.socket] = []
    done = threading.Event()

    t = threading.Thread(target=_accept_then_never_read, args=(ls, conn), daemon=True)
    t.start()
    net = Net(artim_timeout=0.5)
    rq = dicomul.Associate(request=True).default_associate()
    rq.called, rq.calling = "RAW", "SCU"
    rq.add_presentation(1, dicomul.VERIFICATION_SOP_CLASS)
    rq.add_transfer(1, dicomul.IMPLICIT_VR_LITTLE_ENDIAN)
    sent: list[int] = []
    errors: list[BaseException] = []
    cmd = b"\x00\x00\x00\x08\x02\x00\x00\x00\x01\x00"  # (0000,0800) 0001H: data set
    payload = b"\0" * (1 << 20)

    def sender() -> None:
        try:
            for i in range(256):  # 256 MiB: far beyond any socket buffer
                net.send_data(1, cmd, payload)
                sent.append(i)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    srv = Server("SCP")
    other = srv.start("127.0.0.1", 0)
    try:
        net.associate("127.0.0.1", port, rq, timeout=TIMEOUT)
        s = threading.Thread(target=sender, daemon=True)
        s.start()
        # Wait (bounded) until the sender stops making progress: it is held back.
        last, still = -1, 0
        for _ in range(200):
            s.join(0.05)
            n = len(sent)
            still = still + 1 if n == last else 0
            last = n
            if still >= 10 or not s.is_alive():
                break
        assert s.is_alive() and len(sent) < 64, f"sender not held back: {len(sent)} sent"
        # The loop is not blocked by the stuck connection: another association works.
        with Association.connect("127.0.0.1", other, called_ae="SCP",
                                 contexts=verification_contexts()) as a:  # fmt: skip
            assert a.echo() == 0
        net.send_abort()
        s.join(TIMEOUT)
        assert not s.is_alive(), "the sender stayed blocked after the abort"
        assert net.wait(TIMEOUT)
    finally:
        done.set()
        srv.stop()
        net.close()
        t.join(TIMEOUT)
        for c in conn:
            c.close()
        ls.close()
