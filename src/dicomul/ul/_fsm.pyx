# cython: language_level=3
"""The PS3.8 section 9.2 state machine (csrc/ul_fsm.c) for Python: glue only."""

from operator import index as _index

from libc.stdint cimport uint8_t, uint32_t

# Declarations of csrc/ul_fsm.h: a mirror, nothing else.
cdef extern from "ul_fsm.h" nogil:
    enum:
        UL_FSM_NUM_STATES
        UL_FSM_NUM_EVENTS
        UL_ACT_NONE
        UL_ACT_COUNT

    enum:
        UL_FX_ARTIM_STOP
        UL_FX_CONNECT
        UL_FX_ACCEPT_TRANSPORT
        UL_FX_SEND_ASSOC_RQ
        UL_FX_SEND_ASSOC_AC
        UL_FX_SEND_ASSOC_RJ
        UL_FX_SEND_PDATA
        UL_FX_SEND_RELEASE_RQ
        UL_FX_SEND_RELEASE_RP
        UL_FX_SEND_ABORT
        UL_FX_IND_ASSOC_RQ
        UL_FX_IND_ASSOC_AC
        UL_FX_IND_ASSOC_RJ
        UL_FX_IND_PDATA
        UL_FX_IND_RELEASE_RQ
        UL_FX_IND_RELEASE_RP
        UL_FX_IND_ABORT
        UL_FX_ARTIM_START
        UL_FX_CLOSE_TRANSPORT
        UL_FX_IGNORE_PDU
        UL_FX_SEND_ABORT_PROVIDER
        UL_FX_IND_ABORT_PROVIDER
        UL_FX_DO_MASK
        UL_FX_QUALIFIER_MASK

    enum:
        UL_FSM_REQUESTOR
        UL_FSM_UNACCEPTABLE
        UL_FSM_PEER_ABORT_PROVIDER

    enum:
        UL_FSM_OK
        UL_FSM_ERR_UNDEFINED
        UL_FSM_ERR_RANGE
        UL_FSM_ERR_NULL

    ctypedef struct ul_fsm_result:
        uint8_t action
        uint8_t next_state
        uint32_t effects

    int ul_fsm_step(uint8_t state, uint8_t event, uint32_t flags, ul_fsm_result *out)
    uint8_t ul_fsm_cell(uint8_t state, uint8_t event)
    const char *ul_fsm_action_name(uint8_t action)


NUM_STATES = UL_FSM_NUM_STATES
NUM_EVENTS = UL_FSM_NUM_EVENTS
NUM_ACTIONS = UL_ACT_COUNT

FX_ARTIM_STOP = UL_FX_ARTIM_STOP
FX_CONNECT = UL_FX_CONNECT
FX_ACCEPT_TRANSPORT = UL_FX_ACCEPT_TRANSPORT
FX_SEND_ASSOC_RQ = UL_FX_SEND_ASSOC_RQ
FX_SEND_ASSOC_AC = UL_FX_SEND_ASSOC_AC
FX_SEND_ASSOC_RJ = UL_FX_SEND_ASSOC_RJ
FX_SEND_PDATA = UL_FX_SEND_PDATA
FX_SEND_RELEASE_RQ = UL_FX_SEND_RELEASE_RQ
FX_SEND_RELEASE_RP = UL_FX_SEND_RELEASE_RP
FX_SEND_ABORT = UL_FX_SEND_ABORT
FX_IND_ASSOC_RQ = UL_FX_IND_ASSOC_RQ
FX_IND_ASSOC_AC = UL_FX_IND_ASSOC_AC
FX_IND_ASSOC_RJ = UL_FX_IND_ASSOC_RJ
FX_IND_PDATA = UL_FX_IND_PDATA
FX_IND_RELEASE_RQ = UL_FX_IND_RELEASE_RQ
FX_IND_RELEASE_RP = UL_FX_IND_RELEASE_RP
FX_IND_ABORT = UL_FX_IND_ABORT
FX_ARTIM_START = UL_FX_ARTIM_START
FX_CLOSE_TRANSPORT = UL_FX_CLOSE_TRANSPORT
FX_IGNORE_PDU = UL_FX_IGNORE_PDU
FX_SEND_ABORT_PROVIDER = UL_FX_SEND_ABORT_PROVIDER
FX_IND_ABORT_PROVIDER = UL_FX_IND_ABORT_PROVIDER
FX_DO_MASK = UL_FX_DO_MASK
FX_QUALIFIER_MASK = UL_FX_QUALIFIER_MASK


cdef uint8_t _checked(object value, int high, str what) except 0:
    cdef object v = _index(value)
    if not 1 <= v <= high:
        raise ValueError(f"{what} must be in 1..{high}, got {v!r}")
    return <uint8_t>v


def step(state, event, bint requestor=False, bint acceptable=True,
         bint provider_abort=False):
    cdef uint8_t s = _checked(state, UL_FSM_NUM_STATES, "state")
    cdef uint8_t e = _checked(event, UL_FSM_NUM_EVENTS, "event")
    cdef uint32_t flags = 0
    cdef ul_fsm_result r
    cdef int rc
    if requestor:
        flags |= UL_FSM_REQUESTOR
    if not acceptable:
        flags |= UL_FSM_UNACCEPTABLE
    if provider_abort:
        flags |= UL_FSM_PEER_ABORT_PROVIDER
    rc = ul_fsm_step(s, e, flags, &r)
    if rc == UL_FSM_ERR_UNDEFINED:
        return None
    if rc != UL_FSM_OK:  # unreachable: the range was checked above
        raise ValueError(f"ul_fsm_step failed with {rc} at Sta{s} Evt{e}")
    return (ul_fsm_action_name(r.action).decode("ascii"), r.next_state, r.effects)


def cell(state, event):
    cdef uint8_t s = _checked(state, UL_FSM_NUM_STATES, "state")
    cdef uint8_t e = _checked(event, UL_FSM_NUM_EVENTS, "event")
    return ul_fsm_action_name(ul_fsm_cell(s, e)).decode("ascii")


def table():
    cdef uint8_t s, e
    cdef dict cells = {}
    for s in range(1, UL_FSM_NUM_STATES + 1):
        for e in range(1, UL_FSM_NUM_EVENTS + 1):
            cells[(s, e)] = ul_fsm_action_name(ul_fsm_cell(s, e)).decode("ascii")
    return cells


def action_name(action):
    cdef object a = _index(action)
    if not 0 <= a < UL_ACT_COUNT:
        raise ValueError(f"action must be in 0..{UL_ACT_COUNT - 1}, got {a!r}")
    return ul_fsm_action_name(<uint8_t>a).decode("ascii")
