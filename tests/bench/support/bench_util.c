/*  bench_util: what the benchmarks share (bench_util.h says what each part is for). */
#include "bench_util.h"

#include "sq_crypt.h"
#include "sq_json.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define S_RANDOM_SEED 0x9E3779B97F4A7C15ULL //  golden-ratio constant: seeds differ per client
#define S_RANDOM_MULTIPLIER 0x2545F4914F6CDD1DULL //  xorshift64*'s output multiplier

// ---- small helpers ------------------------------------------------------------------------

int64_t
bench_now_us (void)
{
    struct timespec now;
    clock_gettime (CLOCK_MONOTONIC, &now);
    return (int64_t) now.tv_sec * BENCH_US_PER_S + now.tv_nsec / BENCH_NS_PER_US;
}

void
bench_sleep_ms (int ms)
{
    struct timespec pause = {ms / 1000, (long) (ms % 1000) * 1000000L};
    nanosleep (&pause, NULL);
}

void
bench_progress (const char *format, ...)
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

int64_t
bench_percentile (const int64_t *sorted, size_t count, double share)
{
    if (count == 0)
        return -1;
    size_t rank = (size_t) (share * (double) count);
    if ((double) rank < share * (double) count)
        rank++;
    return sorted[rank < 1 ? 0 : rank - 1];
}

void
bench_summary (int64_t *samples, size_t count, int64_t out[3])
{
    qsort (samples, count, sizeof *samples, s_compare_int64);
    out[0] = bench_percentile (samples, count, 0.50);
    out[1] = bench_percentile (samples, count, 0.99);
    out[2] = count ? samples[count - 1] : -1;
}

double
bench_ratio (double value, double ceiling)
{
    return ceiling > 0 ? value / ceiling : 0;
}

double
bench_ms (int64_t us)
{
    return us < 0 ? -1 : (double) us / BENCH_US_PER_MS;
}

// ---- outcomes of a request -----------------------------------------------------------------

const char *const bench_outcome_names[BENCH_OUTCOMES] = {
    "ok",       SQ_ERR_INVALID, SQ_ERR_NOT_FOUND, SQ_ERR_CONFLICT, SQ_ERR_FORBIDDEN,
    SQ_ERR_UNAVAILABLE, SQ_ERR_INTERNAL, "timeout", "malformed", "failed"};

//  The first message seen of each kind of failure, for the report.
static pthread_mutex_t s_notes_lock = PTHREAD_MUTEX_INITIALIZER;
static char s_notes[BENCH_OUTCOMES][BENCH_TEXT_MAX];

uint64_t
bench_errors (const uint64_t outcomes[BENCH_OUTCOMES])
{
    uint64_t sum = 0;
    for (int k = BENCH_OK + 1; k < BENCH_OUTCOMES; k++)
        sum += outcomes[k];
    return sum;
}

void
bench_note (bench_outcome_t outcome, const char *message)
{
    pthread_mutex_lock (&s_notes_lock);
    if (!s_notes[outcome][0])
        snprintf (s_notes[outcome], sizeof s_notes[outcome], "%s", message);
    pthread_mutex_unlock (&s_notes_lock);
}

const char *
bench_note_text (bench_outcome_t outcome)
{
    assert (outcome >= 0 && outcome < BENCH_OUTCOMES);
    return s_notes[outcome];
}

bench_outcome_t
bench_outcome_of_code (const char *code)
{
    for (int i = BENCH_INVALID; i <= BENCH_INTERNAL; i++)
        if (strcmp (code, bench_outcome_names[i]) == 0)
            return (bench_outcome_t) i;
    return BENCH_MALFORMED;
}

bench_outcome_t
bench_reply_outcome (const void *raw, size_t size, char *id, size_t id_size)
{
    char why[128];
    sq_doc_t *doc = sq_doc_new (raw, size, why, sizeof why);
    const msgpack_object *root = doc ? sq_doc_root (doc) : NULL;
    const msgpack_object *ok = sq_obj_get (root, "ok");
    bench_outcome_t outcome = BENCH_MALFORMED;
    if (id)
        id[0] = 0;
    if (ok && ok->type == MSGPACK_OBJECT_BOOLEAN && ok->via.boolean) {
        outcome = BENCH_OK;
        if (id && sq_obj_str_copy (sq_obj_get (sq_obj_get (root, "result"), "id"), id, id_size))
            id[0] = 0;
    } else if (ok && ok->type == MSGPACK_OBJECT_BOOLEAN) {
        const msgpack_object *error = sq_obj_get (root, "error");
        char code[32] = "", message[BENCH_TEXT_MAX] = "";
        sq_obj_str_copy (sq_obj_get (error, "code"), code, sizeof code);
        sq_obj_str_copy (sq_obj_get (error, "message"), message, sizeof message);
        outcome = bench_outcome_of_code (code);
        bench_note (outcome, message[0] ? message : code);
    } else
        bench_note (BENCH_MALFORMED, doc ? "reply without a boolean ok" : why);
    sq_doc_destroy (&doc);
    return outcome;
}

// ---- requests ------------------------------------------------------------------------------

void
bench_request_pack (msgpack_sbuffer *buf, const char *cmd, const void *args, size_t args_size,
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

sq_doc_t *
bench_call (sq_mdp_client_t *client, const char *service, const char *cmd, const void *args,
            size_t args_size, int timeout_ms, void **raw, char *why, size_t why_size)
{
    msgpack_sbuffer body;
    msgpack_sbuffer_init (&body);
    bench_request_pack (&body, cmd, args, args_size, "operator", "", NULL);
    size_t size = 0;
    *raw = NULL;
    int rc = sq_mdp_client_call (client, service, body.data, body.size, timeout_ms, raw, &size);
    msgpack_sbuffer_destroy (&body);
    if (rc)
        snprintf (why, why_size, "no reply to %s within %d ms", cmd, timeout_ms);
    sq_doc_t *doc = rc ? NULL : sq_doc_new (*raw, size, why, why_size);
    if (!doc) {
        free (*raw);
        *raw = NULL;
    }
    return doc;
}

sq_doc_t *
bench_command (sq_mdp_client_t *client, const char *service, const char *cmd,
               const char *json_args, int timeout_ms, void **raw, char *why, size_t why_size)
{
    msgpack_sbuffer args;
    msgpack_sbuffer_init (&args);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &args, msgpack_sbuffer_write);
    sq_doc_t *doc = NULL;
    *raw = NULL;
    if (sq_json_to_msgpack (json_args, strlen (json_args), &pk, why, why_size) == 0)
        doc = bench_call (client, service, cmd, args.data, args.size, timeout_ms, raw, why,
                          why_size);
    msgpack_sbuffer_destroy (&args);
    return doc;
}

const msgpack_object *
bench_reply_result (const sq_doc_t *doc, char *why, size_t why_size)
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

int64_t
bench_int (const msgpack_object *map, const char *key)
{
    const msgpack_object *value = sq_obj_get (map, key);
    if (value && value->type == MSGPACK_OBJECT_POSITIVE_INTEGER && value->via.u64 <= INT64_MAX)
        return (int64_t) value->via.u64;
    if (value && value->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
        return value->via.i64;
    return INT64_MIN;
}

// ---- clients under load --------------------------------------------------------------------

//  Shared by the threads of one run.
struct bench_run {
    const bench_plan_t *plan;
    pthread_barrier_t ready;  //  every client has opened
    pthread_barrier_t go;     //  the window is set
    bool abort;               //  a client could not open (set before go)
    int64_t from_us;          //  the measured window, monotonic
    int64_t until_us;
    size_t samples_max;       //  latency samples per client, 0: none kept
};

uint64_t
bench_random (bench_client_t *client)
{
    uint64_t x = client->random;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    client->random = x;
    return x * S_RANDOM_MULTIPLIER;
}

static void
s_client_count (bench_client_t *self, bench_outcome_t outcome, int64_t start_us, int64_t end_us)
{
    bench_run_t *run = self->run;
    bool inside = end_us >= run->from_us && end_us < run->until_us;
    uint64_t refused = outcome == BENCH_OK ? bench_errors (self->refused) : 0;
    if (outcome == BENCH_OK) {
        self->ok_all += self->units;
        self->refused_all += refused;
    }
    self->outcomes_all[outcome]++;
    if (!inside)
        return;
    self->outcomes[outcome]++;
    if (outcome != BENCH_OK)
        return;
    self->ok += self->units;
    self->requests_ok++;
    for (int k = BENCH_OK + 1; k < BENCH_OUTCOMES; k++)
        self->refused_window[k] += self->refused[k];
    if (self->samples && self->sample_count < run->samples_max)
        self->samples[self->sample_count++] = end_us - start_us;
}

static void *
s_client_thread (void *arg)
{
    bench_client_t *self = arg;
    bench_run_t *run = self->run;
    const bench_load_t *load = self->plan->load;
    self->failed = load->open (self) != 0;
    if (!self->failed && run->samples_max) {
        self->samples = malloc (run->samples_max * sizeof *self->samples);
        self->failed = self->samples == NULL;
    }
    pthread_barrier_wait (&run->ready);
    pthread_barrier_wait (&run->go);
    while (!self->failed && !run->abort) {
        int64_t start_us = bench_now_us ();
        if (start_us >= run->until_us)
            break;
        self->units = 1;
        memset (self->refused, 0, sizeof self->refused);
        bench_outcome_t outcome = load->op (self);
        s_client_count (self, outcome, start_us, bench_now_us ());
    }
    if (self->handle)
        load->close (self);
    return NULL;
}

//  Adds the clients' counts and samples into result.
static void
s_run_collect (bench_run_t *run, bench_client_t *clients, int count, bench_result_t *result)
{
    size_t samples = 0;
    for (int i = 0; i < count; i++)
        samples += clients[i].sample_count;
    int64_t *all = samples ? malloc (samples * sizeof *all) : NULL;
    size_t used = 0;
    for (int i = 0; i < count; i++) {
        bench_client_t *c = &clients[i];
        result->ok += c->ok;
        result->ok_all += c->ok_all;
        result->requests_ok += c->requests_ok;
        result->refused_all += c->refused_all;
        for (int k = 0; k < BENCH_OUTCOMES; k++) {
            result->outcomes[k] += c->outcomes[k];
            result->outcomes_all[k] += c->outcomes_all[k];
            result->refused[k] += c->refused_window[k];
        }
        if (all && c->sample_count)
            memcpy (all + used, c->samples, c->sample_count * sizeof *all);
        used += c->sample_count;
        free (c->samples);
    }
    if (all)
        qsort (all, samples, sizeof *all, s_compare_int64);
    result->p50_us = all ? bench_percentile (all, samples, 0.50) : -1;
    result->p99_us = all ? bench_percentile (all, samples, 0.99) : -1;
    free (all);
    result->per_second =
        (double) result->ok * BENCH_US_PER_S / (double) (run->until_us - run->from_us);
    result->valid = !run->abort;
}

int
bench_run (const bench_plan_t *plan, bench_result_t *result)
{
    assert (plan->clients > 0 && plan->seconds > 0);
    bench_run_t run = {.plan = plan};
    run.samples_max = plan->keep_samples ? BENCH_SAMPLES_MAX / (size_t) plan->clients : 0;
    memset (result, 0, sizeof *result);
    result->clients = plan->clients;
    bench_client_t *threads = calloc ((size_t) plan->clients, sizeof *threads);
    assert (threads);
    pthread_barrier_init (&run.ready, NULL, (unsigned) plan->clients + 1);
    pthread_barrier_init (&run.go, NULL, (unsigned) plan->clients + 1);
    for (int i = 0; i < plan->clients; i++) {
        threads[i].run = &run;
        threads[i].plan = plan;
        threads[i].index = i;
        threads[i].random = S_RANDOM_SEED * (uint64_t) (i + 1);
        int rc = pthread_create (&threads[i].thread, NULL, s_client_thread, &threads[i]);
        assert (rc == 0);
    }
    pthread_barrier_wait (&run.ready);
    for (int i = 0; i < plan->clients; i++)
        run.abort = run.abort || threads[i].failed;
    run.from_us = bench_now_us () + (int64_t) BENCH_WARMUP_MS * BENCH_US_PER_MS;
    run.until_us = run.from_us + (int64_t) plan->seconds * BENCH_US_PER_S;
    pthread_barrier_wait (&run.go);
    for (int i = 0; i < plan->clients; i++)
        pthread_join (threads[i].thread, NULL);
    s_run_collect (&run, threads, plan->clients, result);
    pthread_barrier_destroy (&run.ready);
    pthread_barrier_destroy (&run.go);
    free (threads);
    bench_progress ("%-44s %2d client%s %10.1f/s  (%" PRIu64 " ok, %" PRIu64 " ok in all)",
                    plan->load->name, plan->clients, plan->clients == 1 ? " " : "s",
                    result->per_second, result->ok, result->ok_all);
    return run.abort ? -1 : 0;
}

void
bench_result_mean (const bench_result_t *before, const bench_result_t *after,
                   bench_result_t *mean)
{
    *mean = *before;
    mean->valid = before->valid && after->valid;
    mean->per_second = (before->per_second + after->per_second) / 2;
    mean->ok += after->ok;
    mean->ok_all += after->ok_all;
    mean->requests_ok += after->requests_ok;
    mean->refused_all += after->refused_all;
    for (int k = 0; k < BENCH_OUTCOMES; k++) {
        mean->outcomes[k] += after->outcomes[k];
        mean->outcomes_all[k] += after->outcomes_all[k];
        mean->refused[k] += after->refused[k];
    }
    if (before->p50_us >= 0 && after->p50_us >= 0) {
        mean->p50_us = (before->p50_us + after->p50_us) / 2;
        mean->p99_us = (before->p99_us + after->p99_us) / 2;
    }
}

void
bench_errors_print (const bench_result_t *r)
{
    for (int k = 1; k < BENCH_OUTCOMES; k++)
        if (r->outcomes[k])
            printf ("      %" PRIu64 " %s (first: %s)\n", r->outcomes[k], bench_outcome_names[k],
                    s_notes[k]);
}

int
bench_mdp_open (bench_client_t *self)
{
    self->handle = sq_mdp_client_new (self->plan->commands);
    return self->handle ? 0 : -1;
}

void
bench_mdp_close (bench_client_t *self)
{
    sq_mdp_client_t *client = self->handle;
    sq_mdp_client_destroy (&client);
    self->handle = NULL;
}

void *
bench_mdp_request (sq_mdp_client_t *client, const char *service, const msgpack_sbuffer *body,
                   int timeout_ms, size_t *size, bench_outcome_t *outcome)
{
    void *reply = NULL;
    *size = 0;
    *outcome = BENCH_OK;
    if (sq_mdp_client_call (client, service, body->data, body->size, timeout_ms, &reply, size)) {
        bool timeout = errno == ETIMEDOUT;
        *outcome = timeout ? BENCH_TIMEOUT : BENCH_FAILED;
        bench_note (*outcome, timeout ? "no reply in time" : strerror (errno));
        return NULL;
    }
    return reply;
}

bench_outcome_t
bench_mdp_call (sq_mdp_client_t *client, const char *service, const msgpack_sbuffer *body,
                int timeout_ms)
{
    size_t size = 0;
    bench_outcome_t outcome;
    void *reply = bench_mdp_request (client, service, body, timeout_ms, &size, &outcome);
    if (!reply)
        return outcome;
    outcome = bench_reply_outcome (reply, size, NULL, 0);
    free (reply);
    return outcome;
}

int
bench_pg_open (bench_client_t *self, const char *conninfo)
{
    PGconn *conn = PQconnectdb (conninfo);
    self->handle = conn;
    if (PQstatus (conn) != CONNECTION_OK) {
        bench_note (BENCH_FAILED, PQerrorMessage (conn));
        return -1;
    }
    return 0;
}

void
bench_pg_close (bench_client_t *self)
{
    PQfinish (self->handle);
    self->handle = NULL;
}

int
bench_pg_prepare (bench_client_t *self, const char *name, const char *sql, int params)
{
    PGresult *res = PQprepare (self->handle, name, sql, params, NULL);
    int ok = PQresultStatus (res) == PGRES_COMMAND_OK;
    if (!ok)
        bench_note (BENCH_FAILED, PQerrorMessage (self->handle));
    PQclear (res);
    return ok ? 0 : -1;
}

// ---- the report's header -------------------------------------------------------------------

static const char *const s_pg_settings[BENCH_PG_SETTINGS] = {
    "server_version", "fsync", "synchronous_commit", "wal_sync_method", "full_page_writes",
    "commit_delay", "shared_buffers"};

//  Reads the first line of a file (without its newline) into out, or with prefix the value
//  of the first line that starts with it ("name : value"); "" when unreadable.
static void
s_read_line (const char *path, const char *prefix, char *out, size_t out_size)
{
    out[0] = 0;
    FILE *file = fopen (path, "r");
    if (!file)
        return;
    char line[BENCH_TEXT_MAX];
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

void
bench_load_average (char *out, size_t out_size)
{
    s_read_line ("/proc/loadavg", NULL, out, out_size);
    char *end = out;
    for (int field = 0; field < 3 && end; field++)
        end = strchr (end + (field ? 1 : 0), ' ');
    if (end)
        *end = 0;
}

void
bench_facts_read (bench_facts_t *facts, sq_db_t *db)
{
    facts->nproc = sysconf (_SC_NPROCESSORS_ONLN);
    time_t now = time (NULL);
    struct tm utc;
    strftime (facts->started, sizeof facts->started, "%Y-%m-%d %H:%M:%S UTC",
              gmtime_r (&now, &utc));
    s_read_line ("/proc/cpuinfo", "model name", facts->cpu, sizeof facts->cpu);
    bench_load_average (facts->load_start, sizeof facts->load_start);
    struct utsname name;
    if (uname (&name) == 0)
        snprintf (facts->kernel, sizeof facts->kernel, "%s %s %s", name.sysname, name.release,
                  name.machine);
    for (int i = 0; i < BENCH_PG_SETTINGS; i++) {
        const char *params[] = {s_pg_settings[i]};
        sq_error_t err;
        PGresult *res = sq_db_query (db, "SELECT current_setting ($1)", 1, params, &err);
        snprintf (facts->pg[i], sizeof facts->pg[i], "%s",
                  res && PQntuples (res) == 1 ? PQgetvalue (res, 0, 0) : "?");
        PQclear (res);
    }
}

void
bench_facts_print (const char *name, const bench_facts_t *f)
{
    printf ("\n== %s, started %s ==\n", name, f->started);
    printf ("machine   %ld processors, %s, %s\n", f->nproc, f->cpu[0] ? f->cpu : "cpu unknown",
            f->kernel);
    printf ("          load average at start %s, at end %s\n", f->load_start, f->load_end);
    printf ("postgres  %s; fsync=%s synchronous_commit=%s wal_sync_method=%s"
            " full_page_writes=%s commit_delay=%s shared_buffers=%s\n",
            f->pg[0], f->pg[1], f->pg[2], f->pg[3], f->pg[4], f->pg[5], f->pg[6]);
}

void
bench_target_print (bool pass, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    printf ("  [%s] ", pass ? "PASS" : "MISS");
    vprintf (format, args);
    printf ("\n");
    va_end (args);
}

// ---- set-up --------------------------------------------------------------------------------

void
bench_log_print (const char *service, const char *log)
{
    char *path = realpath (log, NULL);
    printf ("\n%s log: %s\n", service, path ? path : log);
    free (path);
    fflush (stdout);
}

//  Defaults SHEQU_BIN_DIR and SHEQU_TEST_LOGS for a run outside deploy/shequ, writes the
//  spawned service's log path into log, and checks that binary exists and SHEQU_PG and
//  SHEQU_DATA_KEY are set. Returns 0 or -1 (said on stderr).
static int
s_paths (const char *binary, const char *log_name, char *log, size_t log_size)
{
    setenv ("SHEQU_BIN_DIR", SQ_SOURCE_DIR "/build/bin", 0);
    char logs[BENCH_PATH_MAX], path[BENCH_PATH_MAX];
    snprintf (logs, sizeof logs, "%s/../bench-logs", getenv ("SHEQU_BIN_DIR"));
    setenv ("SHEQU_TEST_LOGS", logs, 0);
    snprintf (log, log_size, "%s/%s.log", getenv ("SHEQU_TEST_LOGS"), log_name);
    snprintf (path, sizeof path, "%s/%s", getenv ("SHEQU_BIN_DIR"), binary);
    if (access (path, X_OK)) {
        fprintf (stderr, "bench: %s is missing: build it, or set SHEQU_BIN_DIR\n", path);
        return -1;
    }
    if (!getenv ("SHEQU_PG") || !sq_crypt_key_from_env ()) {
        fprintf (stderr, "bench: set SHEQU_PG and SHEQU_DATA_KEY (deploy/shequ bench does)\n");
        return -1;
    }
    return 0;
}

//  Waits until the spawned service answers health (*pid becomes 0 when it exited); writes
//  the concurrency it reports. Returns 0 or -1 (said on stderr, naming log).
static int
s_service_wait (sq_mdp_client_t *client, const char *service, pid_t *pid, const char *log,
                int64_t *concurrency)
{
    int64_t deadline_ms = sq_clock_ms () + BENCH_HEALTH_TIMEOUT_MS;
    char why[BENCH_TEXT_MAX] = "no reply";
    while (sq_clock_ms () < deadline_ms) {
        if (waitpid (*pid, NULL, WNOHANG) == *pid) {
            *pid = 0;
            fprintf (stderr, "bench: shequ-%s exited at start; see %s\n", service, log);
            return -1;
        }
        void *raw = NULL;
        sq_doc_t *doc = bench_command (client, service, "health", "{}", BENCH_HEALTH_CALL_MS,
                                       &raw, why, sizeof why);
        const msgpack_object *result = doc ? bench_reply_result (doc, why, sizeof why) : NULL;
        if (result)
            *concurrency = bench_int (result, "concurrency");
        sq_doc_destroy (&doc);
        free (raw);
        if (result)
            return 0;
    }
    fprintf (stderr, "bench: shequ-%s did not answer health: %s; see %s\n", service, why, log);
    return -1;
}

int
bench_stack_start (bench_stack_t *stack, const char *name, const char *service)
{
    char binary[SQ_MDP_SERVICE_MAX + 8], log_name[2 * SQ_MDP_SERVICE_MAX];
    snprintf (binary, sizeof binary, "shequ-%s", service);
    snprintf (log_name, sizeof log_name, "%s-%s", name, service);
    if (s_paths (binary, log_name, stack->log, sizeof stack->log))
        return -1;
    //  NB: not "bench": deploy/shequ bench connects to shequ_bench, which cannot be dropped.
    snprintf (stack->conninfo, sizeof stack->conninfo, "%s", sq_test_db_fresh (name));
    stack->bus = sq_test_bus_start ();
    snprintf (stack->commands, sizeof stack->commands, "%s", bus_endpoint_commands (stack->bus));
    snprintf (stack->events_out, sizeof stack->events_out, "%s",
              bus_endpoint_events_out (stack->bus));
    unlink (stack->log);
    stack->service =
        sq_test_spawn (binary, log_name, sq_test_service_env (stack->bus, stack->conninfo));
    stack->client = sq_mdp_client_new (stack->commands);
    char why[BENCH_TEXT_MAX];
    stack->db = sq_db_new (stack->conninfo, why, sizeof why);
    if (!stack->client || !stack->db) {
        fprintf (stderr, "bench: could not connect: %s\n", stack->db ? "bus" : why);
        return -1;
    }
    return s_service_wait (stack->client, service, &stack->service, stack->log,
                           &stack->concurrency);
}

void
bench_stack_stop (bench_stack_t *stack, int timeout_ms)
{
    if (stack->service > 0)
        sq_test_stop (stack->service, SIGTERM, timeout_ms);
    stack->service = 0;
    sq_mdp_client_destroy (&stack->client);
    bus_destroy (&stack->bus);
    sq_db_destroy (&stack->db);
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

static void
s_usage (const char *program, const bench_option_t *options, const int *defaults)
{
    fprintf (stderr, "usage: %s", program);
    for (int i = 0; options[i].name; i++)
        fprintf (stderr, " [%s N]", options[i].name);
    fprintf (stderr, "\n");
    for (int i = 0; options[i].name; i++)
        fprintf (stderr, "  %-10s N  %s, %ld to %ld (default %d)\n", options[i].name,
                 options[i].help, options[i].min, options[i].max, defaults[i]);
    fprintf (stderr, "environment: SHEQU_PG, SHEQU_REDIS, SHEQU_DATA_KEY, SHEQU_SHARED_DIR,"
             " SHEQU_BIN_DIR\n(deploy/shequ bench sets them all; see tests/bench/README.md)\n");
}

int
bench_options_read (const char *program, int argc, char **argv, int *seconds,
                    const bench_option_t *extra)
{
    bench_option_t options[BENCH_OPTIONS_MAX + 1] = {
        {"--seconds", 1, BENCH_SECONDS_MAX, seconds, "measured window of each figure"}};
    int defaults[BENCH_OPTIONS_MAX];
    *seconds = BENCH_SECONDS_DEFAULT;
    for (int i = 0; extra[i].name; i++) {
        assert (i + 1 < BENCH_OPTIONS_MAX);
        options[i + 1] = extra[i];
    }
    for (int i = 0; options[i].name; i++)
        defaults[i] = *options[i].value;
    for (int i = 1; i < argc; i += 2) {
        const char *value = i + 1 < argc ? argv[i + 1] : NULL;
        const bench_option_t *option = options;
        while (option->name && strcmp (option->name, argv[i]) != 0)
            option++;
        if (!option->name || s_option_int (value, option->min, option->max, option->value)) {
            s_usage (program, options, defaults);
            return -1;
        }
    }
    return 0;
}

// ---- the program ---------------------------------------------------------------------------

int
bench_program_run (const bench_program_t *program, void *bench, bench_facts_t *facts,
                   const bench_stack_t *stack)
{
    sq_log_init ("bench", SQ_LOG_WARN);
    signal (SIGPIPE, SIG_IGN);
    bench_progress ("setting up: %s", program->setting_up);
    if (program->setup (bench)) {
        program->teardown (bench);
        fprintf (stderr, "bench: set-up failed; nothing was measured\n");
        return 1;
    }
    int rc = program->measure (bench);
    bench_load_average (facts->load_end, sizeof facts->load_end);
    if (rc == 0) {
        program->report (bench);
        bench_log_print (program->service, stack->log);
    } else
        fprintf (stderr, "bench: a client could not connect; see the notes above\n");
    program->teardown (bench);
    return rc ? 1 : 0;
}
