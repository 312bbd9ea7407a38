/*  call: `shequ call <service> <cmd> '<json args>'` sends one command over the bus and
    prints the reply as JSON. The exit code tells scripts what happened (cli.h). */
#include "cli.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *service;   //  MDP service name, e.g. "registry"
    const char *cmd;       //  command name, e.g. "division.get"
    const char *args_text; //  JSON object, "-" for stdin, NULL for {}
    cli_actor_t actor;     //  who asks
    const char *idem;      //  idempotency key or NULL
    const char *corr;      //  correlation id or NULL
    int timeout_ms;        //  how long to wait for the reply
} s_call_options_t;

//  Reads the options and the positional arguments. Returns 0, or -1 (reported on stderr).
static int
s_call_options (int argc, char **argv, s_call_options_t *options)
{
    static const struct option long_options[] = {
        {"idem", required_argument, NULL, 'i'},  {"corr", required_argument, NULL, 'c'},
        {"timeout", required_argument, NULL, 't'}, {"role", required_argument, NULL, 'r'},
        {"scope", required_argument, NULL, 's'}, {"actor", required_argument, NULL, 'a'},
        {NULL, 0, NULL, 0}};
    memset (options, 0, sizeof *options);
    cli_actor_from_env (&options->actor);
    options->timeout_ms = CLI_TIMEOUT_MS_DEFAULT;
    int option;
    while ((option = getopt_long (argc, argv, "", long_options, NULL)) != -1) {
        int64_t value;
        switch (option) {
        case 'i': options->idem = optarg; break;
        case 'c': options->corr = optarg; break;
        case 'r': options->actor.role = optarg; break;
        case 's': options->actor.scope = optarg; break;
        case 'a': options->actor.id = optarg; break;
        case 't':
            if (cli_parse_int ("--timeout", optarg, 1, CLI_TIMEOUT_MS_MAX, &value)) return -1;
            options->timeout_ms = (int) value;
            break;
        default: return -1; //  getopt_long has said what was wrong
        }
    }
    int positional = argc - optind;
    if (positional < 2 || positional > 3) {
        fprintf (stderr, "shequ: call needs a service, a command and optionally JSON "
                         "arguments, e.g. shequ call registry division.get '{\"code\":\"13\"}'\n");
        return -1;
    }
    options->service = argv[optind];
    options->cmd = argv[optind + 1];
    options->args_text = positional == 3 ? argv[optind + 2] : NULL;
    size_t service_len = strlen (options->service);
    if (service_len == 0 || service_len > SQ_MDP_SERVICE_MAX) {
        fprintf (stderr, "shequ: service name must be 1 to %d bytes\n", SQ_MDP_SERVICE_MAX);
        return -1;
    }
    if (!options->cmd[0]) {
        fprintf (stderr, "shequ: command name is empty\n");
        return -1;
    }
    return 0;
}

//  Turns the JSON arguments (or stdin for "-", or {} when none) into msgpack in args.
static int
s_call_args (const s_call_options_t *options, msgpack_sbuffer *args)
{
    char why[CLI_WHY_MAX];
    const char *text = options->args_text ? options->args_text : "{}";
    size_t len = strlen (text);
    char *input = NULL;
    if (strcmp (text, "-") == 0) {
        input = cli_read_stdin (SQ_JSON_TEXT_MAX, &len, why, sizeof why);
        if (!input) {
            fprintf (stderr, "shequ: could not read arguments: %s\n", why);
            return -1;
        }
        text = input;
    }
    int rc = cli_args_from_json (text, len, args, why, sizeof why);
    if (rc) fprintf (stderr, "shequ: %s\n", why);
    free (input);
    return rc;
}

//  Prints the reply and picks the exit code from its "ok".
static int
s_call_report (const cli_reply_t *reply, const char *service)
{
    if (cli_print_json (stdout, sq_doc_root (reply->doc), cli_stdout_is_tty ())) {
        return CLI_EXIT_TRANSPORT;
    }
    int ok = cli_reply_ok (reply);
    if (ok < 0) {
        fprintf (stderr, "shequ: reply from %s has no boolean \"ok\"\n", service);
        return CLI_EXIT_TRANSPORT;
    }
    return ok ? CLI_EXIT_OK : CLI_EXIT_REFUSED;
}

int
cli_call (int argc, char **argv)
{
    s_call_options_t options;
    if (s_call_options (argc, argv, &options)) return CLI_EXIT_USAGE;
    int rc = CLI_EXIT_USAGE;
    msgpack_sbuffer args, request;
    msgpack_sbuffer_init (&args);
    msgpack_sbuffer_init (&request);
    sq_mdp_client_t *client = NULL;
    cli_reply_t reply;
    char why[CLI_WHY_MAX];
    const char *endpoint = sq_config_str (SQ_ENV_COMMANDS, SQ_DEFAULT_COMMANDS);
    if (s_call_args (&options, &args)) goto cleanup;
    if (cli_request_pack (&request, options.cmd, args.data, args.size, &options.actor,
                          options.idem, options.corr, why, sizeof why)) {
        fprintf (stderr, "shequ: %s\n", why);
        goto cleanup;
    }
    rc = CLI_EXIT_TRANSPORT;
    client = sq_mdp_client_new (endpoint);
    if (!client) {
        fprintf (stderr, "shequ: could not connect to the bus at %s\n", endpoint);
        goto cleanup;
    }
    if (cli_service_call (client, options.service, request.data, request.size,
                          options.timeout_ms, &reply, why, sizeof why)) {
        fprintf (stderr, "shequ: %s (bus at %s)\n", why, endpoint);
        goto cleanup;
    }
    rc = s_call_report (&reply, options.service);
    cli_reply_clear (&reply);
cleanup:
    sq_mdp_client_destroy (&client);
    msgpack_sbuffer_destroy (&request);
    msgpack_sbuffer_destroy (&args);
    return rc;
}
