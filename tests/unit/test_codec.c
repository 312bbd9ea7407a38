/*  sq_codec and sq_envelope: round trips, and hostile inputs that must cost no more than
    their length (oversized counts, deep nesting, wrong types, truncated frames). */
#include "shequ.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static sq_doc_t *
s_decode (const void *data, size_t size)
{
    char why[128];
    return sq_doc_new (data, size, why, sizeof why);
}

static void
test_round_trip_request (void **state)
{
    msgpack_sbuffer buf;
    msgpack_sbuffer_init (&buf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &buf, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, 3);
    sq_pack_kv_str (&pk, "cmd", "resident.register");
    sq_pack_str (&pk, "args");
    msgpack_pack_map (&pk, 5);
    sq_pack_kv_str (&pk, "name", "张三");
    sq_pack_kv_int (&pk, "people_involved", -7);
    sq_pack_kv_bool (&pk, "party_member", true);
    sq_pack_kv_nil (&pk, "grid");
    sq_pack_str (&pk, "care_groups");
    msgpack_pack_array (&pk, 2);
    sq_pack_str (&pk, "disabled");
    sq_pack_str (&pk, "elderly_alone");
    sq_pack_kv_str (&pk, "idem", "k1");

    sq_doc_t *doc = s_decode (buf.data, buf.size);
    assert_non_null (doc);
    const msgpack_object *root = sq_doc_root (doc);
    assert_true (sq_obj_str_eq (sq_obj_get (root, "cmd"), "resident.register"));
    const msgpack_object *args = sq_obj_get (root, "args");
    sq_error_t err = {0};
    char name[32];
    int64_t people = 0;
    bool member = false;
    const msgpack_object *groups = NULL;
    assert_int_equal (sq_arg_str (args, "name", true, 30, name, sizeof name, &err), 1);
    assert_string_equal (name, "张三");
    assert_int_equal (sq_arg_int (args, "people_involved", true, -10, 10, &people, &err), 1);
    assert_int_equal (people, -7);
    assert_int_equal (sq_arg_bool (args, "party_member", true, &member, &err), 1);
    assert_true (member);
    assert_int_equal (sq_arg_str (args, "grid", false, 30, name, sizeof name, &err), 0);
    assert_int_equal (sq_arg_array (args, "care_groups", true, 5, &groups, &err), 1);
    assert_int_equal (groups->via.array.size, 2);
    sq_doc_destroy (&doc);
    assert_null (doc);
    msgpack_sbuffer_destroy (&buf);
}

static void
test_argument_errors_name_the_field (void **state)
{
    msgpack_sbuffer buf;
    msgpack_sbuffer_init (&buf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &buf, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, 4);
    sq_pack_kv_int (&pk, "name", 5);
    sq_pack_kv_str (&pk, "count", "five");
    sq_pack_kv_str (&pk, "residency", "tourist");
    sq_pack_str (&pk, "bad_utf8");
    msgpack_pack_str (&pk, 2);
    msgpack_pack_str_body (&pk, "\xc3\x28", 2);
    sq_doc_t *doc = s_decode (buf.data, buf.size);
    const msgpack_object *args = sq_doc_root (doc);
    sq_error_t err = {0};
    char text[16];
    int64_t n;
    int choice;
    static const char *const residency[] = {"registered", "permanent", "floating", NULL};
    assert_int_equal (sq_arg_str (args, "name", true, 10, text, sizeof text, &err), -1);
    assert_string_equal (err.code, "invalid");
    assert_string_equal (err.field, "name");
    assert_int_equal (sq_arg_int (args, "count", true, 0, 9, &n, &err), -1);
    assert_string_equal (err.field, "count");
    assert_int_equal (sq_arg_enum (args, "residency", true, residency, &choice, &err), -1);
    assert_non_null (strstr (err.message, "registered, permanent, floating"));
    assert_int_equal (sq_arg_str (args, "missing", true, 10, text, sizeof text, &err), -1);
    assert_string_equal (err.message, "missing is required");
    assert_int_equal (sq_arg_str (args, "bad_utf8", true, 10, text, sizeof text, &err), -1);
    assert_string_equal (err.field, "bad_utf8");
    sq_doc_destroy (&doc);
    msgpack_sbuffer_destroy (&buf);
}

static void
test_hostile_counts_are_refused (void **state)
{
    //  DESIGN.md's five bytes: an array claiming 4 billion elements.
    const uint8_t array32[] = {0xdd, 0xff, 0xff, 0xff, 0xff};
    const uint8_t map32[] = {0xdf, 0xff, 0xff, 0xff, 0xff, 0x01};
    const uint8_t str32[] = {0xdb, 0x7f, 0xff, 0xff, 0xff, 'a'};
    const uint8_t bin32[] = {0xc6, 0x00, 0x01, 0x00, 0x00};
    const uint8_t array16[] = {0xdc, 0x00, 0x03, 0x01, 0x02}; //  3 items, 2 present
    const uint8_t fixmap[] = {0x81, 0xa1, 'k'};                 //  key without value
    const uint8_t ext32[] = {0xc9, 0x00, 0x00, 0x10, 0x00, 0x01};
    const uint8_t never[] = {0xc1};
    const uint8_t trailing[] = {0x01, 0x02};
    const struct { const uint8_t *data; size_t size; } cases[] = {
        {array32, sizeof array32}, {map32, sizeof map32}, {str32, sizeof str32},
        {bin32, sizeof bin32}, {array16, sizeof array16}, {fixmap, sizeof fixmap},
        {ext32, sizeof ext32}, {never, sizeof never}, {trailing, sizeof trailing}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char why[128] = "";
        assert_int_equal (sq_codec_check (cases[i].data, cases[i].size, why, sizeof why), -1);
        assert_true (why[0] != 0);
        assert_null (s_decode (cases[i].data, cases[i].size));
    }
    char why[64];
    assert_int_equal (sq_codec_check (NULL, 0, why, sizeof why), -1);
}

static void
test_truncated_frames_are_refused (void **state)
{
    msgpack_sbuffer buf;
    msgpack_sbuffer_init (&buf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &buf, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, 2);
    sq_pack_kv_str (&pk, "cmd", "division.get");
    sq_pack_str (&pk, "args");
    msgpack_pack_map (&pk, 1);
    sq_pack_kv_uint (&pk, "code", UINT64_MAX);
    //  Every proper prefix is refused; the whole is accepted.
    for (size_t cut = 0; cut < buf.size; cut++) {
        char why[128];
        assert_int_equal (sq_codec_check (buf.data, cut, why, sizeof why), -1);
    }
    sq_doc_t *doc = s_decode (buf.data, buf.size);
    assert_non_null (doc);
    sq_doc_destroy (&doc);
    msgpack_sbuffer_destroy (&buf);
}

static void
test_deep_nesting_is_refused (void **state)
{
    uint8_t deep[SQ_CODEC_DEPTH_MAX + 2];
    for (size_t depth = 1; depth <= SQ_CODEC_DEPTH_MAX + 1; depth++) {
        memset (deep, 0x91, depth); //  arrays of one element, nested
        deep[depth] = 0x00;
        char why[128];
        int rc = sq_codec_check (deep, depth + 1, why, sizeof why);
        assert_int_equal (rc, depth <= SQ_CODEC_DEPTH_MAX ? 0 : -1);
    }
}

static void
test_wrong_types_are_refused (void **state)
{
    //  A request that is an array, with cmd a number and args a string.
    const uint8_t array_root[] = {0x92, 0x01, 0x02};
    sq_doc_t *doc = s_decode (array_root, sizeof array_root);
    assert_non_null (doc); //  well-formed msgpack...
    assert_null (sq_obj_get (sq_doc_root (doc), "cmd")); //  ...but not a map
    sq_doc_destroy (&doc);
    sq_error_t err = {0};
    sq_envelope_t env;
    const uint8_t number[] = {0x2a};
    doc = s_decode (number, sizeof number);
    assert_int_equal (sq_envelope_decode (sq_doc_root (doc), &env, &err), -1);
    sq_doc_destroy (&doc);
}

static void
test_envelope_round_trip (void **state)
{
    sq_envelope_t env = {.seq = 42, .at = 1763900000000000};
    sq_id_new (env.id);
    snprintf (env.src, sizeof env.src, "disputes");
    snprintf (env.type, sizeof env.type, "disputes.case_filed");
    snprintf (env.div, sizeof env.div, "131003001002");
    snprintf (env.actor, sizeof env.actor, "staff-7");
    snprintf (env.cause, sizeof env.cause, "cmd-1");
    msgpack_sbuffer data;
    msgpack_sbuffer_init (&data);
    msgpack_packer dp;
    msgpack_packer_init (&dp, &data, msgpack_sbuffer_write);
    msgpack_pack_map (&dp, 1);
    sq_pack_kv_str (&dp, "case", "c-1");
    msgpack_sbuffer buf;
    msgpack_sbuffer_init (&buf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &buf, msgpack_sbuffer_write);
    sq_envelope_pack (&pk, &env, data.data, data.size);
    sq_doc_t *doc = s_decode (buf.data, buf.size);
    assert_non_null (doc);
    sq_envelope_t back;
    sq_error_t err = {0};
    assert_int_equal (sq_envelope_decode (sq_doc_root (doc), &back, &err), 0);
    assert_string_equal (back.id, env.id);
    assert_int_equal (back.seq, 42);
    assert_int_equal (back.at, env.at);
    assert_string_equal (back.corr, "");
    assert_true (sq_obj_str_eq (sq_obj_get (back.data, "case"), "c-1"));
    char topic[SQ_TOPIC_MAX];
    assert_int_equal (sq_envelope_topic (&back, topic, sizeof topic), 0);
    assert_string_equal (topic, "disputes.case_filed.131003001002");
    back.div[0] = 0;
    sq_envelope_topic (&back, topic, sizeof topic);
    assert_string_equal (topic, "disputes.case_filed");
    assert_int_equal (sq_obj_get (sq_doc_root (doc), "v")->via.u64, 1);
    sq_doc_destroy (&doc);
    msgpack_sbuffer_destroy (&buf);
    msgpack_sbuffer_destroy (&data);
}

static void
test_reply_bodies (void **state)
{
    msgpack_sbuffer buf;
    msgpack_sbuffer_init (&buf);
    sq_error_t err = {0};
    sq_error_set (&err, SQ_ERR_NOT_FOUND, "community",
                  "could not file case: community %s does not exist", "131003001099");
    sq_reply_pack_error (&buf, &err);
    sq_doc_t *doc = s_decode (buf.data, buf.size);
    const msgpack_object *root = sq_doc_root (doc);
    assert_false (sq_obj_get (root, "ok")->via.boolean);
    const msgpack_object *error = sq_obj_get (root, "error");
    assert_true (sq_obj_str_eq (sq_obj_get (error, "code"), "not_found"));
    assert_true (sq_obj_str_eq (sq_obj_get (error, "field"), "community"));
    assert_true (sq_obj_str_eq (sq_obj_get (error, "message"),
                                "could not file case: community 131003001099 does not exist"));
    sq_doc_destroy (&doc);
    msgpack_sbuffer_destroy (&buf);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_round_trip_request),
        cmocka_unit_test (test_argument_errors_name_the_field),
        cmocka_unit_test (test_hostile_counts_are_refused),
        cmocka_unit_test (test_truncated_frames_are_refused),
        cmocka_unit_test (test_deep_nesting_is_refused),
        cmocka_unit_test (test_wrong_types_are_refused),
        cmocka_unit_test (test_envelope_round_trip),
        cmocka_unit_test (test_reply_bodies),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
