/*  admission decisions: review by the county community office, withdrawal, and the
    service agreements that outside-catalogue work needs (issue 4). */
#include "admission.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const s_reviewers[] = {"community_office", NULL};
static const char *const s_decisions[] = {"approve", "reject", NULL};
static const char *const s_departments[] = {"department", "operator", NULL};
static const char *const s_signers[] = {"community_staff", NULL};

//  What a decision needs of an application, read under a row lock.
typedef struct {
    char county[SQ_DIV_MAX], status[24], track[24], department[ADMISSION_TEXT_MAX + 1];
    char kind[32], start[11], end[11];
    int64_t version;
} s_row_t;

static int
s_lock (sq_ctx_t *ctx, const char *id, s_row_t *row)
{
    const char *params[] = {id};
    PGresult *res = sq_db_query (ctx->db, "SELECT county, status, track, department, kind,"
                                 " start_date, end_date, catalog_version FROM"
                                 " admission.application WHERE id = $1 FOR UPDATE", 1, params,
                                 &ctx->err);
    if (!res)
        return -1;
    int found = PQntuples (res) == 1;
    if (found) {
        char *fields[] = {row->county, row->status, row->track, row->department, row->kind,
                          row->start, row->end};
        size_t sizes[] = {sizeof row->county, sizeof row->status, sizeof row->track,
                          sizeof row->department, sizeof row->kind, sizeof row->start,
                          sizeof row->end};
        for (int c = 0; c < 7; c++)
            snprintf (fields[c], sizes[c], "%s", PQgetvalue (res, 0, c));
        row->version = strtoll (PQgetvalue (res, 0, 7), NULL, 10);
    }
    PQclear (res);
    if (!found)
        return sq_error_set (&ctx->err, SQ_ERR_NOT_FOUND, "id", "application %s does not exist", id);
    return sq_ctx_require_scope (ctx, row->county, "id");
}

//  Packs the application's targets as [{community, funds}].
static int
s_pack_targets (sq_ctx_t *ctx, msgpack_packer *pk, const char *id)
{
    const char *params[] = {id};
    PGresult *res = sq_db_query (ctx->db, "SELECT community, funds FROM"
                                 " admission.application_target WHERE application = $1"
                                 " ORDER BY community", 1, params, &ctx->err);
    if (!res)
        return -1;
    msgpack_pack_array (pk, (size_t) PQntuples (res));
    for (int i = 0; i < PQntuples (res); i++) {
        msgpack_pack_map (pk, 2);
        sq_pack_kv_str (pk, "community", PQgetvalue (res, i, 0));
        sq_pack_kv_int (pk, "funds", strtoll (PQgetvalue (res, i, 1), NULL, 10));
    }
    PQclear (res);
    return 0;
}

static int
s_approve (sq_ctx_t *ctx, const char *id, const s_row_t *row, int *agreements)
{
    bool purchased = strcmp (row->track, "purchased_service") == 0;
    *agreements = 0;
    if (purchased) {
        char at[24];
        snprintf (at, sizeof at, "%" PRId64, sq_now_us ());
        const char *params[] = {id, at};
        PGresult *res = sq_db_query (
            ctx->db, "INSERT INTO admission.agreement (id, application, community, funds, status,"
            " created_at) SELECT gen_random_uuid ()::text, application, community, funds,"
            " 'pending', $2::bigint FROM admission.application_target WHERE application = $1"
            " RETURNING id", 2, params, &ctx->err);
        if (!res)
            return -1;
        *agreements = PQntuples (res);
        PQclear (res);
    }
    sq_data_t data;
    sq_data_begin (&data);
    msgpack_pack_map (&data.pk, 10);
    sq_pack_kv_str (&data.pk, "application", id);
    sq_pack_kv_str (&data.pk, "county", row->county);
    sq_pack_kv_str (&data.pk, "department", row->department);
    sq_pack_kv_str (&data.pk, "kind", row->kind);
    sq_pack_kv_str (&data.pk, "track", row->track);
    sq_pack_kv_int (&data.pk, "catalog_version", row->version);
    sq_pack_kv_str (&data.pk, "start", row->start);
    sq_pack_kv_str (&data.pk, "end", row->end);
    sq_pack_kv_bool (&data.pk, "agreements", purchased);
    sq_pack_str (&data.pk, "targets");
    if (s_pack_targets (ctx, &data.pk, id)) {
        sq_data_destroy (&data);
        return -1;
    }
    return sq_ctx_emit_data (ctx, &data, "approved", row->county);
}

static int
s_refuse (sq_ctx_t *ctx, const char *id, const s_row_t *row, const char *note)
{
    sq_data_t data;
    sq_data_begin (&data);
    msgpack_pack_map (&data.pk, 7);
    sq_pack_kv_str (&data.pk, "application", id);
    sq_pack_kv_str (&data.pk, "county", row->county);
    sq_pack_kv_str (&data.pk, "department", row->department);
    sq_pack_kv_str (&data.pk, "kind", row->kind);
    sq_pack_kv_str (&data.pk, "by", "review");
    sq_pack_str (&data.pk, "reasons");
    msgpack_pack_array (&data.pk, 0);
    sq_pack_kv_str (&data.pk, "note", note);
    return sq_ctx_emit_data (ctx, &data, "rejected", row->county);
}

int
admission_application_review (sq_ctx_t *ctx)
{
    char id[SQ_TEXT_ID_MAX], note[ADMISSION_DESCRIPTION_MAX + 1] = "";
    int decision = 0;
    s_row_t row;
    if (sq_ctx_require_role (ctx, s_reviewers)
        || sq_arg_str (ctx->args, "id", true, sizeof id - 1, id, sizeof id, &ctx->err) < 0
        || sq_arg_enum (ctx->args, "decision", true, s_decisions, &decision, &ctx->err) < 0
        || sq_arg_str (ctx->args, "note", true, ADMISSION_DESCRIPTION_MAX, note, sizeof note,
                       &ctx->err) < 0
        || s_lock (ctx, id, &row))
        return -1;
    if (strcmp (row.status, "pending_review") && strcmp (row.status, "deliberation"))
        return sq_error_set (&ctx->err, SQ_ERR_CONFLICT, "id", "could not review application %s:"
                             " it is %s, only pending_review or deliberation can be reviewed",
                             id, row.status);
    bool approve = decision == 0;
    char at[24];
    snprintf (at, sizeof at, "%" PRId64, sq_now_us ());
    const char *params[] = {id, approve ? "approved" : "refused", at, ctx->actor->id, note};
    int agreements = 0;
    if (sq_db_exec (ctx->db, "UPDATE admission.application SET status = $2, reviewed_at ="
                    " $3::bigint, reviewed_by = $4, review_note = $5, reason_rules = CASE WHEN"
                    " $2 = 'refused' THEN ARRAY['review'] ELSE reason_rules END WHERE id = $1",
                    5, params, &ctx->err)
        || (approve ? s_approve (ctx, id, &row, &agreements) : s_refuse (ctx, id, &row, note)))
        return -1;
    msgpack_pack_map (ctx->pk, 4);
    sq_pack_kv_str (ctx->pk, "id", id);
    sq_pack_kv_str (ctx->pk, "status", approve ? "approved" : "refused");
    sq_pack_kv_int (ctx->pk, "catalog_version", row.version);
    sq_pack_kv_int (ctx->pk, "agreements", agreements);
    return 0;
}

int
admission_application_withdraw (sq_ctx_t *ctx)
{
    char id[SQ_TEXT_ID_MAX];
    s_row_t row;
    if (sq_ctx_require_role (ctx, s_departments)
        || sq_arg_str (ctx->args, "id", true, sizeof id - 1, id, sizeof id, &ctx->err) < 0
        || s_lock (ctx, id, &row))
        return -1;
    static const char *const open[] = {"incomplete", "pending_review", "deliberation", "approved"};
    bool withdrawable = false;
    for (int i = 0; i < 4; i++)
        withdrawable |= strcmp (row.status, open[i]) == 0;
    if (!withdrawable)
        return sq_error_set (&ctx->err, SQ_ERR_CONFLICT, "id", "could not withdraw application %s:"
                             " it is %s", id, row.status);
    const char *params[] = {id};
    if (sq_db_exec (ctx->db, "UPDATE admission.application SET status = 'withdrawn'"
                    " WHERE id = $1", 1, params, &ctx->err)
        || sq_db_exec (ctx->db, "UPDATE admission.agreement SET status = 'void'"
                       " WHERE application = $1 AND status = 'pending'", 1, params, &ctx->err))
        return -1;
    sq_data_t data;
    sq_data_begin (&data);
    msgpack_pack_map (&data.pk, 4);
    sq_pack_kv_str (&data.pk, "application", id);
    sq_pack_kv_str (&data.pk, "county", row.county);
    sq_pack_kv_str (&data.pk, "department", row.department);
    sq_pack_kv_str (&data.pk, "previous_status", row.status);
    if (sq_ctx_emit_data (ctx, &data, "withdrawn", row.county))
        return -1;
    msgpack_pack_map (ctx->pk, 2);
    sq_pack_kv_str (ctx->pk, "id", id);
    sq_pack_kv_str (ctx->pk, "status", "withdrawn");
    return 0;
}

int
admission_agreement_list (sq_ctx_t *ctx)
{
    static const int community_level[] = {12, 0};
    char community[SQ_DIV_MAX];
    if (admission_read_code (ctx, "community", true, community_level, community) < 0
        || sq_ctx_require_scope (ctx, community, "community"))
        return -1;
    const char *params[] = {community};
    PGresult *res = sq_db_query (ctx->db, "SELECT g.id, g.application, a.title, a.department,"
                                 " g.funds, g.status FROM admission.agreement g JOIN"
                                 " admission.application a ON a.id = g.application"
                                 " WHERE g.community = $1 ORDER BY g.created_at, g.id",
                                 1, params, &ctx->err);
    if (!res)
        return -1;
    msgpack_pack_map (ctx->pk, 2);
    sq_pack_kv_str (ctx->pk, "community", community);
    sq_pack_str (ctx->pk, "agreements");
    msgpack_pack_array (ctx->pk, (size_t) PQntuples (res));
    for (int i = 0; i < PQntuples (res); i++) {
        msgpack_pack_map (ctx->pk, 6);
        for (int c = 0; c < 6; c++) {
            if (c == 4)
                sq_pack_kv_int (ctx->pk, "funds", strtoll (PQgetvalue (res, i, c), NULL, 10));
            else
                sq_pack_kv_str (ctx->pk, PQfname (res, c), PQgetvalue (res, i, c));
        }
    }
    PQclear (res);
    return 0;
}

int
admission_agreement_sign (sq_ctx_t *ctx)
{
    char id[SQ_TEXT_ID_MAX];
    if (sq_ctx_require_role (ctx, s_signers)
        || sq_arg_str (ctx->args, "id", true, sizeof id - 1, id, sizeof id, &ctx->err) < 0)
        return -1;
    const char *params[] = {id};
    PGresult *res = sq_db_query (ctx->db, "SELECT community, status, application, funds FROM"
                                 " admission.agreement WHERE id = $1 FOR UPDATE", 1, params,
                                 &ctx->err);
    if (!res)
        return -1;
    if (PQntuples (res) != 1) {
        PQclear (res);
        return sq_error_set (&ctx->err, SQ_ERR_NOT_FOUND, "id", "agreement %s does not exist", id);
    }
    char community[SQ_DIV_MAX], status[16], application[SQ_TEXT_ID_MAX];
    snprintf (community, sizeof community, "%s", PQgetvalue (res, 0, 0));
    snprintf (status, sizeof status, "%s", PQgetvalue (res, 0, 1));
    snprintf (application, sizeof application, "%s", PQgetvalue (res, 0, 2));
    int64_t funds = strtoll (PQgetvalue (res, 0, 3), NULL, 10);
    PQclear (res);
    //  Only the community itself signs: staff whose scope is that community.
    if (strcmp (ctx->actor->scope, community) != 0)
        return sq_error_set (&ctx->err, SQ_ERR_FORBIDDEN, "id", "only community %s signs"
                             " agreement %s", community, id);
    if (strcmp (status, "pending"))
        return sq_error_set (&ctx->err, SQ_ERR_CONFLICT, "id", "could not sign agreement %s:"
                             " it is %s", id, status);
    char at[24];
    snprintf (at, sizeof at, "%" PRId64, sq_now_us ());
    const char *update[] = {id, at, ctx->actor->id};
    if (sq_db_exec (ctx->db, "UPDATE admission.agreement SET status = 'signed', signed_at ="
                    " $2::bigint, signed_by = $3 WHERE id = $1", 3, update, &ctx->err))
        return -1;
    sq_data_t data;
    sq_data_begin (&data);
    msgpack_pack_map (&data.pk, 4);
    sq_pack_kv_str (&data.pk, "agreement", id);
    sq_pack_kv_str (&data.pk, "application", application);
    sq_pack_kv_str (&data.pk, "community", community);
    sq_pack_kv_int (&data.pk, "funds", funds);
    if (sq_ctx_emit_data (ctx, &data, "agreement_signed", community))
        return -1;
    msgpack_pack_map (ctx->pk, 3);
    sq_pack_kv_str (ctx->pk, "id", id);
    sq_pack_kv_str (ctx->pk, "community", community);
    sq_pack_kv_str (ctx->pk, "status", "signed");
    return 0;
}

//  Sweep: approved work whose end has passed (UTC) is expired, its pending agreements void,
//  and admission.expired announced once per application (the row lock makes replicas that
//  sweep together expire each application once).
int
admission_expire (sq_ctx_t *ctx)
{
    time_t now = (time_t) (sq_now_us () / 1000000);
    struct tm tm;
    gmtime_r (&now, &tm);
    char today[16];
    strftime (today, sizeof today, "%Y-%m-%d", &tm);
    const char *params[] = {today};
    PGresult *res = sq_db_query (ctx->db, "UPDATE admission.application SET status = 'expired'"
                                 " WHERE status = 'approved' AND end_date < $1::date"
                                 " RETURNING id, county, department, end_date", 1, params,
                                 &ctx->err);
    if (!res)
        return -1;
    int rc = 0;
    for (int i = 0; i < PQntuples (res) && rc == 0; i++) {
        const char *id[] = {PQgetvalue (res, i, 0)};
        rc = sq_db_exec (ctx->db, "UPDATE admission.agreement SET status = 'void'"
                         " WHERE application = $1 AND status = 'pending'", 1, id, &ctx->err);
        sq_data_t data;
        sq_data_begin (&data);
        msgpack_pack_map (&data.pk, 4);
        sq_pack_kv_str (&data.pk, "application", PQgetvalue (res, i, 0));
        sq_pack_kv_str (&data.pk, "county", PQgetvalue (res, i, 1));
        sq_pack_kv_str (&data.pk, "department", PQgetvalue (res, i, 2));
        sq_pack_kv_str (&data.pk, "end", PQgetvalue (res, i, 3));
        if (rc == 0)
            rc = sq_ctx_emit_data (ctx, &data, "expired", PQgetvalue (res, i, 1));
        else
            sq_data_destroy (&data);
    }
    PQclear (res);
    return rc;
}
