"""Association negotiation policy: build an A-ASSOCIATE-AC for a received RQ, decide whether
to reject it, and read the outcome back on the requestor's side.

Acceptor side: :func:`negotiate` (PS3.8 9.3.3, Table 9-18; PS3.7 D.3.3) and the reject
checks :func:`check_request` and friends (PS3.8 Table 9-21). Requestor side:
:func:`requestor_accepted` and :func:`negotiated_roles`. Nothing here touches the wire or
the state machine: these are pure functions over :class:`~dicomul.ul.associate.Associate`
handles (the received RQ is never modified).

Decisions (each applies the standard where it speaks and says so where it does not):

* **Transfer syntax choice.** An accepted context carries exactly one transfer syntax,
  one the requestor proposed and the acceptor supports. ``prefer="acceptor"`` (default)
  takes the first of the acceptor's list (its preference order) that the requestor
  proposed; ``prefer="requestor"`` takes the first of the requestor's list that the
  acceptor supports. PS3.8 leaves the choice to the acceptor. pynetdicom 3.0 behaves like
  ``prefer="acceptor"`` (it walks the acceptor's list; checked in the tests).
* **Results.** 0 when a transfer syntax matches, 3 (abstract syntax not supported) when
  the abstract syntax is not supported, 4 (transfer syntaxes not supported) when it is
  but none of its proposed transfer syntaxes is. Rejected contexts carry an empty 40H
  item (Table 9-18: not significant, not tested) and keep their abstract syntax on the
  AC handle (API.md a.1 item 4).
* **Roles (54H, PS3.7 D.3.3.4).** Answered only for SOP classes the RQ sent a 54H item for
  and that have an accepted context. Each value is ``proposed AND allowed``: the acceptor
  never returns 1 for a role the requestor did not propose. ``roles[uid] = (scu_ok,
  scp_ok)`` says whether the *requestor* may be SCU / SCP of that SOP class; a SOP class
  missing from ``roles`` gets the default roles ``(True, False)``. A context whose role
  answer is (0, 0) stays accepted (pynetdicom rejects it with result 1 instead).
* **Extended negotiation (56H)** is answered only for proposed SOP classes with an
  accepted context, with what ``extended(uid, app_info)`` returns (None: no item).
* **Asynchronous operations window (53H, PS3.7 D.3.3.3).** No item in the AC when the RQ
  has none, or when ``async_window`` is None (the acceptor does not negotiate it; the
  default 1/1 then applies, as with DCMTK). Otherwise each value is the smaller of the
  proposed and the local one, 0 meaning unlimited (so min(0, n) = n).
* **User identity (58H/59H, PS3.7 D.3.3.7).** A 59H item is sent only when the RQ has a
  58H item with "positive response requested" set and ``user_identity_response``
  (called only then) returns bytes. Table D.3-15: the server response is the Kerberos
  server ticket (type 3), the SAML response (type 4) or the JSON web token (type 5), and
  **zero length for types 1 and 2** - a non-empty response for those raises ValueError
  (local misuse). Other types get the bytes as returned.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from typing import Literal

from . import _validate as _v
from .associate import Associate, UserIdentity
from .constants import (
    APPLICATION_CONTEXT_NAME,
    DEFAULT_MAX_LENGTH,
    EXPLICIT_VR_LITTLE_ENDIAN,
    IMPLEMENTATION_CLASS_UID,
    IMPLEMENTATION_VERSION_NAME,
    IMPLICIT_VR_LITTLE_ENDIAN,
    VERIFICATION_SOP_CLASS,
    PresentationResult,
    RejectReasonACSE,
    RejectReasonUser,
    RejectResult,
    RejectSource,
)
from .events import AssociateRejectResponse

__all__ = [
    "SupportedContexts",
    "negotiate",
    "check_called_ae",
    "check_calling_ae",
    "check_application_context",
    "check_protocol_version",
    "check_request",
    "requestor_accepted",
    "negotiated_roles",
    "DEFAULT_ROLES",
]

#: Roles of the requestor without a role selection item: SCU yes, SCP no (PS3.7 D.3.3.4).
DEFAULT_ROLES: tuple[bool, bool] = (True, False)


class SupportedContexts(Mapping[str, tuple[str, ...]]):
    """The abstract syntaxes an acceptor supports, each with its transfer syntaxes in local
    preference order (most preferred first). A read-only Mapping once built::

        supported = SupportedContexts().verification().add(CT, [EXPLICIT, IMPLICIT])
    """

    __slots__ = ("_map",)

    def __init__(self, contexts: Mapping[str, Sequence[str]] | None = None) -> None:
        self._map: dict[str, tuple[str, ...]] = {}
        for uid, ts in (contexts or {}).items():
            self.add(uid, ts)

    def add(self, abstract_syntax: str, transfer_syntaxes: Iterable[str]) -> SupportedContexts:
        """Support ``abstract_syntax`` with ``transfer_syntaxes`` (preference order). Adding
        it again appends new transfer syntaxes after the known ones. Returns self."""
        uid = _v.check_uid("abstract syntax", abstract_syntax)
        if isinstance(transfer_syntaxes, str):
            raise TypeError("transfer_syntaxes must be a sequence of str, not a str")
        known = list(self._map.get(uid, ()))
        for ts in transfer_syntaxes:
            if _v.check_uid("transfer syntax", ts) not in known:
                known.append(ts)
        if not known:
            raise ValueError(f"abstract syntax {uid} needs at least one transfer syntax")
        self._map[uid] = tuple(known)
        return self

    def extended(self, other: SupportedContexts) -> SupportedContexts:
        """A new set: these contexts, then ``other``'s appended (as ``add`` would append
        them), without checking ``other``'s UIDs again (they were checked when added)."""
        out = SupportedContexts()
        merged = dict(self._map)
        for uid, syntaxes in other._map.items():
            known = merged.get(uid)
            if known is None:
                merged[uid] = syntaxes
            else:
                merged[uid] = known + tuple(ts for ts in syntaxes if ts not in known)
        out._map = merged
        return out

    def verification(
        self,
        transfer_syntaxes: Iterable[str] = (EXPLICIT_VR_LITTLE_ENDIAN, IMPLICIT_VR_LITTLE_ENDIAN),
    ) -> SupportedContexts:
        """Support the Verification SOP Class (C-ECHO). Returns self."""
        return self.add(VERIFICATION_SOP_CLASS, transfer_syntaxes)

    def __getitem__(self, uid: str) -> tuple[str, ...]:
        return self._map[uid]

    def __iter__(self) -> Iterator[str]:
        return iter(self._map)

    def __len__(self) -> int:
        return len(self._map)

    def __repr__(self) -> str:
        return f"SupportedContexts({self._map!r})"


def _window_min(proposed: int, local: int) -> int:
    """min() where 0 means unlimited (PS3.7 D.3.3.3)."""
    if proposed == 0:
        return local
    if local == 0:
        return proposed
    return min(proposed, local)


def _choose(proposed: Sequence[str], supported: Sequence[str], prefer: str) -> str | None:
    if prefer == "acceptor":
        return next((ts for ts in supported if ts in proposed), None)
    return next((ts for ts in proposed if ts in supported), None)


def _valid_uid(uid: str | None) -> str | None:
    try:
        return _v.check_uid("abstract syntax", uid)
    except (TypeError, ValueError):
        return None


def negotiate(
    request: Associate,
    supported: Mapping[str, Sequence[str]] | SupportedContexts,
    *,
    roles: Mapping[str, tuple[bool, bool]] | None = None,
    extended: Callable[[str, bytes], bytes | None] | None = None,
    max_length: int = DEFAULT_MAX_LENGTH,
    ae_title: str | None = None,
    async_window: tuple[int, int] | None = None,
    user_identity_response: Callable[[UserIdentity], bytes | None] | None = None,
    prefer: Literal["acceptor", "requestor"] = "acceptor",
) -> Associate:
    """Build the A-ASSOCIATE-AC answering the A-ASSOCIATE-RQ ``request``.

    ``supported`` maps each supported abstract syntax to its transfer syntaxes in local
    preference order; the rules are those of the module docstring. ``max_length`` is this
    acceptor's own maximum PDU length (0 = no maximum), never the requestor's. The AC has
    protocol version 1, the DICOM application context and dicomul's implementation
    class UID and version name. Its AE title fields echo the RQ's called and calling AE
    titles (PS3.8 9.3.3); ``ae_title`` (the acceptor's own title) only fills the called
    field when the RQ's is empty or cannot be echoed (a tolerantly decoded RQ may carry
    an all-spaces title, or characters the AE VR forbids).

    Contexts of a (tolerantly decoded) RQ that an AC cannot carry are left out: a second
    context with an ID already seen, or an even / out-of-range ID. Raises TypeError or
    ValueError for bad arguments, before anything is built.
    """
    if not isinstance(request, Associate):
        raise TypeError(f"request must be an Associate, not {type(request).__name__}")
    if not request.is_request:
        raise ValueError("negotiate() needs an A-ASSOCIATE-RQ, got an AC")
    if prefer not in ("acceptor", "requestor"):
        raise ValueError(f"prefer must be 'acceptor' or 'requestor', not {prefer!r}")
    if ae_title is not None:
        ae_title = _v.check_ae_title("ae_title", ae_title)
    if not isinstance(supported, SupportedContexts):
        supported = SupportedContexts(supported)
    local_window = None
    if async_window is not None:
        local_window = (
            _v.check_range("invoked operations", async_window[0], 0, 0xFFFF),
            _v.check_range("performed operations", async_window[1], 0, 0xFFFF),
        )
    allowed = {
        _v.check_uid("role SOP class", uid): (bool(scu), bool(scp))
        for uid, (scu, scp) in (roles or {}).items()
    }

    ac = Associate(request=False)
    ac.set_max_length(True, max_length)
    ac.set_implement_class(True, IMPLEMENTATION_CLASS_UID)
    ac.set_implement_version(True, IMPLEMENTATION_VERSION_NAME)
    ac.set_application(APPLICATION_CONTEXT_NAME)
    _echo(ac.set_called, request.called, ae_title)
    _echo(ac.set_calling, request.calling, None)

    seen: set[int] = set()
    first_accepted: dict[str, int] = {}  # SOP class -> ID of its first accepted context
    for pc in request.presentation_contexts:
        if not (isinstance(pc.id, int) and 1 <= pc.id <= 255 and pc.id & 1) or pc.id in seen:
            continue
        seen.add(pc.id)
        uid = _valid_uid(pc.abstract_syntax)
        if uid is None or uid not in supported:
            ac.add_presentation(pc.id, uid, PresentationResult.ABSTRACT_SYNTAX_NOT_SUPPORTED)
            continue
        ts = _choose(pc.transfer_syntaxes, supported[uid], prefer)
        if ts is None:
            ac.add_presentation(pc.id, uid, PresentationResult.TRANSFER_SYNTAXES_NOT_SUPPORTED)
            continue
        ac.add_presentation(pc.id, uid, PresentationResult.ACCEPTANCE, [ts])
        first_accepted.setdefault(uid, pc.id)

    for uid, (rq_scu, rq_scp) in request.role_selections.items():
        pc_id = first_accepted.get(uid)
        if pc_id is not None:
            scu_ok, scp_ok = allowed.get(uid, DEFAULT_ROLES)
            scu, scp = bool(rq_scu) and scu_ok, bool(rq_scp) and scp_ok
            ac.set_role_select(pc_id, True, int(scu), int(scp))

    if extended is not None:
        for uid, info in request.extended_negotiations.items():
            pc_id = first_accepted.get(uid)
            if pc_id is not None:
                answer = extended(uid, info)
                if answer is not None:
                    ac.set_extended(pc_id, answer)

    proposed_window = request.async_operations
    if proposed_window is not None and local_window is not None:
        ac.set_async_operations(
            True,
            _window_min(proposed_window[0], local_window[0]),
            _window_min(proposed_window[1], local_window[1]),
        )

    identity = request.user_identity
    if identity is not None and identity.positive_response and user_identity_response is not None:
        response = user_identity_response(identity)
        if response is not None:
            if identity.identity_type in (1, 2) and len(response):
                raise ValueError(
                    f"user identity type {identity.identity_type}: the server response must "
                    "be empty (PS3.7 Table D.3-15)"
                )
            ac.set_user_identity_response(response)
    return ac


def _echo(setter: Callable[[str], None], received: str, fallback: str | None) -> None:
    """Echo a received AE title into the AC (PS3.8 9.3.3); ``fallback`` when it is empty.
    A received title the Associate setters refuse (control characters, backslash: the
    RQ is decoded tolerantly) cannot be echoed and is left empty (not tested, 9.3.3)."""
    for title in (received, fallback):
        if title:
            try:
                setter(title)
                return
            except ValueError:
                pass


# ---- A-ASSOCIATE-RJ checks (PS3.8 Table 9-21) ----------------------------------------


def _strip(ae: str) -> str:
    """AE titles compare without their (leading and trailing) space padding, and
    case-sensitively: PS3.8 Table 9-11 makes only the spaces insignificant."""
    return ae.strip(" ")


def _check_ae(
    actual: str, allowed: Collection[str] | None, reason: int
) -> AssociateRejectResponse | None:
    if allowed is None:
        return None
    if isinstance(allowed, str):
        raise TypeError("allowed must be a collection of AE titles, not a str")
    if _strip(actual) in {_strip(a) for a in allowed}:
        return None
    return AssociateRejectResponse(RejectResult.PERMANENT, RejectSource.USER, reason)


def check_called_ae(
    request: Associate, allowed: Collection[str] | None
) -> AssociateRejectResponse | None:
    """RJ (1 permanent, 1 service-user, 7 called-AE-title-not-recognized) when the RQ's
    called AE title is not in ``allowed``; None when it is or ``allowed`` is None."""
    return _check_ae(request.called, allowed, RejectReasonUser.CALLED_AE_NOT_RECOGNIZED)


def check_calling_ae(
    request: Associate, allowed: Collection[str] | None
) -> AssociateRejectResponse | None:
    """RJ (1, 1, 3 calling-AE-title-not-recognized) when the RQ's calling AE title is not in
    ``allowed``; None when it is or ``allowed`` is None."""
    return _check_ae(request.calling, allowed, RejectReasonUser.CALLING_AE_NOT_RECOGNIZED)


def check_application_context(request: Associate) -> AssociateRejectResponse | None:
    """RJ (1, 1, 2 application-context-name-not-supported) unless the RQ names DICOM's
    application context 1.2.840.10008.3.1.1.1 (PS3.7 A.2.1)."""
    if request.application_context == APPLICATION_CONTEXT_NAME:
        return None
    return AssociateRejectResponse(
        RejectResult.PERMANENT,
        RejectSource.USER,
        RejectReasonUser.APPLICATION_CONTEXT_NOT_SUPPORTED,
    )


def check_protocol_version(request: Associate) -> AssociateRejectResponse | None:
    """RJ (1, 2 service-provider ACSE, 2 protocol-version-not-supported) when bit 0 of the
    protocol version is not set; the other bits are not tested (PS3.8 9.3.2)."""
    if request.version & 1:
        return None
    return AssociateRejectResponse(
        RejectResult.PERMANENT,
        RejectSource.PROVIDER_ACSE,
        RejectReasonACSE.PROTOCOL_VERSION_NOT_SUPPORTED,
    )


def check_request(
    request: Associate,
    called: Collection[str] | None = None,
    calling: Collection[str] | None = None,
) -> AssociateRejectResponse | None:
    """Run the checks and return the first rejection, or None to go on negotiating.

    Order: protocol version, application context, called AE, calling AE. The protocol
    version comes first because it is the service provider's (ACSE) check and nothing
    else in the PDU can be trusted under an unknown version; the application context
    next because AE titles and presentation contexts only mean something inside DICOM's;
    then the called AE title, which says whether the request is addressed to this AE at
    all; last the calling AE title, judged by the policy of the AE that was called.
    """
    return (
        check_protocol_version(request)
        or check_application_context(request)
        or check_called_ae(request, called)
        or check_calling_ae(request, calling)
    )


# ---- requestor side ------------------------------------------------------------------


def requestor_accepted(request: Associate, accept: Associate) -> dict[int, tuple[str, str]]:
    """The contexts ``accept`` (the received AC) accepted, as ``{pc_id: (abstract syntax,
    transfer syntax)}``, the abstract syntax back-filled from ``request`` (the RQ sent).

    Ignored: AC contexts whose ID the RQ did not propose, a repeated ID (the first
    wins), and an accepted context without a transfer syntax or with one the RQ did not
    propose for it (PS3.8 Table 9-18: the acceptor picks one of the proposed). Neither
    handle is modified.
    """
    proposed = {pc.id: pc for pc in reversed(request.presentation_contexts)}
    out: dict[int, tuple[str, str]] = {}
    for pc in accept.presentation_contexts:
        rq = proposed.get(pc.id)
        if rq is None or pc.id in out or pc.result != PresentationResult.ACCEPTANCE:
            continue
        if len(pc.transfer_syntaxes) != 1 or rq.abstract_syntax is None:
            continue
        ts = pc.transfer_syntaxes[0]
        if ts in rq.transfer_syntaxes:
            out[pc.id] = (rq.abstract_syntax, ts)
    return out


def negotiated_roles(request: Associate, accept: Associate) -> dict[str, tuple[bool, bool]]:
    """The requestor's effective ``(SCU, SCP)`` roles per SOP class with an accepted context.

    PS3.7 D.3.3.4: without a 54H item in the RQ, or without an answer in the AC, the
    default roles apply (requestor SCU only, :data:`DEFAULT_ROLES`); an AC answer for a
    SOP class the RQ did not propose is ignored, and a role the RQ did not propose stays
    off whatever the AC says.
    """
    rq_roles = request.role_selections
    ac_roles = accept.role_selections
    out: dict[str, tuple[bool, bool]] = {}
    for uid, _ts in requestor_accepted(request, accept).values():
        rq, ac = rq_roles.get(uid), ac_roles.get(uid)
        if rq is None or ac is None:
            out[uid] = DEFAULT_ROLES
        else:
            out[uid] = (bool(rq[0]) and bool(ac[0]), bool(rq[1]) and bool(ac[1]))
    return out
