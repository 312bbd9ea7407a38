/*  sq_migrate: versioned SQL migrations, applied at start under an advisory lock. */
#include "sq_migrate.h"
#include "sq_config.h"
#include "sq_log.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef SQ_SOURCE_DIR
#define SQ_SOURCE_DIR "."
#endif

const char *
sq_migrate_dir (void)
{
    return sq_config_str ("SHEQU_SCHEMAS_DIR", SQ_SOURCE_DIR "/schemas");
}

//  Length of a dollar-quote tag starting at p ("$$" or "$tag$"), 0 when none starts here.
static size_t
s_dollar_tag (const char *p)
{
    if (p[0] != '$')
        return 0;
    size_t n = 1;
    while (p[n] == '_' || (p[n] >= 'a' && p[n] <= 'z') || (p[n] >= 'A' && p[n] <= 'Z')
           || (n > 1 && p[n] >= '0' && p[n] <= '9'))
        n++;
    return p[n] == '$' ? n + 1 : 0;
}

int
sq_migrate_split (const char *sql, int (*fn) (const char *stmt, void *arg), void *arg)
{
    size_t len = strlen (sql);
    char *stmt = malloc (len + 1);
    if (!stmt)
        return -1;
    size_t out = 0;
    int rc = 0;
    for (size_t i = 0; i < len && rc == 0; i++) {
        const char *p = sql + i;
        size_t tag = s_dollar_tag (p);
        size_t skip = 0;
        if (p[0] == '-' && p[1] == '-') {
            const char *end = strchr (p, '\n');
            i = end ? (size_t) (end - sql) : len;
            continue;
        }
        if (p[0] == '\'') {
            const char *end = strchr (p + 1, '\'');
            skip = end ? (size_t) (end - p) + 1 : len - i;
        } else if (tag) {
            char marker[64];
            snprintf (marker, sizeof marker, "%.*s", (int) (tag < 63 ? tag : 63), p);
            const char *end = strstr (p + tag, marker);
            skip = end ? (size_t) (end - p) + tag : len - i;
        }
        if (skip) {
            memcpy (stmt + out, p, skip);
            out += skip;
            i += skip - 1;
            continue;
        }
        if (p[0] == ';') {
            stmt[out] = 0;
            if (strspn (stmt, " \t\r\n") < out)
                rc = fn (stmt, arg);
            out = 0;
            continue;
        }
        stmt[out++] = p[0];
    }
    stmt[out] = 0;
    if (rc == 0 && strspn (stmt, " \t\r\n") < out)
        rc = fn (stmt, arg);
    free (stmt);
    return rc;
}

typedef struct {
    sq_db_t *db;
    sq_error_t *err;
} s_apply_t;

static int
s_apply_statement (const char *stmt, void *arg)
{
    s_apply_t *apply = arg;
    return sq_db_exec (apply->db, stmt, 0, NULL, apply->err);
}

static int
s_compare_names (const void *a, const void *b)
{
    return strcmp (*(char *const *) a, *(char *const *) b);
}

//  Lists `NNN_*.sql` in dir, sorted. Returns the count (0 when the dir does not exist).
static int
s_list (const char *dir, char **names, int names_max)
{
    DIR *d = opendir (dir);
    if (!d)
        return 0;
    int count = 0;
    struct dirent *entry;
    while ((entry = readdir (d)) && count < names_max) {
        const char *n = entry->d_name;
        size_t len = strlen (n);
        if (len > 8 && n[0] >= '0' && n[0] <= '9' && n[1] >= '0' && n[1] <= '9' && n[2] >= '0'
            && n[2] <= '9' && n[3] == '_' && strcmp (n + len - 4, ".sql") == 0)
            names[count++] = strdup (n);
    }
    closedir (d);
    qsort (names, (size_t) count, sizeof *names, s_compare_names);
    return count;
}

static char *
s_read_file (const char *path, sq_error_t *err)
{
    FILE *f = fopen (path, "rb");
    if (!f) {
        sq_error_set (err, SQ_ERR_INTERNAL, "", "could not open migration %s: %s", path,
                      strerror (errno));
        return NULL;
    }
    char *text = malloc (SQ_MIGRATE_FILE_SIZE_MAX + 1);
    size_t n = text ? fread (text, 1, SQ_MIGRATE_FILE_SIZE_MAX + 1, f) : 0;
    fclose (f);
    if (!text || n > SQ_MIGRATE_FILE_SIZE_MAX) {
        free (text);
        sq_error_set (err, SQ_ERR_INTERNAL, "", "migration %s is too large", path);
        return NULL;
    }
    text[n] = 0;
    return text;
}

//  Applies one file in its own transaction with search_path set to the schema.
static int
s_apply_file (sq_db_t *db, const char *schema, const char *track, const char *dir,
              const char *name, sq_error_t *err)
{
    char path[2048];
    snprintf (path, sizeof path, "%.1000s/%.1000s", dir, name);
    char *sql = s_read_file (path, err);
    if (!sql)
        return -1;
    char version[4] = {name[0], name[1], name[2], 0};
    const char *set_path[] = {schema};
    const char *record[] = {track, version, name};
    s_apply_t apply = {db, err};
    int rc = sq_db_begin (db, err);
    if (rc == 0)
        rc = sq_db_exec (db, "SELECT set_config('search_path', $1, true)", 1, set_path, err);
    if (rc == 0)
        rc = sq_migrate_split (sql, s_apply_statement, &apply);
    if (rc == 0)
        rc = sq_db_exec (db, "INSERT INTO schema_migrations (track, version, name)"
                         " VALUES ($1, $2::int, $3)", 3, record, err);
    if (rc == 0)
        rc = sq_db_commit (db, err);
    if (rc) {
        sq_db_rollback (db);
        sq_log_error ("migration failed", "schema=%s file=%s error=\"%s\"", schema, path,
                      err->message);
    } else
        sq_log_info ("migration applied", "schema=%s file=%s", schema, path);
    free (sql);
    return rc;
}

static int
s_run_track (sq_db_t *db, const char *schema, const char *track, sq_error_t *err)
{
    char dir[1024];
    snprintf (dir, sizeof dir, "%s/%s", sq_migrate_dir (), track);
    char *names[SQ_MIGRATE_FILES_MAX];
    int count = s_list (dir, names, SQ_MIGRATE_FILES_MAX);
    int applied = 0;
    for (int i = 0; i < count; i++) {
        if (applied >= 0) {
            char version[4] = {names[i][0], names[i][1], names[i][2], 0};
            char sql[256];
            snprintf (sql, sizeof sql, "SELECT 1 FROM %s.schema_migrations"
                      " WHERE track = $1 AND version = $2::int", schema);
            const char *params[] = {track, version};
            PGresult *res = sq_db_query (db, sql, 2, params, err);
            if (!res)
                applied = -1;
            else if (PQntuples (res) == 0)
                applied = s_apply_file (db, schema, track, dir, names[i], err) ? -1 : applied + 1;
            PQclear (res);
        }
        free (names[i]);
    }
    return applied;
}

int
sq_migrate_run (sq_db_t *db, const char *schema, const char *service, sq_error_t *err)
{
    //  NB: schema comes from our own code, never from input; it is still checked, because
    //  it is spliced into SQL as an identifier.
    for (const char *p = schema; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || *p == '_' || (*p >= '0' && *p <= '9')))
            return sq_error_set (err, SQ_ERR_INTERNAL, "", "schema name %s is not plain", schema);
    const char *lock[] = {schema};
    if (sq_db_exec (db, "SELECT pg_advisory_lock(hashtext('shequ.migrate.' || $1))", 1, lock,
                    err))
        return -1;
    char sql[256];
    snprintf (sql, sizeof sql, "CREATE SCHEMA IF NOT EXISTS %s", schema);
    int rc = sq_db_exec (db, sql, 0, NULL, err);
    snprintf (sql, sizeof sql, "CREATE TABLE IF NOT EXISTS %s.schema_migrations (track text,"
              " version int, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now(),"
              " PRIMARY KEY (track, version))", schema);
    if (rc == 0)
        rc = sq_db_exec (db, sql, 0, NULL, err);
    int common = rc == 0 ? s_run_track (db, schema, "common", err) : -1;
    int own = common >= 0 ? s_run_track (db, schema, service, err) : -1;
    sq_error_t ignored;
    sq_db_exec (db, "SELECT pg_advisory_unlock(hashtext('shequ.migrate.' || $1))", 1, lock,
                &ignored);
    return own < 0 ? -1 : common + own;
}
