/*  test_identity: GB 11643 identity numbers, mainland mobile numbers and masking.
    Vectors were computed apart from the code (ISO 7064 MOD 11-2 by hand in Python). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "sq_identity.h"

//  2024-01-01T12:00:00Z, so that "the future" does not move with the calendar.
#define TEST_NOW_US (INT64_C (1704110400) * 1000000)

//  Checks that in is rejected, on field id_number, with a message containing part.
static void
s_assert_id_rejected (const char *in, const char *part)
{
    char out[SQ_ID_NUMBER_SIZE] = "";
    sq_id_info_t info;
    sq_error_t err = {0};
    assert_int_equal (sq_id_number_check (in, TEST_NOW_US, out, &info, &err), -1);
    assert_string_equal (err.code, SQ_ERR_INVALID);
    assert_string_equal (err.field, "id_number");
    if (!strstr (err.message, part))
        fail_msg ("message \"%s\" lacks \"%s\"", err.message, part);
    assert_string_equal (out, "");
}

static void
test_valid_female (void **state)
{
    char out[SQ_ID_NUMBER_SIZE];
    sq_id_info_t info;
    sq_error_t err = {0};
    assert_int_equal (
        sq_id_number_check ("11010519491231002X", TEST_NOW_US, out, &info, &err), 0);
    assert_null (err.code);
    assert_string_equal (out, "11010519491231002X");
    assert_false (info.male);
    assert_string_equal (info.sex, "female");
    assert_string_equal (info.birth_date, "1949-12-31");
    assert_int_equal (info.birth_year, 1949);
    assert_int_equal (info.birth_month, 12);
    assert_int_equal (info.birth_day, 31);
    assert_string_equal (info.division, "110105");
}

static void
test_valid_male_and_others (void **state)
{
    char out[SQ_ID_NUMBER_SIZE];
    sq_id_info_t info;
    sq_error_t err = {0};
    assert_int_equal (
        sq_id_number_check ("110105194912310011", TEST_NOW_US, out, &info, &err), 0);
    assert_true (info.male);
    assert_string_equal (info.sex, "male");
    //  2000 is a leap year (divisible by 400), today is not the future, and info is optional.
    assert_int_equal (
        sq_id_number_check ("110105200002290013", TEST_NOW_US, out, &info, &err), 0);
    assert_string_equal (info.birth_date, "2000-02-29");
    assert_int_equal (
        sq_id_number_check ("110105202401010014", TEST_NOW_US, out, NULL, &err), 0);
    assert_int_equal (
        sq_id_number_check ("510422198001011235", TEST_NOW_US, out, &info, &err), 0);
    assert_string_equal (info.division, "510422");
    //  now_us 0 is the current time: 1949 is in the past whatever the day.
    assert_int_equal (sq_id_number_check ("11010519491231002X", 0, out, NULL, &err), 0);
    assert_int_equal (sq_id_number_check_char ("11010519491231002"), 'X');
}

static void
test_lower_case_x (void **state)
{
    char out[SQ_ID_NUMBER_SIZE];
    sq_error_t err = {0};
    assert_int_equal (
        sq_id_number_check ("11010519491231002x", TEST_NOW_US, out, NULL, &err), 0);
    assert_string_equal (out, "11010519491231002X");
    //  x anywhere else is a letter.
    s_assert_id_rejected ("1101051949123100x2", "character 17 is not a digit");
}

static void
test_wrong_check_character (void **state)
{
    s_assert_id_rejected ("110105194912310020", "id_number check character is 0, expected X");
    s_assert_id_rejected ("110105194912310012", "check character is 2, expected 1");
    s_assert_id_rejected ("11010519491231001X", "check character is X, expected 1");
}

static void
test_dates (void **state)
{
    //  Each carries a correct check character, so only the date is at fault.
    s_assert_id_rejected ("110105194902300020", "birth date 1949-02-30 does not exist");
    s_assert_id_rejected ("110105190002290017", "birth date 1900-02-29 does not exist");
    s_assert_id_rejected ("11010520240102001X", "birth date 2024-01-02 is in the future");
    s_assert_id_rejected ("110105189912310015", "birth date 1899-12-31 is before 1900-01-01");
    s_assert_id_rejected ("110105194913310011", "does not exist");
    s_assert_id_rejected ("110105194900100011", "does not exist");
    s_assert_id_rejected ("110105194904310011", "does not exist");
}

static void
test_shape (void **state)
{
    s_assert_id_rejected ("", "must have 18 characters, got 0");
    s_assert_id_rejected ("11010519491231002", "must have 18 characters, got 17");
    s_assert_id_rejected ("11010519491231002XX", "must have 18 characters, got 19");
    s_assert_id_rejected ("1101051949123100211010519491231002X11010519491231002X110105194912310"
                          "02X",
                          "got more than 64");
    s_assert_id_rejected ("11010519491231002A", "must end in a digit or X");
    s_assert_id_rejected ("A1010519491231002X", "character 1 is not a digit");
    s_assert_id_rejected ("110105 19491231002", "character 7 is not a digit");
    //  Full-width digits as a Chinese input method types them.
    s_assert_id_rejected ("\xef\xbc\x91" "1010519491231002X", "only ASCII digits");
}

static void
test_province (void **state)
{
    s_assert_id_rejected ("990105194912310023", "starts with 99, which is no province");
    s_assert_id_rejected ("000105194912310021", "starts with 00");
    s_assert_id_rejected ("720105194912310021", "starts with 72");
    char out[SQ_ID_NUMBER_SIZE];
    sq_error_t err = {0};
    assert_int_equal (
        sq_id_number_check ("440304199901010033", TEST_NOW_US, out, NULL, &err), 0);
}

//  Checks that in is rejected, on field phone, with a message containing part.
static void
s_assert_phone_rejected (const char *in, const char *part)
{
    char out[SQ_PHONE_SIZE] = "";
    sq_error_t err = {0};
    assert_int_equal (sq_phone_check (in, out, &err), -1);
    assert_string_equal (err.code, SQ_ERR_INVALID);
    assert_string_equal (err.field, "phone");
    if (!strstr (err.message, part))
        fail_msg ("message \"%s\" lacks \"%s\"", err.message, part);
}

static void
s_assert_phone_valid (const char *in, const char *expected)
{
    char out[SQ_PHONE_SIZE] = "";
    sq_error_t err = {0};
    if (sq_phone_check (in, out, &err) != 0)
        fail_msg ("\"%s\" rejected: %s", in, err.message);
    assert_string_equal (out, expected);
}

static void
test_phones (void **state)
{
    s_assert_phone_valid ("13812345678", "13812345678");
    s_assert_phone_valid ("138 1234 5678", "13812345678");
    s_assert_phone_valid ("138-1234-5678", "13812345678");
    s_assert_phone_valid ("+86 138 1234 5678", "13812345678");
    s_assert_phone_valid ("+8613812345678", "13812345678");
    s_assert_phone_valid ("0086-138-1234-5678", "13812345678");
    s_assert_phone_valid ("14712345678", "14712345678");
    s_assert_phone_valid ("16612345678", "16612345678");
    s_assert_phone_valid ("17012345678", "17012345678");
    s_assert_phone_valid ("19912345678", "19912345678");
    s_assert_phone_rejected ("", "must have 11 digits, got 0");
    s_assert_phone_rejected ("1381234567", "must have 11 digits, got 10");
    s_assert_phone_rejected ("138123456789", "must have 11 digits, got 12");
    s_assert_phone_rejected ("8613812345678", "must have 11 digits, got 13");
    s_assert_phone_rejected ("12345678901", "starting with 13 to 19");
    s_assert_phone_rejected ("23812345678", "starting with 13 to 19");
    s_assert_phone_rejected ("15412345678", "starts with 154");
    s_assert_phone_rejected ("16012345678", "starts with 160");
    s_assert_phone_rejected ("14012345678", "starts with 140");
    s_assert_phone_rejected ("1381234567a", "only digits");
    s_assert_phone_rejected ("(010) 6512 3456", "only digits");
    s_assert_phone_rejected ("138+12345678", "only digits");
    s_assert_phone_rejected ("+1 415 555 0100", "only prefix taken is +86");
    s_assert_phone_rejected ("1 3 8 1 2 3 4 5 6 7 8 - - - - - - - - - - -", "longer than 32");
}

static void
test_masking (void **state)
{
    char id_masked[SQ_ID_NUMBER_SIZE];
    sq_mask_id_number ("11010519491231002X", id_masked);
    assert_string_equal (id_masked, "110***********002X");
    assert_int_equal (strlen (id_masked), 18);
    sq_mask_id_number ("130102199003071234", id_masked);
    assert_string_equal (id_masked, "130***********1234");
    //  Anything else shows nothing.
    sq_mask_id_number ("1101051949", id_masked);
    assert_string_equal (id_masked, "******************");
    sq_mask_id_number (NULL, id_masked);
    assert_string_equal (id_masked, "******************");

    char phone_masked[SQ_PHONE_SIZE];
    sq_mask_phone ("13812345678", phone_masked);
    assert_string_equal (phone_masked, "138****5678");
    sq_mask_phone ("138123456789", phone_masked);
    assert_string_equal (phone_masked, "***********");
    sq_mask_phone ("", phone_masked);
    assert_string_equal (phone_masked, "***********");
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_valid_female),
        cmocka_unit_test (test_valid_male_and_others),
        cmocka_unit_test (test_lower_case_x),
        cmocka_unit_test (test_wrong_check_character),
        cmocka_unit_test (test_dates),
        cmocka_unit_test (test_shape),
        cmocka_unit_test (test_province),
        cmocka_unit_test (test_phones),
        cmocka_unit_test (test_masking),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
