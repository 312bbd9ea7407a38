/*  deadline: when a dispute case's deadline falls (pure). */
#include "deadline.h"

#include <stddef.h>

disputes_calendar_t
disputes_calendar_default (void)
{
    return (disputes_calendar_t) {.working_days = false, .day_us = DISPUTES_DAY_US,
                                  .offset_us = DISPUTES_CST_OFFSET_US};
}

int64_t
disputes_day_of (const disputes_calendar_t *calendar, int64_t at_us)
{
    int64_t local = at_us + calendar->offset_us;
    int64_t day = local / calendar->day_us;
    return local < 0 && local % calendar->day_us ? day - 1 : day; //  floor, also before 1970
}

int
disputes_weekday (int64_t day)
{
    int weekday = (int) ((day + 4) % 7); //  1970-01-01 was a Thursday
    return weekday < 0 ? weekday + 7 : weekday;
}

static bool
s_listed (const int32_t *days, int count, int64_t day)
{
    int low = 0, high = count - 1;
    while (low <= high) {
        int mid = low + (high - low) / 2;
        if (days[mid] == day)
            return true;
        if (days[mid] < day)
            low = mid + 1;
        else
            high = mid - 1;
    }
    return false;
}

bool
disputes_day_counts (const disputes_calendar_t *calendar, int64_t day)
{
    if (!calendar->working_days)
        return true;
    if (s_listed (calendar->workdays, calendar->workday_count, day))
        return true;
    int weekday = disputes_weekday (day);
    return weekday != 0 && weekday != 6
           && !s_listed (calendar->holidays, calendar->holiday_count, day);
}

//  True when the case was paused at any moment of day.
static bool
s_paused_on (const disputes_calendar_t *calendar, const disputes_pause_t *pauses, int count,
             int64_t day)
{
    int64_t begin = day * calendar->day_us - calendar->offset_us;
    int64_t end = begin + calendar->day_us;
    for (int i = 0; i < count; i++)
        if (pauses[i].from_us < end && pauses[i].to_us > begin)
            return true;
    return false;
}

int
disputes_due (const disputes_calendar_t *calendar, int64_t start_us, int days,
              const disputes_pause_t *pauses, int pause_count, int64_t *due_us)
{
    if (days < 0 || days > DISPUTES_DEADLINE_DAYS_MAX)
        return -1;
    for (int i = 0; i < pause_count; i++)
        if (pauses[i].to_us == 0)
            return 1; //  the clock stands still while a pause lasts
    int64_t day = disputes_day_of (calendar, start_us);
    //  NB: the walk is bounded: holidays and pauses can only stretch it so far.
    for (int remaining = days, walked = 0; remaining > 0; walked++) {
        if (walked > 4 * DISPUTES_DEADLINE_DAYS_MAX)
            return -1;
        day++;
        if (disputes_day_counts (calendar, day) && !s_paused_on (calendar, pauses, pause_count, day))
            remaining--;
    }
    *due_us = (day + 1) * calendar->day_us - calendar->offset_us;
    return 0;
}
