/*  notify deliver: the sweep that sends due deliveries (every SHEQU_SWEEP_MS, on every
    replica). Due rows are taken FOR UPDATE SKIP LOCKED in the sweep's transaction, so two
    replicas never send the same delivery at once; the outcome (delivered, retry later, dead
    letter) commits with its event, each row under its own savepoint (notify_sweep_rows).
    NB: a process that dies after a send and before its commit sends it again: webhook
    receivers drop repeats by the X-Shequ-Delivery header, SMS and mail ones cannot. */
#include "notify.h"
#include "http.h"
#include "mail.h"

#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


//  Opens the sealed webhook secret of column col of row; returns its length or -1.
static int
s_secret (const notify_t *self, PGresult *res, int row, int col, char **secret)
{
    *secret = NULL;
    if (PQgetisnull (res, row, col))
        return -1;
    size_t sealed_size = 0, plain_size = 0;
    unsigned char *sealed = PQunescapeBytea ((unsigned char *) PQgetvalue (res, row, col),
                                             &sealed_size);
    int rc = sealed && sq_crypt_open (self->crypt, sealed, sealed_size, secret, &plain_size) == 0
                 ? (int) plain_size
                 : -1;
    PQfreemem (sealed);
    return rc;
}

//  POSTs a webhook with its signature. Any answer but 2xx is a failure tried again: a
//  department's receiver that refuses today may be fixed tomorrow (deadletter.retry).
static notify_outcome_t
s_send_webhook (const notify_t *self, const notify_due_t *d, const char *secret, int secret_size,
                int64_t now_us, char *error, size_t error_size)
{
    notify_url_t url;
    if (notify_url_parse (d->address, &url)) {
        snprintf (error, error_size, "address is not an http:// URL");
        return NOTIFY_REFUSED;
    }
    int64_t timestamp = now_us / NOTIFY_SECOND_US;
    char signature[NOTIFY_SIGNATURE_SIZE];
    size_t body_size = strlen (d->body);
    if (secret_size < 0 || notify_sign ((const uint8_t *) secret, (size_t) secret_size,
                                        timestamp, d->body, body_size, signature)) {
        snprintf (error, error_size, "the subscription's secret is missing or unusable");
        return NOTIFY_FAILED;
    }
    char headers[NOTIFY_HTTP_HEADERS_MAX];
    snprintf (headers, sizeof headers, "%s: %" PRId64 "\r\n%s: %s\r\nX-Shequ-Delivery: %s\r\n"
              "X-Shequ-Event: %s\r\n", NOTIFY_HEADER_TIMESTAMP, timestamp,
              NOTIFY_HEADER_SIGNATURE, signature, d->id, d->event_id);
    int status = notify_http_post (&url, headers, d->body, body_size, self->http_timeout_ms,
                                   error, error_size);
    if (status >= 200 && status < 300)
        return NOTIFY_SENT;
    if (status > 0)
        snprintf (error, error_size, "receiver answered HTTP %d", status);
    return NOTIFY_FAILED;
}

notify_outcome_t
notify_send_text (const notify_t *self, notify_channel_t channel, const char *address,
                  const char *subject, const char *body, const char *id, int64_t now_us,
                  char *error, size_t error_size)
{
    if (channel == NOTIFY_SMS)
        return notify_sms_send (&self->sms, address, body, id, error, error_size);
    if (channel != NOTIFY_EMAIL) {
        snprintf (error, error_size, "channel %s cannot carry text", notify_channel_name (channel));
        return NOTIFY_REFUSED;
    }
    if (!self->smtp.configured)
        return notify_smtp_send (&self->smtp, address, "", 0, error, error_size);
    notify_mail_t mail = {self->smtp.from, address, subject, body, id, now_us};
    size_t size = 0;
    char *message = notify_mail_format (&mail, &size);
    if (!message) {
        snprintf (error, error_size, "could not write the e-mail: an address is not valid");
        return NOTIFY_REFUSED;
    }
    notify_outcome_t rc = notify_smtp_send (&self->smtp, address, message, size, error,
                                            error_size);
    free (message);
    return rc;
}

//  Tries the next channels of d's plan for its event and recipient.
static int
s_fall_back (sq_ctx_t *ctx, const notify_due_t *d)
{
    notify_channel_t channels[NOTIFY_CHANNEL_COUNT];
    int count = 0;
    for (const char *p = d->plan; *p && count < NOTIFY_CHANNEL_COUNT;) {
        char name[16];
        size_t len = strcspn (p, ",");
        snprintf (name, sizeof name, "%.*s", (int) (len < sizeof name ? len : 0), p);
        if (notify_channel_parse (name, &channels[count]) == 0)
            count++;
        p += len + (p[len] == ',');
    }
    if (count == 0)
        return 0;
    const char *params[] = {d->id};
    PGresult *res = sq_db_query (ctx->db, "SELECT event FROM notify.delivery WHERE id = $1"
                                 " AND event IS NOT NULL", 1, params, &ctx->err);
    if (!res)
        return -1;
    int rc = 0;
    sq_event_t event = {0};
    size_t size = 0;
    event.raw = PQntuples (res) ? PQunescapeBytea ((const unsigned char *) PQgetvalue (res, 0, 0),
                                                   &size)
                                : NULL;
    event.raw_size = size;
    PQclear (res);
    char why[128] = "the event was not kept";
    event.doc = event.raw ? sq_doc_new (event.raw, size, why, sizeof why) : NULL;
    sq_error_t err;
    if (!event.doc || sq_envelope_decode (sq_doc_root (event.doc), &event.env, &err)) {
        //  Rows written before fallback existed have no event: logged, the dead letter stays.
        sq_log_warn ("no fallback", "delivery=%s error=\"%s\"", d->id,
                     event.doc ? err.message : why);
    } else {
        notify_rule_t rule = {0};
        snprintf (rule.id, sizeof rule.id, "%s", d->rule);
        notify_priority_parse (d->priority, &rule.priority);
        sq_log_info ("falling back", "delivery=%s channel=%s next=\"%s\"", d->id, d->channel,
                     d->plan);
        rc = notify_reach_channels (ctx, &event, &rule, d->recipient, channels, count, d->id);
    }
    sq_doc_destroy (&event.doc);
    PQfreemem (event.raw);
    return rc;
}

int
notify_delivery_give_up (sq_ctx_t *ctx, const notify_due_t *d, int attempt, int64_t now_us,
                         const char *error)
{
    char at[24], attempts[16];
    snprintf (at, sizeof at, "%" PRId64, now_us);
    snprintf (attempts, sizeof attempts, "%d", attempt);
    const char *params[] = {d->id, at, attempts, error};
    const char *uparams[] = {d->id, attempts, error};
    if (sq_db_exec (ctx->db, "UPDATE notify.delivery SET status = 'dead', attempts = $2::int,"
                    " last_error = $3, delivered_at = NULL WHERE id = $1", 3, uparams, &ctx->err)
        || sq_db_exec (ctx->db, "INSERT INTO notify.dead_letter (delivery, at, attempts,"
                       " last_error) VALUES ($1, $2::bigint, $3::int, $4) ON CONFLICT"
                       " (delivery) DO UPDATE SET at = $2::bigint, attempts = $3::int,"
                       " last_error = $4, retried_at = NULL", 4, params, &ctx->err))
        return -1;
    sq_data_t data;
    sq_data_begin (&data);
    notify_outcome_pack (&data.pk, d->id, d->event_id, d->type, d->recipient, d->channel,
                         attempt, error);
    if (sq_ctx_emit_data (ctx, &data, "dead_lettered", d->div))
        return -1;
    return s_fall_back (ctx, d);
}

//  Records the outcome of one try: the attempt, the delivery's new state, its event; a
//  refusal, or a failure at the last allowed attempt, gives the delivery up.
static int
s_record (sq_ctx_t *ctx, const notify_due_t *d, int64_t now_us, notify_outcome_t outcome,
          const char *error)
{
    const notify_t *self = ctx->state;
    int attempt = d->attempts + 1;
    bool ok = outcome == NOTIFY_SENT;
    char at[24], attempts[16], next_at[24];
    snprintf (at, sizeof at, "%" PRId64, now_us);
    snprintf (attempts, sizeof attempts, "%d", attempt);
    const char *aparams[] = {d->id, at, ok ? "true" : "false", ok ? "" : error};
    if (sq_db_exec (ctx->db, "INSERT INTO notify.attempt (delivery, n, at, ok, error) SELECT $1,"
                    " coalesce (max (n), 0) + 1, $2::bigint, $3::boolean, $4 FROM notify.attempt"
                    " WHERE delivery = $1", 4, aparams, &ctx->err))
        return -1;
    int64_t next = 0;
    if (outcome == NOTIFY_REFUSED
        || (!ok && notify_retry_next (&self->retry, attempt, now_us, randombytes_random (),
                                      &next) == 1))
        return notify_delivery_give_up (ctx, d, attempt, now_us, error);
    snprintf (next_at, sizeof next_at, "%" PRId64, next);
    const char *status = ok ? "delivered" : "pending";
    const char *params[] = {d->id, status, attempts, next_at, ok ? "" : error, at};
    if (sq_db_exec (ctx->db, "UPDATE notify.delivery SET status = $2, attempts = $3::int,"
                    " next_at = CASE WHEN $2 = 'pending' THEN $4::bigint ELSE next_at END,"
                    " last_error = $5, delivered_at = CASE WHEN $2 = 'delivered' THEN $6::bigint"
                    " END WHERE id = $1", 6, params, &ctx->err))
        return -1;
    if (!ok)
        return 0;
    sq_data_t data;
    sq_data_begin (&data);
    notify_outcome_pack (&data.pk, d->id, d->event_id, d->type, d->recipient, d->channel,
                         attempt, NULL);
    return sq_ctx_emit_data (ctx, &data, "delivered", d->div);
}

void
notify_due_read (const PGresult *res, int row, notify_due_t *out)
{
    const char *c[NOTIFY_DUE_COLUMN_COUNT];
    for (int i = 0; i < NOTIFY_DUE_COLUMN_COUNT; i++)
        c[i] = PQgetvalue (res, row, i);
    *out = (notify_due_t) {c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7], c[8], c[9], c[10],
                           c[11], (int) strtol (c[12], NULL, 10)};
}

//  Sends one due delivery (or folds it into a digest) and records the outcome.
static int
s_send (sq_ctx_t *ctx, PGresult *res, int row)
{
    const notify_t *self = ctx->state;
    notify_due_t d;
    notify_due_read (res, row, &d);
    int64_t now = notify_now_us (ctx);
    int64_t quiet_ends = 0;
    if (notify_quiet_holds (self, d.channel, d.priority, now, &quiet_ends)) {
        //  A retry or a deadletter.retry that fell due in quiet hours: not an attempt.
        char next_at[24];
        snprintf (next_at, sizeof next_at, "%" PRId64, quiet_ends);
        const char *params[] = {d.id, next_at};
        return sq_db_exec (ctx->db, "UPDATE notify.delivery SET next_at = $2::bigint WHERE"
                           " id = $1", 2, params, &ctx->err);
    }
    int folded = notify_digest_fold (ctx, &d, now);
    if (folded)
        return folded < 0 ? -1 : 0;
    char error[NOTIFY_ERROR_MAX] = "";
    notify_channel_t channel = NOTIFY_CHANNEL_COUNT;
    notify_channel_parse (d.channel, &channel);
    notify_outcome_t outcome;
    if (channel == NOTIFY_WEBHOOK) {
        char *secret = NULL;
        int secret_size = s_secret (self, res, row, NOTIFY_DUE_COLUMN_COUNT, &secret);
        outcome = s_send_webhook (self, &d, secret, secret_size, now, error, sizeof error);
        if (secret)
            sodium_memzero (secret, (size_t) secret_size);
        free (secret);
    } else
        outcome = notify_send_text (self, channel, d.address, d.subject, d.body, d.id, now,
                                    error, sizeof error);
    if (outcome != NOTIFY_SENT)
        sq_log_info ("delivery failed", "delivery=%s channel=%s attempt=%d for_good=%s"
                     " error=\"%s\"", d.id, d.channel, d.attempts + 1,
                     outcome == NOTIFY_REFUSED ? "yes" : "no", error);
    else
        notify_digest_count_sent (ctx, &d, now);
    return s_record (ctx, &d, notify_now_us (ctx), outcome, error);
}

int
notify_sweep_deliver (sq_ctx_t *ctx)
{
    char now[24], limit[16];
    snprintf (now, sizeof now, "%" PRId64, notify_now_us (ctx));
    snprintf (limit, sizeof limit, "%d", NOTIFY_SEND_BATCH_MAX);
    const char *params[] = {now, limit};
    PGresult *res = sq_db_query (
        ctx->db, "SELECT " NOTIFY_DUE_COLUMNS_OF ("d.") ", s.secret_sealed FROM"
        " notify.delivery d LEFT JOIN notify.subscription s ON s.id = d.subscription WHERE"
        " d.status = 'pending' AND d.next_at <= $1::bigint ORDER BY d.next_at, d.created_at,"
        " d.id LIMIT $2::int FOR UPDATE OF d SKIP LOCKED", 2, params, &ctx->err);
    if (!res)
        return -1;
    int rc = notify_sweep_rows (ctx, res, s_send);
    PQclear (res);
    return rc;
}

bool
notify_quiet_holds (const notify_t *self, const char *channel, const char *priority,
                    int64_t at_us, int64_t *ends_us)
{
    notify_priority_t level = NOTIFY_NORMAL;
    notify_priority_parse (priority, &level);
    return strcmp (channel, "sms") == 0 && level != NOTIFY_URGENT
           && notify_quiet_at (&self->quiet, at_us, ends_us);
}

int
notify_sweep_rows (sq_ctx_t *ctx, PGresult *res, int (*send) (sq_ctx_t *, PGresult *, int))
{
    int64_t deadline_ms = sq_clock_ms () + NOTIFY_SWEEP_BUDGET_MS;
    for (int i = 0; i < PQntuples (res); i++) {
        if (i > 0 && sq_clock_ms () >= deadline_ms)
            break; //  the rest wait for the next round (their locks go at commit)
        //  Deferred: the savepoint rides along with the row's first statement.
        if (sq_db_defer (ctx->db, "SAVEPOINT notify_row", 0, NULL, NULL, NULL, &ctx->err))
            return -1;
        sq_ctx_mark_t mark = sq_ctx_mark (ctx); //  the row's events go if it is undone
        if (send (ctx, res, i) == 0
            && sq_db_exec (ctx->db, "RELEASE SAVEPOINT notify_row", 0, NULL, &ctx->err) == 0)
            continue;
        sq_log_warn ("sweep row failed, undone and tried again next round",
                     "sweep=%s row=%s error=\"%s\"", ctx->cmd, PQgetvalue (res, i, 0),
                     ctx->err.message);
        sq_error_t ignored;
        sq_db_flush (ctx->db, &ignored); //  a deferred INSERT would abort the ROLLBACK TO
        if (sq_db_exec (ctx->db, "ROLLBACK TO SAVEPOINT notify_row", 0, NULL, &ctx->err))
            return -1;
        sq_ctx_rewind (ctx, &mark);
        memset (&ctx->err, 0, sizeof ctx->err);
        break; //  the database misbehaves: keep what was sent, take no more
    }
    return 0;
}
