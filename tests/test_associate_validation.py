"""Every set-time check of Associate and of the constants helpers, with its message.

Needs no compiled module: nothing here encodes or decodes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from dicomul.ul import constants as C
from dicomul.ul.associate import Associate, UserIdentity

CT = "1.2.840.10008.5.1.4.1.1.2"


def rq() -> Associate:
    a = Associate(True)
    a.add_presentation(1, CT, transfer_syntaxes=[C.IMPLICIT_VR_LITTLE_ENDIAN])
    a.add_user_info(0x99, b"x")
    return a


def ac() -> Associate:
    a = Associate(False)
    a.add_presentation(1, CT, 0, [C.IMPLICIT_VR_LITTLE_ENDIAN])
    a.add_presentation(3, None, 3)
    return a


def snapshot(a: Associate) -> str:
    return repr(a)


# ---- AE titles ----------------------------------------------------------------------

BAD_AE = [
    ("", ValueError, "empty or all spaces"),
    ("                ", ValueError, "empty or all spaces"),
    ("ABCDEFGHIJKLMNOPQ", ValueError, "17 characters long; the maximum is 16"),
    ("AB\\CD", ValueError, "backslash"),
    ("AB\tCD", ValueError, r"control character \(0x09\)"),
    ("AB\x7fCD", ValueError, "control character"),
    ("ABÉ", ValueError, "non-ASCII character 'É'"),
    (b"ANY", TypeError, "must be a str, not bytes"),
    (None, TypeError, "must be a str, not NoneType"),
]


@pytest.mark.parametrize("value, exc, message", BAD_AE)
@pytest.mark.parametrize("setter", ["set_called", "set_calling"])
def test_bad_ae_titles(setter: str, value: Any, exc: type, message: str) -> None:
    a = Associate()
    a.set_called("KEEP")
    a.set_calling("KEEP")
    with pytest.raises(exc, match=message):
        getattr(a, setter)(value)
    assert a.called == a.calling == "KEEP"  # nothing changed


@pytest.mark.parametrize(
    "value, stored",
    [
        ("A", "A"),
        ("  PADDED  ", "PADDED"),
        ("ABCDEFGHIJKLMNOP", "ABCDEFGHIJKLMNOP"),
        (" " * 4 + "ABCDEFGHIJKLMNOP" + " " * 4, "ABCDEFGHIJKLMNOP"),
        ("MY AE-1_x", "MY AE-1_x"),
    ],
)
def test_good_ae_titles(value: str, stored: str) -> None:
    a = Associate()
    a.called = value
    assert a.called == stored


def test_ae_property_uses_same_check() -> None:
    with pytest.raises(ValueError, match="calling AE title"):
        Associate().calling = "x" * 17


# ---- UIDs ---------------------------------------------------------------------------

BAD_UIDS = [
    ("", ValueError, "is empty"),
    ("1." + "2" * 63, ValueError, "65 characters long; the maximum is 64"),
    ("1.2.a", ValueError, "characters other than digits and dots"),
    ("1.2 ", ValueError, "characters other than digits and dots"),
    (".1.2", ValueError, "starts or ends with a dot"),
    ("1.2.", ValueError, "starts or ends with a dot"),
    ("1..2", ValueError, "empty component"),
    ("1.02", ValueError, r"leading zero \('02'\)"),
    (1.2, TypeError, "must be a str, not float"),
]


@pytest.mark.parametrize("value, exc, message", BAD_UIDS)
@pytest.mark.parametrize(
    "call, what",
    [
        (lambda a, u: a.set_application(u), "application context name"),
        (lambda a, u: a.set_abstract(1, u), "abstract syntax"),
        (lambda a, u: a.add_presentation(3, u), "abstract syntax"),
        (lambda a, u: a.add_transfer(1, u), "transfer syntax"),
        (lambda a, u: a.set_transfer(1, 0, u), "transfer syntax"),
        (lambda a, u: a.add_presentation(3, CT, 0, [u]), "transfer syntax"),
        (lambda a, u: a.set_implement_class(True, u), "implementation class UID"),
        (lambda a, u: a.add_common_extended(u, "1.2"), "SOP class UID"),
        (lambda a, u: a.add_common_extended("1.2", u), "service class UID"),
        (lambda a, u: a.add_common_extended("1.2", "1.2", [u]), "related general SOP class UID"),
    ],
)
def test_bad_uids(
    call: Callable[[Associate, Any], None], what: str, value: Any, exc: type, message: str
) -> None:
    a = rq()
    before = snapshot(a)
    with pytest.raises(exc, match=f"^{what}.*{message}"):
        call(a, value)
    assert snapshot(a) == before


@pytest.mark.parametrize(
    "uid",
    [
        "0",
        "1",
        "1.2",
        "0.0.0",
        "1.20.300",
        "1." + "2" * 62,
        C.APPLICATION_CONTEXT_NAME,
        C.IMPLEMENTATION_CLASS_UID,
    ],
)
def test_good_uids(uid: str) -> None:
    a = Associate()
    a.application_context = uid
    assert a.get_application() == uid


# ---- presentation context IDs, results, indices -----------------------------------


@pytest.mark.parametrize(
    "pc_id, exc, message",
    [
        (2, ValueError, "presentation context ID 2 is even"),
        (0, ValueError, r"presentation context ID 0 is out of range 1\.\.255"),
        (257, ValueError, "out of range 1..255"),
        (-1, ValueError, "out of range"),
        ("1", TypeError, "presentation context ID must be an int, not str"),
        (True, TypeError, "must be an int, not bool"),
        (1, ValueError, "presentation context ID 1 is already used"),
    ],
)
def test_bad_pc_ids_on_add(pc_id: Any, exc: type, message: str) -> None:
    a = rq()
    with pytest.raises(exc, match=message):
        a.add_presentation(pc_id, CT)
    assert a.presentation_count == 1


def test_set_presentation_checks() -> None:
    a = rq()
    a.add_presentation(3, CT, transfer_syntaxes=[C.IMPLICIT_VR_LITTLE_ENDIAN])
    with pytest.raises(ValueError, match="presentation context ID 3 is already used"):
        a.set_presentation(0, 3)
    with pytest.raises(ValueError, match="is even"):
        a.set_presentation(0, 4)
    with pytest.raises(IndexError, match=r"presentation context index 2 is out of range 0\.\.1"):
        a.set_presentation(2, 5)
    assert [a.get_presentation(i) for i in range(2)] == [1, 3]


@pytest.mark.parametrize(
    "call",
    [
        lambda a: a.get_presentation(1),
        lambda a: a.get_presentation(-1),
        lambda a: a.set_presentation(5, 3),
    ],
)
def test_presentation_index_errors(call: Callable[[Associate], Any]) -> None:
    with pytest.raises(IndexError, match="presentation context index .* is out of range 0..0"):
        call(rq())


def test_index_error_on_empty_list() -> None:
    with pytest.raises(IndexError, match="there are no items"):
        Associate().get_presentation(0)
    with pytest.raises(IndexError, match="user information index 0 is out of range"):
        Associate().get_data_user_info(0)


UNKNOWN_ID_CALLS: list[Callable[[Associate], Any]] = [
    lambda a: a.del_presentation(7),
    lambda a: a.get_result(7),
    lambda a: a.set_result(7, 0),
    lambda a: a.get_abstract(7),
    lambda a: a.set_abstract(7, CT),
    lambda a: a.get_transfer_count(7),
    lambda a: a.get_transfer(7),
    lambda a: a.set_transfer(7, 0, "1.2"),
    lambda a: a.add_transfer(7, "1.2"),
    lambda a: a.del_transfer(7, 0),
    lambda a: a.set_role_select(7, True, 1, 1),
    lambda a: a.is_role_select(7),
    lambda a: a.get_user_role(7),
    lambda a: a.get_provider_role(7),
    lambda a: a.set_extended(7, b"x"),
    lambda a: a.get_extended(7),
    lambda a: a.get_length_extended(7),
    lambda a: a.find_next_abstract(7, CT),
]


@pytest.mark.parametrize("call", UNKNOWN_ID_CALLS)
def test_unknown_pc_id_is_key_error(call: Callable[[Associate], Any]) -> None:
    a = rq()
    before = snapshot(a)
    with pytest.raises(KeyError, match="no presentation context with ID 7"):
        call(a)
    assert snapshot(a) == before


def test_pc_id_lookup_type_error() -> None:
    with pytest.raises(TypeError, match="presentation context ID must be an int, not str"):
        rq().get_result("1")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "result, message",
    [(5, r"result 5 is out of range 0\.\.4"), (-1, "out of range 0..4"), ("0", "must be an int")],
)
def test_bad_results(result: Any, message: str) -> None:
    a = ac()
    with pytest.raises((ValueError, TypeError), match=message):
        a.set_result(1, result)
    with pytest.raises((ValueError, TypeError), match=message):
        a.add_presentation(5, CT, result)
    assert a.get_result(1) == 0 and a.presentation_count == 2


def test_rq_result_must_be_zero() -> None:
    a = rq()
    with pytest.raises(ValueError, match="result 3 in an A-ASSOCIATE-RQ; a request carries 0"):
        a.set_result(1, 3)
    with pytest.raises(ValueError, match="a request carries 0"):
        a.add_presentation(3, 2, CT)  # LEADTOOLS order
    a.set_result(1, C.PresentationResult.ACCEPTANCE)


def test_rq_abstract_syntax_required() -> None:
    with pytest.raises(TypeError, match="abstract syntax must be a str, not NoneType"):
        rq().add_presentation(3, None)
    with pytest.raises(TypeError, match="abstract syntax must be a str"):
        rq().set_abstract(1, None)


def test_leadtools_order_missing_abstract() -> None:
    with pytest.raises(TypeError, match=r"add_presentation\(pc_id, result, abstract_syntax\)"):
        ac().add_presentation(5, 0)


def test_transfer_syntaxes_not_a_str() -> None:
    with pytest.raises(TypeError, match="transfer_syntaxes must be a sequence of str"):
        rq().add_presentation(3, CT, 0, C.IMPLICIT_VR_LITTLE_ENDIAN)  # type: ignore[arg-type]


# ---- A-ASSOCIATE-AC: exactly one transfer syntax per PC -------------------------------


def test_ac_one_transfer_syntax() -> None:
    a = ac()
    with pytest.raises(ValueError, match="already has its one transfer syntax; use set_transfer"):
        a.add_transfer(1, C.EXPLICIT_VR_LITTLE_ENDIAN)
    assert a.get_transfer_count(1) == 1
    a.add_transfer(3, C.EXPLICIT_VR_LITTLE_ENDIAN)  # the first one is fine
    with pytest.raises(ValueError, match="one transfer syntax"):
        a.add_presentation(5, CT, 0, [C.IMPLICIT_VR_LITTLE_ENDIAN, C.EXPLICIT_VR_LITTLE_ENDIAN])


@pytest.mark.parametrize("index", [1, -1, 5])
def test_transfer_index_errors(index: int) -> None:
    a = rq()
    for call in (
        lambda: a.get_transfer(1, index),
        lambda: a.set_transfer(1, index, "1.2"),
        lambda: a.del_transfer(1, index),
    ):
        with pytest.raises(
            IndexError, match=rf"transfer syntax index {index} is out of range 0\.\.0"
        ):
            call()
    assert a.get_transfer_count(1) == 1


# ---- optional user-information items ------------------------------------------------


@pytest.mark.parametrize(
    "call, exc, message",
    [
        (
            lambda a: a.set_max_length(True, -1),
            ValueError,
            r"maximum length -1 is out of range 0\.\.4294967295",
        ),
        (
            lambda a: a.set_max_length(True, 2**32),
            ValueError,
            "maximum length 4294967296 is out of range",
        ),
        (
            lambda a: setattr(a, "max_length", 1.5),
            TypeError,
            "maximum length must be an int, not float",
        ),
        (
            lambda a: a.set_async_operations(True, 65536, 1),
            ValueError,
            r"invoked operations 65536 is out of range 0\.\.65535",
        ),
        (
            lambda a: a.set_async_operations(True, 1, -1),
            ValueError,
            "performed operations -1 is out of range",
        ),
        (
            lambda a: setattr(a, "async_operations", (1, "2")),
            TypeError,
            "performed operations must be an int",
        ),
        (
            lambda a: a.set_implement_version(True, ""),
            ValueError,
            "implementation version name is empty",
        ),
        (
            lambda a: a.set_implement_version(True, "X" * 17),
            ValueError,
            "17 characters long; the maximum is 16",
        ),
        (
            lambda a: a.set_implement_version(True, "A\\B"),
            ValueError,
            "only printable ASCII without backslash",
        ),
        (lambda a: a.set_implement_version(True, "A\nB"), ValueError, "only printable ASCII"),
        (lambda a: a.set_implement_version(True, "Ä"), ValueError, "only printable ASCII"),
        (
            lambda a: a.set_implement_version(True, None),
            TypeError,
            "implementation version name must be a str",
        ),
        (
            lambda a: a.set_implement_class(True, None),
            TypeError,
            "implementation class UID must be a str",
        ),
        (
            lambda a: a.set_version(0x10000),
            ValueError,
            r"protocol version 65536 is out of range 0\.\.65535",
        ),
        (lambda a: setattr(a, "version", "1"), TypeError, "protocol version must be an int"),
        (lambda a: a.set_request("no"), TypeError, "request must be a bool, not str"),
        (lambda a: a.reset_associate(None), TypeError, "request must be a bool"),
    ],
)
def test_optional_item_checks(call: Callable[[Associate], Any], exc: type, message: str) -> None:
    a = rq()
    before = snapshot(a)
    with pytest.raises(exc, match=message):
        call(a)
    assert snapshot(a) == before


def test_optional_item_bounds_accepted() -> None:
    a = Associate()
    a.set_max_length(True, 0)
    a.set_max_length(True, 0xFFFFFFFF)
    a.set_async_operations(True, 0, 65535)
    a.set_implement_version(True, "X" * 16)
    a.set_version(0)
    # disabled: the value is not looked at
    a.set_implement_class(False, None)
    a.set_max_length(False, -5)
    assert a.max_length is None and a.implementation_class_uid is None


@pytest.mark.parametrize(
    "args, exc, message",
    [
        ((True, 2, 0), ValueError, "SCU role 2 is not 0 \\(unsupported\\) or 1 \\(supported\\)"),
        ((True, 0, -1), ValueError, "SCP role -1 is not 0"),
        ((True, "1", 0), TypeError, "SCU role must be an int, not str"),
    ],
)
def test_role_values(args: tuple, exc: type, message: str) -> None:
    a = rq()
    with pytest.raises(exc, match=message):
        a.set_role_select(1, *args)
    assert not a.is_role_select(1)
    a.set_role_select(1, True, True, False)  # bools are 1/0
    assert a.role_selections == {CT: (1, 0)}


def test_extended_data_checks() -> None:
    a = rq()
    with pytest.raises(TypeError, match="extended negotiation data must be bytes-like, not str"):
        a.set_extended(1, "x")  # type: ignore[arg-type]
    with pytest.raises(
        ValueError, match="extended negotiation data is 65534 bytes long; the maximum is 65508"
    ):
        a.set_extended(1, bytes(65534))
    a.set_extended(1, bytes(65535 - 2 - len(CT)))
    assert a.get_length_extended(1) == 65508


@pytest.mark.parametrize(
    "args, exc, message",
    [
        ((256, b""), ValueError, r"user information item type 256 is out of range 0\.\.255"),
        ((-1, b""), ValueError, "item type -1 is out of range"),
        ((0x99, "text"), TypeError, "user information data must be bytes-like, not str"),
        ((0x99, bytes(65536)), ValueError, "65536 bytes long; the maximum is 65535"),
        (("a", b""), TypeError, "user information item type must be an int"),
    ],
)
def test_raw_user_info_checks(args: tuple, exc: type, message: str) -> None:
    a = rq()
    with pytest.raises(exc, match=message):
        a.add_user_info(*args)
    with pytest.raises(exc, match=message):
        a.set_user_info(0, *args)
    assert a.user_info == [(0x99, b"x")]
    a.add_user_info(0, bytes(65535))
    a.add_user_info(255, b"")


@pytest.mark.parametrize(
    "call",
    [
        lambda a: a.get_type_user_info(1),
        lambda a: a.del_user_info(1),
        lambda a: a.set_user_info(1, 1, b""),
        lambda a: a.get_length_user_info(-1),
    ],
)
def test_raw_user_info_index(call: Callable[[Associate], Any]) -> None:
    with pytest.raises(IndexError, match=r"user information index -?1 is out of range 0\.\.0"):
        call(rq())


@pytest.mark.parametrize(
    "args, exc, message",
    [
        ((0, b"u"), ValueError, r"user identity type 0 is out of range 1\.\.5"),
        ((6, b"u"), ValueError, "user identity type 6 is out of range"),
        ((1, b""), ValueError, "user identity primary field is empty"),
        ((1, b"u", b"pw"), ValueError, "user identity type 1 has no secondary field"),
        ((5, b"jwt", "pw"), ValueError, "type 5 has no secondary field"),
        ((1, 5), TypeError, "user identity primary field must be bytes-like, not int"),
        ((2, b"u", bytes(65530)), ValueError, "too long for one sub-item"),
    ],
)
def test_user_identity_checks(args: tuple, exc: type, message: str) -> None:
    a = rq()
    with pytest.raises(exc, match=message):
        a.set_user_identity(*args)
    assert a.user_identity is None


def test_user_identity_direction() -> None:
    with pytest.raises(ValueError, match="an AC carries the response"):
        ac().set_user_identity(1, b"u")
    with pytest.raises(ValueError, match="goes in an A-ASSOCIATE-AC"):
        rq().set_user_identity_response(b"r")
    with pytest.raises(ValueError, match="goes in an A-ASSOCIATE-AC"):
        rq().user_identity_response = b"r"
    with pytest.raises(ValueError, match="maximum is 65533"):
        ac().set_user_identity_response(bytes(65534))
    with pytest.raises(ValueError, match="A-ASSOCIATE-RQ only"):
        ac().add_common_extended(CT, "1.2")
    a = rq()
    a.user_identity = UserIdentity(2, b"u", b"p")
    with pytest.raises(ValueError, match="has no secondary field"):
        a.user_identity = UserIdentity(1, b"u", b"p")
    assert a.user_identity == UserIdentity(2, b"u", b"p")


def test_common_extended_checks() -> None:
    a = rq()
    with pytest.raises(TypeError, match="related_general_sop_classes must be a sequence of str"):
        a.add_common_extended(CT, "1.2", "1.2.3")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="too long for one sub-item"):
        a.add_common_extended(CT, "1.2", ["1." + "2" * 62] * 1100)
    assert a.common_extended == []


def test_role_extended_need_abstract_syntax() -> None:
    a = ac()
    with pytest.raises(ValueError, match="presentation context 3 has no abstract syntax"):
        a.set_role_select(3, True, 1, 1)
    with pytest.raises(ValueError, match="backfill_abstracts"):
        a.set_extended(3, b"")


def test_constructor_type_check() -> None:
    with pytest.raises(TypeError, match="request must be a bool, not str"):
        Associate("yes")  # type: ignore[arg-type]


def test_not_local_protocol_error() -> None:
    """Argument errors are ValueError/TypeError, never the protocol exceptions."""
    from dicomul.errors import DicomULError

    with pytest.raises(ValueError) as info:
        rq().add_presentation(2, CT)
    assert not isinstance(info.value, DicomULError)


# ---- constants helpers --------------------------------------------------------------


def test_enum_values() -> None:
    assert [int(m) for m in C.PDUType] == list(range(8))
    assert [int(m) for m in C.PresentationResult] == [0, 1, 2, 3, 4]
    assert (C.RejectResult.PERMANENT, C.RejectResult.TRANSIENT) == (1, 2)
    assert [int(m) for m in C.RejectSource] == [1, 2, 3]
    assert [int(m) for m in C.RejectReasonUser] == [1, 2, 3, 7]
    assert [int(m) for m in C.RejectReasonACSE] == [1, 2]
    assert [int(m) for m in C.RejectReasonPresentation] == [1, 2]
    assert [int(m) for m in C.AbortSource] == [0, 2]
    assert [int(m) for m in C.AbortReason] == [0, 1, 2, 4, 5, 6]
    assert [int(m) for m in C.RoleSupport] == [0, 1]
    assert [int(m) for m in C.UserIdentityType] == [1, 2, 3, 4, 5]
    assert [int(m) for m in C.ItemType] == [0x10, 0x20, 0x21, 0x30, 0x40, 0x50, *range(0x51, 0x5A)]
    assert C.UID_MAX_SIZE == 64


def test_uids_match_pydicom() -> None:
    uid = pytest.importorskip("pydicom.uid")
    assert C.IMPLICIT_VR_LITTLE_ENDIAN == uid.ImplicitVRLittleEndian
    assert C.EXPLICIT_VR_LITTLE_ENDIAN == uid.ExplicitVRLittleEndian
    assert C.DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN == uid.DeflatedExplicitVRLittleEndian
    assert C.EXPLICIT_VR_BIG_ENDIAN == uid.ExplicitVRBigEndian
    assert C.JPEG_BASELINE == uid.JPEGBaseline8Bit
    assert C.JPEG_LOSSLESS_SV1 == uid.JPEGLosslessSV1
    assert C.JPEG2000_LOSSLESS == uid.JPEG2000Lossless
    assert C.JPEG2000 == uid.JPEG2000
    assert C.RLE_LOSSLESS == uid.RLELossless
    assert C.VERIFICATION_SOP_CLASS == "1.2.840.10008.1.1"
    assert C.APPLICATION_CONTEXT_NAME == "1.2.840.10008.3.1.1.1"


@pytest.mark.parametrize(
    "triple, expected",
    [
        ((1, 1, 1), C.RejectReasonUser.NO_REASON),
        ((2, 1, 7), C.RejectReasonUser.CALLED_AE_NOT_RECOGNIZED),
        ((1, 2, 2), C.RejectReasonACSE.PROTOCOL_VERSION_NOT_SUPPORTED),
        ((2, 3, 1), C.RejectReasonPresentation.TEMPORARY_CONGESTION),
        ((2, 3, 2), C.RejectReasonPresentation.LOCAL_LIMIT_EXCEEDED),
    ],
)
def test_validate_reject_ok(triple: tuple[int, int, int], expected: Any) -> None:
    result, source, reason = C.validate_reject(*triple)
    assert reason is expected and type(reason) is type(expected)
    assert isinstance(result, C.RejectResult) and isinstance(source, C.RejectSource)


@pytest.mark.parametrize(
    "triple, exc, message",
    [
        ((0, 1, 1), ValueError, "reject result 0 is not defined"),
        ((3, 1, 1), ValueError, "reject result 3"),
        ((1, 0, 1), ValueError, "reject source 0 is not defined"),
        ((1, 4, 1), ValueError, "reject source 4"),
        ((1, 1, 4), ValueError, "reject reason 4 is not defined for source 1"),
        ((1, 1, 0), ValueError, "reject reason 0 is not defined for source 1"),
        ((1, 2, 3), ValueError, "reject reason 3 is not defined for source 2"),
        ((1, 3, 0), ValueError, "reject reason 0 is not defined for source 3"),
        ((1, 3, 7), ValueError, "for source 3; expected one of 1 \\(TEMPORARY_CONGESTION\\)"),
        (("1", 1, 1), TypeError, "reject result must be an int, not str"),
        ((1, 1.0, 1), TypeError, "reject source must be an int"),
    ],
)
def test_validate_reject_bad(triple: tuple, exc: type, message: str) -> None:
    with pytest.raises(exc, match=message):
        C.validate_reject(*triple)


def test_reject_reason_enum() -> None:
    assert C.reject_reason_enum(1) is C.RejectReasonUser
    assert C.reject_reason_enum(C.RejectSource.PROVIDER_ACSE) is C.RejectReasonACSE
    assert C.reject_reason_enum(3) is C.RejectReasonPresentation
    with pytest.raises(ValueError, match="reject source 5 is not defined"):
        C.reject_reason_enum(5)


@pytest.mark.parametrize(
    "pair, expected",
    [
        ((0, 0), (C.AbortSource.USER, C.AbortReason.NOT_SPECIFIED)),
        ((2, 0), (C.AbortSource.PROVIDER, C.AbortReason.NOT_SPECIFIED)),
        ((2, 6), (C.AbortSource.PROVIDER, C.AbortReason.INVALID_PDU_PARAMETER_VALUE)),
    ],
)
def test_validate_abort_ok(pair: tuple[int, int], expected: tuple) -> None:
    assert C.validate_abort(*pair) == expected


@pytest.mark.parametrize(
    "pair, exc, message",
    [
        ((1, 0), ValueError, "abort source 1 is not defined"),
        ((3, 0), ValueError, "abort source 3"),
        ((0, 1), ValueError, "abort reason must be 0 when the source is 0"),
        ((2, 3), ValueError, "abort reason 3 is not defined"),
        ((2, 7), ValueError, "abort reason 7"),
        ((None, 0), TypeError, "abort source must be an int"),
    ],
)
def test_validate_abort_bad(pair: tuple, exc: type, message: str) -> None:
    with pytest.raises(exc, match=message):
        C.validate_abort(*pair)
