/*  disputes figures (stats.get) for any level of territory: cases filed in [from, to) by
    status, category and level; resolution rate; on-time rate per deadline; median time to
    resolution; and the locally-resolved share (小事不出村，大事不出镇). Counted in SQL,
    derived in figures.c, read through the Redis cache, which is checked against the
    outbox so it always equals the database (sq_cache.h). */
#include "disputes.h"
#include "figures.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  One row per (status, level, resolved_level, category) with its count and how many of
//  those are marked overdue in their running stage.
static const char *s_counts_sql =
    "SELECT status, level, coalesce (resolved_level, ''), category, count (*),"
    " count (*) FILTER (WHERE EXISTS (SELECT 1 FROM disputes.overdue o WHERE o.dispute = d.id"
    " AND o.stage_step = d.stage_step) AND status IN ('filed', 'accepted', 'mediating',"
    " 'resolved', 'escalated'))"
    " FROM disputes.dispute d WHERE d.community LIKE $1 || '%' AND d.filed_at >= $2::bigint"
    " AND d.filed_at < $3::bigint GROUP BY 1, 2, 3, 4";

static const char *s_deadlines_sql =
    "SELECT s.deadline, count (*), count (*) FILTER (WHERE s.on_time)"
    " FROM disputes.step s JOIN disputes.dispute d ON d.id = s.dispute"
    " WHERE s.deadline IS NOT NULL AND d.community LIKE $1 || '%'"
    " AND d.filed_at >= $2::bigint AND d.filed_at < $3::bigint GROUP BY 1";

static const char *s_durations_sql =
    "SELECT resolved_at - filed_at FROM disputes.dispute d WHERE d.community LIKE $1 || '%'"
    " AND d.filed_at >= $2::bigint AND d.filed_at < $3::bigint"
    " AND d.status IN ('resolved', 'closed')";

typedef struct {
    sq_ctx_t *ctx;
    const char *division;
    int64_t from, to;
} s_stats_t;

//  The index of a level name, or -1 (an empty resolved_level: not resolved).
static int
s_level_index (const char *name)
{
    disputes_level_t level;
    return disputes_level_parse (name, &level) == 0 ? (int) level : -1;
}

static int
s_category_index (const char *name)
{
    for (int i = 0; disputes_categories[i]; i++)
        if (strcmp (name, disputes_categories[i]) == 0)
            return i;
    return -1;
}

//  Adds the rows of s_counts_sql to counts and categories (indexed as disputes_categories).
static void
s_gather (PGresult *res, disputes_counts_t *counts, int64_t *categories)
{
    for (int i = 0; i < PQntuples (res); i++) {
        disputes_status_t status;
        int level = s_level_index (PQgetvalue (res, i, 1));
        int resolved_at = s_level_index (PQgetvalue (res, i, 2));
        int category = s_category_index (PQgetvalue (res, i, 3));
        int64_t n = strtoll (PQgetvalue (res, i, 4), NULL, 10);
        if (disputes_status_parse (PQgetvalue (res, i, 0), &status) || level < 0)
            continue; //  the schema's CHECKs make this impossible
        counts->by_status[status] += n;
        counts->by_level[level] += n;
        counts->overdue_open += strtoll (PQgetvalue (res, i, 5), NULL, 10);
        if (status == DISPUTES_FAILED && level == DISPUTES_DISTRICT)
            counts->failed_final += n;
        if ((status == DISPUTES_RESOLVED || status == DISPUTES_CLOSED) && resolved_at >= 0)
            counts->resolved_at[resolved_at] += n;
        if (category >= 0)
            categories[category] += n;
    }
}

static void
s_pack_ratio (msgpack_packer *pk, const char *key, disputes_ratio_t r)
{
    if (r.defined)
        sq_pack_kv_double (pk, key, r.value);
    else
        sq_pack_kv_nil (pk, key);
}

static void
s_pack_figures (msgpack_packer *pk, const s_stats_t *s, const disputes_counts_t *c,
                const int64_t *categories, int category_count, int64_t *durations,
                size_t duration_count)
{
    static const char *const deadlines[] = {"accept", "resolve", "followup"};
    static const char *const local[] = {"community", "street", "above"};
    msgpack_pack_map (pk, 15);
    sq_pack_kv_str (pk, "division", s->division);
    sq_pack_kv_int (pk, "from", s->from);
    sq_pack_kv_int (pk, "to", s->to);
    sq_pack_kv_int (pk, "total", disputes_total (c));
    sq_pack_str (pk, "by_status");
    msgpack_pack_map (pk, DISPUTES_STATUS_COUNT);
    for (int st = 0; st < DISPUTES_STATUS_COUNT; st++)
        sq_pack_kv_int (pk, disputes_status_name ((disputes_status_t) st), c->by_status[st]);
    sq_pack_str (pk, "by_category");
    msgpack_pack_map (pk, (size_t) category_count);
    for (int i = 0; i < category_count; i++)
        sq_pack_kv_int (pk, disputes_categories[i], categories[i]);
    sq_pack_str (pk, "by_level");
    msgpack_pack_map (pk, DISPUTES_LEVEL_COUNT);
    for (int l = 0; l < DISPUTES_LEVEL_COUNT; l++)
        sq_pack_kv_int (pk, disputes_level_name ((disputes_level_t) l), c->by_level[l]);
    sq_pack_kv_int (pk, "resolved", disputes_resolved (c));
    sq_pack_kv_int (pk, "ended", disputes_ended (c));
    s_pack_ratio (pk, "resolution_rate", disputes_resolution_rate (c));
    sq_pack_str (pk, "on_time");
    msgpack_pack_map (pk, DISPUTES_JUDGED_DEADLINES);
    for (int d = 0; d < DISPUTES_JUDGED_DEADLINES; d++) {
        sq_pack_str (pk, deadlines[d]);
        msgpack_pack_map (pk, 3);
        sq_pack_kv_int (pk, "judged", c->judged[d]);
        sq_pack_kv_int (pk, "on_time", c->on_time[d]);
        s_pack_ratio (pk, "rate", disputes_ratio (c->on_time[d], c->judged[d]));
    }
    int64_t median = 0;
    bool has_median = disputes_median (durations, duration_count, &median) == 0;
    if (has_median) {
        sq_pack_kv_int (pk, "median_us_to_resolution", median);
        sq_pack_kv_double (pk, "median_days_to_resolution", (double) median / DISPUTES_DAY_US);
    } else {
        sq_pack_kv_nil (pk, "median_us_to_resolution");
        sq_pack_kv_nil (pk, "median_days_to_resolution");
    }
    disputes_local_t shares;
    disputes_locally_resolved (c, &shares);
    sq_pack_str (pk, "locally_resolved");
    msgpack_pack_map (pk, 3);
    for (int i = 0; i < 3; i++) {
        sq_pack_str (pk, local[i]);
        msgpack_pack_map (pk, 2);
        sq_pack_kv_int (pk, "count", shares.count[i]);
        s_pack_ratio (pk, "share", shares.share[i]);
    }
    sq_pack_kv_int (pk, "overdue_open", c->overdue_open);
}

static int
s_compute (void *arg, msgpack_packer *pk, sq_error_t *err)
{
    s_stats_t *s = arg;
    char from[24], to[24];
    snprintf (from, sizeof from, "%" PRId64, s->from);
    snprintf (to, sizeof to, "%" PRId64, s->to);
    const char *params[] = {s->division, from, to};
    PGresult *counts_res = sq_db_query (s->ctx->db, s_counts_sql, 3, params, err);
    PGresult *deadlines_res = counts_res ? sq_db_query (s->ctx->db, s_deadlines_sql, 3, params,
                                                        err) : NULL;
    PGresult *durations_res = deadlines_res ? sq_db_query (s->ctx->db, s_durations_sql, 3,
                                                           params, err) : NULL;
    int category_count = 0;
    while (disputes_categories[category_count])
        category_count++;
    int64_t *categories = calloc ((size_t) category_count + 1, sizeof *categories);
    size_t duration_count = durations_res ? (size_t) PQntuples (durations_res) : 0;
    int64_t *durations = calloc (duration_count + 1, sizeof *durations);
    int rc = durations_res && categories && durations ? 0 : -1;
    if (rc == 0) {
        disputes_counts_t counts = {0};
        s_gather (counts_res, &counts, categories);
        for (int i = 0; i < PQntuples (deadlines_res); i++) {
            const char *name = PQgetvalue (deadlines_res, i, 0);
            int d = strcmp (name, "accept") == 0 ? 0 : strcmp (name, "resolve") == 0 ? 1 : 2;
            counts.judged[d] += strtoll (PQgetvalue (deadlines_res, i, 1), NULL, 10);
            counts.on_time[d] += strtoll (PQgetvalue (deadlines_res, i, 2), NULL, 10);
        }
        for (size_t i = 0; i < duration_count; i++)
            durations[i] = strtoll (PQgetvalue (durations_res, (int) i, 0), NULL, 10);
        s_pack_figures (pk, s, &counts, categories, category_count, durations, duration_count);
    } else if (durations_res)
        sq_error_set (err, SQ_ERR_INTERNAL, "", "out of memory");
    free (categories);
    free (durations);
    PQclear (counts_res);
    PQclear (deadlines_res);
    PQclear (durations_res);
    return rc;
}

int
disputes_stats_get (sq_ctx_t *ctx)
{
    char division[SQ_DIV_MAX];
    s_stats_t s = {ctx, division, 0, 0};
    if (sq_ctx_require_role (ctx, disputes_readers)
        || disputes_read_division (ctx, "division", division)
        || sq_arg_int (ctx->args, "from", true, 0, INT64_MAX, &s.from, &ctx->err) < 0
        || sq_arg_int (ctx->args, "to", true, 0, INT64_MAX, &s.to, &ctx->err) < 0
        || sq_ctx_require_scope (ctx, division, "division"))
        return -1;
    if (s.to <= s.from)
        return sq_error_set (&ctx->err, SQ_ERR_INVALID, "to", "to must be after from");
    char key[96];
    snprintf (key, sizeof key, "shequ:disputes:stats:%s:%" PRId64 ":%" PRId64, division, s.from,
              s.to);
    bool hit = false;
    return sq_cache_fetch (ctx->cache, ctx->db, "disputes", key, s_compute, &s, ctx->pk, &hit,
                           &ctx->err);
}
