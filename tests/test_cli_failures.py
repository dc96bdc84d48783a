"""The ``dicomul`` command line when things go wrong, in subprocesses: refused
connections, rejected associations, missing and non-DICOM files, failure statuses,
usage errors, a service the peer does not support, a DIMSE timeout, a busy port. Each
must give a clear message (never a traceback) and the documented exit status:
0 success, 1 an operation failed, 2 usage error, 3 no association.

Peers are in-process dicomul Servers on 127.0.0.1 port 0; every subprocess has a
timeout; nothing sleeps.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from pydicom.data import get_testdata_file

import dicomul
from dicomul.sync.server import Server

pytestmark = pytest.mark.timeout(120)

T = 30.0  # timeout of every subprocess call
SRC = Path(__file__).resolve().parent.parent / "src"
CT = Path(get_testdata_file("CT_small.dcm"))
MR = Path(get_testdata_file("MR_small.dcm"))
JPEG = Path(get_testdata_file("SC_rgb_jpeg_dcmtk.dcm"))


def _cli_env() -> dict[str, str]:
    """Run the dicomul this process tests: the source tree (tests/../src with its
    compiled core) goes on PYTHONPATH, absolute; an installed dicomul needs nothing."""
    env = dict(os.environ)
    pkg = Path(dicomul.__file__).resolve().parent
    compiled = any(pkg.glob("_core*.so")) or any(pkg.glob("_core*.pyd"))
    if pkg.parent == SRC and compiled:
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(SRC), env.get("PYTHONPATH")) if p)
    return env


ENV = _cli_env()


def dicomul_cli(*args: object, cwd: Path, timeout: float = T) -> subprocess.CompletedProcess:
    r = subprocess.run(
        [sys.executable, "-m", "dicomul", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=ENV,
        cwd=cwd,
    )
    assert "Traceback" not in r.stderr, r.stderr  # failures are reported, never crash
    return r


@pytest.fixture
def server():
    servers: list[Server] = []

    def make(**kw) -> tuple[Server, int]:
        kw.setdefault("dimse_timeout", T)
        srv = Server("SCP", **kw)
        servers.append(srv)
        return srv, srv.start("127.0.0.1", 0)

    yield make
    for srv in servers:
        srv.stop(timeout=T)


def free_port() -> int:
    """A port nobody listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ---- no association: exit 3 --------------------------------------------------------------


@pytest.mark.parametrize("command", ["echo", "store", "find"])
def test_connection_refused(tmp_path, command):
    port = free_port()
    extra = {"echo": [], "store": [CT], "find": ["-k", "PatientID="]}[command]
    r = dicomul_cli(command, "127.0.0.1", port, *extra, "-to", 5, cwd=tmp_path)
    assert r.returncode == 3, r.stdout + r.stderr
    assert "connection refused" in r.stderr
    assert f"127.0.0.1:{port}" in r.stderr


def test_rejected_association_called_ae(tmp_path, server):
    _srv, port = server(allowed_called=["SCP"], accept_all_storage=True)
    for args in (["echo", "127.0.0.1", port], ["store", "127.0.0.1", port, CT]):
        r = dicomul_cli(*args, "-aec", "SOMEONE-ELSE", cwd=tmp_path)
        assert r.returncode == 3, r.stdout + r.stderr
        assert "rejected the association: called AE title not recognized" in r.stderr
    r = dicomul_cli("echo", "127.0.0.1", port, "-aec", "SCP", cwd=tmp_path)
    assert r.returncode == 0, r.stderr


# ---- store: some files cannot be sent, or the peer fails them: exit 1 -----------------------


def test_store_missing_and_non_dicom_files(tmp_path, server):
    out = tmp_path / "out"
    _srv, port = server(accept_all_storage=True, store_dir=out)
    junk = tmp_path / "in" / "notes.txt"
    junk.parent.mkdir()
    junk.write_text("this is not DICOM\n" * 20)
    missing = tmp_path / "in" / "missing.dcm"
    r = dicomul_cli("store", "127.0.0.1", port, CT, missing, junk, JPEG, cwd=tmp_path)
    assert r.returncode == 1, r.stdout + r.stderr
    assert re.search(r"2 of 4 objects sent.*; 2 failed", r.stdout), r.stdout
    failed = [line for line in r.stderr.splitlines() if line.strip().startswith("failed:")]
    assert len(failed) == 2, r.stderr
    assert any(str(missing) in line and "No such file" in line for line in failed), failed
    assert any(str(junk) in line and "not a DICOM" in line for line in failed), failed
    assert len(list(out.glob("*.dcm"))) == 2  # the valid ones did go


def test_store_nothing_valid(tmp_path, server):
    _srv, port = server(accept_all_storage=True, ignore=True)
    r = dicomul_cli("store", "127.0.0.1", port, tmp_path / "nope.dcm", cwd=tmp_path)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "nope.dcm" in r.stderr and "no DICOM files to send" in r.stderr


def test_store_failure_status(tmp_path, server):
    def refuse(meta, data, info):
        return 0xA700  # Refused: Out of Resources

    _srv, port = server(accept_all_storage=True, on_store=refuse)
    r = dicomul_cli("store", "127.0.0.1", port, CT, MR, cwd=tmp_path)
    assert r.returncode == 1, r.stdout + r.stderr
    assert re.search(r"0 of 2 objects sent.*; 2 failed", r.stdout), r.stdout
    assert r.stderr.count("status 0xA700 (failure)") == 2, r.stderr
    assert CT.name in r.stderr and MR.name in r.stderr


def test_store_warning_status_is_success(tmp_path, server):
    _srv, port = server(accept_all_storage=True, on_store=lambda *a: 0xB000)
    r = dicomul_cli("store", "127.0.0.1", port, CT, cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "1 of 1 objects sent" in r.stdout


# ---- usage errors: exit 2 --------------------------------------------------------------------


@pytest.mark.parametrize(
    "args, message",
    [
        ([], "usage: dicomul"),
        (["frobnicate"], "invalid choice"),
        (["storescp", "0"], "storescp needs --output-dir"),
        (["echo", "127.0.0.1"], "the following arguments are required: port"),
        (["echo", "127.0.0.1", "eleven"], "invalid int value"),
        (["store", "127.0.0.1", "104"], "the following arguments are required: paths"),
        (["move", "127.0.0.1", "104", "-k", "PatientID=1"], "--dest"),
        (["find", "127.0.0.1", "104", "-k", "NoSuchKeyword=1"], "unknown keyword"),
        (["find", "127.0.0.1", "104", "-k", "zz,yy=1"], "not a tag gggg,eeee"),
        (["find", "127.0.0.1", "104", "-k", "0009,0010=x"], "not in the DICOM dictionary"),
        (["find", "127.0.0.1", "104", "-k", "Rows=many"], "US needs numbers"),
    ],
    ids=["no-args", "unknown-command", "storescp-no-dir", "no-port", "bad-port", "no-paths",
         "move-no-dest", "bad-keyword", "bad-tag", "unknown-tag", "bad-number"],
)  # fmt: skip
def test_usage_errors(tmp_path, args, message):
    r = dicomul_cli(*args, cwd=tmp_path)
    assert r.returncode == 2, r.stdout + r.stderr
    assert message in r.stdout + r.stderr


# ---- services the peer does not offer, timeouts ------------------------------------------


@pytest.mark.parametrize("command", ["find", "get", "move"])
def test_service_not_supported_by_peer(tmp_path, server, command):
    _srv, port = server()  # Verification only: no Q/R handlers, so no Q/R contexts
    extra = ["--dest", "X"] if command == "move" else []
    r = dicomul_cli(command, "127.0.0.1", port, "-k", "PatientID=1", *extra, cwd=tmp_path)
    assert r.returncode != 0, r.stdout + r.stderr
    assert "no accepted presentation context" in r.stderr
    assert f"C-{command.upper()}" in r.stderr


def test_find_dimse_timeout(tmp_path, server):
    release = threading.Event()

    def on_find(identifier, _sop_class):
        release.wait(T)  # never answers while the client waits
        yield 0xFF00, identifier

    _srv, port = server(on_find=on_find)
    try:
        r = dicomul_cli("find", "127.0.0.1", port, "-td", 0.5, "-k", "PatientID=", cwd=tmp_path)
    finally:
        release.set()
    assert r.returncode != 0, r.stdout + r.stderr
    assert "timed out" in r.stderr and "within 0.5s" in r.stderr, r.stderr


def test_move_unknown_destination(tmp_path, server):
    _srv, port = server(on_move=lambda identifier, dest: [CT])
    r = dicomul_cli("move", "127.0.0.1", port, "-k", "PatientID=1", "--dest", "NOWHERE",
                    cwd=tmp_path)  # fmt: skip
    assert r.returncode == 1, r.stdout + r.stderr
    assert "C-MOVE: final status 0xA801 (failure)" in r.stdout


def test_storescp_port_in_use(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        r = dicomul_cli("storescp", port, "--bind", "127.0.0.1", "--ignore", cwd=tmp_path)
    assert r.returncode != 0, r.stdout + r.stderr
    assert f"127.0.0.1:{port}" in r.stderr and "in use" in r.stderr, r.stderr


def _rude_acceptor() -> tuple[int, threading.Thread, socket.socket]:
    """A raw acceptor on 127.0.0.1 that accepts the association with every presentation
    context rejected, then answers the A-RELEASE-RQ with an A-ABORT: the command fails
    (no context) and so does the release after it."""
    from dicomul.ul.negotiation import negotiate

    lsn = socket.create_server(("127.0.0.1", 0))
    lsn.settimeout(T)

    def serve() -> None:
        conn, _ = lsn.accept()
        conn.settimeout(T)
        reader = dicomul.PDUReader()
        with conn:
            while True:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                for pdu in reader.feed(chunk):
                    if isinstance(pdu, dicomul.Associate):
                        conn.sendall(negotiate(pdu, {}).encode())
                    elif isinstance(pdu, dicomul.ReleaseRQ):
                        conn.sendall(bytes.fromhex("07000000000400000000"))  # A-ABORT
                        return

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return lsn.getsockname()[1], thread, lsn


def test_echo_when_the_command_and_then_the_release_fail_prints_the_first_error(tmp_path):
    port, thread, lsn = _rude_acceptor()
    try:
        r = dicomul_cli("echo", "127.0.0.1", port, cwd=tmp_path)  # (no traceback: above)
    finally:
        thread.join(T)
        lsn.close()
    assert r.returncode == 1, r.stderr
    lines = [x for x in r.stderr.splitlines() if x.strip()]
    assert len(lines) == 1 and "no accepted presentation context for Verification" in lines[0]


#: What `dicomul echo` must not import: each costs start-up time an echo has no use for
#: (pydicom ~200 ms; dataclasses 7 ms with inspect; ssl 7 ms without --tls; pathlib
#: 4 ms; argparse's shutil; tempfile, hashlib: only a storage SCP writes files; the IDNA
#: codec that a str host name costs getaddrinfo).
ECHO_MUST_NOT_IMPORT = (
    "pydicom", "numpy", "dataclasses", "inspect", "ssl", "pathlib", "shutil", "tempfile",
    "hashlib", "encodings.idna",
)  # fmt: skip


def test_echo_imports_nothing_it_does_not_need(server, tmp_path):
    """An echo needs no data set, file or TLS code: start-up is most of a one-shot
    `dicomul echo` (whole-process time is measured in bench/, not here)."""
    _, port = server()
    code = (
        "import sys\nfrom dicomul.cli.commands import main\n"
        f"rc = main(['echo', '127.0.0.1', '{port}', '-aec', 'SCP'])\n"
        f"heavy = sorted(m for m in {ECHO_MUST_NOT_IMPORT!r} if m in sys.modules)\n"
        "print('heavy:', heavy)\nraise SystemExit(rc)\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       timeout=T, env=ENV, cwd=tmp_path)  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "heavy: []" in r.stdout


def test_unreadable_tls_file_is_a_usage_error(tmp_path):
    """ssl, imported only when --tls is asked for, is there when it is: a CA file that
    cannot be read is a usage error that names it (exit 2), never a traceback."""
    r = subprocess.run(
        [sys.executable, "-m", "dicomul", "echo", "127.0.0.1", "9", "--tls",
         "--tls-ca", str(tmp_path / "missing.pem")],
        capture_output=True, text=True, timeout=T, env=ENV, cwd=tmp_path,
    )  # fmt: skip
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr, r.stderr
    assert "missing.pem" in r.stderr and "No such file" in r.stderr, r.stderr
