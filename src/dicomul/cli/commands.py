"""The dicomul command line: ``dicomul COMMAND ...`` or ``python -m dicomul COMMAND ...``.

Commands (flags modelled on DCMTK's tools where it makes sense):

* ``echo HOST PORT [--repeat N]``                 C-ECHO (echoscu)
* ``store HOST PORT PATH...``                     C-STORE files and directories (storescu)
* ``storescp PORT --output-dir DIR [--ignore]``   a storage SCP (storescp)
* ``find HOST PORT -k key=value ...``             C-FIND (findscu)
* ``get HOST PORT -k key=value ... [-od DIR]``    C-GET (getscu)
* ``move HOST PORT -k key=value ... --dest AE``   C-MOVE (movescu)
* ``selftest``                                    all of the above against itself
* ``demo``                                        encode and decode a sample association

Exit status: 0 when every operation succeeded, 1 when any failed (a failure status, a
file that could not be sent, a service the peer did not accept), 2 for usage errors, 3
when no association could be made or it was lost (refused connection, rejected or aborted
association, timeout).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import dicomul
from dicomul.cli.tls import tls_context
from dicomul.ul.constants import (
    EXPLICIT_VR_LITTLE_ENDIAN,
    IMPLICIT_VR_LITTLE_ENDIAN,
    VERIFICATION_SOP_CLASS,
)

if TYPE_CHECKING:
    import ssl
    from pathlib import Path

log = logging.getLogger("dicomul")
CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2"
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_NO_ASSOCIATION = 0, 1, 2, 3


# ---- demo ---------------------------------------------------------------------------------


def sample_request() -> dicomul.Associate:
    """A typical SCU's A-ASSOCIATE-RQ: verification and CT storage, user identity."""
    rq = dicomul.Associate(request=True).default_associate()
    rq.called = "STORESCP"
    rq.calling = "DICOMUL"
    rq.add_presentation(1, 0, VERIFICATION_SOP_CLASS)
    rq.add_transfer(1, IMPLICIT_VR_LITTLE_ENDIAN)
    rq.add_presentation(3, 0, CT_IMAGE_STORAGE)
    rq.add_transfer(3, EXPLICIT_VR_LITTLE_ENDIAN)
    rq.add_transfer(3, IMPLICIT_VR_LITTLE_ENDIAN)
    rq.set_role_select(3, True, 1, 1)
    rq.set_user_identity(dicomul.UserIdentityType.USERNAME, b"operator")
    return rq


def cmd_demo(args: argparse.Namespace) -> int:
    rq = sample_request()
    wire = rq.encode()
    print(f"dicomul {dicomul.__version__}: a sample A-ASSOCIATE-RQ, {len(wire)} bytes on the wire")
    for off in range(0, len(wire), 32):
        print(f"  {off:04x}  {wire[off : off + 32].hex(' ')}")
    decoded = dicomul.decode_pdu(wire)
    assert isinstance(decoded, dicomul.Associate)
    print("decoded again:")
    print(
        f"  called {decoded.called!r}, calling {decoded.calling!r}, "
        f"application context {decoded.application_context}"
    )
    print(
        f"  max length {decoded.max_length}, implementation {decoded.implementation_class_uid}"
        f" / {decoded.implementation_version_name}"
    )
    for pc in decoded.presentation_contexts:
        print(
            f"  context {pc.id}: {pc.abstract_syntax} [{', '.join(pc.transfer_syntaxes)}]"
            f" roles scu={pc.scu_role} scp={pc.scp_role}"
        )
    print(f"  user identity {decoded.user_identity}")
    print("round trip:", "identical bytes" if decoded.encode() == wire else "MISMATCH")
    return EXIT_OK if decoded == rq and decoded.encode() == wire else EXIT_FAILED


# ---- shared options -------------------------------------------------------------------------


def _ssl_context(args: argparse.Namespace, server: bool) -> ssl.SSLContext | None:
    try:
        return tls_context(args, server)
    except ValueError as exc:  # a file named by --tls-* that cannot be used
        raise SystemExit(_usage(str(exc))) from None


def _scu_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    return dict(
        calling_ae=args.aet,
        called_ae=args.aec,
        max_pdu=args.max_pdu,
        connect_timeout=args.to,
        acse_timeout=args.ta,
        dimse_timeout=args.td,
        ssl_context=_ssl_context(args, server=False),
    )


def _connect(args: argparse.Namespace, **extra: Any) -> Any:
    """Association.connect with the common flags; exits 3 with a clear message on failure."""
    from dicomul.sync.services import Association

    try:
        return Association.connect(args.host, args.port, **_scu_kwargs(args), **extra)
    except (OSError, TimeoutError, dicomul.DicomULError) as exc:
        _fail(f"cannot associate with {args.host}:{args.port}: {_describe(exc)}")
        raise SystemExit(EXIT_NO_ASSOCIATION) from None


@contextlib.contextmanager
def _associated(args: argparse.Namespace, **extra: Any) -> Iterator[Any]:
    """``with _associated(args) as assoc:``: connect (exit 3 on failure, see _connect),
    then release on leaving (abort if the block raised). A release that fails after the
    commands ran is reported in one line, or only logged if an error was reported
    already: the first error is what the user needs, never a traceback."""
    assoc = _connect(args, **extra)
    try:
        yield assoc
    except BaseException:
        assoc.abort()
        raise
    try:
        assoc.release()
    except _OPERATION_ERRORS as exc:
        if _REPORTED[0]:
            log.info("the release after the error failed too: %s", _describe(exc))
        else:
            _fail(f"releasing the association failed: {_describe(exc)}")


def _describe(exc: BaseException) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, TimeoutError):
        return f"timed out ({exc})" if str(exc) else "timed out"
    return str(exc) or type(exc).__name__


#: How many errors this process has reported (a list, to be changed in place).
_REPORTED = [0]


def _fail(message: str) -> None:
    _REPORTED[0] += 1
    print(f"dicomul: error: {message}", file=sys.stderr)


def _operation_failed(what: str, exc: BaseException) -> int:
    """An echo/find/get/move that raised on an established association: say what
    happened; 1 if the peer did not accept the service, 3 if the association was lost
    (aborted, or no DIMSE response within -td)."""
    from dicomul.sync.services import ContextNotAccepted

    _fail(f"{what} failed: {_describe(exc)}")
    return EXIT_FAILED if isinstance(exc, ContextNotAccepted) else EXIT_NO_ASSOCIATION


_OPERATION_ERRORS = (OSError, dicomul.DicomULError)  # OSError includes TimeoutError


def _status_text(status: int) -> str:
    from dicomul.dimse.status import category

    return f"0x{status:04X} ({category(status).name.lower()})"


def _keys(pairs: Sequence[str], level: str | None) -> Any:
    """A query identifier from -k arguments (see :mod:`dicomul.cli.keys`)."""
    from dicomul.cli.keys import KeyArgumentError, parse_keys

    try:
        return parse_keys(pairs, level)
    except KeyArgumentError as exc:
        raise SystemExit(_usage(str(exc))) from None


def _usage(message: str) -> int:
    _fail(message)
    return EXIT_USAGE


# ---- echo ---------------------------------------------------------------------------------


def cmd_echo(args: argparse.Namespace) -> int:
    from dicomul.dimse.status import is_success

    failures = 0
    with _associated(args) as assoc:
        t0 = time.perf_counter()
        try:
            for _ in range(args.repeat):
                status = assoc.echo()
                if not is_success(status):
                    failures += 1
                    _fail(f"C-ECHO status {_status_text(status)}")
        except _OPERATION_ERRORS as exc:
            return _operation_failed("C-ECHO", exc)
        dt = time.perf_counter() - t0
    print(
        f"C-ECHO x{args.repeat} to {args.aec}@{args.host}:{args.port}: "
        f"{args.repeat - failures} succeeded, {failures} failed "
        f"({args.repeat / dt:.0f}/s)"
        if dt
        else ""
    )
    return EXIT_OK if failures == 0 else EXIT_FAILED


# ---- store --------------------------------------------------------------------------------


def _collect(paths: Sequence[str], recurse: bool) -> Iterator[Path]:
    from pathlib import Path  # imported where used: pathlib costs 4 ms of start-up

    for p in map(Path, paths):
        if p.is_dir():
            walker = sorted(p.rglob("*") if recurse else p.iterdir())
            yield from (f for f in walker if f.is_file())
        else:
            yield p


class _Progress:
    """Objects and MB/s on stderr, redrawn in place when stderr is a terminal."""

    def __init__(self, total: int, enabled: bool) -> None:
        self.total, self.enabled = total, enabled
        self.done = self.failed = self.nbytes = 0
        self.t0 = time.perf_counter()

    def update(self, nbytes: int, ok: bool) -> None:
        self.done += 1
        self.failed += 0 if ok else 1
        self.nbytes += nbytes
        if self.enabled:
            dt = max(time.perf_counter() - self.t0, 1e-9)
            width = 30
            fill = int(width * self.done / max(self.total, 1))
            sys.stderr.write(
                f"\r[{'#' * fill}{'.' * (width - fill)}] {self.done}/{self.total} objects "
                f"{self.nbytes / 1e6:8.1f} MB {self.nbytes / 1e6 / dt:7.1f} MB/s"
            )
            sys.stderr.flush()

    def finish(self) -> float:
        if self.enabled:
            sys.stderr.write("\n")
        return time.perf_counter() - self.t0


def cmd_store(args: argparse.Namespace) -> int:
    from dicomul.storage.part10 import StorageError, read_part10

    files: list[tuple[Path, Any]] = []
    problems: list[str] = []
    for path in _collect(args.paths, not args.no_recurse):
        try:
            files.append((path, read_part10(path)))
        except OSError as exc:
            problems.append(f"{path}: {exc.strerror or exc}")
        except StorageError as exc:  # its message names the file already
            text = str(exc)
            problems.append(text if text.startswith(str(path)) else f"{path}: {text}")
    for p in problems:
        _fail(p)
    if not files:
        _fail("no DICOM files to send")
        return EXIT_FAILED
    from dicomul.sync.sending import store_all

    progress = _Progress(len(files), args.progress or sys.stderr.isatty())
    size = {id(p10): p10.dataset_length for _, p10 in files}
    report = store_all(
        args.host, args.port, [p10 for _, p10 in files],
        on_result=lambda r: progress.update(size[id(r.obj)], r.ok), **_scu_kwargs(args),
    )  # fmt: skip
    failures: list[str] = [f"{p}: not sent" for p in problems]
    for r in report.failures:
        why = r.error if r.status is None else f"status {_status_text(r.status)}"
        failures.append(f"{r.obj.path}: {why}")
    dt = progress.finish()
    sent = progress.done - progress.failed
    print(
        f"C-STORE: {sent} of {len(files) + len(problems)} objects sent, "
        f"{progress.nbytes / 1e6:.1f} MB in {dt:.2f} s ({progress.nbytes / 1e6 / dt:.1f} MB/s)"
        f"; {len(failures)} failed"
    )
    for f in failures:
        print(f"  failed: {f}", file=sys.stderr)
    if report.associations == 0:
        exc = report.failures[0].exception
        _fail(f"cannot associate with {args.host}:{args.port}: {_describe(exc or Exception())}")
        return EXIT_NO_ASSOCIATION
    return EXIT_OK if not failures else EXIT_FAILED


# ---- storescp -----------------------------------------------------------------------------


def cmd_storescp(args: argparse.Namespace) -> int:
    from dicomul.cli import storescp

    if not args.ignore and not args.output_dir:
        return _usage("storescp needs --output-dir DIR (or --ignore)")
    if not args.ignore:
        try:
            os.makedirs(args.output_dir, exist_ok=True)
        except OSError as exc:  # say so now, not at the first association
            _fail(f"storescp: cannot use --output-dir {args.output_dir}: {exc.strerror or exc}")
            return EXIT_FAILED
    if args.idle_timeout is None:
        args.idle_timeout = args.td if args.td is not None else 300.0
    status = storescp.run(args, _ssl_context(args, server=True))
    if status == 0:
        print(f"{storescp.command_name(args)} stopped", flush=True)
    return status


def cmd_qrscp(args: argparse.Namespace) -> int:
    from dicomul.cli.qrscp import read_destinations

    if not args.output_dir:
        return _usage("qrscp needs --storage DIR")
    if args.destinations:
        try:
            read_destinations(args.destinations, args)  # a bad file: said now, not per move
        except ValueError as exc:
            return _usage(str(exc))
    args.archive, args.ignore = True, False
    return cmd_storescp(args)


def cmd_index(args: argparse.Namespace) -> int:
    from dicomul.cli.qrscp import cmd_index as run_index

    return run_index(args)


def _qrscp_args(p: argparse.ArgumentParser) -> None:
    from dicomul.cli.qrscp import add_qrscp_args

    add_qrscp_args(p, _storescp_args)


def _index_args(p: argparse.ArgumentParser) -> None:
    from dicomul.cli.qrscp import add_index_args

    add_index_args(p)


# ---- find / get / move --------------------------------------------------------------------


def _model(args: argparse.Namespace) -> str:
    return (
        "patient" if args.patient else "worklist" if getattr(args, "worklist", False) else "study"
    )


def cmd_find(args: argparse.Namespace) -> int:
    from dicomul.dimse.status import is_pending, is_success
    from dicomul.sync.services import qr_contexts

    model = _model(args)
    level = None if model == "worklist" else args.level
    identifier = _keys(args.key, level)
    n = 0
    with _associated(args, contexts=qr_contexts([model], ["find"])) as assoc:
        final = 0xC000
        try:
            for status, ds in assoc.find(identifier, model):
                if is_pending(status) and ds is not None:
                    n += 1
                    print(f"# match {n}")
                    print(ds)
                else:
                    final = status
        except _OPERATION_ERRORS as exc:
            return _operation_failed(f"C-FIND (after {n} matches)", exc)
    print(f"C-FIND: {n} matches, final status {_status_text(final)}")
    return EXIT_OK if is_success(final) else EXIT_FAILED


def _retrieve_summary(name: str, final: Any) -> int:
    from dicomul.dimse.status import is_success

    status = getattr(final, "status", 0xC000)
    counts = ", ".join(
        f"{k} {getattr(final, f'{k}_suboperations', None)}"
        for k in ("completed", "failed", "warning")
        if getattr(final, f"{k}_suboperations", None) is not None
    )
    print(f"{name}: final status {_status_text(status)}{'; ' + counts if counts else ''}")
    failed = getattr(final, "failed_suboperations", 0) or 0
    return EXIT_OK if is_success(status) and not failed else EXIT_FAILED


def cmd_get(args: argparse.Namespace) -> int:
    from dicomul.dimse.sop import common_storage_classes
    from dicomul.sync.services import qr_contexts, storage_contexts

    model = _model(args)
    identifier = _keys(args.key, args.level)
    from pathlib import Path

    out = Path(args.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    # Storage contexts for what may come back: the most common classes, so that the
    # total stays within 128 presentation contexts.
    storage = storage_contexts(
        common_storage_classes(127), [EXPLICIT_VR_LITTLE_ENDIAN, IMPLICIT_VR_LITTLE_ENDIAN]
    )
    final = None
    with _associated(args, contexts=qr_contexts([model], ["get"]) + list(storage)) as assoc:
        try:
            for _status, rsp in assoc.get(identifier, model, output_dir=str(out)):
                final = rsp
        except _OPERATION_ERRORS as exc:
            return _operation_failed("C-GET", exc)
    return _retrieve_summary("C-GET", final)


def cmd_move(args: argparse.Namespace) -> int:
    from dicomul.sync.services import qr_contexts

    model = _model(args)
    identifier = _keys(args.key, args.level)
    receiver = None
    if args.listen_port is not None:  # receive the sub-operations ourselves (movescu +P)
        from dicomul.sync.server import Server

        out = args.output_dir or "."
        receiver = Server(args.dest, accept_all_storage=True, store_dir=out)
        try:
            receiver.start(args.bind, args.listen_port)
        except OSError as exc:
            _fail(f"cannot listen on {args.bind}:{args.listen_port}: {exc.strerror or exc}")
            return EXIT_FAILED
    final = None
    try:
        with _associated(args, contexts=qr_contexts([model], ["move"])) as assoc:
            try:
                for _status, rsp in assoc.move(identifier, args.dest, model):
                    final = rsp
            except _OPERATION_ERRORS as exc:
                return _operation_failed("C-MOVE", exc)
    finally:
        if receiver is not None:
            receiver.stop()
    return _retrieve_summary("C-MOVE", final)


def cmd_selftest(args: argparse.Namespace) -> int:
    from dicomul.cli.selftest import run_selftest

    return run_selftest(verbose=args.verbose)


# ---- parser -------------------------------------------------------------------------------


def _add_common(p: argparse.ArgumentParser, scu: bool) -> None:
    p.add_argument(
        "-aet",
        "--aetitle",
        dest="aet",
        default="DICOMUL",
        help="our AE title (calling AE title as SCU)",
    )
    if scu:
        p.add_argument(
            "-aec", "--call", dest="aec", default="ANY-SCP", help="called AE title of the peer"
        )
    p.add_argument(
        "--max-pdu", "-pdu", type=int, default=16384, help="our maximum PDU length (0 = unlimited)"
    )
    p.add_argument(
        "-to",
        "--connect-timeout",
        dest="to",
        type=float,
        default=30.0,
        help="TCP connect timeout, seconds",
    )
    p.add_argument(
        "-ta",
        "--acse-timeout",
        dest="ta",
        type=float,
        default=30.0,
        help="association set-up/release timeout, seconds",
    )
    p.add_argument(
        "-td",
        "--dimse-timeout",
        dest="td",
        type=float,
        default=None,
        help="DIMSE response timeout, seconds (default: wait)",
    )
    p.add_argument("--tls", action="store_true", help="use TLS")
    p.add_argument("--tls-ca", help="CA certificates (PEM) to verify the peer")
    p.add_argument("--tls-cert", help="our certificate chain (PEM)")
    p.add_argument("--tls-key", help="our private key (PEM)")
    p.add_argument("--tls-no-verify", action="store_true", help="do not verify the peer")


def _add_peer(p: argparse.ArgumentParser) -> None:
    p.add_argument("host", help="peer host name or address")
    p.add_argument("port", type=int, help="peer TCP port")


def _add_query(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "-k",
        "--key",
        action="append",
        default=[],
        help="query key: keyword=value or gggg,eeee=value (repeatable)",
    )
    p.add_argument("-P", "--patient", action="store_true", help="patient root model")
    p.add_argument("-S", "--study", action="store_true", help="study root model (default)")
    p.add_argument(
        "--level", default="STUDY", help="QueryRetrieveLevel (PATIENT, STUDY, SERIES, IMAGE)"
    )


def _echo_args(p: argparse.ArgumentParser) -> None:
    _add_peer(p)
    _add_common(p, scu=True)
    p.add_argument("-r", "--repeat", type=int, default=1, help="C-ECHOs on one association")


def _store_args(p: argparse.ArgumentParser) -> None:
    _add_peer(p)
    p.add_argument("paths", nargs="+", help="files or directories (recursive)")
    _add_common(p, scu=True)
    p.add_argument("--no-recurse", action="store_true", help="do not descend into directories")
    p.add_argument("--progress", action="store_true", help="show progress even if not a tty")


def _storescp_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("port", type=int, help="TCP port to listen on (0 = any free port)")
    _add_common(p, scu=False)
    p.add_argument("-od", "--output-dir", help="directory for received files")
    p.add_argument("--ignore", action="store_true", help="receive and answer, store nothing")
    p.add_argument("--fsync", action="store_true", help="fsync each file before answering")
    p.add_argument(
        "--writes-in-pool",
        action="store_true",
        help="write every received file in the thread pool (small ones are written on the "
        "event loop while that is quick; use this for a network file system)",
    )
    p.add_argument("--bind", default="0.0.0.0", help="address to listen on")
    p.add_argument("--allow-calling", action="append", help="accept only these calling AEs")
    p.add_argument("--allow-called", action="append", help="accept only these called AEs")
    p.add_argument(
        "--max-associations",
        type=int,
        default=1000,
        help="associations at once, per worker (more are rejected: transient)",
    )
    p.add_argument(
        "--max-pending",
        type=int,
        default=256,
        help="connections not yet associated (the oldest is closed when full)",
    )
    p.add_argument(
        "--max-per-ae",
        type=int,
        default=None,
        help="associations at once from one calling AE title",
    )
    p.add_argument(
        "--idle-timeout",
        type=float,
        default=None,
        help="abort an association idle this long, seconds (default -td or 300)",
    )
    p.add_argument(
        "--async-window",
        type=int,
        default=16,
        help="asynchronous operations window accepted (0 = unlimited)",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=0,
        help="worker processes on one port (SO_REUSEPORT; default: one per CPU)",
    )
    p.add_argument(
        "--loop",
        choices=["auto", "asyncio", "uvloop"],
        default="auto",
        help="event loop (auto: uvloop when installed, else asyncio's)",
    )


def _query_args(name: str) -> Callable[[argparse.ArgumentParser], None]:
    def add(p: argparse.ArgumentParser) -> None:
        _add_peer(p)
        _add_common(p, scu=True)
        _add_query(p)
        if name == "find":
            p.add_argument("-W", "--worklist", action="store_true", help="modality worklist")
        if name in ("get", "move"):
            p.add_argument("-od", "--output-dir", default=".", help="where retrieved files go")
        if name == "move":
            p.add_argument("--dest", "-aem", required=True, help="move destination AE title")
            p.add_argument(
                "+P",
                "--listen-port",
                type=int,
                default=None,
                help="also run a storage SCP on this port to receive the objects",
            )
            p.add_argument("--bind", default="0.0.0.0", help="address for --listen-port")

    return add


def _no_args(p: argparse.ArgumentParser) -> None:
    pass


#: COMMAND -> (help, function, what adds its arguments, prefix characters).
_COMMANDS: dict[str, tuple[str, Callable[[argparse.Namespace], int], Any, str]] = {
    "echo": ("C-ECHO a peer", cmd_echo, _echo_args, "-"),
    "store": ("C-STORE files and directories", cmd_store, _store_args, "-"),
    "storescp": ("run a storage SCP until interrupted", cmd_storescp, _storescp_args, "-"),
    "qrscp": ("run an archive: store, find, get, move, worklist", cmd_qrscp, _qrscp_args, "-"),
    "index": ("index the DICOM files of a storage directory", cmd_index, _index_args, "-"),
    "find": ("C-FIND query", cmd_find, _query_args("find"), "-+"),
    "get": ("C-GET retrieve", cmd_get, _query_args("get"), "-+"),
    "move": ("C-MOVE retrieve", cmd_move, _query_args("move"), "-+"),
    "selftest": ("run every service against an in-process SCP", cmd_selftest, _no_args, "-"),
    "demo": ("encode and decode a sample association", cmd_demo, _no_args, "-"),
}


class _HelpFormatter(argparse.HelpFormatter):
    """argparse's formatter with the width worked out here: its own imports shutil
    (2 ms of start-up) to ask for the terminal size, once per argument."""

    def __init__(self, prog: str) -> None:
        super().__init__(prog, width=_terminal_width() - 2)


def _terminal_width() -> int:
    try:
        return int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        pass
    try:
        return os.get_terminal_size(sys.stdout.fileno()).columns or 80
    except (AttributeError, ValueError, OSError):  # not a terminal, or stdout replaced
        return 80


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The argument parser. ``only``: the command about to run, the only one then built
    (each sub-parser costs a millisecond of start-up); None: all of them (for --help and
    for the error that lists them)."""
    parser = argparse.ArgumentParser(
        prog="dicomul", description="DICOM networking tools", formatter_class=_HelpFormatter
    )
    parser.add_argument("--version", action="version", version=f"dicomul {dicomul.__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log at INFO level")
    parser.add_argument("-d", "--debug", action="store_true", help="log at DEBUG level")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (helptext, func, add_args, prefix) in _COMMANDS.items():
        if only is None or only == name:
            p = sub.add_parser(
                name, help=helptext, prefix_chars=prefix, formatter_class=_HelpFormatter
            )
            add_args(p)
            p.set_defaults(func=func)
    return parser


def _command_in(argv: Sequence[str]) -> str | None:
    """The COMMAND of a command line (the first word that is not an option)."""
    for word in argv:
        if not word.startswith("-"):
            return word if word in _COMMANDS else None
    return None


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``dicomul`` command."""
    words = sys.argv[1:] if argv is None else argv
    parser = build_parser(only=_command_in(words))
    args = parser.parse_args(words)
    level = logging.DEBUG if args.debug else logging.INFO if args.verbose else logging.WARNING
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return EXIT_USAGE
    try:
        return int(func(args))
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # e.g. piped into head
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
