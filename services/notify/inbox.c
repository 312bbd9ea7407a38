/*  notify inbox and deliveries: inbox.list, inbox.mark_read, delivery.list, deadletter.list,
    deadletter.retry. A recipient reads its own inbox; operators and auditors read any. */
#include "notify.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const s_overseers[] = {"operator", "city_official", "district_official",
                                          "community_office", "auditor", NULL};

//  Reads the recipient and checks that the actor is it, an operator or an auditor.
static int
s_recipient (sq_ctx_t *ctx, char out[NOTIFY_SUBSCRIBER_MAX])
{
    if (sq_arg_str (ctx->args, "recipient", true, NOTIFY_SUBSCRIBER_MAX - 1, out,
                    NOTIFY_SUBSCRIBER_MAX, &ctx->err) < 0)
        return -1;
    if (!out[0])
        return sq_error_set (&ctx->err, SQ_ERR_INVALID, "recipient", "recipient is empty");
    bool self = strcmp (ctx->actor->id, out) == 0;
    bool overseer = !strcmp (ctx->actor->role, "operator") || !strcmp (ctx->actor->role, "auditor");
    if (!self && !overseer)
        return sq_error_set (&ctx->err, SQ_ERR_FORBIDDEN, "recipient", "only %s, an operator or"
                             " an auditor may read this inbox", out);
    return 0;
}

int
notify_inbox_list (sq_ctx_t *ctx)
{
    char recipient[NOTIFY_SUBSCRIBER_MAX], limit[16];
    bool unread_only = false;
    if (s_recipient (ctx, recipient)
        || sq_arg_bool (ctx->args, "unread_only", false, &unread_only, &ctx->err) < 0)
        return -1;
    snprintf (limit, sizeof limit, "%d", NOTIFY_PAGE_SIZE);
    const char *params[] = {recipient, unread_only ? "true" : "false", limit};
    PGresult *res = sq_db_query (ctx->db, "SELECT id, event_id, type, div, priority, subject,"
                                 " body, created_at, read_at FROM notify.message WHERE"
                                 " recipient = $1 AND (NOT $2::boolean OR read_at IS NULL)"
                                 " ORDER BY created_at DESC, id LIMIT $3::int", 3, params,
                                 &ctx->err);
    if (!res)
        return -1;
    int rows = PQntuples (res);
    msgpack_pack_map (ctx->pk, 3);
    sq_pack_kv_str (ctx->pk, "recipient", recipient);
    sq_pack_kv_int (ctx->pk, "count", rows);
    sq_pack_str (ctx->pk, "messages");
    msgpack_pack_array (ctx->pk, (size_t) rows);
    for (int i = 0; i < rows; i++) {
        msgpack_pack_map (ctx->pk, 9);
        sq_pack_kv_str (ctx->pk, "id", PQgetvalue (res, i, 0));
        sq_pack_kv_str (ctx->pk, "event", PQgetvalue (res, i, 1));
        sq_pack_kv_str (ctx->pk, "type", PQgetvalue (res, i, 2));
        sq_pack_kv_str (ctx->pk, "div", PQgetvalue (res, i, 3));
        sq_pack_kv_str (ctx->pk, "priority", PQgetvalue (res, i, 4));
        sq_pack_kv_str (ctx->pk, "subject", PQgetvalue (res, i, 5));
        sq_pack_kv_str (ctx->pk, "body", PQgetvalue (res, i, 6));
        sq_pack_kv_int (ctx->pk, "at", strtoll (PQgetvalue (res, i, 7), NULL, 10));
        if (PQgetisnull (res, i, 8))
            sq_pack_kv_nil (ctx->pk, "read_at");
        else
            sq_pack_kv_int (ctx->pk, "read_at", strtoll (PQgetvalue (res, i, 8), NULL, 10));
    }
    PQclear (res);
    return 0;
}

int
notify_inbox_mark_read (sq_ctx_t *ctx)
{
    char recipient[NOTIFY_SUBSCRIBER_MAX], message[SQ_TEXT_ID_MAX], at[24];
    if (s_recipient (ctx, recipient)
        || sq_arg_str (ctx->args, "message", true, sizeof message - 1, message, sizeof message,
                       &ctx->err) < 0)
        return -1;
    snprintf (at, sizeof at, "%" PRId64, sq_now_us ());
    const char *params[] = {message, recipient, at};
    //  Reading twice keeps the first time.
    PGresult *res = sq_db_query (ctx->db, "UPDATE notify.message SET read_at = coalesce (read_at,"
                                 " $3::bigint) WHERE id = $1 AND recipient = $2 RETURNING read_at",
                                 3, params, &ctx->err);
    if (!res)
        return -1;
    int found = PQntuples (res);
    int64_t read_at = found ? strtoll (PQgetvalue (res, 0, 0), NULL, 10) : 0;
    PQclear (res);
    if (!found)
        return sq_error_set (&ctx->err, SQ_ERR_NOT_FOUND, "message", "%s has no message %s",
                             recipient, message);
    msgpack_pack_map (ctx->pk, 2);
    sq_pack_kv_str (ctx->pk, "message", message);
    sq_pack_kv_int (ctx->pk, "read_at", read_at);
    return 0;
}

//  Packs the attempts of one delivery (rows of res with that delivery, in order).
static void
s_pack_attempts (msgpack_packer *pk, PGresult *attempts, const char *delivery)
{
    int count = 0;
    for (int i = 0; i < PQntuples (attempts); i++)
        count += strcmp (PQgetvalue (attempts, i, 0), delivery) == 0;
    sq_pack_str (pk, "attempts");
    msgpack_pack_array (pk, (size_t) count);
    for (int i = 0; i < PQntuples (attempts); i++) {
        if (strcmp (PQgetvalue (attempts, i, 0), delivery))
            continue;
        msgpack_pack_map (pk, 4);
        sq_pack_kv_int (pk, "n", strtol (PQgetvalue (attempts, i, 1), NULL, 10));
        sq_pack_kv_int (pk, "at", strtoll (PQgetvalue (attempts, i, 2), NULL, 10));
        sq_pack_kv_bool (pk, "ok", PQgetvalue (attempts, i, 3)[0] == 't');
        sq_pack_kv_str (pk, "error", PQgetvalue (attempts, i, 4));
    }
}

//  Packs the deliveries of res (columns of S_DELIVERY_COLUMNS) with their attempts.
#define S_DELIVERY_COLUMNS "d.id, d.event_id, d.type, d.div, d.recipient, d.channel, d.rule," \
                           " d.status, d.attempts, d.last_error, d.created_at, d.fallback_of," \
                           " (SELECT f.id FROM notify.delivery f WHERE f.fallback_of = d.id" \
                           " ORDER BY f.created_at LIMIT 1), d.skipped, d.digest"
static int
s_pack_deliveries (sq_ctx_t *ctx, PGresult *res, const char *key)
{
    int rows = PQntuples (res);
    //  Attempts of the listed deliveries, in one query.
    char ids[NOTIFY_PAGE_SIZE * (SQ_ID_SIZE + 3) + 3] = "{";
    size_t used = 1;
    for (int i = 0; i < rows && used < sizeof ids; i++)
        used += (size_t) snprintf (ids + used, sizeof ids - used, "%s\"%s\"", i ? "," : "",
                                   PQgetvalue (res, i, 0));
    if (used < sizeof ids)
        snprintf (ids + used, sizeof ids - used, "}");
    const char *params[] = {ids};
    PGresult *attempts = sq_db_query (ctx->db, "SELECT delivery, n, at, ok, error FROM"
                                      " notify.attempt WHERE delivery = ANY ($1::text[])"
                                      " ORDER BY delivery, n", 1, params, &ctx->err);
    if (!attempts)
        return -1;
    msgpack_pack_map (ctx->pk, 2);
    sq_pack_kv_int (ctx->pk, "count", rows);
    sq_pack_str (ctx->pk, key);
    msgpack_pack_array (ctx->pk, (size_t) rows);
    static const char *const names[] = {"id", "event", "type", "div", "recipient", "channel",
                                        "rule", "status"};
    for (int i = 0; i < rows; i++) {
        msgpack_pack_map (ctx->pk, 16);
        for (int c = 0; c < 8; c++)
            sq_pack_kv_str (ctx->pk, names[c], PQgetvalue (res, i, c));
        sq_pack_kv_int (ctx->pk, "tries", strtol (PQgetvalue (res, i, 8), NULL, 10));
        sq_pack_kv_str (ctx->pk, "last_error", PQgetvalue (res, i, 9));
        sq_pack_kv_int (ctx->pk, "created_at", strtoll (PQgetvalue (res, i, 10), NULL, 10));
        //  Fallback and digest: what this delivery replaced, what replaced it, the channels
        //  passed over for want of an address, the digest it went out in.
        static const char *const links[] = {"fallback_of", "fallback", "skipped", "digest"};
        for (int c = 0; c < 4; c++) {
            if (PQgetisnull (res, i, 11 + c))
                sq_pack_kv_nil (ctx->pk, links[c]);
            else
                sq_pack_kv_str (ctx->pk, links[c], PQgetvalue (res, i, 11 + c));
        }
        s_pack_attempts (ctx->pk, attempts, PQgetvalue (res, i, 0));
    }
    PQclear (attempts);
    return 0;
}

int
notify_delivery_list (sq_ctx_t *ctx)
{
    char event[SQ_TEXT_ID_MAX] = "", recipient[NOTIFY_SUBSCRIBER_MAX] = "", limit[16];
    if (sq_ctx_require_role (ctx, s_overseers)
        || sq_arg_str (ctx->args, "event", false, sizeof event - 1, event, sizeof event,
                       &ctx->err) < 0
        || sq_arg_str (ctx->args, "recipient", false, sizeof recipient - 1, recipient,
                       sizeof recipient, &ctx->err) < 0)
        return -1;
    snprintf (limit, sizeof limit, "%d", NOTIFY_PAGE_SIZE);
    const char *params[] = {event[0] ? event : NULL, recipient[0] ? recipient : NULL, limit};
    PGresult *res = sq_db_query (ctx->db, "SELECT " S_DELIVERY_COLUMNS " FROM notify.delivery d"
                                 " WHERE ($1::text IS NULL OR d.event_id = $1) AND ($2::text IS"
                                 " NULL OR d.recipient = $2) ORDER BY d.created_at DESC, d.id"
                                 " LIMIT $3::int", 3, params, &ctx->err);
    if (!res)
        return -1;
    int rc = s_pack_deliveries (ctx, res, "deliveries");
    PQclear (res);
    return rc;
}

int
notify_deadletter_list (sq_ctx_t *ctx)
{
    char limit[16];
    if (sq_ctx_require_role (ctx, s_overseers))
        return -1;
    snprintf (limit, sizeof limit, "%d", NOTIFY_PAGE_SIZE);
    const char *params[] = {limit};
    PGresult *res = sq_db_query (ctx->db, "SELECT " S_DELIVERY_COLUMNS " FROM notify.dead_letter"
                                 " l JOIN notify.delivery d ON d.id = l.delivery WHERE"
                                 " d.status = 'dead' ORDER BY l.at DESC, d.id LIMIT $1::int", 1,
                                 params, &ctx->err);
    if (!res)
        return -1;
    int rc = s_pack_deliveries (ctx, res, "dead_letters");
    PQclear (res);
    return rc;
}

int
notify_deadletter_retry (sq_ctx_t *ctx)
{
    char delivery[SQ_TEXT_ID_MAX], at[24];
    if (sq_ctx_require_role (ctx, notify_admins)
        || sq_arg_str (ctx->args, "delivery", true, sizeof delivery - 1, delivery,
                       sizeof delivery, &ctx->err) < 0)
        return -1;
    snprintf (at, sizeof at, "%" PRId64, notify_now_us (ctx));
    const char *params[] = {delivery, at};
    //  A fresh round of attempts, due now; the dead letter stays as history.
    PGresult *res = sq_db_query (ctx->db, "UPDATE notify.delivery SET status = 'pending',"
                                 " attempts = 0, next_at = $2::bigint WHERE id = $1 AND"
                                 " status = 'dead' RETURNING id", 2, params, &ctx->err);
    if (!res)
        return -1;
    int found = PQntuples (res);
    PQclear (res);
    if (!found)
        return sq_error_set (&ctx->err, SQ_ERR_NOT_FOUND, "delivery", "delivery %s is not a dead"
                             " letter", delivery);
    if (sq_db_exec (ctx->db, "UPDATE notify.dead_letter SET retried_at = $2::bigint WHERE"
                    " delivery = $1", 2, params, &ctx->err))
        return -1;
    msgpack_pack_map (ctx->pk, 2);
    sq_pack_kv_str (ctx->pk, "delivery", delivery);
    sq_pack_kv_str (ctx->pk, "status", "pending");
    return 0;
}
