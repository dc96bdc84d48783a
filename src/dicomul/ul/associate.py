"""Associate: the A-ASSOCIATE-RQ/AC parameters handle (LEADTOOLS ``HDICOMPDU``, API.md).

Every ``L_Dicom*`` associate function has a method named by API.md's rule (``L_DicomSetCalled``
-> :meth:`Associate.set_called`), with Pythonic properties on top. Conventions:

* Presentation contexts are addressed **by index** (0-based position) in
  :meth:`~Associate.get_presentation` / :meth:`~Associate.set_presentation` and **by ID**
  (odd, 1-255) everywhere else; user-information items are addressed by index.
* Errors: a wrong type raises TypeError, a bad value ValueError, an index out of range
  IndexError, an unknown presentation context ID KeyError. Every check runs before
  anything changes. Received PDUs are decoded tolerantly and never go through the checks.
* Role selection (54H) and SOP class extended negotiation (56H) are set and read per PC ID
  but stored per abstract syntax (SOP class UID), as on the wire: every PC with the same
  abstract syntax shares one value and the **last value set wins**.
* Optional user-information sub-items are ``None`` when absent: ``max_length=None`` means
  no 51H item, ``max_length=0`` means an item announcing "no maximum".

The user-information items not addressed by presentation context (51H-53H, 55H, 57H-59H
and the raw ones) are in :mod:`dicomul.ul._user_info`, whose class is Associate's base.

Internally a presentation context is the list ``[id, result, abstract_syntax, [ts, ...]]``
that ``dicomul.ul._core.decode_associate`` returns, so decoding stores its list as is.
"""

from __future__ import annotations

from collections.abc import Iterable
from operator import attrgetter
from typing import Any, NamedTuple

from . import _core
from . import _validate as _v
from ._user_info import CommonExtended, UserIdentity, UserInfoItems
from .constants import (
    APPLICATION_CONTEXT_NAME,
    DEFAULT_MAX_LENGTH,
    IMPLEMENTATION_CLASS_UID,
    IMPLEMENTATION_VERSION_NAME,
    PROTOCOL_VERSION,
    RoleSupport,
)

__all__ = [
    "Associate",
    "PresentationContext",
    "UserIdentity",
    "CommonExtended",
    "create_associate",
]

_Bytes = bytes | bytearray | memoryview
_PC = list[Any]  # [id: int, result: int, abstract_syntax: str | None, transfer_syntaxes: list[str]]


class PresentationContext(NamedTuple):
    """Read-only view of one presentation context (see :attr:`Associate.presentation_contexts`).

    ``scu_role``/``scp_role`` are None without a role selection item for the abstract
    syntax, ``extended`` is None without an extended negotiation item.
    """

    id: int
    abstract_syntax: str | None
    transfer_syntaxes: tuple[str, ...]
    result: int
    scu_role: int | None
    scp_role: int | None
    extended: bytes | None


def _role(value: int) -> int:
    return RoleSupport(value) if 0 <= value <= 1 else value


class Associate(UserInfoItems):
    """The parameters of an A-ASSOCIATE-RQ (``request=True``) or -AC (``request=False``).

    ``Associate(request)`` is L_DicomCreateAssociate: an empty handle with protocol
    version 1, the DICOM application context name and nothing else. Call
    :meth:`default_associate` for dicomul's implementation class UID, version name and
    maximum length. :meth:`encode` / :meth:`decode` convert to and from PDU bytes.
    """

    # 54H and 56H are here; the other user-information fields are UserInfoItems' slots
    __slots__ = tuple(
        "_request _version _called _calling _app _pcs _index _roles _extended".split()
    )

    _request: bool
    _version: int
    _called: str
    _calling: str
    _app: str
    _pcs: list[_PC]
    _index: dict[int, _PC] | None
    _roles: dict[str, tuple[int, int]]
    _extended: dict[str, bytes]

    def __init__(self, request: bool = True) -> None:
        self._clear(request)

    def _clear(self, request: bool) -> None:
        if not isinstance(request, int):
            raise TypeError(f"request must be a bool, not {type(request).__name__}")
        self._request = bool(request)
        self._version = PROTOCOL_VERSION
        self._called = self._calling = ""
        self._app = APPLICATION_CONTEXT_NAME
        self._pcs = []
        self._index = None
        self._max_length = self._impl_class = self._impl_version = self._async = None
        self._roles = {}
        self._extended = {}
        self._common = {}
        self._identity = self._identity_response = None
        self._raw = []

    # ---- whole-handle operations ----------------------------------------------------

    def reset_associate(self, request: bool) -> None:
        """L_DicomResetAssociate: clear everything and make this an RQ (True) or AC (False)."""
        self._clear(request)

    def default_associate(self) -> Associate:
        """L_DicomDefaultAssociate: reset every field except the RQ/AC type, then fill in the
        defaults, in place: protocol version 1, the DICOM application context name,
        dicomul's implementation class UID and version name, maximum length 16384
        (:data:`~dicomul.ul.constants.DEFAULT_MAX_LENGTH`); no AE titles, no presentation
        contexts. Returns self."""
        self._clear(self._request)
        self._impl_class = IMPLEMENTATION_CLASS_UID
        self._impl_version = IMPLEMENTATION_VERSION_NAME
        self._max_length = DEFAULT_MAX_LENGTH
        return self

    def backfill_abstracts(self, request: Associate) -> None:
        """Copy the abstract syntaxes of ``request`` (the A-ASSOCIATE-RQ that was sent) into
        this AC by PC ID (an AC PDU does not carry them, API.md a.1 item 4). PCs whose ID is
        not in the request are left alone."""
        if not isinstance(request, Associate):
            raise TypeError(f"request must be an Associate, not {type(request).__name__}")
        if not request._request:
            raise ValueError("backfill_abstracts() needs the A-ASSOCIATE-RQ, got an AC")
        index = request._get_index()
        for pc in self._pcs:
            src = index.get(pc[0])
            if src is not None:
                pc[2] = src[2]

    # ---- encoding --------------------------------------------------------------------

    def encode(self) -> bytes:
        """The A-ASSOCIATE-RQ (if :attr:`is_request`) or -AC PDU, header included.

        User-information sub-items go in ascending type order (51H, 52H, 53H, one 54H per
        abstract syntax, 55H, 56H, 57H, 58H/59H), then the raw :attr:`user_info` items.
        Raises ValueError when the handle cannot form a valid PDU (an RQ without AE titles
        or presentation contexts, a PC without abstract or transfer syntax, an AC PC with
        more than one transfer syntax).
        """
        core = _core
        _v.check_encodable(self._request, self._called, self._calling, self._pcs)
        return core.encode_associate(
            1 if self._request else 2,
            self._version,
            self._called,
            self._calling,
            self._app,
            self._pcs,
            self._user_items(),
        )

    def _user_items(self) -> list[tuple[Any, ...]]:
        return _v.user_items(
            self._max_length, self._impl_class, self._async, self._roles, self._impl_version,
            self._extended, self._common.values(), self._identity, self._identity_response,
            self._raw,
        )  # fmt: skip

    @classmethod
    def decode(cls, data: _Bytes) -> Associate:
        """Decode one whole A-ASSOCIATE-RQ or -AC PDU (6-byte header included).

        Tolerant: no setter check runs on received values. Typed sub-items fill the typed
        fields (the first of each kind, per SOP class for 54H/56H/57H); repeats and unknown
        types are kept in :attr:`user_info`. A decoded AC has no abstract syntaxes until
        :meth:`backfill_abstracts`. Raises :class:`~dicomul.errors.ProtocolError` on
        malformed input.
        """
        pdu_type, version, called, calling, app, pcs, user = _core.decode_associate(data)
        self = cls.__new__(cls)
        self._request = pdu_type == 1
        self._version, self._called, self._calling, self._app = version, called, calling, app
        if pdu_type != 1:
            for pc in pcs:  # an empty 40H item of a rejected PC means "no transfer syntax"
                if pc[3] == [""]:
                    pc[3] = []
        self._pcs = pcs
        self._index = None
        (
            self._max_length, self._impl_class, self._async, self._roles, self._impl_version,
            self._extended, self._common, self._identity, self._identity_response, self._raw,
        ) = _v.split_user_items(user, CommonExtended, UserIdentity)  # fmt: skip
        return self

    # ---- comparison ------------------------------------------------------------------

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Associate):
            return NotImplemented
        return _KEY(self) == _KEY(other)

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        pcs = ", ".join(
            f"{pc[0]}: {pc[2]} [{', '.join(pc[3])}]" + ("" if self._request else f" -> {pc[1]}")
            for pc in self._pcs
        )
        optional = {
            "max_length": self._max_length,
            "implementation_class_uid": self._impl_class,
            "implementation_version_name": self._impl_version,
            "async_operations": self._async,
            "role_selections": self._roles,
            "extended_negotiations": self._extended,
            "common_extended": list(self._common.values()),
            "user_identity": self._identity,
            "user_identity_response": self._identity_response,
            "user_info": self._raw,
        }
        return (
            f"Associate({'RQ' if self._request else 'AC'}, version={self._version}, "
            f"called={self._called!r}, calling={self._calling!r}, "
            f"application_context={self._app!r}, presentation_contexts={{{pcs}}}"
            + "".join(f", {k}={v!r}" for k, v in optional.items() if v not in (None, {}, []))
            + ")"
        )

    # ---- RQ/AC type, version, titles, application context ------------------------

    def set_request(self, request: bool) -> None:
        """L_DicomSetRequest: make this an A-ASSOCIATE-RQ (True) or -AC (False); nothing else
        changes (:meth:`encode` checks what the new type needs)."""
        if not isinstance(request, int):
            raise TypeError(f"request must be a bool, not {type(request).__name__}")
        self._request = bool(request)

    @property
    def is_request(self) -> bool:
        """L_DicomIsRequest: True for an A-ASSOCIATE-RQ, False for an -AC (settable, as
        L_DicomSetRequest). A plain bool: the one LEADTOOLS query that is a property."""
        return self._request

    @is_request.setter
    def is_request(self, value: bool) -> None:
        self.set_request(value)

    def set_version(self, version: int) -> None:
        """L_DicomSetVersion: protocol version, 0..65535 (PS3.8 defines 1 only)."""
        self._version = _v.check_range("protocol version", version, 0, 0xFFFF)

    def get_version(self) -> int:
        """L_DicomGetVersion."""
        return self._version

    version = property(get_version, set_version, doc="Protocol version (bit 0 = version 1).")

    def set_called(self, ae: str) -> None:
        """L_DicomSetCalled: called AE title, stored without padding (PS3.8 Table 9-11)."""
        self._called = _v.check_ae_title("called AE title", ae)

    def get_called(self) -> str:
        """L_DicomGetCalled: called AE title without padding ("" if not set)."""
        return self._called

    called = property(get_called, set_called, doc="Called AE title, without padding.")

    def set_calling(self, ae: str) -> None:
        """L_DicomSetCalling: calling AE title, stored without padding."""
        self._calling = _v.check_ae_title("calling AE title", ae)

    def get_calling(self) -> str:
        """L_DicomGetCalling: calling AE title without padding ("" if not set)."""
        return self._calling

    calling = property(get_calling, set_calling, doc="Calling AE title, without padding.")

    def set_application(self, uid: str) -> None:
        """L_DicomSetApplication: application context name (a UID)."""
        self._app = _v.check_uid("application context name", uid)

    def get_application(self) -> str:
        """L_DicomGetApplication."""
        return self._app

    application_context = property(
        get_application, set_application, doc="Application context name UID."
    )

    # ---- presentation contexts ------------------------------------------------------

    def _get_index(self) -> dict[int, _PC]:
        index = self._index
        if index is None:
            index = {}
            for pc in reversed(self._pcs):  # the first PC with a (received) duplicate ID wins
                index[pc[0]] = pc
            self._index = index
        return index

    def _pc(self, pc_id: int) -> _PC:
        _v.check_int("presentation context ID", pc_id)
        try:
            return self._get_index()[pc_id]
        except KeyError:
            raise KeyError(f"no presentation context with ID {pc_id}") from None

    def _pc_abstract(self, pc_id: int) -> str:
        uid = self._pc(pc_id)[2]
        if uid is None:
            raise ValueError(
                f"presentation context {pc_id} has no abstract syntax; set it (or call "
                "backfill_abstracts()) first"
            )
        return uid  # type: ignore[no-any-return]

    def _check_abstract(self, uid: str | None) -> str | None:
        if uid is None and not self._request:
            return None
        return _v.check_uid("abstract syntax", uid)

    def get_presentation_count(self) -> int:
        """L_DicomGetPresentationCount: number of presentation contexts."""
        return len(self._pcs)

    presentation_count = property(get_presentation_count, doc="Number of presentation contexts.")

    def get_presentation(self, index: int) -> int:
        """L_DicomGetPresentation: the ID of the presentation context at 0-based ``index``."""
        return self._pcs[_v.check_index("presentation context index", index, len(self._pcs))][0]  # type: ignore[no-any-return]

    def set_presentation(self, index: int, pc_id: int) -> None:
        """L_DicomSetPresentation: give the context at 0-based ``index`` the ID ``pc_id``."""
        i = _v.check_index("presentation context index", index, len(self._pcs))
        pid = _v.check_pc_id(pc_id)
        pc = self._pcs[i]
        if pid != pc[0] and pid in self._get_index():
            raise ValueError(f"presentation context ID {pid} is already used")
        pc[0] = pid
        self._index = None

    def add_presentation(
        self,
        pc_id: int,
        abstract_syntax: str | None | int,
        result: int | str | None = 0,
        transfer_syntaxes: Iterable[str] = (),
    ) -> None:
        """L_DicomAddPresentation: append a presentation context.

        Two argument orders are accepted, told apart by the type of the second argument:
        ``add_presentation(pc_id, abstract_syntax, result=0)`` (Pythonic: a str or None) and
        LEADTOOLS' ``add_presentation(pc_id, result, abstract_syntax)`` (an int). The ID must
        be odd, 1-255 and unused; the result 0-4, and 0 in an RQ. An AC may leave the
        abstract syntax None. ``transfer_syntaxes`` adds them at once (an AC takes one).
        """
        if isinstance(abstract_syntax, int) and not isinstance(abstract_syntax, bool):
            abstract_syntax, result = result, abstract_syntax
            if isinstance(abstract_syntax, int):
                raise TypeError(
                    "add_presentation(pc_id, result, abstract_syntax): the abstract syntax "
                    "(a str) is missing"
                )
        pid = _v.check_pc_id(pc_id)
        res = _v.check_result(result, self._request)
        uid = self._check_abstract(abstract_syntax)  # type: ignore[arg-type]
        if isinstance(transfer_syntaxes, str):
            raise TypeError("transfer_syntaxes must be a sequence of str, not a str")
        ts = [_v.check_uid("transfer syntax", t) for t in transfer_syntaxes]
        if not self._request and len(ts) > 1:
            raise ValueError("a presentation context of an A-ASSOCIATE-AC has one transfer syntax")
        index = self._get_index()
        if pid in index:
            raise ValueError(f"presentation context ID {pid} is already used")
        pc = [pid, res, uid, ts]
        self._pcs.append(pc)
        index[pid] = pc

    def del_presentation(self, pc_id: int) -> None:
        """L_DicomDelPresentation: remove the context with ID ``pc_id``. Role selection and
        extended negotiation of its abstract syntax go too if no other PC uses it."""
        pc = self._pc(pc_id)
        for i, p in enumerate(self._pcs):
            if p is pc:
                del self._pcs[i]
                break
        self._index = None
        uid = pc[2]
        if uid is not None and all(p[2] != uid for p in self._pcs):
            self._roles.pop(uid, None)
            self._extended.pop(uid, None)

    def get_result(self, pc_id: int) -> int:
        """L_DicomGetResult: result/reason of the context (0 = acceptance; 0 in an RQ)."""
        return self._pc(pc_id)[1]  # type: ignore[no-any-return]

    def set_result(self, pc_id: int, result: int) -> None:
        """L_DicomSetResult: result/reason 0-4 (PresentationResult); an RQ only takes 0."""
        pc = self._pc(pc_id)
        pc[1] = _v.check_result(result, self._request)

    def get_abstract(self, pc_id: int) -> str | None:
        """L_DicomGetAbstract: abstract syntax UID (None in a decoded AC before back-fill)."""
        return self._pc(pc_id)[2]  # type: ignore[no-any-return]

    def set_abstract(self, pc_id: int, uid: str | None) -> None:
        """L_DicomSetAbstract: abstract syntax UID (an AC also takes None). Role selection and
        extended negotiation stay with the SOP class, they do not follow the PC."""
        pc = self._pc(pc_id)
        pc[2] = self._check_abstract(uid)

    def find_abstract(self, uid: str) -> int:
        """L_DicomFindAbstract: ID of the first context with abstract syntax ``uid``, 0 if none."""
        for pc in self._pcs:
            if pc[2] == uid:
                return pc[0]  # type: ignore[no-any-return]
        return 0

    def find_next_abstract(self, pc_id: int, uid: str) -> int:
        """ID of the next context after ``pc_id`` (in list order) with abstract syntax
        ``uid``, 0 if none."""
        start = self._pc(pc_id)
        found = False
        for pc in self._pcs:
            if found and pc[2] == uid:
                return pc[0]  # type: ignore[no-any-return]
            found = found or pc is start
        return 0

    def find_abstracts(self, uid: str) -> list[int]:
        """IDs of every context with abstract syntax ``uid``, in list order."""
        return [pc[0] for pc in self._pcs if pc[2] == uid]

    @property
    def presentation_contexts(self) -> list[PresentationContext]:
        """Read-only snapshot of the presentation contexts, in list order."""
        roles, ext = self._roles, self._extended
        none: tuple[int | None, int | None] = (None, None)  # [:2] below is for mypy
        return [
            PresentationContext(pid, uid, tuple(ts), res, *roles.get(uid, none)[:2], ext.get(uid))
            for pid, res, uid, ts in self._pcs
        ]

    # ---- transfer syntaxes ----------------------------------------------------------

    def get_transfer_count(self, pc_id: int) -> int:
        """L_DicomGetTransferCount: number of transfer syntaxes of the context."""
        return len(self._pc(pc_id)[3])

    def get_transfer(self, pc_id: int, index: int = 0) -> str:
        """L_DicomGetTransfer: transfer syntax at 0-based ``index`` (AC: 0 = the accepted one)."""
        ts = self._pc(pc_id)[3]
        return ts[_v.check_index("transfer syntax index", index, len(ts))]  # type: ignore[no-any-return]

    def set_transfer(self, pc_id: int, index: int, uid: str) -> None:
        """L_DicomSetTransfer: replace the transfer syntax at 0-based ``index``."""
        ts = self._pc(pc_id)[3]
        i = _v.check_index("transfer syntax index", index, len(ts))
        ts[i] = _v.check_uid("transfer syntax", uid)

    def add_transfer(self, pc_id: int, uid: str) -> None:
        """L_DicomAddTransfer: append a transfer syntax (an AC context takes exactly one)."""
        ts = self._pc(pc_id)[3]
        u = _v.check_uid("transfer syntax", uid)
        if not self._request and ts:
            raise ValueError(
                f"presentation context {pc_id} of an A-ASSOCIATE-AC already has its one "
                "transfer syntax; use set_transfer() to change it"
            )
        ts.append(u)

    def del_transfer(self, pc_id: int, index: int) -> None:
        """L_DicomDelTransfer: remove the transfer syntax at 0-based ``index``."""
        ts = self._pc(pc_id)[3]
        del ts[_v.check_index("transfer syntax index", index, len(ts))]

    # ---- 54H role selection, 56H extended negotiation (per abstract syntax) ---------

    def set_role_select(
        self, pc_id: int, enabled: bool, user_role: int = 0, provider_role: int = 0
    ) -> None:
        """L_DicomSetRoleSelect: role selection for the SOP class of context ``pc_id``:
        ``user_role`` = SCU role, ``provider_role`` = SCP role, each 0 or 1; disabled removes
        it. Shared by every PC with that abstract syntax, the last value set wins. Raises
        ValueError if the PC has no abstract syntax."""
        uid = self._pc_abstract(pc_id)
        if enabled:
            self._roles[uid] = (
                _v.check_role("SCU role", user_role),
                _v.check_role("SCP role", provider_role),
            )
        else:
            self._roles.pop(uid, None)

    def is_role_select(self, pc_id: int) -> bool:
        """L_DicomIsRoleSelect: is there a role selection item for this PC's SOP class?"""
        uid = self._pc(pc_id)[2]
        return uid is not None and uid in self._roles

    def get_user_role(self, pc_id: int) -> int:
        """L_DicomGetUserRole: SCU role (RoleSupport) for the PC's SOP class. Without a role
        item this is PS3.7's default, SUPPORTED (the requestor is SCU)."""
        uid = self._pc(pc_id)[2]
        role = self._roles.get(uid) if uid is not None else None
        return RoleSupport.SUPPORTED if role is None else _role(role[0])

    def get_provider_role(self, pc_id: int) -> int:
        """L_DicomGetProviderRole: SCP role (RoleSupport) for the PC's SOP class. Without a
        role item this is PS3.7's default, UNSUPPORTED (the requestor is not SCP)."""
        uid = self._pc(pc_id)[2]
        role = self._roles.get(uid) if uid is not None else None
        return RoleSupport.UNSUPPORTED if role is None else _role(role[1])

    @property
    def role_selections(self) -> dict[str, tuple[int, int]]:
        """Copy of the role selections: SOP class UID -> (SCU role, SCP role)."""
        return dict(self._roles)

    def set_extended(self, pc_id: int, data: _Bytes | None) -> None:
        """L_DicomSetExtended: SOP class extended negotiation application information for the
        SOP class of context ``pc_id``; None removes it. Shared by every PC with that
        abstract syntax, the last value set wins. Raises ValueError if the PC has no
        abstract syntax."""
        uid = self._pc_abstract(pc_id)
        if data is None:
            self._extended.pop(uid, None)
        else:
            self._extended[uid] = _v.check_bytes(
                "extended negotiation data", data, 0xFFFF - 2 - len(uid)
            )

    def get_extended(self, pc_id: int) -> bytes | None:
        """L_DicomGetExtended: application information for the PC's SOP class, or None."""
        uid = self._pc(pc_id)[2]
        return None if uid is None else self._extended.get(uid)

    def get_length_extended(self, pc_id: int) -> int:
        """L_DicomGetLengthExtended: length of that application information (0 if none)."""
        data = self.get_extended(pc_id)
        return 0 if data is None else len(data)

    @property
    def extended_negotiations(self) -> dict[str, bytes]:
        """Copy of the extended negotiations: SOP class UID -> application information."""
        return dict(self._extended)


_KEY = attrgetter(
    *(name for name in Associate.__slots__ + UserInfoItems.__slots__ if name != "_index")
)


def create_associate(request: bool = True) -> Associate:
    """L_DicomCreateAssociate: a new, empty :class:`Associate` (same as ``Associate(request)``)."""
    return Associate(request)
