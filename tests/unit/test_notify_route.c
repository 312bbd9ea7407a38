/*  test_notify_route: routing rules as data, their check, the matcher's order and the
    territories to look recipients up at, subscription topics, the default rules (issue 6).
    Also shows how to call them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "notify/route.h"

#include "sq_json.h"

#include <stdio.h>
#include <string.h>

#define MATCHES_MAX 16 //  room for the matches of one event in these tests

//  A staff rule for tests.
static notify_rule_t
s_staff (const char *id, const char *match, const char *scope, const char *role,
         notify_level_t level)
{
    notify_rule_t rule = {.audience = NOTIFY_TO_ROLE, .level = level,
                          .channels = {NOTIFY_INBOX}, .channel_count = 1};
    snprintf (rule.id, sizeof rule.id, "%s", id);
    snprintf (rule.match, sizeof rule.match, "%s", match);
    snprintf (rule.scope, sizeof rule.scope, "%s", scope);
    snprintf (rule.role, sizeof rule.role, "%s", role);
    return rule;
}

static void
test_check (void **state)
{
    sq_error_t err = {0};
    notify_rule_t rule = s_staff ("r1", "disputes.case_filed", "131003", "community_staff",
                                  NOTIFY_AT_COMMUNITY);
    assert_int_equal (notify_rule_check (&rule, &err), 0);

    notify_rule_t bad = rule;
    snprintf (bad.role, sizeof bad.role, "mayor");
    assert_int_equal (notify_rule_check (&bad, &err), -1);
    assert_string_equal (err.code, SQ_ERR_INVALID);
    assert_string_equal (err.field, "role");
    bad = rule;
    snprintf (bad.scope, sizeof bad.scope, "13100");
    assert_int_equal (notify_rule_check (&bad, &err), -1);
    assert_string_equal (err.field, "scope");
    bad = rule;
    snprintf (bad.match, sizeof bad.match, "disputes..x");
    assert_int_equal (notify_rule_check (&bad, &err), -1);
    assert_string_equal (err.field, "match");
    bad = rule;
    snprintf (bad.id, sizeof bad.id, "has space");
    assert_int_equal (notify_rule_check (&bad, &err), -1);
    assert_string_equal (err.field, "id");
    bad = rule;
    bad.channels[1] = NOTIFY_INBOX;
    bad.channel_count = 2;
    assert_int_equal (notify_rule_check (&bad, &err), -1);
    assert_string_equal (err.message, "channel inbox is listed twice");
    bad.channel_count = 0;
    assert_int_equal (notify_rule_check (&bad, &err), -1);
    assert_string_equal (err.field, "channels");
    bad = rule;
    snprintf (bad.territory_field, sizeof bad.territory_field, "a.b.c");
    assert_int_equal (notify_rule_check (&bad, &err), -1);
    assert_string_equal (err.field, "territory_field");
    bad = rule;
    bad.audience = NOTIFY_TO_PEOPLE;
    assert_int_equal (notify_rule_check (&bad, &err), -1);
    assert_string_equal (err.field, "people");
    snprintf (bad.people[0], sizeof bad.people[0], "staff-7");
    bad.people_count = 1;
    assert_int_equal (notify_rule_check (&bad, &err), 0);
    bad.audience = NOTIFY_TO_SUBSCRIBERS; //  has a channel, but subscriptions name their own
    assert_int_equal (notify_rule_check (&bad, &err), -1);
    assert_string_equal (err.field, "channels");
    bad.audience = NOTIFY_AUDIENCE_COUNT;
    assert_int_equal (notify_rule_check (&bad, &err), -1);
    assert_string_equal (err.field, "audience");

    int count = 0;
    const notify_rule_t *defaults = notify_rules_default (&count);
    assert_true (count >= 11);
    for (int i = 0; i < count; i++)
        if (notify_rule_check (&defaults[i], &err))
            fail_msg ("%s: %s", defaults[i].id, err.message);
}

static void
test_rule_matches (void **state)
{
    notify_rule_t exact = s_staff ("a", "disputes.case_filed", "", "mediator", NOTIFY_AT_COMMUNITY);
    assert_true (notify_rule_matches (&exact, "disputes.case_filed", "131003001002"));
    assert_false (notify_rule_matches (&exact, "disputes.case_filed_again", "131003001002"));
    assert_false (notify_rule_matches (&exact, "disputes.case_file", "131003001002"));
    notify_rule_t prefix = s_staff ("b", "disputes.", "131003", "mediator", NOTIFY_AT_COMMUNITY);
    assert_true (notify_rule_matches (&prefix, "disputes.case_closed", "131003001002"));
    assert_true (notify_rule_matches (&prefix, "disputes.major_case_filed", "131003"));
    assert_false (notify_rule_matches (&prefix, "disputes.case_closed", "131004001002"));
    assert_false (notify_rule_matches (&prefix, "disputesx.case_closed", "131003001002"));
    assert_false (notify_rule_matches (&prefix, "disputes.case_closed", "13"));
    assert_false (notify_rule_matches (&prefix, "disputes.case_closed", ""));
    notify_rule_t all = s_staff ("c", "", "", "mediator", NOTIFY_AT_COMMUNITY);
    assert_true (notify_rule_matches (&all, "registry.divisions_imported", ""));
}

static void
test_level_code (void **state)
{
    char code[SQ_DIV_MAX];
    assert_int_equal (notify_level_code (NOTIFY_AT_COMMUNITY, "131003001002", code), 0);
    assert_string_equal (code, "131003001002");
    assert_int_equal (notify_level_code (NOTIFY_AT_STREET, "131003001002", code), 0);
    assert_string_equal (code, "131003001");
    assert_int_equal (notify_level_code (NOTIFY_AT_DISTRICT, "131003001002", code), 0);
    assert_string_equal (code, "131003");
    assert_int_equal (notify_level_code (NOTIFY_AT_DISTRICT, "131003", code), 0);
    assert_int_equal (notify_level_code (NOTIFY_AT_STREET, "131003", code), -1);
    assert_string_equal (code, "");
    assert_int_equal (notify_level_code (NOTIFY_AT_DISTRICT, "", code), -1);
    assert_int_equal (notify_level_code (NOTIFY_AT_DISTRICT, "13x003", code), -1);
}

static void
test_match_order_and_lookup (void **state)
{
    notify_rule_t rules[] = {
        s_staff ("z.all", "", "", "operator", NOTIFY_AT_DISTRICT),
        s_staff ("y.prefix", "disputes.", "", "district_official", NOTIFY_AT_DISTRICT),
        s_staff ("x.exact.wide", "disputes.case_filed", "", "street_official", NOTIFY_AT_STREET),
        s_staff ("b.exact.narrow", "disputes.case_filed", "131003", "community_staff",
                 NOTIFY_AT_COMMUNITY),
        s_staff ("a.exact.wide", "disputes.case_filed", "", "mediator", NOTIFY_AT_COMMUNITY),
        s_staff ("other.type", "admission.approved", "", "community_staff", NOTIFY_AT_COMMUNITY),
        s_staff ("other.scope", "disputes.case_filed", "131004", "community_staff",
                 NOTIFY_AT_COMMUNITY),
    };
    int count = (int) (sizeof rules / sizeof rules[0]);
    const char *expected[] = {"b.exact.narrow", "a.exact.wide", "x.exact.wide", "y.prefix",
                              "z.all"};
    const char *lookup[] = {"131003001002", "131003001002", "131003001", "131003", "131003"};
    //  Any order of the rules gives the same matches: try every rotation, and reversed.
    for (int shift = 0; shift < 2 * count; shift++) {
        notify_rule_t shuffled[sizeof rules / sizeof rules[0]];
        for (int i = 0; i < count; i++) {
            int from = shift < count ? (i + shift) % count : count - 1 - (i + shift) % count;
            shuffled[i] = rules[from];
        }
        notify_match_t matches[MATCHES_MAX];
        int found = notify_route_match (shuffled, count, "disputes.case_filed", "131003001002",
                                        matches, MATCHES_MAX);
        assert_int_equal (found, 5);
        for (int i = 0; i < found; i++) {
            assert_string_equal (matches[i].rule->id, expected[i]);
            assert_string_equal (matches[i].lookup_div, lookup[i]);
        }
    }
    //  A district event cannot name a community's or a street's staff: those rules are left out.
    notify_match_t matches[MATCHES_MAX];
    int found = notify_route_match (rules, count, "disputes.major_case_filed", "131003", matches,
                                    MATCHES_MAX);
    assert_int_equal (found, 2);
    assert_string_equal (matches[0].rule->id, "y.prefix");
    assert_string_equal (matches[1].rule->id, "z.all");
    //  More matches than room is an error, not a silent cut.
    assert_int_equal (notify_route_match (rules, count, "disputes.case_filed", "131003001002",
                                          matches, 4), -1);
    assert_int_equal (notify_route_match (rules, count, "ledger.posted", "131003001002", matches,
                                          MATCHES_MAX), 1);
}

//  An envelope of type and div whose data is made from JSON; the caller frees buf and doc.
static void
s_envelope (sq_envelope_t *env, msgpack_sbuffer *buf, sq_doc_t **doc, const char *type,
            const char *div, const char *json)
{
    msgpack_sbuffer_init (buf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, buf, msgpack_sbuffer_write);
    char why[SQ_ERROR_MESSAGE_MAX] = "";
    if (sq_json_to_msgpack (json, strlen (json), &pk, why, sizeof why)) fail_msg ("%s", why);
    *doc = sq_doc_new (buf->data, buf->size, why, sizeof why);
    assert_non_null (*doc);
    *env = (sq_envelope_t) {.data = sq_doc_root (*doc)};
    snprintf (env->type, sizeof env->type, "%s", type);
    snprintf (env->div, sizeof env->div, "%s", div);
}

static void
test_territories_from_data (void **state)
{
    msgpack_sbuffer buf;
    sq_doc_t *doc = NULL;
    sq_envelope_t env;
    s_envelope (&env, &buf, &doc, "admission.approved", "131003",
                "{\"targets\": [{\"community\": \"131003001002\"},"
                " {\"community\": \"131003001002\"}, {\"community\": \"131003002001\"},"
                " {\"community\": 7}, {\"funds\": 1}, {\"community\": \"1310\"}],"
                " \"community\": \"131003001009\"}");
    char out[NOTIFY_TERRITORIES_MAX][SQ_DIV_MAX];
    notify_rule_t rule = s_staff ("t", "admission.approved", "", "community_staff",
                                  NOTIFY_AT_COMMUNITY);
    snprintf (rule.territory_field, sizeof rule.territory_field, "targets.community");
    //  Deduplicated, in order; values that are not division codes, or too coarse, skipped.
    assert_int_equal (notify_rule_territories (&rule, &env, out, NOTIFY_TERRITORIES_MAX), 2);
    assert_string_equal (out[0], "131003001002");
    assert_string_equal (out[1], "131003002001");
    assert_int_equal (notify_rule_territories (&rule, &env, out, 1), -1);
    rule.level = NOTIFY_AT_STREET; //  both communities lie in different streets
    assert_int_equal (notify_rule_territories (&rule, &env, out, NOTIFY_TERRITORIES_MAX), 2);
    assert_string_equal (out[1], "131003002");
    rule.level = NOTIFY_AT_DISTRICT;
    assert_int_equal (notify_rule_territories (&rule, &env, out, NOTIFY_TERRITORIES_MAX), 1);
    assert_string_equal (out[0], "131003");
    snprintf (rule.territory_field, sizeof rule.territory_field, "community");
    rule.level = NOTIFY_AT_STREET;
    assert_int_equal (notify_rule_territories (&rule, &env, out, NOTIFY_TERRITORIES_MAX), 1);
    assert_string_equal (out[0], "131003001");
    snprintf (rule.territory_field, sizeof rule.territory_field, "absent");
    assert_int_equal (notify_rule_territories (&rule, &env, out, NOTIFY_TERRITORIES_MAX), 0);
    rule.territory_field[0] = 0; //  the div: a district cannot give a street
    assert_int_equal (notify_rule_territories (&rule, &env, out, NOTIFY_TERRITORIES_MAX), 0);
    rule.level = NOTIFY_AT_DISTRICT;
    assert_int_equal (notify_rule_territories (&rule, &env, out, NOTIFY_TERRITORIES_MAX), 1);
    assert_string_equal (out[0], "131003");
    rule.audience = NOTIFY_TO_FIELD;
    assert_int_equal (notify_rule_territories (&rule, &env, out, NOTIFY_TERRITORIES_MAX), 0);
    sq_doc_destroy (&doc);
    msgpack_sbuffer_destroy (&buf);
}

static void
test_topics (void **state)
{
    const char *type = "disputes.case_filed", *div = "131003001002";
    assert_true (notify_topic_matches ("", type, div));
    assert_true (notify_topic_matches ("disputes", type, div));
    assert_true (notify_topic_matches ("disputes.", type, div));
    assert_true (notify_topic_matches ("disputes.case_filed", type, div));
    assert_true (notify_topic_matches ("disputes.case_filed.", type, div));
    assert_true (notify_topic_matches ("disputes.case_filed.13", type, div));
    assert_true (notify_topic_matches ("disputes.case_filed.131003", type, div));
    assert_true (notify_topic_matches ("disputes.case_filed.131003001002", type, div));
    //  Not at a word's end, another territory, longer than the topic, another type.
    assert_false (notify_topic_matches ("disputes.case", type, div));
    assert_false (notify_topic_matches ("dis", type, div));
    assert_false (notify_topic_matches ("disputes.case_filed.131004", type, div));
    assert_false (notify_topic_matches ("disputes.case_filed.1310030010021", type, div));
    assert_false (notify_topic_matches ("disputes.case_filed_x", type, div));
    assert_false (notify_topic_matches ("disputes.case_filedx131003", type, div));
    assert_false (notify_topic_matches ("admission.", type, div));
    //  An event without a div has the bare type as its topic.
    const char *bare = "registry.divisions_imported";
    assert_true (notify_topic_matches ("registry.divisions_imported", bare, ""));
    assert_false (notify_topic_matches ("registry.divisions_imported.", bare, ""));

    notify_subscription_t subscription = {.channel = NOTIFY_WEBHOOK, .topic_count = 2};
    snprintf (subscription.topics[0], sizeof subscription.topics[0], "admission.approved.131003");
    snprintf (subscription.topics[1], sizeof subscription.topics[1], "disputes.major_case_filed");
    assert_true (notify_subscription_matches (&subscription, "admission.approved", "131003"));
    assert_true (notify_subscription_matches (&subscription, "disputes.major_case_filed", "1"));
    assert_false (notify_subscription_matches (&subscription, "admission.approved", "131004"));
    assert_false (notify_subscription_matches (&subscription, "disputes.case_filed", div));
    subscription.topic_count = 0;
    assert_false (notify_subscription_matches (&subscription, "admission.approved", "131003"));
}

static void
test_default_rules (void **state)
{
    int count = 0;
    const notify_rule_t *rules = notify_rules_default (&count);
    notify_match_t matches[MATCHES_MAX];
    //  A dispute filed in a community: its staff, and the subscribers.
    int found = notify_route_match (rules, count, "disputes.case_filed", "131003001002", matches,
                                    MATCHES_MAX);
    assert_int_equal (found, 2);
    assert_string_equal (matches[0].rule->id, "disputes.case_filed.staff");
    assert_string_equal (matches[0].rule->role, "community_staff");
    assert_string_equal (matches[0].lookup_div, "131003001002");
    assert_string_equal (matches[1].rule->id, "subscriptions");
    //  A major case (about the district): its officials at once, urgent, SMS as the fallback.
    found = notify_route_match (rules, count, "disputes.major_case_filed", "131003", matches,
                                MATCHES_MAX);
    assert_int_equal (found, 3);
    assert_string_equal (matches[0].rule->id, "disputes.major_case_filed.district");
    assert_string_equal (matches[0].lookup_div, "131003");
    assert_int_equal (matches[0].rule->priority, NOTIFY_URGENT);
    assert_int_equal (matches[0].rule->channel_count, 2);
    assert_int_equal (matches[0].rule->channels[1], NOTIFY_SMS);
    assert_string_equal (matches[1].rule->id, "disputes.major_case_filed.street");
    assert_string_equal (matches[1].lookup_div, ""); //  from data.community instead
    //  Something nobody routes: only the subscribers.
    found = notify_route_match (rules, count, "registry.grid_created", "131003001002", matches,
                                MATCHES_MAX);
    assert_int_equal (found, 1);
    assert_int_equal (matches[0].rule->audience, NOTIFY_TO_SUBSCRIBERS);
}

static void
test_names (void **state)
{
    notify_priority_t priority;
    assert_int_equal (notify_priority_parse ("urgent", &priority), 0);
    assert_int_equal (priority, NOTIFY_URGENT);
    assert_int_equal (notify_priority_parse ("high", &priority), -1);
    notify_audience_t audience;
    for (int i = 0; i < NOTIFY_AUDIENCE_COUNT; i++) {
        assert_int_equal (notify_audience_parse (notify_audience_name (i), &audience), 0);
        assert_int_equal (audience, i);
    }
    notify_level_t level;
    assert_int_equal (notify_level_parse ("street", &level), 0);
    assert_int_equal (level, NOTIFY_AT_STREET);
    assert_null (notify_level_name (NOTIFY_LEVEL_COUNT));
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_check),
        cmocka_unit_test (test_rule_matches),
        cmocka_unit_test (test_level_code),
        cmocka_unit_test (test_match_order_and_lookup),
        cmocka_unit_test (test_territories_from_data),
        cmocka_unit_test (test_topics),
        cmocka_unit_test (test_default_rules),
        cmocka_unit_test (test_names),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
