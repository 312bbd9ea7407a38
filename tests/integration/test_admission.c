/*  Admission through the bus on real PostgreSQL and Redis: catalogues and their versions,
    submission with screening, targets expanded by the registry, review by the county's
    community office only, events, service agreements, withdrawal. */
#include "admission.h"
#include "sq_test.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#define COUNTY "131002"        //  安次区
#define STREET "131002001"     //  银河南路街道
#define COMMUNITY "131002001007"
#define OFFICE_ROLE "community_office"

static bus_t *s_bus;
static sq_test_registry_t *s_registry;
static sq_service_t *s_admission;
static sq_mdp_client_t *s_client;
static sq_db_t *s_db;
static sq_sub_t *s_sub;

static int
s_setup (void **state)
{
    static char conninfo[1024], commands[256], events_in[256];
    snprintf (conninfo, sizeof conninfo, "%s", sq_test_db_fresh ("admission"));
    s_bus = sq_test_bus_start ();
    s_registry = sq_test_registry_start (s_bus, conninfo);
    snprintf (commands, sizeof commands, "%s", bus_endpoint_commands (s_bus));
    snprintf (events_in, sizeof events_in, "%s", bus_endpoint_events_in (s_bus));
    setenv ("SHEQU_SWEEP_MS", "200", 1); //  the expiry sweep runs often in this test
    sq_service_config_t config;
    admission_service_config (&config);
    config.conninfo = conninfo;
    config.commands_endpoint = commands;
    config.events_in = events_in;
    s_admission = sq_service_new (&config);
    assert_int_equal (sq_service_start (s_admission), 0);
    s_client = sq_mdp_client_new (commands);
    s_db = sq_test_db_connect (conninfo);
    s_sub = sq_sub_new (bus_endpoint_events_out (s_bus), commands);
    sq_sub_track (s_sub, "admission", 0);
    sq_test_import_divisions (s_client);
    return 0;
}

static int
s_teardown (void **state)
{
    sq_sub_destroy (&s_sub);
    sq_mdp_client_destroy (&s_client);
    sq_service_destroy (&s_admission);
    sq_test_registry_stop (&s_registry);
    bus_destroy (&s_bus);
    sq_db_destroy (&s_db);
    return 0;
}

static sq_test_reply_t *
s_call (const char *cmd, const char *args, const char *role, const char *scope)
{
    return sq_test_call (s_client, "admission", cmd, args, role, scope, NULL);
}

static sq_test_reply_t *
s_ok (const char *cmd, const char *args, const char *role, const char *scope)
{
    sq_test_reply_t *reply = s_call (cmd, args, role, scope);
    if (!reply->ok)
        fail_msg ("%s %s: %s %s (%s)", cmd, args, reply->code, reply->message, reply->field);
    return reply;
}

static void
s_fails (const char *cmd, const char *args, const char *role, const char *scope,
         const char *code, const char *field)
{
    sq_test_reply_t *reply = s_call (cmd, args, role, scope);
    if (reply->ok || strcmp (reply->code, code) || (field && strcmp (reply->field, field)))
        fail_msg ("%s %s: got %s/%s (%s), expected %s/%s", cmd, args,
                  reply->ok ? "ok" : reply->code, reply->field, reply->message, code,
                  field ? field : "*");
    sq_test_reply_destroy (&reply);
}

static int64_t
s_count (const char *sql)
{
    return sq_test_db_int (s_db, sql);
}

//  Next admission event of type, checked against its contract.
static sq_event_t *
s_event (const char *type)
{
    int64_t deadline = sq_clock_ms () + 10000;
    while (sq_clock_ms () < deadline) {
        sq_event_t *event = sq_sub_next (s_sub, 200);
        if (!event)
            continue;
        char why[256];
        if (sq_test_contract_check (event, why, sizeof why))
            fail_msg ("%s breaks its contract: %s", event->env.type, why);
        if (strcmp (event->env.type, type) == 0)
            return event;
        sq_event_destroy (&event);
    }
    fail_msg ("no %s event", type);
    return NULL;
}

static void
test_catalogue_versions (void **state)
{
    const char *put = "{\"county\":\"" COUNTY "\",\"list\":\"assist_government\",\"code\":\"A-01\","
                      "\"name\":\"协助开展人口普查\",\"department\":\"统计局\"}";
    sq_test_reply_t *reply = s_ok ("catalog.put", put, OFFICE_ROLE, COUNTY);
    assert_int_equal (sq_test_int (reply->result, "version"), 1);
    sq_test_reply_destroy (&reply);
    reply = s_ok ("catalog.put", put, OFFICE_ROLE, COUNTY); //  the same again: no new version
    assert_int_equal (sq_test_int (reply->result, "version"), 1);
    sq_test_reply_destroy (&reply);
    reply = s_ok ("catalog.put", "{\"county\":\"" COUNTY "\",\"list\":\"self_governance\","
                  "\"code\":\"S-01\",\"name\":\"居民公约修订\",\"department\":\"民政局\"}",
                  OFFICE_ROLE, COUNTY);
    assert_int_equal (sq_test_int (reply->result, "version"), 2);
    sq_test_reply_destroy (&reply);
    reply = s_ok ("catalog.remove", "{\"county\":\"" COUNTY "\",\"code\":\"A-01\"}", OFFICE_ROLE,
                  COUNTY);
    assert_int_equal (sq_test_int (reply->result, "version"), 3);
    sq_test_reply_destroy (&reply);
    //  Read back as it stood: version 2 had both items, version 3 only S-01.
    reply = s_ok ("catalog.list", "{\"county\":\"" COUNTY "\",\"version\":2}", "department", "");
    assert_int_equal (sq_obj_get (reply->result, "items")->via.array.size, 2);
    sq_test_reply_destroy (&reply);
    reply = s_ok ("catalog.list", "{\"county\":\"" COUNTY "\"}", "department", "");
    assert_int_equal (sq_test_int (reply->result, "version"), 3);
    assert_int_equal (sq_obj_get (reply->result, "items")->via.array.size, 1);
    sq_test_reply_destroy (&reply);
    //  Put back for the tests below (version 4).
    reply = s_ok ("catalog.put", put, OFFICE_ROLE, COUNTY);
    sq_test_reply_destroy (&reply);
    s_fails ("catalog.put", put, "department", COUNTY, "forbidden", "actor.role");
    s_fails ("catalog.put", put, OFFICE_ROLE, "131003", "forbidden", "county");
    s_fails ("catalog.put", "{\"county\":\"139999\",\"list\":\"assist_government\",\"code\":\"X\","
             "\"name\":\"x\",\"department\":\"x\"}", OFFICE_ROLE, "", "not_found", "county");
    s_fails ("catalog.remove", "{\"county\":\"" COUNTY "\",\"code\":\"NONE\"}", OFFICE_ROLE,
             COUNTY, "not_found", "code");
}

//  Submits an application as the statistics bureau; args is the JSON body minus the
//  department, title and dates.
static sq_test_reply_t *
s_submit (const char *rest)
{
    char args[1024];
    snprintf (args, sizeof args, "{\"department\":\"统计局\",\"title\":\"入户核查\","
              "\"start\":\"2026-12-01\",\"end\":\"2026-12-31\",%s}", rest);
    return s_call ("application.submit", args, "department", COUNTY);
}

static bool
s_has_rule (const sq_test_reply_t *reply, const char *rule)
{
    const msgpack_object *reasons = sq_obj_get (reply->result, "reasons");
    for (uint32_t i = 0; reasons && i < reasons->via.array.size; i++)
        if (sq_obj_str_eq (sq_obj_get (&reasons->via.array.ptr[i], "rule"), rule))
            return true;
    return false;
}

static void
test_screening_on_submission (void **state)
{
    char text[64];
    sq_test_reply_t *reply = s_submit ("\"kind\":\"task\",\"subject\":\"demolition\","
                                       "\"targets\":[\"" COMMUNITY "\"],\"funds_per_community\":100");
    assert_true (reply->ok);
    assert_string_equal (sq_test_str (reply->result, "status", text, sizeof text), "rejected");
    assert_true (s_has_rule (reply, "negative_list"));
    sq_test_reply_destroy (&reply);
    sq_event_t *event = s_event ("admission.rejected");
    assert_true (sq_obj_str_eq (sq_obj_get (event->env.data, "by"), "screening"));
    sq_event_destroy (&event);

    reply = s_submit ("\"kind\":\"task\",\"catalog_item\":\"A-01\",\"targets\":[\"" COMMUNITY "\"]");
    assert_string_equal (sq_test_str (reply->result, "status", text, sizeof text), "incomplete");
    assert_true (s_has_rule (reply, "assist_needs_funds"));
    assert_true (s_has_rule (reply, "assist_needs_staff"));
    assert_int_equal (sq_test_int (reply->result, "catalog_version"), 4);
    sq_test_reply_destroy (&reply);

    reply = s_submit ("\"kind\":\"task\",\"catalog_item\":\"S-01\",\"targets\":[\"" COMMUNITY "\"],"
                      "\"funds_per_community\":100,\"staff_support\":true");
    assert_string_equal (sq_test_str (reply->result, "status", text, sizeof text), "rejected");
    assert_true (s_has_rule (reply, "self_governance_item"));
    sq_test_reply_destroy (&reply);

    s_fails ("application.submit", "{\"department\":\"统计局\",\"title\":\"x\",\"kind\":\"task\","
             "\"start\":\"2026-12-01\",\"end\":\"2026-12-31\",\"catalog_item\":\"NONE\","
             "\"targets\":[\"" COMMUNITY "\"]}", "department", COUNTY, "not_found", "catalog_item");
    s_fails ("application.submit", "{\"department\":\"统计局\",\"title\":\"x\",\"kind\":\"party\","
             "\"start\":\"2026-12-01\",\"end\":\"2026-12-31\",\"targets\":[\"" COMMUNITY "\"]}",
             "department", COUNTY, "invalid", "kind");
    s_fails ("application.submit", "{\"department\":\"统计局\",\"title\":\"x\",\"kind\":\"task\","
             "\"start\":\"2026-12-31\",\"end\":\"2026-12-01\",\"targets\":[\"" COMMUNITY "\"]}",
             "department", COUNTY, "invalid", "end");
}

static void
test_targets_expand_to_the_registry_communities (void **state)
{
    sq_test_reply_t *reply = s_submit ("\"kind\":\"meeting\",\"targets\":[\"" COUNTY "\"],"
                                       "\"funds_per_community\":20000");
    assert_true (reply->ok);
    int64_t expected = s_count ("SELECT count(*) FROM registry.division WHERE level = 'community'"
                                " AND code LIKE '" COUNTY "%'");
    assert_true (expected > 10);
    assert_int_equal (sq_test_int (reply->result, "targets"), expected);
    char id[64], sql[256];
    sq_test_str (reply->result, "id", id, sizeof id);
    snprintf (sql, sizeof sql, "SELECT count(*) FROM admission.application_target t JOIN"
              " registry.division d ON d.code = t.community AND d.level = 'community'"
              " WHERE t.application = '%s'", id);
    assert_int_equal (s_count (sql), expected); //  exactly the registry's, none invented
    sq_test_reply_destroy (&reply);
    reply = s_submit ("\"kind\":\"meeting\",\"targets\":[\"" STREET "\"],\"funds_per_community\":1");
    assert_int_equal (sq_test_int (reply->result, "targets"),
                      s_count ("SELECT count(*) FROM registry.division WHERE level = 'community'"
                               " AND code LIKE '" STREET "%'"));
    sq_test_reply_destroy (&reply);
    s_fails ("application.submit", "{\"department\":\"统计局\",\"title\":\"x\",\"kind\":\"task\","
             "\"start\":\"2026-12-01\",\"end\":\"2026-12-31\",\"targets\":[\"" COMMUNITY "\","
             "\"131003001001\"]}", "department", "", "invalid", "targets");
    s_fails ("application.submit", "{\"department\":\"统计局\",\"title\":\"x\",\"kind\":\"task\","
             "\"start\":\"2026-12-01\",\"end\":\"2026-12-31\",\"targets\":[\"131002001999\"]}",
             "department", COUNTY, "not_found", "targets");
}

static void
test_review_agreements_and_withdrawal (void **state)
{
    char id[64], text[64], args[256];
    sq_test_reply_t *reply = s_submit ("\"kind\":\"task\",\"targets\":[\"" COMMUNITY "\","
                                       "\"131002001010\"],\"funds_per_community\":500000");
    assert_string_equal (sq_test_str (reply->result, "status", text, sizeof text),
                         "pending_review");
    assert_string_equal (sq_test_str (reply->result, "track", text, sizeof text),
                         "purchased_service");
    sq_test_str (reply->result, "id", id, sizeof id);
    sq_test_reply_destroy (&reply);

    snprintf (args, sizeof args, "{\"id\":\"%s\",\"decision\":\"approve\",\"note\":\"同意\"}", id);
    s_fails ("application.review", args, OFFICE_ROLE, "131003", "forbidden", "id");
    s_fails ("application.review", args, "district_official", COUNTY, "forbidden", "actor.role");
    reply = s_ok ("application.review", args, OFFICE_ROLE, COUNTY);
    assert_string_equal (sq_test_str (reply->result, "status", text, sizeof text), "approved");
    assert_int_equal (sq_test_int (reply->result, "agreements"), 2);
    assert_int_equal (sq_test_int (reply->result, "catalog_version"), 4);
    sq_test_reply_destroy (&reply);
    s_fails ("application.review", args, OFFICE_ROLE, COUNTY, "conflict", "id");

    sq_event_t *event = s_event ("admission.approved");
    const msgpack_object *targets = sq_obj_get (event->env.data, "targets");
    assert_int_equal (targets->via.array.size, 2);
    assert_int_equal (sq_test_int (&targets->via.array.ptr[0], "funds"), 500000);
    assert_true (sq_obj_get (event->env.data, "agreements")->via.boolean);
    sq_event_destroy (&event);

    reply = s_ok ("agreement.list", "{\"community\":\"" COMMUNITY "\"}", "community_staff",
                  COMMUNITY);
    const msgpack_object *agreements = sq_obj_get (reply->result, "agreements");
    assert_int_equal (agreements->via.array.size, 1);
    char agreement[64];
    sq_test_str (&agreements->via.array.ptr[0], "id", agreement, sizeof agreement);
    sq_test_reply_destroy (&reply);
    snprintf (args, sizeof args, "{\"id\":\"%s\"}", agreement);
    s_fails ("agreement.sign", args, "community_staff", "131002001010", "forbidden", "id");
    reply = s_ok ("agreement.sign", args, "community_staff", COMMUNITY);
    sq_test_reply_destroy (&reply);
    s_fails ("agreement.sign", args, "community_staff", COMMUNITY, "conflict", "id");
    event = s_event ("admission.agreement_signed");
    assert_string_equal (event->env.div, COMMUNITY);
    sq_event_destroy (&event);

    //  Withdrawn: the other community's pending agreement is void.
    snprintf (args, sizeof args, "{\"id\":\"%s\"}", id);
    reply = s_ok ("application.withdraw", args, "department", COUNTY);
    sq_test_reply_destroy (&reply);
    char sql[256];
    snprintf (sql, sizeof sql, "SELECT count(*) FROM admission.agreement WHERE application = '%s'"
              " AND status = 'void'", id);
    assert_int_equal (s_count (sql), 1);
    event = s_event ("admission.withdrawn");
    assert_true (sq_obj_str_eq (sq_obj_get (event->env.data, "previous_status"), "approved"));
    sq_event_destroy (&event);
    s_fails ("application.withdraw", args, "department", COUNTY, "conflict", "id");

    //  A city-level office is above the county and may review; a refusal is an event too.
    reply = s_submit ("\"kind\":\"task\",\"targets\":[\"" COMMUNITY "\"],\"funds_per_community\":1");
    sq_test_str (reply->result, "id", id, sizeof id);
    sq_test_reply_destroy (&reply);
    snprintf (args, sizeof args, "{\"id\":\"%s\",\"decision\":\"reject\",\"note\":\"经费不足\"}", id);
    reply = s_ok ("application.review", args, OFFICE_ROLE, "1310");
    assert_string_equal (sq_test_str (reply->result, "status", text, sizeof text), "refused");
    sq_test_reply_destroy (&reply);
    event = s_event ("admission.rejected");
    assert_true (sq_obj_str_eq (sq_obj_get (event->env.data, "by"), "review"));
    sq_event_destroy (&event);
    snprintf (args, sizeof args, "{\"id\":\"%s\"}", id);
    reply = s_ok ("application.get", args, "department", COUNTY);
    assert_string_equal (sq_test_str (reply->result, "review_note", text, sizeof text), "经费不足");
    sq_test_reply_destroy (&reply);
    reply = s_ok ("application.list", "{\"division\":\"" COMMUNITY "\",\"status\":\"refused\"}",
                  "department", COUNTY);
    assert_true (sq_obj_get (reply->result, "applications")->via.array.size >= 1);
    sq_test_reply_destroy (&reply);
}

//  Finds the burden entry of community in a burden.get result.
static const msgpack_object *
s_burden_of (const msgpack_object *result, const char *community)
{
    const msgpack_object *list = sq_obj_get (result, "communities");
    for (uint32_t i = 0; list && i < list->via.array.size; i++)
        if (sq_obj_str_eq (sq_obj_get (&list->via.array.ptr[i], "community"), community))
            return &list->via.array.ptr[i];
    return NULL;
}

static void
test_burden_equals_what_was_decided (void **state)
{
    sq_test_reply_t *reply = s_call ("application.submit", "{\"department\":\"城管局\","
                                     "\"title\":\"占道经营整治\",\"kind\":\"task\","
                                     "\"subject\":\"law_enforcement\",\"start\":\"2026-12-01\","
                                     "\"end\":\"2026-12-31\",\"targets\":[\"" COMMUNITY "\"]}",
                                     "department", COUNTY);
    assert_true (reply->ok);
    sq_test_reply_destroy (&reply);
    reply = s_submit ("\"kind\":\"task\",\"catalog_item\":\"A-01\",\"targets\":[\"" COMMUNITY "\"],"
                      "\"funds_per_community\":300000,\"staff_support\":true");
    char id[64], args[256];
    sq_test_str (reply->result, "id", id, sizeof id);
    sq_test_reply_destroy (&reply);
    snprintf (args, sizeof args, "{\"id\":\"%s\",\"decision\":\"approve\",\"note\":\"同意\"}", id);
    reply = s_ok ("application.review", args, OFFICE_ROLE, COUNTY);
    sq_test_reply_destroy (&reply);

    time_t now = time (NULL);
    struct tm tm;
    gmtime_r (&now, &tm);
    snprintf (args, sizeof args, "{\"division\":\"" COUNTY "\",\"year\":%d}", tm.tm_year + 1900);
    for (int round = 0; round < 2; round++) { //  computed, then from the cache: the same
        reply = s_ok ("burden.get", args, "district_official", COUNTY);
        const msgpack_object *mine = s_burden_of (reply->result, COMMUNITY);
        assert_non_null (mine);
        const char *where = " FROM admission.application_target t JOIN admission.application a"
                            " ON a.id = t.application WHERE t.community = '" COMMUNITY "'";
        char sql[512];
        snprintf (sql, sizeof sql, "SELECT count(*)%s AND a.status = 'approved'", where);
        assert_int_equal (sq_test_int (mine, "admitted"), s_count (sql));
        assert_true (sq_test_int (mine, "admitted") >= 1);
        snprintf (sql, sizeof sql, "SELECT count(*)%s AND a.status IN ('rejected', 'refused')", where);
        assert_int_equal (sq_test_int (mine, "rejected"), s_count (sql));
        snprintf (sql, sizeof sql, "SELECT coalesce (sum (t.funds), 0)%s AND a.status = 'approved'",
                  where);
        assert_int_equal (sq_test_int (mine, "funds"), s_count (sql));
        snprintf (sql, sizeof sql, "SELECT count(*)%s AND a.kind = 'meeting'", where);
        assert_int_equal (sq_test_int (mine, "meetings"), s_count (sql));
        const msgpack_object *by_reason = sq_obj_get (mine, "rejected_by_reason");
        assert_int_equal (sq_test_int (by_reason, "negative_list"), 2);
        assert_int_equal (sq_test_int (by_reason, "review"), 1);
        const msgpack_object *departments = sq_obj_get (reply->result, "departments_most_rejected");
        assert_true (departments->via.array.size >= 2);
        assert_true (sq_obj_str_eq (sq_obj_get (&departments->via.array.ptr[0], "department"),
                                    "统计局"));
        assert_int_equal (sq_test_int (&departments->via.array.ptr[0], "rejected"),
                          s_count ("SELECT count(*) FROM admission.application WHERE department ="
                                   " '统计局' AND status IN ('rejected', 'refused')"));
        sq_test_reply_destroy (&reply);
    }
}

static void
test_work_expires_after_its_end (void **state)
{
    sq_test_reply_t *reply = s_call ("application.submit", "{\"department\":\"统计局\","
                                     "\"title\":\"往年核查\",\"kind\":\"task\",\"start\":\"2020-01-01\","
                                     "\"end\":\"2020-12-31\",\"targets\":[\"" COMMUNITY "\"],"
                                     "\"funds_per_community\":100}", "department", COUNTY);
    assert_true (reply->ok);
    char id[64], args[256], text[32];
    sq_test_str (reply->result, "id", id, sizeof id);
    sq_test_reply_destroy (&reply);
    snprintf (args, sizeof args, "{\"id\":\"%s\",\"decision\":\"approve\",\"note\":\"同意\"}", id);
    reply = s_ok ("application.review", args, OFFICE_ROLE, COUNTY);
    sq_test_reply_destroy (&reply);
    sq_event_t *event = s_event ("admission.expired");
    assert_true (sq_obj_str_eq (sq_obj_get (event->env.data, "application"), id));
    assert_true (sq_obj_str_eq (sq_obj_get (event->env.data, "end"), "2020-12-31"));
    sq_event_destroy (&event);
    snprintf (args, sizeof args, "{\"id\":\"%s\"}", id);
    reply = s_ok ("application.get", args, "department", COUNTY);
    assert_string_equal (sq_test_str (reply->result, "status", text, sizeof text), "expired");
    sq_test_reply_destroy (&reply);
    char sql[256];
    snprintf (sql, sizeof sql, "SELECT count(*) FROM admission.agreement WHERE application = '%s'"
              " AND status <> 'void'", id);
    assert_int_equal (s_count (sql), 0); //  its agreement is void
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_catalogue_versions),
        cmocka_unit_test (test_screening_on_submission),
        cmocka_unit_test (test_targets_expand_to_the_registry_communities),
        cmocka_unit_test (test_review_agreements_and_withdrawal),
        cmocka_unit_test (test_burden_equals_what_was_decided),
        cmocka_unit_test (test_work_expires_after_its_end),
    };
    return cmocka_run_group_tests (tests, s_setup, s_teardown);
}
