/*  admission catalogues: two per county, every change a new version (issue 4). */
#include "admission.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const s_lists[] = {"self_governance", "assist_government", NULL};
static const char *const s_editors[] = {"community_office", "operator", NULL};
static const int s_county[] = {6, 0};

//  Checks the editor and the county (in scope, known to the registry); serialises the
//  county's catalogue changes. Returns the current version, or -1 with ctx->err set.
static int
s_open_county (sq_ctx_t *ctx, char county[SQ_DIV_MAX])
{
    if (sq_ctx_require_role (ctx, s_editors)
        || admission_read_code (ctx, "county", true, s_county, county) < 0
        || sq_ctx_require_scope (ctx, county, "county"))
        return -1;
    msgpack_sbuffer args;
    msgpack_sbuffer_init (&args);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &args, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, 1);
    sq_pack_kv_str (&pk, "code", county);
    sq_reply_t *reply = sq_ctx_call (ctx, "registry", "division.get", args.data, args.size, 0);
    msgpack_sbuffer_destroy (&args);
    if (!reply) {
        snprintf (ctx->err.field, sizeof ctx->err.field, "county");
        return -1;
    }
    sq_reply_destroy (&reply);
    const char *params[] = {county};
    if (sq_db_exec (ctx->db, "SELECT pg_advisory_xact_lock (hashtext ('admission.catalog.' || $1))",
                    1, params, &ctx->err))
        return -1;
    return admission_catalog_version (ctx, county);
}

//  Records version of county with what changed; emits admission.catalog_changed.
static int
s_new_version (sq_ctx_t *ctx, const char *county, int version, const char *change,
               const char *list, const char *code)
{
    char version_text[16], at[24];
    snprintf (version_text, sizeof version_text, "%d", version);
    snprintf (at, sizeof at, "%" PRId64, sq_now_us ());
    char what[160];
    snprintf (what, sizeof what, "%s %s/%s", change, list, code);
    const char *params[] = {county, version_text, at, ctx->actor->id, what};
    if (sq_db_exec (ctx->db, "INSERT INTO admission.catalog_version (county, version, changed_at,"
                    " actor, change) VALUES ($1, $2::int, $3::bigint, $4, $5)", 5, params,
                    &ctx->err))
        return -1;
    sq_data_t data;
    sq_data_begin (&data);
    msgpack_pack_map (&data.pk, 5);
    sq_pack_kv_str (&data.pk, "county", county);
    sq_pack_kv_int (&data.pk, "version", version);
    sq_pack_kv_str (&data.pk, "change", change);
    sq_pack_kv_str (&data.pk, "list", list);
    sq_pack_kv_str (&data.pk, "code", code);
    return sq_ctx_emit_data (ctx, &data, "catalog_changed", county);
}

static void
s_pack_version (sq_ctx_t *ctx, const char *county, const char *code, int version, bool changed)
{
    msgpack_pack_map (ctx->pk, 4);
    sq_pack_kv_str (ctx->pk, "county", county);
    sq_pack_kv_str (ctx->pk, "code", code);
    sq_pack_kv_int (ctx->pk, "version", version);
    sq_pack_kv_bool (ctx->pk, "changed", changed);
}

int
admission_catalog_put (sq_ctx_t *ctx)
{
    char county[SQ_DIV_MAX], code[ADMISSION_CODE_MAX + 1], name[ADMISSION_TEXT_MAX + 1];
    char department[ADMISSION_TEXT_MAX + 1], basis[ADMISSION_TEXT_MAX + 1] = "";
    int list = 0;
    int version = s_open_county (ctx, county);
    if (version < 0 || sq_arg_enum (ctx->args, "list", true, s_lists, &list, &ctx->err) < 0
        || sq_arg_str (ctx->args, "code", true, ADMISSION_CODE_MAX, code, sizeof code, &ctx->err) < 0
        || sq_arg_str (ctx->args, "name", true, ADMISSION_TEXT_MAX, name, sizeof name, &ctx->err) < 0
        || sq_arg_str (ctx->args, "department", true, ADMISSION_TEXT_MAX, department,
                       sizeof department, &ctx->err) < 0
        || sq_arg_str (ctx->args, "legal_basis", false, ADMISSION_TEXT_MAX, basis, sizeof basis,
                       &ctx->err) < 0)
        return -1;
    if (!code[0] || !name[0] || !department[0])
        return sq_error_set (&ctx->err, SQ_ERR_INVALID, !code[0] ? "code" : !name[0] ? "name"
                             : "department", "code, name and department must not be empty");
    const char *same[] = {county, code, s_lists[list], name, department, basis};
    PGresult *res = sq_db_query (
        ctx->db, "SELECT (list, name, department, coalesce (legal_basis, ''))"
        " = ($3, $4, $5, $6) FROM admission.catalog_item WHERE county = $1 AND code = $2"
        " AND to_version IS NULL", 6, same, &ctx->err);
    if (!res)
        return -1;
    int exists = PQntuples (res) == 1, unchanged = exists && !strcmp (PQgetvalue (res, 0, 0), "t");
    PQclear (res);
    if (unchanged) { //  putting what is there already changes nothing
        s_pack_version (ctx, county, code, version, false);
        return 0;
    }
    char next[16];
    snprintf (next, sizeof next, "%d", version + 1);
    const char *close[] = {county, code, next};
    const char *insert[] = {county, s_lists[list], code, name, department, basis[0] ? basis : NULL,
                            next};
    if (sq_db_exec (ctx->db, "UPDATE admission.catalog_item SET to_version = $3::int"
                    " WHERE county = $1 AND code = $2 AND to_version IS NULL", 3, close, &ctx->err)
        || sq_db_exec (ctx->db, "INSERT INTO admission.catalog_item (county, list, code, name,"
                       " department, legal_basis, from_version) VALUES ($1, $2, $3, $4, $5, $6,"
                       " $7::int)", 7, insert, &ctx->err)
        || s_new_version (ctx, county, version + 1, "put", s_lists[list], code))
        return -1;
    s_pack_version (ctx, county, code, version + 1, true);
    return 0;
}

int
admission_catalog_remove (sq_ctx_t *ctx)
{
    char county[SQ_DIV_MAX], code[ADMISSION_CODE_MAX + 1];
    int version = s_open_county (ctx, county);
    if (version < 0
        || sq_arg_str (ctx->args, "code", true, ADMISSION_CODE_MAX, code, sizeof code, &ctx->err) < 0)
        return -1;
    char next[16];
    snprintf (next, sizeof next, "%d", version + 1);
    const char *params[] = {county, code, next};
    PGresult *res = sq_db_query (ctx->db, "UPDATE admission.catalog_item SET to_version = $3::int"
                                 " WHERE county = $1 AND code = $2 AND to_version IS NULL"
                                 " RETURNING list", 3, params, &ctx->err);
    if (!res)
        return -1;
    char list[32] = "";
    if (PQntuples (res) == 1)
        snprintf (list, sizeof list, "%s", PQgetvalue (res, 0, 0));
    PQclear (res);
    if (!list[0])
        return sq_error_set (&ctx->err, SQ_ERR_NOT_FOUND, "code",
                             "county %s has no catalogue item %s", county, code);
    if (s_new_version (ctx, county, version + 1, "remove", list, code))
        return -1;
    s_pack_version (ctx, county, code, version + 1, true);
    return 0;
}

int
admission_catalog_list (sq_ctx_t *ctx)
{
    char county[SQ_DIV_MAX];
    int list = -1;
    int64_t version = -1;
    if (admission_read_code (ctx, "county", true, s_county, county) < 0
        || sq_arg_enum (ctx->args, "list", false, s_lists, &list, &ctx->err) < 0
        || sq_arg_int (ctx->args, "version", false, 0, INT32_MAX, &version, &ctx->err) < 0)
        return -1;
    int current = admission_catalog_version (ctx, county);
    if (current < 0)
        return -1;
    if (version > current)
        return sq_error_set (&ctx->err, SQ_ERR_NOT_FOUND, "version",
                             "county %s has no catalogue version %" PRId64, county, version);
    char at[16];
    snprintf (at, sizeof at, "%d", version < 0 ? current : (int) version);
    const char *params[] = {county, at, list < 0 ? NULL : s_lists[list]};
    PGresult *res = sq_db_query (
        ctx->db, "SELECT list, code, name, department, legal_basis FROM admission.catalog_item"
        " WHERE county = $1 AND from_version <= $2::int AND (to_version IS NULL OR to_version >"
        " $2::int) AND ($3::text IS NULL OR list = $3) ORDER BY list, code", 3, params, &ctx->err);
    if (!res)
        return -1;
    msgpack_pack_map (ctx->pk, 3);
    sq_pack_kv_str (ctx->pk, "county", county);
    sq_pack_kv_int (ctx->pk, "version", strtol (at, NULL, 10));
    sq_pack_str (ctx->pk, "items");
    msgpack_pack_array (ctx->pk, (size_t) PQntuples (res));
    for (int i = 0; i < PQntuples (res); i++) {
        msgpack_pack_map (ctx->pk, 5);
        for (int c = 0; c < 5; c++)
            sq_pack_kv_str (ctx->pk, PQfname (res, c),
                            PQgetisnull (res, i, c) ? NULL : PQgetvalue (res, i, c));
    }
    PQclear (res);
    return 0;
}
