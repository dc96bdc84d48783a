"""The TLS context of the command line's --tls-* options (shared by the commands and the
storescp worker processes, which build their own: an SSLContext cannot be pickled)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import ssl

__all__ = ["tls_context"]


def tls_context(args: argparse.Namespace, server: bool) -> ssl.SSLContext | None:
    """The SSLContext the --tls-* options ask for (None without --tls); ValueError names
    a file that cannot be used."""
    if not getattr(args, "tls", False):
        return None
    import ssl  # only when asked for: it costs start-up time

    purpose = ssl.Purpose.CLIENT_AUTH if server else ssl.Purpose.SERVER_AUTH
    try:
        ctx = ssl.create_default_context(purpose, cafile=args.tls_ca)
    except OSError as exc:  # ssl.SSLError is one too
        raise ValueError(f"--tls-ca {args.tls_ca}: {exc.strerror or exc}") from None
    if args.tls_cert:
        try:
            ctx.load_cert_chain(args.tls_cert, args.tls_key)
        except OSError as exc:
            key = f" --tls-key {args.tls_key}" if args.tls_key else ""
            what = f"--tls-cert {args.tls_cert}{key}"
            raise ValueError(f"{what}: {exc.strerror or exc}") from None
    if args.tls_no_verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    elif server and args.tls_ca:
        ctx.verify_mode = ssl.CERT_REQUIRED  # clients must present a certificate
    return ctx
