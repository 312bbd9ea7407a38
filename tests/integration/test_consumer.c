/*  A service consuming another's stream (sq_service consumers): each event applied once, in
    order, with its (src, seq) in the inbox; what was published while the consumer was
    stopped is caught up with events.since; a permanently refused event is skipped, a
    passing failure is retried; only one replica consumes at a time. And a service calling
    another from a handler (sq_ctx_call). The consumer here is a probe service defined by
    the test, over the real registry and bus. */
#include "sq_test.h"

#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#define COMMUNITY "131002001007"
#define WAIT_MS 20000

static bus_t *s_bus;
static sq_test_registry_t *s_registry;
static sq_mdp_client_t *s_client;
static sq_db_t *s_db;
static const char *s_conninfo;
static atomic_int s_failures_left; //  passing failures the probe still has to simulate

//  The probe: records each resident event it is given; refuses resident_left for good.
static int
s_probe_apply (sq_ctx_t *ctx, const sq_event_t *event)
{
    if (atomic_load (&s_failures_left) > 0) {
        atomic_fetch_sub (&s_failures_left, 1);
        return sq_error_set (&ctx->err, SQ_ERR_UNAVAILABLE, "", "simulated passing failure");
    }
    if (strcmp (event->env.type, "registry.resident_left") == 0)
        return sq_error_set (&ctx->err, SQ_ERR_INVALID, "", "the probe refuses departures");
    char resident[64] = "", seq[24];
    sq_obj_str_copy (sq_obj_get (event->env.data, "resident"), resident, sizeof resident);
    snprintf (seq, sizeof seq, "%" PRIu64, event->env.seq);
    const char *params[] = {event->env.id, event->env.type, resident, seq};
    return sq_db_exec (ctx->db, "INSERT INTO probe.seen (event_id, type, resident, seq)"
                       " VALUES ($1, $2, $3, $4::bigint)", 4, params, &ctx->err);
}

//  probe.communities {code}: asks the registry for the communities under code and returns
//  how many there are, passing the registry's refusal on as it came.
static int
s_probe_communities (sq_ctx_t *ctx)
{
    msgpack_sbuffer args;
    msgpack_sbuffer_init (&args);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &args, msgpack_sbuffer_write);
    msgpack_pack_object (&pk, *ctx->args);
    sq_reply_t *reply = sq_ctx_call (ctx, "registry", "division.communities", args.data,
                                     args.size, 0);
    msgpack_sbuffer_destroy (&args);
    if (!reply)
        return -1;
    const msgpack_object *count = sq_obj_get (reply->result, "count");
    msgpack_pack_map (ctx->pk, 1);
    sq_pack_kv_int (ctx->pk, "count", count ? (int64_t) count->via.u64 : -1);
    sq_reply_destroy (&reply);
    return 0;
}

static const sq_consumer_t s_consumers[] = {
    {"registry", "registry.resident_", s_probe_apply}, {NULL, NULL, NULL}};
static const sq_command_t s_no_commands[] = {{"probe.communities", s_probe_communities},
                                             {NULL, NULL}};

static sq_service_t *
s_probe_start (void)
{
    static char commands[256], events_in[256], events_out[256];
    snprintf (commands, sizeof commands, "%s", bus_endpoint_commands (s_bus));
    snprintf (events_in, sizeof events_in, "%s", bus_endpoint_events_in (s_bus));
    snprintf (events_out, sizeof events_out, "%s", bus_endpoint_events_out (s_bus));
    sq_service_config_t config = {.name = "probe", .schema = "probe", .commands = s_no_commands,
                                  .conninfo = s_conninfo, .commands_endpoint = commands,
                                  .events_in = events_in, .events_out = events_out,
                                  .consumers = s_consumers, .concurrency = 1};
    sq_service_t *probe = sq_service_new (&config);
    assert_int_equal (sq_service_start (probe), 0);
    return probe;
}

static int64_t
s_count (const char *sql)
{
    return sq_test_db_int (s_db, sql);
}

//  Waits until the probe has recorded expected rows; fails after WAIT_MS.
static void
s_wait_seen (int64_t expected)
{
    int64_t deadline = sq_clock_ms () + WAIT_MS, seen = -1;
    while (sq_clock_ms () < deadline) {
        seen = s_count ("SELECT count(*) FROM probe.seen");
        if (seen >= expected)
            break;
        usleep (50 * 1000);
    }
    assert_int_equal (seen, expected);
}

static void
s_register (int n, char *id, size_t id_size)
{
    char id_number[19], args[256];
    sq_test_id_number (n, id_number);
    snprintf (args, sizeof args, "{\"id_number\":\"%s\",\"name\":\"居民\",\"community\":\""
              COMMUNITY "\",\"residency\":\"registered\"}", id_number);
    sq_test_reply_t *reply = sq_test_call (s_client, "registry", "resident.register", args,
                                           "community_staff", COMMUNITY, NULL);
    assert_true (reply->ok);
    if (id)
        sq_test_str (reply->result, "id", id, id_size);
    sq_test_reply_destroy (&reply);
}

static sq_test_stack_t s_stack; //  owns what the names below point to

static int
s_setup (void **state)
{
    sq_test_stack_start (&s_stack, "consumer");
    s_conninfo = s_stack.conninfo;
    s_bus = s_stack.bus;
    s_registry = s_stack.registry;
    s_client = s_stack.client;
    s_db = s_stack.db;
    sq_error_t err;
    assert_int_equal (sq_db_exec (s_db, "CREATE SCHEMA probe", 0, NULL, &err), 0);
    assert_int_equal (sq_db_exec (s_db, "CREATE TABLE probe.seen (n bigserial, event_id text PRIMARY KEY,"
                                  " type text NOT NULL, resident text NOT NULL,"
                                  " seq bigint NOT NULL)", 0, NULL, &err), 0);
    return 0;
}

static int
s_teardown (void **state)
{
    sq_test_stack_stop (&s_stack);
    return 0;
}

static void
test_applies_once_in_order_and_catches_up (void **state)
{
    //  Events published before the probe existed are fetched with events.since.
    for (int n = 0; n < 5; n++)
        s_register (700000 + n, NULL, 0);
    sq_service_t *probe = s_probe_start ();
    for (int n = 5; n < 20; n++)
        s_register (700000 + n, NULL, 0);
    s_wait_seen (20);
    //  Stopped, it misses nothing: what came meanwhile is applied when it is back.
    sq_service_destroy (&probe);
    for (int n = 20; n < 30; n++)
        s_register (700000 + n, NULL, 0);
    probe = s_probe_start ();
    s_wait_seen (30);
    //  In seq order, each once, each with its inbox row.
    //  n numbers the rows as applied (event ids are time-ordered only to the millisecond: two
    //  events of one millisecond may sort either way, which once failed this check).
    assert_int_equal (s_count ("SELECT count(*) FROM (SELECT seq, lag (seq) OVER (ORDER BY"
                               " n) AS before FROM probe.seen) s WHERE seq < before"), 0);
    assert_int_equal (s_count ("SELECT count(DISTINCT resident) FROM probe.seen"), 30);
    assert_int_equal (s_count ("SELECT count(*) FROM probe.seen s JOIN probe.inbox i"
                               " ON i.src = 'registry' AND i.seq = s.seq"), 30);
    sq_service_destroy (&probe);
}

static void
test_refused_event_is_skipped_passing_failure_retried (void **state)
{
    sq_service_t *probe = s_probe_start ();
    char id[64];
    int64_t before = s_count ("SELECT count(*) FROM probe.seen");
    s_register (710000, id, sizeof id);
    s_wait_seen (++before); //  applied before the failures below are armed
    char args[128];
    snprintf (args, sizeof args, "{\"id\":\"%s\",\"reason\":\"迁出\"}", id);
    sq_test_reply_t *reply = sq_test_call (s_client, "registry", "resident.leave", args,
                                           "community_staff", COMMUNITY, NULL);
    assert_true (reply->ok);
    sq_test_reply_destroy (&reply);
    atomic_store (&s_failures_left, 3); //  the next event fails three times, then applies
    s_register (710001, NULL, 0);
    s_wait_seen (before + 1);
    assert_int_equal (atomic_load (&s_failures_left), 0);
    //  The refused departure is in the inbox (skipped for good), not in the probe's table.
    assert_int_equal (s_count ("SELECT count(*) FROM probe.seen"
                               " WHERE type = 'registry.resident_left'"), 0);
    char sql[256];
    snprintf (sql, sizeof sql, "SELECT count(*) FROM probe.inbox i JOIN registry.outbox o"
              " ON o.seq = i.seq WHERE o.type = 'registry.resident_left'");
    assert_int_equal (s_count (sql), 1);
    sq_service_destroy (&probe);
}

static void
test_one_replica_consumes_at_a_time (void **state)
{
    sq_service_t *a = s_probe_start ();
    //  a takes the lock first (waited for, not assumed: a loaded machine once took longer
    //  than a fixed pause)
    int64_t deadline = sq_clock_ms () + WAIT_MS;
    while (!sq_service_consuming (a) && sq_clock_ms () < deadline)
        usleep (20 * 1000);
    assert_true (sq_service_consuming (a));
    sq_service_t *b = s_probe_start ();
    usleep (300 * 1000);
    assert_true (sq_service_consuming (a));
    assert_false (sq_service_consuming (b));
    int64_t before = s_count ("SELECT count(*) FROM probe.seen");
    for (int n = 0; n < 20; n++)
        s_register (720000 + n, NULL, 0);
    s_wait_seen (before + 20);
    //  The replica holding the lock stops; the other takes over and misses nothing.
    sq_service_destroy (&a);
    deadline = sq_clock_ms () + WAIT_MS;
    while (!sq_service_consuming (b) && sq_clock_ms () < deadline)
        usleep (50 * 1000);
    assert_true (sq_service_consuming (b));
    for (int n = 20; n < 30; n++)
        s_register (720000 + n, NULL, 0);
    s_wait_seen (before + 30);
    assert_int_equal (s_count ("SELECT count(*) - count(DISTINCT seq) FROM probe.inbox"), 0);
    sq_service_destroy (&b);
}

static void
test_a_service_calls_another (void **state)
{
    sq_service_t *probe = s_probe_start ();
    sq_test_reply_t *reply = sq_test_call (s_client, "probe", "probe.communities",
                                           "{\"code\":\"131002\"}", "district_official",
                                           "131002", NULL);
    assert_true (reply->ok);
    int64_t expected = s_count ("SELECT count(*) FROM registry.division WHERE level ="
                                " 'community' AND code LIKE '131002%'");
    assert_true (expected > 0);
    assert_int_equal (sq_test_int (reply->result, "count"), expected);
    sq_test_reply_destroy (&reply);
    //  The registry's refusal comes back with its code and field.
    reply = sq_test_call (s_client, "probe", "probe.communities", "{\"code\":\"131002999\"}",
                          "district_official", "131002", NULL);
    assert_false (reply->ok);
    assert_string_equal (reply->code, "not_found");
    assert_string_equal (reply->field, "code");
    assert_non_null (strstr (reply->message, "registry: "));
    sq_test_reply_destroy (&reply);
    sq_service_destroy (&probe);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_applies_once_in_order_and_catches_up),
        cmocka_unit_test (test_refused_event_is_skipped_passing_failure_retried),
        cmocka_unit_test (test_one_replica_consumes_at_a_time),
        cmocka_unit_test (test_a_service_calls_another),
    };
    return cmocka_run_group_tests (tests, s_setup, s_teardown);
}
