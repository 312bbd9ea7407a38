/*  rate: INCR + EXPIRE in Redis, with a pause after a failure. */
#include "rate.h"

#include "sq_log.h"
#include "sq_util.h"

#include <hiredis/hiredis.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_ADDRESS_MAX 256
#define S_PORT_DEFAULT 6379

struct notify_counter {
    pthread_mutex_t lock;         //  one delivery sweep at a time uses redis
    char address[S_ADDRESS_MAX];  //  host:port or socket path
    redisContext *redis;          //  NULL while disconnected
    int64_t retry_at_ms;          //  monotonic time before which Redis is not tried
    bool warned;                  //  the outage was logged
};

notify_counter_t *
notify_counter_new (const char *address)
{
    notify_counter_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    pthread_mutex_init (&self->lock, NULL);
    snprintf (self->address, sizeof self->address, "%s", address);
    return self;
}

void
notify_counter_destroy (notify_counter_t **self_p)
{
    notify_counter_t *self = *self_p;
    if (!self)
        return;
    if (self->redis)
        redisFree (self->redis);
    pthread_mutex_destroy (&self->lock);
    free (self);
    *self_p = NULL;
}

static void
s_fail (notify_counter_t *self, const char *what)
{
    if (!self->warned)
        sq_log_warn ("redis unavailable, rate counted in postgresql", "address=%s during=%s"
                     " error=\"%s\"", self->address, what,
                     self->redis && self->redis->errstr[0] ? self->redis->errstr : "no reply");
    self->warned = true;
    if (self->redis)
        redisFree (self->redis);
    self->redis = NULL;
    self->retry_at_ms = sq_clock_ms () + NOTIFY_COUNTER_RETRY_MS;
}

//  A connected context, or NULL while Redis is unreachable or in its pause.
static redisContext *
s_connect (notify_counter_t *self)
{
    if (self->redis)
        return self->redis;
    if (self->retry_at_ms && sq_clock_ms () < self->retry_at_ms)
        return NULL;
    struct timeval tv = {NOTIFY_COUNTER_TIMEOUT_MS / 1000,
                         (NOTIFY_COUNTER_TIMEOUT_MS % 1000) * 1000};
    if (self->address[0] == '/')
        self->redis = redisConnectUnixWithTimeout (self->address, tv);
    else {
        char host[S_ADDRESS_MAX];
        snprintf (host, sizeof host, "%s", self->address);
        char *colon = strrchr (host, ':');
        long port = S_PORT_DEFAULT;
        if (colon) {
            *colon = '\0';
            char *end = NULL;
            port = strtol (colon + 1, &end, 10);
            if (!end || *end || port < 1 || port > 65535)
                port = S_PORT_DEFAULT; //  sq_cache reads the same address and says so
        }
        self->redis = redisConnectWithTimeout (host, (int) port, tv);
    }
    if (!self->redis || self->redis->err || redisSetTimeout (self->redis, tv) != REDIS_OK) {
        s_fail (self, "connect");
        return NULL;
    }
    if (self->warned)
        sq_log_info ("redis back, rate counted there again", "address=%s", self->address);
    self->warned = false;
    return self->redis;
}

//  INCR and EXPIRE in one round trip (pipelined). Returns the count or -1.
static int64_t
s_incr (notify_counter_t *self, redisContext *redis, const char *key, int ttl_s)
{
    redisReply *incr = NULL, *expire = NULL;
    if (redisAppendCommand (redis, "INCR %s", key) != REDIS_OK
        || redisAppendCommand (redis, "EXPIRE %s %d", key, ttl_s) != REDIS_OK
        || redisGetReply (redis, (void **) &incr) != REDIS_OK
        || redisGetReply (redis, (void **) &expire) != REDIS_OK) {
        if (incr)
            freeReplyObject (incr);
        s_fail (self, "incr");
        return -1;
    }
    int64_t count = incr && incr->type == REDIS_REPLY_INTEGER ? incr->integer : -1;
    freeReplyObject (incr);
    freeReplyObject (expire);
    return count;
}

int64_t
notify_counter_incr (notify_counter_t *self, const char *key, int ttl_s)
{
    pthread_mutex_lock (&self->lock);
    redisContext *redis = s_connect (self);
    int64_t count = redis ? s_incr (self, redis, key, ttl_s) : -1;
    pthread_mutex_unlock (&self->lock);
    return count;
}

int64_t
notify_counter_get (notify_counter_t *self, const char *key)
{
    pthread_mutex_lock (&self->lock);
    redisContext *redis = s_connect (self);
    redisReply *reply = redis ? redisCommand (redis, "GET %s", key) : NULL;
    int64_t count = -1;
    if (reply && reply->type == REDIS_REPLY_NIL)
        count = 0;
    else if (reply && reply->type == REDIS_REPLY_STRING) {
        char *end = NULL;
        long long value = strtoll (reply->str, &end, 10);
        count = end && *end == '\0' && value >= 0 ? value : -1;
    }
    if (redis && !reply)
        s_fail (self, "get");
    if (reply)
        freeReplyObject (reply);
    pthread_mutex_unlock (&self->lock);
    return count;
}
