/*  shequ: the operators' command-line tool. main picks the command and tears down; each
    command lives in its own file (call.c, tail.c, status.c). */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

void
cli_usage (FILE *out)
{
    fprintf (out,
        "usage: shequ <command> [options] [arguments]\n"
        "\n"
        "commands:\n"
        "  call <service> <cmd> ['<json args>' | -]   send one command, print the reply\n"
        "      --timeout MS   wait this long for the reply (default %d)\n"
        "      --idem KEY     idempotency key: a repeated request returns the first reply\n"
        "      --corr ID      correlation id carried into the events the command emits\n"
        "      --actor ID     actor id      (default $%s or \"%s\")\n"
        "      --role R       actor role    (default $%s or \"%s\")\n"
        "      --scope CODE   actor scope   (default $%s or the whole platform)\n"
        "      arguments \"-\" are read from stdin; none means {}\n"
        "  tail [topic prefix]   print events as JSON lines, all of them without a prefix\n"
        "      --count N      exit after N events\n"
        "      --timeout MS   exit after MS without an event (default: never)\n"
        "  status               the bus, its services and workers, each stream's last seq\n"
        "      --json         one JSON document instead of the table\n"
        "      --timeout MS   wait this long for each answer (default %d)\n"
        "  help                 this text\n"
        "\n"
        "examples:\n"
        "  shequ call registry division.get '{\"code\":\"130100000000\"}'\n"
        "  shequ call registry resident.register --idem reg-0001 \\\n"
        "      '{\"id_number\":\"11010519491231002X\",\"name\":\"...\",\"community\":\"...\","
        "\"residency\":\"registered\"}'\n"
        "  shequ call --role auditor registry resident.get '{\"id\":\"...\"}' | jq .result\n"
        "  shequ tail registry.              every registry event\n"
        "  shequ tail disputes.case_filed.1301 --count 10\n"
        "  shequ status --json\n"
        "\n"
        "exit codes: 0 ok, 1 the service answered with an error (printed), 2 usage or bad\n"
        "JSON, 3 no reply in time or the bus unreachable\n"
        "\n"
        "environment:\n"
        "  %-18s bus commands endpoint (default %s)\n"
        "  %-18s bus events endpoint for tail (default %s)\n"
        "  %-18s bus events in, shown by status (default %s)\n"
        "  %-18s actor defaults, as above\n"
        "  SHEQU_LOG_LEVEL    debug, info, warn (default here) or error\n",
        CLI_TIMEOUT_MS_DEFAULT, CLI_ENV_ACTOR_ID, CLI_ACTOR_ID_DEFAULT, CLI_ENV_ACTOR_ROLE,
        CLI_ACTOR_ROLE_DEFAULT, CLI_ENV_ACTOR_SCOPE, CLI_STATUS_TIMEOUT_MS_DEFAULT,
        SQ_ENV_COMMANDS, SQ_DEFAULT_COMMANDS, SQ_ENV_EVENTS_OUT, SQ_DEFAULT_EVENTS_OUT,
        SQ_ENV_EVENTS_IN, SQ_DEFAULT_EVENTS_IN, "SHEQU_ACTOR_*");
}

static bool
s_is_help (const char *word)
{
    return strcmp (word, "help") == 0 || strcmp (word, "--help") == 0
           || strcmp (word, "-h") == 0;
}

int
main (int argc, char **argv)
{
    //  The library logs on stderr; the tool shows only warnings unless asked for more.
    sq_log_init ("shequ", getenv ("SHEQU_LOG_LEVEL") ? -1 : SQ_LOG_WARN);
    if (argc < 2) {
        cli_usage (stderr);
        return CLI_EXIT_USAGE;
    }
    if (s_is_help (argv[1])) {
        cli_usage (stdout);
        return CLI_EXIT_OK;
    }
    //  Each command parses its own options: argv[1] becomes its argv[0], renamed so that
    //  getopt's messages read "shequ call: ...".
    static char call_name[] = "shequ call", tail_name[] = "shequ tail",
                status_name[] = "shequ status";
    static const struct {
        const char *word;        //  the command as typed
        char *program;           //  its name in messages
        int (*run) (int, char **); //  what runs it
    } commands[] = {{"call", call_name, cli_call},
                    {"tail", tail_name, cli_tail},
                    {"status", status_name, cli_status}};
    int rc = -1;
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        if (strcmp (argv[1], commands[i].word) == 0) {
            argv[1] = commands[i].program;
            rc = commands[i].run (argc - 1, argv + 1);
            break;
        }
    }
    if (rc == -1) {
        fprintf (stderr, "shequ: unknown command \"%s\"; try shequ help\n", argv[1]);
        return CLI_EXIT_USAGE;
    }
    sq_zmq_shutdown ();
    return rc;
}
