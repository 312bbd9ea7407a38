/*  cli: the parts of the `shequ` command-line tool that its commands share.
    main.c dispatches; call.c, tail.c and status.c hold one command each; request.c builds
    request bodies and runs one MDP call; output.c prints and parses numbers. */
#ifndef CLI_H
#define CLI_H

#include "shequ.h"
#include "sq_json.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

//  Exit codes (README "Exit codes"): scripts branch on them.
#define CLI_EXIT_OK 0        //  the reply's ok was true; tail or status ended normally
#define CLI_EXIT_REFUSED 1   //  a service answered with an error (printed on stdout)
#define CLI_EXIT_USAGE 2     //  bad arguments or bad JSON arguments
#define CLI_EXIT_TRANSPORT 3 //  no reply in time, bus unreachable, or a malformed reply

#define CLI_TIMEOUT_MS_DEFAULT 10000       //  shequ call: wait for a reply this long
#define CLI_STATUS_TIMEOUT_MS_DEFAULT 3000 //  shequ status: per call, so a dead service
                                           //  does not hold up the report for long
#define CLI_TIMEOUT_MS_MAX 86400000        //  longest --timeout accepted: one day
#define CLI_TAIL_COUNT_MAX INT64_MAX       //  largest --count accepted

#define CLI_ENV_ACTOR_ID "SHEQU_ACTOR_ID"
#define CLI_ENV_ACTOR_ROLE "SHEQU_ACTOR_ROLE"
#define CLI_ENV_ACTOR_SCOPE "SHEQU_ACTOR_SCOPE"
#define CLI_ACTOR_ID_DEFAULT "cli"
#define CLI_ACTOR_ROLE_DEFAULT "operator"
#define CLI_ACTOR_SCOPE_DEFAULT ""

#define CLI_WHY_MAX 512 //  longest error message the CLI composes, bytes

//  Who the CLI asks as (DESIGN.md "Commands"); strings borrowed from argv or environment.
typedef struct {
    const char *id;    //  actor id
    const char *role;  //  one of DESIGN.md's roles
    const char *scope; //  division code, "" for the whole platform
} cli_actor_t;

//  A reply as received: body bytes (owned) and the strictly decoded document over them.
typedef struct {
    void *body;      //  malloc'd reply body
    size_t size;     //  bytes in body
    sq_doc_t *doc;   //  decoded body; points into body
} cli_reply_t;

// ---- commands (each returns the process's exit code) ---------------------------------
int cli_call (int argc, char **argv);
int cli_tail (int argc, char **argv);
int cli_status (int argc, char **argv);

//  Prints the usage text with examples to out.
void cli_usage (FILE *out);

// ---- request.c -----------------------------------------------------------------------
//  Fills actor from SHEQU_ACTOR_ID, SHEQU_ACTOR_ROLE, SHEQU_ACTOR_SCOPE or the defaults.
void cli_actor_from_env (cli_actor_t *actor);

//  Packs the request body {cmd, args, actor, idem?, corr?} into buf (initialised by the
//  caller). args is the raw msgpack of a map; idem and corr may be NULL. Returns 0, or -1
//  with the reason in why when a text is not UTF-8.
int cli_request_pack (msgpack_sbuffer *buf, const char *cmd, const void *args,
                      size_t args_size, const cli_actor_t *actor, const char *idem,
                      const char *corr, char *why, size_t why_size);

//  Converts JSON text into the raw msgpack of a map, into args (initialised by the caller).
//  Returns 0, or -1 with the reason in why (not JSON, or not an object).
int cli_args_from_json (const char *text, size_t len, msgpack_sbuffer *args, char *why,
                        size_t why_size);

//  Sends body to service and waits up to timeout_ms for the reply, which is decoded
//  strictly into reply (cleared by cli_reply_clear). Returns 0, or -1 with why set
//  (no reply in time, transport error, malformed reply).
int cli_service_call (sq_mdp_client_t *client, const char *service, const void *body,
                      size_t size, int timeout_ms, cli_reply_t *reply, char *why,
                      size_t why_size);
void cli_reply_clear (cli_reply_t *reply);

//  The reply's "ok" field: 1 true, 0 false, -1 absent or not a boolean.
int cli_reply_ok (const cli_reply_t *reply);

// ---- output.c ------------------------------------------------------------------------
//  Prints o as JSON and a newline on out, indented when pretty. Returns 0, or -1 when it
//  could not be written (reported on stderr).
int cli_print_json (FILE *out, const msgpack_object *o, bool pretty);

//  True when stdout is a terminal: JSON is then indented for a person to read.
bool cli_stdout_is_tty (void);

//  Parses text as a decimal integer within [min, max]. Returns 0, or -1 with a message on
//  stderr naming option.
int cli_parse_int (const char *option, const char *text, int64_t min, int64_t max,
                   int64_t *out);

//  Reads all of stdin, at most max bytes, into a malloc'd buffer (caller frees). Returns
//  NULL with the reason in why.
char *cli_read_stdin (size_t max, size_t *len, char *why, size_t why_size);

#endif
