"""A C-STORE with a raw command set (any UID values, what a sender without dicomul's
policy puts on the wire), sent over the LEADTOOLS-level Net: the DIMSE requestors check
and encode their own commands, so raw bytes go below them."""

from __future__ import annotations

import threading
from typing import Any

from dicomul.dimse.messages import decode_message
from dicomul.sync.net import Net

TIMEOUT = 10.0


def send_raw_store(assoc: Any, abstract: str, command: bytes, data: bytes | None) -> int:
    """Open a second association like ``assoc``'s (same peer, same proposal), send
    ``command`` (+ ``data``, if not None) on the context of ``abstract``, and return the
    response's status."""
    host, port = assoc.info().peer_address[:2]
    got: list[bytes] = []
    arrived = threading.Event()
    net = Net(io_thread=False)

    def on_data(pc_id: int, cmd: bytes, ds: Any) -> None:
        got.append(cmd)
        arrived.set()

    net.on_receive_data = on_data
    ac = net.associate(host, port, assoc.request, timeout=TIMEOUT)
    try:
        pc_id = next(
            pc.id for pc in ac.presentation_contexts
            if pc.result == 0 and assoc.request.get_abstract(pc.id) == abstract
        )  # fmt: skip
        net.send_data(pc_id, command, data)
        while not arrived.is_set():
            assert net.process(TIMEOUT), "the association ended without a response"
        return int(decode_message(got[0]).status)  # type: ignore[attr-defined]
    finally:
        net.release(timeout=TIMEOUT)
