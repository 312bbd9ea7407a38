/*  notify consume: one event of a consumed stream into deliveries, in the consumer's
    transaction (with its inbox claim). Rules say who hears of it and on which channels;
    staff come from the registry (staff.list), addresses from subscriptions. Each (event,
    recipient, channel) is inserted once: a redelivered or replayed event finds its rows
    there (UNIQUE, ON CONFLICT DO NOTHING) and changes nothing. Inbox messages are written
    here at once; the other channels wait for the delivery sweep. */
#include "notify.h"

#include "sq_json.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  What an event without a template of its own says (inbox, SMS, e-mail).
#define S_GENERIC_SUBJECT "平台事件 {type}"
#define S_GENERIC_BODY "平台事件 {type}，地区 {div}，时间 {at|time}。"

//  One message to make: who, on which channel, at which address.
typedef struct {
    const sq_event_t *event;
    const notify_rule_t *rule;
    const char *recipient;
    notify_channel_t channel;
    const char *address;
    const char *subscription; //  id, or NULL
    const char *plan;         //  channels to fall back to, "sms,email"; "" none
    const char *skipped;      //  channels passed over for want of an address; "" none
    const char *fallback_of;  //  the delivery this one replaces, or NULL
} s_target_t;

//  Renders the message of target into subject and body (malloc'd). The webhook posts the
//  event itself as JSON unless a webhook template was put for its type.
static int
s_render (sq_ctx_t *ctx, const s_target_t *t, char **subject, char **body)
{
    char *tsubject = NULL, *tbody = NULL;
    const char *type = t->event->env.type;
    int found = notify_template_find (ctx, type, t->channel, &tsubject, &tbody);
    if (found < 0)
        return -1;
    *subject = *body = NULL;
    if (!found && t->channel == NOTIFY_WEBHOOK) {
        *body = sq_json_from_msgpack (sq_doc_root (t->event->doc));
        if (!*body)
            return sq_error_set (&ctx->err, SQ_ERR_INTERNAL, "", "could not write event %s as"
                                 " JSON", t->event->env.id);
        *subject = strdup ("");
        assert (*subject);
        return 0;
    }
    notify_template_t tmpl = {type, found ? tsubject : S_GENERIC_SUBJECT,
                              found ? tbody : S_GENERIC_BODY};
    if (t->channel == NOTIFY_EMAIL && !tmpl.subject)
        tmpl.subject = S_GENERIC_SUBJECT;
    notify_message_t *message = malloc (sizeof *message);
    int rc = message ? notify_message_render (&tmpl, t->channel, &t->event->env, message,
                                              &ctx->err)
                     : sq_error_set (&ctx->err, SQ_ERR_INTERNAL, "", "out of memory");
    if (rc == 0) {
        *subject = strdup (message->subject);
        *body = strdup (message->body);
        assert (*subject && *body);
    }
    free (message);
    free (tsubject);
    free (tbody);
    return rc;
}

void
notify_outcome_pack (msgpack_packer *pk, const char *delivery, const char *event_id,
                     const char *type, const char *recipient, const char *channel, int attempts,
                     const char *error)
{
    msgpack_pack_map (pk, error ? 7 : 6);
    sq_pack_kv_str (pk, "delivery", delivery);
    sq_pack_kv_str (pk, "event", event_id);
    sq_pack_kv_str (pk, "event_type", type);
    sq_pack_kv_str (pk, "recipient", recipient);
    sq_pack_kv_str (pk, "channel", channel);
    sq_pack_kv_int (pk, "attempts", attempts);
    if (error)
        sq_pack_kv_str (pk, "error", error);
}

//  Whether the delivery of t's event to its recipient on its channel, there already, is
//  dead (given up): then a fallback goes on to the next channel. 1 dead, 0 not, -1 error.
static int
s_existing_dead (sq_ctx_t *ctx, const s_target_t *t)
{
    const char *params[] = {t->event->env.id, t->recipient, notify_channel_name (t->channel)};
    PGresult *res = sq_db_query (ctx->db, "SELECT 1 FROM notify.delivery WHERE event_id = $1"
                                 " AND recipient = $2 AND channel = $3 AND status = 'dead'", 3,
                                 params, &ctx->err);
    if (!res)
        return -1;
    int dead = PQntuples (res) > 0;
    PQclear (res);
    return dead;
}

//  Inserts the delivery (once per event, recipient and channel); an inbox message is
//  written and delivered at once. Returns 0, 2 when the delivery was there already and is
//  dead (the caller goes on to the next channel), or -1 with ctx->err.
static int
s_deliver (sq_ctx_t *ctx, const s_target_t *t)
{
    char *subject = NULL, *body = NULL;
    if (s_render (ctx, t, &subject, &body)) {
        //  A template that cannot render this event must not hold the stream up.
        sq_log_warn ("message not rendered", "event=%s rule=%s channel=%s error=\"%s\"",
                     t->event->env.id, t->rule->id, notify_channel_name (t->channel),
                     ctx->err.message);
        memset (&ctx->err, 0, sizeof ctx->err);
        return 0;
    }
    const sq_envelope_t *env = &t->event->env;
    bool inbox = t->channel == NOTIFY_INBOX;
    int64_t now = notify_now_us (ctx);
    const notify_t *self = ctx->state;
    char id[SQ_ID_SIZE], seq[24], at[24], next_at[24];
    sq_id_new (id);
    snprintf (seq, sizeof seq, "%" PRIu64, env->seq);
    snprintf (at, sizeof at, "%" PRId64, now);
    snprintf (next_at, sizeof next_at, "%" PRId64,
              notify_send_at (&self->quiet, t->channel, t->rule->priority, now));
    const char *channel = notify_channel_name (t->channel);
    //  The event is kept (as a binary parameter) only while a fallback may have to render it
    //  for another channel.
    bool keep = t->plan[0];
    const char *params[] = {id, env->id, env->src, seq, env->type, env->div, t->recipient,
                            channel, t->address, t->subscription, t->rule->id,
                            notify_priority_name (t->rule->priority), subject, body,
                            inbox ? "delivered" : "pending", next_at, at, t->plan, t->skipped,
                            keep ? (const char *) t->event->raw : NULL, t->fallback_of};
    int lengths[21] = {[19] = keep ? (int) t->event->raw_size : 0};
    int formats[21] = {[19] = 1};
    PGresult *res = sq_db_query_bin (
        ctx->db, "INSERT INTO notify.delivery (id, event_id, src, seq, type, div, recipient,"
        " channel, address, subscription, rule, priority, subject, body, status, attempts,"
        " next_at, created_at, delivered_at, plan, skipped, event, fallback_of) VALUES ($1, $2,"
        " $3, $4::bigint, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, CASE WHEN $15 ="
        " 'delivered' THEN 1 ELSE 0 END, $16::bigint, $17::bigint, CASE WHEN $15 = 'delivered'"
        " THEN $17::bigint END, $18, $19, $20::bytea, $21) ON CONFLICT (event_id, recipient,"
        " channel) DO NOTHING RETURNING id", 21, params, lengths, formats, &ctx->err);
    int inserted = res ? PQntuples (res) : -1;
    PQclear (res);
    int rc = inserted < 0 ? -1 : 0;
    int dead = inserted == 0 ? s_existing_dead (ctx, t) : 0;
    if (dead)
        rc = dead < 0 ? -1 : 2;
    if (inserted == 1 && inbox) {
        char message[SQ_ID_SIZE];
        sq_id_new (message);
        const char *mparams[] = {message, id, t->recipient, env->id, env->type, env->div,
                                 notify_priority_name (t->rule->priority), subject, body, at};
        rc = sq_db_exec (ctx->db, "INSERT INTO notify.message (id, delivery, recipient,"
                         " event_id, type, div, priority, subject, body, created_at) VALUES ($1,"
                         " $2, $3, $4, $5, $6, $7, $8, $9, $10::bigint)", 10, mparams, &ctx->err);
        sq_data_t data;
        sq_data_begin (&data);
        notify_outcome_pack (&data.pk, id, env->id, env->type, t->recipient, channel, 1, NULL);
        if (rc == 0)
            rc = sq_ctx_emit_data (ctx, &data, "delivered", env->div);
        else
            sq_data_destroy (&data);
    }
    free (subject);
    free (body);
    return rc;
}

//  Appends the name of channel to a comma-separated list.
static void
s_list_add (char list[NOTIFY_PLAN_MAX], notify_channel_t channel)
{
    size_t used = strlen (list);
    snprintf (list + used, NOTIFY_PLAN_MAX - used, "%s%s", used ? "," : "",
              notify_channel_name (channel));
}

int
notify_reach_channels (sq_ctx_t *ctx, const sq_event_t *event, const notify_rule_t *rule,
                       const char *recipient, const notify_channel_t *channels, int count,
                       const char *fallback_of)
{
    char skipped[NOTIFY_PLAN_MAX] = "";
    for (int i = 0; i < count; i++) {
        char plan[NOTIFY_PLAN_MAX] = "";
        for (int j = i + 1; j < count; j++)
            s_list_add (plan, channels[j]);
        s_target_t t = {event, rule, recipient, channels[i], recipient, NULL, plan, skipped,
                        fallback_of};
        if (t.channel == NOTIFY_INBOX) {
            int rc = s_deliver (ctx, &t);
            return rc < 0 ? -1 : 0;
        }
        const char *params[] = {recipient, notify_channel_name (t.channel)};
        PGresult *res = sq_db_query (ctx->db, "SELECT id, address FROM notify.subscription"
                                     " WHERE subscriber = $1 AND channel = $2", 2, params,
                                     &ctx->err);
        if (!res)
            return -1;
        int rc = 1;
        if (PQntuples (res) == 1) {
            t.subscription = PQgetvalue (res, 0, 0);
            t.address = PQgetvalue (res, 0, 1);
            rc = s_deliver (ctx, &t);
        }
        PQclear (res);
        if (rc <= 0)
            return rc;
        if (rc == 1) //  not when its delivery was there and dead: that is no want of address
            s_list_add (skipped, channels[i]);
    }
    sq_log_info ("recipient has no address on the rule's channels", "event=%s rule=%s"
                 " recipient=%s channels=\"%s\"", event->env.id, rule->id, recipient, skipped);
    return 0;
}

//  Sends to recipient on the first of the rule's channels it has an address for.
static int
s_reach (sq_ctx_t *ctx, const sq_event_t *event, const notify_rule_t *rule, const char *recipient)
{
    return notify_reach_channels (ctx, event, rule, recipient, rule->channels,
                                  rule->channel_count, NULL);
}

//  The registry's role to ask for staff of a rule's role: community staff are every role
//  at the community; NULL when the registry has no such staff (the rule reaches no one).
static const char *
s_registry_role (const char *role, bool *all)
{
    static const char *const officials[] = {"grid_worker", "street_official",
                                            "district_official", NULL};
    *all = strcmp (role, "community_staff") == 0;
    for (int i = 0; officials[i]; i++)
        if (strcmp (role, officials[i]) == 0)
            return officials[i];
    return NULL;
}

//  Reaches the staff of the rule's role at territory, asked of the registry.
static int
s_reach_staff (sq_ctx_t *ctx, const sq_event_t *event, const notify_rule_t *rule,
               const char *territory)
{
    bool all = false;
    const char *role = s_registry_role (rule->role, &all);
    if (!role && !all)
        return 0;
    msgpack_sbuffer args;
    msgpack_sbuffer_init (&args);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &args, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, role ? 2 : 1);
    sq_pack_kv_str (&pk, "division", territory);
    if (role)
        sq_pack_kv_str (&pk, "role", role);
    sq_reply_t *reply = sq_ctx_call (ctx, "registry", "staff.list", args.data, args.size, 0);
    msgpack_sbuffer_destroy (&args);
    if (!reply) {
        const char *code = ctx->err.code;
        if (!strcmp (code, SQ_ERR_UNAVAILABLE) || !strcmp (code, SQ_ERR_INTERNAL))
            return -1; //  asked again: the stream waits
        sq_log_warn ("staff not looked up", "event=%s rule=%s territory=%s error=\"%s\"",
                     event->env.id, rule->id, territory, ctx->err.message);
        memset (&ctx->err, 0, sizeof ctx->err);
        return 0;
    }
    const msgpack_object *staff = sq_obj_get (reply->result, "staff");
    int rc = 0;
    for (uint32_t i = 0; rc == 0 && staff && staff->type == MSGPACK_OBJECT_ARRAY
                         && i < staff->via.array.size; i++) {
        char id[SQ_TEXT_ID_MAX];
        if (sq_obj_str_copy (sq_obj_get (&staff->via.array.ptr[i], "id"), id, sizeof id) == 0)
            rc = s_reach (ctx, event, rule, id);
    }
    sq_reply_destroy (&reply);
    return rc;
}

//  Reaches every subscription whose topics select the event, on its own channel.
static int
s_reach_subscribers (sq_ctx_t *ctx, const sq_event_t *event, const notify_rule_t *rule)
{
    char limit[16];
    snprintf (limit, sizeof limit, "%d", NOTIFY_RECIPIENTS_MAX);
    const char *params[] = {limit};
    PGresult *res = sq_db_query (ctx->db, "SELECT id, subscriber, channel, address,"
                                 " array_to_string (topics, E'\\n') FROM notify.subscription"
                                 " ORDER BY id LIMIT $1::int", 1, params, &ctx->err);
    if (!res)
        return -1;
    int rc = 0;
    notify_subscription_t *s = malloc (sizeof *s);
    for (int i = 0; s && rc == 0 && i < PQntuples (res); i++) {
        memset (s, 0, sizeof *s);
        const char *topics = PQgetvalue (res, i, 4);
        //  An empty array gives "", the same as one "" topic: topics has at least one.
        while (s->topic_count < NOTIFY_TOPICS_MAX) {
            size_t len = strcspn (topics, "\n");
            snprintf (s->topics[s->topic_count++], SQ_TOPIC_MAX, "%.*s", (int) len, topics);
            if (!topics[len])
                break;
            topics += len + 1;
        }
        notify_channel_t channel;
        if (!notify_subscription_matches (s, event->env.type, event->env.div)
            || notify_channel_parse (PQgetvalue (res, i, 2), &channel))
            continue;
        s_target_t t = {event, rule, PQgetvalue (res, i, 1), channel, PQgetvalue (res, i, 3),
                        PQgetvalue (res, i, 0), "", "", NULL};
        rc = s_deliver (ctx, &t);
    }
    PQclear (res);
    free (s);
    return s ? rc : sq_error_set (&ctx->err, SQ_ERR_INTERNAL, "", "out of memory");
}

//  Reaches the recipients of one matching rule.
static int
s_apply_rule (sq_ctx_t *ctx, const sq_event_t *event, const notify_match_t *match)
{
    const notify_rule_t *rule = match->rule;
    switch (rule->audience) {
    case NOTIFY_TO_ROLE: {
        if (match->lookup_div[0])
            return s_reach_staff (ctx, event, rule, match->lookup_div);
        char (*territories)[SQ_DIV_MAX] = calloc (NOTIFY_TERRITORIES_MAX, SQ_DIV_MAX);
        int count = territories ? notify_rule_territories (rule, &event->env, territories,
                                                           NOTIFY_TERRITORIES_MAX)
                                : -1;
        int rc = 0;
        for (int i = 0; rc == 0 && i < count; i++)
            rc = s_reach_staff (ctx, event, rule, territories[i]);
        if (count < 0)
            sq_log_warn ("too many territories", "event=%s rule=%s", event->env.id, rule->id);
        free (territories);
        return rc;
    }
    case NOTIFY_TO_PEOPLE: {
        int rc = 0;
        for (int i = 0; rc == 0 && i < rule->people_count; i++)
            rc = s_reach (ctx, event, rule, rule->people[i]);
        return rc;
    }
    case NOTIFY_TO_FIELD: {
        char id[SQ_TEXT_ID_MAX];
        if (sq_obj_str_copy (sq_obj_get (event->env.data, rule->recipient_field), id, sizeof id)
            || !id[0])
            return 0;
        return s_reach (ctx, event, rule, id);
    }
    default:
        return s_reach_subscribers (ctx, event, rule);
    }
}

int
notify_consume (sq_ctx_t *ctx, const sq_event_t *event)
{
    notify_rule_t *rules = NULL;
    int count = notify_rules_load (ctx, &rules);
    if (count < 0)
        return -1;
    notify_match_t *matches = calloc (NOTIFY_RULES_MAX, sizeof *matches);
    int found = matches ? notify_route_match (rules, count, event->env.type, event->env.div,
                                              matches, NOTIFY_RULES_MAX)
                        : -1;
    int rc = found < 0 ? sq_error_set (&ctx->err, SQ_ERR_INTERNAL, "", "could not match rules")
                       : 0;
    for (int i = 0; rc == 0 && i < found; i++)
        rc = s_apply_rule (ctx, event, &matches[i]);
    free (matches);
    free (rules);
    return rc;
}
