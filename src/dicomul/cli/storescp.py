"""``dicomul storescp``: the asyncio storage SCP as a process, and ``--workers N`` of them
on one port (SO_REUSEPORT: the kernel spreads connections over the workers' loops).

Each process runs one event loop: uvloop's when it is installed (``--loop auto``, the
default; ``pip install 'dicomul[uvloop]'``), whose transports cost the server about a
third less CPU per read than asyncio's own; ``--loop asyncio`` or ``--loop uvloop``
choose.

The process raises its open-file soft limit to the hard limit at start (each connection
is a socket, each association at most one file being written) and says when the limit is
lower than ``--max-associations`` needs. SIGTERM and SIGINT stop it within a second:
listening stops, live associations are aborted, and files being received are removed.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import multiprocessing
import os
import signal
import socket
import sys
from collections.abc import Callable, Coroutine
from typing import Any

log = logging.getLogger("dicomul")

#: File descriptors the process needs besides its connections (stdio, the listener,
#: the event loop's own, a file being written per association).
FD_RESERVE = 16


def raise_open_file_limit(wanted: int) -> int:
    """Raise the soft RLIMIT_NOFILE to the hard limit; return the soft limit now (or
    ``wanted`` where the platform has no such limit, e.g. Windows)."""
    try:
        import resource
    except ImportError:
        return wanted
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(soft, wanted)
    if target > soft:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):  # e.g. macOS refuses above OPEN_MAX
            pass
    return soft


def loop_factory(kind: str) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """The event loop ``--loop kind`` asks for: uvloop's (``auto``: when installed), or
    None for asyncio's own. SystemExit when ``uvloop`` is asked for and not installed."""
    if kind == "asyncio":
        return None
    try:
        import uvloop
    except ImportError:
        if kind == "uvloop":
            raise SystemExit(
                "dicomul: error: --loop uvloop: uvloop is not installed "
                "(pip install 'dicomul[uvloop]'; not on Windows)"
            ) from None
        return None
    return uvloop.new_event_loop  # type: ignore[no-any-return]


def loop_name(kind: str) -> str:
    """The name of the loop ``--loop kind`` runs on (for the "listening" line)."""
    return "uvloop" if loop_factory(kind) is not None else "asyncio"


def run_on(kind: str, main: Callable[[], Coroutine[Any, Any, int]]) -> int:
    """``asyncio.run(main())`` on the loop ``--loop kind`` asks for."""
    factory = loop_factory(kind)
    if factory is None:
        return asyncio.run(main())
    if sys.version_info >= (3, 11):
        with asyncio.Runner(loop_factory=factory) as runner:
            return runner.run(main())
    import uvloop  # (3.10: no loop_factory; the policy, for this process only)

    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    return asyncio.run(main())


def reuse_port_supported() -> bool:
    return hasattr(socket, "SO_REUSEPORT") and sys.platform != "win32"


async def serve(
    args: argparse.Namespace, ssl_context: Any, port: int, announce: bool, ready: Any = None
) -> int:
    """Run one storage SCP on this process's loop until SIGTERM/SIGINT."""
    from dicomul.aio.server import Server

    limit = raise_open_file_limit(args.max_associations + args.max_pending + FD_RESERVE)
    usable = max(1, limit - FD_RESERVE - args.max_pending)
    if usable < args.max_associations:
        log.warning("the open-file limit (%d) caps associations at about %d, below "
                    "--max-associations %d", limit, usable, args.max_associations)  # fmt: skip
    extra: dict[str, Any] = {}
    if getattr(args, "archive", False):  # dicomul qrscp: the archive's handlers
        from dicomul.cli.qrscp import server_options

        extra = server_options(args)
    options: dict[str, Any] = dict(
        accept_all_storage=True,
        allowed_calling=args.allow_calling or None,
        allowed_called=args.allow_called or None,
        max_pdu=args.max_pdu,
        max_associations=args.max_associations,
        max_pending=args.max_pending,
        max_per_calling_ae=args.max_per_ae,
        store_dir=None if args.ignore else args.output_dir,
        fsync=args.fsync,
        write_on_loop=not args.writes_in_pool,
        ignore=args.ignore,
        ssl_context=ssl_context,
        acse_timeout=args.ta or 30.0,
        idle_timeout=args.idle_timeout or None,
        async_operations=(args.async_window, args.async_window),
    )
    server = Server(args.aet, **{**options, **extra})
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):  # Windows: no loop signal handlers
            signal.signal(sig, lambda *_: loop.call_soon_threadsafe(stop.set))
    # (the server makes "::" dual-stack where the system allows)
    port = await server.start(args.bind, port, reuse_port=args.workers > 1)
    if ready is not None:
        ready.put(os.getpid())
    if announce:
        print(f"{command_name(args)} {args.aet} listening on {args.bind}:{port}{_where(args)}"
              f" ({loop_name(args.loop)})", flush=True)  # fmt: skip
    if ready is not None:  # a worker: stop too if the parent is gone (even by SIGKILL)
        _watch_parent(loop, os.getppid(), stop)
    await stop.wait()
    log.info("shutting down")
    await server.close(timeout=1.0)
    return 0


#: Seconds between a worker's looks at its parent process.
PARENT_CHECK = 1.0


def _watch_parent(loop: asyncio.AbstractEventLoop, parent: int, stop: asyncio.Event) -> None:
    """Set ``stop`` once this process's parent is no longer ``parent`` (it died and the
    process was re-parented): a worker must not go on serving the port alone. A look
    every PARENT_CHECK seconds, one system call, on every platform."""

    def look() -> None:
        if os.getppid() != parent:
            log.warning("the parent process %d is gone: stopping", parent)
            stop.set()
        elif not stop.is_set():
            loop.call_later(PARENT_CHECK, look)

    loop.call_later(PARENT_CHECK, look)


def _worker(args: argparse.Namespace, port: int, ready: Any) -> None:
    """A worker process (spawned: portable, nothing inherited but the arguments)."""
    from dicomul.cli.tls import tls_context  # (checked by the parent already)

    logging.basicConfig(level=args.log_level, format="%(levelname)s %(name)s: %(message)s")
    try:
        ssl_context = tls_context(args, server=True)
        run_on(args.loop, lambda: serve(args, ssl_context, port, announce=False, ready=ready))
    except KeyboardInterrupt:
        pass


def _port_reservation(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port`` with SO_REUSEPORT but not listening: it fixes the
    port (0 = a free one) for the workers, and takes no connections itself."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    if family == socket.AF_INET6 and host in ("::", ""):
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    sock.bind((host, port))
    return sock


def run(args: argparse.Namespace, ssl_context: Any) -> int:
    """``dicomul storescp``: one process, or ``--workers`` processes on one port."""
    workers = args.workers or (os.cpu_count() or 1)
    if workers > 1 and not reuse_port_supported():
        log.warning("SO_REUSEPORT is not available here: running one worker")
        workers = 1
    args.workers = workers
    loop_factory(args.loop)  # (a missing uvloop is said once, here, not by every worker)
    if workers == 1:
        try:
            return run_on(args.loop, lambda: serve(args, ssl_context, args.port, announce=True))
        except OSError as exc:
            _cannot_listen(args, exc)
            return 1
    try:
        reservation = _port_reservation(args.bind, args.port)
    except OSError as exc:
        _cannot_listen(args, exc)
        return 1
    port = reservation.getsockname()[1]
    args.log_level = logging.getLogger().getEffectiveLevel()
    ctx = multiprocessing.get_context("spawn")
    ready = ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(args, port, ready), daemon=True)
             for _ in range(workers)]  # fmt: skip
    stopping = False

    def on_signal(signum: int, _frame: Any) -> None:
        nonlocal stopping
        stopping = True
        for p in procs:
            if p.pid is not None and p.is_alive():
                os.kill(p.pid, signal.SIGTERM)

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    for p in procs:
        p.start()
    up = 0
    while up < workers and not stopping and any(p.is_alive() for p in procs):
        try:
            ready.get(timeout=0.5)
            up += 1
        except Exception:  # noqa: BLE001 - queue.Empty: check on the workers again
            continue
    reservation.close()
    if up == workers:
        print(f"{command_name(args)} {args.aet} listening on {args.bind}:{port}{_where(args)} "
              f"({workers} workers, {loop_name(args.loop)})", flush=True)  # fmt: skip
    for p in procs:
        p.join()
    return 0 if stopping or all(p.exitcode == 0 for p in procs) else 1


def command_name(args: argparse.Namespace) -> str:
    """``qrscp`` or ``storescp``: which of the two this process runs."""
    return "qrscp" if getattr(args, "archive", False) else "storescp"


def _where(args: argparse.Namespace) -> str:
    return " (--ignore)" if args.ignore else f", storing into {args.output_dir}"


def _cannot_listen(args: argparse.Namespace, exc: OSError) -> None:
    print(f"dicomul: error: {command_name(args)} cannot listen on {args.bind}:{args.port}: "
          f"{exc.strerror or exc}", file=sys.stderr)  # fmt: skip
