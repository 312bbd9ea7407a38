/*  request: request bodies of DESIGN.md "Commands", and one MDP call with its reply decoded
    strictly. The reply comes off the network: it is checked by sq_doc_new before any field
    of it is read, like any other input. */
#include "cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void
cli_actor_from_env (cli_actor_t *actor)
{
    actor->id = sq_config_str (CLI_ENV_ACTOR_ID, CLI_ACTOR_ID_DEFAULT);
    actor->role = sq_config_str (CLI_ENV_ACTOR_ROLE, CLI_ACTOR_ROLE_DEFAULT);
    //  NB: sq_config_str gives the fallback for an empty variable too, which is what an
    //  empty scope means anyway.
    actor->scope = sq_config_str (CLI_ENV_ACTOR_SCOPE, CLI_ACTOR_SCOPE_DEFAULT);
}

//  Checks that a text given on the command line is UTF-8, as every msgpack string must be.
static int
s_check_text (const char *name, const char *text, char *why, size_t why_size)
{
    if (text && !sq_utf8_valid (text, strlen (text))) {
        snprintf (why, why_size, "%s is not valid UTF-8 text", name);
        return -1;
    }
    return 0;
}

int
cli_request_pack (msgpack_sbuffer *buf, const char *cmd, const void *args, size_t args_size,
                  const cli_actor_t *actor, const char *idem, const char *corr, char *why,
                  size_t why_size)
{
    if (s_check_text ("the command name", cmd, why, why_size)
        || s_check_text ("--actor", actor->id, why, why_size)
        || s_check_text ("--role", actor->role, why, why_size)
        || s_check_text ("--scope", actor->scope, why, why_size)
        || s_check_text ("--idem", idem, why, why_size)
        || s_check_text ("--corr", corr, why, why_size)) {
        return -1;
    }
    msgpack_packer pk;
    msgpack_packer_init (&pk, buf, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, 3 + (idem ? 1 : 0) + (corr ? 1 : 0));
    sq_pack_kv_str (&pk, "cmd", cmd);
    if (args_size) {
        sq_pack_kv_raw (&pk, "args", args, args_size);
    } else {
        sq_pack_str (&pk, "args");
        msgpack_pack_map (&pk, 0);
    }
    sq_pack_str (&pk, "actor");
    msgpack_pack_map (&pk, 3);
    sq_pack_kv_str (&pk, "id", actor->id);
    sq_pack_kv_str (&pk, "role", actor->role);
    sq_pack_kv_str (&pk, "scope", actor->scope);
    if (idem) sq_pack_kv_str (&pk, "idem", idem);
    if (corr) sq_pack_kv_str (&pk, "corr", corr);
    return 0;
}

int
cli_args_from_json (const char *text, size_t len, msgpack_sbuffer *args, char *why,
                    size_t why_size)
{
    msgpack_packer pk;
    msgpack_packer_init (&pk, args, msgpack_sbuffer_write);
    char reason[CLI_WHY_MAX];
    if (sq_json_to_msgpack (text, len, &pk, reason, sizeof reason)) {
        snprintf (why, why_size, "arguments are not valid JSON: %s", reason);
        return -1;
    }
    //  DESIGN.md: args is a map. The first byte of msgpack names the type: fixmap, map 16,
    //  map 32.
    uint8_t first = (uint8_t) args->data[0];
    if (!((first >= 0x80 && first <= 0x8f) || first == 0xde || first == 0xdf)) {
        snprintf (why, why_size, "arguments must be a JSON object, like '{\"code\":\"1301\"}'");
        return -1;
    }
    return 0;
}

void
cli_reply_clear (cli_reply_t *reply)
{
    sq_doc_destroy (&reply->doc);
    free (reply->body);
    reply->body = NULL;
    reply->size = 0;
}

int
cli_service_call (sq_mdp_client_t *client, const char *service, const void *body, size_t size,
                  int timeout_ms, cli_reply_t *reply, char *why, size_t why_size)
{
    memset (reply, 0, sizeof *reply);
    errno = 0;
    if (sq_mdp_client_call (client, service, body, size, timeout_ms, &reply->body,
                            &reply->size)) {
        if (errno == ETIMEDOUT) {
            snprintf (why, why_size, "no reply from %s within %d ms", service, timeout_ms);
        } else {
            snprintf (why, why_size, "could not call %s: %s", service,
                      errno ? zmq_strerror (errno) : "transport error");
        }
        return -1;
    }
    char reason[CLI_WHY_MAX];
    reply->doc = sq_doc_new (reply->body, reply->size, reason, sizeof reason);
    if (!reply->doc) {
        snprintf (why, why_size, "malformed reply from %s: %s", service, reason);
        cli_reply_clear (reply);
        return -1;
    }
    return 0;
}

int
cli_reply_ok (const cli_reply_t *reply)
{
    const msgpack_object *ok = sq_obj_get (sq_doc_root (reply->doc), "ok");
    if (!ok || ok->type != MSGPACK_OBJECT_BOOLEAN) return -1;
    return ok->via.boolean ? 1 : 0;
}
