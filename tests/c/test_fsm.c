/*
 * Plain-C test of csrc/ul_fsm.c (no Python). Build and run:
 *   gcc -std=c11 -Wall -Wextra -Werror -fsanitize=address,undefined -Icsrc \
 *       tests/c/test_fsm.c csrc/ul_fsm.c -o /tmp/test_fsm && /tmp/test_fsm
 * Prints "N passed, M failed"; exits non-zero if anything failed.
 */
#include <stdio.h>
#include <string.h>

#include "ul_fsm.h"

#include "check.h"

/* Step and check every field of the result. */
static void expect(uint8_t sta, uint8_t evt, uint32_t flags, uint8_t action,
                   uint8_t next, uint32_t effects)
{
    ul_fsm_result r;
    int rc = ul_fsm_step(sta, evt, flags, &r);
    int ok = rc == UL_FSM_OK && r.action == action && r.next_state == next &&
             r.effects == effects;
    if (ok) {
        passed++;
    } else {
        failed++;
        fprintf(stderr,
                "FAILED: Sta%u Evt%u flags %#x: rc %d action %s next %u effects %#lx"
                " (want %s next %u effects %#lx)\n",
                (unsigned)sta, (unsigned)evt, (unsigned)flags, rc,
                ul_fsm_action_name(r.action), (unsigned)r.next_state,
                (unsigned long)r.effects, ul_fsm_action_name(action),
                (unsigned)next, (unsigned long)effects);
    }
}

static void expect_error(uint8_t sta, uint8_t evt, int want)
{
    ul_fsm_result r;
    memset(&r, 0xAB, sizeof r);
    CHECK(ul_fsm_step(sta, evt, UL_FSM_REQUESTOR, &r) == want);
    CHECK(r.action == 0 && r.next_state == 0 && r.effects == 0);
}

int main(void)
{
    const uint32_t P_ABORT = UL_FX_IND_ABORT | UL_FX_IND_ABORT_PROVIDER;
    const uint32_t SEND_P = UL_FX_SEND_ABORT | UL_FX_SEND_ABORT_PROVIDER;
    ul_fsm_result r;
    unsigned s, e, defined = 0;

    /* The normal requestor path. */
    expect(UL_STA1, UL_EVT1, 0, UL_AE_1, UL_STA4, UL_FX_CONNECT);
    expect(UL_STA4, UL_EVT2, 0, UL_AE_2, UL_STA5, UL_FX_SEND_ASSOC_RQ);
    expect(UL_STA5, UL_EVT3, 0, UL_AE_3, UL_STA6, UL_FX_IND_ASSOC_AC);
    expect(UL_STA5, UL_EVT4, 0, UL_AE_4, UL_STA1,
           UL_FX_IND_ASSOC_RJ | UL_FX_CLOSE_TRANSPORT);
    expect(UL_STA6, UL_EVT9, 0, UL_DT_1, UL_STA6, UL_FX_SEND_PDATA);
    expect(UL_STA6, UL_EVT10, 0, UL_DT_2, UL_STA6, UL_FX_IND_PDATA);
    expect(UL_STA6, UL_EVT11, 0, UL_AR_1, UL_STA7, UL_FX_SEND_RELEASE_RQ);
    expect(UL_STA7, UL_EVT10, 0, UL_AR_6, UL_STA7, UL_FX_IND_PDATA);
    expect(UL_STA7, UL_EVT13, 0, UL_AR_3, UL_STA1,
           UL_FX_IND_RELEASE_RP | UL_FX_CLOSE_TRANSPORT);

    /* The normal acceptor path. */
    expect(UL_STA1, UL_EVT5, 0, UL_AE_5, UL_STA2,
           UL_FX_ACCEPT_TRANSPORT | UL_FX_ARTIM_START);
    expect(UL_STA3, UL_EVT7, 0, UL_AE_7, UL_STA6, UL_FX_SEND_ASSOC_AC);
    expect(UL_STA3, UL_EVT8, 0, UL_AE_8, UL_STA13,
           UL_FX_SEND_ASSOC_RJ | UL_FX_ARTIM_START);
    expect(UL_STA6, UL_EVT12, 0, UL_AR_2, UL_STA8, UL_FX_IND_RELEASE_RQ);
    expect(UL_STA8, UL_EVT9, 0, UL_AR_7, UL_STA8, UL_FX_SEND_PDATA);
    expect(UL_STA8, UL_EVT14, 0, UL_AR_4, UL_STA13,
           UL_FX_SEND_RELEASE_RP | UL_FX_ARTIM_START);
    expect(UL_STA13, UL_EVT17, 0, UL_AR_5, UL_STA1, UL_FX_ARTIM_STOP);

    /* AE-6, both branches (UL_FSM_UNACCEPTABLE). */
    expect(UL_STA2, UL_EVT6, 0, UL_AE_6, UL_STA3,
           UL_FX_ARTIM_STOP | UL_FX_IND_ASSOC_RQ);
    expect(UL_STA2, UL_EVT6, UL_FSM_UNACCEPTABLE, UL_AE_6, UL_STA13,
           UL_FX_ARTIM_STOP | UL_FX_SEND_ASSOC_RJ | UL_FX_ARTIM_START);
    /* ... and the flag changes nothing elsewhere. */
    expect(UL_STA3, UL_EVT8, UL_FSM_UNACCEPTABLE, UL_AE_8, UL_STA13,
           UL_FX_SEND_ASSOC_RJ | UL_FX_ARTIM_START);

    /* AR-8, both roles (UL_FSM_REQUESTOR), and the collision paths. */
    expect(UL_STA7, UL_EVT12, UL_FSM_REQUESTOR, UL_AR_8, UL_STA9, UL_FX_IND_RELEASE_RQ);
    expect(UL_STA7, UL_EVT12, 0, UL_AR_8, UL_STA10, UL_FX_IND_RELEASE_RQ);
    expect(UL_STA9, UL_EVT14, UL_FSM_REQUESTOR, UL_AR_9, UL_STA11, UL_FX_SEND_RELEASE_RP);
    expect(UL_STA11, UL_EVT13, UL_FSM_REQUESTOR, UL_AR_3, UL_STA1,
           UL_FX_IND_RELEASE_RP | UL_FX_CLOSE_TRANSPORT);
    expect(UL_STA10, UL_EVT13, 0, UL_AR_10, UL_STA12, UL_FX_IND_RELEASE_RP);
    expect(UL_STA12, UL_EVT14, 0, UL_AR_4, UL_STA13,
           UL_FX_SEND_RELEASE_RP | UL_FX_ARTIM_START);

    /* AA-3, both sources (UL_FSM_PEER_ABORT_PROVIDER). */
    expect(UL_STA6, UL_EVT16, 0, UL_AA_3, UL_STA1,
           UL_FX_IND_ABORT | UL_FX_CLOSE_TRANSPORT);
    expect(UL_STA6, UL_EVT16, UL_FSM_PEER_ABORT_PROVIDER, UL_AA_3, UL_STA1,
           P_ABORT | UL_FX_CLOSE_TRANSPORT);

    /* The other aborts. */
    expect(UL_STA6, UL_EVT15, 0, UL_AA_1, UL_STA13,
           UL_FX_SEND_ABORT | UL_FX_ARTIM_START);
    expect(UL_STA2, UL_EVT3, 0, UL_AA_1, UL_STA13,
           UL_FX_SEND_ABORT | UL_FX_ARTIM_START);
    expect(UL_STA4, UL_EVT15, 0, UL_AA_2, UL_STA1,
           UL_FX_ARTIM_STOP | UL_FX_CLOSE_TRANSPORT);
    expect(UL_STA2, UL_EVT18, 0, UL_AA_2, UL_STA1,
           UL_FX_ARTIM_STOP | UL_FX_CLOSE_TRANSPORT);
    expect(UL_STA13, UL_EVT18, 0, UL_AA_2, UL_STA1,
           UL_FX_ARTIM_STOP | UL_FX_CLOSE_TRANSPORT);
    expect(UL_STA6, UL_EVT17, 0, UL_AA_4, UL_STA1, P_ABORT);
    expect(UL_STA2, UL_EVT17, 0, UL_AA_5, UL_STA1, UL_FX_ARTIM_STOP);
    expect(UL_STA13, UL_EVT10, 0, UL_AA_6, UL_STA13, UL_FX_IGNORE_PDU);
    expect(UL_STA13, UL_EVT6, 0, UL_AA_7, UL_STA13, SEND_P);
    expect(UL_STA13, UL_EVT19, 0, UL_AA_7, UL_STA13, SEND_P);
    expect(UL_STA6, UL_EVT19, 0, UL_AA_8, UL_STA13,
           SEND_P | P_ABORT | UL_FX_ARTIM_START);
    expect(UL_STA5, UL_EVT6, 0, UL_AA_8, UL_STA13,
           SEND_P | P_ABORT | UL_FX_ARTIM_START);

    /* Blank cells. */
    expect_error(UL_STA1, UL_EVT3, UL_FSM_ERR_UNDEFINED);
    expect_error(UL_STA6, UL_EVT1, UL_FSM_ERR_UNDEFINED);
    expect_error(UL_STA2, UL_EVT15, UL_FSM_ERR_UNDEFINED);
    expect_error(UL_STA13, UL_EVT15, UL_FSM_ERR_UNDEFINED);
    expect_error(UL_STA5, UL_EVT18, UL_FSM_ERR_UNDEFINED);
    CHECK(ul_fsm_cell(UL_STA1, UL_EVT3) == UL_ACT_NONE);

    /* Range errors. */
    expect_error(0, UL_EVT1, UL_FSM_ERR_RANGE);
    expect_error(14, UL_EVT1, UL_FSM_ERR_RANGE);
    expect_error(UL_STA1, 0, UL_FSM_ERR_RANGE);
    expect_error(UL_STA1, 20, UL_FSM_ERR_RANGE);
    expect_error(255, 255, UL_FSM_ERR_RANGE);
    CHECK(ul_fsm_step(UL_STA1, UL_EVT1, 0, NULL) == UL_FSM_ERR_NULL);
    CHECK(ul_fsm_cell(0, 1) == UL_ACT_NONE && ul_fsm_cell(14, 1) == UL_ACT_NONE);
    CHECK(ul_fsm_cell(1, 0) == UL_ACT_NONE && ul_fsm_cell(1, 20) == UL_ACT_NONE);

    /* Names. */
    CHECK(strcmp(ul_fsm_action_name(UL_ACT_NONE), "") == 0);
    CHECK(strcmp(ul_fsm_action_name(UL_AE_1), "AE-1") == 0);
    CHECK(strcmp(ul_fsm_action_name(UL_DT_2), "DT-2") == 0);
    CHECK(strcmp(ul_fsm_action_name(UL_AR_10), "AR-10") == 0);
    CHECK(strcmp(ul_fsm_action_name(UL_AA_8), "AA-8") == 0);
    CHECK(strcmp(ul_fsm_action_name(UL_ACT_COUNT), "") == 0);
    CHECK(strcmp(ul_fsm_action_name(255), "") == 0);

    /* Whole table: step agrees with cell, next state in range, 123 defined. */
    for (s = 0; s <= 255; s++) {
        for (e = 0; e <= 255; e++) {
            int rc = ul_fsm_step((uint8_t)s, (uint8_t)e, 0, &r);
            uint8_t cell = ul_fsm_cell((uint8_t)s, (uint8_t)e);
            if (rc == UL_FSM_OK) {
                defined++;
                if (r.action != cell || r.next_state < 1 || r.next_state > 13 ||
                    r.effects == 0 || (r.effects & ~(UL_FX_DO_MASK | UL_FX_QUALIFIER_MASK))) {
                    failed++;
                    fprintf(stderr, "FAILED: bad result at Sta%u Evt%u\n", s, e);
                }
            } else if (cell != UL_ACT_NONE || r.action || r.next_state || r.effects) {
                failed++;
                fprintf(stderr, "FAILED: bad error result at Sta%u Evt%u\n", s, e);
            }
        }
    }
    CHECK(defined == 123);

    return report();
}
