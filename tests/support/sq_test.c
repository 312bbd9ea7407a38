/*  sq_test: what integration tests share (databases, bus, services, calls). */
#include "sq_test.h"
#include "sq_identity.h"
#include "sq_json.h"

#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

const char *
sq_test_db_fresh (const char *name)
{
    static char conninfo[1024];
    const char *base = getenv ("SHEQU_PG");
    if (!base || !*base) {
        fprintf (stderr, "SHEQU_PG is not set: run the tests with deploy/shequ test\n");
        exit (1);
    }
    char why[256];
    sq_db_t *admin = sq_db_new (base, why, sizeof why);
    if (!admin) {
        fprintf (stderr, "%s\n", why);
        exit (1);
    }
    //  Other sessions on the old database (a service killed a moment ago) would block DROP.
    char sql[256];
    snprintf (sql, sizeof sql, "DROP DATABASE IF EXISTS shequ_%s WITH (FORCE)", name);
    sq_error_t err;
    if (sq_db_exec (admin, sql, 0, NULL, &err)) {
        fprintf (stderr, "%s\n", err.message);
        exit (1);
    }
    snprintf (sql, sizeof sql, "CREATE DATABASE shequ_%s", name);
    if (sq_db_exec (admin, sql, 0, NULL, &err)) {
        fprintf (stderr, "%s\n", err.message);
        exit (1);
    }
    sq_db_destroy (&admin);
    snprintf (conninfo, sizeof conninfo, "%s dbname=shequ_%s", base, name);
    return conninfo;
}

sq_db_t *
sq_test_db_connect (const char *conninfo)
{
    char why[256];
    sq_db_t *db = sq_db_new (conninfo, why, sizeof why);
    if (!db)
        fail_msg ("%s", why);
    return db;
}

char *
sq_test_db_value (sq_db_t *db, const char *sql)
{
    sq_error_t err;
    PGresult *res = sq_db_query (db, sql, 0, NULL, &err);
    if (!res)
        fail_msg ("query failed: %s: %s", sql, err.message);
    if (PQntuples (res) < 1) {
        PQclear (res);
        fail_msg ("query returned no row: %s", sql);
    }
    char *value = strdup (PQgetvalue (res, 0, 0));
    PQclear (res);
    return value;
}

int64_t
sq_test_db_int (sq_db_t *db, const char *sql)
{
    char *value = sq_test_db_value (db, sql);
    int64_t n = strtoll (value, NULL, 10);
    free (value);
    return n;
}

void
sq_test_db_wait (sq_db_t *db, const char *sql, int64_t n, int wait_ms)
{
    int64_t deadline = sq_clock_ms () + wait_ms;
    while (sq_test_db_int (db, sql) < n) {
        if (sq_clock_ms () > deadline)
            fail_msg ("waited in vain for %" PRId64 " rows of %s (have %" PRId64 ")", n, sql,
                      sq_test_db_int (db, sql));
        usleep (20000);
    }
}

bus_t *
sq_test_bus_start (void)
{
    bus_config_t config;
    assert_int_equal (bus_config_from_env (&config), 0);
    snprintf (config.events_in, sizeof config.events_in, "tcp://127.0.0.1:*");
    snprintf (config.events_out, sizeof config.events_out, "tcp://127.0.0.1:*");
    snprintf (config.commands, sizeof config.commands, "tcp://127.0.0.1:*");
    bus_t *bus = bus_new (&config);
    assert_non_null (bus);
    assert_int_equal (bus_start (bus), 0);
    return bus;
}

struct sq_test_registry {
    registry_t state;          //  crypt
    sq_service_t *service;     //  running service
    char conninfo[1024];       //  its database
    char commands[256];        //  bus endpoints it uses
    char events_in[256];
};

sq_test_registry_t *
sq_test_registry_start (bus_t *bus, const char *conninfo)
{
    sq_test_registry_t *self = calloc (1, sizeof *self);
    assert_non_null (self);
    self->state.crypt = sq_crypt_new_from_env ();
    assert_non_null (self->state.crypt);
    snprintf (self->conninfo, sizeof self->conninfo, "%s", conninfo);
    snprintf (self->commands, sizeof self->commands, "%s", bus_endpoint_commands (bus));
    snprintf (self->events_in, sizeof self->events_in, "%s", bus_endpoint_events_in (bus));
    sq_service_config_t config;
    registry_service_config (&self->state, &config);
    config.conninfo = self->conninfo;
    config.commands_endpoint = self->commands;
    config.events_in = self->events_in;
    self->service = sq_service_new (&config);
    assert_int_equal (sq_service_start (self->service), 0);
    return self;
}

void
sq_test_registry_stop (sq_test_registry_t **self_p)
{
    if (!*self_p)
        return;
    sq_service_destroy (&(*self_p)->service);
    sq_crypt_destroy (&(*self_p)->state.crypt);
    free (*self_p);
    *self_p = NULL;
}

const char *const *
sq_test_service_env (bus_t *bus, const char *conninfo)
{
    static char pg[1100], commands[300], events_in[300], events_out[300];
    static const char *env[5];
    snprintf (pg, sizeof pg, "SHEQU_PG=%s", conninfo);
    snprintf (commands, sizeof commands, "SHEQU_COMMANDS=%s", bus_endpoint_commands (bus));
    snprintf (events_in, sizeof events_in, "SHEQU_EVENTS_IN=%s", bus_endpoint_events_in (bus));
    snprintf (events_out, sizeof events_out, "SHEQU_EVENTS_OUT=%s", bus_endpoint_events_out (bus));
    env[0] = pg, env[1] = commands, env[2] = events_in, env[3] = events_out, env[4] = NULL;
    return env;
}

pid_t
sq_test_spawn (const char *binary, const char *log_name, const char *const *env)
{
    const char *bin_dir = getenv ("SHEQU_BIN_DIR");
    const char *log_dir = getenv ("SHEQU_TEST_LOGS");
    char path[1024], log[1024];
    snprintf (path, sizeof path, "%s/%s", bin_dir ? bin_dir : "bin", binary);
    snprintf (log, sizeof log, "%s/%s.log", log_dir ? log_dir : "/tmp", log_name);
    if (log_dir)
        mkdir (log_dir, 0755);
    pid_t pid = fork ();
    if (pid == 0) {
        //  A test that fails half-way must not leave services behind.
        prctl (PR_SET_PDEATHSIG, SIGKILL);
        for (int i = 0; env && env[i]; i++)
            putenv ((char *) env[i]);
        int fd = open (log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2 (fd, 1);
            dup2 (fd, 2);
            close (fd);
        }
        execl (path, binary, (char *) NULL);
        fprintf (stderr, "could not start %s: %s\n", path, strerror (errno));
        _exit (127);
    }
    assert_true (pid > 0);
    return pid;
}

int
sq_test_stop (pid_t pid, int signal, int timeout_ms)
{
    kill (pid, signal);
    for (int waited = 0; waited <= timeout_ms; waited += 10) {
        int status = 0;
        if (waitpid (pid, &status, WNOHANG) == pid)
            return status;
        struct timespec pause = {0, 10 * 1000000L};
        nanosleep (&pause, NULL);
    }
    kill (pid, SIGKILL);
    waitpid (pid, NULL, 0);
    return -1;
}

//  Packs the request body of DESIGN.md with args given as JSON.
static void
s_request (msgpack_sbuffer *buf, const char *cmd, const char *json_args, const char *role,
           const char *scope, const char *idem)
{
    msgpack_packer pk;
    msgpack_packer_init (&pk, buf, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, idem ? 4 : 3);
    sq_pack_kv_str (&pk, "cmd", cmd);
    sq_pack_str (&pk, "args");
    char why[256];
    const char *args = json_args ? json_args : "{}";
    if (sq_json_to_msgpack (args, strlen (args), &pk, why, sizeof why))
        fail_msg ("bad JSON args in test: %s: %s", args, why);
    sq_pack_str (&pk, "actor");
    msgpack_pack_map (&pk, 3);
    sq_pack_kv_str (&pk, "id", "test");
    sq_pack_kv_str (&pk, "role", role);
    sq_pack_kv_str (&pk, "scope", scope ? scope : "");
    if (idem)
        sq_pack_kv_str (&pk, "idem", idem);
}

sq_test_reply_t *
sq_test_call (sq_mdp_client_t *client, const char *service, const char *cmd,
              const char *json_args, const char *role, const char *scope, const char *idem)
{
    msgpack_sbuffer buf;
    msgpack_sbuffer_init (&buf);
    s_request (&buf, cmd, json_args, role, scope, idem);
    sq_test_reply_t *reply = calloc (1, sizeof *reply);
    assert_non_null (reply);
    int rc = sq_mdp_client_call (client, service, buf.data, buf.size, SQ_TEST_CALL_TIMEOUT_MS,
                                 &reply->raw, &reply->size);
    msgpack_sbuffer_destroy (&buf);
    if (rc)
        fail_msg ("no reply from %s to %s", service, cmd);
    char why[128];
    reply->doc = sq_doc_new (reply->raw, reply->size, why, sizeof why);
    if (!reply->doc)
        fail_msg ("reply to %s does not decode: %s", cmd, why);
    const msgpack_object *root = sq_doc_root (reply->doc);
    const msgpack_object *ok = sq_obj_get (root, "ok");
    assert_non_null (ok);
    assert_int_equal (ok->type, MSGPACK_OBJECT_BOOLEAN);
    reply->ok = ok->via.boolean;
    if (reply->ok)
        reply->result = sq_obj_get (root, "result");
    else {
        const msgpack_object *error = sq_obj_get (root, "error");
        sq_test_str (error, "code", reply->code_text, sizeof reply->code_text);
        sq_test_str (error, "field", reply->field, sizeof reply->field);
        sq_test_str (error, "message", reply->message, sizeof reply->message);
        reply->code = reply->code_text;
    }
    return reply;
}

sq_test_reply_t *
sq_test_ok (sq_mdp_client_t *client, const char *service, const char *cmd,
            const char *json_args, const char *role, const char *scope)
{
    sq_test_reply_t *reply = sq_test_call (client, service, cmd, json_args, role, scope, NULL);
    if (!reply->ok)
        fail_msg ("%s %s: %s %s (%s)", cmd, json_args, reply->code, reply->message,
                  reply->field);
    return reply;
}

void
sq_test_fails (sq_mdp_client_t *client, const char *service, const char *cmd,
               const char *json_args, const char *role, const char *scope, const char *code,
               const char *field)
{
    sq_test_reply_t *reply = sq_test_call (client, service, cmd, json_args, role, scope, NULL);
    if (reply->ok || strcmp (reply->code, code) || (field && strcmp (reply->field, field)))
        fail_msg ("%s %s: got %s/%s (%s), expected %s/%s", cmd, json_args,
                  reply->ok ? "ok" : reply->code, reply->field, reply->message, code,
                  field ? field : "*");
    sq_test_reply_destroy (&reply);
}

sq_event_t *
sq_test_event_about (sq_sub_t *sub, const char *key, const char *value, const char *type)
{
    int64_t deadline = sq_clock_ms () + SQ_TEST_EVENT_WAIT_MS;
    while (sq_clock_ms () < deadline) {
        sq_event_t *event = sq_sub_next (sub, 200);
        if (!event)
            continue;
        char why[256];
        if (sq_test_contract_check (event, why, sizeof why))
            fail_msg ("%s breaks its contract: %s", event->env.type, why);
        if (sq_obj_str_eq (sq_obj_get (event->env.data, key), value)) {
            if (type && strcmp (event->env.type, type))
                fail_msg ("%s %s: expected %s, got %s", key, value, type, event->env.type);
            return event;
        }
        sq_event_destroy (&event);
    }
    fail_msg ("no %s event about %s %s", type ? type : "", key, value);
    return NULL;
}

void
sq_test_reply_destroy (sq_test_reply_t **self_p)
{
    if (!*self_p)
        return;
    sq_doc_destroy (&(*self_p)->doc);
    free ((*self_p)->raw);
    free (*self_p);
    *self_p = NULL;
}

char *
sq_test_json (const msgpack_object *o)
{
    return o ? sq_json_from_msgpack (o) : strdup ("null");
}

const char *
sq_test_str (const msgpack_object *map, const char *key, char *out, size_t size)
{
    const msgpack_object *value = sq_obj_get (map, key);
    out[0] = 0;
    if (!value || sq_obj_str_copy (value, out, size))
        return NULL;
    return out;
}

int64_t
sq_test_int (const msgpack_object *map, const char *key)
{
    const msgpack_object *value = sq_obj_get (map, key);
    if (value && value->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
        return (int64_t) value->via.u64;
    if (value && value->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
        return value->via.i64;
    return INT64_MIN;
}

const char *
sq_test_divisions_path (void)
{
    static char path[1024];
    const char *shared = getenv ("SHEQU_SHARED_DIR");
    snprintf (path, sizeof path, "%s/data/divisions/divisions.csv",
              shared && *shared ? shared : SQ_SOURCE_DIR "/../shared");
    return path;
}

void
sq_test_import_divisions (sq_mdp_client_t *client)
{
    char args[1200];
    snprintf (args, sizeof args, "{\"path\":\"%s\"}", sq_test_divisions_path ());
    sq_test_reply_t *reply = sq_test_call (client, "registry", "division.import", args,
                                           "operator", "", NULL);
    if (!reply->ok)
        fail_msg ("division.import failed: %s", reply->message);
    sq_test_reply_destroy (&reply);
}

void
sq_test_id_number (int n, char out[19])
{
    char digits[32];
    snprintf (digits, sizeof digits, "130102%04d%02d%02d%03d", 1950 + n % 50, 1 + (n / 50) % 12,
              1 + (n / 600) % 28, (n / 16800) % 1000);
    memcpy (out, digits, 17);
    out[17] = sq_id_number_check_char (out);
    out[18] = 0;
}

void
sq_test_stack_start (sq_test_stack_t *stack, const char *name)
{
    memset (stack, 0, sizeof *stack);
    snprintf (stack->conninfo, sizeof stack->conninfo, "%s", sq_test_db_fresh (name));
    stack->bus = sq_test_bus_start ();
    stack->registry = sq_test_registry_start (stack->bus, stack->conninfo);
    stack->client = sq_mdp_client_new (bus_endpoint_commands (stack->bus));
    stack->db = sq_test_db_connect (stack->conninfo);
    sq_test_import_divisions (stack->client);
}

sq_service_t *
sq_test_service_start (sq_test_stack_t *stack, sq_service_config_t *config)
{
    config->conninfo = stack->conninfo;
    config->commands_endpoint = bus_endpoint_commands (stack->bus);
    config->events_in = bus_endpoint_events_in (stack->bus);
    sq_service_t *service = sq_service_new (config);
    assert_non_null (service);
    if (sq_service_start (service))
        fail_msg ("service %s did not start (see its log lines above)", config->name);
    return service;
}

void
sq_test_stack_stop (sq_test_stack_t *stack)
{
    sq_mdp_client_destroy (&stack->client);
    sq_test_registry_stop (&stack->registry);
    bus_destroy (&stack->bus);
    sq_db_destroy (&stack->db);
}

int
sq_test_free_port (void)
{
    int fd = socket (AF_INET, SOCK_STREAM, 0);
    assert_true (fd >= 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = 0,
                               .sin_addr.s_addr = htonl (INADDR_LOOPBACK)};
    socklen_t size = sizeof addr;
    assert_int_equal (bind (fd, (struct sockaddr *) &addr, sizeof addr), 0);
    assert_int_equal (getsockname (fd, (struct sockaddr *) &addr, &size), 0);
    close (fd);
    return ntohs (addr.sin_port);
}

pid_t
sq_test_redis_start (int port)
{
    char port_text[16];
    snprintf (port_text, sizeof port_text, "%d", port);
    pid_t pid = fork ();
    assert_true (pid >= 0);
    if (pid == 0) {
        prctl (PR_SET_PDEATHSIG, SIGKILL); //  never outlive the test
        if (!freopen ("/dev/null", "w", stdout))
            _exit (126);
        execlp ("redis-server", "redis-server", "--port", port_text, "--bind", "127.0.0.1",
                "--save", "", "--appendonly", "no", "--loglevel", "warning", (char *) NULL);
        _exit (127);
    }
    char address[32];
    snprintf (address, sizeof address, "127.0.0.1:%d", port);
    for (int waited = 0; waited < SQ_TEST_REDIS_START_MS; waited += 50) {
        sq_cache_t *probe = sq_cache_new (address);
        bool up = sq_cache_ping (probe);
        sq_cache_destroy (&probe);
        if (up)
            return pid;
        int status = 0;
        if (waitpid (pid, &status, WNOHANG) == pid)
            fail_msg ("redis-server on port %d exited (status %d) before answering", port,
                      status);
        usleep (50 * 1000);
    }
    kill (pid, SIGKILL);
    waitpid (pid, NULL, 0);
    fail_msg ("redis-server on port %d did not answer within %d ms", port,
              SQ_TEST_REDIS_START_MS);
    return -1;
}
