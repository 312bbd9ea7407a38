/*  The service framework and its database connection.

    Commands that take long: a batch of them (one group commit) can outlast the broker's
    liveness (SQ_MDP_LIVENESS heartbeats), and the worker must keep telling the broker it is
    alive meanwhile, or the broker answers its clients `unavailable` while their commands
    commit (bench_ledger once saw two batches of 8,000 transfers end that way). Here the
    heartbeat is 100 ms, so the broker gives a silent worker 500 ms, and each command takes
    300 ms: a batch of several is well past it.

    Statements planned once (sq_db_query_generic): that one statement, and no other. */
#include "sq_test.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#define HEARTBEAT_MS "100"   //  SHEQU_HEARTBEAT_MS for the bus and the workers of this test
#define SLOW_MS 300          //  what each probe.slow takes
#define CLIENTS 6            //  concurrent callers: the batches after the first hold several

static sq_test_stack_t s_stack;
static sq_service_t *s_probe;

//  Takes SLOW_MS, as a command with much to do would, and answers how long it took.
static int
s_slow (sq_ctx_t *ctx)
{
    int64_t started = sq_clock_ms ();
    usleep (SLOW_MS * 1000);
    msgpack_pack_int64 (ctx->pk, sq_clock_ms () - started);
    return 0;
}

static const sq_command_t s_commands[] = {{"probe.slow", s_slow}, {NULL, NULL}};

static int
s_setup (void **state)
{
    (void) state;
    setenv ("SHEQU_HEARTBEAT_MS", HEARTBEAT_MS, 1);
    setenv ("SHEQU_WORKER_THREADS", "1", 1);
    sq_test_stack_start (&s_stack, "service");
    sq_service_config_t config = {.name = "probe", .schema = "probe", .commands = s_commands,
                                  .concurrency = CLIENTS};
    s_probe = sq_test_service_start (&s_stack, &config);
    return 0;
}

static int
s_teardown (void **state)
{
    (void) state;
    sq_service_destroy (&s_probe);
    sq_test_stack_stop (&s_stack);
    return 0;
}

typedef struct {
    bool ok;
    char code[32];
} s_caller_t;

static void *
s_call (void *arg)
{
    s_caller_t *caller = arg;
    sq_mdp_client_t *client = sq_mdp_client_new (bus_endpoint_commands (s_stack.bus));
    if (!client)
        return NULL;
    sq_test_reply_t *reply = sq_test_call (client, "probe", "probe.slow", "{}", "operator", "",
                                           NULL);
    caller->ok = reply->ok;
    snprintf (caller->code, sizeof caller->code, "%s", reply->ok ? "" : reply->code);
    sq_test_reply_destroy (&reply);
    sq_mdp_client_destroy (&client);
    return NULL;
}

static void
test_long_batches_keep_their_workers (void **state)
{
    (void) state;
    pthread_t threads[CLIENTS];
    s_caller_t callers[CLIENTS];
    memset (callers, 0, sizeof callers);
    int64_t started = sq_clock_ms ();
    for (int i = 0; i < CLIENTS; i++)
        assert_int_equal (pthread_create (&threads[i], NULL, s_call, &callers[i]), 0);
    for (int i = 0; i < CLIENTS; i++)
        pthread_join (threads[i], NULL);
    int64_t took = sq_clock_ms () - started;
    for (int i = 0; i < CLIENTS; i++)
        if (!callers[i].ok)
            fail_msg ("call %d failed with %s after %lld ms", i, callers[i].code,
                      (long long) took);
    //  The calls ran in batches on one thread: together they took at least their sum,
    //  far longer than the broker waits for a silent worker.
    assert_true (took >= CLIENTS * SLOW_MS);
}

//  How often PostgreSQL planned a prepared statement each way (pg_prepared_statements).
static void
s_plans (sq_db_t *db, const char *statement, int64_t *generic, int64_t *custom)
{
    sq_error_t err = {0};
    const char *params[] = {statement};
    PGresult *res = sq_db_query (db, "SELECT generic_plans, custom_plans FROM"
                                 " pg_prepared_statements WHERE statement = $1", 1, params,
                                 &err);
    assert_non_null (res);
    assert_int_equal (PQntuples (res), 1);
    *generic = strtoll (PQgetvalue (res, 0, 0), NULL, 10);
    *custom = strtoll (PQgetvalue (res, 0, 1), NULL, 10);
    PQclear (res);
}

//  What the statement reads as plan_cache_mode when it runs.
static char *
s_mode (sq_db_t *db, bool generic, sq_error_t *err)
{
    const char *sql = generic ? "SELECT current_setting ('plan_cache_mode') || $1::text"
                              : "SELECT current_setting ('plan_cache_mode') || $1::text || ''";
    const char *params[] = {""};
    PGresult *res = generic ? sq_db_query_generic (db, sql, 1, params, err)
                            : sq_db_query (db, sql, 1, params, err);
    char *mode = res ? strdup (PQgetvalue (res, 0, 0)) : NULL;
    PQclear (res);
    return mode;
}

//  sq_db_query_generic plans its statement once for all parameters, and only that
//  statement: the next one, and anything after a failure, plans as before.
static void
test_generic_plan_for_one_statement (void **state)
{
    (void) state;
    sq_db_t *db = sq_test_db_connect (s_stack.conninfo);
    sq_error_t err = {0};
    //  An array statement like the registry's: custom plans see the array, and PostgreSQL
    //  goes on choosing them (more than the 5 it tries before comparing).
    const char *insert = "SELECT count (*) FROM unnest ($1::text[]) AS u (code)"
                         " JOIN pg_class c ON c.relname = u.code";
    const char *params[] = {"{pg_class}"};
    for (int i = 0; i < 8; i++) {
        PGresult *res = sq_db_query (db, insert, 1, params, &err);
        assert_non_null (res);
        PQclear (res);
    }
    int64_t generic = 0, custom = 0;
    s_plans (db, insert, &generic, &custom);
    assert_int_equal (generic, 0);
    assert_int_equal (custom, 8);
    for (int i = 0; i < 8; i++) {
        PGresult *res = sq_db_query_generic (db, insert, 1, params, &err);
        assert_non_null (res);
        assert_string_equal (PQgetvalue (res, 0, 0), "1");
        PQclear (res);
    }
    s_plans (db, insert, &generic, &custom);
    assert_int_equal (generic, 8);
    assert_int_equal (custom, 8);

    char *mode = s_mode (db, true, &err);
    assert_string_equal (mode, "force_generic_plan");
    free (mode);
    mode = s_mode (db, false, &err);
    assert_string_equal (mode, "auto");
    free (mode);

    //  A failing statement in a transaction: the rollback undoes the SET with the rest.
    assert_int_equal (sq_db_begin (db, &err), 0);
    const char *zero[] = {"0"};
    PGresult *res = sq_db_query_generic (db, "SELECT 1 / $1::int", 1, zero, &err);
    assert_null (res);
    assert_string_equal (err.code, SQ_ERR_INTERNAL);
    sq_db_rollback (db);
    memset (&err, 0, sizeof err);
    mode = s_mode (db, false, &err);
    assert_non_null (mode);
    assert_string_equal (mode, "auto");
    free (mode);
    sq_db_destroy (&db);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_long_batches_keep_their_workers),
        cmocka_unit_test (test_generic_plan_for_one_statement),
    };
    return cmocka_run_group_tests (tests, s_setup, s_teardown);
}
