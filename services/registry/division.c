/*  registry divisions: import of the official division codes, lookups. */
#include "divisions_csv.h"
#include "registry.h"
#include "rules.h"

#include <inttypes.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

static const char *const s_importers[] = {"operator", NULL};

//  Appends one element to a PostgreSQL array literal being built ("{" already written).
static void
s_array_add (msgpack_sbuffer *buf, const char *value, int first)
{
    if (!first)
        msgpack_sbuffer_write (buf, ",", 1);
    if (!value) {
        msgpack_sbuffer_write (buf, "NULL", 4);
        return;
    }
    msgpack_sbuffer_write (buf, "\"", 1);
    for (const char *p = value; *p; p++) {
        if (*p == '"' || *p == '\\')
            msgpack_sbuffer_write (buf, "\\", 1);
        msgpack_sbuffer_write (buf, p, 1);
    }
    msgpack_sbuffer_write (buf, "\"", 1);
}

//  Upserts every row in one statement; counts rows inserted and updated.
static int
s_upsert (sq_ctx_t *ctx, const registry_divisions_t *rows, int64_t *inserted, int64_t *updated)
{
    msgpack_sbuffer columns[5];
    for (int c = 0; c < 5; c++) {
        msgpack_sbuffer_init (&columns[c]);
        msgpack_sbuffer_write (&columns[c], "{", 1);
    }
    size_t count = registry_divisions_count (rows);
    for (size_t i = 0; i < count; i++) {
        const registry_division_t *row = registry_divisions_row (rows, i);
        s_array_add (&columns[0], row->code, i == 0);
        s_array_add (&columns[1], row->name, i == 0);
        s_array_add (&columns[2], registry_level_name (row->level), i == 0);
        s_array_add (&columns[3], row->parent_code[0] ? row->parent_code : NULL, i == 0);
        s_array_add (&columns[4], row->kind, i == 0);
    }
    for (int c = 0; c < 5; c++)
        msgpack_sbuffer_write (&columns[c], "}", 2); //  with the terminating NUL
    char at[24];
    snprintf (at, sizeof at, "%" PRId64, sq_now_us ());
    const char *params[] = {columns[0].data, columns[1].data, columns[2].data, columns[3].data,
                            columns[4].data, at};
    PGresult *res = sq_db_query (
        ctx->db,
        "INSERT INTO registry.division (code, name, level, parent, kind, imported_at)"
        " SELECT c, n, l, p, k, $6::bigint FROM unnest ($1::text[], $2::text[], $3::text[],"
        " $4::text[], $5::text[]) AS t (c, n, l, p, k)"
        " ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name, level = EXCLUDED.level,"
        " parent = EXCLUDED.parent, kind = EXCLUDED.kind, imported_at = EXCLUDED.imported_at"
        " WHERE (division.name, division.level, division.parent, division.kind)"
        " IS DISTINCT FROM (EXCLUDED.name, EXCLUDED.level, EXCLUDED.parent, EXCLUDED.kind)"
        " RETURNING (xmax = 0)",
        6, params, &ctx->err);
    for (int c = 0; c < 5; c++)
        msgpack_sbuffer_destroy (&columns[c]);
    if (!res)
        return -1;
    for (int i = 0; i < PQntuples (res); i++) {
        if (strcmp (PQgetvalue (res, i, 0), "t") == 0)
            (*inserted)++;
        else
            (*updated)++;
    }
    PQclear (res);
    return 0;
}

//  Packs {province: n, ..., community: n} and the community kinds.
static void
s_pack_counts (msgpack_packer *pk, const registry_divisions_t *rows)
{
    sq_pack_str (pk, "levels");
    msgpack_pack_map (pk, REGISTRY_LEVEL_COUNT);
    for (int level = 0; level < REGISTRY_LEVEL_COUNT; level++)
        sq_pack_kv_int (pk, registry_level_name ((registry_level_t) level),
                        (int64_t) registry_divisions_level_count (rows, (registry_level_t) level));
    static const char *const kinds[] = {REGISTRY_KIND_URBAN_COMMUNITY,
                                        REGISTRY_KIND_RURAL_COMMUNITY, REGISTRY_KIND_VILLAGE};
    sq_pack_str (pk, "kinds");
    msgpack_pack_map (pk, 3);
    for (int k = 0; k < 3; k++)
        sq_pack_kv_int (pk, kinds[k], (int64_t) registry_divisions_kind_count (rows, kinds[k]));
}

int
registry_division_import (sq_ctx_t *ctx)
{
    char path[REGISTRY_PATH_MAX];
    if (sq_ctx_require_role (ctx, s_importers)
        || sq_arg_str (ctx->args, "path", true, sizeof path - 1, path, sizeof path, &ctx->err) < 0)
        return -1;
    registry_divisions_t *rows = registry_divisions_csv_read (path, &ctx->err);
    if (!rows)
        return -1;
    int64_t inserted = 0, updated = 0;
    int64_t total = (int64_t) registry_divisions_count (rows);
    int rc = s_upsert (ctx, rows, &inserted, &updated);
    if (rc == 0 && inserted + updated > 0) {
        sq_data_t event;
        sq_data_begin (&event);
        msgpack_pack_map (&event.pk, 6);
        sq_pack_kv_int (&event.pk, "total", total);
        sq_pack_kv_int (&event.pk, "inserted", inserted);
        sq_pack_kv_int (&event.pk, "updated", updated);
        s_pack_counts (&event.pk, rows);
        sq_pack_kv_str (&event.pk, "file", strrchr (path, '/') ? strrchr (path, '/') + 1 : path);
        rc = sq_ctx_emit_data (ctx, &event, "divisions_imported", "");
    }
    if (rc == 0) {
        msgpack_pack_map (ctx->pk, 7);
        sq_pack_kv_str (ctx->pk, "path", path);
        sq_pack_kv_int (ctx->pk, "total", total);
        sq_pack_kv_int (ctx->pk, "inserted", inserted);
        sq_pack_kv_int (ctx->pk, "updated", updated);
        sq_pack_kv_int (ctx->pk, "unchanged", total - inserted - updated);
        s_pack_counts (ctx->pk, rows);
    }
    registry_divisions_destroy (&rows);
    return rc;
}

//  Packs one division row of (code, name, level, kind, parent, children).
static void
s_pack_division (msgpack_packer *pk, PGresult *res, int row)
{
    msgpack_pack_map (pk, 6);
    sq_pack_kv_str (pk, "code", PQgetvalue (res, row, 0));
    sq_pack_kv_str (pk, "name", PQgetvalue (res, row, 1));
    sq_pack_kv_str (pk, "level", PQgetvalue (res, row, 2));
    sq_pack_kv_str (pk, "kind", PQgetisnull (res, row, 3) ? NULL : PQgetvalue (res, row, 3));
    sq_pack_kv_str (pk, "parent", PQgetisnull (res, row, 4) ? NULL : PQgetvalue (res, row, 4));
    sq_pack_kv_int (pk, "children", strtoll (PQgetvalue (res, row, 5), NULL, 10));
}

#define S_DIVISION_COLUMNS \
    "d.code, d.name, d.level, d.kind, d.parent," \
    " (SELECT count(*) FROM registry.division c WHERE c.parent = d.code)"

static int
s_read_code (sq_ctx_t *ctx, char code[SQ_DIV_MAX])
{
    if (sq_arg_str (ctx->args, "code", true, 12, code, SQ_DIV_MAX, &ctx->err) < 0)
        return -1;
    size_t len = strlen (code);
    if (!sq_is_digits (code, 0) || (len != 2 && len != 4 && len != 6 && len != 9 && len != 12))
        return sq_error_set (&ctx->err, SQ_ERR_INVALID, "code",
                             "code must be a division code of 2, 4, 6, 9 or 12 digits");
    return 0;
}

int
registry_division_get (sq_ctx_t *ctx)
{
    char code[SQ_DIV_MAX];
    if (s_read_code (ctx, code))
        return -1;
    const char *params[] = {code};
    PGresult *res = sq_db_query (ctx->db, "SELECT " S_DIVISION_COLUMNS
                                 " FROM registry.division d WHERE d.code = $1",
                                 1, params, &ctx->err);
    if (!res)
        return -1;
    if (PQntuples (res) == 0) {
        PQclear (res);
        return sq_error_set (&ctx->err, SQ_ERR_NOT_FOUND, "code", "division %s does not exist",
                             code);
    }
    s_pack_division (ctx->pk, res, 0);
    PQclear (res);
    return 0;
}

int
registry_division_children (sq_ctx_t *ctx)
{
    char code[SQ_DIV_MAX];
    if (s_read_code (ctx, code))
        return -1;
    const char *params[] = {code};
    PGresult *res = sq_db_query (ctx->db, "SELECT count(*) FROM registry.division WHERE code = $1",
                                 1, params, &ctx->err);
    if (!res)
        return -1;
    int exists = strcmp (PQgetvalue (res, 0, 0), "1") == 0;
    PQclear (res);
    if (!exists)
        return sq_error_set (&ctx->err, SQ_ERR_NOT_FOUND, "code", "division %s does not exist",
                             code);
    res = sq_db_query (ctx->db, "SELECT " S_DIVISION_COLUMNS " FROM registry.division d"
                       " WHERE d.parent = $1 ORDER BY d.code", 1, params, &ctx->err);
    if (!res)
        return -1;
    msgpack_pack_map (ctx->pk, 3);
    sq_pack_kv_str (ctx->pk, "code", code);
    sq_pack_kv_int (ctx->pk, "count", PQntuples (res));
    sq_pack_str (ctx->pk, "children");
    msgpack_pack_array (ctx->pk, (size_t) PQntuples (res));
    for (int i = 0; i < PQntuples (res); i++)
        s_pack_division (ctx->pk, res, i);
    PQclear (res);
    return 0;
}

int
registry_division_communities (sq_ctx_t *ctx)
{
    char code[SQ_DIV_MAX];
    if (s_read_code (ctx, code))
        return -1;
    const char *params[] = {code};
    PGresult *res = sq_db_query (ctx->db, "SELECT c.code FROM registry.division d"
                                 " LEFT JOIN registry.division c ON c.level = 'community'"
                                 " AND c.code LIKE d.code || '%' WHERE d.code = $1 ORDER BY c.code",
                                 1, params, &ctx->err);
    if (!res)
        return -1;
    if (PQntuples (res) == 0) {
        PQclear (res);
        return sq_error_set (&ctx->err, SQ_ERR_NOT_FOUND, "code", "division %s does not exist",
                             code);
    }
    //  A division without communities gives one row of NULL from the outer join.
    int count = PQgetisnull (res, 0, 0) ? 0 : PQntuples (res);
    msgpack_pack_map (ctx->pk, 3);
    sq_pack_kv_str (ctx->pk, "code", code);
    sq_pack_kv_int (ctx->pk, "count", count);
    sq_pack_str (ctx->pk, "communities");
    msgpack_pack_array (ctx->pk, (size_t) count);
    for (int i = 0; i < count; i++)
        sq_pack_str (ctx->pk, PQgetvalue (res, i, 0));
    PQclear (res);
    return 0;
}
