/*  disputes policy: the deadlines (days to accept, resolve, follow up; calendar or working
    days; automatic escalation) and the calendar of holidays and adjusted workdays
    (节假日与调休), which the State Council publishes each year and operators load as data. */
#include "disputes.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const s_policy_writers[] = {"operator", "city_official", NULL};

int
disputes_policy_get (sq_ctx_t *ctx)
{
    if (sq_ctx_require_role (ctx, disputes_readers))
        return -1;
    PGresult *res = sq_db_query (ctx->db, "SELECT accept_days, resolve_days, followup_days,"
                                 " working_days, auto_escalate, changed_at, changed_by"
                                 " FROM disputes.policy WHERE id = 1", 0, NULL, &ctx->err);
    if (!res)
        return -1;
    msgpack_pack_map (ctx->pk, 8);
    for (int col = 0; col < 7; col++) {
        const char *name = PQfname (res, col), *value = PQgetvalue (res, 0, col);
        if (col == 3 || col == 4)
            sq_pack_kv_bool (ctx->pk, name, value[0] == 't');
        else if (col == 6)
            sq_pack_kv_str (ctx->pk, name, value);
        else
            sq_pack_kv_int (ctx->pk, name, strtoll (value, NULL, 10));
    }
    PQclear (res);
    //  So that a reader knows how long "a day" is in this deployment (shorter in tests).
    sq_pack_kv_int (ctx->pk, "day_us", ((const disputes_t *) ctx->state)->day_us);
    return 0;
}

int
disputes_policy_put (sq_ctx_t *ctx)
{
    int64_t days[DISPUTES_DEADLINE_COUNT] = {-1, -1, -1};
    static const char *const fields[] = {"accept_days", "resolve_days", "followup_days"};
    bool working = false, escalate = false;
    int has_working = 0, has_escalate = 0, given = 0;
    if (sq_ctx_require_role (ctx, s_policy_writers))
        return -1;
    for (int d = 0; d < DISPUTES_DEADLINE_COUNT; d++) {
        int rc = sq_arg_int (ctx->args, fields[d], false, 1, 365, &days[d], &ctx->err);
        if (rc < 0)
            return -1;
        given += rc;
    }
    if ((has_working = sq_arg_bool (ctx->args, "working_days", false, &working, &ctx->err)) < 0
        || (has_escalate = sq_arg_bool (ctx->args, "auto_escalate", false, &escalate,
                                        &ctx->err)) < 0)
        return -1;
    if (given + has_working + has_escalate == 0)
        return sq_error_set (&ctx->err, SQ_ERR_INVALID, "", "nothing to change: give accept_days,"
                             " resolve_days, followup_days, working_days or auto_escalate");
    char text[DISPUTES_DEADLINE_COUNT][24], at[24];
    for (int d = 0; d < DISPUTES_DEADLINE_COUNT; d++)
        snprintf (text[d], sizeof text[d], "%" PRId64, days[d]);
    snprintf (at, sizeof at, "%" PRId64, sq_now_us ());
    const char *params[] = {days[0] > 0 ? text[0] : NULL, days[1] > 0 ? text[1] : NULL,
                            days[2] > 0 ? text[2] : NULL,
                            has_working ? (working ? "true" : "false") : NULL,
                            has_escalate ? (escalate ? "true" : "false") : NULL, at,
                            ctx->actor->id};
    if (sq_db_exec (ctx->db, "UPDATE disputes.policy SET"
                    " accept_days = coalesce ($1::int, accept_days),"
                    " resolve_days = coalesce ($2::int, resolve_days),"
                    " followup_days = coalesce ($3::int, followup_days),"
                    " working_days = coalesce ($4::boolean, working_days),"
                    " auto_escalate = coalesce ($5::boolean, auto_escalate),"
                    " changed_at = $6::bigint, changed_by = $7 WHERE id = 1", 7, params,
                    &ctx->err))
        return -1;
    return disputes_policy_get (ctx);
}

// ---- calendar -----------------------------------------------------------------------------

//  Days from 1970-01-01 to y-m-d (proleptic Gregorian; H. Hinnant's days_from_civil).
static int64_t
s_days_from_civil (int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

//  Parses item i of list (a YYYY-MM-DD string within year) into *day.
static int
s_read_day (sq_ctx_t *ctx, const char *field, const msgpack_object *list, uint32_t i,
            int64_t year, int64_t *day)
{
    static const int lengths[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    char text[16] = "";
    bool ok = sq_obj_str_copy (&list->via.array.ptr[i], text, sizeof text) == 0
              && strlen (text) == 10 && text[4] == '-' && text[7] == '-';
    for (int c = 0; ok && c < 10; c++)
        ok = c == 4 || c == 7 || (text[c] >= '0' && text[c] <= '9');
    int64_t y = ok ? strtoll (text, NULL, 10) : 0;
    int m = ok ? (int) strtol (text + 5, NULL, 10) : 0, d = ok ? (int) strtol (text + 8, NULL, 10) : 0;
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    ok = ok && y == year && m >= 1 && m <= 12 && d >= 1 && d <= lengths[m - 1] + (m == 2 && leap);
    if (!ok)
        return sq_error_set (&ctx->err, SQ_ERR_INVALID, field, "%s item %u must be a real date"
                             " YYYY-MM-DD in %" PRId64, field, i + 1, year);
    *day = s_days_from_civil (y, m, d);
    return 0;
}

//  Appends (day, kind) rows to the VALUES text of the insert.
static int
s_read_days (sq_ctx_t *ctx, const char *field, const msgpack_object *list, int64_t year,
             const char *kind, char **values, size_t *used, size_t *size, int64_t *seen,
             int *seen_count)
{
    for (uint32_t i = 0; list && i < list->via.array.size; i++) {
        int64_t day = 0;
        if (s_read_day (ctx, field, list, i, year, &day))
            return -1;
        int weekday = disputes_weekday (day);
        if (strcmp (kind, "workday") == 0 && weekday != 0 && weekday != 6)
            return sq_error_set (&ctx->err, SQ_ERR_INVALID, field, "%s item %u is a weekday;"
                                 " an adjusted workday is a Saturday or Sunday worked", field,
                                 i + 1);
        for (int s = 0; s < *seen_count; s++)
            if (seen[s] == day)
                return sq_error_set (&ctx->err, SQ_ERR_INVALID, field, "%s item %u: the day is"
                                     " given twice", field, i + 1);
        seen[(*seen_count)++] = day;
        if (*size - *used < 64) {
            *size *= 2;
            char *bigger = realloc (*values, *size);
            if (!bigger)
                return sq_error_set (&ctx->err, SQ_ERR_INTERNAL, "", "out of memory");
            *values = bigger;
        }
        *used += (size_t) snprintf (*values + *used, *size - *used, "%s%" PRId64 ":%s",
                                    *used ? "," : "", day, kind);
    }
    return 0;
}

int
disputes_calendar_put (sq_ctx_t *ctx)
{
    int64_t year = 0;
    const msgpack_object *holidays = NULL, *workdays = NULL;
    if (sq_ctx_require_role (ctx, s_policy_writers)
        || sq_arg_int (ctx->args, "year", true, 2000, 2100, &year, &ctx->err) < 0
        || sq_arg_array (ctx->args, "holidays", true, 366, &holidays, &ctx->err) < 0
        || sq_arg_array (ctx->args, "workdays", false, 366, &workdays, &ctx->err) < 0)
        return -1;
    int64_t *seen = calloc (2 * 366 + 1, sizeof *seen);
    size_t size = 1024, used = 0;
    char *values = malloc (size);
    int seen_count = 0, rc = seen && values ? 0 : -1;
    if (rc == 0) {
        values[0] = 0;
        rc = s_read_days (ctx, "holidays", holidays, year, "holiday", &values, &used, &size,
                          seen, &seen_count)
             || s_read_days (ctx, "workdays", workdays, year, "workday", &values, &used, &size,
                             seen, &seen_count) ? -1 : 0;
    } else
        sq_error_set (&ctx->err, SQ_ERR_INTERNAL, "", "out of memory");
    char year_text[16];
    snprintf (year_text, sizeof year_text, "%" PRId64, year);
    //  The year's entries are replaced as a whole: the published arrangement of a year.
    const char *params[] = {year_text, values};
    if (rc == 0)
        rc = sq_db_exec (ctx->db, "DELETE FROM disputes.calendar_day"
                         " WHERE extract (year FROM day) = $1::int", 1, params, &ctx->err);
    if (rc == 0 && used)
        rc = sq_db_exec (ctx->db, "INSERT INTO disputes.calendar_day (day, kind)"
                         " SELECT date '1970-01-01' + split_part (e, ':', 1)::int,"
                         " split_part (e, ':', 2) FROM unnest (string_to_array ($1, ',')) AS e",
                         1, params + 1, &ctx->err);
    free (seen);
    free (values);
    if (rc)
        return -1;
    return disputes_calendar_get (ctx);
}

int
disputes_calendar_get (sq_ctx_t *ctx)
{
    int64_t year = 0;
    if (sq_ctx_require_role (ctx, disputes_readers)
        || sq_arg_int (ctx->args, "year", true, 2000, 2100, &year, &ctx->err) < 0)
        return -1;
    char year_text[16];
    snprintf (year_text, sizeof year_text, "%" PRId64, year);
    const char *params[] = {year_text};
    PGresult *res = sq_db_query (ctx->db, "SELECT to_char (day, 'YYYY-MM-DD'), kind"
                                 " FROM disputes.calendar_day WHERE extract (year FROM day)"
                                 " = $1::int ORDER BY day", 1, params, &ctx->err);
    if (!res)
        return -1;
    msgpack_pack_map (ctx->pk, 3);
    sq_pack_kv_int (ctx->pk, "year", year);
    for (int pass = 0; pass < 2; pass++) {
        const char *kind = pass == 0 ? "holiday" : "workday";
        int count = 0;
        for (int i = 0; i < PQntuples (res); i++)
            count += strcmp (PQgetvalue (res, i, 1), kind) == 0;
        sq_pack_str (ctx->pk, pass == 0 ? "holidays" : "workdays");
        msgpack_pack_array (ctx->pk, (size_t) count);
        for (int i = 0; i < PQntuples (res); i++)
            if (strcmp (PQgetvalue (res, i, 1), kind) == 0)
                sq_pack_str (ctx->pk, PQgetvalue (res, i, 0));
    }
    PQclear (res);
    return 0;
}
