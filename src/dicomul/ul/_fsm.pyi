"""The PS3.8 section 9.2 Upper Layer state machine (csrc/ul_fsm.c), as data.

States are the standard's numbers 1..13 (Sta1..Sta13), events 1..19 (Evt1..Evt19),
actions the standard's names ("AE-1".."AE-8", "DT-1", "DT-2", "AR-1".."AR-10",
"AA-1".."AA-8"). The transition table is PS3.8 Table 9-10; the actions are Tables
9-6..9-9. Nothing here performs an action: :func:`step` says what to do, as a bit set of
``FX_*`` effects, and the caller does it, in ascending bit order, then enters the next
state.
"""

NUM_STATES: int
"""13: states are 1..NUM_STATES (PS3.8 Tables 9-1..9-5)."""
NUM_EVENTS: int
"""19: events are 1..NUM_EVENTS (PS3.8 Table 9-10 rows)."""
NUM_ACTIONS: int
"""29: action codes 0..NUM_ACTIONS-1; 0 is a blank cell."""

# Effects, one bit each; apply in ascending bit order (ARTIM stop first, close last).
FX_ARTIM_STOP: int
"""Stop the ARTIM timer (a no-op if it is not running). AE-6, AR-5, AA-2, AA-5."""
FX_CONNECT: int
"""Issue a TRANSPORT CONNECT request to the transport (AE-1)."""
FX_ACCEPT_TRANSPORT: int
"""Issue the transport connection response: accept the incoming connection (AE-5)."""
FX_SEND_ASSOC_RQ: int
"""Send the A-ASSOCIATE-RQ PDU (AE-2)."""
FX_SEND_ASSOC_AC: int
"""Send the A-ASSOCIATE-AC PDU (AE-7)."""
FX_SEND_ASSOC_RJ: int
"""Send an A-ASSOCIATE-RJ PDU (AE-8; AE-6 when the request is not acceptable)."""
FX_SEND_PDATA: int
"""Send the P-DATA-TF PDU of the local P-DATA request (DT-1, AR-7)."""
FX_SEND_RELEASE_RQ: int
"""Send an A-RELEASE-RQ PDU (AR-1)."""
FX_SEND_RELEASE_RP: int
"""Send an A-RELEASE-RP PDU (AR-4, AR-9)."""
FX_SEND_ABORT: int
"""Send an A-ABORT PDU; Source 2 if FX_SEND_ABORT_PROVIDER is also set, else 0."""
FX_IND_ASSOC_RQ: int
"""Issue an A-ASSOCIATE indication to the local user (AE-6, acceptable request)."""
FX_IND_ASSOC_AC: int
"""Issue an A-ASSOCIATE confirmation (accept) to the local user (AE-3)."""
FX_IND_ASSOC_RJ: int
"""Issue an A-ASSOCIATE confirmation (reject) to the local user (AE-4)."""
FX_IND_PDATA: int
"""Issue a P-DATA indication: deliver the received PDVs (DT-2, AR-6)."""
FX_IND_RELEASE_RQ: int
"""Issue an A-RELEASE indication (AR-2; AR-8 in a release collision)."""
FX_IND_RELEASE_RP: int
"""Issue an A-RELEASE confirmation (AR-3, AR-10)."""
FX_IND_ABORT: int
"""Issue an abort indication: A-P-ABORT if FX_IND_ABORT_PROVIDER is set, else A-ABORT."""
FX_ARTIM_START: int
"""Start the ARTIM timer, or restart it if running (AE-5, AE-6, AE-8, AR-4, AA-1, AA-8)."""
FX_CLOSE_TRANSPORT: int
"""Close the transport connection (AE-4, AR-3, AA-2, AA-3)."""
FX_IGNORE_PDU: int
"""Discard the received PDU (AA-6)."""
FX_SEND_ABORT_PROVIDER: int
"""Qualifier of FX_SEND_ABORT: the PDU's Source is 2, UL service-provider (AA-7, AA-8)."""
FX_IND_ABORT_PROVIDER: int
"""Qualifier of FX_IND_ABORT: the indication is A-P-ABORT (AA-4, AA-8; AA-3 by source)."""
FX_DO_MASK: int
"""All effect bits that are things to do (everything but the qualifiers)."""
FX_QUALIFIER_MASK: int
"""FX_SEND_ABORT_PROVIDER | FX_IND_ABORT_PROVIDER."""

def step(
    state: int,
    event: int,
    requestor: bool = False,
    acceptable: bool = True,
    provider_abort: bool = False,
) -> tuple[str, int, int] | None:
    """One transition of PS3.8 Table 9-10.

    Args:
        state: the current state, 1..13.
        event: the event, 1..19.
        requestor: this side requested the association. Only AR-8 reads it
            (release collision: requestor -> Sta9, acceptor -> Sta10).
        acceptable: the received A-ASSOCIATE-RQ is acceptable to the service-provider.
            Only AE-6 reads it: True -> stop ARTIM, A-ASSOCIATE indication, Sta3;
            False -> stop ARTIM, send A-ASSOCIATE-RJ, start ARTIM, Sta13.
        provider_abort: the received A-ABORT PDU's Source is not 0 (not the peer's
            service-user). Only AA-3 reads it: True -> A-P-ABORT indication, False ->
            A-ABORT indication.

    Returns:
        ``(action, next_state, effects)``: the action's name (e.g. ``"AE-2"``), the state
        to enter after applying the effects, and the ``FX_*`` bits to apply in ascending
        bit order. ``None`` for a blank cell (no transition defined: for a local request
        that means PS3.8 does not allow it now).

    Raises:
        ValueError: state or event out of range.
        TypeError: state or event is not an integer.
    """

def cell(state: int, event: int) -> str:
    """The action name in Table 9-10 at (state, event); ``""`` for a blank cell.

    Raises:
        ValueError: state or event out of range.
    """

def table() -> dict[tuple[int, int], str]:
    """All 247 cells of Table 9-10 as ``{(state, event): action}``; blank cells are ``""``."""

def action_name(action: int) -> str:
    """The standard's name of an action code (1 -> ``"AE-1"``, 28 -> ``"AA-8"``; 0 -> ``""``).

    Raises:
        ValueError: action not in 0..NUM_ACTIONS-1.
    """
