/*  Notify through the bus on real PostgreSQL and Redis (issue 6), with the registry and the
    disputes service in this process and a real HTTP receiver (tests/support/sq_test_http.c):
    a dispute filed in a community reaches that community's staff inbox and a subscribed
    department's webhook with a valid signature; a receiver down for a while gets the
    delivery once when it returns; a replay of the whole stream delivers nothing twice; a
    receiver that always fails makes a dead letter, sent again by deadletter.retry once fixed.
    And the commands' checks. */
#include "disputes.h"
#include "notify.h"
#include "sq_test.h"
#include "sq_test_http.h"

#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#define COMMUNITY "131002001007" //  吉祥社区
#define STREET "131002001"
#define DEPARTMENT "dept-justice" //  the subscribed department (司法局)
#define SECRET "a-webhook-secret-of-the-justice-bureau"
#define WAIT_MS 30000
#define SETTLE_MS 1500 //  time in which a wrong second delivery would have shown up

static sq_test_stack_t s_stack;
static disputes_t s_disputes_state;
static notify_t s_state;
static sq_crypt_t *s_crypt;
static sq_service_t *s_disputes;
static sq_service_t *s_notify;
static sq_test_http_t *s_http;
static sq_sub_t *s_sub; //  the notify stream
static char s_staff[64];
static char s_id_number[19];

static sq_service_t *
s_notify_start (void)
{
    sq_service_config_t config;
    notify_service_config (&s_state, &config);
    config.events_out = bus_endpoint_events_out (s_stack.bus);
    return sq_test_service_start (&s_stack, &config);
}

static int
s_setup (void **state)
{
    (void) state;
    //  Deliveries are swept every 100 ms and retried after at most 100 ms × 2^(n-1).
    setenv ("SHEQU_SWEEP_MS", "100", 1);
    setenv (NOTIFY_RETRY_BASE_ENV, "100", 1);
    setenv (NOTIFY_STREAMS_ENV, "registry,disputes", 1);
    sq_test_stack_start (&s_stack, "notify");
    s_crypt = sq_crypt_new_from_env ();
    assert_non_null (s_crypt);
    s_disputes_state = (disputes_t) {.crypt = s_crypt, .day_us = DISPUTES_DAY_US};
    sq_service_config_t config;
    disputes_service_config (&s_disputes_state, &config);
    s_disputes = sq_test_service_start (&s_stack, &config);
    assert_int_equal (notify_state_init (&s_state, s_crypt), 0);
    s_notify = s_notify_start ();
    s_http = sq_test_http_new (0);
    assert_non_null (s_http);
    s_sub = sq_sub_new (bus_endpoint_events_out (s_stack.bus),
                        bus_endpoint_commands (s_stack.bus));
    sq_sub_track (s_sub, "notify", 0);
    sq_test_id_number (11, s_id_number);
    return 0;
}

static int
s_teardown (void **state)
{
    (void) state;
    sq_sub_destroy (&s_sub);
    sq_service_destroy (&s_notify);
    sq_service_destroy (&s_disputes);
    sq_test_http_destroy (&s_http);
    sq_test_stack_stop (&s_stack);
    notify_state_destroy (&s_state);
    sq_crypt_destroy (&s_crypt);
    return 0;
}

// ---- helpers ------------------------------------------------------------------------------

static sq_test_reply_t *
s_ok (const char *cmd, const char *args, const char *role, const char *scope)
{
    return sq_test_ok (s_stack.client, "notify", cmd, args, role, scope);
}

static void
s_fails (const char *cmd, const char *args, const char *code, const char *field)
{
    sq_test_fails (s_stack.client, "notify", cmd, args, "operator", "", code, field);
}

static int64_t
s_count (const char *sql)
{
    return sq_test_db_int (s_stack.db, sql);
}

//  Waits until the query's count reaches at least n; fails the test after WAIT_MS.
static void
s_wait_count (const char *sql, int64_t n)
{
    sq_test_db_wait (s_stack.db, sql, n, WAIT_MS);
}

//  Waits until the receiver has accepted at least n requests.
static void
s_wait_accepted (int n)
{
    int64_t deadline = sq_clock_ms () + WAIT_MS;
    while (sq_test_http_accepted (s_http) < n) {
        if (sq_clock_ms () > deadline)
            fail_msg ("the receiver accepted %d requests, not %d", sq_test_http_accepted (s_http),
                      n);
        usleep (20000);
    }
}

//  Files a case in COMMUNITY; its id into out.
static void
s_file (char out[SQ_TEXT_ID_MAX])
{
    char args[1024];
    snprintf (args, sizeof args, "{\"community\":\"" COMMUNITY "\",\"category\":\"neighbour\","
              "\"source\":\"visit\",\"summary\":\"楼上漏水\",\"parties\":[{\"name\":\"张三\","
              "\"role\":\"applicant\",\"id_number\":\"%s\"},{\"name\":\"李四\","
              "\"role\":\"respondent\"}]}", s_id_number);
    sq_test_reply_t *reply = sq_test_ok (s_stack.client, "disputes", "case.file", args,
                                         "community_staff", COMMUNITY);
    sq_test_str (reply->result, "id", out, SQ_TEXT_ID_MAX);
    sq_test_reply_destroy (&reply);
}

//  The webhook delivery of the case_filed event of case id: SQL selecting its column.
static void
s_webhook_sql (char *sql, size_t size, const char *what, const char *case_id)
{
    snprintf (sql, size, "SELECT %s FROM notify.delivery d WHERE channel = 'webhook' AND"
              " recipient = '" DEPARTMENT "' AND body LIKE '%%%s%%'", what, case_id);
}

//  The receiver's accepted requests whose body names the case.
static int
s_accepted_for (const char *case_id)
{
    int count = 0;
    for (int i = 0; i < sq_test_http_count (s_http); i++) {
        sq_test_http_request_t r;
        if (sq_test_http_request (s_http, i, &r))
            continue;
        count += r.status == 200 && strstr (r.body, case_id) != NULL;
        free (r.body);
    }
    return count;
}

// ---- tests --------------------------------------------------------------------------------

static void
test_commands_check_their_input (void **state)
{
    (void) state;
    //  Staff of the community and of its street, in the registry.
    sq_test_reply_t *reply = sq_test_ok (s_stack.client, "registry", "staff.add",
                                         "{\"community\":\"" COMMUNITY "\",\"name\":\"王书记\","
                                         "\"role\":\"secretary\"}", "community_staff",
                                         COMMUNITY);
    sq_test_str (reply->result, "id", s_staff, sizeof s_staff);
    sq_test_reply_destroy (&reply);
    //  The department's webhook, for cases filed in the district.
    char args[1024];
    snprintf (args, sizeof args, "{\"subscriber\":\"" DEPARTMENT "\",\"channel\":\"webhook\","
              "\"address\":\"http://127.0.0.1:%d/hooks/shequ\",\"topics\":"
              "[\"disputes.case_filed.131002\"],\"secret\":\"" SECRET "\"}",
              sq_test_http_port (s_http));
    reply = s_ok ("subscription.put", args, "operator", "");
    sq_test_reply_destroy (&reply);
    //  The tests' actor id is "test": as a department it may only subscribe "test".
    sq_test_fails (s_stack.client, "notify", "subscription.put", args, "department", "",
                   "forbidden", "subscriber");
    s_fails ("subscription.put", "{\"subscriber\":\"x\",\"channel\":\"webhook\",\"address\":"
             "\"https://example.org/\",\"topics\":[\"\"],\"secret\":\"" SECRET "\"}", "invalid",
             "address");
    s_fails ("subscription.put", "{\"subscriber\":\"x\",\"channel\":\"webhook\",\"address\":"
             "\"http://example.org/\",\"topics\":[\"\"],\"secret\":\"short\"}", "invalid",
             "secret");
    s_fails ("subscription.put", "{\"subscriber\":\"x\",\"channel\":\"sms\",\"address\":"
             "\"12345\",\"topics\":[\"\"]}", "invalid", "address");
    s_fails ("subscription.put", "{\"subscriber\":\"x\",\"channel\":\"fax\",\"address\":"
             "\"1\",\"topics\":[\"\"]}", "invalid", "channel");
    s_fails ("subscription.put", "{\"subscriber\":\"x\",\"channel\":\"inbox\",\"topics\":[]}",
             "invalid", "topics");
    //  Templates: placeholders must be fields of the event type's contract.
    reply = s_ok ("template.put", "{\"type\":\"disputes.case_filed\",\"channel\":\"inbox\","
                  "\"body\":\"新纠纷（{category|label}），社区 {community}，{at|time}\"}",
                  "operator", "");
    sq_test_reply_destroy (&reply);
    s_fails ("template.put", "{\"type\":\"disputes.case_filed\",\"channel\":\"inbox\","
             "\"body\":\"{applicant_name}\"}", "invalid", "body");
    s_fails ("template.put", "{\"type\":\"disputes.no_such\",\"channel\":\"inbox\","
             "\"body\":\"x\"}", "not_found", "type");
    s_fails ("template.put", "{\"type\":\"../../etc/passwd\",\"channel\":\"inbox\","
             "\"body\":\"x\"}", "invalid", "type");
    s_fails ("template.put", "{\"type\":\"disputes.case_filed\",\"channel\":\"email\","
             "\"body\":\"x\"}", "invalid", "subject");
    //  Rules: checked by the core; defaults listed; one added and removed.
    reply = s_ok ("rule.put", "{\"id\":\"street.filed\",\"match\":\"disputes.case_filed\","
                  "\"audience\":\"role\",\"role\":\"street_official\",\"level\":\"street\","
                  "\"channels\":[\"inbox\"]}", "operator", "");
    sq_test_reply_destroy (&reply);
    s_fails ("rule.put", "{\"id\":\"x\",\"match\":\"disputes.case_filed\",\"audience\":\"role\","
             "\"role\":\"king\",\"channels\":[\"inbox\"]}", "invalid", "role");
    s_fails ("rule.put", "{\"id\":\"x\",\"match\":\"disputes.case_filed\",\"audience\":\"role\","
             "\"role\":\"street_official\",\"channels\":[\"pigeon\"]}", "invalid", "channels");
    s_fails ("rule.put", "{\"match\":\"disputes.\",\"audience\":\"subscribers\"}", "invalid",
             "id");
    sq_test_fails (s_stack.client, "notify", "rule.put", "{\"id\":\"x\",\"match\":\"\","
                   "\"audience\":\"subscribers\"}", "resident", "", "forbidden", "actor.role");
    reply = s_ok ("rule.list", "{}", "operator", "");
    int count = (int) sq_test_int (reply->result, "count");
    int defaults = 0;
    notify_rules_default (&defaults);
    assert_int_equal (count, defaults + 1);
    sq_test_reply_destroy (&reply);
    reply = s_ok ("rule.remove", "{\"id\":\"street.filed\"}", "operator", "");
    sq_test_reply_destroy (&reply);
    s_fails ("rule.remove", "{\"id\":\"street.filed\"}", "not_found", "id");
    //  Inboxes are their owners'.
    sq_test_fails (s_stack.client, "notify", "inbox.list", "{\"recipient\":\"someone\"}",
                   "community_staff", COMMUNITY, "forbidden", "recipient");
    s_fails ("inbox.list", "{}", "invalid", "recipient");
    s_fails ("deadletter.retry", "{\"delivery\":\"nope\"}", "not_found", "delivery");
}

static void
test_case_reaches_staff_inbox_and_signed_webhook (void **state)
{
    (void) state;
    char case_id[SQ_TEXT_ID_MAX], sql[512], args[256];
    s_file (case_id);
    //  The staff's inbox, with the template put above.
    snprintf (sql, sizeof sql, "SELECT count(*) FROM notify.message WHERE recipient = '%s'",
              s_staff);
    s_wait_count (sql, 1);
    snprintf (args, sizeof args, "{\"recipient\":\"%s\",\"unread_only\":true}", s_staff);
    sq_test_reply_t *reply = s_ok ("inbox.list", args, "operator", "");
    assert_int_equal (sq_test_int (reply->result, "count"), 1);
    const msgpack_object *message = &sq_obj_get (reply->result, "messages")->via.array.ptr[0];
    char body[512], id[64];
    sq_test_str (message, "body", body, sizeof body);
    sq_test_str (message, "id", id, sizeof id);
    assert_non_null (strstr (body, "邻里纠纷"));
    assert_non_null (strstr (body, COMMUNITY));
    sq_test_reply_destroy (&reply);
    snprintf (args, sizeof args, "{\"recipient\":\"%s\",\"message\":\"%s\"}", s_staff, id);
    reply = s_ok ("inbox.mark_read", args, "operator", "");
    sq_test_reply_destroy (&reply);
    snprintf (sql, sizeof sql, "SELECT count(*) FROM notify.message WHERE recipient = '%s'"
              " AND read_at IS NULL", s_staff);
    assert_int_equal (s_count (sql), 0);
    //  notify.delivered, checked against its contract.
    sq_event_t *event = sq_test_event_about (s_sub, "recipient", s_staff, "notify.delivered");
    sq_event_destroy (&event);
    //  The department's webhook: the event as JSON, signed with its secret.
    s_wait_accepted (1);
    assert_int_equal (s_accepted_for (case_id), 1);
    sq_test_http_request_t r;
    assert_int_equal (sq_test_http_request (s_http, 0, &r), 0);
    assert_string_equal (r.path, "/hooks/shequ");
    assert_non_null (strstr (r.body, "\"type\":\"disputes.case_filed\""));
    int64_t timestamp = strtoll (r.timestamp, NULL, 10);
    assert_true (notify_verify ((const uint8_t *) SECRET, strlen (SECRET), timestamp, r.body,
                                r.body_size, r.signature, sq_now_us () / 1000000,
                                NOTIFY_SIGN_TOLERANCE_S));
    assert_false (notify_verify ((const uint8_t *) "another-secret-of-16-bytes", 26, timestamp,
                                 r.body, r.body_size, r.signature, sq_now_us () / 1000000,
                                 NOTIFY_SIGN_TOLERANCE_S));
    free (r.body);
    event = sq_test_event_about (s_sub, "recipient", DEPARTMENT, "notify.delivered");
    sq_event_destroy (&event);
}

static void
test_receiver_down_then_delivered_once (void **state)
{
    (void) state;
    assert_int_equal (sq_test_http_down (s_http), 0);
    char case_id[SQ_TEXT_ID_MAX], sql[512];
    s_file (case_id);
    //  Tried while the receiver is down: the delivery waits with failed attempts.
    s_webhook_sql (sql, sizeof sql, "count(*)", case_id);
    s_wait_count (sql, 1);
    char attempts[512];
    snprintf (attempts, sizeof attempts, "SELECT count(*) FROM notify.attempt a JOIN"
              " notify.delivery d ON d.id = a.delivery WHERE NOT a.ok AND d.channel = 'webhook'"
              " AND d.body LIKE '%%%s%%'", case_id);
    s_wait_count (attempts, 2);
    s_webhook_sql (sql, sizeof sql, "status", case_id);
    char *status = sq_test_db_value (s_stack.db, sql);
    assert_string_equal (status, "pending");
    free (status);
    assert_int_equal (sq_test_http_up (s_http), 0);
    s_webhook_sql (sql, sizeof sql, "count(*)", case_id);
    char delivered[600];
    snprintf (delivered, sizeof delivered, "%s AND status = 'delivered'", sql);
    s_wait_count (delivered, 1);
    usleep (SETTLE_MS * 1000);
    assert_int_equal (s_accepted_for (case_id), 1);
}

static void
test_replay_delivers_nothing_twice (void **state)
{
    (void) state;
    int64_t deliveries = s_count ("SELECT count(*) FROM notify.delivery");
    int64_t messages = s_count ("SELECT count(*) FROM notify.message");
    int accepted = sq_test_http_accepted (s_http);
    int64_t last = s_count ("SELECT max(seq) FROM notify.inbox WHERE src = 'disputes'");
    assert_true (last >= 2);
    //  Forget every event applied: the restarted consumer replays both streams from seq 1.
    sq_service_destroy (&s_notify);
    assert_int_equal (s_count ("WITH d AS (DELETE FROM notify.inbox RETURNING 1)"
                               " SELECT count(*) FROM d") > 0, 1);
    s_notify = s_notify_start ();
    char sql[256];
    snprintf (sql, sizeof sql, "SELECT count(*) FROM notify.inbox WHERE src = 'disputes'");
    s_wait_count (sql, last);
    usleep (SETTLE_MS * 1000);
    assert_int_equal (s_count ("SELECT count(*) FROM notify.delivery"), deliveries);
    assert_int_equal (s_count ("SELECT count(*) FROM notify.message"), messages);
    assert_int_equal (sq_test_http_accepted (s_http), accepted);
}

static void
test_dead_letter_then_retry (void **state)
{
    (void) state;
    s_state.retry.attempts_max = 3; //  read by every sweep
    sq_test_http_set_status (s_http, 500);
    char case_id[SQ_TEXT_ID_MAX], sql[512], delivery[64];
    s_file (case_id);
    s_webhook_sql (sql, sizeof sql, "count(*)", case_id);
    char dead[600];
    snprintf (dead, sizeof dead, "%s AND status = 'dead'", sql);
    s_wait_count (dead, 1);
    s_webhook_sql (sql, sizeof sql, "id", case_id);
    char *id = sq_test_db_value (s_stack.db, sql);
    snprintf (delivery, sizeof delivery, "%s", id);
    free (id);
    sq_event_t *event = sq_test_event_about (s_sub, "delivery", delivery, "notify.dead_lettered");
    char error[128];
    sq_test_str (event->env.data, "error", error, sizeof error);
    assert_string_equal (error, "receiver answered HTTP 500");
    sq_event_destroy (&event);
    sq_test_reply_t *reply = s_ok ("deadletter.list", "{}", "operator", "");
    assert_int_equal (sq_test_int (reply->result, "count"), 1);
    sq_test_reply_destroy (&reply);
    assert_int_equal (s_accepted_for (case_id), 0);
    //  Fixed, then sent again.
    sq_test_http_set_status (s_http, 200);
    char args[128];
    snprintf (args, sizeof args, "{\"delivery\":\"%s\"}", delivery);
    reply = s_ok ("deadletter.retry", args, "operator", "");
    sq_test_reply_destroy (&reply);
    s_fails ("deadletter.retry", args, "not_found", "delivery");
    event = sq_test_event_about (s_sub, "delivery", delivery, "notify.delivered");
    sq_event_destroy (&event);
    usleep (SETTLE_MS * 1000);
    assert_int_equal (s_accepted_for (case_id), 1);
    reply = s_ok ("deadletter.list", "{}", "operator", "");
    assert_int_equal (sq_test_int (reply->result, "count"), 0);
    sq_test_reply_destroy (&reply);
    snprintf (args, sizeof args, "{\"event\":null,\"recipient\":\"" DEPARTMENT "\"}");
    reply = s_ok ("delivery.list", args, "auditor", "");
    assert_true (sq_test_int (reply->result, "count") >= 3);
    sq_test_reply_destroy (&reply);
    s_state.retry.attempts_max = NOTIFY_ATTEMPTS_MAX;
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_commands_check_their_input),
        cmocka_unit_test (test_case_reaches_staff_inbox_and_signed_webhook),
        cmocka_unit_test (test_receiver_down_then_delivered_once),
        cmocka_unit_test (test_replay_delivers_nothing_twice),
        cmocka_unit_test (test_dead_letter_then_retry),
    };
    return cmocka_run_group_tests (tests, s_setup, s_teardown);
}
