/*  notify service: the command table, the consumed streams, the sweep and the state read
    from the environment. */
#include "notify.h"

#include "sq_migrate.h"

#include <stdio.h>
#include <string.h>

const char *const notify_admins[] = {"operator", "city_official", "district_official",
                                     "community_office", NULL};

static const sq_command_t s_commands[] = {
    {"rule.put", notify_rule_put},
    {"rule.list", notify_rule_list},
    {"rule.remove", notify_rule_remove},
    {"subscription.put", notify_subscription_put},
    {"subscription.list", notify_subscription_list},
    {"subscription.remove", notify_subscription_remove},
    {"template.put", notify_template_put},
    {"template.list", notify_template_list},
    {"inbox.list", notify_inbox_list},
    {"inbox.mark_read", notify_inbox_mark_read},
    {"delivery.list", notify_delivery_list},
    {"deadletter.list", notify_deadletter_list},
    {"deadletter.retry", notify_deadletter_retry},
    {NULL, NULL}};

//  Each sweep commits on its own: a digest failing must not undo deliveries already sent.
static const sq_command_t s_sweeps[] = {{"deliver", notify_sweep_deliver},
                                        {"digest", notify_digest_sweep},
                                        {NULL, NULL}};

int
notify_state_streams (notify_t *state, const char *list)
{
    memset (state->consumers, 0, sizeof state->consumers);
    int count = 0;
    const char *p = list;
    while (*p) {
        size_t len = strcspn (p, ",");
        if (len == 0 || len >= SQ_SRC_MAX || count == NOTIFY_STREAMS_MAX)
            return -1;
        memcpy (state->streams[count], p, len);
        state->streams[count][len] = '\0';
        //  "" takes every event of the stream: the rules decide what concerns anyone.
        state->consumers[count] = (sq_consumer_t) {state->streams[count], "", notify_consume};
        count++;
        p += len;
        if (*p == ',')
            p++;
    }
    return 0;
}

//  The SMS provider, the mail relay and the rate limit, from the environment.
static int
s_channels_init (notify_t *state)
{
    char error[NOTIFY_ERROR_MAX] = "";
    int timeout_ms = (int) sq_config_int (NOTIFY_SMTP_TIMEOUT_ENV, NOTIFY_SMTP_TIMEOUT_MS_DEFAULT,
                                          10, NOTIFY_SMTP_TIMEOUT_MS_MAX);
    if (notify_sms_config (&state->sms, sq_config_str (NOTIFY_SMS_URL_ENV, NULL),
                           sq_config_str (NOTIFY_SMS_KEY_ENV, NULL),
                           sq_config_str (NOTIFY_SMS_SIGN_ENV, NULL), state->http_timeout_ms,
                           error, sizeof error)
        || notify_smtp_config (&state->smtp, sq_config_str (NOTIFY_SMTP_ENV, NULL),
                               sq_config_str (NOTIFY_SMTP_FROM_ENV, NULL), timeout_ms, error,
                               sizeof error)) {
        sq_log_error ("bad configuration", "error=\"%s\"", error);
        return -1;
    }
    state->quiet = notify_quiet_default ();
    state->rate = notify_rate_default ();
    state->rate.window_us = sq_config_int (NOTIFY_RATE_WINDOW_ENV, NOTIFY_RATE_WINDOW_US / 1000,
                                           1000, NOTIFY_RATE_WINDOW_MS_MAX) * 1000;
    state->rate.sends_max = sq_config_int (NOTIFY_RATE_MAX_ENV, NOTIFY_RATE_SENDS_MAX, 0,
                                           NOTIFY_RATE_MAX_LIMIT);
    state->counter = notify_counter_new (sq_config_str (SQ_ENV_REDIS, SQ_DEFAULT_REDIS));
    if (!state->counter) {
        sq_log_error ("out of memory", "during=\"rate counter\"");
        return -1;
    }
    if (!state->sms.configured || !state->smtp.configured)
        sq_log_info ("channels not configured: their deliveries fall back or dead-letter",
                     "sms=%s email=%s", state->sms.configured ? "yes" : "no",
                     state->smtp.configured ? "yes" : "no");
    return 0;
}

int
notify_state_init (notify_t *state, sq_crypt_t *crypt)
{
    memset (state, 0, sizeof *state);
    state->crypt = crypt;
    //  Contracts are read where the migrations are: SHEQU_SCHEMAS_DIR, else the source tree
    //  (the image sets SHEQU_SCHEMAS_DIR=/usr/local/share/shequ/schemas).
    snprintf (state->contracts_dir, sizeof state->contracts_dir, "%s/events", sq_migrate_dir ());
    state->clock_offset_us = sq_config_int (NOTIFY_CLOCK_OFFSET_ENV, 0, -INT64_C (10) * 365
                                            * 86400000, INT64_C (10) * 365 * 86400000) * 1000;
    state->http_timeout_ms = (int) sq_config_int (NOTIFY_HTTP_TIMEOUT_ENV,
                                                  NOTIFY_HTTP_TIMEOUT_MS_DEFAULT, 10,
                                                  NOTIFY_HTTP_TIMEOUT_MS_MAX);
    state->retry = notify_retry_default ();
    state->retry.attempts_max = (int) sq_config_int (NOTIFY_ATTEMPTS_ENV, NOTIFY_ATTEMPTS_MAX, 1,
                                                     NOTIFY_ATTEMPTS_LIMIT);
    state->retry.base_us = sq_config_int (NOTIFY_RETRY_BASE_ENV, NOTIFY_RETRY_BASE_US / 1000, 1,
                                          NOTIFY_RETRY_CAP_US / 1000) * 1000;
    const char *streams = sq_config_str (NOTIFY_STREAMS_ENV, NOTIFY_STREAMS_DEFAULT);
    if (notify_state_streams (state, streams)) {
        sq_log_error ("bad configuration", "variable=%s value=\"%s\" expected=\"stream names"
                      " separated by commas\"", NOTIFY_STREAMS_ENV, streams);
        return -1;
    }
    return s_channels_init (state);
}

void
notify_state_destroy (notify_t *state)
{
    notify_counter_destroy (&state->counter);
}

void
notify_service_config (notify_t *state, sq_service_config_t *config)
{
    memset (config, 0, sizeof *config);
    config->name = "notify";
    config->schema = "notify";
    config->commands = s_commands;
    config->consumers = state->consumers;
    config->sweeps = s_sweeps;
    config->state = state;
}

int64_t
notify_now_us (const sq_ctx_t *ctx)
{
    const notify_t *self = ctx->state;
    return sq_now_us () + self->clock_offset_us;
}
