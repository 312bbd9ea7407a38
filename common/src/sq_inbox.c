/*  sq_inbox: (src, seq) recorded with the effect, in one transaction. */
#include "sq_inbox.h"
#include "sq_util.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

int
sq_inbox_claim (sq_db_t *db, const char *schema, const sq_envelope_t *env, sq_error_t *err)
{
    char sql[256];
    snprintf (sql, sizeof sql, "INSERT INTO %s.inbox (src, seq, event_id, applied_at)"
              " VALUES ($1, $2::bigint, $3, $4::bigint) ON CONFLICT DO NOTHING RETURNING 1",
              schema);
    char seq[24], at[24];
    snprintf (seq, sizeof seq, "%" PRIu64, env->seq);
    snprintf (at, sizeof at, "%" PRId64, sq_now_us ());
    const char *params[] = {env->src, seq, env->id, at};
    PGresult *res = sq_db_query (db, sql, 4, params, err);
    if (!res)
        return -1;
    int fresh = PQntuples (res) == 1;
    PQclear (res);
    return fresh;
}

int64_t
sq_inbox_last_seq (sq_db_t *db, const char *schema, const char *src, sq_error_t *err)
{
    char sql[256];
    snprintf (sql, sizeof sql, "SELECT coalesce (max (seq), 0) FROM %s.inbox WHERE src = $1",
              schema);
    const char *params[] = {src};
    PGresult *res = sq_db_query (db, sql, 1, params, err);
    if (!res)
        return -1;
    int64_t last = strtoll (PQgetvalue (res, 0, 0), NULL, 10);
    PQclear (res);
    return last;
}
