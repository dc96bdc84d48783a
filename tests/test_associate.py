"""Associate: building RQ/AC handles, addressing, typed negotiation items, encode/decode."""

from __future__ import annotations

import struct

import pytest

from dicomul.ul import constants as C
from dicomul.ul.associate import (
    Associate,
    CommonExtended,
    PresentationContext,
    UserIdentity,
    create_associate,
)

_core = pytest.importorskip("dicomul.ul._core", reason="dicomul.ul._core is not built")

CT = "1.2.840.10008.5.1.4.1.1.2"
MR = "1.2.840.10008.5.1.4.1.1.4"


def make_rq() -> Associate:
    a = create_associate(True).default_associate()
    a.called = "ANY-SCP"
    a.calling = "ECHOSCU"
    a.add_presentation(1, C.VERIFICATION_SOP_CLASS, transfer_syntaxes=[C.IMPLICIT_VR_LITTLE_ENDIAN])
    a.add_presentation(
        3, CT, transfer_syntaxes=[C.EXPLICIT_VR_LITTLE_ENDIAN, C.IMPLICIT_VR_LITTLE_ENDIAN]
    )
    a.add_presentation(5, CT, transfer_syntaxes=[C.JPEG_BASELINE])
    return a


def make_ac() -> Associate:
    a = Associate(request=False).default_associate()
    a.called, a.calling = "ANY-SCP", "ECHOSCU"
    a.add_presentation(1, 0, C.VERIFICATION_SOP_CLASS)  # LEADTOOLS argument order
    a.add_transfer(1, C.IMPLICIT_VR_LITTLE_ENDIAN)
    a.add_presentation(3, CT, C.PresentationResult.ACCEPTANCE, [C.EXPLICIT_VR_LITTLE_ENDIAN])
    a.add_presentation(5, CT, C.PresentationResult.TRANSFER_SYNTAXES_NOT_SUPPORTED)
    return a


def user_items(data: bytes) -> list:
    return _core.decode_associate(data)[6]


# ---- construction and the mechanical API --------------------------------------------


def test_create_and_default_associate() -> None:
    a = create_associate()
    assert a == Associate(True)
    assert a.is_request is True
    assert create_associate(False).is_request is False
    assert a.version == 1 and a.application_context == C.APPLICATION_CONTEXT_NAME
    assert a.called == a.calling == ""
    assert a.max_length is None and not a.is_max_length()
    assert a.implementation_class_uid is None and a.implementation_version_name is None
    assert a.presentation_count == 0 and a.user_info == []

    assert a.default_associate() is a
    assert a.get_version() == 1
    assert a.get_application() == "1.2.840.10008.3.1.1.1"
    assert a.get_implement_class() == C.IMPLEMENTATION_CLASS_UID
    assert C.IMPLEMENTATION_CLASS_UID == "2.25.196782911307077230955355943077318147496"
    assert a.get_implement_version() == C.IMPLEMENTATION_VERSION_NAME == "DICOMUL_010"
    assert a.get_max_length() == 16384 == C.DEFAULT_MAX_LENGTH
    assert not a.is_async_operations() and a.get_presentation_count() == 0


def test_default_associate_clears_but_keeps_type() -> None:
    a = make_ac()
    a.default_associate()
    assert a.is_request is False and a.presentation_count == 0 and a.called == ""


def test_reset_associate_retypes_and_clears() -> None:
    a = make_rq()
    a.reset_associate(False)
    assert a == Associate(False)
    a.reset_associate(True)
    assert a == Associate(True)


def test_set_request_and_property() -> None:
    a = Associate()
    a.set_request(False)
    assert a.is_request is False
    a.is_request = True
    assert a.is_request is True


def test_titles_stored_without_padding() -> None:
    a = Associate()
    a.set_called("  STORESCP  ")
    a.calling = "MY AE"
    assert a.get_called() == "STORESCP" == a.called
    assert a.get_calling() == "MY AE"
    b = Associate()
    b.called, b.calling = "STORESCP", "MY AE   "
    assert a == b


def test_version_and_application() -> None:
    a = Associate()
    a.set_version(3)
    assert a.get_version() == 3 == a.version
    a.set_application("1.2.3")
    assert a.application_context == "1.2.3"


# ---- presentation contexts: index vs ID --------------------------------------------


def test_index_vs_id_addressing() -> None:
    a = make_rq()
    assert a.get_presentation_count() == 3
    ids = [a.get_presentation(i) for i in range(a.get_presentation_count())]
    assert ids == [1, 3, 5]
    assert [a.get_abstract(i) for i in ids] == [C.VERIFICATION_SOP_CLASS, CT, CT]
    a.set_presentation(1, 7)  # index 1 (ID 3) becomes ID 7
    assert [a.get_presentation(i) for i in range(3)] == [1, 7, 5]
    assert a.get_abstract(7) == CT and a.get_transfer_count(7) == 2
    with pytest.raises(KeyError, match="no presentation context with ID 3"):
        a.get_abstract(3)
    a.set_presentation(1, 7)  # re-setting the same ID is fine
    a.del_presentation(1)
    assert [a.get_presentation(i) for i in range(2)] == [7, 5]
    assert a.get_presentation_count() == 2


def test_add_presentation_both_orders() -> None:
    a = Associate(False)
    a.add_presentation(1, CT, 3)  # Pythonic: (pc_id, abstract, result)
    a.add_presentation(3, 4, MR)  # LEADTOOLS: (pc_id, result, abstract)
    a.add_presentation(5, CT)
    a.add_presentation(7, None, 2)  # an AC may leave the abstract syntax unknown
    assert [(a.get_result(i), a.get_abstract(i)) for i in (1, 3, 5, 7)] == [
        (3, CT),
        (4, MR),
        (0, CT),
        (2, None),
    ]


def test_result_abstract_transfer_methods() -> None:
    a = make_rq()
    assert a.get_result(3) == 0
    a.set_abstract(3, MR)
    assert a.get_abstract(3) == MR
    assert a.get_transfer(3) == C.EXPLICIT_VR_LITTLE_ENDIAN
    assert a.get_transfer(3, 1) == C.IMPLICIT_VR_LITTLE_ENDIAN
    a.set_transfer(3, 1, C.EXPLICIT_VR_BIG_ENDIAN)
    a.add_transfer(3, C.DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN)
    a.del_transfer(3, 0)
    assert [a.get_transfer(3, i) for i in range(a.get_transfer_count(3))] == [
        C.EXPLICIT_VR_BIG_ENDIAN,
        C.DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN,
    ]
    ac = make_ac()
    ac.set_result(3, C.PresentationResult.USER_REJECTION)
    assert ac.get_result(3) == 1
    ac.set_transfer(1, 0, C.EXPLICIT_VR_LITTLE_ENDIAN)
    assert ac.get_transfer(1) == C.EXPLICIT_VR_LITTLE_ENDIAN


def test_find_abstract_family() -> None:
    a = make_rq()
    assert a.find_abstract(CT) == 3
    assert a.find_next_abstract(3, CT) == 5
    assert a.find_next_abstract(5, CT) == 0
    assert a.find_abstract(MR) == 0
    assert a.find_abstracts(CT) == [3, 5]
    assert a.find_abstracts(MR) == []


def test_presentation_contexts_property() -> None:
    a = make_rq()
    a.set_role_select(3, True, 1, 0)
    a.set_extended(1, b"\x01\x00")
    pcs = a.presentation_contexts
    assert pcs[0] == PresentationContext(
        1, C.VERIFICATION_SOP_CLASS, (C.IMPLICIT_VR_LITTLE_ENDIAN,), 0, None, None, b"\x01\x00"
    )
    assert pcs[2].id == 5 and pcs[2].scu_role == 1 and pcs[2].scp_role == 0
    assert pcs[2].extended is None
    with pytest.raises(AttributeError):
        pcs[0].id = 9  # type: ignore[misc]
    assert a.presentation_count == len(pcs) == 3


# ---- typed optional items -----------------------------------------------------------


def test_max_length_none_vs_zero() -> None:
    a = make_rq()
    a.max_length = None
    assert not a.is_max_length() and a.get_max_length() is None
    assert not any(it[0] == 0x51 for it in user_items(a.encode()))
    a.max_length = 0
    assert a.is_max_length() and a.get_max_length() == 0 and a.max_length == 0
    assert (0x51, 0) in user_items(a.encode())
    assert Associate.decode(a.encode()).max_length == 0
    a.set_max_length(False, 1234)
    assert Associate.decode(a.encode()).max_length is None
    a.set_max_length(True, 0xFFFFFFFF)
    assert Associate.decode(a.encode()).max_length == 0xFFFFFFFF


def test_implementation_items() -> None:
    a = Associate()
    a.set_implement_class(True, "1.2.3.4")
    a.set_implement_version(True, "X_1")
    assert a.is_implement_class() and a.implementation_class_uid == "1.2.3.4"
    assert a.is_implement_version() and a.implementation_version_name == "X_1"
    a.implementation_class_uid = None
    a.set_implement_version(False)
    assert not a.is_implement_class() and not a.is_implement_version()


def test_async_operations() -> None:
    a = Associate()
    assert a.async_operations is None and a.invoked_operations is None
    a.set_async_operations(True, 0, 3)
    assert a.is_async_operations() and a.async_operations == (0, 3)
    assert a.get_invoked_operations() == 0 and a.get_performed_operations() == 3
    assert (a.invoked_operations, a.performed_operations) == (0, 3)
    a.async_operations = (5, 6)
    assert a.async_operations == (5, 6)
    a.set_async_operations(False, 0, 0)
    assert a.async_operations is None and not a.is_async_operations()


def test_role_and_extended_fan_out_and_conflict_rule() -> None:
    a = make_rq()  # PCs 3 and 5 share the CT abstract syntax
    assert not a.is_role_select(3)
    assert a.get_user_role(3) == C.RoleSupport.SUPPORTED  # PS3.7 default: requestor is SCU
    assert a.get_provider_role(3) == C.RoleSupport.UNSUPPORTED
    a.set_role_select(3, True, 1, 1)
    assert a.is_role_select(5) and a.get_provider_role(5) == C.RoleSupport.SUPPORTED
    a.set_role_select(5, True, 0, 1)  # conflict: the last value set wins, for both PCs
    assert (a.get_user_role(3), a.get_provider_role(3)) == (0, 1)
    assert a.role_selections == {CT: (0, 1)}
    assert not a.is_role_select(1)
    a.set_extended(5, b"\x01")
    a.set_extended(3, b"\x02\x03")
    assert a.get_extended(5) == b"\x02\x03" and a.get_length_extended(5) == 2
    assert a.get_extended(1) is None and a.get_length_extended(1) == 0
    # one 54H and one 56H per abstract syntax on the wire
    items = user_items(a.encode())
    assert [it for it in items if it[0] == 0x54] == [(0x54, CT, 0, 1)]
    assert [it for it in items if it[0] == 0x56] == [(0x56, CT, b"\x02\x03")]
    a.set_role_select(3, False)
    assert not a.is_role_select(5)
    a.set_extended(5, None)
    assert a.get_extended(3) is None and a.extended_negotiations == {}


def test_received_role_item_fans_out() -> None:
    a = make_rq()
    a.set_role_select(3, True, 1, 0)
    d = Associate.decode(a.encode())
    assert d.is_role_select(3) and d.is_role_select(5)
    assert d.get_user_role(5) == 1 and d.get_provider_role(5) == 0


def test_del_presentation_drops_orphaned_negotiation() -> None:
    a = make_rq()
    a.set_role_select(3, True, 1, 1)
    a.set_extended(3, b"x")
    a.del_presentation(3)
    assert a.is_role_select(5) and a.get_extended(5) == b"x"  # PC 5 still uses CT
    a.del_presentation(5)
    assert a.role_selections == {} and a.extended_negotiations == {}


def test_role_on_unknown_abstract_raises() -> None:
    ac = Associate(False)
    ac.add_presentation(1, None, 0)
    with pytest.raises(ValueError, match="no abstract syntax"):
        ac.set_role_select(1, True, 1, 0)
    with pytest.raises(ValueError, match="no abstract syntax"):
        ac.set_extended(1, b"x")
    assert not ac.is_role_select(1) and ac.get_extended(1) is None


def test_raw_user_info() -> None:
    a = Associate()
    a.add_user_info(0x99, b"abc")
    a.add_user_info(0xF0, bytearray(b"\x00"))
    assert a.get_user_info_count() == 2 == a.user_info_count
    assert a.get_type_user_info(0) == 0x99 and a.get_length_user_info(0) == 3
    assert a.get_data_user_info(1) == b"\x00"
    a.set_user_info(0, 0x98, b"zz")
    assert a.user_info == [(0x98, b"zz"), (0xF0, b"\x00")]
    a.del_user_info(0)
    assert a.user_info == [(0xF0, b"\x00")]


def test_user_identity_and_response() -> None:
    a = Associate()
    a.set_user_identity(C.UserIdentityType.USERNAME_AND_PASSCODE, "bob", b"secret", True)
    assert a.get_user_identity() == UserIdentity(2, b"bob", b"secret", True) == a.user_identity
    a.user_identity = UserIdentity(5, b"jwt.token")
    assert a.user_identity == UserIdentity(5, b"jwt.token", b"", False)
    a.user_identity = None
    assert a.get_user_identity() is None
    ac = Associate(False)
    ac.set_user_identity_response(b"ticket")
    assert ac.get_user_identity_response() == b"ticket" == ac.user_identity_response
    ac.user_identity_response = None
    assert ac.user_identity_response is None


def test_common_extended() -> None:
    a = Associate()
    a.add_common_extended(CT, "1.2.840.10008.4.2", ["1.2.3", "1.2.4"])
    a.add_common_extended(MR, "1.2.840.10008.4.2")
    assert a.common_extended == [
        CommonExtended(CT, "1.2.840.10008.4.2", ("1.2.3", "1.2.4")),
        CommonExtended(MR, "1.2.840.10008.4.2", ()),
    ]
    a.add_common_extended(CT, "1.2.5")  # same SOP class: replaced
    assert a.get_common_extended(CT) == CommonExtended(CT, "1.2.5", ())
    a.del_common_extended(MR)
    assert len(a.common_extended) == 1
    with pytest.raises(KeyError, match="no common extended negotiation"):
        a.del_common_extended(MR)


# ---- encode / decode ----------------------------------------------------------------


def full_rq(identity: UserIdentity) -> Associate:
    a = make_rq()
    a.set_async_operations(True, 0, 1)
    a.set_role_select(3, True, 1, 1)
    a.set_role_select(1, True, 0, 1)
    a.set_extended(3, b"\x01\x01\x00")
    a.add_common_extended(CT, "1.2.840.10008.4.2", ["1.2.3"])
    a.add_common_extended(MR, "1.2.840.10008.4.2")
    a.user_identity = identity
    a.add_user_info(0x99, b"unknown item")
    a.add_user_info(0xE0, b"")
    return a


IDENTITIES = [
    UserIdentity(1, b"alice"),
    UserIdentity(2, b"alice", b"pass word", True),
    UserIdentity(3, b"\x00kerberos\xff" * 10, b"", True),
    UserIdentity(4, b"<saml:Assertion/>"),
    UserIdentity(5, b"eyJhbGciOi.eyJzdWIi.sig", b"", True),
]


@pytest.mark.parametrize("identity", IDENTITIES, ids=lambda i: f"type{i.identity_type}")
def test_round_trip_rq(identity: UserIdentity) -> None:
    a = full_rq(identity)
    data = a.encode()
    assert data[0] == 1 and struct.unpack(">I", data[2:6])[0] == len(data) - 6
    d = Associate.decode(data)
    assert d == a, (d, a)
    assert d.user_identity == identity
    assert d.encode() == data
    # user items in ascending type order, raw ones last
    types = [it[0] for it in user_items(data)]
    assert types == [0x51, 0x52, 0x53, 0x54, 0x54, 0x55, 0x56, 0x57, 0x57, 0x58, 0x99, 0xE0]


def test_round_trip_ac() -> None:
    a = make_ac()
    a.set_role_select(3, True, 1, 0)
    a.set_extended(3, b"\x01")
    a.set_async_operations(True, 1, 1)
    a.set_user_identity_response(b"server response")
    a.add_user_info(0x77, b"\x01\x02")
    data = a.encode()
    assert data[0] == 2
    d = Associate.decode(data)
    assert d.is_request is False
    assert [d.get_abstract(i) for i in (1, 3, 5)] == [None, None, None]
    assert d.get_transfer_count(5) == 0 and d.get_result(5) == 4
    assert not d.is_role_select(3)  # the AC does not say which PC the 54H item is for ...
    assert d.role_selections == {CT: (1, 0)}
    d.backfill_abstracts(make_rq())  # ... until the RQ's abstract syntaxes are back-filled
    assert d == a
    assert d.is_role_select(5) and d.get_extended(5) == b"\x01"
    assert d.user_identity_response == b"server response"
    assert d.encode() == data


def test_backfill_only_matching_ids() -> None:
    rq = make_rq()
    ac = Associate(False)
    ac.add_presentation(3, None, 0, [C.EXPLICIT_VR_LITTLE_ENDIAN])
    ac.add_presentation(9, None, 2)
    ac.backfill_abstracts(rq)
    assert ac.get_abstract(3) == CT and ac.get_abstract(9) is None
    with pytest.raises(ValueError, match="needs the A-ASSOCIATE-RQ"):
        ac.backfill_abstracts(ac)
    with pytest.raises(TypeError):
        ac.backfill_abstracts("rq")  # type: ignore[arg-type]


def test_decode_is_tolerant() -> None:
    """Received values the setters would refuse still decode (no setter checks on decode)."""
    pcs = [
        [2, 0, "1.02.x", ["1.2..3"]],
        [2, 0, CT, [C.IMPLICIT_VR_LITTLE_ENDIAN]],
        [300 % 256, 0, MR, ["1"]],
    ]
    user = [(0x51, 0), (0x55, "A VERY LONG VERSION NAME"), (0x54, CT, 7, 9)]
    data = _core.encode_associate(1, 0xFFFF, "A\\B", "\x01", "9", pcs, user)
    d = Associate.decode(data)
    assert d.version == 0xFFFF and d.called == "A\\B" and d.calling == "\x01"
    assert [d.get_presentation(i) for i in range(3)] == [2, 2, 44]
    assert d.get_abstract(2) == "1.02.x"  # the first of the duplicate IDs wins lookups
    assert d.get_user_role(2) == 1 and d.get_user_role(44) == 1
    d.set_abstract(2, CT)
    assert d.get_user_role(2) == 7 and d.get_provider_role(2) == 9
    assert d.implementation_version_name == "A VERY LONG VERSION NAME"


def test_decode_repeated_typed_items_kept_raw() -> None:
    user = [
        (0x51, 100),
        (0x51, 200),
        (0x52, "1.2"),
        (0x52, "1.3"),
        (0x53, 1, 2),
        (0x53, 3, 4),
        (0x54, CT, 1, 0),
        (0x54, CT, 0, 1),
        (0x55, "A"),
        (0x55, "B"),
        (0x56, CT, b"a"),
        (0x56, CT, b"b"),
        (0x57, CT, "1.2", ["1.3"]),
        (0x57, CT, "1.4", []),
        (0x58, 1, 0, b"u", b""),
        (0x58, 2, 1, b"u", b"p"),
        (0x59, b"r1"),
        (0x59, b"r2"),
    ]
    data = _core.encode_associate(
        1, 1, "A", "B", C.APPLICATION_CONTEXT_NAME, [[1, 0, CT, ["1.2"]]], user
    )
    d = Associate.decode(data)
    assert d.max_length == 100 and d.implementation_class_uid == "1.2"
    assert d.async_operations == (1, 2) and d.role_selections == {CT: (1, 0)}
    assert d.implementation_version_name == "A" and d.extended_negotiations == {CT: b"a"}
    assert d.common_extended == [CommonExtended(CT, "1.2", ("1.3",))]
    assert d.user_identity == UserIdentity(1, b"u") and d.user_identity_response == b"r1"
    assert [t for t, _ in d.user_info] == [0x51, 0x52, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59]
    # the repeats survive a re-encode with their wire values
    again = [it for it in user_items(d.encode())]
    assert sorted(again, key=repr) == sorted(user, key=repr)


def test_decode_unknown_items_kept() -> None:
    a = make_rq()
    a.add_user_info(0x60, b"private")
    d = Associate.decode(a.encode())
    assert d.user_info == [(0x60, b"private")]
    assert d.get_type_user_info(0) == 0x60 and d.get_data_user_info(0) == b"private"


def test_decode_malformed_raises_protocol_error() -> None:
    from dicomul.errors import ProtocolError

    data = make_rq().encode()
    with pytest.raises(ProtocolError):
        Associate.decode(data[:-3])


def test_decode_accepts_buffers() -> None:
    data = make_rq().encode()
    assert Associate.decode(bytearray(data)) == Associate.decode(memoryview(data)) == make_rq()


def test_decoded_lists_are_owned() -> None:
    """Mutating a decoded handle works (the _core lists are stored as is)."""
    d = Associate.decode(make_rq().encode())
    d.add_transfer(1, C.EXPLICIT_VR_LITTLE_ENDIAN)
    d.set_result(1, 0)
    d.add_presentation(7, MR, transfer_syntaxes=[C.IMPLICIT_VR_LITTLE_ENDIAN])
    d.set_presentation(0, 9)
    assert Associate.decode(d.encode()) == d


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda a: setattr(a, "_called", ""), "called and calling"),
        (lambda a: [a.del_presentation(i) for i in (1, 3, 5)], "at least one presentation"),
        (lambda a: a.del_transfer(1, 0), "at least one transfer syntax"),
    ],
)
def test_encode_refuses_incomplete_rq(mutate: object, message: str) -> None:
    a = make_rq()
    mutate(a)  # type: ignore[operator]
    with pytest.raises(ValueError, match=message):
        a.encode()


def test_encode_refuses_ac_without_accepted_ts() -> None:
    a = make_ac()
    a.add_presentation(7, MR, 0)
    with pytest.raises(ValueError, match="exactly one"):
        a.encode()
    rq = make_rq()
    rq.set_request(False)  # an RQ turned AC with two transfer syntaxes in PC 3
    with pytest.raises(ValueError, match="2 transfer syntaxes"):
        rq.encode()


def test_eq_and_repr() -> None:
    a, b = make_rq(), make_rq()
    assert a == b and a != make_ac() and a != "x"
    b.set_role_select(1, True, 1, 1)
    assert a != b
    with pytest.raises(TypeError):
        hash(a)
    r = repr(a)
    assert r.startswith("Associate(RQ, version=1, called='ANY-SCP', calling='ECHOSCU'")
    assert "max_length=16384" in r and "user_identity" not in r  # only what is set
    assert "3: 1.2.840.10008.5.1.4.1.1.2 [1.2.840.10008.1.2.1, 1.2.840.10008.1.2]" in r
    assert "-> 4" in repr(make_ac())


def test_slots() -> None:
    with pytest.raises(AttributeError):
        Associate().foo = 1  # type: ignore[attr-defined]


# ---- pynetdicom as an encoding oracle ------------------------------------------------


@pytest.mark.interop
def test_pynetdicom_decodes_our_rq() -> None:
    pdu_mod = pytest.importorskip("pynetdicom.pdu")
    a = full_rq(UserIdentity(2, b"alice", b"pw", True))
    a._raw = []  # pynetdicom aborts on unknown sub-items (PEERS.md)
    pdu = pdu_mod.A_ASSOCIATE_RQ()
    pdu.decode(a.encode())
    prim = pdu.to_primitive()
    assert prim.called_ae_title == "ANY-SCP" and prim.calling_ae_title == "ECHOSCU"
    cx = [
        (c.context_id, c.abstract_syntax, list(c.transfer_syntax))
        for c in prim.presentation_context_definition_list
    ]
    assert cx == [
        (pc.id, pc.abstract_syntax, list(pc.transfer_syntaxes)) for pc in a.presentation_contexts
    ]
    by_type = {type(it).__name__: it for it in prim.user_information}
    assert by_type["MaximumLengthNotification"].maximum_length_received == 16384
    assert (
        by_type["ImplementationClassUIDNotification"].implementation_class_uid
        == C.IMPLEMENTATION_CLASS_UID
    )
    assert (
        by_type["ImplementationVersionNameNotification"].implementation_version_name
        == "DICOMUL_010"
    )
    aw = by_type["AsynchronousOperationsWindowNegotiation"]
    assert (aw.maximum_number_operations_invoked, aw.maximum_number_operations_performed) == (0, 1)
    roles = {
        it.sop_class_uid: (it.scu_role, it.scp_role)
        for it in prim.user_information
        if type(it).__name__ == "SCP_SCU_RoleSelectionNegotiation"
    }
    assert roles == {CT: (True, True), C.VERIFICATION_SOP_CLASS: (False, True)}
    ui = by_type["UserIdentityNegotiation"]
    assert (ui.user_identity_type, ui.primary_field, ui.secondary_field) == (2, b"alice", b"pw")
    assert ui.positive_response_requested is True
    ext = by_type["SOPClassExtendedNegotiation"]
    assert (ext.sop_class_uid, ext.service_class_application_information) == (CT, b"\x01\x01\x00")
    common = [
        it
        for it in prim.user_information
        if type(it).__name__ == "SOPClassCommonExtendedNegotiation"
    ]
    assert [
        (c.sop_class_uid, c.service_class_uid, list(c.related_general_sop_class_identification))
        for c in common
    ] == [(CT, "1.2.840.10008.4.2", ["1.2.3"]), (MR, "1.2.840.10008.4.2", [])]


@pytest.mark.interop
def test_we_decode_pynetdicom_ac() -> None:
    pdu_mod = pytest.importorskip("pynetdicom.pdu")
    prims = pytest.importorskip("pynetdicom.pdu_primitives")
    from pynetdicom.presentation import PresentationContext as PynetPC

    p = prims.A_ASSOCIATE()
    p.application_context_name = C.APPLICATION_CONTEXT_NAME
    p.called_ae_title, p.calling_ae_title = "ANY-SCP", "ECHOSCU"
    p.result = 0
    cx = PynetPC()
    cx.context_id, cx.result = 3, 0
    cx.transfer_syntax = [C.EXPLICIT_VR_LITTLE_ENDIAN]
    p.presentation_context_definition_results_list = [cx]
    ml = prims.MaximumLengthNotification()
    ml.maximum_length_received = 0
    ic = prims.ImplementationClassUIDNotification()
    ic.implementation_class_uid = "1.2.3.4"
    ui = prims.UserIdentityNegotiation()
    ui.server_response = b"server-token"
    role = prims.SCP_SCU_RoleSelectionNegotiation()
    role.sop_class_uid, role.scu_role, role.scp_role = CT, True, False
    p.user_information = [ml, ic, role, ui]
    pdu = pdu_mod.A_ASSOCIATE_AC()
    pdu.from_primitive(p)
    d = Associate.decode(pdu.encode())
    assert d.is_request is False and d.max_length == 0
    assert d.implementation_class_uid == "1.2.3.4"
    assert d.user_identity_response == b"server-token"
    assert d.get_presentation(0) == 3 and d.get_transfer(3) == C.EXPLICIT_VR_LITTLE_ENDIAN
    d.backfill_abstracts(make_rq())
    assert d.is_role_select(3) and d.get_user_role(3) == 1 and d.get_provider_role(3) == 0
    assert d.user_info == []
