/*  Notify's SMS and e-mail channels, fallback, quiet hours and digests, through the bus on
    real PostgreSQL and Redis (issue 6), with the registry and disputes in this process, the
    SMS provider played by a real HTTP server (tests/support/sq_test_http.c) and the mail
    relay by a real SMTP server (tests/support/sq_test_smtp.c): an SMS goes out with its
    body; an e-mail with its RFC 2047 subject and base64 body; a 4xx is retried, a refusal
    falls back to the rule's next channel; a normal SMS waits out quiet hours (the clock
    shifted with SHEQU_NOTIFY_CLOCK_OFFSET_MS) while an urgent one goes at once; a burst of
    500 events for one person arrives as digests with none lost; and with Redis killed in
    the middle of a burst the rate is counted in PostgreSQL and still nothing is lost. */
#include "disputes.h"
#include "notify.h"
#include "sq_json.h"
#include "sq_test.h"
#include "sq_test_http.h"
#include "sq_test_smtp.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#define COMMUNITY "131002001007" //  吉祥社区
#define SMS_PATH "/v1/sms/send"
#define SMS_KEY "test-api-key-1"
#define SMS_SIGN "【吉祥社区】"
#define MAIL_FROM "notify@shequ.example.cn"
#define RATE_WINDOW_MS "15000"
#define RATE_MAX 5
#define BURST 500
#define REDIS_BURST_BEFORE 10 //  events of the Redis test while Redis is up
#define REDIS_BURST_AFTER 30  //  and after it is killed
#define WAIT_MS 30000
#define BURST_WAIT_MS 300000  //  500 cases filed, consumed, folded and sent (ASan is slow)
#define NOON_US (INT64_C (12) * NOTIFY_HOUR_US)

static sq_test_stack_t s_stack;
static disputes_t s_disputes_state;
static notify_t s_state;
static sq_crypt_t *s_crypt;
static sq_service_t *s_disputes;
static sq_service_t *s_notify;
static sq_test_http_t *s_http; //  the SMS provider
static sq_test_smtp_t *s_smtp; //  the mail relay
static char s_id_number[19];
static pid_t s_redis; //  the Redis of test_redis_down_during_burst while it runs

// ---- set-up -------------------------------------------------------------------------------

//  Midnight of today in China Standard Time, as UTC microseconds.
static int64_t
s_cst_midnight_us (void)
{
    int64_t local = sq_now_us () + NOTIFY_CST_OFFSET_US;
    return local - local % NOTIFY_DAY_US - NOTIFY_CST_OFFSET_US;
}

static sq_service_t *
s_notify_start (void)
{
    sq_service_config_t config;
    notify_service_config (&s_state, &config);
    config.events_out = bus_endpoint_events_out (s_stack.bus);
    return sq_test_service_start (&s_stack, &config);
}

//  (Re)starts notify with its clock set to at_us (SHEQU_NOTIFY_CLOCK_OFFSET_MS: the same
//  variable and code paths as in production).
static void
s_notify_restart_at (int64_t at_us)
{
    sq_service_destroy (&s_notify);
    notify_state_destroy (&s_state);
    char offset[32];
    snprintf (offset, sizeof offset, "%" PRId64, (at_us - sq_now_us ()) / 1000);
    setenv (NOTIFY_CLOCK_OFFSET_ENV, offset, 1);
    assert_int_equal (notify_state_init (&s_state, s_crypt), 0);
    s_notify = s_notify_start ();
}

static int
s_setup (void **state)
{
    (void) state;
    setenv ("SHEQU_SWEEP_MS", "100", 1);
    setenv (NOTIFY_RETRY_BASE_ENV, "100", 1);
    setenv (NOTIFY_STREAMS_ENV, "registry,disputes", 1);
    setenv (NOTIFY_RATE_WINDOW_ENV, RATE_WINDOW_MS, 1);
    char value[64];
    snprintf (value, sizeof value, "%d", RATE_MAX);
    setenv (NOTIFY_RATE_MAX_ENV, value, 1);
    s_http = sq_test_http_new (0);
    s_smtp = sq_test_smtp_new ();
    assert_non_null (s_http);
    assert_non_null (s_smtp);
    char url[128];
    snprintf (url, sizeof url, "http://127.0.0.1:%d" SMS_PATH, sq_test_http_port (s_http));
    setenv (NOTIFY_SMS_URL_ENV, url, 1);
    setenv (NOTIFY_SMS_KEY_ENV, SMS_KEY, 1);
    setenv (NOTIFY_SMS_SIGN_ENV, SMS_SIGN, 1);
    snprintf (value, sizeof value, "127.0.0.1:%d", sq_test_smtp_port (s_smtp));
    setenv (NOTIFY_SMTP_ENV, value, 1);
    setenv (NOTIFY_SMTP_FROM_ENV, MAIL_FROM, 1);
    sq_test_stack_start (&s_stack, "notify_channels");
    s_crypt = sq_crypt_new_from_env ();
    assert_non_null (s_crypt);
    s_disputes_state = (disputes_t) {.crypt = s_crypt, .day_us = DISPUTES_DAY_US};
    sq_service_config_t config;
    disputes_service_config (&s_disputes_state, &config);
    s_disputes = sq_test_service_start (&s_stack, &config);
    //  Noon: SMS are not held by quiet hours unless a test says otherwise.
    s_notify_restart_at (s_cst_midnight_us () + NOON_US);
    sq_test_id_number (12, s_id_number);
    return 0;
}

static int
s_teardown (void **state)
{
    (void) state;
    sq_service_destroy (&s_notify);
    sq_service_destroy (&s_disputes);
    sq_test_stack_stop (&s_stack);
    notify_state_destroy (&s_state);
    sq_crypt_destroy (&s_crypt);
    sq_test_http_destroy (&s_http);
    sq_test_smtp_destroy (&s_smtp);
    if (s_redis > 0) { //  a failed test left its Redis running
        kill (s_redis, SIGKILL);
        waitpid (s_redis, NULL, 0);
    }
    return 0;
}

// ---- helpers ------------------------------------------------------------------------------

static sq_test_reply_t *
s_ok (const char *cmd, const char *args)
{
    return sq_test_ok (s_stack.client, "notify", cmd, args, "operator", "");
}

static void
s_put (const char *cmd, const char *args)
{
    sq_test_reply_t *reply = s_ok (cmd, args);
    sq_test_reply_destroy (&reply);
}

//  A subscription that is only an address: its topic selects no event of these tests.
static void
s_address (const char *subscriber, const char *channel, const char *address)
{
    char args[512];
    snprintf (args, sizeof args, "{\"subscriber\":\"%s\",\"channel\":\"%s\",\"address\":\"%s\","
              "\"topics\":[\"admission.expired\"]}", subscriber, channel, address);
    s_put ("subscription.put", args);
}

//  A rule: cases filed reach person on channels (a JSON list), with priority.
static void
s_rule (const char *id, const char *person, const char *channels, const char *priority)
{
    char args[512];
    snprintf (args, sizeof args, "{\"id\":\"%s\",\"match\":\"disputes.case_filed\",\"audience\":"
              "\"people\",\"people\":[\"%s\"],\"channels\":%s,\"priority\":\"%s\"}", id, person,
              channels, priority);
    s_put ("rule.put", args);
}

static void
s_rule_remove (const char *id)
{
    char args[128];
    snprintf (args, sizeof args, "{\"id\":\"%s\"}", id);
    s_put ("rule.remove", args);
}

static int64_t
s_count (const char *sql)
{
    return sq_test_db_int (s_stack.db, sql);
}

static void
s_exec (const char *sql)
{
    sq_error_t err = {0};
    if (sq_db_exec (s_stack.db, sql, 0, NULL, &err))
        fail_msg ("%s: %s", sql, err.message);
}

//  The most messages recipient got one by one (not in a digest) in any one rate window,
//  counted by when they were delivered: one decided at the end of a window may be
//  delivered in the next, so the limit holds + 1.
static int64_t
s_singles_per_window_max (const char *recipient)
{
    char sql[512];
    snprintf (sql, sizeof sql, "SELECT coalesce (max (n), 0) FROM (SELECT count(*) AS n FROM"
              " notify.delivery WHERE recipient = '%s' AND digest IS NULL AND status ="
              " 'delivered' GROUP BY delivered_at / (%s * 1000)) w", recipient,
              RATE_WINDOW_MS);
    return s_count (sql);
}

static void
s_wait_count (const char *sql, int64_t n)
{
    sq_test_db_wait (s_stack.db, sql, n, WAIT_MS);
}

static void s_wait_mail (const char *address, int n);
static void s_file (char out[SQ_TEXT_ID_MAX]);

//  Returns once a sweep that started after the call has sent: what would wrongly have gone
//  out by then has (instead of sleeping for a while). A control rule (urgent: never folded)
//  e-mails a case filed now; the caller removes its own rules first when a new case must
//  not reach them.
static void
s_settle (void)
{
    static int settled;
    if (settled == 0)
        s_address ("res-settle", "email", "settle@jixiang.example.cn");
    s_rule ("t.settle", "res-settle", "[\"email\"]", "urgent");
    s_file (NULL);
    s_wait_mail ("settle@jixiang.example.cn", ++settled);
    s_rule_remove ("t.settle");
}

//  Files a case in COMMUNITY; its id into out (may be NULL).
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
    char id[SQ_TEXT_ID_MAX];
    sq_test_str (reply->result, "id", out ? out : id, SQ_TEXT_ID_MAX);
    sq_test_reply_destroy (&reply);
}

//  A string field of the JSON body of an SMS request into out ("" when absent).
static void
s_json_field (const char *json, const char *key, char *out, size_t size)
{
    msgpack_sbuffer buf;
    msgpack_sbuffer_init (&buf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &buf, msgpack_sbuffer_write);
    char why[128];
    assert_int_equal (sq_json_to_msgpack (json, strlen (json), &pk, why, sizeof why), 0);
    sq_doc_t *doc = sq_doc_new (buf.data, buf.size, why, sizeof why);
    assert_non_null (doc);
    out[0] = '\0';
    sq_obj_str_copy (sq_obj_get (sq_doc_root (doc), key), out, size);
    sq_doc_destroy (&doc);
    msgpack_sbuffer_destroy (&buf);
}

//  SMS requests the provider received for phone (their bodies appended to texts, each
//  followed by a line feed, when texts is not NULL).
static int
s_sms_to (const char *phone, char **texts)
{
    int count = 0;
    for (int i = 0; i < sq_test_http_count (s_http); i++) {
        sq_test_http_request_t r;
        if (sq_test_http_request (s_http, i, &r))
            continue;
        char to[32], text[2048];
        s_json_field (r.body, "to", to, sizeof to);
        if (strcmp (to, phone) == 0 && r.status == 200) {
            count++;
            s_json_field (r.body, "text", text, sizeof text);
            if (texts) {
                size_t used = *texts ? strlen (*texts) : 0;
                *texts = realloc (*texts, used + strlen (text) + 2);
                snprintf (*texts + used, strlen (text) + 2, "%s\n", text);
            }
        }
        free (r.body);
    }
    return count;
}

static void
s_wait_sms (const char *phone, int n)
{
    int64_t deadline = sq_clock_ms () + WAIT_MS;
    while (s_sms_to (phone, NULL) < n) {
        if (sq_clock_ms () > deadline)
            fail_msg ("the provider got %d SMS for %s, not %d", s_sms_to (phone, NULL), phone, n);
        usleep (50000);
    }
}

//  Mails the relay accepted for address; the last one's index into *last (may be NULL).
static int
s_mail_to (const char *address, int *last)
{
    int count = 0;
    for (int i = 0; i < sq_test_smtp_count (s_smtp); i++) {
        sq_test_smtp_message_t m;
        if (sq_test_smtp_message (s_smtp, i, &m))
            continue;
        if (strcmp (m.to, address) == 0) {
            count++;
            if (last)
                *last = i;
        }
        free (m.data);
    }
    return count;
}

static void
s_wait_mail (const char *address, int n)
{
    int64_t deadline = sq_clock_ms () + WAIT_MS;
    while (s_mail_to (address, NULL) < n) {
        if (sq_clock_ms () > deadline)
            fail_msg ("the relay got %d mails for %s, not %d", s_mail_to (address, NULL), address,
                      n);
        usleep (50000);
    }
}

// ---- tests --------------------------------------------------------------------------------

static void
test_sms_delivered_with_its_body (void **state)
{
    (void) state;
    s_address ("res-sms", "sms", "13800138001");
    s_rule ("t.sms", "res-sms", "[\"sms\"]", "normal");
    char case_id[SQ_TEXT_ID_MAX];
    s_file (case_id);
    s_wait_sms ("13800138001", 1);
    sq_test_http_request_t r = {0};
    for (int i = 0; i < sq_test_http_count (s_http); i++) {
        free (r.body);
        assert_int_equal (sq_test_http_request (s_http, i, &r), 0);
        if (strstr (r.body, "13800138001"))
            break;
    }
    assert_string_equal (r.path, SMS_PATH);
    assert_string_equal (r.authorization, "Bearer " SMS_KEY);
    char text[2048], sign[64], id[64];
    s_json_field (r.body, "text", text, sizeof text);
    s_json_field (r.body, "sign", sign, sizeof sign);
    s_json_field (r.body, "id", id, sizeof id);
    //  The default SMS template of disputes.case_filed, one line.
    assert_non_null (strstr (text, "社区" COMMUNITY));
    assert_non_null (strstr (text, case_id));
    assert_non_null (strstr (text, "邻里纠纷"));
    assert_null (strchr (text, '\n'));
    assert_string_equal (sign, SMS_SIGN);
    assert_string_equal (id, r.delivery);
    char sql[256];
    snprintf (sql, sizeof sql, "SELECT count(*) FROM notify.delivery WHERE id = '%s' AND"
              " channel = 'sms' AND status = 'delivered' AND recipient = 'res-sms'", id);
    s_wait_count (sql, 1);
    free (r.body);
    s_rule_remove ("t.sms");
}

static void
test_email_delivered_with_encoded_subject (void **state)
{
    (void) state;
    s_address ("res-mail", "email", "wang@jixiang.example.cn");
    s_rule ("t.mail", "res-mail", "[\"email\"]", "normal");
    char case_id[SQ_TEXT_ID_MAX];
    s_file (case_id);
    s_wait_mail ("wang@jixiang.example.cn", 1);
    int last = -1;
    s_mail_to ("wang@jixiang.example.cn", &last);
    sq_test_smtp_message_t m;
    assert_int_equal (sq_test_smtp_message (s_smtp, last, &m), 0);
    assert_string_equal (m.from, MAIL_FROM);
    assert_string_equal (m.helo, "shequ.example.cn");
    assert_false (m.bare_lf);
    char *raw_subject = sq_test_smtp_header (m.data, "Subject");
    assert_non_null (raw_subject);
    assert_non_null (strstr (raw_subject, "=?UTF-8?B?"));
    char *subject = sq_test_smtp_decode_words (raw_subject);
    assert_string_equal (subject, "【矛盾纠纷】社区" COMMUNITY "新登记邻里纠纷一起");
    char *body = sq_test_smtp_body (m.data);
    assert_non_null (body);
    assert_non_null (strstr (body, case_id));
    assert_non_null (strstr (body, "类别：邻里纠纷"));
    char *type = sq_test_smtp_header (m.data, "Content-Type");
    assert_string_equal (type, "text/plain; charset=UTF-8");
    char *date = sq_test_smtp_header (m.data, "Date");
    assert_non_null (strstr (date, "+0800"));
    char *message_id = sq_test_smtp_header (m.data, "Message-ID");
    char sql[512];
    snprintf (sql, sizeof sql, "SELECT count(*) FROM notify.delivery WHERE '%s' = '<' || id ||"
              " '@shequ.example.cn>' AND status = 'delivered' AND channel = 'email'",
              message_id);
    s_wait_count (sql, 1);
    free (raw_subject);
    free (subject);
    free (body);
    free (type);
    free (date);
    free (message_id);
    free (m.data);
    s_rule_remove ("t.mail");
}

static void
test_email_retried_after_4xx (void **state)
{
    (void) state;
    s_address ("res-busy", "email", "busy@jixiang.example.cn");
    s_rule ("t.busy", "res-busy", "[\"email\"]", "normal");
    int refused = sq_test_smtp_refused (s_smtp);
    sq_test_smtp_set_reply (s_smtp, 451);
    s_file (NULL);
    s_wait_count ("SELECT count(*) FROM notify.attempt a JOIN notify.delivery d ON d.id ="
                  " a.delivery WHERE d.recipient = 'res-busy' AND NOT a.ok", 2);
    assert_true (sq_test_smtp_refused (s_smtp) - refused >= 2); //  the relay said 451 twice
    assert_int_equal (s_count ("SELECT count(*) FROM notify.delivery WHERE recipient ="
                               " 'res-busy' AND status = 'pending'"), 1);
    char *error = sq_test_db_value (s_stack.db, "SELECT last_error FROM notify.delivery WHERE"
                                    " recipient = 'res-busy'");
    assert_non_null (strstr (error, "451"));
    free (error);
    sq_test_smtp_set_reply (s_smtp, 250);
    s_wait_mail ("busy@jixiang.example.cn", 1);
    s_wait_count ("SELECT count(*) FROM notify.delivery WHERE recipient = 'res-busy' AND"
                  " status = 'delivered'", 1);
    s_rule_remove ("t.busy");
    s_settle ();
    assert_int_equal (s_mail_to ("busy@jixiang.example.cn", NULL), 1);
}

static void
test_fallback_to_next_channel (void **state)
{
    (void) state;
    //  1. The provider refuses the SMS (HTTP 400: for good): the e-mail goes instead.
    s_address ("res-fb", "sms", "13800138002");
    s_address ("res-fb", "email", "fb@jixiang.example.cn");
    s_rule ("t.fb", "res-fb", "[\"sms\",\"email\"]", "normal");
    //  2. No SMS address: skipped; the relay refuses the e-mail (550): the inbox.
    s_address ("res-fb2", "email", "fb2@jixiang.example.cn");
    s_rule ("t.fb2", "res-fb2", "[\"sms\",\"email\",\"inbox\"]", "normal");
    sq_test_http_set_status (s_http, 400);
    sq_test_smtp_set_reply (s_smtp, 250);
    char case_id[SQ_TEXT_ID_MAX];
    s_file (case_id);
    s_wait_mail ("fb@jixiang.example.cn", 1);
    s_wait_count ("SELECT count(*) FROM notify.delivery WHERE recipient = 'res-fb' AND"
                  " channel = 'email' AND status = 'delivered'", 1);
    char *sms = sq_test_db_value (s_stack.db, "SELECT id || ' ' || status || ' ' || last_error"
                                  " FROM notify.delivery WHERE recipient = 'res-fb' AND channel"
                                  " = 'sms'");
    assert_non_null (strstr (sms, " dead SMS provider answered HTTP 400"));
    char sms_id[64];
    snprintf (sms_id, sizeof sms_id, "%.*s", (int) strcspn (sms, " "), sms);
    free (sms);
    sq_test_http_set_status (s_http, 200);
    //  delivery.list shows the fallback both ways.
    sq_test_reply_t *reply = s_ok ("delivery.list", "{\"recipient\":\"res-fb\"}");
    assert_int_equal (sq_test_int (reply->result, "count"), 2);
    const msgpack_object *list = sq_obj_get (reply->result, "deliveries");
    char email_id[64] = "";
    for (uint32_t i = 0; i < list->via.array.size; i++) {
        const msgpack_object *d = &list->via.array.ptr[i];
        char channel[16], link[64];
        sq_test_str (d, "channel", channel, sizeof channel);
        if (strcmp (channel, "email") == 0) {
            sq_test_str (d, "id", email_id, sizeof email_id);
            assert_non_null (sq_test_str (d, "fallback_of", link, sizeof link));
            assert_string_equal (link, sms_id);
        } else {
            assert_non_null (sq_test_str (d, "fallback", link, sizeof link));
            sq_test_str (d, "status", channel, sizeof channel);
            assert_string_equal (channel, "dead");
        }
    }
    assert_true (email_id[0]);
    sq_test_reply_destroy (&reply);
    reply = s_ok ("deadletter.list", "{}");
    char *json = sq_test_json (reply->result);
    assert_non_null (strstr (json, sms_id));
    free (json);
    sq_test_reply_destroy (&reply);
    //  The second person: e-mail refused with 550, then the inbox, which names the fallback.
    sq_test_smtp_set_reply (s_smtp, 550);
    s_file (case_id);
    s_wait_count ("SELECT count(*) FROM notify.message WHERE recipient = 'res-fb2'", 1);
    sq_test_smtp_set_reply (s_smtp, 250);
    assert_int_equal (s_count ("SELECT count(*) FROM notify.delivery d JOIN notify.delivery e"
                               " ON e.id = d.fallback_of WHERE d.recipient = 'res-fb2' AND"
                               " d.channel = 'inbox' AND d.status = 'delivered' AND e.channel"
                               " = 'email' AND e.status = 'dead' AND e.skipped = 'sms' AND"
                               " e.last_error LIKE '%550%'"), 1);
    //  Replayed events (the rules still in place) make no second delivery or attempt of
    //  this test's events on any channel.
    char *events = sq_test_db_value (s_stack.db, "SELECT string_agg (DISTINCT quote_literal"
                                     " (event_id), ',') FROM notify.delivery WHERE recipient"
                                     " IN ('res-fb', 'res-fb2')");
    char deliveries_sql[1024], attempts_sql[1024];
    snprintf (deliveries_sql, sizeof deliveries_sql, "SELECT count(*) FROM notify.delivery"
              " WHERE event_id IN (%s)", events);
    snprintf (attempts_sql, sizeof attempts_sql, "SELECT count(*) FROM notify.attempt a JOIN"
              " notify.delivery d ON d.id = a.delivery WHERE d.event_id IN (%s)", events);
    free (events);
    int64_t deliveries = s_count (deliveries_sql);
    int64_t attempts = s_count (attempts_sql);
    assert_int_equal (deliveries, 6); //  per event: res-fb SMS (+ e-mail), res-fb2 e-mail (+ inbox)
    int64_t last = s_count ("SELECT max(seq) FROM notify.inbox WHERE src = 'disputes'");
    sq_service_destroy (&s_notify);
    s_count ("WITH d AS (DELETE FROM notify.inbox RETURNING 1) SELECT count(*) FROM d");
    s_notify = s_notify_start ();
    char sql[256];
    snprintf (sql, sizeof sql, "SELECT coalesce (max (seq), 0) FROM notify.inbox WHERE src ="
              " 'disputes'");
    s_wait_count (sql, last);
    s_settle (); //  its case is no event of this test: the counts below leave it out
    assert_int_equal (s_count (deliveries_sql), deliveries);
    assert_int_equal (s_count (attempts_sql), attempts);
    s_rule_remove ("t.fb");
    s_rule_remove ("t.fb2");
}

static void
test_sms_waits_for_quiet_hours (void **state)
{
    (void) state;
    int64_t midnight = s_cst_midnight_us ();
    s_notify_restart_at (midnight + 23 * NOTIFY_HOUR_US); //  23:00 in Shanghai
    s_address ("res-night", "sms", "13800138003");
    s_address ("res-alarm", "sms", "13800138004");
    s_rule ("t.night", "res-night", "[\"sms\"]", "normal");
    s_rule ("t.alarm", "res-alarm", "[\"sms\"]", "urgent");
    s_file (NULL);
    //  Urgent goes at once; normal waits until 07:00 tomorrow.
    s_wait_sms ("13800138004", 1);
    s_wait_count ("SELECT count(*) FROM notify.delivery WHERE recipient = 'res-night'", 1);
    char sql[256];
    snprintf (sql, sizeof sql, "SELECT count(*) FROM notify.delivery WHERE recipient ="
              " 'res-night' AND status = 'pending' AND next_at = %" PRId64,
              midnight + NOTIFY_DAY_US + 7 * NOTIFY_HOUR_US);
    assert_int_equal (s_count (sql), 1);
    s_rule_remove ("t.night");
    s_rule_remove ("t.alarm");
    s_settle ();
    assert_int_equal (s_sms_to ("13800138003", NULL), 0);
    //  Morning: it goes.
    s_notify_restart_at (midnight + NOTIFY_DAY_US + 7 * NOTIFY_HOUR_US + NOTIFY_SECOND_US);
    s_wait_sms ("13800138003", 1);
    s_wait_count ("SELECT count(*) FROM notify.delivery WHERE recipient = 'res-night' AND"
                  " status = 'delivered'", 1);
    assert_int_equal (s_sms_to ("13800138004", NULL), 1);
    s_notify_restart_at (s_cst_midnight_us () + NOON_US);
}

//  A failure recording one send undoes that row only: the row sent before it in the same
//  sweep stays delivered and is not sent again (mail receivers cannot drop repeats). The
//  failure is a trigger refusing res-sav2's 'delivered'.
static void
test_sent_rows_survive_a_later_failure (void **state)
{
    (void) state;
    s_address ("res-sav1", "email", "sav1@jixiang.example.cn");
    s_address ("res-sav2", "email", "sav2@jixiang.example.cn");
    s_put ("rule.put", "{\"id\":\"t.sav\",\"match\":\"disputes.case_filed\",\"audience\":"
           "\"people\",\"people\":[\"res-sav1\",\"res-sav2\"],\"channels\":[\"email\"],"
           "\"priority\":\"normal\"}");
    s_exec ("CREATE FUNCTION notify.test_refuse () RETURNS trigger LANGUAGE plpgsql AS"
            " $$BEGIN RAISE EXCEPTION 'test: bookkeeping refused'; END$$");
    s_exec ("CREATE TRIGGER test_refuse BEFORE UPDATE ON notify.delivery FOR EACH ROW WHEN"
            " (NEW.recipient = 'res-sav2' AND NEW.status = 'delivered') EXECUTE FUNCTION"
            " notify.test_refuse ()");
    s_file (NULL);
    //  res-sav2's mail goes out round after round (its record fails): later sweeps ran.
    s_wait_mail ("sav2@jixiang.example.cn", 3);
    s_exec ("DROP TRIGGER test_refuse ON notify.delivery");
    s_exec ("DROP FUNCTION notify.test_refuse ()");
    assert_int_equal (s_mail_to ("sav1@jixiang.example.cn", NULL), 1);
    assert_int_equal (s_count ("SELECT count(*) FROM notify.delivery WHERE recipient ="
                               " 'res-sav1' AND status = 'delivered' AND attempts = 1"), 1);
    s_wait_count ("SELECT count(*) FROM notify.delivery WHERE recipient = 'res-sav2' AND"
                  " status = 'delivered'", 1);
    s_rule_remove ("t.sav");
}

//  Failed attempts are not counted against the rate: a mail tried more often than the
//  rate allows still goes on its own once the relay takes it, not in a digest.
static void
test_failed_attempts_not_counted (void **state)
{
    (void) state;
    s_address ("res-count", "email", "count@jixiang.example.cn");
    s_rule ("t.count", "res-count", "[\"email\"]", "normal");
    sq_test_smtp_set_reply (s_smtp, 451);
    s_file (NULL);
    s_wait_count ("SELECT count(*) FROM notify.attempt a JOIN notify.delivery d ON d.id ="
                  " a.delivery WHERE d.recipient = 'res-count' AND NOT a.ok", RATE_MAX + 1);
    sq_test_smtp_set_reply (s_smtp, 250);
    s_wait_count ("SELECT count(*) FROM notify.delivery WHERE recipient = 'res-count' AND"
                  " status = 'delivered' AND digest IS NULL", 1);
    assert_int_equal (s_count ("SELECT count(*) FROM notify.digest WHERE recipient ="
                               " 'res-count'"), 0);
    assert_int_equal (s_mail_to ("count@jixiang.example.cn", NULL), 1);
    s_rule_remove ("t.count");
}

//  A normal SMS that falls due again in quiet hours (here by deadletter.retry at 23:00)
//  waits for their end, and the wait is no attempt.
static void
test_retry_waits_for_quiet_hours (void **state)
{
    (void) state;
    s_address ("res-qr", "sms", "13800138007");
    s_rule ("t.qr", "res-qr", "[\"sms\"]", "normal");
    sq_test_http_set_status (s_http, 400); //  refused for good at noon: a dead letter
    s_file (NULL);
    s_wait_count ("SELECT count(*) FROM notify.delivery WHERE recipient = 'res-qr' AND status"
                  " = 'dead'", 1);
    sq_test_http_set_status (s_http, 200);
    int64_t midnight = s_cst_midnight_us ();
    s_notify_restart_at (midnight + 23 * NOTIFY_HOUR_US);
    char *id = sq_test_db_value (s_stack.db, "SELECT id FROM notify.delivery WHERE recipient ="
                                 " 'res-qr'");
    char args[128], sql[256];
    snprintf (args, sizeof args, "{\"delivery\":\"%s\"}", id);
    free (id);
    s_put ("deadletter.retry", args);
    //  The sweep saw it (next_at moved to 07:00) and neither sent nor counted it.
    snprintf (sql, sizeof sql, "SELECT count(*) FROM notify.delivery WHERE recipient = 'res-qr'"
              " AND status = 'pending' AND attempts = 0 AND next_at = %" PRId64,
              midnight + NOTIFY_DAY_US + 7 * NOTIFY_HOUR_US);
    s_wait_count (sql, 1);
    assert_int_equal (s_sms_to ("13800138007", NULL), 0);
    assert_int_equal (s_count ("SELECT count(*) FROM notify.attempt a JOIN notify.delivery d ON"
                               " d.id = a.delivery WHERE d.recipient = 'res-qr'"), 1);
    s_notify_restart_at (midnight + NOTIFY_DAY_US + 7 * NOTIFY_HOUR_US + NOTIFY_SECOND_US);
    s_wait_sms ("13800138007", 1);
    s_rule_remove ("t.qr");
    s_notify_restart_at (s_cst_midnight_us () + NOON_US);
}

//  A fallback that finds its channel's delivery there already and dead (another rule made
//  it) goes on to the next channel.
static void
test_fallback_past_a_dead_delivery (void **state)
{
    (void) state;
    s_address ("res-fb3", "sms", "13800138006");
    s_address ("res-fb3", "email", "fb3@jixiang.example.cn");
    s_rule ("t.fb3a", "res-fb3", "[\"email\"]", "normal");
    s_rule ("t.fb3b", "res-fb3", "[\"sms\",\"email\",\"inbox\"]", "normal");
    sq_test_http_set_status (s_http, 503); //  retried while the e-mail dies
    sq_test_smtp_set_reply (s_smtp, 550);
    s_file (NULL);
    s_wait_count ("SELECT count(*) FROM notify.delivery WHERE recipient = 'res-fb3' AND"
                  " channel = 'email' AND status = 'dead'", 1);
    sq_test_http_set_status (s_http, 400);
    s_wait_count ("SELECT count(*) FROM notify.message WHERE recipient = 'res-fb3'", 1);
    sq_test_http_set_status (s_http, 200);
    sq_test_smtp_set_reply (s_smtp, 250);
    assert_int_equal (s_count ("SELECT count(*) FROM notify.delivery d JOIN notify.delivery s"
                               " ON s.id = d.fallback_of WHERE d.recipient = 'res-fb3' AND"
                               " d.channel = 'inbox' AND s.channel = 'sms' AND s.status ="
                               " 'dead'"), 1);
    s_rule_remove ("t.fb3a");
    s_rule_remove ("t.fb3b");
}

#define SLOW_RELAY_MS 400 //  each mail of test_slow_relay_bounded_rounds
#define SLOW_MAILS 8      //  more than one sweep budget (NOTIFY_SWEEP_BUDGET_MS) holds

//  A slow relay does not hold the worker thread for a whole batch: a round takes no new row
//  after NOTIFY_SWEEP_BUDGET_MS and commits, the rest go in the next rounds. Seen from here:
//  the first rows are committed 'delivered' before the relay has all the mails (one round
//  for all of them would commit only after the last).
static void
test_slow_relay_bounded_rounds (void **state)
{
    (void) state;
    char people[512] = "", address[64], sql[256];
    for (int i = 0; i < SLOW_MAILS; i++) {
        char person[32];
        snprintf (person, sizeof person, "res-slow%d", i);
        snprintf (address, sizeof address, "slow%d@jixiang.example.cn", i);
        s_address (person, "email", address);
        size_t used = strlen (people);
        snprintf (people + used, sizeof people - used, "%s\"%s\"", i ? "," : "", person);
    }
    char args[1024];
    snprintf (args, sizeof args, "{\"id\":\"t.slow\",\"match\":\"disputes.case_filed\","
              "\"audience\":\"people\",\"people\":[%s],\"channels\":[\"email\"],"
              "\"priority\":\"normal\"}", people);
    s_put ("rule.put", args);
    sq_test_smtp_set_delay_ms (s_smtp, SLOW_RELAY_MS);
    s_file (NULL);
    const char *delivered = "SELECT count(*) FROM notify.delivery WHERE recipient LIKE"
                            " 'res-slow%' AND status = 'delivered'";
    s_wait_count (delivered, 1);
    int sent = 0;
    for (int i = 0; i < SLOW_MAILS; i++) {
        snprintf (address, sizeof address, "slow%d@jixiang.example.cn", i);
        sent += s_mail_to (address, NULL);
    }
    assert_true (sent < SLOW_MAILS);
    s_wait_count (delivered, SLOW_MAILS);
    sq_test_smtp_set_delay_ms (s_smtp, 0);
    s_rule_remove ("t.slow");
    snprintf (sql, sizeof sql, "SELECT count(*) FROM notify.attempt a JOIN notify.delivery d ON"
              " d.id = a.delivery WHERE d.recipient LIKE 'res-slow%%'");
    assert_int_equal (s_count (sql), SLOW_MAILS);
}

//  Event ids named by the mails to address: digests list theirs, a mail on its own is
//  traced to its delivery by Message-ID. Adds each to seen (NULL-terminated set, checked
//  for repeats); returns how many mails were digests.
static int
s_events_named (const char *address, char **seen, int seen_max, int *count)
{
    int digests = 0;
    for (int i = 0; i < sq_test_smtp_count (s_smtp); i++) {
        sq_test_smtp_message_t m;
        if (sq_test_smtp_message (s_smtp, i, &m))
            continue;
        if (strcmp (m.to, address)) {
            free (m.data);
            continue;
        }
        char *raw = sq_test_smtp_header (m.data, "Subject");
        char *subject = sq_test_smtp_decode_words (raw);
        char *body = sq_test_smtp_body (m.data);
        assert_non_null (body);
        char names[BURST][SQ_TEXT_ID_MAX];
        int named = 0;
        if (strncmp (subject, "【汇总】", strlen ("【汇总】")) == 0) {
            digests++;
            for (const char *p = strstr (body, "（事件 "); p && named < BURST;
                 p = strstr (p + 1, "（事件 ")) {
                p += strlen ("（事件 ");
                snprintf (names[named++], SQ_TEXT_ID_MAX, "%.*s",
                          (int) (strstr (p, "）") - p), p);
            }
            int listed = (int) strtol (subject + strlen ("【汇总】"), NULL, 10);
            assert_int_equal (listed, named);
        } else {
            char *message_id = sq_test_smtp_header (m.data, "Message-ID");
            char sql[256];
            snprintf (sql, sizeof sql, "SELECT event_id FROM notify.delivery WHERE '%s' = '<'"
                      " || id || '@shequ.example.cn>'", message_id);
            char *event = sq_test_db_value (s_stack.db, sql);
            snprintf (names[named++], SQ_TEXT_ID_MAX, "%s", event);
            free (event);
            free (message_id);
        }
        for (int k = 0; k < named; k++) {
            for (int j = 0; j < *count; j++)
                if (strcmp (seen[j], names[k]) == 0)
                    fail_msg ("event %s named twice", names[k]);
            assert_true (*count < seen_max);
            seen[(*count)++] = strdup (names[k]);
        }
        free (raw);
        free (subject);
        free (body);
        free (m.data);
    }
    return digests;
}

static void
test_burst_folds_into_digests (void **state)
{
    (void) state;
    const char *address = "burst@jixiang.example.cn";
    s_address ("res-burst", "email", address);
    s_rule ("t.burst", "res-burst", "[\"email\"]", "normal");
    for (int i = 0; i < BURST; i++)
        s_file (NULL);
    char sql[256];
    snprintf (sql, sizeof sql, "SELECT count(*) FROM notify.delivery WHERE recipient ="
              " 'res-burst' AND status = 'delivered'");
    sq_test_db_wait (s_stack.db, sql, BURST, BURST_WAIT_MS);
    s_rule_remove ("t.burst");
    s_settle ();
    //  What arrived: each of the 500 events named exactly once, most of them in digests.
    char **seen = calloc (BURST + 1, sizeof *seen);
    int count = 0;
    int digests = s_events_named (address, seen, BURST, &count);
    assert_int_equal (count, BURST);
    int mails = s_mail_to (address, NULL);
    assert_true (digests >= BURST / NOTIFY_DIGEST_ITEMS_MAX);
    assert_true (s_singles_per_window_max ("res-burst") <= RATE_MAX + 1);
    for (int i = 0; i < count; i++) {
        snprintf (sql, sizeof sql, "SELECT count(*) FROM notify.delivery WHERE recipient ="
                  " 'res-burst' AND event_id = '%s' AND status = 'delivered'", seen[i]);
        assert_int_equal (s_count (sql), 1);
        free (seen[i]);
    }
    free (seen);
    //  And what was recorded: every folded delivery delivered with its digest.
    assert_int_equal (s_count ("SELECT count(*) FROM notify.delivery WHERE recipient ="
                               " 'res-burst' AND digest IS NOT NULL AND status ="
                               " 'delivered'"),
                      BURST - (mails - digests));
    assert_int_equal (s_count ("SELECT coalesce (sum (items), 0) FROM notify.digest WHERE"
                               " recipient = 'res-burst' AND status = 'delivered'"),
                      BURST - (mails - digests));
}

//  An urgent message is never folded: a burst of urgent ones past the rate arrives one by
//  one (the issue: "an urgent message bypasses quiet hours and digests").
static void
test_urgent_bypasses_digests (void **state)
{
    (void) state;
    const char *address = "urgent@jixiang.example.cn";
    int total = 3 * RATE_MAX;
    s_address ("res-urgent", "email", address);
    s_rule ("t.urgent", "res-urgent", "[\"email\"]", "urgent");
    for (int i = 0; i < total; i++)
        s_file (NULL);
    s_wait_count ("SELECT count(*) FROM notify.delivery WHERE recipient = 'res-urgent' AND"
                  " status = 'delivered'", total);
    s_rule_remove ("t.urgent");
    assert_int_equal (s_count ("SELECT count(*) FROM notify.delivery WHERE recipient ="
                               " 'res-urgent' AND digest IS NOT NULL"), 0);
    assert_int_equal (s_mail_to (address, NULL), total);
}

static void
test_redis_down_during_burst (void **state)
{
    (void) state;
    int port = sq_test_free_port ();
    s_redis = sq_test_redis_start (port);
    char address[64];
    const char *shared = getenv (SQ_ENV_REDIS);
    char shared_copy[256];
    snprintf (shared_copy, sizeof shared_copy, "%s", shared ? shared : SQ_DEFAULT_REDIS);
    snprintf (address, sizeof address, "127.0.0.1:%d", port);
    setenv (SQ_ENV_REDIS, address, 1);
    s_notify_restart_at (s_cst_midnight_us () + NOON_US);
    s_address ("res-redis", "sms", "13800138005");
    s_rule ("t.redis", "res-redis", "[\"sms\"]", "normal");
    for (int i = 0; i < REDIS_BURST_BEFORE; i++)
        s_file (NULL);
    s_wait_count ("SELECT count(*) FROM notify.delivery WHERE recipient = 'res-redis' AND"
                  " status IN ('delivered', 'folded')", RATE_MAX + 1);
    kill (s_redis, SIGKILL);
    waitpid (s_redis, NULL, 0);
    s_redis = 0;
    for (int i = 0; i < REDIS_BURST_AFTER; i++)
        s_file (NULL);
    int total = REDIS_BURST_BEFORE + REDIS_BURST_AFTER;
    sq_test_db_wait (s_stack.db, "SELECT count(*) FROM notify.delivery WHERE recipient ="
                     " 'res-redis' AND status = 'delivered'", total, BURST_WAIT_MS);
    s_rule_remove ("t.redis");
    s_settle ();
    //  Every event told: SMS on their own, plus the counts the digests give.
    char *texts = NULL;
    int received = s_sms_to ("13800138005", &texts);
    int told = 0, digests = 0;
    for (char *line = texts; line && *line;) {
        char *end = strchr (line, '\n');
        *end = '\0';
        if (strncmp (line, "【汇总】", strlen ("【汇总】")) == 0) {
            const char *count = strstr (line, "起");
            told += (int) strtol (count + strlen ("起"), NULL, 10);
            digests++;
        } else
            told++;
        line = end + 1;
    }
    free (texts);
    assert_int_equal (told, total);
    assert_true (digests >= 1);
    assert_true (s_singles_per_window_max ("res-redis") <= RATE_MAX + 1);
    assert_int_equal (s_count ("SELECT count(*) FROM notify.delivery WHERE recipient ="
                               " 'res-redis' AND digest IS NOT NULL"), total - (received
                                                                                - digests));
    //  The service kept answering.
    sq_test_reply_t *reply = s_ok ("health", "{}");
    sq_test_reply_destroy (&reply);
    setenv (SQ_ENV_REDIS, shared_copy, 1);
    s_notify_restart_at (s_cst_midnight_us () + NOON_US);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_sms_delivered_with_its_body),
        cmocka_unit_test (test_email_delivered_with_encoded_subject),
        cmocka_unit_test (test_email_retried_after_4xx),
        cmocka_unit_test (test_fallback_to_next_channel),
        cmocka_unit_test (test_sms_waits_for_quiet_hours),
        cmocka_unit_test (test_retry_waits_for_quiet_hours),
        cmocka_unit_test (test_sent_rows_survive_a_later_failure),
        cmocka_unit_test (test_failed_attempts_not_counted),
        cmocka_unit_test (test_fallback_past_a_dead_delivery),
        cmocka_unit_test (test_slow_relay_bounded_rounds),
        cmocka_unit_test (test_burst_folds_into_digests),
        cmocka_unit_test (test_urgent_bypasses_digests),
        cmocka_unit_test (test_redis_down_during_burst),
    };
    return cmocka_run_group_tests (tests, s_setup, s_teardown);
}
