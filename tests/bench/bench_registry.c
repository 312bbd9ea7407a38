/*  bench_registry: what the registry does per second on this machine, side by side with what
    the machine itself allows for the same work, measured in the same run (issue 2, section
    "Benchmark"; README.md beside this file explains every figure).

    Set-up: a fresh database, the bus in-process, the real shequ-registry binary, the real
    divisions imported. Then, in this order: ZeroMQ round trips (raw DEALER/ROUTER and MDP
    through the broker); resident.register with 1 client between two PostgreSQL
    insert-and-commit runs with 1 connection; the same with 16 (a subscriber counts the
    events); and command-to-event latency at a paced rate. It prints what it measured and
    exits 0 whatever the figures are; 1 only when the set-up failed, 2 on a bad option. */
#include "bench_util.h"
#include "sq_identity.h"
#include "sq_test.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define S_CLIENTS_MANY 16           //  the concurrent figure's clients (issue 2)
#define S_RATE_DEFAULT 1000         //  --rate: paced commands per second of the latency run
#define S_RATE_MAX 20000            //  highest pace accepted
#define S_CALL_TIMEOUT_MS 10000     //  a request without a reply by then counts as a timeout
#define S_IMPORT_TIMEOUT_MS 600000  //  division.import of the real file
#define S_DRAIN_TIMEOUT_MS 15000    //  replies and events still due after a run come by then
#define S_SUB_READY_MS 10000        //  the subscriber has caught up with the stream by then
#define S_SETTLE_MS 200             //  lets a new subscription reach the bus
#define S_POLL_MS 100               //  idle wait of the helper threads' loops
#define S_WAIT_STEP_MS 10           //  step of the main thread's waits
#define S_COMMUNITIES_MAX 8192      //  communities the residents are spread over
#define S_COMMUNITY_PREFIX "1310"   //  廊坊市: its communities receive the residents
#define S_ECHO_SERVICE "bench.echo" //  the MDP echo's service name
#define S_ECHO_WORKERS 16           //  its worker sockets, as the registry's default concurrency
#define S_ECHO_READS_MAX 16         //  requests taken from one socket per poll
#define S_TARGET_P99_US 5000        //  issue 2: command->event p99 under 5 ms
#define S_TARGET_ONE_SHARE 0.8      //  issue 2: 1 client at least 0.8 of PG's 1-connection rate
#define S_PACE_KEPT 0.95            //  replies at this share of the pace: the service kept up
#define S_BIRTH_DAY_FIRST (-7305)   //  1950-01-01 in days since 1970-01-01
#define S_BIRTH_DAYS 21900          //  birth dates spread over 60 years from then
#define S_ID_SEQUENCES 1000         //  3-digit sequence of an identity number
#define S_ID_CHECKED 5000           //  generated numbers checked by the registry's own validator
#define S_PHONE_NUMBERS 100000000   //  8 digits after the 139 prefix
#define S_CORR_MAX 48               //  longest corr the bench writes

// ---- residents: distinct, valid, spread over real communities --------------------------------

static const char *const s_id_prefixes[] = {"131002", "110105", "131003", "110108"};
#define S_ID_PREFIXES (sizeof s_id_prefixes / sizeof s_id_prefixes[0])
static const char *const s_residency[] = {"registered", "permanent", "floating"};
//  Distinct identities: prefixes x birth dates x sequences (2^7 x 3 x 5^5 x 73).
#define S_ID_SPACE ((uint64_t) S_ID_PREFIXES * S_BIRTH_DAYS * S_ID_SEQUENCES)
#define S_ID_SCATTER 7919 //  a prime that divides no factor of S_ID_SPACE: a bijection

//  Days since 1970-01-01 to a civil date (H. Hinnant's algorithm).
static void
s_civil_from_days (int64_t z, int *year, int *month, int *day)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned) (z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    unsigned m = mp < 10 ? mp + 3 : mp - 9;
    *day = (int) (doy - (153 * mp + 2) / 5 + 1);
    *month = (int) m;
    *year = (int) ((int64_t) yoe + era * 400 + (m <= 2));
}

//  The n-th identity number: prefix, birth date, 3-digit sequence and the ISO 7064 MOD 11-2
//  check character (GB 11643). n is first scattered by a bijection of [0, S_ID_SPACE), so
//  that numbers below S_ID_SPACE give distinct identities spread over prefixes and dates.
static void
s_id_number (uint64_t n, char out[SQ_ID_NUMBER_SIZE])
{
    static const int weights[17] = {7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2};
    static const char check[] = "10X98765432";
    n = (n % S_ID_SPACE) * S_ID_SCATTER % S_ID_SPACE;
    unsigned sequence = (unsigned) (n % S_ID_SEQUENCES);
    int64_t day = (int64_t) ((n / S_ID_SEQUENCES) % S_BIRTH_DAYS);
    size_t prefix = (size_t) ((n / S_ID_SEQUENCES / S_BIRTH_DAYS) % S_ID_PREFIXES);
    int year, month, date;
    s_civil_from_days (S_BIRTH_DAY_FIRST + day, &year, &month, &date);
    char digits[64];
    snprintf (digits, sizeof digits, "%.6s%04d%02d%02d%03u", s_id_prefixes[prefix],
              year % 10000, month % 100, date % 100, sequence % 1000);
    memcpy (out, digits, 17);
    out[17] = 0;
    int sum = 0;
    for (int i = 0; i < 17; i++)
        sum += (out[i] - '0') * weights[i];
    out[17] = check[sum % 11];
    out[18] = 0;
}

//  Checks the generator against the registry's own validator: a bench that sent invalid
//  numbers would measure error replies.
static int
s_id_numbers_check (void)
{
    for (uint64_t k = 0; k < S_ID_CHECKED; k++) {
        uint64_t n = k * (S_ID_SPACE / S_ID_CHECKED);
        char id[SQ_ID_NUMBER_SIZE], normal[SQ_ID_NUMBER_SIZE];
        sq_id_info_t info;
        sq_error_t err = {0};
        s_id_number (n, id);
        if (sq_id_number_check (id, 0, normal, &info, &err)) {
            fprintf (stderr, "bench: generated identity number %s is invalid: %s\n", id,
                     err.message);
            return -1;
        }
    }
    return 0;
}

// ---- the bench's state ---------------------------------------------------------------------

//  Events of one phase as the subscriber saw them.
enum { S_PHASE_ONE, S_PHASE_MANY, S_PHASE_WARM, S_PHASE_LATENCY, S_PHASES };
static const char *const s_phase_tags[S_PHASES] = {"one", "many", "warm", "lat"};

typedef struct {
    atomic_uint_fast64_t count; //  events received
    _Atomic int64_t first_us;   //  arrival of the first (monotonic), 0: none yet
    _Atomic int64_t last_us;    //  arrival of the last
} s_phase_t;

typedef struct {
    sq_sub_t *sub;                  //  tracks the registry stream
    pthread_t thread;
    bool started;
    atomic_bool stop;
    atomic_uint_fast64_t seen;      //  events of any type delivered
    uint64_t fetched;               //  events that came by events.since (read after join)
    s_phase_t phases[S_PHASES];
    size_t latency_max;             //  entries of the arrays below
    _Atomic int64_t *event_us;      //  arrival of the event of "lat-<i>", 0: not yet
    char (*resident)[SQ_ID_SIZE];   //  its data.resident (written before event_us)
    int64_t *lag_us;                //  event "at" to arrival, wall clock, many-clients run
    size_t lag_max;
    atomic_size_t lag_count;
} s_watch_t;

typedef struct {
    bool valid;                     //  the run took place
    uint64_t sent;                  //  commands sent, warm-up included
    uint64_t outcomes[BENCH_OUTCOMES];  //  their replies by outcome
    uint64_t measured;              //  commands of the measured part
    uint64_t events;                //  events received for the measured part
    double send_rate;               //  achieved pace of the measured part
    double reply_rate;              //  ok replies per second, first to last reply
    int64_t e2e[3];                 //  command sent -> event received: p50, p99, max
    int64_t reply[3];               //  command sent -> reply received
    int64_t after[3];               //  reply received -> event received
    uint64_t replies_matched;       //  replies matched to a measured event
} s_latency_t;

typedef struct {
    int seconds;                        //  measured window of each figure
    int rate;                           //  pace of the latency run, commands per second
    bench_stack_t stack;                //  database, bus, shequ-registry, set-up client
    char (*communities)[SQ_DIV_MAX];    //  community codes residents are spread over
    size_t community_count;
    atomic_uint_fast64_t next_resident; //  position of the identity number generator
    atomic_uint_fast64_t next_row;      //  ceiling rows and echo requests
    msgpack_sbuffer echo_reply;         //  what both echoes answer (made before they start)
    void *raw_router;                   //  the raw echo's ROUTER (moves to its thread)
    char raw_endpoint[256];             //  where it is bound
    pthread_t mdp_echo, raw_echo;
    bool mdp_echo_started, raw_echo_started;
    atomic_bool echo_stop;
    s_watch_t watch;                    //  the subscriber
    bench_facts_t facts;
    bench_result_t raw[2], mdp[2], reg[2]; //  [0]: 1 client, [1]: 16 clients
    bench_result_t pg_before[2], pg_after[2]; //  PostgreSQL just before and after reg[i]
    bench_result_t pg[2];               //  their mean: the ceiling of reg[i]
    uint64_t many_events;               //  events of the 16-client run received
    int64_t many_span_us;               //  from the first of them to the last
    int64_t many_lag_us[3];             //  their "at" to arrival (wall clock): p50, p99, max
    s_latency_t latency;
} s_bench_t;

// ---- requests ------------------------------------------------------------------------------

//  The n-th resident.register, as community staff of the resident's community.
static void
s_pack_register (msgpack_sbuffer *buf, const s_bench_t *bench, uint64_t n, const char *corr)
{
    char id_number[SQ_ID_NUMBER_SIZE], name[32], phone[16];
    const char *community = bench->communities[n % bench->community_count];
    s_id_number (n, id_number);
    snprintf (name, sizeof name, "居民%" PRIu64, n);
    snprintf (phone, sizeof phone, "139%08" PRIu64, n % S_PHONE_NUMBERS);
    msgpack_sbuffer args;
    msgpack_sbuffer_init (&args);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &args, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, 5);
    sq_pack_kv_str (&pk, "id_number", id_number);
    sq_pack_kv_str (&pk, "name", name);
    sq_pack_kv_str (&pk, "community", community);
    sq_pack_kv_str (&pk, "residency", s_residency[n % 3]);
    sq_pack_kv_str (&pk, "phone", phone);
    bench_request_pack (buf, "resident.register", args.data, args.size, "community_staff",
                        community, corr);
    msgpack_sbuffer_destroy (&args);
}

//  What the echoes answer: a reply shaped like resident.register's.
static void
s_pack_echo_reply (msgpack_sbuffer *buf)
{
    msgpack_sbuffer result;
    msgpack_sbuffer_init (&result);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &result, msgpack_sbuffer_write);
    char id[SQ_ID_SIZE];
    sq_id_new (id);
    msgpack_pack_map (&pk, 8);
    sq_pack_kv_str (&pk, "id", id);
    sq_pack_kv_str (&pk, "community", "131002001007");
    sq_pack_kv_str (&pk, "residency", "registered");
    sq_pack_kv_str (&pk, "sex", "female");
    sq_pack_kv_str (&pk, "birth_date", "1949-12-31");
    sq_pack_kv_str (&pk, "id_number", "110***********002X");
    sq_pack_kv_str (&pk, "phone", "138****5678");
    sq_pack_kv_str (&pk, "status", "active");
    sq_reply_pack_ok (buf, result.data, result.size);
    msgpack_sbuffer_destroy (&result);
}

// ---- clients under load --------------------------------------------------------------------

//  Runs load with clients threads for the bench's window (bench_run). keep_samples keeps
//  each request's latency. Returns 0, or -1 when a client could not open.
static int
s_run (s_bench_t *bench, const bench_load_t *load, int clients, const char *tag,
       bool keep_samples, bench_result_t *result)
{
    bench_plan_t plan = {.load = load, .user = bench, .tag = tag, .commands = bench->stack.commands,
                         .clients = clients, .seconds = bench->seconds,
                         .keep_samples = keep_samples};
    return bench_run (&plan, result);
}

// ---- loads: registry, PostgreSQL, MDP echo, raw echo ---------------------------------------

static bench_outcome_t
s_register_op (bench_client_t *self)
{
    s_bench_t *bench = self->plan->user;
    uint64_t n = atomic_fetch_add (&bench->next_resident, 1);
    char corr[S_CORR_MAX];
    snprintf (corr, sizeof corr, "%s-%" PRIu64, self->plan->tag, n);
    msgpack_sbuffer body;
    msgpack_sbuffer_init (&body);
    s_pack_register (&body, bench, n, corr);
    bench_outcome_t outcome =
        bench_mdp_call (self->handle, "registry", &body, S_CALL_TIMEOUT_MS);
    msgpack_sbuffer_destroy (&body);
    return outcome;
}

//  The echo gets a request of the same shape and size as the registry's.
static bench_outcome_t
s_mdp_echo_op (bench_client_t *self)
{
    s_bench_t *bench = self->plan->user;
    uint64_t n = atomic_fetch_add (&bench->next_row, 1);
    msgpack_sbuffer body;
    msgpack_sbuffer_init (&body);
    s_pack_register (&body, bench, n, "echo-0");
    bench_outcome_t outcome =
        bench_mdp_call (self->handle, S_ECHO_SERVICE, &body, S_CALL_TIMEOUT_MS);
    msgpack_sbuffer_destroy (&body);
    return outcome;
}

static int
s_pg_open (bench_client_t *self)
{
    s_bench_t *bench = self->plan->user;
    if (bench_pg_open (self, bench->stack.conninfo))
        return -1;
    return bench_pg_prepare (self, "ceiling", "INSERT INTO bench_ceiling (a, b)"
                             " VALUES ($1::bigint, $2)", 2);
}

//  One row, autocommit: the insert and its commit are one round trip and one WAL flush.
static bench_outcome_t
s_pg_op (bench_client_t *self)
{
    s_bench_t *bench = self->plan->user;
    uint64_t n = atomic_fetch_add (&bench->next_row, 1);
    char a[24], b[48];
    snprintf (a, sizeof a, "%" PRIu64, n);
    snprintf (b, sizeof b, "ceiling row %" PRIu64, n);
    const char *params[] = {a, b};
    PGresult *res = PQexecPrepared (self->handle, "ceiling", 2, params, NULL, NULL, 0);
    bench_outcome_t outcome =
        PQresultStatus (res) == PGRES_COMMAND_OK ? BENCH_OK : BENCH_FAILED;
    if (outcome != BENCH_OK)
        bench_note (BENCH_FAILED, PQerrorMessage (self->handle));
    PQclear (res);
    return outcome;
}

static int
s_raw_open (bench_client_t *self)
{
    s_bench_t *bench = self->plan->user;
    void *socket = zmq_socket (sq_zmq_context (), ZMQ_DEALER);
    self->handle = socket;
    return socket && sq_zmq_socket_setup (socket) == 0
                   && zmq_connect (socket, bench->raw_endpoint) == 0
               ? 0
               : -1;
}

static void
s_raw_close (bench_client_t *self)
{
    zmq_close (self->handle);
    self->handle = NULL;
}

static bench_outcome_t
s_raw_op (bench_client_t *self)
{
    s_bench_t *bench = self->plan->user;
    uint64_t n = atomic_fetch_add (&bench->next_row, 1);
    msgpack_sbuffer body;
    msgpack_sbuffer_init (&body);
    s_pack_register (&body, bench, n, "echo-0");
    int rc = zmq_send (self->handle, body.data, body.size, 0);
    msgpack_sbuffer_destroy (&body);
    if (rc == -1)
        return BENCH_FAILED;
    zmq_pollitem_t item = {self->handle, 0, ZMQ_POLLIN, 0};
    if (zmq_poll (&item, 1, S_CALL_TIMEOUT_MS) != 1)
        return BENCH_TIMEOUT;
    zmq_msg_t reply;
    zmq_msg_init (&reply);
    bench_outcome_t outcome = BENCH_FAILED;
    if (zmq_msg_recv (&reply, self->handle, 0) >= 0)
        outcome = bench_reply_outcome (zmq_msg_data (&reply), zmq_msg_size (&reply), NULL, 0);
    zmq_msg_close (&reply);
    return outcome;
}

static const bench_load_t s_load_register = {"resident.register via bus", bench_mdp_open,
                                             s_register_op, bench_mdp_close};
static const bench_load_t s_load_pg = {"PostgreSQL insert+commit", s_pg_open, s_pg_op,
                                       bench_pg_close};
static const bench_load_t s_load_mdp = {"MDP echo via broker", bench_mdp_open, s_mdp_echo_op,
                                        bench_mdp_close};
static const bench_load_t s_load_raw = {"DEALER/ROUTER echo, no broker", s_raw_open,
                                        s_raw_op, s_raw_close};

// ---- echo servers --------------------------------------------------------------------------

//  S_ECHO_WORKERS MDP worker sockets on one thread, polled together as sq_service polls the
//  registry's: the same path through the broker, with no work behind it.
static void *
s_mdp_echo_thread (void *arg)
{
    s_bench_t *bench = arg;
    sq_mdp_worker_t *workers[S_ECHO_WORKERS];
    zmq_pollitem_t items[S_ECHO_WORKERS];
    for (int i = 0; i < S_ECHO_WORKERS; i++) {
        workers[i] = sq_mdp_worker_new (bench->stack.commands, S_ECHO_SERVICE);
        assert (workers[i]);
        items[i] = (zmq_pollitem_t) {sq_mdp_worker_socket (workers[i]), 0, ZMQ_POLLIN, 0};
    }
    int tick_ms = sq_mdp_heartbeat_ms () / 2;
    int64_t next_tick_ms = 0;
    while (!atomic_load (&bench->echo_stop)) {
        if (zmq_poll (items, S_ECHO_WORKERS, S_POLL_MS) > 0)
            for (int i = 0; i < S_ECHO_WORKERS; i++) {
                if (!(items[i].revents & ZMQ_POLLIN))
                    continue;
                sq_mdp_request_t request = {0};
                for (int k = 0; k < S_ECHO_READS_MAX
                                && sq_mdp_worker_read (workers[i], &request) == 1; k++) {
                    sq_mdp_worker_reply (workers[i], &request, bench->echo_reply.data,
                                         bench->echo_reply.size);
                    sq_mdp_request_clear (&request);
                }
            }
        if (sq_clock_ms () >= next_tick_ms) {
            for (int i = 0; i < S_ECHO_WORKERS; i++)
                sq_mdp_worker_tick (workers[i]);
            next_tick_ms = sq_clock_ms () + tick_ms;
        }
    }
    for (int i = 0; i < S_ECHO_WORKERS; i++)
        sq_mdp_worker_destroy (&workers[i]);
    return NULL;
}

//  A ROUTER answering every message at once: ZeroMQ alone, no broker, no protocol.
static void *
s_raw_echo_thread (void *arg)
{
    s_bench_t *bench = arg;
    void *router = bench->raw_router;
    zmq_pollitem_t item = {router, 0, ZMQ_POLLIN, 0};
    while (!atomic_load (&bench->echo_stop)) {
        if (zmq_poll (&item, 1, S_POLL_MS) <= 0)
            continue;
        zmq_msg_t frames[2];
        int count;
        while ((count = sq_zmq_frames_recv (router, frames, 2, ZMQ_DONTWAIT)) >= 0) {
            if (count == 2) {
                zmq_send (router, zmq_msg_data (&frames[0]), zmq_msg_size (&frames[0]),
                          ZMQ_SNDMORE);
                zmq_send (router, bench->echo_reply.data, bench->echo_reply.size, 0);
            }
            sq_zmq_frames_close (frames, (size_t) (count < 2 ? count : 2));
        }
    }
    zmq_close (router);
    return NULL;
}

static int
s_echoes_start (s_bench_t *bench)
{
    msgpack_sbuffer_init (&bench->echo_reply);
    s_pack_echo_reply (&bench->echo_reply);
    bench->raw_router = zmq_socket (sq_zmq_context (), ZMQ_ROUTER);
    size_t size = sizeof bench->raw_endpoint;
    if (!bench->raw_router || sq_zmq_socket_setup (bench->raw_router)
        || zmq_bind (bench->raw_router, "tcp://127.0.0.1:*")
        || zmq_getsockopt (bench->raw_router, ZMQ_LAST_ENDPOINT, bench->raw_endpoint, &size)) {
        fprintf (stderr, "bench: could not bind the raw echo: %s\n", zmq_strerror (errno));
        if (bench->raw_router)
            zmq_close (bench->raw_router);
        return -1;
    }
    bench->raw_echo_started =
        pthread_create (&bench->raw_echo, NULL, s_raw_echo_thread, bench) == 0;
    bench->mdp_echo_started =
        pthread_create (&bench->mdp_echo, NULL, s_mdp_echo_thread, bench) == 0;
    return bench->raw_echo_started && bench->mdp_echo_started ? 0 : -1;
}

static void
s_echoes_stop (s_bench_t *bench)
{
    atomic_store (&bench->echo_stop, true);
    if (bench->raw_echo_started)
        pthread_join (bench->raw_echo, NULL);
    if (bench->mdp_echo_started)
        pthread_join (bench->mdp_echo, NULL);
    bench->raw_echo_started = bench->mdp_echo_started = false;
    msgpack_sbuffer_destroy (&bench->echo_reply);
}

// ---- the subscriber ------------------------------------------------------------------------

//  Files one delivered event under the phase its corr names ("<tag>-<number>").
static void
s_watch_take (s_watch_t *self, const sq_event_t *event, int64_t now_us, int64_t wall_us)
{
    atomic_fetch_add (&self->seen, 1);
    const char *dash = strchr (event->env.corr, '-');
    if (strcmp (event->env.type, "registry.resident_registered") != 0 || !dash)
        return;
    int phase = -1;
    for (int p = 0; p < S_PHASES; p++)
        if (strlen (s_phase_tags[p]) == (size_t) (dash - event->env.corr)
            && strncmp (event->env.corr, s_phase_tags[p], (size_t) (dash - event->env.corr)) == 0)
            phase = p;
    if (phase < 0)
        return;
    s_phase_t *stats = &self->phases[phase];
    if (atomic_load (&stats->first_us) == 0)
        atomic_store (&stats->first_us, now_us);
    atomic_store (&stats->last_us, now_us);
    atomic_fetch_add (&stats->count, 1);
    if (phase == S_PHASE_MANY) {
        size_t k = atomic_load (&self->lag_count);
        if (k < self->lag_max) {
            self->lag_us[k] = wall_us - event->env.at;
            atomic_store (&self->lag_count, k + 1);
        }
    }
    uint64_t index = strtoull (dash + 1, NULL, 10);
    if (phase == S_PHASE_LATENCY && index < self->latency_max) {
        if (sq_obj_str_copy (sq_obj_get (event->env.data, "resident"), self->resident[index],
                             SQ_ID_SIZE))
            self->resident[index][0] = 0;
        atomic_store (&self->event_us[index], now_us);
    }
}

static void *
s_watch_thread (void *arg)
{
    s_watch_t *self = arg;
    while (!atomic_load (&self->stop)) {
        sq_event_t *event = sq_sub_next (self->sub, S_POLL_MS);
        if (!event)
            continue;
        s_watch_take (self, event, bench_now_us (), sq_now_us ());
        sq_event_destroy (&event);
    }
    self->fetched = sq_sub_fetched (self->sub);
    return NULL;
}

//  Subscribes to the registry stream from its beginning and waits until the subscriber has
//  caught up with it (the import's event), so that no registration arrives before it listens.
static int
s_watch_start (s_bench_t *bench)
{
    s_watch_t *self = &bench->watch;
    self->latency_max = (size_t) bench->rate * (size_t) bench->seconds;
    self->latency_max =
        self->latency_max < BENCH_SAMPLES_MAX ? self->latency_max : BENCH_SAMPLES_MAX;
    self->event_us = calloc (self->latency_max, sizeof *self->event_us);
    self->resident = calloc (self->latency_max, sizeof *self->resident);
    self->lag_max = BENCH_SAMPLES_MAX;
    self->lag_us = calloc (self->lag_max, sizeof *self->lag_us);
    self->sub = sq_sub_new (bench->stack.events_out, bench->stack.commands);
    if (!self->event_us || !self->resident || !self->lag_us || !self->sub
        || sq_sub_track (self->sub, "registry", 0))
        return -1;
    self->started = pthread_create (&self->thread, NULL, s_watch_thread, self) == 0;
    if (!self->started)
        return -1;
    int64_t deadline_ms = sq_clock_ms () + S_SUB_READY_MS;
    while (atomic_load (&self->seen) == 0 && sq_clock_ms () < deadline_ms)
        bench_sleep_ms (S_WAIT_STEP_MS);
    if (atomic_load (&self->seen) == 0)
        bench_progress ("the subscriber saw no event of the import yet; going on");
    bench_sleep_ms (S_SETTLE_MS);
    return 0;
}

static void
s_watch_stop (s_watch_t *self)
{
    atomic_store (&self->stop, true);
    if (self->started)
        pthread_join (self->thread, NULL);
    self->started = false;
    sq_sub_destroy (&self->sub);
    free (self->event_us);
    free (self->resident);
    free (self->lag_us);
    self->event_us = NULL;
    self->resident = NULL;
    self->lag_us = NULL;
}

//  Waits until the phases' events number at least expected, or the drain timeout.
static uint64_t
s_watch_wait (s_watch_t *self, int phase, int other_phase, uint64_t expected)
{
    int64_t deadline_ms = sq_clock_ms () + S_DRAIN_TIMEOUT_MS;
    uint64_t count = 0;
    while (1) {
        count = atomic_load (&self->phases[phase].count);
        if (other_phase >= 0)
            count += atomic_load (&self->phases[other_phase].count);
        if (count >= expected || sq_clock_ms () >= deadline_ms)
            return count;
        bench_sleep_ms (S_WAIT_STEP_MS);
    }
}

// ---- latency at a paced rate ---------------------------------------------------------------

//  One reply of the latency run: whose it was and when it came.
typedef struct {
    char id[SQ_ID_SIZE]; //  result.id: the resident, as in the event's data.resident
    int64_t at_us;       //  when it was read (monotonic)
} s_reply_t;

//  The sender's state: one MDP client, requests pipelined, replies read between sends.
typedef struct {
    s_bench_t *bench;
    sq_mdp_client_t *client;
    int fd;                  //  the client socket's ZMQ_FD, for waits finer than 1 ms
    s_reply_t *replies;      //  every reply received, in arrival order
    size_t reply_count, reply_max;
    int64_t first_ok_us;     //  arrival of the first ok reply, 0: none yet
    int64_t last_ok_us;      //  arrival of the last
    int64_t *sent_us;        //  when measured command i was sent, 0: not sent
} s_pacer_t;

//  Reads every reply waiting on the client socket, stamping each with its arrival.
static void
s_pacer_take (s_pacer_t *self)
{
    void *socket = sq_mdp_client_socket (self->client);
    while (1) {
        int events = 0;
        size_t size = sizeof events;
        if (zmq_getsockopt (socket, ZMQ_EVENTS, &events, &size) || !(events & ZMQ_POLLIN))
            return;
        void *body = NULL;
        size_t body_size = 0;
        if (sq_mdp_client_recv (self->client, 0, &body, &body_size))
            return;
        int64_t at_us = bench_now_us ();
        s_reply_t *reply = &self->replies[self->reply_count < self->reply_max
                                              ? self->reply_count
                                              : self->reply_max - 1];
        bench_outcome_t outcome =
            bench_reply_outcome (body, body_size, reply->id, sizeof reply->id);
        free (body);
        self->bench->latency.outcomes[outcome]++;
        reply->at_us = at_us;
        if (outcome == BENCH_OK) {
            self->first_ok_us = self->first_ok_us ? self->first_ok_us : at_us;
            self->last_ok_us = at_us;
        }
        if (self->reply_count < self->reply_max)
            self->reply_count++;
    }
}

//  Waits until due_us (monotonic) taking replies as they come. NB: zmq_poll counts in whole
//  milliseconds, too coarse for a 1 ms pace, so the wait is a ppoll on the socket's ZMQ_FD,
//  which only says "look again": ZMQ_EVENTS is checked before every wait.
static void
s_pacer_wait (s_pacer_t *self, int64_t due_us)
{
    while (1) {
        s_pacer_take (self);
        int64_t left_us = due_us - bench_now_us ();
        if (left_us <= 0)
            return;
        struct pollfd fd = {.fd = self->fd, .events = POLLIN};
        struct timespec timeout = {left_us / BENCH_US_PER_S,
                                   (long) (left_us % BENCH_US_PER_S) * BENCH_NS_PER_US};
        ppoll (&fd, 1, &timeout, NULL);
    }
}

//  Sends the warm-up and the measured commands at the paced rate.
static void
s_pacer_send (s_pacer_t *self, size_t warm, size_t total)
{
    s_bench_t *bench = self->bench;
    int64_t start_us = bench_now_us () + S_WAIT_STEP_MS * BENCH_US_PER_MS;
    int64_t first_us = 0, last_us = 0;
    for (size_t k = 0; k < warm + total; k++) {
        s_pacer_wait (self, start_us + (int64_t) (k * BENCH_US_PER_S / (size_t) bench->rate));
        char corr[S_CORR_MAX];
        if (k < warm)
            snprintf (corr, sizeof corr, "%s-%zu", s_phase_tags[S_PHASE_WARM], k);
        else
            snprintf (corr, sizeof corr, "%s-%zu", s_phase_tags[S_PHASE_LATENCY], k - warm);
        msgpack_sbuffer body;
        msgpack_sbuffer_init (&body);
        s_pack_register (&body, bench, atomic_fetch_add (&bench->next_resident, 1), corr);
        int64_t at_us = bench_now_us ();
        int rc = sq_mdp_client_send (self->client, "registry", body.data, body.size);
        msgpack_sbuffer_destroy (&body);
        if (rc) {
            bench->latency.outcomes[BENCH_FAILED]++;
            bench_note (BENCH_FAILED, "could not send a paced request");
            continue;
        }
        bench->latency.sent++;
        if (k >= warm) {
            self->sent_us[k - warm] = at_us;
            first_us = first_us ? first_us : at_us;
            last_us = at_us;
        }
    }
    bench->latency.measured = total;
    if (last_us > first_us)
        bench->latency.send_rate =
            (double) (total - 1) * BENCH_US_PER_S / (double) (last_us - first_us);
}

static int
s_compare_reply (const void *a, const void *b)
{
    return strcmp (((const s_reply_t *) a)->id, ((const s_reply_t *) b)->id);
}

//  Pairs events with sends (by corr) and with replies (by resident id) into the latencies.
static void
s_pacer_match (s_pacer_t *self, size_t total)
{
    s_watch_t *watch = &self->bench->watch;
    s_latency_t *out = &self->bench->latency;
    int64_t *e2e = calloc (total + 1, sizeof *e2e), *reply = calloc (total + 1, sizeof *reply);
    int64_t *after = calloc (total + 1, sizeof *after);
    assert (e2e && reply && after);
    qsort (self->replies, self->reply_count, sizeof *self->replies, s_compare_reply);
    size_t events = 0, matched = 0;
    for (size_t i = 0; i < total; i++) {
        int64_t event_us = atomic_load (&watch->event_us[i]);
        if (!event_us || !self->sent_us[i])
            continue;
        e2e[events++] = event_us - self->sent_us[i];
        s_reply_t key = {.at_us = 0};
        memcpy (key.id, watch->resident[i], sizeof key.id);
        const s_reply_t *found = bsearch (&key, self->replies, self->reply_count,
                                          sizeof key, s_compare_reply);
        if (key.id[0] && found) {
            reply[matched] = found->at_us - self->sent_us[i];
            after[matched++] = event_us - found->at_us;
        }
    }
    out->events = events;
    out->replies_matched = matched;
    bench_summary (e2e, events, out->e2e);
    bench_summary (reply, matched, out->reply);
    bench_summary (after, matched, out->after);
    free (e2e);
    free (reply);
    free (after);
}

//  Command sent -> event received at bench->rate commands per second, one sender thread
//  pipelining on one MDP client; the subscriber thread stamps the events.
static int
s_latency_run (s_bench_t *bench)
{
    size_t warm = (size_t) bench->rate * BENCH_WARMUP_MS / BENCH_US_PER_MS;
    size_t total = bench->watch.latency_max;
    s_pacer_t pacer = {.bench = bench, .reply_max = warm + total};
    pacer.client = sq_mdp_client_new (bench->stack.commands);
    pacer.replies = calloc (pacer.reply_max, sizeof *pacer.replies);
    pacer.sent_us = calloc (total, sizeof *pacer.sent_us);
    size_t size = sizeof pacer.fd;
    if (!pacer.client || !pacer.replies || !pacer.sent_us
        || zmq_getsockopt (sq_mdp_client_socket (pacer.client), ZMQ_FD, &pacer.fd, &size)) {
        sq_mdp_client_destroy (&pacer.client);
        free (pacer.replies);
        free (pacer.sent_us);
        return -1;
    }
    s_pacer_send (&pacer, warm, total);
    int64_t deadline_us = bench_now_us () + (int64_t) S_DRAIN_TIMEOUT_MS * BENCH_US_PER_MS;
    //  Send failures are counted under BENCH_FAILED and never answered; every other outcome is
    //  a reply.
    while (bench_errors (bench->latency.outcomes) - bench->latency.outcomes[BENCH_FAILED]
                   + bench->latency.outcomes[BENCH_OK]
               < bench->latency.sent
           && bench_now_us () < deadline_us)
        s_pacer_wait (&pacer, bench_now_us () + S_WAIT_STEP_MS * BENCH_US_PER_MS);
    s_watch_wait (&bench->watch, S_PHASE_LATENCY, S_PHASE_WARM,
                  bench->latency.outcomes[BENCH_OK]);
    s_pacer_match (&pacer, total);
    if (pacer.last_ok_us > pacer.first_ok_us)
        bench->latency.reply_rate =
            (double) (bench->latency.outcomes[BENCH_OK] - 1) * BENCH_US_PER_S
            / (double) (pacer.last_ok_us - pacer.first_ok_us);
    bench->latency.valid = true;
    sq_mdp_client_destroy (&pacer.client);
    free (pacer.replies);
    free (pacer.sent_us);
    bench_progress ("%-44s %d/s: p50 %.2f ms, p99 %.2f ms", "command -> event latency", bench->rate,
                bench->latency.e2e[0] / 1000.0, bench->latency.e2e[1] / 1000.0);
    return 0;
}

// ---- set-up and tear-down ------------------------------------------------------------------

//  Community codes under S_COMMUNITY_PREFIX, from what the import wrote.
static int
s_communities_read (s_bench_t *bench)
{
    sq_error_t err;
    const char *params[] = {S_COMMUNITY_PREFIX "%"};
    PGresult *res = sq_db_query (bench->stack.db, "SELECT code FROM registry.division"
                                 " WHERE level = 'community' AND code LIKE $1 ORDER BY code",
                                 1, params, &err);
    if (!res) {
        fprintf (stderr, "bench: could not read communities: %s\n", err.message);
        return -1;
    }
    size_t count = (size_t) PQntuples (res);
    count = count < S_COMMUNITIES_MAX ? count : S_COMMUNITIES_MAX;
    bench->communities = calloc (count ? count : 1, sizeof *bench->communities);
    for (size_t i = 0; bench->communities && i < count; i++)
        snprintf (bench->communities[i], SQ_DIV_MAX, "%s", PQgetvalue (res, (int) i, 0));
    bench->community_count = bench->communities ? count : 0;
    PQclear (res);
    if (bench->community_count == 0) {
        fprintf (stderr, "bench: no community under %s after the import\n", S_COMMUNITY_PREFIX);
        return -1;
    }
    return 0;
}

static int
s_import (s_bench_t *bench)
{
    const char *shared = sq_config_str ("SHEQU_SHARED_DIR", SQ_SOURCE_DIR "/../shared");
    char args[BENCH_TEXT_MAX * 4], why[BENCH_TEXT_MAX];
    snprintf (args, sizeof args, "{\"path\":\"%s/data/divisions/divisions.csv\"}", shared);
    void *raw = NULL;
    sq_doc_t *doc = bench_command (bench->stack.client, "registry", "division.import", args,
                                   S_IMPORT_TIMEOUT_MS, &raw, why, sizeof why);
    const msgpack_object *result = doc ? bench_reply_result (doc, why, sizeof why) : NULL;
    if (result)
        bench_progress ("imported %" PRId64 " divisions", sq_test_int (result, "total"));
    else
        fprintf (stderr, "bench: division.import failed: %s\n", why);
    sq_doc_destroy (&doc);
    free (raw);
    return result ? 0 : -1;
}

//  Database, bus, registry process, divisions, communities, ceiling table, echoes and the
//  subscriber. Returns 0 or -1 (said on stderr).
static int
s_setup (void *arg)
{
    s_bench_t *bench = arg;
    if (bench_stack_start (&bench->stack, "bench_registry", "registry")
        || s_id_numbers_check () || s_import (bench) || s_communities_read (bench))
        return -1;
    sq_error_t err;
    if (sq_db_exec (bench->stack.db, "CREATE TABLE bench_ceiling (id bigserial PRIMARY KEY,"
                    " a bigint NOT NULL, b text NOT NULL)", 0, NULL, &err)) {
        fprintf (stderr, "bench: could not create bench_ceiling: %s\n", err.message);
        return -1;
    }
    bench_facts_read (&bench->facts, bench->stack.db);
    if (s_echoes_start (bench) || s_watch_start (bench)) {
        fprintf (stderr, "bench: could not start the echoes or the subscriber\n");
        return -1;
    }
    return 0;
}

static void
s_teardown (void *arg)
{
    s_bench_t *bench = arg;
    s_watch_stop (&bench->watch);
    s_echoes_stop (bench);
    bench_stack_stop (&bench->stack, S_DRAIN_TIMEOUT_MS);
    free (bench->communities);
}

// ---- the measurements ----------------------------------------------------------------------

//  Waits for the events of a registry run and says how many came.
static void
s_events_drain (s_bench_t *bench, int phase, const bench_result_t *run)
{
    uint64_t got = s_watch_wait (&bench->watch, phase, -1, run->ok_all);
    if (got < run->ok_all)
        bench_progress ("only %" PRIu64 " of %" PRIu64 " events arrived within %d ms", got,
                    run->ok_all, S_DRAIN_TIMEOUT_MS);
}

//  The events of the 16-client run: how many, over what span, how late.
static void
s_events_summary (s_bench_t *bench)
{
    s_watch_t *watch = &bench->watch;
    s_phase_t *many = &watch->phases[S_PHASE_MANY];
    bench->many_events = atomic_load (&many->count);
    bench->many_span_us = atomic_load (&many->last_us) - atomic_load (&many->first_us);
    size_t count = atomic_load (&watch->lag_count);
    int64_t *lag = malloc ((count ? count : 1) * sizeof *lag);
    assert (lag);
    memcpy (lag, watch->lag_us, count * sizeof *lag);
    bench_summary (lag, count, bench->many_lag_us);
    free (lag);
}

//  ZeroMQ ceilings first; then each registry run between two PostgreSQL runs, 1 client then
//  16, so that whatever else loads this machine weighs on a figure and its ceiling alike
//  (and the drift between the two PostgreSQL runs shows how much it did). Last the paced
//  latency run, after which the subscriber stops, so that its counts are final.
static int
s_measure (void *arg)
{
    s_bench_t *bench = arg;
    const int clients[2] = {1, S_CLIENTS_MANY};
    for (int i = 0; i < 2; i++)
        if (s_run (bench, &s_load_raw, clients[i], "raw", i == 0, &bench->raw[i])
            || s_run (bench, &s_load_mdp, clients[i], "mdp", i == 0, &bench->mdp[i]))
            return -1;
    for (int i = 0; i < 2; i++) {
        int phase = i == 0 ? S_PHASE_ONE : S_PHASE_MANY;
        if (s_run (bench, &s_load_pg, clients[i], "pg", i == 0, &bench->pg_before[i])
            || s_run (bench, &s_load_register, clients[i], s_phase_tags[phase], i == 0,
                      &bench->reg[i]))
            return -1;
        s_events_drain (bench, phase, &bench->reg[i]);
        if (s_run (bench, &s_load_pg, clients[i], "pg", i == 0, &bench->pg_after[i]))
            return -1;
        bench_result_mean (&bench->pg_before[i], &bench->pg_after[i], &bench->pg[i]);
    }
    s_events_summary (bench);
    int rc = s_latency_run (bench);
    s_watch_stop (&bench->watch);
    return rc;
}

// ---- the report ----------------------------------------------------------------------------

static void
s_report_head (const s_bench_t *bench)
{
    bench_facts_print ("bench_registry", &bench->facts);
    printf ("registry  shequ-registry process (concurrency %" PRId64 "), bus in-process,"
            " %zu communities under %s\n", bench->stack.concurrency, bench->community_count,
            S_COMMUNITY_PREFIX);
    printf ("method    %d s window per figure after %d ms warm-up; N clients = N threads, each"
            " with its own\n          connection (MDP client, libpq, DEALER) and one request"
            " in flight\n", bench->seconds, BENCH_WARMUP_MS);
}

static void
s_report_ceiling (const char *label, const bench_result_t *r)
{
    printf ("  %-46s %10.1f", label, r->per_second);
    if (r->p50_us >= 0)
        printf ("   p50 %6.3f ms  p99 %6.3f ms", bench_ms (r->p50_us), bench_ms (r->p99_us));
    printf ("\n");
}

static void
s_report_pg_drift (const bench_result_t *before, const bench_result_t *after)
{
    printf ("      before the registry run %.1f/s, after it %.1f/s\n", before->per_second,
            after->per_second);
}

static void
s_report_rates (const s_bench_t *bench)
{
    printf ("\nceilings (raw, this run)                         per second\n");
    s_report_ceiling ("PostgreSQL insert+commit, 1 connection (mean)", &bench->pg[0]);
    s_report_pg_drift (&bench->pg_before[0], &bench->pg_after[0]);
    s_report_ceiling ("PostgreSQL insert+commit, 16 connections (mean)", &bench->pg[1]);
    s_report_pg_drift (&bench->pg_before[1], &bench->pg_after[1]);
    s_report_ceiling ("MDP round trip via broker (echo), 1 client", &bench->mdp[0]);
    s_report_ceiling ("MDP round trip via broker (echo), 16 clients", &bench->mdp[1]);
    s_report_ceiling ("DEALER/ROUTER round trip, no broker, 1 client", &bench->raw[0]);
    s_report_ceiling ("DEALER/ROUTER round trip, no broker, 16 clients", &bench->raw[1]);
    for (int i = 0; i < 2; i++) {
        bench_errors_print (&bench->pg[i]);
        bench_errors_print (&bench->mdp[i]);
        bench_errors_print (&bench->raw[i]);
    }
    printf ("\nregistry                                         per second"
            "   ratio to PG ceiling   ratio to MDP ceiling\n");
    for (int i = 0; i < 2; i++) {
        const bench_result_t *r = &bench->reg[i];
        char label[64];
        snprintf (label, sizeof label, "resident.register, %d client%s", r->clients,
                  r->clients == 1 ? "" : "s");
        printf ("  %-46s %10.1f   %5.2f of %8.1f     %5.2f of %8.1f\n", label, r->per_second,
                bench_ratio (r->per_second, bench->pg[i].per_second), bench->pg[i].per_second,
                bench_ratio (r->per_second, bench->mdp[i].per_second), bench->mdp[i].per_second);
        if (r->p50_us >= 0)
            printf ("      per command: p50 %.3f ms, p99 %.3f ms\n", bench_ms (r->p50_us),
                    bench_ms (r->p99_us));
        printf ("      %" PRIu64 " ok in the window, %" PRIu64 " errors\n", r->ok,
                bench_errors (r->outcomes));
        bench_errors_print (r);
    }
}

static void
s_report_events (const s_bench_t *bench)
{
    double span_s = (double) bench->many_span_us / BENCH_US_PER_S;
    double rate = span_s > 0 ? (double) bench->many_events / span_s : 0;
    const bench_result_t *many = &bench->reg[1];
    printf ("\nevents to a subscriber (sq_sub tracking \"registry\", during the %d-client run)\n",
            many->clients);
    printf ("  %-46s %10.1f   %5.2f of %8.1f resident.register/s, %5.2f of PG 16\n",
            "events/s, first to last received", rate, bench_ratio (rate, many->per_second),
            many->per_second, bench_ratio (rate, bench->pg[1].per_second));
    printf ("      %" PRIu64 " events for %" PRIu64 " ok commands of the run (warm-up and tail"
            " included), over %.2f s\n", bench->many_events, many->ok_all, span_s);
    printf ("      event \"at\" (in the command's transaction) -> received: p50 %.2f ms,"
            " p99 %.2f ms, max %.2f ms\n", bench_ms (bench->many_lag_us[0]),
            bench_ms (bench->many_lag_us[1]), bench_ms (bench->many_lag_us[2]));
    printf ("      events the subscriber had to fetch with events.since (whole bench): %" PRIu64
            "\n", bench->watch.fetched);
}

static void
s_report_latency_row (const char *label, const int64_t values[3])
{
    printf ("  %-46s %8.3f %8.3f %8.3f\n", label, bench_ms (values[0]), bench_ms (values[1]),
            bench_ms (values[2]));
}

static void
s_report_latency (const s_bench_t *bench)
{
    const s_latency_t *l = &bench->latency;
    printf ("\nlatency at %d commands/s (one sender thread pacing, one MDP client, requests"
            " pipelined)\n", bench->rate);
    printf ("  %-46s %8s %8s %8s\n", "", "p50 ms", "p99 ms", "max ms");
    s_report_latency_row ("command sent -> event received", l->e2e);
    s_report_latency_row ("command sent -> reply received", l->reply);
    s_report_latency_row ("reply received -> event received", l->after);
    int64_t floor[3] = {bench->mdp[0].p50_us + bench->pg[0].p50_us,
                        bench->mdp[0].p99_us + bench->pg[0].p99_us, -1};
    printf ("  %-46s %8.3f %8.3f\n", "floor: MDP echo + PG insert-commit, 1 client",
            bench_ms (floor[0]), bench_ms (floor[1]));
    printf ("  %-46s %8.2f %8.2f\n", "ratio command->event / floor",
            bench_ratio ((double) l->e2e[0], (double) floor[0]),
            bench_ratio ((double) l->e2e[1], (double) floor[1]));
    printf ("      sent %" PRIu64 " (%" PRIu64 " measured at %.1f/s after %d ms warm-up);"
            " replies: %" PRIu64 " ok, %" PRIu64 " errors\n", l->sent, l->measured,
            l->send_rate, BENCH_WARMUP_MS, l->outcomes[BENCH_OK], bench_errors (l->outcomes));
    printf ("      ok replies came at %.1f/s, first to last%s\n", l->reply_rate,
            l->reply_rate < S_PACE_KEPT * bench->rate
                ? ": slower than the pace, so commands queued and the latency includes the wait"
                : "");
    printf ("      events received for %" PRIu64 " of the %" PRIu64 " measured commands;"
            " %" PRIu64 " matched to their reply\n", l->events, l->measured, l->replies_matched);
    for (int k = 1; k < BENCH_OUTCOMES; k++)
        if (l->outcomes[k])
            printf ("      %" PRIu64 " %s (first: %s)\n", l->outcomes[k], bench_outcome_names[k],
                    bench_note_text (k));
}

static void
s_report_targets (const s_bench_t *bench)
{
    const bench_result_t *one = &bench->reg[0], *many = &bench->reg[1];
    double one_floor = S_TARGET_ONE_SHARE * bench->pg[0].per_second;
    printf ("\ntargets of issue 2 (reported, not a gate)\n");
    bench_target_print (many->ok > 0 && many->per_second >= bench->pg[1].per_second,
                        "%d clients: resident.register %.1f/s >= PG %d-connection insert-commit"
                        " %.1f/s (ratio %.2f)", many->clients, many->per_second, many->clients,
                        bench->pg[1].per_second,
                        bench_ratio (many->per_second, bench->pg[1].per_second));
    bench_target_print (one->ok > 0 && one->per_second >= one_floor,
                        "1 client: resident.register %.1f/s >= %.1f x PG 1-connection %.1f/s ="
                        " %.1f/s (ratio %.2f)", one->per_second, S_TARGET_ONE_SHARE,
                        bench->pg[0].per_second, one_floor,
                        bench_ratio (one->per_second, bench->pg[0].per_second));
    const s_latency_t *l = &bench->latency;
    bench_target_print (l->events > 0 && l->e2e[1] < S_TARGET_P99_US,
                        "command->event p99 %.3f ms < %.0f ms at %d commands/s (achieved %.1f/s,"
                        " %" PRIu64 " samples)", bench_ms (l->e2e[1]), bench_ms (S_TARGET_P99_US),
                        bench->rate, l->send_rate, l->events);
}

static void
s_report (void *arg)
{
    const s_bench_t *bench = arg;
    s_report_head (bench);
    s_report_rates (bench);
    s_report_events (bench);
    s_report_latency (bench);
    s_report_targets (bench);
}

// ---- main ----------------------------------------------------------------------------------

int
main (int argc, char **argv)
{
    static s_bench_t bench; //  large, and its atomics start at zero
    bench.rate = S_RATE_DEFAULT;
    const bench_option_t options[] = {
        {"--rate", 1, S_RATE_MAX, &bench.rate, "paced commands per second of the latency run"},
        {NULL, 0, 0, NULL, NULL}};
    if (bench_options_read ("bench_registry", argc, argv, &bench.seconds, options))
        return 2;
    const bench_program_t program = {
        "registry", "fresh database, bus in-process, shequ-registry, divisions", s_setup,
        s_measure, s_report, s_teardown};
    return bench_program_run (&program, &bench, &bench.facts, &bench.stack);
}
