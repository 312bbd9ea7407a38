/*  admission applications: submission with screening, lookups, withdrawal (issue 4). */
#include "admission.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const s_departments[] = {"department", "operator", NULL};

//  An application as read from the arguments.
typedef struct {
    char department[ADMISSION_TEXT_MAX + 1], title[ADMISSION_TEXT_MAX + 1];
    char item[ADMISSION_CODE_MAX + 1], decision_ref[ADMISSION_TEXT_MAX + 1];
    char description[ADMISSION_DESCRIPTION_MAX + 1], start[11], end[11];
    char county[SQ_DIV_MAX];
    admission_application_t screen; //  what screening reads
    const msgpack_object *targets;  //  as given
} s_submission_t;

static int
s_read_kind_subject (sq_ctx_t *ctx, s_submission_t *s)
{
    char kind[32], subject[40] = "";
    if (sq_arg_str (ctx->args, "kind", true, 30, kind, sizeof kind, &ctx->err) < 0
        || sq_arg_str (ctx->args, "subject", false, 38, subject, sizeof subject, &ctx->err) < 0)
        return -1;
    if (admission_kind_parse (kind, &s->screen.kind))
        return sq_error_set (&ctx->err, SQ_ERR_INVALID, "kind", "kind %s is not known: task,"
                             " inspection, certificate, responsibility_agreement, veto_item,"
                             " work_body, meeting or report", kind);
    if (subject[0] && admission_subject_parse (subject, &s->screen.subject))
        return sq_error_set (&ctx->err, SQ_ERR_INVALID, "subject", "subject %s is not known",
                             subject);
    return 0;
}

static int
s_read_submission (sq_ctx_t *ctx, s_submission_t *s)
{
    memset (s, 0, sizeof *s);
    int64_t funds = 0;
    if (sq_arg_str (ctx->args, "department", true, ADMISSION_TEXT_MAX, s->department,
                    sizeof s->department, &ctx->err) < 0
        || sq_arg_str (ctx->args, "title", true, ADMISSION_TEXT_MAX, s->title, sizeof s->title,
                       &ctx->err) < 0
        || s_read_kind_subject (ctx, s)
        || sq_arg_array (ctx->args, "targets", true, ADMISSION_TARGETS_MAX, &s->targets,
                         &ctx->err) < 0
        || admission_read_date (ctx, "start", s->start) || admission_read_date (ctx, "end", s->end)
        || sq_arg_str (ctx->args, "catalog_item", false, ADMISSION_CODE_MAX, s->item,
                       sizeof s->item, &ctx->err) < 0
        || sq_arg_int (ctx->args, "funds_per_community", false, 0, ADMISSION_FUNDS_MAX, &funds,
                       &ctx->err) < 0
        || sq_arg_bool (ctx->args, "staff_support", false, &s->screen.staff_support,
                        &ctx->err) < 0
        || sq_arg_str (ctx->args, "decision_ref", false, ADMISSION_TEXT_MAX, s->decision_ref,
                       sizeof s->decision_ref, &ctx->err) < 0
        || sq_arg_str (ctx->args, "description", false, ADMISSION_DESCRIPTION_MAX,
                       s->description, sizeof s->description, &ctx->err) < 0)
        return -1;
    if (!s->department[0] || !s->title[0])
        return sq_error_set (&ctx->err, SQ_ERR_INVALID, s->title[0] ? "department" : "title",
                             "department and title must not be empty");
    if (strcmp (s->end, s->start) < 0)
        return sq_error_set (&ctx->err, SQ_ERR_INVALID, "end", "end %s is before start %s",
                             s->end, s->start);
    s->screen.funds_per_community = funds;
    s->screen.decision_ref = s->decision_ref[0] != 0;
    return 0;
}

//  Reads the targets: community codes, or one street or district code, all in one county.
//  Fills s->county; codes (SQ_DIV_MAX each) gets the codes as given. Returns their count.
static int
s_read_targets (sq_ctx_t *ctx, s_submission_t *s, char (*codes)[SQ_DIV_MAX])
{
    uint32_t count = s->targets->via.array.size;
    if (count == 0)
        return sq_error_set (&ctx->err, SQ_ERR_INVALID, "targets", "targets is empty");
    for (uint32_t i = 0; i < count; i++) {
        const msgpack_object *t = &s->targets->via.array.ptr[i];
        bool ok = sq_obj_str_copy (t, codes[i], SQ_DIV_MAX) == 0;
        size_t len = ok ? strlen (codes[i]) : 0;
        ok = ok && sq_is_digits (codes[i], 0) && (len == 12 || ((len == 9 || len == 6) && count == 1));
        if (!ok)
            return sq_error_set (&ctx->err, SQ_ERR_INVALID, "targets", "targets must be community"
                                 " codes, or one street or district code (item %u)", i + 1);
        if (i > 0 && strncmp (codes[i], codes[0], 6) != 0)
            return sq_error_set (&ctx->err, SQ_ERR_INVALID, "targets",
                                 "targets must all lie in one county (%.6s and %.6s)", codes[0],
                                 codes[i]);
    }
    snprintf (s->county, sizeof s->county, "%.6s", codes[0]);
    return (int) count;
}

//  Asks the registry for the county's communities and expands the targets against them:
//  a street or district means all its communities; community codes must exist. Returns a
//  malloc'd array of codes (SQ_DIV_MAX each) and its length in *count, or NULL with err.
static char (*s_expand (sq_ctx_t *ctx, const s_submission_t *s, char (*codes)[SQ_DIV_MAX],
                        int given, int *count))[SQ_DIV_MAX]
{
    msgpack_sbuffer args;
    msgpack_sbuffer_init (&args);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &args, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, 1);
    sq_pack_kv_str (&pk, "code", s->county);
    sq_reply_t *reply = sq_ctx_call (ctx, "registry", "division.communities", args.data,
                                     args.size, 0);
    msgpack_sbuffer_destroy (&args);
    if (!reply) {
        snprintf (ctx->err.field, sizeof ctx->err.field, "targets");
        return NULL;
    }
    const msgpack_object *known = sq_obj_get (reply->result, "communities");
    uint32_t known_count = known && known->type == MSGPACK_OBJECT_ARRAY ? known->via.array.size : 0;
    char (*out)[SQ_DIV_MAX] = calloc (known_count + (uint32_t) given + 1, SQ_DIV_MAX);
    *count = 0;
    for (int g = 0; g < given && out; g++) {
        size_t len = strlen (codes[g]);
        int matched = 0;
        for (uint32_t k = 0; k < known_count; k++) {
            char code[SQ_DIV_MAX] = "";
            sq_obj_str_copy (&known->via.array.ptr[k], code, sizeof code);
            if (strncmp (code, codes[g], len) == 0) {
                snprintf (out[(*count)++], SQ_DIV_MAX, "%s", code);
                matched++;
            }
        }
        if (!matched) {
            sq_error_set (&ctx->err, SQ_ERR_NOT_FOUND, "targets", "%s %s has no community in"
                          " the registry", len == 12 ? "community" : "division", codes[g]);
            free (out);
            out = NULL;
        }
    }
    sq_reply_destroy (&reply);
    return out;
}

//  Finds the named catalogue item as the county's catalogue stands at version.
static int
s_catalog_list (sq_ctx_t *ctx, s_submission_t *s, int version)
{
    s->screen.list = ADMISSION_LIST_NONE;
    if (!s->item[0])
        return 0;
    char at[16];
    snprintf (at, sizeof at, "%d", version);
    const char *params[] = {s->county, s->item, at};
    PGresult *res = sq_db_query (ctx->db, "SELECT list FROM admission.catalog_item WHERE"
                                 " county = $1 AND code = $2 AND from_version <= $3::int AND"
                                 " (to_version IS NULL OR to_version > $3::int)", 3, params,
                                 &ctx->err);
    if (!res)
        return -1;
    int found = PQntuples (res) == 1;
    if (found)
        s->screen.list = strcmp (PQgetvalue (res, 0, 0), "self_governance") == 0
                             ? ADMISSION_LIST_SELF_GOVERNANCE : ADMISSION_LIST_ASSIST_GOVERNMENT;
    PQclear (res);
    if (!found)
        return sq_error_set (&ctx->err, SQ_ERR_NOT_FOUND, "catalog_item", "county %s has no"
                             " catalogue item %s (version %d)", s->county, s->item, version);
    return 0;
}

//  The status screening gives an application.
static const char *
s_status (admission_outcome_t outcome)
{
    static const char *const statuses[] = {"rejected", "incomplete", "pending_review",
                                           "deliberation"};
    return statuses[outcome];
}

//  Packs the reasons as a msgpack list of {rule, seed, field, message}.
static void
s_pack_reasons (msgpack_packer *pk, const admission_screening_t *r)
{
    msgpack_pack_array (pk, (size_t) r->reason_count);
    for (int i = 0; i < r->reason_count; i++) {
        msgpack_pack_map (pk, 4);
        sq_pack_kv_str (pk, "rule", r->reasons[i].rule);
        sq_pack_kv_str (pk, "seed", r->reasons[i].seed);
        sq_pack_kv_str (pk, "field", r->reasons[i].field);
        sq_pack_kv_str (pk, "message", r->reasons[i].message);
    }
}

//  Builds "{a,b,...}" (digits only, no quoting needed) in a malloc'd string.
static char *
s_array_literal (char (*codes)[SQ_DIV_MAX], int count)
{
    size_t size = (size_t) count * (SQ_DIV_MAX + 1) + 3;
    char *text = malloc (size);
    size_t used = (size_t) snprintf (text, size, "{");
    for (int i = 0; i < count; i++)
        used += (size_t) snprintf (text + used, size - used, "%s%s", i ? "," : "", codes[i]);
    snprintf (text + used, size - used, "}");
    return text;
}

static int
s_insert (sq_ctx_t *ctx, const s_submission_t *s, const char *id, int version,
          const admission_screening_t *r, char *given, char *communities)
{
    msgpack_sbuffer reasons;
    msgpack_sbuffer_init (&reasons);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &reasons, msgpack_sbuffer_write);
    s_pack_reasons (&pk, r);
    char version_text[16], funds[24], at[24];
    snprintf (version_text, sizeof version_text, "%d", version);
    snprintf (funds, sizeof funds, "%" PRId64, s->screen.funds_per_community);
    snprintf (at, sizeof at, "%" PRId64, sq_now_us ());
    char rules[ADMISSION_REASONS_MAX * 40 + 3] = "{";
    for (int i = 0; i < r->reason_count; i++) //  rule codes are plain words: no quoting
        snprintf (rules + strlen (rules), sizeof rules - strlen (rules), "%s%s", i ? "," : "",
                  r->reasons[i].rule);
    snprintf (rules + strlen (rules), sizeof rules - strlen (rules), "}");
    const char *list = s->screen.list == ADMISSION_LIST_NONE ? NULL
                       : s->screen.list == ADMISSION_LIST_SELF_GOVERNANCE ? "self_governance"
                                                                          : "assist_government";
    const char *params[] = {
        id, s->department, s->title, admission_kind_name (s->screen.kind),
        s->screen.subject ? admission_subject_name (s->screen.subject) : NULL, s->county, given,
        s->item[0] ? s->item : NULL, list, version_text, s->start, s->end, funds,
        s->screen.staff_support ? "true" : "false", s->decision_ref[0] ? s->decision_ref : NULL,
        s->description[0] ? s->description : NULL, s_status (r->outcome),
        admission_outcome_name (r->outcome), admission_track_name (r->track), reasons.data, at,
        ctx->actor->id, rules};
    int lengths[23] = {0}, formats[23] = {0};
    lengths[19] = (int) reasons.size, formats[19] = 1;
    PGresult *res = sq_db_query_bin (
        ctx->db, "INSERT INTO admission.application (id, department, title, kind, subject, county,"
        " targets_given, catalog_item, catalog_list, catalog_version, start_date, end_date,"
        " funds_per_community, staff_support, decision_ref, description, status, outcome, track,"
        " reasons, submitted_at, submitted_by, reason_rules) VALUES ($1, $2, $3, $4, $5, $6,"
        " $7::text[], $8, $9, $10::int, $11::date, $12::date, $13::bigint, $14::boolean, $15,"
        " $16, $17, $18, $19, $20, $21::bigint, $22, $23::text[])", 23, params, lengths, formats,
        &ctx->err);
    msgpack_sbuffer_destroy (&reasons);
    PQclear (res);
    const char *targets[] = {id, communities, funds};
    return res ? sq_db_exec (ctx->db, "INSERT INTO admission.application_target (application,"
                             " community, funds) SELECT $1, c, $3::bigint FROM unnest ($2::text[])"
                             " AS c", 3, targets, &ctx->err) : -1;
}

//  admission.submitted for every application; admission.rejected too when screening refused.
static int
s_emit_submitted (sq_ctx_t *ctx, const s_submission_t *s, const char *id, int version,
                  int targets, const admission_screening_t *r)
{
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1 && r->outcome != ADMISSION_OUTCOME_REJECTED)
            break;
        sq_data_t data;
        sq_data_begin (&data);
        msgpack_pack_map (&data.pk, pass == 0 ? 10 : 7);
        sq_pack_kv_str (&data.pk, "application", id);
        sq_pack_kv_str (&data.pk, "county", s->county);
        sq_pack_kv_str (&data.pk, "department", s->department);
        sq_pack_kv_str (&data.pk, "kind", admission_kind_name (s->screen.kind));
        if (pass == 0) {
            sq_pack_kv_str (&data.pk, "status", s_status (r->outcome));
            sq_pack_kv_str (&data.pk, "track", admission_track_name (r->track));
            sq_pack_kv_int (&data.pk, "catalog_version", version);
            sq_pack_kv_int (&data.pk, "targets", targets);
            sq_pack_kv_int (&data.pk, "funds_per_community", s->screen.funds_per_community);
        } else {
            sq_pack_kv_str (&data.pk, "by", "screening");
            sq_pack_kv_nil (&data.pk, "note");
        }
        sq_pack_str (&data.pk, "reasons");
        s_pack_reasons (&data.pk, r);
        if (sq_ctx_emit_data (ctx, &data, pass == 0 ? "submitted" : "rejected", s->county))
            return -1;
    }
    return 0;
}

int
admission_application_submit (sq_ctx_t *ctx)
{
    s_submission_t s;
    if (sq_ctx_require_role (ctx, s_departments) || s_read_submission (ctx, &s))
        return -1;
    char (*given)[SQ_DIV_MAX] = calloc (s.targets->via.array.size + 1, SQ_DIV_MAX);
    int given_count = s_read_targets (ctx, &s, given), count = 0;
    char (*communities)[SQ_DIV_MAX] = NULL;
    int rc = given_count < 0 || sq_ctx_require_scope (ctx, s.county, "targets") ? -1 : 0;
    if (rc == 0 && !(communities = s_expand (ctx, &s, given, given_count, &count)))
        rc = -1;
    int version = rc == 0 ? admission_catalog_version (ctx, s.county) : -1;
    if (version < 0 || s_catalog_list (ctx, &s, version)) {
        free (given);
        free (communities);
        return -1;
    }
    admission_screening_t result;
    admission_screen (&s.screen, &result);
    char id[SQ_ID_SIZE];
    sq_id_new (id);
    char *given_text = s_array_literal (given, given_count);
    char *communities_text = s_array_literal (communities, count);
    rc = s_insert (ctx, &s, id, version, &result, given_text, communities_text)
         || s_emit_submitted (ctx, &s, id, version, count, &result) ? -1 : 0;
    free (given_text);
    free (communities_text);
    free (given);
    free (communities);
    if (rc)
        return -1;
    msgpack_pack_map (ctx->pk, 7);
    sq_pack_kv_str (ctx->pk, "id", id);
    sq_pack_kv_str (ctx->pk, "status", s_status (result.outcome));
    sq_pack_kv_str (ctx->pk, "track", admission_track_name (result.track));
    sq_pack_kv_str (ctx->pk, "county", s.county);
    sq_pack_kv_int (ctx->pk, "catalog_version", version);
    sq_pack_kv_int (ctx->pk, "targets", count);
    sq_pack_str (ctx->pk, "reasons");
    s_pack_reasons (ctx->pk, &result);
    return 0;
}

#define S_APPLICATION_COLUMNS                                                              \
    "id, department, title, kind, subject, county, catalog_item, catalog_list,"            \
    " catalog_version, start_date, end_date, funds_per_community, staff_support,"          \
    " decision_ref, status, track, reasons, submitted_at, reviewed_by, review_note,"       \
    " (SELECT count (*) FROM admission.application_target t WHERE t.application = a.id)"

//  Packs one row of S_APPLICATION_COLUMNS.
static void
s_pack_application (msgpack_packer *pk, PGresult *res, int row)
{
    msgpack_pack_map (pk, 21);
    for (int c = 0; c < 21; c++) {
        const char *name = c == 20 ? "targets" : PQfname (res, c);
        const char *value = PQgetisnull (res, row, c) ? NULL : PQgetvalue (res, row, c);
        if (c == 8 || c == 11 || c == 17 || c == 20)
            sq_pack_kv_int (pk, name, strtoll (value ? value : "0", NULL, 10));
        else if (c == 12)
            sq_pack_kv_bool (pk, name, value && value[0] == 't');
        else if (c == 16) {
            size_t size = 0;
            unsigned char *raw = PQunescapeBytea ((const unsigned char *) value, &size);
            sq_pack_kv_raw (pk, name, raw, raw ? size : 0);
            PQfreemem (raw);
        } else
            sq_pack_kv_str (pk, name, value);
    }
}

int
admission_application_get (sq_ctx_t *ctx)
{
    char id[SQ_TEXT_ID_MAX];
    if (sq_arg_str (ctx->args, "id", true, sizeof id - 1, id, sizeof id, &ctx->err) < 0)
        return -1;
    const char *params[] = {id};
    PGresult *res = sq_db_query (ctx->db, "SELECT " S_APPLICATION_COLUMNS
                                 " FROM admission.application a WHERE id = $1", 1, params,
                                 &ctx->err);
    if (!res)
        return -1;
    int rc = 0;
    if (PQntuples (res) != 1)
        rc = sq_error_set (&ctx->err, SQ_ERR_NOT_FOUND, "id", "application %s does not exist", id);
    else if (sq_ctx_require_scope (ctx, PQgetvalue (res, 0, 5), "id") == 0)
        s_pack_application (ctx->pk, res, 0);
    else
        rc = -1;
    PQclear (res);
    return rc;
}

int
admission_application_list (sq_ctx_t *ctx)
{
    static const int levels[] = {2, 4, 6, 9, 12, 0};
    char division[SQ_DIV_MAX], status[24] = "";
    int64_t page = 1;
    if (admission_read_code (ctx, "division", true, levels, division) < 0
        || sq_arg_str (ctx->args, "status", false, 20, status, sizeof status, &ctx->err) < 0
        || sq_arg_int (ctx->args, "page", false, 1, 1000000, &page, &ctx->err) < 0
        || sq_ctx_require_scope (ctx, division, "division"))
        return -1;
    char offset[24], limit[16];
    snprintf (offset, sizeof offset, "%" PRId64, (page - 1) * ADMISSION_PAGE_SIZE);
    snprintf (limit, sizeof limit, "%d", ADMISSION_PAGE_SIZE);
    //  A county or above: by county; a street or community: by the communities it targets.
    const char *params[] = {division, status[0] ? status : NULL, limit, offset};
    PGresult *res = sq_db_query (
        ctx->db, "SELECT " S_APPLICATION_COLUMNS " FROM admission.application a WHERE"
        " (a.county LIKE $1 || '%' OR EXISTS (SELECT 1 FROM admission.application_target t"
        " WHERE t.application = a.id AND t.community LIKE $1 || '%'))"
        " AND ($2::text IS NULL OR a.status = $2) ORDER BY a.submitted_at, a.id"
        " LIMIT $3::int OFFSET $4::bigint", 4, params, &ctx->err);
    if (!res)
        return -1;
    msgpack_pack_map (ctx->pk, 3);
    sq_pack_kv_str (ctx->pk, "division", division);
    sq_pack_kv_int (ctx->pk, "page", page);
    sq_pack_str (ctx->pk, "applications");
    msgpack_pack_array (ctx->pk, (size_t) PQntuples (res));
    for (int i = 0; i < PQntuples (res); i++)
        s_pack_application (ctx->pk, res, i);
    PQclear (res);
    return 0;
}
