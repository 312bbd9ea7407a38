/*  The upgrade of an outbox to seqs taken at commit (schemas/common/003_seq_at_commit.sql) on
    a database the previous version left with events not yet stamped: they get the seqs the
    previous relay would have given them (in the order of their transactions, not of their
    ids), the stream's counter and the relay's published position carry over, and the next
    events follow without a gap. Migrations 001 and 002 are applied from a copy of the
    schemas tree that lacks 003, then 003 is added. */
#include "sq_migrate.h"
#include "sq_test.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#define SCHEMA "upgrade"

static char s_dir[256];              //  the copy of the schemas tree
static const char *s_conninfo;

static const char *
s_source_dir (void)
{
    const char *dir = getenv ("SHEQU_SOURCE_DIR");
    return dir && *dir ? dir : SQ_SOURCE_DIR;
}

//  Copies schemas/common/<name> of the source tree into the copy.
static void
s_copy_migration (const char *name)
{
    char from[512], to[512];
    snprintf (from, sizeof from, "%s/schemas/common/%s", s_source_dir (), name);
    snprintf (to, sizeof to, "%s/common/%s", s_dir, name);
    FILE *in = fopen (from, "rb"), *out = fopen (to, "wb");
    assert_non_null (in);
    assert_non_null (out);
    char buf[4096];
    size_t n;
    while ((n = fread (buf, 1, sizeof buf, in)) > 0)
        assert_int_equal (fwrite (buf, 1, n, out), n);
    fclose (in);
    fclose (out);
}

static void
s_migrate (sq_db_t *db, int expected)
{
    sq_error_t err;
    int applied = sq_migrate_run (db, SCHEMA, SCHEMA, &err);
    if (applied < 0)
        fail_msg ("migration failed: %s", err.message);
    assert_int_equal (applied, expected);
}

//  An event row as the previous version wrote it: no seq, its transaction's xid by default.
static void
s_old_row (sq_db_t *db, const char *event_id, const char *seq)
{
    const char *params[] = {event_id, seq};
    sq_error_t err;
    if (sq_db_exec (db, "INSERT INTO " SCHEMA ".outbox (event_id, seq, type, div, at, actor,"
                    " data) VALUES ($1, $2::bigint, 'upgrade.tested', '', 1, 'test',"
                    " '\\x80'::bytea)", 2, params, &err))
        fail_msg ("%s", err.message);
}

static int64_t
s_seq_of (sq_db_t *db, const char *event_id)
{
    char sql[256];
    snprintf (sql, sizeof sql, "SELECT seq FROM " SCHEMA ".outbox WHERE event_id = '%s'",
              event_id);
    return sq_test_db_int (db, sql);
}

static void
test_unstamped_events_keep_their_order (void **state)
{
    (void) state;
    //  Beside the test's logs (ctest sets SHEQU_TEST_LOGS), one per process.
    const char *logs = getenv ("SHEQU_TEST_LOGS");
    snprintf (s_dir, sizeof s_dir, "%s/upgrade-schemas-%d", logs && *logs ? logs : "/tmp",
              (int) getpid ());
    mkdir (logs && *logs ? logs : "/tmp", 0700);
    assert_int_equal (mkdir (s_dir, 0700), 0);
    char sub[300];
    snprintf (sub, sizeof sub, "%s/common", s_dir);
    assert_int_equal (mkdir (sub, 0700), 0);
    snprintf (sub, sizeof sub, "%s/" SCHEMA, s_dir);
    assert_int_equal (mkdir (sub, 0700), 0);
    s_copy_migration ("001_service_tables.sql");
    s_copy_migration ("002_published_position.sql");
    setenv ("SHEQU_SCHEMAS_DIR", s_dir, 1);

    s_conninfo = sq_test_db_fresh ("upgrade");
    sq_db_t *db = sq_test_db_connect (s_conninfo);
    s_migrate (db, 2);
    sq_error_t err;
    //  Two events stamped and published, as the previous relay left them.
    assert_int_equal (sq_db_exec (db, "INSERT INTO " SCHEMA ".stream (name, last_seq,"
                                  " published_seq) VALUES ('" SCHEMA "', 2, 2)", 0, NULL, &err),
                      0);
    s_old_row (db, "old-1", "1");
    s_old_row (db, "old-2", "2");
    //  Three not stamped yet: a began first (lower xid) but wrote after b committed.
    sq_db_t *a = sq_test_db_connect (s_conninfo), *b = sq_test_db_connect (s_conninfo);
    assert_int_equal (sq_db_begin (a, &err), 0);
    free (sq_test_db_value (a, "SELECT pg_current_xact_id ()::text"));
    assert_int_equal (sq_db_begin (b, &err), 0);
    s_old_row (b, "late-xid-early-id", NULL);
    assert_int_equal (sq_db_commit (b, &err), 0);
    s_old_row (a, "early-xid-1", NULL);
    s_old_row (a, "early-xid-2", NULL);
    assert_int_equal (sq_db_commit (a, &err), 0);
    sq_db_destroy (&a);
    sq_db_destroy (&b);

    s_copy_migration ("003_seq_at_commit.sql");
    s_migrate (db, 1);
    assert_int_equal (s_seq_of (db, "old-1"), 1);
    assert_int_equal (s_seq_of (db, "old-2"), 2);
    assert_int_equal (s_seq_of (db, "early-xid-1"), 3);
    assert_int_equal (s_seq_of (db, "early-xid-2"), 4);
    assert_int_equal (s_seq_of (db, "late-xid-early-id"), 5);
    assert_int_equal (sq_outbox_last_seq (db, SCHEMA, SCHEMA, &err), 5);
    assert_int_equal (sq_test_db_int (db, "SELECT published_seq FROM " SCHEMA ".relay_position"
                                          " WHERE name = '" SCHEMA "'"), 2);
    assert_int_equal (sq_test_db_int (db, "SELECT count(*) FROM information_schema.columns"
                                          " WHERE table_schema = '" SCHEMA "' AND table_name ="
                                          " 'outbox' AND column_name IN ('id', 'xid',"
                                          " 'published')"), 0);

    //  The next events follow on, by both ways of writing them.
    assert_int_equal (sq_outbox_prepare (db, SCHEMA, SCHEMA, &err), 0);
    for (size_t count = 1; count <= SQ_OUTBOX_COPY_MIN; count += SQ_OUTBOX_COPY_MIN - 1) {
        sq_outbox_many_t many;
        sq_outbox_many_init (&many);
        for (size_t i = 0; i < count; i++) {
            sq_envelope_t env = {.at = 1};
            sq_id_new (env.id);
            snprintf (env.type, sizeof env.type, "upgrade.tested");
            snprintf (env.actor, sizeof env.actor, "test");
            sq_outbox_many_add (&many, &env, "\x80", 1);
        }
        assert_int_equal (sq_db_begin (db, &err), 0);
        assert_int_equal (sq_outbox_flush (db, SCHEMA, SCHEMA, &many, &err), 0);
        assert_int_equal (sq_db_commit (db, &err), 0);
        sq_outbox_many_destroy (&many);
    }
    //  A stream without its counter row (sq_outbox_prepare not run) writes nothing and
    //  fails, by both ways, rather than losing its events.
    for (size_t count = 1; count <= SQ_OUTBOX_COPY_MIN; count += SQ_OUTBOX_COPY_MIN - 1) {
        sq_outbox_many_t many;
        sq_outbox_many_init (&many);
        for (size_t i = 0; i < count; i++) {
            sq_envelope_t env = {.at = 1};
            sq_id_new (env.id);
            snprintf (env.type, sizeof env.type, "upgrade.tested");
            sq_outbox_many_add (&many, &env, "\x80", 1);
        }
        assert_int_equal (sq_db_begin (db, &err), 0);
        int rc = sq_outbox_flush (db, SCHEMA, "no-counter-row", &many, &err);
        if (rc == 0)
            rc = sq_db_commit (db, &err);
        assert_int_equal (rc, -1);
        sq_db_rollback (db);
        sq_outbox_many_destroy (&many);
    }
    int64_t total = 5 + 1 + SQ_OUTBOX_COPY_MIN;
    assert_int_equal (sq_outbox_last_seq (db, SCHEMA, SCHEMA, &err), total);
    assert_int_equal (sq_test_db_int (db, "SELECT count(*) FROM " SCHEMA ".outbox"), total);
    assert_int_equal (sq_test_db_int (db, "SELECT max (seq) - min (seq) + 1 FROM " SCHEMA
                                          ".outbox"), total);
    sq_db_destroy (&db);

    unsetenv ("SHEQU_SCHEMAS_DIR");
    const char *files[] = {"common/001_service_tables.sql", "common/002_published_position.sql",
                           "common/003_seq_at_commit.sql", "common", SCHEMA, ""};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char path[400];
        snprintf (path, sizeof path, "%s/%s", s_dir, files[i]);
        remove (path);
    }
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_unstamped_events_keep_their_order),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
