/*  disputes overdue sweep: runs every SHEQU_SWEEP_MS on every replica. It finds the open,
    unpaused cases whose running deadline could have passed, computes each due time from the
    history (pauses included), marks a missed deadline once per stage (the mark's primary key
    decides between replicas) with disputes.case_overdue, and, when the policy says so,
    fails and escalates a case that missed its resolution deadline while being mediated. */
#include "disputes.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SWEEP_BATCH_MAX "1000" //  cases looked at per run; the next run takes the rest

//  Candidates: no deadline can fall before stage_at + days * day_us (deadline.h: a deadline
//  of N days ends at the end of the Nth counting day after the starting day), so only cases
//  older than that are looked at, and only when their stage is not marked yet.
static const char *s_candidates_sql =
    "SELECT d.id, d.community, d.category, d.risk, d.status, d.level, d.steps, d.stage_step,"
    " d.stage_at, d.filed_at, " DISPUTES_PAUSES_SQL
    " FROM disputes.dispute d WHERE NOT d.paused AND d.status IN ('filed', 'escalated',"
    " 'accepted', 'mediating', 'resolved') AND d.stage_at < $1::bigint - $2::bigint * CASE"
    " WHEN d.status IN ('filed', 'escalated') THEN $3::int WHEN d.status = 'resolved'"
    " THEN $5::int ELSE $4::int END AND NOT EXISTS (SELECT 1 FROM disputes.overdue o"
    " WHERE o.dispute = d.id AND o.stage_step = d.stage_step)"
    " ORDER BY d.stage_at LIMIT " SWEEP_BATCH_MAX;

//  Fills c from row i of the candidates.
static int
s_case_of (PGresult *res, int i, disputes_case_t *c)
{
    memset (c, 0, sizeof *c);
    snprintf (c->id, sizeof c->id, "%s", PQgetvalue (res, i, 0));
    snprintf (c->community, sizeof c->community, "%s", PQgetvalue (res, i, 1));
    snprintf (c->category, sizeof c->category, "%s", PQgetvalue (res, i, 2));
    snprintf (c->risk, sizeof c->risk, "%s", PQgetvalue (res, i, 3));
    if (disputes_status_parse (PQgetvalue (res, i, 4), &c->state.status)
        || disputes_level_parse (PQgetvalue (res, i, 5), &c->state.level))
        return -1;
    c->steps = (int) strtol (PQgetvalue (res, i, 6), NULL, 10);
    c->stage_step = (int) strtol (PQgetvalue (res, i, 7), NULL, 10);
    c->stage_at = strtoll (PQgetvalue (res, i, 8), NULL, 10);
    c->filed_at = strtoll (PQgetvalue (res, i, 9), NULL, 10);
    return 0;
}

typedef struct {
    const char *deadline;
    int64_t due;
    bool escalate;
} s_overdue_t;

static void
s_pack_overdue (msgpack_packer *pk, const void *arg)
{
    const s_overdue_t *o = arg;
    sq_pack_kv_str (pk, "missed", o->deadline);
    sq_pack_kv_int (pk, "missed_due", o->due);
    sq_pack_kv_bool (pk, "auto_escalate", o->escalate);
}

//  Fails and escalates c (locked again: a command may have moved it meanwhile).
static int
s_escalate (sq_ctx_t *ctx, const disputes_policy_t *policy, const disputes_case_t *seen)
{
    disputes_case_t c;
    if (disputes_case_lock (ctx, seen->id, &c))
        return -1;
    if (c.stage_step != seen->stage_step || c.state.status != DISPUTES_MEDIATING)
        return 0;
    disputes_step_t fail = {"resolution deadline missed; failed by the sweep", NULL, NULL, -1};
    disputes_step_t up = {"resolution deadline missed; escalated by the sweep", NULL, NULL, -1};
    if (disputes_case_step (ctx, policy, &c, DISPUTES_FAIL, &fail)
        || disputes_case_step (ctx, policy, &c, DISPUTES_ESCALATE, &up))
        return -1;
    return 0;
}

//  Marks one missed deadline, once: the replica whose insert wins emits and escalates.
static int
s_mark (sq_ctx_t *ctx, const disputes_policy_t *policy, const disputes_case_t *c,
        disputes_deadline_t deadline, int64_t due, int64_t now)
{
    char stage[16], due_text[24], at[24];
    snprintf (stage, sizeof stage, "%d", c->stage_step);
    snprintf (due_text, sizeof due_text, "%" PRId64, due);
    snprintf (at, sizeof at, "%" PRId64, now);
    const char *params[] = {c->id, stage, disputes_deadline_name (deadline), due_text, at};
    PGresult *res = sq_db_query (ctx->db, "INSERT INTO disputes.overdue (dispute, stage_step,"
                                 " deadline, due_at, marked_at) VALUES ($1, $2::int, $3,"
                                 " $4::bigint, $5::bigint) ON CONFLICT DO NOTHING RETURNING 1",
                                 5, params, &ctx->err);
    if (!res)
        return -1;
    bool won = PQntuples (res) == 1;
    PQclear (res);
    if (!won)
        return 0;
    s_overdue_t o = {disputes_deadline_name (deadline), due,
                     policy->auto_escalate && deadline == DISPUTES_DEADLINE_RESOLVE
                         && c->state.status == DISPUTES_MEDIATING
                         && c->state.level < DISPUTES_DISTRICT};
    if (disputes_emit_case (ctx, policy, c, "case_overdue", c->state.status, NULL, 3,
                            s_pack_overdue, &o))
        return -1;
    return o.escalate ? s_escalate (ctx, policy, c) : 0;
}

int
disputes_sweep_overdue (sq_ctx_t *ctx)
{
    disputes_policy_t policy;
    if (disputes_policy_load (ctx, &policy))
        return -1;
    int64_t now = sq_now_us ();
    char now_text[24], day[24], days[DISPUTES_DEADLINE_COUNT][16];
    snprintf (now_text, sizeof now_text, "%" PRId64, now);
    snprintf (day, sizeof day, "%" PRId64, policy.calendar.day_us);
    for (int d = 0; d < DISPUTES_DEADLINE_COUNT; d++)
        snprintf (days[d], sizeof days[d], "%d", policy.days[d]);
    const char *params[] = {now_text, day, days[0], days[1], days[2]};
    PGresult *res = sq_db_query (ctx->db, s_candidates_sql, 5, params, &ctx->err);
    int rc = res ? 0 : -1, marked = 0;
    for (int i = 0; res && rc == 0 && i < PQntuples (res); i++) {
        disputes_case_t c;
        if (s_case_of (res, i, &c))
            continue;
        int64_t due = 0;
        int running = disputes_case_due_from (&policy, &c, PQgetvalue (res, i, 10), &due,
                                              &ctx->err);
        if (running < 0) {
            rc = -1;
            break;
        }
        if (running == 0 && now > due) {
            rc = s_mark (ctx, &policy, &c, disputes_deadline_of (c.state.status), due, now);
            marked++;
        }
    }
    PQclear (res);
    disputes_policy_free (&policy);
    if (rc == 0 && marked)
        sq_log_info ("overdue cases marked", "count=%d", marked);
    return rc;
}
