"""dicomul.sync.net.Net against itself over 127.0.0.1: association, reject, release, abort,
P-DATA (50 MiB, streamed to a file), sends from callbacks, LocalProtocolError, on_send,
TLS, ARTIM, the network timeout, and raw sockets that misbehave (PS3.8 Table 9-10).

The recorded Nets, the fixtures ``acceptor`` / ``requestor`` and the PDU helpers are
shared with the interop tests (tests/interop/conftest.py). Every wait has a timeout
(callbacks, ``Net.wait`` or socket timeouts); nothing sleeps. Listeners use port 0.
"""

# ruff: noqa: F811 - the shared fixtures are imported, then named as arguments
from __future__ import annotations

import hashlib
import importlib.util
import io
import socket
import ssl
import threading
import time
from pathlib import Path

import pytest
from interop.capture_dcmtk import CT_IMAGE as CT
from interop.capture_dcmtk import UNKNOWN_ABSTRACT as UNKNOWN
from interop.conftest import (  # the shared helpers and fixtures
    SUPPORTED,
    TIMEOUT,
    accept_all,
    acceptor,  # noqa: F401 - a fixture
    dimse,
    make_rq,
    raw_connect,
    read_all,
    read_pdu,
    requestor,  # noqa: F401 - a fixture
)

from dicomul import (
    EXPLICIT_VR_BIG_ENDIAN,
    EXPLICIT_VR_LITTLE_ENDIAN,
    IMPLICIT_VR_LITTLE_ENDIAN,
    VERIFICATION_SOP_CLASS,
    AssociationAborted,
    AssociationRejected,
    LocalProtocolError,
)
from dicomul.sync.net import Net
from dicomul.ul.negotiation import check_request, negotiate

pytestmark = pytest.mark.timeout(30)

USER_ABORT = bytes.fromhex("07000000000400000000")  # A-ABORT, source 0 (service-user)
ECHO_RQ = dimse(0x0030, 7)
ECHO_RSP = dimse(0x8030, 7, responding=True, status=0)


def assert_serves(server, requestor) -> None:
    """A well-behaved association on ``server`` works: associate, release."""
    c = requestor()
    ac = c.net.associate("127.0.0.1", server.port, make_rq(), timeout=TIMEOUT)
    assert ac.get_result(1) == 0
    c.net.release(timeout=TIMEOUT)
    assert c.closed()


# ---- association, reject, release, abort ------------------------------------------------


def test_associate_contexts_as_negotiated(acceptor, requestor):
    srv = acceptor()
    c = requestor()
    rq = make_rq(
        [
            (1, VERIFICATION_SOP_CLASS, (IMPLICIT_VR_LITTLE_ENDIAN, EXPLICIT_VR_LITTLE_ENDIAN)),
            (3, CT, (EXPLICIT_VR_BIG_ENDIAN,)),
            (5, UNKNOWN, (IMPLICIT_VR_LITTLE_ENDIAN,)),
            (7, CT, (IMPLICIT_VR_LITTLE_ENDIAN, EXPLICIT_VR_LITTLE_ENDIAN)),
        ]
    )
    ac = c.net.associate("127.0.0.1", srv.port, rq, timeout=TIMEOUT)
    s = srv.next()
    expected = negotiate(s.net.request, SUPPORTED)
    got = {
        pc.id: (pc.result, pc.abstract_syntax, pc.transfer_syntaxes[:1] if pc.result == 0 else ())
        for pc in ac.presentation_contexts
    }
    assert got == {
        1: (0, VERIFICATION_SOP_CLASS, (EXPLICIT_VR_LITTLE_ENDIAN,)),
        3: (4, CT, ()),
        5: (3, UNKNOWN, ()),
        7: (0, CT, (EXPLICIT_VR_LITTLE_ENDIAN,)),
    }
    assert [
        (p.id, p.result, p.transfer_syntaxes[:1] if p.result == 0 else ())
        for p in expected.presentation_contexts
    ] == [
        (p.id, p.result, p.transfer_syntaxes[:1] if p.result == 0 else ())
        for p in ac.presentation_contexts
    ]
    rq_seen = s.wait("on_receive_associate_request")[0]
    assert (rq_seen.called, rq_seen.calling) == ("DICOMUL_SCP", "DICOMUL_SCU")
    assert c.wait("on_receive_associate_accept")[0] is ac
    assert c.net.is_associated and c.net.association is ac and c.net.request is rq
    assert c.args("on_connect") == [(0,)]
    assert (ac.called, ac.calling) == ("DICOMUL_SCP", "DICOMUL_SCU")  # echoed (PS3.8 9.3.3)
    assert ac.max_length == 16384 and ac.implementation_class_uid
    c.net.release(timeout=TIMEOUT)
    assert c.closed() and s.closed()
    assert not s.errors and not c.errors


@pytest.mark.parametrize(
    "codes", [(1, 1, 1), (1, 1, 2), (1, 1, 3), (2, 2, 1), (1, 2, 2), (2, 3, 1), (1, 3, 2)]
)
def test_reject_raises_with_codes(acceptor, requestor, codes):
    srv = acceptor(on_receive_associate_request=lambda net, rq: net.send_associate_reject(*codes))
    c = requestor()
    with pytest.raises(AssociationRejected) as info:
        c.net.associate("127.0.0.1", srv.port, make_rq(), timeout=TIMEOUT)
    assert (info.value.result, info.value.source, info.value.reason) == codes
    assert c.args("on_receive_associate_reject") == [codes]
    s = srv.next()
    assert c.closed() and s.closed()
    assert s.args("on_send") == [(0, 3, 10)]
    assert "on_receive_abort" not in c.names() + s.names()


def test_reject_called_ae_with_check_request(acceptor, requestor):
    def policy(net, rq):
        rj = check_request(rq, called=["DICOMUL_SCP"])
        if rj is not None:
            net.send_associate_reject(rj.result, rj.source, rj.reason)
        else:
            accept_all(net, rq)

    srv = acceptor(on_receive_associate_request=policy)
    with pytest.raises(AssociationRejected) as info:
        requestor().net.associate(
            "127.0.0.1", srv.port, make_rq(called="SOMEONE_ELSE"), timeout=TIMEOUT
        )
    assert (info.value.result, info.value.source, info.value.reason) == (1, 1, 7)
    assert_serves(srv, requestor)


def test_invalid_reject_codes_raise_and_send_nothing(acceptor, requestor):
    tried = []

    def bad_then_good(net, rq):
        for codes in [(1, 1, 4), (3, 1, 1), (1, 4, 1), (1, 2, 3)]:
            try:
                net.send_associate_reject(*codes)
            except ValueError:
                tried.append(codes)
        net.send_associate_reject(1, 1, 1)

    srv = acceptor(on_receive_associate_request=bad_then_good)
    with pytest.raises(AssociationRejected) as info:
        requestor().net.associate("127.0.0.1", srv.port, make_rq(), timeout=TIMEOUT)
    assert (info.value.result, info.value.source, info.value.reason) == (1, 1, 1)
    assert len(tried) == 4
    s = srv.next()
    assert s.closed() and s.args("on_send") == [(0, 3, 10)]


def test_release_closes_both_sides(acceptor, requestor):
    srv = acceptor()
    c = requestor()
    c.net.associate("127.0.0.1", srv.port, make_rq(), timeout=TIMEOUT)
    s = srv.next()
    c.net.release(timeout=TIMEOUT)
    assert s.wait("on_receive_release_request") == ()
    assert c.wait("on_receive_release_response") == ()
    assert c.closed() and s.closed()
    assert not c.net.is_connected and not s.net.is_connected
    assert not c.net.is_associated and not s.net.is_associated
    assert "on_receive_abort" not in c.names() + s.names()


@pytest.mark.parametrize("codes", [(0, 0), (2, 5)])
def test_abort_requestor_to_acceptor(acceptor, requestor, codes):
    srv = acceptor()
    c = requestor()
    c.net.associate("127.0.0.1", srv.port, make_rq(), timeout=TIMEOUT)
    s = srv.next()
    c.net.send_abort(*codes)
    assert s.wait("on_receive_abort") == codes
    assert c.closed() and s.closed()
    assert (0, 7, 10) in c.args("on_send")


@pytest.mark.parametrize("codes", [(0, 0), (2, 2)])
def test_abort_acceptor_to_requestor(acceptor, requestor, codes):
    srv = acceptor(on_receive_data=lambda net, *a: net.send_abort(*codes))
    c = requestor()
    c.net.associate("127.0.0.1", srv.port, make_rq(), timeout=TIMEOUT)
    c.net.send_data(1, ECHO_RQ)
    assert c.wait("on_receive_abort") == codes
    s = srv.next()
    assert c.closed() and s.closed()
    with pytest.raises(LocalProtocolError):
        c.net.release(timeout=TIMEOUT)


def test_abort_instead_of_accept_raises_association_aborted(acceptor, requestor):
    srv = acceptor(on_receive_associate_request=lambda net, rq: net.send_abort())
    with pytest.raises(AssociationAborted) as info:
        requestor().net.associate("127.0.0.1", srv.port, make_rq(), timeout=TIMEOUT)
    assert (info.value.source, info.value.reason) == (0, 0)


# ---- P-DATA ------------------------------------------------------------------------------

CT_CONTEXTS = [
    (1, VERIFICATION_SOP_CLASS, (IMPLICIT_VR_LITTLE_ENDIAN,)),
    (3, CT, (EXPLICIT_VR_LITTLE_ENDIAN,)),
]


def test_pdata_both_ways_50_mib(acceptor, requestor):
    size = 50 * 1024 * 1024
    data = bytes(range(256)) * (size // 256)
    digest = hashlib.sha256(data).digest()
    back = data[::-1]
    store_rq = dimse(0x0001, 1, CT, dataset=True)
    store_rsp = dimse(0x8001, 1, CT, dataset=True, responding=True, status=0)
    got = {}

    def on_data(net, pc_id, command, dataset):  # the acceptor answers from the callback
        got["server"] = (pc_id, command, len(dataset), hashlib.sha256(dataset).digest())
        net.send_data(pc_id, store_rsp, back)

    srv = acceptor(on_receive_data=on_data)
    c = requestor()
    # The two directions use different maximum lengths: 65536 and the AC's 16384.
    c.net.associate("127.0.0.1", srv.port, make_rq(CT_CONTEXTS, max_length=65536), timeout=TIMEOUT)
    c.net.send_data(3, store_rq, data)
    pc_id, command, dataset = c.wait("on_receive_data", timeout=25)
    assert got["server"] == (3, store_rq, size, digest)
    assert (pc_id, command) == (3, store_rsp)
    assert len(dataset) == size and dataset == back
    s = srv.next()
    c.net.release(timeout=TIMEOUT)
    assert c.closed() and s.closed() and not s.errors
    assert len(s.args("on_receive_data")) == 1 and len(c.args("on_receive_data")) == 1
    # on_send accounts for every byte written: PDUs of one PDV with a 12-byte header each.
    for rec, limit, cmd in ((c, 16384, store_rq), (s, 65536, store_rsp)):
        sent = [(e, n) for e, t, n in rec.args("on_send") if t == 4]
        assert {e for e, _ in sent} == {0}
        assert sum(n for _, n in sent) == 12 + len(cmd) + size + 12 * -(-size // (limit - 6))


def test_dataset_sink_streams_to_a_file(acceptor, requestor, tmp_path):
    data = hashlib.sha512(b"dicomul").digest() * (5 * 1024 * 1024 // 64)
    opened = []

    def sink(pc_id, command):
        f = open(tmp_path / f"ds{len(opened)}.bin", "wb")  # noqa: SIM115 - closed below
        opened.append((pc_id, command, f))
        return f

    srv = acceptor(dataset_sink=sink)
    c = requestor()
    c.net.associate("127.0.0.1", srv.port, make_rq(CT_CONTEXTS), timeout=TIMEOUT)
    store_rq = dimse(0x0001, 1, CT, dataset=True)
    c.net.send_data(3, store_rq, io.BytesIO(data))  # a binary file is read as it is sent
    c.net.send_data(1, ECHO_RQ)  # no data set: the sink is not asked
    s = srv.next()
    (pc1, cmd1, ds1), (pc2, cmd2, ds2) = s.wait("on_receive_data"), s.wait("on_receive_data", 2)
    assert len(opened) == 1 and opened[0][:2] == (3, store_rq)
    assert (pc1, cmd1) == (3, store_rq) and ds1 is opened[0][2]
    assert (pc2, cmd2, ds2) == (1, ECHO_RQ, None)
    ds1.close()
    assert (tmp_path / "ds0.bin").read_bytes() == data
    c.net.release(timeout=TIMEOUT)
    assert c.closed() and s.closed()


def test_sends_inside_callbacks(acceptor, requestor):
    """Accept, data, release: every step is sent from inside a callback."""

    def c_on_accept(net, ac):
        net.send_data(1, ECHO_RQ)

    def c_on_data(net, pc_id, command, dataset):
        net.send_release_request()

    def s_on_data(net, pc_id, command, dataset):
        net.send_data(pc_id, ECHO_RSP)

    srv = acceptor(on_receive_data=s_on_data)
    c = requestor(on_receive_associate_accept=c_on_accept, on_receive_data=c_on_data)
    c.net.connect("127.0.0.1", srv.port)
    c.net.send_associate_request(make_rq())
    assert c.wait("on_receive_release_response") == ()
    s = srv.next()
    assert s.args("on_receive_data") == [(1, ECHO_RQ, None)]
    assert c.args("on_receive_data") == [(1, ECHO_RSP, None)]
    assert c.closed() and s.closed()
    assert not c.errors and not s.errors


# ---- local misuse, on_send -------------------------------------------------------------


def test_local_protocol_error_sends_nothing(requestor):
    c = requestor()
    with pytest.raises(LocalProtocolError):
        c.net.send_data(1, ECHO_RQ)  # never connected
    lsn = socket.create_server(("127.0.0.1", 0))
    lsn.settimeout(TIMEOUT)
    try:
        c.net.connect("127.0.0.1", lsn.getsockname()[1])
        peer, _ = lsn.accept()
        peer.settimeout(TIMEOUT)
        for send in (
            lambda: c.net.send_data(1, ECHO_RQ),
            c.net.send_release_request,
            c.net.send_release_response,
            lambda: c.net.send_associate_accept(negotiate(make_rq(), SUPPORTED)),
        ):
            with pytest.raises(LocalProtocolError):
                send()
        assert c.args("on_send") == []
        rq = make_rq()
        c.net.send_associate_request(rq)
        assert read_pdu(peer) == rq.encode()  # the first bytes on the wire are the RQ
        # (on_send runs on the loop once the write is done: the peer may read it first)
        assert c.wait("on_send") == (0, 1, len(rq.encode()))
        assert c.args("on_send") == [(0, 1, len(rq.encode()))]
        with pytest.raises(LocalProtocolError):
            c.net.send_associate_request(rq)  # Sta5
        c.net.send_abort()
        assert read_pdu(peer) == USER_ABORT
        peer.close()
        assert c.closed()
    finally:
        lsn.close()


def test_local_protocol_error_acceptor_and_established(acceptor, requestor):
    refused = []

    def on_rq(net, rq):
        for send in (
            lambda: net.send_data(1, ECHO_RQ),
            net.send_release_request,
            net.send_release_response,
            lambda: net.send_associate_request(make_rq()),
        ):
            try:
                send()
            except LocalProtocolError:
                refused.append(send)
        accept_all(net, rq)

    srv = acceptor(
        on_receive_associate_request=on_rq,
        on_receive_data=lambda net, pc, *a: net.send_data(pc, ECHO_RSP),
    )
    c = requestor()
    c.net.associate("127.0.0.1", srv.port, make_rq(), timeout=TIMEOUT)
    assert len(refused) == 4
    with pytest.raises(LocalProtocolError):
        c.net.send_release_response()  # no release was requested
    with pytest.raises(LocalProtocolError):
        c.net.send_associate_request(make_rq())
    with pytest.raises(ValueError):
        c.net.send_data(3, ECHO_RQ)  # context 3 was never proposed
    c.net.send_data(1, ECHO_RQ)  # the association is unharmed
    assert c.wait("on_receive_data") == (1, ECHO_RSP, None)
    c.net.release(timeout=TIMEOUT)
    with pytest.raises(LocalProtocolError):
        c.net.send_data(1, ECHO_RQ)  # closed
    s = srv.next()
    assert s.closed()  # on_send runs after the write: wait for the end
    assert [t for _, t, _ in s.args("on_send")] == [2, 4, 6]


def test_on_send_per_pdu(acceptor, requestor):
    srv = acceptor(on_receive_data=lambda net, pc, *a: net.send_data(pc, ECHO_RSP, None))
    c = requestor()
    rq = make_rq()
    c.net.associate("127.0.0.1", srv.port, rq, timeout=TIMEOUT)
    c.net.send_data(1, ECHO_RQ)
    c.wait("on_receive_data")
    c.net.release(timeout=TIMEOUT)
    s = srv.next()
    assert s.closed()
    assert c.args("on_send") == [(0, 1, len(rq.encode())), (0, 4, 12 + len(ECHO_RQ)), (0, 5, 10)]
    assert s.args("on_send") == [
        (0, 2, len(s.net.association.encode())),
        (0, 4, 12 + len(ECHO_RSP)),
        (0, 6, 10),
    ]


# ---- TLS -----------------------------------------------------------------------------------


def _load_make_certs():
    path = Path(__file__).parent / "certs" / "make_certs.py"
    spec = importlib.util.spec_from_file_location("dicomul_test_make_certs", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


MAKE_CERTS = _load_make_certs()


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    paths = MAKE_CERTS.make_certs(tmp_path_factory.mktemp("certs"))
    if paths is None:
        pytest.skip("neither the cryptography package nor openssl can make test certificates")
    return paths


_server_ctx, _client_ctx = MAKE_CERTS.server_context, MAKE_CERTS.client_context


def test_tls_association(acceptor, requestor, certs):
    srv = acceptor(
        ssl_context=_server_ctx(certs),
        on_receive_data=lambda net, pc, cmd, ds: net.send_data(pc, ECHO_RSP),
    )
    c = requestor(ssl_context=_client_ctx(certs))  # verifies the server cert (IP SAN)
    ac = c.net.associate("127.0.0.1", srv.port, make_rq(), timeout=TIMEOUT)
    assert ac.get_result(1) == 0
    c.net.send_data(1, ECHO_RQ)
    assert c.wait("on_receive_data") == (1, ECHO_RSP, None)
    c.net.release(timeout=TIMEOUT)
    s = srv.next()
    assert c.closed() and s.closed()
    # A client that does not trust the test CA fails verification and learns nothing.
    bad = requestor(ssl_context=_client_ctx(certs, with_ca=False))
    with pytest.raises(ssl.SSLCertVerificationError):
        bad.net.associate("127.0.0.1", srv.port, make_rq(), timeout=TIMEOUT)
    assert bad.args("on_connect") and bad.args("on_connect")[0] != (0,)
    assert_serves_tls(srv, requestor, certs)


def assert_serves_tls(srv, requestor, certs):
    c = requestor(ssl_context=_client_ctx(certs))
    c.net.associate("127.0.0.1", srv.port, make_rq(), timeout=TIMEOUT)
    c.net.release(timeout=TIMEOUT)
    assert c.closed()


def test_tls_client_to_plain_server_fails_cleanly(acceptor, requestor, certs):
    srv = acceptor()
    c = requestor(ssl_context=_client_ctx(certs), connect_timeout=5)
    t0 = time.monotonic()
    with pytest.raises((ssl.SSLError, OSError)):
        c.net.associate("127.0.0.1", srv.port, make_rq(), timeout=TIMEOUT)
    assert time.monotonic() - t0 < 5
    assert not c.net.is_connected and c.args("on_connect")[0] != (0,)
    # The plain server saw bytes that are no PDU (a TLS ClientHello) in Sta2 and closed it.
    assert srv.next().closed()
    assert_serves(srv, requestor)


def test_plain_client_to_tls_server_fails_cleanly(acceptor, requestor, certs):
    srv = acceptor(ssl_context=_server_ctx(certs, require_client=False))
    with pytest.raises(AssociationAborted):
        requestor().net.associate("127.0.0.1", srv.port, make_rq(), timeout=TIMEOUT)
    assert_serves_tls(srv, requestor, certs)


def test_tls_silent_client_does_not_block_the_listener(acceptor, requestor, certs):
    """A TCP client that connects to a TLS listener and never handshakes must not stop
    the listener from serving others (the handshake must not hold the accept loop)."""
    srv = acceptor(ssl_context=_server_ctx(certs, require_client=False))
    silent = raw_connect(srv.port)
    try:
        c = requestor(ssl_context=_client_ctx(certs), connect_timeout=3)
        c.net.associate("127.0.0.1", srv.port, make_rq(), timeout=3)
        c.net.release(timeout=3)
    finally:
        silent.close()


# ---- timers ------------------------------------------------------------------------------


def test_artim_closes_a_silent_connection(acceptor, requestor):
    srv = acceptor(artim_timeout=0.5)
    raw = raw_connect(srv.port)
    t0 = time.monotonic()
    try:
        s = srv.next()
        assert s.net.wait(5)
        elapsed = time.monotonic() - t0
        assert read_all(raw) == b""  # AA-2: close, no A-ABORT
        assert 0.4 <= elapsed < 4, elapsed
        assert s.names() == ["on_close"]
    finally:
        raw.close()
    assert_serves(srv, requestor)


def test_network_timeout_aborts_an_idle_association(acceptor, requestor):
    srv = acceptor(network_timeout=0.5)
    c = requestor()
    c.net.associate("127.0.0.1", srv.port, make_rq(), timeout=TIMEOUT)
    t0 = time.monotonic()
    assert c.wait("on_receive_abort", timeout=5) == (0, 0)
    assert 0.4 <= time.monotonic() - t0 < 4
    s = srv.next()
    assert c.closed() and s.closed()
    assert (0, 7, 10) in s.args("on_send")


# ---- peers that misbehave --------------------------------------------------------------

RQ_BYTES = make_rq().encode()
BAD_STA2 = {  # bytes sent in Sta2 -> Evt19/Evt10/Evt12/Evt13 -> AA-1: A-ABORT, source 0
    "garbage": b"GARBAGE! NOT A PDU AT ALL",
    "length_0xffffffff": bytes.fromhex("0100ffffffff") + b"\0" * 64,
    "unknown_type": bytes.fromhex("09000000000400000000"),
    "pdata": bytes.fromhex("04000000000a000000060103") + ECHO_RQ[:4],
    "release_rq": bytes.fromhex("05000000000400000000"),
    "release_rp": bytes.fromhex("06000000000400000000"),
    "associate_ac": bytes([2]) + RQ_BYTES[1:],
}


@pytest.mark.parametrize("name", sorted(BAD_STA2))
def test_bad_pdu_in_sta2_gets_aa1_and_listener_serves_next(acceptor, requestor, name):
    srv = acceptor(artim_timeout=0.5)
    raw = raw_connect(srv.port)
    try:
        raw.sendall(BAD_STA2[name])
        # AA-1: A-ABORT (service-user source, reason 0), ARTIM; Sta13 closes on ARTIM.
        assert read_all(raw) == USER_ABORT
    finally:
        raw.close()
    s = srv.next()
    assert s.closed()
    assert s.args("on_send") == [(0, 7, 10)]
    assert "on_receive_associate_request" not in s.names()
    assert_serves(srv, requestor)


@pytest.mark.parametrize("vanish", [True, False])
def test_associate_rq_header_then_vanish_or_silence(acceptor, requestor, vanish):
    srv = acceptor(artim_timeout=0.5)
    raw = raw_connect(srv.port)
    try:
        raw.sendall(RQ_BYTES[:20])  # the header says more follows
        if vanish:
            raw.shutdown(socket.SHUT_WR)  # Evt17 in Sta2: AA-5, nothing sent
        assert read_all(raw) == b""  # silence: ARTIM expires, AA-2, nothing sent
    finally:
        raw.close()
    s = srv.next()
    assert s.closed()
    assert s.args("on_send") == [] and s.names() == ["on_close"]
    assert_serves(srv, requestor)


def test_abort_pdu_in_sta2_closes_silently(acceptor, requestor):
    srv = acceptor()
    raw = raw_connect(srv.port)
    try:
        raw.sendall(USER_ABORT)  # Evt16 in Sta2: AA-2, close, nothing sent
        assert read_all(raw) == b""
    finally:
        raw.close()
    assert srv.next().closed()
    assert_serves(srv, requestor)


BAD_STA6 = {  # Evt19 in Sta6 -> AA-8: A-ABORT source 2 with the reason of the fault
    "length_0xffffffff": (bytes.fromhex("0400ffffffff") + b"\0" * 64, {4, 6}),
    "unknown_type": (bytes.fromhex("09000000000400000000"), {1}),
    "garbage": (b"GARBAGE! NOT A PDU AT ALL", {1}),
    "associate_rq": (RQ_BYTES, {2}),  # Evt6 in Sta6 -> AA-8, unexpected PDU
}


@pytest.mark.parametrize("name", sorted(BAD_STA6))
def test_bad_pdu_in_sta6_gets_aa8(acceptor, requestor, name):
    srv = acceptor(artim_timeout=0.5)
    raw = raw_connect(srv.port)
    data, reasons = BAD_STA6[name]
    try:
        raw.sendall(RQ_BYTES)
        assert read_pdu(raw)[0] == 2
        raw.sendall(data)
        ab = read_all(raw)
        assert len(ab) == 10 and ab[:9] == bytes.fromhex("070000000004000002"), ab.hex()
        assert ab[9] in reasons, ab.hex()
    finally:
        raw.close()
    s = srv.next()
    assert s.closed()
    assert s.args("on_receive_abort") == [(2, ab[9])]  # A-P-ABORT indication
    assert_serves(srv, requestor)


# ---- Net life cycle ------------------------------------------------------------------------


def test_listener_refuses_an_untaken_connection_and_wait_sees_its_close():
    lsn = Net()
    lsn.on_accept = lambda error: None  # not taken: the connection is refused
    raw = raw_connect(lsn.listen("127.0.0.1", 0))
    try:
        assert read_all(raw) == b""
        lsn.close()
        assert lsn.wait(3)
    finally:
        raw.close()


def test_nets_cost_no_thread(acceptor, requestor):
    """Every Net of the process runs on the one event loop: 20 associations (40 Nets)
    start no thread beyond the loop's."""
    threads = set()

    def on_request(net, rq):
        threads.add(threading.current_thread().name)
        accept_all(net, rq)

    srv = acceptor(on_receive_associate_request=on_request)
    requestor().net.associate("127.0.0.1", srv.port, make_rq(), timeout=TIMEOUT)
    before = threading.active_count()
    nets = [requestor() for _ in range(20)]
    for c in nets:
        c.net.associate("127.0.0.1", srv.port, make_rq(), timeout=TIMEOUT)
    assert all(c.net.is_associated for c in nets)
    assert threading.active_count() == before
    assert threads == {"dicomul-loop"}  # the callbacks of every Net run on the one loop
    for c in nets:
        c.net.release(timeout=TIMEOUT)
        assert c.closed()


def test_a_blocking_call_inside_a_callback_raises_instead_of_deadlocking(acceptor, requestor):
    seen = []

    def on_request(net, rq):
        try:
            net.wait(1)
        except RuntimeError as exc:
            seen.append(str(exc))
        accept_all(net, rq)

    srv = acceptor(on_receive_associate_request=on_request)
    c = requestor()
    c.net.associate("127.0.0.1", srv.port, make_rq(), timeout=TIMEOUT)
    assert seen and "inside a callback" in seen[0]
    c.net.release(timeout=TIMEOUT)


def test_close_after_end_reports_the_end_once(acceptor, requestor):
    srv = acceptor()
    c = requestor()
    c.net.associate("127.0.0.1", srv.port, make_rq(), timeout=TIMEOUT)
    s = srv.next()
    c.net.release(timeout=TIMEOUT)
    assert s.closed()
    s.net.close()
    assert s.net.wait(1)
    assert s.names().count("on_close") == 1
