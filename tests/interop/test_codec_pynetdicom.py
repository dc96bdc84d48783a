"""The PDU codec against pynetdicom's PDU classes as an oracle, in both directions.

pynetdicom -> dicomul: PDUs built with pynetdicom (``from_primitive`` + ``encode``) are
decoded with ``_core`` and every field is compared with the fields of pynetdicom's objects.
dicomul -> pynetdicom: PDUs encoded with ``_core`` are decoded with pynetdicom and every
field is compared with what was encoded. Where both encoders are given the same items in
the same order, the bytes must be identical.
"""

from __future__ import annotations

import pytest

pytest.importorskip("pynetdicom")

from pynetdicom.pdu import (  # noqa: E402
    A_ABORT_RQ,
    A_ASSOCIATE_AC,
    A_ASSOCIATE_RJ,
    A_ASSOCIATE_RQ,
    A_RELEASE_RP,
    A_RELEASE_RQ,
    P_DATA_TF,
)
from pynetdicom.pdu_items import (  # noqa: E402
    AsynchronousOperationsWindowSubItem,
    ImplementationClassUIDSubItem,
    ImplementationVersionNameSubItem,
    MaximumLengthSubItem,
    PresentationContextItemAC,
    PresentationContextItemRQ,
    SCP_SCU_RoleSelectionSubItem,
    SOPClassCommonExtendedNegotiationSubItem,
    SOPClassExtendedNegotiationSubItem,
    UserIdentitySubItemAC,
    UserIdentitySubItemRQ,
)
from pynetdicom.pdu_primitives import (  # noqa: E402
    A_ABORT,
    A_ASSOCIATE,
    A_P_ABORT,
    P_DATA,
    AsynchronousOperationsWindowNegotiation,
    ImplementationClassUIDNotification,
    ImplementationVersionNameNotification,
    MaximumLengthNotification,
    SCP_SCU_RoleSelectionNegotiation,
    SOPClassCommonExtendedNegotiation,
    SOPClassExtendedNegotiation,
    UserIdentityNegotiation,
)
from pynetdicom.presentation import PresentationContext  # noqa: E402

from dicomul.ul import _core  # noqa: E402

pytestmark = pytest.mark.interop

APP_CONTEXT = "1.2.840.10008.3.1.1.1"
TRANSFER_SYNTAXES = [
    "1.2.840.10008.1.2",
    "1.2.840.10008.1.2.1",
    "1.2.840.10008.1.2.2",
    "1.2.840.10008.1.2.1.99",
    "1.2.840.10008.1.2.4.50",
]
CT = "1.2.840.10008.5.1.4.1.1.2"
MR = "1.2.840.10008.5.1.4.1.1.4"
IMPL_UID = "1.2.826.0.1.3680043.10.1417.1"  # odd length: no padding on either side
IMPL_NAME = "DICOMUL_010"
N_CONTEXTS = [1, 16, 128]
# (type, primary, secondary, positive response requested) for the 5 user identity types
# (PS3.7 D.3.3.7): username, username+passcode, Kerberos ticket, SAML assertion, JWT.
USER_IDS = {
    1: (b"alice", b"", False),
    2: (b"alice", b"s3cret-passcode", True),
    3: (bytes(range(256)) * 3, b"", True),  # a binary "ticket" longer than 255 bytes
    4: (b"<saml:Assertion>ok</saml:Assertion>", b"", True),
    5: (b"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhIn0.c2ln", b"", False),
}


# ---- building PDUs with pynetdicom ------------------------------------------------------


def _contexts(n: int) -> list[tuple[int, str, list[str]]]:
    """n contexts: odd IDs 1..2n-1, varying abstract syntaxes and 1..5 transfer syntaxes."""
    out = []
    for i in range(n):
        abstract = CT if i % 3 == 0 else MR if i % 3 == 1 else f"1.2.840.10008.5.1.4.1.1.{i}"
        out.append((2 * i + 1, abstract, TRANSFER_SYNTAXES[: i % 5 + 1]))
    return out


def _ac_results(n: int) -> list[tuple[int, int, str]]:
    """(id, result, ts) for n contexts, cycling through results 0..4 (PS3.8 Table 9-18)."""
    return [(pc_id, k % 5, ts[-1]) for k, (pc_id, _a, ts) in enumerate(_contexts(n))]


def _pn_user_rq(id_type: int) -> list:
    ml = MaximumLengthNotification()
    ml.maximum_length_received = 16382
    ic = ImplementationClassUIDNotification()
    ic.implementation_class_uid = IMPL_UID
    iv = ImplementationVersionNameNotification()
    iv.implementation_version_name = IMPL_NAME
    aw = AsynchronousOperationsWindowNegotiation()
    aw.maximum_number_operations_invoked = 5
    aw.maximum_number_operations_performed = 0  # 0 = unlimited
    roles = []
    for uid, scu, scp in [(CT, True, False), (MR, True, True)]:
        r = SCP_SCU_RoleSelectionNegotiation()
        r.sop_class_uid, r.scu_role, r.scp_role = uid, scu, scp
        roles.append(r)
    en = SOPClassExtendedNegotiation()
    en.sop_class_uid = CT
    en.service_class_application_information = b"\x01\x00\x01\x00\x01\x01"
    ce = SOPClassCommonExtendedNegotiation()
    ce.sop_class_uid = "1.2.840.10008.5.1.4.1.1.88.22"
    ce.service_class_uid = "1.2.840.10008.4.2"
    ce.related_general_sop_class_identification = [
        "1.2.840.10008.5.1.4.1.1.88.11",
        "1.2.840.10008.5.1.4.1.1.88.33",
    ]
    ui = UserIdentityNegotiation()
    primary, secondary, positive = USER_IDS[id_type]
    ui.user_identity_type = id_type
    ui.positive_response_requested = positive
    ui.primary_field = primary
    ui.secondary_field = secondary
    return [ml, ic, iv, aw, *roles, en, ce, ui]


def _pn_user_ac() -> list:
    ml = MaximumLengthNotification()
    ml.maximum_length_received = 0  # 0 = no maximum
    ic = ImplementationClassUIDNotification()
    ic.implementation_class_uid = "1.2.3.4.5.6.7.8"
    iv = ImplementationVersionNameNotification()
    iv.implementation_version_name = "ACCEPTOR_1234567"  # 16 chars, the maximum
    aw = AsynchronousOperationsWindowNegotiation()
    aw.maximum_number_operations_invoked = 1
    aw.maximum_number_operations_performed = 1
    r = SCP_SCU_RoleSelectionNegotiation()
    r.sop_class_uid, r.scu_role, r.scp_role = MR, True, False
    en = SOPClassExtendedNegotiation()
    en.sop_class_uid = CT
    en.service_class_application_information = b"\x01\x00\x00\x00"
    ui = UserIdentityNegotiation()
    ui.server_response = b"server-response-token"
    return [ml, ic, iv, aw, r, en, ui]


def pn_rq(n: int, id_type: int) -> A_ASSOCIATE_RQ:
    p = A_ASSOCIATE()
    p.application_context_name = APP_CONTEXT
    p.calling_ae_title = "PYNETDICOM"
    p.called_ae_title = "ANY-SCP"
    cxs = []
    for pc_id, abstract, ts in _contexts(n):
        cx = PresentationContext()
        cx.context_id, cx.abstract_syntax, cx.transfer_syntax = pc_id, abstract, ts
        cxs.append(cx)
    p.presentation_context_definition_list = cxs
    p.user_information = _pn_user_rq(id_type)
    pdu = A_ASSOCIATE_RQ()
    pdu.from_primitive(p)
    return pdu


def pn_ac(n: int) -> A_ASSOCIATE_AC:
    p = A_ASSOCIATE()
    p.application_context_name = APP_CONTEXT
    p.calling_ae_title = "PYNETDICOM"
    p.called_ae_title = "ANY-SCP"
    p.result = 0
    cxs = []
    for pc_id, result, ts in _ac_results(n):
        cx = PresentationContext()
        cx.context_id, cx.result, cx.transfer_syntax = pc_id, result, [ts]
        cxs.append(cx)
    p.presentation_context_definition_results_list = cxs
    p.user_information = _pn_user_ac()
    pdu = A_ASSOCIATE_AC()
    pdu.from_primitive(p)
    return pdu


# ---- pynetdicom objects -> the _core tuple shape -----------------------------------------


def _pn_user_item(it) -> tuple:
    """One pynetdicom sub-item object, read through its attributes, as a _core tuple."""
    if isinstance(it, MaximumLengthSubItem):
        return (0x51, it.maximum_length_received)
    if isinstance(it, ImplementationClassUIDSubItem):
        return (0x52, str(it.implementation_class_uid))
    if isinstance(it, AsynchronousOperationsWindowSubItem):
        return (0x53, it.maximum_number_operations_invoked, it.maximum_number_operations_performed)
    if isinstance(it, SCP_SCU_RoleSelectionSubItem):
        return (0x54, str(it.sop_class_uid), it.scu, it.scp)
    if isinstance(it, ImplementationVersionNameSubItem):
        name = it.implementation_version_name
        return (0x55, name.decode("ascii") if isinstance(name, bytes) else name)
    if isinstance(it, SOPClassExtendedNegotiationSubItem):
        return (0x56, str(it.sop_class_uid), bytes(it.service_class_application_information))
    if isinstance(it, SOPClassCommonExtendedNegotiationSubItem):
        return (
            0x57,
            str(it.sop_class_uid),
            str(it.service_class_uid),
            [str(u) for u in it.related_general_sop_class_identification],
        )
    if isinstance(it, UserIdentitySubItemRQ):
        return (
            0x58,
            it.user_identity_type,
            it.positive_response_requested,
            bytes(it.primary_field),
            bytes(it.secondary_field or b""),
        )
    if isinstance(it, UserIdentitySubItemAC):
        return (0x59, bytes(it.server_response))
    raise AssertionError(f"unexpected pynetdicom item {it!r}")


def pn_fields(pdu) -> tuple:
    """A pynetdicom A-ASSOCIATE-RQ/AC object as the tuple _core.decode_associate returns."""
    pcs = []
    for cx in pdu.presentation_context:
        if isinstance(cx, PresentationContextItemRQ):
            pcs.append(
                [cx.context_id, 0, str(cx.abstract_syntax), [str(t) for t in cx.transfer_syntax]]
            )
        else:
            assert isinstance(cx, PresentationContextItemAC)
            pcs.append([cx.context_id, cx.result, None, [str(cx.transfer_syntax)]])
    user = [_pn_user_item(it) for it in pdu.user_information.user_data]
    return (
        pdu.pdu_type,
        pdu.protocol_version,
        pdu.called_ae_title.strip(),
        pdu.calling_ae_title.strip(),
        str(pdu.application_context_name),
        pcs,
        user,
    )


def _as_primitive_user(prim) -> dict:
    """The user information of an A_ASSOCIATE primitive, by class, in comparable form."""
    out: dict = {}
    for it in prim.user_information:
        out.setdefault(type(it).__name__, []).append(
            {k: (str(v) if hasattr(v, "is_valid") else v) for k, v in vars(it).items()}
        )
    return out


# ---- pynetdicom -> dicomul --------------------------------------------------------------


@pytest.mark.parametrize("n", N_CONTEXTS)
@pytest.mark.parametrize("id_type", sorted(USER_IDS))
def test_rq_pynetdicom_to_core(n: int, id_type: int):
    pdu = pn_rq(n, id_type)
    data = pdu.encode()
    got = _core.decode_associate(data)
    assert got == pn_fields(pdu)
    # ... and against the inputs, so a shared misreading of pynetdicom's objects cannot hide.
    primary, secondary, positive = USER_IDS[id_type]
    assert got[:5] == (1, 1, "ANY-SCP", "PYNETDICOM", APP_CONTEXT)
    assert got[5] == [[i, 0, a, ts] for i, a, ts in _contexts(n)]
    assert got[6][-1] == (0x58, id_type, int(positive), primary, secondary)
    assert [u[0] for u in got[6]] == [0x51, 0x52, 0x55, 0x53, 0x54, 0x54, 0x56, 0x57, 0x58]


@pytest.mark.parametrize("n", N_CONTEXTS)
def test_ac_pynetdicom_to_core(n: int):
    pdu = pn_ac(n)
    data = pdu.encode()
    got = _core.decode_associate(data)
    assert got == pn_fields(pdu)
    assert got[5] == [[i, r, None, [ts]] for i, r, ts in _ac_results(n)]
    assert got[6] == [
        (0x51, 0),
        (0x52, "1.2.3.4.5.6.7.8"),
        (0x55, "ACCEPTOR_1234567"),
        (0x53, 1, 1),
        (0x54, MR, 1, 0),
        (0x56, CT, b"\x01\x00\x00\x00"),
        (0x59, b"server-response-token"),
    ]


# ---- dicomul -> pynetdicom --------------------------------------------------------------


def core_rq_fields(n: int, id_type: int) -> tuple:
    primary, secondary, positive = USER_IDS[id_type]
    user = [
        (0x51, 16382),
        (0x52, IMPL_UID),
        (0x55, IMPL_NAME),
        (0x53, 5, 0),
        (0x54, CT, 1, 0),
        (0x54, MR, 1, 1),
        (0x56, CT, b"\x01\x00\x01\x00\x01\x01"),
        (
            0x57,
            "1.2.840.10008.5.1.4.1.1.88.22",
            "1.2.840.10008.4.2",
            ["1.2.840.10008.5.1.4.1.1.88.11", "1.2.840.10008.5.1.4.1.1.88.33"],
        ),
        (0x58, id_type, int(positive), primary, secondary),
    ]
    return (
        1,
        1,
        "ANY-SCP",
        "PYNETDICOM",
        APP_CONTEXT,
        [[i, 0, a, ts] for i, a, ts in _contexts(n)],
        user,
    )


def core_ac_fields(n: int) -> tuple:
    return (
        2,
        1,
        "ANY-SCP",
        "PYNETDICOM",
        APP_CONTEXT,
        [[i, r, None, [ts]] for i, r, ts in _ac_results(n)],
        [
            (0x51, 0),
            (0x52, "1.2.3.4.5.6.7.8"),
            (0x55, "ACCEPTOR_1234567"),
            (0x53, 1, 1),
            (0x54, MR, 1, 0),
            (0x56, CT, b"\x01\x00\x00\x00"),
            (0x59, b"server-response-token"),
        ],
    )


@pytest.mark.parametrize("n", N_CONTEXTS)
@pytest.mark.parametrize("id_type", sorted(USER_IDS))
def test_rq_core_to_pynetdicom(n: int, id_type: int):
    fields = core_rq_fields(n, id_type)
    data = _core.encode_associate(*fields)
    pdu = A_ASSOCIATE_RQ()
    pdu.decode(data)
    assert pn_fields(pdu) == fields
    assert pdu.pdu_length == len(data) - 6
    # pynetdicom's primitive view of the same PDU agrees with the one it builds itself.
    prim, ref = pdu.to_primitive(), pn_rq(n, id_type).to_primitive()
    assert prim.called_ae_title == ref.called_ae_title == "ANY-SCP"
    assert prim.calling_ae_title == ref.calling_ae_title == "PYNETDICOM"
    assert prim.application_context_name == ref.application_context_name
    assert [
        (c.context_id, c.abstract_syntax, c.transfer_syntax)
        for c in prim.presentation_context_definition_list
    ] == [
        (c.context_id, c.abstract_syntax, c.transfer_syntax)
        for c in ref.presentation_context_definition_list
    ]
    assert prim.maximum_length_received == 16382
    assert prim.implementation_class_uid == IMPL_UID
    assert _as_primitive_user(prim) == _as_primitive_user(ref)


@pytest.mark.parametrize("n", N_CONTEXTS)
def test_ac_core_to_pynetdicom(n: int):
    fields = core_ac_fields(n)
    data = _core.encode_associate(*fields)
    pdu = A_ASSOCIATE_AC()
    pdu.decode(data)
    assert pn_fields(pdu) == fields
    prim = pdu.to_primitive()
    assert [
        (c.context_id, c.result, c.transfer_syntax)
        for c in prim.presentation_context_definition_results_list
    ] == [(i, r, [ts]) for i, r, ts in _ac_results(n)]
    assert _as_primitive_user(prim) == _as_primitive_user(pn_ac(n).to_primitive())


# ---- byte-for-byte ----------------------------------------------------------------------


@pytest.mark.parametrize("n", N_CONTEXTS)
@pytest.mark.parametrize("id_type", sorted(USER_IDS))
def test_rq_bytes_identical(n: int, id_type: int):
    # Same items in the same order give the same bytes: pynetdicom writes user-information
    # sub-items in the order of its primitive list (here 51, 52, 55, 53, 54, 54, 56, 57,
    # 58: not ascending; dicomul writes them in the order given, so both follow it), pads
    # AE titles with spaces, does not pad odd-length UIDs, and writes 00H in reserved bytes.
    assert _core.encode_associate(*core_rq_fields(n, id_type)) == pn_rq(n, id_type).encode()


@pytest.mark.parametrize("n", N_CONTEXTS)
def test_ac_bytes_identical(n: int):
    # In an AC, pynetdicom writes the AE fields (reserved, PS3.8 Table 9-17) as the titles
    # of the primitive, space padded, exactly as dicomul does with the titles given.
    assert _core.encode_associate(*core_ac_fields(n)) == pn_ac(n).encode()


@pytest.mark.parametrize("id_type", sorted(USER_IDS))
def test_user_identity_sub_item_bytes(id_type: int):
    # Field by field of PS3.7 Table D.3-14, read off the pynetdicom encoding.
    data = pn_rq(1, id_type).encode()
    primary, secondary, positive = USER_IDS[id_type]
    body = (
        bytes([id_type, int(positive)])
        + len(primary).to_bytes(2, "big")
        + primary
        + len(secondary).to_bytes(2, "big")
        + secondary
    )
    item = bytes([0x58, 0]) + len(body).to_bytes(2, "big") + body
    assert data.endswith(item)
    assert _core.encode_associate(*core_rq_fields(1, id_type)).endswith(item)


# ---- short PDUs and P-DATA-TF -------------------------------------------------------------

RJ_CASES = [(1, 1, 1), (1, 1, 2), (2, 1, 3), (1, 1, 7), (1, 2, 1), (2, 2, 2), (2, 3, 1), (1, 3, 2)]


@pytest.mark.parametrize("result,source,reason", RJ_CASES)
def test_reject_both_ways(result: int, source: int, reason: int):
    p = A_ASSOCIATE()
    p.result, p.result_source, p.diagnostic = result, source, reason
    pn = A_ASSOCIATE_RJ()
    pn.from_primitive(p)
    data = pn.encode()
    got = _core.decode_short(data)
    assert isinstance(got, _core.AssociateReject)
    assert (got.result, got.source, got.reason) == (pn.result, pn.source, pn.reason_diagnostic)
    ours = _core.AssociateReject(result, source, reason).encode()
    assert ours == data
    back = A_ASSOCIATE_RJ()
    back.decode(ours)
    assert (back.result, back.source, back.reason_diagnostic) == (result, source, reason)
    prim = back.to_primitive()
    assert (prim.result, prim.result_source, prim.diagnostic) == (result, source, reason)


def test_release_both_ways():
    for pn_cls, core_cls in [(A_RELEASE_RQ, _core.ReleaseRQ), (A_RELEASE_RP, _core.ReleaseRP)]:
        data = pn_cls().encode()
        assert _core.decode_short(data) == core_cls()
        ours = core_cls().encode()
        assert ours == data
        back = pn_cls()
        back.decode(ours)
        assert back.pdu_type == ours[0] and back.pdu_length == 4


@pytest.mark.parametrize("source,reason", [(0, 0), (2, 0), (2, 1), (2, 2), (2, 4), (2, 5), (2, 6)])
def test_abort_both_ways(source: int, reason: int):
    if source == 0:
        prim = A_ABORT()
        prim.abort_source = 0
    else:
        prim = A_P_ABORT()
        prim.provider_reason = reason
    pn = A_ABORT_RQ()
    pn.from_primitive(prim)
    data = pn.encode()
    got = _core.decode_short(data)
    assert isinstance(got, _core.Abort)
    assert (got.source, got.reason) == (pn.source, pn.reason_diagnostic) == (source, reason)
    ours = _core.Abort(source, reason).encode()
    assert ours == data
    back = A_ABORT_RQ()
    back.decode(ours)
    assert (back.source, back.reason_diagnostic) == (source, reason)


PDATA_CASES = [
    [(1, b"\x03" + bytes(range(10)))],  # command, last
    [(3, b"\x00" + b"\xab" * 4094), (3, b"\x02" + b"\xcd" * 2)],  # data: more, then last
    [(255, b"\x01"), (255, b"\x03" + b"x" * 100)],  # empty fragment, then a command
    [(7, b"\xfe" + b"y" * 8)],  # reserved control bits set (never checked, kept as is)
]


@pytest.mark.parametrize("pdvs", PDATA_CASES, ids=range(len(PDATA_CASES)))
def test_pdata_both_ways(pdvs):
    prim = P_DATA()
    prim.presentation_data_value_list = [[cid, value] for cid, value in pdvs]
    pn = P_DATA_TF()
    pn.from_primitive(prim)
    data = pn.encode()
    got = _core.decode_pdata(data)
    assert [(p.context_id, p.control, bytes(p.data)) for p in got.pdvs] == [
        (it.context_id, it.presentation_data_value[0], it.presentation_data_value[1:])
        for it in pn.presentation_data_value_items
    ]
    for p, (cid, value) in zip(got.pdvs, pdvs, strict=True):
        assert p.is_command == bool(value[0] & 1) and p.is_last == bool(value[0] & 2)
        assert p.context_id == cid
    ours = _core.encode_pdata([(cid, value[0], value[1:]) for cid, value in pdvs])
    assert ours == data
    back = P_DATA_TF()
    back.decode(ours)
    assert [
        [it.context_id, it.presentation_data_value] for it in back.presentation_data_value_items
    ] == [[c, v] for c, v in pdvs]
    assert [list(x) for x in back.to_primitive().presentation_data_value_list] == [
        [c, v] for c, v in pdvs
    ]


@pytest.mark.parametrize("n", N_CONTEXTS)
def test_framer_on_pynetdicom_stream(n: int):
    pdus = [
        pn_rq(n, 2).encode(),
        pn_ac(n).encode(),
        A_RELEASE_RQ().encode(),
        A_RELEASE_RP().encode(),
    ]
    stream = b"".join(pdus)
    framer, got = _core.Framer(), []
    for i in range(0, len(stream), 13):
        got += framer.feed(stream[i : i + 13])
    assert [bytes(p) for p in got] == pdus
