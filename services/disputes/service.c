/*  disputes service: the command table, the policy, and the one place a case takes a step
    (lock, transition, history row, case row, event), shared by commands and the sweep. */
#include "disputes.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const disputes_handlers[] = {"community_staff", "grid_worker", "mediator",
                                         "street_official", "district_official",
                                         "city_official", "operator", NULL};
const char *const disputes_readers[] = {"community_staff", "grid_worker", "mediator",
                                        "street_official", "district_official", "city_official",
                                        "operator", "auditor", NULL};

static const sq_command_t s_commands[] = {
    {"case.file", disputes_case_file},
    {"case.get", disputes_case_get},
    {"case.list", disputes_case_list},
    {"case.accept", disputes_case_accept},
    {"case.assign", disputes_case_assign},
    {"case.record", disputes_case_record},
    {"case.resolve", disputes_case_resolve},
    {"case.fail", disputes_case_fail},
    {"case.escalate", disputes_case_escalate},
    {"case.followup", disputes_case_followup},
    {"case.withdraw", disputes_case_withdraw},
    {"case.refer", disputes_case_refer},
    {"case.pause", disputes_case_pause},
    {"case.resume", disputes_case_resume},
    {"policy.get", disputes_policy_get},
    {"policy.put", disputes_policy_put},
    {"calendar.get", disputes_calendar_get},
    {"calendar.put", disputes_calendar_put},
    {"stats.get", disputes_stats_get},
    {NULL, NULL}};

static const sq_command_t s_sweeps[] = {{"overdue", disputes_sweep_overdue}, {NULL, NULL}};

void
disputes_service_config (disputes_t *state, sq_service_config_t *config)
{
    memset (config, 0, sizeof *config);
    config->name = "disputes";
    config->schema = "disputes";
    config->commands = s_commands;
    config->sweeps = s_sweeps;
    config->state = state;
}

int
disputes_read_division (sq_ctx_t *ctx, const char *field, char out[SQ_DIV_MAX])
{
    if (sq_arg_str (ctx->args, field, true, 12, out, SQ_DIV_MAX, &ctx->err) < 0)
        return -1;
    size_t len = strlen (out);
    if (!sq_is_digits (out, 0) || (len != 2 && len != 4 && len != 6 && len != 9 && len != 12))
        return sq_error_set (&ctx->err, SQ_ERR_INVALID, field, "%s must be a division code of"
                             " 2, 4, 6, 9 or 12 digits", field);
    return 0;
}

// ---- policy -------------------------------------------------------------------------------

static int32_t *
s_days (PGresult *res, const char *kind, int *count)
{
    int32_t *days = calloc ((size_t) PQntuples (res) + 1, sizeof *days);
    *count = 0;
    for (int i = 0; days && i < PQntuples (res); i++)
        if (strcmp (PQgetvalue (res, i, 1), kind) == 0)
            days[(*count)++] = (int32_t) strtol (PQgetvalue (res, i, 0), NULL, 10);
    return days;
}

int
disputes_policy_load (sq_ctx_t *ctx, disputes_policy_t *policy)
{
    const disputes_t *self = ctx->state;
    memset (policy, 0, sizeof *policy);
    policy->calendar = disputes_calendar_default ();
    policy->calendar.day_us = self->day_us;
    PGresult *res = sq_db_query (ctx->db, "SELECT accept_days, resolve_days, followup_days,"
                                 " working_days, auto_escalate FROM disputes.policy WHERE id = 1",
                                 0, NULL, &ctx->err);
    if (!res)
        return -1;
    for (int d = 0; d < DISPUTES_DEADLINE_COUNT; d++)
        policy->days[d] = (int) strtol (PQgetvalue (res, 0, d), NULL, 10);
    policy->calendar.working_days = PQgetvalue (res, 0, 3)[0] == 't';
    policy->auto_escalate = PQgetvalue (res, 0, 4)[0] == 't';
    PQclear (res);
    if (!policy->calendar.working_days)
        return 0;
    res = sq_db_query (ctx->db, "SELECT day - date '1970-01-01', kind FROM disputes.calendar_day"
                       " ORDER BY day", 0, NULL, &ctx->err);
    if (!res)
        return -1;
    policy->holidays = s_days (res, "holiday", &policy->calendar.holiday_count);
    policy->workdays = s_days (res, "workday", &policy->calendar.workday_count);
    PQclear (res);
    policy->calendar.holidays = policy->holidays;
    policy->calendar.workdays = policy->workdays;
    if (!policy->holidays || !policy->workdays) {
        disputes_policy_free (policy);
        return sq_error_set (&ctx->err, SQ_ERR_INTERNAL, "", "out of memory");
    }
    return 0;
}

void
disputes_policy_free (disputes_policy_t *policy)
{
    free (policy->holidays);
    free (policy->workdays);
    policy->holidays = policy->workdays = NULL;
}

disputes_deadline_t
disputes_deadline_of (disputes_status_t status)
{
    switch (status) {
    case DISPUTES_FILED:
    case DISPUTES_ESCALATED:
        return DISPUTES_DEADLINE_ACCEPT;
    case DISPUTES_ACCEPTED:
    case DISPUTES_MEDIATING:
        return DISPUTES_DEADLINE_RESOLVE;
    case DISPUTES_RESOLVED:
        return DISPUTES_DEADLINE_FOLLOWUP;
    default:
        return DISPUTES_DEADLINE_NONE;
    }
}

const char *
disputes_deadline_name (disputes_deadline_t deadline)
{
    static const char *const names[] = {"accept", "resolve", "followup"};
    return deadline >= 0 && deadline < DISPUTES_DEADLINE_COUNT ? names[deadline] : NULL;
}

// ---- deadlines ----------------------------------------------------------------------------

//  Reads "pause:<at>,resume:<at>,..." into a new array of pauses (a pause still lasting has
//  to_us 0). Returns the count, or -1 when memory runs out.
static int
s_pauses_parse (const char *text, disputes_pause_t **pauses)
{
    int count_max = 1, count = 0;
    for (const char *p = text; p && (p = strchr (p, ',')); p++)
        count_max++;
    *pauses = calloc ((size_t) count_max, sizeof **pauses);
    if (!*pauses)
        return -1;
    for (const char *p = text; p && *p;) {
        const char *colon = strchr (p, ':');
        if (!colon)
            break;
        int64_t at = strtoll (colon + 1, NULL, 10);
        if (strncmp (p, "pause:", 6) == 0)
            (*pauses)[count++] = (disputes_pause_t) {at, 0};
        else if (count > 0)
            (*pauses)[count - 1].to_us = at;
        p = strchr (colon, ',');
        p = p ? p + 1 : NULL;
    }
    return count;
}

int
disputes_case_due_from (const disputes_policy_t *policy, const disputes_case_t *c,
                        const char *pauses, int64_t *due_us, sq_error_t *err)
{
    disputes_deadline_t deadline = disputes_deadline_of (c->state.status);
    if (deadline == DISPUTES_DEADLINE_NONE || c->state.paused)
        return 1;
    disputes_pause_t *list = NULL;
    int count = s_pauses_parse (pauses, &list);
    int rc = count < 0 ? -1 : disputes_due (&policy->calendar, c->stage_at,
                                            policy->days[deadline], list, count, due_us);
    free (list);
    if (rc < 0)
        return sq_error_set (err, SQ_ERR_INTERNAL, "", "could not compute the %s deadline of"
                             " case %s", disputes_deadline_name (deadline), c->id);
    return rc;
}

int
disputes_case_due (sq_ctx_t *ctx, const disputes_policy_t *policy, const disputes_case_t *c,
                   int64_t *due_us)
{
    disputes_deadline_t deadline = disputes_deadline_of (c->state.status);
    if (deadline == DISPUTES_DEADLINE_NONE || c->state.paused)
        return 1;
    char stage_step[16];
    snprintf (stage_step, sizeof stage_step, "%d", c->stage_step);
    const char *params[] = {c->id, stage_step};
    //  The stage as c has it (it may be ahead of the row within this step).
    PGresult *res = sq_db_query (ctx->db, "SELECT " DISPUTES_PAUSES_SQL " FROM (SELECT $1::text"
                                 " AS id, $2::int AS stage_step) d", 2, params, &ctx->err);
    if (!res)
        return -1;
    int rc = disputes_case_due_from (policy, c, PQgetvalue (res, 0, 0), due_us, &ctx->err);
    PQclear (res);
    return rc;
}

// ---- locking and stepping -----------------------------------------------------------------

//  The longest scope that may act on a case handled at level: community 12, street 9,
//  district 6 digits.
static size_t
s_scope_max (disputes_level_t level)
{
    return level == DISPUTES_COMMUNITY ? 12 : level == DISPUTES_STREET ? 9 : 6;
}

int
disputes_case_lock (sq_ctx_t *ctx, const char *id, disputes_case_t *c)
{
    memset (c, 0, sizeof *c);
    const char *params[] = {id};
    PGresult *res = sq_db_query (ctx->db, "SELECT id, community, category, risk, status, level,"
                                 " paused, steps, stage_step, stage_at, filed_at"
                                 " FROM disputes.dispute WHERE id = $1 FOR UPDATE", 1, params,
                                 &ctx->err);
    if (!res)
        return -1;
    if (PQntuples (res) != 1) {
        PQclear (res);
        return sq_error_set (&ctx->err, SQ_ERR_NOT_FOUND, "id", "case %s does not exist", id);
    }
    snprintf (c->id, sizeof c->id, "%s", PQgetvalue (res, 0, 0));
    snprintf (c->community, sizeof c->community, "%s", PQgetvalue (res, 0, 1));
    snprintf (c->category, sizeof c->category, "%s", PQgetvalue (res, 0, 2));
    snprintf (c->risk, sizeof c->risk, "%s", PQgetvalue (res, 0, 3));
    int bad = disputes_status_parse (PQgetvalue (res, 0, 4), &c->state.status)
              || disputes_level_parse (PQgetvalue (res, 0, 5), &c->state.level);
    c->state.paused = PQgetvalue (res, 0, 6)[0] == 't';
    c->steps = (int) strtol (PQgetvalue (res, 0, 7), NULL, 10);
    c->stage_step = (int) strtol (PQgetvalue (res, 0, 8), NULL, 10);
    c->stage_at = strtoll (PQgetvalue (res, 0, 9), NULL, 10);
    c->filed_at = strtoll (PQgetvalue (res, 0, 10), NULL, 10);
    PQclear (res);
    if (bad)
        return sq_error_set (&ctx->err, SQ_ERR_INTERNAL, "id", "case %s has an unknown status"
                             " or level", id);
    if (sq_ctx_require_scope (ctx, c->community, "id"))
        return -1;
    size_t scope = strlen (ctx->actor->scope);
    if (scope > s_scope_max (c->state.level))
        return sq_error_set (&ctx->err, SQ_ERR_FORBIDDEN, "id", "case %s is handled at the %s"
                             " level; an actor whose scope is %s cannot act on it", id,
                             disputes_level_name (c->state.level), ctx->actor->scope);
    return 0;
}

//  The deadline a step ends, judged on time or late: accept, resolve and follow-up.
static disputes_deadline_t
s_deadline_ended (disputes_action_t action)
{
    return action == DISPUTES_ACCEPT     ? DISPUTES_DEADLINE_ACCEPT
           : action == DISPUTES_RESOLVE  ? DISPUTES_DEADLINE_RESOLVE
           : action == DISPUTES_FOLLOWUP ? DISPUTES_DEADLINE_FOLLOWUP
                                         : DISPUTES_DEADLINE_NONE;
}

static const char *const s_events[DISPUTES_ACTION_COUNT] = {
    [DISPUTES_ACCEPT] = "case_accepted",   [DISPUTES_ASSIGN] = "case_assigned",
    [DISPUTES_RECORD] = "case_recorded",   [DISPUTES_RESOLVE] = "case_resolved",
    [DISPUTES_FAIL] = "case_failed",       [DISPUTES_ESCALATE] = "case_escalated",
    [DISPUTES_FOLLOWUP] = "case_closed",   [DISPUTES_WITHDRAW] = "case_withdrawn",
    [DISPUTES_REFER] = "case_referred",    [DISPUTES_PAUSE] = "case_paused",
    [DISPUTES_RESUME] = "case_resumed"};

static int
s_insert_step (sq_ctx_t *ctx, const disputes_case_t *c, disputes_action_t action,
               disputes_status_t from, const char *note, disputes_deadline_t ended,
               int64_t due_at, bool on_time, int64_t now)
{
    char n[16], at[24], due[24];
    snprintf (n, sizeof n, "%d", c->steps);
    snprintf (at, sizeof at, "%" PRId64, now);
    snprintf (due, sizeof due, "%" PRId64, due_at);
    bool judged = ended != DISPUTES_DEADLINE_NONE;
    const char *params[] = {c->id, n, disputes_action_name (action), disputes_status_name (from),
                            disputes_status_name (c->state.status),
                            disputes_level_name (c->state.level), at, ctx->actor->id,
                            ctx->actor->role, note, judged ? disputes_deadline_name (ended) : NULL,
                            judged ? due : NULL, judged ? (on_time ? "true" : "false") : NULL};
    return sq_db_exec (ctx->db, "INSERT INTO disputes.step (dispute, n, action, from_status,"
                       " to_status, level, at, actor, actor_role, note, deadline, due_at, on_time)"
                       " VALUES ($1, $2::int, $3, $4, $5, $6, $7::bigint, $8, $9, $10, $11,"
                       " $12::bigint, $13::boolean)", 13, params, &ctx->err);
}

static int
s_update_case (sq_ctx_t *ctx, const disputes_case_t *c, disputes_action_t action,
               const disputes_step_t *step, int64_t now)
{
    char steps[16], stage_step[16], stage_at[24], at[24];
    snprintf (steps, sizeof steps, "%d", c->steps);
    snprintf (stage_step, sizeof stage_step, "%d", c->stage_step);
    snprintf (stage_at, sizeof stage_at, "%" PRId64, c->stage_at);
    snprintf (at, sizeof at, "%" PRId64, now);
    bool ends = !disputes_status_open (c->state.status);
    const char *performed = step->performed < 0 ? NULL : step->performed ? "true" : "false";
    const char *params[] = {c->id, disputes_status_name (c->state.status),
                            disputes_level_name (c->state.level),
                            c->state.paused ? "true" : "false", steps, stage_step, stage_at, at,
                            action == DISPUTES_RESOLVE ? "t" : NULL, ends ? "t" : NULL,
                            step->mediator, step->referred_to, performed};
    return sq_db_exec (ctx->db, "UPDATE disputes.dispute SET status = $2, level = $3,"
                       " paused = $4::boolean, steps = $5::int, stage_step = $6::int,"
                       " stage_at = $7::bigint, updated_at = $8::bigint,"
                       " resolved_level = CASE WHEN $9::text IS NULL THEN resolved_level ELSE $3 END,"
                       " resolved_at = CASE WHEN $9::text IS NULL THEN resolved_at ELSE $8::bigint END,"
                       " ended_at = CASE WHEN $10::text IS NULL THEN ended_at ELSE $8::bigint END,"
                       " mediator = coalesce ($11, mediator), referred_to = coalesce ($12, referred_to),"
                       " performed = coalesce ($13::boolean, performed) WHERE id = $1", 13, params,
                       &ctx->err);
}

int
disputes_emit_case (sq_ctx_t *ctx, const disputes_policy_t *policy, const disputes_case_t *c,
                    const char *name, disputes_status_t previous, const disputes_step_t *step,
                    int extra_fields, void (*pack_extra) (msgpack_packer *, const void *),
                    const void *extra)
{
    int64_t due = 0;
    int running = disputes_case_due (ctx, policy, c, &due);
    if (running < 0)
        return -1;
    int extras = extra_fields + (step && step->mediator) + (step && step->referred_to)
                 + (step && step->performed >= 0);
    sq_data_t data;
    sq_data_begin (&data);
    msgpack_pack_map (&data.pk, (size_t) (10 + extras));
    sq_pack_kv_str (&data.pk, "case", c->id);
    sq_pack_kv_str (&data.pk, "community", c->community);
    sq_pack_kv_str (&data.pk, "category", c->category);
    sq_pack_kv_str (&data.pk, "risk", c->risk);
    sq_pack_kv_str (&data.pk, "level", disputes_level_name (c->state.level));
    sq_pack_kv_str (&data.pk, "status", disputes_status_name (c->state.status));
    sq_pack_kv_str (&data.pk, "previous_status", disputes_status_name (previous));
    sq_pack_kv_int (&data.pk, "step", c->steps);
    disputes_deadline_t deadline = disputes_deadline_of (c->state.status);
    sq_pack_kv_str (&data.pk, "deadline", running == 0 ? disputes_deadline_name (deadline) : NULL);
    if (running == 0)
        sq_pack_kv_int (&data.pk, "due", due);
    else
        sq_pack_kv_nil (&data.pk, "due");
    if (step && step->mediator)
        sq_pack_kv_str (&data.pk, "mediator", step->mediator);
    if (step && step->referred_to)
        sq_pack_kv_str (&data.pk, "to", step->referred_to);
    if (step && step->performed >= 0)
        sq_pack_kv_bool (&data.pk, "performed", step->performed);
    if (pack_extra)
        pack_extra (&data.pk, extra);
    return sq_ctx_emit_data (ctx, &data, name, c->community);
}

int
disputes_case_step (sq_ctx_t *ctx, const disputes_policy_t *policy, disputes_case_t *c,
                    disputes_action_t action, const disputes_step_t *step)
{
    disputes_state_t next;
    if (disputes_transition (&c->state, action, &next, &ctx->err))
        return -1;
    int64_t now = sq_now_us (), due = 0;
    disputes_deadline_t ended = s_deadline_ended (action);
    //  The deadline this step ends is judged against the stage as it ran until now.
    if (ended != DISPUTES_DEADLINE_NONE && disputes_case_due (ctx, policy, c, &due) < 0)
        return -1;
    disputes_status_t from = c->state.status;
    bool restart = disputes_deadline_of (next.status) != disputes_deadline_of (from);
    c->state = next;
    c->steps++;
    if (restart) {
        c->stage_step = c->steps;
        c->stage_at = now;
    }
    if (s_insert_step (ctx, c, action, from, step->note, ended, due, now <= due, now)
        || s_update_case (ctx, c, action, step, now))
        return -1;
    return disputes_emit_case (ctx, policy, c, s_events[action], from, step, 0, NULL, NULL);
}
