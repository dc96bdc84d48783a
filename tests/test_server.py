"""dicomul.sync.server (the acceptor): AE allow-lists, negotiation policy, the storage SCP
(hostile UIDs refused, success only after commit, --ignore, handler failures), stop(), and
the SOP class table. dicomul's requestor is the peer, over 127.0.0.1 with port 0;
every wait has a timeout, nothing sleeps.
"""

from __future__ import annotations

import pytest
import raw_dimse
from pydicom.data import get_testdata_file

from dicomul import Associate, AssociationAborted, AssociationRejected
from dicomul.dimse.messages import encode_command
from dicomul.dimse.sop import (
    STORAGE_SOP_CLASSES,
    TRANSFER_SYNTAXES,
    VERIFICATION,
    is_storage,
    name_of,
)
from dicomul.storage.part10 import read_part10
from dicomul.sync.server import Server
from dicomul.sync.services import Association, contexts_for_files, verification_contexts
from dicomul.ul.negotiation import SupportedContexts

pytestmark = pytest.mark.timeout(60)

T = 10.0
CT = get_testdata_file("CT_small.dcm")
JPEG = get_testdata_file("SC_rgb_jpeg_dcmtk.dcm")
CT_CLASS = "1.2.840.10008.5.1.4.1.1.2"
EXPLICIT, IMPLICIT = "1.2.840.10008.1.2.1", "1.2.840.10008.1.2"


def connect(port: int, contexts=None, **kw) -> Association:
    for k in ("dimse_timeout", "acse_timeout", "connect_timeout"):
        kw.setdefault(k, T)
    kw.setdefault("called_ae", "SCP")
    return Association.connect("127.0.0.1", port, contexts=contexts, **kw)


@pytest.fixture
def server():
    servers: list[Server] = []

    def make(**kw) -> tuple[Server, int]:
        srv = Server("SCP", **kw)
        servers.append(srv)
        return srv, srv.start("127.0.0.1", 0)

    yield make
    for srv in servers:
        srv.stop(timeout=T)


# ---- association policy ---------------------------------------------------------------


def test_calling_allow_list_rejects(server):
    _, port = server(allowed_calling=["GOOD"])
    with pytest.raises(AssociationRejected, match="calling AE title not recognized") as info:
        connect(port, calling_ae="BAD")
    assert (info.value.result, info.value.source, info.value.reason) == (1, 1, 3)
    with connect(port, calling_ae="GOOD") as assoc:
        assert assoc.echo() == 0


def test_called_allow_list_rejects(server):
    _, port = server(allowed_called=["SCP"])
    with pytest.raises(AssociationRejected, match="called AE title not recognized"):
        connect(port, called_ae="OTHER")
    with connect(port, called_ae="SCP") as assoc:
        assert assoc.echo() == 0


def test_default_contexts_follow_handlers(server):
    srv, port = server()
    contexts = verification_contexts() + contexts_for_files([CT])
    with connect(port, contexts) as assoc:  # no storage configured: CT refused
        assert [a for a, _ in assoc.contexts.values()] == [VERIFICATION]
    srv.on_store = lambda meta, data, info: 0
    with connect(port, contexts) as assoc:  # handlers may be set after start()
        assert sorted(a for a, _ in assoc.contexts.values()) == sorted([VERIFICATION, CT_CLASS])


def test_explicit_contexts(server):
    _, port = server(contexts=SupportedContexts().add(CT_CLASS, [IMPLICIT]), ignore=True)
    contexts = verification_contexts() + [(CT_CLASS, [EXPLICIT, IMPLICIT])]
    with connect(port, contexts) as assoc:
        assert list(assoc.contexts.values()) == [(CT_CLASS, IMPLICIT)]
        assert assoc.store(CT) == 0  # re-encoded to Implicit VR LE


def test_accept_all_storage_takes_any_offered_syntax(server, tmp_path):
    _, port = server(store_dir=tmp_path, accept_all_storage=True)
    private_ts = "1.2.826.0.1.3680043.10.1417.77"  # a transfer syntax nobody knows
    data = read_part10(CT).read_dataset_bytes()
    with connect(port, [(CT_CLASS, [private_ts])]) as assoc:
        assert assoc.contexts[1] == (CT_CLASS, private_ts)
        assert assoc.store((data, private_ts, CT_CLASS, "1.2.3.99")) == 0
    got = read_part10(tmp_path / "1.2.3.99.dcm")
    assert got.meta.transfer_syntax == private_ts
    assert got.read_dataset_bytes() == data


def test_accept_all_keeps_compressed(server, tmp_path):
    _, port = server(store_dir=tmp_path, accept_all_storage=True)
    with connect(port, contexts_for_files([JPEG])) as assoc:
        assert assoc.store(JPEG) == 0
    src = read_part10(JPEG)
    got = read_part10(tmp_path / f"{src.meta.sop_instance_uid}.dcm")
    assert got.meta.transfer_syntax == src.meta.transfer_syntax
    assert got.read_dataset_bytes() == src.read_dataset_bytes()


# ---- the storage SCP ------------------------------------------------------------------


def send_raw_store(assoc: Association, instance_uid: bytes, data: bytes) -> int:
    """A C-STORE-RQ with an arbitrary (possibly invalid) SOP Instance UID value."""
    command = encode_command(
        {0x0002: CT_CLASS, 0x0100: 0x0001, 0x0110: 77, 0x0700: 0, 0x0800: 1, 0x1000: instance_uid}
    )
    return raw_dimse.send_raw_store(assoc, CT_CLASS, command, data)


@pytest.mark.parametrize(
    "uid", [b"../../x\x00", b"/etc/passwd\x00", b"..\x00\x00", b"a/../../b\x00"]
)
def test_hostile_instance_uid_answered_and_not_stored(server, tmp_path, uid):
    # not a valid UID (PS3.5 9.1): refused with 0x0117, nothing written anywhere, and the
    # association goes on (see dicomul.dimse.uids; safe_filename still guards Part10Writer)
    store = tmp_path / "store"
    _, port = server(store_dir=store)
    data = read_part10(CT).read_dataset_bytes()
    with connect(port, contexts_for_files([CT])) as assoc:
        assert send_raw_store(assoc, uid, data) == 0x0117
        assert assoc.store(CT) == 0
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert [p.parent for p in files] == [store]
    assert read_part10(files[0]).read_dataset_bytes() == data


def test_success_only_after_commit(server, tmp_path):
    seen = []

    def on_store(meta, path, info):  # called after the commit, before the response
        seen.append((path, path.exists(), read_part10(path).dataset_length))
        return 0

    _, port = server(store_dir=tmp_path, fsync=True, on_store=on_store)
    src = read_part10(CT)
    with connect(port, contexts_for_files([CT])) as assoc:
        assert assoc.store(CT) == 0
        # the response has arrived: the file must be complete under its final name
        final = tmp_path / f"{src.meta.sop_instance_uid}.dcm"
        assert final.exists()
        assert read_part10(final).read_dataset_bytes() == src.read_dataset_bytes()
        assert not list(tmp_path.glob(".dicomul-*"))
    assert seen == [(final, True, src.dataset_length)]


def test_duplicate_instance_keeps_both_files(server, tmp_path):
    _, port = server(store_dir=tmp_path)
    with connect(port, contexts_for_files([CT])) as assoc:
        assert assoc.store(CT) == 0
        assert assoc.store(CT) == 0
    assert len(list(tmp_path.glob("*.dcm"))) == 2


def test_ignore_stores_nothing(server, tmp_path):
    _, port = server(ignore=True)
    with connect(port, contexts_for_files([CT, JPEG])) as assoc:
        assert assoc.store(CT) == 0
    assert not list(tmp_path.iterdir())


def test_store_handler_exception_is_failure(server):
    def on_store(meta, data, info):
        raise RuntimeError("handler bug")

    _, port = server(on_store=on_store)
    with connect(port, verification_contexts() + contexts_for_files([CT])) as assoc:
        assert assoc.store(CT) == 0xC000
        assert assoc.echo() == 0  # the association survives


def test_store_in_memory_handler_gets_bytes(server):
    got = []
    _, port = server(on_store=lambda meta, data, info: got.append((meta, data, info)) or 0)
    with connect(port, contexts_for_files([CT]), calling_ae="MODALITY") as assoc:
        assert assoc.store(CT) == 0
    meta, data, info = got[0]
    src = read_part10(CT)
    assert data == src.read_dataset_bytes()
    assert meta.transfer_syntax == src.meta.transfer_syntax
    assert meta.source_ae_title == "MODALITY"
    assert (info.calling_ae, info.called_ae) == ("MODALITY", "SCP")


# ---- life cycle -----------------------------------------------------------------------


def test_stop_aborts_live_associations():
    srv = Server("SCP")
    port = srv.start()
    assoc = connect(port)
    assert assoc.echo() == 0
    assert srv.associations == 1
    srv.stop(timeout=T)
    with pytest.raises(AssociationAborted):
        assoc.echo()
    with pytest.raises(ConnectionRefusedError):
        connect(port)


def test_serve_forever_returns_after_stop():
    import threading

    srv = Server("SCP")
    srv.start()
    t = threading.Thread(target=srv.serve_forever)
    t.start()
    srv.stop()
    t.join(T)
    assert not t.is_alive()


def test_supported_for_accept_all(server):
    srv = Server("SCP", accept_all_storage=True)
    rq = Associate(request=True).default_associate()
    rq.add_presentation(1, CT_CLASS, 0, ["1.2.840.10008.1.2.4.50", EXPLICIT])
    supported = srv.supported_for(rq)
    assert supported[CT_CLASS][0] == "1.2.840.10008.1.2.4.50"
    assert VERIFICATION in supported


# ---- the SOP class table --------------------------------------------------------------


def test_sop_table():
    assert len(STORAGE_SOP_CLASSES) > 150
    assert is_storage(CT_CLASS) and not is_storage(VERIFICATION)
    assert name_of(CT_CLASS) == "CT Image Storage"
    assert TRANSFER_SYNTAXES[:2] == (EXPLICIT, IMPLICIT)
    assert "1.2.840.10008.1.2.4.50" in TRANSFER_SYNTAXES


def test_connections_and_associations_cost_no_thread(server):
    """The blocking Server runs on the process's event loop thread: 30 associations (and
    30 idle connections) start no thread of their own."""
    import socket
    import threading

    _, port = server()
    before = threading.active_count()
    idle = [socket.create_connection(("127.0.0.1", port), timeout=T) for _ in range(30)]
    assocs = [connect(port, verification_contexts(), max_pdu=16384) for _ in range(30)]
    try:
        assert all(a.echo() == 0 for a in assocs)
        # (the blocking requestors have no thread either: the caller's drives each)
        assert threading.active_count() - before <= 2  # (the handler pool's)
    finally:
        for a in assocs:
            a.release()
        for s in idle:
            s.close()


def test_an_n_request_is_answered_unrecognized_and_the_association_goes_on(server):
    """(issue 11, first step) A DIMSE-N request the server does not perform gets 0211H
    "Unrecognized operation" (PS3.7 C), not an A-ABORT."""
    from dicomul.dimse.n_messages import NActionRQ

    _, port = server()
    with connect(port, verification_contexts()) as assoc:
        command = NActionRQ(message_id=9, requested_sop_class_uid="1.2.840.10008.1.20.1",
                            requested_sop_instance_uid="1.2.840.10008.1.20.1.1",
                            action_type_id=1, has_dataset=False).encode()  # fmt: skip
        status = raw_dimse.send_raw_store(assoc, "1.2.840.10008.1.1", command, None)
        assert status == 0x0211
        assert assoc.echo() == 0
