/*  test_divisions_csv: the divisions reader on the real file and on malformed ones.
    The real file is $SHEQU_SHARED_DIR/data/divisions/divisions.csv, or the shared folder
    beside the source tree; the malformed ones are written to a fresh temporary directory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "registry/divisions_csv.h"

#define TEST_PATH_MAX 4096 //  longest path built here
#define TEST_DIR_MAX 1024  //  longest temporary directory, so that its files fit in a path

static char s_dir[TEST_DIR_MAX]; //  temporary directory of this run
static int s_file_seq;            //  names the files written there

static void
s_real_path (char *path, size_t size)
{
    const char *shared = getenv ("SHEQU_SHARED_DIR");
    if (shared && *shared)
        snprintf (path, size, "%s/data/divisions/divisions.csv", shared);
    else
        snprintf (path, size, "%s", SQ_SOURCE_DIR "/../shared/data/divisions/divisions.csv");
}

static int
s_setup (void **state)
{
    const char *tmp = getenv ("TMPDIR");
    snprintf (s_dir, sizeof s_dir, "%s/test_divisions_XXXXXX", tmp && *tmp ? tmp : "/tmp");
    return mkdtemp (s_dir) ? 0 : -1;
}

static int
s_teardown (void **state)
{
    char path[TEST_PATH_MAX];
    for (int i = 1; i <= s_file_seq; i++) {
        snprintf (path, sizeof path, "%s/%d.csv", s_dir, i);
        unlink (path);
    }
    return rmdir (s_dir);
}

//  Writes size bytes of text to a new file of the temporary directory; path gets its name.
static void
s_write (const char *text, size_t size, char path[TEST_PATH_MAX])
{
    snprintf (path, TEST_PATH_MAX, "%s/%d.csv", s_dir, ++s_file_seq);
    FILE *file = fopen (path, "wb");
    assert_non_null (file);
    assert_int_equal (fwrite (text, 1, size, file), size);
    assert_int_equal (fclose (file), 0);
}

//  Reads text as a divisions file; NULL with err on a fault.
static registry_divisions_t *
s_read_text (const char *text, size_t size, sq_error_t *err)
{
    char path[TEST_PATH_MAX];
    s_write (text, size, path);
    return registry_divisions_csv_read (path, err);
}

//  Checks that text is rejected with exactly the message given.
static void
s_assert_rejected_n (const char *text, size_t size, const char *message)
{
    sq_error_t err = {0};
    registry_divisions_t *divisions = s_read_text (text, size, &err);
    if (divisions)
        fail_msg ("accepted, expected: %s", message);
    assert_string_equal (err.code, SQ_ERR_INVALID);
    assert_string_equal (err.field, "path");
    assert_string_equal (err.message, message);
}

static void
s_assert_rejected (const char *text, const char *message)
{
    s_assert_rejected_n (text, strlen (text), message);
}

//  The top of the real file, as the malformed files' common start (lines 1 to 4).
#define HEAD                                                                                  \
    "code,name,level,parent_code\n"                                                           \
    "13,河北省,province,\n"                                                                   \
    "1310,廊坊市,city,13\n"                                                                   \
    "131002,安次区,district,1310\n"

static void
test_real_file (void **state)
{
    char path[TEST_PATH_MAX];
    s_real_path (path, sizeof path);
    sq_error_t err = {0};
    struct timespec start, end;
    clock_gettime (CLOCK_MONOTONIC, &start);
    registry_divisions_t *divisions = registry_divisions_csv_read (path, &err);
    clock_gettime (CLOCK_MONOTONIC, &end);
    if (!divisions)
        fail_msg ("%s: %s", path, err.message);
    double elapsed_ms = (end.tv_sec - start.tv_sec) * 1e3 + (end.tv_nsec - start.tv_nsec) / 1e6;
    print_message ("read %zu rows in %.2f ms\n", registry_divisions_count (divisions),
                   elapsed_ms);
    //  The README's table.
    assert_int_equal (registry_divisions_level_count (divisions, REGISTRY_LEVEL_PROVINCE), 3);
    assert_int_equal (registry_divisions_level_count (divisions, REGISTRY_LEVEL_CITY), 3);
    assert_int_equal (registry_divisions_level_count (divisions, REGISTRY_LEVEL_DISTRICT), 23);
    assert_int_equal (registry_divisions_level_count (divisions, REGISTRY_LEVEL_STREET), 215);
    assert_int_equal (registry_divisions_level_count (divisions, REGISTRY_LEVEL_COMMUNITY),
                      4090);
    assert_int_equal (registry_divisions_count (divisions), 4334);
    //  Kinds counted apart from the code (awk on the file with DOMAIN.md's rule).
    assert_int_equal (registry_divisions_kind_count (divisions, REGISTRY_KIND_VILLAGE), 3443);
    assert_int_equal (
        registry_divisions_kind_count (divisions, REGISTRY_KIND_URBAN_COMMUNITY), 364);
    assert_int_equal (
        registry_divisions_kind_count (divisions, REGISTRY_KIND_RURAL_COMMUNITY), 283);

    const registry_division_t *row = registry_divisions_row (divisions, 0);
    assert_string_equal (row->code, "13");
    assert_string_equal (row->name, "河北省");
    assert_string_equal (row->parent_code, "");
    assert_int_equal (row->line, 2);
    assert_null (row->kind);
    row = registry_divisions_find (divisions, "131002001");
    assert_non_null (row);
    assert_string_equal (row->name, "银河南路街道");
    assert_int_equal (row->level, REGISTRY_LEVEL_STREET);
    assert_string_equal (row->parent_code, "131002");
    row = registry_divisions_find (divisions, "131081100233");
    assert_string_equal (row->name, "东关一街街道委员会");
    assert_string_equal (row->kind, REGISTRY_KIND_RURAL_COMMUNITY);
    row = registry_divisions_find (divisions, "510411001006");
    assert_string_equal (row->kind, REGISTRY_KIND_URBAN_COMMUNITY);
    assert_null (registry_divisions_find (divisions, "131002001999"));
    assert_null (registry_divisions_find (divisions, "1"));
    for (size_t i = 0; i < registry_divisions_count (divisions); i++) {
        row = registry_divisions_row (divisions, i);
        assert_int_equal (row->line, i + 2);
        assert_true ((row->kind != NULL) == (row->level == REGISTRY_LEVEL_COMMUNITY));
    }
    registry_divisions_destroy (&divisions);
    assert_null (divisions);
    registry_divisions_destroy (&divisions);
}

static void
test_quoting_and_line_ends (void **state)
{
    //  RFC 4180 quotes, a doubled quote, a comma inside quotes, CRLF and LF mixed, a parent
    //  after its child, no final line end.
    const char *text = "\"code\",\"name\",\"level\",\"parent_code\"\r\n"
                       "\"1310\",\"廊坊\"\"市\"\", 北部\",\"city\",\"13\"\r\n"
                       "13,河北省,province,\n"
                       "131002,安次区,district,\"1310\"";
    sq_error_t err = {0};
    registry_divisions_t *divisions = s_read_text (text, strlen (text), &err);
    if (!divisions)
        fail_msg ("%s", err.message);
    assert_int_equal (registry_divisions_count (divisions), 3);
    const registry_division_t *row = registry_divisions_find (divisions, "1310");
    assert_string_equal (row->name, "廊坊\"市\", 北部");
    assert_int_equal (row->line, 2);
    assert_int_equal (registry_divisions_find (divisions, "131002")->line, 4);
    registry_divisions_destroy (&divisions);

    //  A header alone is an empty set.
    divisions = s_read_text ("code,name,level,parent_code\n", 28, &err);
    assert_non_null (divisions);
    assert_int_equal (registry_divisions_count (divisions), 0);
    assert_null (registry_divisions_find (divisions, "13"));
    registry_divisions_destroy (&divisions);
}

static void
test_header_faults (void **state)
{
    s_assert_rejected ("", "line 1: file is empty, expected the header "
                           "code,name,level,parent_code");
    s_assert_rejected ("code,name,level,parent\n13,河北省,province,\n",
                       "line 1: header must be code,name,level,parent_code");
    s_assert_rejected ("code,name,level\n", "line 1: header must be code,name,level,parent_code");
    s_assert_rejected ("\xef\xbb\xbf" "code,name,level,parent_code\n",
                       "line 1: file starts with a byte order mark, save it as UTF-8 without "
                       "BOM");
}

static void
test_code_faults (void **state)
{
    s_assert_rejected (HEAD "131,固安县,district,1310\n",
                       "line 5: code 131 has 3 digits, level district needs 6");
    s_assert_rejected (HEAD "131002001,银河南路街道,street,131002\n"
                            "13100200101,某社区居民委员会,community,131002001\n",
                       "line 6: code 13100200101 has 11 digits, level community needs 12");
    s_assert_rejected (HEAD "1310020010011,某社区,community,131002001\n",
                       "line 5: code 1310020010011 has 13 digits, level community needs 12");
    s_assert_rejected (HEAD "131002001001131002001001131002,某社区,community,131002001\n",
                       "line 5: code has 30 digits, level community needs 12");
    s_assert_rejected (HEAD "13100A,固安县,district,1310\n", "line 5: code must hold only digits");
    s_assert_rejected (HEAD ",固安县,district,1310\n", "line 5: code is empty");
    s_assert_rejected (HEAD "131002001,银河南路街道,town,131002\n",
                       "line 5: level \"town\" is not one of province, city, district, street, "
                       "community");
    s_assert_rejected (HEAD "1310,廊坊市,city,13\n",
                       "line 5: code 1310 appears again (first on line 3)");
}

static void
test_parent_faults (void **state)
{
    s_assert_rejected (HEAD "131102,某区,district,1311\n",
                       "line 5: parent_code 1311 of district 131102 is not in the file");
    s_assert_rejected (HEAD "131003,广阳区,district,\n",
                       "line 5: parent_code of district 131003 is missing");
    s_assert_rejected (HEAD "131003,广阳区,district,1311\n",
                       "line 5: code 131003 does not start with its parent_code 1311");
    s_assert_rejected (HEAD "131002001,银河南路街道,street,1310\n",
                       "line 5: parent_code \"1310\" of street 131002001 must be the 6-digit "
                       "code of a district");
    s_assert_rejected (HEAD "51,四川省,province,5\n",
                       "line 5: province 51 must have an empty parent_code");
}

static void
test_name_faults (void **state)
{
    s_assert_rejected (HEAD "131003,,district,1310\n", "line 5: name of 131003 is empty");
    s_assert_rejected (HEAD "131003,\xff\xfe,district,1310\n",
                       "line 5: name of 131003 is not valid UTF-8");
    s_assert_rejected (HEAD "131003,\xe5\xb9\xbf\xe9\x98,district,1310\n",
                       "line 5: name of 131003 is not valid UTF-8");
    s_assert_rejected (HEAD "131003,广阳\t区,district,1310\n",
                       "line 5: name of 131003 holds a control character");
    char text[2048];
    char name[300];
    memset (name, 'a', 201);
    name[201] = 0;
    snprintf (text, sizeof text, HEAD "131003,%s,district,1310\n", name);
    s_assert_rejected (text, "line 5: name of 131003 is longer than 200 bytes");
    name[200] = 0;
    snprintf (text, sizeof text, HEAD "131003,%s,district,1310\n", name);
    sq_error_t err = {0};
    registry_divisions_t *divisions = s_read_text (text, strlen (text), &err);
    assert_non_null (divisions);
    registry_divisions_destroy (&divisions);
}

static void
test_syntax_faults (void **state)
{
    s_assert_rejected (HEAD "131003,\"广阳区,district,1310\n131022,固安县,district,1310\n",
                       "line 5: quoted field is not closed before the end of the file");
    s_assert_rejected (HEAD "131003,广阳区,district\n",
                       "line 5: has 3 fields, expected 4 (code,name,level,parent_code)");
    s_assert_rejected (HEAD "131003,广阳区,district,1310,x\n",
                       "line 5: has 5 fields, expected 4 (code,name,level,parent_code)");
    s_assert_rejected (HEAD "\n131003,广阳区,district,1310\n", "line 5: empty line");
    s_assert_rejected (HEAD "131003,广阳区,district,1310\n\n", "line 6: empty line");
    s_assert_rejected (HEAD "131003,广\"阳区,district,1310\n",
                       "line 5: quote inside an unquoted field");
    s_assert_rejected (HEAD "131003,\"广阳\"区,district,1310\n",
                       "line 5: text after the closing quote of a field");
    s_assert_rejected (HEAD "131003,广阳区,district,1310\r131022,固安县,district,1310\n",
                       "line 5: carriage return without a line feed");
    static const char nul_text[] = HEAD "131003,广阳\0区,district,1310\n";
    s_assert_rejected_n (nul_text, sizeof nul_text - 1, "line 5: holds a NUL byte");
    //  A quoted line end is legal CSV but a control character in a name; the fault is on
    //  the line where the record starts.
    s_assert_rejected (HEAD "131003,\"广阳\n区\",district,1310\n",
                       "line 5: name of 131003 holds a control character");
    char text[2048];
    char name[1100];
    memset (name, 'a', sizeof name - 1);
    name[sizeof name - 1] = 0;
    snprintf (text, sizeof text, HEAD "131003,%s,district,1310\n", name);
    s_assert_rejected (text, "line 5: record is longer than 1024 bytes");
}

static void
test_missing_file (void **state)
{
    char path[TEST_PATH_MAX];
    snprintf (path, sizeof path, "%s/absent.csv", s_dir);
    sq_error_t err = {0};
    assert_null (registry_divisions_csv_read (path, &err));
    assert_string_equal (err.code, SQ_ERR_INVALID);
    assert_string_equal (err.field, "path");
    char expected[TEST_PATH_MAX + 64];
    snprintf (expected, sizeof expected, "could not open %s: No such file or directory", path);
    assert_string_equal (err.message, expected);
    //  A directory opens but does not read.
    assert_null (registry_divisions_csv_read (s_dir, &err));
    assert_string_equal (err.field, "path");
    assert_non_null (strstr (err.message, "Is a directory"));
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_real_file),     cmocka_unit_test (test_quoting_and_line_ends),
        cmocka_unit_test (test_header_faults), cmocka_unit_test (test_code_faults),
        cmocka_unit_test (test_parent_faults), cmocka_unit_test (test_name_faults),
        cmocka_unit_test (test_syntax_faults), cmocka_unit_test (test_missing_file),
    };
    return cmocka_run_group_tests (tests, s_setup, s_teardown);
}
