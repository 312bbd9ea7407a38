/*  schedule: quiet hours, retry backoff and the rate window (pure). */
#include "schedule.h"

#include <assert.h>

#define S_JITTER_BITS 23 //  random bits used: delay = ceiling × r / 2^23 stays below 2^63

notify_quiet_t
notify_quiet_default (void)
{
    return (notify_quiet_t) {.from_us = NOTIFY_QUIET_FROM_US, .until_us = NOTIFY_QUIET_UNTIL_US,
                             .offset_us = NOTIFY_CST_OFFSET_US};
}

notify_retry_t
notify_retry_default (void)
{
    return (notify_retry_t) {.base_us = NOTIFY_RETRY_BASE_US, .cap_us = NOTIFY_RETRY_CAP_US,
                             .attempts_max = NOTIFY_ATTEMPTS_MAX};
}

notify_rate_t
notify_rate_default (void)
{
    return (notify_rate_t) {.window_us = NOTIFY_RATE_WINDOW_US,
                            .sends_max = NOTIFY_RATE_SENDS_MAX};
}

//  Floor division, also before 1970.
static int64_t
s_floor_div (int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

bool
notify_quiet_at (const notify_quiet_t *quiet, int64_t at_us, int64_t *ends_us)
{
    assert (quiet->from_us >= 0 && quiet->from_us < NOTIFY_DAY_US);
    assert (quiet->until_us >= 0 && quiet->until_us < NOTIFY_DAY_US);
    int64_t local = at_us + quiet->offset_us;
    int64_t day_start = s_floor_div (local, NOTIFY_DAY_US) * NOTIFY_DAY_US;
    int64_t time_of_day = local - day_start;
    int64_t ends;
    if (quiet->from_us == quiet->until_us)
        return false;
    if (quiet->from_us < quiet->until_us) { //  within one day
        if (time_of_day < quiet->from_us || time_of_day >= quiet->until_us)
            return false;
        ends = day_start + quiet->until_us;
    } else if (time_of_day >= quiet->from_us) { //  evening: ends tomorrow
        ends = day_start + NOTIFY_DAY_US + quiet->until_us;
    } else if (time_of_day < quiet->until_us) { //  small hours: ends today
        ends = day_start + quiet->until_us;
    } else {
        return false;
    }
    if (ends_us)
        *ends_us = ends - quiet->offset_us;
    return true;
}

int64_t
notify_send_at (const notify_quiet_t *quiet, notify_channel_t channel,
                notify_priority_t priority, int64_t at_us)
{
    int64_t ends = at_us;
    if (channel == NOTIFY_SMS && priority != NOTIFY_URGENT && notify_quiet_at (quiet, at_us, &ends))
        return ends;
    return at_us;
}

int64_t
notify_retry_delay_us (const notify_retry_t *retry, int attempt, uint32_t random)
{
    assert (retry->base_us > 0 && retry->base_us <= retry->cap_us);
    assert (retry->cap_us <= NOTIFY_RETRY_CAP_MAX_US);
    assert (attempt >= 1);
    //  Doubling stops at the cap, so the loop runs at most 40 times whatever attempt is.
    int64_t ceiling = retry->base_us;
    for (int i = 1; i < attempt && ceiling < retry->cap_us; i++)
        ceiling *= 2;
    if (ceiling > retry->cap_us)
        ceiling = retry->cap_us;
    uint64_t r = random >> (32 - S_JITTER_BITS);
    return (int64_t) (((uint64_t) ceiling * r) >> S_JITTER_BITS);
}

int
notify_retry_next (const notify_retry_t *retry, int attempt, int64_t failed_at_us,
                   uint32_t random, int64_t *next_us)
{
    assert (retry->attempts_max >= 1 && retry->attempts_max <= NOTIFY_ATTEMPTS_LIMIT);
    if (attempt >= retry->attempts_max)
        return 1;
    *next_us = failed_at_us + notify_retry_delay_us (retry, attempt, random);
    return 0;
}

notify_rate_decision_t
notify_rate_decide (const notify_rate_t *rate, notify_priority_t priority,
                    int64_t sent_in_window, int64_t now_us)
{
    assert (rate->window_us > 0 && rate->sends_max >= 0);
    notify_rate_decision_t decision = {.action = NOTIFY_SEND_NOW};
    decision.window_start_us = s_floor_div (now_us, rate->window_us) * rate->window_us;
    if (priority != NOTIFY_URGENT && sent_in_window >= rate->sends_max) {
        decision.action = NOTIFY_FOLD;
        decision.digest_at_us = decision.window_start_us + rate->window_us;
    }
    return decision;
}
