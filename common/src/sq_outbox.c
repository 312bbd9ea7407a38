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

void
sq_outbox_many_init (sq_outbox_many_t *self)
{
    memset (self, 0, sizeof *self);
    msgpack_sbuffer_init (&self->data);
}

void
sq_outbox_many_destroy (sq_outbox_many_t *self)
{
    free (self->events);
    free (self->offsets);
    msgpack_sbuffer_destroy (&self->data);
    memset (self, 0, sizeof *self);
}

void
sq_outbox_many_add (sq_outbox_many_t *self, const sq_envelope_t *env, const void *data,
                    size_t size)
{
    if (self->count == self->cap) {
        self->cap = self->cap ? 2 * self->cap : 16;
        self->events = realloc (self->events, self->cap * sizeof *self->events);
        self->offsets = realloc (self->offsets, self->cap * sizeof *self->offsets);
        assert (self->events && self->offsets);
    }
    self->events[self->count] = *env;
    self->events[self->count].data = NULL;
    self->offsets[self->count] = self->data.size;
    msgpack_sbuffer_write (&self->data, data, size);
    self->count++;
}

sq_outbox_mark_t
sq_outbox_many_mark (const sq_outbox_many_t *self)
{
    return (sq_outbox_mark_t) {.count = self->count, .data = self->data.size};
}

void
sq_outbox_many_rewind (sq_outbox_many_t *self, const sq_outbox_mark_t *mark)
{
    assert (mark->count <= self->count && mark->data <= self->data.size);
    self->count = mark->count;
    self->data.size = mark->data;
}

//  Bytes of event i's data map.
static size_t
s_many_size (const sq_outbox_many_t *self, size_t i)
{
    return (i + 1 < self->count ? self->offsets[i + 1] : self->data.size) - self->offsets[i];
}

//  The columns of the INSERT's unnest, in order.
enum { S_ID, S_TYPE, S_DIV, S_ACTOR, S_CORR, S_CAUSE, S_AT, S_OFFSET, S_SIZE, S_COLUMNS };

//  Up to SQ_OUTBOX_COPY_MIN events: one deferred INSERT that also takes the seqs.
static int
s_flush_insert (sq_db_t *db, const char *schema, const char *stream, sq_outbox_many_t *many,
                sq_error_t *err)
{
    sq_db_array_t c[S_COLUMNS];
    for (int k = 0; k < S_COLUMNS; k++)
        sq_db_array_init (&c[k]);
    for (size_t i = 0; i < many->count; i++) {
        const sq_envelope_t *env = &many->events[i];
        sq_db_array_add (&c[S_ID], env->id);
        sq_db_array_add (&c[S_TYPE], env->type);
        sq_db_array_add (&c[S_DIV], env->div);
        sq_db_array_add (&c[S_ACTOR], env->actor);
        sq_db_array_add (&c[S_CORR], env->corr);
        sq_db_array_add (&c[S_CAUSE], env->cause);
        sq_db_array_add_int (&c[S_AT], env->at);
        sq_db_array_add_int (&c[S_OFFSET], (int64_t) many->offsets[i]);
        sq_db_array_add_int (&c[S_SIZE], (int64_t) s_many_size (many, i));
    }
    //  The UPDATE takes the stream's next seqs and locks its row until COMMIT: the next
    //  writer of the stream waits here, so seqs commit in order (sq_outbox.h). Joined LEFT
    //  so that a missing counter row (sq_outbox_prepare not run) fails on seq's NOT NULL
    //  instead of writing nothing. bytea is at most 1 GB, so offsets fit an int; WITH
    //  ORDINALITY keeps the events in the order they were added.
    char sql[SQ_SQL_MAX];
    snprintf (sql, sizeof sql, "WITH s AS (UPDATE %s.stream SET last_seq = last_seq +"
              " $2::bigint WHERE name = $1 RETURNING last_seq - $2::bigint AS base)"
              " INSERT INTO %s.outbox (seq, event_id, type, div, actor, corr, cause, at, data)"
              " SELECT s.base + u.n, u.id, u.type, u.div, u.actor, u.corr, u.cause, u.at,"
              " substring ($3::bytea FROM u.off + 1 FOR u.size) FROM unnest ($4::text[],"
              " $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::bigint[],"
              " $11::int[], $12::int[]) WITH ORDINALITY AS u (id, type, div, actor, corr,"
              " cause, at, off, size, n) LEFT JOIN s ON true", schema, schema);
    char count[24];
    snprintf (count, sizeof count, "%zu", many->count);
    const char *params[3 + S_COLUMNS] = {stream, count, many->data.data ? many->data.data : ""};
    for (int k = 0; k < S_COLUMNS; k++)
        params[3 + k] = sq_db_array_text (&c[k]);
    int lengths[3 + S_COLUMNS] = {[2] = (int) many->data.size};
    int formats[3 + S_COLUMNS] = {[2] = 1};
    int rc = sq_db_defer (db, sql, 3 + S_COLUMNS, params, lengths, formats, err);
    for (int k = 0; k < S_COLUMNS; k++)
        sq_db_array_destroy (&c[k]);
    return rc;
}

//  From SQ_OUTBOX_COPY_MIN events on: the seqs taken now, the rows by COPY.
static int
s_flush_copy (sq_db_t *db, const char *schema, const char *stream, sq_outbox_many_t *many,
              sq_error_t *err)
{
    char sql[SQ_SQL_MAX];
    snprintf (sql, sizeof sql, "UPDATE %s.stream SET last_seq = last_seq + $2::bigint"
              " WHERE name = $1 RETURNING last_seq - $2::bigint", schema);
    char count[24];
    snprintf (count, sizeof count, "%zu", many->count);
    const char *params[] = {stream, count};
    PGresult *res = sq_db_query (db, sql, 2, params, err);
    if (!res)
        return -1;
    bool found = PQntuples (res) == 1;
    int64_t base = found ? strtoll (PQgetvalue (res, 0, 0), NULL, 10) : 0;
    PQclear (res);
    if (!found)
        return sq_error_set (err, SQ_ERR_INTERNAL, "", "stream %s has no counter row in %s",
                             stream, schema);
    sq_db_copy_t rows;
    sq_db_copy_init (&rows);
    for (size_t i = 0; i < many->count; i++) {
        const sq_envelope_t *env = &many->events[i];
        sq_db_copy_int (&rows, base + 1 + (int64_t) i);
        sq_db_copy_text (&rows, env->id);
        sq_db_copy_text (&rows, env->type);
        sq_db_copy_text (&rows, env->div);
        sq_db_copy_text (&rows, env->actor);
        sq_db_copy_text (&rows, env->corr);
        sq_db_copy_text (&rows, env->cause);
        sq_db_copy_int (&rows, env->at);
        sq_db_copy_bytea (&rows, many->data.data + many->offsets[i], s_many_size (many, i));
        sq_db_copy_end_row (&rows);
    }
    snprintf (sql, sizeof sql, "COPY %s.outbox (seq, event_id, type, div, actor, corr, cause,"
              " at, data) FROM STDIN", schema);
    int rc = sq_db_copy (db, sql, &rows, err);
    sq_db_copy_destroy (&rows);
    return rc;
}

int
sq_outbox_flush (sq_db_t *db, const char *schema, const char *stream, sq_outbox_many_t *many,
                 sq_error_t *err)
{
    if (many->count == 0)
        return 0;
    int rc = many->count < SQ_OUTBOX_COPY_MIN ? s_flush_insert (db, schema, stream, many, err)
                                              : s_flush_copy (db, schema, stream, many, err);
    if (rc)
        return -1;
    char channel[128];
    snprintf (channel, sizeof channel, "shequ_outbox_%s", schema);
    const char *notify[] = {channel};
    return sq_db_defer (db, "SELECT pg_notify($1, '')", 1, notify, NULL, NULL, err);
}

int
sq_outbox_prepare (sq_db_t *db, const char *schema, const char *stream, sq_error_t *err)
{
    char sql[SQ_SQL_MAX];
    snprintf (sql, sizeof sql, "INSERT INTO %s.stream (name, last_seq) SELECT $1, coalesce"
              " (max (seq), 0) FROM %s.outbox ON CONFLICT DO NOTHING", schema, schema);
    const char *params[] = {stream};
    return sq_db_exec (db, sql, 1, params, err);
}

//  Packs one envelope from a row of S_EVENT_COLUMNS; *env gets its fields.
static int
s_pack_row (msgpack_packer *pk, PGresult *res, int row, const char *stream, sq_envelope_t *env)
{
    //  Field by field (no memset, no snprintf): the relay packs 8,000 of these a round
    //  after a ledger batch.
    env->data = NULL;
    sq_copy_str (env->id, sizeof env->id, PQgetvalue (res, row, 0));
    sq_copy_str (env->src, sizeof env->src, stream);
    env->seq = strtoull (PQgetvalue (res, row, 1), NULL, 10);
    sq_copy_str (env->type, sizeof env->type, PQgetvalue (res, row, 2));
    sq_copy_str (env->div, sizeof env->div, PQgetvalue (res, row, 3));
    env->at = strtoll (PQgetvalue (res, row, 4), NULL, 10);
    sq_copy_str (env->actor, sizeof env->actor, PQgetvalue (res, row, 5));
    sq_copy_str (env->corr, sizeof env->corr, PQgetvalue (res, row, 6));
    sq_copy_str (env->cause, sizeof env->cause, PQgetvalue (res, row, 7));
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
    uint64_t sent_upto;          //  highest seq sent
    uint64_t recorded;           //  highest seq recorded as published
    int64_t recorded_ms;         //  when it was recorded (sq_clock_ms)
    int64_t record_ms;           //  at most this often
    char sql_fetch[SQ_SQL_MAX];  //  committed rows after a seq, in order
    char sql_record[SQ_SQL_MAX]; //  records the published position
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
    self->record_ms = sq_config_int ("SHEQU_RELAY_RECORD_MS", SQ_RELAY_RECORD_MS_DEFAULT, 0,
                                     3600000);
    //  NB: seqs commit in order (sq_outbox_flush), so the committed rows after a seq are
    //  always a run without gaps: "everything after the last seq sent" skips nothing.
    snprintf (self->sql_fetch, sizeof self->sql_fetch,
              "SELECT " S_EVENT_COLUMNS " FROM %s.outbox WHERE seq > $1::bigint ORDER BY seq"
              " LIMIT %d", schema, SQ_RELAY_BATCH_MAX);
    //  Its own table, not the stream's counter row, which writers hold locked until they
    //  commit (schemas/common/003_seq_at_commit.sql).
    snprintf (self->sql_record, sizeof self->sql_record,
              "UPDATE %s.relay_position SET published_seq = greatest (published_seq,"
              " $2::bigint) WHERE name = $1", schema);
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
    //  NB: recording the position needs no flush of its own: if a crash loses it, the next
    //  relay publishes those events again, which subscribers drop by seq.
    char sql[SQ_SQL_MAX];
    snprintf (sql, sizeof sql, "INSERT INTO %s.relay_position (name) VALUES ($1)"
              " ON CONFLICT DO NOTHING", self->schema);
    const char *stream[] = {self->stream};
    snprintf (why, sizeof why, "LISTEN shequ_outbox_%s", self->schema);
    if (sq_db_exec (self->db, "SET synchronous_commit TO off", 0, NULL, &err)
        || sq_db_exec (self->db, sql, 1, stream, &err)
        || sq_db_exec (self->db, why, 0, NULL, &err)) {
        sq_db_destroy (&self->db);
        return -1;
    }
    snprintf (sql, sizeof sql, "SELECT published_seq FROM %s.relay_position WHERE name = $1",
              self->schema);
    res = sq_db_query (self->db, sql, 1, stream, &err);
    if (!res || PQntuples (res) != 1) {
        PQclear (res);
        sq_db_destroy (&self->db);
        return -1;
    }
    self->sent_upto = self->recorded = strtoull (PQgetvalue (res, 0, 0), NULL, 10);
    PQclear (res);
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

//  Waits up to timeout_ms for a NOTIFY on the relay's connection, then drains them.
static void
s_relay_wait (sq_relay_t *self, int timeout_ms)
{
    PGconn *conn = sq_db_conn (self->db);
    //  NB: a NOTIFY that came while the last query ran was read into libpq's queue with its
    //  result, and the socket will not wake poll for it: look there first.
    bool noted = false;
    PGnotify *note;
    while ((note = PQnotifies (conn)))
        PQfreemem (note), noted = true;
    if (noted)
        return;
    struct pollfd fd = {.fd = PQsocket (conn), .events = POLLIN};
    if (fd.fd >= 0 && poll (&fd, 1, timeout_ms) > 0)
        PQconsumeInput (conn);
    while ((note = PQnotifies (conn)))
        PQfreemem (note);
}

//  One round as the active relay: records how far the last round published and reads what
//  follows, in one round trip. Returns 0 when it went well, -1 when the connection (and
//  with it the lock) should be dropped.
static int
s_relay_round (sq_relay_t *self)
{
    sq_error_t err;
    char upto[24];
    snprintf (upto, sizeof upto, "%" PRIu64, self->sent_upto);
    const char *record[] = {self->stream, upto};
    const char *after[] = {upto};
    //  Recorded at most every SHEQU_RELAY_RECORD_MS, not every round: each record is a write
    //  and a commit that PostgreSQL would make for every commit of the stream otherwise.
    bool recording = self->sent_upto > self->recorded
                     && sq_clock_ms () - self->recorded_ms >= self->record_ms;
    PGresult *res = NULL;
    if (!recording || sq_db_defer (self->db, self->sql_record, 2, record, NULL, NULL, &err) == 0)
        res = sq_db_query (self->db, self->sql_fetch, 1, after, &err);
    if (!res) {
        sq_log_warn ("relay lost its database connection", "stream=%s error=\"%s\"",
                     self->stream, err.message);
        return -1;
    }
    if (recording)
        self->recorded = self->sent_upto, self->recorded_ms = sq_clock_ms ();
    int rows = PQntuples (res);
    s_relay_send (self, res);
    PQclear (res);
    //  A full round may have left more: go again at once. Otherwise everything committed
    //  before the read was read, and what commits later sends a NOTIFY.
    if (rows < SQ_RELAY_BATCH_MAX)
        s_relay_wait (self, self->poll_ms);
    return 0;
}

static void *
s_relay_thread (void *arg)
{
    sq_relay_t *self = arg;
    while (!atomic_load (&self->stop)) {
        if (!atomic_load (&self->active)) {
            int held = s_relay_acquire (self);
            if (held == 1) {
                atomic_store (&self->active, true);
                sq_log_info ("relay active", "stream=%s schema=%s from_seq=%" PRIu64,
                             self->stream, self->schema, self->sent_upto + 1);
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
    //  What was sent since the last record, recorded on the way out: a clean stop leaves
    //  nothing to publish twice.
    if (self->db && atomic_load (&self->active) && self->sent_upto > self->recorded) {
        char upto[24];
        snprintf (upto, sizeof upto, "%" PRIu64, self->sent_upto);
        const char *record[] = {self->stream, upto};
        sq_error_t err;
        sq_db_exec (self->db, self->sql_record, 2, record, &err);
    }
    if (self->pub)
        zmq_close (self->pub);
    sq_db_destroy (&self->db);
    free (self->conninfo);
    free (self);
    *self_p = NULL;
}
