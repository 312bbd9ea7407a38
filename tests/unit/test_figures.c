/*  disputes figures: what is resolved and ended, the resolution rate, the locally-resolved
    shares, the on-time arithmetic, the median and the sum of parts (issue 3), on counts
    worked out by hand. */
#include "figures.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#define EPSILON 1e-12

static void
s_near (double value, double expected)
{
    if (value < expected - EPSILON || value > expected + EPSILON)
        fail_msg ("%.15f is not %.15f", value, expected);
}

//  A district: 10 filed this period, ended in every way there is.
static disputes_counts_t
s_district (void)
{
    disputes_counts_t c = {0};
    c.by_status[DISPUTES_FILED] = 1;
    c.by_status[DISPUTES_MEDIATING] = 1;
    c.by_status[DISPUTES_RESOLVED] = 2;
    c.by_status[DISPUTES_CLOSED] = 3;
    c.by_status[DISPUTES_FAILED] = 2;     //  one at the street (still climbing), one final
    c.failed_final = 1;
    c.by_status[DISPUTES_WITHDRAWN] = 1;
    c.by_status[DISPUTES_REFERRED] = 0;
    c.resolved_at[DISPUTES_COMMUNITY] = 3;
    c.resolved_at[DISPUTES_STREET] = 1;
    c.resolved_at[DISPUTES_DISTRICT] = 1;
    return c;
}

static void
test_resolved_ended_and_rate (void **state)
{
    (void) state;
    disputes_counts_t c = s_district ();
    assert_int_equal (disputes_total (&c), 10);
    assert_int_equal (disputes_resolved (&c), 5);   //  resolved 2 + closed 3
    assert_int_equal (disputes_ended (&c), 7);      //  5 + withdrawn 1 + failed at the top 1
    disputes_ratio_t rate = disputes_resolution_rate (&c);
    assert_true (rate.defined);
    s_near (rate.value, 5.0 / 7.0);
    //  Nothing ended: no rate at all, rather than 0 or a division by zero.
    disputes_counts_t empty = {0};
    empty.by_status[DISPUTES_FILED] = 4;
    assert_false (disputes_resolution_rate (&empty).defined);
    //  A failure lower down is not an end: the case is on its way up.
    disputes_counts_t climbing = {0};
    climbing.by_status[DISPUTES_FAILED] = 1;
    assert_int_equal (disputes_ended (&climbing), 0);
}

static void
test_locally_resolved_shares (void **state)
{
    (void) state;
    disputes_counts_t c = s_district ();
    disputes_local_t local;
    disputes_locally_resolved (&c, &local);
    assert_int_equal (local.count[0], 3);
    assert_int_equal (local.count[1], 1);
    assert_int_equal (local.count[2], 1);
    s_near (local.share[0].value, 0.6);
    s_near (local.share[1].value, 0.2);
    s_near (local.share[2].value, 0.2);
    s_near (local.share[0].value + local.share[1].value + local.share[2].value, 1.0);
    disputes_counts_t none = {0};
    disputes_locally_resolved (&none, &local);
    for (int i = 0; i < 3; i++)
        assert_false (local.share[i].defined);
}

static void
test_ratio (void **state)
{
    (void) state;
    s_near (disputes_ratio (1, 3).value, 1.0 / 3.0);
    s_near (disputes_ratio (0, 3).value, 0);
    assert_true (disputes_ratio (0, 3).defined);
    assert_false (disputes_ratio (0, 0).defined);
    assert_false (disputes_ratio (5, -1).defined);
    s_near (disputes_ratio (INT64_MAX, INT64_MAX).value, 1.0);
}

static void
test_a_territory_is_the_sum_of_its_parts (void **state)
{
    (void) state;
    disputes_counts_t a = s_district (), b = s_district (), sum = {0};
    b.by_status[DISPUTES_FILED] = 7;
    b.on_time[1] = 2;
    b.judged[1] = 5;
    a.judged[1] = 1;
    a.overdue_open = 3;
    disputes_counts_add (&sum, &a);
    disputes_counts_add (&sum, &b);
    assert_int_equal (disputes_total (&sum), disputes_total (&a) + disputes_total (&b));
    assert_int_equal (disputes_resolved (&sum), 10);
    assert_int_equal (disputes_ended (&sum), 14);
    assert_int_equal (sum.judged[1], 6);
    assert_int_equal (sum.on_time[1], 2);
    assert_int_equal (sum.overdue_open, 3);
    disputes_local_t local;
    disputes_locally_resolved (&sum, &local);
    s_near (local.share[0].value, 0.6); //  the same shares, twice the cases
    //  Rates are not summed: the district's is computed from the summed counts.
    s_near (disputes_resolution_rate (&sum).value, 10.0 / 14.0);
    s_near (disputes_ratio (sum.on_time[1], sum.judged[1]).value, 2.0 / 6.0);
}

static void
test_median (void **state)
{
    (void) state;
    int64_t median = -1;
    int64_t none[1] = {0};
    assert_int_equal (disputes_median (none, 0, &median), -1);
    int64_t one[] = {42};
    assert_int_equal (disputes_median (one, 1, &median), 0);
    assert_int_equal (median, 42);
    int64_t odd[] = {9, 1, 5, 7, 3}; //  unsorted on purpose
    assert_int_equal (disputes_median (odd, 5, &median), 0);
    assert_int_equal (median, 5);
    int64_t even[] = {10, 2, 4, 7}; //  2 4 7 10: (4 + 7) / 2 rounded down
    assert_int_equal (disputes_median (even, 4, &median), 0);
    assert_int_equal (median, 5);
    int64_t big[] = {INT64_MAX - 1, INT64_MAX}; //  no overflow on the way
    assert_int_equal (disputes_median (big, 2, &median), 0);
    assert_int_equal (median, INT64_MAX - 1);
    int64_t days[] = {3 * 86400000000LL, 1 * 86400000000LL, 30 * 86400000000LL};
    assert_int_equal (disputes_median (days, 3, &median), 0);
    assert_int_equal (median, 3 * 86400000000LL);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_resolved_ended_and_rate),
        cmocka_unit_test (test_locally_resolved_shares),
        cmocka_unit_test (test_ratio),
        cmocka_unit_test (test_a_territory_is_the_sum_of_its_parts),
        cmocka_unit_test (test_median),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
