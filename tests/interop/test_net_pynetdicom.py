"""dicomul.sync.net.Net against pynetdicom (3.x) live over 127.0.0.1, both directions.

pynetdicom as requestor (``AE.associate``) against a dicomul acceptor: negotiated contexts
and transfer syntaxes as pynetdicom sees them, context results 3 and 4, A-ASSOCIATE-RJ
codes, role selection, user identity, C-ECHO (command decoded with pydicom, the answer
encoded by hand), release and abort both ways. dicomul as requestor against a pynetdicom
acceptor (``AE.start_server``): accept, reject (called / calling AE title), release,
abort and C-ECHO. PEERS.md: no unknown user-information items are sent to pynetdicom.
"""

from __future__ import annotations

import threading

import pytest

pynetdicom = pytest.importorskip("pynetdicom")

from pydicom.uid import (  # noqa: E402
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
)
from pynetdicom import AE, build_role, evt  # noqa: E402
from pynetdicom.pdu_primitives import UserIdentityNegotiation  # noqa: E402

from dicomul import (  # noqa: E402
    VERIFICATION_SOP_CLASS,
    Associate,
    AssociationRejected,
    UserIdentity,
)
from dicomul.ul.negotiation import SupportedContexts, negotiate  # noqa: E402

from .conftest import TIMEOUT, c_echo_rq, c_echo_rsp, read_command  # noqa: E402

pytestmark = [pytest.mark.interop, pytest.mark.timeout(30)]

CT = "1.2.840.10008.5.1.4.1.1.2"
MR = "1.2.840.10008.5.1.4.1.1.4"
UNKNOWN = "1.2.826.0.1.3680043.10.1417.99.1"
SUPPORTED = (
    SupportedContexts()
    .verification()
    .add(CT, [ExplicitVRLittleEndian, ImplicitVRLittleEndian])
    .add(MR, [ImplicitVRLittleEndian])
)


def _ae(title="PYNET_SCU") -> AE:
    ae = AE(ae_title=title)
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = TIMEOUT
    return ae


@pytest.fixture
def assocs():
    """pynetdicom associations opened by a test, aborted at the end if still open."""
    opened = []
    yield opened
    for a in opened:
        if a.is_established:
            a.abort()


def _associate(assocs, ae, port, **kw):
    a = ae.associate("127.0.0.1", port, ae_title="DICOMUL_SCP", **kw)
    assocs.append(a)
    return a


# ---- pynetdicom requestor -> dicomul acceptor ------------------------------------------


def test_pynetdicom_sees_contexts_as_negotiated(acceptor, assocs):
    acs = []

    def on_rq(net, rq):
        acs.append(negotiate(rq, SUPPORTED))
        net.send_associate_accept(acs[-1])

    scp = acceptor(on_receive_associate_request=on_rq)
    ae = _ae()
    ae.add_requested_context(
        VERIFICATION_SOP_CLASS, [ImplicitVRLittleEndian, ExplicitVRLittleEndian]
    )
    ae.add_requested_context(CT, [ExplicitVRBigEndian])  # supported, not with this TS: 4
    ae.add_requested_context(UNKNOWN, [ImplicitVRLittleEndian])  # not supported: 3
    ae.add_requested_context(CT, [ImplicitVRLittleEndian, ExplicitVRLittleEndian])
    a = _associate(assocs, ae, scp.port)
    assert a.is_established
    accepted = {
        cx.context_id: (cx.abstract_syntax, cx.transfer_syntax[0]) for cx in a.accepted_contexts
    }
    # dicomul's acceptor takes its own first preference among the proposed ones.
    assert accepted == {
        1: (VERIFICATION_SOP_CLASS, ExplicitVRLittleEndian),
        7: (CT, ExplicitVRLittleEndian),
    }
    assert {cx.context_id: (cx.abstract_syntax, cx.result) for cx in a.rejected_contexts} == {
        3: (CT, 4),
        5: (UNKNOWN, 3),
    }
    assert {pc.id: pc.result for pc in acs[0].presentation_contexts} == {1: 0, 3: 4, 5: 3, 7: 0}
    s = scp.next()
    rq = s.args("on_receive_associate_request")[0][0]
    assert (rq.called, rq.calling) == ("DICOMUL_SCP", "PYNET_SCU")
    assert rq.user_info == []  # pynetdicom sends only items dicomul has a typed API for
    a.release()
    assert a.is_released and s.closed()


@pytest.mark.parametrize("codes", [(1, 1, 7), (1, 1, 3), (2, 3, 1), (1, 2, 2)])
def test_pynetdicom_sees_reject(acceptor, assocs, codes):
    # ARTIM bounds Sta13 on our side should pynetdicom be slow to close after the RJ
    scp = acceptor(
        on_receive_associate_request=lambda net, rq: net.send_associate_reject(*codes),
        artim_timeout=3.0,
    )
    ae = _ae()
    ae.add_requested_context(VERIFICATION_SOP_CLASS)
    for _attempt in range(3):
        a = _associate(assocs, ae, scp.port)
        # Under load pynetdicom sometimes reports an abort with no primitive although our
        # side wrote the RJ and then waited in Sta13 for it to close (its own race
        # between reading the RJ and the transport closing): try again, at most twice.
        if not (a.is_aborted and a.acceptor.primitive is None):
            break
    assert a.is_rejected and not a.is_established, (
        f"aborted={a.is_aborted} established={a.is_established} primitive={a.acceptor.primitive!r}"
    )
    rsp = a.acceptor.primitive
    assert (rsp.result, rsp.result_source, rsp.diagnostic) == codes
    assert scp.next().closed()


def test_role_selection_answered(acceptor, assocs):
    roles = {CT: (True, True), MR: (False, True)}
    scp = acceptor(
        on_receive_associate_request=lambda net, rq: net.send_associate_accept(
            negotiate(rq, SUPPORTED, roles=roles)
        )
    )
    ae = _ae()
    ae.add_requested_context(CT, [ExplicitVRLittleEndian])
    ae.add_requested_context(MR, [ImplicitVRLittleEndian])
    ae.add_requested_context(VERIFICATION_SOP_CLASS)
    ext = [
        build_role(CT, scu_role=True, scp_role=True),
        build_role(MR, scu_role=True, scp_role=True),
    ]
    a = _associate(assocs, ae, scp.port, ext_neg=ext)
    assert a.is_established
    got = {cx.abstract_syntax: (cx.as_scu, cx.as_scp) for cx in a.accepted_contexts}
    # PS3.7 D.3.3.4: the requestor's roles are what both agreed; Verification has none.
    assert got == {CT: (True, True), MR: (False, True), VERIFICATION_SOP_CLASS: (True, False)}
    s = scp.next()
    rq = s.args("on_receive_associate_request")[0][0]
    assert rq.role_selections == {CT: (1, 1), MR: (1, 1)}
    assert s.net.association.role_selections == {CT: (1, 1), MR: (0, 1)}
    a.release()
    assert s.closed()


@pytest.mark.parametrize("ident", [(2, b"alice", b"s3cret", False), (1, b"bob", b"", True)])
def test_user_identity_visible(acceptor, assocs, ident):
    scp = acceptor(
        on_receive_associate_request=lambda net, rq: net.send_associate_accept(
            negotiate(rq, SUPPORTED, user_identity_response=lambda ui: b"")
        )
    )
    ui = UserIdentityNegotiation()
    ui.user_identity_type, ui.primary_field = ident[0], ident[1]
    if ident[2]:
        ui.secondary_field = ident[2]
    ui.positive_response_requested = ident[3]
    ae = _ae()
    ae.add_requested_context(VERIFICATION_SOP_CLASS)
    a = _associate(assocs, ae, scp.port, ext_neg=[ui])
    assert a.is_established
    s = scp.next()
    rq = s.args("on_receive_associate_request")[0][0]
    assert rq.user_identity == UserIdentity(*ident)
    # A positive response was asked for: a 59H item with an empty server response.
    assert s.net.association.user_identity_response == (b"" if ident[3] else None)
    a.release()
    assert s.closed()


def test_c_echo_from_pynetdicom(acceptor, assocs):
    seen = []

    def on_data(net, pc_id, command, dataset):
        seen.append((pc_id, read_command(command), dataset))
        net.send_data(pc_id, c_echo_rsp(command))

    scp = acceptor(on_receive_data=on_data)
    ae = _ae()
    ae.add_requested_context(VERIFICATION_SOP_CLASS)
    a = _associate(assocs, ae, scp.port)
    for msg_id in (5, 6):
        status = a.send_c_echo(msg_id=msg_id)
        assert status.Status == 0x0000
    pc_id, cmd, dataset = seen[0]
    assert pc_id == 1 and dataset is None
    assert cmd.CommandField == 0x0030 and cmd.MessageID == 5
    assert cmd.AffectedSOPClassUID == VERIFICATION_SOP_CLASS
    assert cmd.CommandDataSetType == 0x0101
    assert seen[1][1].MessageID == 6
    a.release()
    assert a.is_released
    s = scp.next()
    assert s.args("on_receive_release_request") == [()] and s.closed()
    assert not s.errors


def test_abort_from_pynetdicom(acceptor, assocs):
    scp = acceptor()
    ae = _ae()
    ae.add_requested_context(VERIFICATION_SOP_CLASS)
    a = _associate(assocs, ae, scp.port)
    s = scp.next()
    a.abort()
    assert a.is_aborted
    assert s.wait("on_receive_abort") == (0, 0)
    assert s.closed()


def test_abort_seen_by_pynetdicom(acceptor, assocs):
    scp = acceptor(on_receive_data=lambda net, *a: net.send_abort())
    ae = _ae()
    ae.add_requested_context(VERIFICATION_SOP_CLASS)
    a = _associate(assocs, ae, scp.port)
    aborted = threading.Event()
    a.bind(evt.EVT_ABORTED, lambda event: aborted.set())
    status = a.send_c_echo()
    assert "Status" not in status  # no answer: the association was aborted
    assert aborted.wait(TIMEOUT) and a.is_aborted
    assert scp.next().closed()


# ---- dicomul requestor -> pynetdicom acceptor ------------------------------------------

PYNET_TS = [ImplicitVRLittleEndian, ExplicitVRLittleEndian, ExplicitVRBigEndian]


@pytest.fixture
def pynet_scp():
    """A pynetdicom acceptor on a free port, shut down at the end; returns (port, events)."""
    ae = _ae("PYNET_SCP")
    ae.add_supported_context(VERIFICATION_SOP_CLASS, PYNET_TS)
    ae.require_called_aet = True
    seen: dict[str, threading.Event] = {
        n: threading.Event() for n in ("released", "aborted", "echo")
    }
    handlers = [
        (evt.EVT_RELEASED, lambda e: seen["released"].set()),
        (evt.EVT_ABORTED, lambda e: seen["aborted"].set()),
        (evt.EVT_C_ECHO, lambda e: (seen["echo"].set(), 0x0000)[1]),
    ]
    server = ae.start_server(("127.0.0.1", 0), block=False, evt_handlers=handlers)
    try:
        yield ae, server.server_address[1], seen
    finally:
        server.shutdown()


def _rq(called="PYNET_SCP", calling="DICOMUL_SCU") -> Associate:
    rq = Associate().default_associate()
    rq.called, rq.calling = called, calling
    rq.add_presentation(
        1, VERIFICATION_SOP_CLASS, 0, [ExplicitVRLittleEndian, ImplicitVRLittleEndian]
    )
    rq.add_presentation(3, UNKNOWN, 0, [ImplicitVRLittleEndian])
    return rq


def test_dicomul_requestor_accepted(pynet_scp, requestor):
    _ae_, port, seen = pynet_scp
    c = requestor()
    rq = _rq()
    ac = c.net.associate("127.0.0.1", port, rq, timeout=TIMEOUT)
    got = [
        (pc.id, pc.result, pc.transfer_syntaxes[:1] if pc.result == 0 else ())
        for pc in ac.presentation_contexts
    ]
    # pynetdicom walks its own transfer syntax list: what dicomul's negotiate() would do.
    mine = negotiate(rq, {VERIFICATION_SOP_CLASS: PYNET_TS})
    assert got == [
        (pc.id, pc.result, pc.transfer_syntaxes[:1] if pc.result == 0 else ())
        for pc in mine.presentation_contexts
    ]
    assert got == [(1, 0, (ImplicitVRLittleEndian,)), (3, 3, ())]
    assert ac.get_abstract(1) == VERIFICATION_SOP_CLASS  # back-filled from the RQ
    assert ac.max_length == 16382  # pynetdicom's default
    c.net.release(timeout=TIMEOUT)
    assert c.args("on_receive_release_response") == [()] and c.closed()
    assert seen["released"].wait(TIMEOUT)


@pytest.mark.parametrize("which", ["called", "calling"])
def test_dicomul_requestor_rejected(pynet_scp, requestor, which):
    ae, port, _seen = pynet_scp
    ae.require_calling_aet = ["DICOMUL_SCU"]
    rq = _rq(called="WRONG_AE") if which == "called" else _rq(calling="STRANGER")
    c = requestor()
    with pytest.raises(AssociationRejected) as info:
        c.net.associate("127.0.0.1", port, rq, timeout=TIMEOUT)
    codes = (1, 1, 7) if which == "called" else (1, 1, 3)
    assert (info.value.result, info.value.source, info.value.reason) == codes
    assert c.args("on_receive_associate_reject") == [codes] and c.closed()


def test_dicomul_requestor_abort(pynet_scp, requestor):
    _ae_, port, seen = pynet_scp
    c = requestor()
    c.net.associate("127.0.0.1", port, _rq(), timeout=TIMEOUT)
    c.net.send_abort()
    assert seen["aborted"].wait(TIMEOUT)
    assert c.closed()  # pynetdicom closes the transport (Sta13 -> Sta1)
    assert "on_receive_abort" not in c.names()


def test_dicomul_requestor_c_echo(pynet_scp, requestor):
    _ae_, port, seen = pynet_scp
    c = requestor()
    c.net.associate("127.0.0.1", port, _rq(), timeout=TIMEOUT)
    c.net.send_data(1, c_echo_rq(9))
    pc_id, command, dataset = c.wait("on_receive_data")
    assert seen["echo"].is_set()
    rsp = read_command(command)
    assert (pc_id, dataset) == (1, None)
    assert rsp.CommandField == 0x8030 and rsp.MessageIDBeingRespondedTo == 9
    assert rsp.Status == 0x0000 and rsp.CommandDataSetType == 0x0101
    assert rsp.AffectedSOPClassUID == VERIFICATION_SOP_CLASS
    c.net.release(timeout=TIMEOUT)
    assert c.closed() and seen["released"].wait(TIMEOUT)
