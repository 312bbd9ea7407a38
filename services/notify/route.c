/*  route: who hears of an event, on which channels, with which template (pure). */
#include "route.h"

#include <stdlib.h>
#include <string.h>

static const char *const s_priorities[] = {"normal", "urgent"};
static const char *const s_audiences[NOTIFY_AUDIENCE_COUNT] = {"role", "people", "field",
                                                               "subscribers"};
static const char *const s_levels[NOTIFY_LEVEL_COUNT] = {"community", "street", "district"};
static const int s_level_digits[NOTIFY_LEVEL_COUNT] = {
    NOTIFY_COMMUNITY_DIGITS, NOTIFY_STREET_DIGITS, NOTIFY_DISTRICT_DIGITS};

//  The roles of DESIGN.md whose holders are people at a place in the territory.
static const char *const s_roles[] = {"resident", "grid_worker", "community_staff", "mediator",
                                      "street_official", "district_official", "city_official",
                                      "community_office", "department", "auditor", "operator",
                                      NULL};

//  Shorthands for the defaults table only.
#define S_ROLE(role_, level_) .audience = NOTIFY_TO_ROLE, .role = role_, .level = level_
#define S_CHANNELS1(a) .channels = {a}, .channel_count = 1
#define S_CHANNELS2(a, b) .channels = {a, b}, .channel_count = 2

//  The default rules of issue 6. Escalation tells the street and the district alike: the
//  rule cannot see the level reached, and a district would rather hear twice than never.
static const notify_rule_t s_defaults[] = {
    {.id = "disputes.case_filed.staff", .match = "disputes.case_filed",
     S_ROLE ("community_staff", NOTIFY_AT_COMMUNITY), S_CHANNELS1 (NOTIFY_INBOX)},
    {.id = "disputes.case_overdue.staff", .match = "disputes.case_overdue",
     S_ROLE ("community_staff", NOTIFY_AT_COMMUNITY), S_CHANNELS2 (NOTIFY_INBOX, NOTIFY_SMS)},
    {.id = "disputes.case_overdue.street", .match = "disputes.case_overdue",
     S_ROLE ("street_official", NOTIFY_AT_STREET), S_CHANNELS1 (NOTIFY_INBOX)},
    {.id = "disputes.case_escalated.street", .match = "disputes.case_escalated",
     S_ROLE ("street_official", NOTIFY_AT_STREET), S_CHANNELS1 (NOTIFY_INBOX)},
    {.id = "disputes.case_escalated.district", .match = "disputes.case_escalated",
     S_ROLE ("district_official", NOTIFY_AT_DISTRICT), S_CHANNELS1 (NOTIFY_INBOX)},
    {.id = "disputes.major_case_filed.district", .match = "disputes.major_case_filed",
     S_ROLE ("district_official", NOTIFY_AT_DISTRICT), S_CHANNELS2 (NOTIFY_INBOX, NOTIFY_SMS),
     .priority = NOTIFY_URGENT},
    {.id = "disputes.major_case_filed.street", .match = "disputes.major_case_filed",
     S_ROLE ("street_official", NOTIFY_AT_STREET), .territory_field = "community",
     S_CHANNELS2 (NOTIFY_INBOX, NOTIFY_SMS), .priority = NOTIFY_URGENT},
    {.id = "admission.approved.staff", .match = "admission.approved",
     S_ROLE ("community_staff", NOTIFY_AT_COMMUNITY), .territory_field = "targets.community",
     S_CHANNELS1 (NOTIFY_INBOX)},
    {.id = "admission.approved.department", .match = "admission.approved",
     .audience = NOTIFY_TO_FIELD, .recipient_field = "department", S_CHANNELS1 (NOTIFY_INBOX)},
    {.id = "admission.rejected.department", .match = "admission.rejected",
     .audience = NOTIFY_TO_FIELD, .recipient_field = "department", S_CHANNELS1 (NOTIFY_INBOX)},
    {.id = "admission.agreement_signed.staff", .match = "admission.agreement_signed",
     S_ROLE ("community_staff", NOTIFY_AT_COMMUNITY), S_CHANNELS1 (NOTIFY_INBOX)},
    {.id = "subscriptions", .match = "", .audience = NOTIFY_TO_SUBSCRIBERS},
};
#define S_DEFAULT_COUNT ((int) (sizeof s_defaults / sizeof s_defaults[0]))
#undef S_ROLE
#undef S_CHANNELS1
#undef S_CHANNELS2

static int
s_parse (const char *const *names, int count, const char *name)
{
    for (int i = 0; i < count; i++)
        if (strcmp (names[i], name) == 0)
            return i;
    return -1;
}

const char *
notify_priority_name (notify_priority_t priority)
{
    return priority >= NOTIFY_NORMAL && priority <= NOTIFY_URGENT ? s_priorities[priority] : NULL;
}

int
notify_priority_parse (const char *name, notify_priority_t *priority)
{
    int i = s_parse (s_priorities, NOTIFY_URGENT + 1, name);
    if (i >= 0) *priority = (notify_priority_t) i;
    return i >= 0 ? 0 : -1;
}

const char *
notify_audience_name (notify_audience_t audience)
{
    return audience >= 0 && audience < NOTIFY_AUDIENCE_COUNT ? s_audiences[audience] : NULL;
}

int
notify_audience_parse (const char *name, notify_audience_t *audience)
{
    int i = s_parse (s_audiences, NOTIFY_AUDIENCE_COUNT, name);
    if (i >= 0) *audience = (notify_audience_t) i;
    return i >= 0 ? 0 : -1;
}

const char *
notify_level_name (notify_level_t level)
{
    return level >= 0 && level < NOTIFY_LEVEL_COUNT ? s_levels[level] : NULL;
}

int
notify_level_parse (const char *name, notify_level_t *level)
{
    int i = s_parse (s_levels, NOTIFY_LEVEL_COUNT, name);
    if (i >= 0) *level = (notify_level_t) i;
    return i >= 0 ? 0 : -1;
}

// ---- checking a rule ------------------------------------------------------------------

//  True when s is a terminated string of size at most size - 1 made of allowed characters
//  (lower-case letters, digits, '_', and those of extra), not empty unless empty_ok.
static bool
s_word (const char *s, size_t size, const char *extra, bool empty_ok)
{
    size_t len = strnlen (s, size);
    if (len == size || (len == 0 && !empty_ok))
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || strchr (extra, c)))
            return false;
    }
    return true;
}

static bool
s_division_code (const char *s)
{
    size_t len = strnlen (s, SQ_DIV_MAX);
    if (len != 2 && len != 4 && len != NOTIFY_DISTRICT_DIGITS && len != NOTIFY_STREET_DIGITS
        && len != NOTIFY_COMMUNITY_DIGITS)
        return false;
    for (size_t i = 0; i < len; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

//  Checks what the audience needs: role and level, people, or a field.
static int
s_check_audience (const notify_rule_t *rule, sq_error_t *err)
{
    switch (rule->audience) {
    case NOTIFY_TO_ROLE:
        if (strnlen (rule->role, NOTIFY_ROLE_MAX) == NOTIFY_ROLE_MAX
            || s_parse (s_roles, (int) (sizeof s_roles / sizeof s_roles[0]) - 1, rule->role) < 0)
            return sq_error_set (err, SQ_ERR_INVALID, "role", "rule's role is not a known role");
        if (!notify_level_name (rule->level))
            return sq_error_set (err, SQ_ERR_INVALID, "level", "rule's level is not known");
        if (!s_word (rule->territory_field, NOTIFY_NAME_MAX, ".", true)
            || rule->territory_field[0] == '.' || strchr (rule->territory_field, '.')
                   != strrchr (rule->territory_field, '.'))
            return sq_error_set (err, SQ_ERR_INVALID, "territory_field",
                                 "territory_field is not a field or list.field");
        return 0;
    case NOTIFY_TO_PEOPLE:
        if (rule->people_count < 1 || rule->people_count > NOTIFY_PEOPLE_MAX)
            return sq_error_set (err, SQ_ERR_INVALID, "people", "rule names 1 to %d people",
                                 NOTIFY_PEOPLE_MAX);
        for (int i = 0; i < rule->people_count; i++) {
            size_t len = strnlen (rule->people[i], SQ_TEXT_ID_MAX);
            if (len == 0 || len == SQ_TEXT_ID_MAX)
                return sq_error_set (err, SQ_ERR_INVALID, "people", "person %d has no id", i);
        }
        return 0;
    case NOTIFY_TO_FIELD:
        if (!s_word (rule->recipient_field, NOTIFY_NAME_MAX, "", false))
            return sq_error_set (err, SQ_ERR_INVALID, "recipient_field",
                                 "recipient_field is not a field name");
        return 0;
    case NOTIFY_TO_SUBSCRIBERS:
        return 0;
    default:
        return sq_error_set (err, SQ_ERR_INVALID, "audience", "rule's audience is not known");
    }
}

static int
s_check_channels (const notify_rule_t *rule, sq_error_t *err)
{
    int min = rule->audience == NOTIFY_TO_SUBSCRIBERS ? 0 : 1;
    int max = rule->audience == NOTIFY_TO_SUBSCRIBERS ? 0 : NOTIFY_CHANNEL_COUNT;
    if (max == 0 && rule->channel_count != 0)
        return sq_error_set (err, SQ_ERR_INVALID, "channels",
                             "a subscribers rule lists no channels: each subscription has one");
    if (rule->channel_count < min || rule->channel_count > max)
        return sq_error_set (err, SQ_ERR_INVALID, "channels", "rule lists 1 to %d channels", max);
    for (int i = 0; i < rule->channel_count; i++) {
        if (!notify_channel_name (rule->channels[i]))
            return sq_error_set (err, SQ_ERR_INVALID, "channels", "channel %d is not known", i);
        for (int k = 0; k < i; k++)
            if (rule->channels[k] == rule->channels[i])
                return sq_error_set (err, SQ_ERR_INVALID, "channels",
                                     "channel %s is listed twice",
                                     notify_channel_name (rule->channels[i]));
    }
    return 0;
}

int
notify_rule_check (const notify_rule_t *rule, sq_error_t *err)
{
    if (!s_word (rule->id, NOTIFY_RULE_ID_MAX, ".-", false))
        return sq_error_set (err, SQ_ERR_INVALID, "id",
                             "rule id is not 1 to %d of a-z, 0-9, '_', '.', '-'",
                             NOTIFY_RULE_ID_MAX - 1);
    if (!s_word (rule->match, SQ_TYPE_MAX, ".", true) || rule->match[0] == '.'
        || strstr (rule->match, ".."))
        return sq_error_set (err, SQ_ERR_INVALID, "match",
                             "match is not an event type or a prefix ending in '.'");
    if (rule->scope[0] && !s_division_code (rule->scope))
        return sq_error_set (err, SQ_ERR_INVALID, "scope", "scope is not a division code");
    if (!notify_priority_name (rule->priority))
        return sq_error_set (err, SQ_ERR_INVALID, "priority", "priority is not known");
    if (!s_word (rule->template_key, NOTIFY_RULE_ID_MAX, ".-", true))
        return sq_error_set (err, SQ_ERR_INVALID, "template", "template is not a template key");
    if (s_check_audience (rule, err))
        return -1;
    return s_check_channels (rule, err);
}

// ---- matching -------------------------------------------------------------------------

bool
notify_rule_matches (const notify_rule_t *rule, const char *type, const char *div)
{
    size_t match_len = strlen (rule->match);
    bool prefix = match_len == 0 || rule->match[match_len - 1] == '.';
    if (prefix ? strncmp (type, rule->match, match_len) != 0 : strcmp (type, rule->match) != 0)
        return false;
    return strncmp (div, rule->scope, strlen (rule->scope)) == 0;
}

int
notify_level_code (notify_level_t level, const char *div, char out[SQ_DIV_MAX])
{
    out[0] = 0;
    if (!notify_level_name (level))
        return -1;
    int digits = s_level_digits[level];
    for (int i = 0; i < digits; i++)
        if (div[i] < '0' || div[i] > '9') //  stops at the terminator of a shorter div
            return -1;
    memcpy (out, div, (size_t) digits);
    out[digits] = 0;
    return 0;
}

//  Exact types before prefixes, longer prefixes, narrower scopes, then the id; the rule's
//  place in the caller's array breaks a tie between equal ids.
static int
s_match_order (const void *a, const void *b)
{
    const notify_rule_t *x = ((const notify_match_t *) a)->rule;
    const notify_rule_t *y = ((const notify_match_t *) b)->rule;
    size_t x_len = strlen (x->match), y_len = strlen (y->match);
    bool x_exact = x_len && x->match[x_len - 1] != '.';
    bool y_exact = y_len && y->match[y_len - 1] != '.';
    if (x_exact != y_exact)
        return x_exact ? -1 : 1;
    if (x_len != y_len)
        return x_len > y_len ? -1 : 1;
    size_t x_scope = strlen (x->scope), y_scope = strlen (y->scope);
    if (x_scope != y_scope)
        return x_scope > y_scope ? -1 : 1;
    int by_id = strcmp (x->id, y->id);
    if (by_id)
        return by_id;
    return x < y ? -1 : x > y;
}

int
notify_route_match (const notify_rule_t *rules, int rule_count, const char *type,
                    const char *div, notify_match_t *out, int out_max)
{
    int count = 0;
    for (int i = 0; i < rule_count; i++) {
        const notify_rule_t *rule = &rules[i];
        if (!notify_rule_matches (rule, type, div))
            continue;
        char lookup[SQ_DIV_MAX] = "";
        bool by_div = rule->audience == NOTIFY_TO_ROLE && !rule->territory_field[0];
        if (by_div && notify_level_code (rule->level, div, lookup))
            continue; //  NB: the div is coarser than the level: no one to look up there
        if (count == out_max)
            return -1;
        out[count].rule = rule;
        memcpy (out[count].lookup_div, lookup, sizeof lookup);
        count++;
    }
    qsort (out, (size_t) count, sizeof *out, s_match_order);
    return count;
}

//  Adds the level's code of a division to out unless it is there; -1 when out is full.
static int
s_add_territory (const notify_rule_t *rule, const msgpack_object *value,
                 char (*out)[SQ_DIV_MAX], int *count, int out_max)
{
    char div[SQ_DIV_MAX], code[SQ_DIV_MAX];
    if (sq_obj_str_copy (value, div, sizeof div) || notify_level_code (rule->level, div, code))
        return 0; //  not a division, or too coarse: nobody there
    for (int i = 0; i < *count; i++)
        if (strcmp (out[i], code) == 0)
            return 0;
    if (*count == out_max)
        return -1;
    memcpy (out[(*count)++], code, sizeof code);
    return 0;
}

int
notify_rule_territories (const notify_rule_t *rule, const sq_envelope_t *env,
                         char (*out)[SQ_DIV_MAX], int out_max)
{
    if (rule->audience != NOTIFY_TO_ROLE)
        return 0;
    int count = 0;
    if (!rule->territory_field[0]) {
        msgpack_object div = {.type = MSGPACK_OBJECT_STR,
                              .via.str = {.size = (uint32_t) strlen (env->div), .ptr = env->div}};
        return s_add_territory (rule, &div, out, &count, out_max) ? -1 : count;
    }
    char list[NOTIFY_NAME_MAX];
    const char *dot = strchr (rule->territory_field, '.');
    if (!dot) {
        const msgpack_object *value = sq_obj_get (env->data, rule->territory_field);
        if (value && s_add_territory (rule, value, out, &count, out_max))
            return -1;
        return count;
    }
    size_t list_len = (size_t) (dot - rule->territory_field);
    memcpy (list, rule->territory_field, list_len);
    list[list_len] = 0;
    const msgpack_object *items = sq_obj_get (env->data, list);
    if (!items || items->type != MSGPACK_OBJECT_ARRAY)
        return 0;
    for (uint32_t i = 0; i < items->via.array.size; i++) {
        const msgpack_object *value = sq_obj_get (&items->via.array.ptr[i], dot + 1);
        if (value && s_add_territory (rule, value, out, &count, out_max))
            return -1;
    }
    return count;
}

// ---- subscriptions --------------------------------------------------------------------

bool
notify_topic_matches (const char *prefix, const char *type, const char *div)
{
    size_t len = strlen (prefix), type_len = strlen (type);
    if (len <= type_len) {
        if (strncmp (type, prefix, len) != 0)
            return false;
        return len == 0 || len == type_len || prefix[len - 1] == '.' || type[len] == '.';
    }
    //  Past the type: the dot, then any prefix of the division code.
    return div[0] && strncmp (type, prefix, type_len) == 0 && prefix[type_len] == '.'
           && strncmp (div, prefix + type_len + 1, len - type_len - 1) == 0;
}

bool
notify_subscription_matches (const notify_subscription_t *subscription, const char *type,
                             const char *div)
{
    int count = subscription->topic_count;
    if (count > NOTIFY_TOPICS_MAX)
        count = NOTIFY_TOPICS_MAX;
    for (int i = 0; i < count; i++)
        if (notify_topic_matches (subscription->topics[i], type, div))
            return true;
    return false;
}

const notify_rule_t *
notify_rules_default (int *count)
{
    *count = S_DEFAULT_COUNT;
    return s_defaults;
}
