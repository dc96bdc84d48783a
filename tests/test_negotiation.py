"""Association negotiation policy (dicomul.ul.negotiation): AC building, reject checks,
requestor-side reading, with pynetdicom as an oracle for encodings and acceptor results."""

from __future__ import annotations

import struct
from typing import Any

import pytest

from dicomul.ul import constants as C
from dicomul.ul.associate import Associate, UserIdentity
from dicomul.ul.events import AssociateRejectResponse
from dicomul.ul.negotiation import (
    DEFAULT_ROLES,
    SupportedContexts,
    check_application_context,
    check_called_ae,
    check_calling_ae,
    check_protocol_version,
    check_request,
    negotiate,
    negotiated_roles,
    requestor_accepted,
)

pytest.importorskip("dicomul.ul._core", reason="dicomul.ul._core is not built")

VERIF = C.VERIFICATION_SOP_CLASS
CT = "1.2.840.10008.5.1.4.1.1.2"
MR = "1.2.840.10008.5.1.4.1.1.4"
US = "1.2.840.10008.5.1.4.1.1.6.1"
IVLE, EVLE, JPEG = C.IMPLICIT_VR_LITTLE_ENDIAN, C.EXPLICIT_VR_LITTLE_ENDIAN, C.JPEG_BASELINE


def make_rq(*pcs: tuple[int, str, list[str]], **kw: Any) -> Associate:
    rq = Associate(True).default_associate()
    rq.called, rq.calling = kw.pop("called", "STORE-SCP"), kw.pop("calling", "STORE-SCU")
    for pc_id, uid, ts in pcs:
        rq.add_presentation(pc_id, uid, 0, ts)
    return rq


def wire(rq: Associate) -> Associate:
    """The RQ as an acceptor receives it (decoded from its bytes)."""
    return Associate.decode(rq.encode())


def contexts(ac: Associate) -> list[tuple[int, str | None, tuple[str, ...], int]]:
    return [
        (p.id, p.abstract_syntax, p.transfer_syntaxes, p.result) for p in ac.presentation_contexts
    ]


SUPPORTED = SupportedContexts().verification([IVLE]).add(CT, [EVLE, IVLE]).add(US, [JPEG])


# ---- SupportedContexts ---------------------------------------------------------------


def test_supported_contexts() -> None:
    s = SupportedContexts().verification()
    assert dict(s) == {VERIF: (EVLE, IVLE)}
    assert s.add(CT, [IVLE]) is s and s.add(CT, [EVLE, IVLE])[CT] == (IVLE, EVLE)
    assert len(s) == 2 and list(s) == [VERIF, CT] and MR not in s
    assert SupportedContexts({MR: [JPEG]}) == {MR: (JPEG,)}
    with pytest.raises(ValueError):
        s.add("1.2.x", [IVLE])
    with pytest.raises(ValueError):
        s.add(MR, [])
    with pytest.raises(TypeError):
        s.add(MR, IVLE)


def test_extended_appends_like_add_and_leaves_both_alone() -> None:
    offered = SupportedContexts().add(CT, [JPEG, IVLE])
    base = SupportedContexts().verification([IVLE]).add(CT, [EVLE, IVLE]).add(MR, [IVLE])
    merged = offered.extended(base)
    by_add = SupportedContexts().add(CT, [JPEG, IVLE])
    for uid in base:
        by_add.add(uid, base[uid])
    assert dict(merged) == dict(by_add) and list(merged) == list(by_add) == [CT, VERIF, MR]
    assert merged[CT] == (JPEG, IVLE, EVLE)
    assert dict(offered) == {CT: (JPEG, IVLE)} and base[CT] == (EVLE, IVLE)  # unchanged


# ---- presentation context results ---------------------------------------------------


def test_mixed_results_0_3_4() -> None:
    rq = make_rq(
        (1, VERIF, [IVLE]),
        (3, CT, [EVLE, IVLE]),
        (5, CT, [JPEG]),  # supported SOP class, no common transfer syntax -> 4 (not 3)
        (7, MR, [IVLE]),  # SOP class not supported -> 3
        (9, US, [IVLE, JPEG]),
    )
    ac = negotiate(wire(rq), SUPPORTED)
    assert not ac.is_request
    assert contexts(ac) == [
        (1, VERIF, (IVLE,), 0),
        (3, CT, (EVLE,), 0),
        (5, CT, (), 4),
        (7, MR, (), 3),
        (9, US, (JPEG,), 0),
    ]
    # a plain mapping works the same
    plain = {VERIF: [IVLE], CT: [EVLE, IVLE], US: [JPEG]}
    assert contexts(negotiate(wire(rq), plain)) == contexts(ac)
    # the AC encodes, decodes, and back-fills to the same handle
    back = Associate.decode(ac.encode())
    assert [(p.id, p.transfer_syntaxes, p.result) for p in back.presentation_contexts] == [
        (c[0], c[2], c[3]) for c in contexts(ac)
    ]
    back.backfill_abstracts(rq)
    assert back == ac


def test_rejected_context_has_empty_transfer_syntax_item() -> None:
    ac = negotiate(wire(make_rq((1, MR, [IVLE]))), SUPPORTED)
    data = ac.encode()
    item = data.index(b"\x21\x00")
    assert data[item : item + 12] == b"\x21\x00\x00\x08\x01\x00\x03\x00\x40\x00\x00\x00"


@pytest.mark.parametrize(("prefer", "expected"), [("acceptor", JPEG), ("requestor", EVLE)])
def test_transfer_syntax_preference(prefer: str, expected: str) -> None:
    rq = wire(make_rq((1, CT, [IVLE, EVLE, JPEG])))
    ac = negotiate(rq, {CT: [JPEG, EVLE]}, prefer=prefer)  # type: ignore[arg-type]
    assert contexts(ac) == [(1, CT, (expected,), 0)]


def test_default_preference_is_acceptor_and_bad_prefer() -> None:
    rq = wire(make_rq((1, CT, [IVLE, EVLE])))
    assert negotiate(rq, {CT: [EVLE, IVLE]}).get_transfer(1) == EVLE
    with pytest.raises(ValueError):
        negotiate(rq, {CT: [EVLE]}, prefer="peer")  # type: ignore[arg-type]


def _patch_pc_id(data: bytes, nth: int, new_id: int) -> bytes:
    """Rewrite the ID of the nth 20H item of an encoded RQ (a faulty peer's PDU)."""
    off = 6 + 68
    off += 4 + struct.unpack_from(">H", data, off + 2)[0]  # application context item
    for _ in range(nth):
        off += 4 + struct.unpack_from(">H", data, off + 2)[0]
    assert data[off] == 0x20
    return data[: off + 4] + bytes([new_id]) + data[off + 5 :]


def test_duplicate_and_even_ids_are_left_out() -> None:
    data = make_rq((1, VERIF, [IVLE]), (3, CT, [IVLE]), (5, CT, [EVLE])).encode()
    rq = Associate.decode(_patch_pc_id(_patch_pc_id(data, 1, 1), 2, 4))
    assert [p.id for p in rq.presentation_contexts] == [1, 1, 4]
    assert contexts(negotiate(rq, SUPPORTED)) == [(1, VERIF, (IVLE,), 0)]


# ---- fixed fields, max length, implementation ---------------------------------------


def test_fixed_fields_and_acceptor_max_length() -> None:
    rq = make_rq((1, VERIF, [IVLE]), called="ARCHIVE", calling="MODALITY")
    rq.max_length = 1234
    rq.implementation_class_uid, rq.implementation_version_name = "1.2.3.4", "PEER_1"
    ac = negotiate(wire(rq), SUPPORTED)
    assert ac.max_length == 16384  # the acceptor's default, not the requestor's 1234
    assert negotiate(wire(rq), SUPPORTED, max_length=0).max_length == 0
    assert negotiate(wire(rq), SUPPORTED, max_length=65536).max_length == 65536
    assert (ac.called, ac.calling) == ("ARCHIVE", "MODALITY")
    assert ac.version == 1 and ac.application_context == C.APPLICATION_CONTEXT_NAME
    assert ac.implementation_class_uid == C.IMPLEMENTATION_CLASS_UID
    assert ac.implementation_version_name == C.IMPLEMENTATION_VERSION_NAME
    # ae_title never replaces the echoed called AE title ...
    assert negotiate(wire(rq), SUPPORTED, ae_title="OTHER").called == "ARCHIVE"
    with pytest.raises(ValueError):
        negotiate(wire(rq), SUPPORTED, ae_title="x" * 17)
    with pytest.raises(ValueError):
        negotiate(wire(rq), SUPPORTED, max_length=-1)
    with pytest.raises(ValueError):
        negotiate(Associate(False), SUPPORTED)
    with pytest.raises(TypeError):
        negotiate(b"rq", SUPPORTED)  # type: ignore[arg-type]


def test_ae_title_fills_an_empty_called_field() -> None:
    data = make_rq((1, VERIF, [IVLE])).encode()
    rq = Associate.decode(data[:10] + b" " * 16 + data[26:])  # all-spaces called AE title
    assert rq.called == ""
    assert negotiate(rq, SUPPORTED, ae_title="  MYSCP").called == "MYSCP"
    assert negotiate(rq, SUPPORTED).called == ""


def test_rq_is_not_modified() -> None:
    rq = wire(make_rq((1, VERIF, [IVLE]), (3, MR, [IVLE])))
    before = Associate.decode(rq.encode())
    negotiate(rq, SUPPORTED, roles={VERIF: (True, True)}, async_window=(1, 1))
    assert rq == before


# ---- role selection (PS3.7 D.3.3.4) -------------------------------------------------

BOOLS = [(False, False), (False, True), (True, False), (True, True)]


@pytest.mark.parametrize("proposed", BOOLS)
@pytest.mark.parametrize("allowed", [*BOOLS, None])
def test_role_answer_is_proposed_and_allowed(
    proposed: tuple[bool, bool], allowed: tuple[bool, bool] | None
) -> None:
    rq = make_rq((1, CT, [IVLE]))
    rq.set_role_select(1, True, *map(int, proposed))
    ac = negotiate(wire(rq), SUPPORTED, roles=None if allowed is None else {CT: allowed})
    ok = DEFAULT_ROLES if allowed is None else allowed
    expected = (int(proposed[0] and ok[0]), int(proposed[1] and ok[1]))
    assert ac.role_selections == {CT: expected}
    # never 1 for a role the requestor did not propose
    assert all(a <= p for a, p in zip(expected, proposed, strict=True))
    assert Associate.decode(ac.encode()).role_selections == {CT: expected}
    assert negotiated_roles(rq, ac) == {CT: (bool(expected[0]), bool(expected[1]))}


def test_roles_only_for_proposed_and_accepted_sop_classes() -> None:
    rq = make_rq((1, VERIF, [IVLE]), (3, CT, [JPEG]), (5, US, [JPEG]))
    rq.set_role_select(3, True, 1, 1)  # CT: its only context is rejected (4)
    rq.set_role_select(5, True, 0, 1)
    roles = {VERIF: (True, True), CT: (True, True), US: (True, True)}
    ac = negotiate(wire(rq), SUPPORTED, roles=roles)
    assert ac.role_selections == {US: (0, 1)}  # no item for VERIF (not proposed) nor CT
    assert not ac.is_role_select(1) and ac.is_role_select(5)
    assert negotiated_roles(rq, ac) == {VERIF: (True, False), US: (False, True)}
    assert negotiate(wire(rq), SUPPORTED).role_selections == {US: (0, 0)}


def test_negotiated_roles_requestor_side_rules() -> None:
    rq = make_rq((1, VERIF, [IVLE]), (3, CT, [IVLE]), (5, US, [JPEG]))
    rq.set_role_select(3, True, 1, 0)  # CT: SCP role not proposed
    rq.set_role_select(5, True, 1, 1)  # US: no answer from the acceptor
    ac = Associate(False).default_associate()
    ac.add_presentation(1, VERIF, 0, [IVLE])
    ac.add_presentation(3, CT, 0, [IVLE])
    ac.add_presentation(5, US, 0, [JPEG])
    ac.set_role_select(1, True, 1, 1)  # answer to an unproposed item: ignored
    ac.set_role_select(3, True, 1, 1)  # 1 for the unproposed SCP role: ignored
    got = negotiated_roles(rq, Associate.decode(ac.encode()))
    assert got == {VERIF: DEFAULT_ROLES, CT: (True, False), US: DEFAULT_ROLES}


# ---- extended negotiation, async window, user identity -------------------------------


def test_extended_negotiation() -> None:
    rq = make_rq((1, VERIF, [IVLE]), (3, CT, [IVLE]), (5, MR, [IVLE]), (7, US, [JPEG]))
    rq.set_extended(3, b"\x01\x00")
    rq.set_extended(5, b"\x01")  # MR is rejected: never asked
    rq.set_extended(7, b"\x02")
    asked: list[tuple[str, bytes]] = []

    def answer(uid: str, info: bytes) -> bytes | None:
        asked.append((uid, info))
        return b"\x01" if uid == CT else None

    ac = negotiate(wire(rq), SUPPORTED, extended=answer)
    assert asked == [(CT, b"\x01\x00"), (US, b"\x02")]
    assert ac.extended_negotiations == {CT: b"\x01"}
    assert ac.get_extended(3) == b"\x01" and ac.get_extended(1) is None
    assert Associate.decode(ac.encode()).extended_negotiations == {CT: b"\x01"}
    assert negotiate(wire(rq), SUPPORTED).extended_negotiations == {}
    unproposed = negotiate(wire(make_rq((1, CT, [IVLE]))), SUPPORTED, extended=answer)
    assert unproposed.extended_negotiations == {}


@pytest.mark.parametrize(
    ("proposed", "local", "expected"),
    [
        (None, (5, 5), None),  # absent in the RQ: absent in the AC
        ((5, 3), None, None),  # the acceptor does not negotiate it
        ((5, 3), (2, 0), (2, 3)),
        ((0, 0), (4, 0), (4, 0)),  # 0 = unlimited: min(unlimited, 4) = 4
        ((0, 7), (0, 9), (0, 7)),
        ((1, 1), (10, 10), (1, 1)),
    ],
)
def test_async_window(
    proposed: tuple[int, int] | None,
    local: tuple[int, int] | None,
    expected: tuple[int, int] | None,
) -> None:
    rq = make_rq((1, VERIF, [IVLE]))
    rq.async_operations = proposed
    ac = negotiate(wire(rq), SUPPORTED, async_window=local)
    assert ac.async_operations == expected
    assert Associate.decode(ac.encode()).async_operations == expected


def test_async_window_bad_local_value() -> None:
    with pytest.raises(ValueError):
        negotiate(wire(make_rq((1, VERIF, [IVLE]))), SUPPORTED, async_window=(70000, 1))


@pytest.mark.parametrize(
    ("itype", "positive", "response", "expected"),
    [
        (1, True, b"", b""),  # types 1/2: an empty server response
        (2, True, b"", b""),
        (1, False, b"", None),  # no positive response requested: no item
        (3, True, b"ticket", b"ticket"),
        (4, True, b"<saml/>", b"<saml/>"),
        (5, True, b"jwt", b"jwt"),
        (3, False, b"ticket", None),
        (3, True, None, None),  # the callback declines
    ],
)
def test_user_identity_response(
    itype: int, positive: bool, response: bytes | None, expected: bytes | None
) -> None:
    rq = make_rq((1, VERIF, [IVLE]))
    rq.set_user_identity(itype, b"user", b"pass" if itype == 2 else b"", positive)
    seen: list[UserIdentity] = []

    def cb(identity: UserIdentity) -> bytes | None:
        seen.append(identity)
        return response

    ac = negotiate(wire(rq), SUPPORTED, user_identity_response=cb)
    assert ac.user_identity_response == expected
    assert seen == ([rq.user_identity] if positive else [])
    assert Associate.decode(ac.encode()).user_identity_response == expected
    assert negotiate(wire(rq), SUPPORTED).user_identity_response is None


def test_user_identity_types_1_2_refuse_a_non_empty_response() -> None:
    rq = make_rq((1, VERIF, [IVLE]))
    rq.set_user_identity(1, b"user", positive_response=True)
    with pytest.raises(ValueError):
        negotiate(wire(rq), SUPPORTED, user_identity_response=lambda ui: b"x")

    # no user identity in the RQ: the callback is never called
    def boom(identity: UserIdentity) -> bytes | None:
        raise AssertionError("called without a user identity in the RQ")

    plain = negotiate(wire(make_rq((1, VERIF, [IVLE]))), SUPPORTED, user_identity_response=boom)
    assert plain.user_identity_response is None


# ---- reject checks ------------------------------------------------------------------


def test_check_called_and_calling_ae() -> None:
    rq = make_rq((1, VERIF, [IVLE]), called="ARCHIVE", calling="CT01")
    assert check_called_ae(rq, None) is None
    assert check_called_ae(rq, ["ARCHIVE"]) is None
    assert check_called_ae(rq, {" ARCHIVE   "}) is None  # padding is not significant
    assert check_called_ae(rq, ["archive"]) == AssociateRejectResponse(1, 1, 7)  # case matters
    assert check_called_ae(rq, []) == AssociateRejectResponse(1, 1, 7)
    assert check_calling_ae(rq, ("CT01", "MR01")) is None
    assert check_calling_ae(rq, ["ct01"]) == AssociateRejectResponse(1, 1, 3)
    assert check_calling_ae(rq, None) is None
    with pytest.raises(TypeError):
        check_called_ae(rq, "ARCHIVE")


def test_check_application_context_and_version() -> None:
    rq = make_rq((1, VERIF, [IVLE]))
    assert check_application_context(rq) is None and check_protocol_version(rq) is None
    rq.application_context = "1.2.3.4"
    assert check_application_context(rq) == AssociateRejectResponse(1, 1, 2)
    rq.version = 0x0003  # only bit 0 is tested
    assert check_protocol_version(rq) is None
    rq.version = 0x0002
    assert check_protocol_version(rq) == AssociateRejectResponse(1, 2, 2)
    decoded = wire(rq)
    assert check_protocol_version(decoded) == AssociateRejectResponse(1, 2, 2)
    assert check_application_context(decoded) == AssociateRejectResponse(1, 1, 2)


def test_check_request_order() -> None:
    rq = make_rq((1, VERIF, [IVLE]), called="ARCHIVE", calling="CT01")
    rq.version, rq.application_context = 2, "1.2.3"
    called, calling = ["OTHER"], ["NOBODY"]
    assert check_request(rq, called, calling) == AssociateRejectResponse(1, 2, 2)
    rq.version = 1
    assert check_request(rq, called, calling) == AssociateRejectResponse(1, 1, 2)
    rq.application_context = C.APPLICATION_CONTEXT_NAME
    assert check_request(rq, called, calling) == AssociateRejectResponse(1, 1, 7)
    assert check_request(rq, ["ARCHIVE"], calling) == AssociateRejectResponse(1, 1, 3)
    assert check_request(rq, ["ARCHIVE"], ["CT01"]) is None
    assert check_request(rq) is None


# ---- requestor side -------------------------------------------------------------------


def test_requestor_accepted() -> None:
    rq = make_rq((1, VERIF, [IVLE]), (3, CT, [EVLE, IVLE]), (5, MR, [IVLE]), (7, US, [JPEG]))
    ac = negotiate(wire(rq), SUPPORTED)
    received = Associate.decode(ac.encode())  # no abstract syntaxes: back-filled from rq
    assert requestor_accepted(rq, received) == {1: (VERIF, IVLE), 3: (CT, EVLE), 7: (US, JPEG)}
    assert received.get_abstract(1) is None  # not modified

    bad = Associate(False).default_associate()
    bad.add_presentation(1, None, 0, [IVLE])
    bad.add_presentation(3, None, 0, [JPEG])  # a transfer syntax 3 did not propose
    bad.add_presentation(9, None, 0, [IVLE])  # an ID that was not proposed
    bad.add_presentation(5, None, 0, [IVLE])
    bad.add_presentation(7, None, 4)
    got = requestor_accepted(rq, Associate.decode(bad.encode()))
    assert got == {1: (VERIF, IVLE), 5: (MR, IVLE)}


# ---- pynetdicom as an oracle ----------------------------------------------------------


def _pynetdicom() -> tuple[Any, Any, Any]:
    """pynetdicom's pdu, pdu_primitives and presentation modules, or skip the test."""
    return (
        pytest.importorskip("pynetdicom.pdu"),
        pytest.importorskip("pynetdicom.pdu_primitives"),
        pytest.importorskip("pynetdicom.presentation"),
    )


def test_pynetdicom_reads_the_same_ac() -> None:
    pdu, _, _ = _pynetdicom()
    rq = make_rq((1, VERIF, [IVLE]), (3, CT, [JPEG]), (5, MR, [IVLE]), (7, US, [IVLE, JPEG]))
    rq.set_role_select(7, True, 1, 1)
    rq.async_operations = (3, 0)
    rq.set_user_identity(3, b"ticket", positive_response=True)
    ac = negotiate(
        wire(rq), SUPPORTED, roles={US: (False, True)}, async_window=(2, 2),
        user_identity_response=lambda ui: b"server", max_length=32768,
    )  # fmt: skip
    theirs = pdu.A_ASSOCIATE_AC()
    theirs.decode(ac.encode())
    got = [(c.context_id, c.result, c.transfer_syntax) for c in theirs.presentation_context]
    assert got == [(1, 0, IVLE), (3, 4, None), (5, 3, None), (7, 0, JPEG)]
    assert theirs.application_context_name == C.APPLICATION_CONTEXT_NAME
    items = {type(i).__name__: i for i in theirs.user_information.user_data}
    assert items["MaximumLengthSubItem"].maximum_length_received == 32768
    impl = items["ImplementationClassUIDSubItem"]
    assert impl.implementation_class_uid == C.IMPLEMENTATION_CLASS_UID
    role = items["SCP_SCU_RoleSelectionSubItem"]
    assert (role.sop_class_uid, role.scu_role, role.scp_role) == (US, 0, 1)
    window = items["AsynchronousOperationsWindowSubItem"]
    assert window.maximum_number_operations_invoked == 2
    assert window.maximum_number_operations_performed == 2
    assert items["UserIdentitySubItemAC"].server_response == b"server"


def _pynetdicom_rq(
    pcs: list[tuple[int, str, list[str]]], roles: dict[str, tuple[bool, bool]]
) -> tuple[bytes, list[Any]]:
    """Encode an A-ASSOCIATE-RQ with pynetdicom; return its bytes and its contexts."""
    pdu, prim, presentation = _pynetdicom()
    a = prim.A_ASSOCIATE()
    a.application_context_name = C.APPLICATION_CONTEXT_NAME
    a.calling_ae_title, a.called_ae_title = "PYNETDICOM", "DICOMUL"
    contexts_ = []
    for pc_id, uid, ts in pcs:
        cx = presentation.PresentationContext()
        cx.context_id, cx.abstract_syntax, cx.transfer_syntax = pc_id, uid, ts
        contexts_.append(cx)
    a.presentation_context_definition_list = contexts_
    ml = prim.MaximumLengthNotification()
    ml.maximum_length_received = 16382
    ic = prim.ImplementationClassUIDNotification()
    ic.implementation_class_uid = "1.2.826.0.1.3680043.9.3811.3.0.4"
    user: list[Any] = [ml, ic]
    for uid, (scu, scp) in roles.items():
        r = prim.SCP_SCU_RoleSelectionNegotiation()
        r.sop_class_uid, r.scu_role, r.scp_role = uid, scu, scp
        user.append(r)
    a.user_information = user
    p = pdu.A_ASSOCIATE_RQ()
    p.from_primitive(a)
    return p.encode(), contexts_


ORACLE_CASES = [
    # (requested contexts, requested roles, supported, acceptor roles)
    (
        [(1, VERIF, [IVLE]), (3, CT, [IVLE, EVLE]), (5, CT, [JPEG]), (7, MR, [EVLE])],
        {},
        {VERIF: [IVLE], CT: [EVLE, IVLE]},
        {},
    ),
    (
        # the requestor lists IVLE first, the acceptor prefers JPEG then EVLE
        [(1, US, [IVLE, EVLE, JPEG]), (3, US, [IVLE]), (5, VERIF, [EVLE, IVLE])],
        {US: (True, True)},
        {US: [JPEG, EVLE, IVLE], VERIF: [IVLE, EVLE]},
        {US: (True, False)},
    ),
    (
        [(1, CT, [EVLE]), (3, MR, [IVLE, EVLE]), (9, US, [JPEG])],
        {CT: (True, True), MR: (False, True)},
        {CT: [IVLE, EVLE], MR: [EVLE], US: [IVLE]},
        {CT: (True, True), MR: (True, True)},
    ),
]


@pytest.mark.parametrize(("pcs", "rq_roles", "supported", "ac_roles"), ORACLE_CASES)
def test_oracle_negotiate_as_acceptor(
    pcs: list[tuple[int, str, list[str]]],
    rq_roles: dict[str, tuple[bool, bool]],
    supported: dict[str, list[str]],
    ac_roles: dict[str, tuple[bool, bool]],
) -> None:
    presentation = _pynetdicom()[2]
    data, rq_contexts = _pynetdicom_rq(pcs, rq_roles)
    rq = Associate.decode(data)
    assert rq.role_selections == {u: (int(a), int(b)) for u, (a, b) in rq_roles.items()}
    ac = negotiate(rq, supported, roles=ac_roles)

    ac_contexts = []
    for i, (uid, ts) in enumerate(supported.items()):
        cx = presentation.PresentationContext()
        cx.context_id, cx.abstract_syntax, cx.transfer_syntax = 2 * i + 1, uid, ts
        if uid in ac_roles:
            cx.scu_role, cx.scp_role = ac_roles[uid]
        ac_contexts.append(cx)
    results, replies = presentation.negotiate_as_acceptor(
        rq_contexts, ac_contexts, rq_roles or None
    )

    theirs = {
        cx.context_id: (cx.result, cx.transfer_syntax[0] if cx.result == 0 else None)
        for cx in results
    }
    ours = {
        p.id: (p.result, p.transfer_syntaxes[0] if p.result == 0 else None)
        for p in ac.presentation_contexts
    }
    assert ours == theirs  # pynetdicom also picks by the acceptor's preference order
    replied = {r.sop_class_uid: (int(r.scu_role), int(r.scp_role)) for r in replies}
    assert ac.role_selections == replied
    effective = {cx.abstract_syntax: (cx.as_scu, cx.as_scp) for cx in results if cx.result == 0}
    # pynetdicom's as_scu/as_scp are the acceptor's roles: requestor SCU <=> acceptor SCP
    assert negotiated_roles(rq, ac) == {u: (scp, scu) for u, (scu, scp) in effective.items()}


def test_oracle_divergence_no_role_left() -> None:
    """Proposed SCP only, acceptor allows SCU only: pynetdicom rejects the context with
    result 1; dicomul keeps it accepted with a (0, 0) role answer (documented)."""
    presentation = _pynetdicom()[2]
    data, rq_contexts = _pynetdicom_rq([(1, CT, [IVLE])], {CT: (False, True)})
    ac = negotiate(Associate.decode(data), {CT: [IVLE]}, roles={CT: (True, False)})
    assert contexts(ac) == [(1, CT, (IVLE,), 0)] and ac.role_selections == {CT: (0, 0)}
    cx = presentation.PresentationContext()
    cx.context_id, cx.abstract_syntax, cx.transfer_syntax = 1, CT, [IVLE]
    cx.scu_role, cx.scp_role = True, False
    results, _ = presentation.negotiate_as_acceptor(rq_contexts, [cx], {CT: (False, True)})
    assert [(r.context_id, r.result) for r in results] == [(1, 1)]
