/*  disputes deadlines: calendar and working days, holidays and adjusted workdays, pauses,
    short test days (issue 3). */
#define _DEFAULT_SOURCE
#include "deadline.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <time.h>

#include <cmocka.h>

//  Microseconds of a China Standard Time moment.
static int64_t
s_cst (int year, int month, int day, int hour)
{
    struct tm tm = {.tm_year = year - 1900, .tm_mon = month - 1, .tm_mday = day,
                    .tm_hour = hour};
    return ((int64_t) timegm (&tm) - 8 * 3600) * 1000000;
}

//  The end of a CST day, as a deadline is given.
static int64_t
s_end_of (int year, int month, int day)
{
    return s_cst (year, month, day, 0) + DISPUTES_DAY_US;
}

static void
test_calendar_days (void **state)
{
    disputes_calendar_t cal = disputes_calendar_default ();
    int64_t due = 0;
    //  Filed Monday 2026-11-23 at 10:00: accept within 3 days means by the end of Thursday.
    assert_int_equal (disputes_due (&cal, s_cst (2026, 11, 23, 10), 3, NULL, 0, &due), 0);
    assert_int_equal (due, s_end_of (2026, 11, 26));
    assert_int_equal (disputes_weekday (disputes_day_of (&cal, s_cst (2026, 11, 23, 10))), 1);
    //  Filed at 23:30 the same day counts from the same day: the day of filing never counts.
    assert_int_equal (disputes_due (&cal, s_cst (2026, 11, 23, 23), 3, NULL, 0, &due), 0);
    assert_int_equal (due, s_end_of (2026, 11, 26));
    //  30 days across a month end.
    assert_int_equal (disputes_due (&cal, s_cst (2026, 11, 23, 10), 30, NULL, 0, &due), 0);
    assert_int_equal (due, s_end_of (2026, 12, 23));
}

static void
test_pauses_are_not_counted (void **state)
{
    disputes_calendar_t cal = disputes_calendar_default ();
    int64_t due = 0;
    //  Paused Tuesday 14:00 to Wednesday 09:00: both days touched, both not counted.
    disputes_pause_t pause = {s_cst (2026, 11, 24, 14), s_cst (2026, 11, 25, 9)};
    assert_int_equal (disputes_due (&cal, s_cst (2026, 11, 23, 10), 3, &pause, 1, &due), 0);
    assert_int_equal (due, s_end_of (2026, 11, 28));
    //  While a pause lasts there is no deadline.
    disputes_pause_t open = {s_cst (2026, 11, 24, 14), 0};
    assert_int_equal (disputes_due (&cal, s_cst (2026, 11, 23, 10), 3, &open, 1, &due), 1);
    //  A pause after the deadline changes nothing.
    disputes_pause_t late = {s_cst (2026, 12, 1, 9), s_cst (2026, 12, 2, 9)};
    assert_int_equal (disputes_due (&cal, s_cst (2026, 11, 23, 10), 3, &late, 1, &due), 0);
    assert_int_equal (due, s_end_of (2026, 11, 26));
}

static void
test_working_days_with_holidays_and_adjusted_workdays (void **state)
{
    disputes_calendar_t cal = disputes_calendar_default ();
    cal.working_days = true;
    int64_t due = 0;
    //  Filed Friday 2026-11-27: Monday, Tuesday, Wednesday.
    assert_int_equal (disputes_due (&cal, s_cst (2026, 11, 27, 10), 3, NULL, 0, &due), 0);
    assert_int_equal (due, s_end_of (2026, 12, 2));
    //  Tuesday a holiday: Thursday.
    int32_t holidays[] = {(int32_t) disputes_day_of (&cal, s_cst (2026, 12, 1, 12))};
    cal.holidays = holidays;
    cal.holiday_count = 1;
    assert_int_equal (disputes_due (&cal, s_cst (2026, 11, 27, 10), 3, NULL, 0, &due), 0);
    assert_int_equal (due, s_end_of (2026, 12, 3));
    //  Saturday made a working day (调休): Saturday, Monday, Wednesday.
    int32_t workdays[] = {(int32_t) disputes_day_of (&cal, s_cst (2026, 11, 28, 12))};
    cal.workdays = workdays;
    cal.workday_count = 1;
    assert_int_equal (disputes_due (&cal, s_cst (2026, 11, 27, 10), 3, NULL, 0, &due), 0);
    assert_int_equal (due, s_end_of (2026, 12, 2));
    assert_true (disputes_day_counts (&cal, workdays[0]));
    assert_false (disputes_day_counts (&cal, holidays[0]));
}

static void
test_short_days_for_tests_and_limits (void **state)
{
    //  One-second days: a 3-day deadline from t ends 3 to 4 seconds later.
    disputes_calendar_t cal = {.day_us = 1000000};
    int64_t due = 0, start = 1763900000500000;
    assert_int_equal (disputes_due (&cal, start, 3, NULL, 0, &due), 0);
    assert_true (due > start + 3000000 && due <= start + 4000000);
    assert_int_equal (disputes_due (&cal, start, -1, NULL, 0, &due), -1);
    assert_int_equal (disputes_due (&cal, start, DISPUTES_DEADLINE_DAYS_MAX + 1, NULL, 0, &due), -1);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_calendar_days),
        cmocka_unit_test (test_pauses_are_not_counted),
        cmocka_unit_test (test_working_days_with_holidays_and_adjusted_workdays),
        cmocka_unit_test (test_short_days_for_tests_and_limits),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
