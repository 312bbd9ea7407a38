/*  sq_cache: Redis as a cache only; read-through values validated by an outbox stamp. */
#include "sq_cache.h"
#include "sq_config.h"
#include "sq_log.h"
#include "sq_util.h"

#include <assert.h>
#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SQ_STAMP_MAX 192 //  "<database>@<started>|<last seq>" text

struct sq_cache {
    char address[256];   //  host:port or socket path
    redisContext *redis; //  NULL while disconnected
    int timeout_ms;      //  connect and command timeout
    int retry_ms;        //  pause after a failure
    int64_t retry_at_ms; //  monotonic time before which Redis is not tried
    bool up;             //  last exchange succeeded
};

sq_cache_t *
sq_cache_new (const char *address)
{
    sq_cache_t *self = calloc (1, sizeof *self);
    assert (self);
    snprintf (self->address, sizeof self->address, "%s",
              address ? address : sq_config_str (SQ_ENV_REDIS, SQ_DEFAULT_REDIS));
    self->timeout_ms = (int) sq_config_int ("SHEQU_REDIS_TIMEOUT_MS",
                                            SQ_CACHE_TIMEOUT_MS_DEFAULT, 1, 60000);
    self->retry_ms = (int) sq_config_int ("SHEQU_REDIS_RETRY_MS", SQ_CACHE_RETRY_MS_DEFAULT,
                                          0, 600000);
    return self;
}

void
sq_cache_destroy (sq_cache_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        if ((*self_p)->redis)
            redisFree ((*self_p)->redis);
        free (*self_p);
        *self_p = NULL;
    }
}

bool
sq_cache_up (sq_cache_t *self)
{
    return self->up;
}

static void
s_fail (sq_cache_t *self, const char *what)
{
    if (self->up || !self->retry_at_ms)
        sq_log_warn ("redis unavailable, serving without cache", "address=%s during=%s error=\"%s\"",
                     self->address, what,
                     self->redis && self->redis->errstr[0] ? self->redis->errstr : "no reply");
    if (self->redis)
        redisFree (self->redis);
    self->redis = NULL;
    self->up = false;
    self->retry_at_ms = sq_clock_ms () + self->retry_ms;
}

//  Returns a connected context, or NULL while Redis is unreachable or in its pause.
static redisContext *
s_connect (sq_cache_t *self)
{
    if (self->redis)
        return self->redis;
    if (self->retry_at_ms && sq_clock_ms () < self->retry_at_ms)
        return NULL;
    struct timeval tv = {self->timeout_ms / 1000, (self->timeout_ms % 1000) * 1000};
    char host[256];
    snprintf (host, sizeof host, "%s", self->address);
    char *colon = strrchr (host, ':');
    if (host[0] == '/')
        self->redis = redisConnectUnixWithTimeout (host, tv);
    else {
        int port = 6379;
        if (colon) {
            *colon = 0;
            port = (int) strtol (colon + 1, NULL, 10);
        }
        self->redis = redisConnectWithTimeout (host, port, tv);
    }
    if (!self->redis || self->redis->err || redisSetTimeout (self->redis, tv) != REDIS_OK) {
        s_fail (self, "connect");
        return NULL;
    }
    if (!self->up)
        sq_log_info ("redis connected", "address=%s", self->address);
    self->up = true;
    return self->redis;
}

void *
sq_cache_get (sq_cache_t *self, const char *key, size_t *size)
{
    redisContext *redis = s_connect (self);
    if (!redis)
        return NULL;
    redisReply *reply = redisCommand (redis, "GET %s", key);
    if (!reply) {
        s_fail (self, "get");
        return NULL;
    }
    void *value = NULL;
    if (reply->type == REDIS_REPLY_STRING && reply->len > 0) {
        value = malloc (reply->len);
        if (value) {
            memcpy (value, reply->str, reply->len);
            *size = reply->len;
        }
    }
    freeReplyObject (reply);
    return value;
}

void
sq_cache_set (sq_cache_t *self, const char *key, const void *value, size_t size, int ttl_s)
{
    if (size > SQ_CACHE_VALUE_MAX)
        return;
    redisContext *redis = s_connect (self);
    if (!redis)
        return;
    redisReply *reply = redisCommand (redis, "SET %s %b EX %d", key, value, size, ttl_s);
    if (!reply)
        s_fail (self, "set");
    else
        freeReplyObject (reply);
}

bool
sq_cache_ping (sq_cache_t *self)
{
    redisContext *redis = s_connect (self);
    if (!redis)
        return false;
    redisReply *reply = redisCommand (redis, "PING");
    if (!reply)
        s_fail (self, "ping");
    else
        freeReplyObject (reply);
    return self->up;
}

void
sq_cache_del (sq_cache_t *self, const char *key)
{
    redisContext *redis = s_connect (self);
    if (!redis)
        return;
    redisReply *reply = redisCommand (redis, "DEL %s", key);
    if (!reply)
        s_fail (self, "del");
    else
        freeReplyObject (reply);
}

//  Which database a stamp was taken in: its name and its cluster's start time. Two
//  databases that share one Redis (a city's and a district's platform, or the test
//  suite's databases) have the same keys, and their seqs can coincide; a value
//  cached by one must never pass for the other's.
#define S_STAMP_DATABASE                                                                     \
    "current_database () || '@' || (extract (epoch FROM pg_postmaster_start_time ()) *"      \
    " 1000000)::bigint::text"

//  The outbox stamp now: "<database>@<started>|<last seq>". Every change that emits an event
//  moves the stream's last seq when it commits (sq_outbox_flush), so an unchanged stamp means
//  no such change since. Read before the value is computed: a change committed in between
//  makes the stamp older than the value, which is then recomputed once more, never served
//  stale.
static int
s_stamp (sq_db_t *db, const char *schema, char out[SQ_STAMP_MAX], sq_error_t *err)
{
    char sql[512];
    snprintf (sql, sizeof sql, "SELECT " S_STAMP_DATABASE " || '|' || (SELECT coalesce (sum"
              " (last_seq), 0) FROM %s.stream)", schema);
    PGresult *res = sq_db_query (db, sql, 0, NULL, err);
    if (!res)
        return -1;
    snprintf (out, SQ_STAMP_MAX, "%s", PQgetvalue (res, 0, 0));
    PQclear (res);
    return 0;
}

//  True when the stamp was taken in this database and no event has been committed since.
static bool
s_stamp_current (sq_db_t *db, const char *schema, const char *stamp)
{
    char now[SQ_STAMP_MAX];
    sq_error_t err;
    return s_stamp (db, schema, now, &err) == 0 && strcmp (now, stamp) == 0;
}

int
sq_cache_fetch (sq_cache_t *self, sq_db_t *db, const char *schema, const char *key,
                sq_cache_compute_fn *compute, void *arg, msgpack_packer *pk, bool *hit,
                sq_error_t *err)
{
    *hit = false;
    size_t size = 0;
    char *cached = sq_cache_get (self, key, &size);
    //  Stored as "<stamp>\n<msgpack>"; anything else is ignored and overwritten.
    char *nl = cached ? memchr (cached, '\n', size < SQ_STAMP_MAX ? size : SQ_STAMP_MAX) : NULL;
    if (nl) {
        *nl = 0;
        size_t value_size = size - (size_t) (nl + 1 - cached);
        char why[128];
        if (s_stamp_current (db, schema, cached)
            && sq_codec_check (nl + 1, value_size, why, sizeof why) == 0) {
            pk->callback (pk->data, nl + 1, value_size);
            *hit = true;
        }
    }
    free (cached);
    if (*hit)
        return 0;

    char stamp[SQ_STAMP_MAX];
    if (s_stamp (db, schema, stamp, err))
        return -1;
    msgpack_sbuffer buf;
    msgpack_sbuffer_init (&buf);
    msgpack_sbuffer_write (&buf, stamp, strlen (stamp));
    msgpack_sbuffer_write (&buf, "\n", 1);
    size_t header = buf.size;
    msgpack_packer value;
    msgpack_packer_init (&value, &buf, msgpack_sbuffer_write);
    int rc = compute (arg, &value, err);
    if (rc == 0) {
        pk->callback (pk->data, buf.data + header, buf.size - header);
        sq_cache_set (self, key, buf.data, buf.size, SQ_CACHE_TTL_S);
    }
    msgpack_sbuffer_destroy (&buf);
    return rc;
}
