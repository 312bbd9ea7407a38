/*  admission burden figures (减负): what departments asked of each community in a year, what
    was admitted and with what money, what was turned away and why. Read through the Redis
    cache, validated against the outbox so it always equals the database (sq_cache.h). */
#include "admission.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BURDEN_DEPARTMENTS_MAX "10" //  departments listed as sending most rejected work

//  Per community of the division, for applications submitted in the year (UTC).
static const char *s_communities_sql =
    "SELECT t.community,"
    " count (*) FILTER (WHERE a.status = 'approved'),"
    " count (*) FILTER (WHERE a.status IN ('rejected', 'refused')),"
    " coalesce (sum (t.funds) FILTER (WHERE a.status = 'approved'), 0),"
    " count (*) FILTER (WHERE a.kind = 'meeting'),"
    " count (*) FILTER (WHERE a.kind = 'report')"
    " FROM admission.application_target t JOIN admission.application a ON a.id = t.application"
    " WHERE t.community LIKE $1 || '%' AND a.submitted_at >= $2::bigint"
    " AND a.submitted_at < $3::bigint GROUP BY t.community ORDER BY t.community";

//  Rejections by rule per community (screening rules, or 'review').
static const char *s_reasons_sql =
    "SELECT t.community, r.rule, count (*) FROM admission.application_target t"
    " JOIN admission.application a ON a.id = t.application,"
    " unnest (a.reason_rules) AS r (rule)"
    " WHERE a.status IN ('rejected', 'refused') AND t.community LIKE $1 || '%'"
    " AND a.submitted_at >= $2::bigint AND a.submitted_at < $3::bigint"
    " GROUP BY t.community, r.rule ORDER BY t.community, r.rule";

//  Departments whose applications to the division were turned away most.
static const char *s_departments_sql =
    "SELECT a.department, count (*) FROM admission.application a"
    " WHERE a.status IN ('rejected', 'refused') AND a.submitted_at >= $2::bigint"
    " AND a.submitted_at < $3::bigint AND EXISTS (SELECT 1 FROM admission.application_target t"
    " WHERE t.application = a.id AND t.community LIKE $1 || '%')"
    " GROUP BY a.department ORDER BY count (*) DESC, a.department LIMIT " BURDEN_DEPARTMENTS_MAX;

typedef struct {
    sq_ctx_t *ctx;
    const char *division;
    int64_t year;
} s_burden_t;

//  Packs one community's figures; reasons holds (community, rule, count) rows from *next.
static void
s_pack_community (msgpack_packer *pk, PGresult *rows, int i, PGresult *reasons, int *next)
{
    const char *community = PQgetvalue (rows, i, 0);
    int first = *next, last = *next;
    while (last < PQntuples (reasons) && !strcmp (PQgetvalue (reasons, last, 0), community))
        last++;
    *next = last;
    msgpack_pack_map (pk, 7);
    sq_pack_kv_str (pk, "community", community);
    sq_pack_kv_int (pk, "admitted", strtoll (PQgetvalue (rows, i, 1), NULL, 10));
    sq_pack_kv_int (pk, "rejected", strtoll (PQgetvalue (rows, i, 2), NULL, 10));
    sq_pack_str (pk, "rejected_by_reason");
    msgpack_pack_map (pk, (size_t) (last - first));
    for (int r = first; r < last; r++)
        sq_pack_kv_int (pk, PQgetvalue (reasons, r, 1), strtoll (PQgetvalue (reasons, r, 2), NULL, 10));
    sq_pack_kv_int (pk, "funds", strtoll (PQgetvalue (rows, i, 3), NULL, 10));
    sq_pack_kv_int (pk, "meetings", strtoll (PQgetvalue (rows, i, 4), NULL, 10));
    sq_pack_kv_int (pk, "reports", strtoll (PQgetvalue (rows, i, 5), NULL, 10));
}

static int
s_compute (void *arg, msgpack_packer *pk, sq_error_t *err)
{
    s_burden_t *b = arg;
    char from[24], to[24];
    //  Microseconds of 1 January 00:00 UTC of the year and of the next (days from 1970).
    int64_t days_from = 0;
    for (int64_t y = 1970; y < b->year; y++)
        days_from += (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 ? 366 : 365;
    int64_t leap = (b->year % 4 == 0 && b->year % 100 != 0) || b->year % 400 == 0;
    snprintf (from, sizeof from, "%lld", (long long) (days_from * 86400LL * 1000000LL));
    snprintf (to, sizeof to, "%lld", (long long) ((days_from + 365 + leap) * 86400LL * 1000000LL));
    const char *params[] = {b->division, from, to};
    PGresult *rows = sq_db_query (b->ctx->db, s_communities_sql, 3, params, err);
    PGresult *reasons = rows ? sq_db_query (b->ctx->db, s_reasons_sql, 3, params, err) : NULL;
    PGresult *departments = reasons ? sq_db_query (b->ctx->db, s_departments_sql, 3, params, err)
                                    : NULL;
    if (!departments) {
        PQclear (rows);
        PQclear (reasons);
        return -1;
    }
    msgpack_pack_map (pk, 4);
    sq_pack_kv_str (pk, "division", b->division);
    sq_pack_kv_int (pk, "year", b->year);
    sq_pack_str (pk, "communities");
    msgpack_pack_array (pk, (size_t) PQntuples (rows));
    for (int i = 0, next = 0; i < PQntuples (rows); i++)
        s_pack_community (pk, rows, i, reasons, &next);
    sq_pack_str (pk, "departments_most_rejected");
    msgpack_pack_array (pk, (size_t) PQntuples (departments));
    for (int i = 0; i < PQntuples (departments); i++) {
        msgpack_pack_map (pk, 2);
        sq_pack_kv_str (pk, "department", PQgetvalue (departments, i, 0));
        sq_pack_kv_int (pk, "rejected", strtoll (PQgetvalue (departments, i, 1), NULL, 10));
    }
    PQclear (rows);
    PQclear (reasons);
    PQclear (departments);
    return 0;
}

int
admission_burden_get (sq_ctx_t *ctx)
{
    static const int levels[] = {2, 4, 6, 9, 12, 0};
    char division[SQ_DIV_MAX];
    int64_t year = 0;
    if (admission_read_code (ctx, "division", true, levels, division) < 0
        || sq_arg_int (ctx->args, "year", true, 2000, 2100, &year, &ctx->err) < 0
        || sq_ctx_require_scope (ctx, division, "division"))
        return -1;
    char key[80];
    snprintf (key, sizeof key, "shequ:admission:burden:%s:%lld", division, (long long) year);
    s_burden_t burden = {ctx, division, year};
    bool hit = false;
    return sq_cache_fetch (ctx->cache, ctx->db, "admission", key, s_compute, &burden, ctx->pk,
                           &hit, &ctx->err);
}
