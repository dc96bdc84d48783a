"""hypothesis: random sequences of legal user actions on both sides of an in-memory
association, delivered in random chunks; receive_data never raises and both sides end
consistent. Plus: arbitrary bytes never raise from receive_data in any reachable state."""

from __future__ import annotations

import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from test_connection_helpers import command, drive, make_ac, make_rq  # noqa: E402

from dicomul.dimse.messages import command_has_dataset  # noqa: E402
from dicomul.ul import _fsm  # noqa: E402
from dicomul.ul.connection import Connection, Role, State  # noqa: E402
from dicomul.ul.events import (  # noqa: E402
    AbortIndication,
    AbortRequest,
    AssociateAcceptResponse,
    AssociateRejectResponse,
    AssociateRequest,
    DataIndication,
    DataRequest,
    ReleaseRequest,
    ReleaseResponse,
)

SETTLED = {(1, 1), (6, 6), (7, 8), (8, 7), (9, 10), (11, 12), (5, 3)}


class Wire:
    """Two Connections and the bytes in flight between them."""

    def __init__(self, data, rq_max: int, ac_max: int) -> None:
        self.draw = data.draw
        self.r = Connection(Role.REQUESTOR, needs_dataset=command_has_dataset)
        self.a = Connection(Role.ACCEPTOR, needs_dataset=command_has_dataset)
        self.inflight = {self.r: bytearray(), self.a: bytearray()}  # toward the key
        self.sent: dict[Connection, list] = {self.r: [], self.a: []}
        self.got: dict[Connection, list] = {self.r: [], self.a: []}
        self.closed = False
        self.aborted = False
        self.ac_max = ac_max
        self.r.send(AssociateRequest(make_rq(rq_max)))
        self.r.connection_made()
        self.a.connection_made()

    def other(self, c: Connection) -> Connection:
        return self.a if c is self.r else self.r

    def collect(self) -> None:
        for c in (self.r, self.a):
            for b in c.data_to_send():
                self.inflight[self.other(c)] += bytes(b)
            for ev in c.events():
                if isinstance(ev, DataIndication):
                    ds = None if ev.dataset is None else bytes(ev.dataset)
                    self.got[c].append((ev.context_id, ev.command, ds))
                elif isinstance(ev, AbortIndication):
                    self.aborted = True

    def deliver(self, dst: Connection, n: int) -> None:
        buf = self.inflight[dst]
        piece, self.inflight[dst] = bytes(buf[:n]), buf[n:]
        if piece and not self.closed:
            dst.receive_data(piece)

    def maybe_close(self) -> None:
        """A side that asked for the transport to close does so once its bytes are out."""
        for c in (self.r, self.a):
            if c.close_requested and not self.closed and not self.inflight[self.other(c)]:
                self.closed = True
                self.other(c).receive_data(b"")
                c.receive_data(b"")  # its own transport is gone too

    def requests(self, c: Connection) -> list:
        s = c.state
        out = []

        def ok(event: int) -> bool:
            return _fsm.cell(s, event) != ""

        if ok(7) and c.role is Role.ACCEPTOR:
            out += ["accept", "accept", "accept", "reject"]
        if ok(9) and c.accepted_contexts:
            out += ["data", "data", "data"]
        if ok(11):
            out.append("release")
        if ok(14):
            out += ["release-rp", "release-rp"]
        if ok(15) and s != 4:
            out.append("abort")
        return out

    def do(self, c: Connection, what: str) -> None:
        if what == "accept":
            c.send(
                AssociateAcceptResponse(make_ac(self.ac_max, reject_mr=self.draw(st.booleans())))
            )
        elif what == "reject":
            c.send(AssociateRejectResponse(1, 1, 1))
        elif what == "data":
            ctx = self.draw(st.sampled_from(sorted(c.accepted_contexts)))
            has = self.draw(st.booleans())
            cmd = command(has, extra=self.draw(st.integers(0, 40)))
            ds = None
            if has:
                n = self.draw(st.integers(0, 150)) * 2
                raw = bytes((i * 7) & 0xFF for i in range(n))
                cut = self.draw(st.integers(0, n))
                ds = self.draw(st.sampled_from([raw, [raw[:cut], raw[cut:]], bytearray(raw)]))
            c.send(DataRequest(ctx, cmd, ds))
            self.sent[c].append((ctx, cmd, None if ds is None else raw))
        elif what == "release":
            c.send(ReleaseRequest())
        elif what == "release-rp":
            c.send(ReleaseResponse())
        else:
            self.aborted = True
            c.send(AbortRequest())


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_random_legal_actions_stay_consistent(data) -> None:
    lengths = st.sampled_from([0, 8, 9, 16, 100, 16384])
    w = Wire(data, data.draw(lengths), data.draw(lengths))
    if data.draw(st.sampled_from([True, True, True, False])):  # mostly: start associated
        w.collect()
        w.deliver(w.a, len(w.inflight[w.a]))
        w.do(w.a, "accept")
        w.collect()
        w.deliver(w.r, len(w.inflight[w.r]))
    for _ in range(data.draw(st.integers(5, 60))):
        w.collect()
        options = []
        for c in (w.r, w.a):
            options += [(c, what) for what in w.requests(c)]
            if w.inflight[c] and not w.closed:
                options += [(c, "deliver")] * 3
        if not options:
            break
        c, what = data.draw(st.sampled_from(options))
        if what == "deliver":
            w.deliver(c, data.draw(st.integers(1, len(w.inflight[c]))))
        else:
            w.do(c, what)
        w.collect()
        w.maybe_close()
    # settle: deliver everything in random chunks, close what asks to be closed
    for _ in range(10_000):
        w.collect()
        w.maybe_close()
        busy = [c for c in (w.r, w.a) if w.inflight[c] and not w.closed]
        if not busy:
            break
        c = data.draw(st.sampled_from(busy))
        w.deliver(c, data.draw(st.integers(1, len(w.inflight[c]))))
    w.collect()
    pair = (int(w.r.state), int(w.a.state))
    hypothesis.event(f"end {pair}, {len(w.got[w.a]) + len(w.got[w.r])} messages")
    assert pair in SETTLED, pair
    for c in (w.r, w.a):
        theirs = w.sent[w.other(c)]
        assert w.got[c] == theirs[: len(w.got[c])]
        if not w.aborted:
            assert w.got[c] == theirs


@settings(max_examples=300, deadline=None)
@given(
    state=st.integers(1, 13),
    blobs=st.lists(st.binary(max_size=64), max_size=6),
    prefix=st.sampled_from([b"", b"\x04\x00", b"\x01\x00\x00\x00\x00\x10", b"\x07"]),
)
def test_arbitrary_bytes_never_raise(state, blobs, prefix) -> None:
    conn, _, _ = drive(state)
    conn.data_to_send()
    conn.events()
    for blob in [prefix, *blobs, b""]:
        conn.receive_data(blob)
    conn.data_to_send()
    conn.events()
    assert conn.state in (State.STA1, State.STA13) or conn.state == state
