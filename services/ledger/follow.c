/*  ledger follow: funds follow admitted work (费随事转; issue 5, DOMAIN.md section 3), the
    consumer of stream admission.

    - admission.approved: each target community with funds gets them from
      department:<department> into community:<code>:admission, posted at once, or pending
      when the approval says agreements (work bought as a service);
    - admission.agreement_signed posts that community's pending transfer;
    - admission.withdrawn and admission.expired void the application's transfers still
      pending (funds already posted stay: taking them back is a correction, a decision of its
      own).

    The transfer of one (application, community) has the id adm:<application>:<community>,
    so whatever happens to the inbox, an event applied again finds its transfer instead of
    making another. Every row names the decision that made it in its memo, which the chain's
    hash covers: "<event type> event <event id> application <application id>" (and
    "agreement <id>" for a signature). Department accounts are sources and may go below zero
    (account.c). A refusal (a department name that cannot be an account name, a target that
    is not a community) skips the event for good, with a log line; a database failure is
    retried. */
#include "ledger.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_UUID_MAX 63
#define S_APPLICATION_MAX 40 //  a UUID's 36 characters, and room: ids stay within 63 bytes

//  True when s is an id that can go into a transfer id (hex digits and '-').
static bool
s_application_valid (const char *s)
{
    for (; *s; s++)
        if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f') || *s == '-'))
            return false;
    return true;
}

static int
s_text (sq_ctx_t *ctx, const sq_event_t *event, const char *key, char *out, size_t size)
{
    if (sq_obj_str_copy (sq_obj_get (event->env.data, key), out, size) == 0 && out[0])
        return 0;
    return sq_error_set (&ctx->err, SQ_ERR_INVALID, key, "could not apply %s %" PRIu64 ": %s"
                         " is missing or too long", event->env.type, event->env.seq, key);
}

static void
s_transfer_id (const char *application, const char *community, char out[LEDGER_ID_MAX + 1])
{
    snprintf (out, LEDGER_ID_MAX + 1, "adm:%s:%s", application, community);
}

static void
s_memo (const sq_event_t *event, const char *application, const char *extra,
        char out[LEDGER_MEMO_MAX + 1])
{
    snprintf (out, LEDGER_MEMO_MAX + 1, "%s event %s application %s%s", event->env.type,
              event->env.id, application, extra);
}

//  Passes a refusal on as ctx->err (the consumer skips the event) unless the database failed.
static int
s_refused (sq_ctx_t *ctx, const sq_error_t *err)
{
    if (!ctx->err.code)
        ctx->err = *err;
    return -1;
}

//  One target of an approval: its transfer, posted or pending.
static int
s_fund_target (sq_ctx_t *ctx, const sq_event_t *event, const char *application,
               const char *department, bool pending, const msgpack_object *target)
{
    char community[SQ_DIV_MAX] = "", debit[LEDGER_ACCOUNT_MAX + 1],
         credit[LEDGER_ACCOUNT_MAX + 1];
    const msgpack_object *funds = sq_obj_get (target, "funds");
    if (sq_obj_str_copy (sq_obj_get (target, "community"), community, sizeof community)
        || !funds || funds->type != MSGPACK_OBJECT_POSITIVE_INTEGER
        || funds->via.u64 > (uint64_t) LEDGER_AMOUNT_MAX)
        return sq_error_set (&ctx->err, SQ_ERR_INVALID, "targets", "could not apply %s %" PRIu64
                             ": a target has no community or funds out of range",
                             event->env.type, event->env.seq);
    if (funds->via.u64 == 0)
        return 0;
    ledger_transfer_t t;
    memset (&t, 0, sizeof t);
    s_transfer_id (application, community, t.id);
    snprintf (debit, sizeof debit, "department:%s", department);
    snprintf (credit, sizeof credit, "community:%s:admission", community);
    sq_error_t err = {0};
    if (ledger_account_parse (debit, "department", &t.debit, &err)
        || ledger_account_parse (credit, "targets", &t.credit, &err))
        return s_refused (ctx, &err);
    t.amount = (int64_t) funds->via.u64;
    snprintf (t.code, sizeof t.code, "admission");
    s_memo (event, application, "", t.memo);
    t.has_memo = true;
    t.pending = pending;
    if (ledger_transfer_make (ctx, &t, NULL, &err) < 0)
        return s_refused (ctx, &err);
    return 0;
}

static int
s_approved (sq_ctx_t *ctx, const sq_event_t *event, const char *application)
{
    char department[LEDGER_DEPARTMENT_MAX + 2];
    const msgpack_object *agreements = sq_obj_get (event->env.data, "agreements");
    const msgpack_object *targets = sq_obj_get (event->env.data, "targets");
    if (s_text (ctx, event, "department", department, sizeof department))
        return -1;
    if (!agreements || agreements->type != MSGPACK_OBJECT_BOOLEAN || !targets
        || targets->type != MSGPACK_OBJECT_ARRAY)
        return sq_error_set (&ctx->err, SQ_ERR_INVALID, "targets", "could not apply %s %" PRIu64
                             ": agreements or targets missing", event->env.type,
                             event->env.seq);
    for (uint32_t i = 0; i < targets->via.array.size; i++)
        if (s_fund_target (ctx, event, application, department, agreements->via.boolean,
                           &targets->via.array.ptr[i]))
            return -1;
    return 0;
}

static int
s_signed (sq_ctx_t *ctx, const sq_event_t *event, const char *application)
{
    char community[SQ_DIV_MAX], agreement[S_UUID_MAX + 1], id[LEDGER_ID_MAX + 1],
         extra[S_UUID_MAX + 16], memo[LEDGER_MEMO_MAX + 1];
    if (s_text (ctx, event, "community", community, sizeof community)
        || s_text (ctx, event, "agreement", agreement, sizeof agreement))
        return -1;
    s_transfer_id (application, community, id);
    snprintf (extra, sizeof extra, " agreement %s", agreement);
    s_memo (event, application, extra, memo);
    sq_error_t err = {0};
    PGresult *row = ledger_transfer_end (ctx, id, true, memo, &err);
    if (!row)
        return s_refused (ctx, &err);
    PQclear (row);
    return 0;
}

//  Withdrawn or expired: voids what still waits for an agreement.
static int
s_release (sq_ctx_t *ctx, const sq_event_t *event, const char *application)
{
    char prefix[LEDGER_ID_MAX + 1], memo[LEDGER_MEMO_MAX + 1], limit[24];
    snprintf (prefix, sizeof prefix, "adm:%s:", application);
    snprintf (limit, sizeof limit, "%d", LEDGER_APPLY_TARGETS_MAX);
    s_memo (event, application, "", memo);
    const char *params[] = {prefix, limit};
    PGresult *open = sq_db_query (ctx->db, "SELECT id FROM ledger.pending_open WHERE left (id,"
                                  " length ($1)) = $1 ORDER BY id LIMIT $2::int", 2, params,
                                  &ctx->err);
    if (!open)
        return -1;
    int rc = 0;
    for (int i = 0; i < PQntuples (open) && rc == 0; i++) {
        sq_error_t err = {0};
        PGresult *row = ledger_transfer_end (ctx, PQgetvalue (open, i, 0), false, memo, &err);
        rc = row ? 0 : s_refused (ctx, &err);
        PQclear (row);
    }
    PQclear (open);
    return rc;
}

int
ledger_admission_apply (sq_ctx_t *ctx, const sq_event_t *event)
{
    const char *type = event->env.type;
    bool approved = strcmp (type, "admission.approved") == 0;
    bool signed_ = strcmp (type, "admission.agreement_signed") == 0;
    bool ends = strcmp (type, "admission.withdrawn") == 0
                || strcmp (type, "admission.expired") == 0;
    if (!approved && !signed_ && !ends)
        return 0;
    char application[S_APPLICATION_MAX + 1];
    if (s_text (ctx, event, "application", application, sizeof application))
        return -1;
    if (!s_application_valid (application))
        return sq_error_set (&ctx->err, SQ_ERR_INVALID, "application", "could not apply %s %"
                             PRIu64 ": application %s is not a UUID", type, event->env.seq,
                             application);
    if (ledger_chain_lock (ctx))
        return -1;
    if (approved)
        return s_approved (ctx, event, application);
    return signed_ ? s_signed (ctx, event, application) : s_release (ctx, event, application);
}
