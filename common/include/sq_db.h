/*  sq_db: one PostgreSQL connection, queried only through PQexecParams (DESIGN.md: PQexec runs
    several statements from one string, so it is never given anything but our own constants).
    PostgreSQL errors become sq_error_t with a stable code: a unique violation is `conflict`,
    a lost connection or a serialization failure is `unavailable` (safe to retry), anything
    else `internal`. */
#ifndef SQ_DB_H
#define SQ_DB_H

#include "sq_codec.h"

#include <libpq-fe.h>
#include <stdbool.h>

#define SQ_DB_PARAMS_MAX 64  //  most parameters one statement may take
#define SQ_DB_DEFERRED_MAX 32 //  statements waiting to ride along with the next one

typedef struct sq_db sq_db_t;

//  Connects with conninfo (SHEQU_PG when NULL). Returns NULL with the reason in why.
sq_db_t *sq_db_new (const char *conninfo, char *why, size_t why_size);
void sq_db_destroy (sq_db_t **self_p);

//  The libpq connection (borrowed), for LISTEN and escaping.
PGconn *sq_db_conn (sq_db_t *self);

//  Runs a statement with text parameters (NULL entries are SQL NULL). Returns the result
//  (the caller PQclear()s it) when it succeeded, NULL with err set otherwise.
PGresult *sq_db_query (sq_db_t *self, const char *sql, int count, const char *const *params,
                       sq_error_t *err);

//  Same with explicit lengths and formats, for bytea parameters (format 1 = binary).
PGresult *sq_db_query_bin (sq_db_t *self, const char *sql, int count,
                           const char *const *params, const int *lengths, const int *formats,
                           sq_error_t *err);

//  Same as sq_db_query, with a plan made once for any parameters (plan_cache_mode
//  force_generic_plan for this statement only). For statements that take their rows as
//  arrays (INSERT ... SELECT FROM unnest): PostgreSQL otherwise plans them afresh at every
//  call, since a plan for the actual array always looks cheaper than one for any array
//  (registry's INSERT of one resident: bind 0.17 ms planned each time, 0.03 ms planned once,
//  for 0.2 ms of execution). Not for statements whose best plan depends on the values
//  (LIKE $1 || '%').
PGresult *sq_db_query_generic (sq_db_t *self, const char *sql, int count,
                               const char *const *params, sq_error_t *err);

//  Runs a statement and discards its rows. Returns 0 or -1 with err set.
int sq_db_exec (sq_db_t *self, const char *sql, int count, const char *const *params,
                sq_error_t *err);

//  Queues a statement whose result the caller does not need (SAVEPOINT, RELEASE, an outbox
//  INSERT): it is sent together with the next statement run on this connection, in one
//  round trip (libpq pipeline mode), and a failure is reported by that statement. Parameters
//  are copied. Returns 0, or -1 with err set when the queue was full and flushing it failed.
int sq_db_defer (sq_db_t *self, const char *sql, int count, const char *const *params,
                 const int *lengths, const int *formats, sq_error_t *err);

//  Sends what was deferred, if anything. Returns 0 or -1 with err set.
int sq_db_flush (sq_db_t *self, sq_error_t *err);

//  Transaction control; each returns 0 or -1 with err set.
int sq_db_begin (sq_db_t *self, sq_error_t *err);
int sq_db_commit (sq_db_t *self, sq_error_t *err);
void sq_db_rollback (sq_db_t *self);

//  True when the connection is usable; tries one reset when it is not.
bool sq_db_alive (sq_db_t *self);

//  A PostgreSQL array literal ('{"a","b",NULL,3}') built element by element, for set-based
//  statements that take thousands of values as one parameter (INSERT ... SELECT FROM
//  unnest ($1::text[], ...)): one statement instead of one per row. Strings are always
//  quoted with " and \ escaped, so any text (commas, braces, quotes, spaces) survives.
typedef struct {
    char *data;   //  the literal so far; NUL-terminated after sq_db_array_text
    size_t size;  //  bytes used
    size_t cap;   //  bytes allocated
    size_t count; //  elements added
} sq_db_array_t;

void sq_db_array_init (sq_db_array_t *self);
void sq_db_array_destroy (sq_db_array_t *self);
//  Appends a text element; NULL appends SQL NULL.
void sq_db_array_add (sq_db_array_t *self, const char *value);
//  Appends an integer element.
void sq_db_array_add_int (sq_db_array_t *self, int64_t value);
//  The literal, closed with }: valid until the next add or destroy.
const char *sq_db_array_text (sq_db_array_t *self);

//  Rows in COPY's text format, built field by field, for sq_db_copy: PostgreSQL's fastest
//  way in for many rows (it writes them in bulk, and parses no array literal). Fields are
//  separated by tabs, rows end with a newline; text is escaped as COPY wants it.
typedef struct {
    char *data;     //  the rows so far
    size_t size;    //  bytes used
    size_t cap;     //  bytes allocated
    size_t rows;    //  rows ended
    bool fresh;     //  the next field is the first of its row
} sq_db_copy_t;

void sq_db_copy_init (sq_db_copy_t *self);
void sq_db_copy_destroy (sq_db_copy_t *self);
//  Appends a text field; NULL appends SQL NULL.
void sq_db_copy_text (sq_db_copy_t *self, const char *value);
void sq_db_copy_int (sq_db_copy_t *self, int64_t value);
//  Appends a bytea field (hex); NULL appends SQL NULL.
void sq_db_copy_bytea (sq_db_copy_t *self, const void *value, size_t size);
void sq_db_copy_end_row (sq_db_copy_t *self);

//  Sends what was deferred (COPY cannot ride in a pipeline), then runs sql, a
//  "COPY <table> (<columns>) FROM STDIN", with the rows of copy. Two round trips whatever the
//  number of rows: worth it from a few hundred rows on. Returns 0 or -1 with err set.
int sq_db_copy (sq_db_t *self, const char *sql, const sq_db_copy_t *copy, sq_error_t *err);

//  Maps a failed result to an error code and message; what says what was attempted.
int sq_db_error (PGconn *conn, const PGresult *res, const char *what, sq_error_t *err);

#endif
