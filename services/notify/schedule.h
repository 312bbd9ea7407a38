/*  schedule: when a notification may go out (issue 6). Pure; unit-tested; every time is given,
    none is read from the clock, so tests set it.

    - Quiet hours: an SMS is not sent between 22:00 and 07:00 China Standard Time (Asia/
      Shanghai: UTC+8, no daylight saving time) but held until they end; urgent messages and
      the other channels are not held.
    - Retries: a failed delivery is tried again after an exponential backoff with full jitter
      (a random delay between 0 and min(cap, base × 2^(attempt-1))), and dead-lettered after
      the last allowed attempt. The random value is an argument, so the delay is testable.
    - Rate: each recipient gets at most sends_max messages one by one in a fixed window; more
      in the same window fold into one digest sent when it ends, so a burst loses nothing. */
#ifndef NOTIFY_SCHEDULE_H
#define NOTIFY_SCHEDULE_H

#include "route.h"
#include "template.h"

#include <stdbool.h>
#include <stdint.h>

#define NOTIFY_SECOND_US INT64_C (1000000)
#define NOTIFY_HOUR_US (INT64_C (3600) * NOTIFY_SECOND_US)
#define NOTIFY_DAY_US (INT64_C (24) * NOTIFY_HOUR_US)
#define NOTIFY_CST_OFFSET_US (INT64_C (8) * NOTIFY_HOUR_US) //  Asia/Shanghai, all year

#define NOTIFY_QUIET_FROM_US (INT64_C (22) * NOTIFY_HOUR_US) //  local time quiet hours start
#define NOTIFY_QUIET_UNTIL_US (INT64_C (7) * NOTIFY_HOUR_US) //  local time they end

#define NOTIFY_RETRY_BASE_US (INT64_C (2) * NOTIFY_SECOND_US) //  first backoff ceiling
#define NOTIFY_RETRY_CAP_US NOTIFY_HOUR_US                    //  largest backoff ceiling
#define NOTIFY_RETRY_CAP_MAX_US (INT64_C (1) << 40)           //  ~12.7 days: no cap above
#define NOTIFY_ATTEMPTS_MAX 12          //  attempts before a delivery is dead-lettered
#define NOTIFY_ATTEMPTS_LIMIT 100       //  no policy allows more

#define NOTIFY_RATE_WINDOW_US (INT64_C (5) * 60 * NOTIFY_SECOND_US) //  a rate window
#define NOTIFY_RATE_SENDS_MAX 10        //  messages sent one by one per recipient per window

//  Quiet hours as local times of day; from after until means across midnight.
typedef struct {
    int64_t from_us;   //  NOTIFY_QUIET_FROM_US
    int64_t until_us;  //  NOTIFY_QUIET_UNTIL_US; equal to from_us: never quiet
    int64_t offset_us; //  local time minus UTC (NOTIFY_CST_OFFSET_US)
} notify_quiet_t;

//  How failed deliveries are retried.
typedef struct {
    int64_t base_us;  //  ceiling of the first delay (> 0)
    int64_t cap_us;   //  largest ceiling (base_us to NOTIFY_RETRY_CAP_MAX_US)
    int attempts_max; //  dead letter after this many failed attempts (1 to NOTIFY_ATTEMPTS_LIMIT)
} notify_retry_t;

//  The per-recipient rate limit.
typedef struct {
    int64_t window_us; //  windows start at multiples of it since the epoch (> 0)
    int64_t sends_max; //  messages sent one by one in a window (≥ 0)
} notify_rate_t;

typedef enum {
    NOTIFY_SEND_NOW = 0, //  send it on its own
    NOTIFY_FOLD          //  add it to the recipient's digest for the window
} notify_rate_action_t;

typedef struct {
    notify_rate_action_t action;
    int64_t window_start_us; //  the window the message falls in (the digest's key)
    int64_t digest_at_us;    //  NOTIFY_FOLD: when the digest goes out (the window's end)
} notify_rate_decision_t;

//  The defaults of issue 6 and of the constants above.
notify_quiet_t notify_quiet_default (void);
notify_retry_t notify_retry_default (void);
notify_rate_t notify_rate_default (void);

//  True when at_us (UTC) falls in quiet hours; then *ends_us (may be NULL) is when they end.
bool notify_quiet_at (const notify_quiet_t *quiet, int64_t at_us, int64_t *ends_us);

//  When a message due at at_us may go out: the end of quiet hours for a normal SMS in them,
//  at_us otherwise.
int64_t notify_send_at (const notify_quiet_t *quiet, notify_channel_t channel,
                        notify_priority_t priority, int64_t at_us);

//  The delay before the next try after attempt (1 for the first) failed: uniform in
//  [0, min(cap, base × 2^(attempt-1))) as random runs over all uint32_t values.
int64_t notify_retry_delay_us (const notify_retry_t *retry, int attempt, uint32_t random);

//  After attempt failed at failed_at_us: returns 0 with *next_us the time of the next try,
//  or 1 when attempt was the last allowed (dead-letter the delivery; *next_us untouched).
int notify_retry_next (const notify_retry_t *retry, int attempt, int64_t failed_at_us,
                       uint32_t random, int64_t *next_us);

//  Decides for a message to a recipient at now_us, given how many messages were already sent
//  to them one by one in the current window: send now while fewer than sends_max, else fold
//  into the window's digest. An urgent message is always sent now (and counts).
notify_rate_decision_t notify_rate_decide (const notify_rate_t *rate, notify_priority_t priority,
                                           int64_t sent_in_window, int64_t now_us);

#endif
