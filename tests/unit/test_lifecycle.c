/*  disputes lifecycle: every allowed and every forbidden transition (issue 3). */
#include "lifecycle.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#define NO (-1)

//  Where each action leads from each status when not paused, at community level; NO where
//  it must be a conflict. Written out by hand from issue 3, independently of the table in
//  lifecycle.c.
static const int s_expected[DISPUTES_ACTION_COUNT][DISPUTES_STATUS_COUNT] = {
    [DISPUTES_ACCEPT] = {DISPUTES_ACCEPTED, NO, NO, NO, NO, DISPUTES_ACCEPTED, NO, NO, NO},
    [DISPUTES_ASSIGN] = {NO, DISPUTES_MEDIATING, DISPUTES_MEDIATING, NO, NO, NO, NO, NO, NO},
    [DISPUTES_RECORD] = {NO, NO, DISPUTES_MEDIATING, NO, NO, NO, NO, NO, NO},
    [DISPUTES_RESOLVE] = {NO, NO, DISPUTES_RESOLVED, NO, NO, NO, NO, NO, NO},
    [DISPUTES_FAIL] = {NO, NO, DISPUTES_FAILED, NO, NO, NO, NO, NO, NO},
    [DISPUTES_ESCALATE] = {NO, NO, NO, NO, DISPUTES_ESCALATED, NO, NO, NO, NO},
    [DISPUTES_FOLLOWUP] = {NO, NO, NO, DISPUTES_CLOSED, NO, NO, NO, NO, NO},
    [DISPUTES_WITHDRAW] = {DISPUTES_WITHDRAWN, DISPUTES_WITHDRAWN, DISPUTES_WITHDRAWN, NO,
                           DISPUTES_WITHDRAWN, DISPUTES_WITHDRAWN, NO, NO, NO},
    [DISPUTES_REFER] = {DISPUTES_REFERRED, DISPUTES_REFERRED, DISPUTES_REFERRED, NO,
                        DISPUTES_REFERRED, DISPUTES_REFERRED, NO, NO, NO},
    [DISPUTES_PAUSE] = {DISPUTES_FILED, DISPUTES_ACCEPTED, DISPUTES_MEDIATING, NO, NO, NO, NO,
                        NO, NO},
    [DISPUTES_RESUME] = {NO, NO, NO, NO, NO, NO, NO, NO, NO}, //  not paused: nothing to resume
};

static void
test_every_transition_unpaused (void **state)
{
    for (int a = 0; a < DISPUTES_ACTION_COUNT; a++)
        for (int st = 0; st < DISPUTES_STATUS_COUNT; st++) {
            disputes_state_t from = {(disputes_status_t) st, DISPUTES_COMMUNITY, false}, to;
            sq_error_t err = {0};
            int rc = disputes_transition (&from, (disputes_action_t) a, &to, &err);
            if (s_expected[a][st] == NO) {
                if (rc != -1)
                    fail_msg ("%s from %s was allowed", disputes_action_name (a),
                              disputes_status_name (st));
                assert_string_equal (err.code, "conflict");
                assert_string_equal (err.field, "id");
                //  The message names the action, the current status and the statuses the
                //  action applies to.
                assert_non_null (strstr (err.message, disputes_action_name (a)));
                assert_non_null (strstr (err.message, disputes_status_name (st)));
                for (int ok = 0; ok < DISPUTES_STATUS_COUNT; ok++)
                    if (s_expected[a][ok] != NO)
                        assert_non_null (strstr (err.message, disputes_status_name (ok)));
            } else {
                if (rc != 0)
                    fail_msg ("%s from %s refused: %s", disputes_action_name (a),
                              disputes_status_name (st), err.message);
                assert_int_equal (to.status, s_expected[a][st]);
                assert_int_equal (to.paused, a == DISPUTES_PAUSE);
            }
        }
}

static void
test_paused_case_only_resumes_or_ends (void **state)
{
    for (int st = DISPUTES_FILED; st <= DISPUTES_MEDIATING; st++) {
        disputes_state_t paused = {(disputes_status_t) st, DISPUTES_STREET, true}, to;
        sq_error_t err = {0};
        for (int a = 0; a < DISPUTES_ACTION_COUNT; a++) {
            int rc = disputes_transition (&paused, (disputes_action_t) a, &to, &err);
            bool allowed = a == DISPUTES_RESUME || a == DISPUTES_WITHDRAW || a == DISPUTES_REFER;
            assert_int_equal (rc, allowed ? 0 : -1);
            if (allowed)
                assert_false (to.paused);
        }
        assert_int_equal (disputes_transition (&paused, DISPUTES_RESUME, &to, &err), 0);
        assert_int_equal (to.status, st); //  resuming keeps the status
    }
}

static void
test_escalation_climbs_levels_to_the_district (void **state)
{
    disputes_state_t s = {DISPUTES_FAILED, DISPUTES_COMMUNITY, false}, to;
    sq_error_t err = {0};
    assert_int_equal (disputes_transition (&s, DISPUTES_ESCALATE, &to, &err), 0);
    assert_int_equal (to.level, DISPUTES_STREET);
    assert_int_equal (to.status, DISPUTES_ESCALATED);
    s = (disputes_state_t) {DISPUTES_FAILED, DISPUTES_STREET, false};
    assert_int_equal (disputes_transition (&s, DISPUTES_ESCALATE, &to, &err), 0);
    assert_int_equal (to.level, DISPUTES_DISTRICT);
    s.level = DISPUTES_DISTRICT;
    assert_int_equal (disputes_transition (&s, DISPUTES_ESCALATE, &to, &err), -1);
    assert_string_equal (err.code, "conflict");
    assert_non_null (strstr (err.message, "district"));
}

static void
test_start_level_and_names (void **state)
{
    assert_int_equal (disputes_start_level (false, 4), DISPUTES_COMMUNITY);
    assert_int_equal (disputes_start_level (false, 5), DISPUTES_STREET);
    assert_int_equal (disputes_start_level (true, 1), DISPUTES_STREET);
    for (int st = 0; st < DISPUTES_STATUS_COUNT; st++) {
        disputes_status_t back;
        assert_int_equal (disputes_status_parse (disputes_status_name (st), &back), 0);
        assert_int_equal (back, st);
        assert_int_equal (disputes_status_open (st),
                          st != DISPUTES_CLOSED && st != DISPUTES_WITHDRAWN
                              && st != DISPUTES_REFERRED);
    }
    disputes_status_t unknown;
    assert_int_equal (disputes_status_parse ("lost", &unknown), -1);
    assert_string_equal (disputes_level_name (DISPUTES_DISTRICT), "district");
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_every_transition_unpaused),
        cmocka_unit_test (test_paused_case_only_resumes_or_ends),
        cmocka_unit_test (test_escalation_climbs_levels_to_the_district),
        cmocka_unit_test (test_start_level_and_names),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
