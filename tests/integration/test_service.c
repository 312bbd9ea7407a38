/*  The service framework under commands that take long: a batch of them (one group commit)
    can outlast the broker's liveness (SQ_MDP_LIVENESS heartbeats), and the worker must keep
    telling the broker it is alive meanwhile, or the broker answers its clients `unavailable`
    while their commands commit (bench_ledger once saw two batches of 8,000 transfers end
    that way). Here the heartbeat is 100 ms, so the broker gives a silent worker 500 ms, and
    each command takes 300 ms: a batch of several is well past it. */
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

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_long_batches_keep_their_workers),
    };
    return cmocka_run_group_tests (tests, s_setup, s_teardown);
}
