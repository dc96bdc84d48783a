"""The C state machine (csrc/ul_fsm.c via dicomul.ul._fsm) against PS3.8 Tables 9-6..9-10.

Oracles: tests/vectors/table_9_10.txt (an independent transcription of the standard)
and, as a second opinion, pynetdicom's transition table and action next states.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from dicomul.ul import _fsm as fsm

VECTORS = Path(__file__).parent / "vectors" / "table_9_10.txt"
STATES = range(1, 14)
EVENTS = range(1, 20)


def _sections() -> dict[str, list[str]]:
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    for raw in VECTORS.read_text(encoding="ascii").splitlines():
        line = raw.split("#", 1)[0].rstrip()
        if not line.strip():
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], [])
        elif current is not None:
            current.append(line)
    return sections


def _transcribed_table() -> dict[tuple[int, int], str]:
    header, *rows = _sections()["table_9_10"]
    assert header.split() == [f"Sta{s}" for s in STATES]
    assert [row.split()[0] for row in rows] == [f"Evt{e}" for e in EVENTS]
    cells: dict[tuple[int, int], str] = {}
    for event, row in zip(EVENTS, rows, strict=True):
        names = row.split()[1:]
        assert len(names) == 13, row
        for state, name in zip(STATES, names, strict=True):
            cells[(state, event)] = "" if name == "." else name
    return cells


def _transcribed_next_states() -> dict[str, tuple[int, ...]]:
    result: dict[str, tuple[int, ...]] = {}
    for line in _sections()["actions"]:
        name, nxt = line.split()
        result[name] = tuple(int(s.removeprefix("Sta")) for s in nxt.split("|"))
    return result


TRANSCRIBED = _transcribed_table()
NEXT_STATES = _transcribed_next_states()
ALL_ACTIONS = (
    [f"AE-{i}" for i in range(1, 9)]
    + ["DT-1", "DT-2"]
    + [f"AR-{i}" for i in range(1, 11)]
    + [f"AA-{i}" for i in range(1, 9)]
)


def _ok(state: int, event: int, **flags: bool) -> tuple[str, int, int]:
    """step() for a cell that must be defined."""
    result = fsm.step(state, event, **flags)
    assert result is not None, (state, event)
    return result


def _cells_of(action: str) -> list[tuple[int, int]]:
    return [key for key, name in TRANSCRIBED.items() if name == action]


# --- the table, cell by cell ---------------------------------------------------------


def test_transcription_is_complete() -> None:
    assert len(TRANSCRIBED) == 13 * 19 == 247
    assert sum(1 for name in TRANSCRIBED.values() if name) == 123
    assert {name for name in TRANSCRIBED.values() if name} == set(ALL_ACTIONS)
    assert sorted(NEXT_STATES) == sorted(ALL_ACTIONS)


@pytest.mark.parametrize("event", EVENTS, ids=lambda e: f"Evt{e}")
@pytest.mark.parametrize("state", STATES, ids=lambda s: f"Sta{s}")
def test_cell_matches_transcription(state: int, event: int) -> None:
    want = TRANSCRIBED[(state, event)]
    assert fsm.cell(state, event) == want
    result = fsm.step(state, event)
    if want:
        assert result is not None and result[0] == want
    else:
        assert result is None


def test_table_function() -> None:
    assert fsm.table() == TRANSCRIBED


# --- each action: next state and effects (PS3.8 Tables 9-6..9-9) ---------------------

SEND_P_ABORT = fsm.FX_SEND_ABORT | fsm.FX_SEND_ABORT_PROVIDER
IND_P_ABORT = fsm.FX_IND_ABORT | fsm.FX_IND_ABORT_PROVIDER

# Default branch (acceptable request, acceptor role, peer user abort).
EFFECTS: dict[str, int] = {
    "AE-1": fsm.FX_CONNECT,
    "AE-2": fsm.FX_SEND_ASSOC_RQ,
    "AE-3": fsm.FX_IND_ASSOC_AC,
    "AE-4": fsm.FX_IND_ASSOC_RJ | fsm.FX_CLOSE_TRANSPORT,
    "AE-5": fsm.FX_ACCEPT_TRANSPORT | fsm.FX_ARTIM_START,
    "AE-6": fsm.FX_ARTIM_STOP | fsm.FX_IND_ASSOC_RQ,
    "AE-7": fsm.FX_SEND_ASSOC_AC,
    "AE-8": fsm.FX_SEND_ASSOC_RJ | fsm.FX_ARTIM_START,
    "DT-1": fsm.FX_SEND_PDATA,
    "DT-2": fsm.FX_IND_PDATA,
    "AR-1": fsm.FX_SEND_RELEASE_RQ,
    "AR-2": fsm.FX_IND_RELEASE_RQ,
    "AR-3": fsm.FX_IND_RELEASE_RP | fsm.FX_CLOSE_TRANSPORT,
    "AR-4": fsm.FX_SEND_RELEASE_RP | fsm.FX_ARTIM_START,
    "AR-5": fsm.FX_ARTIM_STOP,
    "AR-6": fsm.FX_IND_PDATA,
    "AR-7": fsm.FX_SEND_PDATA,
    "AR-8": fsm.FX_IND_RELEASE_RQ,
    "AR-9": fsm.FX_SEND_RELEASE_RP,
    "AR-10": fsm.FX_IND_RELEASE_RP,
    "AA-1": fsm.FX_SEND_ABORT | fsm.FX_ARTIM_START,  # service-user source
    "AA-2": fsm.FX_ARTIM_STOP | fsm.FX_CLOSE_TRANSPORT,
    "AA-3": fsm.FX_IND_ABORT | fsm.FX_CLOSE_TRANSPORT,  # A-ABORT indication
    "AA-4": IND_P_ABORT,
    "AA-5": fsm.FX_ARTIM_STOP,
    "AA-6": fsm.FX_IGNORE_PDU,
    "AA-7": SEND_P_ABORT,
    "AA-8": SEND_P_ABORT | IND_P_ABORT | fsm.FX_ARTIM_START,
}


@pytest.mark.parametrize("action", ALL_ACTIONS)
def test_action_effects_and_next_state(action: str) -> None:
    cells = _cells_of(action)
    assert cells, action
    # Default branches: AE-6 acceptable -> Sta3 (first listed), AR-8 acceptor -> Sta10 (second).
    nxt = NEXT_STATES[action][0 if action == "AE-6" else -1]
    for state, event in cells:
        assert fsm.step(state, event) == (action, nxt, EFFECTS[action]), (
            state,
            event,
        )


def test_ae6_acceptable() -> None:
    assert fsm.step(2, 6, acceptable=True) == (
        "AE-6",
        3,
        fsm.FX_ARTIM_STOP | fsm.FX_IND_ASSOC_RQ,
    )
    assert NEXT_STATES["AE-6"][0] == 3


def test_ae6_not_acceptable() -> None:
    action, nxt, fx = _ok(2, 6, acceptable=False)
    assert (action, nxt) == ("AE-6", 13)
    assert NEXT_STATES["AE-6"][1] == 13
    # Stop ARTIM, send A-ASSOCIATE-RJ, start ARTIM: in bit order that is a restart.
    assert fx == fsm.FX_ARTIM_STOP | fsm.FX_SEND_ASSOC_RJ | fsm.FX_ARTIM_START
    assert fsm.FX_ARTIM_STOP < fsm.FX_SEND_ASSOC_RJ < fsm.FX_ARTIM_START
    assert not fx & fsm.FX_IND_ASSOC_RQ


def test_ar8_roles() -> None:
    assert fsm.step(7, 12, requestor=True) == ("AR-8", 9, fsm.FX_IND_RELEASE_RQ)
    assert fsm.step(7, 12, requestor=False) == ("AR-8", 10, fsm.FX_IND_RELEASE_RQ)
    assert NEXT_STATES["AR-8"] == (9, 10)


def test_release_collision_paths() -> None:
    # Requestor: Sta7 -> Sta9 -> Sta11 -> Sta1.
    assert _ok(7, 12, requestor=True)[1] == 9
    assert fsm.step(9, 14, requestor=True) == ("AR-9", 11, fsm.FX_SEND_RELEASE_RP)
    assert _ok(11, 13, requestor=True)[:2] == ("AR-3", 1)
    # Acceptor: Sta7 -> Sta10 -> Sta12 -> Sta13.
    assert _ok(7, 12)[1] == 10
    assert fsm.step(10, 13) == ("AR-10", 12, fsm.FX_IND_RELEASE_RP)
    assert _ok(12, 14)[:2] == ("AR-4", 13)


def test_aa3_abort_source() -> None:
    assert fsm.step(6, 16) == ("AA-3", 1, fsm.FX_IND_ABORT | fsm.FX_CLOSE_TRANSPORT)
    assert fsm.step(6, 16, provider_abort=True) == ("AA-3", 1, IND_P_ABORT | fsm.FX_CLOSE_TRANSPORT)


def test_flags_only_affect_their_action() -> None:
    for (state, event), action in TRANSCRIBED.items():
        if not action or action in ("AE-6", "AR-8", "AA-3"):
            continue
        base = fsm.step(state, event)
        for kwargs in ({"requestor": True}, {"acceptable": False}, {"provider_abort": True}):
            assert fsm.step(state, event, **kwargs) == base, (state, event, kwargs)


def test_abort_sources() -> None:
    # AA-1: service-user source; AA-8: service-provider source (Table 9-9).
    assert not _ok(6, 15)[2] & fsm.FX_SEND_ABORT_PROVIDER
    assert _ok(6, 19)[2] & fsm.FX_SEND_ABORT_PROVIDER


def test_effect_bits() -> None:
    bits = [getattr(fsm, n) for n in dir(fsm) if n.startswith("FX_") and not n.endswith("MASK")]
    assert all(b and b & (b - 1) == 0 for b in bits), "each effect is one bit"
    assert len(set(bits)) == len(bits)
    assert fsm.FX_DO_MASK & fsm.FX_QUALIFIER_MASK == 0
    for bit in bits:
        assert bit & (fsm.FX_DO_MASK | fsm.FX_QUALIFIER_MASK)
    # Application order is ascending bit order: stop ARTIM first, close last.
    assert fsm.FX_ARTIM_STOP == min(b for b in bits if b & fsm.FX_DO_MASK)
    assert fsm.FX_SEND_ABORT < fsm.FX_IND_ABORT < fsm.FX_ARTIM_START < fsm.FX_CLOSE_TRANSPORT
    assert fsm.FX_IND_RELEASE_RP < fsm.FX_CLOSE_TRANSPORT


def test_every_defined_cell_has_effects() -> None:
    for (state, event), action in TRANSCRIBED.items():
        if action:
            _, nxt, fx = _ok(state, event)
            assert 1 <= nxt <= 13 and fx & fsm.FX_DO_MASK


# --- names and ranges -----------------------------------------------------------------


def test_action_names() -> None:
    assert fsm.NUM_ACTIONS == 29
    assert [fsm.action_name(i) for i in range(fsm.NUM_ACTIONS)] == ["", *ALL_ACTIONS]
    for bad in (-1, fsm.NUM_ACTIONS, 256, 2**70):
        with pytest.raises(ValueError):
            fsm.action_name(bad)


@pytest.mark.parametrize(
    ("state", "event"),
    [(0, 1), (14, 1), (1, 0), (1, 20), (-1, 1), (1, -1), (256, 1), (1, 257), (2**70, 1)],
)
def test_out_of_range_raises(state: int, event: int) -> None:
    with pytest.raises(ValueError):
        fsm.step(state, event)
    with pytest.raises(ValueError):
        fsm.cell(state, event)


def test_non_integer_raises() -> None:
    with pytest.raises(TypeError):
        fsm.step(1.0, 1)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        fsm.step("1", 1)  # type: ignore[arg-type]


# --- pynetdicom as a second opinion ---------------------------------------------------


def test_matches_pynetdicom_table() -> None:
    pyn_fsm = pytest.importorskip("pynetdicom.fsm")
    theirs = pyn_fsm.TRANSITION_TABLE
    ours = fsm.table()
    for (state, event), action in ours.items():
        assert (theirs.get((f"Evt{event}", f"Sta{state}")) or "") == action, (state, event)
    defined = {key for key, value in theirs.items() if value}
    assert defined == {(f"Evt{e}", f"Sta{s}") for (s, e), a in ours.items() if a}


def test_matches_pynetdicom_next_states() -> None:
    pyn_fsm = pytest.importorskip("pynetdicom.fsm")
    for action in ALL_ACTIONS:
        theirs = pyn_fsm.ACTIONS[action][2]
        theirs = (theirs,) if isinstance(theirs, str) else tuple(theirs)
        want = {int(s.removeprefix("Sta")) for s in theirs}
        state, event = _cells_of(action)[0]
        got = {_ok(state, event, **kw)[1] for kw in _branches(action)}
        assert got == want, action


def _branches(action: str) -> list[dict[str, bool]]:
    if action == "AE-6":
        return [{"acceptable": True}, {"acceptable": False}]
    if action == "AR-8":
        return [{"requestor": True}, {"requestor": False}]
    return [{}]
