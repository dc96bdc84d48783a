"""Shared fixtures for the live interop tests of dicomul.sync.net.Net (test_net_*.py here).

* ``dcmtk(name)``: the path of DCMTK's real ``name`` (not a pyenv shim of pynetdicom's
  same-named script): on PATH via ``capture_dcmtk.find_dcmtk``, else in /usr/bin or
  /usr/local/bin. Skips only when no DCMTK binary of that name exists at all.
* ``procs(argv)``: start a process with TCP_NODELAY=1 (PEERS.md) and stop it by its PID
  (terminate, then kill) when the test ends, whatever happened.
* ``free_port``: a free TCP port on 127.0.0.1.
* ``acceptor(**handlers_and_net_kwargs)``: a dicomul Net listening on 127.0.0.1 port 0;
  each incoming connection gets its own Net recorded by a :class:`Rec` (``.next()``).
* ``requestor(**handlers_and_net_kwargs)``: a recorded requestor Net, closed at the end.
* Builders and raw-socket helpers: ``make_rq``, ``dimse`` / ``c_echo_rq`` (command sets
  encoded by hand), ``read_command`` (pydicom), ``read_pdu``, ``read_all``, ``raw_connect``.

tests/test_net_local.py imports these too (``from interop.conftest import ...``), so that
the dicomul-to-dicomul tests and the interop tests share one definition. Every wait has a
timeout; nothing sleeps.
"""

from __future__ import annotations

import os
import queue
import socket
import struct
import subprocess
import threading
from io import BytesIO

import pytest

from dicomul import (
    EXPLICIT_VR_LITTLE_ENDIAN,
    IMPLICIT_VR_LITTLE_ENDIAN,
    VERIFICATION_SOP_CLASS,
    Associate,
)
from dicomul.sync.net import Net
from dicomul.ul.negotiation import SupportedContexts, negotiate

from . import capture_dcmtk as cap

TIMEOUT = 10.0
CALLBACKS = (
    "on_connect",
    "on_close",
    "on_send",
    "on_receive_associate_request",
    "on_receive_associate_accept",
    "on_receive_associate_reject",
    "on_receive_data",
    "on_receive_release_request",
    "on_receive_release_response",
    "on_receive_abort",
)


# ---- external tools --------------------------------------------------------------------


def _is_dcmtk(path: str) -> bool:
    try:
        out = subprocess.run(
            [path, "--version"], capture_output=True, text=True, timeout=cap.TIMEOUT, env=cap._env()
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return False
    return "$dcmtk:" in out


@pytest.fixture(scope="session")
def dcmtk():
    found: dict[str, str] = {}

    def lookup(name: str) -> str:
        if name not in found:
            path = cap.find_dcmtk(name)
            if path is None:
                for d in ("/usr/bin", "/usr/local/bin"):
                    p = os.path.join(d, name)
                    if os.access(p, os.X_OK) and _is_dcmtk(p):
                        path = p
                        break
            if path is None:
                pytest.skip(f"DCMTK {name} is not installed (apt-get install dcmtk)")
            found[name] = path
        return found[name]

    return lookup


@pytest.fixture
def procs():
    started: list[subprocess.Popen] = []

    def start(argv: list[str]) -> subprocess.Popen:
        proc = subprocess.Popen(
            argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=cap._env(),
        )
        started.append(proc)
        return proc

    start.output = lambda proc: cap._stop(proc)  # stop by PID, return the output
    yield start
    for proc in started:
        cap._stop(proc)


@pytest.fixture
def free_port() -> int:
    return cap._free_port()


# ---- recorded dicomul Nets ---------------------------------------------------------------


class Rec:
    """Records every callback of a Net (assigned as attributes), then runs an optional
    ``handler(net, *args)``; exceptions from handlers are kept in ``errors``."""

    def __init__(self, net: Net, **handlers):
        self.net, self.calls, self.errors = net, [], []
        self.cond = threading.Condition()
        for name in CALLBACKS:
            setattr(net, name, self._hook(name, handlers.get(name)))

    def _hook(self, name, handler):
        def cb(*args):
            with self.cond:
                self.calls.append((name, args))
                self.cond.notify_all()
            if handler is not None:
                try:
                    handler(self.net, *args)
                except BaseException as exc:
                    self.errors.append(exc)
                    raise

        return cb

    def args(self, name):
        with self.cond:
            return [a for n, a in self.calls if n == name]

    def names(self):
        with self.cond:
            return [n for n, _ in self.calls]

    def wait(self, name, count=1, timeout=TIMEOUT):
        with self.cond:
            ok = self.cond.wait_for(lambda: sum(n == name for n, _ in self.calls) >= count, timeout)
        assert ok, f"no {name} within {timeout}s; calls: {self.names()}"
        return self.args(name)[count - 1]

    def closed(self, timeout=TIMEOUT) -> bool:
        """The connection ended: on_close was called and the Net says it is closed.
        (Not Net.wait(): on an accepted Net that has ended it starts a second I/O loop,
        see tests/test_net_local.py::test_close_after_end_starts_no_second_io_loop)."""
        self.wait("on_close", timeout=timeout)
        assert not self.net.is_connected
        return True


SUPPORTED = (
    SupportedContexts()
    .verification()
    .add(cap.CT_IMAGE, [EXPLICIT_VR_LITTLE_ENDIAN, IMPLICIT_VR_LITTLE_ENDIAN])
)


def accept_all(net, rq):
    """Accept with negotiate(): Verification and CT Image Storage."""
    net.send_associate_accept(negotiate(rq, SUPPORTED))


def release_ok(net):
    net.send_release_response()


class Acceptor:
    """A listening Net on 127.0.0.1; every connection goes to a new recorded Net."""

    def __init__(self, handlers, **kw):
        self.kw, self.handlers = kw, handlers
        self.recs: queue.Queue[Rec] = queue.Queue()
        self.all: list[Rec] = []
        self.listener = Net(**kw)
        self.listener.on_accept = self._on_accept
        self.port = self.listener.listen("127.0.0.1", 0)

    def _on_accept(self, error):
        child = Net(**self.kw)
        rec = Rec(child, **self.handlers)
        self.listener.accept(into=child)
        self.all.append(rec)
        self.recs.put(rec)

    def next(self, timeout=TIMEOUT) -> Rec:
        return self.recs.get(timeout=timeout)

    def close(self):
        # Not listener.wait(): it can miss the close (see
        # tests/test_net_local.py::test_listener_wait_true_after_close_when_successor_starts_late).
        self.listener.close()
        for rec in self.all:
            if rec.net.is_connected:
                rec.net.close()
        for rec in self.all:
            rec.wait("on_close")


def _split(kw):
    handlers = {k: kw.pop(k) for k in list(kw) if k.startswith("on_")}
    return handlers, kw


@pytest.fixture
def acceptor():
    made: list[Acceptor] = []

    def start(**kw) -> Acceptor:
        handlers, kw = _split(kw)
        handlers = {
            "on_receive_associate_request": accept_all,
            "on_receive_release_request": release_ok,
            **handlers,
        }
        a = Acceptor(handlers, **kw)
        made.append(a)
        return a

    yield start
    for a in made:
        a.close()


@pytest.fixture
def requestor():
    nets: list[Net] = []

    def make(**kw) -> Rec:
        handlers, kw = _split(kw)
        net = Net(**kw)
        nets.append(net)
        return Rec(net, **handlers)

    yield make
    for net in nets:
        net.close()
        if net.state is not None:  # it was connected: its I/O thread must end
            assert net.wait(TIMEOUT)


# ---- PDUs and command sets -------------------------------------------------------------------


def make_rq(
    contexts=((1, VERIFICATION_SOP_CLASS, (IMPLICIT_VR_LITTLE_ENDIAN,)),),
    called="DICOMUL_SCP",
    calling="DICOMUL_SCU",
    max_length=16384,
) -> Associate:
    """An A-ASSOCIATE-RQ: ``contexts`` are ``(id, abstract syntax, transfer syntaxes)``."""
    rq = Associate().default_associate()
    rq.called, rq.calling = called, calling
    rq.set_max_length(True, max_length)
    for pc_id, abstract, ts in contexts:
        rq.add_presentation(pc_id, abstract, 0, list(ts))
    return rq


def _el(elem: int, value: bytes) -> bytes:
    return cap._implicit((0x0000, elem), value + b"\0" * (len(value) % 2))


def dimse(
    field: int,
    msg_id: int,
    sop: str = VERIFICATION_SOP_CLASS,
    dataset=False,
    responding=False,
    status=None,
) -> bytes:
    """A command set by hand: group 0000, implicit VR little endian, CommandGroupLength
    first (PS3.7 6.3.1); ``responding`` puts MessageIDBeingRespondedTo for MessageID."""
    body = _el(0x0002, sop.encode()) + _el(0x0100, struct.pack("<H", field))
    body += _el(0x0120 if responding else 0x0110, struct.pack("<H", msg_id))
    body += _el(0x0800, struct.pack("<H", 0x0000 if dataset else 0x0101))
    if status is not None:
        body += _el(0x0900, struct.pack("<H", status))
    return _el(0x0000, struct.pack("<I", len(body))) + body


def c_echo_rq(msg_id: int) -> bytes:
    """A C-ECHO-RQ command set (PS3.7 9.3.5.1)."""
    return dimse(0x0030, msg_id)


c_echo_rsp = cap.c_echo_rsp  # answers a C-ECHO-RQ command set with status 0x0000


def read_command(command: bytes):
    """Decode a command set with pydicom (implicit VR little endian)."""
    from pydicom.filereader import read_dataset

    return read_dataset(BytesIO(command), is_implicit_VR=True, is_little_endian=True)


def raw_connect(port: int) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
    s.settimeout(TIMEOUT)
    return s


def _read_exact(sock: socket.socket, n: int) -> bytes:
    out = b""
    while len(out) < n and (chunk := sock.recv(n - len(out))):
        out += chunk
    return out


def read_pdu(sock: socket.socket) -> bytes:
    """One whole PDU from a raw socket (what there is at EOF)."""
    head = _read_exact(sock, 6)
    if len(head) < 6:
        return head
    return head + _read_exact(sock, struct.unpack(">I", head[2:])[0])


def read_all(sock: socket.socket) -> bytes:
    """Everything until the peer closes (reads time out after TIMEOUT)."""
    out = b""
    while chunk := sock.recv(65536):
        out += chunk
    return out
