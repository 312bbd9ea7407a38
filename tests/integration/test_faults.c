/*  Faults: the relay's process killed with SIGKILL while 10,000 residents are being
    registered (a subscriber still gets every event exactly once, seq 1..N, no gap), and
    Redis stalled, stopped and restarted in the middle of a run (every command succeeds,
    figures stay equal to the database). */
#include "sq_json.h"
#include "sq_test.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#define RESIDENTS 10000          //  registrations during the relay kill
#define SENDERS 8                //  concurrent clients
#define KILL_AFTER 2000          //  registrations done before the kill
#define CALL_TIMEOUT_MS 20000    //  longer than the bus's dead-worker detection
#define ATTEMPTS_MAX 30          //  retries of one registration on `unavailable`
#define DRAIN_TIMEOUT_MS 180000  //  time allowed for the subscriber to see everything

static const char *s_communities[] = {"131002001007", "131002001010", "131002002002",
                                      "131003001001", "510402001002"};

typedef struct {
    const char *commands;        //  bus endpoint
    int first, count;            //  residents this sender registers
    atomic_int *done;            //  registrations confirmed, all senders
    atomic_int *failed;          //  registrations given up
} s_sender_t;

static void *
s_sender (void *arg)
{
    s_sender_t *sender = arg;
    sq_mdp_client_t *client = sq_mdp_client_new (sender->commands);
    for (int n = sender->first; n < sender->first + sender->count; n++) {
        char id_number[19], args[256], idem[32];
        sq_test_id_number (n, id_number);
        snprintf (args, sizeof args, "{\"id_number\":\"%s\",\"name\":\"居民%d\",\"community\":"
                  "\"%s\",\"residency\":\"registered\"}", id_number, n, s_communities[n % 5]);
        snprintf (idem, sizeof idem, "fault-%d", n);
        int ok = 0;
        for (int attempt = 0; attempt < ATTEMPTS_MAX && !ok; attempt++) {
            msgpack_sbuffer buf;
            msgpack_sbuffer_init (&buf);
            msgpack_packer pk;
            msgpack_packer_init (&pk, &buf, msgpack_sbuffer_write);
            msgpack_pack_map (&pk, 4);
            sq_pack_kv_str (&pk, "cmd", "resident.register");
            sq_pack_str (&pk, "args");
            char why[64];
            sq_json_to_msgpack (args, strlen (args), &pk, why, sizeof why);
            sq_pack_str (&pk, "actor");
            msgpack_pack_map (&pk, 3);
            sq_pack_kv_str (&pk, "id", "fault-test");
            sq_pack_kv_str (&pk, "role", "operator");
            sq_pack_kv_str (&pk, "scope", "");
            sq_pack_kv_str (&pk, "idem", idem);
            void *reply = NULL;
            size_t size = 0;
            if (sq_mdp_client_call (client, "registry", buf.data, buf.size, CALL_TIMEOUT_MS,
                                    &reply, &size) == 0) {
                sq_doc_t *doc = sq_doc_new (reply, size, why, sizeof why);
                const msgpack_object *flag = doc ? sq_obj_get (sq_doc_root (doc), "ok") : NULL;
                ok = flag && flag->type == MSGPACK_OBJECT_BOOLEAN && flag->via.boolean;
                if (!ok && attempt == ATTEMPTS_MAX - 1) {
                    char *json = doc ? sq_json_from_msgpack (sq_doc_root (doc)) : NULL;
                    print_message ("registration %d gave up: %s\n", n, json ? json : "?");
                    free (json);
                }
                sq_doc_destroy (&doc);
                free (reply);
            } else if (attempt == ATTEMPTS_MAX - 1)
                print_message ("registration %d gave up: no reply\n", n);
            msgpack_sbuffer_destroy (&buf);
        }
        atomic_fetch_add (ok ? sender->done : sender->failed, 1);
    }
    sq_mdp_client_destroy (&client);
    return NULL;
}

//  Asks health until the replica running the relay answers; returns its pid, or 0.
static pid_t
s_relay_pid (sq_mdp_client_t *client)
{
    for (int i = 0; i < 200; i++) {
        sq_test_reply_t *reply = sq_test_call (client, "registry", "health", "{}", "operator",
                                               "", NULL);
        const msgpack_object *active =
            sq_obj_get (sq_obj_get (reply->result, "stream"), "relay_active_here");
        char replica[96];
        sq_test_str (reply->result, "replica", replica, sizeof replica);
        pid_t pid = 0;
        if (active && active->type == MSGPACK_OBJECT_BOOLEAN && active->via.boolean)
            pid = (pid_t) strtol (strrchr (replica, ':') + 1, NULL, 10);
        sq_test_reply_destroy (&reply);
        if (pid)
            return pid;
        usleep (50 * 1000);
    }
    return 0;
}

static void
test_relay_killed_mid_run_loses_nothing (void **state)
{
    const char *conninfo = sq_test_db_fresh ("faults_relay");
    bus_t *bus = sq_test_bus_start ();
    pid_t replicas[3] = {0};
    replicas[0] = sq_test_spawn ("shequ-registry", "faults-replica-1",
                                 sq_test_service_env (bus, conninfo));
    sq_mdp_client_t *client = sq_mdp_client_new (bus_endpoint_commands (bus));
    pid_t relay = s_relay_pid (client);
    assert_int_equal (relay, replicas[0]);
    replicas[1] = sq_test_spawn ("shequ-registry", "faults-replica-2",
                                 sq_test_service_env (bus, conninfo));
    sq_test_import_divisions (client);

    sq_sub_t *sub = sq_sub_new (bus_endpoint_events_out (bus), bus_endpoint_commands (bus));
    sq_sub_track (sub, "registry", 0);
    atomic_int done = 0, failed = 0;
    pthread_t threads[SENDERS];
    s_sender_t senders[SENDERS];
    for (int t = 0; t < SENDERS; t++) {
        senders[t] = (s_sender_t) {bus_endpoint_commands (bus), t * (RESIDENTS / SENDERS),
                                   RESIDENTS / SENDERS, &done, &failed};
        pthread_create (&threads[t], NULL, s_sender, &senders[t]);
    }
    //  Count what the subscriber hands out while the senders run; kill the relay midway.
    uint8_t *seen = calloc (RESIDENTS + 16, 1);
    int duplicates = 0, registered = 0, beyond = 0;
    bool killed = false;
    int64_t deadline = sq_clock_ms () + DRAIN_TIMEOUT_MS;
    while (sq_clock_ms () < deadline) {
        if (!killed && atomic_load (&done) >= KILL_AFTER) {
            kill (relay, SIGKILL);
            waitpid (relay, NULL, 0);
            killed = true;
        }
        bool finished = atomic_load (&done) + atomic_load (&failed) == RESIDENTS
                        && sq_sub_last_seq (sub, "registry") >= RESIDENTS + 1;
        sq_event_t *event = sq_sub_next (sub, finished ? 0 : 100);
        if (!event && finished)
            break; //  everything the subscriber took has been handed out
        if (!event)
            continue;
        if (event->env.seq > RESIDENTS + 1)
            beyond++;
        else if (seen[event->env.seq]++)
            duplicates++;
        registered += strcmp (event->env.type, "registry.resident_registered") == 0;
        sq_event_destroy (&event);
    }
    for (int t = 0; t < SENDERS; t++)
        pthread_join (threads[t], NULL);
    assert_true (killed);
    assert_int_equal (atomic_load (&failed), 0);
    assert_int_equal (atomic_load (&done), RESIDENTS);
    int missing = 0;
    for (int seq = 1; seq <= RESIDENTS + 1; seq++)
        missing += !seen[seq];
    print_message ("relay kill: %d events, %d missing, %d duplicates, %d beyond, %" PRIu64
                   " fetched with events.since\n", registered, missing, duplicates, beyond,
                   sq_sub_fetched (sub));
    assert_int_equal (missing, 0);
    assert_int_equal (duplicates, 0);
    assert_int_equal (beyond, 0);
    assert_int_equal (registered, RESIDENTS);
    sq_db_t *db = sq_test_db_connect (conninfo);
    char *count = sq_test_db_value (db, "SELECT count(*) FROM registry.resident");
    assert_int_equal (strtol (count, NULL, 10), RESIDENTS); //  retries changed nothing twice
    free (count);
    sq_db_destroy (&db);
    free (seen);
    sq_sub_destroy (&sub);
    sq_mdp_client_destroy (&client);
    sq_test_stop (replicas[1], SIGTERM, 10000);
    bus_destroy (&bus);
}


//  Registers count residents and reads stats; every command must succeed and the figures
//  must equal the database.
static void
s_round (sq_mdp_client_t *client, sq_db_t *db, int *next, int count)
{
    for (int i = 0; i < count; i++, (*next)++) {
        char id_number[19], args[256];
        sq_test_id_number (*next, id_number);
        snprintf (args, sizeof args, "{\"id_number\":\"%s\",\"name\":\"居民\",\"community\":"
                  "\"131002001007\",\"residency\":\"floating\"}", id_number);
        sq_test_reply_t *reply = sq_test_call (client, "registry", "resident.register", args,
                                               "community_staff", "131002001007", NULL);
        if (!reply->ok)
            fail_msg ("register failed with redis away: %s", reply->message);
        sq_test_reply_destroy (&reply);
    }
    sq_test_reply_t *reply = sq_test_call (client, "registry", "stats.get",
                                           "{\"division\":\"131002\"}", "operator", "", NULL);
    assert_true (reply->ok);
    char *expected = sq_test_db_value (db, "SELECT count(*) FROM registry.resident"
                                           " WHERE community LIKE '131002%' AND status = 'active'");
    assert_int_equal (sq_test_int (sq_obj_get (reply->result, "residents"), "total"),
                      strtoll (expected, NULL, 10));
    free (expected);
    sq_test_reply_destroy (&reply);
}

//  True when the stats value sits in Redis, asking stats.get again a few times (the service
//  stays away from Redis for a moment after a failure).
static bool
s_cached (sq_mdp_client_t *client, sq_db_t *db, const char *address)
{
    for (int attempt = 0; attempt < 20; attempt++) {
        int next = 0;
        s_round (client, db, &next, 0);
        sq_cache_t *cache = sq_cache_new (address);
        size_t size = 0;
        void *cached = sq_cache_get (cache, "shequ:registry:stats:131002", &size);
        sq_cache_destroy (&cache);
        free (cached);
        if (cached)
            return true;
        usleep (100 * 1000);
    }
    return false;
}

static void
test_redis_stalled_or_down_never_fails (void **state)
{
    int port = sq_test_free_port ();
    char address[32];
    snprintf (address, sizeof address, "127.0.0.1:%d", port);
    setenv ("SHEQU_REDIS", address, 1);
    setenv ("SHEQU_REDIS_RETRY_MS", "200", 1);
    //  Sanitizer builds on a busy machine can take longer than the 100 ms default to answer.
    setenv ("SHEQU_REDIS_TIMEOUT_MS", "500", 1);
    pid_t redis = sq_test_redis_start (port);
    const char *conninfo = sq_test_db_fresh ("faults_redis");
    bus_t *bus = sq_test_bus_start ();
    sq_test_registry_t *registry = sq_test_registry_start (bus, conninfo);
    sq_mdp_client_t *client = sq_mdp_client_new (bus_endpoint_commands (bus));
    sq_db_t *db = sq_test_db_connect (conninfo);
    sq_test_import_divisions (client);
    int next = 500000;
    s_round (client, db, &next, 10);
    assert_true (s_cached (client, db, address)); //  warm: served from Redis from now on

    kill (redis, SIGSTOP); //  stalled: connections hang
    s_round (client, db, &next, 10);
    kill (redis, SIGCONT); //  back, holding a value older than the database
    s_round (client, db, &next, 10);
    kill (redis, SIGKILL); //  down
    waitpid (redis, NULL, 0);
    s_round (client, db, &next, 10);
    redis = sq_test_redis_start (port); //  restarted, empty
    usleep (300 * 1000);
    s_round (client, db, &next, 10);
    s_round (client, db, &next, 1);
    assert_true (s_cached (client, db, address)); //  the cache is used again

    kill (redis, SIGKILL);
    waitpid (redis, NULL, 0);
    sq_db_destroy (&db);
    sq_mdp_client_destroy (&client);
    sq_test_registry_stop (&registry);
    bus_destroy (&bus);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_redis_stalled_or_down_never_fails),
        cmocka_unit_test (test_relay_killed_mid_run_loses_nothing),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
