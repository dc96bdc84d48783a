"""A Net without an I/O thread (io_thread=False): the caller drives it with process(), the
blocking conveniences pump while they wait, callbacks run in the caller's thread."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading

import pytest

import dicomul
from dicomul.sync.net import Net

TIMEOUT = 10.0


class EchoBack(Net):
    def on_receive_associate_request(self, rq: dicomul.Associate) -> None:
        supported = dicomul.SupportedContexts().verification([dicomul.IMPLICIT_VR_LITTLE_ENDIAN])
        self.send_associate_accept(dicomul.negotiate(rq, supported))

    def on_receive_data(self, pc_id: int, command: bytes, dataset: object) -> None:
        self.send_data(pc_id, command)  # echo the message back

    def on_receive_release_request(self) -> None:
        self.send_release_response()


def _rq() -> dicomul.Associate:
    rq = dicomul.Associate(request=True).default_associate()
    rq.called, rq.calling = "SCP", "SCU"
    rq.add_presentation(1, dicomul.VERIFICATION_SOP_CLASS)
    rq.add_transfer(1, dicomul.IMPLICIT_VR_LITTLE_ENDIAN)
    return rq


def test_pumped_requestor_runs_callbacks_in_the_callers_thread() -> None:
    server = EchoBack()
    port = server.listen("127.0.0.1", 0)
    got: list[tuple[bytes, int]] = []
    try:
        net = Net(io_thread=False)
        net.on_receive_data = lambda pc, cmd, ds: got.append((cmd, threading.get_ident()))
        ac = net.associate("127.0.0.1", port, _rq(), timeout=TIMEOUT)
        assert ac.get_result(1) == 0
        cmd = b"\x00\x00\x00\x08\x02\x00\x00\x00\x01\x01"  # (0000,0800) = 0101H: no data set
        for _ in range(3):
            net.send_data(1, cmd)
        while len(got) < 3:  # nothing happens unless this thread drives the connection
            assert net.process(TIMEOUT)
        assert [c for c, _ in got] == [cmd] * 3
        assert {t for _, t in got} == {threading.get_ident()}
        net.release(timeout=TIMEOUT)
        assert net.wait(TIMEOUT) and not net.process(0)
    finally:
        server.close()


def test_pumped_requestor_sees_an_abort_while_waiting() -> None:
    class Aborter(EchoBack):
        def on_receive_data(self, pc_id: int, command: bytes, dataset: object) -> None:
            self.send_abort(0, 0)

    server = Aborter()
    port = server.listen("127.0.0.1", 0)
    aborts: list[tuple[int, int]] = []
    try:
        net = Net(io_thread=False)
        net.on_receive_abort = lambda s, r: aborts.append((s, r))
        net.associate("127.0.0.1", port, _rq(), timeout=TIMEOUT)
        net.send_data(1, b"\x00\x00\x00\x08\x02\x00\x00\x00\x01\x01")
        assert net.wait(TIMEOUT)
        assert aborts == [(0, 0)] and not net.is_connected
    finally:
        server.close()


# ---- spin_wait: checking for the answer without sleeping first, adaptively ----------------


def test_spin_wait_defaults_and_validation() -> None:
    from dicomul.sync.net import DEFAULT_SPIN_WAIT

    assert Net(io_thread=False).spin_wait == DEFAULT_SPIN_WAIT
    if not os.environ.get("DICOMUL_SPIN_WAIT"):
        assert DEFAULT_SPIN_WAIT == 0.0  # issue 10: no spinning unless asked for
    assert Net().spin_wait == DEFAULT_SPIN_WAIT  # (I/O threads: only while they are few)
    assert Net(spin_wait=0.0002).spin_wait == 0.0002
    with pytest.raises(ValueError):
        Net(spin_wait=-1)


def test_poller_spin_sees_ready_data_and_gives_up_when_there_is_none() -> None:
    from dicomul.sync._netio import Poller, Waker

    a, b = socket.socketpair()
    waker = Waker()
    try:
        poller = Poller(a, waker)
        assert poller.spin(0.0001) is None  # nothing to read: it gives up
        b.send(b"x")
        assert poller.spin(1.0) == (True, False)  # returns as soon as the data is there
        a.recv(1)
        waker.wake()
        assert poller.spin(1.0) == (False, True)
        b.send(b"y")
        assert poller.spin(1.0) == (True, True)
        poller.close()
    finally:
        waker.close()
        a.close()
        b.close()


def test_spinning_pauses_after_misses_and_answers_still_arrive() -> None:
    from dicomul.sync.net import SPIN_MISSES, SPIN_PAUSE

    class Silent(EchoBack):  # answers only the third message, so most waits are misses
        n = 0

        def on_receive_data(self, pc_id: int, command: bytes, dataset: object) -> None:
            Silent.n += 1
            if Silent.n % 3 == 0:
                self.send_data(pc_id, command)

    server = Silent()
    port = server.listen("127.0.0.1", 0)
    got: list[bytes] = []
    try:
        net = Net(io_thread=False, spin_wait=0.0005)
        net.on_receive_data = lambda pc, cmd, ds: got.append(cmd)
        net.associate("127.0.0.1", port, _rq(), timeout=TIMEOUT)
        cmd = b"\x00\x00\x00\x08\x02\x00\x00\x00\x01\x01"
        net.send_data(1, cmd)
        for _ in range(SPIN_MISSES):  # the peer says nothing: each wait is a miss
            assert net.process(0.002)
            if net._spin_pause:
                break  # (the wait for the A-ASSOCIATE-AC may have missed already)
        assert not got
        paused = net._spin_pause
        assert paused == SPIN_PAUSE  # spinning stopped for a while
        net.send_data(1, cmd)
        net.send_data(1, cmd)
        for _ in range(200):  # bounded: the answer to the third message arrives
            if got:
                break
            assert net.process(TIMEOUT)
        assert got == [cmd]
        assert net._spin_pause < paused  # the pause counts down, sleeping at once
        net.release(timeout=TIMEOUT)
    finally:
        server.close()


def test_the_spin_wait_default_comes_from_the_environment() -> None:
    code = (
        "from dicomul.sync.net import Net; print(Net().spin_wait, Net(io_thread=False).spin_wait)"
    )
    # (issue 10: no spinning unless asked for; it was 100 µs by default)
    for value, expect in (("0", "0.0 0.0"), ("0.0005", "0.0005 0.0005"), ("", "0.0 0.0"),
                          ("abc", "0.0 0.0"), ("-1", "0.0 0.0")):  # fmt: skip
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             env={**os.environ, "DICOMUL_SPIN_WAIT": value},
                             timeout=60, check=True)  # fmt: skip
        assert out.stdout.split() == expect.split()


def test_nets_on_the_loop_never_spin(monkeypatch) -> None:
    """(issue 10: there are no I/O threads any more; the loop sleeps in its selector.)
    spin_wait applies to io_thread=False Nets only."""
    from dicomul.sync._netio import Poller

    spins: list[int] = []
    real_spin = Poller.spin
    monkeypatch.setattr(Poller, "spin", lambda self, s: spins.append(1) or real_spin(self, s))
    server = EchoBack()
    port = server.listen("127.0.0.1", 0)
    try:
        got = threading.Event()
        net = Net(spin_wait=0.001)  # on the loop
        net.on_receive_data = lambda pc, cmd, ds, got=got: got.set()
        net.associate("127.0.0.1", port, _rq(), timeout=TIMEOUT)
        net.send_data(1, b"\x00\x00\x00\x08\x02\x00\x00\x00\x01\x01")
        assert got.wait(TIMEOUT)
        net.release(timeout=TIMEOUT)
        assert spins == []
    finally:
        server.close()
