/*  sq_service: what every shequ service process runs around its handlers.

    A service is a name (its MDP service and its event stream), a PostgreSQL schema and a
    table of commands. sq_service_start connects, applies migrations, starts the outbox relay
    and a worker thread that holds `concurrency` MDP worker sockets. Requests that arrive
    together are run in one transaction, each under its own savepoint, and committed
    together: concurrent commands share one commit (group commit), a failing command rolls
    back only itself. Replies go out after the commit, so a reply never announces a change
    that could still be lost. `health` and `events.since` are answered for every service. */
#ifndef SQ_SERVICE_H
#define SQ_SERVICE_H

#include "sq_cache.h"
#include "sq_codec.h"
#include "sq_db.h"
#include "sq_envelope.h"
#include "sq_outbox.h"
#include "sq_sub.h"

#include <stdbool.h>

#define SQ_CMD_MAX 64                //  longest command name
#define SQ_IDEM_MAX 128              //  longest idempotency key
#define SQ_ROLE_MAX 32               //  longest role name
#define SQ_CONCURRENCY_DEFAULT 16    //  SHEQU_WORKER_CONCURRENCY: worker sockets per process
#define SQ_CONCURRENCY_MAX 256
#define SQ_WORKER_THREADS_DEFAULT 1  //  SHEQU_WORKER_THREADS: threads, each with a connection
#define SQ_WORKER_THREADS_MAX 16
#define SQ_CONSUMER_RETRY_MS_MAX 5000  //  longest pause before an event is tried again
#define SQ_CONSUMER_STANDBY_MS 500     //  a standing-by consumer retries the lock this often
#define SQ_SWEEP_MS_DEFAULT 60000      //  SHEQU_SWEEP_MS: how often sweeps run
#define SQ_BATCH_WAIT_MS 1           //  wait for stragglers when the last batch was larger
#define SQ_MALLOC_MMAP_THRESHOLD (32 << 20)  //  blocks below this come from the heap
#define SQ_MALLOC_TRIM_THRESHOLD (256 << 20) //  free heap kept before giving it back

//  Who asks (DESIGN.md "Commands"): scope "" is the whole platform.
typedef struct {
    char id[SQ_TEXT_ID_MAX];  //  the actor's id
    char role[SQ_ROLE_MAX];   //  one of the roles of DESIGN.md
    char scope[SQ_DIV_MAX];   //  division code the actor answers for
} sq_actor_t;

typedef struct sq_service sq_service_t;

//  Everything a handler sees. The handler packs exactly one value (its result) into pk
//  and returns 0, or sets err (sq_error_set) and returns -1; then nothing it did remains.
typedef struct {
    sq_service_t *service;       //  the running service
    sq_db_t *db;                 //  inside the command's transaction
    sq_cache_t *cache;           //  Redis cache of this worker thread
    const char *cmd;             //  command name
    const msgpack_object *args;  //  the args map, or NULL when none was given
    const sq_actor_t *actor;     //  who asks
    const char *corr;            //  correlation id, "" when none
    const char *request_id;      //  unique id of this command: the cause of its events
    msgpack_packer *pk;          //  where the result goes
    sq_error_t err;              //  set when the handler fails
    void *state;                 //  the service's own state (config.state)
    int events;                  //  events emitted by this command
    sq_outbox_many_t *outbox;    //  the transaction's events, written before its COMMIT
} sq_ctx_t;

typedef int (sq_handler_fn) (sq_ctx_t *ctx);

//  Runs count commands of one kind together, in one statement where the handler can:
//  several clients' transfer.create in one group commit cost the round trips of one. Each
//  ctxs[i] is a command as its handler would see it; the group handler either packs its
//  result into ctxs[i].pk or sets ctxs[i].err, and a command refused that way must have
//  written nothing (there is no savepoint per command). Returns 0, or -1 with ctxs[0].err
//  set when the database failed: the whole batch is then answered `unavailable`.
typedef int (sq_group_fn) (sq_ctx_t *ctxs, int count);

typedef struct {
    const char *name;   //  e.g. "resident.register"
    sq_handler_fn *fn;  //  the handler
} sq_command_t;

//  A command that may also run grouped (sq_service_config_t.groups): when a batch holds
//  more than one of it without an idem key.
typedef struct {
    const char *name;   //  a command of the table
    sq_group_fn *fn;    //  its group handler
} sq_group_t;

//  Applies one event of another service's stream inside ctx's transaction: ctx->cmd is the
//  event type, ctx->args its data map, ctx->actor the event's actor (role operator, whole
//  platform), ctx->corr its corr, ctx->request_id its id (the cause of what the handler
//  emits); ctx->pk takes an optional value that is discarded. Returns 0, or -1 with ctx->err
//  set: `unavailable` and `internal` are retried (the stream waits), any other code skips
//  the event for good, with a log line.
typedef int (sq_event_fn) (sq_ctx_t *ctx, const sq_event_t *event);

typedef struct {
    const char *src;     //  stream consumed, e.g. "registry"
    const char *prefix;  //  topics handled, e.g. "registry.resident_" ("" for all)
    sq_event_fn *fn;     //  the handler
} sq_consumer_t;

typedef struct {
    const char *name;               //  service and stream name, e.g. "registry"
    const char *schema;             //  PostgreSQL schema it owns
    const sq_command_t *commands;   //  terminated by {NULL, NULL}
    const sq_group_t *groups;       //  NULL, or terminated by {NULL, NULL}
    void *state;                    //  handed to handlers as ctx->state
    const char *conninfo;           //  NULL: SHEQU_PG
    const char *commands_endpoint;  //  NULL: SHEQU_COMMANDS
    const char *events_in;          //  NULL: SHEQU_EVENTS_IN
    const char *redis;              //  NULL: SHEQU_REDIS
    int concurrency;                //  0: SHEQU_WORKER_CONCURRENCY, else this many sockets
    int concurrency_default;        //  SHEQU_WORKER_CONCURRENCY's default; 0: SQ_CONCURRENCY_DEFAULT
    //  Streams of other services this one applies, terminated by {NULL, NULL, NULL}; NULL
    //  for none. One replica at a time consumes (advisory lock); each event is applied once,
    //  in seq order, with its (src, seq) in the inbox in the same transaction.
    const sq_consumer_t *consumers;
    //  Work done every SHEQU_SWEEP_MS (default 60 s) in its own transaction, as actor
    //  "<service>-sweep" (operator, whole platform): deadlines, expiries. Every replica
    //  sweeps, so a sweep must lock what it changes (UPDATE ... RETURNING); terminated by
    //  {NULL, NULL}; NULL for none.
    const sq_command_t *sweeps;
    const char *events_out;         //  NULL: SHEQU_EVENTS_OUT
    //  Optional: adds service-specific fields to the health map (count them in *fields).
    void (*health) (void *state, msgpack_packer *pk, int *fields);
} sq_service_config_t;

sq_service_t *sq_service_new (const sq_service_config_t *config);

//  Connects, migrates, starts the relay and the worker thread. Returns 0 or -1 (logged).
int sq_service_start (sq_service_t *self);

//  Stops the worker thread and the relay (workers send DISCONNECT) and frees.
void sq_service_destroy (sq_service_t **self_p);

//  The service's name and schema (borrowed).
const char *sq_service_name (sq_service_t *self);
const char *sq_service_schema (sq_service_t *self);

//  True while this replica is the one applying the streams it consumes.
bool sq_service_consuming (sq_service_t *self);

//  Adds an event to the command's transaction: type "<service>.<event>", div the division it
//  concerns, data the raw msgpack of the data map (copied). The transaction's events are
//  written to the outbox together just before its COMMIT (sq_outbox_flush), so they take
//  their seqs in the order emitted and commit or vanish with the change. Returns 0.
int sq_ctx_emit (sq_ctx_t *ctx, const char *type, const char *div, const void *data,
                 size_t size);

//  An event's data map being built: sq_data_begin, pack one map into data.pk, then
//  sq_ctx_emit_data, which frees it.
typedef struct {
    msgpack_sbuffer buf; //  the map's bytes
    msgpack_packer pk;   //  packs into buf
} sq_data_t;

void sq_data_begin (sq_data_t *data);
void sq_data_destroy (sq_data_t *data);

//  Emits "<service>.<name>" for div with the packed data, and frees the data in any case.
int sq_ctx_emit_data (sq_ctx_t *ctx, sq_data_t *data, const char *name, const char *div);

//  How far a command had emitted: a handler that rolls back to a savepoint of its own
//  rewinds its events with it (sq_ctx_rewind), as the service does for a failed command.
typedef struct {
    int events;               //  ctx->events
    sq_outbox_mark_t outbox;  //  the transaction's events
} sq_ctx_mark_t;

sq_ctx_mark_t sq_ctx_mark (const sq_ctx_t *ctx);
void sq_ctx_rewind (sq_ctx_t *ctx, const sq_ctx_mark_t *mark);

//  True when code lies inside the actor's scope (scope "" covers everything).
bool sq_ctx_in_scope (const sq_ctx_t *ctx, const char *code);

//  Sets a `forbidden` error unless code lies in the actor's scope; returns 0 or -1.
int sq_ctx_require_scope (sq_ctx_t *ctx, const char *code, const char *field);

//  True when the actor may see personal data of something in division in clear (DESIGN.md:
//  community staff and mediators within their scope, which must not be the whole platform,
//  and auditors).
bool sq_ctx_may_unmask (const sq_ctx_t *ctx, const char *division);

//  Records an unmasked read in the service's personal_data_reads table: subject says what
//  was read ("resident:<id>"), fields which fields. Returns 0 or -1 with ctx->err set.
int sq_ctx_record_read (sq_ctx_t *ctx, const char *subject, const char *fields);

//  Sets a `forbidden` error unless the actor's role is one of the NULL-terminated roles.
int sq_ctx_require_role (sq_ctx_t *ctx, const char *const *roles);

//  A reply from another service, decoded, kept with its bytes.
typedef struct {
    void *raw;                    //  reply body
    size_t size;                  //  bytes in raw
    sq_doc_t *doc;                //  decoded
    const msgpack_object *result; //  the reply's result
} sq_reply_t;

#define SQ_CALL_TIMEOUT_MS_DEFAULT 5000 //  a call to another service answers within this

//  Calls another service's command from a handler, as the same actor and with the same corr,
//  and waits up to timeout_ms (0: the default). args is the raw msgpack of the args map
//  (size 0: {}). Returns the reply when it is ok (the caller destroys it); otherwise NULL
//  with ctx->err set: the other service's error as it gave it, or `unavailable` when it did
//  not answer. NB: the handler's transaction stays open meanwhile; call before writing.
sq_reply_t *sq_ctx_call (sq_ctx_t *ctx, const char *service, const char *cmd,
                         const void *args, size_t args_size, int timeout_ms);
void sq_reply_destroy (sq_reply_t **self_p);

//  Runs a service process: logs, config, start, waits for SIGTERM or SIGINT, tears down.
//  Returns the process exit code.
int sq_service_main (const sq_service_config_t *config);

#endif
