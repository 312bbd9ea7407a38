/*  bench_util: what the benchmarks share (README.md one folder up): the clock, the outcome
    of a request, requests as an actor, the load runner (N client threads, a warm-up, a
    measured window), percentiles, the machine and PostgreSQL facts of the report's header,
    the wait for a spawned service, options. Each bench keeps its own loads and report. */
#ifndef BENCH_UTIL_H
#define BENCH_UTIL_H

#include "shequ.h"
#include "sq_test.h"

#include <libpq-fe.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define BENCH_WARMUP_MS 1000       //  run before each window opens, not counted
#define BENCH_SAMPLES_MAX 2000000  //  latency samples kept per figure
#define BENCH_TEXT_MAX 256         //  facts, notes
#define BENCH_PATH_MAX 1024        //  file paths
#define BENCH_HEALTH_TIMEOUT_MS 30000 //  a spawned service answers health within this
#define BENCH_HEALTH_CALL_MS 1000  //  one health call's timeout while waiting
#define BENCH_PG_SETTINGS 7        //  PostgreSQL settings printed in the header
#define BENCH_US_PER_S 1000000
#define BENCH_US_PER_MS 1000
#define BENCH_NS_PER_US 1000

// ---- small helpers ------------------------------------------------------------------------

//  Monotonic microseconds: every duration and latency of a bench is measured on this clock.
int64_t bench_now_us (void);
void bench_sleep_ms (int ms);

//  A progress line on stderr ("bench: ..."); the report alone goes to stdout.
void bench_progress (const char *format, ...) __attribute__ ((format (printf, 1, 2)));

//  Nearest-rank percentile of sorted samples; -1 when there are none.
int64_t bench_percentile (const int64_t *sorted, size_t count, double share);

//  Sorts samples and writes p50, p99 and max into out (-1 each when there are none).
void bench_summary (int64_t *samples, size_t count, int64_t out[3]);

//  value / ceiling, 0 when there is no ceiling; microseconds as milliseconds (-1 stays -1).
double bench_ratio (double value, double ceiling);
double bench_ms (int64_t us);

// ---- outcomes of a request -----------------------------------------------------------------

typedef enum {
    BENCH_OK = 0,
    BENCH_INVALID,
    BENCH_NOT_FOUND,
    BENCH_CONFLICT,
    BENCH_FORBIDDEN,
    BENCH_UNAVAILABLE,
    BENCH_INTERNAL,
    BENCH_TIMEOUT,   //  no reply within the call's timeout
    BENCH_MALFORMED, //  a reply that is not {"ok": ...}
    BENCH_FAILED,    //  the request could not be sent, or PostgreSQL refused it
    BENCH_OUTCOMES
} bench_outcome_t;

extern const char *const bench_outcome_names[BENCH_OUTCOMES];

//  Failures among outcomes: everything but BENCH_OK.
uint64_t bench_errors (const uint64_t outcomes[BENCH_OUTCOMES]);

//  Keeps the first message seen of each kind of failure, for the report; bench_note_text
//  returns it ("" when none; borrowed, stable once set).
void bench_note (bench_outcome_t outcome, const char *message);
const char *bench_note_text (bench_outcome_t outcome);

//  The outcome an error code stands for (BENCH_MALFORMED when it is none of DESIGN.md's).
bench_outcome_t bench_outcome_of_code (const char *code);

//  Classifies a reply body, noting the first message of each failure; copies result.id into
//  id (when given and present).
bench_outcome_t bench_reply_outcome (const void *raw, size_t size, char *id, size_t id_size);

// ---- requests ------------------------------------------------------------------------------

//  Packs a request body of DESIGN.md into buf (initialised by the caller): args are the raw
//  msgpack of a map, the actor is "bench" with role and scope, corr may be NULL.
void bench_request_pack (msgpack_sbuffer *buf, const char *cmd, const void *args,
                         size_t args_size, const char *role, const char *scope,
                         const char *corr);

//  Calls service's cmd with args (the raw msgpack of a map) as an operator of the whole
//  platform. Returns the decoded reply (the caller destroys it and frees *raw) or NULL with
//  the reason in why.
sq_doc_t *bench_call (sq_mdp_client_t *client, const char *service, const char *cmd,
                      const void *args, size_t args_size, int timeout_ms, void **raw, char *why,
                      size_t why_size);

//  bench_call with the arguments given as JSON.
sq_doc_t *bench_command (sq_mdp_client_t *client, const char *service, const char *cmd,
                         const char *json_args, int timeout_ms, void **raw, char *why,
                         size_t why_size);

//  The result of an ok reply (borrowed from doc), NULL with the error as JSON in why otherwise.
const msgpack_object *bench_reply_result (const sq_doc_t *doc, char *why, size_t why_size);

//  An integer field of a map; INT64_MIN when absent or not an integer.
int64_t bench_int (const msgpack_object *map, const char *key);

// ---- clients under load --------------------------------------------------------------------

//  What a run measured. For a plain command a unit is its ok reply; for a batch the load
//  says how many of its items went through (bench_client_t.units).
typedef struct {
    bool valid;                           //  the run took place
    int clients;                          //  concurrent clients
    double per_second;                    //  ok units in the window / window
    uint64_t ok;                          //  ok units in the window
    uint64_t ok_all;                      //  ok units in the whole run (warm-up and tail too)
    uint64_t requests_ok;                 //  ok replies in the window
    uint64_t outcomes[BENCH_OUTCOMES];    //  replies in the window by outcome
    uint64_t refused[BENCH_OUTCOMES];     //  items refused inside ok replies, in the window
    uint64_t refused_all;                 //  items refused inside ok replies, whole run
    uint64_t outcomes_all[BENCH_OUTCOMES]; //  replies by outcome, whole run
    int64_t p50_us, p99_us;               //  per-request latency, -1: none kept
} bench_result_t;

typedef struct bench_client bench_client_t;

//  One kind of load: what a client thread opens, repeats and closes.
typedef struct {
    const char *name;                           //  for progress lines
    int (*open) (bench_client_t *client);       //  sets client->handle; 0 or -1
    bench_outcome_t (*op) (bench_client_t *client); //  one request, waited for
    void (*close) (bench_client_t *client);     //  called when handle is set
} bench_load_t;

//  What a run is: the load, how many clients, for how long.
typedef struct {
    const bench_load_t *load;
    void *user;               //  the bench's state, for the load's functions
    const char *tag;          //  the load's label of this run (e.g. a corr prefix)
    const char *commands;     //  the bus's command endpoint (bench_mdp_open)
    int clients;              //  threads, each with its own connection
    int seconds;              //  measured window
    bool keep_samples;        //  keep each ok request's latency (p50, p99)
} bench_plan_t;

typedef struct bench_run bench_run_t;

struct bench_client {
    bench_run_t *run;
    const bench_plan_t *plan;               //  the run's plan
    int index;                              //  0 .. clients - 1
    uint64_t random;                        //  the load's random state, seeded from index
    pthread_t thread;
    void *handle;                           //  MDP client, PGconn or DEALER
    bool failed;                            //  open failed
    uint64_t units;                         //  the op's ok units (1 unless the op says)
    uint64_t refused[BENCH_OUTCOMES];       //  the op's refused items (ok replies only)
    uint64_t ok, ok_all, requests_ok;       //  as in bench_result_t
    uint64_t outcomes[BENCH_OUTCOMES];
    uint64_t refused_window[BENCH_OUTCOMES];
    uint64_t refused_all;
    uint64_t outcomes_all[BENCH_OUTCOMES];
    int64_t *samples;                       //  latency of each ok request in the window, us
    size_t sample_count;
};

//  Runs plan: its clients open, go through BENCH_WARMUP_MS of warm-up, then the measured
//  window, and close. Returns 0, or -1 when a client could not open.
int bench_run (const bench_plan_t *plan, bench_result_t *result);

//  The next value of a client's random state (xorshift64*).
uint64_t bench_random (bench_client_t *client);

//  The mean rate of two runs of the same load, their counts added (a ceiling measured just
//  before and just after the figure it bounds).
void bench_result_mean (const bench_result_t *before, const bench_result_t *after,
                        bench_result_t *mean);

//  Prints the failures of a run, if any, with the first message of each kind.
void bench_errors_print (const bench_result_t *result);

//  An MDP client on plan->commands as the handle; its close.
int bench_mdp_open (bench_client_t *client);
void bench_mdp_close (bench_client_t *client);

//  One request and its reply: the reply (the caller frees it) or NULL with the outcome.
void *bench_mdp_request (sq_mdp_client_t *client, const char *service,
                         const msgpack_sbuffer *body, int timeout_ms, size_t *size,
                         bench_outcome_t *outcome);

//  One request, classified by bench_reply_outcome.
bench_outcome_t bench_mdp_call (sq_mdp_client_t *client, const char *service,
                                const msgpack_sbuffer *body, int timeout_ms);

//  A libpq connection as the handle (failures noted); its close.
int bench_pg_open (bench_client_t *client, const char *conninfo);
void bench_pg_close (bench_client_t *client);

//  Prepares statement name on the client's connection. Returns 0 or -1 (noted).
int bench_pg_prepare (bench_client_t *client, const char *name, const char *sql, int params);

// ---- the report's header -------------------------------------------------------------------

typedef struct {
    long nproc;                          //  online processors
    char cpu[BENCH_TEXT_MAX];            //  model name
    char kernel[BENCH_TEXT_MAX];         //  uname
    char load_start[64], load_end[64];   //  /proc/loadavg at start and end
    char started[64];                    //  when the bench started, UTC
    char pg[BENCH_PG_SETTINGS][64];      //  the settings that decide commit rates
} bench_facts_t;

//  Reads the machine, the start time and load, and PostgreSQL's settings through db.
void bench_facts_read (bench_facts_t *facts, sq_db_t *db);

//  The 1, 5 and 15 minute load averages: other work on this machine weighs on every figure.
void bench_load_average (char *out, size_t out_size);

//  Prints "== <name>, started ... ==" and the machine, load and postgres lines.
void bench_facts_print (const char *name, const bench_facts_t *facts);

//  Prints one target line: "  [PASS] ..." or "  [MISS] ...".
void bench_target_print (bool pass, const char *format, ...)
    __attribute__ ((format (printf, 2, 3)));

//  Prints "<service> log: <absolute path>" and flushes the report.
void bench_log_print (const char *service, const char *log);

// ---- set-up --------------------------------------------------------------------------------

//  What a bench stands on: its own database, the bus in this process, the service under
//  measure spawned from SHEQU_BIN_DIR, a client for set-up calls, a direct connection.
typedef struct {
    char conninfo[1100];       //  database shequ_<bench name> in the cluster of SHEQU_PG
    bus_t *bus;                //  in-process bus
    char commands[256];        //  its ROUTER endpoint
    char events_out[256];      //  its XPUB endpoint
    pid_t service;             //  the spawned service, 0 when not running
    char log[BENCH_PATH_MAX];  //  its log: SHEQU_TEST_LOGS/<bench name>-<service>.log
    int64_t concurrency;       //  worker sockets it reported in health
    sq_mdp_client_t *client;   //  set-up and check calls
    sq_db_t *db;               //  direct connection to the database
} bench_stack_t;

//  Sets up stack for the bench called name ("bench_ledger") and service ("ledger"), whose
//  binary is shequ-<service>; defaults SHEQU_BIN_DIR and SHEQU_TEST_LOGS for a run outside
//  deploy/shequ; waits until the service answers health. Returns 0 or -1 (said on stderr);
//  bench_stack_stop undoes it either way.
int bench_stack_start (bench_stack_t *stack, const char *name, const char *service);

//  Stops the service (SIGTERM, then SIGKILL after timeout_ms) and frees the rest.
void bench_stack_stop (bench_stack_t *stack, int timeout_ms);

#define BENCH_OPTIONS_MAX 8      //  options of one bench, --seconds included
#define BENCH_SECONDS_DEFAULT 5  //  --seconds: measured window of each figure
#define BENCH_SECONDS_MAX 3600   //  longest window accepted

//  An integer option "--name N" and its range; a list of them ends with a NULL name.
typedef struct {
    const char *name;  //  with its dashes
    long min, max;     //  accepted values
    int *value;        //  holds the default; gets the value given
    const char *help;  //  for the usage text
} bench_option_t;

//  Reads argv into --seconds (every bench's window, default BENCH_SECONDS_DEFAULT) and the
//  bench's own options. Returns 0, or -1 on an unknown option or a bad value, after printing
//  the usage of program (with the defaults and the environment it needs).
int bench_options_read (const char *program, int argc, char **argv, int *seconds,
                        const bench_option_t *options);


// ---- the program ---------------------------------------------------------------------------

//  A bench's phases, each given the bench's state.
typedef struct {
    const char *service;            //  the service under measure, for the log line
    const char *setting_up;         //  what set-up does, for the progress line
    int (*setup) (void *bench);     //  0, or -1 (said on stderr)
    int (*measure) (void *bench);   //  0, or -1 when a client could not connect
    void (*report) (void *bench);   //  the report on stdout, up to the log line
    void (*teardown) (void *bench); //  undoes setup, also a partial one
} bench_program_t;

//  Runs a bench whose options were read: set-up, measurement, the load average at the end
//  (into facts), the report ending with the service's log (stack), tear-down. Returns the
//  exit status: 0, or 1 when the set-up or a client failed.
int bench_program_run (const bench_program_t *program, void *bench, bench_facts_t *facts,
                       const bench_stack_t *stack);

#endif
