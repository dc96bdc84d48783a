"""dicomul.aio: the asyncio requestor and acceptor against each other and against the
blocking API, over 127.0.0.1 with port 0: every service, pending responses, cancel, the
asynchronous operations window performed, limits and rejects, async and plain handlers.
Every wait is bounded (asyncio.wait_for); nothing sleeps to synchronise."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pydicom
import pytest
from pydicom.dataset import Dataset

from dicomul import AssociationAborted, AssociationRejected, aio
from dicomul.aio import protocol
from dicomul.dimse.sop import model_uid
from dicomul.errors import ContextNotAccepted
from dicomul.storage.contexts import contexts_for_files, storage_contexts, verification_contexts
from dicomul.storage.part10 import StorageError, read_part10
from dicomul.sync import Server as SyncServer

pytestmark = pytest.mark.timeout(60)

T = 10.0
DATA = Path(pydicom.__file__).parent / "data" / "test_files"
CT = str(DATA / "CT_small.dcm")
MR = str(DATA / "MR_small.dcm")
CT_CLASS = "1.2.840.10008.5.1.4.1.1.2"


def run(scenario: Callable[[], Awaitable[Any]], timeout: float = 30.0) -> Any:
    async def bounded() -> Any:
        return await asyncio.wait_for(scenario(), timeout)

    return asyncio.run(bounded())


async def until(condition: Callable[[], bool], timeout: float = T) -> None:
    """Wait (bounded) for the server side to catch up with what the client saw."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not condition():
        assert loop.time() < end, "timed out"
        await asyncio.sleep(0.01)


async def serve(**kw: Any) -> tuple[aio.Server, int]:
    kw.setdefault("acse_timeout", T)
    srv = aio.Server("SCP", **kw)
    return srv, await srv.start("127.0.0.1", 0)


async def connect(port: int, **kw: Any) -> aio.Association:
    for k in ("dimse_timeout", "acse_timeout", "connect_timeout"):
        kw.setdefault(k, T)
    kw.setdefault("called_ae", "SCP")
    return await aio.connect("127.0.0.1", port, **kw)


def test_echo_and_store_into_files(tmp_path: Path) -> None:
    async def scenario() -> None:
        srv, port = await serve(store_dir=tmp_path, accept_all_storage=True)
        contexts = verification_contexts() + contexts_for_files([CT, MR])
        async with await connect(port, contexts=contexts) as a:
            assert a.is_established
            assert await a.echo() == 0
            assert await a.store(CT) == 0
            assert await a.store(read_part10(MR)) == 0
        await until(lambda: srv.associations == 0 and srv.connections == 0)
        await srv.close()

    run(scenario)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert len(names) == 2 and not any(n.endswith(".part") for n in names)
    stored = pydicom.dcmread(tmp_path / names[0])
    assert stored.SOPInstanceUID in {pydicom.dcmread(CT).SOPInstanceUID,
                                     pydicom.dcmread(MR).SOPInstanceUID}  # fmt: skip
    assert (tmp_path / f"{pydicom.dcmread(CT).SOPInstanceUID}.dcm").read_bytes()[132:] != b""


def test_store_handler_async_and_plain(tmp_path: Path) -> None:
    seen: list[tuple[str, str]] = []

    async def on_store_async(meta: Any, data: Any, info: Any) -> int:
        seen.append(("async", meta.sop_instance_uid))
        return 0xB000

    def on_store_plain(meta: Any, data: Any, info: Any) -> int:
        assert isinstance(data, bytes) and info.calling_ae == "DICOMUL"
        seen.append(("plain", meta.sop_instance_uid))
        return 0

    async def scenario() -> list[int]:
        out = []
        for handler in (on_store_async, on_store_plain):
            srv, port = await serve(on_store=handler)
            async with await connect(port, contexts=contexts_for_files([CT])) as a:
                out.append(await a.store(CT))
            await srv.close()
        return out

    assert run(scenario) == [0xB000, 0]
    uid = pydicom.dcmread(CT).SOPInstanceUID
    assert seen == [("async", uid), ("plain", uid)]


def test_find_pending_matches_and_cancel_by_leaving_the_loop() -> None:
    cancelled = asyncio.Event()

    async def on_find(identifier: Dataset, sop_class: str):  # type: ignore[no-untyped-def]
        for i in range(100):
            match = Dataset()
            match.PatientID = f"P{i}"
            yield 0xFF00, match
            await asyncio.sleep(0)  # let the C-CANCEL in
        cancelled.set()
        yield 0x0000, None

    async def scenario() -> tuple[list[str], int]:
        srv, port = await serve(on_find=on_find)
        query = Dataset()
        query.QueryRetrieveLevel = "PATIENT"
        query.PatientID = "*"
        contexts = [(model_uid("patient", "find"), ["1.2.840.10008.1.2"])]
        async with await connect(port, contexts=contexts) as a:
            ids = []
            async for status, match in a.find(query, "patient"):
                assert status == 0xFF00
                ids.append(match.PatientID)
                if len(ids) == 3:
                    break  # leaving the loop cancels the query
            everything = [s async for s, _ in a.find(query, "patient")]
        await srv.close()
        return ids, everything[-1]

    ids, final = run(scenario)
    assert ids == ["P0", "P1", "P2"]
    assert final == 0x0000


def test_get_sends_sub_operations_back(tmp_path: Path) -> None:
    def on_get(identifier: Dataset) -> list[str]:
        return [CT, MR]

    async def scenario() -> list[Any]:
        srv, port = await serve(on_get=on_get)
        contexts = [(model_uid("study", "get"), ["1.2.840.10008.1.2"])]
        contexts += storage_contexts(["1.2.840.10008.5.1.4.1.1.2", "1.2.840.10008.5.1.4.1.1.4"])
        query = Dataset()
        query.QueryRetrieveLevel = "STUDY"
        async with await connect(port, contexts=contexts) as a:
            rsps = [rsp async for _s, rsp in a.get(query, output_dir=tmp_path)]
        await srv.close()
        return rsps

    rsps = run(scenario)
    final = rsps[-1]
    assert final.status == 0 and final.completed_suboperations == 2
    # a pending response after each sub-operation but the last, then the final one
    assert [r.remaining_suboperations for r in rsps[:-1]] == [1]
    assert len(list(tmp_path.glob("*.dcm"))) == 2


_OPENS: list[tuple[str, int]] = []  # (path, thread) of files opened, while recording
_RECORDING: list[bool] = []


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if _RECORDING and event == "open" and isinstance(args[0], str):
        _OPENS.append((args[0], threading.get_ident()))


def test_files_sent_are_read_off_the_loop(tmp_path: Path) -> None:
    """The server's C-GET sub-operations and the requestor's C-STORE open (and read) their
    files in worker threads: the loop, which serves every association, never waits for a
    disk."""
    import sys

    sys.addaudithook(_audit)  # (cannot be removed: it records only while asked to)
    served = str(tmp_path / "served.dcm")
    sent = str(tmp_path / "sent.dcm")
    Path(served).write_bytes(Path(CT).read_bytes())
    Path(sent).write_bytes(Path(MR).read_bytes())

    async def scenario() -> tuple[int, int]:
        loop_thread = threading.get_ident()
        dest = tmp_path / "in"
        srv, port = await serve(on_get=lambda identifier: [served], store_dir=dest,
                                accept_all_storage=True)  # fmt: skip
        contexts = [(model_uid("study", "get"), ["1.2.840.10008.1.2"])]
        contexts += storage_contexts(["1.2.840.10008.5.1.4.1.1.2", "1.2.840.10008.5.1.4.1.1.4"])
        query = Dataset()
        query.QueryRetrieveLevel = "STUDY"
        _RECORDING.append(True)
        try:
            async with await connect(port, contexts=contexts) as a:
                rsps = [rsp async for _s, rsp in a.get(query, output_dir=tmp_path / "got")]
                status = await a.store(sent)
        finally:
            _RECORDING.clear()
        await srv.close()
        assert rsps[-1].completed_suboperations == 1
        return status, loop_thread

    status, loop_thread = run(scenario)
    assert status == 0
    opened = {(p, t == loop_thread) for p, t in _OPENS if p in (served, sent)}
    assert {p for p, _ in opened} == {served, sent}
    assert not [p for p, on_loop in opened if on_loop], "a file was opened on the loop"


def test_move_to_a_destination(tmp_path: Path) -> None:
    async def scenario() -> Any:
        dest, dest_port = await serve(store_dir=tmp_path, accept_all_storage=True)
        srv, port = await serve(on_move=lambda ident, ae: [CT],
                                move_destinations={"DEST": ("127.0.0.1", dest_port)})  # fmt: skip
        query = Dataset()
        query.QueryRetrieveLevel = "STUDY"
        contexts = [(model_uid("study", "move"), ["1.2.840.10008.1.2"])]
        async with await connect(port, contexts=contexts) as a:
            rsps = [rsp async for _s, rsp in a.move(query, "DEST")]
            unknown = [rsp async for _s, rsp in a.move(query, "NOWHERE")]
        await srv.close()
        await dest.close()
        return rsps[-1], unknown[-1]

    final, unknown = run(scenario)
    assert final.status == 0 and final.completed_suboperations == 1
    assert unknown.status == 0xA801
    assert len(list(tmp_path.glob("*.dcm"))) == 1


@pytest.mark.parametrize("window", [1, 4, 0], ids=["window 1", "window 4", "unlimited"])
def test_concurrent_operations_share_one_association(window: int) -> None:
    peak = 0
    running = 0
    gate = asyncio.Event()

    async def on_echo() -> int:
        nonlocal peak, running
        running += 1
        peak = max(peak, running)
        if running >= (window or 8):  # all the window lets in are running at once
            gate.set()
        await gate.wait()
        running -= 1
        return 0

    async def scenario() -> list[int]:
        srv, port = await serve(on_echo=on_echo, async_operations=(window, window))
        async with await connect(port, async_operations=(window, window)) as a:
            statuses = await asyncio.gather(*(a.echo() for _ in range(8)))
        await srv.close()
        return statuses

    assert run(scenario) == [0] * 8
    assert peak == (window or 8)


def test_the_asyncio_requestor_talks_to_the_blocking_server(tmp_path: Path) -> None:
    srv = SyncServer("SCP", store_dir=tmp_path, accept_all_storage=True)
    port = srv.start("127.0.0.1", 0)
    try:

        async def scenario() -> list[int]:
            contexts = verification_contexts() + contexts_for_files([CT])
            async with await connect(port, contexts=contexts) as a:
                return [await a.echo(), await a.store(CT)]

        assert run(scenario) == [0, 0]
    finally:
        srv.stop(timeout=T)
    assert len(list(tmp_path.glob("*.dcm"))) == 1


def test_the_blocking_requestor_talks_to_the_asyncio_server(tmp_path: Path) -> None:
    from dicomul.sync import Association

    async def scenario() -> list[int]:
        srv, port = await serve(store_dir=tmp_path, accept_all_storage=True)

        def client() -> list[int]:
            contexts = verification_contexts() + contexts_for_files([CT])
            with Association.connect("127.0.0.1", port, called_ae="SCP", contexts=contexts,
                                     dimse_timeout=T, acse_timeout=T) as a:  # fmt: skip
                return [a.echo(), a.store(CT)]

        out = await asyncio.get_running_loop().run_in_executor(None, client)
        await srv.close()
        return out

    assert run(scenario) == [0, 0]


# ---- errors and limits ----------------------------------------------------------------


def test_rejects_say_why() -> None:
    async def scenario() -> None:
        srv, port = await serve(allowed_calling=["GOOD"])
        with pytest.raises(AssociationRejected, match="calling AE title not recognized"):
            await connect(port, calling_ae="BAD")
        srv2, port2 = await serve(max_associations=1)
        first = await connect(port2)
        with pytest.raises(AssociationRejected, match="local limit exceeded") as info:
            await connect(port2)
        assert (info.value.result, info.value.source, info.value.reason) == (2, 3, 2)
        await first.release()
        again = await connect(port2)  # the slot is free again
        await again.release()
        await srv.close()
        await srv2.close()

    run(scenario)


def test_per_calling_ae_limit() -> None:
    async def scenario() -> None:
        srv, port = await serve(max_per_calling_ae=1)
        a = await connect(port, calling_ae="ONE")
        with pytest.raises(AssociationRejected):
            await connect(port, calling_ae="ONE")
        b = await connect(port, calling_ae="TWO")  # another AE is not held up
        await a.release()
        await b.release()
        await srv.close()

    run(scenario)


def test_accept_policy_sees_the_peer() -> None:
    seen: list[Any] = []

    async def accept(info: Any) -> bool:
        seen.append((info.calling_ae, info.called_ae, info.peer_address[0]))
        return info.calling_ae != "NOPE"

    async def scenario() -> None:
        srv, port = await serve(accept=accept)
        ok = await connect(port, calling_ae="YES")
        await ok.release()
        with pytest.raises(AssociationRejected):
            await connect(port, calling_ae="NOPE")
        await srv.close()

    run(scenario)
    assert seen == [("YES", "SCP", "127.0.0.1"), ("NOPE", "SCP", "127.0.0.1")]


def test_storage_that_cannot_be_prepared_is_a_reject_not_silence(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")

    async def scenario() -> None:
        srv, port = await serve(store_dir=blocker / "sub", accept_all_storage=True)
        with pytest.raises(AssociationRejected, match="transiently"):
            await connect(port, contexts=verification_contexts())
        await srv.close()

    run(scenario)


def test_no_context_for_a_service_and_no_context_for_a_file() -> None:
    async def scenario() -> None:
        srv, port = await serve()
        async with await connect(port) as a:
            with pytest.raises(ContextNotAccepted):
                [x async for x in a.find(Dataset(), "study")]
            with pytest.raises(StorageError, match="no accepted presentation context"):
                await a.store(CT)
            assert await a.echo() == 0  # the association is still fine
        await srv.close()

    run(scenario)


def test_the_server_closing_fails_what_waits() -> None:
    async def on_echo() -> int:
        await asyncio.sleep(3600)
        return 0

    async def scenario() -> None:
        srv, port = await serve(on_echo=on_echo)
        a = await connect(port)
        pending = asyncio.ensure_future(a.echo())
        await asyncio.sleep(0.05)
        await srv.close()
        with pytest.raises(AssociationAborted):
            await pending
        with pytest.raises(AssociationAborted):
            await a.echo()

    run(scenario)


def test_dimse_timeout_aborts() -> None:
    async def on_echo() -> int:
        await asyncio.sleep(3600)
        return 0

    async def scenario() -> None:
        srv, port = await serve(on_echo=on_echo)
        a = await connect(port, dimse_timeout=0.2)
        with pytest.raises(TimeoutError, match="no DIMSE response"):
            await a.echo()
        assert not a.is_established
        await srv.close()

    run(scenario)


def test_dimse_timeout_is_per_operation() -> None:
    """One timer serves every operation's dimse_timeout: echoes answered 0.1 s after
    each request, for longer in all than the timeout, never time out; the first one
    left unanswered does, after the timer has moved on from the answered ones."""
    answered = [0]

    async def on_echo() -> int:
        answered[0] += 1
        await asyncio.sleep(0.1 if answered[0] <= 6 else 3600)
        return 0

    async def scenario() -> None:
        srv, port = await serve(on_echo=on_echo)
        a = await connect(port, dimse_timeout=0.25)
        assert [await a.echo() for _ in range(6)] == [0] * 6  # 0.6 s > 0.25 s
        with pytest.raises(TimeoutError, match="no DIMSE response"):
            await a.echo()
        assert not a.is_established
        await srv.close()

    run(scenario)


def test_dimse_timeout_of_an_operation_begun_while_the_timer_waits() -> None:
    """Two operations at once (window 4): the first is answered, the second, begun while
    the timer waits for the first one's deadline, never is: it still times out (the
    timer moves on to its deadline), within a bound far below the test's own."""
    calls = [0]

    async def on_echo() -> int:
        calls[0] += 1
        await asyncio.sleep(0.05 if calls[0] == 1 else 3600)
        return 0

    async def scenario() -> None:
        srv, port = await serve(on_echo=on_echo)
        a = await connect(port, dimse_timeout=0.3, async_operations=(4, 4))
        first = asyncio.ensure_future(a.echo())  # answered at 0.05 s
        await asyncio.sleep(0.1)
        second = asyncio.ensure_future(a.echo())  # due at 0.4 s
        assert await first == 0
        with pytest.raises(TimeoutError, match="no DIMSE response"):
            await asyncio.wait_for(second, 5.0)  # (wait_for's own would not match)
        await srv.close()

    run(scenario)


def test_idle_associations_are_aborted() -> None:
    async def scenario() -> None:
        srv, port = await serve(idle_timeout=0.2)
        a = await connect(port)
        for _ in range(100):  # bounded: the server aborts within its idle timeout
            if not a.is_established:
                break
            await asyncio.sleep(0.05)
        assert not a.is_established and srv.associations == 0
        with pytest.raises(AssociationAborted):
            await a.echo()
        await srv.close()

    run(scenario)


def test_connection_refused_says_so() -> None:
    async def scenario() -> None:
        srv, port = await serve()
        await srv.close()
        with pytest.raises(ConnectionRefusedError, match="refused"):
            await connect(port)

    run(scenario)


@pytest.mark.skipif(not os.path.exists("/proc/self/fd"), reason="needs /proc")
def test_ipv6_loopback() -> None:
    import socket

    if not socket.has_ipv6:
        pytest.skip("no IPv6")

    async def scenario() -> int:
        srv = aio.Server("SCP")
        try:
            port = await srv.start("::1", 0)
        except OSError:
            pytest.skip("::1 cannot be bound here")
        async with await aio.connect("::1", port, called_ae="SCP", acse_timeout=T) as a:
            status = await a.echo()
        await srv.close()
        return status

    assert run(scenario) == 0


async def _find_that_never_reads(port: int, dimse_timeout: float) -> tuple[Any, Any, Any]:
    """An association whose requestor sends a C-FIND, then never reads again: (the
    association, the find's iterator, the task waiting for its first response)."""
    contexts = [(model_uid("patient", "find"), ["1.2.840.10008.1.2"])]
    stuck = await connect(port, contexts=contexts, dimse_timeout=dimse_timeout)
    sock = stuck.protocol.transport.get_extra_info("socket")  # type: ignore[union-attr]
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stuck.protocol.transport.pause_reading()  # type: ignore[union-attr]  # never reads
    query = Dataset()
    query.QueryRetrieveLevel = "PATIENT"
    a_find = stuck.find(query, "patient")
    return stuck, a_find, asyncio.ensure_future(a_find.__anext__())


def test_a_requestor_that_never_reads_stalls_only_itself() -> None:
    """A C-FIND with 100,000 matches of 4 KiB to a requestor that stops reading: the
    server stops producing once the socket is full (its buffer stays bounded), and
    another association is served meanwhile."""

    produced = 0

    def on_find(identifier: Dataset, sop_class: str):  # type: ignore[no-untyped-def]
        nonlocal produced
        for _ in range(100_000):
            match = Dataset()
            match.PatientID = "P"
            match.PatientComments = "x" * 4096
            produced += 1
            yield 0xFF00, match
        yield 0x0000, None

    async def scenario() -> tuple[int, int, int]:
        srv, port = await serve(on_find=on_find)
        stuck, a_find, task = await _find_that_never_reads(port, dimse_timeout=T)
        loop = asyncio.get_running_loop()
        end = loop.time() + T
        last = -1
        while produced != last and loop.time() < end:  # until the server stops producing
            last = produced
            await asyncio.sleep(0.2)
        other = await connect(port)
        status = await other.echo()  # served while the first association is stuck
        await other.release()
        buffered = max((p.protocol.transport.get_write_buffer_size()  # type: ignore[union-attr]
                        for p in srv._associated), default=0)  # noqa: SLF001  # fmt: skip
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await a_find.aclose()
        stuck.abort()
        await srv.close()
        return status, produced, buffered

    status, produced_then, buffered = run(scenario)
    assert status == 0
    assert produced_then < 1000, "the server kept producing for a requestor that does not read"
    assert buffered < 4 * 1024 * 1024


def test_a_long_operation_is_not_idle_and_costs_no_busy_loop(monkeypatch: Any) -> None:
    """A C-FIND handler that takes 1 s on an association with a 0.2 s idle timeout: the
    association survives (it is busy for the peer), and the idle check looks again at
    the timeout's pace, not on every turn of the loop."""
    import threading

    from dicomul.aio import server as server_mod

    checks = []
    real = server_mod._Peer._check_idle  # noqa: SLF001 - counting a private timer
    monkeypatch.setattr(server_mod._Peer, "_check_idle",
                        lambda self: (checks.append(1), real(self))[1])  # fmt: skip

    def on_find(identifier: Dataset, sop_class: str):  # type: ignore[no-untyped-def]
        threading.Event().wait(1.0)  # ok-sleep: a slow archive query
        match = Dataset()
        match.PatientID = "P"
        yield 0xFF00, match
        yield 0x0000, None

    async def scenario() -> list[int]:
        srv, port = await serve(on_find=on_find, idle_timeout=0.2)
        contexts = [(model_uid("patient", "find"), ["1.2.840.10008.1.2"])]
        assoc = await connect(port, contexts=contexts)
        query = Dataset()
        query.QueryRetrieveLevel = "PATIENT"
        statuses = [status async for status, _ in assoc.find(query, "patient")]
        await assoc.release()
        await srv.close()
        return statuses

    assert run(scenario) == [0xFF00, 0x0000]
    assert len(checks) < 20, f"the idle check ran {len(checks)} times in about a second"


def test_an_association_whose_peer_never_reads_is_dropped_after_its_abort() -> None:
    """The idle timeout aborts an association whose requestor stopped reading while the
    server was sending: the A-ABORT cannot be written (the transport is paused), so
    after ARTIM's time the server drops the connection instead of holding it for ever."""

    def on_find(identifier: Dataset, sop_class: str):  # type: ignore[no-untyped-def]
        for _ in range(100_000):
            match = Dataset()
            match.PatientID = "P"
            match.PatientComments = "x" * 4096
            yield 0xFF00, match
        yield 0x0000, None

    async def scenario() -> tuple[int, int]:
        srv, port = await serve(on_find=on_find, idle_timeout=0.3, acse_timeout=0.3)
        stuck, a_find, task = await _find_that_never_reads(port, dimse_timeout=60)  # (waits)
        loop = asyncio.get_running_loop()
        start = loop.time()
        while srv.associations == 0 and loop.time() < start + T:
            await asyncio.sleep(0.01)  # ok-sleep: until the server has the association
        seen = srv.connections
        end = loop.time() + 5  # (the requestor's own timeouts are all longer)
        while srv.connections and loop.time() < end:
            await asyncio.sleep(0.05)  # ok-sleep: bounded wait for the server to drop it
        left = srv.connections
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
        stuck.abort()
        await srv.close()
        return seen, left

    seen, left = run(scenario)
    assert seen == 1
    assert left == 0, "the server holds a connection whose peer never reads"


# ---- negotiation the acceptor decides -------------------------------------------------


@pytest.mark.parametrize(
    ("identity", "answer", "expect"),
    [
        ((1, "alice", b"", True), True, b""),  # username
        ((2, "alice", "secret", True), True, b""),  # username and passcode
        ((3, b"kerberos-ticket", b"", True), b"server-ticket", b"server-ticket"),
        ((4, b"<saml/>", b"", True), b"<saml-ok/>", b"<saml-ok/>"),
        ((5, b"jwt.token.here", b"", True), b"jwt.reply", b"jwt.reply"),
        ((1, "alice", b"", False), True, None),  # no positive response asked for: none
    ],
    ids=["username", "passcode", "kerberos", "saml", "jwt", "no response asked"],
)
def test_user_identity_hook(identity: tuple[Any, ...], answer: Any, expect: Any) -> None:
    seen: list[Any] = []

    async def on_user_identity(ident: Any, info: Any) -> Any:
        seen.append((ident.identity_type, ident.primary, info.calling_ae))
        return answer

    async def scenario() -> Any:
        srv, port = await serve(on_user_identity=on_user_identity)
        async with await connect(port, user_identity=identity) as a:
            assert await a.echo() == 0
            response = a.user_identity_response
        await srv.close()
        return response

    assert run(scenario) == expect
    primary = identity[1].encode() if isinstance(identity[1], str) else identity[1]
    assert seen == [(identity[0], primary, "DICOMUL")]


def test_user_identity_refused_is_a_permanent_reject() -> None:
    async def scenario() -> None:
        srv, port = await serve(on_user_identity=lambda ident, info: ident.secondary == b"ok")
        ok = await connect(port, user_identity=(2, "bob", "ok", True))
        await ok.release()
        with pytest.raises(AssociationRejected, match="permanently") as info:
            await connect(port, user_identity=(2, "bob", "wrong", True))
        assert (info.value.result, info.value.source, info.value.reason) == (1, 1, 1)
        await srv.close()

    run(scenario)


def test_sop_class_extended_and_common_extended_negotiation() -> None:
    commons: list[Any] = []

    def accept(info: Any) -> bool:
        commons.extend(info.request.common_extended)
        return True

    async def scenario() -> Any:
        srv, port = await serve(
            accept=accept,
            accept_all_storage=True,
            ignore=True,
            on_extended=lambda uid, data: b"\x01" if uid == CT_CLASS else None,
        )
        contexts = contexts_for_files([CT])
        async with await connect(
            port,
            contexts=contexts,
            sop_class_extended={CT_CLASS: b"\x01\x01"},
            common_extended=[(CT_CLASS, "1.2.840.10008.4.2", ["1.2.840.10008.5.1.4.1.1.2.1"])],
        ) as a:
            answered = a.accept.extended_negotiations
            assert await a.store(CT) == 0
        await srv.close()
        return answered

    assert run(scenario) == {CT_CLASS: b"\x01"}
    assert [(c.sop_class_uid, c.service_class_uid) for c in commons] == [
        (CT_CLASS, "1.2.840.10008.4.2")
    ]


def test_the_window_is_negotiated_down_to_the_servers() -> None:
    async def scenario() -> tuple[Any, int, int]:
        srv, port = await serve(async_operations=(4, 2))
        async with await connect(port, async_operations=(8, 8)) as a:
            return a.accept.async_operations, a.session.invoke_window, a.session.perform_window

    assert run(scenario) == ((4, 2), 4, 2)


def test_get_reports_failed_sub_operations(tmp_path: Path) -> None:
    """One of two objects has no context (its SOP class was not proposed): final 0xB000
    with its UID in the Failed SOP Instance UID List; when every one fails, 0xA702."""
    mr_uid = pydicom.dcmread(MR).SOPInstanceUID

    async def scenario(objs: list[str]) -> Any:
        srv, port = await serve(on_get=lambda identifier: objs)
        contexts = [(model_uid("study", "get"), ["1.2.840.10008.1.2"])]
        contexts += storage_contexts([CT_CLASS])  # CT only: the MR sub-operation fails
        query = Dataset()
        query.QueryRetrieveLevel = "STUDY"
        async with await connect(port, contexts=contexts) as a:
            final = None
            async for _status, rsp in a.get(query, output_dir=tmp_path):
                final = rsp
        await srv.close()
        return final, None

    final, _ = run(lambda: scenario([CT, MR]))
    assert final.status == 0xB000
    assert (final.completed_suboperations, final.failed_suboperations) == (1, 1)
    final, _ = run(lambda: scenario([MR]))
    assert final.status == 0xA702 and final.failed_suboperations == 1
    assert mr_uid


def test_cancel_during_get_reports_what_remains(tmp_path: Path) -> None:
    async def scenario() -> Any:
        srv, port = await serve(on_get=lambda identifier: [CT] * 20)
        contexts = [(model_uid("study", "get"), ["1.2.840.10008.1.2"])]
        contexts += storage_contexts([CT_CLASS]) + verification_contexts()
        query = Dataset()
        query.QueryRetrieveLevel = "STUDY"
        async with await connect(port, contexts=contexts) as a:
            rsps = []
            async with contextlib.aclosing(a.get(query, output_dir=tmp_path)) as get:
                async for _status, rsp in get:
                    rsps.append(rsp)
                    if len(rsps) == 2:
                        break  # closing the generator sends C-CANCEL-RQ
            assert await a.echo() == 0  # the association goes on
        await srv.close()
        return rsps

    rsps = run(scenario)
    assert [r.status for r in rsps] == [0xFF00, 0xFF00]


async def _served_while_stuck(
    a: Any, b: Any, obj: str, gate: threading.Event
) -> tuple[int, bool, int]:
    """Store ``obj`` through ``a`` while its write is stuck on ``gate``, C-ECHO through
    ``b`` meanwhile, then open the gate: (echo status, whether the store was answered
    before the disk moved, store status)."""
    store = asyncio.ensure_future(a.store(obj))
    await asyncio.sleep(0.1)  # let the data set arrive and its write get stuck
    echo = await b.echo()  # the loop is free: served at once
    answered_before_disk = store.done()
    gate.set()
    return echo, answered_before_disk, await store


def test_a_slow_disk_stalls_no_other_association(tmp_path: Path, monkeypatch: Any) -> None:
    """With write_on_loop=False, writes of received data sets run off the loop: while the
    disk is stuck (here, every write of one association's file waits on a gate), another
    association is served; once the disk moves, the stored file is complete and only then
    is the C-STORE answered. (With the default, see the next test.)"""
    import threading

    from dicomul.storage import writer as writer_module

    gate = threading.Event()
    real_write, real_store = writer_module.Part10Writer.write, writer_module.store_file

    def stuck_write(self: Any, data: Any) -> Any:
        assert gate.wait(T), "the gate was never opened"
        return real_write(self, data)

    def stuck_store(*args: Any) -> Any:  # (a small data set: one compiled call)
        assert gate.wait(T), "the gate was never opened"
        return real_store(*args)

    monkeypatch.setattr(writer_module.Part10Writer, "write", stuck_write)
    monkeypatch.setattr(writer_module, "store_file", stuck_store)

    async def scenario() -> tuple[int, bool, int]:
        srv, port = await serve(store_dir=tmp_path, accept_all_storage=True, write_on_loop=False)
        a = await connect(port, contexts=contexts_for_files([CT]))
        b = await connect(port)
        echo, answered_before_disk, status = await _served_while_stuck(a, b, CT, gate)
        await a.release()
        await b.release()
        await srv.close()
        return echo, answered_before_disk, status

    echo, early, status = run(scenario)
    assert (echo, early, status) == (0, False, 0)
    stored = tmp_path / f"{pydicom.dcmread(CT).SOPInstanceUID}.dcm"
    assert pydicom.dcmread(stored).PixelData == pydicom.dcmread(CT).PixelData


def test_small_writes_go_on_the_loop_until_one_is_slow(tmp_path: Path, monkeypatch: Any) -> None:
    """By default a small data set is written on the loop (no hand-off to a thread). One
    write that takes longer than 10 ms (a slow disk) sends the next ones to the pool: while
    such a write is stuck, another association is served, and the stored files are whole."""
    from dicomul.storage import writer as writer_module

    gate = threading.Event()
    real_store = writer_module.store_file
    threads: list[str] = []

    def slow_then_stuck(*args: Any) -> Any:  # (a small data set: one compiled call)
        threads.append(threading.current_thread().name)
        if len(threads) == 1:
            threading.Event().wait(0.05)  # slow: 50 ms
        else:
            assert gate.wait(T), "the gate was never opened"
        return real_store(*args)

    monkeypatch.setattr(writer_module, "store_file", slow_then_stuck)

    async def scenario() -> tuple[int, int, bool, int, str]:
        srv, port = await serve(store_dir=tmp_path, accept_all_storage=True)
        a = await connect(port, contexts=contexts_for_files([CT, MR]))
        b = await connect(port)
        first = await a.store(CT)  # the first write: on the loop, and slow
        echo, answered_before_disk, status = await _served_while_stuck(a, b, MR, gate)  # (pool)
        await a.release()
        await b.release()
        await srv.close()
        return first, echo, answered_before_disk, status, threading.current_thread().name

    first, echo, early, status, loop_thread = run(scenario)
    assert (first, echo, early, status) == (0, 0, False, 0)
    assert threads[0] == loop_thread and threads[1].startswith("dicomul")
    for path in (CT, MR):
        stored = tmp_path / f"{pydicom.dcmread(path).SOPInstanceUID}.dcm"
        assert pydicom.dcmread(stored).PixelData == pydicom.dcmread(path).PixelData


def test_quick_writes_pause_after_a_slow_one() -> None:
    """The rule itself (aio._offload.QuickWrites), on a clock of our own."""
    from dicomul.aio._offload import QuickWrites

    now = [100.0]
    q = QuickWrites(slow=0.010, pause=30.0, clock=lambda: now[0])
    assert q.now()
    q.took(0.009)
    assert q.now()  # quick enough
    q.took(0.011)
    assert not q.now()  # slow: the pool for 30 s
    now[0] += 29.9
    assert not q.now()
    now[0] += 0.2
    assert q.now()  # then the loop tries again


async def _raw_association(
    port: int, max_pdu: int, calling: str
) -> tuple[Any, asyncio.StreamReader, asyncio.StreamWriter, int]:
    """A requestor made of a bare sans-IO Connection over an asyncio stream, associated
    with the server on ``port`` for CT storage (its bytes written by the test itself):
    ``(connection, reader, writer, context ID)``."""
    from dicomul.dimse.request import build_request
    from dicomul.ul.connection import Connection, Role
    from dicomul.ul.events import AssociateRequest

    conn = Connection(Role.REQUESTOR)
    rq = build_request(calling_ae=calling, called_ae="SCP", max_pdu=max_pdu,
                       contexts=contexts_for_files([CT]))  # fmt: skip
    conn.send(AssociateRequest(rq))
    conn.connection_made()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"".join(bytes(b) for b in conn.data_to_send()))
    while not conn.is_established:
        conn.receive_data(await asyncio.wait_for(reader.read(65536), T))
    return conn, reader, writer, next(iter(conn.accepted_contexts))


def _store_wire(conn: Any, pc_id: int, dataset: bytes, uid: str = "1.2.3.4") -> bytes:
    """The bytes of a C-STORE of ``dataset`` (a CT instance ``uid``) on ``conn``."""
    from dicomul.dimse.messages import CStoreRQ
    from dicomul.ul.events import DataRequest

    command = CStoreRQ(message_id=1, affected_sop_class_uid=CT_CLASS,
                       affected_sop_instance_uid=uid).encode()  # fmt: skip
    conn.send(DataRequest(pc_id, command, dataset))
    return b"".join(bytes(b) for b in conn.data_to_send())


@pytest.mark.parametrize("max_pdu", [16384, 262144])
def test_a_slow_upload_is_not_idle(tmp_path: Path, max_pdu: int) -> None:
    """The idle timeout counts bytes, not messages: a data set arriving slowly over 1 s
    (a chunk every 0.1 s) survives an idle timeout of 0.3 s, and an association that then
    sends nothing is aborted after it. With max_pdu 262144 the data set is one PDU of
    about 38 KiB, whose rest the server waits for with SO_RCVLOWAT: the bytes that came
    meanwhile are still seen as activity before the association is judged idle."""
    from dicomul.dimse.messages import decode_message
    from dicomul.ul.events import DataIndication

    data = pydicom.dcmread(CT)
    raw = Path(CT).read_bytes()
    p10 = read_part10(CT)
    dataset = raw[p10.dataset_offset :]

    async def scenario() -> tuple[int, bool]:
        srv, port = await serve(store_dir=tmp_path, accept_all_storage=True, idle_timeout=0.3,
                                max_pdu=max_pdu)  # fmt: skip
        conn, reader, writer, pc_id = await _raw_association(port, max_pdu, "SLOW")
        loop = asyncio.get_running_loop()
        wire = _store_wire(conn, pc_id, dataset, data.SOPInstanceUID)
        step = len(wire) // 10 + 1
        for i in range(0, len(wire), step):  # 10 chunks, 0.1 s apart: 1 s > 0.3 s idle
            writer.write(wire[i : i + step])
            await writer.drain()
            await asyncio.sleep(0.1)
        status = None
        end = loop.time() + T
        while status is None and loop.time() < end:
            chunk = await asyncio.wait_for(reader.read(65536), T)
            conn.receive_data(chunk)
            for ev in conn.events():
                if isinstance(ev, DataIndication):
                    status = decode_message(ev.command).status
        # now idle: the server aborts within its timeout (the read ends)
        rest = await asyncio.wait_for(reader.read(65536), T)
        conn.receive_data(rest)
        aborted = not conn.is_established
        writer.close()
        await srv.close()
        return status, aborted  # type: ignore[return-value]

    status, aborted = run(scenario)
    assert status == 0 and aborted


@pytest.mark.skipif(not protocol.LOWAT_SAFE, reason="SO_RCVLOWAT is not used on this system")
def test_a_peer_silent_inside_a_large_pdu_is_idle_after_the_timeout() -> None:
    """A peer that stops in the middle of a large PDU (whose rest the server waits for
    with SO_RCVLOWAT) is aborted the idle timeout after its last bytes, plus a short look
    for bytes waiting unread (0.1 s), not a whole timeout or more later."""

    async def scenario() -> float:
        srv, port = await serve(accept_all_storage=True, idle_timeout=1.0, max_pdu=262144)
        conn, reader, writer, pc_id = await _raw_association(port, 262144, "STALL")
        wire = _store_wire(conn, pc_id, b"\0" * 200_000)
        cut = wire.index(b"\x04\x00", 20) + 6 + 1000  # the data PDU's header + 1000 bytes
        writer.write(wire[:cut])  # then nothing
        await writer.drain()
        t0 = asyncio.get_running_loop().time()
        await asyncio.wait_for(reader.read(65536), 10)  # the A-ABORT, or the close
        took = asyncio.get_running_loop().time() - t0
        writer.close()
        await srv.close()
        return took

    took = run(scenario)
    assert 0.8 < took < 1.6  # 1 s after the last bytes (+ 0.1 s); not 2 s or more


@pytest.mark.skipif(not protocol.LOWAT_SAFE, reason="SO_RCVLOWAT is not used on this system")
def test_the_server_waits_for_a_large_pdus_rest_with_so_rcvlowat(tmp_path: Path) -> None:
    """While a large PDU is arriving, the server's socket has SO_RCVLOWAT at the bytes
    still missing of it (at most LOWAT_MAX); once it is whole, 1 again (any byte wakes
    the loop), and the object is stored."""
    import gc

    def server_lowat(client: tuple[Any, ...]) -> list[int]:
        """SO_RCVLOWAT of the server's socket of the connection from ``client``."""
        socks = [p.transport.get_extra_info("socket") for p in gc.get_objects()
                 if isinstance(p, protocol.SessionProtocol) and p.transport is not None
                 and not p.closed and p.peer_address == client]  # fmt: skip
        return [s.getsockopt(socket.SOL_SOCKET, socket.SO_RCVLOWAT) for s in socks]

    async def scenario() -> tuple[list[int], list[int], bytes, int]:
        srv, port = await serve(store_dir=tmp_path, accept_all_storage=True, max_pdu=262144)
        conn, reader, writer, pc_id = await _raw_association(port, 262144, "LOWAT")
        wire = _store_wire(conn, pc_id, b"\0" * 200_000)
        at = wire.index(b"\x04\x00", 20)  # the data set's PDU
        cut = at + 6 + 1000  # its header and 1000 bytes of it
        missing = 6 + int.from_bytes(wire[at + 2 : at + 6], "big") - (cut - at)
        writer.write(wire[:cut])
        await writer.drain()
        await asyncio.sleep(0.2)  # (the server reads what came)
        me = writer.get_extra_info("sockname")
        waiting = server_lowat(me)
        writer.write(wire[cut:])
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(65536), T)  # the C-STORE-RSP
        after = server_lowat(me)
        writer.close()
        await srv.close()
        return waiting, after, answer, missing

    waiting, after, answer, missing = run(scenario)
    assert missing == 200_006 - 1000  # (a PDV of 200,000 bytes: 6 more in the PDU)
    assert waiting == [min(missing, protocol.LOWAT_MAX)]
    assert after == [1]
    assert answer[:1] == b"\x04" and (tmp_path / "1.2.3.4.dcm").exists()


def test_the_asyncio_api_works_on_uvloop(tmp_path: Path) -> None:
    """The same conversation as above on uvloop's event loop, when it is installed."""
    uvloop = pytest.importorskip("uvloop")

    async def scenario() -> list[int]:
        srv, port = await serve(store_dir=tmp_path, accept_all_storage=True, on_find=_two)
        contexts = verification_contexts() + contexts_for_files([CT])
        contexts += [(model_uid("patient", "find"), ["1.2.840.10008.1.2"])]
        async with await connect(port, contexts=contexts, async_operations=(4, 4)) as a:
            out = list(await asyncio.gather(a.echo(), a.store(CT), a.echo()))
            query = Dataset()
            query.QueryRetrieveLevel = "PATIENT"
            out += [s async for s, _ in a.find(query, "patient")]
        await srv.close()
        return out

    assert uvloop.run(asyncio.wait_for(scenario(), 30)) == [0, 0, 0, 0xFF00, 0xFF00, 0]
    assert len(list(tmp_path.glob("*.dcm"))) == 1


def _two(identifier: Dataset, sop_class: str):  # type: ignore[no-untyped-def]
    for i in range(2):
        match = Dataset()
        match.PatientID = f"P{i}"
        yield 0xFF00, match
    yield 0x0000, None
