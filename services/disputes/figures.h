/*  figures: the arithmetic of the disputes figures (issue 3, stats.get), pure and
    unit-tested: counts are gathered from the database, and everything derived from them
    (rates, the locally-resolved shares, the median) is computed here.

    A case is resolved when its status is resolved or closed (a closed case was resolved and
    followed up). It has ended when it is resolved, withdrawn, referred, or failed with no
    level left above it (failed at the district); a case failed lower down is still on its
    way up. The locally-resolved share counts resolved cases by the level they were resolved
    at: the community, the street, and above (the district). */
#ifndef DISPUTES_FIGURES_H
#define DISPUTES_FIGURES_H

#include "lifecycle.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DISPUTES_JUDGED_DEADLINES 3 //  accept, resolve, follow-up

typedef struct {
    int64_t by_status[DISPUTES_STATUS_COUNT];
    int64_t by_level[DISPUTES_LEVEL_COUNT];     //  the level each case is handled at now
    int64_t failed_final;                       //  failed at the district
    int64_t resolved_at[DISPUTES_LEVEL_COUNT];  //  resolved cases by the level resolved at
    int64_t judged[DISPUTES_JUDGED_DEADLINES];  //  stages that ended with a judged deadline
    int64_t on_time[DISPUTES_JUDGED_DEADLINES]; //  ... of which on time
    int64_t overdue_open;                       //  open cases marked overdue in their stage
} disputes_counts_t;

//  A share: undefined when there is nothing to share (whole 0).
typedef struct {
    bool defined;
    double value; //  part / whole, 0 to 1
} disputes_ratio_t;

disputes_ratio_t disputes_ratio (int64_t part, int64_t whole);

int64_t disputes_total (const disputes_counts_t *c);
int64_t disputes_resolved (const disputes_counts_t *c);
int64_t disputes_ended (const disputes_counts_t *c);

//  resolved / ended.
disputes_ratio_t disputes_resolution_rate (const disputes_counts_t *c);

//  Shares of resolved cases resolved at the community, at the street, and above.
typedef struct {
    int64_t count[3];
    disputes_ratio_t share[3];
} disputes_local_t;
void disputes_locally_resolved (const disputes_counts_t *c, disputes_local_t *out);

//  Adds every count of src to dst (figures of a territory are the sum of its parts).
void disputes_counts_add (disputes_counts_t *dst, const disputes_counts_t *src);

//  The median of n values (sorted here, in place): the middle one, or the mean of the two
//  middle ones rounded down. Returns 0 with *median, or -1 when n is 0.
int disputes_median (int64_t *values, size_t n, int64_t *median);

#endif
