"""API.md's function tables, walked name by name against dicomul.ul.associate.

Every ``L_Dicom*`` function named in the first column of API.md's tables maps, by the
naming rule (strip ``L_Dicom``, snake_case), to a method of Associate (or to the module
function ``create_associate``); each one must exist and do its job. Net functions are
skipped until Net exists (NET_FUNCTIONS below).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from dicomul.ul import associate as associate_module
from dicomul.ul import constants as C
from dicomul.ul.associate import Associate

API_MD = Path(__file__).resolve().parents[1] / "docs" / "API.md"

#: The "DICOM Net" and send functions: they belong to Net, which does not exist yet.
NET_FUNCTIONS = {
    "SendAssociateRequest",
    "SendAssociateAccept",
    "SendAssociateReject",
    "SendData",
    "SendReleaseRequest",
    "SendReleaseResponse",
    "SendAbort",
    "Connect",
    "Listen",
    "Accept",
    "Close",
    "StartUp",
    "ShutDown",
    "CreateNet",
    "SetCallback",
}

#: Module functions rather than Associate methods.
MODULE_FUNCTIONS = {"create_associate"}

CT = "1.2.840.10008.5.1.4.1.1.2"
IVLE, EVLE = C.IMPLICIT_VR_LITTLE_ENDIAN, C.EXPLICIT_VR_LITTLE_ENDIAN


def leadtools_functions(text: str) -> list[str]:
    """The L_Dicom function names (prefix stripped) in the first column of every table.

    A cell may list several, as in ``L_DicomSetCalled / L_DicomSetCalling(hPDU, psz)`` or
    ``L_DicomIsMaxLength / GetMaxLength`` (the prefix is not repeated).
    """
    names: list[str] = []
    for line in text.splitlines():
        if not line.startswith("|"):
            continue
        cell = line.strip("|").split("|")[0]
        if "L_Dicom" not in cell:
            continue
        cell = re.sub(r"\([^)]*\)", "", cell.replace("`", ""))
        for part in cell.split("/"):
            m = re.fullmatch(r"(?:L_Dicom)?([A-Z][A-Za-z]*)", part.strip())
            assert m, f"cannot parse function name {part.strip()!r} in API.md line {line!r}"
            names.append(m.group(1))
    return names


def snake(name: str) -> str:
    """The naming rule: SetMaxLength -> set_max_length."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def fixture() -> Associate:
    """An RQ with PCs 1 (Verification; two transfer syntaxes) and 3 (CT) and a raw item."""
    a = Associate(True)
    a.add_presentation(1, C.VERIFICATION_SOP_CLASS, transfer_syntaxes=[IVLE, EVLE])
    a.add_presentation(3, CT, transfer_syntaxes=[EVLE])
    a.add_user_info(0x99, b"abc")
    return a


def _set_presentation(a: Associate) -> bool:
    a.set_presentation(1, 7)
    return a.get_presentation(1) == 7 and a.get_abstract(7) == CT


def _set_role_select(a: Associate) -> bool:
    a.set_role_select(3, True, 0, 1)
    return a.is_role_select(3) and (a.get_user_role(3), a.get_provider_role(3)) == (0, 1)


def _set_request(a: Associate) -> bool:
    a.set_request(False)
    return a.is_request is False


#: name -> a call that exercises it on a fresh fixture() and returns True when it worked.
EXERCISES: dict[str, Callable[[Associate], Any]] = {
    # create
    "create_associate": lambda a: (
        associate_module.create_associate(False).is_request is False
        and associate_module.create_associate() == Associate()
    ),
    "default_associate": lambda a: (
        a.default_associate() is a
        and a.get_presentation_count() == 0
        and a.get_max_length() == C.DEFAULT_MAX_LENGTH
        and a.get_implement_class() == C.IMPLEMENTATION_CLASS_UID
    ),
    # modify
    "reset_associate": lambda a: a.reset_associate(False) is None and a == Associate(False),
    "set_request": _set_request,
    "set_version": lambda a: a.set_version(1) is None and a.get_version() == 1,
    "set_called": lambda a: a.set_called(" STORESCP ") is None and a.get_called() == "STORESCP",
    "set_calling": lambda a: a.set_calling("ECHOSCU") is None and a.get_calling() == "ECHOSCU",
    "set_application": lambda a: (
        a.set_application("1.2.3") is None and a.get_application() == "1.2.3"
    ),
    "set_presentation": _set_presentation,
    "add_presentation": lambda a: (
        a.add_presentation(5, C.VERIFICATION_SOP_CLASS) is None and a.get_presentation(2) == 5
    ),
    "del_presentation": lambda a: (
        a.del_presentation(1) is None
        and a.get_presentation_count() == 1
        and a.get_presentation(0) == 3
    ),
    "set_result": lambda a: a.set_result(1, 0) is None and a.get_result(1) == 0,
    "set_abstract": lambda a: a.set_abstract(3, "1.2.3") is None and a.get_abstract(3) == "1.2.3",
    "set_transfer": lambda a: (
        a.set_transfer(1, 1, C.JPEG_BASELINE) is None and a.get_transfer(1, 1) == C.JPEG_BASELINE
    ),
    "add_transfer": lambda a: (
        a.add_transfer(3, IVLE) is None
        and a.get_transfer(3, 1) == IVLE
        and a.get_transfer_count(3) == 2
    ),
    "del_transfer": lambda a: a.del_transfer(1, 0) is None and a.get_transfer(1, 0) == EVLE,
    "set_max_length": lambda a: (
        a.set_max_length(True, 0) is None and a.is_max_length() and a.get_max_length() == 0
    ),
    "set_implement_class": lambda a: (
        a.set_implement_class(True, "1.2.3") is None and a.get_implement_class() == "1.2.3"
    ),
    "set_async_operations": lambda a: (
        a.set_async_operations(True, 3, 4) is None
        and (a.get_invoked_operations(), a.get_performed_operations()) == (3, 4)
    ),
    "set_role_select": _set_role_select,
    "set_implement_version": lambda a: (
        a.set_implement_version(True, "V1") is None and a.get_implement_version() == "V1"
    ),
    "set_user_info": lambda a: (
        a.set_user_info(0, 0x98, b"z") is None
        and (a.get_type_user_info(0), a.get_data_user_info(0)) == (0x98, b"z")
    ),
    "add_user_info": lambda a: (
        a.add_user_info(0x97, b"yy") is None
        and a.get_user_info_count() == 2
        and a.get_length_user_info(1) == 2
    ),
    "del_user_info": lambda a: a.del_user_info(0) is None and a.get_user_info_count() == 0,
    "set_extended": lambda a: (
        a.set_extended(3, b"\x01") is None
        and a.get_extended(3) == b"\x01"
        and a.set_extended(3, None) is None
        and a.get_extended(3) is None
    ),
    # get
    "is_async_operations": lambda a: (
        a.is_async_operations() is False
        and (a.set_async_operations(True, 1, 1) or a.is_async_operations()) is True
    ),
    "is_request": lambda a: a.is_request is True and Associate(False).is_request is False,
    "get_version": lambda a: a.get_version() == 1,
    "get_called": lambda a: a.get_called() == "" and (a.set_called("X") or a.get_called()) == "X",
    "get_calling": lambda a: (
        a.get_calling() == "" and (a.set_calling("Y") or a.get_calling()) == "Y"
    ),
    "get_application": lambda a: a.get_application() == C.APPLICATION_CONTEXT_NAME,
    "get_presentation_count": lambda a: a.get_presentation_count() == 2,
    "get_presentation": lambda a: [a.get_presentation(i) for i in range(2)] == [1, 3],
    "get_result": lambda a: a.get_result(3) == C.PresentationResult.ACCEPTANCE,
    "get_abstract": lambda a: a.get_abstract(1) == C.VERIFICATION_SOP_CLASS,
    "find_abstract": lambda a: a.find_abstract(CT) == 3 and a.find_abstract("1.2.3") == 0,
    "get_transfer_count": lambda a: a.get_transfer_count(1) == 2,
    "get_transfer": lambda a: (a.get_transfer(1), a.get_transfer(1, 1)) == (IVLE, EVLE),
    "is_max_length": lambda a: (
        a.is_max_length() is False and (a.set_max_length(True, 0) or a.is_max_length()) is True
    ),
    "get_max_length": lambda a: (
        a.get_max_length() is None
        and (a.set_max_length(True, 32768) or a.get_max_length()) == 32768
    ),
    "is_implement_class": lambda a: (
        a.is_implement_class() is False and a.default_associate().is_implement_class() is True
    ),
    "get_implement_class": lambda a: (
        a.default_associate().get_implement_class() == C.IMPLEMENTATION_CLASS_UID
    ),
    "get_invoked_operations": lambda a: (
        a.get_invoked_operations() is None
        and (a.set_async_operations(True, 0, 9) or a.get_invoked_operations()) == 0
    ),
    "get_performed_operations": lambda a: (
        a.get_performed_operations() is None
        and (a.set_async_operations(True, 0, 9) or a.get_performed_operations()) == 9
    ),
    "get_user_role": lambda a: (
        a.get_user_role(3) == C.RoleSupport.SUPPORTED
        and (a.set_role_select(3, True, 0, 0) or a.get_user_role(3)) == C.RoleSupport.UNSUPPORTED
    ),
    "get_provider_role": lambda a: (
        a.get_provider_role(3) == C.RoleSupport.UNSUPPORTED
        and (a.set_role_select(3, True, 1, 1) or a.get_provider_role(3)) == C.RoleSupport.SUPPORTED
    ),
    "is_role_select": lambda a: (
        a.is_role_select(1) is False
        and (a.set_role_select(1, True, 1, 0) or a.is_role_select(1)) is True
    ),
    "is_implement_version": lambda a: (
        a.is_implement_version() is False and a.default_associate().is_implement_version() is True
    ),
    "get_implement_version": lambda a: (
        a.default_associate().get_implement_version() == C.IMPLEMENTATION_VERSION_NAME
    ),
    "get_user_info_count": lambda a: a.get_user_info_count() == 1,
    "get_type_user_info": lambda a: a.get_type_user_info(0) == 0x99,
    "get_length_user_info": lambda a: a.get_length_user_info(0) == 3,
    "get_data_user_info": lambda a: a.get_data_user_info(0) == b"abc",
    "get_length_extended": lambda a: (
        a.get_length_extended(3) == 0
        and (a.set_extended(3, b"12345") or a.get_length_extended(3)) == 5
    ),
    "get_extended": lambda a: (
        a.get_extended(3) is None and (a.set_extended(3, b"\x00") or a.get_extended(3)) == b"\x00"
    ),
}


def test_every_api_md_associate_function_exists_and_works() -> None:
    if not API_MD.is_file():
        pytest.fail(f"API.md not found at {API_MD} (docs/API.md: the LEADTOOLS mapping, user docs)")
    names = leadtools_functions(API_MD.read_text(encoding="utf-8"))
    associate_names = [n for n in names if n not in NET_FUNCTIONS]
    modify = [n for n in associate_names if re.match(r"(Set|Add|Del)[A-Z]", n)]
    get = [n for n in associate_names if re.match(r"(Get|Is|Find)[A-Z]", n)]
    assert len(modify) == 22, modify
    assert len(get) == 30, get
    assert set(NET_FUNCTIONS) <= set(names), set(NET_FUNCTIONS) - set(names)

    mapped = [snake(n) for n in associate_names]
    assert sorted(mapped) == sorted(EXERCISES), (
        f"in API.md without an exercise: {sorted(set(mapped) - set(EXERCISES))}; "
        f"exercised but not in API.md: {sorted(set(EXERCISES) - set(mapped))}"
    )
    problems = []
    for name in mapped:
        if name in MODULE_FUNCTIONS:
            owner: object = associate_module
        else:
            owner = Associate
        if not callable(getattr(owner, name, None)) and not (
            name == "is_request" and isinstance(getattr(Associate, name), property)
        ):
            problems.append(f"{name}: missing on {getattr(owner, '__name__', owner)}")
            continue
        try:
            ok = EXERCISES[name](fixture())
        except Exception as exc:  # noqa: BLE001 - collect every failure
            problems.append(f"{name}: raised {exc!r}")
            continue
        if ok is not True:
            problems.append(f"{name}: exercise returned {ok!r}")
    assert not problems, "\n".join(problems)
