/*  registry residents: registration, lookups, moves and departures. Identity numbers and
    phones are sealed at rest, found by blind index, masked for everyone but the roles the
    law lets see them (DESIGN.md), and every unmasked read is recorded. */
#include "sq_identity.h"
#include "registry.h"

#include <assert.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const s_residency[] = {"registered", "permanent", "floating", NULL};
static const char *const s_care_groups[] = {
    "low_income", "children_in_difficulty", "elderly_alone", "elderly_hardship",
    "mental_illness", "community_corrections", "released_prisoner", "left_behind_child",
    "left_behind_woman", "left_behind_elderly", "disabled", NULL};

//  The columns s_pack_resident reads, in order.
#define S_RESIDENT_COLUMNS                                                                 \
    "id, community, grid, household, name, sex, birth_date, residency, party_member,"      \
    " care_groups, status, id_masked, phone_masked, id_sealed, phone_sealed, registered_at"

//  Reads care_groups into a PostgreSQL array literal. Returns 0 or -1 with ctx->err set.
static int
s_read_care_groups (sq_ctx_t *ctx, char *out, size_t out_size)
{
    const msgpack_object *list = NULL;
    snprintf (out, out_size, "{}");
    int rc = sq_arg_array (ctx->args, "care_groups", false, REGISTRY_CARE_GROUPS_MAX, &list,
                           &ctx->err);
    if (rc <= 0)
        return rc;
    size_t used = (size_t) snprintf (out, out_size, "{");
    unsigned seen = 0;
    for (uint32_t i = 0; i < list->via.array.size; i++) {
        int index = -1;
        for (int g = 0; s_care_groups[g]; g++)
            if (sq_obj_str_eq (&list->via.array.ptr[i], s_care_groups[g]))
                index = g;
        if (index < 0)
            return sq_error_set (&ctx->err, SQ_ERR_INVALID, "care_groups",
                                 "care_groups item %u is not a known care group", i + 1);
        if (seen & (1u << index))
            continue;
        seen |= 1u << index;
        used += (size_t) snprintf (out + used, out_size - used, "%s%s", used > 1 ? "," : "",
                                   s_care_groups[index]);
    }
    snprintf (out + used, out_size - used, "}");
    return 0;
}

//  A registration as read from the arguments.
typedef struct {
    char id_number[SQ_ID_NUMBER_SIZE];
    sq_id_info_t info;
    char name[REGISTRY_NAME_MAX + 1];
    char community[SQ_DIV_MAX];
    int residency;
    char household[SQ_TEXT_ID_MAX];
    char grid[SQ_DIV_MAX + 4];
    char phone[SQ_PHONE_SIZE];
    bool party_member;
    char care_groups[256];
} s_registration_t;

static int
s_read_registration (sq_ctx_t *ctx, s_registration_t *r)
{
    char raw_id[32], raw_phone[SQ_PHONE_INPUT_MAX + 1] = "";
    memset (r, 0, sizeof *r);
    if (sq_arg_str (ctx->args, "id_number", true, 18, raw_id, sizeof raw_id, &ctx->err) < 0
        || sq_id_number_check (raw_id, sq_now_us (), r->id_number, &r->info, &ctx->err)
        || sq_arg_str (ctx->args, "name", true, REGISTRY_NAME_MAX, r->name, sizeof r->name,
                       &ctx->err) < 0
        || sq_arg_str (ctx->args, "community", true, 12, r->community, sizeof r->community,
                       &ctx->err) < 0
        || sq_arg_enum (ctx->args, "residency", true, s_residency, &r->residency, &ctx->err) < 0
        || sq_arg_str (ctx->args, "household", false, SQ_TEXT_ID_MAX - 1, r->household,
                       sizeof r->household, &ctx->err) < 0
        || sq_arg_str (ctx->args, "grid", false, 16, r->grid, sizeof r->grid, &ctx->err) < 0
        || sq_arg_str (ctx->args, "phone", false, SQ_PHONE_INPUT_MAX, raw_phone,
                       sizeof raw_phone, &ctx->err) < 0
        || sq_arg_bool (ctx->args, "party_member", false, &r->party_member, &ctx->err) < 0
        || s_read_care_groups (ctx, r->care_groups, sizeof r->care_groups))
        return -1;
    if (!r->name[0] || strspn (r->name, " ") == strlen (r->name))
        return sq_error_set (&ctx->err, SQ_ERR_INVALID, "name", "name is empty");
    if (raw_phone[0] && sq_phone_check (raw_phone, r->phone, &ctx->err))
        return -1;
    //  The community's existence is checked by the INSERT itself (one round trip less on
    //  the platform's busiest command); its form and the actor's scope are checked here.
    if (!sq_is_digits (r->community, 12))
        return sq_error_set (&ctx->err, SQ_ERR_INVALID, "community",
                             "community must be a 12-digit community code");
    if (sq_ctx_require_scope (ctx, r->community, "community"))
        return -1;
    if ((r->grid[0] || r->household[0])
        && registry_require_community (ctx, r->community, "community"))
        return -1;
    if ((r->grid[0] && registry_require_grid (ctx, r->grid, r->community))
        || (r->household[0] && registry_require_household (ctx, r->household, r->community)))
        return -1;
    return 0;
}

//  A registration sealed for storage: its new id, the blind index of its identity number,
//  the sealed and masked identity number and phone.
typedef struct {
    char id[SQ_ID_SIZE];
    char index[SQ_CRYPT_INDEX_HEX_SIZE];
    uint8_t *id_sealed;
    size_t id_size;
    uint8_t *phone_sealed;         //  NULL when no phone
    size_t phone_size;
    char id_masked[SQ_ID_NUMBER_SIZE];
    char phone_masked[SQ_PHONE_SIZE];
} s_sealed_t;

//  Returns 0, or -1 with ctx->err set.
static int
s_seal (sq_ctx_t *ctx, const s_registration_t *r, s_sealed_t *out)
{
    registry_t *registry = ctx->state;
    memset (out, 0, sizeof *out);
    sq_id_new (out->id);
    sq_crypt_blind_index (registry->crypt, r->id_number, out->index);
    sq_mask_id_number (r->id_number, out->id_masked);
    out->id_sealed = sq_crypt_seal (registry->crypt, r->id_number, strlen (r->id_number),
                                    &out->id_size);
    if (r->phone[0]) {
        out->phone_sealed = sq_crypt_seal (registry->crypt, r->phone, strlen (r->phone),
                                           &out->phone_size);
        sq_mask_phone (r->phone, out->phone_masked);
    }
    if (!out->id_sealed || (r->phone[0] && !out->phone_sealed))
        return sq_error_set (&ctx->err, SQ_ERR_INTERNAL, "", "could not seal personal data");
    return 0;
}

static void
s_sealed_free (s_sealed_t *self)
{
    free (self->id_sealed);
    free (self->phone_sealed);
    self->id_sealed = self->phone_sealed = NULL;
}

//  Why a registration was not inserted: the community is not one, or the person is
//  registered. Sets ctx->err and returns -1.
static int
s_refused (sq_ctx_t *ctx, const s_registration_t *r, const s_sealed_t *sealed)
{
    if (registry_require_community (ctx, r->community, "community"))
        return -1;
    return sq_error_set (&ctx->err, SQ_ERR_CONFLICT, "id_number",
                         "could not register resident: identity number %s is already"
                         " registered", sealed->id_masked);
}

//  Emits registry.resident_registered and packs the reply of a registration inserted.
static int
s_registered (sq_ctx_t *ctx, const s_registration_t *r, const s_sealed_t *sealed)
{
    const char *phone_masked = r->phone[0] ? sealed->phone_masked : NULL;
    sq_data_t event;
    sq_data_begin (&event);
    msgpack_pack_map (&event.pk, 10);
    sq_pack_kv_str (&event.pk, "resident", sealed->id);
    sq_pack_kv_str (&event.pk, "community", r->community);
    sq_pack_kv_str (&event.pk, "grid", r->grid[0] ? r->grid : NULL);
    sq_pack_kv_str (&event.pk, "household", r->household[0] ? r->household : NULL);
    sq_pack_kv_str (&event.pk, "residency", s_residency[r->residency]);
    sq_pack_kv_bool (&event.pk, "party_member", r->party_member);
    sq_pack_kv_str (&event.pk, "sex", r->info.sex);
    sq_pack_kv_int (&event.pk, "birth_year", r->info.birth_year);
    sq_pack_kv_str (&event.pk, "id_number", sealed->id_masked);
    sq_pack_kv_str (&event.pk, "phone", phone_masked);
    if (sq_ctx_emit_data (ctx, &event, "resident_registered", r->community))
        return -1;
    msgpack_pack_map (ctx->pk, 8);
    sq_pack_kv_str (ctx->pk, "id", sealed->id);
    sq_pack_kv_str (ctx->pk, "community", r->community);
    sq_pack_kv_str (ctx->pk, "residency", s_residency[r->residency]);
    sq_pack_kv_str (ctx->pk, "sex", r->info.sex);
    sq_pack_kv_str (ctx->pk, "birth_date", r->info.birth_date);
    sq_pack_kv_str (ctx->pk, "id_number", sealed->id_masked);
    sq_pack_kv_str (ctx->pk, "phone", phone_masked);
    sq_pack_kv_str (ctx->pk, "status", "active");
    return 0;
}

//  Adds a sealed value to a bytea[] literal as hex ("\x0a1b...").
static void
s_add_bytea (sq_db_array_t *array, const uint8_t *value, size_t size)
{
    if (!value) {
        sq_db_array_add (array, NULL);
        return;
    }
    char *hex = malloc (2 * size + 3);
    assert (hex);
    memcpy (hex, "\\x", 2);
    sodium_bin2hex (hex + 2, 2 * size + 1, value, size);
    sq_db_array_add (array, hex);
    free (hex);
}

//  The columns of a group's INSERT, in the order of its unnest.
enum { G_ID, G_COMMUNITY, G_GRID, G_HOUSEHOLD, G_INDEX, G_ID_SEALED, G_ID_MASKED, G_NAME, G_SEX,
       G_BIRTH, G_RESIDENCY, G_PHONE_SEALED, G_PHONE_MASKED, G_PARTY, G_CARE, G_COLUMNS };

//  Registers the group's residents with one INSERT; the registrations refused by it (not a
//  community, identity number registered, also earlier in the same group) say why one by
//  one. Returns 0, or -1 with ctxs[0].err set when the database failed.
static int
s_insert_group (sq_ctx_t *ctxs, int count, const s_registration_t *r, s_sealed_t *sealed,
                bool *inserted)
{
    sq_db_array_t a[G_COLUMNS];
    for (int k = 0; k < G_COLUMNS; k++)
        sq_db_array_init (&a[k]);
    int rows = 0;
    for (int i = 0; i < count; i++) {
        if (ctxs[i].err.code)
            continue;
        rows++;
        sq_db_array_add (&a[G_ID], sealed[i].id);
        sq_db_array_add (&a[G_COMMUNITY], r[i].community);
        sq_db_array_add (&a[G_GRID], r[i].grid[0] ? r[i].grid : NULL);
        sq_db_array_add (&a[G_HOUSEHOLD], r[i].household[0] ? r[i].household : NULL);
        sq_db_array_add (&a[G_INDEX], sealed[i].index);
        s_add_bytea (&a[G_ID_SEALED], sealed[i].id_sealed, sealed[i].id_size);
        sq_db_array_add (&a[G_ID_MASKED], sealed[i].id_masked);
        sq_db_array_add (&a[G_NAME], r[i].name);
        sq_db_array_add (&a[G_SEX], r[i].info.sex);
        sq_db_array_add (&a[G_BIRTH], r[i].info.birth_date);
        sq_db_array_add (&a[G_RESIDENCY], s_residency[r[i].residency]);
        s_add_bytea (&a[G_PHONE_SEALED], sealed[i].phone_sealed, sealed[i].phone_size);
        sq_db_array_add (&a[G_PHONE_MASKED], r[i].phone[0] ? sealed[i].phone_masked : NULL);
        sq_db_array_add (&a[G_PARTY], r[i].party_member ? "true" : "false");
        sq_db_array_add (&a[G_CARE], r[i].care_groups);
    }
    PGresult *res = NULL;
    if (rows) {
        char at[24];
        snprintf (at, sizeof at, "%" PRId64, sq_now_us ());
        const char *params[G_COLUMNS + 1];
        for (int k = 0; k < G_COLUMNS; k++)
            params[k] = sq_db_array_text (&a[k]);
        params[G_COLUMNS] = at;
        //  NB: rows are inserted in the group's order, so of two registrations of one
        //  identity number the first is kept, as if they had come one after the other.
        res = sq_db_query_generic (
            ctxs[0].db,
            "INSERT INTO registry.resident (id, community, grid, household, id_index,"
            " id_sealed, id_masked, name, sex, birth_date, residency, phone_sealed,"
            " phone_masked, party_member, care_groups, registered_at, updated_at) SELECT u.id,"
            " d.code, u.grid, u.household, u.idx, u.ids, u.idm, u.name, u.sex, u.birth::date,"
            " u.residency, u.phs, u.phm, u.party, u.care::text[], $16::bigint, $16::bigint"
            " FROM unnest ($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],"
            " $6::bytea[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[],"
            " $12::bytea[], $13::text[], $14::boolean[], $15::text[]) WITH ORDINALITY AS u (id,"
            " community, grid, household, idx, ids, idm, name, sex, birth, residency, phs, phm,"
            " party, care, n) JOIN registry.division d ON d.code = u.community AND d.level ="
            " 'community' ORDER BY u.n ON CONFLICT (id_index) DO NOTHING RETURNING id",
            G_COLUMNS + 1, params, &ctxs[0].err);
    }
    for (int k = 0; k < G_COLUMNS; k++)
        sq_db_array_destroy (&a[k]);
    if (rows && !res)
        return -1;
    for (int j = 0; res && j < PQntuples (res); j++)
        for (int i = 0; i < count; i++)
            if (!ctxs[i].err.code && strcmp (sealed[i].id, PQgetvalue (res, j, 0)) == 0)
                inserted[i] = true;
    PQclear (res);
    return 0;
}

//  A registration alone is a group of one: one INSERT statement for both.
int
registry_resident_register (sq_ctx_t *ctx)
{
    return registry_resident_register_group (ctx, 1) || ctx->err.code ? -1 : 0;
}

int
registry_resident_register_group (sq_ctx_t *ctxs, int count)
{
    s_registration_t *r = calloc ((size_t) count, sizeof *r);
    s_sealed_t *sealed = calloc ((size_t) count, sizeof *sealed);
    bool *inserted = calloc ((size_t) count, sizeof *inserted);
    assert (r && sealed && inserted);
    //  A command refused here has written nothing (sq_group_fn): reading only reads.
    for (int i = 0; i < count; i++)
        if (sq_ctx_require_role (&ctxs[i], registry_writers)
            || s_read_registration (&ctxs[i], &r[i]))
            continue;
        else
            s_seal (&ctxs[i], &r[i], &sealed[i]);
    int rc = s_insert_group (ctxs, count, r, sealed, inserted);
    for (int i = 0; rc == 0 && i < count; i++) {
        if (ctxs[i].err.code)
            continue;
        if (!inserted[i])
            s_refused (&ctxs[i], &r[i], &sealed[i]);
        else if (s_registered (&ctxs[i], &r[i], &sealed[i]))
            rc = -1, ctxs[0].err = ctxs[i].err;
    }
    for (int i = 0; i < count; i++)
        s_sealed_free (&sealed[i]);
    free (r);
    free (sealed);
    free (inserted);
    return rc;
}

//  Opens a sealed column into out; "" when NULL.
static void
s_open (sq_ctx_t *ctx, PGresult *res, int column, char *out, size_t out_size)
{
    registry_t *registry = ctx->state;
    out[0] = 0;
    if (PQgetisnull (res, 0, column))
        return;
    size_t sealed_size = 0, plain_size = 0;
    unsigned char *sealed = PQunescapeBytea ((unsigned char *) PQgetvalue (res, 0, column),
                                             &sealed_size);
    char *plain = NULL;
    if (sealed && sq_crypt_open (registry->crypt, sealed, sealed_size, &plain, &plain_size) == 0)
        snprintf (out, out_size, "%s", plain);
    free (plain);
    PQfreemem (sealed);
}

//  Records an unmasked read of a resident's personal data.
static int
s_record_read (sq_ctx_t *ctx, const char *resident, const char *fields)
{
    char subject[SQ_TEXT_ID_MAX + 16];
    snprintf (subject, sizeof subject, "resident:%s", resident);
    return sq_ctx_record_read (ctx, subject, fields);
}

//  Packs row 0 of S_RESIDENT_COLUMNS, unmasked when the actor may see it (and recorded).
static int
s_pack_resident (sq_ctx_t *ctx, PGresult *res)
{
    const char *id = PQgetvalue (res, 0, 0);
    const char *community = PQgetvalue (res, 0, 1);
    if (sq_ctx_require_scope (ctx, community, "id"))
        return -1;
    bool clear = sq_ctx_may_unmask (ctx, community);
    char id_number[64], phone[64];
    snprintf (id_number, sizeof id_number, "%s", PQgetvalue (res, 0, 11));
    snprintf (phone, sizeof phone, "%s", PQgetvalue (res, 0, 12));
    if (clear) {
        s_open (ctx, res, 13, id_number, sizeof id_number);
        s_open (ctx, res, 14, phone, sizeof phone);
        if (s_record_read (ctx, id, "id_number,phone,care_groups"))
            return -1;
    }
    msgpack_pack_map (ctx->pk, clear ? 16 : 15);
    sq_pack_kv_str (ctx->pk, "id", id);
    sq_pack_kv_str (ctx->pk, "community", community);
    for (int column = 2; column <= 3; column++)
        sq_pack_kv_str (ctx->pk, PQfname (res, column),
                        PQgetisnull (res, 0, column) ? NULL : PQgetvalue (res, 0, column));
    for (int column = 4; column <= 7; column++)
        sq_pack_kv_str (ctx->pk, PQfname (res, column), PQgetvalue (res, 0, column));
    sq_pack_kv_bool (ctx->pk, "party_member", strcmp (PQgetvalue (res, 0, 8), "t") == 0);
    sq_pack_kv_str (ctx->pk, "status", PQgetvalue (res, 0, 10));
    sq_pack_kv_str (ctx->pk, "id_number", id_number);
    sq_pack_kv_str (ctx->pk, "phone", phone[0] ? phone : NULL);
    sq_pack_kv_bool (ctx->pk, "masked", !clear);
    sq_pack_kv_int (ctx->pk, "registered_at", strtoll (PQgetvalue (res, 0, 15), NULL, 10));
    sq_pack_kv_str (ctx->pk, "id_number_masked", PQgetvalue (res, 0, 11));
    if (clear)
        sq_pack_kv_str (ctx->pk, "care_groups", PQgetvalue (res, 0, 9));
    return 0;
}

//  Runs a one-row resident query and packs the row, or not_found.
static int
s_get_by (sq_ctx_t *ctx, const char *where, const char *value, const char *field)
{
    if (sq_ctx_require_role (ctx, registry_readers))
        return -1;
    char sql[512];
    snprintf (sql, sizeof sql, "SELECT " S_RESIDENT_COLUMNS " FROM registry.resident WHERE %s",
              where);
    const char *params[] = {value};
    PGresult *res = sq_db_query (ctx->db, sql, 1, params, &ctx->err);
    if (!res)
        return -1;
    int rc = PQntuples (res) == 1
                 ? s_pack_resident (ctx, res)
                 : sq_error_set (&ctx->err, SQ_ERR_NOT_FOUND, field, "no resident with this %s",
                                 field);
    PQclear (res);
    return rc;
}

int
registry_resident_get (sq_ctx_t *ctx)
{
    char id[SQ_TEXT_ID_MAX];
    if (sq_arg_str (ctx->args, "id", true, sizeof id - 1, id, sizeof id, &ctx->err) < 0)
        return -1;
    return s_get_by (ctx, "id = $1", id, "id");
}

int
registry_resident_find (sq_ctx_t *ctx)
{
    char raw[32], id_number[SQ_ID_NUMBER_SIZE];
    sq_id_info_t info;
    if (sq_arg_str (ctx->args, "id_number", true, 18, raw, sizeof raw, &ctx->err) < 0
        || sq_id_number_check (raw, sq_now_us (), id_number, &info, &ctx->err))
        return -1;
    registry_t *registry = ctx->state;
    char index[SQ_CRYPT_INDEX_HEX_SIZE];
    sq_crypt_blind_index (registry->crypt, id_number, index);
    return s_get_by (ctx, "id_index = $1", index, "id_number");
}

int
registry_resident_list (sq_ctx_t *ctx)
{
    char division[SQ_DIV_MAX];
    int64_t page = 1;
    if (sq_ctx_require_role (ctx, registry_readers)
        || sq_arg_str (ctx->args, "division", true, 12, division, sizeof division, &ctx->err) < 0
        || sq_arg_int (ctx->args, "page", false, 1, 1000000, &page, &ctx->err) < 0)
        return -1;
    if (!sq_is_digits (division, 0))
        return sq_error_set (&ctx->err, SQ_ERR_INVALID, "division",
                             "division must be a division code");
    if (sq_ctx_require_scope (ctx, division, "division"))
        return -1;
    char offset[24], limit[24];
    snprintf (offset, sizeof offset, "%" PRId64, (page - 1) * REGISTRY_PAGE_SIZE);
    snprintf (limit, sizeof limit, "%d", REGISTRY_PAGE_SIZE);
    const char *params[] = {division, limit, offset};
    PGresult *res = sq_db_query (
        ctx->db, "SELECT id, community, grid, name, residency, party_member, id_masked,"
        " count(*) OVER () FROM registry.resident WHERE status = 'active'"
        " AND community LIKE $1 || '%' ORDER BY community, id LIMIT $2::int OFFSET $3::bigint",
        3, params, &ctx->err);
    if (!res)
        return -1;
    int rows = PQntuples (res);
    msgpack_pack_map (ctx->pk, 4);
    sq_pack_kv_int (ctx->pk, "page", page);
    sq_pack_kv_int (ctx->pk, "page_size", REGISTRY_PAGE_SIZE);
    sq_pack_kv_int (ctx->pk, "total", rows ? strtoll (PQgetvalue (res, 0, 7), NULL, 10) : 0);
    sq_pack_str (ctx->pk, "residents");
    msgpack_pack_array (ctx->pk, (size_t) rows);
    for (int i = 0; i < rows; i++) {
        msgpack_pack_map (ctx->pk, 7);
        for (int column = 0; column < 7; column++) {
            const char *name = column == 6 ? "id_number" : PQfname (res, column);
            if (column == 5)
                sq_pack_kv_bool (ctx->pk, name, strcmp (PQgetvalue (res, i, 5), "t") == 0);
            else
                sq_pack_kv_str (ctx->pk, name, PQgetisnull (res, i, column)
                                                   ? NULL : PQgetvalue (res, i, column));
        }
    }
    PQclear (res);
    return 0;
}

//  Loads an active resident's community, residency and party membership, in scope.
static int
s_load_active (sq_ctx_t *ctx, const char *id, char community[SQ_DIV_MAX], char residency[16],
               bool *party_member)
{
    const char *params[] = {id};
    PGresult *res = sq_db_query (ctx->db, "SELECT community, residency, party_member, status"
                                 " FROM registry.resident WHERE id = $1 FOR UPDATE",
                                 1, params, &ctx->err);
    if (!res)
        return -1;
    int found = PQntuples (res) == 1;
    if (found) {
        snprintf (community, SQ_DIV_MAX, "%s", PQgetvalue (res, 0, 0));
        snprintf (residency, 16, "%s", PQgetvalue (res, 0, 1));
        *party_member = strcmp (PQgetvalue (res, 0, 2), "t") == 0;
    }
    int active = found && strcmp (PQgetvalue (res, 0, 3), "active") == 0;
    PQclear (res);
    if (!found)
        return sq_error_set (&ctx->err, SQ_ERR_NOT_FOUND, "id", "resident %s does not exist", id);
    if (sq_ctx_require_scope (ctx, community, "id"))
        return -1;
    if (!active)
        return sq_error_set (&ctx->err, SQ_ERR_CONFLICT, "id",
                             "resident %s has left and cannot be changed", id);
    return 0;
}

int
registry_resident_move (sq_ctx_t *ctx)
{
    char id[SQ_TEXT_ID_MAX], to[SQ_DIV_MAX], grid[SQ_DIV_MAX + 4] = "";
    char from[SQ_DIV_MAX], residency[16];
    bool party_member = false;
    if (sq_ctx_require_role (ctx, registry_writers)
        || sq_arg_str (ctx->args, "id", true, sizeof id - 1, id, sizeof id, &ctx->err) < 0
        || sq_arg_str (ctx->args, "community", true, 12, to, sizeof to, &ctx->err) < 0
        || sq_arg_str (ctx->args, "grid", false, 16, grid, sizeof grid, &ctx->err) < 0
        || s_load_active (ctx, id, from, residency, &party_member)
        || registry_require_community (ctx, to, "community")
        || (grid[0] && registry_require_grid (ctx, grid, to)))
        return -1;
    char at[24];
    snprintf (at, sizeof at, "%" PRId64, sq_now_us ());
    //  The household belongs to the old community; a move leaves it.
    const char *params[] = {id, to, grid[0] ? grid : NULL, at};
    if (sq_db_exec (ctx->db, "UPDATE registry.resident SET community = $2, grid = $3,"
                    " household = CASE WHEN community = $2 THEN household END,"
                    " updated_at = $4::bigint WHERE id = $1", 4, params, &ctx->err))
        return -1;
    sq_data_t event;
    sq_data_begin (&event);
    msgpack_pack_map (&event.pk, 6);
    sq_pack_kv_str (&event.pk, "resident", id);
    sq_pack_kv_str (&event.pk, "from", from);
    sq_pack_kv_str (&event.pk, "community", to);
    sq_pack_kv_str (&event.pk, "grid", grid[0] ? grid : NULL);
    sq_pack_kv_str (&event.pk, "residency", residency);
    sq_pack_kv_bool (&event.pk, "party_member", party_member);
    if (sq_ctx_emit_data (ctx, &event, "resident_moved", to))
        return -1;
    msgpack_pack_map (ctx->pk, 4);
    sq_pack_kv_str (ctx->pk, "id", id);
    sq_pack_kv_str (ctx->pk, "from", from);
    sq_pack_kv_str (ctx->pk, "community", to);
    sq_pack_kv_str (ctx->pk, "grid", grid[0] ? grid : NULL);
    return 0;
}

int
registry_resident_leave (sq_ctx_t *ctx)
{
    char id[SQ_TEXT_ID_MAX], reason[REGISTRY_TEXT_MAX + 1], community[SQ_DIV_MAX];
    char residency[16];
    bool party_member = false;
    if (sq_ctx_require_role (ctx, registry_writers)
        || sq_arg_str (ctx->args, "id", true, sizeof id - 1, id, sizeof id, &ctx->err) < 0
        || sq_arg_str (ctx->args, "reason", true, REGISTRY_TEXT_MAX, reason, sizeof reason,
                       &ctx->err) < 0)
        return -1;
    if (!reason[0])
        return sq_error_set (&ctx->err, SQ_ERR_INVALID, "reason", "reason is empty");
    if (s_load_active (ctx, id, community, residency, &party_member))
        return -1;
    char at[24];
    snprintf (at, sizeof at, "%" PRId64, sq_now_us ());
    const char *params[] = {id, reason, at};
    if (sq_db_exec (ctx->db, "UPDATE registry.resident SET status = 'left', left_reason = $2,"
                    " updated_at = $3::bigint WHERE id = $1", 3, params, &ctx->err))
        return -1;
    sq_data_t event;
    sq_data_begin (&event);
    msgpack_pack_map (&event.pk, 5);
    sq_pack_kv_str (&event.pk, "resident", id);
    sq_pack_kv_str (&event.pk, "community", community);
    sq_pack_kv_str (&event.pk, "reason", reason);
    sq_pack_kv_str (&event.pk, "residency", residency);
    sq_pack_kv_bool (&event.pk, "party_member", party_member);
    if (sq_ctx_emit_data (ctx, &event, "resident_left", community))
        return -1;
    msgpack_pack_map (ctx->pk, 3);
    sq_pack_kv_str (ctx->pk, "id", id);
    sq_pack_kv_str (ctx->pk, "community", community);
    sq_pack_kv_str (ctx->pk, "status", "left");
    return 0;
}
