/*  notify digest: the per-recipient rate limit and the digests that fold a burst (issue 6).

    At send time (the sweep), a normal SMS or e-mail is checked against the count of its
    (recipient, channel, window): normal messages sent one by one, INCR'd in Redis after each
    send, or while Redis is down the same deliveries counted in PostgreSQL. Within the rate
    it goes on its own; past it, it is folded into the window's open digest (status
    `folded`), which goes out as one message when the window ends (quiet hours still apply
    to SMS, checked again when it is sent). Nothing is dropped: a digest sent makes each of
    its deliveries `delivered` with notify.delivered; a digest refused or dead-lettered
    gives each of them up (dead letter, then the rule's next channel).
    Urgent messages, the inbox and webhooks are never folded: the inbox pushes nothing, and
    a department's system wants each event as its own JSON. */
#include "notify.h"

#include <assert.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define S_HEADER_MAX 1024          //  a digest's first lines, bytes
#define S_ITEM_EXTRA 128           //  numbering, event id label and line ends of one item
#define S_CLOCK_SIZE 64            //  "11-23 10:00" (room for any int the format could see)
#define S_ELLIPSIS "…"

//  Appends formatted text at *used; stops (and keeps what fits) at size.
static void
s_append (char *out, size_t size, size_t *used, const char *format, ...)
{
    if (*used + 1 >= size)
        return;
    va_list args;
    va_start (args, format);
    int n = vsnprintf (out + *used, size - *used, format, args);
    va_end (args);
    if (n > 0)
        *used += (size_t) n < size - *used ? (size_t) n : size - *used - 1;
}

//  The longest prefix of text of at most max bytes that ends on a character boundary.
static size_t
s_prefix (const char *text, size_t max)
{
    size_t len = strlen (text);
    if (len <= max)
        return len;
    while (max > 0 && ((unsigned char) text[max] & 0xc0) == 0x80)
        max--;
    return max;
}

//  Cuts text to at most chars_max characters, the last one "…" when cut. NB: text's buffer
//  must have room for the ellipsis past the cut (the caller's is far larger than its text).
static void
s_cut_chars (char *text, size_t chars_max)
{
    size_t chars = 0, cut = 0;
    for (size_t i = 0; text[i]; i++) {
        if (((unsigned char) text[i] & 0xc0) == 0x80)
            continue;
        if (chars + 1 == chars_max)
            cut = i;
        chars++;
    }
    if (chars > chars_max)
        memcpy (text + cut, S_ELLIPSIS, sizeof S_ELLIPSIS);
}

//  "11-23 10:00" in China Standard Time, or "10:00" when with_date is false.
static void
s_clock (int64_t at_us, bool with_date, char out[S_CLOCK_SIZE])
{
    time_t local = (time_t) ((at_us + NOTIFY_CST_OFFSET_US) / NOTIFY_SECOND_US);
    struct tm tm;
    if (!gmtime_r (&local, &tm)) {
        snprintf (out, S_CLOCK_SIZE, "?");
        return;
    }
    if (with_date)
        snprintf (out, S_CLOCK_SIZE, "%02d-%02d %02d:%02d", tm.tm_mon + 1, tm.tm_mday,
                  tm.tm_hour, tm.tm_min);
    else
        snprintf (out, S_CLOCK_SIZE, "%02d:%02d", tm.tm_hour, tm.tm_min);
}

int
notify_digest_render (notify_channel_t channel, const notify_digest_item_t *items, int count,
                      int64_t window_start_us, int64_t window_us,
                      char subject[NOTIFY_SUBJECT_MAX], char **body)
{
    assert (count >= 1 && count <= NOTIFY_DIGEST_ITEMS_MAX);
    assert (channel == NOTIFY_SMS || channel == NOTIFY_EMAIL);
    char from[S_CLOCK_SIZE], until[S_CLOCK_SIZE];
    s_clock (window_start_us, true, from);
    s_clock (window_start_us + window_us, false, until);
    size_t size = S_HEADER_MAX + (size_t) count * (NOTIFY_SUBJECT_MAX
                                                   + NOTIFY_DIGEST_ITEM_BODY_MAX
                                                   + SQ_TEXT_ID_MAX + S_ITEM_EXTRA);
    char *out = malloc (size);
    if (!out)
        return -1;
    size_t used = 0;
    out[0] = '\0';
    subject[0] = '\0';
    if (channel == NOTIFY_SMS) {
        //  An SMS cannot list a burst: the count first, then as many texts as fit.
        s_append (out, size, &used, "【汇总】%s起%d条通知：", from, count);
        for (int i = 0; i < count; i++)
            s_append (out, size, &used, "%d）%.*s%s", i + 1,
                      (int) s_prefix (items[i].body, NOTIFY_DIGEST_ITEM_BODY_MAX),
                      items[i].body, i + 1 < count ? "；" : "");
        s_cut_chars (out, NOTIFY_SMS_CHARS_MAX);
    } else {
        snprintf (subject, NOTIFY_SUBJECT_MAX, "【汇总】%d 条通知（%s–%s）", count, from, until);
        s_append (out, size, &used, "以下 %d 条通知在 %s–%s 之间到达，因数量较多汇总为一封。\n\n",
                  count, from, until);
        for (int i = 0; i < count; i++) {
            size_t keep = s_prefix (items[i].body, NOTIFY_DIGEST_ITEM_BODY_MAX);
            s_append (out, size, &used, "%d. %s\n%.*s%s\n（事件 %s）\n\n", i + 1,
                      items[i].subject, (int) keep, items[i].body,
                      items[i].body[keep] ? S_ELLIPSIS : "", items[i].event_id);
        }
    }
    *body = out;
    return 0;
}

//  The rate counter's key of d's recipient, channel and window.
static void
s_rate_key (const notify_due_t *d, int64_t window_start_us, char key[NOTIFY_COUNTER_KEY_MAX])
{
    snprintf (key, NOTIFY_COUNTER_KEY_MAX, "shequ:notify:rate:%s:%s:%" PRId64, d->channel,
              d->recipient, window_start_us);
}

//  How many normal messages went to d's recipient on its channel one by one in the window:
//  Redis's count (INCR after each send, notify_digest_count_sent), else the same deliveries
//  counted in PostgreSQL. Returns the count or -1 with ctx->err.
static int64_t
s_sent_in_window (sq_ctx_t *ctx, const notify_due_t *d, int64_t window_start_us)
{
    const notify_t *self = ctx->state;
    char key[NOTIFY_COUNTER_KEY_MAX];
    s_rate_key (d, window_start_us, key);
    int64_t count = notify_counter_get (self->counter, key);
    if (count >= 0)
        return count;
    char start[24];
    snprintf (start, sizeof start, "%" PRId64, window_start_us);
    const char *params[] = {d->recipient, d->channel, start};
    PGresult *res = sq_db_query (ctx->db, "SELECT count(*) FROM notify.delivery WHERE"
                                 " recipient = $1 AND channel = $2 AND digest IS NULL AND"
                                 " delivered_at >= $3::bigint AND status = 'delivered' AND"
                                 " priority <> 'urgent'", 3, params, &ctx->err);
    if (!res)
        return -1;
    count = strtoll (PQgetvalue (res, 0, 0), NULL, 10);
    PQclear (res);
    return count;
}

void
notify_digest_count_sent (sq_ctx_t *ctx, const notify_due_t *d, int64_t decided_us)
{
    const notify_t *self = ctx->state;
    notify_priority_t priority = NOTIFY_NORMAL;
    notify_priority_parse (d->priority, &priority);
    bool limited = !strcmp (d->channel, "sms") || !strcmp (d->channel, "email");
    if (!limited || priority == NOTIFY_URGENT)
        return;
    char key[NOTIFY_COUNTER_KEY_MAX];
    s_rate_key (d, notify_rate_decide (&self->rate, priority, 0, decided_us).window_start_us,
                key);
    int ttl_s = (int) (2 * self->rate.window_us / NOTIFY_SECOND_US + 1);
    //  Redis down: PostgreSQL counts the delivered rows instead, nothing to do.
    notify_counter_incr (self->counter, key, ttl_s);
}

//  The open digest of d's window with room left, made when there is none. Returns 0 with
//  its id in out, or -1 with ctx->err.
static int
s_open_digest (sq_ctx_t *ctx, const notify_due_t *d, int64_t window_start_us, int64_t now_us,
               char out[SQ_ID_SIZE])
{
    const notify_t *self = ctx->state;
    char start[24], room[16], next_at[24], at[24];
    snprintf (start, sizeof start, "%" PRId64, window_start_us);
    snprintf (room, sizeof room, "%d", NOTIFY_DIGEST_ITEMS_MAX);
    const char *params[] = {d->recipient, d->channel, d->address, start, room};
    //  Two replicas both finding no open digest would make one each: one at a time.
    if (sq_db_exec (ctx->db, "SELECT pg_advisory_xact_lock (hashtext ($1 || ':' || $2))", 2,
                    params, &ctx->err))
        return -1;
    //  Locked: a replica that sends this digest meanwhile makes us open another.
    PGresult *res = sq_db_query (ctx->db, "SELECT id FROM notify.digest WHERE recipient = $1"
                                 " AND channel = $2 AND address = $3 AND window_start ="
                                 " $4::bigint AND status = 'open' AND items < $5::int ORDER BY"
                                 " created_at, id LIMIT 1 FOR UPDATE", 5, params, &ctx->err);
    if (!res)
        return -1;
    bool found = PQntuples (res) == 1;
    if (found)
        snprintf (out, SQ_ID_SIZE, "%s", PQgetvalue (res, 0, 0));
    PQclear (res);
    if (found)
        return 0;
    notify_channel_t channel = NOTIFY_SMS;
    notify_channel_parse (d->channel, &channel);
    sq_id_new (out);
    snprintf (next_at, sizeof next_at, "%" PRId64, notify_send_at (&self->quiet, channel,
                                                                   NOTIFY_NORMAL,
                                                                   window_start_us
                                                                   + self->rate.window_us));
    snprintf (at, sizeof at, "%" PRId64, now_us);
    const char *iparams[] = {out, d->recipient, d->channel, d->address, start, next_at, at};
    return sq_db_exec (ctx->db, "INSERT INTO notify.digest (id, recipient, channel, address,"
                       " window_start, status, next_at, created_at) VALUES ($1, $2, $3, $4,"
                       " $5::bigint, 'open', $6::bigint, $7::bigint)", 7, iparams, &ctx->err);
}

int
notify_digest_fold (sq_ctx_t *ctx, const notify_due_t *d, int64_t now_us)
{
    const notify_t *self = ctx->state;
    notify_priority_t priority = NOTIFY_NORMAL;
    notify_priority_parse (d->priority, &priority);
    bool limited = !strcmp (d->channel, "sms") || !strcmp (d->channel, "email");
    if (!limited || priority == NOTIFY_URGENT)
        return 0;
    int64_t window_start = notify_rate_decide (&self->rate, priority, 0, now_us).window_start_us;
    int64_t sent = s_sent_in_window (ctx, d, window_start);
    if (sent < 0)
        return -1;
    if (notify_rate_decide (&self->rate, priority, sent, now_us).action == NOTIFY_SEND_NOW)
        return 0;
    char digest[SQ_ID_SIZE];
    if (s_open_digest (ctx, d, window_start, now_us, digest))
        return -1;
    const char *params[] = {d->id, digest};
    if (sq_db_exec (ctx->db, "UPDATE notify.digest SET items = items + 1 WHERE id = $1", 1,
                    params + 1, &ctx->err)
        || sq_db_exec (ctx->db, "UPDATE notify.delivery SET status = 'folded', digest = $2"
                       " WHERE id = $1", 2, params, &ctx->err))
        return -1;
    return 1;
}

//  The digest's deliveries are delivered: each with an attempt and notify.delivered.
static int
s_digest_delivered (sq_ctx_t *ctx, const char *digest, int64_t now_us)
{
    char at[24];
    snprintf (at, sizeof at, "%" PRId64, now_us);
    const char *params[] = {digest, at};
    if (sq_db_exec (ctx->db, "UPDATE notify.digest SET status = 'delivered', attempts ="
                    " attempts + 1, last_error = '', delivered_at = $2::bigint WHERE id = $1", 2,
                    params, &ctx->err)
        || sq_db_exec (ctx->db, "INSERT INTO notify.attempt (delivery, n, at, ok, error) SELECT"
                       " d.id, coalesce ((SELECT max (n) FROM notify.attempt a WHERE a.delivery"
                       " = d.id), 0) + 1, $2::bigint, true, '' FROM notify.delivery d WHERE"
                       " d.digest = $1 AND d.status = 'folded'", 2, params, &ctx->err))
        return -1;
    PGresult *res = sq_db_query (ctx->db, "UPDATE notify.delivery SET status = 'delivered',"
                                 " attempts = attempts + 1, last_error = '', delivered_at ="
                                 " $2::bigint WHERE digest = $1 AND status = 'folded' RETURNING"
                                 " id, event_id, type, div, recipient, channel, attempts", 2,
                                 params, &ctx->err);
    if (!res)
        return -1;
    int rc = 0;
    for (int i = 0; rc == 0 && i < PQntuples (res); i++) {
        sq_data_t data;
        sq_data_begin (&data);
        notify_outcome_pack (&data.pk, PQgetvalue (res, i, 0), PQgetvalue (res, i, 1),
                             PQgetvalue (res, i, 2), PQgetvalue (res, i, 4),
                             PQgetvalue (res, i, 5), (int) strtol (PQgetvalue (res, i, 6), NULL,
                                                                   10), NULL);
        rc = sq_ctx_emit_data (ctx, &data, "delivered", PQgetvalue (res, i, 3));
    }
    PQclear (res);
    return rc;
}

//  The digest failed for good: so does each of its deliveries (dead letter, fallback).
static int
s_digest_dead (sq_ctx_t *ctx, const char *digest, PGresult *items, int64_t now_us,
               const char *error)
{
    char why[NOTIFY_ERROR_MAX];
    snprintf (why, sizeof why, "digest %s: %s", digest, error);
    const char *params[] = {digest, why};
    if (sq_db_exec (ctx->db, "UPDATE notify.digest SET status = 'dead', attempts = attempts + 1,"
                    " last_error = $2 WHERE id = $1", 2, params, &ctx->err))
        return -1;
    int rc = 0;
    for (int i = 0; rc == 0 && i < PQntuples (items); i++) {
        notify_due_t d;
        notify_due_read (items, i, &d);
        rc = notify_delivery_give_up (ctx, &d, d.attempts + 1, now_us, why);
    }
    return rc;
}

//  Sends one due digest (row of res) and records the outcome.
static int
s_digest_send (sq_ctx_t *ctx, PGresult *digests, int row)
{
    const notify_t *self = ctx->state;
    const char *id = PQgetvalue (digests, row, 0);
    char limit[16];
    snprintf (limit, sizeof limit, "%d", NOTIFY_DIGEST_ITEMS_MAX);
    const char *params[] = {id, limit};
    PGresult *items = sq_db_query (ctx->db, "SELECT " NOTIFY_DUE_COLUMNS " FROM notify.delivery"
                                   " WHERE digest = $1 AND status = 'folded' ORDER BY"
                                   " created_at, id LIMIT $2::int", 2,
                                   params, &ctx->err);
    if (!items)
        return -1;
    int count = PQntuples (items);
    notify_digest_item_t list[NOTIFY_DIGEST_ITEMS_MAX];
    for (int i = 0; i < count; i++)
        list[i] = (notify_digest_item_t) {PQgetvalue (items, i, 3), PQgetvalue (items, i, 4),
                                          PQgetvalue (items, i, 5)};
    notify_channel_t channel = NOTIFY_SMS;
    notify_channel_parse (PQgetvalue (digests, row, 2), &channel);
    int64_t window_start = strtoll (PQgetvalue (digests, row, 4), NULL, 10);
    int attempt = (int) strtol (PQgetvalue (digests, row, 5), NULL, 10) + 1;
    char subject[NOTIFY_SUBJECT_MAX], error[NOTIFY_ERROR_MAX] = "";
    char *body = NULL;
    int64_t now = notify_now_us (ctx);
    int64_t quiet_ends = 0;
    int rc = 0;
    if (count && notify_quiet_holds (self, PQgetvalue (digests, row, 2), "normal", now,
                                     &quiet_ends)) {
        //  A retry that fell due in quiet hours: not an attempt.
        char next_at[24];
        snprintf (next_at, sizeof next_at, "%" PRId64, quiet_ends);
        const char *uparams[] = {id, next_at};
        rc = sq_db_exec (ctx->db, "UPDATE notify.digest SET next_at = $2::bigint WHERE id ="
                         " $1", 2, uparams, &ctx->err);
    } else if (count == 0)
        rc = s_digest_delivered (ctx, id, now); //  nothing left to say
    else if (notify_digest_render (channel, list, count, window_start, self->rate.window_us,
                                   subject, &body))
        rc = sq_error_set (&ctx->err, SQ_ERR_INTERNAL, "", "out of memory");
    else {
        notify_outcome_t outcome = notify_send_text (self, channel, PQgetvalue (digests, row, 3),
                                                     subject, body, id, now, error,
                                                     sizeof error);
        int64_t next = 0;
        if (outcome == NOTIFY_SENT)
            rc = s_digest_delivered (ctx, id, notify_now_us (ctx));
        else if (outcome == NOTIFY_REFUSED
                 || notify_retry_next (&self->retry, attempt, now, randombytes_random (), &next))
            rc = s_digest_dead (ctx, id, items, now, error);
        else {
            char attempts[16], next_at[24];
            snprintf (attempts, sizeof attempts, "%d", attempt);
            snprintf (next_at, sizeof next_at, "%" PRId64, next);
            const char *uparams[] = {id, attempts, next_at, error};
            rc = sq_db_exec (ctx->db, "UPDATE notify.digest SET attempts = $2::int, next_at ="
                             " $3::bigint, last_error = $4 WHERE id = $1", 4, uparams,
                             &ctx->err);
        }
        if (outcome != NOTIFY_SENT)
            sq_log_info ("digest failed", "digest=%s channel=%s items=%d attempt=%d"
                         " error=\"%s\"", id, notify_channel_name (channel), count, attempt,
                         error);
    }
    free (body);
    PQclear (items);
    return rc;
}

int
notify_digest_sweep (sq_ctx_t *ctx)
{
    char now[24], limit[16];
    snprintf (now, sizeof now, "%" PRId64, notify_now_us (ctx));
    snprintf (limit, sizeof limit, "%d", NOTIFY_DIGEST_BATCH_MAX);
    const char *params[] = {now, limit};
    PGresult *res = sq_db_query (ctx->db, "SELECT id, recipient, channel, address, window_start,"
                                 " attempts FROM notify.digest WHERE status = 'open' AND"
                                 " next_at <= $1::bigint ORDER BY next_at, id LIMIT $2::int"
                                 " FOR UPDATE SKIP LOCKED", 2, params, &ctx->err);
    if (!res)
        return -1;
    int rc = notify_sweep_rows (ctx, res, s_digest_send);
    PQclear (res);
    return rc;
}
