/*  test_json: JSON to msgpack and back (sq_json), and that what it packs passes the
    platform's strict msgpack checker (sq_doc_new). Also shows how to call it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "sq_json.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WHY_SIZE 256 //  room for an error message in these tests

//  Converts json to msgpack, checks it with sq_doc_new, and returns it written back as
//  one line of JSON (caller frees). Fails the test on any error.
static char *
s_round_trip (const char *json)
{
    msgpack_sbuffer buf;
    msgpack_sbuffer_init (&buf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &buf, msgpack_sbuffer_write);
    char why[WHY_SIZE] = "";
    int rc = sq_json_to_msgpack (json, strlen (json), &pk, why, sizeof why);
    if (rc) fail_msg ("%s: %s", json, why);
    sq_doc_t *doc = sq_doc_new (buf.data, buf.size, why, sizeof why);
    if (!doc) fail_msg ("%s: sq_doc_new: %s", json, why);
    char *text = sq_json_from_msgpack (sq_doc_root (doc));
    assert_non_null (text);
    sq_doc_destroy (&doc);
    msgpack_sbuffer_destroy (&buf);
    return text;
}

static void
s_assert_round_trip (const char *json, const char *expected)
{
    char *text = s_round_trip (json);
    assert_string_equal (text, expected);
    free (text);
}

//  Asserts that json (of len bytes) is refused, that the reason contains fragment, and that
//  nothing was packed.
static void
s_assert_refused_len (const char *json, size_t len, const char *fragment)
{
    msgpack_sbuffer buf;
    msgpack_sbuffer_init (&buf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &buf, msgpack_sbuffer_write);
    char why[WHY_SIZE] = "";
    assert_int_equal (sq_json_to_msgpack (json, len, &pk, why, sizeof why), -1);
    if (!strstr (why, fragment)) fail_msg ("%s: expected \"%s\" in \"%s\"", json, fragment, why);
    assert_int_equal (buf.size, 0);
    msgpack_sbuffer_destroy (&buf);
}

static void
s_assert_refused (const char *json, const char *fragment)
{
    s_assert_refused_len (json, strlen (json), fragment);
}

static void
test_round_trips (void **state)
{
    s_assert_round_trip ("{\"a\":1,\"b\":[true,false,null],\"c\":\"x\",\"d\":-5,\"e\":1.5}",
                         "{\"a\":1,\"b\":[true,false,null],\"c\":\"x\",\"d\":-5,\"e\":1.5}");
    s_assert_round_trip (" {\n\t\"a\" : [ 1 , 2 ] ,\r\n \"b\":{ } } ",
                         "{\"a\":[1,2],\"b\":{}}");
    s_assert_round_trip ("42", "42");
    s_assert_round_trip ("\"x\"", "\"x\"");
    s_assert_round_trip ("  true  ", "true");
    s_assert_round_trip ("null", "null");
    s_assert_round_trip ("\"社区\"", "\"社区\"");
    s_assert_round_trip ("{\"名字\":\"张三\"}", "{\"名字\":\"张三\"}");
}

static void
test_empty_containers (void **state)
{
    s_assert_round_trip ("{}", "{}");
    s_assert_round_trip ("[]", "[]");
    s_assert_round_trip ("[ ]", "[]");
    s_assert_round_trip ("{\"a\":{},\"b\":[],\"c\":[[],{}]}", "{\"a\":{},\"b\":[],\"c\":[[],{}]}");
    s_assert_round_trip ("\"\"", "\"\"");
    s_assert_round_trip ("{\"\":\"\"}", "{\"\":\"\"}");
}

static void
test_escapes (void **state)
{
    s_assert_round_trip ("\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\"", "\"a\\\"b\\\\c/d\\b\\f\\n\\r\\t\"");
    s_assert_round_trip ("\"\\u0001\\u001f\\u007f\"", "\"\\u0001\\u001f\x7f\"");
    s_assert_round_trip ("\"\\u00e9\\u00E9\\u4e2d\"", "\"éé中\"");
    s_assert_round_trip ("\"\\u0000\"", "\"\\u0000\"");
    s_assert_refused ("\"\\x\"", "unknown escape in string at byte 1");
    s_assert_refused ("\"\\u12\"", "\\u escape cut short at byte 3");
    s_assert_refused ("\"\\u12g4\"", "\\u escape needs four hex digits at byte 5");
    s_assert_refused ("\"\\", "escape cut short");
    s_assert_refused ("\"a\tb\"", "control character 0x09 in string must be escaped at byte 2");
    s_assert_refused ("\"a\nb\"", "control character 0x0a");
}

static void
test_surrogates (void **state)
{
    s_assert_round_trip ("\"\\ud83d\\ude00\"", "\"\xf0\x9f\x98\x80\"");
    s_assert_round_trip ("\"\\uD834\\uDD1E\"", "\"\xf0\x9d\x84\x9e\"");
    s_assert_round_trip ("\"\\udbff\\udfff\"", "\"\xf4\x8f\xbf\xbf\"");
    s_assert_refused ("\"\\ud83d\"", "high surrogate without a low one at byte 1");
    s_assert_refused ("\"\\ud83dx\"", "high surrogate without a low one");
    s_assert_refused ("\"\\ud83d\\u0041\"", "high surrogate without a low one");
    s_assert_refused ("\"\\ud83d\\ud83d\"", "high surrogate without a low one");
    s_assert_refused ("\"\\ude00\"", "low surrogate without a high one at byte 1");
}

//  Builds depth nested arrays around 1, e.g. [[1]] for 2 (caller frees).
static char *
s_nested (int depth)
{
    size_t size = 2 * (size_t) depth + 2;
    char *text = malloc (size);
    assert_non_null (text);
    for (int i = 0; i < depth; i++) {
        text[i] = '[';
        text[depth + 1 + i] = ']';
    }
    text[depth] = '1';
    text[size - 1] = 0;
    return text;
}

static void
test_nesting (void **state)
{
    char *deepest = s_nested (SQ_JSON_DEPTH_MAX);
    char *text = s_round_trip (deepest); //  sq_doc_new accepts the same depth
    assert_string_equal (text, deepest);
    free (text);
    char *too_deep = s_nested (SQ_JSON_DEPTH_MAX + 1);
    s_assert_refused (too_deep, "nesting deeper than 32 at byte 32");
    free (too_deep);
    free (deepest);

    //  Deep input far past the limit is refused without recursing into it.
    size_t size = 100000;
    char *brackets = malloc (size);
    assert_non_null (brackets);
    memset (brackets, '{', size);
    s_assert_refused_len (brackets, size, "expected a string key");
    memset (brackets, '[', size);
    s_assert_refused_len (brackets, size, "nesting deeper than 32");
    free (brackets);
}

static void
test_syntax_errors (void **state)
{
    s_assert_refused ("", "empty text, expected a value at byte 0");
    s_assert_refused ("  \n", "empty text");
    s_assert_refused ("{} x", "unexpected character 'x', expected the end of the text after "
                              "the value at byte 3");
    s_assert_refused ("1 2", "at byte 2");
    s_assert_refused ("{\"a\":1 x}", "unexpected character 'x', expected ',' or '}' at byte 7");
    s_assert_refused ("[1,]", "unexpected character ']', expected a value at byte 3");
    s_assert_refused ("[1 2]", "expected ',' or ']'");
    s_assert_refused ("{\"a\":1,}", "expected a string key at byte 7");
    s_assert_refused ("{'a':1}", "expected a string key at byte 1");
    s_assert_refused ("{\"a\" 1}", "expected ':' after the key at byte 5");
    s_assert_refused ("{\"a\":}", "expected a value at byte 5");
    s_assert_refused ("[1", "unexpected end of text, expected ',' or ']' at byte 2");
    s_assert_refused ("{\"a\":1", "unexpected end of text");
    s_assert_refused ("\"abc", "unterminated string at byte 0");
    s_assert_refused ("tru", "expected a value at byte 0");
    s_assert_refused ("truex", "at byte 4");
    s_assert_refused ("nul", "expected a value");
    s_assert_refused ("NaN", "unexpected character 'N'");
    s_assert_refused ("Infinity", "expected a value");
    s_assert_refused ("// comment\n1", "unexpected character '/'");
    s_assert_refused ("\xef\xbb\xbf{}", "unexpected byte 0xef");
    s_assert_refused ("[1,2,x]", "at byte 5"); //  and nothing packed for [1,2
}

static void
test_numbers (void **state)
{
    s_assert_round_trip ("0", "0");
    s_assert_round_trip ("-0", "0");
    s_assert_round_trip ("9223372036854775807", "9223372036854775807");
    s_assert_round_trip ("18446744073709551615", "18446744073709551615");
    s_assert_round_trip ("-9223372036854775808", "-9223372036854775808");
    s_assert_round_trip ("1.0", "1.0");
    s_assert_round_trip ("0.1", "0.1");
    s_assert_round_trip ("-2.5e3", "-2500.0");
    s_assert_round_trip ("1E2", "100.0");
    s_assert_round_trip ("1e+20", "1e+20");
    s_assert_round_trip ("1e-400", "0.0");
    s_assert_round_trip ("3.141592653589793", "3.141592653589793");
    s_assert_round_trip ("0.30000000000000004", "0.30000000000000004");
    s_assert_refused ("18446744073709551616", "exceeds the largest 64-bit integer at byte 0");
    s_assert_refused ("-9223372036854775809", "below the least 64-bit integer");
    s_assert_refused ("1e400", "out of the range of a double");
    s_assert_refused ("-1e400", "out of the range of a double");
    s_assert_refused ("01", "number with a leading zero at byte 0");
    s_assert_refused ("-01", "number with a leading zero at byte 1");
    s_assert_refused ("1.", "expected a digit after the decimal point at byte 2");
    s_assert_refused (".5", "unexpected character '.'");
    s_assert_refused ("+1", "unexpected character '+'");
    s_assert_refused ("-", "expected a digit");
    s_assert_refused ("1e", "expected a digit in the exponent");
    s_assert_refused ("1e+", "expected a digit in the exponent");
    s_assert_refused ("0x10", "unexpected character 'x'");

    char long_number[SQ_JSON_NUMBER_MAX + 2];
    memset (long_number, '1', sizeof long_number - 1);
    long_number[sizeof long_number - 1] = 0;
    s_assert_refused (long_number, "number longer than 128 bytes");
}

static void
test_invalid_utf8 (void **state)
{
    s_assert_refused ("\"\xff\"", "invalid UTF-8 in string at byte 1");
    s_assert_refused ("\"ab\xc0\xaf\"", "invalid UTF-8 in string at byte 3"); //  overlong
    s_assert_refused ("\"\xed\xa0\x80\"", "invalid UTF-8");                   //  surrogate
    s_assert_refused ("\"\xe4\xb8\"", "invalid UTF-8");                       //  cut short
    s_assert_refused ("\"\xf4\x90\x80\x80\"", "invalid UTF-8");               //  > U+10FFFF
    s_assert_refused ("\"\x80\"", "invalid UTF-8");
    s_assert_refused ("{\"\xfe\":1}", "invalid UTF-8 in string at byte 2");
}

static void
test_duplicate_keys (void **state)
{
    s_assert_refused ("{\"a\":1,\"a\":2}", "duplicate key \"a\" in object at byte 7");
    s_assert_refused ("{\"\\u0061\":1,\"a\":2}", "duplicate key \"a\"");
    s_assert_refused ("{\"x\":{\"b\":1,\"c\":2,\"b\":3}}", "duplicate key \"b\"");
    s_assert_round_trip ("{\"a\":1,\"b\":{\"a\":2},\"c\":[{\"a\":3},{\"a\":4}]}",
                         "{\"a\":1,\"b\":{\"a\":2},\"c\":[{\"a\":3},{\"a\":4}]}");
    s_assert_round_trip ("{\"a\":1,\"ab\":2,\"\":3}", "{\"a\":1,\"ab\":2,\"\":3}");
}

//  An object of many keys, to exercise the key table's growth and the sort.
static void
test_wide_object (void **state)
{
    enum { KEYS = 5000, KEY_TEXT = 16 };
    size_t size = (size_t) KEYS * (KEY_TEXT + 8) + 3;
    char *json = malloc (size);
    assert_non_null (json);
    size_t used = 0;
    json[used++] = '{';
    for (int i = 0; i < KEYS; i++)
        used += (size_t) snprintf (json + used, size - used, "%s\"k%d\":%d", i ? "," : "",
                                   KEYS - i, i);
    json[used++] = '}';
    json[used] = 0;
    char *text = s_round_trip (json);
    assert_string_equal (text, json);
    free (text);
    //  The same with one key repeated at the end.
    used--;
    used += (size_t) snprintf (json + used, size - used, ",\"k17\":0}");
    s_assert_refused (json, "duplicate key \"k17\"");
    free (json);
}

static void
test_text_too_long (void **state)
{
    size_t size = (size_t) SQ_JSON_TEXT_MAX + 1;
    char *json = malloc (size);
    assert_non_null (json);
    memset (json, ' ', size);
    json[0] = '1';
    s_assert_refused_len (json, size, "is longer than");
    //  One byte less is within the limit: a number and white space.
    msgpack_sbuffer buf;
    msgpack_sbuffer_init (&buf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &buf, msgpack_sbuffer_write);
    char why[WHY_SIZE] = "";
    assert_int_equal (sq_json_to_msgpack (json, size - 1, &pk, why, sizeof why), 0);
    assert_int_equal (buf.size, 1);
    msgpack_sbuffer_destroy (&buf);
    free (json);
}

//  A msgpack value packed by hand, decoded with sq_doc_new, written as JSON.
static char *
s_from_packed (msgpack_sbuffer *buf, int pretty)
{
    char why[WHY_SIZE] = "";
    sq_doc_t *doc = sq_doc_new (buf->data, buf->size, why, sizeof why);
    if (!doc) fail_msg ("sq_doc_new: %s", why);
    char *text = pretty ? sq_json_from_msgpack_pretty (sq_doc_root (doc))
                        : sq_json_from_msgpack (sq_doc_root (doc));
    sq_doc_destroy (&doc);
    msgpack_sbuffer_clear (buf);
    return text;
}

static void
test_from_msgpack_types (void **state)
{
    msgpack_sbuffer buf;
    msgpack_sbuffer_init (&buf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &buf, msgpack_sbuffer_write);

    msgpack_pack_array (&pk, 7);
    msgpack_pack_bin (&pk, 4);
    msgpack_pack_bin_body (&pk, "\x00\x01\xfe\xff", 4);
    msgpack_pack_bin (&pk, 0);
    msgpack_pack_ext (&pk, 2, 5);
    msgpack_pack_ext_body (&pk, "ab", 2);
    msgpack_pack_double (&pk, NAN);
    msgpack_pack_double (&pk, -INFINITY);
    msgpack_pack_float (&pk, 0.1f);
    msgpack_pack_str (&pk, 6);
    msgpack_pack_str_body (&pk, "a\xff" "b\x1f\"\\", 6);
    char *text = s_from_packed (&buf, 0);
    assert_string_equal (text, "[\"AAH+/w==\",\"\",{\"ext\":5,\"data\":\"YWI=\"},null,null,0.1,"
                               "\"a\\ufffdb\\u001f\\\"\\\\\"]");
    free (text);

    //  Keys that are not strings become the JSON text of the key.
    msgpack_pack_map (&pk, 4);
    msgpack_pack_int (&pk, 1);
    msgpack_pack_true (&pk);
    msgpack_pack_nil (&pk);
    msgpack_pack_int (&pk, -2);
    msgpack_pack_array (&pk, 2);
    msgpack_pack_int (&pk, 1);
    sq_pack_str (&pk, "x");
    msgpack_pack_false (&pk);
    msgpack_pack_bin (&pk, 1);
    msgpack_pack_bin_body (&pk, "a", 1);
    msgpack_pack_nil (&pk);
    text = s_from_packed (&buf, 0);
    assert_string_equal (text, "{\"1\":true,\"null\":-2,\"[1,\\\"x\\\"]\":false,"
                               "\"\\\"YQ==\\\"\":null}");
    free (text);
    msgpack_sbuffer_destroy (&buf);
}

//  Packs levels maps, each the only key of the next: {{{"\"":nil}:nil}:nil}.
static void
s_pack_key_tower (msgpack_packer *pk, int levels)
{
    if (levels == 0) {
        sq_pack_str (pk, "\"");
        return;
    }
    msgpack_pack_map (pk, 1);
    s_pack_key_tower (pk, levels - 1);
    msgpack_pack_nil (pk);
}

//  Keys within keys are escaped once per level, which doubles the backslashes each time:
//  a tower of 30 costs 90 bytes of msgpack and would take gigabytes of JSON unbounded.
static void
test_from_msgpack_key_amplification (void **state)
{
    msgpack_sbuffer buf;
    msgpack_sbuffer_init (&buf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &buf, msgpack_sbuffer_write);
    s_pack_key_tower (&pk, 2);
    char *text = s_from_packed (&buf, 0);
    assert_string_equal (text, "{\"{\\\"\\\\\\\"\\\":null}\":null}");
    free (text);
    s_pack_key_tower (&pk, 30);
    assert_true (buf.size < 100);
    assert_null (s_from_packed (&buf, 0));
    msgpack_sbuffer_destroy (&buf);
}

static void
test_pretty (void **state)
{
    msgpack_sbuffer buf;
    msgpack_sbuffer_init (&buf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &buf, msgpack_sbuffer_write);
    const char *json = "{\"ok\":true,\"result\":{\"list\":[1,{\"a\":null}],"
                       "\"empty\":{},\"none\":[]}}";
    char why[WHY_SIZE] = "";
    assert_int_equal (sq_json_to_msgpack (json, strlen (json), &pk, why, sizeof why), 0);
    char *text = s_from_packed (&buf, 1);
    assert_string_equal (text, "{\n"
                               "  \"ok\": true,\n"
                               "  \"result\": {\n"
                               "    \"list\": [\n"
                               "      1,\n"
                               "      {\n"
                               "        \"a\": null\n"
                               "      }\n"
                               "    ],\n"
                               "    \"empty\": {},\n"
                               "    \"none\": []\n"
                               "  }\n"
                               "}");
    free (text);
    assert_int_equal (sq_json_to_msgpack ("7", 1, &pk, why, sizeof why), 0);
    text = s_from_packed (&buf, 1);
    assert_string_equal (text, "7");
    free (text);
    msgpack_sbuffer_destroy (&buf);
}

//  An object deeper than the platform accepts (built by hand: sq_doc_new would refuse it)
//  is not written.
static void
test_from_msgpack_too_deep (void **state)
{
    msgpack_object levels[SQ_JSON_DEPTH_MAX + 1];
    for (int i = 0; i <= SQ_JSON_DEPTH_MAX; i++) {
        levels[i].type = MSGPACK_OBJECT_ARRAY;
        levels[i].via.array.size = i < SQ_JSON_DEPTH_MAX ? 1 : 0;
        levels[i].via.array.ptr = i < SQ_JSON_DEPTH_MAX ? &levels[i + 1] : NULL;
    }
    assert_null (sq_json_from_msgpack (&levels[0]));
    char *text = sq_json_from_msgpack (&levels[1]);
    assert_non_null (text);
    assert_int_equal (strlen (text), 2 * SQ_JSON_DEPTH_MAX);
    free (text);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_round_trips),
        cmocka_unit_test (test_empty_containers),
        cmocka_unit_test (test_escapes),
        cmocka_unit_test (test_surrogates),
        cmocka_unit_test (test_nesting),
        cmocka_unit_test (test_syntax_errors),
        cmocka_unit_test (test_numbers),
        cmocka_unit_test (test_invalid_utf8),
        cmocka_unit_test (test_duplicate_keys),
        cmocka_unit_test (test_wide_object),
        cmocka_unit_test (test_text_too_long),
        cmocka_unit_test (test_from_msgpack_types),
        cmocka_unit_test (test_from_msgpack_key_amplification),
        cmocka_unit_test (test_pretty),
        cmocka_unit_test (test_from_msgpack_too_deep),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
