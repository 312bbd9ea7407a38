/*  sq_outbox: the transactional outbox and its relay. */
#include "sq_outbox.h"
#include "sq_config.h"
#include "sq_log.h"
#include "sq_mdp.h"
#include "sq_util.h"

#include <assert.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#define SQ_SQL_MAX 1024 //  longest statement built with a schema name

//  Columns the relay and events.since read, in this order.
#define S_EVENT_COLUMNS "event_id, seq, type, div, at, actor, corr, cause, data"
#define S_EVENT_COLUMNS_O "event_id, o.seq, o.type, o.div, o.at, o.actor, o.corr, o.cause, o.data"

int
sq_outbox_append (sq_db_t *db, const char *schema, const sq_envelope_t *env,
                  const void *data, size_t data_size, sq_error_t *err)
{
    char sql[SQ_SQL_MAX];
    snprintf (sql, sizeof sql, "INSERT INTO %s.outbox (event_id, type, div, at, actor, corr,"
              " cause, data) VALUES ($1, $2, $3, $4::bigint, $5, $6, $7, $8)", schema);
    char at[24];
    snprintf (at, sizeof at, "%" PRId64, env->at);
    const char *params[] = {env->id, env->type, env->div, at, env->actor, env->corr,
                            env->cause, data};
    int lengths[] = {0, 0, 0, 0, 0, 0, 0, (int) data_size};
    int formats[] = {0, 0, 0, 0, 0, 0, 0, 1};
    return sq_db_defer (db, sql, 8, params, lengths, formats, err);
}

void
sq_outbox_many_init (sq_outbox_many_t *self)
{
    memset (self, 0, sizeof *self);
    msgpack_sbuffer_init (&self->data);
}

void
sq_outbox_many_destroy (sq_outbox_many_t *self)
{
    for (int i = 0; i < SQ_MANY_COLUMNS; i++)
        sq_db_array_destroy (&self->columns[i]);
    msgpack_sbuffer_destroy (&self->data);
    self->count = 0;
}

void
sq_outbox_many_add (sq_outbox_many_t *self, const sq_envelope_t *env, const void *data,
                    size_t size)
{
    sq_db_array_t *c = self->columns;
    sq_db_array_add (&c[SQ_MANY_ID], env->id);
    sq_db_array_add (&c[SQ_MANY_TYPE], env->type);
    sq_db_array_add (&c[SQ_MANY_DIV], env->div);
    sq_db_array_add (&c[SQ_MANY_ACTOR], env->actor);
    sq_db_array_add (&c[SQ_MANY_CORR], env->corr);
    sq_db_array_add (&c[SQ_MANY_CAUSE], env->cause);
    sq_db_array_add_int (&c[SQ_MANY_OFFSET], (int64_t) self->data.size);
    sq_db_array_add_int (&c[SQ_MANY_SIZE], (int64_t) size);
    msgpack_sbuffer_write (&self->data, data, size);
    self->count++;
}

int
sq_outbox_append_many (sq_db_t *db, const char *schema, int64_t at, sq_outbox_many_t *many,
                       sq_error_t *err)
{
    if (many->count == 0)
        return 0;
    //  bytea is at most 1 GB, so offsets fit an int; WITH ORDINALITY and ORDER BY keep the
    //  outbox ids (and so the stream's order) in the order the events were added.
    char sql[SQ_SQL_MAX];
    snprintf (sql, sizeof sql, "INSERT INTO %s.outbox (event_id, type, div, actor, corr, cause,"
              " at, data) SELECT u.id, u.type, u.div, u.actor, u.corr, u.cause, $9::bigint,"
              " substring ($10::bytea FROM u.off + 1 FOR u.size) FROM unnest ($1::text[],"
              " $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::int[],"
              " $8::int[]) WITH ORDINALITY AS u (id, type, div, actor, corr, cause, off, size,"
              " n) ORDER BY u.n", schema);
    char at_text[24];
    snprintf (at_text, sizeof at_text, "%" PRId64, at);
    const char *params[SQ_MANY_COLUMNS + 2];
    for (int i = 0; i < SQ_MANY_COLUMNS; i++)
        params[i] = sq_db_array_text (&many->columns[i]);
    params[SQ_MANY_COLUMNS] = at_text;
    params[SQ_MANY_COLUMNS + 1] = many->data.data ? many->data.data : "";
    int lengths[SQ_MANY_COLUMNS + 2] = {[SQ_MANY_COLUMNS + 1] = (int) many->data.size};
    int formats[SQ_MANY_COLUMNS + 2] = {[SQ_MANY_COLUMNS + 1] = 1};
    return sq_db_defer (db, sql, SQ_MANY_COLUMNS + 2, params, lengths, formats, err);
}

int
sq_outbox_notify (sq_db_t *db, const char *schema, sq_error_t *err)
{
    char channel[128];
    snprintf (channel, sizeof channel, "shequ_outbox_%s", schema);
    const char *params[] = {channel};
    return sq_db_defer (db, "SELECT pg_notify($1, '')", 1, params, NULL, NULL, err);
}

//  Packs one envelope from a row of S_EVENT_COLUMNS; *env gets its fields.
static int
s_pack_row (msgpack_packer *pk, PGresult *res, int row, const char *stream, sq_envelope_t *env)
{
    memset (env, 0, sizeof *env);
    snprintf (env->id, sizeof env->id, "%s", PQgetvalue (res, row, 0));
    snprintf (env->src, sizeof env->src, "%s", stream);
    env->seq = strtoull (PQgetvalue (res, row, 1), NULL, 10);
    snprintf (env->type, sizeof env->type, "%s", PQgetvalue (res, row, 2));
    snprintf (env->div, sizeof env->div, "%s", PQgetvalue (res, row, 3));
    env->at = strtoll (PQgetvalue (res, row, 4), NULL, 10);
    snprintf (env->actor, sizeof env->actor, "%s", PQgetvalue (res, row, 5));
    snprintf (env->corr, sizeof env->corr, "%s", PQgetvalue (res, row, 6));
    snprintf (env->cause, sizeof env->cause, "%s", PQgetvalue (res, row, 7));
    size_t size = 0;
    unsigned char *data = PQunescapeBytea ((const unsigned char *) PQgetvalue (res, row, 8),
                                           &size);
    if (!data)
        return -1;
    sq_envelope_pack (pk, env, data, size);
    PQfreemem (data);
    return 0;
}

int
sq_outbox_since (sq_db_t *db, const char *schema, const char *stream, uint64_t after,
                 uint32_t limit, msgpack_packer *pk, sq_error_t *err)
{
    if (limit == 0 || limit > SQ_SINCE_LIMIT_MAX)
        limit = SQ_SINCE_LIMIT_MAX;
    int64_t last = sq_outbox_last_seq (db, schema, stream, err);
    if (last < 0)
        return -1;
    char sql[SQ_SQL_MAX];
    snprintf (sql, sizeof sql, "SELECT " S_EVENT_COLUMNS " FROM %s.outbox"
              " WHERE seq > $1::bigint ORDER BY seq LIMIT $2::int", schema);
    char after_text[24], limit_text[16];
    snprintf (after_text, sizeof after_text, "%" PRIu64, after);
    snprintf (limit_text, sizeof limit_text, "%" PRIu32, limit);
    const char *params[] = {after_text, limit_text};
    PGresult *res = sq_db_query (db, sql, 2, params, err);
    if (!res)
        return -1;
    int rows = PQntuples (res);
    msgpack_pack_map (pk, 2);
    sq_pack_str (pk, "events");
    msgpack_pack_array (pk, (size_t) rows);
    sq_envelope_t env;
    for (int i = 0; i < rows; i++)
        if (s_pack_row (pk, res, i, stream, &env)) {
            PQclear (res);
            return sq_error_set (err, SQ_ERR_INTERNAL, "", "could not read event data");
        }
    sq_pack_kv_int (pk, "last_seq", last);
    PQclear (res);
    return 0;
}

int64_t
sq_outbox_last_seq (sq_db_t *db, const char *schema, const char *stream, sq_error_t *err)
{
    char sql[SQ_SQL_MAX];
    snprintf (sql, sizeof sql, "SELECT last_seq FROM %s.stream WHERE name = $1", schema);
    const char *params[] = {stream};
    PGresult *res = sq_db_query (db, sql, 1, params, err);
    if (!res)
        return -1;
    int64_t last = PQntuples (res) ? strtoll (PQgetvalue (res, 0, 0), NULL, 10) : 0;
    PQclear (res);
    return last;
}

// ---- relay ------------------------------------------------------------------------------

struct sq_relay {
    char *conninfo;              //  NULL: SHEQU_PG
    char schema[64];             //  service schema holding the outbox
    char stream[SQ_SRC_MAX];     //  stream name (the service name)
    char events_in[256];         //  bus endpoint publishers connect to
    int poll_ms;                 //  idle wait between rounds
    pthread_t thread;            //  runs s_relay_thread
    bool started;                //  thread was created
    atomic_bool stop;            //  asks the thread to end
    atomic_bool active;          //  holds the stream lock
    atomic_uint_fast64_t published; //  events sent since start
    sq_db_t *db;                 //  the relay's own direct connection (holds the lock)
    void *pub;                   //  PUB socket to events_in
    uint64_t sent_upto;          //  highest seq sent, not yet marked published
    char sql_stamp[SQ_SQL_MAX];  //  stamps seq on rows older than every running transaction
    char sql_fetch[SQ_SQL_MAX];  //  stamped rows after the stream's published_seq, in order
    char sql_mark[SQ_SQL_MAX];   //  advances the stream's published_seq
    char sql_waiting[SQ_SQL_MAX]; // are there unstamped rows at all
};

sq_relay_t *
sq_relay_new (const char *conninfo, const char *schema, const char *stream,
              const char *events_in)
{
    sq_relay_t *self = calloc (1, sizeof *self);
    assert (self);
    self->conninfo = conninfo ? strdup (conninfo) : NULL;
    snprintf (self->schema, sizeof self->schema, "%s", schema);
    snprintf (self->stream, sizeof self->stream, "%s", stream);
    snprintf (self->events_in, sizeof self->events_in, "%s", events_in);
    self->poll_ms = (int) sq_config_int ("SHEQU_RELAY_POLL_MS", SQ_RELAY_POLL_MS_DEFAULT, 1,
                                         60000);
    //  NB: row_number over (xid, id) gives seq in the order transactions took their ids;
    //  only rows whose transaction is older than the oldest one still running are taken,
    //  so no transaction can later commit a row that belongs before them.
    //  One statement stamps, advances the stream and returns the stamped rows to publish.
    //  Only this relay writes seq and last_seq (it holds the advisory lock), so reading
    //  last_seq in the same statement is safe.
    snprintf (self->sql_stamp, sizeof self->sql_stamp,
              "WITH pick AS (SELECT id, row_number () OVER (ORDER BY xid, id) AS rn"
              " FROM %s.outbox WHERE seq IS NULL"
              " AND xid < pg_snapshot_xmin (pg_current_snapshot ())"
              " ORDER BY xid, id LIMIT %d),"
              " base AS (SELECT last_seq FROM %s.stream WHERE name = $1),"
              " stamped AS (UPDATE %s.outbox o SET seq = base.last_seq + pick.rn"
              " FROM pick, base WHERE o.id = pick.id RETURNING o." S_EVENT_COLUMNS_O "),"
              " bump AS (UPDATE %s.stream SET last_seq = last_seq + (SELECT count (*) FROM pick)"
              " WHERE name = $1 AND EXISTS (SELECT 1 FROM pick))"
              " SELECT * FROM stamped ORDER BY seq",
              schema, SQ_RELAY_BATCH_MAX, schema, schema, schema);
    //  How far the stream was published is one number in its stream row
    //  (schemas/common/002_published_position.sql), not a flag per outbox row.
    snprintf (self->sql_fetch, sizeof self->sql_fetch,
              "SELECT " S_EVENT_COLUMNS " FROM %s.outbox WHERE seq > (SELECT published_seq"
              " FROM %s.stream WHERE name = $1) ORDER BY seq LIMIT %d", schema, schema,
              SQ_RELAY_BATCH_MAX);
    snprintf (self->sql_mark, sizeof self->sql_mark,
              "UPDATE %s.stream SET published_seq = greatest (published_seq, $2::bigint)"
              " WHERE name = $1", schema);
    snprintf (self->sql_waiting, sizeof self->sql_waiting,
              "SELECT EXISTS (SELECT 1 FROM %s.outbox WHERE seq IS NULL)", schema);
    return self;
}

bool
sq_relay_active (sq_relay_t *self)
{
    return atomic_load (&self->active);
}

uint64_t
sq_relay_published (sq_relay_t *self)
{
    return atomic_load (&self->published);
}

//  Tries to become the stream's relay. Returns 1 when the lock is held, 0 when another
//  relay has it, -1 when the database is unreachable.
static int
s_relay_acquire (sq_relay_t *self)
{
    char why[256];
    if (!self->db) {
        self->db = sq_db_new (self->conninfo, why, sizeof why);
        if (!self->db)
            return -1;
    }
    sq_error_t err;
    char lock_key[160];
    snprintf (lock_key, sizeof lock_key, "shequ.relay.%s.%s", self->schema, self->stream);
    const char *params[] = {lock_key};
    PGresult *res = sq_db_query (self->db,
                                 "SELECT pg_try_advisory_lock (hashtext ($1))", 1, params, &err);
    if (!res) {
        sq_db_destroy (&self->db);
        return -1;
    }
    int held = strcmp (PQgetvalue (res, 0, 0), "t") == 0;
    PQclear (res);
    if (!held)
        return 0;
    char sql[SQ_SQL_MAX];
    snprintf (sql, sizeof sql, "INSERT INTO %s.stream (name) VALUES ($1)"
              " ON CONFLICT DO NOTHING", self->schema);
    const char *stream[] = {self->stream};
    snprintf (why, sizeof why, "LISTEN shequ_outbox_%s", self->schema);
    if (sq_db_exec (self->db, sql, 1, stream, &err)
        || sq_db_exec (self->db, why, 0, NULL, &err)) {
        sq_db_destroy (&self->db);
        return -1;
    }
    return 1;
}

//  Publishes rows of S_EVENT_COLUMNS in their order; remembers the last seq sent.
static void
s_relay_send (sq_relay_t *self, PGresult *res)
{
    for (int i = 0; i < PQntuples (res); i++) {
        msgpack_sbuffer buf;
        msgpack_sbuffer_init (&buf);
        msgpack_packer pk;
        msgpack_packer_init (&pk, &buf, msgpack_sbuffer_write);
        sq_envelope_t env;
        char topic[SQ_TOPIC_MAX];
        //  The topic is "<type>.<div>", or the bare type when div is empty (DESIGN.md).
        if (s_pack_row (&pk, res, i, self->stream, &env) == 0
            && sq_envelope_topic (&env, topic, sizeof topic) == 0) {
            zmq_send (self->pub, topic, strlen (topic), ZMQ_SNDMORE);
            zmq_send (self->pub, buf.data, buf.size, 0);
        } else
            sq_log_error ("event not published, subscribers get it from events.since",
                          "stream=%s seq=%s", self->stream, PQgetvalue (res, i, 1));
        msgpack_sbuffer_destroy (&buf);
        self->sent_upto = strtoull (PQgetvalue (res, i, 1), NULL, 10);
        atomic_fetch_add (&self->published, 1);
    }
}

//  Stamps seq on the rows that are safe to order and commits, in two round trips (BEGIN,
//  the published mark and the stamp go in one pipeline). Returns the stamped rows to
//  publish (the caller clears them), or NULL with err set.
static PGresult *
s_relay_stamp (sq_relay_t *self, sq_error_t *err)
{
    const char *stream[] = {self->stream};
    char upto[24];
    snprintf (upto, sizeof upto, "%" PRIu64, self->sent_upto);
    const char *mark[] = {self->stream, upto};
    //  NB: the stamp needs no flush of its own. A row becomes stampable only when every
    //  transaction that could commit a row ordered before it (by xid, id) has ended, so
    //  the stamped rows are always a prefix of that order and seq is a function of the
    //  committed rows alone. If a crash loses this commit, the next relay stamps the same
    //  rows with the same seq. Not waiting for the WAL flush here spares one fsync per round.
    if (sq_db_defer (self->db, "BEGIN", 0, NULL, NULL, NULL, err)
        || sq_db_defer (self->db, "SET LOCAL synchronous_commit TO off", 0, NULL, NULL, NULL, err)
        || (self->sent_upto && sq_db_defer (self->db, self->sql_mark, 2, mark, NULL, NULL, err)))
        return NULL;
    PGresult *res = sq_db_query (self->db, self->sql_stamp, 1, stream, err);
    if (!res || sq_db_commit (self->db, err)) {
        PQclear (res);
        sq_db_rollback (self->db);
        return NULL;
    }
    self->sent_upto = 0;
    return res;
}

//  Publishes rows stamped but never marked published: a relay that died between the two
//  left them. Run once when this relay takes over. Returns rows sent, or -1.
static int
s_relay_leftovers (sq_relay_t *self, sq_error_t *err)
{
    const char *stream[] = {self->stream};
    PGresult *res = sq_db_query (self->db, self->sql_fetch, 1, stream, err);
    if (!res)
        return -1;
    int rows = PQntuples (res);
    s_relay_send (self, res);
    PQclear (res);
    return rows;
}

//  Waits up to timeout_ms for a NOTIFY on the relay's connection, then drains them.
static void
s_relay_wait (sq_relay_t *self, int timeout_ms)
{
    PGconn *conn = sq_db_conn (self->db);
    struct pollfd fd = {.fd = PQsocket (conn), .events = POLLIN};
    if (fd.fd >= 0 && poll (&fd, 1, timeout_ms) > 0)
        PQconsumeInput (conn);
    PGnotify *note;
    while ((note = PQnotifies (conn)))
        PQfreemem (note);
}

//  One round as the active relay. Returns 0 when it went well, -1 when the connection
//  (and with it the lock) should be dropped.
static int
s_relay_round (sq_relay_t *self)
{
    sq_error_t err;
    PGresult *res = s_relay_stamp (self, &err);
    if (!res) {
        sq_log_warn ("relay lost its database connection", "stream=%s error=\"%s\"",
                     self->stream, err.message);
        return -1;
    }
    int stamped = PQntuples (res);
    s_relay_send (self, res);
    PQclear (res);
    if (stamped > 0)
        return 0; //  more may be waiting: go again at once
    res = sq_db_query (self->db, self->sql_waiting, 0, NULL, &err);
    bool waiting = res && strcmp (PQgetvalue (res, 0, 0), "t") == 0;
    PQclear (res);
    s_relay_wait (self, waiting ? SQ_RELAY_BUSY_POLL_MS : self->poll_ms);
    return 0;
}

static void *
s_relay_thread (void *arg)
{
    sq_relay_t *self = arg;
    while (!atomic_load (&self->stop)) {
        if (!atomic_load (&self->active)) {
            int held = s_relay_acquire (self);
            sq_error_t err;
            if (held == 1 && s_relay_leftovers (self, &err) < 0)
                held = -1, sq_db_destroy (&self->db);
            if (held == 1) {
                atomic_store (&self->active, true);
                sq_log_info ("relay active", "stream=%s schema=%s", self->stream, self->schema);
                continue;
            }
            if (held == 0)
                s_relay_wait (self, SQ_RELAY_STANDBY_MS);
            else {
                struct timespec pause = {0, SQ_RELAY_STANDBY_MS * 1000000L};
                nanosleep (&pause, NULL);
            }
            continue;
        }
        if (s_relay_round (self)) {
            atomic_store (&self->active, false);
            sq_db_destroy (&self->db);
        }
    }
    return NULL;
}

int
sq_relay_start (sq_relay_t *self)
{
    self->pub = zmq_socket (sq_zmq_context (), ZMQ_PUB);
    if (!self->pub || sq_zmq_socket_setup (self->pub)
        || zmq_connect (self->pub, self->events_in)) {
        sq_log_error ("relay could not connect to the bus", "endpoint=%s error=\"%s\"",
                      self->events_in, zmq_strerror (zmq_errno ()));
        return -1;
    }
    int hwm = (int) sq_config_int ("SHEQU_EVENTS_HWM", 100000, 1000, 10000000);
    zmq_setsockopt (self->pub, ZMQ_SNDHWM, &hwm, sizeof hwm);
    if (pthread_create (&self->thread, NULL, s_relay_thread, self))
        return -1;
    self->started = true;
    return 0;
}

void
sq_relay_destroy (sq_relay_t **self_p)
{
    assert (self_p);
    sq_relay_t *self = *self_p;
    if (!self)
        return;
    atomic_store (&self->stop, true);
    if (self->started)
        pthread_join (self->thread, NULL);
    if (self->pub)
        zmq_close (self->pub);
    sq_db_destroy (&self->db);
    free (self->conninfo);
    free (self);
    *self_p = NULL;
}
