/*  test_notify_mail: the pure parts of the SMS and e-mail channels and of digests (issue 6):
    RFC 2047 subjects (whole characters per word, words short enough, ASCII left alone),
    dot-stuffing and CRLF, the Date header in China Standard Time, the formatted message,
    addresses that could inject an SMTP command, SMTP replies (multi-line, partial, not
    SMTP), the SMS provider's configuration and JSON body, and digest texts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "notify/notify.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MONDAY_10_CST_US (INT64_C (1795399200) * 1000000) //  2026-11-23 10:00 +0800

//  Decodes the "=?UTF-8?B?...?=" words of an encoded subject, checking each on its own:
//  at most 75 characters, valid UTF-8 by itself. Returns the text (malloc'd).
static char *
s_decode_subject (const char *encoded)
{
    char *out = calloc (1, strlen (encoded) + 1);
    size_t used = 0;
    const char *p = encoded;
    while (*p) {
        assert_memory_equal (p, "=?UTF-8?B?", 10);
        const char *end = strstr (p + 10, "?=");
        assert_non_null (end);
        assert_true (end + 2 - p <= 75);
        size_t len = 0;
        assert_int_equal (sodium_base642bin ((unsigned char *) out + used, strlen (encoded),
                                             p + 10, (size_t) (end - p - 10), NULL, &len, NULL,
                                             sodium_base64_VARIANT_ORIGINAL), 0);
        //  Every word ends on a character boundary: its last lead byte is complete.
        assert_true (sq_utf8_valid (out + used, len));
        used += len;
        p = end + 2;
        if (*p) {
            assert_memory_equal (p, "\r\n ", 3);
            p += 3;
        }
    }
    return out;
}

static void
test_subject_encoding (void **state)
{
    (void) state;
    char out[NOTIFY_MAIL_SUBJECT_MAX];
    assert_int_equal (notify_mail_subject ("Case filed", out, sizeof out), 0);
    assert_string_equal (out, "Case filed");
    assert_int_equal (notify_mail_subject ("新纠纷：邻里纠纷", out, sizeof out), 0);
    assert_memory_equal (out, "=?UTF-8?B?", 10);
    char *text = s_decode_subject (out);
    assert_string_equal (text, "新纠纷：邻里纠纷");
    free (text);
    //  Long: several words, none splitting a three-byte character.
    char long_subject[400] = "";
    for (int i = 0; i < 40; i++)
        strcat (long_subject, i % 3 ? "社区" : "a");
    assert_int_equal (notify_mail_subject (long_subject, out, sizeof out), 0);
    assert_non_null (strstr (out, "\r\n "));
    text = s_decode_subject (out);
    assert_string_equal (text, long_subject);
    free (text);
    //  A control character cannot break the header; "=?" in ASCII is encoded too.
    assert_int_equal (notify_mail_subject ("a\r\nBcc: x@y", out, sizeof out), 0);
    assert_null (strstr (out, "Bcc"));
    text = s_decode_subject (out);
    assert_string_equal (text, "a  Bcc: x@y");
    free (text);
    assert_int_equal (notify_mail_subject ("=?UTF-8?B?x?=", out, sizeof out), 0);
    text = s_decode_subject (out);
    assert_string_equal (text, "=?UTF-8?B?x?=");
    free (text);
    assert_int_equal (notify_mail_subject ("社区", out, 10), -1);
}

static void
test_dot_stuffing (void **state)
{
    (void) state;
    size_t size = 0;
    const char *in = ".\n..x\r\nend\r.y";
    char *out = notify_mail_dot_stuff (in, strlen (in), &size);
    assert_string_equal (out, "..\r\n...x\r\nend\r\n..y\r\n");
    assert_int_equal (size, strlen (out));
    free (out);
    out = notify_mail_dot_stuff ("a.b\r\n", 5, &size);
    assert_string_equal (out, "a.b\r\n");
    free (out);
    out = notify_mail_dot_stuff ("", 0, &size);
    assert_string_equal (out, "\r\n");
    free (out);
}

static void
test_date_and_addresses (void **state)
{
    (void) state;
    char date[NOTIFY_MAIL_DATE_SIZE];
    assert_int_equal (notify_mail_date (MONDAY_10_CST_US, date), 0);
    assert_string_equal (date, "Mon, 23 Nov 2026 10:00:00 +0800");
    assert_true (notify_mail_address_valid ("wang@jixiang.example.cn"));
    assert_false (notify_mail_address_valid ("wang@x>\r\nRCPT TO:<evil@x"));
    assert_false (notify_mail_address_valid ("a b@x"));
    assert_false (notify_mail_address_valid ("@x"));
    assert_false (notify_mail_address_valid ("a@"));
    assert_false (notify_mail_address_valid ("a@b@c"));
    assert_false (notify_mail_address_valid (""));
}

static void
test_message_format (void **state)
{
    (void) state;
    notify_mail_t mail = {"notify@shequ.example.cn", "wang@jixiang.example.cn", "新纠纷",
                          "第一行\n.第二行以点开头\n", "01a2-delivery", MONDAY_10_CST_US};
    size_t size = 0;
    char *message = notify_mail_format (&mail, &size);
    assert_non_null (message);
    assert_int_equal (size, strlen (message));
    //  CRLF only: every LF has its CR.
    for (size_t i = 0; i < size; i++)
        if (message[i] == '\n')
            assert_int_equal (message[i - 1], '\r');
    assert_non_null (strstr (message, "Date: Mon, 23 Nov 2026 10:00:00 +0800\r\n"));
    assert_non_null (strstr (message, "From: <notify@shequ.example.cn>\r\n"));
    assert_non_null (strstr (message, "To: <wang@jixiang.example.cn>\r\n"));
    assert_non_null (strstr (message, "Subject: =?UTF-8?B?"));
    assert_non_null (strstr (message, "Message-ID: <01a2-delivery@shequ.example.cn>\r\n"));
    assert_non_null (strstr (message, "Content-Type: text/plain; charset=UTF-8\r\n"));
    assert_non_null (strstr (message, "Content-Transfer-Encoding: base64\r\n"));
    const char *body = strstr (message, "\r\n\r\n") + 4;
    char decoded[256];
    size_t len = 0;
    assert_int_equal (sodium_base642bin ((unsigned char *) decoded, sizeof decoded, body,
                                         strlen (body), "\r\n", &len, NULL,
                                         sodium_base64_VARIANT_ORIGINAL), 0);
    decoded[len] = '\0';
    assert_string_equal (decoded, "第一行\n.第二行以点开头\n");
    free (message);
    mail.to = "x@y>\r\nDATA";
    assert_null (notify_mail_format (&mail, &size));
}

static void
test_smtp_replies (void **state)
{
    (void) state;
    size_t used = 0;
    assert_int_equal (notify_smtp_reply ("250 ok\r\n", 8, &used), 250);
    assert_int_equal (used, 8);
    const char *multi = "250-mx.example\r\n250-8BITMIME\r\n250 SIZE 1000\r\n354 next";
    assert_int_equal (notify_smtp_reply (multi, strlen (multi), &used), 250);
    assert_int_equal (used, strlen (multi) - strlen ("354 next"));
    assert_int_equal (notify_smtp_reply ("250-mx\r\n250 ", 12, &used), 0);
    assert_int_equal (notify_smtp_reply ("451 4.3.0 try later\n", 20, &used), 451);
    assert_int_equal (notify_smtp_reply ("550\r\n", 5, &used), 550);
    assert_int_equal (notify_smtp_reply ("HTTP/1.1 200 OK\r\n", 17, &used), -1);
    assert_int_equal (notify_smtp_reply ("250-a\r\n251 b\r\n", 14, &used), -1);
    assert_int_equal (notify_smtp_reply ("250x\r\n", 6, &used), -1);
    notify_smtp_t smtp;
    char error[256];
    assert_int_equal (notify_smtp_config (&smtp, "", NULL, 1000, error, sizeof error), 0);
    assert_false (smtp.configured);
    assert_int_equal (notify_smtp_config (&smtp, "mail.gov.example", "n@shequ.example", 1000,
                                          error, sizeof error), 0);
    assert_string_equal (smtp.port, "25");
    assert_string_equal (smtp.helo, "shequ.example");
    assert_int_equal (notify_smtp_config (&smtp, "127.0.0.1:2525", "n@shequ.example", 1000,
                                          error, sizeof error), 0);
    assert_string_equal (smtp.host, "127.0.0.1");
    assert_string_equal (smtp.port, "2525");
    assert_int_equal (notify_smtp_config (&smtp, "host:99999", "n@x", 1000, error,
                                          sizeof error), -1);
    assert_non_null (strstr (error, "SHEQU_NOTIFY_SMTP"));
    assert_int_equal (notify_smtp_config (&smtp, "host", "not an address", 1000, error,
                                          sizeof error), -1);
    assert_non_null (strstr (error, "SHEQU_NOTIFY_SMTP_FROM"));
    //  Not configured: refused at once, which makes the rule's next channel be tried.
    notify_smtp_config (&smtp, NULL, NULL, 1000, error, sizeof error);
    assert_int_equal (notify_smtp_send (&smtp, "a@b", "x", 1, error, sizeof error),
                      NOTIFY_REFUSED);
}

static void
test_sms_provider (void **state)
{
    (void) state;
    notify_sms_t sms;
    char error[256];
    assert_int_equal (notify_sms_config (&sms, NULL, NULL, NULL, 1000, error, sizeof error), 0);
    assert_false (sms.configured);
    assert_int_equal (notify_sms_send (&sms, "13800138000", "x", "id", error, sizeof error),
                      NOTIFY_REFUSED);
    assert_non_null (strstr (error, "not configured"));
    assert_int_equal (notify_sms_config (&sms, "https://sms.example/send", NULL, NULL, 1000,
                                         error, sizeof error), -1);
    assert_non_null (strstr (error, "SHEQU_NOTIFY_SMS_URL"));
    assert_int_equal (notify_sms_config (&sms, "http://sms.example/send", "key\r\nX-Evil: 1",
                                         NULL, 1000, error, sizeof error), -1);
    assert_non_null (strstr (error, "SHEQU_NOTIFY_SMS_KEY"));
    assert_int_equal (notify_sms_config (&sms, "http://sms.example/send", "k", "a\nb", 1000,
                                         error, sizeof error), -1);
    assert_non_null (strstr (error, "SHEQU_NOTIFY_SMS_SIGN"));
    assert_int_equal (notify_sms_config (&sms, "http://sms.example:8080/v1/send", "k-1",
                                         "【吉祥社区】", 1000, error, sizeof error), 0);
    char *body = notify_sms_body (&sms, "13800138000", "新纠纷 \"楼上漏水\"", "d-1");
    assert_string_equal (body, "{\"to\":\"13800138000\",\"text\":\"新纠纷 \\\"楼上漏水\\\"\","
                               "\"id\":\"d-1\",\"sign\":\"【吉祥社区】\"}");
    free (body);
}

static void
test_digest_text (void **state)
{
    (void) state;
    enum { COUNT = 60 };
    notify_digest_item_t items[COUNT];
    char ids[COUNT][32];
    for (int i = 0; i < COUNT; i++) {
        snprintf (ids[i], sizeof ids[i], "event-%02d", i);
        items[i] = (notify_digest_item_t) {"新纠纷", "吉祥社区受理了一件邻里纠纷。", ids[i]};
    }
    char subject[NOTIFY_SUBJECT_MAX];
    char *body = NULL;
    int64_t minute = 60 * NOTIFY_SECOND_US;
    assert_int_equal (notify_digest_render (NOTIFY_EMAIL, items, COUNT, MONDAY_10_CST_US,
                                            5 * minute, subject, &body), 0);
    assert_string_equal (subject, "【汇总】60 条通知（11-23 10:00–10:05）");
    for (int i = 0; i < COUNT; i++) {
        char line[64];
        snprintf (line, sizeof line, "（事件 %.31s）", ids[i]);
        assert_non_null (strstr (body, line));
    }
    free (body);
    assert_int_equal (notify_digest_render (NOTIFY_SMS, items, COUNT, MONDAY_10_CST_US,
                                            5 * minute, subject, &body), 0);
    assert_string_equal (subject, "");
    assert_memory_equal (body, "【汇总】11-23 10:00起60条通知：1）", strlen ("【汇总】11-23"
                                                                        " 10:00起60条通知：1）"));
    size_t chars = 0;
    for (const char *p = body; *p; p++)
        chars += ((unsigned char) *p & 0xc0) != 0x80;
    assert_int_equal (chars, NOTIFY_SMS_CHARS_MAX);
    assert_true (sq_utf8_valid (body, strlen (body)));
    assert_non_null (strstr (body, "…"));
    free (body);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_subject_encoding),
        cmocka_unit_test (test_dot_stuffing),
        cmocka_unit_test (test_date_and_addresses),
        cmocka_unit_test (test_message_format),
        cmocka_unit_test (test_smtp_replies),
        cmocka_unit_test (test_sms_provider),
        cmocka_unit_test (test_digest_text),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
