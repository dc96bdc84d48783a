"""``dicomul qrscp``: an archive as a process (C-STORE in, C-FIND / C-GET / C-MOVE out,
Patient and Study Root, Modality Worklist, Storage Commitment), over the index in its
storage directory; and ``dicomul index``: index files already on disk.

The C-MOVE destinations file has one destination per line (``#`` starts a comment)::

    # AE title   host         port   [tls]
    VIEWER       10.0.0.12    11112
    OFFSITE      backup.lan   2762   tls

``tls`` destinations are reached with the --tls-ca / --tls-cert / --tls-key options.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

__all__ = ["read_destinations", "server_options", "cmd_index"]


def read_destinations(
    path: str, args: argparse.Namespace | None = None
) -> dict[str, tuple[Any, ...]]:
    """The destinations file (see the module docstring) as ``move_destinations``;
    ValueError naming the line that is wrong."""
    out: dict[str, tuple[Any, ...]] = {}
    try:
        lines = open(path, encoding="utf-8").read().splitlines()  # noqa: SIM115
    except OSError as exc:
        raise ValueError(f"--destinations {path}: {exc.strerror or exc}") from None
    for n, line in enumerate(lines, 1):
        words = line.split("#", 1)[0].split()
        if not words:
            continue
        if len(words) not in (3, 4) or (len(words) == 4 and words[3].lower() != "tls"):
            raise ValueError(f"{path}:{n}: expected 'AE host port [tls]', got {line.strip()!r}")
        ae, host, port = words[:3]
        if not 0 < len(ae) <= 16:
            raise ValueError(f"{path}:{n}: {ae!r} is not an AE title (1 to 16 characters)")
        try:
            number = int(port)
            if not 0 < number < 65536:
                raise ValueError
        except ValueError:
            raise ValueError(f"{path}:{n}: {port!r} is not a TCP port") from None
        if len(words) == 4:
            from dicomul.cli.tls import tls_context

            tls_args = argparse.Namespace(**{**vars(args or argparse.Namespace()), "tls": True})
            for name in ("tls_ca", "tls_cert", "tls_key", "tls_no_verify"):
                if not hasattr(tls_args, name):
                    setattr(tls_args, name, None)
            out[ae] = (host, number, tls_context(tls_args, server=False))
        else:
            out[ae] = (host, number)
    return out


def server_options(args: argparse.Namespace) -> dict[str, Any]:
    """The Server options of ``qrscp``'s archive (built in each worker process)."""
    from dicomul.storage.archive import Archive

    archive = Archive(args.output_dir, worklist=args.worklist, database=args.index)
    options = archive.server_options()
    options["move_destinations"] = (
        read_destinations(args.destinations, args) if args.destinations else {}
    )
    options["mpps"] = True
    return options


def cmd_index(args: argparse.Namespace) -> int:
    """``dicomul index DIR``: index every DICOM file under DIR into DIR's index."""
    import time

    from dicomul.storage.index import ArchiveIndex

    t0 = time.perf_counter()
    try:
        index = ArchiveIndex(args.directory, args.index)
        done, skipped = index.add_tree(args.directory)
        gone = index.prune() if args.prune else 0
        total = len(index)
    except (OSError, ValueError) as exc:
        print(f"dicomul: error: index {args.directory}: {getattr(exc, 'strerror', None) or exc}",
              file=sys.stderr)  # fmt: skip
        return 1
    dt = time.perf_counter() - t0
    extra = f", {gone} whose files had gone forgotten" if args.prune else ""
    print(
        f"indexed {done} files ({skipped} not DICOM){extra} in {dt:.1f}s "
        f"({done / dt if dt else 0:.0f}/s); {total} instances in {index.where}"
    )
    return 0


def add_index_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("directory", help="the storage directory (its index is made in it)")
    p.add_argument("--prune", action="store_true", help="forget instances whose files have gone")
    p.add_argument("--index", help="a PostgreSQL URL (default: SQLite in DIRECTORY)")


def add_qrscp_args(p: argparse.ArgumentParser, storescp_args: Any) -> None:
    storescp_args(p)
    p.add_argument("--storage", dest="output_dir", help="the archive's storage directory")
    p.add_argument("--destinations", help="C-MOVE destinations file (AE host port [tls])")
    p.add_argument("--worklist", help="directory of Modality Worklist items (JSON or DICOM)")
    p.add_argument("--index", help="a PostgreSQL URL for the index, shared by several qrscp "
                   "(default: SQLite in the storage directory)")  # fmt: skip
