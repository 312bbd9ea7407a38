/*  deadline: when a dispute case's deadline falls, computed from its history (when the clock
    started, when it was paused and resumed) and a calendar, never from stored counters, so a
    policy change or a pause never corrupts it (issue 3). Pure; unit-tested.

    A deadline of N days ends at the end of the Nth counting day after the day the clock
    started. A counting day is any day (calendar mode) or a working day: a weekday that is not
    a holiday, or a weekend day made a working day (节假日与调休). A day on which the case was
    paused at any moment does not count. Days are local days (China Standard Time by default);
    their length is settable so tests need not wait days. */
#ifndef DISPUTES_DEADLINE_H
#define DISPUTES_DEADLINE_H

#include <stdbool.h>
#include <stdint.h>

#define DISPUTES_DAY_US (INT64_C (86400) * 1000000)  //  a real day
#define DISPUTES_CST_OFFSET_US (INT64_C (8) * 3600 * 1000000) //  UTC+8
#define DISPUTES_DEADLINE_DAYS_MAX 3660               //  no deadline is further than this

//  A pause of the clock; to_us 0 while it lasts.
typedef struct {
    int64_t from_us;
    int64_t to_us;
} disputes_pause_t;

//  How days are counted. Day numbers are days since 1970-01-01 in local time.
typedef struct {
    bool working_days;        //  false: calendar days
    int64_t day_us;           //  length of a day (DISPUTES_DAY_US; shorter in tests)
    int64_t offset_us;        //  local time minus UTC (DISPUTES_CST_OFFSET_US)
    const int32_t *holidays;  //  day numbers that are not worked, sorted
    int holiday_count;
    const int32_t *workdays;  //  weekend day numbers that are worked (调休), sorted
    int workday_count;
} disputes_calendar_t;

//  A calendar of real calendar days in China Standard Time.
disputes_calendar_t disputes_calendar_default (void);

//  The local day number of a time, and the weekday of a day number (0 Sunday ... 6 Saturday;
//  meaningful only with real-length days).
int64_t disputes_day_of (const disputes_calendar_t *calendar, int64_t at_us);
int disputes_weekday (int64_t day);

//  True when day counts towards a deadline under calendar.
bool disputes_day_counts (const disputes_calendar_t *calendar, int64_t day);

//  Computes when a deadline of days counting days from start_us falls. Returns 0 with
//  *due_us, or 1 while a pause lasts (no deadline runs then), or -1 when days is out of
//  range (0 to DISPUTES_DEADLINE_DAYS_MAX).
int disputes_due (const disputes_calendar_t *calendar, int64_t start_us, int days,
                  const disputes_pause_t *pauses, int pause_count, int64_t *due_us);

#endif
