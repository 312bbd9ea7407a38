/*  sq_identity: GB 11643-1999 identity numbers and mainland mobile numbers (see sq_identity.h). */
#include "sq_identity.h"
#include "sq_util.h"

#include <assert.h>
#include <string.h>
#include <time.h>

#define SQ_ID_INPUT_MAX 64     //  longest identity number looked at, bytes
#define SQ_ID_DIGITS 17        //  digits before the check character
#define SQ_ID_BIRTH_AT 6       //  offset of YYYYMMDD
#define SQ_ID_SEX_AT 16        //  offset of the digit whose parity gives the sex
#define SQ_ID_MOD 11           //  ISO 7064 MOD 11-2
#define SQ_MASK_HEAD 3         //  characters shown before the stars
#define SQ_ID_MASK_TAIL 4      //  characters of an identity number shown after them
#define SQ_PHONE_MASK_TAIL 4   //  digits of a phone shown after them
#define SQ_US_PER_S 1000000    //  microseconds per second

//  ISO 7064 MOD 11-2 as GB 11643 states it: weight 2^(17-i) mod 11, and the character that
//  makes the weighted sum 1 modulo 11, by remainder.
static const int s_weights[SQ_ID_DIGITS] = {7, 9, 10, 5, 8, 4, 2, 1, 6,
                                                   3, 7, 9, 10, 5, 8, 4, 2};
static const char s_check_chars[SQ_ID_MOD + 1] = "10X98765432";

//  Province-level codes of GB/T 2260: 11-15 north, 21-23 north-east, 31-37 east, 41-46
//  centre-south, 50-54 south-west, 61-65 north-west, 71 Taiwan, 81-82 Hong Kong and Macao.
static const int s_provinces[] = {11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37,
                                  41, 42, 43, 44, 45, 46, 50, 51, 52, 53, 54, 61, 62, 63, 64,
                                  65, 71, 81, 82};

//  Allocated mobile ranges, as of 2023, one bit per third digit, indexed by the second
//  digit: 14x keeps only its 11-digit data ranges (140-144 are 13-digit IoT numbers), 154,
//  179 and 194 are unallocated, and 16x holds only 162, 165, 166 and 167.
static const unsigned s_phone_ranges[10] = {
    [3] = 0x3ff, //  130-139
    [4] = 0x3e0, //  145-149
    [5] = 0x3ef, //  150-153, 155-159
    [6] = 0x0e4, //  162, 165-167
    [7] = 0x1ff, //  170-178
    [8] = 0x3ff, //  180-189
    [9] = 0x3ef, //  190-193, 195-199
};

static int
s_digits_value (const char *s, size_t count)
{
    int value = 0;
    for (size_t i = 0; i < count; i++)
        value = value * 10 + (s[i] - '0');
    return value;
}

static bool
s_is_leap (int year)
{
    return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

static int
s_days_in_month (int year, int month)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (month == 2 && s_is_leap (year)) return 29;
    return days[month - 1];
}

static bool
s_province_exists (int code)
{
    for (size_t i = 0; i < sizeof s_provinces / sizeof s_provinces[0]; i++)
        if (s_provinces[i] == code) return true;
    return false;
}

char
sq_id_number_check_char (const char *digits17)
{
    assert (digits17);
    int sum = 0;
    for (int i = 0; i < SQ_ID_DIGITS; i++) {
        assert (digits17[i] >= '0' && digits17[i] <= '9');
        sum += (digits17[i] - '0') * s_weights[i];
    }
    return s_check_chars[sum % SQ_ID_MOD];
}

//  Checks the characters: 18 of them, 17 digits and a digit or X. Returns 0 or -1 with err.
static int
s_id_shape_check (const char *in, sq_error_t *err)
{
    size_t len = strnlen (in, SQ_ID_INPUT_MAX + 1);
    for (size_t i = 0; i < len; i++)
        if ((unsigned char) in[i] >= 0x80)
            return sq_error_set (err, SQ_ERR_INVALID, "id_number",
                                 "id_number must hold only ASCII digits and a final X");
    if (len > SQ_ID_INPUT_MAX)
        return sq_error_set (err, SQ_ERR_INVALID, "id_number",
                             "id_number must have 18 characters, got more than %d",
                             SQ_ID_INPUT_MAX);
    if (len != SQ_ID_NUMBER_LEN)
        return sq_error_set (err, SQ_ERR_INVALID, "id_number",
                             "id_number must have 18 characters, got %zu", len);
    for (int i = 0; i < SQ_ID_DIGITS; i++)
        if (in[i] < '0' || in[i] > '9')
            return sq_error_set (err, SQ_ERR_INVALID, "id_number",
                                 "id_number must have digits in its first 17 characters, "
                                 "character %d is not a digit",
                                 i + 1);
    char last = in[SQ_ID_DIGITS];
    if (!(last >= '0' && last <= '9') && last != 'X' && last != 'x')
        return sq_error_set (err, SQ_ERR_INVALID, "id_number",
                             "id_number must end in a digit or X");
    return 0;
}

//  Checks the birth date YYYYMMDD at in + SQ_ID_BIRTH_AT: a real day from
//  SQ_BIRTH_YEAR_MIN-01-01 to the UTC date at now_us. Fills year, month and day.
static int
s_id_birth_check (const char *in, int64_t now_us, sq_id_info_t *info, sq_error_t *err)
{
    const char *birth = in + SQ_ID_BIRTH_AT;
    int year = s_digits_value (birth, 4);
    int month = s_digits_value (birth + 4, 2);
    int day = s_digits_value (birth + 6, 2);
    if (month < 1 || month > 12 || day < 1 || day > s_days_in_month (year, month))
        return sq_error_set (err, SQ_ERR_INVALID, "id_number",
                             "id_number birth date %.4s-%.2s-%.2s does not exist", birth,
                             birth + 4, birth + 6);
    if (year < SQ_BIRTH_YEAR_MIN)
        return sq_error_set (err, SQ_ERR_INVALID, "id_number",
                             "id_number birth date %.4s-%.2s-%.2s is before %d-01-01", birth,
                             birth + 4, birth + 6, SQ_BIRTH_YEAR_MIN);
    time_t now_s = (time_t) (now_us / SQ_US_PER_S);
    struct tm today;
    if (!gmtime_r (&now_s, &today))
        return sq_error_set (err, SQ_ERR_INTERNAL, "id_number",
                             "could not check id_number: the clock is out of range");
    long birth_ymd = (long) year * 10000 + month * 100 + day;
    long today_ymd = (long) (today.tm_year + 1900) * 10000 + (today.tm_mon + 1) * 100
                     + today.tm_mday;
    if (birth_ymd > today_ymd)
        return sq_error_set (err, SQ_ERR_INVALID, "id_number",
                             "id_number birth date %.4s-%.2s-%.2s is in the future", birth,
                             birth + 4, birth + 6);
    info->birth_year = year;
    info->birth_month = month;
    info->birth_day = day;
    //  YYYYMMDD becomes YYYY-MM-DD.
    memcpy (info->birth_date, birth, 4);
    info->birth_date[4] = '-';
    memcpy (info->birth_date + 5, birth + 4, 2);
    info->birth_date[7] = '-';
    memcpy (info->birth_date + 8, birth + 6, 2);
    info->birth_date[10] = 0;
    return 0;
}

int
sq_id_number_check (const char *in, int64_t now_us, char out[SQ_ID_NUMBER_SIZE],
                          sq_id_info_t *info, sq_error_t *err)
{
    assert (in && out && err);
    sq_id_info_t scratch;
    if (!info)
        info = &scratch;
    memset (info, 0, sizeof *info);
    if (s_id_shape_check (in, err) != 0)
        return -1;
    int province = s_digits_value (in, 2);
    if (!s_province_exists (province))
        return sq_error_set (err, SQ_ERR_INVALID, "id_number",
                             "id_number division code starts with %02d, which is no province",
                             province);
    if (s_id_birth_check (in, now_us > 0 ? now_us : sq_now_us (), info, err) != 0)
        return -1;
    char expected = sq_id_number_check_char (in);
    char given = in[SQ_ID_DIGITS] == 'x' ? 'X' : in[SQ_ID_DIGITS];
    if (given != expected)
        return sq_error_set (err, SQ_ERR_INVALID, "id_number",
                             "id_number check character is %c, expected %c", given, expected);
    memcpy (out, in, SQ_ID_DIGITS);
    out[SQ_ID_DIGITS] = given;
    out[SQ_ID_NUMBER_LEN] = 0;
    info->male = (in[SQ_ID_SEX_AT] - '0') % 2 == 1;
    info->sex = info->male ? "male" : "female";
    memcpy (info->division, in, SQ_ID_DIVISION_SIZE - 1);
    info->division[SQ_ID_DIVISION_SIZE - 1] = 0;
    return 0;
}

//  Copies the digits of in, dropping spaces and hyphens, into digits (with the terminator),
//  after taking away a +86 or 0086 country prefix. Returns 0 or -1 with err.
static int
s_phone_compact (const char *in, char digits[SQ_PHONE_INPUT_MAX + 1], sq_error_t *err)
{
    size_t len = strnlen (in, SQ_PHONE_INPUT_MAX + 1);
    if (len > SQ_PHONE_INPUT_MAX)
        return sq_error_set (err, SQ_ERR_INVALID, "phone", "phone is longer than %d bytes",
                             SQ_PHONE_INPUT_MAX);
    size_t count = 0;
    for (size_t i = 0; i < len; i++) {
        char c = in[i];
        if (c == ' ' || c == '-') continue;
        if (c == '+' && count == 0) {
            digits[count++] = c;
            continue;
        }
        if (c < '0' || c > '9')
            return sq_error_set (err, SQ_ERR_INVALID, "phone",
                                 "phone must hold only digits, spaces, hyphens and a "
                                 "leading +86");
        digits[count++] = c;
    }
    digits[count] = 0;
    const char *start = digits;
    if (strncmp (digits, "+86", 3) == 0) start += 3;
    else if (strncmp (digits, "0086", 4) == 0) start += 4;
    else if (digits[0] == '+')
        return sq_error_set (err, SQ_ERR_INVALID, "phone",
                             "phone must be a mainland number: the only prefix taken is +86");
    memmove (digits, start, strlen (start) + 1);
    return 0;
}

int
sq_phone_check (const char *in, char out[SQ_PHONE_SIZE], sq_error_t *err)
{
    assert (in && out && err);
    char digits[SQ_PHONE_INPUT_MAX + 1];
    if (s_phone_compact (in, digits, err) != 0)
        return -1;
    size_t len = strlen (digits);
    if (len != SQ_PHONE_LEN)
        return sq_error_set (err, SQ_ERR_INVALID, "phone",
                             "phone must have 11 digits, got %zu", len);
    int second = digits[1] - '0';
    if (digits[0] != '1' || second < 3)
        return sq_error_set (err, SQ_ERR_INVALID, "phone",
                             "phone must be a mobile number starting with 13 to 19");
    int third = digits[2] - '0';
    if (!(s_phone_ranges[second] & (1u << third)))
        return sq_error_set (err, SQ_ERR_INVALID, "phone",
                             "phone starts with %.3s, which is no allocated mobile range",
                             digits);
    memcpy (out, digits, SQ_PHONE_SIZE);
    return 0;
}

//  Writes size - 1 characters of value into out, keeping head and tail and starring the
//  rest, or size - 1 stars when value is not exactly size - 1 characters long.
static void
s_mask (const char *value, size_t head, size_t tail, char *out, size_t size)
{
    size_t len = size - 1;
    bool fits = value && strnlen (value, size) == len;
    for (size_t i = 0; i < len; i++)
        out[i] = fits && (i < head || i >= len - tail) ? value[i] : '*';
    out[len] = 0;
}

void
sq_mask_id_number (const char *id_number, char out[SQ_ID_NUMBER_SIZE])
{
    s_mask (id_number, SQ_MASK_HEAD, SQ_ID_MASK_TAIL, out,
            SQ_ID_NUMBER_SIZE);
}

void
sq_mask_phone (const char *phone, char out[SQ_PHONE_SIZE])
{
    s_mask (phone, SQ_MASK_HEAD, SQ_PHONE_MASK_TAIL, out, SQ_PHONE_SIZE);
}
