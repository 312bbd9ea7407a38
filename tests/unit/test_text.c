/*  The text the hot paths build by hand instead of with snprintf: numbers, bounded copies,
    event ids, PostgreSQL array literals and COPY rows. Each is checked against what the
    slow, obvious way gives, and against the escapes PostgreSQL expects. */
#include "shequ.h"

#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static void
test_int_text_equals_printf (void **state)
{
    (void) state;
    const int64_t values[] = {0, 1, -1, 9, 10, -10, 1234567890, INT64_MAX, INT64_MIN,
                              INT64_MIN + 1, 1700000000000000};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        char mine[SQ_INT_TEXT_MAX], theirs[32];
        size_t len = sq_int_text (values[i], mine);
        snprintf (theirs, sizeof theirs, "%" PRId64, values[i]);
        assert_string_equal (mine, theirs);
        assert_int_equal (len, strlen (theirs));
    }
}

static void
test_copy_str_cuts_and_terminates (void **state)
{
    (void) state;
    char out[6];
    assert_int_equal (sq_copy_str (out, sizeof out, "abc"), 3);
    assert_string_equal (out, "abc");
    assert_int_equal (sq_copy_str (out, sizeof out, "abcde"), 5);
    assert_string_equal (out, "abcde");
    assert_int_equal (sq_copy_str (out, sizeof out, "abcdefgh"), 5);
    assert_string_equal (out, "abcde");
    assert_int_equal (sq_copy_str (out, 1, "abc"), 0);
    assert_string_equal (out, "");
    assert_int_equal (sq_copy_str (out, sizeof out, ""), 0);
    assert_string_equal (out, "");
}

//  UUID version 7 text: time first, then random; unique across many.
static void
test_ids_are_uuid7_and_unique (void **state)
{
    (void) state;
    enum { COUNT = 20000 };
    char (*ids)[SQ_ID_SIZE] = calloc (COUNT, sizeof *ids);
    assert_non_null (ids);
    for (int i = 0; i < COUNT; i++) {
        sq_id_new (ids[i]);
        const char *id = ids[i];
        assert_int_equal (strlen (id), 36);
        for (int k = 0; k < 36; k++)
            if (k == 8 || k == 13 || k == 18 || k == 23)
                assert_int_equal (id[k], '-');
            else
                assert_non_null (strchr ("0123456789abcdef", id[k]));
        assert_int_equal (id[14], '7');
        assert_non_null (strchr ("89ab", id[19]));
        if (i > 0)
            assert_true (strncmp (ids[i - 1], id, 8) <= 0); //  milliseconds only grow
    }
    qsort (ids, COUNT, sizeof *ids, (int (*) (const void *, const void *)) strcmp);
    for (int i = 1; i < COUNT; i++)
        assert_string_not_equal (ids[i - 1], ids[i]);
    free (ids);
}

static void
test_array_literal_escapes (void **state)
{
    (void) state;
    sq_db_array_t a;
    sq_db_array_init (&a);
    assert_string_equal (sq_db_array_text (&a), "{}");
    sq_db_array_add (&a, "plain");
    sq_db_array_add (&a, "q\"uo\\te");
    sq_db_array_add (&a, NULL);
    sq_db_array_add (&a, "");
    sq_db_array_add (&a, "{a,b} 中文");
    sq_db_array_add_int (&a, -42);
    assert_string_equal (sq_db_array_text (&a),
                         "{\"plain\",\"q\\\"uo\\\\te\",NULL,\"\",\"{a,b} 中文\",-42}");
    assert_int_equal (a.count, 6);
    sq_db_array_destroy (&a);
}

static void
test_copy_rows_escape_as_copy_wants (void **state)
{
    (void) state;
    sq_db_copy_t rows;
    sq_db_copy_init (&rows);
    sq_db_copy_int (&rows, 7);
    sq_db_copy_text (&rows, "tab\there\nnew\rret\\back");
    sq_db_copy_text (&rows, NULL);
    sq_db_copy_text (&rows, "\\N");
    const unsigned char bytes[] = {0x00, 0x0a, 0xff};
    sq_db_copy_bytea (&rows, bytes, sizeof bytes);
    sq_db_copy_end_row (&rows);
    sq_db_copy_text (&rows, "");
    sq_db_copy_bytea (&rows, NULL, 0);
    sq_db_copy_end_row (&rows);
    const char *expected = "7\ttab\\there\\nnew\\rret\\\\back\t\\N\t\\\\N\t\\\\x000aff\n"
                           "\t\\N\n";
    assert_int_equal (rows.size, strlen (expected));
    assert_memory_equal (rows.data, expected, rows.size);
    assert_int_equal (rows.rows, 2);
    sq_db_copy_destroy (&rows);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_int_text_equals_printf),
        cmocka_unit_test (test_copy_str_cuts_and_terminates),
        cmocka_unit_test (test_ids_are_uuid7_and_unique),
        cmocka_unit_test (test_array_literal_escapes),
        cmocka_unit_test (test_copy_rows_escape_as_copy_wants),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
