"""Data set sinks: a sink that fails does not break the association, and a data set left
unfinished by an abort has its sink aborted."""

from __future__ import annotations

import io

from test_connection_helpers import associate, command, pump, wire_pdus

from dicomul.ul.events import AbortIndication, AbortRequest, DataIndication, DataRequest


class FailingSink(io.BytesIO):
    def __init__(self, fail_after: int) -> None:
        super().__init__()
        self.fail_after = fail_after
        self.aborted = False

    def write(self, b: object) -> int:
        if self.tell() >= self.fail_after:
            raise OSError(28, "No space left on device")
        return super().write(b)  # type: ignore[arg-type]

    def abort(self) -> None:
        self.aborted = True


def test_sink_error_is_reported_with_the_message_and_the_association_survives() -> None:
    sinks: list[FailingSink] = []

    def sink(context_id: int, cmd: bytes) -> FailingSink:
        sinks.append(FailingSink(fail_after=1000))
        return sinks[-1]

    r, a = associate(dataset_sink=sink)
    data = bytes(range(256)) * 64  # 16 KiB: several fragments at 16384
    r.send(DataRequest(1, command(True), data))
    pump(r, a)
    (ev,) = a.events()
    assert isinstance(ev, DataIndication) and ev.dataset is sinks[0]
    assert isinstance(ev.error, OSError) and sinks[0].aborted
    # the association is still usable: the next message arrives whole
    r.send(DataRequest(1, command(True), b"ok" * 10))
    pump(r, a)
    (ev2,) = a.events()
    assert ev2.error is None and sinks[1].getvalue() == b"ok" * 10
    assert a.is_established and r.is_established


def test_sink_factory_error_is_reported_too() -> None:
    def sink(context_id: int, cmd: bytes) -> object:
        raise PermissionError("read-only output directory")

    r, a = associate(dataset_sink=sink)
    r.send(DataRequest(1, command(True), b"xy" * 100))
    pump(r, a)
    (ev,) = a.events()
    assert isinstance(ev.error, PermissionError) and ev.dataset == b""
    assert a.is_established


def test_abort_mid_dataset_aborts_the_sink() -> None:
    sinks: list[FailingSink] = []

    def sink(context_id: int, cmd: bytes) -> FailingSink:
        sinks.append(FailingSink(fail_after=1 << 30))
        return sinks[-1]

    r, a = associate(dataset_sink=sink)
    r.send(DataRequest(1, command(True), bytes(100_000)))
    wire = b"".join(bytes(b) for b in r.data_to_send())
    pdus = [raw for _t, raw in wire_pdus(wire)]
    a.receive_data(b"".join(pdus[: len(pdus) // 2]))  # half the data set, whole PDUs
    assert sinks and not sinks[0].aborted
    r.send(AbortRequest())
    a.receive_data(b"".join(bytes(b) for b in r.data_to_send())[-10:])  # the A-ABORT
    assert any(isinstance(e, AbortIndication) for e in a.events())
    assert sinks[0].aborted
