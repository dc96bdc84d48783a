"""The dicomul command line: ``dicomul`` or ``python -m dicomul``.

For now one command, ``dicomul demo`` (the default): builds a sample A-ASSOCIATE-RQ,
encodes it, decodes the bytes again and prints both, so a fresh install shows the codec
working end to end. Network commands (echo, store, storescp, ...) come with the DIMSE layer.
"""

from __future__ import annotations

import argparse
import logging
import sys

import dicomul
from dicomul.constants import (
    EXPLICIT_VR_LITTLE_ENDIAN,
    IMPLICIT_VR_LITTLE_ENDIAN,
    VERIFICATION_SOP_CLASS,
)

CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2"


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
        print(f"  {off:04x}  {wire[off:off + 32].hex(' ')}")
    decoded = dicomul.decode_pdu(wire)
    assert isinstance(decoded, dicomul.Associate)
    print("decoded again:")
    print(f"  called {decoded.called!r}, calling {decoded.calling!r}, "
          f"application context {decoded.application_context}")
    print(f"  max length {decoded.max_length}, implementation {decoded.implementation_class_uid}"
          f" / {decoded.implementation_version_name}")
    for pc in decoded.presentation_contexts:
        print(f"  context {pc.id}: {pc.abstract_syntax} [{', '.join(pc.transfer_syntaxes)}]"
              f" roles scu={pc.scu_role} scp={pc.scp_role}")
    print(f"  user identity {decoded.user_identity}")
    print("round trip:", "identical bytes" if decoded.encode() == wire else "MISMATCH")
    return 0 if decoded == rq and decoded.encode() == wire else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dicomul", description="DICOM Upper Layer tools")
    parser.add_argument("-v", "--verbose", action="store_true", help="log at INFO level")
    parser.add_argument("-d", "--debug", action="store_true", help="log at DEBUG level")
    sub = parser.add_subparsers(dest="command")
    demo = sub.add_parser("demo", help="encode and decode a sample association (default)")
    demo.set_defaults(func=cmd_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``dicomul`` command."""
    args = build_parser().parse_args(argv)
    level = logging.DEBUG if args.debug else logging.INFO if args.verbose else logging.WARNING
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    func = getattr(args, "func", cmd_demo)
    return int(func(args))


if __name__ == "__main__":
    sys.exit(main())
