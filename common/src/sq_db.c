/*  sq_db: one PostgreSQL connection, queried only through PQexecParams, and through
    statements it prepares itself: the data statements a service runs again and again are
    prepared on first use (per connection), which spares the server parsing and planning
    them on every command. */
#include "sq_db.h"
#include "sq_config.h"
#include "sq_log.h"
#include "sq_util.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SQ_DB_STATEMENTS_MAX 256 //  prepared statements kept per connection
#define SQ_DB_COPY_PIECE (1u << 20) //  bytes handed to PQputCopyData at a time

typedef struct {
    uint64_t hash; //  FNV-1a of the text, 0 for an empty slot
    char *sql;     //  the statement text (owned)
    char name[16]; //  its name on the server
} s_statement_t;

//  A statement waiting to be sent with the next one; owns copies of everything.
typedef struct {
    char *sql;                        //  statement text
    int count;                        //  parameters
    char *params[SQ_DB_PARAMS_MAX];   //  copies (NULL = SQL NULL)
    int lengths[SQ_DB_PARAMS_MAX];    //  bytes of binary parameters
    int formats[SQ_DB_PARAMS_MAX];    //  1 = binary
} s_deferred_t;

struct sq_db {
    PGconn *conn;                                   //  the connection; reset on loss
    s_deferred_t deferred[SQ_DB_DEFERRED_MAX];      //  waiting for the next statement
    int deferred_count;
    s_statement_t statements[SQ_DB_STATEMENTS_MAX]; //  open-addressed by hash
    int prepared;                                   //  slots in use
};

sq_db_t *
sq_db_new (const char *conninfo, char *why, size_t why_size)
{
    if (!conninfo)
        conninfo = sq_config_str (SQ_ENV_PG, SQ_DEFAULT_PG);
    PGconn *conn = PQconnectdb (conninfo);
    if (PQstatus (conn) != CONNECTION_OK) {
        snprintf (why, why_size, "could not connect to PostgreSQL: %s", PQerrorMessage (conn));
        //  libpq messages end in a newline; keep log lines one line.
        char *nl = strchr (why, '\n');
        if (nl) *nl = 0;
        PQfinish (conn);
        return NULL;
    }
    sq_db_t *self = calloc (1, sizeof *self);
    assert (self);
    self->conn = conn;
    //  Microsecond timestamps are integers in this platform; UTC keeps dates unambiguous.
    PGresult *res = PQexecParams (conn, "SET TIME ZONE 'UTC'", 0, NULL, NULL, NULL, NULL, 0);
    PQclear (res);
    return self;
}

static void
s_deferred_clear (sq_db_t *self)
{
    for (int d = 0; d < self->deferred_count; d++) {
        s_deferred_t *entry = &self->deferred[d];
        free (entry->sql);
        for (int i = 0; i < entry->count; i++)
            free (entry->params[i]);
    }
    self->deferred_count = 0;
}

//  Forgets every prepared statement (the server forgot them with the old connection).
static void
s_statements_clear (sq_db_t *self)
{
    for (int i = 0; i < SQ_DB_STATEMENTS_MAX; i++) {
        free (self->statements[i].sql);
        self->statements[i] = (s_statement_t) {0};
    }
    self->prepared = 0;
}

void
sq_db_destroy (sq_db_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        s_statements_clear (*self_p);
        s_deferred_clear (*self_p);
        PQfinish ((*self_p)->conn);
        free (*self_p);
        *self_p = NULL;
    }
}

PGconn *
sq_db_conn (sq_db_t *self)
{
    assert (self);
    return self->conn;
}

int
sq_db_error (PGconn *conn, const PGresult *res, const char *what, sq_error_t *err)
{
    const char *state = res ? PQresultErrorField (res, PG_DIAG_SQLSTATE) : NULL;
    const char *message = res ? PQresultErrorMessage (res) : PQerrorMessage (conn);
    char text[SQ_ERROR_MESSAGE_MAX];
    snprintf (text, sizeof text, "%s", message && *message ? message : "no result");
    char *nl = strchr (text, '\n');
    if (nl) *nl = 0;
    if (state && strcmp (state, "23505") == 0)
        return sq_error_set (err, SQ_ERR_CONFLICT, "", "could not %s: %s", what, text);
    if (PQstatus (conn) != CONNECTION_OK || (state && (strncmp (state, "08", 2) == 0
                                                       || strcmp (state, "40001") == 0
                                                       || strcmp (state, "40P01") == 0
                                                       || strcmp (state, "57P01") == 0)))
        return sq_error_set (err, SQ_ERR_UNAVAILABLE, "", "could not %s: %s", what, text);
    sq_log_error ("database error", "what=\"%s\" sqlstate=%s error=\"%s\"", what,
                  state ? state : "none", text);
    return sq_error_set (err, SQ_ERR_INTERNAL, "", "could not %s: database error %s", what,
                         state ? state : "");
}

//  Data statements are worth preparing; transaction control and DDL are not.
static bool
s_preparable (const char *sql)
{
    return strncmp (sql, "SELECT", 6) == 0 || strncmp (sql, "INSERT", 6) == 0
           || strncmp (sql, "UPDATE", 6) == 0 || strncmp (sql, "WITH", 4) == 0
           || strncmp (sql, "DELETE", 6) == 0;
}

//  Returns the name of sql prepared on this connection, preparing it now if there is room;
//  NULL when it is not (then the caller runs it unprepared).
static const char *
s_statement (sq_db_t *self, const char *sql, int count)
{
    if (!s_preparable (sql))
        return NULL;
    uint64_t hash = 1469598103934665603ULL;
    for (const char *p = sql; *p; p++)
        hash = (hash ^ (uint8_t) *p) * 1099511628211ULL;
    hash |= 1; //  0 marks an empty slot
    for (int probe = 0; probe < SQ_DB_STATEMENTS_MAX; probe++) {
        s_statement_t *slot = &self->statements[(hash + (uint64_t) probe) % SQ_DB_STATEMENTS_MAX];
        if (slot->hash == hash && strcmp (slot->sql, sql) == 0)
            return slot->name;
        if (slot->hash)
            continue;
        //  Keep a quarter free so probes stay short.
        if (self->prepared >= SQ_DB_STATEMENTS_MAX * 3 / 4)
            return NULL;
        char name[16];
        snprintf (name, sizeof name, "sq%d", self->prepared);
        PGresult *res = PQprepare (self->conn, name, sql, count, NULL);
        bool ok = PQresultStatus (res) == PGRES_COMMAND_OK;
        if (!ok) {
            //  The statement then runs unprepared and fails, but inside a transaction only
            //  with "transaction aborted" (25P02): the cause is this error, so log it.
            char why[SQ_ERROR_MESSAGE_MAX];
            snprintf (why, sizeof why, "%s", res ? PQresultErrorMessage (res)
                                                 : PQerrorMessage (self->conn));
            char *nl = strchr (why, '\n');
            if (nl)
                *nl = 0;
            sq_log_error ("could not prepare a statement", "error=\"%s\" sql=\"%.120s\"", why,
                          sql);
        }
        PQclear (res);
        if (!ok)
            return NULL;
        slot->hash = hash;
        slot->sql = strdup (sql);
        snprintf (slot->name, sizeof slot->name, "%s", name);
        self->prepared++;
        return slot->name;
    }
    return NULL;
}

//  Sends one statement in pipeline mode, prepared when it was prepared before entering.
static int
s_send (sq_db_t *self, const char *name, const char *sql, int count, const char *const *params,
        const int *lengths, const int *formats)
{
    return name ? PQsendQueryPrepared (self->conn, name, count, params, lengths, formats, 0)
                : PQsendQueryParams (self->conn, sql, count, NULL, params, lengths, formats, 0);
}

//  Runs the deferred statements and then sql (when not NULL) in one pipeline: one round
//  trip. Returns sql's result, or NULL with err set when anything failed (the first failure
//  is reported). With sql NULL, returns a dummy non-NULL marker on success.
static PGresult *
s_pipeline (sq_db_t *self, const char *sql, int count, const char *const *params,
            const int *lengths, const int *formats, sq_error_t *err)
{
    int total = self->deferred_count + (sql ? 1 : 0);
    const char *names[SQ_DB_DEFERRED_MAX + 1];
    //  Statements are prepared before the pipeline starts: PQprepare is synchronous.
    for (int d = 0; d < self->deferred_count; d++)
        names[d] = s_statement (self, self->deferred[d].sql, self->deferred[d].count);
    if (sql)
        names[total - 1] = s_statement (self, sql, count);
    int sent = PQenterPipelineMode (self->conn);
    for (int d = 0; d < self->deferred_count && sent; d++) {
        s_deferred_t *e = &self->deferred[d];
        sent = s_send (self, names[d], e->sql, e->count, (const char *const *) e->params,
                       e->lengths, e->formats);
    }
    if (sent && sql)
        sent = s_send (self, names[total - 1], sql, count, params, lengths, formats);
    sent = sent && PQpipelineSync (self->conn);
    PGresult *last = NULL;
    bool failed = !sent;
    if (!sent)
        sq_db_error (self->conn, NULL, "send statements", err);
    //  Results come query by query, each followed by NULL, then the sync marker.
    for (int index = 0, nulls = 0; sent && nulls <= total + 1;) {
        PGresult *res = PQgetResult (self->conn);
        if (!res) {
            index++, nulls++;
            if (PQstatus (self->conn) != CONNECTION_OK)
                break;
            continue;
        }
        ExecStatusType status = PQresultStatus (res);
        if (status == PGRES_PIPELINE_SYNC) {
            PQclear (res);
            break;
        }
        bool ok = status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK;
        if (!ok && !failed && status != PGRES_PIPELINE_ABORTED) {
            sq_db_error (self->conn, res, "run query", err);
            failed = true;
        }
        if (ok && sql && index == total - 1 && !last)
            last = res;
        else
            PQclear (res);
    }
    PQexitPipelineMode (self->conn);
    s_deferred_clear (self);
    if (failed || (sql && !last)) {
        if (!failed)
            sq_db_error (self->conn, NULL, "run query", err);
        PQclear (last);
        return NULL;
    }
    return sql ? last : (PGresult *) self; //  marker only, never used as a result
}

PGresult *
sq_db_query_bin (sq_db_t *self, const char *sql, int count, const char *const *params,
                 const int *lengths, const int *formats, sq_error_t *err)
{
    assert (self && sql && count <= SQ_DB_PARAMS_MAX);
    if (self->deferred_count)
        return s_pipeline (self, sql, count, params, lengths, formats, err);
    const char *name = s_statement (self, sql, count);
    PGresult *res = name ? PQexecPrepared (self->conn, name, count, params, lengths, formats, 0)
                         : PQexecParams (self->conn, sql, count, NULL, params, lengths, formats,
                                         0);
    ExecStatusType status = PQresultStatus (res);
    if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK)
        return res;
    sq_db_error (self->conn, res, "run query", err);
    //  The first words of the statement tell the log reader which one failed.
    sq_log_debug ("query failed", "sql=\"%.60s\"", sql);
    PQclear (res);
    return NULL;
}

int
sq_db_flush (sq_db_t *self, sq_error_t *err)
{
    if (!self->deferred_count)
        return 0;
    return s_pipeline (self, NULL, 0, NULL, NULL, NULL, err) ? 0 : -1;
}

int
sq_db_defer (sq_db_t *self, const char *sql, int count, const char *const *params,
             const int *lengths, const int *formats, sq_error_t *err)
{
    assert (count <= SQ_DB_PARAMS_MAX);
    if (self->deferred_count == SQ_DB_DEFERRED_MAX && sq_db_flush (self, err))
        return -1;
    s_deferred_t *entry = &self->deferred[self->deferred_count++];
    entry->sql = strdup (sql);
    entry->count = count;
    for (int i = 0; i < count; i++) {
        bool binary = formats && formats[i] == 1;
        size_t size = !params[i] ? 0 : binary ? (size_t) lengths[i] : strlen (params[i]) + 1;
        entry->params[i] = params[i] ? malloc (size ? size : 1) : NULL;
        if (params[i])
            memcpy (entry->params[i], params[i], size);
        entry->lengths[i] = lengths ? lengths[i] : 0;
        entry->formats[i] = formats ? formats[i] : 0;
    }
    return 0;
}

PGresult *
sq_db_query (sq_db_t *self, const char *sql, int count, const char *const *params,
             sq_error_t *err)
{
    return sq_db_query_bin (self, sql, count, params, NULL, NULL, err);
}

//  The SET rides along with the statement and the RESET with the next one: no round trip of
//  their own. When the statement fails, the rollback that must follow undoes the SET too.
PGresult *
sq_db_query_generic (sq_db_t *self, const char *sql, int count, const char *const *params,
                     sq_error_t *err)
{
    if (sq_db_defer (self, "SET plan_cache_mode = force_generic_plan", 0, NULL, NULL, NULL, err))
        return NULL;
    PGresult *res = sq_db_query (self, sql, count, params, err);
    if (res && sq_db_defer (self, "RESET plan_cache_mode", 0, NULL, NULL, NULL, err)) {
        PQclear (res);
        return NULL;
    }
    return res;
}

int
sq_db_exec (sq_db_t *self, const char *sql, int count, const char *const *params,
            sq_error_t *err)
{
    PGresult *res = sq_db_query (self, sql, count, params, err);
    if (!res)
        return -1;
    PQclear (res);
    return 0;
}

int
sq_db_begin (sq_db_t *self, sq_error_t *err)
{
    return sq_db_exec (self, "BEGIN", 0, NULL, err);
}

int
sq_db_commit (sq_db_t *self, sq_error_t *err)
{
    return sq_db_exec (self, "COMMIT", 0, NULL, err);
}

void
sq_db_rollback (sq_db_t *self)
{
    s_deferred_clear (self); //  whatever waited belongs to the transaction rolled back
    //  A BEGIN that was only deferred never reached the server: nothing to roll back.
    if (PQtransactionStatus (self->conn) == PQTRANS_IDLE)
        return;
    PGresult *res = PQexecParams (self->conn, "ROLLBACK", 0, NULL, NULL, NULL, NULL, 0);
    PQclear (res);
}

bool
sq_db_alive (sq_db_t *self)
{
    if (PQstatus (self->conn) == CONNECTION_OK)
        return true;
    sq_log_warn ("database connection lost, reconnecting", NULL);
    s_statements_clear (self);
    s_deferred_clear (self);
    PQreset (self->conn);
    return PQstatus (self->conn) == CONNECTION_OK;
}

// ---- array literals -----------------------------------------------------------------------

void
sq_db_array_init (sq_db_array_t *self)
{
    memset (self, 0, sizeof *self);
}

void
sq_db_array_destroy (sq_db_array_t *self)
{
    free (self->data);
    memset (self, 0, sizeof *self);
}

//  Writes value into out, each byte of specials as a backslash and the byte at the same
//  place in codes, and the runs between them in one copy each. Returns the bytes written:
//  at most twice strlen (value); out is not terminated.
static size_t
s_escape (char *out, const char *value, const char *specials, const char *codes)
{
    size_t n = 0;
    for (;;) {
        size_t run = strcspn (value, specials);
        memcpy (out + n, value, run);
        n += run;
        value += run;
        if (!*value)
            return n;
        out[n++] = '\\';
        out[n++] = codes[strchr (specials, *value) - specials];
        value++;
    }
}

//  Grows a text buffer of *cap bytes (0: none yet) to hold need bytes, doubling from first.
static void
s_grow (char **data, size_t *cap, size_t need, size_t first)
{
    if (need <= *cap)
        return;
    size_t grown = *cap ? *cap : first;
    while (grown < need)
        grown *= 2;
    *data = realloc (*data, grown);
    assert (*data);
    *cap = grown;
}

//  Makes room for more bytes plus the closing } and NUL.
static void
s_array_reserve (sq_db_array_t *self, size_t more)
{
    s_grow (&self->data, &self->cap, self->size + more + 2, 256);
}

//  Opens the literal or separates the next element.
static void
s_array_next (sq_db_array_t *self)
{
    s_array_reserve (self, 1);
    self->data[self->size++] = self->count++ ? ',' : '{';
}

void
sq_db_array_add (sq_db_array_t *self, const char *value)
{
    s_array_next (self);
    if (!value) {
        s_array_reserve (self, 4);
        memcpy (self->data + self->size, "NULL", 4);
        self->size += 4;
        return;
    }
    //  Worst case every byte escaped, plus the two quotes.
    size_t len = strlen (value);
    s_array_reserve (self, 2 * len + 2);
    self->data[self->size++] = '"';
    self->size += s_escape (self->data + self->size, value, "\"\\", "\"\\");
    self->data[self->size++] = '"';
}

void
sq_db_array_add_int (sq_db_array_t *self, int64_t value)
{
    char text[SQ_INT_TEXT_MAX];
    size_t len = sq_int_text (value, text);
    s_array_next (self);
    s_array_reserve (self, (size_t) len);
    memcpy (self->data + self->size, text, (size_t) len);
    self->size += (size_t) len;
}

const char *
sq_db_array_text (sq_db_array_t *self)
{
    s_array_reserve (self, 1);
    if (self->count == 0) {
        self->data[0] = '{';
        self->data[1] = '}';
        self->data[2] = 0;
        return self->data;
    }
    self->data[self->size] = '}';
    self->data[self->size + 1] = 0;
    return self->data;
}

// ---- COPY -------------------------------------------------------------------------------

void
sq_db_copy_init (sq_db_copy_t *self)
{
    memset (self, 0, sizeof *self);
    self->fresh = true;
}

void
sq_db_copy_destroy (sq_db_copy_t *self)
{
    free (self->data);
    memset (self, 0, sizeof *self);
}

//  Makes room for more bytes.
static void
s_copy_reserve (sq_db_copy_t *self, size_t more)
{
    s_grow (&self->data, &self->cap, self->size + more + 1, 4096);
}

//  Separates the next field from the last one of its row.
static void
s_copy_field (sq_db_copy_t *self, size_t more)
{
    s_copy_reserve (self, more + 1);
    if (!self->fresh)
        self->data[self->size++] = '\t';
    self->fresh = false;
}

void
sq_db_copy_text (sq_db_copy_t *self, const char *value)
{
    if (!value) {
        s_copy_field (self, 2);
        memcpy (self->data + self->size, "\\N", 2);
        self->size += 2;
        return;
    }
    //  Worst case every byte escaped. Runs of bytes that need no escape go in one copy.
    size_t len = strlen (value);
    s_copy_field (self, 2 * len);
    self->size += s_escape (self->data + self->size, value, "\\\n\r\t", "\\nrt");
}

void
sq_db_copy_int (sq_db_copy_t *self, int64_t value)
{
    char text[SQ_INT_TEXT_MAX];
    size_t len = sq_int_text (value, text);
    s_copy_field (self, len);
    memcpy (self->data + self->size, text, (size_t) len);
    self->size += (size_t) len;
}

void
sq_db_copy_bytea (sq_db_copy_t *self, const void *value, size_t size)
{
    if (!value) {
        sq_db_copy_text (self, NULL);
        return;
    }
    //  bytea's hex input "\x0a1b", with its backslash doubled for COPY.
    static const char hex[] = "0123456789abcdef";
    s_copy_field (self, 3 + 2 * size);
    memcpy (self->data + self->size, "\\\\x", 3);
    self->size += 3;
    const uint8_t *bytes = value;
    for (size_t i = 0; i < size; i++) {
        self->data[self->size++] = hex[bytes[i] >> 4];
        self->data[self->size++] = hex[bytes[i] & 15];
    }
}

void
sq_db_copy_end_row (sq_db_copy_t *self)
{
    s_copy_reserve (self, 1);
    self->data[self->size++] = '\n';
    self->rows++;
    self->fresh = true;
}

int
sq_db_copy (sq_db_t *self, const char *sql, const sq_db_copy_t *copy, sq_error_t *err)
{
    if (sq_db_flush (self, err))
        return -1;
    PGresult *res = PQexec (self->conn, sql);
    if (PQresultStatus (res) != PGRES_COPY_IN) {
        sq_db_error (self->conn, res, "start copy", err);
        PQclear (res);
        return -1;
    }
    PQclear (res);
    //  In pieces: PQputCopyData takes an int.
    bool sent = true;
    for (size_t at = 0; sent && at < copy->size; at += SQ_DB_COPY_PIECE) {
        size_t piece = copy->size - at < SQ_DB_COPY_PIECE ? copy->size - at : SQ_DB_COPY_PIECE;
        sent = PQputCopyData (self->conn, copy->data + at, (int) piece) == 1;
    }
    int ended = PQputCopyEnd (self->conn, sent ? NULL : "the client could not send the rows");
    int rc = 0;
    while ((res = PQgetResult (self->conn))) {
        if (rc == 0 && (ended != 1 || PQresultStatus (res) != PGRES_COMMAND_OK))
            rc = sq_db_error (self->conn, res, "copy rows", err);
        PQclear (res);
    }
    return rc ? -1 : 0;
}
