"""When the asyncio transport sets TCP_QUICKACK (aio.protocol.quickack_wanted): after a
read that may leave a Nagle peer waiting for our ACK, and not after the reads of a large
data set that is still arriving (one system call each, ~10% of a server's CPU); and the
Connection's ``partial_pdu`` that the rule reads."""

from __future__ import annotations

import pytest
from test_connection_helpers import associate, command

from dicomul.aio.protocol import quickack_wanted
from dicomul.ul.events import DataIndication, DataRequest

TWO = 2 * 32768  # two full-sized segments (loopback's TCP_MAXSEG here)


@pytest.mark.parametrize(
    "nbytes, asked, partial, done, want",
    [
        (200, 65536, 0, False, True),  # a command PDU alone: the data set may be held back
        (16390, 65536, 0, False, True),  # one small data PDU: the next may be held back
        (40000, 65536, 12000, False, True),  # took all the socket had, mid-PDU
        (16390, 16390, 0, False, True),  # ended exactly at a PDU's end, under two segments
        (6, 6, 6, False, False),  # a header read alone: its body is in the socket
        (131072, 131072, 0, False, False),  # a PDU's body whole: TCP ACKed it already
        (65536, 65536, 40000, False, False),  # filled the buffer mid-PDU: more is coming
        (200, 65536, 0, True, False),  # the message is complete: our answer ACKs it
    ],
)
def test_quickack_rule(nbytes: int, asked: int, partial: int, done: bool, want: bool) -> None:
    assert quickack_wanted(nbytes, asked, partial, TWO, done) is want


def test_partial_pdu_counts_what_is_held_of_a_pdu() -> None:
    r, a = associate()
    r.send(DataRequest(1, command(True), b"x" * 3000))
    wire = b"".join(bytes(b) for b in r.data_to_send())
    assert a.partial_pdu == 0
    a.receive_data(wire[:4])  # (part of a header)
    assert a.partial_pdu == 4
    a.receive_data(wire[4:100])
    assert a.partial_pdu > 0
    a.receive_data(wire[100:])
    assert a.partial_pdu == 0
    assert a.events() == [DataIndication(1, command(True), b"x" * 3000)]
