/*  notify deliver: the sweep that sends due deliveries (every SHEQU_SWEEP_MS, on every
    replica). Due rows are taken FOR UPDATE SKIP LOCKED in the sweep's transaction, so two
    replicas never send the same delivery at once; the outcome (delivered, retry later, dead
    letter) commits with its event. NB: a process that dies after a POST and before its
    commit sends that POST again: receivers drop repeats by the X-Shequ-Delivery header. */
#include "notify.h"
#include "http.h"

#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


//  The columns one delivery is sent with.
typedef struct {
    const char *id, *channel, *address, *body, *event_id, *type, *div, *recipient;
    int attempts; //  failed tries before this one (since the last deadletter.retry)
} s_due_t;

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

//  POSTs a webhook with its signature. Returns 0 when the receiver answered 2xx, else -1
//  with the reason in error.
static int
s_send_webhook (const notify_t *self, const s_due_t *d, const char *secret, int secret_size,
                int64_t now_us, char *error, size_t error_size)
{
    notify_url_t url;
    if (notify_url_parse (d->address, &url)) {
        snprintf (error, error_size, "address is not an http:// URL");
        return -1;
    }
    int64_t timestamp = now_us / NOTIFY_SECOND_US;
    char signature[NOTIFY_SIGNATURE_SIZE];
    size_t body_size = strlen (d->body);
    if (secret_size < 0 || notify_sign ((const uint8_t *) secret, (size_t) secret_size,
                                        timestamp, d->body, body_size, signature)) {
        snprintf (error, error_size, "the subscription's secret is missing or unusable");
        return -1;
    }
    char headers[NOTIFY_HTTP_HEADERS_MAX];
    snprintf (headers, sizeof headers, "%s: %" PRId64 "\r\n%s: %s\r\nX-Shequ-Delivery: %s\r\n"
              "X-Shequ-Event: %s\r\n", NOTIFY_HEADER_TIMESTAMP, timestamp,
              NOTIFY_HEADER_SIGNATURE, signature, d->id, d->event_id);
    int status = notify_http_post (&url, headers, d->body, body_size, self->http_timeout_ms,
                                   error, error_size);
    if (status >= 200 && status < 300)
        return 0;
    if (status > 0)
        snprintf (error, error_size, "receiver answered HTTP %d", status);
    return -1;
}

//  Records the outcome of one try: the attempt, the delivery's new state, its event.
static int
s_record (sq_ctx_t *ctx, const s_due_t *d, int64_t now_us, const char *error)
{
    const notify_t *self = ctx->state;
    int attempt = d->attempts + 1;
    char at[24], attempts[16], next_at[24] = "0";
    snprintf (at, sizeof at, "%" PRId64, now_us);
    snprintf (attempts, sizeof attempts, "%d", attempt);
    const char *aparams[] = {d->id, at, error ? "false" : "true", error ? error : ""};
    if (sq_db_exec (ctx->db, "INSERT INTO notify.attempt (delivery, n, at, ok, error) SELECT $1,"
                    " coalesce (max (n), 0) + 1, $2::bigint, $3::boolean, $4 FROM notify.attempt"
                    " WHERE delivery = $1", 4, aparams, &ctx->err))
        return -1;
    int64_t next = 0;
    bool dead = error && notify_retry_next (&self->retry, attempt, now_us, randombytes_random (),
                                            &next) == 1;
    snprintf (next_at, sizeof next_at, "%" PRId64, next);
    const char *status = !error ? "delivered" : dead ? "dead" : "pending";
    const char *params[] = {d->id, status, attempts, next_at, error ? error : "", at};
    if (sq_db_exec (ctx->db, "UPDATE notify.delivery SET status = $2, attempts = $3::int,"
                    " next_at = CASE WHEN $2 = 'pending' THEN $4::bigint ELSE next_at END,"
                    " last_error = $5, delivered_at = CASE WHEN $2 = 'delivered' THEN $6::bigint"
                    " END WHERE id = $1", 6, params, &ctx->err))
        return -1;
    if (error && !dead)
        return 0;
    const char *dparams[] = {d->id, at, attempts, error ? error : ""};
    if (dead && sq_db_exec (ctx->db, "INSERT INTO notify.dead_letter (delivery, at, attempts,"
                            " last_error) VALUES ($1, $2::bigint, $3::int, $4) ON CONFLICT"
                            " (delivery) DO UPDATE SET at = $2::bigint, attempts = $3::int,"
                            " last_error = $4, retried_at = NULL", 4, dparams, &ctx->err))
        return -1;
    sq_data_t data;
    sq_data_begin (&data);
    notify_outcome_pack (&data.pk, d->id, d->event_id, d->type, d->recipient, d->channel,
                         attempt, error);
    return sq_ctx_emit_data (ctx, &data, dead ? "dead_lettered" : "delivered", d->div);
}

//  Sends one due delivery and records the outcome.
static int
s_send (sq_ctx_t *ctx, PGresult *res, int row)
{
    const notify_t *self = ctx->state;
    s_due_t d = {PQgetvalue (res, row, 0), PQgetvalue (res, row, 1), PQgetvalue (res, row, 2),
                 PQgetvalue (res, row, 3), PQgetvalue (res, row, 4), PQgetvalue (res, row, 5),
                 PQgetvalue (res, row, 6), PQgetvalue (res, row, 7),
                 (int) strtol (PQgetvalue (res, row, 8), NULL, 10)};
    char error[NOTIFY_ERROR_MAX] = "";
    int64_t now = notify_now_us (ctx);
    int rc = -1;
    if (strcmp (d.channel, "webhook") == 0) {
        char *secret = NULL;
        int secret_size = s_secret (self, res, row, 9, &secret);
        rc = s_send_webhook (self, &d, secret, secret_size, now, error, sizeof error);
        if (secret)
            sodium_memzero (secret, (size_t) secret_size);
        free (secret);
    } else
        snprintf (error, sizeof error, "channel %s is not configured on this platform",
                  d.channel);
    if (rc)
        sq_log_info ("delivery failed", "delivery=%s channel=%s attempt=%d error=\"%s\"", d.id,
                     d.channel, d.attempts + 1, error);
    return s_record (ctx, &d, notify_now_us (ctx), rc ? error : NULL);
}

int
notify_sweep_deliver (sq_ctx_t *ctx)
{
    char now[24], limit[16];
    snprintf (now, sizeof now, "%" PRId64, notify_now_us (ctx));
    snprintf (limit, sizeof limit, "%d", NOTIFY_SEND_BATCH_MAX);
    const char *params[] = {now, limit};
    PGresult *res = sq_db_query (
        ctx->db, "SELECT d.id, d.channel, d.address, d.body, d.event_id, d.type, d.div,"
        " d.recipient, d.attempts, s.secret_sealed FROM notify.delivery d LEFT JOIN"
        " notify.subscription s ON s.id = d.subscription WHERE d.status = 'pending'"
        " AND d.next_at <= $1::bigint ORDER BY d.next_at LIMIT $2::int FOR UPDATE OF d"
        " SKIP LOCKED", 2, params, &ctx->err);
    if (!res)
        return -1;
    int rc = 0;
    for (int i = 0; rc == 0 && i < PQntuples (res); i++)
        rc = s_send (ctx, res, i);
    PQclear (res);
    return rc;
}
