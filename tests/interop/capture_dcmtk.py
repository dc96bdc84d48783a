"""Capture A-ASSOCIATE PDUs from DCMTK tools and store them as test vectors.

Run as a script to regenerate ``tests/vectors/dcmtk_*.hex``::

    PYTHONPATH=src python tests/interop/capture_dcmtk.py [--out DIR]

or import it: :func:`capture_all` returns the captures without writing anything, which is
what the live test in ``test_codec_dcmtk.py`` does.

What is captured (all on 127.0.0.1):

* ``echoscu`` and ``storescu`` as requestors against a socket listening here: their
  A-ASSOCIATE-RQ (cut out of the stream with ``_core.Framer``). They are answered with an
  A-ASSOCIATE-AC built with ``_core.encode_associate`` that accepts only the first context.
  echoscu then gets a real C-ECHO-RSP and ends with A-RELEASE-RQ (captured too);
  storescu gets an A-ABORT as soon as it sends data.
* ``storescp`` as acceptor: a socket sends it an A-ASSOCIATE-RQ built with
  ``_core.encode_associate`` (Verification, CT, an unknown abstract syntax, an unknown
  transfer syntax, role selection, ...) and records its A-ASSOCIATE-AC, then releases
  (its A-RELEASE-RP is captured). A second storescp run with ``--reject`` (reject an
  association without implementation class UID) gives an A-ASSOCIATE-RJ. storescp 3.6.7
  does not check the called AE title (it accepts any), so a "wrong called AE" RJ cannot be
  provoked from it; ``--reject`` is the only RJ it can be made to send besides ``--refuse``.

Every subprocess runs with TCP_NODELAY=1, a timeout, and is killed by its PID in a
``finally``. No sleeps: waits are socket reads with timeouts and ``Popen.wait(timeout)``.
"""

from __future__ import annotations

import argparse
import datetime
import os
import shlex
import socket
import struct
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from dicomul.ul import _core

VECTOR_DIR = Path(__file__).resolve().parent.parent / "vectors"
TIMEOUT = 15.0  # seconds, for every socket read and every subprocess

APP_CONTEXT = "1.2.840.10008.3.1.1.1"
VERIFICATION = "1.2.840.10008.1.1"
CT_IMAGE = "1.2.840.10008.5.1.4.1.1.2"
MR_IMAGE = "1.2.840.10008.5.1.4.1.1.4"
IMPLICIT_LE = "1.2.840.10008.1.2"
EXPLICIT_LE = "1.2.840.10008.1.2.1"
EXPLICIT_BE = "1.2.840.10008.1.2.2"

# What DCMTK 3.6.7 says about itself in every A-ASSOCIATE-RQ/AC (dcuid.h).
DCMTK_IMPL_CLASS_UID = "1.2.276.0.7230010.3.0.3.6.7"
DCMTK_IMPL_VERSION_NAME = "OFFIS_DCMTK_367"

# ---- what the captures ask for --------------------------------------------------------

ECHO_AET, ECHO_AEC = "DICOMUL_ECHO", "DICOMUL_SCP"
ECHO_MAX_PDU = 16384  # echoscu's default, stated explicitly on its command line
ECHO_N_PC, ECHO_N_TS = 3, 3

STORE_AET, STORE_AEC = "DICOMUL_STORE", "DICOMUL_SCP2"
STORE_MAX_PDU = 32768
STORE_FILES = ("CT_small.dcm", "MR_small.dcm")  # pydicom test files, both explicit VR LE

SCP_AET = "STORESCP_TEST"
SCP_MAX_PDU = 65536
SCP_CALLING = "DICOMUL_SCU"
UNKNOWN_ABSTRACT = "1.2.826.0.1.3680043.10.1417.99.1"  # not a storage SOP class
UNKNOWN_TS = "1.2.826.0.1.3680043.10.1417.99.2"  # not a transfer syntax DCMTK knows
# The A-ASSOCIATE-RQ sent to storescp: [id, result(0 in RQ), abstract syntax, [ts...]].
SCP_RQ_PCS = [
    [1, 0, VERIFICATION, [IMPLICIT_LE]],
    [3, 0, CT_IMAGE, [UNKNOWN_TS, EXPLICIT_LE, IMPLICIT_LE]],
    [5, 0, UNKNOWN_ABSTRACT, [IMPLICIT_LE]],
    [7, 0, MR_IMAGE, [UNKNOWN_TS]],
    [9, 0, MR_IMAGE, [IMPLICIT_LE, EXPLICIT_BE]],
]
SCP_RQ_USER = [
    (0x51, 32768),
    (0x52, "1.2.826.0.1.3680043.10.1417.1"),
    (0x53, 4, 4),
    (0x54, CT_IMAGE, 1, 1),
    (0x55, "DICOMUL_010"),
]
# What storescp 3.6.7 answers (checked against PS3.8): Verification and CT/MR accepted with
# its preferred uncompressed TS (default +x=: explicit VR local byte order, then the other
# explicit VR, then implicit; so MR context 9 gets explicit VR *big* endian), the unknown
# abstract syntax refused with 3, the MR context with only an unknown TS refused with 4; no
# 53H (DCMTK does not negotiate the async window) and no 54H either: storescp leaves the
# proposed SCU+SCP roles unanswered, which PS3.7 D.3.3.4 reads as the default roles.
# A refused context carries implicit VR LE in its (not significant) TS sub-item.
SCP_AC_RESULTS = {
    1: (0, IMPLICIT_LE),
    3: (0, EXPLICIT_LE),
    5: (3, IMPLICIT_LE),
    7: (4, IMPLICIT_LE),
    9: (0, EXPLICIT_BE),
}


# ---- helpers --------------------------------------------------------------------------


def find_dcmtk(name: str) -> str | None:
    """The path of DCMTK's ``name`` on PATH, skipping same-named tools that are not DCMTK
    (pyenv shims of pynetdicom-style console scripts shadow them on some machines)."""
    seen = set()
    for d in os.get_exec_path():
        p = os.path.join(d, name)
        if not (os.path.isfile(p) and os.access(p, os.X_OK)):
            continue
        real = os.path.realpath(p)
        if real in seen:
            continue
        seen.add(real)
        try:
            out = subprocess.run(
                [p, "--version"], capture_output=True, text=True, timeout=TIMEOUT, env=_env()
            ).stdout
        except (OSError, subprocess.SubprocessError):
            continue
        if "$dcmtk:" in out:
            return p
    return None


def dcmtk_version(path: str) -> str:
    out = subprocess.run(
        [path, "--version"], capture_output=True, text=True, timeout=TIMEOUT, env=_env()
    ).stdout
    return out.splitlines()[0].strip("$ ").strip()


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["TCP_NODELAY"] = "1"
    return env


def _stop(proc: subprocess.Popen | None) -> str:
    """Stop proc by its PID (terminate, then kill); return its combined output."""
    if proc is None:
        return ""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
    out = b""
    if proc.stdout is not None and not proc.stdout.closed:
        out = proc.stdout.read()
        proc.stdout.close()
    return out.decode("latin-1", "replace")


def _read_pdu(sock: socket.socket, framer, pending: list) -> bytes | None:
    """The next whole PDU from sock (None at EOF); reads time out after TIMEOUT."""
    while not pending:
        chunk = sock.recv(65536)
        if not chunk:
            return None
        pending.extend(framer.feed(chunk))
    return bytes(pending.pop(0))


def _implicit_elements(data: bytes) -> dict[tuple[int, int], bytes]:
    out, pos = {}, 0
    while pos + 8 <= len(data):
        g, e, n = struct.unpack_from("<HHI", data, pos)
        out[(g, e)] = data[pos + 8 : pos + 8 + n]
        pos += 8 + n
    return out


def _implicit(tag: tuple[int, int], value: bytes) -> bytes:
    return struct.pack("<HHI", tag[0], tag[1], len(value)) + value


def c_echo_rsp(rq_command: bytes) -> bytes:
    """A C-ECHO-RSP command set (PS3.7 9.3.5.2) answering the C-ECHO-RQ command rq_command."""
    els = _implicit_elements(rq_command)
    sop = els.get((0x0000, 0x0002), (VERIFICATION + "\0").encode())
    msg_id = els[(0x0000, 0x0110)]
    body = (
        _implicit((0x0000, 0x0002), sop)
        + _implicit((0x0000, 0x0100), struct.pack("<H", 0x8030))
        + _implicit((0x0000, 0x0120), msg_id)
        + _implicit((0x0000, 0x0800), struct.pack("<H", 0x0101))
        + _implicit((0x0000, 0x0900), struct.pack("<H", 0))
    )
    return _implicit((0x0000, 0x0000), struct.pack("<I", len(body))) + body


def accept_first(rq: bytes, max_length: int = 16384) -> bytes:
    """An A-ASSOCIATE-AC for rq accepting its first context only (the others: result 1)."""
    _t, version, called, calling, app, pcs, _user = _core.decode_associate(rq)
    ac_pcs = [[pc[0], 0 if i == 0 else 1, None, [pc[3][0]]] for i, pc in enumerate(pcs)]
    user = [(0x51, max_length), (0x52, "1.2.826.0.1.3680043.10.1417.1"), (0x55, "DICOMUL_010")]
    return _core.encode_associate(2, version, called, calling, app, ac_pcs, user)


@dataclass
class Capture:
    name: str  # vector file stem, e.g. "dcmtk_echoscu_rq"
    pdu: bytes
    tool: str
    version: str
    command: list[str]
    expected: str
    notes: list[str] = field(default_factory=list)


# ---- requestors: echoscu and storescu against a socket here ---------------------------


def _run_scu(
    tool: str, args_before_host: list[str], args_after_port: list[str], echo_reply: bool
) -> tuple[list[str], list[tuple[str, bytes]], str, int | None]:
    """Run a DCMTK SCU against a socket here; return (argv, PDUs received with their role
    names, the tool's output, exit status)."""
    path = find_dcmtk(tool)
    if path is None:
        raise FileNotFoundError(f"DCMTK {tool} not found on PATH")
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    proc = conn = None
    got: list[tuple[str, bytes]] = []
    try:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        listener.settimeout(TIMEOUT)
        port = listener.getsockname()[1]
        argv = [path, *args_before_host, "127.0.0.1", str(port), *args_after_port]
        proc = subprocess.Popen(
            argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=_env(),
        )
        conn, _ = listener.accept()
        conn.settimeout(TIMEOUT)
        framer, pending = _core.Framer(1 << 20), []
        rq = _read_pdu(conn, framer, pending)
        if rq is None or rq[0] != 1:
            raise RuntimeError(f"{tool} did not send an A-ASSOCIATE-RQ: {rq!r}")
        got.append(("rq", rq))
        conn.sendall(accept_first(rq))
        command = b""
        while True:
            pdu = _read_pdu(conn, framer, pending)
            if pdu is None:
                break
            if pdu[0] == 4:
                got.append(("pdata", pdu))
                pd = _core.decode_pdata(pdu)
                if not echo_reply:
                    conn.sendall(_core.Abort(0, 0).encode())
                    break
                for pdv in pd.pdvs:
                    if pdv.is_command:
                        command += bytes(pdv.data)
                    if pdv.is_command and pdv.is_last:
                        rsp = c_echo_rsp(command)
                        pc_id = pdv.context_id
                        command = b""
                        conn.sendall(_core.encode_pdata([(pc_id, 3, rsp)]))
            elif pdu[0] == 5:
                got.append(("release_rq", pdu))
                conn.sendall(_core.ReleaseRP().encode())
            else:  # an abort or anything else ends it
                got.append(("other", pdu))
                break
        conn.close()
        conn = None
        status = proc.wait(timeout=TIMEOUT)
        return [tool, *argv[1:]], got, _stop(proc), status
    finally:
        if conn is not None:
            conn.close()
        listener.close()
        _stop(proc)


def capture_echoscu() -> list[Capture]:
    path = find_dcmtk("echoscu")
    version = dcmtk_version(path) if path else ""
    argv, got, output, status = _run_scu(
        "echoscu",
        [
            "-aet",
            ECHO_AET,
            "-aec",
            ECHO_AEC,
            "-pdu",
            str(ECHO_MAX_PDU),
            "-ppc",
            str(ECHO_N_PC),
            "-pts",
            str(ECHO_N_TS),
            "-to",
            "10",
            "-ts",
            "10",
            "-ta",
            "10",
            "-td",
            "10",
        ],
        [],
        echo_reply=True,
    )
    if status != 0:
        raise RuntimeError(f"echoscu exited with {status}: {output}")
    pdus = dict(got)
    cmd = list(argv)
    cmd[cmd.index("127.0.0.1") + 1] = "<PORT>"
    caps = [
        Capture(
            "dcmtk_echoscu_rq",
            pdus["rq"],
            "echoscu",
            version,
            cmd,
            f"A-ASSOCIATE-RQ, called {ECHO_AEC}, calling {ECHO_AET}, "
            f"{ECHO_N_PC} Verification contexts (ids 1,3,5) of {ECHO_N_TS} transfer "
            f"syntaxes each, max length {ECHO_MAX_PDU}, DCMTK implementation class "
            "UID and version name",
            [
                "answered with an A-ASSOCIATE-AC accepting context 1, then a C-ECHO-RSP;"
                " echoscu released and exited 0"
            ],
        )
    ]
    if "release_rq" in pdus:
        caps.append(
            Capture(
                "dcmtk_echoscu_release_rq",
                pdus["release_rq"],
                "echoscu",
                version,
                cmd,
                "A-RELEASE-RQ after a successful C-ECHO",
                [],
            )
        )
    return caps


def capture_storescu() -> list[Capture]:
    from pydicom.data import get_testdata_file

    files = [get_testdata_file(f) for f in STORE_FILES]
    path = find_dcmtk("storescu")
    version = dcmtk_version(path) if path else ""
    argv, got, output, _status = _run_scu(
        "storescu",
        [
            "-aet",
            STORE_AET,
            "-aec",
            STORE_AEC,
            "-R",
            "-pdu",
            str(STORE_MAX_PDU),
            "-to",
            "10",
            "-ts",
            "10",
            "-ta",
            "10",
            "-td",
            "10",
        ],
        files,
        echo_reply=False,
    )
    # storescu fails by design (it is aborted), so its exit status is not checked.
    cmd = [a if a not in files else "<pydicom>/" + Path(a).name for a in argv]
    cmd[cmd.index("127.0.0.1") + 1] = "<PORT>"
    return [
        Capture(
            "dcmtk_storescu_rq",
            dict(got)["rq"],
            "storescu",
            version,
            cmd,
            f"A-ASSOCIATE-RQ, called {STORE_AEC}, calling {STORE_AET}, -R: only the "
            "SOP classes of the files (CT, MR), one context per proposed uncompressed "
            f"transfer syntax, max length {STORE_MAX_PDU}, DCMTK implementation class "
            "UID and version name",
            [
                "answered with an A-ASSOCIATE-AC accepting context 1, then A-ABORT at "
                "its first P-DATA-TF"
            ],
        )
    ]


# ---- acceptor: storescp ------------------------------------------------------------------


def _free_port() -> int:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
    finally:
        s.close()


def _connect(proc: subprocess.Popen, port: int) -> socket.socket:
    """Connect to storescp once it listens: retries on refusal, pacing the retries with a
    timed wait on the process (which also notices if it died)."""
    deadline = datetime.datetime.now() + datetime.timedelta(seconds=TIMEOUT)
    while True:
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
            s.settimeout(TIMEOUT)
            return s
        except ConnectionRefusedError:
            if datetime.datetime.now() > deadline:
                raise
            try:
                proc.wait(timeout=0.05)
            except subprocess.TimeoutExpired:
                continue
            raise RuntimeError(f"storescp exited with {proc.returncode}: {_stop(proc)}") from None


def scp_rq(called: str = SCP_AET, with_impl_uid: bool = True) -> bytes:
    user = [u for u in SCP_RQ_USER if with_impl_uid or u[0] != 0x52]
    return _core.encode_associate(1, 1, called, SCP_CALLING, APP_CONTEXT, SCP_RQ_PCS, user)


def _associate(port: int, proc: subprocess.Popen, rq: bytes) -> tuple[socket.socket, bytes]:
    s = _connect(proc, port)
    s.sendall(rq)
    pdu = _read_pdu(s, _core.Framer(1 << 20), [])
    if pdu is None:
        s.close()
        raise RuntimeError("storescp closed without answering")
    return s, pdu


def capture_storescp() -> list[Capture]:
    path = find_dcmtk("storescp")
    if path is None:
        raise FileNotFoundError("DCMTK storescp not found on PATH")
    version = dcmtk_version(path)
    caps: list[Capture] = []
    rq = scp_rq()
    common = ["-ta", "10", "-td", "10"]

    # 1. A-ASSOCIATE-AC, then A-RELEASE-RP; then a wrong called AE title.
    port = _free_port()
    argv = [path, "--ignore", "-aet", SCP_AET, "-pdu", str(SCP_MAX_PDU), *common, str(port)]
    cmd = ["storescp", *argv[1:-1], "<PORT>"]
    proc = s = None
    try:
        proc = subprocess.Popen(
            argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=_env(),
        )
        s, ac = _associate(port, proc, rq)
        if ac[0] != 2:
            raise RuntimeError(f"storescp did not accept: {ac.hex()}")
        caps.append(
            Capture(
                "dcmtk_storescp_ac",
                ac,
                "storescp",
                version,
                cmd,
                "A-ASSOCIATE-AC to the RQ in the 'request' note below: contexts 1,3,9 accepted "
                "(9 with explicit VR big endian, storescp's preference order), 5 refused with 3 "
                "(abstract syntax not supported), 7 refused with 4 (no supported transfer "
                f"syntax), max length {SCP_MAX_PDU}, DCMTK implementation class UID and version "
                "name; no 53H or 54H answer",
                ["request: " + rq.hex()],
            )
        )
        s.sendall(_core.ReleaseRQ().encode())
        rp = _read_pdu(s, _core.Framer(), [])
        s.close()
        s = None
        if rp is not None:
            caps.append(
                Capture(
                    "dcmtk_storescp_release_rp",
                    rp,
                    "storescp",
                    version,
                    cmd,
                    "A-RELEASE-RP to our A-RELEASE-RQ",
                    [],
                )
            )
        # Does storescp check the called AE title? (3.6.7: it does not.)
        s, answer = _associate(port, proc, scp_rq(called="WRONG_AE"))
        if answer[0] == 3:
            caps.append(
                Capture(
                    "dcmtk_storescp_rj_called_ae",
                    answer,
                    "storescp",
                    version,
                    cmd,
                    "A-ASSOCIATE-RJ for called AE WRONG_AE",
                    ["request: " + scp_rq(called="WRONG_AE").hex()],
                )
            )
        else:
            s.sendall(_core.Abort(0, 0).encode())
    finally:
        if s is not None:
            s.close()
        _stop(proc)

    # 2. A-ASSOCIATE-RJ: --reject refuses an RQ without implementation class UID.
    port = _free_port()
    argv = [path, "--ignore", "--reject", "-aet", SCP_AET, *common, str(port)]
    cmd = ["storescp", *argv[1:-1], "<PORT>"]
    proc = s = None
    rq_no_impl = scp_rq(with_impl_uid=False)
    try:
        proc = subprocess.Popen(
            argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=_env(),
        )
        s, rj = _associate(port, proc, rq_no_impl)
        if rj[0] != 3:
            raise RuntimeError(f"storescp --reject did not reject: {rj.hex()}")
        caps.append(
            Capture(
                "dcmtk_storescp_rj",
                rj,
                "storescp",
                version,
                cmd,
                "A-ASSOCIATE-RJ to an RQ without implementation class UID (52H) under --reject: "
                "result 1 (permanent), source 1 (service user), reason 1 (no reason given)",
                [
                    "request: " + rq_no_impl.hex(),
                    "storescp 3.6.7 does not check the called AE title, so no RJ for a wrong "
                    "called AE can be captured from it",
                ],
            )
        )
    finally:
        if s is not None:
            s.close()
        _stop(proc)
    return caps


def capture_all() -> list[Capture]:
    return capture_echoscu() + capture_storescu() + capture_storescp()


# ---- vector files -----------------------------------------------------------------------


def format_vector(c: Capture, date: str) -> str:
    lines = [
        f"# {c.name}: captured by tests/interop/capture_dcmtk.py",
        f"# tool: {c.tool}",
        f"# version: {c.version}",
        "# command: " + " ".join(a if a.startswith("<") else shlex.quote(a) for a in c.command),
        "# environment: TCP_NODELAY=1; host 127.0.0.1, port chosen at run time",
        f"# date: {date}",
        f"# expected: {c.expected}",
    ]
    lines += [f"# note: {n}" for n in c.notes]
    lines.append(f"# length: {len(c.pdu)} bytes")
    h = c.pdu.hex()
    lines += [h[i : i + 64] for i in range(0, len(h), 64)]
    return "\n".join(lines) + "\n"


def read_vector(path: str | os.PathLike) -> tuple[dict[str, list[str]], bytes]:
    """(header fields by key, PDU bytes) of a .hex vector file."""
    meta: dict[str, list[str]] = {}
    hexdigits = []
    for line in Path(path).read_text().splitlines():
        if line.startswith("#"):
            key, _, value = line[1:].strip().partition(": ")
            meta.setdefault(key, []).append(value)
        elif line.strip():
            hexdigits.append(line.strip())
    return meta, bytes.fromhex("".join(hexdigits))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=VECTOR_DIR)
    args = ap.parse_args(argv)
    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    args.out.mkdir(parents=True, exist_ok=True)
    for c in capture_all():
        p = args.out / f"{c.name}.hex"
        p.write_text(format_vector(c, date))
        print(f"wrote {p} ({len(c.pdu)} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
