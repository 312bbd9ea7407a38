/*  disputes cases: filing (with its parties), reading one case, listing a territory's. */
#include "disputes.h"
#include "sq_identity.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const disputes_categories[] = {
    "neighbour", "family", "property_management", "land_contract", "labour_wages",
    "housing_homestead", "damages", "land_requisition", "environment", "petition",
    "social_security", "other", NULL};
static const char *const s_sources[] = {"visit", "grid_patrol", "hotline", "online",
                                        "police_referral", "department_referral", NULL};
static const char *const s_risks[] = {"normal", "elevated", "major", NULL};
static const char *const s_party_roles[] = {"applicant", "respondent", "third_party", NULL};

//  One party as read, checked and normalised.
typedef struct {
    char name[DISPUTES_TEXT_MAX + 1];
    int role;
    char phone[SQ_PHONE_SIZE];
    char id_number[SQ_ID_NUMBER_SIZE];
} s_party_t;

//  A filing as read from the arguments.
typedef struct {
    char community[SQ_DIV_MAX], grid[DISPUTES_GRID_SIZE];
    char summary[DISPUTES_NOTE_MAX + 1];
    int category, source, risk;
    int64_t people;
    s_party_t *parties;
    int party_count;
} s_filing_t;

//  Names the party in an error a party's field reader set: "parties[2].phone".
static int
s_party_error (sq_ctx_t *ctx, uint32_t index)
{
    char field[SQ_ERROR_FIELD_MAX];
    snprintf (field, sizeof field, "parties[%u]%s%.32s", index, ctx->err.field[0] ? "." : "",
              ctx->err.field);
    snprintf (ctx->err.field, sizeof ctx->err.field, "%s", field);
    return -1;
}

static int
s_read_party (sq_ctx_t *ctx, const msgpack_object *o, uint32_t index, s_party_t *p)
{
    memset (p, 0, sizeof *p);
    if (o->type != MSGPACK_OBJECT_MAP) {
        sq_error_set (&ctx->err, SQ_ERR_INVALID, "", "a party must be a map of name, role,"
                      " phone (optional) and id_number (optional)");
        return s_party_error (ctx, index);
    }
    for (uint32_t i = 0; i < o->via.map.size; i++) {
        static const char *const known[] = {"name", "role", "phone", "id_number", NULL};
        const msgpack_object *key = &o->via.map.ptr[i].key;
        bool ok = false;
        for (int k = 0; known[k] && !ok; k++)
            ok = sq_obj_str_eq (key, known[k]);
        if (!ok) {
            sq_error_set (&ctx->err, SQ_ERR_INVALID, "", "unknown field; a party has name, role,"
                          " phone and id_number");
            return s_party_error (ctx, index);
        }
    }
    char phone[SQ_PHONE_INPUT_MAX + 1] = "", id_number[SQ_ID_NUMBER_LEN + 1] = "";
    if (sq_arg_str (o, "name", true, DISPUTES_TEXT_MAX, p->name, sizeof p->name, &ctx->err) < 0
        || sq_arg_enum (o, "role", true, s_party_roles, &p->role, &ctx->err) < 0
        || sq_arg_str (o, "phone", false, SQ_PHONE_INPUT_MAX, phone, sizeof phone, &ctx->err) < 0
        || sq_arg_str (o, "id_number", false, SQ_ID_NUMBER_LEN, id_number, sizeof id_number,
                       &ctx->err) < 0)
        return s_party_error (ctx, index);
    if (!p->name[0]) {
        sq_error_set (&ctx->err, SQ_ERR_INVALID, "name", "a party's name must not be empty");
        return s_party_error (ctx, index);
    }
    if ((phone[0] && sq_phone_check (phone, p->phone, &ctx->err))
        || (id_number[0] && sq_id_number_check (id_number, sq_now_us (), p->id_number, NULL,
                                                &ctx->err)))
        return s_party_error (ctx, index);
    return 0;
}

static int
s_read_filing (sq_ctx_t *ctx, s_filing_t *f)
{
    memset (f, 0, sizeof *f);
    const msgpack_object *parties = NULL;
    f->people = -1;
    if (sq_arg_str (ctx->args, "community", true, 12, f->community, sizeof f->community,
                    &ctx->err) < 0
        || sq_arg_enum (ctx->args, "category", true, disputes_categories, &f->category, &ctx->err) < 0
        || sq_arg_enum (ctx->args, "source", true, s_sources, &f->source, &ctx->err) < 0
        || sq_arg_str (ctx->args, "summary", true, DISPUTES_NOTE_MAX, f->summary,
                       sizeof f->summary, &ctx->err) < 0
        || sq_arg_array (ctx->args, "parties", true, DISPUTES_PARTIES_MAX, &parties, &ctx->err) < 0
        || sq_arg_enum (ctx->args, "risk", false, s_risks, &f->risk, &ctx->err) < 0
        || sq_arg_int (ctx->args, "people_involved", false, 1, DISPUTES_PEOPLE_MAX, &f->people,
                       &ctx->err) < 0
        || sq_arg_str (ctx->args, "grid", false, DISPUTES_GRID_SIZE - 1, f->grid,
                       sizeof f->grid, &ctx->err) < 0)
        return -1;
    if (!sq_is_digits (f->community, 12))
        return sq_error_set (&ctx->err, SQ_ERR_INVALID, "community", "community must be a"
                             " 12-digit community code");
    if (!f->summary[0])
        return sq_error_set (&ctx->err, SQ_ERR_INVALID, "summary", "summary must not be empty");
    if (f->grid[0] && (strlen (f->grid) != 16 || strncmp (f->grid, f->community, 12) != 0
                       || f->grid[12] != '-' || !sq_is_digits (f->grid + 13, 3)))
        return sq_error_set (&ctx->err, SQ_ERR_INVALID, "grid", "grid %s is not a grid code of"
                             " community %s (<community>-NNN)", f->grid, f->community);
    uint32_t count = parties->via.array.size;
    if (count == 0)
        return sq_error_set (&ctx->err, SQ_ERR_INVALID, "parties", "a case needs at least one"
                             " party");
    f->parties = calloc (count, sizeof *f->parties);
    if (!f->parties)
        return sq_error_set (&ctx->err, SQ_ERR_INTERNAL, "", "out of memory");
    bool applicant = false;
    for (uint32_t i = 0; i < count; i++) {
        if (s_read_party (ctx, &parties->via.array.ptr[i], i, &f->parties[i]))
            return -1;
        applicant |= f->parties[i].role == 0;
    }
    f->party_count = (int) count;
    if (!applicant)
        return sq_error_set (&ctx->err, SQ_ERR_INVALID, "parties", "a case needs an applicant"
                             " among its parties");
    if (f->people < 0)
        f->people = count;
    return 0;
}

//  Asks the registry that the community exists (and the grid, when one is given).
static int
s_check_registry (sq_ctx_t *ctx, const s_filing_t *f)
{
    msgpack_sbuffer args;
    msgpack_sbuffer_init (&args);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &args, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, 1);
    sq_pack_kv_str (&pk, "code", f->community);
    sq_reply_t *reply = sq_ctx_call (ctx, "registry", "division.get", args.data, args.size, 0);
    msgpack_sbuffer_destroy (&args);
    if (!reply) {
        if (strcmp (ctx->err.code, SQ_ERR_NOT_FOUND) == 0)
            sq_error_set (&ctx->err, SQ_ERR_NOT_FOUND, "community", "community %s is not in the"
                          " registry", f->community);
        snprintf (ctx->err.field, sizeof ctx->err.field, "community");
        return -1;
    }
    bool community = sq_obj_str_eq (sq_obj_get (reply->result, "level"), "community");
    sq_reply_destroy (&reply);
    if (!community)
        return sq_error_set (&ctx->err, SQ_ERR_INVALID, "community", "%s is not a community",
                             f->community);
    if (!f->grid[0])
        return 0;
    msgpack_sbuffer_init (&args);
    msgpack_packer_init (&pk, &args, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, 1);
    sq_pack_kv_str (&pk, "community", f->community);
    reply = sq_ctx_call (ctx, "registry", "grid.list", args.data, args.size, 0);
    msgpack_sbuffer_destroy (&args);
    if (!reply) {
        snprintf (ctx->err.field, sizeof ctx->err.field, "grid");
        return -1;
    }
    const msgpack_object *grids = sq_obj_get (reply->result, "grids");
    bool found = false;
    for (uint32_t i = 0; grids && grids->type == MSGPACK_OBJECT_ARRAY && i < grids->via.array.size
                         && !found; i++)
        found = sq_obj_str_eq (sq_obj_get (&grids->via.array.ptr[i], "code"), f->grid);
    sq_reply_destroy (&reply);
    return found ? 0 : sq_error_set (&ctx->err, SQ_ERR_NOT_FOUND, "grid", "grid %s is not in"
                                     " the registry", f->grid);
}

//  Queues one party's row; phones and identity numbers sealed, with their masked forms.
static int
s_insert_party (sq_ctx_t *ctx, const char *id, int n, const s_party_t *p)
{
    const disputes_t *self = ctx->state;
    char number[16], phone_masked[SQ_PHONE_SIZE], id_masked[SQ_ID_NUMBER_SIZE];
    snprintf (number, sizeof number, "%d", n);
    size_t phone_size = 0, id_size = 0;
    uint8_t *phone = p->phone[0] ? sq_crypt_seal (self->crypt, p->phone, strlen (p->phone),
                                                  &phone_size) : NULL;
    uint8_t *id_number = p->id_number[0] ? sq_crypt_seal (self->crypt, p->id_number,
                                                          strlen (p->id_number), &id_size) : NULL;
    sq_mask_phone (p->phone, phone_masked);
    sq_mask_id_number (p->id_number, id_masked);
    const char *params[] = {id, number, p->name, s_party_roles[p->role], (const char *) phone,
                            p->phone[0] ? phone_masked : NULL, (const char *) id_number,
                            p->id_number[0] ? id_masked : NULL};
    int lengths[8] = {0}, formats[8] = {0};
    lengths[4] = (int) phone_size, formats[4] = 1;
    lengths[6] = (int) id_size, formats[6] = 1;
    int rc = (p->phone[0] && !phone) || (p->id_number[0] && !id_number)
                 ? sq_error_set (&ctx->err, SQ_ERR_INTERNAL, "", "could not seal a party's data")
                 : sq_db_defer (ctx->db, "INSERT INTO disputes.party (dispute, n, name, role,"
                                " phone_sealed, phone_masked, id_number_sealed, id_number_masked)"
                                " VALUES ($1, $2::int, $3, $4, $5, $6, $7, $8)", 8, params,
                                lengths, formats, &ctx->err);
    free (phone);
    free (id_number);
    return rc;
}

static int
s_insert (sq_ctx_t *ctx, const s_filing_t *f, const disputes_case_t *c, int64_t now)
{
    char people[24], at[24];
    snprintf (people, sizeof people, "%" PRId64, f->people);
    snprintf (at, sizeof at, "%" PRId64, now);
    const char *level = disputes_level_name (c->state.level);
    const char *params[] = {c->id, f->community, c->category, s_sources[f->source], f->summary,
                            c->risk, people, f->grid[0] ? f->grid : NULL, level, at,
                            ctx->actor->id};
    const char *step_params[] = {c->id, level, at, ctx->actor->id, ctx->actor->role};
    if (sq_db_exec (ctx->db, "INSERT INTO disputes.dispute (id, community, category, source,"
                    " summary, risk, people_involved, grid, status, level, start_level, steps,"
                    " stage_step, stage_at, filed_at, filed_by, updated_at) VALUES ($1, $2, $3, $4,"
                    " $5, $6, $7::int, $8, 'filed', $9, $9, 1, 1, $10::bigint, $10::bigint, $11,"
                    " $10::bigint)", 11, params, &ctx->err)
        || sq_db_exec (ctx->db, "INSERT INTO disputes.step (dispute, n, action, from_status,"
                       " to_status, level, at, actor, actor_role) VALUES ($1, 1, 'file', NULL,"
                       " 'filed', $2, $3::bigint, $4, $5)", 5, step_params, &ctx->err))
        return -1;
    for (int i = 0; i < f->party_count; i++)
        if (s_insert_party (ctx, c->id, i + 1, &f->parties[i]))
            return -1;
    return 0;
}

typedef struct {
    const s_filing_t *filing;
} s_filed_extra_t;

static void
s_pack_filed (msgpack_packer *pk, const void *arg)
{
    const s_filing_t *f = ((const s_filed_extra_t *) arg)->filing;
    sq_pack_kv_str (pk, "source", s_sources[f->source]);
    sq_pack_kv_int (pk, "people_involved", f->people);
    sq_pack_kv_int (pk, "parties", f->party_count);
    sq_pack_kv_str (pk, "grid", f->grid[0] ? f->grid : NULL);
}

//  disputes.major_case_filed for the district: a major case, or one of many people.
static int
s_emit_major (sq_ctx_t *ctx, const s_filing_t *f, const disputes_case_t *c)
{
    char district[SQ_DIV_MAX];
    snprintf (district, sizeof district, "%.6s", f->community);
    sq_data_t data;
    sq_data_begin (&data);
    msgpack_pack_map (&data.pk, 8);
    sq_pack_kv_str (&data.pk, "case", c->id);
    sq_pack_kv_str (&data.pk, "community", f->community);
    sq_pack_kv_str (&data.pk, "district", district);
    sq_pack_kv_str (&data.pk, "category", c->category);
    sq_pack_kv_str (&data.pk, "risk", c->risk);
    sq_pack_kv_int (&data.pk, "people_involved", f->people);
    sq_pack_kv_str (&data.pk, "level", disputes_level_name (c->state.level));
    sq_pack_kv_str (&data.pk, "source", s_sources[f->source]);
    return sq_ctx_emit_data (ctx, &data, "major_case_filed", district);
}

int
disputes_case_file (sq_ctx_t *ctx)
{
    s_filing_t f = {0};
    int rc = sq_ctx_require_role (ctx, disputes_handlers) || s_read_filing (ctx, &f)
                 || sq_ctx_require_scope (ctx, f.community, "community")
                 || s_check_registry (ctx, &f) ? -1 : 0;
    disputes_policy_t policy;
    if (rc == 0 && disputes_policy_load (ctx, &policy))
        rc = -1;
    if (rc) {
        free (f.parties);
        return -1;
    }
    disputes_case_t c = {0};
    sq_id_new (c.id);
    snprintf (c.community, sizeof c.community, "%s", f.community);
    snprintf (c.category, sizeof c.category, "%s", disputes_categories[f.category]);
    snprintf (c.risk, sizeof c.risk, "%s", s_risks[f.risk]);
    c.state = (disputes_state_t) {DISPUTES_FILED,
                                  disputes_start_level (f.risk == 2, (int) f.people), false};
    int64_t now = sq_now_us (), due = 0;
    c.steps = c.stage_step = 1;
    c.stage_at = c.filed_at = now;
    s_filed_extra_t extra = {&f};
    rc = s_insert (ctx, &f, &c, now)
         || disputes_emit_case (ctx, &policy, &c, "case_filed", DISPUTES_STATUS_COUNT, NULL, 4,
                                s_pack_filed, &extra)
         || (c.state.level != DISPUTES_COMMUNITY && s_emit_major (ctx, &f, &c))
         || disputes_case_due (ctx, &policy, &c, &due) < 0 ? -1 : 0;
    disputes_policy_free (&policy);
    free (f.parties);
    if (rc)
        return -1;
    msgpack_pack_map (ctx->pk, 5);
    sq_pack_kv_str (ctx->pk, "id", c.id);
    sq_pack_kv_str (ctx->pk, "status", "filed");
    sq_pack_kv_str (ctx->pk, "level", disputes_level_name (c.state.level));
    sq_pack_kv_int (ctx->pk, "filed_at", now);
    sq_pack_str (ctx->pk, "deadlines");
    msgpack_pack_map (ctx->pk, 1);
    sq_pack_kv_int (ctx->pk, "accept", due);
    return 0;
}

// ---- reading ------------------------------------------------------------------------------

//  Packs a sealed column in clear, or the masked column.
static void
s_pack_personal (sq_ctx_t *ctx, const char *key, PGresult *res, int row, int sealed, int masked,
                 bool clear)
{
    const disputes_t *self = ctx->state;
    if (PQgetisnull (res, row, masked)) {
        sq_pack_kv_nil (ctx->pk, key);
        return;
    }
    char *plain = NULL;
    size_t sealed_size = 0, plain_size = 0;
    unsigned char *raw = clear ? PQunescapeBytea ((unsigned char *) PQgetvalue (res, row, sealed),
                                                  &sealed_size) : NULL;
    if (raw && sq_crypt_open (self->crypt, raw, sealed_size, &plain, &plain_size) == 0)
        sq_pack_kv_str (ctx->pk, key, plain);
    else
        sq_pack_kv_str (ctx->pk, key, PQgetvalue (res, row, masked));
    free (plain);
    PQfreemem (raw);
}

static int
s_pack_parties (sq_ctx_t *ctx, const char *id, bool clear)
{
    const char *params[] = {id};
    PGresult *res = sq_db_query (ctx->db, "SELECT name, role, phone_sealed, phone_masked,"
                                 " id_number_sealed, id_number_masked FROM disputes.party"
                                 " WHERE dispute = $1 ORDER BY n", 1, params, &ctx->err);
    if (!res)
        return -1;
    sq_pack_str (ctx->pk, "parties");
    msgpack_pack_array (ctx->pk, (size_t) PQntuples (res));
    for (int i = 0; i < PQntuples (res); i++) {
        msgpack_pack_map (ctx->pk, 4);
        sq_pack_kv_str (ctx->pk, "name", PQgetvalue (res, i, 0));
        sq_pack_kv_str (ctx->pk, "role", PQgetvalue (res, i, 1));
        s_pack_personal (ctx, "phone", res, i, 2, 3, clear);
        s_pack_personal (ctx, "id_number", res, i, 4, 5, clear);
    }
    PQclear (res);
    return 0;
}

static int
s_pack_history (sq_ctx_t *ctx, const char *id)
{
    const char *params[] = {id};
    PGresult *res = sq_db_query (ctx->db, "SELECT n, action, from_status, to_status, level, at,"
                                 " actor, actor_role, note, deadline, due_at, on_time"
                                 " FROM disputes.step WHERE dispute = $1 ORDER BY n", 1, params,
                                 &ctx->err);
    if (!res)
        return -1;
    sq_pack_str (ctx->pk, "history");
    msgpack_pack_array (ctx->pk, (size_t) PQntuples (res));
    for (int i = 0; i < PQntuples (res); i++) {
        msgpack_pack_map (ctx->pk, 12);
        for (int col = 0; col < 12; col++) {
            const char *name = PQfname (res, col);
            if (PQgetisnull (res, i, col))
                sq_pack_kv_nil (ctx->pk, name);
            else if (col == 0 || col == 5 || col == 10)
                sq_pack_kv_int (ctx->pk, name, strtoll (PQgetvalue (res, i, col), NULL, 10));
            else if (col == 11)
                sq_pack_kv_bool (ctx->pk, name, PQgetvalue (res, i, col)[0] == 't');
            else
                sq_pack_kv_str (ctx->pk, name, PQgetvalue (res, i, col));
        }
    }
    PQclear (res);
    return 0;
}

//  The deadline running now: {name, started_at, due, paused, overdue}, or nil.
static int
s_pack_deadline (sq_ctx_t *ctx, const disputes_case_t *c)
{
    disputes_policy_t policy;
    if (disputes_policy_load (ctx, &policy))
        return -1;
    int64_t due = 0;
    int running = disputes_case_due (ctx, &policy, c, &due);
    disputes_policy_free (&policy);
    if (running < 0)
        return -1;
    disputes_deadline_t deadline = disputes_deadline_of (c->state.status);
    sq_pack_str (ctx->pk, "deadline");
    if (deadline == DISPUTES_DEADLINE_NONE) {
        msgpack_pack_nil (ctx->pk);
        return 0;
    }
    msgpack_pack_map (ctx->pk, 5);
    sq_pack_kv_str (ctx->pk, "name", disputes_deadline_name (deadline));
    sq_pack_kv_int (ctx->pk, "started_at", c->stage_at);
    if (running == 0)
        sq_pack_kv_int (ctx->pk, "due", due);
    else
        sq_pack_kv_nil (ctx->pk, "due");
    sq_pack_kv_bool (ctx->pk, "paused", c->state.paused);
    sq_pack_kv_bool (ctx->pk, "overdue", running == 0 && sq_now_us () > due);
    return 0;
}

#define S_CASE_COLUMNS                                                                        \
    "id, community, category, source, summary, risk, people_involved, grid, status, level,"   \
    " start_level, resolved_level, paused, mediator, referred_to, performed, steps,"          \
    " filed_at, filed_by, resolved_at, ended_at, updated_at, stage_step, stage_at,"           \
    " EXISTS (SELECT 1 FROM disputes.overdue o WHERE o.dispute = d.id"                        \
    " AND o.stage_step = d.stage_step) AS overdue"
#define S_CASE_FIELDS 22 //  columns packed as they are (the last three are handled apart)

//  Packs the plain columns of S_CASE_COLUMNS of one row (S_CASE_FIELDS keys).
static void
s_pack_columns (msgpack_packer *pk, PGresult *res, int row)
{
    for (int col = 0; col < S_CASE_FIELDS; col++) {
        const char *name = PQfname (res, col);
        if (PQgetisnull (res, row, col))
            sq_pack_kv_nil (pk, name);
        else if (col == 6 || col == 16 || col == 17 || col >= 19)
            sq_pack_kv_int (pk, name, strtoll (PQgetvalue (res, row, col), NULL, 10));
        else if (col == 12 || col == 15)
            sq_pack_kv_bool (pk, name, PQgetvalue (res, row, col)[0] == 't');
        else
            sq_pack_kv_str (pk, name, PQgetvalue (res, row, col));
    }
}

//  Records an unmasked read of a case's parties.
static int
s_record_read (sq_ctx_t *ctx, const char *id)
{
    char subject[SQ_TEXT_ID_MAX + 16];
    snprintf (subject, sizeof subject, "dispute:%s", id);
    return sq_ctx_record_read (ctx, subject, "parties.phone,parties.id_number");
}

int
disputes_case_get (sq_ctx_t *ctx)
{
    char id[SQ_TEXT_ID_MAX];
    if (sq_ctx_require_role (ctx, disputes_readers)
        || sq_arg_str (ctx->args, "id", true, sizeof id - 1, id, sizeof id, &ctx->err) < 0)
        return -1;
    const char *params[] = {id};
    PGresult *res = sq_db_query (ctx->db, "SELECT " S_CASE_COLUMNS " FROM disputes.dispute d"
                                 " WHERE id = $1", 1, params, &ctx->err);
    if (!res)
        return -1;
    if (PQntuples (res) != 1) {
        PQclear (res);
        return sq_error_set (&ctx->err, SQ_ERR_NOT_FOUND, "id", "case %s does not exist", id);
    }
    disputes_case_t c = {0};
    snprintf (c.id, sizeof c.id, "%s", id);
    snprintf (c.community, sizeof c.community, "%s", PQgetvalue (res, 0, 1));
    disputes_status_parse (PQgetvalue (res, 0, 8), &c.state.status);
    c.state.paused = PQgetvalue (res, 0, 12)[0] == 't';
    c.steps = (int) strtol (PQgetvalue (res, 0, 16), NULL, 10);
    c.stage_step = (int) strtol (PQgetvalue (res, 0, 22), NULL, 10);
    c.stage_at = strtoll (PQgetvalue (res, 0, 23), NULL, 10);
    bool marked = PQgetvalue (res, 0, 24)[0] == 't';
    if (sq_ctx_require_scope (ctx, c.community, "id")) {
        PQclear (res);
        return -1;
    }
    //  Parties are shown in clear to those who may (DESIGN.md), and that read is recorded.
    bool clear = sq_ctx_may_unmask (ctx, c.community);
    msgpack_pack_map (ctx->pk, S_CASE_FIELDS + 5);
    s_pack_columns (ctx->pk, res, 0);
    PQclear (res);
    sq_pack_kv_bool (ctx->pk, "overdue_marked", marked);
    sq_pack_kv_bool (ctx->pk, "masked", !clear);
    if (s_pack_deadline (ctx, &c) || s_pack_parties (ctx, id, clear) || s_pack_history (ctx, id)
        || (clear && s_record_read (ctx, id)))
        return -1;
    return 0;
}

int
disputes_case_list (sq_ctx_t *ctx)
{
    char division[SQ_DIV_MAX], status[24] = "", category[32] = "";
    int64_t page = 1;
    bool overdue = false;
    int overdue_given = 0;
    if (sq_ctx_require_role (ctx, disputes_readers)
        || disputes_read_division (ctx, "division", division)
        || sq_arg_str (ctx->args, "status", false, 20, status, sizeof status, &ctx->err) < 0
        || sq_arg_str (ctx->args, "category", false, 30, category, sizeof category, &ctx->err) < 0
        || (overdue_given = sq_arg_bool (ctx->args, "overdue", false, &overdue, &ctx->err)) < 0
        || sq_arg_int (ctx->args, "page", false, 1, 1000000, &page, &ctx->err) < 0
        || sq_ctx_require_scope (ctx, division, "division"))
        return -1;
    disputes_status_t parsed;
    if (status[0] && disputes_status_parse (status, &parsed))
        return sq_error_set (&ctx->err, SQ_ERR_INVALID, "status", "status %s is not known",
                             status);
    bool known = !category[0];
    for (int i = 0; disputes_categories[i] && !known; i++)
        known = strcmp (category, disputes_categories[i]) == 0;
    if (!known)
        return sq_error_set (&ctx->err, SQ_ERR_INVALID, "category", "category %s is not known",
                             category);
    char offset[24], limit[16];
    snprintf (offset, sizeof offset, "%" PRId64, (page - 1) * DISPUTES_PAGE_SIZE);
    snprintf (limit, sizeof limit, "%d", DISPUTES_PAGE_SIZE);
    const char *params[] = {division, status[0] ? status : NULL, category[0] ? category : NULL,
                            overdue_given ? (overdue ? "true" : "false") : NULL, limit, offset};
    PGresult *res = sq_db_query (
        ctx->db, "SELECT * FROM (SELECT " S_CASE_COLUMNS " FROM disputes.dispute d"
        " WHERE d.community LIKE $1 || '%' AND ($2::text IS NULL OR d.status = $2)"
        " AND ($3::text IS NULL OR d.category = $3)) l WHERE ($4::boolean IS NULL"
        " OR l.overdue = $4::boolean) ORDER BY l.filed_at, l.id LIMIT $5::int OFFSET $6::bigint",
        6, params, &ctx->err);
    if (!res)
        return -1;
    msgpack_pack_map (ctx->pk, 3);
    sq_pack_kv_str (ctx->pk, "division", division);
    sq_pack_kv_int (ctx->pk, "page", page);
    sq_pack_str (ctx->pk, "cases");
    msgpack_pack_array (ctx->pk, (size_t) PQntuples (res));
    for (int i = 0; i < PQntuples (res); i++) {
        msgpack_pack_map (ctx->pk, S_CASE_FIELDS + 1);
        s_pack_columns (ctx->pk, res, i);
        sq_pack_kv_bool (ctx->pk, "overdue", PQgetvalue (res, i, 24)[0] == 't');
    }
    PQclear (res);
    return 0;
}
