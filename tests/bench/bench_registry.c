/*  bench_registry: what the registry does per second on this machine, side by side with what
    the machine itself allows for the same work, measured in the same run (issue 2, section
    "Benchmark"; README.md beside this file explains every figure).

    Set-up: a fresh database, the bus in-process, the real shequ-registry binary, the real
    divisions imported. Then, in this order: ZeroMQ round trips (raw DEALER/ROUTER and MDP
    through the broker); resident.register with 1 client between two PostgreSQL
    insert-and-commit runs with 1 connection; the same with 16 (a subscriber counts the
    events); and command-to-event latency at a paced rate. It prints what it measured and
    exits 0 whatever the figures are; 1 only when the set-up failed, 2 on a bad option. */
#include "sq_identity.h"
#include "sq_json.h"
#include "sq_test.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define S_SECONDS_DEFAULT 5         //  --seconds: measured window of each figure
#define S_SECONDS_MAX 3600          //  longest window accepted
#define S_WARMUP_MS 1000            //  run before each window opens, not counted
#define S_CLIENTS_MANY 16           //  the concurrent figure's clients (issue 2)
#define S_RATE_DEFAULT 1000         //  --rate: paced commands per second of the latency run
#define S_RATE_MAX 20000            //  highest pace accepted
#define S_CALL_TIMEOUT_MS 10000     //  a request without a reply by then counts as a timeout
#define S_HEALTH_TIMEOUT_MS 30000   //  the spawned registry answers health within this
#define S_HEALTH_CALL_MS 1000       //  one health call's timeout while waiting
#define S_IMPORT_TIMEOUT_MS 600000  //  division.import of the real file
#define S_DRAIN_TIMEOUT_MS 15000    //  replies and events still due after a run come by then
#define S_SUB_READY_MS 10000        //  the subscriber has caught up with the stream by then
#define S_SETTLE_MS 200             //  lets a new subscription reach the bus
#define S_POLL_MS 100               //  idle wait of the helper threads' loops
#define S_WAIT_STEP_MS 10           //  step of the main thread's waits
#define S_SAMPLES_MAX 2000000       //  latency samples kept per figure
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
#define S_TEXT_MAX 256              //  facts, notes, paths
#define S_US_PER_S 1000000
#define S_US_PER_MS 1000
#define S_NS_PER_US 1000

// ---- small helpers ------------------------------------------------------------------------

//  Monotonic microseconds: every duration and latency here is measured on this clock.
static int64_t
s_now_us (void)
{
    struct timespec now;
    clock_gettime (CLOCK_MONOTONIC, &now);
    return (int64_t) now.tv_sec * S_US_PER_S + now.tv_nsec / S_NS_PER_US;
}

static void
s_sleep_ms (int ms)
{
    struct timespec pause = {ms / 1000, (long) (ms % 1000) * 1000000L};
    nanosleep (&pause, NULL);
}

//  Progress goes to stderr; the report alone goes to stdout.
static void
s_progress (const char *format, ...)
{
    va_list args;
    va_start (args, format);
    fprintf (stderr, "bench: ");
    vfprintf (stderr, format, args);
    fprintf (stderr, "\n");
    va_end (args);
}

static int
s_compare_int64 (const void *a, const void *b)
{
    int64_t x = *(const int64_t *) a, y = *(const int64_t *) b;
    return (x > y) - (x < y);
}

//  Nearest-rank percentile of sorted samples; -1 when there are none.
static int64_t
s_percentile (const int64_t *sorted, size_t count, double share)
{
    if (count == 0)
        return -1;
    size_t rank = (size_t) (share * (double) count);
    if ((double) rank < share * (double) count)
        rank++;
    return sorted[rank < 1 ? 0 : rank - 1];
}

// ---- outcomes of a request -----------------------------------------------------------------

typedef enum {
    S_OK = 0,
    S_INVALID,
    S_NOT_FOUND,
    S_CONFLICT,
    S_FORBIDDEN,
    S_UNAVAILABLE,
    S_INTERNAL,
    S_TIMEOUT,   //  no reply within S_CALL_TIMEOUT_MS
    S_MALFORMED, //  a reply that is not {"ok": ...}
    S_FAILED,    //  the request could not be sent, or PostgreSQL refused the row
    S_OUTCOMES
} s_outcome_t;

static const char *const s_outcome_names[S_OUTCOMES] = {
    "ok",       SQ_ERR_INVALID, SQ_ERR_NOT_FOUND, SQ_ERR_CONFLICT, SQ_ERR_FORBIDDEN,
    SQ_ERR_UNAVAILABLE, SQ_ERR_INTERNAL, "timeout", "malformed", "failed"};

//  The first message seen of each kind of failure, for the report.
static pthread_mutex_t s_notes_lock = PTHREAD_MUTEX_INITIALIZER;
static char s_notes[S_OUTCOMES][S_TEXT_MAX];

//  Failures among outcomes: everything but S_OK.
static uint64_t
s_errors (const uint64_t outcomes[S_OUTCOMES])
{
    uint64_t sum = 0;
    for (int k = S_OK + 1; k < S_OUTCOMES; k++)
        sum += outcomes[k];
    return sum;
}

static void
s_note (s_outcome_t outcome, const char *message)
{
    pthread_mutex_lock (&s_notes_lock);
    if (!s_notes[outcome][0])
        snprintf (s_notes[outcome], sizeof s_notes[outcome], "%s", message);
    pthread_mutex_unlock (&s_notes_lock);
}

//  Classifies a reply body; copies result.id into id (when given and present).
static s_outcome_t
s_reply_outcome (const void *raw, size_t size, char *id, size_t id_size)
{
    char why[128];
    sq_doc_t *doc = sq_doc_new (raw, size, why, sizeof why);
    const msgpack_object *root = doc ? sq_doc_root (doc) : NULL;
    const msgpack_object *ok = sq_obj_get (root, "ok");
    s_outcome_t outcome = S_MALFORMED;
    if (id)
        id[0] = 0;
    if (ok && ok->type == MSGPACK_OBJECT_BOOLEAN && ok->via.boolean) {
        outcome = S_OK;
        if (id && sq_obj_str_copy (sq_obj_get (sq_obj_get (root, "result"), "id"), id, id_size))
            id[0] = 0;
    } else if (ok && ok->type == MSGPACK_OBJECT_BOOLEAN) {
        const msgpack_object *error = sq_obj_get (root, "error");
        char code[32] = "", message[S_TEXT_MAX] = "";
        sq_obj_str_copy (sq_obj_get (error, "code"), code, sizeof code);
        sq_obj_str_copy (sq_obj_get (error, "message"), message, sizeof message);
        for (int i = S_INVALID; i <= S_INTERNAL; i++)
            if (strcmp (code, s_outcome_names[i]) == 0)
                outcome = (s_outcome_t) i;
        s_note (outcome, message[0] ? message : code);
    } else
        s_note (S_MALFORMED, doc ? "reply without a boolean ok" : why);
    sq_doc_destroy (&doc);
    return outcome;
}

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

typedef struct {
    bool valid;                     //  the run took place
    int clients;                    //  concurrent clients
    double per_second;              //  ok replies in the window / window
    uint64_t ok;                    //  ok replies in the window
    uint64_t ok_all;                //  ok replies in the whole run (warm-up and tail too)
    uint64_t outcomes[S_OUTCOMES];  //  replies in the window by outcome
    int64_t p50_us, p99_us;         //  per-request latency (kept for 1-client runs), -1: none
} s_result_t;

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
    uint64_t outcomes[S_OUTCOMES];  //  their replies by outcome
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
    long nproc;                       //  online processors
    char cpu[S_TEXT_MAX];             //  model name
    char kernel[S_TEXT_MAX];          //  uname
    char load_start[64], load_end[64]; //  /proc/loadavg at start and end
    char started[64];                 //  when the bench started, UTC
    char pg[8][64];                   //  values of s_pg_settings
} s_facts_t;

static const char *const s_pg_settings[] = {"server_version", "fsync", "synchronous_commit",
                                            "wal_sync_method", "full_page_writes",
                                            "commit_delay", "shared_buffers", NULL};

typedef struct {
    int seconds;                        //  measured window of each figure
    int rate;                           //  pace of the latency run, commands per second
    char conninfo[1100];                //  the bench database
    bus_t *bus;                         //  in-process bus
    char commands[256];                 //  its ROUTER endpoint
    char events_out[256];               //  its XPUB endpoint
    pid_t registry;                     //  shequ-registry, 0 when not running
    char registry_log[S_TEXT_MAX];      //  its log file
    int64_t registry_concurrency;       //  worker sockets it reported
    sq_mdp_client_t *client;            //  set-up calls
    sq_db_t *db;                        //  direct connection: communities, settings
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
    s_facts_t facts;
    s_result_t raw[2], mdp[2], reg[2];  //  [0]: 1 client, [1]: 16 clients
    s_result_t pg_before[2], pg_after[2]; //  PostgreSQL just before and after reg[i]
    s_result_t pg[2];                   //  their mean: the ceiling of reg[i]
    uint64_t many_events;               //  events of the 16-client run received
    int64_t many_span_us;               //  from the first of them to the last
    int64_t many_lag_us[3];             //  their "at" to arrival (wall clock): p50, p99, max
    s_latency_t latency;
} s_bench_t;

// ---- requests ------------------------------------------------------------------------------

//  Packs a request body of DESIGN.md; args are the raw msgpack of a map, corr may be NULL.
static void
s_pack_request (msgpack_sbuffer *buf, const char *cmd, const void *args, size_t args_size,
                const char *role, const char *scope, const char *corr)
{
    msgpack_packer pk;
    msgpack_packer_init (&pk, buf, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, corr ? 4 : 3);
    sq_pack_kv_str (&pk, "cmd", cmd);
    sq_pack_kv_raw (&pk, "args", args, args_size);
    sq_pack_str (&pk, "actor");
    msgpack_pack_map (&pk, 3);
    sq_pack_kv_str (&pk, "id", "bench");
    sq_pack_kv_str (&pk, "role", role);
    sq_pack_kv_str (&pk, "scope", scope);
    if (corr)
        sq_pack_kv_str (&pk, "corr", corr);
}

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
    s_pack_request (buf, "resident.register", args.data, args.size, "community_staff",
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

//  Calls cmd with JSON args as an operator. Returns the decoded reply (the caller destroys
//  it and frees *raw) or NULL with the reason in why.
static sq_doc_t *
s_command (sq_mdp_client_t *client, const char *cmd, const char *json_args, int timeout_ms,
           void **raw, char *why, size_t why_size)
{
    msgpack_sbuffer args, body;
    msgpack_sbuffer_init (&args);
    msgpack_sbuffer_init (&body);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &args, msgpack_sbuffer_write);
    int rc = sq_json_to_msgpack (json_args, strlen (json_args), &pk, why, why_size);
    size_t size = 0;
    *raw = NULL;
    if (rc == 0) {
        s_pack_request (&body, cmd, args.data, args.size, "operator", "", NULL);
        rc = sq_mdp_client_call (client, "registry", body.data, body.size, timeout_ms, raw,
                                 &size);
        if (rc)
            snprintf (why, why_size, "no reply to %s within %d ms", cmd, timeout_ms);
    }
    msgpack_sbuffer_destroy (&args);
    msgpack_sbuffer_destroy (&body);
    sq_doc_t *doc = rc ? NULL : sq_doc_new (*raw, size, why, why_size);
    if (!doc) {
        free (*raw);
        *raw = NULL;
    }
    return doc;
}

//  The result of an ok reply, NULL (with the error in why) otherwise.
static const msgpack_object *
s_result (const sq_doc_t *doc, char *why, size_t why_size)
{
    const msgpack_object *root = sq_doc_root (doc);
    const msgpack_object *ok = sq_obj_get (root, "ok");
    if (ok && ok->type == MSGPACK_OBJECT_BOOLEAN && ok->via.boolean)
        return sq_obj_get (root, "result");
    char *text = sq_json_from_msgpack (root);
    snprintf (why, why_size, "%s", text ? text : "undecodable reply");
    free (text);
    return NULL;
}

// ---- clients under load --------------------------------------------------------------------

typedef struct s_client s_client_t;

//  One kind of load: what a client thread opens, repeats and closes.
typedef struct {
    const char *name;                       //  for progress lines
    int (*open) (s_client_t *client);       //  0 or -1
    s_outcome_t (*op) (s_client_t *client); //  one request, waited for
    void (*close) (s_client_t *client);
} s_load_t;

//  Shared by the threads of one run.
typedef struct {
    const s_load_t *load;
    s_bench_t *bench;
    const char *tag;          //  corr prefix of the registrations of this run
    pthread_barrier_t ready;  //  every client has opened
    pthread_barrier_t go;     //  the window is set
    bool abort;               //  a client could not open (set before go)
    int64_t from_us;          //  the measured window, monotonic
    int64_t until_us;
    size_t samples_max;       //  latency samples per client, 0: none kept
} s_run_t;

struct s_client {
    s_run_t *run;
    pthread_t thread;
    void *handle;                  //  MDP client, PGconn or DEALER
    bool failed;                   //  open failed
    uint64_t ok;                   //  ok replies in the window
    uint64_t ok_all;               //  ok replies in the whole run
    uint64_t outcomes[S_OUTCOMES]; //  replies in the window by outcome
    int64_t *samples;              //  latency of each ok request in the window, us
    size_t sample_count;
};

static void
s_client_count (s_client_t *self, s_outcome_t outcome, int64_t start_us, int64_t end_us)
{
    s_run_t *run = self->run;
    bool inside = end_us >= run->from_us && end_us < run->until_us;
    if (outcome == S_OK)
        self->ok_all++;
    if (!inside)
        return;
    self->outcomes[outcome]++;
    if (outcome != S_OK)
        return;
    self->ok++;
    if (self->samples && self->sample_count < run->samples_max)
        self->samples[self->sample_count++] = end_us - start_us;
}

static void *
s_client_thread (void *arg)
{
    s_client_t *self = arg;
    s_run_t *run = self->run;
    self->failed = run->load->open (self) != 0;
    if (!self->failed && run->samples_max) {
        self->samples = malloc (run->samples_max * sizeof *self->samples);
        self->failed = self->samples == NULL;
    }
    pthread_barrier_wait (&run->ready);
    pthread_barrier_wait (&run->go);
    while (!self->failed && !run->abort) {
        int64_t start_us = s_now_us ();
        if (start_us >= run->until_us)
            break;
        s_outcome_t outcome = run->load->op (self);
        s_client_count (self, outcome, start_us, s_now_us ());
    }
    if (self->handle)
        run->load->close (self);
    return NULL;
}

//  Adds the clients' counts and samples into result.
static void
s_run_collect (s_run_t *run, s_client_t *clients, int count, s_result_t *result)
{
    size_t samples = 0;
    for (int i = 0; i < count; i++)
        samples += clients[i].sample_count;
    int64_t *all = samples ? malloc (samples * sizeof *all) : NULL;
    size_t used = 0;
    for (int i = 0; i < count; i++) {
        result->ok += clients[i].ok;
        result->ok_all += clients[i].ok_all;
        for (int k = 0; k < S_OUTCOMES; k++)
            result->outcomes[k] += clients[i].outcomes[k];
        if (all && clients[i].sample_count)
            memcpy (all + used, clients[i].samples, clients[i].sample_count * sizeof *all);
        used += clients[i].sample_count;
        free (clients[i].samples);
    }
    if (all)
        qsort (all, samples, sizeof *all, s_compare_int64);
    result->p50_us = all ? s_percentile (all, samples, 0.50) : -1;
    result->p99_us = all ? s_percentile (all, samples, 0.99) : -1;
    free (all);
    result->per_second =
        (double) result->ok * S_US_PER_S / (double) (run->until_us - run->from_us);
    result->valid = !run->abort;
}

//  Runs load with clients threads: warm-up, then the measured window. keep_samples keeps
//  each request's latency. Returns 0, or -1 when a client could not open.
static int
s_run (s_bench_t *bench, const s_load_t *load, int clients, const char *tag,
       bool keep_samples, s_result_t *result)
{
    s_run_t run = {.load = load, .bench = bench, .tag = tag};
    run.samples_max = keep_samples ? S_SAMPLES_MAX / (size_t) clients : 0;
    memset (result, 0, sizeof *result);
    result->clients = clients;
    s_client_t *threads = calloc ((size_t) clients, sizeof *threads);
    assert (threads);
    pthread_barrier_init (&run.ready, NULL, (unsigned) clients + 1);
    pthread_barrier_init (&run.go, NULL, (unsigned) clients + 1);
    for (int i = 0; i < clients; i++) {
        threads[i].run = &run;
        int rc = pthread_create (&threads[i].thread, NULL, s_client_thread, &threads[i]);
        assert (rc == 0);
    }
    pthread_barrier_wait (&run.ready);
    for (int i = 0; i < clients; i++)
        run.abort = run.abort || threads[i].failed;
    run.from_us = s_now_us () + (int64_t) S_WARMUP_MS * S_US_PER_MS;
    run.until_us = run.from_us + (int64_t) bench->seconds * S_US_PER_S;
    pthread_barrier_wait (&run.go);
    for (int i = 0; i < clients; i++)
        pthread_join (threads[i].thread, NULL);
    s_run_collect (&run, threads, clients, result);
    pthread_barrier_destroy (&run.ready);
    pthread_barrier_destroy (&run.go);
    free (threads);
    s_progress ("%-44s %2d client%s %10.1f/s  (%" PRIu64 " ok, %" PRIu64 " ok in all)",
                load->name, clients, clients == 1 ? " " : "s", result->per_second, result->ok,
                result->ok_all);
    return run.abort ? -1 : 0;
}

// ---- loads: registry, PostgreSQL, MDP echo, raw echo ---------------------------------------

static int
s_mdp_open (s_client_t *self)
{
    self->handle = sq_mdp_client_new (self->run->bench->commands);
    return self->handle ? 0 : -1;
}

static void
s_mdp_close (s_client_t *self)
{
    sq_mdp_client_t *client = self->handle;
    sq_mdp_client_destroy (&client);
    self->handle = NULL;
}

//  One request and its reply on an MDP client.
static s_outcome_t
s_mdp_call (sq_mdp_client_t *client, const char *service, const msgpack_sbuffer *body)
{
    void *reply = NULL;
    size_t size = 0;
    if (sq_mdp_client_call (client, service, body->data, body->size, S_CALL_TIMEOUT_MS, &reply,
                            &size)) {
        bool timeout = errno == ETIMEDOUT;
        s_note (timeout ? S_TIMEOUT : S_FAILED, timeout ? "no reply in time" : strerror (errno));
        return timeout ? S_TIMEOUT : S_FAILED;
    }
    s_outcome_t outcome = s_reply_outcome (reply, size, NULL, 0);
    free (reply);
    return outcome;
}

static s_outcome_t
s_register_op (s_client_t *self)
{
    s_bench_t *bench = self->run->bench;
    uint64_t n = atomic_fetch_add (&bench->next_resident, 1);
    char corr[S_CORR_MAX];
    snprintf (corr, sizeof corr, "%s-%" PRIu64, self->run->tag, n);
    msgpack_sbuffer body;
    msgpack_sbuffer_init (&body);
    s_pack_register (&body, bench, n, corr);
    s_outcome_t outcome = s_mdp_call (self->handle, "registry", &body);
    msgpack_sbuffer_destroy (&body);
    return outcome;
}

//  The echo gets a request of the same shape and size as the registry's.
static s_outcome_t
s_mdp_echo_op (s_client_t *self)
{
    s_bench_t *bench = self->run->bench;
    uint64_t n = atomic_fetch_add (&bench->next_row, 1);
    msgpack_sbuffer body;
    msgpack_sbuffer_init (&body);
    s_pack_register (&body, bench, n, "echo-0");
    s_outcome_t outcome = s_mdp_call (self->handle, S_ECHO_SERVICE, &body);
    msgpack_sbuffer_destroy (&body);
    return outcome;
}

static int
s_pg_open (s_client_t *self)
{
    PGconn *conn = PQconnectdb (self->run->bench->conninfo);
    self->handle = conn;
    if (PQstatus (conn) != CONNECTION_OK) {
        s_note (S_FAILED, PQerrorMessage (conn));
        return -1;
    }
    PGresult *res = PQprepare (conn, "ceiling", "INSERT INTO bench_ceiling (a, b)"
                               " VALUES ($1::bigint, $2)", 2, NULL);
    int ok = PQresultStatus (res) == PGRES_COMMAND_OK;
    if (!ok)
        s_note (S_FAILED, PQerrorMessage (conn));
    PQclear (res);
    return ok ? 0 : -1;
}

static void
s_pg_close (s_client_t *self)
{
    PQfinish (self->handle);
    self->handle = NULL;
}

//  One row, autocommit: the insert and its commit are one round trip and one WAL flush.
static s_outcome_t
s_pg_op (s_client_t *self)
{
    uint64_t n = atomic_fetch_add (&self->run->bench->next_row, 1);
    char a[24], b[48];
    snprintf (a, sizeof a, "%" PRIu64, n);
    snprintf (b, sizeof b, "ceiling row %" PRIu64, n);
    const char *params[] = {a, b};
    PGresult *res = PQexecPrepared (self->handle, "ceiling", 2, params, NULL, NULL, 0);
    s_outcome_t outcome = PQresultStatus (res) == PGRES_COMMAND_OK ? S_OK : S_FAILED;
    if (outcome != S_OK)
        s_note (S_FAILED, PQerrorMessage (self->handle));
    PQclear (res);
    return outcome;
}

static int
s_raw_open (s_client_t *self)
{
    void *socket = zmq_socket (sq_zmq_context (), ZMQ_DEALER);
    self->handle = socket;
    return socket && sq_zmq_socket_setup (socket) == 0
                   && zmq_connect (socket, self->run->bench->raw_endpoint) == 0
               ? 0
               : -1;
}

static void
s_raw_close (s_client_t *self)
{
    zmq_close (self->handle);
    self->handle = NULL;
}

static s_outcome_t
s_raw_op (s_client_t *self)
{
    s_bench_t *bench = self->run->bench;
    uint64_t n = atomic_fetch_add (&bench->next_row, 1);
    msgpack_sbuffer body;
    msgpack_sbuffer_init (&body);
    s_pack_register (&body, bench, n, "echo-0");
    int rc = zmq_send (self->handle, body.data, body.size, 0);
    msgpack_sbuffer_destroy (&body);
    if (rc == -1)
        return S_FAILED;
    zmq_pollitem_t item = {self->handle, 0, ZMQ_POLLIN, 0};
    if (zmq_poll (&item, 1, S_CALL_TIMEOUT_MS) != 1)
        return S_TIMEOUT;
    zmq_msg_t reply;
    zmq_msg_init (&reply);
    s_outcome_t outcome = S_FAILED;
    if (zmq_msg_recv (&reply, self->handle, 0) >= 0)
        outcome = s_reply_outcome (zmq_msg_data (&reply), zmq_msg_size (&reply), NULL, 0);
    zmq_msg_close (&reply);
    return outcome;
}

static const s_load_t s_load_register = {"resident.register via bus", s_mdp_open,
                                         s_register_op, s_mdp_close};
static const s_load_t s_load_pg = {"PostgreSQL insert+commit", s_pg_open, s_pg_op,
                                   s_pg_close};
static const s_load_t s_load_mdp = {"MDP echo via broker", s_mdp_open, s_mdp_echo_op,
                                    s_mdp_close};
static const s_load_t s_load_raw = {"DEALER/ROUTER echo, no broker", s_raw_open, s_raw_op,
                                    s_raw_close};

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
        workers[i] = sq_mdp_worker_new (bench->commands, S_ECHO_SERVICE);
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
        s_watch_take (self, event, s_now_us (), sq_now_us ());
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
    self->latency_max = self->latency_max < S_SAMPLES_MAX ? self->latency_max : S_SAMPLES_MAX;
    self->event_us = calloc (self->latency_max, sizeof *self->event_us);
    self->resident = calloc (self->latency_max, sizeof *self->resident);
    self->lag_max = S_SAMPLES_MAX;
    self->lag_us = calloc (self->lag_max, sizeof *self->lag_us);
    self->sub = sq_sub_new (bench->events_out, bench->commands);
    if (!self->event_us || !self->resident || !self->lag_us || !self->sub
        || sq_sub_track (self->sub, "registry", 0))
        return -1;
    self->started = pthread_create (&self->thread, NULL, s_watch_thread, self) == 0;
    if (!self->started)
        return -1;
    int64_t deadline_ms = sq_clock_ms () + S_SUB_READY_MS;
    while (atomic_load (&self->seen) == 0 && sq_clock_ms () < deadline_ms)
        s_sleep_ms (S_WAIT_STEP_MS);
    if (atomic_load (&self->seen) == 0)
        s_progress ("the subscriber saw no event of the import yet; going on");
    s_sleep_ms (S_SETTLE_MS);
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
        s_sleep_ms (S_WAIT_STEP_MS);
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
        int64_t at_us = s_now_us ();
        s_reply_t *reply = &self->replies[self->reply_count < self->reply_max
                                              ? self->reply_count
                                              : self->reply_max - 1];
        s_outcome_t outcome = s_reply_outcome (body, body_size, reply->id, sizeof reply->id);
        free (body);
        self->bench->latency.outcomes[outcome]++;
        reply->at_us = at_us;
        if (outcome == S_OK) {
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
        int64_t left_us = due_us - s_now_us ();
        if (left_us <= 0)
            return;
        struct pollfd fd = {.fd = self->fd, .events = POLLIN};
        struct timespec timeout = {left_us / S_US_PER_S,
                                   (long) (left_us % S_US_PER_S) * S_NS_PER_US};
        ppoll (&fd, 1, &timeout, NULL);
    }
}

//  Sends the warm-up and the measured commands at the paced rate.
static void
s_pacer_send (s_pacer_t *self, size_t warm, size_t total)
{
    s_bench_t *bench = self->bench;
    int64_t start_us = s_now_us () + S_WAIT_STEP_MS * S_US_PER_MS;
    int64_t first_us = 0, last_us = 0;
    for (size_t k = 0; k < warm + total; k++) {
        s_pacer_wait (self, start_us + (int64_t) (k * S_US_PER_S / (size_t) bench->rate));
        char corr[S_CORR_MAX];
        if (k < warm)
            snprintf (corr, sizeof corr, "%s-%zu", s_phase_tags[S_PHASE_WARM], k);
        else
            snprintf (corr, sizeof corr, "%s-%zu", s_phase_tags[S_PHASE_LATENCY], k - warm);
        msgpack_sbuffer body;
        msgpack_sbuffer_init (&body);
        s_pack_register (&body, bench, atomic_fetch_add (&bench->next_resident, 1), corr);
        int64_t at_us = s_now_us ();
        int rc = sq_mdp_client_send (self->client, "registry", body.data, body.size);
        msgpack_sbuffer_destroy (&body);
        if (rc) {
            bench->latency.outcomes[S_FAILED]++;
            s_note (S_FAILED, "could not send a paced request");
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
            (double) (total - 1) * S_US_PER_S / (double) (last_us - first_us);
}

static int
s_compare_reply (const void *a, const void *b)
{
    return strcmp (((const s_reply_t *) a)->id, ((const s_reply_t *) b)->id);
}

//  Sorts samples and writes p50, p99 and max into out.
static void
s_summary (int64_t *samples, size_t count, int64_t out[3])
{
    qsort (samples, count, sizeof *samples, s_compare_int64);
    out[0] = s_percentile (samples, count, 0.50);
    out[1] = s_percentile (samples, count, 0.99);
    out[2] = count ? samples[count - 1] : -1;
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
    s_summary (e2e, events, out->e2e);
    s_summary (reply, matched, out->reply);
    s_summary (after, matched, out->after);
    free (e2e);
    free (reply);
    free (after);
}

//  Command sent -> event received at bench->rate commands per second, one sender thread
//  pipelining on one MDP client; the subscriber thread stamps the events.
static int
s_latency_run (s_bench_t *bench)
{
    size_t warm = (size_t) bench->rate * S_WARMUP_MS / S_US_PER_MS;
    size_t total = bench->watch.latency_max;
    s_pacer_t pacer = {.bench = bench, .reply_max = warm + total};
    pacer.client = sq_mdp_client_new (bench->commands);
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
    int64_t deadline_us = s_now_us () + (int64_t) S_DRAIN_TIMEOUT_MS * S_US_PER_MS;
    //  Send failures are counted under S_FAILED and never answered; every other outcome is
    //  a reply.
    while (s_errors (bench->latency.outcomes) - bench->latency.outcomes[S_FAILED]
                   + bench->latency.outcomes[S_OK]
               < bench->latency.sent
           && s_now_us () < deadline_us)
        s_pacer_wait (&pacer, s_now_us () + S_WAIT_STEP_MS * S_US_PER_MS);
    s_watch_wait (&bench->watch, S_PHASE_LATENCY, S_PHASE_WARM,
                  bench->latency.outcomes[S_OK]);
    s_pacer_match (&pacer, total);
    if (pacer.last_ok_us > pacer.first_ok_us)
        bench->latency.reply_rate = (double) (bench->latency.outcomes[S_OK] - 1) * S_US_PER_S
                                    / (double) (pacer.last_ok_us - pacer.first_ok_us);
    bench->latency.valid = true;
    sq_mdp_client_destroy (&pacer.client);
    free (pacer.replies);
    free (pacer.sent_us);
    s_progress ("%-44s %d/s: p50 %.2f ms, p99 %.2f ms", "command -> event latency", bench->rate,
                bench->latency.e2e[0] / 1000.0, bench->latency.e2e[1] / 1000.0);
    return 0;
}

// ---- set-up and tear-down ------------------------------------------------------------------

//  Reads the first line of a file (without its newline) into out; "" when unreadable.
static void
s_read_line (const char *path, const char *prefix, char *out, size_t out_size)
{
    out[0] = 0;
    FILE *file = fopen (path, "r");
    if (!file)
        return;
    char line[S_TEXT_MAX];
    while (fgets (line, sizeof line, file)) {
        if (prefix && strncmp (line, prefix, strlen (prefix)) != 0)
            continue;
        const char *value = prefix ? strchr (line, ':') : line;
        value = value ? value + (prefix ? 1 : 0) : line;
        value += strspn (value, " \t");
        snprintf (out, out_size, "%.*s", (int) strcspn (value, "\n"), value);
        break;
    }
    fclose (file);
}

//  The 1, 5 and 15 minute load averages: other work on this machine weighs on every figure.
static void
s_load_average (char *out, size_t out_size)
{
    s_read_line ("/proc/loadavg", NULL, out, out_size);
    char *end = out;
    for (int field = 0; field < 3 && end; field++)
        end = strchr (end + (field ? 1 : 0), ' ');
    if (end)
        *end = 0;
}

//  The machine and the PostgreSQL settings that decide commit rates.
static void
s_facts_read (s_bench_t *bench)
{
    s_facts_t *facts = &bench->facts;
    facts->nproc = sysconf (_SC_NPROCESSORS_ONLN);
    time_t now = time (NULL);
    struct tm utc;
    strftime (facts->started, sizeof facts->started, "%Y-%m-%d %H:%M:%S UTC",
              gmtime_r (&now, &utc));
    s_read_line ("/proc/cpuinfo", "model name", facts->cpu, sizeof facts->cpu);
    s_load_average (facts->load_start, sizeof facts->load_start);
    struct utsname name;
    if (uname (&name) == 0)
        snprintf (facts->kernel, sizeof facts->kernel, "%s %s %s", name.sysname, name.release,
                  name.machine);
    for (int i = 0; s_pg_settings[i]; i++) {
        const char *params[] = {s_pg_settings[i]};
        sq_error_t err;
        PGresult *res = sq_db_query (bench->db, "SELECT current_setting ($1)", 1, params, &err);
        snprintf (facts->pg[i], sizeof facts->pg[i], "%s",
                  res && PQntuples (res) == 1 ? PQgetvalue (res, 0, 0) : "?");
        PQclear (res);
    }
}

//  Community codes under S_COMMUNITY_PREFIX, from what the import wrote.
static int
s_communities_read (s_bench_t *bench)
{
    sq_error_t err;
    const char *params[] = {S_COMMUNITY_PREFIX "%"};
    PGresult *res = sq_db_query (bench->db, "SELECT code FROM registry.division"
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

//  Waits until the spawned registry answers health; notes its concurrency.
static int
s_registry_wait (s_bench_t *bench)
{
    int64_t deadline_ms = sq_clock_ms () + S_HEALTH_TIMEOUT_MS;
    char why[S_TEXT_MAX] = "no reply";
    while (sq_clock_ms () < deadline_ms) {
        if (waitpid (bench->registry, NULL, WNOHANG) == bench->registry) {
            bench->registry = 0;
            fprintf (stderr, "bench: shequ-registry exited at start; see %s\n",
                     bench->registry_log);
            return -1;
        }
        void *raw = NULL;
        sq_doc_t *doc = s_command (bench->client, "health", "{}", S_HEALTH_CALL_MS, &raw, why,
                                   sizeof why);
        const msgpack_object *result = doc ? s_result (doc, why, sizeof why) : NULL;
        if (result)
            bench->registry_concurrency = sq_test_int (result, "concurrency");
        sq_doc_destroy (&doc);
        free (raw);
        if (result)
            return 0;
    }
    fprintf (stderr, "bench: shequ-registry did not answer health: %s; see %s\n", why,
             bench->registry_log);
    return -1;
}

static int
s_import (s_bench_t *bench)
{
    const char *shared = sq_config_str ("SHEQU_SHARED_DIR", SQ_SOURCE_DIR "/../shared");
    char args[S_TEXT_MAX * 4], why[S_TEXT_MAX];
    snprintf (args, sizeof args, "{\"path\":\"%s/data/divisions/divisions.csv\"}", shared);
    void *raw = NULL;
    sq_doc_t *doc = s_command (bench->client, "division.import", args, S_IMPORT_TIMEOUT_MS,
                               &raw, why, sizeof why);
    const msgpack_object *result = doc ? s_result (doc, why, sizeof why) : NULL;
    if (result)
        s_progress ("imported %" PRId64 " divisions", sq_test_int (result, "total"));
    else
        fprintf (stderr, "bench: division.import failed: %s\n", why);
    sq_doc_destroy (&doc);
    free (raw);
    return result ? 0 : -1;
}

//  Where the registry binary and its log are; defaults for a run outside deploy/shequ.
static int
s_paths (s_bench_t *bench)
{
    setenv ("SHEQU_BIN_DIR", SQ_SOURCE_DIR "/build/bin", 0);
    char logs[S_TEXT_MAX], binary[S_TEXT_MAX];
    snprintf (logs, sizeof logs, "%s/../bench-logs", getenv ("SHEQU_BIN_DIR"));
    setenv ("SHEQU_TEST_LOGS", logs, 0);
    snprintf (bench->registry_log, sizeof bench->registry_log, "%s/bench_registry-registry.log",
              getenv ("SHEQU_TEST_LOGS"));
    snprintf (binary, sizeof binary, "%s/shequ-registry", getenv ("SHEQU_BIN_DIR"));
    if (access (binary, X_OK)) {
        fprintf (stderr, "bench: %s is missing: build it, or set SHEQU_BIN_DIR\n", binary);
        return -1;
    }
    if (!getenv ("SHEQU_PG") || !sq_crypt_key_from_env ()) {
        fprintf (stderr, "bench: set SHEQU_PG and SHEQU_DATA_KEY (deploy/shequ bench does)\n");
        return -1;
    }
    return 0;
}

//  Database, bus, registry process, divisions, communities, ceiling table, echoes and the
//  subscriber. Returns 0 or -1 (said on stderr).
static int
s_setup (s_bench_t *bench)
{
    if (s_paths (bench) || s_id_numbers_check ())
        return -1;
    //  NB: not "bench": deploy/shequ bench connects to shequ_bench, which cannot be dropped.
    snprintf (bench->conninfo, sizeof bench->conninfo, "%s",
              sq_test_db_fresh ("bench_registry"));
    bench->bus = sq_test_bus_start ();
    snprintf (bench->commands, sizeof bench->commands, "%s",
              bus_endpoint_commands (bench->bus));
    snprintf (bench->events_out, sizeof bench->events_out, "%s",
              bus_endpoint_events_out (bench->bus));
    unlink (bench->registry_log);
    bench->registry = sq_test_spawn ("shequ-registry", "bench_registry-registry",
                                     sq_test_service_env (bench->bus, bench->conninfo));
    bench->client = sq_mdp_client_new (bench->commands);
    char why[S_TEXT_MAX];
    bench->db = sq_db_new (bench->conninfo, why, sizeof why);
    if (!bench->client || !bench->db) {
        fprintf (stderr, "bench: could not connect: %s\n", bench->db ? "bus" : why);
        return -1;
    }
    if (s_registry_wait (bench) || s_import (bench) || s_communities_read (bench))
        return -1;
    sq_error_t err;
    if (sq_db_exec (bench->db, "CREATE TABLE bench_ceiling (id bigserial PRIMARY KEY,"
                    " a bigint NOT NULL, b text NOT NULL)", 0, NULL, &err)) {
        fprintf (stderr, "bench: could not create bench_ceiling: %s\n", err.message);
        return -1;
    }
    s_facts_read (bench);
    if (s_echoes_start (bench) || s_watch_start (bench)) {
        fprintf (stderr, "bench: could not start the echoes or the subscriber\n");
        return -1;
    }
    return 0;
}

static void
s_teardown (s_bench_t *bench)
{
    s_watch_stop (&bench->watch);
    s_echoes_stop (bench);
    if (bench->registry > 0)
        sq_test_stop (bench->registry, SIGTERM, S_DRAIN_TIMEOUT_MS);
    sq_mdp_client_destroy (&bench->client);
    bus_destroy (&bench->bus);
    sq_db_destroy (&bench->db);
    free (bench->communities);
}

// ---- the measurements ----------------------------------------------------------------------

//  Waits for the events of a registry run and says how many came.
static void
s_events_drain (s_bench_t *bench, int phase, const s_result_t *run)
{
    uint64_t got = s_watch_wait (&bench->watch, phase, -1, run->ok_all);
    if (got < run->ok_all)
        s_progress ("only %" PRIu64 " of %" PRIu64 " events arrived within %d ms", got,
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
    s_summary (lag, count, bench->many_lag_us);
    free (lag);
}

//  The mean of the PostgreSQL runs before and after a registry run.
static void
s_pg_mean (const s_result_t *before, const s_result_t *after, s_result_t *mean)
{
    *mean = *before;
    mean->valid = before->valid && after->valid;
    mean->per_second = (before->per_second + after->per_second) / 2;
    mean->ok += after->ok;
    mean->ok_all += after->ok_all;
    for (int k = 0; k < S_OUTCOMES; k++)
        mean->outcomes[k] += after->outcomes[k];
    if (before->p50_us >= 0 && after->p50_us >= 0) {
        mean->p50_us = (before->p50_us + after->p50_us) / 2;
        mean->p99_us = (before->p99_us + after->p99_us) / 2;
    }
}

//  ZeroMQ ceilings first; then each registry run between two PostgreSQL runs, 1 client then
//  16, so that whatever else loads this machine weighs on a figure and its ceiling alike
//  (and the drift between the two PostgreSQL runs shows how much it did).
static int
s_measure (s_bench_t *bench)
{
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
        s_pg_mean (&bench->pg_before[i], &bench->pg_after[i], &bench->pg[i]);
    }
    s_events_summary (bench);
    return s_latency_run (bench);
}

// ---- the report ----------------------------------------------------------------------------

static double
s_ratio (double value, double ceiling)
{
    return ceiling > 0 ? value / ceiling : 0;
}

static double
s_ms (int64_t us)
{
    return us < 0 ? -1 : (double) us / S_US_PER_MS;
}

static void
s_report_head (const s_bench_t *bench)
{
    const s_facts_t *f = &bench->facts;
    printf ("\n== bench_registry, started %s ==\n", f->started);
    printf ("machine   %ld processors, %s, %s\n", f->nproc, f->cpu[0] ? f->cpu : "cpu unknown",
            f->kernel);
    printf ("          load average at start %s, at end %s\n", f->load_start, f->load_end);
    printf ("postgres  %s; fsync=%s synchronous_commit=%s wal_sync_method=%s"
            " full_page_writes=%s commit_delay=%s shared_buffers=%s\n",
            f->pg[0], f->pg[1], f->pg[2], f->pg[3], f->pg[4], f->pg[5], f->pg[6]);
    printf ("registry  shequ-registry process (concurrency %" PRId64 "), bus in-process,"
            " %zu communities under %s\n", bench->registry_concurrency, bench->community_count,
            S_COMMUNITY_PREFIX);
    printf ("method    %d s window per figure after %d ms warm-up; N clients = N threads, each"
            " with its own\n          connection (MDP client, libpq, DEALER) and one request"
            " in flight\n", bench->seconds, S_WARMUP_MS);
}

static void
s_report_ceiling (const char *label, const s_result_t *r)
{
    printf ("  %-46s %10.1f", label, r->per_second);
    if (r->p50_us >= 0)
        printf ("   p50 %6.3f ms  p99 %6.3f ms", s_ms (r->p50_us), s_ms (r->p99_us));
    printf ("\n");
}

static void
s_report_pg_drift (const s_result_t *before, const s_result_t *after)
{
    printf ("      before the registry run %.1f/s, after it %.1f/s\n", before->per_second,
            after->per_second);
}

//  Prints the failures of a run, if any, with the first message of each kind.
static void
s_report_errors (const s_result_t *r)
{
    for (int k = 1; k < S_OUTCOMES; k++)
        if (r->outcomes[k])
            printf ("      %" PRIu64 " %s (first: %s)\n", r->outcomes[k], s_outcome_names[k],
                    s_notes[k]);
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
        s_report_errors (&bench->pg[i]);
        s_report_errors (&bench->mdp[i]);
        s_report_errors (&bench->raw[i]);
    }
    printf ("\nregistry                                         per second"
            "   ratio to PG ceiling   ratio to MDP ceiling\n");
    for (int i = 0; i < 2; i++) {
        const s_result_t *r = &bench->reg[i];
        char label[64];
        snprintf (label, sizeof label, "resident.register, %d client%s", r->clients,
                  r->clients == 1 ? "" : "s");
        printf ("  %-46s %10.1f   %5.2f of %8.1f     %5.2f of %8.1f\n", label, r->per_second,
                s_ratio (r->per_second, bench->pg[i].per_second), bench->pg[i].per_second,
                s_ratio (r->per_second, bench->mdp[i].per_second), bench->mdp[i].per_second);
        if (r->p50_us >= 0)
            printf ("      per command: p50 %.3f ms, p99 %.3f ms\n", s_ms (r->p50_us),
                    s_ms (r->p99_us));
        printf ("      %" PRIu64 " ok in the window, %" PRIu64 " errors\n", r->ok,
                s_errors (r->outcomes));
        s_report_errors (r);
    }
}

static void
s_report_events (const s_bench_t *bench)
{
    double span_s = (double) bench->many_span_us / S_US_PER_S;
    double rate = span_s > 0 ? (double) bench->many_events / span_s : 0;
    const s_result_t *many = &bench->reg[1];
    printf ("\nevents to a subscriber (sq_sub tracking \"registry\", during the %d-client run)\n",
            many->clients);
    printf ("  %-46s %10.1f   %5.2f of %8.1f resident.register/s, %5.2f of PG 16\n",
            "events/s, first to last received", rate, s_ratio (rate, many->per_second),
            many->per_second, s_ratio (rate, bench->pg[1].per_second));
    printf ("      %" PRIu64 " events for %" PRIu64 " ok commands of the run (warm-up and tail"
            " included), over %.2f s\n", bench->many_events, many->ok_all, span_s);
    printf ("      event \"at\" (in the command's transaction) -> received: p50 %.2f ms,"
            " p99 %.2f ms, max %.2f ms\n", s_ms (bench->many_lag_us[0]),
            s_ms (bench->many_lag_us[1]), s_ms (bench->many_lag_us[2]));
    printf ("      events the subscriber had to fetch with events.since (whole bench): %" PRIu64
            "\n", bench->watch.fetched);
}

static void
s_report_latency_row (const char *label, const int64_t values[3])
{
    printf ("  %-46s %8.3f %8.3f %8.3f\n", label, s_ms (values[0]), s_ms (values[1]),
            s_ms (values[2]));
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
            s_ms (floor[0]), s_ms (floor[1]));
    printf ("  %-46s %8.2f %8.2f\n", "ratio command->event / floor",
            s_ratio ((double) l->e2e[0], (double) floor[0]),
            s_ratio ((double) l->e2e[1], (double) floor[1]));
    printf ("      sent %" PRIu64 " (%" PRIu64 " measured at %.1f/s after %d ms warm-up);"
            " replies: %" PRIu64 " ok, %" PRIu64 " errors\n", l->sent, l->measured,
            l->send_rate, S_WARMUP_MS, l->outcomes[S_OK], s_errors (l->outcomes));
    printf ("      ok replies came at %.1f/s, first to last%s\n", l->reply_rate,
            l->reply_rate < S_PACE_KEPT * bench->rate
                ? ": slower than the pace, so commands queued and the latency includes the wait"
                : "");
    printf ("      events received for %" PRIu64 " of the %" PRIu64 " measured commands;"
            " %" PRIu64 " matched to their reply\n", l->events, l->measured, l->replies_matched);
    for (int k = 1; k < S_OUTCOMES; k++)
        if (l->outcomes[k])
            printf ("      %" PRIu64 " %s (first: %s)\n", l->outcomes[k], s_outcome_names[k],
                    s_notes[k]);
}

static void
s_report_target (bool pass, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    printf ("  [%s] ", pass ? "PASS" : "MISS");
    vprintf (format, args);
    printf ("\n");
    va_end (args);
}

static void
s_report_targets (const s_bench_t *bench)
{
    const s_result_t *one = &bench->reg[0], *many = &bench->reg[1];
    double one_floor = S_TARGET_ONE_SHARE * bench->pg[0].per_second;
    printf ("\ntargets of issue 2 (reported, not a gate)\n");
    s_report_target (many->ok > 0 && many->per_second >= bench->pg[1].per_second,
                     "%d clients: resident.register %.1f/s >= PG %d-connection insert-commit"
                     " %.1f/s (ratio %.2f)", many->clients, many->per_second, many->clients,
                     bench->pg[1].per_second,
                     s_ratio (many->per_second, bench->pg[1].per_second));
    s_report_target (one->ok > 0 && one->per_second >= one_floor,
                     "1 client: resident.register %.1f/s >= %.1f x PG 1-connection %.1f/s ="
                     " %.1f/s (ratio %.2f)", one->per_second, S_TARGET_ONE_SHARE,
                     bench->pg[0].per_second, one_floor,
                     s_ratio (one->per_second, bench->pg[0].per_second));
    const s_latency_t *l = &bench->latency;
    s_report_target (l->events > 0 && l->e2e[1] < S_TARGET_P99_US,
                     "command->event p99 %.3f ms < %.0f ms at %d commands/s (achieved %.1f/s,"
                     " %" PRIu64 " samples)", s_ms (l->e2e[1]), s_ms (S_TARGET_P99_US),
                     bench->rate, l->send_rate, l->events);
}

static void
s_report (const s_bench_t *bench)
{
    s_report_head (bench);
    s_report_rates (bench);
    s_report_events (bench);
    s_report_latency (bench);
    s_report_targets (bench);
    char *log = realpath (bench->registry_log, NULL);
    printf ("\nregistry log: %s\n", log ? log : bench->registry_log);
    free (log);
    fflush (stdout);
}

// ---- main ----------------------------------------------------------------------------------

static void
s_usage (void)
{
    fprintf (stderr, "usage: bench_registry [--seconds N] [--rate N]\n"
             "  --seconds N  measured window of each figure (default %d)\n"
             "  --rate N     paced commands per second of the latency run (default %d)\n"
             "environment: SHEQU_PG, SHEQU_REDIS, SHEQU_DATA_KEY, SHEQU_SHARED_DIR,"
             " SHEQU_BIN_DIR\n(deploy/shequ bench sets them all; see tests/bench/README.md)\n",
             S_SECONDS_DEFAULT, S_RATE_DEFAULT);
}

//  Reads one integer option value within [min, max]. Returns 0 or -1.
static int
s_option_int (const char *text, long min, long max, int *out)
{
    char *end = NULL;
    errno = 0;
    long value = text ? strtol (text, &end, 10) : 0;
    if (!text || errno || end == text || *end || value < min || value > max)
        return -1;
    *out = (int) value;
    return 0;
}

static int
s_options (int argc, char **argv, s_bench_t *bench)
{
    bench->seconds = S_SECONDS_DEFAULT;
    bench->rate = S_RATE_DEFAULT;
    for (int i = 1; i < argc; i++) {
        const char *value = i + 1 < argc ? argv[i + 1] : NULL;
        int rc = -1;
        if (strcmp (argv[i], "--seconds") == 0)
            rc = s_option_int (value, 1, S_SECONDS_MAX, &bench->seconds);
        else if (strcmp (argv[i], "--rate") == 0)
            rc = s_option_int (value, 1, S_RATE_MAX, &bench->rate);
        if (rc) {
            s_usage ();
            return -1;
        }
        i++;
    }
    return 0;
}

int
main (int argc, char **argv)
{
    static s_bench_t bench; //  large, and its atomics start at zero
    if (s_options (argc, argv, &bench))
        return 2;
    sq_log_init ("bench", SQ_LOG_WARN);
    signal (SIGPIPE, SIG_IGN);
    s_progress ("setting up: fresh database, bus in-process, shequ-registry, divisions");
    if (s_setup (&bench)) {
        s_teardown (&bench);
        fprintf (stderr, "bench: set-up failed; nothing was measured\n");
        return 1;
    }
    int rc = s_measure (&bench);
    s_load_average (bench.facts.load_end, sizeof bench.facts.load_end);
    s_watch_stop (&bench.watch);
    if (rc == 0)
        s_report (&bench);
    else
        fprintf (stderr, "bench: a client could not connect; see the notes above\n");
    s_teardown (&bench);
    return rc ? 1 : 0;
}
