/*  rate: the per-recipient counter of the rate limit, in Redis (INCR and EXPIRE of one key
    per recipient, channel and window). Redis stays a cache here too (DESIGN.md): when it is
    down the caller counts in PostgreSQL instead, so nothing fails and nothing is lost; a
    count that restarts at zero only lets a few more messages out one by one. Like sq_cache,
    a failure keeps Redis away for a pause rather than making every delivery wait for it.
    Safe to call from several threads (one connection, under a lock). */
#ifndef NOTIFY_RATE_H
#define NOTIFY_RATE_H

#include <stdint.h>

#define NOTIFY_COUNTER_TIMEOUT_MS 100  //  connect and command timeout
#define NOTIFY_COUNTER_RETRY_MS 1000   //  pause after a failure
#define NOTIFY_COUNTER_KEY_MAX 256     //  longest key

typedef struct notify_counter notify_counter_t;

//  address: "host:port" or a unix socket path. Never fails for want of Redis: the
//  connection is made on first use. NULL only when memory is short.
notify_counter_t *notify_counter_new (const char *address);
void notify_counter_destroy (notify_counter_t **self_p);

//  Adds one to key and keeps it ttl_s seconds from now. Returns the new count (1 for the
//  first), or -1 when Redis is unreachable or answered something else.
int64_t notify_counter_incr (notify_counter_t *self, const char *key, int ttl_s);

//  The count of key (0 when it does not exist), or -1 when Redis is unreachable or answered
//  something else.
int64_t notify_counter_get (notify_counter_t *self, const char *key);

#endif
