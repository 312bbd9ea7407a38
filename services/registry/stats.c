/*  registry statistics for any division, aggregated over its subtree: read through the
    Redis cache, validated against the outbox so it always equals the database (sq_cache.h). */
#include "registry.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  One statement, one snapshot: every figure is consistent with every other.
static const char *s_stats_sql =
    "SELECT d.name, d.level,"
    " (SELECT count(*) FROM registry.division c WHERE c.level = 'community'"
    "   AND c.code LIKE $1 || '%' AND c.kind = 'urban_community'),"
    " (SELECT count(*) FROM registry.division c WHERE c.level = 'community'"
    "   AND c.code LIKE $1 || '%' AND c.kind = 'rural_community'),"
    " (SELECT count(*) FROM registry.division c WHERE c.level = 'community'"
    "   AND c.code LIKE $1 || '%' AND c.kind = 'village'),"
    " (SELECT count(*) FROM registry.grid WHERE community LIKE $1 || '%'),"
    " (SELECT count(*) FROM registry.household WHERE community LIKE $1 || '%'),"
    " r.registered, r.permanent, r.floating, r.party,"
    " (SELECT count(*) FROM registry.volunteer v JOIN registry.resident p ON p.id = v.resident"
    "   WHERE p.status = 'active' AND p.community LIKE $1 || '%'),"
    " s.total, s.full_time, s.social_workers, s.grid_workers"
    " FROM registry.division d,"
    " (SELECT count(*) FILTER (WHERE residency = 'registered') AS registered,"
    "   count(*) FILTER (WHERE residency = 'permanent') AS permanent,"
    "   count(*) FILTER (WHERE residency = 'floating') AS floating,"
    "   count(*) FILTER (WHERE party_member) AS party"
    "   FROM registry.resident WHERE status = 'active' AND community LIKE $1 || '%') r,"
    " (SELECT count(*) AS total, count(*) FILTER (WHERE role = 'full_time') AS full_time,"
    "   count(*) FILTER (WHERE role = 'social_worker') AS social_workers,"
    "   count(*) FILTER (WHERE role = 'grid_worker') AS grid_workers"
    "   FROM registry.staff WHERE community LIKE $1 || '%') s"
    " WHERE d.code = $1";

typedef struct {
    sq_ctx_t *ctx;             //  the command
    const char *division;      //  code asked for
} s_stats_t;

static int64_t
s_int (PGresult *res, int column)
{
    return strtoll (PQgetvalue (res, 0, column), NULL, 10);
}

//  Packs the figures of one division (sq_cache_compute_fn).
static int
s_compute (void *arg, msgpack_packer *pk, sq_error_t *err)
{
    s_stats_t *stats = arg;
    const char *params[] = {stats->division};
    PGresult *res = sq_db_query (stats->ctx->db, s_stats_sql, 1, params, err);
    if (!res)
        return -1;
    if (PQntuples (res) != 1) {
        PQclear (res);
        return sq_error_set (err, SQ_ERR_NOT_FOUND, "division", "division %s does not exist",
                             stats->division);
    }
    int64_t residents = s_int (res, 7) + s_int (res, 8) + s_int (res, 9);
    int64_t households = s_int (res, 6), volunteers = s_int (res, 11), full_time = s_int (res, 13);
    msgpack_pack_map (pk, 12);
    sq_pack_kv_str (pk, "division", stats->division);
    sq_pack_kv_str (pk, "name", PQgetvalue (res, 0, 0));
    sq_pack_kv_str (pk, "level", PQgetvalue (res, 0, 1));
    sq_pack_str (pk, "communities");
    msgpack_pack_map (pk, 4);
    sq_pack_kv_int (pk, "total", s_int (res, 2) + s_int (res, 3) + s_int (res, 4));
    sq_pack_kv_int (pk, "urban_community", s_int (res, 2));
    sq_pack_kv_int (pk, "rural_community", s_int (res, 3));
    sq_pack_kv_int (pk, "village", s_int (res, 4));
    sq_pack_kv_int (pk, "grids", s_int (res, 5));
    sq_pack_kv_int (pk, "households", households);
    sq_pack_str (pk, "residents");
    msgpack_pack_map (pk, 4);
    sq_pack_kv_int (pk, "total", residents);
    sq_pack_kv_int (pk, "registered", s_int (res, 7));
    sq_pack_kv_int (pk, "permanent", s_int (res, 8));
    sq_pack_kv_int (pk, "floating", s_int (res, 9));
    sq_pack_kv_int (pk, "party_members", s_int (res, 10));
    sq_pack_kv_int (pk, "volunteers", volunteers);
    sq_pack_kv_double (pk, "volunteer_rate", residents ? (double) volunteers / residents : 0.0);
    sq_pack_str (pk, "staff");
    msgpack_pack_map (pk, 4);
    sq_pack_kv_int (pk, "total", s_int (res, 12));
    sq_pack_kv_int (pk, "full_time", full_time);
    sq_pack_kv_int (pk, "social_worker", s_int (res, 14));
    sq_pack_kv_int (pk, "grid_worker", s_int (res, 15));
    if (full_time)
        sq_pack_kv_double (pk, "households_per_full_time_worker",
                           (double) households / full_time);
    else
        sq_pack_kv_nil (pk, "households_per_full_time_worker");
    PQclear (res);
    return 0;
}

int
registry_stats_get (sq_ctx_t *ctx)
{
    char division[SQ_DIV_MAX];
    if (sq_arg_str (ctx->args, "division", true, 12, division, sizeof division, &ctx->err) < 0)
        return -1;
    size_t len = strlen (division);
    if (!sq_is_digits (division, 0) || (len != 2 && len != 4 && len != 6 && len != 9 && len != 12))
        return sq_error_set (&ctx->err, SQ_ERR_INVALID, "division",
                             "division must be a division code of 2, 4, 6, 9 or 12 digits");
    if (sq_ctx_require_scope (ctx, division, "division"))
        return -1;
    char key[64];
    snprintf (key, sizeof key, "shequ:registry:stats:%s", division);
    s_stats_t stats = {ctx, division};
    bool hit = false;
    return sq_cache_fetch (ctx->cache, ctx->db, "registry", key, s_compute, &stats, ctx->pk,
                           &hit, &ctx->err);
}
