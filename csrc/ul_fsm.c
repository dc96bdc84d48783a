/*
 * ul_fsm.c - PS3.8 section 9.2 state machine: Table 9-10 and Tables 9-6..9-9.
 *
 * Theory of operation
 * -------------------
 * The DICOM Upper Layer protocol machine is a 19 x 13 table (PS3.8 Table
 * 9-10): for each event (row, Evt1..Evt19) and current state (column,
 * Sta1..Sta13) a cell names an action (AE-n, DT-n, AR-n, AA-n) or is blank.
 * Each action (Tables 9-6 to 9-9) says what the provider does and the next
 * state. This file holds both as const data and nothing else:
 *
 *   ul_fsm_table[event][state]   Table 9-10 transcribed once, in the
 *                                standard's layout and names, so a review is
 *                                a visual diff against the standard.
 *   ul_fsm_actions[action]       each action as (effects, next state), plus an
 *                                alternative (effects, next state) for the
 *                                three actions that branch on a fact the table
 *                                cannot see: AE-6 (is the A-ASSOCIATE-RQ
 *                                acceptable?), AR-8 (are we the requestor?)
 *                                and AA-3 (was the received A-ABORT from the
 *                                peer's service-user or its provider?).
 *
 * ul_fsm_step() looks up the cell, picks the branch from the caller's flags
 * and returns (action, next state, effects). It performs nothing: the caller
 * (the sans-IO Connection) sends the PDUs, issues the indications, arms or
 * disarms ARTIM and closes the transport, in ascending bit order of the
 * effects (see ul_fsm.h), then enters the next state.
 *
 * A blank cell is reported as UL_FSM_ERR_UNDEFINED; what that means is the
 * caller's business. In the local-request rows (Evt1, 7, 8, 9, 11, 14, 15)
 * it is a request PS3.8 does not allow now: refuse it, change nothing. In
 * the PDU rows it only occurs in Sta1 and Sta4, where no connection is open;
 * in the transport and timer rows (Evt2, 5, 17, 18) it is an event that
 * cannot happen if the caller applied the effects faithfully (no connect
 * pending, ARTIM not running).
 *
 * Choices where the standard is silent:
 *  - AA-7 "Send A-ABORT PDU" gives no Source; we send Source 2 (service-
 *    provider), as the PDU is provoked by the peer, not by our user.
 *  - AA-1 says "service-user source" even when the cause is a PDU received
 *    in Sta2; we follow the text (Source 0).
 *  - AE-6 reject branch: "stop ARTIM ... start ARTIM" is returned as both
 *    bits; applied in bit order it restarts ARTIM.
 */
#include "ul_fsm.h"

#include <stddef.h>

/* Short local names so the table below reads like Table 9-10. */
#define BLANK UL_ACT_NONE
#define AE_1 UL_AE_1
#define AE_2 UL_AE_2
#define AE_3 UL_AE_3
#define AE_4 UL_AE_4
#define AE_5 UL_AE_5
#define AE_6 UL_AE_6
#define AE_7 UL_AE_7
#define AE_8 UL_AE_8
#define DT_1 UL_DT_1
#define DT_2 UL_DT_2
#define AR_1 UL_AR_1
#define AR_2 UL_AR_2
#define AR_3 UL_AR_3
#define AR_4 UL_AR_4
#define AR_5 UL_AR_5
#define AR_6 UL_AR_6
#define AR_7 UL_AR_7
#define AR_8 UL_AR_8
#define AR_9 UL_AR_9
#define AR_10 UL_AR_10
#define AA_1 UL_AA_1
#define AA_2 UL_AA_2
#define AA_3 UL_AA_3
#define AA_4 UL_AA_4
#define AA_5 UL_AA_5
#define AA_6 UL_AA_6
#define AA_7 UL_AA_7
#define AA_8 UL_AA_8

/* PS3.8 Table 9-10. DICOM Upper Layer Protocol State Transition Table.
 * Index [event - 1][state - 1]. */
static const uint8_t ul_fsm_table[UL_FSM_NUM_EVENTS][UL_FSM_NUM_STATES] = {
/*            Sta1   Sta2   Sta3   Sta4   Sta5   Sta6   Sta7   Sta8   Sta9   Sta10  Sta11  Sta12  Sta13 */
/* Evt1  */ { AE_1,  BLANK, BLANK, BLANK, BLANK, BLANK, BLANK, BLANK, BLANK, BLANK, BLANK, BLANK, BLANK },
/* Evt2  */ { BLANK, BLANK, BLANK, AE_2,  BLANK, BLANK, BLANK, BLANK, BLANK, BLANK, BLANK, BLANK, BLANK },
/* Evt3  */ { BLANK, AA_1,  AA_8,  BLANK, AE_3,  AA_8,  AA_8,  AA_8,  AA_8,  AA_8,  AA_8,  AA_8,  AA_6  },
/* Evt4  */ { BLANK, AA_1,  AA_8,  BLANK, AE_4,  AA_8,  AA_8,  AA_8,  AA_8,  AA_8,  AA_8,  AA_8,  AA_6  },
/* Evt5  */ { AE_5,  BLANK, BLANK, BLANK, BLANK, BLANK, BLANK, BLANK, BLANK, BLANK, BLANK, BLANK, BLANK },
/* Evt6  */ { BLANK, AE_6,  AA_8,  BLANK, AA_8,  AA_8,  AA_8,  AA_8,  AA_8,  AA_8,  AA_8,  AA_8,  AA_7  },
/* Evt7  */ { BLANK, BLANK, AE_7,  BLANK, BLANK, BLANK, BLANK, BLANK, BLANK, BLANK, BLANK, BLANK, BLANK },
/* Evt8  */ { BLANK, BLANK, AE_8,  BLANK, BLANK, BLANK, BLANK, BLANK, BLANK, BLANK, BLANK, BLANK, BLANK },
/* Evt9  */ { BLANK, BLANK, BLANK, BLANK, BLANK, DT_1,  BLANK, AR_7,  BLANK, BLANK, BLANK, BLANK, BLANK },
/* Evt10 */ { BLANK, AA_1,  AA_8,  BLANK, AA_8,  DT_2,  AR_6,  AA_8,  AA_8,  AA_8,  AA_8,  AA_8,  AA_6  },
/* Evt11 */ { BLANK, BLANK, BLANK, BLANK, BLANK, AR_1,  BLANK, BLANK, BLANK, BLANK, BLANK, BLANK, BLANK },
/* Evt12 */ { BLANK, AA_1,  AA_8,  BLANK, AA_8,  AR_2,  AR_8,  AA_8,  AA_8,  AA_8,  AA_8,  AA_8,  AA_6  },
/* Evt13 */ { BLANK, AA_1,  AA_8,  BLANK, AA_8,  AA_8,  AR_3,  AA_8,  AA_8,  AR_10, AR_3,  AA_8,  AA_6  },
/* Evt14 */ { BLANK, BLANK, BLANK, BLANK, BLANK, BLANK, BLANK, AR_4,  AR_9,  BLANK, BLANK, AR_4,  BLANK },
/* Evt15 */ { BLANK, BLANK, AA_1,  AA_2,  AA_1,  AA_1,  AA_1,  AA_1,  AA_1,  AA_1,  AA_1,  AA_1,  BLANK },
/* Evt16 */ { BLANK, AA_2,  AA_3,  BLANK, AA_3,  AA_3,  AA_3,  AA_3,  AA_3,  AA_3,  AA_3,  AA_3,  AA_2  },
/* Evt17 */ { BLANK, AA_5,  AA_4,  AA_4,  AA_4,  AA_4,  AA_4,  AA_4,  AA_4,  AA_4,  AA_4,  AA_4,  AR_5  },
/* Evt18 */ { BLANK, AA_2,  BLANK, BLANK, BLANK, BLANK, BLANK, BLANK, BLANK, BLANK, BLANK, BLANK, AA_2  },
/* Evt19 */ { BLANK, AA_1,  AA_8,  BLANK, AA_8,  AA_8,  AA_8,  AA_8,  AA_8,  AA_8,  AA_8,  AA_8,  AA_7  },
};

/* An action of Tables 9-6..9-9. When (flags & branch) != 0 the alternative
 * (alt_effects, alt_next) applies instead of (effects, next). */
typedef struct ul_fsm_action_def {
    uint32_t effects;
    uint8_t next;
    uint32_t branch;
    uint32_t alt_effects;
    uint8_t alt_next;
} ul_fsm_action_def;

/* Short local names for the effects, as the action texts read. */
#define STOP_ARTIM  UL_FX_ARTIM_STOP
#define START_ARTIM UL_FX_ARTIM_START
#define CLOSE       UL_FX_CLOSE_TRANSPORT
#define ABORT_AS_PROVIDER (UL_FX_SEND_ABORT | UL_FX_SEND_ABORT_PROVIDER)
#define IND_P_ABORT (UL_FX_IND_ABORT | UL_FX_IND_ABORT_PROVIDER)

static const ul_fsm_action_def ul_fsm_actions[UL_ACT_COUNT] = {
    [UL_ACT_NONE] = { 0, 0, 0, 0, 0 },

    /* PS3.8 Table 9-6. Association Establishment Related Actions */
    /* AE-1: issue TRANSPORT CONNECT request primitive to local transport service */
    [UL_AE_1] = { UL_FX_CONNECT, UL_STA4, 0, 0, 0 },
    /* AE-2: send A-ASSOCIATE-RQ-PDU */
    [UL_AE_2] = { UL_FX_SEND_ASSOC_RQ, UL_STA5, 0, 0, 0 },
    /* AE-3: issue A-ASSOCIATE confirmation (accept) primitive */
    [UL_AE_3] = { UL_FX_IND_ASSOC_AC, UL_STA6, 0, 0, 0 },
    /* AE-4: issue A-ASSOCIATE confirmation (reject) primitive and close transport */
    [UL_AE_4] = { UL_FX_IND_ASSOC_RJ | CLOSE, UL_STA1, 0, 0, 0 },
    /* AE-5: issue transport connection response primitive; start ARTIM */
    [UL_AE_5] = { UL_FX_ACCEPT_TRANSPORT | START_ARTIM, UL_STA2, 0, 0, 0 },
    /* AE-6: stop ARTIM and if A-ASSOCIATE-RQ acceptable by service-provider:
     *   issue A-ASSOCIATE indication primitive, Sta3;
     * otherwise: issue A-ASSOCIATE-RJ-PDU and start ARTIM, Sta13 */
    [UL_AE_6] = { STOP_ARTIM | UL_FX_IND_ASSOC_RQ, UL_STA3, UL_FSM_UNACCEPTABLE,
                  STOP_ARTIM | UL_FX_SEND_ASSOC_RJ | START_ARTIM, UL_STA13 },
    /* AE-7: send A-ASSOCIATE-AC PDU */
    [UL_AE_7] = { UL_FX_SEND_ASSOC_AC, UL_STA6, 0, 0, 0 },
    /* AE-8: send A-ASSOCIATE-RJ PDU and start ARTIM */
    [UL_AE_8] = { UL_FX_SEND_ASSOC_RJ | START_ARTIM, UL_STA13, 0, 0, 0 },

    /* PS3.8 Table 9-7. Data Transfer Related Actions */
    /* DT-1: send P-DATA-TF PDU */
    [UL_DT_1] = { UL_FX_SEND_PDATA, UL_STA6, 0, 0, 0 },
    /* DT-2: send P-DATA indication primitive */
    [UL_DT_2] = { UL_FX_IND_PDATA, UL_STA6, 0, 0, 0 },

    /* PS3.8 Table 9-8. Association Release Related Actions */
    /* AR-1: send A-RELEASE-RQ PDU */
    [UL_AR_1] = { UL_FX_SEND_RELEASE_RQ, UL_STA7, 0, 0, 0 },
    /* AR-2: issue A-RELEASE indication primitive */
    [UL_AR_2] = { UL_FX_IND_RELEASE_RQ, UL_STA8, 0, 0, 0 },
    /* AR-3: issue A-RELEASE confirmation primitive, and close transport */
    [UL_AR_3] = { UL_FX_IND_RELEASE_RP | CLOSE, UL_STA1, 0, 0, 0 },
    /* AR-4: issue A-RELEASE-RP PDU and start ARTIM */
    [UL_AR_4] = { UL_FX_SEND_RELEASE_RP | START_ARTIM, UL_STA13, 0, 0, 0 },
    /* AR-5: stop ARTIM */
    [UL_AR_5] = { STOP_ARTIM, UL_STA1, 0, 0, 0 },
    /* AR-6: issue P-DATA indication */
    [UL_AR_6] = { UL_FX_IND_PDATA, UL_STA7, 0, 0, 0 },
    /* AR-7: issue P-DATA-TF PDU */
    [UL_AR_7] = { UL_FX_SEND_PDATA, UL_STA8, 0, 0, 0 },
    /* AR-8: issue A-RELEASE indication (release collision):
     *   if association-requestor, Sta9; if not, Sta10 */
    [UL_AR_8] = { UL_FX_IND_RELEASE_RQ, UL_STA10, UL_FSM_REQUESTOR,
                  UL_FX_IND_RELEASE_RQ, UL_STA9 },
    /* AR-9: send A-RELEASE-RP PDU */
    [UL_AR_9] = { UL_FX_SEND_RELEASE_RP, UL_STA11, 0, 0, 0 },
    /* AR-10: issue A-RELEASE confirmation primitive */
    [UL_AR_10] = { UL_FX_IND_RELEASE_RP, UL_STA12, 0, 0, 0 },

    /* PS3.8 Table 9-9. Association Abort Related Actions */
    /* AA-1: send A-ABORT PDU (service-user source) and start (or restart) ARTIM */
    [UL_AA_1] = { UL_FX_SEND_ABORT | START_ARTIM, UL_STA13, 0, 0, 0 },
    /* AA-2: stop ARTIM if running; close transport */
    [UL_AA_2] = { STOP_ARTIM | CLOSE, UL_STA1, 0, 0, 0 },
    /* AA-3: if service-user initiated abort: issue A-ABORT indication and close
     * transport; otherwise: issue A-P-ABORT indication and close transport */
    [UL_AA_3] = { UL_FX_IND_ABORT | CLOSE, UL_STA1, UL_FSM_PEER_ABORT_PROVIDER,
                  IND_P_ABORT | CLOSE, UL_STA1 },
    /* AA-4: issue A-P-ABORT indication primitive */
    [UL_AA_4] = { IND_P_ABORT, UL_STA1, 0, 0, 0 },
    /* AA-5: stop ARTIM */
    [UL_AA_5] = { STOP_ARTIM, UL_STA1, 0, 0, 0 },
    /* AA-6: ignore PDU */
    [UL_AA_6] = { UL_FX_IGNORE_PDU, UL_STA13, 0, 0, 0 },
    /* AA-7: send A-ABORT PDU (source not stated; provider, see top) */
    [UL_AA_7] = { ABORT_AS_PROVIDER, UL_STA13, 0, 0, 0 },
    /* AA-8: send A-ABORT PDU (service-provider source), issue an A-P-ABORT
     * indication, and start ARTIM */
    [UL_AA_8] = { ABORT_AS_PROVIDER | IND_P_ABORT | START_ARTIM, UL_STA13, 0, 0, 0 },
};

static const char *const ul_fsm_action_names[UL_ACT_COUNT] = {
    "",
    "AE-1", "AE-2", "AE-3", "AE-4", "AE-5", "AE-6", "AE-7", "AE-8",
    "DT-1", "DT-2",
    "AR-1", "AR-2", "AR-3", "AR-4", "AR-5", "AR-6", "AR-7", "AR-8", "AR-9", "AR-10",
    "AA-1", "AA-2", "AA-3", "AA-4", "AA-5", "AA-6", "AA-7", "AA-8",
};

static int ul_fsm_in_range(uint8_t state, uint8_t event)
{
    return state >= 1 && state <= UL_FSM_NUM_STATES && event >= 1 &&
           event <= UL_FSM_NUM_EVENTS;
}

uint8_t ul_fsm_cell(uint8_t state, uint8_t event)
{
    if (!ul_fsm_in_range(state, event))
        return UL_ACT_NONE;
    return ul_fsm_table[event - 1][state - 1];
}

int ul_fsm_step(uint8_t state, uint8_t event, uint32_t flags, ul_fsm_result *out)
{
    const ul_fsm_action_def *def;
    uint8_t action;

    if (out == NULL)
        return UL_FSM_ERR_NULL;
    out->action = UL_ACT_NONE;
    out->next_state = 0;
    out->effects = 0;
    if (!ul_fsm_in_range(state, event))
        return UL_FSM_ERR_RANGE;
    action = ul_fsm_table[event - 1][state - 1];
    if (action == UL_ACT_NONE)
        return UL_FSM_ERR_UNDEFINED;
    def = &ul_fsm_actions[action];
    out->action = action;
    if (def->branch != 0 && (flags & def->branch) != 0) {
        out->effects = def->alt_effects;
        out->next_state = def->alt_next;
    } else {
        out->effects = def->effects;
        out->next_state = def->next;
    }
    return UL_FSM_OK;
}

const char *ul_fsm_action_name(uint8_t action)
{
    if (action >= UL_ACT_COUNT)
        return "";
    return ul_fsm_action_names[action];
}
