/*  test_notify_sign: HMAC-SHA256 against RFC 4231, the webhook signature header, and its
    verification: a changed byte, another secret, a replay outside the clock tolerance
    (issue 6). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "notify/sign.h"

#include <sodium.h>
#include <string.h>

//  Hex of an HMAC, to compare with the RFC's text.
static void
s_hmac_hex (const uint8_t *key, size_t key_size, const char *data, size_t size,
            char hex[NOTIFY_HMAC_HEX_SIZE])
{
    uint8_t mac[NOTIFY_HMAC_SIZE];
    assert_int_equal (notify_hmac_sha256 (key, key_size, data, size, mac), 0);
    sodium_bin2hex (hex, NOTIFY_HMAC_HEX_SIZE, mac, sizeof mac);
}

static void
test_rfc4231 (void **state)
{
    char hex[NOTIFY_HMAC_HEX_SIZE];
    //  Test case 1: a 20-byte key of 0x0b.
    uint8_t key1[20];
    memset (key1, 0x0b, sizeof key1);
    s_hmac_hex (key1, sizeof key1, "Hi There", 8, hex);
    assert_string_equal (hex, "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
    //  Test case 2: a key shorter than the length of the output.
    const char *data2 = "what do ya want for nothing?";
    s_hmac_hex ((const uint8_t *) "Jefe", 4, data2, strlen (data2), hex);
    assert_string_equal (hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    //  Test case 3: 50 bytes of 0xdd under a 20-byte key of 0xaa.
    uint8_t key3[20], data3[50];
    memset (key3, 0xaa, sizeof key3);
    memset (data3, 0xdd, sizeof data3);
    s_hmac_hex (key3, sizeof key3, (const char *) data3, sizeof data3, hex);
    assert_string_equal (hex, "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe");
    //  Test case 6: a 131-byte key, longer than the block, is hashed first.
    uint8_t key6[131];
    memset (key6, 0xaa, sizeof key6);
    const char *data6 = "Test Using Larger Than Block-Size Key - Hash Key First";
    s_hmac_hex (key6, sizeof key6, data6, strlen (data6), hex);
    assert_string_equal (hex, "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

static const uint8_t s_secret[] = "whsec-department-of-civil-affairs";
#define SECRET_SIZE (sizeof s_secret - 1)

static void
test_sign_is_hmac_of_timestamp_dot_body (void **state)
{
    const char *body = "{\"type\":\"disputes.case_filed\"}";
    char signature[NOTIFY_SIGNATURE_SIZE];
    assert_int_equal (notify_sign (s_secret, SECRET_SIZE, 1795399200, body, strlen (body),
                                   signature), 0);
    assert_int_equal (strlen (signature), NOTIFY_SIGNATURE_SIZE - 1);
    assert_memory_equal (signature, "sha256=", 7);
    //  What a receiver computes with any HMAC library.
    const char *signed_text = "1795399200.{\"type\":\"disputes.case_filed\"}";
    char hex[NOTIFY_HMAC_HEX_SIZE];
    s_hmac_hex (s_secret, SECRET_SIZE, signed_text, strlen (signed_text), hex);
    assert_string_equal (signature + 7, hex);
    //  A secret too short, or too long, is refused.
    assert_int_equal (notify_sign (s_secret, NOTIFY_SECRET_MIN - 1, 1, body, 1, signature), -1);
    uint8_t long_secret[NOTIFY_SECRET_MAX + 1] = {0};
    assert_int_equal (notify_sign (long_secret, sizeof long_secret, 1, body, 1, signature), -1);
}

static void
test_verify (void **state)
{
    const char *body = "{\"event\":1}";
    size_t size = strlen (body);
    int64_t at = 1795399200, tolerance = NOTIFY_SIGN_TOLERANCE_S;
    char signature[NOTIFY_SIGNATURE_SIZE];
    assert_int_equal (notify_sign (s_secret, SECRET_SIZE, at, body, size, signature), 0);
    assert_true (notify_verify (s_secret, SECRET_SIZE, at, body, size, signature, at, tolerance));
    assert_true (notify_verify (s_secret, SECRET_SIZE, at, body, size, signature,
                                at + tolerance, tolerance));
    //  Upper-case hex is the same signature.
    char upper[NOTIFY_SIGNATURE_SIZE];
    memcpy (upper, signature, sizeof upper);
    for (char *p = upper + 7; *p; p++)
        if (*p >= 'a' && *p <= 'f') *p = (char) (*p - 'a' + 'A');
    assert_true (notify_verify (s_secret, SECRET_SIZE, at, body, size, upper, at, tolerance));

    //  Replayed too late, or signed in the future beyond the tolerance.
    assert_false (notify_verify (s_secret, SECRET_SIZE, at, body, size, signature,
                                 at + tolerance + 1, tolerance));
    assert_false (notify_verify (s_secret, SECRET_SIZE, at, body, size, signature,
                                 at - tolerance - 1, tolerance));
    //  Another timestamp, body or secret.
    assert_false (notify_verify (s_secret, SECRET_SIZE, at + 1, body, size, signature, at,
                                 tolerance));
    assert_false (notify_verify (s_secret, SECRET_SIZE, at, "{\"event\":2}", size, signature, at,
                                 tolerance));
    assert_false (notify_verify (s_secret, SECRET_SIZE - 1, at, body, size, signature, at,
                                 tolerance));
    //  Every single changed hex digit, a missing scheme, cut or lengthened or not hex.
    for (size_t i = 7; i < NOTIFY_SIGNATURE_SIZE - 1; i++) {
        char changed[NOTIFY_SIGNATURE_SIZE];
        memcpy (changed, signature, sizeof changed);
        changed[i] = changed[i] == '0' ? '1' : '0';
        assert_false (notify_verify (s_secret, SECRET_SIZE, at, body, size, changed, at,
                                     tolerance));
    }
    assert_false (notify_verify (s_secret, SECRET_SIZE, at, body, size, signature + 7, at,
                                 tolerance));
    char cut[NOTIFY_SIGNATURE_SIZE];
    memcpy (cut, signature, sizeof cut);
    cut[NOTIFY_SIGNATURE_SIZE - 2] = 0;
    assert_false (notify_verify (s_secret, SECRET_SIZE, at, body, size, cut, at, tolerance));
    char longer[NOTIFY_SIGNATURE_SIZE + 1];
    memcpy (longer, signature, NOTIFY_SIGNATURE_SIZE - 1);
    longer[NOTIFY_SIGNATURE_SIZE - 1] = '0';
    longer[NOTIFY_SIGNATURE_SIZE] = 0;
    assert_false (notify_verify (s_secret, SECRET_SIZE, at, body, size, longer, at, tolerance));
    char not_hex[NOTIFY_SIGNATURE_SIZE];
    memcpy (not_hex, signature, sizeof not_hex);
    not_hex[10] = 'g';
    assert_false (notify_verify (s_secret, SECRET_SIZE, at, body, size, not_hex, at, tolerance));
    //  A hostile timestamp at the edge of int64 does not overflow the tolerance check.
    assert_false (notify_verify (s_secret, SECRET_SIZE, INT64_MIN, body, size, signature, at,
                                 tolerance));
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_rfc4231),
        cmocka_unit_test (test_sign_is_hmac_of_timestamp_dot_body),
        cmocka_unit_test (test_verify),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
