/*  The operators' CLI against a real bus and registry: `shequ call` prints the reply as JSON
    with the documented exit codes, `shequ tail` prints events as JSON lines, `shequ status`
    shows the workers and each stream's last seq. */
#include "sq_test.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#define OUTPUT_MAX (256 * 1024) //  most output read from one CLI run

static bus_t *s_bus;
static sq_test_registry_t *s_registry;
static sq_mdp_client_t *s_client;

static int
s_setup (void **state)
{
    const char *conninfo = sq_test_db_fresh ("cli");
    s_bus = sq_test_bus_start ();
    s_registry = sq_test_registry_start (s_bus, conninfo);
    s_client = sq_mdp_client_new (bus_endpoint_commands (s_bus));
    sq_test_import_divisions (s_client);
    //  The CLI finds the bus through the environment, as an operator's would.
    setenv ("SHEQU_COMMANDS", bus_endpoint_commands (s_bus), 1);
    setenv ("SHEQU_EVENTS_OUT", bus_endpoint_events_out (s_bus), 1);
    return 0;
}

static int
s_teardown (void **state)
{
    sq_mdp_client_destroy (&s_client);
    sq_test_registry_stop (&s_registry);
    bus_destroy (&s_bus);
    return 0;
}

//  Runs the CLI with a shell command line after the binary; returns its exit code and
//  its standard output in out (malloc'd, the caller frees).
static int
s_cli (const char *arguments, char **out)
{
    char command[2048];
    const char *bin = getenv ("SHEQU_BIN_DIR");
    snprintf (command, sizeof command, "%s/shequ %s", bin ? bin : "bin", arguments);
    FILE *pipe = popen (command, "r");
    assert_non_null (pipe);
    *out = calloc (1, OUTPUT_MAX + 1);
    size_t used = fread (*out, 1, OUTPUT_MAX, pipe);
    (*out)[used] = 0;
    int status = pclose (pipe);
    return WIFEXITED (status) ? WEXITSTATUS (status) : -1;
}

static void
test_call_prints_json_and_exit_codes (void **state)
{
    char *out = NULL;
    int rc = s_cli ("call registry division.get '{\"code\":\"131002001007\"}'", &out);
    assert_int_equal (rc, 0);
    assert_non_null (strstr (out, "\"ok\":true"));
    assert_non_null (strstr (out, "\"name\":\"吉祥社区居民委员会\""));
    free (out);
    rc = s_cli ("call registry division.get '{\"code\":\"131002001099\"}'", &out);
    assert_int_equal (rc, 1); //  an error reply, printed
    assert_non_null (strstr (out, "\"code\":\"not_found\""));
    assert_non_null (strstr (out, "\"field\":\"code\""));
    free (out);
    rc = s_cli ("call registry division.get '{\"code\":' 2>/dev/null", &out);
    assert_int_equal (rc, 2); //  bad JSON is a usage error, nothing sent
    free (out);
    rc = s_cli ("call --timeout 300 nosuchservice health '{}' 2>/dev/null", &out);
    assert_int_equal (rc, 3); //  no answer in time
    free (out);
}

static void
test_call_idem_and_actor_options (void **state)
{
    char *first = NULL, *again = NULL;
    const char *args = "call --idem cli-household-1 --role community_staff --scope 131002001007"
                       " registry household.create"
                       " '{\"community\":\"131002001007\",\"address\":\"光明路1号\"}'";
    assert_int_equal (s_cli (args, &first), 0);
    assert_int_equal (s_cli (args, &again), 0);
    assert_string_equal (first, again); //  the same reply, nothing created twice
    free (first);
    free (again);
    char *out = NULL;
    assert_int_equal (s_cli ("call --role resident --scope 131002001007 registry household.create"
                             " '{\"community\":\"131002001007\",\"address\":\"x\"}'", &out), 1);
    assert_non_null (strstr (out, "\"code\":\"forbidden\""));
    free (out);
}

static void
test_tail_prints_events_as_json_lines (void **state)
{
    char command[512];
    const char *bin = getenv ("SHEQU_BIN_DIR");
    snprintf (command, sizeof command, "%s/shequ tail --count 1 --timeout 10000"
              " registry.grid_created.131002", bin ? bin : "bin");
    FILE *pipe = popen (command, "r");
    assert_non_null (pipe);
    usleep (500 * 1000); //  let the subscription reach the bus
    sq_test_reply_t *reply = sq_test_call (s_client, "registry", "grid.create",
                                           "{\"community\":\"131002001007\",\"name\":\"尾网格\"}",
                                           "community_staff", "131002001007", NULL);
    assert_true (reply->ok);
    sq_test_reply_destroy (&reply);
    char line[4096] = "";
    assert_non_null (fgets (line, sizeof line, pipe));
    assert_int_equal (WEXITSTATUS (pclose (pipe)), 0);
    assert_non_null (strstr (line, "\"topic\":\"registry.grid_created.131002001007\""));
    assert_non_null (strstr (line, "\"src\":\"registry\""));
    assert_non_null (strstr (line, "\"name\":\"尾网格\""));
}

static void
test_status_shows_workers_and_streams (void **state)
{
    char *out = NULL;
    int rc = s_cli ("status --json", &out);
    if (rc != 0)
        fail_msg ("shequ status exited %d: %s", rc, out);
    assert_non_null (strstr (out, "\"name\":\"registry\",\"workers\":16"));
    assert_non_null (strstr (out, "\"last_seq\":1")); //  the divisions import
    free (out);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        //  status first: later tests leave a request queued for a service with no worker,
        //  which status rightly reports as a failure.
        cmocka_unit_test (test_status_shows_workers_and_streams),
        cmocka_unit_test (test_call_prints_json_and_exit_codes),
        cmocka_unit_test (test_call_idem_and_actor_options),
        cmocka_unit_test (test_tail_prints_events_as_json_lines),
    };
    return cmocka_run_group_tests (tests, s_setup, s_teardown);
}
