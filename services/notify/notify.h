/*  notify: the service's shared declarations (issue 6; DOMAIN.md section 6).
    Commands, events and tables are listed in services/notify/README.md. The pure core is in
    template.h, route.h, schedule.h and sign.h; this header adds the service around it. */
#ifndef NOTIFY_H
#define NOTIFY_H

#include "rate.h"
#include "route.h"
#include "schedule.h"
#include "sign.h"
#include "sms.h"
#include "smtp.h"
#include "template.h"

#include "shequ.h"
#include "sq_crypt.h"
#include "sq_service.h"

#define NOTIFY_PATH_MAX 1024          //  longest path of the contracts folder
#define NOTIFY_PAGE_SIZE 100          //  rows per list reply
#define NOTIFY_SEND_BATCH_MAX 16      //  deliveries one sweep sends at most
#define NOTIFY_SWEEP_BUDGET_MS 1000   //  a sweep takes no new row after sending this long
#define NOTIFY_HTTP_TIMEOUT_MS_DEFAULT 2000 //  SHEQU_NOTIFY_HTTP_TIMEOUT_MS: connect, send, reply
#define NOTIFY_HTTP_TIMEOUT_MS_MAX 30000
#define NOTIFY_ERROR_MAX 256          //  longest error kept for an attempt
#define NOTIFY_STREAMS_MAX 8          //  streams consumed at most
#define NOTIFY_RECIPIENTS_MAX 1024    //  recipients one event reaches at most
#define NOTIFY_STREAMS_ENV "SHEQU_NOTIFY_STREAMS"           //  streams consumed
#define NOTIFY_STREAMS_DEFAULT "registry,admission,disputes,ledger"
#define NOTIFY_CLOCK_OFFSET_ENV "SHEQU_NOTIFY_CLOCK_OFFSET_MS" //  shifts the clock, for tests
#define NOTIFY_HTTP_TIMEOUT_ENV "SHEQU_NOTIFY_HTTP_TIMEOUT_MS"
#define NOTIFY_ATTEMPTS_ENV "SHEQU_NOTIFY_ATTEMPTS_MAX"     //  dead letter after this many
#define NOTIFY_RETRY_BASE_ENV "SHEQU_NOTIFY_RETRY_BASE_MS"  //  first backoff ceiling
#define NOTIFY_SMS_URL_ENV "SHEQU_NOTIFY_SMS_URL"           //  the SMS provider's http:// API
#define NOTIFY_SMS_KEY_ENV "SHEQU_NOTIFY_SMS_KEY"           //  its API key (optional)
#define NOTIFY_SMS_SIGN_ENV "SHEQU_NOTIFY_SMS_SIGN"         //  the sign name (optional)
#define NOTIFY_SMTP_ENV "SHEQU_NOTIFY_SMTP"                 //  relay host[:port]
#define NOTIFY_SMTP_FROM_ENV "SHEQU_NOTIFY_SMTP_FROM"       //  sender address
#define NOTIFY_SMTP_TIMEOUT_ENV "SHEQU_NOTIFY_SMTP_TIMEOUT_MS"
#define NOTIFY_RATE_WINDOW_ENV "SHEQU_NOTIFY_RATE_WINDOW_MS" //  the rate window
#define NOTIFY_RATE_MAX_ENV "SHEQU_NOTIFY_RATE_MAX"         //  messages one by one per window
#define NOTIFY_RATE_WINDOW_MS_MAX (INT64_C (24) * 3600 * 1000)
#define NOTIFY_RATE_MAX_LIMIT 100000
#define NOTIFY_DIGEST_ITEMS_MAX 100   //  deliveries one digest message lists at most
#define NOTIFY_DIGEST_BATCH_MAX 4     //  digests one sweep sends at most
#define NOTIFY_DIGEST_ITEM_BODY_MAX 600 //  bytes of each message's text a digest e-mail keeps
#define NOTIFY_PLAN_MAX 64            //  "sms,email,webhook" and the like + 1

//  The service's own state, handed to handlers as ctx->state. Filled by notify_state_init;
//  read-only once the service runs.
typedef struct {
    sq_crypt_t *crypt;                   //  seals webhook secrets
    char contracts_dir[NOTIFY_PATH_MAX]; //  schemas/events, for template.put
    int64_t clock_offset_us;             //  added to the clock (quiet hours in tests)
    int http_timeout_ms;                 //  per webhook POST
    notify_retry_t retry;                //  backoff and dead-letter limit
    notify_quiet_t quiet;                //  SMS quiet hours
    notify_rate_t rate;                  //  per recipient and channel (SMS, e-mail)
    notify_counter_t *counter;           //  the rate's counts in Redis (owned)
    notify_sms_t sms;                    //  the SMS provider
    notify_smtp_t smtp;                  //  the mail relay
    sq_consumer_t consumers[NOTIFY_STREAMS_MAX + 1]; //  one per consumed stream, then NULLs
    char streams[NOTIFY_STREAMS_MAX][SQ_SRC_MAX];    //  their names (consumers point here)
} notify_t;

//  Fills state from the environment (SHEQU_NOTIFY_*, SHEQU_SCHEMAS_DIR); crypt is the
//  caller's. Returns 0, or -1 after logging a bad value.
int notify_state_init (notify_t *state, sq_crypt_t *crypt);

//  Frees what notify_state_init allocated; state may be used for init again.
void notify_state_destroy (notify_t *state);

//  Consumes exactly these streams (comma-separated, e.g. "registry,disputes"). Returns 0,
//  or -1 when a name is empty, too long or there are too many.
int notify_state_streams (notify_t *state, const char *list);

//  Fills config for the notify service; the endpoints are left NULL (environment).
void notify_service_config (notify_t *state, sq_service_config_t *config);

//  The service's clock: now plus the configured offset.
int64_t notify_now_us (const sq_ctx_t *ctx);

//  Roles that manage rules, templates and subscriptions.
extern const char *const notify_admins[];

//  The effective rules: the defaults overlaid by the stored rows by id. *rules is malloc'd
//  (the caller frees). Returns the count or -1 with ctx->err.
int notify_rules_load (sq_ctx_t *ctx, notify_rule_t **rules);

//  Reads a rule from a msgpack map (rule.put's args or a stored spec) and checks it.
//  Returns 0 or -1 with err naming the field.
int notify_rule_read (const msgpack_object *map, notify_rule_t *rule, sq_error_t *err);

//  Packs a rule as the map notify_rule_read reads.
void notify_rule_pack (msgpack_packer *pk, const notify_rule_t *rule);

//  The template of type for channel: the stored one, else the default. Fills subject and
//  body (malloc'd, the caller frees both; subject may be NULL). Returns 1 found, 0 none,
//  -1 with err.
int notify_template_find (sq_ctx_t *ctx, const char *type, notify_channel_t channel,
                          char **subject, char **body);

//  Packs the data map of notify.delivered (error NULL) or notify.dead_lettered.
void notify_outcome_pack (msgpack_packer *pk, const char *delivery, const char *event_id,
                          const char *type, const char *recipient, const char *channel,
                          int attempts, const char *error);

//  Applies one event of a consumed stream (config.consumers).
int notify_consume (sq_ctx_t *ctx, const sq_event_t *event);

//  Makes the delivery of event to recipient on the first of channels (count of them) the
//  recipient has an address for (the inbox always; the others by subscription), keeping
//  the channels after it as the fallback plan; fallback_of (or NULL) is the delivery it
//  replaces. Nothing happens when the delivery exists already (unless it is dead: then the
//  next channel is tried), or when no channel has an address (logged). Returns 0 or -1
//  with ctx->err.
int notify_reach_channels (sq_ctx_t *ctx, const sq_event_t *event, const notify_rule_t *rule,
                           const char *recipient, const notify_channel_t *channels, int count,
                           const char *fallback_of);

//  A pending delivery as the sweep reads it (strings borrowed from its PGresult).
typedef struct {
    const char *id, *channel, *address, *subject, *body, *event_id, *type, *div, *recipient;
    const char *priority, *rule, *plan;
    int attempts; //  failed tries before this one (since the last deadletter.retry)
} notify_due_t;

//  The columns of notify.delivery a notify_due_t is read from, in its order (prefix them
//  with an alias through NOTIFY_DUE_COLUMNS_OF when the query joins).
#define NOTIFY_DUE_COLUMNS_OF(t)                                                              \
    t "id, " t "channel, " t "address, " t "subject, " t "body, " t "event_id, " t "type, "   \
    t "div, " t "recipient, " t "priority, " t "rule, " t "plan, " t "attempts"
#define NOTIFY_DUE_COLUMNS NOTIFY_DUE_COLUMNS_OF ("")
#define NOTIFY_DUE_COLUMN_COUNT 13

//  Reads row of res, whose first columns are NOTIFY_DUE_COLUMNS (strings borrowed).
void notify_due_read (const PGresult *res, int row, notify_due_t *out);

//  Sends text on SMS or e-mail (the channels digests go out on): body as the SMS text or
//  the mail's, subject for mail, id the delivery or digest id (Message-ID, X-Shequ-Delivery).
notify_outcome_t notify_send_text (const notify_t *self, notify_channel_t channel,
                                   const char *address, const char *subject, const char *body,
                                   const char *id, int64_t now_us, char *error,
                                   size_t error_size);

//  Fails delivery d for good after attempt: status dead, a dead letter, notify.dead_lettered,
//  and the next channel of its plan tried (fallback). Returns 0 or -1 with ctx->err.
int notify_delivery_give_up (sq_ctx_t *ctx, const notify_due_t *d, int attempt, int64_t now_us,
                             const char *error);

//  Past the rate, folds d into its recipient's digest for the window instead of sending it.
//  Returns 1 folded, 0 to be sent on its own, -1 with ctx->err.
int notify_digest_fold (sq_ctx_t *ctx, const notify_due_t *d, int64_t now_us);

//  Counts d, decided at decided_us by notify_digest_fold and sent on its own, in Redis's
//  rate counter (what PostgreSQL counts while Redis is down: sent, not urgent).
void notify_digest_count_sent (sq_ctx_t *ctx, const notify_due_t *d, int64_t decided_us);

//  Sends the digests whose window has ended (config.sweeps, after the delivery sweep).
sq_handler_fn notify_digest_sweep;

//  Calls send on each row of res, each under a savepoint: when its bookkeeping fails after
//  the message went out, only that row is undone and the sweep stops there, so the rows
//  sent before it still commit (SMS and mail receivers cannot drop repeats). Stops taking
//  rows after NOTIFY_SWEEP_BUDGET_MS (the rest wait for the next round: the sweep runs on a
//  worker thread). Returns 0, or -1 with ctx->err when the transaction itself is lost.
int notify_sweep_rows (sq_ctx_t *ctx, PGresult *res, int (*send) (sq_ctx_t *, PGresult *, int));

//  When a message on channel with priority, due at at_us, must wait for quiet hours: true
//  with *ends_us the end of them. Checked at send time, so retries wait too.
bool notify_quiet_holds (const notify_t *self, const char *channel, const char *priority,
                         int64_t at_us, int64_t *ends_us);

//  One message of a digest (strings borrowed).
typedef struct {
    const char *subject;  //  its e-mail subject ("" on SMS)
    const char *body;     //  its text
    const char *event_id; //  the event it tells of
} notify_digest_item_t;

//  The text of a digest of count items (1 to NOTIFY_DIGEST_ITEMS_MAX) on channel (SMS or
//  e-mail) for the window starting at window_start_us: subject (e-mail; "" for SMS) into
//  subject, the body malloc'd into *body (the caller frees). Every item is named (e-mail:
//  its subject, text and event id; SMS: the count, then as many texts as fit). Returns 0 or
//  -1 when memory is short.
int notify_digest_render (notify_channel_t channel, const notify_digest_item_t *items,
                          int count, int64_t window_start_us, int64_t window_us,
                          char subject[NOTIFY_SUBJECT_MAX], char **body);

//  The delivery sweep (config.sweeps): sends due deliveries.
sq_handler_fn notify_sweep_deliver;

//  Handlers, one per command (files named after what they hold).
sq_handler_fn notify_rule_put, notify_rule_list, notify_rule_remove;
sq_handler_fn notify_subscription_put, notify_subscription_list, notify_subscription_remove;
sq_handler_fn notify_template_put, notify_template_list;
sq_handler_fn notify_inbox_list, notify_inbox_mark_read, notify_delivery_list;
sq_handler_fn notify_deadletter_list, notify_deadletter_retry;

#endif
