/*  notify rules: rule.put, rule.list, rule.remove, and the effective rules (the defaults of
    route.c overlaid by stored rows by id). Defaults are not copied into the database, so a
    new version's defaults reach an existing installation; removing one stores a tombstone. */
#include "notify.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const s_audiences[] = {"role", "people", "field", "subscribers", NULL};
static const char *const s_levels[] = {"community", "street", "district", NULL};
static const char *const s_priorities[] = {"normal", "urgent", NULL};

//  Reads a list of strings of at most len_max bytes each into out (rows of row_size).
static int
s_read_strings (const msgpack_object *map, const char *field, int items_max, size_t len_max,
                char *out, size_t row_size, int *count, sq_error_t *err)
{
    const msgpack_object *list = NULL;
    *count = 0;
    int rc = sq_arg_array (map, field, false, (size_t) items_max, &list, err);
    if (rc <= 0)
        return rc;
    for (uint32_t i = 0; i < list->via.array.size; i++) {
        const msgpack_object *item = &list->via.array.ptr[i];
        if (item->type != MSGPACK_OBJECT_STR || item->via.str.size == 0
            || item->via.str.size > len_max
            || sq_obj_str_copy (item, out + (size_t) i * row_size, row_size))
            return sq_error_set (err, SQ_ERR_INVALID, field, "%s must hold non-empty strings of"
                                 " at most %zu bytes", field, len_max);
    }
    *count = (int) list->via.array.size;
    return 1;
}

//  Reads the audience's own fields: role, level and territory, people, or the id field.
static int
s_read_audience (const msgpack_object *map, notify_rule_t *rule, sq_error_t *err)
{
    int index = 0;
    if (sq_arg_str (map, "role", false, NOTIFY_ROLE_MAX - 1, rule->role, sizeof rule->role,
                    err) < 0
        || sq_arg_str (map, "territory_field", false, NOTIFY_NAME_MAX - 1, rule->territory_field,
                       sizeof rule->territory_field, err) < 0
        || sq_arg_str (map, "field", false, NOTIFY_NAME_MAX - 1, rule->recipient_field,
                       sizeof rule->recipient_field, err) < 0)
        return -1;
    int rc = sq_arg_enum (map, "level", false, s_levels, &index, err);
    if (rc < 0)
        return -1;
    rule->level = rc ? (notify_level_t) index : NOTIFY_AT_COMMUNITY;
    return s_read_strings (map, "people", NOTIFY_PEOPLE_MAX, SQ_TEXT_ID_MAX - 1,
                           &rule->people[0][0], SQ_TEXT_ID_MAX, &rule->people_count, err) < 0
               ? -1
               : 0;
}

int
notify_rule_read (const msgpack_object *map, notify_rule_t *rule, sq_error_t *err)
{
    memset (rule, 0, sizeof *rule);
    int audience = 0, priority = 0, channel_count = 0;
    char channels[NOTIFY_CHANNEL_COUNT + 1][16];
    if (sq_arg_str (map, "id", true, NOTIFY_RULE_ID_MAX - 1, rule->id, sizeof rule->id, err) < 0
        || sq_arg_str (map, "match", true, SQ_TYPE_MAX - 1, rule->match, sizeof rule->match,
                       err) < 0
        || sq_arg_str (map, "scope", false, SQ_DIV_MAX - 1, rule->scope, sizeof rule->scope,
                       err) < 0
        || sq_arg_enum (map, "audience", true, s_audiences, &audience, err) < 0
        || sq_arg_enum (map, "priority", false, s_priorities, &priority, err) < 0
        || sq_arg_str (map, "template", false, NOTIFY_RULE_ID_MAX - 1, rule->template_key,
                       sizeof rule->template_key, err) < 0
        || s_read_strings (map, "channels", NOTIFY_CHANNEL_COUNT + 1, 15, &channels[0][0],
                           sizeof channels[0], &channel_count, err) < 0)
        return -1;
    rule->audience = (notify_audience_t) audience;
    rule->priority = (notify_priority_t) priority;
    if (s_read_audience (map, rule, err))
        return -1;
    if (channel_count > NOTIFY_CHANNEL_COUNT)
        return sq_error_set (err, SQ_ERR_INVALID, "channels", "channels lists at most %d",
                             NOTIFY_CHANNEL_COUNT);
    for (int i = 0; i < channel_count; i++)
        if (notify_channel_parse (channels[i], &rule->channels[i]))
            return sq_error_set (err, SQ_ERR_INVALID, "channels", "channel %s is not one of"
                                 " inbox, sms, email, webhook", channels[i]);
    rule->channel_count = channel_count;
    return notify_rule_check (rule, err);
}

void
notify_rule_pack (msgpack_packer *pk, const notify_rule_t *rule)
{
    msgpack_pack_map (pk, 12);
    sq_pack_kv_str (pk, "id", rule->id);
    sq_pack_kv_str (pk, "match", rule->match);
    sq_pack_kv_str (pk, "scope", rule->scope);
    sq_pack_kv_str (pk, "audience", notify_audience_name (rule->audience));
    sq_pack_kv_str (pk, "role", rule->role);
    sq_pack_kv_str (pk, "level", notify_level_name (rule->level));
    sq_pack_kv_str (pk, "territory_field", rule->territory_field);
    sq_pack_kv_str (pk, "field", rule->recipient_field);
    sq_pack_str (pk, "people");
    msgpack_pack_array (pk, (size_t) rule->people_count);
    for (int i = 0; i < rule->people_count; i++)
        sq_pack_str (pk, rule->people[i]);
    sq_pack_str (pk, "channels");
    msgpack_pack_array (pk, (size_t) rule->channel_count);
    for (int i = 0; i < rule->channel_count; i++)
        sq_pack_str (pk, notify_channel_name (rule->channels[i]));
    sq_pack_kv_str (pk, "template", rule->template_key);
    sq_pack_kv_str (pk, "priority", notify_priority_name (rule->priority));
}

//  Puts rule over the one of the same id in rules, or appends it. Returns the new count.
static int
s_overlay (notify_rule_t *rules, int count, const notify_rule_t *rule, bool removed)
{
    int at = 0;
    while (at < count && strcmp (rules[at].id, rule->id))
        at++;
    if (removed) {
        if (at < count)
            memmove (&rules[at], &rules[at + 1], (size_t) (count - at - 1) * sizeof *rules);
        return at < count ? count - 1 : count;
    }
    rules[at] = *rule;
    return at == count ? count + 1 : count;
}

int
notify_rules_load (sq_ctx_t *ctx, notify_rule_t **rules)
{
    int default_count = 0;
    const notify_rule_t *defaults = notify_rules_default (&default_count);
    PGresult *res = sq_db_query (ctx->db, "SELECT id, spec, removed FROM notify.rule ORDER BY id",
                                 0, NULL, &ctx->err);
    if (!res)
        return -1;
    int rows = PQntuples (res);
    *rules = calloc ((size_t) (default_count + rows + 1), sizeof **rules);
    if (!*rules) {
        PQclear (res);
        return sq_error_set (&ctx->err, SQ_ERR_INTERNAL, "", "out of memory");
    }
    memcpy (*rules, defaults, (size_t) default_count * sizeof **rules);
    int count = default_count;
    for (int i = 0; i < rows; i++) {
        notify_rule_t rule = {0};
        snprintf (rule.id, sizeof rule.id, "%s", PQgetvalue (res, i, 0));
        bool removed = PQgetvalue (res, i, 2)[0] == 't';
        size_t size = 0;
        unsigned char *spec = PQunescapeBytea ((unsigned char *) PQgetvalue (res, i, 1), &size);
        char why[128];
        sq_doc_t *doc = spec ? sq_doc_new (spec, size, why, sizeof why) : NULL;
        sq_error_t err = {0};
        //  A stored rule was checked when put; one that no longer reads is skipped, loudly.
        if (removed || (doc && notify_rule_read (sq_doc_root (doc), &rule, &err) == 0))
            count = s_overlay (*rules, count, &rule, removed);
        else
            sq_log_warn ("stored rule skipped", "rule=%s error=\"%s\"", rule.id, err.message);
        sq_doc_destroy (&doc);
        PQfreemem (spec);
    }
    PQclear (res);
    return count;
}

int
notify_rule_put (sq_ctx_t *ctx)
{
    notify_rule_t rule;
    if (sq_ctx_require_role (ctx, notify_admins) || notify_rule_read (ctx->args, &rule, &ctx->err))
        return -1;
    if (rule.scope[0] && sq_ctx_require_scope (ctx, rule.scope, "scope"))
        return -1;
    if (!rule.scope[0] && ctx->actor->scope[0])
        return sq_error_set (&ctx->err, SQ_ERR_FORBIDDEN, "scope", "a rule without scope covers"
                             " the whole platform, beyond the actor's scope %s", ctx->actor->scope);
    msgpack_sbuffer spec;
    msgpack_sbuffer_init (&spec);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &spec, msgpack_sbuffer_write);
    notify_rule_pack (&pk, &rule);
    char at[24];
    snprintf (at, sizeof at, "%" PRId64, sq_now_us ());
    const char *params[] = {rule.id, spec.data, at, ctx->actor->id};
    int lengths[] = {0, (int) spec.size, 0, 0}, formats[] = {0, 1, 0, 0};
    PGresult *res = sq_db_query_bin (ctx->db, "INSERT INTO notify.rule (id, spec, removed,"
                                     " changed_at, changed_by) VALUES ($1, $2, false, $3::bigint,"
                                     " $4) ON CONFLICT (id) DO UPDATE SET spec = $2,"
                                     " removed = false, changed_at = $3::bigint, changed_by = $4",
                                     4, params, lengths, formats, &ctx->err);
    msgpack_sbuffer_destroy (&spec);
    if (!res)
        return -1;
    PQclear (res);
    notify_rule_pack (ctx->pk, &rule);
    return 0;
}

int
notify_rule_list (sq_ctx_t *ctx)
{
    if (sq_ctx_require_role (ctx, notify_admins))
        return -1;
    notify_rule_t *rules = NULL;
    int count = notify_rules_load (ctx, &rules);
    if (count < 0)
        return -1;
    msgpack_pack_map (ctx->pk, 2);
    sq_pack_kv_int (ctx->pk, "count", count);
    sq_pack_str (ctx->pk, "rules");
    msgpack_pack_array (ctx->pk, (size_t) count);
    for (int i = 0; i < count; i++)
        notify_rule_pack (ctx->pk, &rules[i]);
    free (rules);
    return 0;
}

int
notify_rule_remove (sq_ctx_t *ctx)
{
    char id[NOTIFY_RULE_ID_MAX];
    if (sq_ctx_require_role (ctx, notify_admins)
        || sq_arg_str (ctx->args, "id", true, sizeof id - 1, id, sizeof id, &ctx->err) < 0)
        return -1;
    notify_rule_t *rules = NULL;
    int count = notify_rules_load (ctx, &rules);
    if (count < 0)
        return -1;
    int found = -1;
    for (int i = 0; i < count && found < 0; i++)
        if (strcmp (rules[i].id, id) == 0)
            found = i;
    bool outside = found >= 0 && ctx->actor->scope[0]
                   && !(rules[found].scope[0] && sq_ctx_in_scope (ctx, rules[found].scope));
    free (rules);
    if (found < 0)
        return sq_error_set (&ctx->err, SQ_ERR_NOT_FOUND, "id", "rule %s does not exist", id);
    if (outside)
        return sq_error_set (&ctx->err, SQ_ERR_FORBIDDEN, "id", "rule %s reaches beyond the"
                             " actor's scope", id);
    char at[24];
    snprintf (at, sizeof at, "%" PRId64, sq_now_us ());
    //  A tombstone, so that a default rule stays removed.
    const char *params[] = {id, at, ctx->actor->id};
    if (sq_db_exec (ctx->db, "INSERT INTO notify.rule (id, spec, removed, changed_at, changed_by)"
                    " VALUES ($1, '\\x80'::bytea, true, $2::bigint, $3) ON CONFLICT (id) DO"
                    " UPDATE SET removed = true, changed_at = $2::bigint, changed_by = $3", 3,
                    params, &ctx->err))
        return -1;
    msgpack_pack_map (ctx->pk, 2);
    sq_pack_kv_str (ctx->pk, "id", id);
    sq_pack_kv_bool (ctx->pk, "removed", true);
    return 0;
}
