/*  Disputes through the bus on real PostgreSQL and Redis: filing with its checks, a case's
    whole life with its events in order, escalation community -> street -> district, major
    cases, ends, figures of a district equal to the sum over its communities, and two
    replicas handling commands on one case at once without a lost update. Deadlines and the
    overdue sweep are in test_disputes_deadlines.c (short days). */
#include "disputes.h"
#include "sq_test.h"

#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#define DISTRICT "131002"        //  安次区
#define STREET "131002001"       //  银河南路街道
#define COMMUNITY "131002001007" //  吉祥社区
#define OTHER "131002001010"     //  兴安街社区, same street
#define FAR "131002100201"       //  a community of another street of the district
#define ELSEWHERE "130102001001" //  a community of another city
#define PARTIES "[{\"name\":\"张三\",\"role\":\"applicant\",\"phone\":\"13812345678\"," \
                "\"id_number\":\"%s\"},{\"name\":\"李四\",\"role\":\"respondent\"}]"
#define RACE_THREADS 8           //  clients racing on one case
#define RACE_STEPS 25            //  steps each client takes

static sq_test_stack_t s_stack;
static disputes_t s_state;
static sq_service_t *s_disputes;
static sq_sub_t *s_sub;
static char s_id_number[19];

static int
s_setup (void **state)
{
    (void) state;
    sq_test_stack_start (&s_stack, "disputes");
    s_state.crypt = sq_crypt_new_from_env ();
    assert_non_null (s_state.crypt);
    s_state.day_us = DISPUTES_DAY_US;
    sq_service_config_t config;
    disputes_service_config (&s_state, &config);
    s_disputes = sq_test_service_start (&s_stack, &config);
    s_sub = sq_sub_new (bus_endpoint_events_out (s_stack.bus), bus_endpoint_commands (s_stack.bus));
    sq_sub_track (s_sub, "disputes", 0);
    sq_test_id_number (7, s_id_number);
    return 0;
}

static int
s_teardown (void **state)
{
    (void) state;
    sq_sub_destroy (&s_sub);
    sq_service_destroy (&s_disputes);
    sq_crypt_destroy (&s_state.crypt);
    sq_test_stack_stop (&s_stack);
    return 0;
}

// ---- helpers ----------------------------------------------------------------------------

static sq_test_reply_t *
s_call (const char *cmd, const char *args, const char *role, const char *scope)
{
    return sq_test_call (s_stack.client, "disputes", cmd, args, role, scope, NULL);
}

static sq_test_reply_t *
s_ok (const char *cmd, const char *args, const char *role, const char *scope)
{
    return sq_test_ok (s_stack.client, "disputes", cmd, args, role, scope);
}

static void
s_fails (const char *cmd, const char *args, const char *role, const char *scope,
         const char *code, const char *field)
{
    sq_test_fails (s_stack.client, "disputes", cmd, args, role, scope, code, field);
}

static int64_t
s_count (const char *sql)
{
    return sq_test_db_int (s_stack.db, sql);
}

//  The next event about case id, which must be of type (events of other cases are skipped).
static sq_event_t *
s_case_event (const char *id, const char *type)
{
    return sq_test_event_about (s_sub, "case", id, type);
}

//  Files a case in community as community staff of it, with extra arguments (a JSON
//  text starting with a comma, or NULL); returns its id in out.
static void
s_file (const char *community, const char *extra, char out[SQ_TEXT_ID_MAX])
{
    char parties[512], args[2048];
    snprintf (parties, sizeof parties, PARTIES, s_id_number);
    //  The category is neighbour unless extra gives one.
    bool category = extra && strstr (extra, "\"category\"");
    snprintf (args, sizeof args, "{\"community\":\"%s\",%s"
              "\"source\":\"visit\",\"summary\":\"楼上漏水，邻里纠纷\",\"parties\":%s%s}",
              community, category ? "" : "\"category\":\"neighbour\",", parties,
              extra ? extra : "");
    sq_test_reply_t *reply = s_ok ("case.file", args, "community_staff", community);
    sq_test_str (reply->result, "id", out, SQ_TEXT_ID_MAX);
    sq_test_reply_destroy (&reply);
}

//  Runs a transition that must succeed; returns the new status in a static buffer.
static const char *
s_step (const char *cmd, const char *id, const char *extra, const char *role, const char *scope)
{
    static char status[32];
    char args[1024];
    snprintf (args, sizeof args, "{\"id\":\"%s\"%s}", id, extra ? extra : "");
    sq_test_reply_t *reply = s_ok (cmd, args, role, scope);
    sq_test_str (reply->result, "status", status, sizeof status);
    sq_test_reply_destroy (&reply);
    return status;
}

// ---- filing -----------------------------------------------------------------------------

static void
test_filing_checks_every_field (void **state)
{
    (void) state;
    char args[2048];
    const char *good_party = "[{\"name\":\"张三\",\"role\":\"applicant\"}]";
    struct {
        const char *community, *category, *source, *parties, *extra, *code, *field;
    } cases[] = {
        {COMMUNITY, "quarrel", "visit", good_party, "", "invalid", "category"},
        {COMMUNITY, "family", "rumour", good_party, "", "invalid", "source"},
        {COMMUNITY, "family", "visit", "[]", "", "invalid", "parties"},
        {COMMUNITY, "family", "visit", "[{\"name\":\"张三\",\"role\":\"respondent\"}]", "",
         "invalid", "parties"},
        {COMMUNITY, "family", "visit", "[{\"name\":\"张三\",\"role\":\"judge\"}]", "", "invalid",
         "parties[0].role"},
        {COMMUNITY, "family", "visit", "[{\"name\":\"张三\",\"role\":\"applicant\","
         "\"phone\":\"12345\"}]", "", "invalid", "parties[0].phone"},
        {COMMUNITY, "family", "visit", "[{\"name\":\"张三\",\"role\":\"applicant\"},"
         "{\"name\":\"李四\",\"role\":\"respondent\",\"id_number\":\"110101199003070000\"}]", "",
         "invalid", "parties[1].id_number"},
        {COMMUNITY, "family", "visit", "[{\"name\":\"\",\"role\":\"applicant\"}]", "", "invalid",
         "parties[0].name"},
        {COMMUNITY, "family", "visit", "[{\"name\":\"张三\",\"role\":\"applicant\",\"age\":3}]",
         "", "invalid", "parties[0]"},
        {COMMUNITY, "family", "visit", good_party, ",\"risk\":\"extreme\"", "invalid", "risk"},
        {COMMUNITY, "family", "visit", good_party, ",\"people_involved\":0", "invalid",
         "people_involved"},
        {COMMUNITY, "family", "visit", good_party, ",\"grid\":\"131002001010-001\"", "invalid",
         "grid"},
        {COMMUNITY, "family", "visit", good_party, ",\"grid\":\"" COMMUNITY "-099\"", "not_found",
         "grid"},
        {"1310020010", "family", "visit", good_party, "", "invalid", "community"},
        {"131002001999", "family", "visit", good_party, "", "not_found", "community"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf (args, sizeof args, "{\"community\":\"%s\",\"category\":\"%s\",\"source\":\"%s\","
                  "\"summary\":\"纠纷\",\"parties\":%s%s}", cases[i].community, cases[i].category,
                  cases[i].source, cases[i].parties, cases[i].extra);
        s_fails ("case.file", args, "community_staff", "", cases[i].code, cases[i].field);
    }
    snprintf (args, sizeof args, "{\"community\":\"%s\",\"category\":\"family\",\"source\":"
              "\"visit\",\"summary\":\"纠纷\",\"parties\":%s}", COMMUNITY, good_party);
    s_fails ("case.file", args, "community_staff", OTHER, "forbidden", "community");
    s_fails ("case.file", args, "resident", COMMUNITY, "forbidden", NULL);
    //  Nothing of the refused filings was kept.
    assert_int_equal (s_count ("SELECT count(*) FROM disputes.dispute"), 0);
    assert_int_equal (s_count ("SELECT count(*) FROM disputes.party"), 0);
}

// ---- a case's whole life ----------------------------------------------------------------

static void
test_whole_life_with_events_in_order (void **state)
{
    (void) state;
    char id[SQ_TEXT_ID_MAX], text[64];
    s_file (COMMUNITY, ",\"grid\":null", id);
    static const struct {
        const char *cmd, *extra, *status, *event;
    } steps[] = {
        {NULL, NULL, "filed", "disputes.case_filed"},
        {"case.accept", NULL, "accepted", "disputes.case_accepted"},
        {"case.assign", ",\"mediator\":\"mediator-17\"", "mediating", "disputes.case_assigned"},
        {"case.record", ",\"note\":\"第一次调解，双方各自陈述\"", "mediating",
         "disputes.case_recorded"},
        {"case.pause", ",\"reason\":\"等待漏水鉴定\"", "mediating", "disputes.case_paused"},
        {"case.resume", NULL, "mediating", "disputes.case_resumed"},
        {"case.resolve", ",\"agreement\":\"楼上修复管道并赔偿800元\"", "resolved",
         "disputes.case_resolved"},
        {"case.followup", ",\"performed\":true,\"note\":\"已履行\"", "closed",
         "disputes.case_closed"},
    };
    int count = sizeof steps / sizeof steps[0];
    for (int i = 1; i < count; i++)
        assert_string_equal (s_step (steps[i].cmd, id, steps[i].extra, "community_staff",
                                     COMMUNITY), steps[i].status);
    //  The events, in order, each checked against its contract.
    int64_t last_seq = 0;
    for (int i = 0; i < count; i++) {
        sq_event_t *event = s_case_event (id, steps[i].event);
        const msgpack_object *data = event->env.data;
        assert_string_equal (sq_test_str (data, "status", text, sizeof text), steps[i].status);
        assert_int_equal (sq_test_int (data, "step"), i + 1);
        assert_string_equal (event->env.div, COMMUNITY);
        assert_true ((int64_t) event->env.seq > last_seq);
        last_seq = (int64_t) event->env.seq;
        if (i == 0)
            assert_string_equal (sq_test_str (data, "deadline", text, sizeof text), "accept");
        if (i == 4) //  paused: no deadline runs
            assert_true (sq_obj_get (data, "due")->type == MSGPACK_OBJECT_NIL);
        sq_event_destroy (&event);
    }
    //  The history: every step with its actor and time; the deadlines judged on time.
    char args[256];
    snprintf (args, sizeof args, "{\"id\":\"%s\"}", id);
    sq_test_reply_t *reply = s_ok ("case.get", args, "street_official", STREET);
    const msgpack_object *history = sq_obj_get (reply->result, "history");
    assert_int_equal (history->via.array.size, count);
    for (int i = 0; i < count; i++) {
        const msgpack_object *step = &history->via.array.ptr[i];
        assert_int_equal (sq_test_int (step, "n"), i + 1);
        assert_string_equal (sq_test_str (step, "to_status", text, sizeof text), steps[i].status);
        assert_string_equal (sq_test_str (step, "actor_role", text, sizeof text),
                             "community_staff");
        assert_true (sq_test_int (step, "at") > 0);
    }
    for (int i = 1; i < count; i += 5) { //  accept (2) and resolve (7) ended deadlines on time
        const msgpack_object *step = &history->via.array.ptr[i];
        assert_true (sq_obj_get (step, "on_time")->via.boolean);
    }
    assert_string_equal (sq_test_str (reply->result, "resolved_level", text, sizeof text),
                         "community");
    assert_true (sq_obj_get (reply->result, "deadline")->type == MSGPACK_OBJECT_NIL);
    //  A street official sees the parties masked, and nothing is recorded.
    assert_true (sq_obj_get (reply->result, "masked")->via.boolean);
    const msgpack_object *party = &sq_obj_get (reply->result, "parties")->via.array.ptr[0];
    assert_string_equal (sq_test_str (party, "phone", text, sizeof text), "138****5678");
    assert_non_null (strstr (sq_test_str (party, "id_number", text, sizeof text), "*******"));
    sq_test_reply_destroy (&reply);
    assert_int_equal (s_count ("SELECT count(*) FROM disputes.personal_data_reads"), 0);
    //  The community's own staff see them in clear, and that read is recorded.
    reply = s_ok ("case.get", args, "community_staff", COMMUNITY);
    party = &sq_obj_get (reply->result, "parties")->via.array.ptr[0];
    assert_string_equal (sq_test_str (party, "phone", text, sizeof text), "13812345678");
    assert_string_equal (sq_test_str (party, "id_number", text, sizeof text), s_id_number);
    sq_test_reply_destroy (&reply);
    assert_int_equal (s_count ("SELECT count(*) FROM disputes.personal_data_reads"), 1);
    //  Stored sealed: neither value appears in clear in the database.
    assert_int_equal (s_count ("SELECT count(*) FROM disputes.party WHERE position ('13812345678'"
                               " in encode (phone_sealed, 'escape')) > 0"), 0);
    //  A closed case moves no more: a conflict naming both statuses.
    sq_test_reply_t *refused = s_call ("case.accept", args, "community_staff", COMMUNITY);
    assert_false (refused->ok);
    assert_string_equal (refused->code, "conflict");
    assert_non_null (strstr (refused->message, "closed"));
    assert_non_null (strstr (refused->message, "filed"));
    sq_test_reply_destroy (&refused);
    //  Others' scope cannot read it.
    s_fails ("case.get", args, "community_staff", OTHER, "forbidden", "id");
    s_fails ("case.get", "{\"id\":\"no-such-case\"}", "operator", "", "not_found", "id");
}

static void
test_paused_case_moves_only_to_resume_or_end (void **state)
{
    (void) state;
    char id[SQ_TEXT_ID_MAX], args[256];
    s_file (COMMUNITY, NULL, id);
    s_step ("case.pause", id, ",\"reason\":\"等待当事人返乡\"", "community_staff", COMMUNITY);
    snprintf (args, sizeof args, "{\"id\":\"%s\"}", id);
    s_fails ("case.accept", args, "community_staff", COMMUNITY, "conflict", "id");
    s_fails ("case.pause", "{\"id\":\"x\"}", "community_staff", COMMUNITY, "invalid", "reason");
    assert_string_equal (s_step ("case.resume", id, NULL, "community_staff", COMMUNITY), "filed");
    s_fails ("case.resume", args, "community_staff", COMMUNITY, "conflict", "id");
    assert_string_equal (s_step ("case.refer", id, ",\"to\":\"litigation\"", "community_staff",
                                 COMMUNITY), "referred");
    s_fails ("case.withdraw", args, "community_staff", COMMUNITY, "conflict", "id");
    char other[SQ_TEXT_ID_MAX];
    s_file (COMMUNITY, NULL, other);
    snprintf (args, sizeof args, "{\"id\":\"%s\",\"to\":\"court\"}", other);
    s_fails ("case.refer", args, "community_staff", COMMUNITY, "invalid", "to");
    assert_string_equal (s_step ("case.withdraw", other, NULL, "community_staff", COMMUNITY),
                         "withdrawn");
}

// ---- escalation -------------------------------------------------------------------------

static void
test_escalation_community_street_district (void **state)
{
    (void) state;
    char id[SQ_TEXT_ID_MAX], args[256], text[64];
    s_file (COMMUNITY, NULL, id);
    s_step ("case.accept", id, NULL, "community_staff", COMMUNITY);
    s_step ("case.assign", id, ",\"mediator\":\"m-1\"", "mediator", COMMUNITY);
    s_step ("case.fail", id, ",\"reason\":\"双方分歧大\"", "mediator", COMMUNITY);
    snprintf (args, sizeof args, "{\"id\":\"%s\",\"reason\":\"\"}", id);
    s_fails ("case.escalate", args, "community_staff", COMMUNITY, "invalid", "reason");
    assert_string_equal (s_step ("case.escalate", id, ",\"reason\":\"提交街道调委会\"",
                                 "community_staff", COMMUNITY), "escalated");
    //  Now at the street: the community's staff can no longer act on it, the street can.
    snprintf (args, sizeof args, "{\"id\":\"%s\"}", id);
    s_fails ("case.accept", args, "community_staff", COMMUNITY, "forbidden", "id");
    s_step ("case.accept", id, NULL, "street_official", STREET);
    s_step ("case.assign", id, ",\"mediator\":\"street-m-2\"", "mediator", STREET);
    s_step ("case.fail", id, ",\"reason\":\"仍未达成一致\"", "mediator", STREET);
    s_step ("case.escalate", id, ",\"reason\":\"提交区联调中心\"", "street_official", STREET);
    s_fails ("case.accept", args, "street_official", STREET, "forbidden", "id");
    s_step ("case.accept", id, NULL, "district_official", DISTRICT);
    s_step ("case.assign", id, ",\"mediator\":\"judicial-3\"", "mediator", DISTRICT);
    assert_string_equal (s_step ("case.resolve", id, ",\"agreement\":\"司法确认\"", "mediator",
                                 DISTRICT), "resolved");
    sq_test_reply_t *reply = s_ok ("case.get", args, "district_official", DISTRICT);
    assert_string_equal (sq_test_str (reply->result, "level", text, sizeof text), "district");
    assert_string_equal (sq_test_str (reply->result, "resolved_level", text, sizeof text),
                         "district");
    assert_string_equal (sq_test_str (reply->result, "start_level", text, sizeof text),
                         "community");
    sq_test_reply_destroy (&reply);
    //  The escalations' events, in order, with the level they moved to.
    static const char *const order[][2] = {
        {"disputes.case_filed", "community"},   {"disputes.case_accepted", "community"},
        {"disputes.case_assigned", "community"}, {"disputes.case_failed", "community"},
        {"disputes.case_escalated", "street"},  {"disputes.case_accepted", "street"},
        {"disputes.case_assigned", "street"},   {"disputes.case_failed", "street"},
        {"disputes.case_escalated", "district"}, {"disputes.case_accepted", "district"},
        {"disputes.case_assigned", "district"}, {"disputes.case_resolved", "district"}};
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
        sq_event_t *event = s_case_event (id, order[i][0]);
        assert_string_equal (sq_test_str (event->env.data, "level", text, sizeof text),
                             order[i][1]);
        sq_event_destroy (&event);
    }
    //  No level above the district.
    char top[SQ_TEXT_ID_MAX];
    s_file (COMMUNITY, ",\"risk\":\"major\"", top);
    s_step ("case.accept", top, NULL, "street_official", STREET);
    s_step ("case.assign", top, ",\"mediator\":\"m\"", "street_official", STREET);
    s_step ("case.fail", top, ",\"reason\":\"r\"", "street_official", STREET);
    s_step ("case.escalate", top, ",\"reason\":\"r\"", "street_official", STREET);
    s_step ("case.accept", top, NULL, "district_official", DISTRICT);
    s_step ("case.assign", top, ",\"mediator\":\"m\"", "district_official", DISTRICT);
    s_step ("case.fail", top, ",\"reason\":\"r\"", "district_official", DISTRICT);
    snprintf (args, sizeof args, "{\"id\":\"%s\",\"reason\":\"r\"}", top);
    sq_test_reply_t *refused = s_call ("case.escalate", args, "district_official", DISTRICT);
    assert_string_equal (refused->code, "conflict");
    assert_non_null (strstr (refused->message, "district"));
    sq_test_reply_destroy (&refused);
    assert_string_equal (s_step ("case.refer", top, ",\"to\":\"administrative\"",
                                 "district_official", DISTRICT), "referred");
}

static void
test_major_cases_start_at_the_street_and_tell_the_district (void **state)
{
    (void) state;
    char id[SQ_TEXT_ID_MAX], many[SQ_TEXT_ID_MAX], text[64];
    s_file (OTHER, ",\"risk\":\"major\",\"category\":\"land_requisition\"", id);
    s_file (OTHER, ",\"people_involved\":5", many);
    const char *ids[] = {id, many};
    for (int i = 0; i < 2; i++) {
        char args[256];
        snprintf (args, sizeof args, "{\"id\":\"%s\"}", ids[i]);
        sq_test_reply_t *reply = s_ok ("case.get", args, "operator", "");
        assert_string_equal (sq_test_str (reply->result, "level", text, sizeof text), "street");
        sq_test_reply_destroy (&reply);
        sq_event_t *event = s_case_event (ids[i], "disputes.case_filed");
        sq_event_destroy (&event);
        event = s_case_event (ids[i], "disputes.major_case_filed");
        assert_string_equal (event->env.div, DISTRICT);
        assert_string_equal (sq_test_str (event->env.data, "district", text,
                                          sizeof text), DISTRICT);
        sq_event_destroy (&event);
    }
    //  Four people is not many: it starts in the community, and no district event follows.
    char few[SQ_TEXT_ID_MAX];
    s_file (OTHER, ",\"people_involved\":4", few);
    assert_int_equal (s_count ("SELECT count(*) FROM disputes.dispute WHERE community = '" OTHER
                               "' AND level = 'street'"), 2);
}

// ---- figures ----------------------------------------------------------------------------

//  Figures compared: every count of a stats.get result, flattened as "path=value" lines.
static void
s_flatten (const msgpack_object *o, const char *path, char *out, size_t size)
{
    if (o->type == MSGPACK_OBJECT_MAP) {
        for (uint32_t i = 0; i < o->via.map.size; i++) {
            char key[64] = "", sub[256];
            sq_obj_str_copy (&o->via.map.ptr[i].key, key, sizeof key);
            //  Shares and rates are not additive; their counts are compared instead.
            if (!strcmp (key, "share") || !strcmp (key, "rate") || !strcmp (key, "division")
                || !strcmp (key, "resolution_rate") || strstr (key, "median"))
                continue;
            snprintf (sub, sizeof sub, "%s.%s", path, key);
            s_flatten (&o->via.map.ptr[i].val, sub, out, size);
        }
    } else if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
        snprintf (out + strlen (out), size - strlen (out), "%s=%llu\n", path,
                  (unsigned long long) o->via.u64);
}

static void
s_add_flat (const char *flat, int64_t *sums, char (*keys)[128], int *count)
{
    for (const char *line = flat; *line;) {
        const char *eq = strchr (line, '='), *nl = strchr (line, '\n');
        char key[128];
        snprintf (key, sizeof key, "%.*s", (int) (eq - line), line);
        int k = 0;
        while (k < *count && strcmp (keys[k], key))
            k++;
        if (k == *count)
            snprintf (keys[(*count)++], 128, "%s", key);
        sums[k] += strtoll (eq + 1, NULL, 10);
        line = nl + 1;
    }
}

static char *
s_stats (const char *division, const char *role)
{
    char args[256];
    snprintf (args, sizeof args, "{\"division\":\"%s\",\"from\":0,\"to\":4102444800000000}",
              division);
    sq_test_reply_t *reply = s_ok ("stats.get", args, role, "");
    char *flat = calloc (1, 16384);
    s_flatten (reply->result, "", flat, 16384);
    sq_test_reply_destroy (&reply);
    return flat;
}

static void
test_district_figures_equal_the_sum_over_its_communities (void **state)
{
    (void) state;
    //  Cases of several fates in a community of another street.
    char a[SQ_TEXT_ID_MAX], b[SQ_TEXT_ID_MAX], c[SQ_TEXT_ID_MAX];
    s_file (FAR, ",\"category\":\"family\"", a);
    s_file (FAR, ",\"category\":\"labour_wages\"", b);
    s_file (FAR, NULL, c);
    s_step ("case.accept", a, NULL, "community_staff", FAR);
    s_step ("case.assign", a, ",\"mediator\":\"m\"", "community_staff", FAR);
    s_step ("case.resolve", a, ",\"agreement\":\"和解\"", "community_staff", FAR);
    s_step ("case.withdraw", b, NULL, "community_staff", FAR);
    //  The district's figures equal the sum of its communities' (every count).
    const char *communities[] = {COMMUNITY, OTHER, FAR};
    int64_t sums[256] = {0};
    char keys[256][128];
    int count = 0;
    for (int i = 0; i < 3; i++) {
        char *flat = s_stats (communities[i], "auditor");
        s_add_flat (flat, sums, keys, &count);
        free (flat);
    }
    char *district = s_stats (DISTRICT, "district_official");
    int64_t district_sums[256] = {0};
    char district_keys[256][128];
    int district_count = 0;
    s_add_flat (district, district_sums, district_keys, &district_count);
    assert_int_equal (district_count, count);
    for (int k = 0; k < count; k++) {
        if (!strcmp (keys[k], ".from") || !strcmp (keys[k], ".to"))
            continue;
        int d = 0;
        while (d < district_count && strcmp (district_keys[d], keys[k]))
            d++;
        assert_true (d < district_count);
        if (sums[k] != district_sums[d])
            fail_msg ("%s: communities sum to %lld, the district has %lld", keys[k],
                      (long long) sums[k], (long long) district_sums[d]);
    }
    //  And they equal what the database holds.
    char sql[256];
    snprintf (sql, sizeof sql, "SELECT count(*) FROM disputes.dispute WHERE community LIKE '%s%%'",
              DISTRICT);
    char expect[64];
    snprintf (expect, sizeof expect, ".total=%lld\n", (long long) s_count (sql));
    assert_non_null (strstr (district, expect));
    free (district);
    //  The locally-resolved share of the district: one resolved in a community (FAR, plus
    //  the whole-life case), one at the district (the escalation test).
    char args[256];
    snprintf (args, sizeof args, "{\"division\":\"%s\",\"from\":0,\"to\":4102444800000000}",
              DISTRICT);
    sq_test_reply_t *reply = s_ok ("stats.get", args, "district_official", DISTRICT);
    const msgpack_object *local = sq_obj_get (reply->result, "locally_resolved");
    int64_t at_community = sq_test_int (sq_obj_get (local, "community"), "count");
    int64_t above = sq_test_int (sq_obj_get (local, "above"), "count");
    assert_int_equal (at_community, s_count ("SELECT count(*) FROM disputes.dispute WHERE"
                                             " resolved_level = 'community' AND status IN"
                                             " ('resolved', 'closed')"));
    assert_int_equal (above, 1);
    const msgpack_object *share = sq_obj_get (sq_obj_get (local, "community"), "share");
    assert_true (share->type == MSGPACK_OBJECT_FLOAT64);
    double expected = (double) at_community / (double) (at_community + above);
    assert_true (share->via.f64 > expected - 1e-9 && share->via.f64 < expected + 1e-9);
    int64_t resolved = sq_test_int (reply->result, "resolved");
    sq_test_reply_destroy (&reply);
    //  Cached, yet always what the database holds: a change shows at once.
    char d[SQ_TEXT_ID_MAX];
    s_file (FAR, NULL, d);
    s_step ("case.accept", d, NULL, "community_staff", FAR);
    s_step ("case.assign", d, ",\"mediator\":\"m\"", "community_staff", FAR);
    s_step ("case.resolve", d, ",\"agreement\":\"和解\"", "community_staff", FAR);
    reply = s_ok ("stats.get", args, "district_official", DISTRICT);
    assert_int_equal (sq_test_int (reply->result, "resolved"), resolved + 1);
    sq_test_reply_destroy (&reply);
    //  Bad requests.
    s_fails ("stats.get", "{\"division\":\"1310\",\"from\":0,\"to\":1}", "district_official",
             DISTRICT, "forbidden", "division");
    s_fails ("stats.get", "{\"division\":\"131002\",\"from\":5,\"to\":1}", "operator", "",
             "invalid", "to");
    s_fails ("stats.get", "{\"division\":\"13100\",\"from\":0,\"to\":1}", "operator", "",
             "invalid", "division");
    s_fails ("case.list", "{\"division\":\"131002\",\"status\":\"lost\"}", "operator", "",
             "invalid", "status");
}

static void
test_list_by_territory_status_and_category (void **state)
{
    (void) state;
    sq_test_reply_t *reply = s_ok ("case.list", "{\"division\":\"" DISTRICT "\"}", "operator", "");
    int64_t all = s_count ("SELECT count(*) FROM disputes.dispute WHERE community LIKE '"
                           DISTRICT "%'");
    assert_true (all > 0);
    assert_int_equal (sq_obj_get (reply->result, "cases")->via.array.size,
                      all > DISPUTES_PAGE_SIZE ? DISPUTES_PAGE_SIZE : all);
    sq_test_reply_destroy (&reply);
    reply = s_ok ("case.list", "{\"division\":\"" FAR "\",\"category\":\"family\"}",
                  "community_staff", FAR);
    const msgpack_object *cases = sq_obj_get (reply->result, "cases");
    assert_int_equal (cases->via.array.size, 1);
    char text[64];
    assert_string_equal (sq_test_str (&cases->via.array.ptr[0], "category", text, sizeof text),
                         "family");
    sq_test_reply_destroy (&reply);
    reply = s_ok ("case.list", "{\"division\":\"" STREET "\",\"status\":\"withdrawn\"}",
                  "street_official", STREET);
    assert_int_equal (sq_obj_get (reply->result, "cases")->via.array.size,
                      s_count ("SELECT count(*) FROM disputes.dispute WHERE community LIKE '"
                               STREET "%' AND status = 'withdrawn'"));
    sq_test_reply_destroy (&reply);
    s_fails ("case.list", "{\"division\":\"" DISTRICT "\"}", "street_official", STREET,
             "forbidden", "division");
    s_fails ("case.list", "{\"division\":\"" ELSEWHERE "\",\"category\":\"x\"}", "operator", "",
             "invalid", "category");
}

// ---- replicas ---------------------------------------------------------------------------

typedef struct {
    const char *id;
    int ok, failed;
    char error[320];
} s_racer_t;

static void *
s_race (void *arg)
{
    s_racer_t *racer = arg;
    sq_mdp_client_t *client = sq_mdp_client_new (bus_endpoint_commands (s_stack.bus));
    for (int i = 0; i < RACE_STEPS; i++) {
        char args[256];
        snprintf (args, sizeof args, "{\"id\":\"%s\",\"note\":\"调解记录 %d\"}", racer->id, i);
        sq_test_reply_t *reply = sq_test_call (client, "disputes", "case.record", args,
                                               "mediator", COMMUNITY, NULL);
        if (reply->ok)
            racer->ok++;
        else {
            racer->failed++;
            snprintf (racer->error, sizeof racer->error, "%s: %s", reply->code, reply->message);
        }
        sq_test_reply_destroy (&reply);
    }
    sq_mdp_client_destroy (&client);
    return NULL;
}

static void
test_two_replicas_no_lost_update (void **state)
{
    (void) state;
    //  Two more replicas as real processes beside the one in this process.
    const char *const *base = sq_test_service_env (s_stack.bus, s_stack.conninfo);
    const char *env[8];
    int n = 0;
    for (; base[n]; n++)
        env[n] = base[n];
    env[n++] = "SHEQU_WORKER_CONCURRENCY=4";
    env[n] = NULL;
    pid_t replicas[2];
    replicas[0] = sq_test_spawn ("shequ-disputes", "disputes-replica-1", env);
    replicas[1] = sq_test_spawn ("shequ-disputes", "disputes-replica-2", env);
    //  Wait until all three answer.
    char seen[3][96] = {{0}};
    int distinct = 0;
    for (int i = 0; i < 600 && distinct < 3; i++) {
        sq_test_reply_t *reply = s_call ("health", "{}", "operator", "");
        char replica[96] = "";
        if (reply->ok)
            sq_test_str (reply->result, "replica", replica, sizeof replica);
        int known = !replica[0];
        for (int k = 0; k < distinct; k++)
            known |= strcmp (seen[k], replica) == 0;
        if (!known)
            snprintf (seen[distinct++], sizeof seen[0], "%s", replica);
        sq_test_reply_destroy (&reply);
        usleep (20 * 1000);
    }
    assert_int_equal (distinct, 3);
    char id[SQ_TEXT_ID_MAX];
    s_file (COMMUNITY, NULL, id);
    s_step ("case.accept", id, NULL, "community_staff", COMMUNITY);
    s_step ("case.assign", id, ",\"mediator\":\"m\"", "community_staff", COMMUNITY);
    pthread_t threads[RACE_THREADS];
    s_racer_t racers[RACE_THREADS];
    for (int t = 0; t < RACE_THREADS; t++) {
        racers[t] = (s_racer_t) {.id = id};
        assert_int_equal (pthread_create (&threads[t], NULL, s_race, &racers[t]), 0);
    }
    int ok = 0;
    for (int t = 0; t < RACE_THREADS; t++) {
        pthread_join (threads[t], NULL);
        ok += racers[t].ok;
        if (racers[t].failed)
            print_message ("racer %d: %d failed, last %s\n", t, racers[t].failed,
                           racers[t].error);
    }
    assert_int_equal (ok, RACE_THREADS * RACE_STEPS);
    //  Every step kept: numbered 1..N without a gap or a double, the case's count agrees,
    //  and one event per step.
    char sql[512];
    int64_t expected = 3 + RACE_THREADS * RACE_STEPS;
    snprintf (sql, sizeof sql, "SELECT count(DISTINCT n) FILTER (WHERE n BETWEEN 1 AND %lld)"
              " FROM disputes.step WHERE dispute = '%s'", (long long) expected, id);
    assert_int_equal (s_count (sql), expected);
    snprintf (sql, sizeof sql, "SELECT steps FROM disputes.dispute WHERE id = '%s'", id);
    assert_int_equal (s_count (sql), expected);
    snprintf (sql, sizeof sql, "SELECT count(*) FROM disputes.outbox WHERE type ="
              " 'disputes.case_recorded' AND position ('%s' in encode (data, 'escape')) > 0", id);
    assert_int_equal (s_count (sql), RACE_THREADS * RACE_STEPS);
    for (int i = 0; i < 2; i++)
        assert_int_equal (sq_test_stop (replicas[i], SIGTERM, 10000), 0);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_filing_checks_every_field),
        cmocka_unit_test (test_whole_life_with_events_in_order),
        cmocka_unit_test (test_paused_case_moves_only_to_resume_or_end),
        cmocka_unit_test (test_escalation_community_street_district),
        cmocka_unit_test (test_major_cases_start_at_the_street_and_tell_the_district),
        cmocka_unit_test (test_district_figures_equal_the_sum_over_its_communities),
        cmocka_unit_test (test_list_by_territory_status_and_category),
        cmocka_unit_test (test_two_replicas_no_lost_update),
    };
    return cmocka_run_group_tests (tests, s_setup, s_teardown);
}
