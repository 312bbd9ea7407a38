/*  figures: the arithmetic of the disputes figures (pure). */
#include "figures.h"

#include <stdlib.h>

disputes_ratio_t
disputes_ratio (int64_t part, int64_t whole)
{
    if (whole <= 0)
        return (disputes_ratio_t) {false, 0};
    return (disputes_ratio_t) {true, (double) part / (double) whole};
}

int64_t
disputes_total (const disputes_counts_t *c)
{
    int64_t total = 0;
    for (int s = 0; s < DISPUTES_STATUS_COUNT; s++)
        total += c->by_status[s];
    return total;
}

int64_t
disputes_resolved (const disputes_counts_t *c)
{
    return c->by_status[DISPUTES_RESOLVED] + c->by_status[DISPUTES_CLOSED];
}

int64_t
disputes_ended (const disputes_counts_t *c)
{
    return disputes_resolved (c) + c->by_status[DISPUTES_WITHDRAWN]
           + c->by_status[DISPUTES_REFERRED] + c->failed_final;
}

disputes_ratio_t
disputes_resolution_rate (const disputes_counts_t *c)
{
    return disputes_ratio (disputes_resolved (c), disputes_ended (c));
}

void
disputes_locally_resolved (const disputes_counts_t *c, disputes_local_t *out)
{
    out->count[0] = c->resolved_at[DISPUTES_COMMUNITY];
    out->count[1] = c->resolved_at[DISPUTES_STREET];
    out->count[2] = c->resolved_at[DISPUTES_DISTRICT];
    int64_t whole = out->count[0] + out->count[1] + out->count[2];
    for (int i = 0; i < 3; i++)
        out->share[i] = disputes_ratio (out->count[i], whole);
}

void
disputes_counts_add (disputes_counts_t *dst, const disputes_counts_t *src)
{
    for (int s = 0; s < DISPUTES_STATUS_COUNT; s++)
        dst->by_status[s] += src->by_status[s];
    for (int l = 0; l < DISPUTES_LEVEL_COUNT; l++) {
        dst->by_level[l] += src->by_level[l];
        dst->resolved_at[l] += src->resolved_at[l];
    }
    for (int d = 0; d < DISPUTES_JUDGED_DEADLINES; d++) {
        dst->judged[d] += src->judged[d];
        dst->on_time[d] += src->on_time[d];
    }
    dst->failed_final += src->failed_final;
    dst->overdue_open += src->overdue_open;
}

static int
s_compare (const void *a, const void *b)
{
    int64_t x = *(const int64_t *) a, y = *(const int64_t *) b;
    return (x > y) - (x < y);
}

int
disputes_median (int64_t *values, size_t n, int64_t *median)
{
    if (n == 0)
        return -1;
    qsort (values, n, sizeof *values, s_compare);
    if (n % 2)
        *median = values[n / 2];
    else //  sorted: high >= low, so this rounds down and cannot overflow
        *median = values[n / 2 - 1] + (values[n / 2] - values[n / 2 - 1]) / 2;
    return 0;
}
