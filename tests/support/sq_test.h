/*  sq_test: what integration tests share. They run against the PostgreSQL and Redis that
    `deploy/shequ test` starts (SHEQU_PG, SHEQU_REDIS), each test in a fresh database of
    its own, with the bus in-process on tcp://127.0.0.1:* and services in-process or as
    real processes (binaries from SHEQU_BIN_DIR, logs under SHEQU_TEST_LOGS). */
#ifndef SQ_TEST_H
#define SQ_TEST_H

#include "broker.h"
#include "registry.h"
#include "shequ.h"
#include "sq_service.h"

#include <sys/types.h>

#define SQ_TEST_CALL_TIMEOUT_MS 30000 //  a command in a test answers within this
#define SQ_TEST_EVENT_WAIT_MS 10000   //  an awaited event arrives within this

//  Creates (dropping first) database "shequ_<name>" in the cluster of SHEQU_PG and returns
//  its connection string (static). Skips the test (exit 77... reported) when SHEQU_PG is unset.
const char *sq_test_db_fresh (const char *name);

//  A direct connection to the test database, for checking what the services wrote.
sq_db_t *sq_test_db_connect (const char *conninfo);

//  Runs a query that must succeed and returns row 0 column 0 as a malloc'd string.
char *sq_test_db_value (sq_db_t *db, const char *sql);

//  The same, read as an integer (a count, a sum).
int64_t sq_test_db_int (sq_db_t *db, const char *sql);

//  Waits until the count sql returns reaches at least n (polling every 20 ms); fails the
//  test, naming the query and what it had, after wait_ms.
void sq_test_db_wait (sq_db_t *db, const char *sql, int64_t n, int wait_ms);

//  Starts the bus in-process on free loopback ports.
bus_t *sq_test_bus_start (void);

//  A registry running in this process.
typedef struct sq_test_registry sq_test_registry_t;
sq_test_registry_t *sq_test_registry_start (bus_t *bus, const char *conninfo);
void sq_test_registry_stop (sq_test_registry_t **self_p);

//  Starts a binary from SHEQU_BIN_DIR with extra environment "NAME=value" entries (NULL-
//  terminated), output to SHEQU_TEST_LOGS/<log_name>.log. Returns the pid.
pid_t sq_test_spawn (const char *binary, const char *log_name, const char *const *env);
//  A loopback TCP port nobody listens on now, chosen by the kernel (a port computed from the
//  pid can fall in the ephemeral range and be taken by another test's socket).
int sq_test_free_port (void);

#define SQ_TEST_REDIS_START_MS 20000 //  a test's own Redis answers within this, even loaded

//  Starts a redis-server of the test's own on 127.0.0.1:port (no persistence; killed with
//  the test) and waits until it answers; fails the test when it exits or does not answer
//  within SQ_TEST_REDIS_START_MS. Returns its pid.
pid_t sq_test_redis_start (int port);

//  Sends signal and waits up to timeout_ms. Returns the exit status (waitpid) or -1.
int sq_test_stop (pid_t pid, int signal, int timeout_ms);
//  Environment entries pointing a spawned service at bus and conninfo (static storage).
const char *const *sq_test_service_env (bus_t *bus, const char *conninfo);

//  A reply, decoded and kept with its bytes.
typedef struct {
    void *raw;                     //  reply body
    size_t size;                   //  bytes in raw
    sq_doc_t *doc;                 //  decoded
    bool ok;                       //  reply's "ok"
    const msgpack_object *result;  //  "result" when ok
    const char *code;              //  error code when not ok (static or borrowed)
    char code_text[32];            //  storage for code
    char field[64];                //  error field
    char message[256];             //  error message
} sq_test_reply_t;

//  Sends cmd with JSON args as the given actor (role, scope) and waits for the reply.
//  idem may be NULL. Fails the test when no reply comes.
sq_test_reply_t *sq_test_call (sq_mdp_client_t *client, const char *service, const char *cmd,
                               const char *json_args, const char *role, const char *scope,
                               const char *idem);
void sq_test_reply_destroy (sq_test_reply_t **self_p);

//  sq_test_call that must succeed: fails the test with the error otherwise.
sq_test_reply_t *sq_test_ok (sq_mdp_client_t *client, const char *service, const char *cmd,
                             const char *json_args, const char *role, const char *scope);

//  sq_test_call that must fail with code, and with field unless field is NULL.
void sq_test_fails (sq_mdp_client_t *client, const char *service, const char *cmd,
                    const char *json_args, const char *role, const char *scope,
                    const char *code, const char *field);

//  The next event from sub whose data has key equal to value (others are skipped), within
//  10 s; every event seen is checked against its contract. When type is given the event
//  must be of that type. Fails the test otherwise.
sq_event_t *sq_test_event_about (sq_sub_t *sub, const char *key, const char *value,
                                 const char *type);

//  The JSON text of a reply's result (malloc'd), for messages and comparisons.
char *sq_test_json (const msgpack_object *o);

//  Result field as string (borrowed, NULL when absent or not a string) or integer.
const char *sq_test_str (const msgpack_object *map, const char *key, char *out, size_t size);
int64_t sq_test_int (const msgpack_object *map, const char *key);

//  The usual set-up of an integration test: a fresh database "shequ_<name>", the bus, the
//  registry in this process with the real divisions imported, a client and a direct
//  connection for checking what the services wrote.
typedef struct {
    char conninfo[1024];          //  the test's database
    bus_t *bus;
    sq_test_registry_t *registry;
    sq_mdp_client_t *client;
    sq_db_t *db;
} sq_test_stack_t;

void sq_test_stack_start (sq_test_stack_t *stack, const char *name);
void sq_test_stack_stop (sq_test_stack_t *stack);

//  Starts a service in this process on the stack's database and bus (sets config's
//  conninfo and endpoints); fails the test when it does not start.
sq_service_t *sq_test_service_start (sq_test_stack_t *stack, sq_service_config_t *config);

//  The real divisions file beside the project (SHEQU_SHARED_DIR, else ../shared).
const char *sq_test_divisions_path (void);

//  Imports the real divisions through the registry as operator; fails the test otherwise.
void sq_test_import_divisions (sq_mdp_client_t *client);

//  A valid identity number for person n (distinct for n below 10,000,000), born 1950-1999
//  in 130102 (石家庄), with the right check character.
void sq_test_id_number (int n, char out[19]);

//  Checks an event's envelope and data against the contract of its type under
//  schemas/events/. Returns 0, or -1 with the reason in why.
int sq_test_contract_check (const sq_event_t *event, char *why, size_t why_size);

#endif
