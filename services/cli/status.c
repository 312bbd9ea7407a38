/*  status: `shequ status` shows the bus (its endpoints and what its broker reports through
    the internal service mmi.workers), every service with its workers, and each service's
    own `health` answer, which carries its stream's last committed seq.

    The broker's report is read field by field with every field optional, since the broker
    may add or drop some; whatever a service's health holds is shown as it came. */
#include "cli.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define CLI_MMI_WORKERS "mmi.workers"  //  the broker's own service: its counts
#define CLI_MMI_PREFIX "mmi."          //  services of the broker itself, without health
#define CLI_STATUS_SERVICES_MAX 256    //  services shown at most
#define CLI_STATUS_NAME_WIDTH 24       //  column of service names in the table
#define CLI_COUNT_TEXT_MAX 24          //  a 64-bit integer as text, with sign and NUL

typedef struct {
    int timeout_ms; //  per call
    bool json;      //  one JSON document instead of the table
} s_status_options_t;

//  One service as the broker listed it, and what its health call gave.
typedef struct {
    char name[SQ_MDP_SERVICE_MAX + 1]; //  service name
    const msgpack_object *entry;       //  its map in the broker's report (borrowed)
    bool asked;                        //  health was asked (not an mmi. service)
    cli_reply_t health;                //  health reply; doc NULL when the call failed
    char why[CLI_WHY_MAX];             //  why there is no health reply
} s_service_t;

typedef struct {
    const char *commands;      //  command endpoint (ROUTER)
    const char *events_in;     //  XSUB endpoint
    const char *events_out;    //  XPUB endpoint
    cli_reply_t broker;        //  mmi.workers reply; doc NULL when the call failed
    const msgpack_object *stats; //  the report inside it, NULL when none
    char broker_why[CLI_WHY_MAX]; //  why there is no report
    s_service_t *services;     //  services listed by the broker
    size_t services_size;      //  entries in services
} s_status_t;

static int
s_status_options (int argc, char **argv, s_status_options_t *options)
{
    static const struct option long_options[] = {{"json", no_argument, NULL, 'j'},
                                                 {"timeout", required_argument, NULL, 't'},
                                                 {NULL, 0, NULL, 0}};
    options->timeout_ms = CLI_STATUS_TIMEOUT_MS_DEFAULT;
    options->json = false;
    int option;
    while ((option = getopt_long (argc, argv, "", long_options, NULL)) != -1) {
        int64_t value;
        if (option == 'j') {
            options->json = true;
        } else if (option == 't') {
            if (cli_parse_int ("--timeout", optarg, 1, CLI_TIMEOUT_MS_MAX, &value)) return -1;
            options->timeout_ms = (int) value;
        } else {
            return -1; //  getopt_long has said what was wrong
        }
    }
    if (optind < argc) {
        fprintf (stderr, "shequ: status takes no arguments, got \"%s\"\n", argv[optind]);
        return -1;
    }
    return 0;
}

//  Asks the broker for its report. The report may come bare or wrapped as a reply
//  {"ok":true,"result":{...}}; both are accepted.
static void
s_status_broker (s_status_t *status, sq_mdp_client_t *client, int timeout_ms)
{
    static const uint8_t empty_map = 0x80; //  the request body: nothing to ask but the counts
    if (cli_service_call (client, CLI_MMI_WORKERS, &empty_map, sizeof empty_map, timeout_ms,
                          &status->broker, status->broker_why, sizeof status->broker_why)) {
        return;
    }
    const msgpack_object *root = sq_doc_root (status->broker.doc);
    if (cli_reply_ok (&status->broker) == 0) {
        const msgpack_object *error = sq_obj_get (root, "error");
        const msgpack_object *message = sq_obj_get (error, "message");
        bool text = message && message->type == MSGPACK_OBJECT_STR;
        snprintf (status->broker_why, sizeof status->broker_why,
                  "the bus refused %s: %.*s", CLI_MMI_WORKERS,
                  text ? (int) message->via.str.size : 0, text ? message->via.str.ptr : "");
        return;
    }
    const msgpack_object *result = sq_obj_get (root, "result");
    status->stats = result && result->type == MSGPACK_OBJECT_MAP ? result : root;
    if (status->stats->type != MSGPACK_OBJECT_MAP) {
        snprintf (status->broker_why, sizeof status->broker_why,
                  "the broker's report is not a map");
        status->stats = NULL;
    }
}

//  Collects the services named in the report (entries without a string name are skipped).
static int
s_status_services (s_status_t *status)
{
    const msgpack_object *list = sq_obj_get (status->stats, "services");
    if (!list || list->type != MSGPACK_OBJECT_ARRAY || list->via.array.size == 0) return 0;
    size_t size = list->via.array.size;
    if (size > CLI_STATUS_SERVICES_MAX) {
        fprintf (stderr, "shequ: the bus lists %zu services; showing the first %d\n", size,
                 CLI_STATUS_SERVICES_MAX);
        size = CLI_STATUS_SERVICES_MAX;
    }
    status->services = calloc (size, sizeof *status->services);
    if (!status->services) {
        fprintf (stderr, "shequ: out of memory\n");
        return -1;
    }
    for (size_t i = 0; i < size; i++) {
        const msgpack_object *entry = &list->via.array.ptr[i];
        s_service_t *service = &status->services[status->services_size];
        if (sq_obj_str_copy (sq_obj_get (entry, "name"), service->name, sizeof service->name)) {
            continue;
        }
        service->entry = entry;
        status->services_size++;
    }
    return 0;
}

//  Asks one service for its health, unless it is the broker's own or has no worker to ask.
static void
s_status_health (s_service_t *service, sq_mdp_client_t *client, int timeout_ms)
{
    if (strncmp (service->name, CLI_MMI_PREFIX, strlen (CLI_MMI_PREFIX)) == 0) return;
    service->asked = true;
    const msgpack_object *workers = sq_obj_get (service->entry, "workers");
    if (workers && workers->type == MSGPACK_OBJECT_POSITIVE_INTEGER && workers->via.u64 == 0) {
        snprintf (service->why, sizeof service->why, "no worker connected");
        return;
    }
    cli_actor_t actor;
    cli_actor_from_env (&actor);
    msgpack_sbuffer request;
    msgpack_sbuffer_init (&request);
    if (cli_request_pack (&request, "health", NULL, 0, &actor, NULL, NULL, service->why,
                          sizeof service->why) == 0) {
        cli_service_call (client, service->name, request.data, request.size, timeout_ms,
                          &service->health, service->why, sizeof service->why);
    }
    msgpack_sbuffer_destroy (&request);
}

//  Writes the integer in map[key] into out, "-" when absent, "?" when not an integer.
static const char *
s_count_text (const msgpack_object *map, const char *key, char *out, size_t size)
{
    const msgpack_object *value = sq_obj_get (map, key);
    if (!value) {
        snprintf (out, size, "-");
    } else if (value->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
        snprintf (out, size, "%" PRIu64, value->via.u64);
    } else if (value->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
        snprintf (out, size, "%" PRId64, value->via.i64);
    } else {
        snprintf (out, size, "?");
    }
    return out;
}

//  The health result's stream map, where the last committed seq is.
static const msgpack_object *
s_health_stream (const s_service_t *service)
{
    if (!service->health.doc) return NULL;
    const msgpack_object *result = sq_obj_get (sq_doc_root (service->health.doc), "result");
    return sq_obj_get (result, "stream");
}

//  One word on the health reply for the table: ok, the error code, or why there is none.
static const char *
s_health_word (const s_service_t *service, char *word, size_t word_size)
{
    if (!service->asked) return "-";
    if (!service->health.doc) return service->why;
    int ok = cli_reply_ok (&service->health);
    if (ok == 1) return "ok";
    const msgpack_object *error = sq_obj_get (sq_doc_root (service->health.doc), "error");
    const msgpack_object *code = sq_obj_get (error, "code");
    if (ok == 0 && sq_obj_str_copy (code, word, word_size) == 0) return word;
    return "malformed reply";
}

static void
s_print_bus (const s_status_t *status)
{
    char text[CLI_COUNT_TEXT_MAX];
    printf ("bus\n");
    printf ("  commands    %s\n", status->commands);
    printf ("  events in   %s\n", status->events_in);
    printf ("  events out  %s\n", status->events_out);
    if (!status->stats) {
        printf ("  broker      %s\n", status->broker_why);
        return;
    }
    printf ("  uptime ms   %s\n", s_count_text (status->stats, "uptime_ms", text, sizeof text));
    printf ("  requests    %s\n", s_count_text (status->stats, "requests", text, sizeof text));
    printf ("  events      %s\n", s_count_text (status->stats, "events", text, sizeof text));
}

static void
s_print_services (const s_status_t *status)
{
    char workers[CLI_COUNT_TEXT_MAX], waiting[CLI_COUNT_TEXT_MAX], queued[CLI_COUNT_TEXT_MAX];
    char last_seq[CLI_COUNT_TEXT_MAX], word[SQ_ERROR_FIELD_MAX];
    printf ("services\n");
    printf ("  %-*s %8s %8s %8s %10s  %s\n", CLI_STATUS_NAME_WIDTH, "name", "workers",
            "waiting", "queued", "last seq", "health");
    for (size_t i = 0; i < status->services_size; i++) {
        const s_service_t *service = &status->services[i];
        printf ("  %-*s %8s %8s %8s %10s  %s\n", CLI_STATUS_NAME_WIDTH, service->name,
                s_count_text (service->entry, "workers", workers, sizeof workers),
                s_count_text (service->entry, "waiting", waiting, sizeof waiting),
                s_count_text (service->entry, "queued", queued, sizeof queued),
                s_count_text (s_health_stream (service), "last_seq", last_seq, sizeof last_seq),
                s_health_word (service, word, sizeof word));
    }
    if (status->services_size == 0) printf ("  (none)\n");
}

//  Prints every health result in full: services put more in it than the table shows.
static int
s_print_health (const s_status_t *status)
{
    bool printed = false;
    for (size_t i = 0; i < status->services_size; i++) {
        const s_service_t *service = &status->services[i];
        if (!service->health.doc) continue;
        if (!printed) printf ("health\n");
        printed = true;
        printf ("  %s: ", service->name);
        if (cli_print_json (stdout, sq_doc_root (service->health.doc), false)) return -1;
    }
    return 0;
}

//  Packs a failure the CLI saw in the shape of a platform error reply.
static void
s_pack_local_error (msgpack_packer *pk, const char *message)
{
    msgpack_pack_map (pk, 2);
    sq_pack_kv_bool (pk, "ok", false);
    sq_pack_str (pk, "error");
    msgpack_pack_map (pk, 2);
    sq_pack_kv_str (pk, "code", SQ_ERR_UNAVAILABLE);
    sq_pack_kv_str (pk, "message", message);
}

//  The --json document: {"bus":{endpoints},"broker":<report>|<error>,"health":{name:reply}}.
static int
s_print_json (const s_status_t *status)
{
    msgpack_sbuffer buf;
    msgpack_sbuffer_init (&buf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &buf, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, 3);
    sq_pack_str (&pk, "bus");
    msgpack_pack_map (&pk, 3);
    sq_pack_kv_str (&pk, "commands", status->commands);
    sq_pack_kv_str (&pk, "events_in", status->events_in);
    sq_pack_kv_str (&pk, "events_out", status->events_out);
    sq_pack_str (&pk, "broker");
    if (status->stats) {
        msgpack_pack_object (&pk, *status->stats);
    } else {
        s_pack_local_error (&pk, status->broker_why);
    }
    sq_pack_str (&pk, "health");
    uint32_t asked = 0;
    for (size_t i = 0; i < status->services_size; i++) asked += status->services[i].asked;
    msgpack_pack_map (&pk, asked);
    for (size_t i = 0; i < status->services_size; i++) {
        const s_service_t *service = &status->services[i];
        if (!service->asked) continue;
        sq_pack_str (&pk, service->name);
        if (service->health.doc) {
            msgpack_pack_object (&pk, *sq_doc_root (service->health.doc));
        } else {
            s_pack_local_error (&pk, service->why);
        }
    }
    char why[CLI_WHY_MAX];
    sq_doc_t *doc = sq_doc_new (buf.data, buf.size, why, sizeof why);
    int rc = doc ? cli_print_json (stdout, sq_doc_root (doc), cli_stdout_is_tty ()) : -1;
    if (!doc) fprintf (stderr, "shequ: could not assemble the status document: %s\n", why);
    sq_doc_destroy (&doc);
    msgpack_sbuffer_destroy (&buf);
    return rc;
}

//  The exit code: transport when the broker did not answer, refused when a service's
//  health did not come back ok, ok otherwise.
static int
s_status_exit (const s_status_t *status)
{
    if (!status->stats) return CLI_EXIT_TRANSPORT;
    for (size_t i = 0; i < status->services_size; i++) {
        const s_service_t *service = &status->services[i];
        if (service->asked && (!service->health.doc || cli_reply_ok (&service->health) != 1)) {
            return CLI_EXIT_REFUSED;
        }
    }
    return CLI_EXIT_OK;
}

static void
s_status_clear (s_status_t *status)
{
    for (size_t i = 0; i < status->services_size; i++)
        cli_reply_clear (&status->services[i].health);
    free (status->services);
    cli_reply_clear (&status->broker);
}

int
cli_status (int argc, char **argv)
{
    s_status_options_t options;
    if (s_status_options (argc, argv, &options)) return CLI_EXIT_USAGE;
    s_status_t status = {
        .commands = sq_config_str (SQ_ENV_COMMANDS, SQ_DEFAULT_COMMANDS),
        .events_in = sq_config_str (SQ_ENV_EVENTS_IN, SQ_DEFAULT_EVENTS_IN),
        .events_out = sq_config_str (SQ_ENV_EVENTS_OUT, SQ_DEFAULT_EVENTS_OUT)};
    sq_mdp_client_t *client = sq_mdp_client_new (status.commands);
    if (!client) {
        fprintf (stderr, "shequ: could not connect to the bus at %s\n", status.commands);
        return CLI_EXIT_TRANSPORT;
    }
    s_status_broker (&status, client, options.timeout_ms);
    int rc = s_status_services (&status);
    for (size_t i = 0; rc == 0 && i < status.services_size; i++)
        s_status_health (&status.services[i], client, options.timeout_ms);
    sq_mdp_client_destroy (&client);
    if (rc == 0 && options.json) {
        rc = s_print_json (&status);
    } else if (rc == 0) {
        s_print_bus (&status);
        if (status.stats) {
            s_print_services (&status);
            rc = s_print_health (&status);
        }
    }
    int exit_code = rc ? CLI_EXIT_TRANSPORT : s_status_exit (&status);
    if (!status.stats) {
        fprintf (stderr, "shequ: %s (bus at %s)\n", status.broker_why, status.commands);
    }
    s_status_clear (&status);
    return exit_code;
}
