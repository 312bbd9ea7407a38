/*  test_notify_template: contracts' field names, the template checker, rendering with the
    escaping of each channel, and the Chinese default templates against the real contracts
    under schemas/events/ (issue 6). Also shows how to call them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "notify/template.h"

#include "sq_json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PATH_MAX_TEST 512 //  room for a contract's path

//  An envelope whose data map was made from JSON (or raw msgpack), with what it points into.
typedef struct {
    msgpack_sbuffer buf;
    sq_doc_t *doc;
    sq_envelope_t env;
} s_event_t;

static void
s_event_envelope (s_event_t *e, const char *type, const char *div)
{
    char why[SQ_ERROR_MESSAGE_MAX] = "";
    e->doc = sq_doc_new (e->buf.data, e->buf.size, why, sizeof why);
    if (!e->doc) fail_msg ("sq_doc_new: %s", why);
    memset (&e->env, 0, sizeof e->env);
    snprintf (e->env.type, sizeof e->env.type, "%s", type);
    snprintf (e->env.div, sizeof e->env.div, "%s", div);
    snprintf (e->env.id, sizeof e->env.id, "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b");
    snprintf (e->env.src, sizeof e->env.src, "%.*s", (int) strcspn (type, "."), type);
    e->env.seq = 42;
    e->env.at = 1795399200000000; //  2026-11-23 10:00 China Standard Time
    e->env.data = sq_doc_root (e->doc);
}

static void
s_event_json (s_event_t *e, const char *type, const char *div, const char *data_json)
{
    msgpack_sbuffer_init (&e->buf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &e->buf, msgpack_sbuffer_write);
    char why[SQ_ERROR_MESSAGE_MAX] = "";
    if (sq_json_to_msgpack (data_json, strlen (data_json), &pk, why, sizeof why))
        fail_msg ("%s: %s", data_json, why);
    s_event_envelope (e, type, div);
}

//  An event whose data map is {key: <len bytes of value>}, bytes that JSON cannot carry.
static void
s_event_raw (s_event_t *e, const char *type, const char *key, const char *value, size_t len)
{
    msgpack_sbuffer_init (&e->buf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &e->buf, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, 1);
    sq_pack_str (&pk, key);
    msgpack_pack_str (&pk, len);
    msgpack_pack_str_body (&pk, value, len);
    s_event_envelope (e, type, "131003");
}

static void
s_event_destroy (s_event_t *e)
{
    sq_doc_destroy (&e->doc);
    msgpack_sbuffer_destroy (&e->buf);
}

//  Reads schemas/events/<type>.json into contract; fails the test when it cannot.
static void
s_contract_load (const char *type, notify_contract_t *contract)
{
    char path[PATH_MAX_TEST];
    snprintf (path, sizeof path, "%s/schemas/events/%s.json", SQ_SOURCE_DIR, type);
    FILE *file = fopen (path, "rb");
    if (!file) fail_msg ("cannot open %s", path);
    static char text[NOTIFY_CONTRACT_TEXT_MAX + 1];
    size_t len = fread (text, 1, sizeof text, file);
    fclose (file);
    sq_error_t err = {0};
    if (notify_contract_parse (text, len, contract, &err))
        fail_msg ("%s: %s", path, err.message);
}

static const char *s_case_filed_data =
    "{\"case\": \"0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b\", \"community\": \"131003001002\","
    " \"category\": \"neighbour\", \"risk\": \"elevated\", \"level\": \"community\","
    " \"status\": \"filed\", \"previous_status\": null, \"step\": 1, \"deadline\": \"accept\","
    " \"due\": 1795708800000000, \"source\": \"hotline\", \"people_involved\": 3,"
    " \"parties\": 2, \"grid\": null}";

static void
test_contract_names (void **state)
{
    notify_contract_t contract;
    s_contract_load ("disputes.case_filed", &contract);
    assert_string_equal (contract.type, "disputes.case_filed");
    assert_string_equal (contract.div, "community");
    assert_int_equal (contract.field_count, 14);
    assert_true (notify_contract_has (&contract, "case"));
    assert_true (notify_contract_has (&contract, "grid"));
    assert_true (notify_contract_has (&contract, "at"));   //  the envelope's
    assert_false (notify_contract_has (&contract, "mediator"));
    assert_false (notify_contract_has (&contract, "data")); //  the map itself is no value

    sq_error_t err = {0};
    const char *no_data = "{\"type\": \"x.y\", \"div\": \"none\"}";
    assert_int_equal (notify_contract_parse (no_data, strlen (no_data), &contract, &err), -1);
    assert_string_equal (err.code, SQ_ERR_INVALID);
    assert_non_null (strstr (err.message, "no data map"));
    const char *not_json = "{\"type\": \"x.y\",}";
    assert_int_equal (notify_contract_parse (not_json, strlen (not_json), &contract, &err), -1);
    assert_non_null (strstr (err.message, "not JSON"));
}

static void
test_check (void **state)
{
    notify_contract_t contract;
    s_contract_load ("disputes.case_filed", &contract);
    sq_error_t err = {0};
    assert_int_equal (notify_template_check ("案件{case}于{at|time}在{community}登记", &contract,
                                             "body", &err), 0);
    //  Braces that open no placeholder are text: a JSON template needs no escaping.
    assert_int_equal (notify_template_check ("{\"case\": \"{case}\", \"n\": {step}} { x }",
                                             &contract, "body", &err), 0);

    assert_int_equal (notify_template_check ("调解员{mediator}", &contract, "body", &err), -1);
    assert_string_equal (err.code, SQ_ERR_INVALID);
    assert_string_equal (err.field, "body");
    assert_string_equal (err.message,
                         "placeholder {mediator} is not a field of disputes.case_filed");
    assert_int_equal (notify_template_check ("{due|money}", &contract, "subject", &err), -1);
    assert_string_equal (err.field, "subject");
    assert_non_null (strstr (err.message, "unknown filter"));
    assert_int_equal (notify_template_check ("{case", &contract, "body", &err), -1);
    assert_non_null (strstr (err.message, "not closed"));
    assert_int_equal (notify_template_check ("{case|}", &contract, "body", &err), -1);
    assert_int_equal (notify_template_check ("{Case}", &contract, "body", &err), -1);
    assert_int_equal (notify_template_check ("bad \xff byte", &contract, "body", &err), -1);
    assert_non_null (strstr (err.message, "UTF-8"));

    char many[NOTIFY_TEMPLATE_MAX];
    size_t len = 0;
    for (int i = 0; i <= NOTIFY_PLACEHOLDERS_MAX; i++)
        len += (size_t) snprintf (many + len, sizeof many - len, "{case}");
    assert_int_equal (notify_template_check (many, &contract, "body", &err), -1);
    assert_non_null (strstr (err.message, "more than"));
    char *long_text = malloc (NOTIFY_TEMPLATE_MAX + 2);
    memset (long_text, 'a', NOTIFY_TEMPLATE_MAX + 1);
    long_text[NOTIFY_TEMPLATE_MAX + 1] = 0;
    assert_int_equal (notify_template_check (long_text, &contract, "body", &err), -1);
    free (long_text);
}

static void
test_defaults_fit_their_contracts (void **state)
{
    assert_true (notify_template_default_count () >= 7);
    assert_null (notify_template_default_type (notify_template_default_count ()));
    for (int i = 0; i < notify_template_default_count (); i++) {
        const char *type = notify_template_default_type (i);
        notify_contract_t contract;
        s_contract_load (type, &contract);
        notify_template_t tmpl;
        assert_int_equal (notify_template_default (type, NOTIFY_EMAIL, &tmpl), 0);
        sq_error_t err = {0};
        if (notify_template_check (tmpl.subject, &contract, "subject", &err)
            || notify_template_check (tmpl.body, &contract, "body", &err))
            fail_msg ("%s: %s", type, err.message);
        assert_int_equal (notify_template_default (type, NOTIFY_INBOX, &tmpl), 0);
        assert_null (tmpl.subject);
        //  A webhook gets the event itself.
        assert_int_equal (notify_template_default (type, NOTIFY_WEBHOOK, &tmpl), -1);
    }
    notify_template_t tmpl;
    assert_int_equal (notify_template_default ("registry.grid_created", NOTIFY_INBOX, &tmpl), -1);
}

static void
test_render_default_inbox_and_email (void **state)
{
    s_event_t e;
    s_event_json (&e, "disputes.case_filed", "131003001002", s_case_filed_data);
    notify_template_t tmpl;
    assert_int_equal (notify_template_default ("disputes.case_filed", NOTIFY_EMAIL, &tmpl), 0);
    notify_message_t message;
    sq_error_t err = {0};
    assert_int_equal (notify_message_render (&tmpl, NOTIFY_EMAIL, &e.env, &message, &err), 0);
    assert_string_equal (message.subject, "【矛盾纠纷】社区131003001002新登记邻里纠纷一起");
    assert_string_equal (message.body,
                         "社区131003001002于2026-11-23 10:00登记矛盾纠纷一起（案件"
                         "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b），类别：邻里纠纷，风险：较高，"
                         "涉及3人，来源：热线。请于2026-11-27 00:00前受理。");
    assert_false (message.truncated);
    assert_int_equal (notify_message_render (&tmpl, NOTIFY_INBOX, &e.env, &message, &err), 0);
    assert_string_equal (message.subject, "");
    s_event_destroy (&e);
}

static void
test_filters_and_values (void **state)
{
    s_event_t e;
    s_event_json (&e, "admission.approved", "131003",
                  "{\"funds\": 123456, \"debt\": -5, \"targets\": [{\"community\": \"1\"},"
                  " {\"community\": \"2\"}], \"note\": null, \"flag\": true, \"ratio\": 0.5,"
                  " \"kind\": \"not_an_enum_value\", \"list\": [1, \"a\"]}");
    char out[NOTIFY_BODY_MAX];
    bool cut = false;
    sq_error_t err = {0};
    const char *text = "{funds|yuan}|{debt|yuan}|{targets|count}|[{note}]|{flag}|{ratio}|"
                       "{kind|label}|{list}|{seq}|{src}|{div}|{at}|{missing}|{funds|label}";
    assert_int_equal (notify_template_render (text, &e.env, NOTIFY_ESCAPE_TEXT, 0, out,
                                              sizeof out, &cut, &err), 0);
    assert_string_equal (out, "1234.56|-0.05|2|[]|true|0.5|not_an_enum_value|[1,\"a\"]|42|"
                              "admission|131003|1795399200000000||123456");
    //  Before 1970 and out of the calendar: a time still renders, or falls back to the number.
    e.env.at = -1;
    assert_int_equal (notify_template_render ("{at|time}", &e.env, NOTIFY_ESCAPE_TEXT, 0, out,
                                              sizeof out, &cut, &err), 0);
    assert_string_equal (out, "1970-01-01 07:59");
    e.env.at = INT64_MAX;
    assert_int_equal (notify_template_render ("{at|time}", &e.env, NOTIFY_ESCAPE_TEXT, 0, out,
                                              sizeof out, &cut, &err), 0);
    assert_string_equal (out, "9223372036854775807");
    s_event_destroy (&e);
}

static void
test_email_subject_cannot_inject_headers (void **state)
{
    s_event_t e;
    s_event_json (&e, "admission.rejected", "131003",
                  "{\"department\": \"民政局\\r\\nBcc: all@example.com\", \"kind\": \"task\","
                  " \"application\": \"a\", \"by\": \"review\","
                  " \"note\": \"第一行\\r\\n第二行\\u0007\\t尾\\u202e反\"}");
    notify_template_t tmpl;
    assert_int_equal (notify_template_default ("admission.rejected", NOTIFY_EMAIL, &tmpl), 0);
    notify_message_t message;
    sq_error_t err = {0};
    assert_int_equal (notify_message_render (&tmpl, NOTIFY_EMAIL, &e.env, &message, &err), 0);
    assert_null (strpbrk (message.subject, "\r\n"));
    assert_string_equal (message.subject, "【准入未通过】民政局  Bcc: all@example.com：工作任务");
    //  The body keeps line feeds, drops carriage returns and bidirectional overrides, and
    //  turns other control characters into spaces.
    assert_non_null (strstr (message.body, "。第一行\n第二行 \t尾反"));
    assert_null (strchr (message.body, '\r'));
    //  A subject template's own line break cannot get through either.
    tmpl.subject = "a\r\nb{department}";
    assert_int_equal (notify_message_render (&tmpl, NOTIFY_EMAIL, &e.env, &message, &err), 0);
    assert_null (strpbrk (message.subject, "\r\n"));
    s_event_destroy (&e);
}

//  Counts the UTF-8 characters of s.
static size_t
s_chars (const char *s)
{
    size_t count = 0;
    for (; *s; s++)
        count += ((unsigned char) *s & 0xc0) != 0x80;
    return count;
}

static void
test_sms_is_one_line_and_limited (void **state)
{
    char note[2001 * 3 + 1] = "";
    for (int i = 0; i < 2000; i++)
        memcpy (note + 3 * i, "很", 3);
    note[6000] = 0;
    char data[sizeof note + 256];
    snprintf (data, sizeof data, "{\"department\": \"民政局\", \"kind\": \"task\","
                                 " \"application\": \"a\", \"by\": \"review\", \"note\": \"%s\"}",
              note);
    s_event_t e;
    s_event_json (&e, "admission.rejected", "131003", data);
    notify_template_t tmpl = {.type = "admission.rejected", .body = "通知：\n{department}\t{note}"};
    notify_message_t message;
    sq_error_t err = {0};
    assert_int_equal (notify_message_render (&tmpl, NOTIFY_SMS, &e.env, &message, &err), 0);
    assert_true (message.truncated);
    assert_int_equal (s_chars (message.body), NOTIFY_SMS_CHARS_MAX);
    assert_non_null (strstr (message.body, "通知： 民政局 很很"));
    assert_string_equal (message.body + strlen (message.body) - 3, "…");
    for (const char *p = message.body; *p; p++)
        assert_false ((unsigned char) *p < 0x20);

    //  Exactly at the limit nothing is cut; one character over, the last makes room for "…".
    char out[NOTIFY_BODY_MAX];
    bool cut = true;
    assert_int_equal (notify_template_render ("一二三四", &e.env, NOTIFY_ESCAPE_LINE, 4, out,
                                              sizeof out, &cut, &err), 0);
    assert_string_equal (out, "一二三四");
    assert_false (cut);
    assert_int_equal (notify_template_render ("一二三四五", &e.env, NOTIFY_ESCAPE_LINE, 4, out,
                                              sizeof out, &cut, &err), 0);
    assert_string_equal (out, "一二三…");
    assert_true (cut);
    //  The same with bytes: a buffer of 13 holds four 3-byte characters and the terminator.
    assert_int_equal (notify_template_render ("一二三四", &e.env, NOTIFY_ESCAPE_LINE, 0, out,
                                              13, &cut, &err), 0);
    assert_string_equal (out, "一二三四");
    assert_int_equal (notify_template_render ("一二三四五", &e.env, NOTIFY_ESCAPE_LINE, 0, out,
                                              13, &cut, &err), 0);
    assert_string_equal (out, "一二三…");
    s_event_destroy (&e);
}

static void
test_webhook_json_escaping (void **state)
{
    s_event_t e;
    s_event_json (&e, "admission.rejected", "131003",
                  "{\"note\": \"say \\\"hi\\\" \\\\ \\n\\u0001 \\u2028 </script>\"}");
    notify_template_t tmpl = {.type = "admission.rejected",
                              .body = "{\"text\": \"{note}\", \"seq\": {seq}}"};
    notify_message_t message;
    sq_error_t err = {0};
    assert_int_equal (notify_message_render (&tmpl, NOTIFY_WEBHOOK, &e.env, &message, &err), 0);
    assert_string_equal (message.body, "{\"text\": \"say \\\"hi\\\" \\\\ \\n\\u0001 \\u2028 "
                                       "</script>\", \"seq\": 42}");
    //  What came out is JSON.
    msgpack_sbuffer buf;
    msgpack_sbuffer_init (&buf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &buf, msgpack_sbuffer_write);
    char why[SQ_ERROR_MESSAGE_MAX] = "";
    if (sq_json_to_msgpack (message.body, strlen (message.body), &pk, why, sizeof why))
        fail_msg ("%s: %s", message.body, why);
    msgpack_sbuffer_destroy (&buf);

    //  JSON cut short would not be JSON: it is refused instead.
    char out[16];
    bool cut = false;
    assert_int_equal (notify_template_render ("{\"text\": \"{note}\"}", &e.env,
                                              NOTIFY_ESCAPE_JSON, 0, out, sizeof out, &cut,
                                              &err), -1);
    assert_non_null (strstr (err.message, "longer than 15 bytes"));
    s_event_destroy (&e);
}

static void
test_bytes_that_are_not_text (void **state)
{
    s_event_t e;
    //  A stray byte, a cut sequence, an overlong slash and a NUL inside the string.
    s_event_raw (&e, "admission.rejected", "note", "a\xff" "b\xe4\xb8" "c\xc0\xaf" "d\0e", 11);
    char out[NOTIFY_BODY_MAX];
    bool cut = false;
    sq_error_t err = {0};
    assert_int_equal (notify_template_render ("[{note}]", &e.env, NOTIFY_ESCAPE_TEXT, 0, out,
                                              sizeof out, &cut, &err), 0);
    assert_string_equal (out, "[a\xef\xbf\xbd" "b\xef\xbf\xbd\xef\xbf\xbd" "c\xef\xbf\xbd"
                              "\xef\xbf\xbd" "d e]");
    assert_int_equal (notify_template_render ("{\"n\": \"{note}\"}", &e.env, NOTIFY_ESCAPE_JSON,
                                              0, out, sizeof out, &cut, &err), 0);
    assert_non_null (strstr (out, "d\\u0000e"));
    //  A template the checker would refuse is refused when rendered, too.
    assert_int_equal (notify_template_render ("{note", &e.env, NOTIFY_ESCAPE_TEXT, 0, out,
                                              sizeof out, &cut, &err), -1);
    s_event_destroy (&e);
}

static void
test_long_value_is_cut (void **state)
{
    char value[NOTIFY_VALUE_MAX + 100];
    memset (value, 'x', sizeof value);
    s_event_t e;
    s_event_raw (&e, "admission.rejected", "note", value, sizeof value);
    char out[NOTIFY_BODY_MAX];
    bool cut = false;
    sq_error_t err = {0};
    assert_int_equal (notify_template_render ("{note}!", &e.env, NOTIFY_ESCAPE_TEXT, 0, out,
                                              sizeof out, &cut, &err), 0);
    assert_int_equal (strlen (out), NOTIFY_VALUE_MAX + 3 + 1);
    assert_string_equal (out + NOTIFY_VALUE_MAX, "…!");
    s_event_destroy (&e);
}

static void
test_names (void **state)
{
    notify_channel_t channel;
    for (int i = 0; i < NOTIFY_CHANNEL_COUNT; i++) {
        assert_int_equal (notify_channel_parse (notify_channel_name (i), &channel), 0);
        assert_int_equal (channel, i);
    }
    assert_int_equal (notify_channel_parse ("fax", &channel), -1);
    assert_null (notify_channel_name (NOTIFY_CHANNEL_COUNT));
    assert_string_equal (notify_label ("land_requisition"), "征地拆迁纠纷");
    assert_null (notify_label ("nothing"));
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_contract_names),
        cmocka_unit_test (test_check),
        cmocka_unit_test (test_defaults_fit_their_contracts),
        cmocka_unit_test (test_render_default_inbox_and_email),
        cmocka_unit_test (test_filters_and_values),
        cmocka_unit_test (test_email_subject_cannot_inject_headers),
        cmocka_unit_test (test_sms_is_one_line_and_limited),
        cmocka_unit_test (test_webhook_json_escaping),
        cmocka_unit_test (test_bytes_that_are_not_text),
        cmocka_unit_test (test_long_value_is_cut),
        cmocka_unit_test (test_names),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
