/*  sq_cache: Redis as a cache only (DESIGN.md). Redis down or stalled means slower, never
    failing: every call has a short timeout, and after a failure the cache stays away from
    Redis for a while instead of making every command wait.

    Read-through values are validated, not trusted: each cached value carries a stamp of
    the service's event stream at the moment it was computed (its last committed seq).
    Every change in a service emits an event in its transaction, which moves that seq when
    it commits, so if the same seq is still the last now, nothing has changed since and the
    value equals what the database holds; otherwise it is recomputed. This
    holds even when a change happened while Redis was down or was written by another
    replica, which "delete on change" alone would miss. */
#ifndef SQ_CACHE_H
#define SQ_CACHE_H

#include "sq_codec.h"
#include "sq_db.h"

#include <stdbool.h>

#define SQ_CACHE_TIMEOUT_MS_DEFAULT 100  //  SHEQU_REDIS_TIMEOUT_MS: connect and command timeout
#define SQ_CACHE_RETRY_MS_DEFAULT 1000   //  SHEQU_REDIS_RETRY_MS: pause after a failure
#define SQ_CACHE_TTL_S 3600              //  read-through values expire after an hour anyway
#define SQ_CACHE_VALUE_MAX (8 * 1024 * 1024) //  largest value kept

typedef struct sq_cache sq_cache_t;

//  address: "host:port" or a unix socket path; NULL means SHEQU_REDIS. Never fails to
//  construct: the connection is made on first use.
sq_cache_t *sq_cache_new (const char *address);
void sq_cache_destroy (sq_cache_t **self_p);

//  Returns a malloc'd copy of the value (the caller frees) and its size, or NULL on a miss
//  or when Redis is unreachable.
void *sq_cache_get (sq_cache_t *self, const char *key, size_t *size);
//  Stores value with a time to live; failures are logged and forgotten.
void sq_cache_set (sq_cache_t *self, const char *key, const void *value, size_t size,
                   int ttl_s);
void sq_cache_del (sq_cache_t *self, const char *key);
//  True when the last exchange with Redis succeeded.
bool sq_cache_up (sq_cache_t *self);
//  Asks Redis for PING now (unless it is in its pause after a failure); returns sq_cache_up.
bool sq_cache_ping (sq_cache_t *self);

//  Computes a value: packs exactly one msgpack value into pk. Returns 0 or -1 with err.
typedef int (sq_cache_compute_fn) (void *arg, msgpack_packer *pk, sq_error_t *err);

//  Read-through: packs the value for key into pk, from Redis when its stamp against
//  schema's outbox is current, else from compute (and stores it). *hit says which.
//  db must be inside a transaction or autocommit; returns 0 or -1 with err set.
int sq_cache_fetch (sq_cache_t *self, sq_db_t *db, const char *schema, const char *key,
                    sq_cache_compute_fn *compute, void *arg, msgpack_packer *pk, bool *hit,
                    sq_error_t *err);

#endif
