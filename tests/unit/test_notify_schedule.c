/*  test_notify_schedule: quiet hours for SMS in China Standard Time, retry backoff with full
    jitter and the dead-letter limit, the per-recipient rate window (issue 6). */
#define _DEFAULT_SOURCE
#include "notify/schedule.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <time.h>

#include <cmocka.h>

//  Microseconds of a China Standard Time moment.
static int64_t
s_cst (int year, int month, int day, int hour, int minute)
{
    struct tm tm = {.tm_year = year - 1900, .tm_mon = month - 1, .tm_mday = day,
                    .tm_hour = hour, .tm_min = minute};
    return ((int64_t) timegm (&tm) - 8 * 3600) * NOTIFY_SECOND_US;
}

static void
test_quiet_hours (void **state)
{
    notify_quiet_t quiet = notify_quiet_default ();
    int64_t ends = 0;
    //  Daytime and the edges: 07:00 is no longer quiet, 21:59 not yet, 22:00 is.
    assert_false (notify_quiet_at (&quiet, s_cst (2026, 11, 23, 12, 0), &ends));
    assert_false (notify_quiet_at (&quiet, s_cst (2026, 11, 23, 7, 0), &ends));
    assert_false (notify_quiet_at (&quiet, s_cst (2026, 11, 23, 21, 59), &ends));
    assert_true (notify_quiet_at (&quiet, s_cst (2026, 11, 23, 22, 0), &ends));
    assert_int_equal (ends, s_cst (2026, 11, 24, 7, 0));
    //  After midnight (in UTC still the day before: 02:30 CST is 18:30 UTC).
    assert_true (notify_quiet_at (&quiet, s_cst (2026, 11, 24, 2, 30), &ends));
    assert_int_equal (ends, s_cst (2026, 11, 24, 7, 0));
    assert_true (notify_quiet_at (&quiet, s_cst (2026, 11, 24, 6, 59) + 59999999, NULL));
    //  Across a month and a year end.
    assert_true (notify_quiet_at (&quiet, s_cst (2026, 12, 31, 23, 0), &ends));
    assert_int_equal (ends, s_cst (2027, 1, 1, 7, 0));
    //  Before 1970 the arithmetic still floors.
    assert_true (notify_quiet_at (&quiet, s_cst (1969, 12, 31, 23, 0), &ends));
    assert_int_equal (ends, s_cst (1970, 1, 1, 7, 0));
    //  A window within one day, and none.
    notify_quiet_t lunch = {.from_us = 12 * NOTIFY_HOUR_US, .until_us = 14 * NOTIFY_HOUR_US,
                            .offset_us = NOTIFY_CST_OFFSET_US};
    assert_true (notify_quiet_at (&lunch, s_cst (2026, 11, 23, 13, 0), &ends));
    assert_int_equal (ends, s_cst (2026, 11, 23, 14, 0));
    assert_false (notify_quiet_at (&lunch, s_cst (2026, 11, 23, 23, 0), &ends));
    notify_quiet_t never = {.from_us = NOTIFY_HOUR_US, .until_us = NOTIFY_HOUR_US};
    assert_false (notify_quiet_at (&never, s_cst (2026, 11, 23, 9, 0), &ends));
}

static void
test_send_at (void **state)
{
    notify_quiet_t quiet = notify_quiet_default ();
    int64_t night = s_cst (2026, 11, 23, 23, 15), morning = s_cst (2026, 11, 24, 7, 0);
    assert_int_equal (notify_send_at (&quiet, NOTIFY_SMS, NOTIFY_NORMAL, night), morning);
    assert_int_equal (notify_send_at (&quiet, NOTIFY_SMS, NOTIFY_URGENT, night), night);
    assert_int_equal (notify_send_at (&quiet, NOTIFY_INBOX, NOTIFY_NORMAL, night), night);
    assert_int_equal (notify_send_at (&quiet, NOTIFY_EMAIL, NOTIFY_NORMAL, night), night);
    assert_int_equal (notify_send_at (&quiet, NOTIFY_WEBHOOK, NOTIFY_NORMAL, night), night);
    int64_t noon = s_cst (2026, 11, 24, 12, 0);
    assert_int_equal (notify_send_at (&quiet, NOTIFY_SMS, NOTIFY_NORMAL, noon), noon);
}

static void
test_backoff (void **state)
{
    notify_retry_t retry = notify_retry_default ();
    //  The lowest random value gives no wait, the highest just under the ceiling, which
    //  doubles from the base each attempt up to the cap.
    int64_t ceiling = NOTIFY_RETRY_BASE_US;
    for (int attempt = 1; attempt <= 20; attempt++) {
        int64_t low = notify_retry_delay_us (&retry, attempt, 0);
        int64_t high = notify_retry_delay_us (&retry, attempt, UINT32_MAX);
        int64_t mid = notify_retry_delay_us (&retry, attempt, UINT32_C (1) << 31);
        assert_int_equal (low, 0);
        assert_true (high < ceiling && high > ceiling - ceiling / 1000000 - 1);
        assert_int_equal (mid, ceiling / 2);
        ceiling = ceiling * 2 > NOTIFY_RETRY_CAP_US ? NOTIFY_RETRY_CAP_US : ceiling * 2;
    }
    //  Far past any sensible attempt the cap holds and nothing overflows.
    assert_true (notify_retry_delay_us (&retry, 1000000, UINT32_MAX) < NOTIFY_RETRY_CAP_US);
    notify_retry_t wide = {.base_us = 1, .cap_us = NOTIFY_RETRY_CAP_MAX_US, .attempts_max = 3};
    int64_t delay = notify_retry_delay_us (&wide, 100, UINT32_MAX);
    assert_true (delay < NOTIFY_RETRY_CAP_MAX_US && delay > NOTIFY_RETRY_CAP_MAX_US / 2);
}

static void
test_dead_letter_after_the_last_attempt (void **state)
{
    notify_retry_t retry = {.base_us = NOTIFY_SECOND_US, .cap_us = 8 * NOTIFY_SECOND_US,
                            .attempts_max = 3};
    int64_t next = -1, failed_at = s_cst (2026, 11, 23, 10, 0);
    assert_int_equal (notify_retry_next (&retry, 1, failed_at, UINT32_C (1) << 31, &next), 0);
    assert_int_equal (next, failed_at + NOTIFY_SECOND_US / 2);
    assert_int_equal (notify_retry_next (&retry, 2, failed_at, UINT32_C (1) << 31, &next), 0);
    assert_int_equal (next, failed_at + NOTIFY_SECOND_US);
    next = -1;
    assert_int_equal (notify_retry_next (&retry, 3, failed_at, 0, &next), 1);
    assert_int_equal (next, -1);
    assert_int_equal (notify_retry_next (&retry, 4, failed_at, 0, &next), 1);
    notify_retry_t defaults = notify_retry_default ();
    assert_int_equal (notify_retry_next (&defaults, NOTIFY_ATTEMPTS_MAX - 1, 0, 0, &next), 0);
    assert_int_equal (notify_retry_next (&defaults, NOTIFY_ATTEMPTS_MAX, 0, 0, &next), 1);
}

static void
test_rate_window (void **state)
{
    notify_rate_t rate = {.window_us = 60 * NOTIFY_SECOND_US, .sends_max = 3};
    int64_t now = s_cst (2026, 11, 23, 10, 0) + 15 * NOTIFY_SECOND_US;
    int64_t window = s_cst (2026, 11, 23, 10, 0);
    notify_rate_decision_t d = notify_rate_decide (&rate, NOTIFY_NORMAL, 0, now);
    assert_int_equal (d.action, NOTIFY_SEND_NOW);
    assert_int_equal (d.window_start_us, window);
    d = notify_rate_decide (&rate, NOTIFY_NORMAL, 2, now);
    assert_int_equal (d.action, NOTIFY_SEND_NOW);
    //  The fourth in the window folds into the digest due when the window ends.
    d = notify_rate_decide (&rate, NOTIFY_NORMAL, 3, now);
    assert_int_equal (d.action, NOTIFY_FOLD);
    assert_int_equal (d.digest_at_us, window + 60 * NOTIFY_SECOND_US);
    d = notify_rate_decide (&rate, NOTIFY_NORMAL, 499, now);
    assert_int_equal (d.action, NOTIFY_FOLD);
    assert_int_equal (d.window_start_us, window);
    //  Urgent messages are never folded.
    d = notify_rate_decide (&rate, NOTIFY_URGENT, 499, now);
    assert_int_equal (d.action, NOTIFY_SEND_NOW);
    //  Windows before 1970 floor too; sends_max 0 folds everything into digests.
    rate.sends_max = 0;
    d = notify_rate_decide (&rate, NOTIFY_NORMAL, 0, -1);
    assert_int_equal (d.action, NOTIFY_FOLD);
    assert_int_equal (d.window_start_us, -60 * NOTIFY_SECOND_US);
    assert_int_equal (d.digest_at_us, 0);
    notify_rate_t defaults = notify_rate_default ();
    assert_int_equal (defaults.sends_max, NOTIFY_RATE_SENDS_MAX);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_quiet_hours),
        cmocka_unit_test (test_send_at),
        cmocka_unit_test (test_backoff),
        cmocka_unit_test (test_dead_letter_after_the_last_attempt),
        cmocka_unit_test (test_rate_window),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
