/*  notify subscriptions and templates: subscription.put/list/remove, template.put/list.
    A subscription is also the address book: the address of a recipient on a channel is that
    of its subscription (personal contacts stay out of events and out of the registry). */
#include "notify.h"
#include "http.h"

#include "sq_identity.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_EMAIL_MAX 254 //  RFC 5321 path limit

static const char *const s_channels[] = {"inbox", "sms", "email", "webhook", NULL};
static const char *const s_subscribers[] = {"operator", "city_official", "district_official",
                                            "community_office", "department", NULL};

//  True when the topic prefix holds only what topics hold: letters, digits, '_' and '.'.
static bool
s_topic_valid (const char *topic)
{
    for (const char *p = topic; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_' || *p == '.'))
            return false;
    return true;
}

//  Checks the address for the channel and writes its normal form into out.
static int
s_address (sq_ctx_t *ctx, notify_channel_t channel, const char *subscriber, char *out)
{
    char address[NOTIFY_ADDRESS_MAX] = "";
    int rc = sq_arg_str (ctx->args, "address", channel != NOTIFY_INBOX, NOTIFY_ADDRESS_MAX - 1,
                         address, sizeof address, &ctx->err);
    if (rc < 0)
        return -1;
    notify_url_t url;
    char phone[SQ_PHONE_SIZE];
    switch (channel) {
    case NOTIFY_INBOX: //  the inbox is the subscriber's own
        if (rc && strcmp (address, subscriber))
            return sq_error_set (&ctx->err, SQ_ERR_INVALID, "address", "an inbox subscription's"
                                 " address is its subscriber");
        snprintf (out, NOTIFY_ADDRESS_MAX, "%s", subscriber);
        return 0;
    case NOTIFY_WEBHOOK:
        if (notify_url_parse (address, &url))
            return sq_error_set (&ctx->err, SQ_ERR_INVALID, "address", "address must be an"
                                 " http://host[:port]/path URL");
        break;
    case NOTIFY_SMS:
        if (sq_phone_check (address, phone, &ctx->err))
            return sq_error_set (&ctx->err, SQ_ERR_INVALID, "address", "address must be a"
                                 " mainland mobile number");
        snprintf (address, sizeof address, "%s", phone);
        break;
    default: {
        const char *at = strchr (address, '@');
        if (strlen (address) > S_EMAIL_MAX || !at || at == address || !at[1]
            || strchr (at + 1, '@') || strpbrk (address, " \t\r\n<>,;\"\\"))
            return sq_error_set (&ctx->err, SQ_ERR_INVALID, "address", "address must be an"
                                 " e-mail address");
    }
    }
    snprintf (out, NOTIFY_ADDRESS_MAX, "%s", address);
    return 0;
}

//  Reads 1 to NOTIFY_TOPICS_MAX topic prefixes into s.
static int
s_topics (sq_ctx_t *ctx, notify_subscription_t *s)
{
    const msgpack_object *list = NULL;
    if (sq_arg_array (ctx->args, "topics", true, NOTIFY_TOPICS_MAX, &list, &ctx->err) < 0)
        return -1;
    if (list->via.array.size == 0)
        return sq_error_set (&ctx->err, SQ_ERR_INVALID, "topics", "topics lists at least one"
                             " prefix (\"\" for everything)");
    for (uint32_t i = 0; i < list->via.array.size; i++)
        if (sq_obj_str_copy (&list->via.array.ptr[i], s->topics[i], sizeof s->topics[i])
            || !s_topic_valid (s->topics[i]))
            return sq_error_set (&ctx->err, SQ_ERR_INVALID, "topics", "topics must be prefixes"
                                 " of <type>.<div> of at most %d bytes", SQ_TOPIC_MAX - 1);
    s->topic_count = (int) list->via.array.size;
    return 0;
}

//  The topics as a PostgreSQL array literal: each quoted, none holds '"' or '\'.
static void
s_topics_literal (const notify_subscription_t *s, char *out, size_t size)
{
    size_t used = (size_t) snprintf (out, size, "{");
    for (int i = 0; i < s->topic_count && used < size; i++)
        used += (size_t) snprintf (out + used, size - used, "%s\"%s\"", i ? "," : "", s->topics[i]);
    if (used < size)
        snprintf (out + used, size - used, "}");
}

//  Reads and seals the webhook secret (required for webhooks, refused otherwise).
static int
s_secret (sq_ctx_t *ctx, notify_channel_t channel, uint8_t **sealed, size_t *sealed_size)
{
    char secret[NOTIFY_SECRET_MAX + 1] = "";
    int rc = sq_arg_str (ctx->args, "secret", channel == NOTIFY_WEBHOOK, NOTIFY_SECRET_MAX,
                         secret, sizeof secret, &ctx->err);
    if (rc < 0)
        return -1;
    if (rc && channel != NOTIFY_WEBHOOK)
        return sq_error_set (&ctx->err, SQ_ERR_INVALID, "secret", "only a webhook has a secret");
    if (channel != NOTIFY_WEBHOOK)
        return 0;
    if (strlen (secret) < NOTIFY_SECRET_MIN)
        return sq_error_set (&ctx->err, SQ_ERR_INVALID, "secret", "secret must be %d to %d bytes",
                             NOTIFY_SECRET_MIN, NOTIFY_SECRET_MAX);
    const notify_t *self = ctx->state;
    *sealed = sq_crypt_seal (self->crypt, secret, strlen (secret), sealed_size);
    if (!*sealed)
        return sq_error_set (&ctx->err, SQ_ERR_INTERNAL, "secret", "could not seal the secret");
    return 0;
}

int
notify_subscription_put (sq_ctx_t *ctx)
{
    notify_subscription_t s = {0};
    int channel = 0;
    if (sq_ctx_require_role (ctx, s_subscribers)
        || sq_arg_str (ctx->args, "subscriber", true, sizeof s.subscriber - 1, s.subscriber,
                       sizeof s.subscriber, &ctx->err) < 0
        || sq_arg_enum (ctx->args, "channel", true, s_channels, &channel, &ctx->err) < 0)
        return -1;
    s.channel = (notify_channel_t) channel;
    if (!s.subscriber[0])
        return sq_error_set (&ctx->err, SQ_ERR_INVALID, "subscriber", "subscriber is empty");
    //  A department subscribes its own systems only.
    if (strcmp (ctx->actor->role, "department") == 0 && strcmp (ctx->actor->id, s.subscriber))
        return sq_error_set (&ctx->err, SQ_ERR_FORBIDDEN, "subscriber", "a department may only"
                             " subscribe itself");
    uint8_t *sealed = NULL;
    size_t sealed_size = 0;
    if (s_address (ctx, s.channel, s.subscriber, s.address) || s_topics (ctx, &s)
        || s_secret (ctx, s.channel, &sealed, &sealed_size))
        return -1;
    char id[SQ_ID_SIZE], at[24], topics[NOTIFY_TOPICS_MAX * (SQ_TOPIC_MAX + 3) + 3];
    sq_id_new (id);
    snprintf (at, sizeof at, "%" PRId64, sq_now_us ());
    s_topics_literal (&s, topics, sizeof topics);
    const char *params[] = {id, s.subscriber, notify_channel_name (s.channel), s.address,
                            topics, (const char *) sealed, at};
    int lengths[7] = {0, 0, 0, 0, 0, (int) sealed_size, 0}, formats[7] = {0, 0, 0, 0, 0, 1, 0};
    PGresult *res = sq_db_query_bin (
        ctx->db, "INSERT INTO notify.subscription (id, subscriber, channel, address, topics,"
        " secret_sealed, created_at, changed_at) VALUES ($1, $2, $3, $4, $5::text[], $6,"
        " $7::bigint, $7::bigint) ON CONFLICT (subscriber, channel) DO UPDATE SET"
        " address = $4, topics = $5::text[], secret_sealed = $6, changed_at = $7::bigint"
        " RETURNING id", 7, params, lengths, formats, &ctx->err);
    free (sealed);
    if (!res)
        return -1;
    msgpack_pack_map (ctx->pk, 5);
    sq_pack_kv_str (ctx->pk, "id", PQgetvalue (res, 0, 0));
    PQclear (res);
    sq_pack_kv_str (ctx->pk, "subscriber", s.subscriber);
    sq_pack_kv_str (ctx->pk, "channel", notify_channel_name (s.channel));
    sq_pack_kv_str (ctx->pk, "address", s.address);
    sq_pack_str (ctx->pk, "topics");
    msgpack_pack_array (ctx->pk, (size_t) s.topic_count);
    for (int i = 0; i < s.topic_count; i++)
        sq_pack_str (ctx->pk, s.topics[i]);
    return 0;
}

int
notify_subscription_list (sq_ctx_t *ctx)
{
    char subscriber[NOTIFY_SUBSCRIBER_MAX] = "";
    if (sq_ctx_require_role (ctx, s_subscribers)
        || sq_arg_str (ctx->args, "subscriber", false, sizeof subscriber - 1, subscriber,
                       sizeof subscriber, &ctx->err) < 0)
        return -1;
    if (strcmp (ctx->actor->role, "department") == 0)
        snprintf (subscriber, sizeof subscriber, "%s", ctx->actor->id);
    char limit[16];
    snprintf (limit, sizeof limit, "%d", NOTIFY_PAGE_SIZE);
    const char *params[] = {subscriber[0] ? subscriber : NULL, limit};
    PGresult *res = sq_db_query (ctx->db, "SELECT id, subscriber, channel, address,"
                                 " array_to_json (topics)::text FROM notify.subscription"
                                 " WHERE $1::text IS NULL OR subscriber = $1"
                                 " ORDER BY subscriber, channel LIMIT $2::int", 2, params,
                                 &ctx->err);
    if (!res)
        return -1;
    int rows = PQntuples (res);
    msgpack_pack_map (ctx->pk, 2);
    sq_pack_kv_int (ctx->pk, "count", rows);
    sq_pack_str (ctx->pk, "subscriptions");
    msgpack_pack_array (ctx->pk, (size_t) rows);
    for (int i = 0; i < rows; i++) {
        msgpack_pack_map (ctx->pk, 5);
        sq_pack_kv_str (ctx->pk, "id", PQgetvalue (res, i, 0));
        sq_pack_kv_str (ctx->pk, "subscriber", PQgetvalue (res, i, 1));
        sq_pack_kv_str (ctx->pk, "channel", PQgetvalue (res, i, 2));
        sq_pack_kv_str (ctx->pk, "address", PQgetvalue (res, i, 3));
        sq_pack_kv_str (ctx->pk, "topics", PQgetvalue (res, i, 4)); //  a JSON array, as text
    }
    PQclear (res);
    return 0;
}

int
notify_subscription_remove (sq_ctx_t *ctx)
{
    char subscriber[NOTIFY_SUBSCRIBER_MAX];
    int channel = 0;
    if (sq_ctx_require_role (ctx, s_subscribers)
        || sq_arg_str (ctx->args, "subscriber", true, sizeof subscriber - 1, subscriber,
                       sizeof subscriber, &ctx->err) < 0
        || sq_arg_enum (ctx->args, "channel", true, s_channels, &channel, &ctx->err) < 0)
        return -1;
    if (strcmp (ctx->actor->role, "department") == 0 && strcmp (ctx->actor->id, subscriber))
        return sq_error_set (&ctx->err, SQ_ERR_FORBIDDEN, "subscriber", "a department may only"
                             " remove its own subscriptions");
    const char *params[] = {subscriber, s_channels[channel]};
    PGresult *res = sq_db_query (ctx->db, "DELETE FROM notify.subscription WHERE subscriber = $1"
                                 " AND channel = $2 RETURNING id", 2, params, &ctx->err);
    if (!res)
        return -1;
    int found = PQntuples (res);
    PQclear (res);
    if (!found)
        return sq_error_set (&ctx->err, SQ_ERR_NOT_FOUND, "subscriber", "%s has no %s"
                             " subscription", subscriber, s_channels[channel]);
    msgpack_pack_map (ctx->pk, 2);
    sq_pack_kv_str (ctx->pk, "subscriber", subscriber);
    sq_pack_kv_str (ctx->pk, "channel", s_channels[channel]);
    return 0;
}

// ---- templates ------------------------------------------------------------------------------

//  Reads the contract of type from the contracts folder. type is checked first, so that no
//  path can be made of it.
static int
s_contract (sq_ctx_t *ctx, const char *type, notify_contract_t *contract)
{
    const char *dot = strchr (type, '.');
    if (!dot || dot == type || !dot[1] || strchr (dot + 1, '.') || strspn (type,
        "abcdefghijklmnopqrstuvwxyz0123456789_.") != strlen (type))
        return sq_error_set (&ctx->err, SQ_ERR_INVALID, "type", "type must be <service>.<event>");
    const notify_t *self = ctx->state;
    char path[NOTIFY_PATH_MAX + SQ_TYPE_MAX + 8];
    snprintf (path, sizeof path, "%s/%s.json", self->contracts_dir, type);
    FILE *file = fopen (path, "rb");
    if (!file)
        return sq_error_set (&ctx->err, SQ_ERR_NOT_FOUND, "type", "event type %s has no contract"
                             " under %s", type, self->contracts_dir);
    char *text = malloc (NOTIFY_CONTRACT_TEXT_MAX);
    size_t len = text ? fread (text, 1, NOTIFY_CONTRACT_TEXT_MAX, file) : 0;
    fclose (file);
    int rc = text ? notify_contract_parse (text, len, contract, &ctx->err)
                  : sq_error_set (&ctx->err, SQ_ERR_INTERNAL, "", "out of memory");
    free (text);
    if (rc)
        return sq_error_set (&ctx->err, SQ_ERR_INTERNAL, "type", "contract of %s does not parse:"
                             " %s", type, ctx->err.message);
    return 0;
}

int
notify_template_put (sq_ctx_t *ctx)
{
    char type[SQ_TYPE_MAX], *subject = malloc (NOTIFY_TEMPLATE_MAX + 1),
         *body = malloc (NOTIFY_TEMPLATE_MAX + 1);
    int channel = 0, has_subject = 0, rc = -1;
    notify_contract_t contract;
    if (!subject || !body)
        sq_error_set (&ctx->err, SQ_ERR_INTERNAL, "", "out of memory");
    else if (sq_ctx_require_role (ctx, notify_admins) == 0
             && sq_arg_str (ctx->args, "type", true, sizeof type - 1, type, sizeof type,
                            &ctx->err) >= 0
             && sq_arg_enum (ctx->args, "channel", true, s_channels, &channel, &ctx->err) >= 0
             && sq_arg_str (ctx->args, "body", true, NOTIFY_TEMPLATE_MAX, body,
                            NOTIFY_TEMPLATE_MAX + 1, &ctx->err) >= 0
             && (has_subject = sq_arg_str (ctx->args, "subject", channel == NOTIFY_EMAIL,
                                           NOTIFY_TEMPLATE_MAX, subject, NOTIFY_TEMPLATE_MAX + 1,
                                           &ctx->err)) >= 0
             && s_contract (ctx, type, &contract) == 0
             && notify_template_check (body, &contract, "body", &ctx->err) == 0
             && (!has_subject || notify_template_check (subject, &contract, "subject",
                                                        &ctx->err) == 0))
        rc = 0;
    if (rc == 0 && has_subject && channel != NOTIFY_EMAIL)
        rc = sq_error_set (&ctx->err, SQ_ERR_INVALID, "subject", "only e-mail has a subject");
    char at[24];
    snprintf (at, sizeof at, "%" PRId64, sq_now_us ());
    const char *params[] = {type, s_channels[channel], has_subject ? subject : NULL, body, at};
    if (rc == 0)
        rc = sq_db_exec (ctx->db, "INSERT INTO notify.template (type, channel, subject, body,"
                         " changed_at) VALUES ($1, $2, $3, $4, $5::bigint) ON CONFLICT (type,"
                         " channel) DO UPDATE SET subject = $3, body = $4, changed_at ="
                         " $5::bigint", 5, params, &ctx->err);
    if (rc == 0) {
        msgpack_pack_map (ctx->pk, 4);
        sq_pack_kv_str (ctx->pk, "type", type);
        sq_pack_kv_str (ctx->pk, "channel", s_channels[channel]);
        sq_pack_kv_str (ctx->pk, "subject", has_subject ? subject : NULL);
        sq_pack_kv_str (ctx->pk, "body", body);
    }
    free (subject);
    free (body);
    return rc;
}

int
notify_template_list (sq_ctx_t *ctx)
{
    char type[SQ_TYPE_MAX] = "";
    if (sq_ctx_require_role (ctx, notify_admins)
        || sq_arg_str (ctx->args, "type", false, sizeof type - 1, type, sizeof type, &ctx->err) < 0)
        return -1;
    const char *params[] = {type[0] ? type : NULL};
    PGresult *res = sq_db_query (ctx->db, "SELECT type, channel, subject, body FROM"
                                 " notify.template WHERE $1::text IS NULL OR type = $1"
                                 " ORDER BY type, channel", 1, params, &ctx->err);
    if (!res)
        return -1;
    int rows = PQntuples (res);
    msgpack_pack_map (ctx->pk, 2);
    sq_pack_kv_int (ctx->pk, "count", rows);
    sq_pack_str (ctx->pk, "templates");
    msgpack_pack_array (ctx->pk, (size_t) rows);
    for (int i = 0; i < rows; i++) {
        msgpack_pack_map (ctx->pk, 4);
        sq_pack_kv_str (ctx->pk, "type", PQgetvalue (res, i, 0));
        sq_pack_kv_str (ctx->pk, "channel", PQgetvalue (res, i, 1));
        sq_pack_kv_str (ctx->pk, "subject", PQgetisnull (res, i, 2) ? NULL
                                                                    : PQgetvalue (res, i, 2));
        sq_pack_kv_str (ctx->pk, "body", PQgetvalue (res, i, 3));
    }
    PQclear (res);
    return 0;
}

int
notify_template_find (sq_ctx_t *ctx, const char *type, notify_channel_t channel, char **subject,
                      char **body)
{
    *subject = *body = NULL;
    const char *params[] = {type, notify_channel_name (channel)};
    PGresult *res = sq_db_query (ctx->db, "SELECT subject, body FROM notify.template"
                                 " WHERE type = $1 AND channel = $2", 2, params, &ctx->err);
    if (!res)
        return -1;
    notify_template_t tmpl = {0};
    int found = 1;
    if (PQntuples (res) == 1) {
        *subject = PQgetisnull (res, 0, 0) ? NULL : strdup (PQgetvalue (res, 0, 0));
        *body = strdup (PQgetvalue (res, 0, 1));
    } else if (notify_template_default (type, channel, &tmpl) == 0) {
        *subject = tmpl.subject ? strdup (tmpl.subject) : NULL;
        *body = strdup (tmpl.body);
    } else
        found = 0;
    PQclear (res);
    if (found && !*body) {
        free (*subject);
        *subject = NULL;
        return sq_error_set (&ctx->err, SQ_ERR_INTERNAL, "", "out of memory");
    }
    return found;
}
