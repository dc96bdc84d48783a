/*
 * ul_fsm.h - the DICOM Upper Layer state machine (PS3.8 section 9.2) as data.
 *
 * C11, freestanding apart from <stdint.h>; no Python.h, no I/O, no clock, no
 * mutable state. The transition table (PS3.8 Table 9-10) and the action
 * definitions (PS3.8 Tables 9-6 to 9-9) live in ul_fsm.c as const arrays.
 *
 * ul_fsm_step() is a pure function: (state, event, flags) -> (action, next
 * state, effects). The caller owns the current state and performs the effects;
 * the machine never does anything itself (see "C returns, it never calls back"
 * in DESIGN.md).
 */
#ifndef UL_FSM_H
#define UL_FSM_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* States, PS3.8 Tables 9-1 to 9-5. Values are the standard's numbers. */
enum ul_fsm_state {
    UL_STA1 = 1,  /* Idle */
    UL_STA2,      /* Transport connection open (awaiting A-ASSOCIATE-RQ PDU) */
    UL_STA3,      /* Awaiting local A-ASSOCIATE response primitive */
    UL_STA4,      /* Awaiting transport connection opening to complete */
    UL_STA5,      /* Awaiting A-ASSOCIATE-AC or A-ASSOCIATE-RJ PDU */
    UL_STA6,      /* Association established, ready for data transfer */
    UL_STA7,      /* Awaiting A-RELEASE-RP PDU */
    UL_STA8,      /* Awaiting local A-RELEASE response primitive */
    UL_STA9,      /* Release collision requestor side; awaiting local A-RELEASE response */
    UL_STA10,     /* Release collision acceptor side; awaiting A-RELEASE-RP PDU */
    UL_STA11,     /* Release collision requestor side; awaiting A-RELEASE-RP PDU */
    UL_STA12,     /* Release collision acceptor side; awaiting local A-RELEASE response */
    UL_STA13      /* Awaiting transport connection close indication */
};
#define UL_FSM_NUM_STATES 13

/* Events, PS3.8 Table 9-10 (row headings). Values are the standard's numbers. */
enum ul_fsm_event {
    UL_EVT1 = 1,  /* A-ASSOCIATE request (local user) */
    UL_EVT2,      /* Transport connect confirmation (local transport service) */
    UL_EVT3,      /* A-ASSOCIATE-AC PDU received */
    UL_EVT4,      /* A-ASSOCIATE-RJ PDU received */
    UL_EVT5,      /* Transport connection indication (local transport service) */
    UL_EVT6,      /* A-ASSOCIATE-RQ PDU received */
    UL_EVT7,      /* A-ASSOCIATE response primitive (accept) */
    UL_EVT8,      /* A-ASSOCIATE response primitive (reject) */
    UL_EVT9,      /* P-DATA request primitive */
    UL_EVT10,     /* P-DATA-TF PDU received */
    UL_EVT11,     /* A-RELEASE request primitive */
    UL_EVT12,     /* A-RELEASE-RQ PDU received */
    UL_EVT13,     /* A-RELEASE-RP PDU received */
    UL_EVT14,     /* A-RELEASE response primitive */
    UL_EVT15,     /* A-ABORT request primitive */
    UL_EVT16,     /* A-ABORT PDU received */
    UL_EVT17,     /* Transport connection closed indication */
    UL_EVT18,     /* ARTIM timer expired */
    UL_EVT19      /* Unrecognized or invalid PDU received */
};
#define UL_FSM_NUM_EVENTS 19

/* Actions, PS3.8 Tables 9-6 (AE), 9-7 (DT), 9-8 (AR), 9-9 (AA).
 * UL_ACT_NONE (0) is a blank cell of Table 9-10. */
enum ul_fsm_action {
    UL_ACT_NONE = 0,
    UL_AE_1, UL_AE_2, UL_AE_3, UL_AE_4, UL_AE_5, UL_AE_6, UL_AE_7, UL_AE_8,
    UL_DT_1, UL_DT_2,
    UL_AR_1, UL_AR_2, UL_AR_3, UL_AR_4, UL_AR_5,
    UL_AR_6, UL_AR_7, UL_AR_8, UL_AR_9, UL_AR_10,
    UL_AA_1, UL_AA_2, UL_AA_3, UL_AA_4, UL_AA_5, UL_AA_6, UL_AA_7, UL_AA_8,
    UL_ACT_COUNT  /* 29: number of action codes including UL_ACT_NONE */
};

/*
 * Effects: what the caller must do for an action, one bit each.
 *
 * Apply them in ascending bit order. The bits are numbered so that this order
 * is the one PS3.8 describes: stop ARTIM before anything else (AE-6), send
 * before indicating (AA-8), send or indicate before (re)starting ARTIM
 * (AE-6 reject branch: stop, send RJ, start = restart) and close the
 * transport last (AE-4, AR-3, AA-2, AA-3).
 *
 * Bits 24.. are qualifiers, not things to do: they refine the bit they name.
 */
#define UL_FX_ARTIM_STOP        (UINT32_C(1) << 0)  /* stop ARTIM (no-op if not running) */
#define UL_FX_CONNECT           (UINT32_C(1) << 1)  /* issue TRANSPORT CONNECT request (AE-1) */
#define UL_FX_ACCEPT_TRANSPORT  (UINT32_C(1) << 2)  /* issue transport connection response (AE-5) */
#define UL_FX_SEND_ASSOC_RQ     (UINT32_C(1) << 3)  /* send A-ASSOCIATE-RQ PDU */
#define UL_FX_SEND_ASSOC_AC     (UINT32_C(1) << 4)  /* send A-ASSOCIATE-AC PDU */
#define UL_FX_SEND_ASSOC_RJ     (UINT32_C(1) << 5)  /* send A-ASSOCIATE-RJ PDU */
#define UL_FX_SEND_PDATA        (UINT32_C(1) << 6)  /* send P-DATA-TF PDU */
#define UL_FX_SEND_RELEASE_RQ   (UINT32_C(1) << 7)  /* send A-RELEASE-RQ PDU */
#define UL_FX_SEND_RELEASE_RP   (UINT32_C(1) << 8)  /* send A-RELEASE-RP PDU */
#define UL_FX_SEND_ABORT        (UINT32_C(1) << 9)  /* send A-ABORT PDU; source: see UL_FX_SEND_ABORT_PROVIDER */
#define UL_FX_IND_ASSOC_RQ      (UINT32_C(1) << 10) /* A-ASSOCIATE indication (AE-6 accept branch) */
#define UL_FX_IND_ASSOC_AC      (UINT32_C(1) << 11) /* A-ASSOCIATE confirmation (accept) (AE-3) */
#define UL_FX_IND_ASSOC_RJ      (UINT32_C(1) << 12) /* A-ASSOCIATE confirmation (reject) (AE-4) */
#define UL_FX_IND_PDATA         (UINT32_C(1) << 13) /* P-DATA indication (DT-2, AR-6) */
#define UL_FX_IND_RELEASE_RQ    (UINT32_C(1) << 14) /* A-RELEASE indication (AR-2, AR-8) */
#define UL_FX_IND_RELEASE_RP    (UINT32_C(1) << 15) /* A-RELEASE confirmation (AR-3, AR-10) */
#define UL_FX_IND_ABORT         (UINT32_C(1) << 16) /* A-ABORT or A-P-ABORT indication: see UL_FX_IND_ABORT_PROVIDER */
#define UL_FX_ARTIM_START       (UINT32_C(1) << 17) /* start ARTIM, or restart it if running */
#define UL_FX_CLOSE_TRANSPORT   (UINT32_C(1) << 18) /* close the transport connection */
#define UL_FX_IGNORE_PDU        (UINT32_C(1) << 19) /* discard the received PDU (AA-6) */

/* Qualifier of UL_FX_SEND_ABORT: set = Source field 2 (UL service-provider,
 * PS3.8 Table 9-26); clear = Source 0 (UL service-user). */
#define UL_FX_SEND_ABORT_PROVIDER (UINT32_C(1) << 24)
/* Qualifier of UL_FX_IND_ABORT: set = A-P-ABORT indication (PS3.8 7.4);
 * clear = A-ABORT indication (PS3.8 7.3). */
#define UL_FX_IND_ABORT_PROVIDER  (UINT32_C(1) << 25)

#define UL_FX_DO_MASK        (UINT32_C(0x000FFFFF)) /* bits that are things to do */
#define UL_FX_QUALIFIER_MASK (UL_FX_SEND_ABORT_PROVIDER | UL_FX_IND_ABORT_PROVIDER)

/* Input flags of ul_fsm_step(): facts the table alone cannot know. */
/* This side is the association-requestor. Used by AR-8 (Table 9-8):
 * set -> Sta9, clear -> Sta10. */
#define UL_FSM_REQUESTOR       (UINT32_C(1) << 0)
/* The received A-ASSOCIATE-RQ is not acceptable to the service-provider.
 * Used by AE-6 (Table 9-6): set -> stop ARTIM, send A-ASSOCIATE-RJ, start
 * ARTIM, Sta13; clear -> stop ARTIM, A-ASSOCIATE indication, Sta3. */
#define UL_FSM_UNACCEPTABLE    (UINT32_C(1) << 1)
/* The received A-ABORT PDU's Source is not 0 (not the UL service-user).
 * Used by AA-3 (Table 9-9): set -> A-P-ABORT indication, clear -> A-ABORT
 * indication. */
#define UL_FSM_PEER_ABORT_PROVIDER (UINT32_C(1) << 2)

/* Return codes of ul_fsm_step(). */
#define UL_FSM_OK              0
#define UL_FSM_ERR_UNDEFINED (-1) /* blank cell of Table 9-10: no transition defined */
#define UL_FSM_ERR_RANGE     (-2) /* state not in 1..13 or event not in 1..19 */
#define UL_FSM_ERR_NULL      (-3) /* out is NULL */

typedef struct ul_fsm_result {
    uint8_t action;     /* enum ul_fsm_action of the cell */
    uint8_t next_state; /* enum ul_fsm_state to enter after the effects */
    uint32_t effects;   /* UL_FX_* bits, applied in ascending bit order */
} ul_fsm_result;

/*
 * One transition of PS3.8 Table 9-10.
 *
 * state: current state, 1..13 (UL_STA*). event: 1..19 (UL_EVT*).
 * flags: UL_FSM_* bits; other bits are reserved and ignored.
 *
 * Returns UL_FSM_OK (0) and fills *out with the cell's action, the action's
 * next state and its effects (Tables 9-6..9-9, branch chosen by flags).
 * Returns UL_FSM_ERR_RANGE if state or event is out of range,
 * UL_FSM_ERR_UNDEFINED for a blank cell; in both cases *out is all zero.
 * Returns UL_FSM_ERR_NULL if out is NULL. Pure: no state, thread-safe.
 */
int ul_fsm_step(uint8_t state, uint8_t event, uint32_t flags, ul_fsm_result *out);

/*
 * The action in Table 9-10 at (state, event).
 * Returns an enum ul_fsm_action; UL_ACT_NONE for a blank cell or for a state
 * or event out of range.
 */
uint8_t ul_fsm_cell(uint8_t state, uint8_t event);

/*
 * The standard's name of an action: "AE-1".."AE-8", "DT-1", "DT-2",
 * "AR-1".."AR-10", "AA-1".."AA-8".
 * Returns "" for UL_ACT_NONE and for any value >= UL_ACT_COUNT; never NULL.
 * The string is static and must not be freed.
 */
const char *ul_fsm_action_name(uint8_t action);

#ifdef __cplusplus
}
#endif

#endif /* UL_FSM_H */
