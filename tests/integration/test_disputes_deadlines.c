/*  Disputes deadlines through the bus on real PostgreSQL and Redis, with days of one second
    (the service's day length is its only test setting; the code paths are the ones of real
    days) and the sweep every 200 ms: the policy and calendar commands, overdue marking once
    per missed deadline, pauses that stop the clock, automatic escalation, and deadlines
    judged on time or late in the history and the figures. */
#include "disputes.h"
#include "sq_test.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#define DAY_MS 1000                //  a deadline day in this test
#define STREET "131002001"         //  银河南路街道
#define LATE "131002001007"        //  吉祥社区: cases left to go overdue
#define PAUSED "131002001010"      //  兴安街社区: a paused case
#define ESCALATED "131002100201"   //  落垡村一街村: automatic escalation
#define CALENDAR "131002001014"    //  永祥街社区: a case under working days
#define CHANGED "131002001015"     //  前锋社区: a case whose policy changes
#define PARTY "[{\"name\":\"王五\",\"role\":\"applicant\"}]"

static sq_test_stack_t s_stack;
static disputes_t s_state;
static sq_service_t *s_disputes;
static sq_sub_t *s_sub;

static int
s_setup (void **state)
{
    (void) state;
    sq_test_stack_start (&s_stack, "disputes_deadlines");
    setenv ("SHEQU_SWEEP_MS", "200", 1);
    s_state.crypt = sq_crypt_new_from_env ();
    assert_non_null (s_state.crypt);
    s_state.day_us = DAY_MS * 1000;
    sq_service_config_t config;
    disputes_service_config (&s_state, &config);
    s_disputes = sq_test_service_start (&s_stack, &config);
    s_sub = sq_sub_new (bus_endpoint_events_out (s_stack.bus), bus_endpoint_commands (s_stack.bus));
    sq_sub_track (s_sub, "disputes", 0);
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

static void
s_do (const char *cmd, const char *args, const char *role, const char *scope)
{
    sq_test_reply_t *reply = s_ok (cmd, args, role, scope);
    sq_test_reply_destroy (&reply);
}

static int64_t
s_count (const char *sql)
{
    return sq_test_db_int (s_stack.db, sql);
}

static void
s_file (const char *community, char id[SQ_TEXT_ID_MAX])
{
    char args[512];
    snprintf (args, sizeof args, "{\"community\":\"%s\",\"category\":\"property_management\","
              "\"source\":\"hotline\",\"summary\":\"物业费争议\",\"parties\":" PARTY "}",
              community);
    sq_test_reply_t *reply = s_ok ("case.file", args, "community_staff", community);
    sq_test_str (reply->result, "id", id, SQ_TEXT_ID_MAX);
    sq_test_reply_destroy (&reply);
}

static void
s_step (const char *cmd, const char *id, const char *extra, const char *role, const char *scope)
{
    char args[512];
    snprintf (args, sizeof args, "{\"id\":\"%s\"%s}", id, extra ? extra : "");
    s_do (cmd, args, role, scope);
}

//  case.get of id (the caller destroys the reply).
static sq_test_reply_t *
s_get (const char *id)
{
    char args[256];
    snprintf (args, sizeof args, "{\"id\":\"%s\"}", id);
    return s_ok ("case.get", args, "operator", "");
}

static void
test_policy_and_calendar (void **state)
{
    (void) state;
    sq_test_reply_t *reply = s_ok ("policy.get", "{}", "district_official", "131002");
    assert_int_equal (sq_test_int (reply->result, "accept_days"), 3);
    assert_int_equal (sq_test_int (reply->result, "resolve_days"), 30);
    assert_int_equal (sq_test_int (reply->result, "followup_days"), 15);
    assert_int_equal (sq_test_int (reply->result, "day_us"), DAY_MS * 1000);
    assert_false (sq_obj_get (reply->result, "working_days")->via.boolean);
    sq_test_reply_destroy (&reply);
    s_fails ("policy.put", "{\"accept_days\":2}", "community_staff", LATE, "forbidden", NULL);
    s_fails ("policy.put", "{\"accept_days\":0}", "operator", "", "invalid", "accept_days");
    s_fails ("policy.put", "{\"resolve_days\":366}", "operator", "", "invalid", "resolve_days");
    s_fails ("policy.put", "{}", "operator", "", "invalid", NULL);
    //  The calendar: a year's holidays and adjusted workdays (2026-02-14 was a Saturday).
    s_fails ("calendar.put", "{\"year\":2026,\"holidays\":[\"2026-02-16\"],\"workdays\":"
             "[\"2026-02-16\"]}", "operator", "", "invalid", "workdays");
    s_fails ("calendar.put", "{\"year\":2026,\"holidays\":[\"2026-02-30\"]}", "operator", "",
             "invalid", "holidays");
    s_fails ("calendar.put", "{\"year\":2026,\"holidays\":[\"2025-10-01\"]}", "operator", "",
             "invalid", "holidays");
    s_fails ("calendar.put", "{\"year\":2026,\"holidays\":[\"2026-10-01\",\"2026-10-01\"]}",
             "operator", "", "invalid", "holidays");
    s_fails ("calendar.put", "{\"year\":2026,\"holidays\":[],\"workdays\":[\"2026-02-13\"]}",
             "operator", "", "invalid", "workdays");
    s_do ("calendar.put", "{\"year\":2026,\"holidays\":[\"2026-01-01\"]}", "operator", "");
    reply = s_ok ("calendar.put", "{\"year\":2026,\"holidays\":[\"2026-02-16\",\"2026-02-17\"],"
                  "\"workdays\":[\"2026-02-14\"]}", "city_official", "13");
    const msgpack_object *holidays = sq_obj_get (reply->result, "holidays");
    assert_int_equal (holidays->via.array.size, 2); //  the year's entries were replaced
    assert_true (sq_obj_str_eq (&holidays->via.array.ptr[0], "2026-02-16"));
    assert_true (sq_obj_str_eq (&sq_obj_get (reply->result, "workdays")->via.array.ptr[0],
                                "2026-02-14"));
    sq_test_reply_destroy (&reply);
    assert_int_equal (s_count ("SELECT count(*) FROM disputes.calendar_day"), 3);
    //  Working days read the calendar: a case filed then still gets its deadline. (Which
    //  days count is unit-tested in test_deadline with real-length days.)
    s_do ("policy.put", "{\"working_days\":true}", "operator", "");
    char id[SQ_TEXT_ID_MAX];
    s_file (CALENDAR, id);
    reply = s_get (id);
    assert_true (sq_test_int (sq_obj_get (reply->result, "deadline"), "due") > sq_now_us ());
    sq_test_reply_destroy (&reply);
    s_do ("policy.put", "{\"working_days\":false}", "operator", "");
    //  The short deadlines the rest of this test runs under.
    reply = s_ok ("policy.put", "{\"accept_days\":1,\"resolve_days\":1,\"followup_days\":2}",
                  "operator", "");
    assert_int_equal (sq_test_int (reply->result, "accept_days"), 1);
    assert_int_equal (sq_test_int (reply->result, "followup_days"), 2);
    sq_test_reply_destroy (&reply);
}

//  Deadlines come from the history and the policy as it stands: changing the policy moves
//  an open case's deadline, and changing it back restores it exactly.
static void
test_a_policy_change_moves_open_deadlines (void **state)
{
    (void) state;
    char id[SQ_TEXT_ID_MAX];
    s_file (CHANGED, id);
    sq_test_reply_t *reply = s_get (id);
    int64_t due = sq_test_int (sq_obj_get (reply->result, "deadline"), "due");
    sq_test_reply_destroy (&reply);
    s_do ("policy.put", "{\"accept_days\":3}", "operator", "");
    reply = s_get (id);
    assert_int_equal (sq_test_int (sq_obj_get (reply->result, "deadline"), "due"),
                      due + 2 * DAY_MS * 1000);
    sq_test_reply_destroy (&reply);
    s_do ("policy.put", "{\"accept_days\":1}", "operator", "");
    reply = s_get (id);
    assert_int_equal (sq_test_int (sq_obj_get (reply->result, "deadline"), "due"), due);
    sq_test_reply_destroy (&reply);
}

static void
test_overdue_marked_once_per_missed_deadline (void **state)
{
    (void) state;
    char id[SQ_TEXT_ID_MAX], text[64];
    s_file (LATE, id);
    sq_event_t *event = sq_test_event_about (s_sub, "case", id, "disputes.case_filed");
    int64_t due = sq_test_int (event->env.data, "due");
    //  One day to accept: due at the end of the day after filing, 1 to 2 days away. Filed
    //  is the case's own time (the envelope's at comes a moment later and, with one-second
    //  days, can fall into the next day: that failed once).
    sq_test_reply_t *filed_reply = s_get (id);
    int64_t filed = sq_test_int (filed_reply->result, "filed_at");
    sq_test_reply_destroy (&filed_reply);
    assert_true (due > filed + DAY_MS * 1000 && due <= filed + 2 * DAY_MS * 1000);
    sq_event_destroy (&event);
    event = sq_test_event_about (s_sub, "case", id, "disputes.case_overdue");
    assert_string_equal (sq_test_str (event->env.data, "missed", text, sizeof text), "accept");
    assert_int_equal (sq_test_int (event->env.data, "missed_due"), due);
    assert_true ((int64_t) event->env.at > due);
    assert_false (sq_obj_get (event->env.data, "auto_escalate")->via.boolean);
    sq_event_destroy (&event);
    //  Several sweeps later there is still one mark and one event.
    usleep (1000 * 1000);
    char sql[256];
    snprintf (sql, sizeof sql, "SELECT count(*) FROM disputes.overdue WHERE dispute = '%s'", id);
    assert_int_equal (s_count (sql), 1);
    snprintf (sql, sizeof sql, "SELECT count(*) FROM disputes.outbox WHERE type ="
              " 'disputes.case_overdue' AND position ('%s' in encode (data, 'escape')) > 0", id);
    assert_int_equal (s_count (sql), 1);
    //  Listed as overdue, and shown so.
    sq_test_reply_t *reply = s_ok ("case.list", "{\"division\":\"" LATE "\",\"overdue\":true}",
                                   "community_staff", LATE);
    const msgpack_object *cases = sq_obj_get (reply->result, "cases");
    assert_int_equal (cases->via.array.size, 1);
    assert_string_equal (sq_test_str (&cases->via.array.ptr[0], "id", text, sizeof text), id);
    sq_test_reply_destroy (&reply);
    reply = s_get (id);
    assert_true (sq_obj_get (sq_obj_get (reply->result, "deadline"), "overdue")->via.boolean);
    assert_true (sq_obj_get (reply->result, "overdue_marked")->via.boolean);
    sq_test_reply_destroy (&reply);
    //  Accepted late: judged late in the history and in the figures; no longer overdue.
    s_step ("case.accept", id, NULL, "community_staff", LATE);
    reply = s_get (id);
    const msgpack_object *history = sq_obj_get (reply->result, "history");
    const msgpack_object *accept = &history->via.array.ptr[1];
    assert_string_equal (sq_test_str (accept, "deadline", text, sizeof text), "accept");
    assert_false (sq_obj_get (accept, "on_time")->via.boolean);
    assert_int_equal (sq_test_int (accept, "due_at"), due);
    assert_false (sq_obj_get (reply->result, "overdue_marked")->via.boolean);
    sq_test_reply_destroy (&reply);
    reply = s_ok ("case.list", "{\"division\":\"" LATE "\",\"overdue\":true}", "community_staff",
                  LATE);
    assert_int_equal (sq_obj_get (reply->result, "cases")->via.array.size, 0);
    sq_test_reply_destroy (&reply);
    //  A case accepted at once is on time.
    char quick[SQ_TEXT_ID_MAX];
    s_file (LATE, quick);
    s_step ("case.accept", quick, NULL, "community_staff", LATE);
    reply = s_ok ("stats.get", "{\"division\":\"" LATE "\",\"from\":0,\"to\":4102444800000000}",
                  "community_staff", LATE);
    const msgpack_object *on_time = sq_obj_get (sq_obj_get (reply->result, "on_time"), "accept");
    assert_int_equal (sq_test_int (on_time, "judged"), 2);
    assert_int_equal (sq_test_int (on_time, "on_time"), 1);
    assert_true (sq_obj_get (on_time, "rate")->via.f64 == 0.5);
    sq_test_reply_destroy (&reply);
}

static void
test_a_pause_stops_the_clock (void **state)
{
    (void) state;
    char id[SQ_TEXT_ID_MAX];
    s_file (PAUSED, id);
    s_step ("case.pause", id, ",\"reason\":\"等待物业公司答复\"", "community_staff", PAUSED);
    sq_test_reply_t *reply = s_get (id);
    const msgpack_object *deadline = sq_obj_get (reply->result, "deadline");
    assert_true (sq_obj_get (deadline, "paused")->via.boolean);
    assert_true (sq_obj_get (deadline, "due")->type == MSGPACK_OBJECT_NIL);
    sq_test_reply_destroy (&reply);
    //  Three days paused: long past the one-day deadline, yet nothing is marked.
    usleep (3 * DAY_MS * 1000);
    char sql[256];
    snprintf (sql, sizeof sql, "SELECT count(*) FROM disputes.overdue WHERE dispute = '%s'", id);
    assert_int_equal (s_count (sql), 0);
    s_step ("case.resume", id, NULL, "community_staff", PAUSED);
    int64_t resumed = sq_now_us ();
    reply = s_get (id);
    deadline = sq_obj_get (reply->result, "deadline");
    int64_t due = sq_test_int (deadline, "due");
    //  The paused days do not count: the one counting day comes after the resumption.
    assert_true (due > resumed);
    assert_false (sq_obj_get (deadline, "overdue")->via.boolean);
    sq_test_reply_destroy (&reply);
    //  And it is marked once that day has passed.
    sq_event_t *event = sq_test_event_about (s_sub, "case", id, NULL);
    while (strcmp (event->env.type, "disputes.case_overdue")) {
        sq_event_destroy (&event);
        event = sq_test_event_about (s_sub, "case", id, NULL);
    }
    assert_int_equal (sq_test_int (event->env.data, "missed_due"), due);
    sq_event_destroy (&event);
}

static void
test_missed_resolution_escalates_when_the_policy_says_so (void **state)
{
    (void) state;
    s_do ("policy.put", "{\"auto_escalate\":true}", "operator", "");
    char id[SQ_TEXT_ID_MAX], text[64];
    s_file (ESCALATED, id);
    s_step ("case.accept", id, NULL, "community_staff", ESCALATED);
    s_step ("case.assign", id, ",\"mediator\":\"m-9\"", "community_staff", ESCALATED);
    static const char *const order[] = {"disputes.case_filed", "disputes.case_accepted",
                                        "disputes.case_assigned", "disputes.case_overdue",
                                        "disputes.case_failed", "disputes.case_escalated"};
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
        sq_event_t *event = sq_test_event_about (s_sub, "case", id, order[i]);
        if (i == 3) {
            assert_string_equal (sq_test_str (event->env.data, "missed", text, sizeof text),
                                 "resolve");
            assert_true (sq_obj_get (event->env.data, "auto_escalate")->via.boolean);
        }
        if (i == 5) {
            assert_string_equal (sq_test_str (event->env.data, "level", text, sizeof text),
                                 "street");
            assert_string_equal (sq_test_str (event->env.data, "deadline", text, sizeof text),
                                 "accept");
            assert_string_equal (event->env.actor, "disputes-sweep");
        }
        sq_event_destroy (&event);
    }
    sq_test_reply_t *reply = s_get (id);
    assert_string_equal (sq_test_str (reply->result, "status", text, sizeof text), "escalated");
    assert_string_equal (sq_test_str (reply->result, "level", text, sizeof text), "street");
    sq_test_reply_destroy (&reply);
    //  The street takes it over; the community can no longer act on it.
    char args[256];
    snprintf (args, sizeof args, "{\"id\":\"%s\"}", id);
    s_fails ("case.accept", args, "community_staff", ESCALATED, "forbidden", "id");
    s_step ("case.accept", id, NULL, "street_official", "131002100");
    s_do ("policy.put", "{\"auto_escalate\":false}", "operator", "");
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_policy_and_calendar),
        cmocka_unit_test (test_a_policy_change_moves_open_deadlines),
        cmocka_unit_test (test_overdue_marked_once_per_missed_deadline),
        cmocka_unit_test (test_a_pause_stops_the_clock),
        cmocka_unit_test (test_missed_resolution_escalates_when_the_policy_says_so),
    };
    return cmocka_run_group_tests (tests, s_setup, s_teardown);
}
