/*  sq_service: the process around a service's handlers (group commit, idempotency,
    health, events.since, relay). */
#include "sq_service.h"
#include "sq_config.h"
#include "sq_log.h"
#include "sq_mdp.h"
#include "sq_migrate.h"
#include "sq_inbox.h"
#include "sq_outbox.h"
#include "sq_util.h"

#include <assert.h>
#include <inttypes.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#define SQ_DIGEST_HEX 65 //  hex of a 32-byte hash, with terminator

static const char *const s_roles[] = {
    "resident", "grid_worker", "community_staff", "mediator", "street_official",
    "district_official", "city_official", "community_office", "department", "auditor",
    "operator", NULL};

struct sq_service {
    sq_service_config_t config;   //  as given (strings borrowed from the caller)
    char name[SQ_SRC_MAX];        //  service and stream name
    char schema[64];              //  PostgreSQL schema
    char commands_endpoint[256];  //  bus ROUTER
    char events_in[256];          //  bus XSUB
    char conninfo[1024];          //  libpq connection string
    int concurrency;              //  worker sockets, over all worker threads
    int thread_count;             //  worker threads, each with its own connection
    sq_relay_t *relay;            //  outbox relay (one active per stream across replicas)
    pthread_t threads[SQ_WORKER_THREADS_MAX]; //  worker threads
    int started;                  //  threads created
    pthread_t consumer;           //  applies other services' events (config.consumers)
    bool consuming;               //  consumer thread created
    atomic_bool consumer_active;  //  this replica holds the consumer lock
    atomic_bool stop;             //  asks the worker thread to end
    int64_t started_ms;           //  monotonic start time
    atomic_uint_fast64_t handled; //  commands answered
    atomic_uint_fast64_t batches; //  transactions committed
};

//  One request of a batch, from arrival to reply.
typedef struct {
    sq_mdp_worker_t *worker;    //  socket it came on (the reply goes back there)
    sq_mdp_request_t request;   //  raw request
    sq_doc_t *doc;              //  decoded body
    const char *cmd;            //  points into cmd_text
    char cmd_text[SQ_CMD_MAX];  //  command name
    const msgpack_object *args; //  args map or NULL
    sq_actor_t actor;           //  who asks
    char idem[SQ_IDEM_MAX + 1]; //  idempotency key, "" when none
    char corr[SQ_TEXT_ID_MAX];  //  correlation id
    char digest[SQ_DIGEST_HEX]; //  hash of cmd and args, for reused idem keys
    sq_handler_fn *fn;          //  the handler, NULL for built-ins
    msgpack_sbuffer reply;      //  the reply body
    bool answered;              //  reply is final (decoding failed, idem hit)
    sq_group_fn *group;         //  its group handler, if the service gave one
    bool grouped;               //  ran with others of its kind in this batch
} s_item_t;

const char *
sq_service_name (sq_service_t *self)
{
    return self->name;
}

const char *
sq_service_schema (sq_service_t *self)
{
    return self->schema;
}

bool
sq_service_consuming (sq_service_t *self)
{
    return atomic_load (&self->consumer_active);
}

sq_service_t *
sq_service_new (const sq_service_config_t *config)
{
    assert (config && config->name && config->schema && config->commands);
    sq_service_t *self = calloc (1, sizeof *self);
    assert (self);
    self->config = *config;
    snprintf (self->name, sizeof self->name, "%s", config->name);
    snprintf (self->schema, sizeof self->schema, "%s", config->schema);
    snprintf (self->commands_endpoint, sizeof self->commands_endpoint, "%s",
              config->commands_endpoint ? config->commands_endpoint
                                        : sq_config_str (SQ_ENV_COMMANDS, SQ_DEFAULT_COMMANDS));
    snprintf (self->events_in, sizeof self->events_in, "%s",
              config->events_in ? config->events_in
                                : sq_config_str (SQ_ENV_EVENTS_IN, SQ_DEFAULT_EVENTS_IN));
    snprintf (self->conninfo, sizeof self->conninfo, "%s",
              config->conninfo ? config->conninfo : sq_config_str (SQ_ENV_PG, SQ_DEFAULT_PG));
    int concurrency_default = config->concurrency_default ? config->concurrency_default
                                                          : SQ_CONCURRENCY_DEFAULT;
    self->concurrency = config->concurrency
                            ? config->concurrency
                            : (int) sq_config_int ("SHEQU_WORKER_CONCURRENCY", concurrency_default,
                                                   1, SQ_CONCURRENCY_MAX);
    self->thread_count = (int) sq_config_int ("SHEQU_WORKER_THREADS", SQ_WORKER_THREADS_DEFAULT,
                                              1, SQ_WORKER_THREADS_MAX);
    if (self->thread_count > self->concurrency)
        self->thread_count = self->concurrency;
    return self;
}

// ---- context helpers --------------------------------------------------------------------

int
sq_ctx_emit (sq_ctx_t *ctx, const char *type, const char *div, const void *data, size_t size)
{
    sq_envelope_t env; //  filled field by field: zeroing its 450 bytes cost more than this
    env.src[0] = 0, env.seq = 0, env.data = NULL;
    sq_id_new (env.id);
    sq_copy_str (env.type, sizeof env.type, type);
    sq_copy_str (env.div, sizeof env.div, div ? div : "");
    env.at = sq_now_us ();
    sq_copy_str (env.actor, sizeof env.actor, ctx->actor->id);
    sq_copy_str (env.corr, sizeof env.corr, ctx->corr);
    sq_copy_str (env.cause, sizeof env.cause, ctx->request_id);
    sq_outbox_many_add (ctx->outbox, &env, data, size);
    ctx->events++;
    return 0;
}

void
sq_data_begin (sq_data_t *data)
{
    msgpack_sbuffer_init (&data->buf);
    msgpack_packer_init (&data->pk, &data->buf, msgpack_sbuffer_write);
}

void
sq_data_destroy (sq_data_t *data)
{
    msgpack_sbuffer_destroy (&data->buf);
}

int
sq_ctx_emit_data (sq_ctx_t *ctx, sq_data_t *data, const char *name, const char *div)
{
    char type[SQ_TYPE_MAX];
    snprintf (type, sizeof type, "%s.%s", ctx->service->name, name);
    int rc = sq_ctx_emit (ctx, type, div, data->buf.data, data->buf.size);
    sq_data_destroy (data);
    return rc;
}

sq_ctx_mark_t
sq_ctx_mark (const sq_ctx_t *ctx)
{
    return (sq_ctx_mark_t) {.events = ctx->events, .outbox = sq_outbox_many_mark (ctx->outbox)};
}

void
sq_ctx_rewind (sq_ctx_t *ctx, const sq_ctx_mark_t *mark)
{
    sq_outbox_many_rewind (ctx->outbox, &mark->outbox);
    ctx->events = mark->events;
}

bool
sq_ctx_in_scope (const sq_ctx_t *ctx, const char *code)
{
    size_t len = strlen (ctx->actor->scope);
    return len == 0 || strncmp (code, ctx->actor->scope, len) == 0;
}

int
sq_ctx_require_scope (sq_ctx_t *ctx, const char *code, const char *field)
{
    if (sq_ctx_in_scope (ctx, code))
        return 0;
    return sq_error_set (&ctx->err, SQ_ERR_FORBIDDEN, field,
                         "%s %s lies outside the actor's scope %s", field, code,
                         ctx->actor->scope);
}

bool
sq_ctx_may_unmask (const sq_ctx_t *ctx, const char *division)
{
    const char *role = ctx->actor->role;
    if (strcmp (role, "auditor") == 0)
        return true;
    return (strcmp (role, "community_staff") == 0 || strcmp (role, "mediator") == 0)
           && ctx->actor->scope[0] && sq_ctx_in_scope (ctx, division);
}

int
sq_ctx_record_read (sq_ctx_t *ctx, const char *subject, const char *fields)
{
    char at[24], sql[512]; //  the schema is a PostgreSQL name: at most 63 bytes
    snprintf (at, sizeof at, "%" PRId64, sq_now_us ());
    snprintf (sql, sizeof sql, "INSERT INTO %s.personal_data_reads (at, actor_id, actor_role,"
              " actor_scope, subject, fields, cmd) VALUES ($1::bigint, $2, $3, $4, $5, $6, $7)",
              sq_service_schema (ctx->service));
    const char *params[] = {at, ctx->actor->id, ctx->actor->role, ctx->actor->scope, subject,
                            fields, ctx->cmd};
    return sq_db_exec (ctx->db, sql, 7, params, &ctx->err);
}

int
sq_ctx_require_role (sq_ctx_t *ctx, const char *const *roles)
{
    for (int i = 0; roles[i]; i++)
        if (strcmp (ctx->actor->role, roles[i]) == 0)
            return 0;
    return sq_error_set (&ctx->err, SQ_ERR_FORBIDDEN, "actor.role",
                         "role %s may not run %s", ctx->actor->role, ctx->cmd);
}

// ---- calls to other services -------------------------------------------------------------

//  Each worker or consumer thread has its own client, made on first use.
static _Thread_local sq_mdp_client_t *s_client;

void
sq_reply_destroy (sq_reply_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        sq_doc_destroy (&(*self_p)->doc);
        free ((*self_p)->raw);
        free (*self_p);
        *self_p = NULL;
    }
}

static void
s_call_request (msgpack_sbuffer *buf, const sq_ctx_t *ctx, const char *cmd, const void *args,
                size_t args_size)
{
    msgpack_packer pk;
    msgpack_packer_init (&pk, buf, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, ctx->corr[0] ? 4 : 3);
    sq_pack_kv_str (&pk, "cmd", cmd);
    if (args_size)
        sq_pack_kv_raw (&pk, "args", args, args_size);
    else {
        sq_pack_str (&pk, "args");
        msgpack_pack_map (&pk, 0);
    }
    sq_pack_str (&pk, "actor");
    msgpack_pack_map (&pk, 3);
    sq_pack_kv_str (&pk, "id", ctx->actor->id);
    sq_pack_kv_str (&pk, "role", ctx->actor->role);
    sq_pack_kv_str (&pk, "scope", ctx->actor->scope);
    if (ctx->corr[0])
        sq_pack_kv_str (&pk, "corr", ctx->corr);
}

//  Takes the error of a refused reply into ctx->err, as the other service gave it.
static void
s_call_error (sq_ctx_t *ctx, const char *service, const msgpack_object *error)
{
    static const char *const codes[] = {SQ_ERR_INVALID, SQ_ERR_NOT_FOUND, SQ_ERR_CONFLICT,
                                        SQ_ERR_FORBIDDEN, SQ_ERR_UNAVAILABLE, SQ_ERR_INTERNAL,
                                        NULL};
    const char *code = SQ_ERR_INTERNAL;
    for (int i = 0; codes[i]; i++)
        if (sq_obj_str_eq (sq_obj_get (error, "code"), codes[i]))
            code = codes[i];
    char message[SQ_ERROR_MESSAGE_MAX] = "", field[SQ_ERROR_FIELD_MAX] = "";
    sq_obj_str_copy (sq_obj_get (error, "message"), message, sizeof message);
    sq_obj_str_copy (sq_obj_get (error, "field"), field, sizeof field);
    sq_error_set (&ctx->err, code, field, "%s: %s", service, message);
}

sq_reply_t *
sq_ctx_call (sq_ctx_t *ctx, const char *service, const char *cmd, const void *args,
             size_t args_size, int timeout_ms)
{
    if (!s_client)
        s_client = sq_mdp_client_new (ctx->service->commands_endpoint);
    sq_reply_t *reply = calloc (1, sizeof *reply);
    assert (reply);
    msgpack_sbuffer request;
    msgpack_sbuffer_init (&request);
    s_call_request (&request, ctx, cmd, args, args_size);
    int rc = s_client ? sq_mdp_client_call (s_client, service, request.data, request.size,
                                            timeout_ms > 0 ? timeout_ms
                                                           : SQ_CALL_TIMEOUT_MS_DEFAULT,
                                            &reply->raw, &reply->size)
                      : -1;
    msgpack_sbuffer_destroy (&request);
    char why[128] = "";
    if (rc == 0)
        reply->doc = sq_doc_new (reply->raw, reply->size, why, sizeof why);
    const msgpack_object *root = reply->doc ? sq_doc_root (reply->doc) : NULL;
    const msgpack_object *ok = sq_obj_get (root, "ok");
    if (ok && ok->type == MSGPACK_OBJECT_BOOLEAN && ok->via.boolean) {
        reply->result = sq_obj_get (root, "result");
        return reply;
    }
    if (ok && ok->type == MSGPACK_OBJECT_BOOLEAN)
        s_call_error (ctx, service, sq_obj_get (root, "error"));
    else
        sq_error_set (&ctx->err, SQ_ERR_UNAVAILABLE, "", "%s did not answer %s%s%s", service,
                      cmd, why[0] ? ": " : "", why);
    sq_reply_destroy (&reply);
    return NULL;
}

// ---- request decoding -------------------------------------------------------------------

static int
s_decode_actor (const msgpack_object *root, sq_actor_t *actor, sq_error_t *err)
{
    const msgpack_object *map = sq_obj_get (root, "actor");
    if (!map || map->type != MSGPACK_OBJECT_MAP)
        return sq_error_set (err, SQ_ERR_INVALID, "actor", "actor is required: a map with"
                             " id, role and scope");
    int role = 0;
    if (sq_arg_str (map, "id", true, sizeof actor->id - 1, actor->id, sizeof actor->id, err) < 0
        || sq_arg_enum (map, "role", true, s_roles, &role, err) < 0
        || sq_arg_str (map, "scope", false, SQ_DIV_MAX - 1, actor->scope, sizeof actor->scope,
                       err) < 0) {
        char field[SQ_ERROR_FIELD_MAX];
        snprintf (field, sizeof field, "%s", err->field);
        snprintf (err->field, sizeof err->field, "actor.%.40s", field);
        return -1;
    }
    snprintf (actor->role, sizeof actor->role, "%s", s_roles[role]);
    if (actor->scope[0] && !sq_is_digits (actor->scope, 0))
        return sq_error_set (err, SQ_ERR_INVALID, "actor.scope",
                             "actor.scope must be a division code");
    return 0;
}

//  Hash of cmd and the re-encoded args: a reused idem key with other content is a conflict.
static void
s_digest (s_item_t *item)
{
    msgpack_sbuffer buf;
    msgpack_sbuffer_init (&buf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &buf, msgpack_sbuffer_write);
    sq_pack_str (&pk, item->cmd);
    if (item->args)
        msgpack_pack_object (&pk, *item->args);
    uint8_t hash[32];
    crypto_generichash (hash, sizeof hash, (const uint8_t *) buf.data, buf.size, NULL, 0);
    sodium_bin2hex (item->digest, sizeof item->digest, hash, sizeof hash);
    msgpack_sbuffer_destroy (&buf);
}

static int
s_decode (sq_service_t *self, s_item_t *item, sq_error_t *err)
{
    char why[128];
    item->doc = sq_doc_new (item->request.body, item->request.body_size, why, sizeof why);
    if (!item->doc)
        return sq_error_set (err, SQ_ERR_INVALID, "", "could not decode request: %s", why);
    const msgpack_object *root = sq_doc_root (item->doc);
    if (root->type != MSGPACK_OBJECT_MAP)
        return sq_error_set (err, SQ_ERR_INVALID, "", "request must be a map");
    if (sq_arg_str (root, "cmd", true, SQ_CMD_MAX - 1, item->cmd_text, sizeof item->cmd_text,
                    err) < 0
        || sq_arg_str (root, "idem", false, SQ_IDEM_MAX, item->idem, sizeof item->idem, err) < 0
        || sq_arg_str (root, "corr", false, SQ_TEXT_ID_MAX - 1, item->corr, sizeof item->corr,
                       err) < 0)
        return -1;
    item->cmd = item->cmd_text;
    item->args = sq_obj_get (root, "args");
    if (item->args && item->args->type == MSGPACK_OBJECT_NIL)
        item->args = NULL;
    if (item->args && item->args->type != MSGPACK_OBJECT_MAP)
        return sq_error_set (err, SQ_ERR_INVALID, "args", "args must be a map");
    if (s_decode_actor (root, &item->actor, err))
        return -1;
    if (strcmp (item->cmd, "health") && strcmp (item->cmd, "events.since")) {
        for (const sq_command_t *c = self->config.commands; c->name; c++)
            if (strcmp (c->name, item->cmd) == 0)
                item->fn = c->fn;
        if (!item->fn)
            return sq_error_set (err, SQ_ERR_INVALID, "cmd", "unknown command %s for service %s",
                                 item->cmd, self->name);
        for (const sq_group_t *g = self->config.groups; g && g->name; g++)
            if (strcmp (g->name, item->cmd) == 0)
                item->group = g->fn;
    }
    if (item->idem[0])
        s_digest (item); //  only a remembered reply needs it
    return 0;
}

// ---- built-in commands ------------------------------------------------------------------

static int
s_health (sq_ctx_t *ctx)
{
    sq_service_t *self = ctx->service;
    int64_t last = sq_outbox_last_seq (ctx->db, self->schema, self->name, &ctx->err);
    if (last < 0)
        return -1;
    char host[64] = "";
    gethostname (host, sizeof host - 1);
    char replica[96];
    snprintf (replica, sizeof replica, "%s:%d", host, (int) getpid ());
    msgpack_sbuffer extra;
    msgpack_sbuffer_init (&extra);
    msgpack_packer extra_pk;
    msgpack_packer_init (&extra_pk, &extra, msgpack_sbuffer_write);
    int fields = 0;
    if (self->config.health)
        self->config.health (self->config.state, &extra_pk, &fields);
    msgpack_pack_map (ctx->pk, (size_t) (9 + fields));
    sq_pack_kv_str (ctx->pk, "service", self->name);
    sq_pack_kv_str (ctx->pk, "status", "ok");
    sq_pack_kv_str (ctx->pk, "replica", replica);
    sq_pack_kv_int (ctx->pk, "uptime_ms", sq_clock_ms () - self->started_ms);
    sq_pack_kv_uint (ctx->pk, "handled", atomic_load (&self->handled));
    //  Commands per commit shows how well concurrent commands share their commits.
    sq_pack_kv_uint (ctx->pk, "commits", atomic_load (&self->batches));
    sq_pack_kv_int (ctx->pk, "concurrency", self->concurrency);
    sq_pack_kv_str (ctx->pk, "redis", sq_cache_ping (ctx->cache) ? "up" : "down");
    sq_pack_str (ctx->pk, "stream");
    msgpack_pack_map (ctx->pk, 4);
    sq_pack_kv_str (ctx->pk, "name", self->name);
    sq_pack_kv_int (ctx->pk, "last_seq", last);
    sq_pack_kv_bool (ctx->pk, "relay_active_here", sq_relay_active (self->relay));
    sq_pack_kv_uint (ctx->pk, "published_here", sq_relay_published (self->relay));
    if (extra.size)
        ctx->pk->callback (ctx->pk->data, extra.data, extra.size);
    msgpack_sbuffer_destroy (&extra);
    return 0;
}

static int
s_events_since (sq_ctx_t *ctx)
{
    int64_t after = 0, limit = SQ_SINCE_LIMIT_MAX;
    if (sq_arg_int (ctx->args, "after", true, 0, INT64_MAX, &after, &ctx->err) < 0
        || sq_arg_int (ctx->args, "limit", false, 1, SQ_SINCE_LIMIT_MAX, &limit, &ctx->err) < 0)
        return -1;
    return sq_outbox_since (ctx->db, ctx->service->schema, ctx->service->name,
                            (uint64_t) after, (uint32_t) limit, ctx->pk, &ctx->err);
}

// ---- one batch: one transaction, a savepoint per command --------------------------------

static void
s_reply_error (s_item_t *item, const sq_error_t *err)
{
    msgpack_sbuffer_clear (&item->reply);
    sq_reply_pack_error (&item->reply, err);
}

//  Looks the idem key up. Returns 1 when the stored reply was taken (or a conflict set),
//  0 when the key is new, -1 on a database error.
static int
s_idem_lookup (sq_db_t *db, const char *schema, s_item_t *item, sq_error_t *err)
{
    char sql[256];
    snprintf (sql, sizeof sql, "SELECT digest, reply FROM %s.idem WHERE key = $1", schema);
    const char *params[] = {item->idem};
    PGresult *res = sq_db_query (db, sql, 1, params, err);
    if (!res)
        return -1;
    int found = PQntuples (res) == 1;
    if (found && strcmp (PQgetvalue (res, 0, 0), item->digest) != 0) {
        sq_error_t conflict;
        sq_error_set (&conflict, SQ_ERR_CONFLICT, "idem",
                      "idem key %s was first used for a different request", item->idem);
        s_reply_error (item, &conflict);
    } else if (found) {
        size_t size = 0;
        unsigned char *reply = PQunescapeBytea ((unsigned char *) PQgetvalue (res, 0, 1), &size);
        msgpack_sbuffer_clear (&item->reply);
        if (reply)
            msgpack_sbuffer_write (&item->reply, (const char *) reply, size);
        PQfreemem (reply);
    }
    PQclear (res);
    return found;
}

static int
s_idem_store (sq_db_t *db, const char *schema, const s_item_t *item, sq_error_t *err)
{
    char sql[256];
    snprintf (sql, sizeof sql, "INSERT INTO %s.idem (key, cmd, digest, reply, at)"
              " VALUES ($1, $2, $3, $4, $5::bigint)", schema);
    char at[24];
    snprintf (at, sizeof at, "%" PRId64, sq_now_us ());
    const char *params[] = {item->idem, item->cmd, item->digest, item->reply.data, at};
    int lengths[] = {0, 0, 0, (int) item->reply.size, 0};
    int formats[] = {0, 0, 0, 1, 0};
    PGresult *res = sq_db_query_bin (db, sql, 5, params, lengths, formats, err);
    PQclear (res);
    return res ? 0 : -1;
}

//  Undoes what the command did: back to its savepoint, or (alone in its transaction) the
//  whole transaction, reopened for what follows. Returns 0 or -1 when the connection fails.
static int
s_undo (sq_db_t *db, bool savepoint, sq_error_t *err)
{
    if (savepoint)
        return sq_db_exec (db, "ROLLBACK TO SAVEPOINT command", 0, NULL, err);
    sq_db_rollback (db);
    return sq_db_defer (db, "BEGIN", 0, NULL, NULL, NULL, err);
}

//  The context item's handler runs in: the batch's connection, cache and events, a fresh
//  request id in request_id, and pk for its result.
static sq_ctx_t
s_item_ctx (sq_service_t *self, sq_db_t *db, sq_cache_t *cache, sq_outbox_many_t *outbox,
            s_item_t *item, char request_id[SQ_ID_SIZE], msgpack_packer *pk)
{
    sq_id_new (request_id);
    return (sq_ctx_t) {.service = self, .db = db, .cache = cache, .cmd = item->cmd,
                       .args = item->args, .actor = &item->actor, .corr = item->corr,
                       .request_id = request_id, .pk = pk, .state = self->config.state,
                       .outbox = outbox};
}

//  Runs one command, under a savepoint when it shares its transaction with others (a
//  command alone spares the two round trips). Returns the number of events it emitted,
//  or -1 when the transaction itself is lost (the whole batch then fails).
static int
s_run_one (sq_service_t *self, sq_db_t *db, sq_cache_t *cache, sq_outbox_many_t *outbox,
           s_item_t *item, bool savepoint)
{
    sq_error_t err = {0};
    //  Deferred: the savepoint rides along with the command's first statement.
    if (savepoint && sq_db_defer (db, "SAVEPOINT command", 0, NULL, NULL, NULL, &err))
        return -1;
    int found = item->idem[0] ? s_idem_lookup (db, self->schema, item, &err) : 0;
    if (found)
        return found < 0 || (savepoint && sq_db_defer (db, "RELEASE SAVEPOINT command", 0, NULL,
                                                       NULL, NULL, &err)) ? -1 : 0;
    char request_id[SQ_ID_SIZE];
    msgpack_sbuffer result;
    msgpack_sbuffer_init (&result);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &result, msgpack_sbuffer_write);
    sq_ctx_t ctx = s_item_ctx (self, db, cache, outbox, item, request_id, &pk);
    //  What it emits goes with what it wrote when it is undone.
    sq_ctx_mark_t start = sq_ctx_mark (&ctx);
    sq_handler_fn *fn = item->fn ? item->fn
                                 : strcmp (item->cmd, "health") == 0 ? s_health : s_events_since;
    int rc = fn (&ctx);
    if (rc == 0)
        sq_reply_pack_ok (&item->reply, result.data, result.size);
    msgpack_sbuffer_destroy (&result);
    if (rc) {
        if (!ctx.err.code)
            sq_error_set (&ctx.err, SQ_ERR_INTERNAL, "", "%s failed without saying why", item->cmd);
        s_reply_error (item, &ctx.err);
        sq_ctx_rewind (&ctx, &start);
        if (s_undo (db, savepoint, &err))
            return -1;
    }
    //  Retryable failures are not remembered: the retry must be able to succeed.
    bool remember = item->idem[0] && (rc == 0 || (strcmp (ctx.err.code, SQ_ERR_UNAVAILABLE)
                                                  && strcmp (ctx.err.code, SQ_ERR_INTERNAL)));
    if (remember && s_idem_store (db, self->schema, item, &err)) {
        if (s_undo (db, savepoint, &err))
            return -1;
        sq_error_set (&err, SQ_ERR_UNAVAILABLE, "idem",
                      "a request with idem key %s is in progress; retry", item->idem);
        s_reply_error (item, &err);
        sq_ctx_rewind (&ctx, &start);
    }
    if (savepoint && sq_db_defer (db, "RELEASE SAVEPOINT command", 0, NULL, NULL, NULL, &err))
        return -1;
    return ctx.events;
}

//  The worker sockets of the thread running a batch: all of them must keep sending
//  heartbeats while it runs, not only those whose requests it holds, because the broker
//  goes on handing requests to the others meanwhile (test_service lost one that way).
typedef struct {
    sq_mdp_worker_t **workers;
    int count;
} s_sockets_t;

//  Tells the broker that the thread's workers are alive: a batch of long commands (a
//  ledger batch of 8,000 is half a second; a group commit may hold dozens) can outlast the
//  broker's liveness, which would then answer its clients `unavailable` while their
//  commands commit.
static void
s_keepalive (const s_sockets_t *sockets)
{
    for (int i = 0; i < sockets->count; i++)
        sq_mdp_worker_keepalive (sockets->workers[i]);
}

//  Runs together the undecided items of the batch that share a group handler and carry no
//  idem key (a remembered reply needs a savepoint per command), when there are at least two.
//  Returns the events they emitted, or -1 when the transaction is lost.
static int
s_run_groups (sq_service_t *self, sq_db_t *db, sq_cache_t *cache, sq_outbox_many_t *outbox,
              s_item_t *items, int count)
{
    int events = 0;
    for (int first = 0; first < count; first++) {
        s_item_t *lead = &items[first];
        if (lead->answered || lead->grouped || !lead->group || lead->idem[0])
            continue;
        int *members = calloc ((size_t) count, sizeof *members), n = 0;
        assert (members);
        for (int i = first; i < count; i++)
            if (!items[i].answered && !items[i].idem[0] && items[i].group == lead->group)
                members[n++] = i;
        if (n < 2) {
            free (members);
            continue;
        }
        sq_ctx_t *ctxs = calloc ((size_t) n, sizeof *ctxs);
        msgpack_sbuffer *results = calloc ((size_t) n, sizeof *results);
        msgpack_packer *pks = calloc ((size_t) n, sizeof *pks);
        char (*request_ids)[SQ_ID_SIZE] = calloc ((size_t) n, sizeof *request_ids);
        assert (ctxs && results && pks && request_ids);
        for (int k = 0; k < n; k++) {
            msgpack_sbuffer_init (&results[k]);
            msgpack_packer_init (&pks[k], &results[k], msgpack_sbuffer_write);
            ctxs[k] = s_item_ctx (self, db, cache, outbox, &items[members[k]], request_ids[k],
                                  &pks[k]);
        }
        int rc = lead->group (ctxs, n);
        for (int k = 0; k < n; k++) {
            s_item_t *item = &items[members[k]];
            item->grouped = true;
            if (rc == 0 && ctxs[k].err.code)
                s_reply_error (item, &ctxs[k].err);
            else if (rc == 0)
                sq_reply_pack_ok (&item->reply, results[k].data, results[k].size);
            events += ctxs[k].events;
            msgpack_sbuffer_destroy (&results[k]);
        }
        if (rc)
            sq_log_warn ("group of commands failed", "cmd=%s commands=%d error=\"%s\"",
                         lead->cmd, n, ctxs[0].err.message);
        free (ctxs);
        free (results);
        free (pks);
        free (request_ids);
        free (members);
        if (rc)
            return -1;
    }
    return events;
}

//  Runs every undecided item of the batch in one transaction and commits once.
static void
s_run_batch (sq_service_t *self, sq_db_t **db_p, sq_cache_t *cache, const s_sockets_t *sockets,
             s_item_t *items, int count)
{
    sq_error_t err = {0};
    int events = 0;
    int undecided = 0;
    for (int i = 0; i < count; i++)
        undecided += !items[i].answered;
    if (undecided == 0)
        return;
    //  BEGIN, savepoints, releases, outbox rows and NOTIFY are deferred: each is sent with
    //  the next statement that needs an answer, so a command costs the round trips of its
    //  own queries and the batch one more for COMMIT (sq_db_defer).
    int rc = (*db_p && sq_db_alive (*db_p))
                 ? sq_db_defer (*db_p, "BEGIN", 0, NULL, NULL, NULL, &err) : -1;
    sq_outbox_many_t outbox; //  the batch's events, written just before its COMMIT
    sq_outbox_many_init (&outbox);
    int grouped = rc == 0 ? s_run_groups (self, *db_p, cache, &outbox, items, count) : 0;
    if (grouped < 0)
        rc = -1;
    else
        events += grouped;
    for (int i = 0; i < count && rc == 0; i++) {
        if (items[i].answered || items[i].grouped)
            continue;
        s_keepalive (sockets);
        int emitted = s_run_one (self, *db_p, cache, &outbox, &items[i], undecided > 1);
        if (emitted < 0)
            rc = -1;
        else
            events += emitted;
    }
    s_keepalive (sockets);
    if (rc == 0)
        rc = sq_outbox_flush (*db_p, self->schema, self->name, &outbox, &err);
    sq_outbox_many_destroy (&outbox);
    if (rc == 0)
        rc = sq_db_commit (*db_p, &err);
    if (rc == 0) {
        atomic_fetch_add (&self->batches, 1);
        return;
    }
    if (*db_p)
        sq_db_rollback (*db_p);
    sq_log_warn ("batch failed, nothing of it was kept", "commands=%d error=\"%s\"", count,
                 err.message);
    sq_error_set (&err, SQ_ERR_UNAVAILABLE, "", "the database did not accept the change;"
                  " nothing was kept, retry");
    for (int i = 0; i < count; i++)
        if (!items[i].answered)
            s_reply_error (&items[i], &err);
}

// ---- worker thread ----------------------------------------------------------------------

//  Holds a worker thread's resources; everything is created and used on that thread.
typedef struct {
    sq_service_t *service;     //  the service it works for
    int sockets;               //  worker sockets of this thread
    sq_mdp_worker_t **workers; //  its sockets
    zmq_pollitem_t *poll;      //  one entry per worker
    s_item_t *items;           //  the batch being collected
    sq_db_t *db;               //  the thread's connection (NULL while PostgreSQL is away)
    sq_cache_t *cache;         //  Redis cache
    int last_batch;            //  requests in the previous batch
    bool sweeper;              //  this thread runs the service's sweeps
} s_thread_t;

static void
s_item_reset (s_item_t *item)
{
    sq_mdp_request_clear (&item->request);
    sq_doc_destroy (&item->doc);
    msgpack_sbuffer_destroy (&item->reply);
    memset (item, 0, sizeof *item);
}

//  Takes whatever requests are waiting on the sockets, after the count already taken.
//  Returns the new count.
static int
s_collect (sq_service_t *self, s_thread_t *t, int timeout_ms, int count)
{
    int n = t->sockets;
    if (zmq_poll (t->poll, n, timeout_ms) <= 0)
        return count;
    for (int i = 0; i < n && count < n; i++) {
        if (!(t->poll[i].revents & ZMQ_POLLIN))
            continue;
        while (count < n) {
            s_item_t *item = &t->items[count];
            memset (item, 0, sizeof *item);
            msgpack_sbuffer_init (&item->reply);
            int rc = sq_mdp_worker_read (t->workers[i], &item->request);
            if (rc != 1) {
                msgpack_sbuffer_destroy (&item->reply);
                break;
            }
            item->worker = t->workers[i];
            count++;
        }
    }
    return count;
}

static void
s_handle_batch (sq_service_t *self, s_thread_t *t, int count)
{
    for (int i = 0; i < count; i++) {
        sq_error_t err = {0};
        if (s_decode (self, &t->items[i], &err)) {
            s_reply_error (&t->items[i], &err);
            t->items[i].answered = true;
        }
    }
    if (!t->db) {
        char why[256];
        t->db = sq_db_new (self->conninfo, why, sizeof why);
        if (!t->db)
            sq_log_warn ("database unavailable", "error=\"%s\"", why);
    }
    s_sockets_t sockets = {t->workers, t->sockets};
    s_run_batch (self, &t->db, t->cache, &sockets, t->items, count);
    for (int i = 0; i < count; i++) {
        s_item_t *item = &t->items[i];
        sq_mdp_worker_reply (item->worker, &item->request, item->reply.data, item->reply.size);
        s_item_reset (item);
    }
    atomic_fetch_add (&self->handled, (uint64_t) count);
}

//  Runs every sweep of the service, each in its own transaction.
static void
s_sweep (sq_service_t *self, sq_db_t *db, sq_cache_t *cache)
{
    sq_actor_t actor = {.role = "operator"};
    snprintf (actor.id, sizeof actor.id, "%s-sweep", self->name);
    for (const sq_command_t *sweep = self->config.sweeps; sweep && sweep->name; sweep++) {
        char request_id[SQ_ID_SIZE];
        sq_id_new (request_id);
        msgpack_sbuffer discard;
        msgpack_sbuffer_init (&discard);
        msgpack_packer pk;
        msgpack_packer_init (&pk, &discard, msgpack_sbuffer_write);
        sq_outbox_many_t outbox;
        sq_outbox_many_init (&outbox);
        sq_ctx_t ctx = {.service = self, .db = db, .cache = cache, .cmd = sweep->name,
                        .actor = &actor, .corr = "", .request_id = request_id, .pk = &pk,
                        .state = self->config.state, .outbox = &outbox};
        sq_error_t err = {0};
        int rc = sq_db_begin (db, &err) ? -1 : sweep->fn (&ctx);
        if (rc == 0)
            rc = sq_outbox_flush (db, self->schema, self->name, &outbox, &ctx.err);
        sq_outbox_many_destroy (&outbox);
        if (rc == 0)
            rc = sq_db_commit (db, &ctx.err);
        if (rc) {
            sq_db_rollback (db);
            sq_log_warn ("sweep failed, tried again next time", "service=%s sweep=%s error=\"%s\"",
                         self->name, sweep->name, ctx.err.code ? ctx.err.message : err.message);
        }
        msgpack_sbuffer_destroy (&discard);
    }
}

static void *
s_worker_thread (void *arg)
{
    s_thread_t t = *(s_thread_t *) arg;
    free (arg);
    sq_service_t *self = t.service;
    int n = t.sockets;
    t.workers = calloc ((size_t) n, sizeof *t.workers);
    t.poll = calloc ((size_t) n, sizeof *t.poll);
    t.items = calloc ((size_t) n, sizeof *t.items);
    t.cache = sq_cache_new (self->config.redis);
    assert (t.workers && t.poll && t.items);
    for (int i = 0; i < n; i++) {
        t.workers[i] = sq_mdp_worker_new (self->commands_endpoint, self->name);
        assert (t.workers[i]);
        t.poll[i] = (zmq_pollitem_t) {sq_mdp_worker_socket (t.workers[i]), 0, ZMQ_POLLIN, 0};
    }
    int tick_ms = sq_mdp_heartbeat_ms () / 2;
    int64_t next_tick = 0;
    int64_t sweep_ms = sq_config_int ("SHEQU_SWEEP_MS", SQ_SWEEP_MS_DEFAULT, 10, 86400000);
    int64_t next_sweep = sq_clock_ms () + sweep_ms;
    while (!atomic_load (&self->stop)) {
        int count = s_collect (self, &t, tick_ms > 100 ? 100 : tick_ms, 0);
        //  Concurrent clients send their next requests while the last batch's replies are
        //  still arriving: when the last batch was larger, wait a moment for the rest so
        //  they share this batch's commit. A lone client never waits.
        if (count && count < t.last_batch)
            count = s_collect (self, &t, SQ_BATCH_WAIT_MS, count);
        //  Ticked right after reading, not after a long batch: the broker's heartbeats that
        //  came during the batch are read by the next collect, so a tick just after the batch
        //  would take the broker for silent and reconnect.
        if (sq_clock_ms () >= next_tick) {
            for (int i = 0; i < n; i++)
                sq_mdp_worker_tick (t.workers[i]);
            next_tick = sq_clock_ms () + tick_ms;
        }
        if (count)
            s_handle_batch (self, &t, count);
        if (count)
            t.last_batch = count;
        if (t.sweeper && sq_clock_ms () >= next_sweep) {
            if (!t.db) {
                char why[256];
                t.db = sq_db_new (self->conninfo, why, sizeof why);
            }
            if (t.db && sq_db_alive (t.db))
                s_sweep (self, t.db, t.cache);
            next_sweep = sq_clock_ms () + sweep_ms;
        }
    }
    for (int i = 0; i < n; i++)
        sq_mdp_worker_destroy (&t.workers[i]);
    sq_mdp_client_destroy (&s_client);
    sq_db_destroy (&t.db);
    sq_cache_destroy (&t.cache);
    free (t.workers);
    free (t.poll);
    free (t.items);
    return NULL;
}

// ---- consumer thread: applying other services' events --------------------------------------

//  The consumer thread's state; it lives and dies on that thread.
typedef struct {
    sq_db_t *db;       //  its own connection: holds the consumer lock
    sq_cache_t *cache; //  for handlers that read through the cache
    sq_sub_t *sub;     //  tracked streams, from the inbox's last seq
    bool active;       //  holds the lock
} s_consumer_t;

//  Runs fn on event in one transaction with its inbox claim. Returns 0 when the event is
//  done with (applied, applied before, or skipped for good), -1 when it must be retried.
static int
s_consume_one (sq_service_t *self, s_consumer_t *c, const sq_consumer_t *consumer,
               const sq_event_t *event)
{
    sq_error_t err = {0};
    if (sq_db_begin (c->db, &err))
        return -1;
    int claim = sq_inbox_claim (c->db, self->schema, &event->env, &err);
    if (claim <= 0) {
        sq_db_rollback (c->db);
        return claim; //  0: applied before, nothing to do; -1: retry
    }
    sq_actor_t actor = {.role = "operator"};
    snprintf (actor.id, sizeof actor.id, "%s", event->env.actor);
    msgpack_sbuffer discard;
    msgpack_sbuffer_init (&discard);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &discard, msgpack_sbuffer_write);
    sq_outbox_many_t outbox;
    sq_outbox_many_init (&outbox);
    sq_ctx_t ctx = {.service = self, .db = c->db, .cache = c->cache, .cmd = event->env.type,
                    .args = event->env.data, .actor = &actor, .corr = event->env.corr,
                    .request_id = event->env.id, .pk = &pk, .state = self->config.state,
                    .outbox = &outbox};
    int rc = consumer->fn (&ctx, event);
    msgpack_sbuffer_destroy (&discard);
    if (rc == 0 && sq_outbox_flush (c->db, self->schema, self->name, &outbox, &err))
        rc = -1, ctx.err = err;
    sq_outbox_many_destroy (&outbox);
    if (rc == 0 && sq_db_commit (c->db, &err) == 0)
        return 0;
    sq_db_rollback (c->db);
    const char *code = rc ? (ctx.err.code ? ctx.err.code : SQ_ERR_INTERNAL) : err.code;
    if (!code || !strcmp (code, SQ_ERR_UNAVAILABLE) || !strcmp (code, SQ_ERR_INTERNAL))
        return -1;
    //  A permanent refusal: record the claim alone so the stream moves on.
    sq_log_warn ("event skipped", "service=%s src=%s seq=%" PRIu64 " type=%s error=\"%s\"",
                 self->name, event->env.src, event->env.seq, event->env.type, ctx.err.message);
    if (sq_db_begin (c->db, &err) || sq_inbox_claim (c->db, self->schema, &event->env, &err) < 0
        || sq_db_commit (c->db, &err)) {
        sq_db_rollback (c->db);
        return -1;
    }
    return 0;
}

//  Becomes the service's consumer when no other replica is, and subscribes from the
//  inbox's last seq of every consumed stream. Returns true when active.
static bool
s_consumer_activate (sq_service_t *self, s_consumer_t *c)
{
    char why[256];
    if (!c->db && !(c->db = sq_db_new (self->conninfo, why, sizeof why)))
        return false;
    sq_error_t err;
    char key[128];
    snprintf (key, sizeof key, "shequ.consume.%s", self->schema);
    const char *params[] = {key};
    PGresult *res = sq_db_query (c->db, "SELECT pg_try_advisory_lock (hashtext ($1))", 1,
                                 params, &err);
    bool held = res && strcmp (PQgetvalue (res, 0, 0), "t") == 0;
    PQclear (res);
    if (!res)
        sq_db_destroy (&c->db);
    if (!held)
        return false;
    c->sub = sq_sub_new (self->config.events_out, self->commands_endpoint);
    for (const sq_consumer_t *k = self->config.consumers; c->sub && k->src; k++) {
        sq_sub_subscribe (c->sub, k->prefix ? k->prefix : "");
        bool tracked = false; //  by an earlier consumer of the same stream
        for (const sq_consumer_t *j = self->config.consumers; j < k; j++)
            tracked |= strcmp (j->src, k->src) == 0;
        if (!tracked) {
            int64_t last = sq_inbox_last_seq (c->db, self->schema, k->src, &err);
            sq_sub_track (c->sub, k->src, last > 0 ? (uint64_t) last : 0);
        }
    }
    sq_log_info ("consumer active", "service=%s", self->name);
    c->active = c->sub != NULL;
    atomic_store (&self->consumer_active, c->active);
    return c->active;
}

//  Applies event with every consumer whose stream and prefix it matches, retrying with a
//  growing pause while the failure is passing (the stream waits: order is kept).
static void
s_consume (sq_service_t *self, s_consumer_t *c, const sq_event_t *event)
{
    for (const sq_consumer_t *k = self->config.consumers; k->src; k++) {
        if (strcmp (k->src, event->env.src) || strncmp (event->topic, k->prefix ? k->prefix : "",
                                                        strlen (k->prefix ? k->prefix : "")))
            continue;
        int pause_ms = 10;
        while (!atomic_load (&self->stop) && s_consume_one (self, c, k, event)) {
            sq_log_warn ("event not applied, retrying", "service=%s src=%s seq=%" PRIu64
                         " pause_ms=%d", self->name, event->env.src, event->env.seq, pause_ms);
            struct timespec pause = {pause_ms / 1000, (pause_ms % 1000) * 1000000L};
            nanosleep (&pause, NULL);
            pause_ms = pause_ms * 2 > SQ_CONSUMER_RETRY_MS_MAX ? SQ_CONSUMER_RETRY_MS_MAX
                                                               : pause_ms * 2;
            //  A lost connection lost the lock with it: start over from the inbox.
            if (PQstatus (sq_db_conn (c->db)) != CONNECTION_OK) {
                sq_log_warn ("consumer lost its database connection", "service=%s", self->name);
                sq_sub_destroy (&c->sub);
                sq_db_destroy (&c->db);
                c->active = false;
                atomic_store (&self->consumer_active, false);
                return;
            }
        }
    }
}

static void *
s_consumer_thread (void *arg)
{
    sq_service_t *self = arg;
    s_consumer_t c = {.cache = sq_cache_new (self->config.redis)};
    while (!atomic_load (&self->stop)) {
        if (!c.active && !s_consumer_activate (self, &c)) {
            struct timespec pause = {0, SQ_CONSUMER_STANDBY_MS * 1000000L};
            nanosleep (&pause, NULL);
            continue;
        }
        sq_event_t *event = sq_sub_next (c.sub, 200);
        if (event && c.active)
            s_consume (self, &c, event);
        sq_event_destroy (&event);
    }
    sq_sub_destroy (&c.sub);
    sq_db_destroy (&c.db);
    sq_cache_destroy (&c.cache);
    sq_mdp_client_destroy (&s_client);
    return NULL;
}

int
sq_service_start (sq_service_t *self)
{
    self->started_ms = sq_clock_ms ();
    char why[256];
    sq_db_t *db = sq_db_new (self->conninfo, why, sizeof why);
    if (!db) {
        sq_log_error ("could not start", "service=%s error=\"%s\"", self->name, why);
        return -1;
    }
    sq_error_t err = {0};
    int applied = sq_migrate_run (db, self->schema, self->name, &err);
    if (applied >= 0 && sq_outbox_prepare (db, self->schema, self->name, &err))
        applied = -1;
    sq_db_destroy (&db);
    if (applied < 0) {
        sq_log_error ("could not start: migrations failed", "service=%s error=\"%s\"",
                      self->name, err.message);
        return -1;
    }
    self->relay = sq_relay_new (self->conninfo, self->schema, self->name, self->events_in);
    if (sq_relay_start (self->relay))
        return -1;
    //  Several threads, each with its own PostgreSQL connection, let one batch run while
    //  another waits for its commit; the sockets are shared out between them.
    for (int i = 0; i < self->thread_count; i++) {
        s_thread_t *t = calloc (1, sizeof *t);
        assert (t);
        t->service = self;
        t->sockets = self->concurrency / self->thread_count
                     + (i < self->concurrency % self->thread_count ? 1 : 0);
        t->sweeper = i == 0 && self->config.sweeps && self->config.sweeps[0].name;
        if (pthread_create (&self->threads[i], NULL, s_worker_thread, t)) {
            free (t);
            return -1;
        }
        self->started++;
    }
    if (self->config.consumers && self->config.consumers[0].src) {
        if (pthread_create (&self->consumer, NULL, s_consumer_thread, self))
            return -1;
        self->consuming = true;
    }
    sq_log_info ("service started", "service=%s schema=%s commands=%s events_in=%s"
                 " concurrency=%d threads=%d migrations_applied=%d", self->name, self->schema,
                 self->commands_endpoint, self->events_in, self->concurrency,
                 self->thread_count, applied);
    return 0;
}

void
sq_service_destroy (sq_service_t **self_p)
{
    assert (self_p);
    sq_service_t *self = *self_p;
    if (!self)
        return;
    atomic_store (&self->stop, true);
    for (int i = 0; i < self->started; i++)
        pthread_join (self->threads[i], NULL);
    if (self->consuming)
        pthread_join (self->consumer, NULL);
    sq_relay_destroy (&self->relay);
    sq_log_info ("service stopped", "service=%s handled=%" PRIu64, self->name,
                 (uint64_t) atomic_load (&self->handled));
    free (self);
    *self_p = NULL;
}

int
sq_service_main (const sq_service_config_t *config)
{
    sq_log_init (config->name, -1);
    if (sodium_init () < 0)
        return 1;
    //  A peer that closes a socket must cost an error, not the process: hiredis writes
    //  with write(2), which raises SIGPIPE on a connection Redis has reset (our own
    //  sockets send with MSG_NOSIGNAL).
    signal (SIGPIPE, SIG_IGN);
    //  Keep freed memory for the next batch instead of giving it back: by default glibc
    //  maps every block over 128 KB afresh and unmaps it on free, so a ledger batch of
    //  8,000 transfers took a page fault on every page of its buffers, every time (a
    //  quarter of the process's time in bench_ledger).
    mallopt (M_MMAP_THRESHOLD, SQ_MALLOC_MMAP_THRESHOLD);
    mallopt (M_TRIM_THRESHOLD, SQ_MALLOC_TRIM_THRESHOLD);
    //  Block the stop signals in every thread; main takes them with sigwait.
    sigset_t signals;
    sigemptyset (&signals);
    sigaddset (&signals, SIGTERM);
    sigaddset (&signals, SIGINT);
    pthread_sigmask (SIG_BLOCK, &signals, NULL);
    sq_service_t *service = sq_service_new (config);
    if (sq_service_start (service)) {
        sq_service_destroy (&service);
        return 1;
    }
    int signal_number = 0;
    sigwait (&signals, &signal_number);
    sq_log_info ("stopping", "signal=%d", signal_number);
    sq_service_destroy (&service);
    return 0;
}
