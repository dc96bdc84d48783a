"""dicomul.sync.net.Net against DCMTK 3.6.7 live over 127.0.0.1.

A dicomul requestor against ``storescp`` (started here on a free port with ``--ignore``):
the contexts as storescp negotiates them (the same as the stored vector's, see
capture_dcmtk.SCP_AC_RESULTS), C-ECHO, release, abort both ways (``--abort-after``), and
A-ASSOCIATE-RJ: storescp 3.6.7 does not check the called AE title, so the rejects it can
be made to send are ``--reject`` (an RQ without implementation class UID) and
``--refuse``. DCMTK ``echoscu`` against a dicomul acceptor: ``--repeat 3`` C-ECHOs arrive
intact and are answered, a wrong called AE title is rejected, ``--abort`` is seen.

DCMTK's real binaries are found by ``--version`` (pyenv shims of pynetdicom's scripts may
shadow them on PATH); every process runs with TCP_NODELAY=1 and is stopped by its PID.
"""

from __future__ import annotations

import struct
import subprocess
import time

import pytest

from dicomul import (
    EXPLICIT_VR_LITTLE_ENDIAN,
    VERIFICATION_SOP_CLASS,
    Associate,
    AssociationRejected,
)
from dicomul.ul.negotiation import check_request

from . import capture_dcmtk as cap
from .conftest import TIMEOUT, accept_all, c_echo_rq, c_echo_rsp, read_command

pytestmark = [pytest.mark.interop, pytest.mark.timeout(30)]

SCP_AET = "STORESCP_TEST"
DCMTK_TIMEOUTS = ["-ta", "10", "-td", "10"]


def scp_rq(with_impl_uid: bool = True, called: str = SCP_AET) -> Associate:
    """The A-ASSOCIATE-RQ capture_dcmtk sends storescp, built with the Associate API."""
    rq = Associate().default_associate()
    rq.called, rq.calling = called, cap.SCP_CALLING
    rq.set_max_length(True, 32768)
    if not with_impl_uid:
        rq.set_implement_class(False)
    for pc_id, _result, abstract, ts in cap.SCP_RQ_PCS:
        rq.add_presentation(pc_id, abstract, 0, ts)
    rq.set_role_select(3, True, 1, 1)
    return rq


def start_storescp(dcmtk, procs, port, *extra):
    return procs(
        [
            dcmtk("storescp"),
            "--ignore",
            "-aet",
            SCP_AET,
            "-pdu",
            "65536",
            *DCMTK_TIMEOUTS,
            *extra,
            str(port),
        ]
    )


def associate_when_up(requestor, proc, port, rq, **handlers):
    """Net.associate() to a process that may not listen yet: a refused connection is
    retried, each retry paced by a timed wait on the process (which notices it dying)."""
    deadline = time.monotonic() + TIMEOUT
    while True:
        c = requestor(**handlers)
        try:
            return c, c.net.associate("127.0.0.1", port, rq, timeout=TIMEOUT)
        except ConnectionRefusedError:
            if time.monotonic() > deadline:
                raise
            try:
                proc.wait(timeout=0.05)
            except subprocess.TimeoutExpired:
                continue
            raise RuntimeError(f"exited with {proc.returncode}: {cap._stop(proc)}") from None


def _store_rq(msg_id: int, instance: str) -> bytes:
    els = [
        ((0x0000, 0x0002), (cap.CT_IMAGE + "\0").encode()),
        ((0x0000, 0x0100), struct.pack("<H", 0x0001)),
        ((0x0000, 0x0110), struct.pack("<H", msg_id)),
        ((0x0000, 0x0700), struct.pack("<H", 0)),
        ((0x0000, 0x0800), struct.pack("<H", 0x0102)),
        ((0x0000, 0x1000), instance.encode()),
    ]
    body = b"".join(cap._implicit(t, v) for t, v in els)
    return cap._implicit((0x0000, 0x0000), struct.pack("<I", len(body))) + body


def _explicit_ui(group: int, elem: int, uid: str) -> bytes:
    value = uid.encode() + (b"\0" if len(uid) % 2 else b"")
    return struct.pack("<HH2sH", group, elem, b"UI", len(value)) + value


# ---- dicomul requestor -> storescp ------------------------------------------------------


def test_storescp_accepts_as_it_negotiates(dcmtk, procs, free_port, requestor):
    proc = start_storescp(dcmtk, procs, free_port)
    rq = scp_rq()
    c, ac = associate_when_up(requestor, proc, free_port, rq)
    got = {
        pc.id: (pc.result, pc.transfer_syntaxes[0] if pc.transfer_syntaxes else None)
        for pc in ac.presentation_contexts
    }
    accepted = {k: v for k, v in cap.SCP_AC_RESULTS.items() if v[0] == 0}
    assert {k: v for k, v in got.items() if v[0] == 0} == accepted
    assert {k: v[0] for k, v in got.items()} == {k: v[0] for k, v in cap.SCP_AC_RESULTS.items()}
    assert ac.implementation_class_uid == cap.DCMTK_IMPL_CLASS_UID
    assert ac.max_length == 65536 and ac.get_abstract(3) == cap.CT_IMAGE
    assert c.net.is_associated
    # C-ECHO on the Verification context: storescp answers status 0.
    c.net.send_data(1, c_echo_rq(11))
    pc_id, command, dataset = c.wait("on_receive_data")
    rsp = read_command(command)
    assert (pc_id, dataset) == (1, None)
    assert (rsp.CommandField, rsp.MessageIDBeingRespondedTo, rsp.Status) == (0x8030, 11, 0)
    c.net.release(timeout=TIMEOUT)
    assert c.args("on_receive_release_response") == [()] and c.closed()
    assert proc.poll() is None  # storescp keeps serving


@pytest.mark.parametrize("option", ["--reject", "--refuse"])
def test_storescp_rejects(dcmtk, procs, free_port, requestor, option):
    proc = start_storescp(dcmtk, procs, free_port, option)
    with pytest.raises(AssociationRejected) as info:
        associate_when_up(requestor, proc, free_port, scp_rq(with_impl_uid=False))
    # storescp 3.6.7: permanent, service-user, no reason given (both options).
    assert (info.value.result, info.value.source, info.value.reason) == (1, 1, 1)


def test_storescp_abort_from_dicomul(dcmtk, procs, free_port, requestor):
    proc = start_storescp(dcmtk, procs, free_port)
    c, _ac = associate_when_up(requestor, proc, free_port, scp_rq())
    c.net.send_abort()
    assert c.closed()  # Sta13 until storescp closes the transport
    assert (0, 7, 10) in c.args("on_send") and "on_receive_abort" not in c.names()
    # storescp survived the abort: a second association works.
    c2, _ = associate_when_up(requestor, proc, free_port, scp_rq())
    c2.net.release(timeout=TIMEOUT)
    assert c2.closed()


def test_storescp_abort_seen_by_dicomul(dcmtk, procs, free_port, requestor):
    proc = start_storescp(dcmtk, procs, free_port, "--abort-after")
    c, ac = associate_when_up(requestor, proc, free_port, scp_rq())
    assert ac.get_transfer(3) == EXPLICIT_VR_LITTLE_ENDIAN
    instance = "1.2.826.0.1.3680043.10.1417.7.1"
    dataset = _explicit_ui(0x0008, 0x0016, cap.CT_IMAGE) + _explicit_ui(0x0008, 0x0018, instance)
    c.net.send_data(3, _store_rq(1, instance), dataset)
    assert c.wait("on_receive_abort") == (0, 0)
    assert c.closed()


# ---- echoscu -> dicomul acceptor -----------------------------------------------------------


def _echoscu(dcmtk, procs, port, *extra, aec="DICOMUL_SCP"):
    return procs(
        [
            dcmtk("echoscu"),
            "-aet",
            "ECHOSCU",
            "-aec",
            aec,
            "-to",
            "10",
            "-ta",
            "10",
            "-td",
            "10",
            *extra,
            "127.0.0.1",
            str(port),
        ]
    )


def _finish(procs, proc) -> tuple[int, str]:
    status = proc.wait(timeout=TIMEOUT)
    return status, procs.output(proc)


def test_echoscu_repeat_against_dicomul(dcmtk, procs, acceptor):
    seen = []

    def on_data(net, pc_id, command, dataset):
        seen.append((pc_id, read_command(command), dataset))
        net.send_data(pc_id, c_echo_rsp(command))

    scp = acceptor(on_receive_data=on_data)
    proc = _echoscu(dcmtk, procs, scp.port, "--repeat", "3")
    s = scp.next()
    status, output = _finish(procs, proc)
    assert status == 0, output
    assert s.closed()
    rq = s.args("on_receive_associate_request")[0][0]
    assert (rq.called, rq.calling) == ("DICOMUL_SCP", "ECHOSCU")
    assert rq.implementation_class_uid == cap.DCMTK_IMPL_CLASS_UID
    assert len(seen) == 3
    for pc_id, cmd, dataset in seen:
        assert pc_id in s.net.association.find_abstracts(VERIFICATION_SOP_CLASS)
        assert dataset is None
        assert cmd.CommandField == 0x0030 and cmd.CommandDataSetType == 0x0101
        assert cmd.AffectedSOPClassUID == VERIFICATION_SOP_CLASS
    ids = [cmd.MessageID for _, cmd, _ in seen]
    assert len(set(ids)) == 3 and ids == sorted(ids)
    assert s.args("on_receive_release_request") == [()]
    assert [t for _, t, _ in s.args("on_send")] == [2, 4, 4, 4, 6]
    assert not s.errors


def test_echoscu_rejected_by_dicomul(dcmtk, procs, acceptor):
    def policy(net, rq):
        rj = check_request(rq, called=["DICOMUL_SCP"])
        if rj is None:
            accept_all(net, rq)
        else:
            net.send_associate_reject(rj.result, rj.source, rj.reason)

    scp = acceptor(on_receive_associate_request=policy)
    proc = _echoscu(dcmtk, procs, scp.port, aec="NOT_THIS_ONE")
    s = scp.next()
    status, output = _finish(procs, proc)
    assert status != 0
    assert "Association Rejected" in output, output
    assert "Called AE Title Not Recognized" in output, output
    assert s.closed() and s.args("on_send") == [(0, 3, 10)]


def test_echoscu_abort_seen_by_dicomul(dcmtk, procs, acceptor):
    scp = acceptor(on_receive_data=lambda net, pc, cmd, ds: net.send_data(pc, c_echo_rsp(cmd)))
    proc = _echoscu(dcmtk, procs, scp.port, "--abort")
    s = scp.next()
    status, output = _finish(procs, proc)
    assert status == 0, output
    assert s.wait("on_receive_abort") == (0, 0)
    assert s.closed()
    assert "on_receive_release_request" not in s.names()
