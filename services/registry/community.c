/*  registry community records: grids, households, organisations, staff, volunteers. */
#include "registry.h"
#include "rules.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define S_GRIDS_PER_COMMUNITY_MAX 999 //  grid codes have three digits

static const char *const s_org_kinds[] = {"social_org", "resident_unit", "owners_committee",
                                          "property_company", "volunteer_org", NULL};
static const char *const s_staff_roles[] = {"secretary", "director", "full_time", "grid_worker",
                                            "social_worker", "street_official",
                                            "district_official", NULL};

static void
s_now_text (char at[24])
{
    snprintf (at, 24, "%" PRId64, sq_now_us ());
}

//  Reads a required, non-blank text argument.
static int
s_text (sq_ctx_t *ctx, const char *field, size_t len_max, char *out, size_t out_size)
{
    if (sq_arg_str (ctx->args, field, true, len_max, out, out_size, &ctx->err) < 0)
        return -1;
    if (strspn (out, " \t") == strlen (out))
        return sq_error_set (&ctx->err, SQ_ERR_INVALID, field, "%s is empty", field);
    return 0;
}

int
registry_grid_create (sq_ctx_t *ctx)
{
    char community[SQ_DIV_MAX], name[REGISTRY_NAME_MAX + 1];
    if (sq_ctx_require_role (ctx, registry_writers)
        || sq_arg_str (ctx->args, "community", true, 12, community, sizeof community,
                       &ctx->err) < 0
        || s_text (ctx, "name", REGISTRY_NAME_MAX, name, sizeof name)
        || registry_require_community (ctx, community, "community"))
        return -1;
    //  Locking the community's row serialises grid numbering within it.
    const char *params[] = {community, name};
    PGresult *res = sq_db_query (
        ctx->db, "SELECT (SELECT coalesce (max (number), 0) + 1 FROM registry.grid"
        " WHERE community = $1), EXISTS (SELECT 1 FROM registry.grid WHERE community = $1"
        " AND name = $2) FROM registry.division WHERE code = $1 FOR UPDATE",
        2, params, &ctx->err);
    if (!res)
        return -1;
    int number = (int) strtol (PQgetvalue (res, 0, 0), NULL, 10);
    int taken = strcmp (PQgetvalue (res, 0, 1), "t") == 0;
    PQclear (res);
    if (taken)
        return sq_error_set (&ctx->err, SQ_ERR_CONFLICT, "name",
                             "community %s already has a grid named %s", community, name);
    if (number > S_GRIDS_PER_COMMUNITY_MAX)
        return sq_error_set (&ctx->err, SQ_ERR_CONFLICT, "community",
                             "community %s already has %d grids", community,
                             S_GRIDS_PER_COMMUNITY_MAX);
    char code[SQ_DIV_MAX + 16], number_text[16], at[24];
    snprintf (code, sizeof code, "%s-%03d", community, number);
    snprintf (number_text, sizeof number_text, "%d", number);
    s_now_text (at);
    const char *insert[] = {code, community, number_text, name, at};
    if (sq_db_exec (ctx->db, "INSERT INTO registry.grid (code, community, number, name,"
                    " created_at) VALUES ($1, $2, $3::int, $4, $5::bigint)", 5, insert,
                    &ctx->err))
        return -1;
    sq_data_t event;
    sq_data_begin (&event);
    msgpack_pack_map (&event.pk, 3);
    sq_pack_kv_str (&event.pk, "grid", code);
    sq_pack_kv_str (&event.pk, "community", community);
    sq_pack_kv_str (&event.pk, "name", name);
    if (sq_ctx_emit_data (ctx, &event, "grid_created", community))
        return -1;
    msgpack_pack_map (ctx->pk, 3);
    sq_pack_kv_str (ctx->pk, "code", code);
    sq_pack_kv_str (ctx->pk, "community", community);
    sq_pack_kv_str (ctx->pk, "name", name);
    return 0;
}

int
registry_grid_list (sq_ctx_t *ctx)
{
    char community[SQ_DIV_MAX];
    if (sq_ctx_require_role (ctx, registry_readers)
        || sq_arg_str (ctx->args, "community", true, 12, community, sizeof community,
                       &ctx->err) < 0
        || registry_require_community (ctx, community, "community"))
        return -1;
    const char *params[] = {community};
    PGresult *res = sq_db_query (
        ctx->db, "SELECT g.code, g.name, (SELECT count(*) FROM registry.household h"
        " WHERE h.grid = g.code), (SELECT count(*) FROM registry.resident r WHERE r.grid = g.code"
        " AND r.status = 'active') FROM registry.grid g WHERE g.community = $1 ORDER BY g.number",
        1, params, &ctx->err);
    if (!res)
        return -1;
    msgpack_pack_map (ctx->pk, 2);
    sq_pack_kv_str (ctx->pk, "community", community);
    sq_pack_str (ctx->pk, "grids");
    msgpack_pack_array (ctx->pk, (size_t) PQntuples (res));
    for (int i = 0; i < PQntuples (res); i++) {
        msgpack_pack_map (ctx->pk, 4);
        sq_pack_kv_str (ctx->pk, "code", PQgetvalue (res, i, 0));
        sq_pack_kv_str (ctx->pk, "name", PQgetvalue (res, i, 1));
        sq_pack_kv_int (ctx->pk, "households", strtoll (PQgetvalue (res, i, 2), NULL, 10));
        sq_pack_kv_int (ctx->pk, "residents", strtoll (PQgetvalue (res, i, 3), NULL, 10));
    }
    PQclear (res);
    return 0;
}

int
registry_household_create (sq_ctx_t *ctx)
{
    char community[SQ_DIV_MAX], address[REGISTRY_ADDRESS_MAX + 1], grid[SQ_DIV_MAX + 4] = "";
    if (sq_ctx_require_role (ctx, registry_writers)
        || sq_arg_str (ctx->args, "community", true, 12, community, sizeof community,
                       &ctx->err) < 0
        || s_text (ctx, "address", REGISTRY_ADDRESS_MAX, address, sizeof address)
        || sq_arg_str (ctx->args, "grid", false, 16, grid, sizeof grid, &ctx->err) < 0
        || registry_require_community (ctx, community, "community")
        || (grid[0] && registry_require_grid (ctx, grid, community)))
        return -1;
    char id[SQ_ID_SIZE], at[24];
    sq_id_new (id);
    s_now_text (at);
    const char *params[] = {id, community, grid[0] ? grid : NULL, address, at};
    if (sq_db_exec (ctx->db, "INSERT INTO registry.household (id, community, grid, address,"
                    " created_at) VALUES ($1, $2, $3, $4, $5::bigint)", 5, params, &ctx->err))
        return -1;
    sq_data_t event;
    sq_data_begin (&event);
    msgpack_pack_map (&event.pk, 3);
    sq_pack_kv_str (&event.pk, "household", id);
    sq_pack_kv_str (&event.pk, "community", community);
    sq_pack_kv_str (&event.pk, "grid", grid[0] ? grid : NULL);
    if (sq_ctx_emit_data (ctx, &event, "household_created", community))
        return -1;
    msgpack_pack_map (ctx->pk, 3);
    sq_pack_kv_str (ctx->pk, "id", id);
    sq_pack_kv_str (ctx->pk, "community", community);
    sq_pack_kv_str (ctx->pk, "grid", grid[0] ? grid : NULL);
    return 0;
}

int
registry_org_register (sq_ctx_t *ctx)
{
    char community[SQ_DIV_MAX], name[REGISTRY_NAME_MAX + 1];
    int kind = 0;
    if (sq_ctx_require_role (ctx, registry_writers)
        || sq_arg_str (ctx->args, "community", true, 12, community, sizeof community,
                       &ctx->err) < 0
        || sq_arg_enum (ctx->args, "kind", true, s_org_kinds, &kind, &ctx->err) < 0
        || s_text (ctx, "name", REGISTRY_NAME_MAX, name, sizeof name)
        || registry_require_community (ctx, community, "community"))
        return -1;
    char id[SQ_ID_SIZE], at[24];
    sq_id_new (id);
    s_now_text (at);
    const char *params[] = {id, community, s_org_kinds[kind], name, at};
    PGresult *res = sq_db_query (ctx->db, "INSERT INTO registry.organisation (id, community,"
                                 " kind, name, registered_at) VALUES ($1, $2, $3, $4, $5::bigint)"
                                 " ON CONFLICT DO NOTHING RETURNING id", 5, params, &ctx->err);
    if (!res)
        return -1;
    int inserted = PQntuples (res) == 1;
    PQclear (res);
    if (!inserted)
        return sq_error_set (&ctx->err, SQ_ERR_CONFLICT, "name",
                             "community %s already has a %s named %s", community,
                             s_org_kinds[kind], name);
    sq_data_t event;
    sq_data_begin (&event);
    msgpack_pack_map (&event.pk, 4);
    sq_pack_kv_str (&event.pk, "org", id);
    sq_pack_kv_str (&event.pk, "community", community);
    sq_pack_kv_str (&event.pk, "kind", s_org_kinds[kind]);
    sq_pack_kv_str (&event.pk, "name", name);
    if (sq_ctx_emit_data (ctx, &event, "org_registered", community))
        return -1;
    msgpack_pack_map (ctx->pk, 4);
    sq_pack_kv_str (ctx->pk, "id", id);
    sq_pack_kv_str (ctx->pk, "community", community);
    sq_pack_kv_str (ctx->pk, "kind", s_org_kinds[kind]);
    sq_pack_kv_str (ctx->pk, "name", name);
    return 0;
}

//  Officials work for a street or a district, the other roles for a community.
static const char *
s_official_level (const char *role)
{
    if (strcmp (role, "street_official") == 0)
        return "street";
    if (strcmp (role, "district_official") == 0)
        return "district";
    return NULL;
}

//  Checks that code is an existing division of level inside the actor's scope.
static int
s_require_division_at (sq_ctx_t *ctx, const char *code, const char *level, const char *field)
{
    size_t digits = strcmp (level, "street") == 0 ? 9 : 6;
    if (!sq_is_digits (code, digits))
        return sq_error_set (&ctx->err, SQ_ERR_INVALID, field, "%s must be a %zu-digit %s code",
                             field, digits, level);
    const char *params[] = {code};
    PGresult *res = sq_db_query (ctx->db, "SELECT level FROM registry.division WHERE code = $1",
                                 1, params, &ctx->err);
    if (!res)
        return -1;
    int found = PQntuples (res) == 1;
    int right = found && strcmp (PQgetvalue (res, 0, 0), level) == 0;
    PQclear (res);
    if (!found)
        return sq_error_set (&ctx->err, SQ_ERR_NOT_FOUND, field, "%s %s does not exist", level,
                             code);
    if (!right)
        return sq_error_set (&ctx->err, SQ_ERR_INVALID, field, "%s is not a %s", code, level);
    return sq_ctx_require_scope (ctx, code, field);
}

//  Reads where the member of staff works: `community` for community roles, `division` (a
//  street or a district) for officials. Fills community ("" for officials) and division.
static int
s_staff_place (sq_ctx_t *ctx, const char *role, char community[SQ_DIV_MAX],
               char division[SQ_DIV_MAX])
{
    const char *level = s_official_level (role);
    community[0] = '\0';
    if (!level) {
        if (sq_arg_str (ctx->args, "community", true, 12, community, SQ_DIV_MAX, &ctx->err) < 0
            || registry_require_community (ctx, community, "community"))
            return -1;
        snprintf (division, SQ_DIV_MAX, "%s", community);
        return 0;
    }
    if (sq_obj_get (ctx->args, "community"))
        return sq_error_set (&ctx->err, SQ_ERR_INVALID, "community", "a %s works for a %s:"
                             " give division, not community", role, level);
    if (sq_arg_str (ctx->args, "division", true, 9, division, SQ_DIV_MAX, &ctx->err) < 0)
        return -1;
    return s_require_division_at (ctx, division, level, "division");
}

int
registry_staff_add (sq_ctx_t *ctx)
{
    char community[SQ_DIV_MAX], division[SQ_DIV_MAX], name[REGISTRY_NAME_MAX + 1];
    int role = 0;
    if (sq_ctx_require_role (ctx, registry_writers)
        || sq_arg_enum (ctx->args, "role", true, s_staff_roles, &role, &ctx->err) < 0
        || s_text (ctx, "name", REGISTRY_NAME_MAX, name, sizeof name)
        || s_staff_place (ctx, s_staff_roles[role], community, division))
        return -1;
    bool official = community[0] == '\0';
    char id[SQ_ID_SIZE], at[24];
    sq_id_new (id);
    s_now_text (at);
    const char *params[] = {id, official ? NULL : community, division, name, s_staff_roles[role],
                            at};
    if (sq_db_exec (ctx->db, "INSERT INTO registry.staff (id, community, division, name, role,"
                    " added_at) VALUES ($1, $2, $3, $4, $5, $6::bigint)", 6, params, &ctx->err))
        return -1;
    //  registry.staff_added keeps its contract (a community); officials have their own type.
    sq_data_t event;
    sq_data_begin (&event);
    msgpack_pack_map (&event.pk, 3);
    sq_pack_kv_str (&event.pk, "staff", id);
    sq_pack_kv_str (&event.pk, official ? "division" : "community", division);
    sq_pack_kv_str (&event.pk, "role", s_staff_roles[role]);
    if (sq_ctx_emit_data (ctx, &event, official ? "official_added" : "staff_added", division))
        return -1;
    msgpack_pack_map (ctx->pk, 4);
    sq_pack_kv_str (ctx->pk, "id", id);
    sq_pack_kv_str (ctx->pk, "community", official ? NULL : community);
    sq_pack_kv_str (ctx->pk, "division", division);
    sq_pack_kv_str (ctx->pk, "role", s_staff_roles[role]);
    return 0;
}

int
registry_staff_list (sq_ctx_t *ctx)
{
    char division[SQ_DIV_MAX];
    int role = -1;
    if (sq_ctx_require_role (ctx, registry_readers)
        || sq_arg_str (ctx->args, "division", true, 12, division, sizeof division, &ctx->err) < 0
        || sq_arg_enum (ctx->args, "role", false, s_staff_roles, &role, &ctx->err) < 0)
        return -1;
    size_t len = strlen (division);
    if (!sq_is_digits (division, 0) || (len != 6 && len != 9 && len != 12))
        return sq_error_set (&ctx->err, SQ_ERR_INVALID, "division", "division must be a"
                             " district (6), street (9) or community (12) code");
    if (sq_ctx_require_scope (ctx, division, "division"))
        return -1;
    char limit[16];
    snprintf (limit, sizeof limit, "%d", REGISTRY_STAFF_LIST_MAX + 1);
    const char *params[] = {division, role >= 0 ? s_staff_roles[role] : NULL, limit};
    PGresult *res = sq_db_query (ctx->db, "SELECT id, name, role, added_at FROM registry.staff"
                                 " WHERE division = $1 AND ($2::text IS NULL OR role = $2)"
                                 " ORDER BY added_at, id LIMIT $3::int", 3, params, &ctx->err);
    if (!res)
        return -1;
    int rows = PQntuples (res);
    int count = rows > REGISTRY_STAFF_LIST_MAX ? REGISTRY_STAFF_LIST_MAX : rows;
    msgpack_pack_map (ctx->pk, 4);
    sq_pack_kv_str (ctx->pk, "division", division);
    sq_pack_kv_int (ctx->pk, "count", count);
    sq_pack_kv_bool (ctx->pk, "truncated", rows > count);
    sq_pack_str (ctx->pk, "staff");
    msgpack_pack_array (ctx->pk, (size_t) count);
    for (int i = 0; i < count; i++) {
        msgpack_pack_map (ctx->pk, 4);
        sq_pack_kv_str (ctx->pk, "id", PQgetvalue (res, i, 0));
        sq_pack_kv_str (ctx->pk, "name", PQgetvalue (res, i, 1));
        sq_pack_kv_str (ctx->pk, "role", PQgetvalue (res, i, 2));
        sq_pack_kv_int (ctx->pk, "added_at", strtoll (PQgetvalue (res, i, 3), NULL, 10));
    }
    PQclear (res);
    return 0;
}

int
registry_volunteer_register (sq_ctx_t *ctx)
{
    char resident[SQ_TEXT_ID_MAX];
    if (sq_ctx_require_role (ctx, registry_writers)
        || sq_arg_str (ctx->args, "resident", true, sizeof resident - 1, resident,
                       sizeof resident, &ctx->err) < 0)
        return -1;
    const char *params[] = {resident};
    PGresult *res = sq_db_query (ctx->db, "SELECT community, status FROM registry.resident"
                                 " WHERE id = $1", 1, params, &ctx->err);
    if (!res)
        return -1;
    if (PQntuples (res) != 1 || strcmp (PQgetvalue (res, 0, 1), "active") != 0) {
        PQclear (res);
        return sq_error_set (&ctx->err, SQ_ERR_NOT_FOUND, "resident",
                             "no active resident %s", resident);
    }
    char community[SQ_DIV_MAX];
    snprintf (community, sizeof community, "%s", PQgetvalue (res, 0, 0));
    PQclear (res);
    if (sq_ctx_require_scope (ctx, community, "resident"))
        return -1;
    char id[SQ_ID_SIZE], at[24];
    sq_id_new (id);
    s_now_text (at);
    const char *insert[] = {id, resident, community, at};
    res = sq_db_query (ctx->db, "INSERT INTO registry.volunteer (id, resident, community,"
                       " registered_at) VALUES ($1, $2, $3, $4::bigint) ON CONFLICT (resident)"
                       " DO NOTHING RETURNING id", 4, insert, &ctx->err);
    if (!res)
        return -1;
    int inserted = PQntuples (res) == 1;
    PQclear (res);
    if (!inserted)
        return sq_error_set (&ctx->err, SQ_ERR_CONFLICT, "resident",
                             "resident %s is already a volunteer", resident);
    sq_data_t event;
    sq_data_begin (&event);
    msgpack_pack_map (&event.pk, 3);
    sq_pack_kv_str (&event.pk, "volunteer", id);
    sq_pack_kv_str (&event.pk, "resident", resident);
    sq_pack_kv_str (&event.pk, "community", community);
    if (sq_ctx_emit_data (ctx, &event, "volunteer_registered", community))
        return -1;
    msgpack_pack_map (ctx->pk, 5);
    sq_pack_kv_str (ctx->pk, "id", id);
    sq_pack_kv_str (ctx->pk, "resident", resident);
    sq_pack_kv_str (ctx->pk, "community", community);
    sq_pack_kv_double (ctx->pk, "total_hours", 0.0);
    sq_pack_kv_int (ctx->pk, "stars", 0);
    return 0;
}

//  Reads hours (an integer or a number with at most two decimals, above 0 and at most 24)
//  as hundredths of an hour.
static int
s_read_hours (sq_ctx_t *ctx, int64_t *hours_x100)
{
    const msgpack_object *value = sq_obj_get (ctx->args, "hours");
    double hours = -1;
    if (!value || value->type == MSGPACK_OBJECT_NIL)
        return sq_error_set (&ctx->err, SQ_ERR_INVALID, "hours", "hours is required");
    if (value->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
        hours = value->via.u64 > 1000 ? 1000 : (double) value->via.u64;
    else if (value->type == MSGPACK_OBJECT_FLOAT64 || value->type == MSGPACK_OBJECT_FLOAT32)
        hours = value->via.f64;
    else if (value->type != MSGPACK_OBJECT_NEGATIVE_INTEGER)
        return sq_error_set (&ctx->err, SQ_ERR_INVALID, "hours", "hours must be a number");
    double scaled = hours * 100.0;
    if (!(scaled > 0) || scaled > REGISTRY_HOURS_X100_MAX)
        return sq_error_set (&ctx->err, SQ_ERR_INVALID, "hours",
                             "hours must be above 0 and at most %d", REGISTRY_HOURS_X100_MAX / 100);
    if (fabs (scaled - round (scaled)) > 1e-6)
        return sq_error_set (&ctx->err, SQ_ERR_INVALID, "hours",
                             "hours may have at most two decimals");
    *hours_x100 = (int64_t) llround (scaled);
    return 0;
}

//  Checks a YYYY-MM-DD date that is not in the future (UTC).
static int
s_read_date (sq_ctx_t *ctx, const char *field, char out[11])
{
    if (sq_arg_str (ctx->args, field, true, 10, out, 11, &ctx->err) < 0)
        return -1;
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int y = 0, m = 0, d = 0;
    int ok = strlen (out) == 10 && out[4] == '-' && out[7] == '-';
    for (int i = 0; ok && i < 10; i++)
        ok = i == 4 || i == 7 || (out[i] >= '0' && out[i] <= '9');
    if (ok) {
        y = (int) strtol (out, NULL, 10);
        m = (int) strtol (out + 5, NULL, 10);
        d = (int) strtol (out + 8, NULL, 10);
        int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
        ok = y >= 1900 && m >= 1 && m <= 12 && d >= 1
             && d <= days[m - 1] + (m == 2 && leap ? 1 : 0);
    }
    if (!ok)
        return sq_error_set (&ctx->err, SQ_ERR_INVALID, field, "%s must be a real date YYYY-MM-DD",
                             field);
    time_t now = (time_t) (sq_now_us () / 1000000);
    struct tm tm;
    gmtime_r (&now, &tm);
    char today[16];
    strftime (today, sizeof today, "%Y-%m-%d", &tm);
    if (strcmp (out, today) > 0)
        return sq_error_set (&ctx->err, SQ_ERR_INVALID, field, "%s %s is in the future", field,
                             out);
    return 0;
}

int
registry_volunteer_log_hours (sq_ctx_t *ctx)
{
    char volunteer[SQ_TEXT_ID_MAX], activity[REGISTRY_TEXT_MAX + 1], day[11];
    int64_t hours_x100 = 0;
    if (sq_ctx_require_role (ctx, registry_writers)
        || sq_arg_str (ctx->args, "volunteer", true, sizeof volunteer - 1, volunteer,
                       sizeof volunteer, &ctx->err) < 0
        || s_read_hours (ctx, &hours_x100) || s_text (ctx, "activity", REGISTRY_TEXT_MAX,
                                                      activity, sizeof activity)
        || s_read_date (ctx, "date", day))
        return -1;
    const char *params[] = {volunteer};
    PGresult *res = sq_db_query (ctx->db, "SELECT community FROM registry.volunteer"
                                 " WHERE id = $1 FOR UPDATE", 1, params, &ctx->err);
    if (!res)
        return -1;
    if (PQntuples (res) != 1) {
        PQclear (res);
        return sq_error_set (&ctx->err, SQ_ERR_NOT_FOUND, "volunteer",
                             "volunteer %s does not exist", volunteer);
    }
    char community[SQ_DIV_MAX];
    snprintf (community, sizeof community, "%s", PQgetvalue (res, 0, 0));
    PQclear (res);
    if (sq_ctx_require_scope (ctx, community, "volunteer"))
        return -1;
    char hours_text[24], at[24];
    snprintf (hours_text, sizeof hours_text, "%" PRId64, hours_x100);
    s_now_text (at);
    const char *insert[] = {volunteer, hours_text, activity, day, at, ctx->actor->id};
    res = sq_db_query (ctx->db, "WITH log AS (INSERT INTO registry.volunteer_hours (volunteer,"
                       " hours_x100, activity, day, logged_at, logged_by) VALUES ($1, $2::bigint,"
                       " $3, $4::date, $5::bigint, $6)) UPDATE registry.volunteer SET hours_x100 ="
                       " hours_x100 + $2::bigint WHERE id = $1 RETURNING hours_x100",
                       6, insert, &ctx->err);
    if (!res)
        return -1;
    int64_t total_x100 = strtoll (PQgetvalue (res, 0, 0), NULL, 10);
    PQclear (res);
    int stars = registry_volunteer_stars (total_x100);
    sq_data_t event;
    sq_data_begin (&event);
    msgpack_pack_map (&event.pk, 6);
    sq_pack_kv_str (&event.pk, "volunteer", volunteer);
    sq_pack_kv_str (&event.pk, "community", community);
    sq_pack_kv_double (&event.pk, "hours", (double) hours_x100 / 100.0);
    sq_pack_kv_double (&event.pk, "total_hours", (double) total_x100 / 100.0);
    sq_pack_kv_int (&event.pk, "stars", stars);
    sq_pack_kv_str (&event.pk, "date", day);
    if (sq_ctx_emit_data (ctx, &event, "volunteer_hours_logged", community))
        return -1;
    msgpack_pack_map (ctx->pk, 4);
    sq_pack_kv_str (ctx->pk, "volunteer", volunteer);
    sq_pack_kv_double (ctx->pk, "hours", (double) hours_x100 / 100.0);
    sq_pack_kv_double (ctx->pk, "total_hours", (double) total_x100 / 100.0);
    sq_pack_kv_int (ctx->pk, "stars", stars);
    return 0;
}
