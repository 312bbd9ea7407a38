/*  test_bus: the bus in-process on tcp://127.0.0.1:* (Majordomo broker and event proxy),
    spoken to with sq_mdp and with raw sockets, and the shequ-bus binary under SIGTERM.
    Heartbeats are 100 ms here, so a silent worker is dropped in about half a second. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "broker.h"
#include "shequ.h"
#include "sq_test.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define TEST_HEARTBEAT_MS 100         //  bus and workers
#define TEST_HEARTBEAT_TEXT "100"
#define TEST_REQUEST_TIMEOUT_MS 400   //  a queued request waits this long
#define TEST_QUEUE_MAX 4              //  requests queued per service
#define TEST_MSG_MAX (64 * 1024)      //  largest frame the bus accepts
#define TEST_CALL_MS 5000             //  a call that must be answered
#define TEST_WAIT_MS 5000             //  longest wait for a condition
#define TEST_POLL_MS 20               //  worker threads' poll interval
#define TEST_FRAMES_MAX 8             //  frames read by the raw-socket helpers
#define TEST_SERVICE "echo"

extern char **environ;

// ---- helpers -----------------------------------------------------------------------------

typedef struct {
    bus_t *bus;
    sq_mdp_client_t *client;
} fixture_t;

static int
s_setup (void **state)
{
    setenv (SQ_ENV_HEARTBEAT_MS, TEST_HEARTBEAT_TEXT, 1);
    bus_config_t config;
    assert_int_equal (bus_config_from_env (&config), 0);
    snprintf (config.commands, sizeof config.commands, "tcp://127.0.0.1:*");
    snprintf (config.events_in, sizeof config.events_in, "tcp://127.0.0.1:*");
    snprintf (config.events_out, sizeof config.events_out, "tcp://127.0.0.1:*");
    config.heartbeat_ms = TEST_HEARTBEAT_MS;
    config.request_timeout_ms = TEST_REQUEST_TIMEOUT_MS;
    config.queue_max = TEST_QUEUE_MAX;
    config.msg_max = TEST_MSG_MAX;
    fixture_t *fixture = calloc (1, sizeof *fixture);
    assert_non_null (fixture);
    fixture->bus = bus_new (&config);
    assert_non_null (fixture->bus);
    assert_int_equal (bus_start (fixture->bus), 0);
    fixture->client = sq_mdp_client_new (bus_endpoint_commands (fixture->bus));
    assert_non_null (fixture->client);
    *state = fixture;
    return 0;
}

static int
s_teardown (void **state)
{
    fixture_t *fixture = *state;
    sq_mdp_client_destroy (&fixture->client);
    bus_destroy (&fixture->bus);
    assert_null (fixture->bus);
    free (fixture);
    return 0;
}

//  An echo worker in its own thread: replies "<name>:<body>", or takes one request and
//  then goes silent (no reply, no heartbeat) while hang is set.
typedef struct {
    char endpoint[SQ_MDP_ENDPOINT_MAX];
    char name[16];
    atomic_bool stop;
    atomic_bool hang;
    atomic_int handled;
    pthread_t thread;
} test_worker_t;

static void
s_worker_serve (test_worker_t *self, sq_mdp_worker_t *worker)
{
    sq_mdp_request_t request = {0};
    if (sq_mdp_worker_read (worker, &request) != 1)
        return;
    atomic_fetch_add (&self->handled, 1);
    if (atomic_load (&self->hang)) {
        sq_mdp_request_clear (&request);
        while (!atomic_load (&self->stop))
            usleep (TEST_POLL_MS * 1000);
        return;
    }
    char reply[TEST_MSG_MAX];
    int size = snprintf (reply, sizeof reply, "%s:%.*s", self->name, (int) request.body_size,
                         (const char *) request.body);
    sq_mdp_worker_reply (worker, &request, reply, (size_t) size);
    sq_mdp_request_clear (&request);
}

static void *
s_worker_run (void *argument)
{
    test_worker_t *self = argument;
    sq_mdp_worker_t *worker = sq_mdp_worker_new (self->endpoint, TEST_SERVICE);
    if (!worker)
        return NULL;
    void *socket = sq_mdp_worker_socket (worker);
    while (!atomic_load (&self->stop)) {
        sq_mdp_worker_tick (worker);
        zmq_pollitem_t item = {socket, 0, ZMQ_POLLIN, 0};
        if (zmq_poll (&item, 1, TEST_POLL_MS) == 1)
            s_worker_serve (self, worker);
    }
    sq_mdp_worker_destroy (&worker);
    return NULL;
}

static test_worker_t *
s_worker_start (const char *endpoint, const char *name, bool hang)
{
    test_worker_t *self = calloc (1, sizeof *self);
    assert_non_null (self);
    snprintf (self->endpoint, sizeof self->endpoint, "%s", endpoint);
    snprintf (self->name, sizeof self->name, "%s", name);
    atomic_init (&self->stop, false);
    atomic_init (&self->hang, hang);
    atomic_init (&self->handled, 0);
    assert_int_equal (pthread_create (&self->thread, NULL, s_worker_run, self), 0);
    return self;
}

static void
s_worker_stop (test_worker_t **self_p)
{
    test_worker_t *self = *self_p;
    atomic_store (&self->stop, true);
    pthread_join (self->thread, NULL);
    free (self);
    *self_p = NULL;
}

//  Decodes an mmi.workers reply and finds service in it. Returns the doc (caller destroys).
static sq_doc_t *
s_mmi_workers (sq_mdp_client_t *client, const char *service, const msgpack_object **entry,
               void **reply)
{
    size_t size = 0;
    *entry = NULL;
    assert_int_equal (sq_mdp_client_call (client, "mmi.workers", "", 0, TEST_CALL_MS, reply,
                                          &size), 0);
    char why[SQ_ERROR_MESSAGE_MAX];
    sq_doc_t *doc = sq_doc_new (*reply, size, why, sizeof why);
    assert_non_null (doc);
    const msgpack_object *services = sq_obj_get (sq_doc_root (doc), "services");
    assert_non_null (services);
    assert_int_equal (services->type, MSGPACK_OBJECT_ARRAY);
    for (uint32_t i = 0; i < services->via.array.size; i++)
        if (sq_obj_str_eq (sq_obj_get (&services->via.array.ptr[i], "name"), service))
            *entry = &services->via.array.ptr[i];
    return doc;
}

static uint64_t
s_uint (const msgpack_object *map, const char *key)
{
    const msgpack_object *value = sq_obj_get (map, key);
    assert_non_null (value);
    assert_int_equal (value->type, MSGPACK_OBJECT_POSITIVE_INTEGER);
    return value->via.u64;
}

//  Waits until the bus lists exactly `workers` workers of the echo service, all waiting.
static void
s_wait_workers (sq_mdp_client_t *client, uint64_t workers)
{
    int64_t deadline_ms = sq_clock_ms () + TEST_WAIT_MS;
    while (true) {
        const msgpack_object *entry;
        void *reply;
        sq_doc_t *doc = s_mmi_workers (client, TEST_SERVICE, &entry, &reply);
        bool done = workers == 0 ? !entry || s_uint (entry, "workers") == 0
                                 : entry && s_uint (entry, "workers") == workers
                                       && s_uint (entry, "waiting") == workers;
        sq_doc_destroy (&doc);
        free (reply);
        if (done)
            return;
        assert_true (sq_clock_ms () < deadline_ms);
        usleep (TEST_POLL_MS * 1000);
    }
}

//  Checks that a reply is {"ok": false, "error": {"code": "unavailable", "message": ~needle}}.
static void
s_assert_unavailable (const void *reply, size_t size, const char *needle)
{
    char why[SQ_ERROR_MESSAGE_MAX];
    sq_doc_t *doc = sq_doc_new (reply, size, why, sizeof why);
    assert_non_null (doc);
    const msgpack_object *root = sq_doc_root (doc);
    const msgpack_object *ok = sq_obj_get (root, "ok");
    assert_non_null (ok);
    assert_int_equal (ok->type, MSGPACK_OBJECT_BOOLEAN);
    assert_false (ok->via.boolean);
    const msgpack_object *error = sq_obj_get (root, "error");
    assert_true (sq_obj_str_eq (sq_obj_get (error, "code"), SQ_ERR_UNAVAILABLE));
    char message[SQ_ERROR_MESSAGE_MAX];
    assert_int_equal (sq_obj_str_copy (sq_obj_get (error, "message"), message, sizeof message), 0);
    if (!strstr (message, needle))
        fail_msg ("message \"%s\" does not say \"%s\"", message, needle);
    sq_doc_destroy (&doc);
}

//  Calls the echo service and checks that the reply starts with expected.
static void
s_call_echo (sq_mdp_client_t *client, const char *body, const char *expected)
{
    void *reply = NULL;
    size_t size = 0;
    assert_int_equal (sq_mdp_client_call (client, TEST_SERVICE, body, strlen (body),
                                          TEST_CALL_MS, &reply, &size), 0);
    assert_true (size >= strlen (expected));
    assert_memory_equal (reply, expected, strlen (expected));
    free (reply);
}

//  A msgpack request body {"cmd": "echo", "idem": idem} (idem NULL: no idem).
static void
s_pack_request (msgpack_sbuffer *buffer, const char *idem)
{
    msgpack_packer pk;
    msgpack_packer_init (&pk, buffer, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, idem ? 2 : 1);
    sq_pack_kv_str (&pk, "cmd", "echo");
    if (idem)
        sq_pack_kv_str (&pk, "idem", idem);
}

static void *
s_raw_socket (int type, const char *endpoint)
{
    void *socket = zmq_socket (sq_zmq_context (), type);
    assert_non_null (socket);
    assert_int_equal (sq_zmq_socket_setup (socket), 0);
    assert_int_equal (zmq_connect (socket, endpoint), 0);
    return socket;
}

//  Sends the NULL-terminated list of strings as one message.
static void
s_raw_send (void *socket, ...)
{
    va_list args;
    va_start (args, socket);
    const char *frame = va_arg (args, const char *);
    while (frame) {
        const char *next = va_arg (args, const char *);
        assert_true (zmq_send (socket, frame, strlen (frame), next ? ZMQ_SNDMORE : 0) >= 0);
        frame = next;
    }
    va_end (args);
}

//  Receives one message within timeout_ms. Returns its frame count, 0 on timeout.
static int
s_raw_recv (void *socket, int timeout_ms, zmq_msg_t *frames)
{
    zmq_pollitem_t item = {socket, 0, ZMQ_POLLIN, 0};
    if (zmq_poll (&item, 1, timeout_ms) != 1)
        return 0;
    int count = sq_zmq_frames_recv (socket, frames, TEST_FRAMES_MAX, 0);
    assert_true (count > 0 && count <= TEST_FRAMES_MAX);
    return count;
}

// ---- Majordomo ---------------------------------------------------------------------------

static void
test_request_reaches_worker (void **state)
{
    fixture_t *fixture = *state;
    test_worker_t *worker = s_worker_start (bus_endpoint_commands (fixture->bus), "a", false);
    s_wait_workers (fixture->client, 1);
    s_call_echo (fixture->client, "hello", "a:hello");
    s_call_echo (fixture->client, "again", "a:again");
    assert_int_equal (atomic_load (&worker->handled), 2);
    s_worker_stop (&worker);
    s_wait_workers (fixture->client, 0); //  DISCONNECT on destroy is seen at once
}

static void
test_workers_share_requests (void **state)
{
    fixture_t *fixture = *state;
    const char *endpoint = bus_endpoint_commands (fixture->bus);
    test_worker_t *a = s_worker_start (endpoint, "a", false);
    test_worker_t *b = s_worker_start (endpoint, "b", false);
    s_wait_workers (fixture->client, 2);
    for (int i = 0; i < 20; i++)
        s_call_echo (fixture->client, "x", "");
    //  Round robin over waiting workers: calls one at a time alternate exactly.
    assert_int_equal (atomic_load (&a->handled), 10);
    assert_int_equal (atomic_load (&b->handled), 10);
    s_worker_stop (&a);
    s_worker_stop (&b);
}

//  A hangs on the request it takes; returns how long the call took, reply in *reply.
static int64_t
s_call_hanging (fixture_t *fixture, const char *idem, test_worker_t **hanging,
                test_worker_t **healthy, void **reply, size_t *size)
{
    const char *endpoint = bus_endpoint_commands (fixture->bus);
    //  A first, so that it is first in the waiting list and takes the request.
    *hanging = s_worker_start (endpoint, "a", true);
    s_wait_workers (fixture->client, 1);
    *healthy = s_worker_start (endpoint, "b", false);
    s_wait_workers (fixture->client, 2);
    msgpack_sbuffer body;
    msgpack_sbuffer_init (&body);
    s_pack_request (&body, idem);
    int64_t started_ms = sq_clock_ms ();
    assert_int_equal (sq_mdp_client_call (fixture->client, TEST_SERVICE, body.data, body.size,
                                          TEST_CALL_MS, reply, size), 0);
    msgpack_sbuffer_destroy (&body);
    assert_int_equal (atomic_load (&(*hanging)->handled), 1);
    return sq_clock_ms () - started_ms;
}

static void
test_lost_worker_without_idem (void **state)
{
    fixture_t *fixture = *state;
    test_worker_t *a, *b;
    void *reply;
    size_t size;
    int64_t took_ms = s_call_hanging (fixture, NULL, &a, &b, &reply, &size);
    s_assert_unavailable (reply, size, "lost before it replied");
    assert_true (took_ms >= TEST_HEARTBEAT_MS * (SQ_MDP_LIVENESS - 1));
    assert_int_equal (atomic_load (&b->handled), 0); //  not idempotent: never run twice
    free (reply);
    s_worker_stop (&a);
    s_worker_stop (&b);
}

static void
test_lost_worker_with_idem (void **state)
{
    fixture_t *fixture = *state;
    test_worker_t *a, *b;
    void *reply;
    size_t size;
    s_call_hanging (fixture, "key-1", &a, &b, &reply, &size);
    assert_true (size > 2);
    assert_memory_equal (reply, "b:", 2); //  requeued to the other worker
    assert_int_equal (atomic_load (&b->handled), 1);
    free (reply);
    s_worker_stop (&a);
    s_worker_stop (&b);
}

//  A raw worker takes a request and closes its socket without DISCONNECT.
static void
test_closed_worker (void **state)
{
    fixture_t *fixture = *state;
    void *raw = s_raw_socket (ZMQ_DEALER, bus_endpoint_commands (fixture->bus));
    s_raw_send (raw, "", SQ_MDP_WORKER, "\x01", TEST_SERVICE, NULL);
    s_wait_workers (fixture->client, 1);
    assert_int_equal (sq_mdp_client_send (fixture->client, TEST_SERVICE, "job", 3), 0);
    zmq_msg_t frames[TEST_FRAMES_MAX];
    int count;
    while ((count = s_raw_recv (raw, TEST_CALL_MS, frames)) == 3) //  heartbeats
        sq_zmq_frames_close (frames, 3);
    assert_int_equal (count, 6);
    assert_memory_equal (zmq_msg_data (&frames[2]), "\x02", 1);
    assert_memory_equal (zmq_msg_data (&frames[5]), "job", 3);
    sq_zmq_frames_close (frames, (size_t) count);
    zmq_close (raw);
    void *reply;
    size_t size;
    assert_int_equal (sq_mdp_client_recv (fixture->client, TEST_CALL_MS, &reply, &size), 0);
    s_assert_unavailable (reply, size, "lost before it replied");
    free (reply);
    s_wait_workers (fixture->client, 0);
}

static void
test_no_worker_times_out (void **state)
{
    fixture_t *fixture = *state;
    void *reply;
    size_t size;
    int64_t started_ms = sq_clock_ms ();
    assert_int_equal (sq_mdp_client_call (fixture->client, "nobody", "x", 1, TEST_CALL_MS,
                                          &reply, &size), 0);
    int64_t took_ms = sq_clock_ms () - started_ms;
    s_assert_unavailable (reply, size, "no worker for service nobody answered within 400 ms");
    free (reply);
    assert_true (took_ms >= TEST_REQUEST_TIMEOUT_MS - 10);
    assert_true (took_ms < TEST_CALL_MS);
}

static void
test_full_queue_refuses (void **state)
{
    fixture_t *fixture = *state;
    for (int i = 0; i <= TEST_QUEUE_MAX; i++)
        assert_int_equal (sq_mdp_client_send (fixture->client, "nobody", "x", 1), 0);
    void *reply;
    size_t size;
    //  The request beyond the queue is answered at once, before the others time out.
    assert_int_equal (sq_mdp_client_recv (fixture->client, TEST_REQUEST_TIMEOUT_MS / 2, &reply,
                                          &size), 0);
    s_assert_unavailable (reply, size, "queue of service nobody is full");
    free (reply);
    for (int i = 0; i < TEST_QUEUE_MAX; i++) {
        assert_int_equal (sq_mdp_client_recv (fixture->client, TEST_CALL_MS, &reply, &size), 0);
        s_assert_unavailable (reply, size, "answered within");
        free (reply);
    }
}

static void
test_oversized_message_refused (void **state)
{
    fixture_t *fixture = *state;
    test_worker_t *worker = s_worker_start (bus_endpoint_commands (fixture->bus), "a", false);
    s_wait_workers (fixture->client, 1);
    size_t size = TEST_MSG_MAX + 1;
    char *big = malloc (size);
    assert_non_null (big);
    memset (big, 'x', size);
    void *reply = NULL;
    size_t reply_size;
    assert_int_equal (sq_mdp_client_call (fixture->client, TEST_SERVICE, big, size,
                                          TEST_REQUEST_TIMEOUT_MS, &reply, &reply_size), -1);
    free (big);
    assert_int_equal (atomic_load (&worker->handled), 0);
    s_call_echo (fixture->client, "small", "a:small"); //  the bus carries on
    s_worker_stop (&worker);
}

static void
test_garbage_does_not_crash (void **state)
{
    fixture_t *fixture = *state;
    void *raw = s_raw_socket (ZMQ_DEALER, bus_endpoint_commands (fixture->bus));
    s_raw_send (raw, "garbage", NULL);
    s_raw_send (raw, "", NULL);
    s_raw_send (raw, "", "MDPX01", "a", "b", NULL);
    s_raw_send (raw, "", SQ_MDP_CLIENT, NULL);
    s_raw_send (raw, "", SQ_MDP_CLIENT, "", "body", NULL);
    s_raw_send (raw, "", SQ_MDP_CLIENT, "echo\x01", "body", NULL);
    s_raw_send (raw, "", SQ_MDP_CLIENT, "echo", "body", "extra", NULL);
    s_raw_send (raw, "", SQ_MDP_WORKER, NULL);
    s_raw_send (raw, "", SQ_MDP_WORKER, "\x09", NULL);
    s_raw_send (raw, "", SQ_MDP_WORKER, "\x01\x01", "echo", NULL);
    s_raw_send (raw, "", SQ_MDP_WORKER, "\x01", "mmi.service", NULL);
    s_raw_send (raw, "", SQ_MDP_WORKER, "\x01", "a-name-that-is-far-too-long-for-a-service-"
                                                "and-goes-on-and-on-and-on", NULL);
    s_raw_send (raw, "", SQ_MDP_WORKER, "\x01", "echo", "extra", NULL);
    s_raw_send (raw, "", SQ_MDP_WORKER, "\x03", "client", "", "body", NULL);
    s_raw_send (raw, "", SQ_MDP_WORKER, "\x05", NULL);
    s_raw_send (raw, "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12", NULL);
    //  A REPLY from a stranger is answered with DISCONNECT (RFC 7).
    zmq_msg_t frames[TEST_FRAMES_MAX];
    int count = s_raw_recv (raw, TEST_CALL_MS, frames);
    assert_int_equal (count, 3);
    assert_memory_equal (zmq_msg_data (&frames[2]), "\x05", 1);
    sq_zmq_frames_close (frames, (size_t) count);
    zmq_close (raw);
    test_worker_t *worker = s_worker_start (bus_endpoint_commands (fixture->bus), "a", false);
    s_wait_workers (fixture->client, 1);
    s_call_echo (fixture->client, "still", "a:still");
    s_worker_stop (&worker);
    assert_true (bus_running (fixture->bus));
}

static void
test_mmi (void **state)
{
    fixture_t *fixture = *state;
    test_worker_t *worker = s_worker_start (bus_endpoint_commands (fixture->bus), "a", false);
    s_wait_workers (fixture->client, 1);
    const char *asks[][3] = {{"mmi.service", TEST_SERVICE, "200"},
                             {"mmi.service", "nobody", "404"},
                             {"mmi.nothing", "", "501"}};
    for (size_t i = 0; i < sizeof asks / sizeof asks[0]; i++) {
        void *reply;
        size_t size;
        assert_int_equal (sq_mdp_client_call (fixture->client, asks[i][0], asks[i][1],
                                              strlen (asks[i][1]), TEST_CALL_MS, &reply, &size),
                          0);
        assert_int_equal (size, 3);
        assert_memory_equal (reply, asks[i][2], 3);
        free (reply);
    }
    s_call_echo (fixture->client, "x", "a:x");
    const msgpack_object *entry;
    void *reply;
    sq_doc_t *doc = s_mmi_workers (fixture->client, TEST_SERVICE, &entry, &reply);
    assert_non_null (entry);
    assert_int_equal (s_uint (entry, "workers"), 1);
    assert_int_equal (s_uint (entry, "waiting"), 1);
    assert_int_equal (s_uint (entry, "queued"), 0);
    const msgpack_object *root = sq_doc_root (doc);
    assert_true (s_uint (root, "requests") >= 5);
    assert_non_null (sq_obj_get (root, "uptime_ms"));
    assert_non_null (sq_obj_get (root, "events"));
    sq_doc_destroy (&doc);
    free (reply);
    s_worker_stop (&worker);
}

//  A worker whose broker goes away reconnects to the next broker on the same endpoint.
static void
test_worker_reconnects (void **state)
{
    fixture_t *fixture = *state;
    char endpoint[BUS_ENDPOINT_MAX];
    snprintf (endpoint, sizeof endpoint, "%s", bus_endpoint_commands (fixture->bus));
    test_worker_t *worker = s_worker_start (endpoint, "a", false);
    s_wait_workers (fixture->client, 1);
    sq_mdp_client_destroy (&fixture->client);
    bus_destroy (&fixture->bus);
    bus_config_t config;
    assert_int_equal (bus_config_from_env (&config), 0);
    snprintf (config.commands, sizeof config.commands, "%s", endpoint);
    snprintf (config.events_in, sizeof config.events_in, "tcp://127.0.0.1:*");
    snprintf (config.events_out, sizeof config.events_out, "tcp://127.0.0.1:*");
    //  NB: ZeroMQ closes the old listener in the background; the port comes free shortly.
    int64_t deadline_ms = sq_clock_ms () + TEST_WAIT_MS;
    while (!(fixture->bus = bus_new (&config))) {
        assert_true (sq_clock_ms () < deadline_ms);
        usleep (TEST_POLL_MS * 1000);
    }
    assert_int_equal (bus_start (fixture->bus), 0);
    fixture->client = sq_mdp_client_new (endpoint);
    assert_non_null (fixture->client);
    s_wait_workers (fixture->client, 1);
    s_call_echo (fixture->client, "back", "a:back");
    s_worker_stop (&worker);
}

// ---- events ------------------------------------------------------------------------------

static void
test_events_flow (void **state)
{
    fixture_t *fixture = *state;
    void *pub = s_raw_socket (ZMQ_PUB, bus_endpoint_events_in (fixture->bus));
    void *sub = s_raw_socket (ZMQ_SUB, bus_endpoint_events_out (fixture->bus));
    assert_int_equal (zmq_setsockopt (sub, ZMQ_SUBSCRIBE, "test.", 5), 0);
    //  PUB/SUB drops until the subscription has travelled: publish until one arrives.
    int64_t deadline_ms = sq_clock_ms () + TEST_WAIT_MS;
    zmq_msg_t frames[TEST_FRAMES_MAX];
    int count = 0;
    while (count == 0) {
        assert_true (sq_clock_ms () < deadline_ms);
        s_raw_send (pub, "other.kind", "not for us", NULL);
        s_raw_send (pub, "test.kind.131003", "envelope", NULL);
        count = s_raw_recv (sub, TEST_POLL_MS * 5, frames);
    }
    assert_int_equal (count, 2);
    assert_int_equal (zmq_msg_size (&frames[0]), strlen ("test.kind.131003"));
    assert_memory_equal (zmq_msg_data (&frames[0]), "test.kind.131003", 16);
    assert_memory_equal (zmq_msg_data (&frames[1]), "envelope", 8);
    sq_zmq_frames_close (frames, (size_t) count);
    zmq_close (pub);
    zmq_close (sub);
    const msgpack_object *entry;
    void *reply;
    sq_doc_t *doc = s_mmi_workers (fixture->client, TEST_SERVICE, &entry, &reply);
    //  PUB filters at the source, so only the subscribed kind was forwarded.
    assert_true (s_uint (sq_doc_root (doc), "events") >= 1);
    sq_doc_destroy (&doc);
    free (reply);
}

// ---- the binary --------------------------------------------------------------------------

//  Starts shequ-bus with its endpoints in the environment and stderr in the test logs.
static pid_t
s_spawn_bus (const char *binary, char settings[3][BUS_ENDPOINT_MAX + 32], const char *log)
{
    size_t count = 0;
    while (environ[count])
        count++;
    char **env = calloc (count + 4, sizeof *env);
    assert_non_null (env);
    size_t used = 0;
    for (size_t i = 0; i < count; i++) {
        //  Our settings replace any the test inherited (getenv takes the first).
        bool replaced = false;
        for (int j = 0; j < 3; j++) {
            size_t name_size = (size_t) (strchr (settings[j], '=') - settings[j]) + 1;
            replaced = replaced || strncmp (environ[i], settings[j], name_size) == 0;
        }
        if (!replaced)
            env[used++] = environ[i];
    }
    for (int i = 0; i < 3; i++)
        env[used++] = settings[i];
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init (&actions);
    posix_spawn_file_actions_addopen (&actions, STDERR_FILENO, log,
                                      O_WRONLY | O_CREAT | O_TRUNC, 0644);
    pid_t pid = 0;
    char *argv[] = {(char *) binary, NULL};
    assert_int_equal (posix_spawn (&pid, binary, &actions, NULL, argv, env), 0);
    posix_spawn_file_actions_destroy (&actions);
    free (env);
    return pid;
}

static void
test_binary_stops_on_sigterm (void **state)
{
    (void) state;
    const char *bin_dir = getenv ("SHEQU_BIN_DIR");
    if (!bin_dir)
        skip ();
    char binary[PATH_MAX];
    snprintf (binary, sizeof binary, "%s/shequ-bus", bin_dir);
    const char *log_dir = sq_config_str ("SHEQU_TEST_LOGS", "/tmp");
    mkdir (log_dir, 0755);
    char log[PATH_MAX];
    snprintf (log, sizeof log, "%s/test_bus.shequ-bus.log", log_dir);
    char settings[3][BUS_ENDPOINT_MAX + 32];
    int port = sq_test_free_port ();
    snprintf (settings[0], sizeof settings[0], "%s=tcp://127.0.0.1:%d", SQ_ENV_COMMANDS, port);
    snprintf (settings[1], sizeof settings[1], "%s=tcp://127.0.0.1:%d", SQ_ENV_EVENTS_IN,
              sq_test_free_port ());
    snprintf (settings[2], sizeof settings[2], "%s=tcp://127.0.0.1:%d", SQ_ENV_EVENTS_OUT,
              sq_test_free_port ());
    pid_t pid = s_spawn_bus (binary, settings, log);

    char endpoint[BUS_ENDPOINT_MAX];
    snprintf (endpoint, sizeof endpoint, "tcp://127.0.0.1:%d", port);
    sq_mdp_client_t *client = sq_mdp_client_new (endpoint);
    assert_non_null (client);
    void *reply = NULL;
    size_t size;
    int64_t deadline_ms = sq_clock_ms () + TEST_WAIT_MS;
    while (sq_mdp_client_call (client, "mmi.service", "x", 1, TEST_REQUEST_TIMEOUT_MS, &reply,
                               &size))
        assert_true (sq_clock_ms () < deadline_ms);
    assert_memory_equal (reply, "404", 3);
    free (reply);
    sq_mdp_client_destroy (&client);

    assert_int_equal (kill (pid, SIGTERM), 0);
    int status = 0;
    deadline_ms = sq_clock_ms () + TEST_WAIT_MS;
    while (waitpid (pid, &status, WNOHANG) == 0) {
        if (sq_clock_ms () >= deadline_ms) {
            kill (pid, SIGKILL);
            waitpid (pid, &status, 0);
            fail_msg ("shequ-bus did not stop within %d ms of SIGTERM; see %s", TEST_WAIT_MS,
                      log);
        }
        usleep (TEST_POLL_MS * 1000);
    }
    if (!WIFEXITED (status) || WEXITSTATUS (status) != 0)
        fail_msg ("shequ-bus ended with status %d; see %s", status, log);
}

int
main (void)
{
    sq_log_init ("test_bus", -1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_request_reaches_worker, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_workers_share_requests, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_lost_worker_without_idem, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_lost_worker_with_idem, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_closed_worker, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_no_worker_times_out, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_full_queue_refuses, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_oversized_message_refused, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_garbage_does_not_crash, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_mmi, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_worker_reconnects, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_events_flow, s_setup, s_teardown),
        cmocka_unit_test (test_binary_stops_on_sigterm),
    };
    int failed = cmocka_run_group_tests (tests, NULL, NULL);
    //  A failed test may leave a worker thread with an open socket; terminating the context
    //  would then wait for it forever.
    if (failed == 0)
        sq_zmq_shutdown ();
    return failed;
}
