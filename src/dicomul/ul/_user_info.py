"""The user-information sub-items of an A-ASSOCIATE-RQ/AC that are not addressed by
presentation context: 51H maximum length, 52H / 55H implementation class and version,
53H asynchronous operations window, 57H common extended negotiation, 58H / 59H user
identity, and the raw items without a typed API.

:class:`UserInfoItems` holds their fields and methods and is the base class of
:class:`~dicomul.ul.associate.Associate` (the conventions of that module's docstring
apply). 54H role selection and 56H extended negotiation are set per presentation context
ID and stay with the presentation contexts in Associate.
:class:`UserIdentity` and :class:`CommonExtended` are re-exported by
``dicomul.ul.associate``, their public home.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

from . import _validate as _v

__all__ = ["UserIdentity", "CommonExtended", "UserInfoItems"]

_Bytes = bytes | bytearray | memoryview


class UserIdentity(NamedTuple):
    """User identity negotiation of an A-ASSOCIATE-RQ (sub-item 58H, PS3.7 D.3.3.7).

    ``identity_type`` is a :class:`~dicomul.ul.constants.UserIdentityType` value; ``secondary``
    (the passcode) is used by type 2 only.
    """

    identity_type: int
    primary: bytes
    secondary: bytes = b""
    positive_response: bool = False


class CommonExtended(NamedTuple):
    """SOP class common extended negotiation (sub-item 57H, PS3.7 D.3.3.6), RQ only."""

    sop_class_uid: str
    service_class_uid: str
    related_general_sop_classes: tuple[str, ...] = ()


class UserInfoItems:
    """The 51H, 52H, 53H, 55H, 57H, 58H, 59H and raw user-information fields and methods
    of :class:`~dicomul.ul.associate.Associate`. Not used alone: Associate sets these
    fields (``_clear``, ``decode``) and owns ``_request``, which the RQ-only and AC-only
    items check."""

    __slots__ = tuple(
        "_max_length _impl_class _impl_version _async _common _identity _identity_response"
        " _raw".split()
    )

    _request: bool  # Associate's slot
    _max_length: int | None
    _impl_class: str | None
    _impl_version: str | None
    _async: tuple[int, int] | None
    _common: dict[str, CommonExtended]
    _identity: UserIdentity | None
    _identity_response: bytes | None
    _raw: list[tuple[int, bytes]]

    # ---- 51H maximum length, 52H / 55H implementation, 53H async window -------------

    def set_max_length(self, enabled: bool, length: int = 0) -> None:
        """L_DicomSetMaxLength: include (``enabled``) a 51H item announcing ``length``
        (0..0xFFFFFFFF, 0 = no maximum), or omit it."""
        self._max_length = (
            _v.check_range("maximum length", length, 0, 0xFFFFFFFF) if enabled else None
        )

    def is_max_length(self) -> bool:
        """L_DicomIsMaxLength: is there a 51H item?"""
        return self._max_length is not None

    def get_max_length(self) -> int | None:
        """L_DicomGetMaxLength: the announced maximum length, None without a 51H item."""
        return self._max_length

    def _max_length_set(self, value: int | None) -> None:
        self.set_max_length(value is not None, 0 if value is None else value)

    max_length = property(
        get_max_length, _max_length_set, doc="51H: None = no item, 0 = item with no maximum."
    )

    def set_implement_class(self, enabled: bool, uid: str | None = None) -> None:
        """L_DicomSetImplementClass: include (``enabled``) a 52H item with ``uid``, or omit it."""
        self._impl_class = _v.check_uid("implementation class UID", uid) if enabled else None

    def is_implement_class(self) -> bool:
        """L_DicomIsImplementClass: is there a 52H item?"""
        return self._impl_class is not None

    def get_implement_class(self) -> str | None:
        """L_DicomGetImplementClass: implementation class UID, None without a 52H item."""
        return self._impl_class

    def _impl_class_set(self, value: str | None) -> None:
        self.set_implement_class(value is not None, value)

    implementation_class_uid = property(
        get_implement_class, _impl_class_set, doc="Implementation class UID (52H) or None."
    )

    def set_implement_version(self, enabled: bool, name: str | None = None) -> None:
        """L_DicomSetImplementVersion: include (``enabled``) a 55H item with ``name`` (1-16
        characters), or omit it."""
        self._impl_version = _v.check_implementation_version_name(name) if enabled else None

    def is_implement_version(self) -> bool:
        """L_DicomIsImplementVersion: is there a 55H item?"""
        return self._impl_version is not None

    def get_implement_version(self) -> str | None:
        """L_DicomGetImplementVersion: implementation version name, None without 55H."""
        return self._impl_version

    def _impl_version_set(self, value: str | None) -> None:
        self.set_implement_version(value is not None, value)

    implementation_version_name = property(
        get_implement_version, _impl_version_set, doc="Implementation version name (55H) or None."
    )

    def set_async_operations(self, enabled: bool, invoked: int = 1, performed: int = 1) -> None:
        """L_DicomSetAsyncOperations: include (``enabled``) a 53H item with the maximum numbers
        of operations invoked / performed (0..65535, 0 = unlimited), or omit it (which
        PS3.7 reads as 1/1)."""
        if enabled:
            self._async = (
                _v.check_range("invoked operations", invoked, 0, 0xFFFF),
                _v.check_range("performed operations", performed, 0, 0xFFFF),
            )
        else:
            self._async = None

    def is_async_operations(self) -> bool:
        """L_DicomIsAsyncOperations: is there a 53H item?"""
        return self._async is not None

    def get_invoked_operations(self) -> int | None:
        """L_DicomGetInvokedOperations: max operations invoked, None without 53H."""
        return None if self._async is None else self._async[0]

    def get_performed_operations(self) -> int | None:
        """L_DicomGetPerformedOperations: max operations performed, None without 53H."""
        return None if self._async is None else self._async[1]

    invoked_operations = property(get_invoked_operations, doc="Max operations invoked (53H).")
    performed_operations = property(get_performed_operations, doc="Max operations performed (53H).")

    def _async_get(self) -> tuple[int, int] | None:
        return self._async

    def _async_set(self, value: tuple[int, int] | None) -> None:
        self.set_async_operations(value is not None, *(value or (1, 1)))

    async_operations = property(
        _async_get, _async_set, doc="``(invoked, performed)`` of the 53H item, or None."
    )

    # ---- raw user-information items -------------------------------------------------

    def _raw_index(self, index: int) -> int:
        return _v.check_index("user information index", index, len(self._raw))

    @staticmethod
    def _raw_item(item_type: int, data: _Bytes) -> tuple[int, bytes]:
        return (
            _v.check_range("user information item type", item_type, 0, 255),
            _v.check_bytes("user information data", data),
        )

    def set_user_info(self, index: int, item_type: int, data: _Bytes) -> None:
        """L_DicomSetUserInfo: replace the raw user-information item at 0-based ``index``."""
        i = self._raw_index(index)
        self._raw[i] = self._raw_item(item_type, data)

    def add_user_info(self, item_type: int, data: _Bytes) -> None:
        """L_DicomAddUserInfo: append a raw user-information item (type 0-255, at most 65535
        bytes). It is sent verbatim after the typed items, whatever its type, except type
        59H, whose data is the server response (its 2-byte length field is added)."""
        self._raw.append(self._raw_item(item_type, data))

    def del_user_info(self, index: int) -> None:
        """L_DicomDelUserInfo: remove the raw item at 0-based ``index``."""
        del self._raw[self._raw_index(index)]

    def get_user_info_count(self) -> int:
        """L_DicomGetUserInfoCount: number of raw user-information items."""
        return len(self._raw)

    user_info_count = property(get_user_info_count, doc="Number of raw user-information items.")

    def get_type_user_info(self, index: int) -> int:
        """L_DicomGetTypeUserInfo: item type of the raw item at ``index``."""
        return self._raw[self._raw_index(index)][0]

    def get_length_user_info(self, index: int) -> int:
        """L_DicomGetLengthUserInfo: data length of the raw item at ``index``."""
        return len(self._raw[self._raw_index(index)][1])

    def get_data_user_info(self, index: int) -> bytes:
        """L_DicomGetDataUserInfo: data of the raw item at ``index``."""
        return self._raw[self._raw_index(index)][1]

    @property
    def user_info(self) -> list[tuple[int, bytes]]:
        """Copy of the raw user-information items ``(item_type, data)``: the ones without a
        typed API, including unknown received types."""
        return list(self._raw)

    # ---- 58H / 59H user identity, 57H common extended negotiation -------------------

    def set_user_identity(
        self,
        identity_type: int,
        primary: str | _Bytes,
        secondary: str | _Bytes = b"",
        positive_response: bool = False,
    ) -> None:
        """User identity negotiation (58H, RQ only): ``identity_type`` 1-5
        (UserIdentityType), ``primary`` field (non-empty; str is UTF-8 encoded),
        ``secondary`` (the passcode, type 2 only) and whether a positive response is
        requested."""
        if not self._request:
            raise ValueError(
                "user identity (58H) goes in an A-ASSOCIATE-RQ; an AC carries "
                "the response: use set_user_identity_response()"
            )
        t = _v.check_range("user identity type", identity_type, 1, 5)
        p = _v.to_bytes("user identity primary field", primary)
        s = _v.to_bytes("user identity secondary field", secondary)
        if not p:
            raise ValueError("user identity primary field is empty")
        if s and t != 2:
            raise ValueError(
                f"user identity type {t} has no secondary field; only type 2 "
                "(username and passcode) does"
            )
        if 6 + len(p) + len(s) > 0xFFFF:
            raise ValueError("user identity fields are too long for one sub-item (65535 bytes)")
        self._identity = UserIdentity(t, p, s, bool(positive_response))

    def get_user_identity(self) -> UserIdentity | None:
        """The user identity negotiation (58H) of an RQ, or None."""
        return self._identity

    @property
    def user_identity(self) -> UserIdentity | None:
        """User identity (58H) as a UserIdentity, or None; settable (None removes it)."""
        return self._identity

    @user_identity.setter
    def user_identity(self, value: UserIdentity | None) -> None:
        if value is None:
            self._identity = None
        else:
            self.set_user_identity(*value)

    def set_user_identity_response(self, response: _Bytes | None) -> None:
        """User identity server response (59H, AC only); None removes the item."""
        if response is None:
            self._identity_response = None
            return
        if self._request:
            raise ValueError("the user identity response (59H) goes in an A-ASSOCIATE-AC")
        self._identity_response = _v.check_bytes(
            "user identity server response", response, 0xFFFF - 2
        )

    def get_user_identity_response(self) -> bytes | None:
        """The user identity server response (59H) of an AC, or None."""
        return self._identity_response

    user_identity_response = property(
        get_user_identity_response,
        set_user_identity_response,
        doc="User identity server response (59H) or None.",
    )

    def add_common_extended(
        self,
        sop_class_uid: str,
        service_class_uid: str,
        related_general_sop_classes: Iterable[str] = (),
    ) -> None:
        """SOP class common extended negotiation (57H, RQ only). Adding a SOP class again
        replaces its entry."""
        if not self._request:
            raise ValueError("common extended negotiation (57H) goes in an A-ASSOCIATE-RQ only")
        sop = _v.check_uid("SOP class UID", sop_class_uid)
        svc = _v.check_uid("service class UID", service_class_uid)
        if isinstance(related_general_sop_classes, str):
            raise TypeError("related_general_sop_classes must be a sequence of str, not a str")
        rel = tuple(
            _v.check_uid("related general SOP class UID", u) for u in related_general_sop_classes
        )
        if 6 + len(sop) + len(svc) + sum(2 + len(u) for u in rel) > 0xFFFF:
            raise ValueError("common extended negotiation is too long for one sub-item")
        self._common[sop] = CommonExtended(sop, svc, rel)

    def get_common_extended(self, sop_class_uid: str) -> CommonExtended | None:
        """The common extended negotiation of ``sop_class_uid``, or None."""
        return self._common.get(sop_class_uid)

    def del_common_extended(self, sop_class_uid: str) -> None:
        """Remove the common extended negotiation of ``sop_class_uid`` (KeyError if absent)."""
        try:
            del self._common[sop_class_uid]
        except KeyError:
            raise KeyError(f"no common extended negotiation for {sop_class_uid}") from None

    @property
    def common_extended(self) -> list[CommonExtended]:
        """The common extended negotiations (57H), in order."""
        return list(self._common.values())
