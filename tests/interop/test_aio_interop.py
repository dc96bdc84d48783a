"""dicomul.aio (the asyncio requestor and Server) against DCMTK 3.6.7 and pynetdicom 3.x,
live over 127.0.0.1, both directions; every test runs one asyncio scenario (``run`` of
tests/test_aio.py: asyncio.run under asyncio.wait_for).

* aio requestor -> storescp (defaults, +xa, +xa +B): echo, store of CT_small and MR_small;
  the files storescp writes hold the data sets sent (less the trailing padding it drops
  when it re-encodes, byte for byte with +B).
* aio requestor -> pynetdicom AE SCP: echo and store (the handler writes what it gets),
  find (two pending matches, then success), get (the sub-operation arrives in the
  requestor's ``output_dir`` by role selection), move (to an aio Server destination).
* echoscu, storescu (two files), findscu (-X), getscu, movescu (to an aio Server
  destination) -> aio Server with handlers.
* pynetdicom AE SCU -> aio Server: echo and store, find, get (SCP role for the storage
  class, an EVT_C_STORE handler), move (to a pynetdicom storage SCP).
* TLS (certificates from tests/certs/make_certs.py, made at run time): aio -> aio Server
  with client certificates required (and a requestor that does not trust the CA fails),
  echoscu/storescu +tls -> aio Server.
* The asynchronous operations window: an aio requestor proposing (8, 8) to pynetdicom (with
  and without an EVT_ASYNC_OPS handler) and to storescp, which answer with 1/1 or without
  the item: the window is 1, and concurrent operations (asyncio.gather) still all work.

Every DCMTK process runs with TCP_NODELAY=1 and is stopped by its PID (conftest
``procs``); every pynetdicom server is shut down and every aio Server closed at the end;
every wait is bounded; nothing sleeps to synchronise.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import ssl
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pydicom
import pytest
from pydicom.dataset import Dataset

pynetdicom = pytest.importorskip("pynetdicom")

from pynetdicom import build_role, evt  # noqa: E402
from pynetdicom.sop_class import (  # noqa: E402
    PatientRootQueryRetrieveInformationModelFind,
    StudyRootQueryRetrieveInformationModelGet,
    StudyRootQueryRetrieveInformationModelMove,
    Verification,
)
from test_aio import run, serve, until  # noqa: E402  (tests/ is on sys.path: tests/conftest.py)

from dicomul import aio  # noqa: E402
from dicomul.storage.contexts import contexts_for_files, verification_contexts  # noqa: E402
from dicomul.storage.part10 import read_part10  # noqa: E402
from dicomul.sync.services import qr_contexts  # noqa: E402

from . import capture_dcmtk as cap  # noqa: E402
from . import test_services_pynetdicom as pyn  # noqa: E402
from .test_services_dcmtk import (  # noqa: E402
    TS,
    _stored,
    dataset_bytes,
    finish,
    strip_trailing_padding,
)
from .test_services_pynetdicom import _ae, _storage_contexts  # noqa: E402

pytestmark = [pytest.mark.interop, pytest.mark.timeout(120)]

T = 10.0
DATA = Path(pydicom.__file__).parent / "data" / "test_files"
CT = DATA / "CT_small.dcm"
MR = DATA / "MR_small.dcm"  # (its SOP Instance UID differs from CT_small's)
FILES = [CT, MR]
UID = {f: str(pydicom.dcmread(f, stop_before_pixels=True).SOPInstanceUID) for f in FILES}
STUDY = {f: str(pydicom.dcmread(f, stop_before_pixels=True).StudyInstanceUID) for f in FILES}
EXPLICIT = "1.2.840.10008.1.2.1"


#: The pynetdicom fixtures of test_services_pynetdicom: an AE SCP on a free port, shut
#: down at the end (``pyscp(ae, handlers) -> port``); an associated AE SCU, aborted at the
#: end if still established (``pyassoc(ae, port, **kw)``).
pyscp = pyn.pyscp
pyassoc = pyn.pyassoc

# ---- helpers ---------------------------------------------------------------------------


async def started(
    stack: contextlib.AsyncExitStack, close_timeout: float = 5.0, **kw: Any
) -> tuple[aio.Server, int]:
    """An aio Server (test_aio.serve: AE "SCP", 127.0.0.1, port 0) closed with ``stack``."""
    kw.setdefault("dimse_timeout", T)
    srv, port = await serve(**kw)
    stack.push_async_callback(srv.close, close_timeout)
    return srv, port


async def connect(port: int, **kw: Any) -> aio.Association:
    for k in ("dimse_timeout", "acse_timeout", "connect_timeout"):
        kw.setdefault(k, T)
    kw.setdefault("called_ae", "SCP")
    return await aio.connect("127.0.0.1", port, **kw)


async def connect_when_up(proc: subprocess.Popen, port: int, **kw: Any) -> aio.Association:
    """aio.connect to a process that may not listen yet: a refused connection is retried
    (paced, bounded by a deadline) while the process is alive."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + T
    while True:
        try:
            return await connect(port, **kw)
        except ConnectionRefusedError:
            if proc.poll() is not None:
                raise RuntimeError(f"exited with {proc.returncode}: {cap._stop(proc)}") from None
            if loop.time() > deadline:
                raise
            await asyncio.sleep(0.05)


def scu(path: str, port: int, options: str, *extra: str) -> list[str]:
    """A DCMTK SCU's command line: its timeouts, ``options`` (literal words, split on
    spaces), ``extra`` (paths, values with spaces...), then 127.0.0.1 ``port``."""
    return [path, *TS, *options.split(), *extra, "127.0.0.1", str(port)]


async def tool(procs: Callable[[list[str]], subprocess.Popen], argv: list[str]) -> str:
    """Run a DCMTK tool to its end (bounded) off the loop, which serves it meanwhile;
    assert it succeeded and return its output."""
    status, output = await asyncio.to_thread(finish, procs(argv))
    assert status == 0, output
    return output


def query(level: str = "STUDY", **keys: str) -> Dataset:
    q = Dataset()
    q.QueryRetrieveLevel = level
    for k, v in keys.items():
        setattr(q, k, v)
    return q


def patient(ds_path: Path, level: str = "PATIENT") -> Dataset:
    """A C-FIND match made of a sample file's patient attributes."""
    src = pydicom.dcmread(ds_path, stop_before_pixels=True)
    m = Dataset()
    m.QueryRetrieveLevel = level
    m.PatientName = src.PatientName
    m.PatientID = src.PatientID
    return m


def assert_same_file(got: Path, src: Path, *, reencoded: bool = False) -> None:
    """``got`` holds ``src``'s data set in its transfer syntax: byte for byte, or, when a
    DCMTK tool re-encoded it, less the trailing padding it drops."""
    g, s = read_part10(got), read_part10(src)
    assert g.meta.transfer_syntax == s.meta.transfer_syntax
    assert (g.meta.sop_class_uid, g.meta.sop_instance_uid) == (s.meta.sop_class_uid, UID[src])
    want = dataset_bytes(src)
    if reencoded:
        want = strip_trailing_padding(want, s.meta.transfer_syntax)
    assert g.read_dataset_bytes() == want, got.name


def _load_make_certs() -> Any:
    path = Path(__file__).resolve().parent.parent / "certs" / "make_certs.py"
    spec = importlib.util.spec_from_file_location("dicomul_test_make_certs", path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


MAKE_CERTS = _load_make_certs()


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    paths = MAKE_CERTS.make_certs(tmp_path_factory.mktemp("certs"))
    if paths is None:
        pytest.skip("neither the cryptography package nor openssl can make test certificates")
    return paths  # type: ignore[no-any-return]


# ---- 1. aio requestor -> storescp --------------------------------------------------------


@pytest.mark.parametrize("options", [[], ["+xa"], ["+xa", "+B"]], ids=["defaults", "+xa", "+xa +B"])
def test_aio_echo_and_store_to_storescp(dcmtk, procs, free_port, tmp_path, options):
    out = tmp_path / "out"
    out.mkdir()
    opts = "-aet STORESCP -ta 10 -td 10".split()
    proc = procs([dcmtk("storescp"), "-od", str(out), *opts, *options, str(free_port)])

    async def scenario() -> tuple[int, list[int], dict[int, tuple[str, str]]]:
        contexts = verification_contexts() + contexts_for_files(FILES)
        a = await connect_when_up(proc, free_port, called_ae="STORESCP", contexts=contexts)
        async with a:
            echo = await a.echo()
            stores = [await a.store(f) for f in FILES]
        assert not a.is_established
        return echo, stores, a.contexts

    echo, stores, accepted = run(scenario)
    assert echo == 0 and stores == [0, 0]
    assert {ts for _, ts in accepted.values()} == {EXPLICIT}  # the files' own syntax
    for f in FILES:  # storescp names its files <modality>.<SOP Instance UID>
        assert_same_file(_stored(out, UID[f]), f, reencoded="+B" not in options)


# ---- 2. aio requestor -> pynetdicom SCP --------------------------------------------------


def test_aio_echo_and_store_to_pynetdicom(pyscp, tmp_path):
    received: list[tuple[str, str]] = []

    def on_store(event: Any) -> int:  # writes what it received, file meta and all
        uid = str(event.request.AffectedSOPInstanceUID)
        (tmp_path / f"{uid}.dcm").write_bytes(event.encoded_dataset())
        received.append((uid, event.assoc.requestor.ae_title))
        return 0x0000

    ae = _ae("PYNETDICOM")
    ae.add_supported_context(Verification)
    _storage_contexts(ae, FILES)
    port = pyscp(ae, [(evt.EVT_C_STORE, on_store)])

    async def scenario() -> list[int]:
        contexts = verification_contexts() + contexts_for_files(FILES)
        async with await connect(port, called_ae="PYNETDICOM", contexts=contexts) as a:
            return [await a.echo(), *[await a.store(f) for f in FILES]]

    assert run(scenario) == [0, 0, 0]
    assert received == [(UID[f], "DICOMUL") for f in FILES]
    for f in FILES:  # sent as they are in the file, received as they were sent
        assert_same_file(tmp_path / f"{UID[f]}.dcm", f)


def test_aio_find_at_pynetdicom(pyscp):
    asked: list[Dataset] = []

    def on_find(event: Any) -> Any:
        asked.append(event.identifier)
        for f in FILES:
            yield 0xFF00, patient(f)

    ae = _ae("PYNETDICOM")
    ae.add_supported_context(PatientRootQueryRetrieveInformationModelFind)
    port = pyscp(ae, [(evt.EVT_C_FIND, on_find)])

    async def scenario() -> list[tuple[int, Any]]:
        contexts = qr_contexts(["patient"], ["find"])
        async with await connect(port, called_ae="PYNETDICOM", contexts=contexts) as a:
            return [
                r async for r in a.find(query("PATIENT", PatientName="", PatientID=""), "patient")
            ]

    results = run(scenario)
    assert [s for s, _ in results] == [0xFF00, 0xFF00, 0x0000]
    assert [str(m.PatientID) for _, m in results[:2]] == ["1CT1", "4MR1"]
    assert str(results[0][1].PatientName) == "CompressedSamples^CT1"
    assert results[-1][1] is None
    assert asked[0].QueryRetrieveLevel == "PATIENT" and asked[0].PatientID == ""


def test_aio_get_from_pynetdicom(pyscp, tmp_path):
    asked: list[str] = []

    def on_get(event: Any) -> Any:
        asked.append(str(event.identifier.StudyInstanceUID))
        yield 1
        yield 0xFF00, pydicom.dcmread(CT)

    ae = _ae("PYNETDICOM")
    ae.add_supported_context(StudyRootQueryRetrieveInformationModelGet)
    _storage_contexts(ae, [CT], roles=True)  # it accepts our SCP role for CT storage
    port = pyscp(ae, [(evt.EVT_C_GET, on_get)])
    out = tmp_path / "got"

    async def scenario() -> tuple[list[Any], dict[str, tuple[bool, bool]]]:
        contexts = qr_contexts(["study"], ["get"]) + contexts_for_files([CT])
        async with await connect(port, called_ae="PYNETDICOM", contexts=contexts) as a:
            q = query(StudyInstanceUID=STUDY[CT])
            rsps = [rsp async for _s, rsp in a.get(q, "study", output_dir=out)]
            return rsps, a.roles

    rsps, roles = run(scenario)
    assert roles[read_part10(CT).meta.sop_class_uid][1]  # SCP role negotiated
    final = rsps[-1]
    assert final.status == 0 and final.completed_suboperations == 1
    assert (final.failed_suboperations or 0) == 0
    assert asked == [STUDY[CT]]
    got = out / f"{UID[CT]}.dcm"
    assert read_part10(got).meta.source_ae_title == "PYNETDICOM"
    assert_same_file(got, CT)  # pynetdicom re-encodes with pydicom: the same bytes


def test_aio_move_from_pynetdicom_to_aio_server(pyscp, tmp_path):
    dest_dir = tmp_path / "dest"
    asked: list[str] = []
    ae = _ae("PYNETDICOM")
    ae.add_supported_context(StudyRootQueryRetrieveInformationModelMove)
    _storage_contexts(ae, FILES, requested=True)  # what its sub-association proposes
    dest_port: list[int] = []

    def on_move(event: Any) -> Any:
        asked.append(event.move_destination)
        if asked[-1] != "DEST":
            yield None, None  # unknown destination: 0xA801
            return
        yield "127.0.0.1", dest_port[0]
        yield 2
        for f in FILES:
            yield 0xFF00, pydicom.dcmread(f)

    port = pyscp(ae, [(evt.EVT_C_MOVE, on_move)])

    async def scenario() -> tuple[Any, Any]:
        async with contextlib.AsyncExitStack() as stack:
            _, p = await started(stack, store_dir=dest_dir, accept_all_storage=True)
            dest_port.append(p)
            contexts = qr_contexts(["study"], ["move"])
            async with await connect(port, called_ae="PYNETDICOM", contexts=contexts) as a:
                rsps = [rsp async for _s, rsp in a.move(query(StudyInstanceUID=""), "DEST")]
                unknown = [rsp async for _s, rsp in a.move(query(), "NOWHERE")]
            return rsps[-1], unknown[-1]

    final, unknown = run(scenario)
    assert final.status == 0 and final.completed_suboperations == 2
    assert unknown.status == 0xA801
    assert asked == ["DEST", "NOWHERE"]
    for f in FILES:
        got = dest_dir / f"{UID[f]}.dcm"
        assert read_part10(got).meta.source_ae_title == "PYNETDICOM"
        assert_same_file(got, f)


# ---- 3. DCMTK tools -> aio Server --------------------------------------------------------


def test_echoscu_to_aio_server(dcmtk, procs):
    echoes: list[int] = []

    def on_echo() -> int:  # plain: runs in the Server's pool
        echoes.append(1)
        return 0

    async def scenario() -> None:
        async with contextlib.AsyncExitStack() as stack:
            srv, port = await started(stack, on_echo=on_echo)
            await tool(procs, scu(dcmtk("echoscu"), port, "-aec SCP --repeat 3"))
            await until(lambda: srv.associations == 0 and srv.connections == 0)  # released

    run(scenario)
    assert len(echoes) == 3


def test_storescu_two_files_to_aio_server(dcmtk, procs, tmp_path):
    seen: list[tuple[str, str]] = []

    async def on_store(meta: Any, data: Any, info: Any) -> int:
        assert isinstance(data, Path) and data.exists()  # committed already
        seen.append((meta.sop_instance_uid, info.calling_ae))
        return 0

    async def scenario() -> None:
        async with contextlib.AsyncExitStack() as stack:
            _, port = await started(
                stack, store_dir=tmp_path, accept_all_storage=True, on_store=on_store
            )
            argv = scu(dcmtk("storescu"), port, "-aet STORESCU -aec SCP")
            await tool(procs, [*argv, *map(str, FILES)])

    run(scenario)
    assert seen == [(UID[f], "STORESCU") for f in FILES]
    for f in FILES:
        got = tmp_path / f"{UID[f]}.dcm"
        assert read_part10(got).meta.source_ae_title == "STORESCU"
        assert_same_file(got, f, reencoded=True)  # storescu re-encodes: padding goes


def test_findscu_to_aio_server(dcmtk, procs, tmp_path):
    asked: list[Dataset] = []

    async def on_find(identifier: Dataset, sop_class: str) -> Any:
        asked.append(identifier)
        for f in FILES:
            yield 0xFF00, patient(f)
        yield 0x0000, None

    out = tmp_path / "rsp"
    out.mkdir()

    async def scenario() -> str:
        async with contextlib.AsyncExitStack() as stack:
            _, port = await started(stack, on_find=on_find)
            keys = "-k QueryRetrieveLevel=PATIENT -k PatientName -k PatientID"
            argv = scu(dcmtk("findscu"), port, f"-P -aec SCP {keys} -X", "-od", str(out))
            return await tool(procs, argv)

    output = run(scenario)
    responses = [pydicom.dcmread(p) for p in sorted(out.glob("rsp*.dcm"))]
    assert [str(r.PatientID) for r in responses] == ["1CT1", "4MR1"], output
    assert [str(r.PatientName) for r in responses] == [
        "CompressedSamples^CT1",
        "CompressedSamples^MR1",
    ]
    assert asked[0].QueryRetrieveLevel == "PATIENT" and asked[0].PatientID == ""


def test_getscu_from_aio_server(dcmtk, procs, tmp_path):
    asked: list[str] = []

    def on_get(identifier: Dataset) -> list[Path]:
        asked.append(str(identifier.StudyInstanceUID))
        return [f for f in FILES if STUDY[f] == identifier.StudyInstanceUID]

    out = tmp_path / "got"
    out.mkdir()

    async def scenario() -> None:
        async with contextlib.AsyncExitStack() as stack:
            _, port = await started(stack, on_get=on_get)
            keys = f"-k QueryRetrieveLevel=STUDY -k StudyInstanceUID={STUDY[CT]}"
            await tool(procs, scu(dcmtk("getscu"), port, f"-S +B -aec SCP {keys}", "-od", str(out)))

    run(scenario)
    assert asked == [STUDY[CT]]
    assert sorted(p.name for p in out.iterdir()) == [UID[CT]]  # getscu names files by UID
    assert_same_file(out / UID[CT], CT)  # sent as is, written as is (+B)


def test_movescu_via_aio_server_to_aio_server(dcmtk, procs, tmp_path):
    dest_dir = tmp_path / "dest"
    asked: list[tuple[str, str]] = []

    def on_move(identifier: Dataset, destination: str) -> list[Path]:
        asked.append((str(identifier.QueryRetrieveLevel), destination))
        return list(FILES)

    async def scenario() -> tuple[str, str]:
        async with contextlib.AsyncExitStack() as stack:
            _, dest_port = await started(stack, store_dir=dest_dir, accept_all_storage=True)
            _, port = await started(
                stack, on_move=on_move, move_destinations={"DEST": ("127.0.0.1", dest_port)}
            )
            common = "-v -S -aet MOVESCU -aec SCP -k QueryRetrieveLevel=STUDY -k StudyInstanceUID="
            ok = await tool(procs, scu(dcmtk("movescu"), port, f"{common} -aem DEST"))
            argv = scu(dcmtk("movescu"), port, f"{common} -aem NOWHERE")
            _status, unknown = await asyncio.to_thread(finish, procs(argv))
            return ok, unknown

    ok, unknown = run(scenario)
    # an unknown destination is answered 0xA801 before the handler is asked anything
    assert asked == [("STUDY", "DEST")]
    assert "MoveDestinationUnknown" in unknown or "a801" in unknown.lower(), unknown
    for f in FILES:
        got = dest_dir / f"{UID[f]}.dcm"
        assert read_part10(got).meta.source_ae_title == "SCP"  # the move SCP stored it
        assert_same_file(got, f)  # the aio Server sends the files as they are
    assert "Received Final Move Response (Success)" in ok, ok


# ---- 4. pynetdicom requestor -> aio Server -----------------------------------------------


def test_pynetdicom_echo_and_store_to_aio_server(pyassoc, tmp_path):
    ae = _ae("PYNET_SCU")
    ae.add_requested_context(Verification)
    _storage_contexts(ae, FILES, requested=True)

    async def scenario() -> list[int]:
        async with contextlib.AsyncExitStack() as stack:
            _, port = await started(stack, store_dir=tmp_path, accept_all_storage=True)

            def client() -> list[int]:
                assoc = pyassoc(ae, port)
                try:
                    statuses = [assoc.send_c_echo().Status]
                    statuses += [assoc.send_c_store(pydicom.dcmread(f)).Status for f in FILES]
                finally:
                    assoc.release()
                return statuses

            return await asyncio.to_thread(client)

    assert run(scenario) == [0, 0, 0]
    for f in FILES:
        got = tmp_path / f"{UID[f]}.dcm"
        assert read_part10(got).meta.source_ae_title == "PYNET_SCU"
        assert_same_file(got, f)  # pydicom re-encodes the Dataset to the same bytes


def test_pynetdicom_find_at_aio_server(pyassoc):
    asked: list[tuple[Dataset, str]] = []

    async def on_find(identifier: Dataset, sop_class: str) -> Any:
        asked.append((identifier, sop_class))
        for f in FILES:
            yield 0xFF00, patient(f)

    ae = _ae("PYNET_SCU")
    ae.add_requested_context(PatientRootQueryRetrieveInformationModelFind)

    async def scenario() -> list[tuple[int, Any]]:
        async with contextlib.AsyncExitStack() as stack:
            _, port = await started(stack, on_find=on_find)

            def client() -> list[tuple[int, Any]]:
                assoc = pyassoc(ae, port)
                try:
                    q = query("PATIENT", PatientName="", PatientID="")
                    rsps = assoc.send_c_find(q, PatientRootQueryRetrieveInformationModelFind)
                    return [(int(s.Status), ident) for s, ident in rsps]
                finally:
                    assoc.release()

            return await asyncio.to_thread(client)

    results = run(scenario)
    assert [s for s, _ in results] == [0xFF00, 0xFF00, 0x0000]
    assert [str(m.PatientID) for _, m in results[:2]] == ["1CT1", "4MR1"]
    assert str(results[1][1].PatientName) == "CompressedSamples^MR1"
    assert asked[0][1] == PatientRootQueryRetrieveInformationModelFind


def test_pynetdicom_get_from_aio_server(pyassoc):
    got: dict[str, tuple[bytes, str]] = {}

    def on_store(event: Any) -> int:
        got[str(event.request.AffectedSOPInstanceUID)] = (
            event.request.DataSet.getvalue(),
            str(event.context.transfer_syntax),
        )
        return 0x0000

    ae = _ae("PYNET_SCU")
    ae.add_requested_context(StudyRootQueryRetrieveInformationModelGet)
    _storage_contexts(ae, FILES, requested=True)
    roles = [build_role(read_part10(f).meta.sop_class_uid, scp_role=True) for f in FILES]

    def on_get(identifier: Dataset) -> list[Path]:
        return [f for f in FILES if STUDY[f] == identifier.StudyInstanceUID]

    async def scenario() -> list[Any]:
        async with contextlib.AsyncExitStack() as stack:
            _, port = await started(stack, on_get=on_get)

            def client() -> list[Any]:
                assoc = pyassoc(ae, port, ext_neg=roles, evt_handlers=[(evt.EVT_C_STORE, on_store)])
                try:
                    finals = []
                    for f in FILES:
                        rsps = list(
                            assoc.send_c_get(
                                query(StudyInstanceUID=STUDY[f]),
                                StudyRootQueryRetrieveInformationModelGet,
                            )
                        )
                        finals.append(rsps[-1][0])
                    return finals
                finally:
                    assoc.release()

            return await asyncio.to_thread(client)

    finals = run(scenario)
    assert [(f.Status, f.NumberOfCompletedSuboperations) for f in finals] == [(0, 1), (0, 1)]
    for f in FILES:
        data, ts = got[UID[f]]
        assert ts == read_part10(f).meta.transfer_syntax
        assert data == dataset_bytes(f)


def test_pynetdicom_move_via_aio_server_to_pynetdicom(pyscp, pyassoc):
    received: dict[str, tuple[bytes, str]] = {}

    def on_store(event: Any) -> int:
        received[str(event.request.AffectedSOPInstanceUID)] = (
            event.request.DataSet.getvalue(),
            str(event.request.MoveOriginatorApplicationEntityTitle).strip(),
        )
        return 0x0000

    store_ae = _ae("PYSTORE")
    _storage_contexts(store_ae, FILES)
    store_port = pyscp(store_ae, [(evt.EVT_C_STORE, on_store)])
    ae = _ae("PYNET_SCU")
    ae.add_requested_context(StudyRootQueryRetrieveInformationModelMove)

    async def scenario() -> list[Any]:
        async with contextlib.AsyncExitStack() as stack:
            _, port = await started(
                stack,
                on_move=lambda ident, dest: list(FILES),
                move_destinations={"PYSTORE": ("127.0.0.1", store_port)},
            )

            def move(dest: str) -> Any:
                # pynetdicom's reactor can take a response that arrives before
                # send_c_move waits for it (it logs "Received unexpected C-MOVE service
                # message", then times out): its race, seen under load with our at-once
                # A801. A new association then; at most three.
                for _attempt in range(3):
                    assoc = pyassoc(ae, port)
                    try:
                        rsps = list(assoc.send_c_move(
                            query(), dest, StudyRootQueryRetrieveInformationModelMove))  # fmt: skip
                    finally:
                        assoc.release()
                    if rsps and "Status" in rsps[-1][0]:
                        break
                return rsps[-1][0]

            return await asyncio.to_thread(lambda: [move("PYSTORE"), move("NOWHERE")])

    ae.dimse_timeout = 5
    ok, unknown = run(scenario)
    assert ok.Status == 0 and ok.NumberOfCompletedSuboperations == 2
    assert unknown.Status == 0xA801
    for f in FILES:
        data, originator = received[UID[f]]
        assert originator == "PYNET_SCU"
        assert data == dataset_bytes(f)


# ---- 5. TLS ------------------------------------------------------------------------------


def test_aio_to_aio_server_over_tls(certs, tmp_path):
    async def scenario() -> tuple[list[int], Any]:
        async with contextlib.AsyncExitStack() as stack:
            _, port = await started(
                stack,
                store_dir=tmp_path,
                accept_all_storage=True,
                ssl_context=MAKE_CERTS.server_context(certs),
            )
            contexts = verification_contexts() + contexts_for_files([CT])
            ctx = MAKE_CERTS.client_context(certs)  # verifies the server (IP SAN)
            async with await connect(port, contexts=contexts, ssl_context=ctx) as a:
                assert a.protocol is not None and a.protocol.transport is not None
                tls = a.protocol.transport.get_extra_info("ssl_object")
                statuses = [await a.echo(), await a.store(CT)]
            untrusting = MAKE_CERTS.client_context(certs, with_ca=False)
            with pytest.raises(ssl.SSLCertVerificationError):
                await connect(port, ssl_context=untrusting)
            return statuses, tls.version() if tls is not None else None

    statuses, version = run(scenario)
    assert statuses == [0, 0]
    assert version is not None and version.startswith("TLS")
    assert_same_file(tmp_path / f"{UID[CT]}.dcm", CT)


def _dcmtk_has_tls(path: str) -> bool:
    out = subprocess.run([path, "--help"], capture_output=True, text=True, timeout=T).stdout
    return "--enable-tls" in out


def test_dcmtk_tls_to_aio_server(dcmtk, procs, certs, tmp_path):
    echoscu, storescu = dcmtk("echoscu"), dcmtk("storescu")
    if not (_dcmtk_has_tls(echoscu) and _dcmtk_has_tls(storescu)):
        pytest.skip("this DCMTK is built without TLS (OpenSSL)")
    tls = ("+tls", str(certs["client_key"]), str(certs["client_cert"]), "+cf", str(certs["ca"]))

    async def scenario() -> None:
        async with contextlib.AsyncExitStack() as stack:
            srv, port = await started(
                stack,
                store_dir=tmp_path,
                accept_all_storage=True,
                ssl_context=MAKE_CERTS.server_context(certs),
            )
            await tool(procs, scu(echoscu, port, "-aec SCP", *tls))
            await tool(procs, [*scu(storescu, port, "-aec SCP", *tls), str(CT)])

    run(scenario)
    assert_same_file(tmp_path / f"{UID[CT]}.dcm", CT, reencoded=True)


def test_failed_tls_handshake_leaves_no_connection_behind(dcmtk, procs, certs):
    """A failed handshake costs no slot: it is counted only once it succeeds (a helper
    found the server keeping such connections for ever; fixed)."""
    echoscu = dcmtk("echoscu")
    if not _dcmtk_has_tls(echoscu):
        pytest.skip("this DCMTK is built without TLS (OpenSSL)")
    good = ("+tls", str(certs["client_key"]), str(certs["client_cert"]), "+cf", str(certs["ca"]))

    async def scenario() -> None:
        async with contextlib.AsyncExitStack() as stack:
            srv, port = await started(
                stack,
                acse_timeout=2.0,
                max_connections=1,
                ssl_context=MAKE_CERTS.server_context(certs),
            )
            # no client certificate (and not checking the server's): the handshake fails
            argv = scu(echoscu, port, "+tla -ic -aec SCP")
            status, output = await asyncio.to_thread(finish, procs(argv))
            assert status != 0, output
            await until(lambda: srv.connections == 0, timeout=3.0)
            # the one connection allowed is free again for a good client
            await tool(procs, scu(echoscu, port, "-aec SCP", *good))

    run(scenario)


# ---- 6. the asynchronous operations window -----------------------------------------------


@pytest.mark.parametrize("with_handler", [False, True], ids=["no handler", "EVT_ASYNC_OPS"])
def test_async_operations_window_with_pynetdicom(pyscp, with_handler):
    asked: list[tuple[int, int]] = []
    stored: list[str] = []

    def on_async_ops(event: Any) -> tuple[int, int]:
        asked.append((event.nr_invoked, event.nr_performed))
        return 8, 8  # pynetdicom ignores it and answers 1/1

    ae = _ae("PYNETDICOM")
    ae.add_supported_context(Verification)
    _storage_contexts(ae, FILES)
    handlers = [
        (evt.EVT_C_STORE, lambda e: stored.append(str(e.request.AffectedSOPInstanceUID)) or 0)
    ]
    if with_handler:
        handlers.append((evt.EVT_ASYNC_OPS, on_async_ops))
    port = pyscp(ae, handlers)

    async def scenario() -> tuple[Any, int, list[int]]:
        contexts = verification_contexts() + contexts_for_files(FILES)
        a = await connect(port, called_ae="PYNETDICOM", contexts=contexts, async_operations=(8, 8))
        async with a:
            statuses = await asyncio.gather(
                *(a.echo() for _ in range(4)), *(a.store(f) for f in FILES)
            )
            return a.accept.async_operations, a.session.invoke_window, list(statuses)

    answered, window, statuses = run(scenario)
    assert statuses == [0] * 6
    assert sorted(stored) == sorted(UID.values())
    if with_handler:
        assert asked == [(8, 8)]
        assert tuple(answered) == (1, 1)
    else:
        assert answered is None  # no 53H item in the A-ASSOCIATE-AC
    assert window == 1


def test_async_operations_window_with_storescp(dcmtk, procs, free_port, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    proc = procs(
        [dcmtk("storescp"), "-od", str(out), "+xa", "-ta", "10", "-td", "10", str(free_port)]
    )

    async def scenario() -> tuple[Any, int, list[int]]:
        contexts = verification_contexts() + contexts_for_files(FILES)
        a = await connect_when_up(
            proc, free_port, called_ae="STORESCP", contexts=contexts, async_operations=(8, 8)
        )
        async with a:
            statuses = await asyncio.gather(
                *(a.echo() for _ in range(4)), *(a.store(f) for f in FILES)
            )
            return a.accept.async_operations, a.session.invoke_window, list(statuses)

    answered, window, statuses = run(scenario)
    assert statuses == [0] * 6
    assert answered is None and window == 1  # DCMTK does not negotiate the window
    for f in FILES:
        assert_same_file(_stored(out, UID[f]), f, reencoded=True)
