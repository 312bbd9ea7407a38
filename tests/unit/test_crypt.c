/*  test_crypt: sealing personal data at rest and its blind index (sq_crypt). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "sq_config.h"
#include "sq_crypt.h"

//  Bytes 00 01 02 ... 1f, and another key.
#define TEST_KEY "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
#define TEST_KEY_UPPER "000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F"
#define TEST_KEY_OTHER "ff0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
//  The blind index of 11010519491231002X under TEST_KEY, computed apart from the code with
//  Python's hashlib (BLAKE2b as crypto_kdf derives subkey 2 of context "shequpd1", then
//  keyed BLAKE2b-256). NB: if this changes, every stored index goes stale.
#define TEST_INDEX "2da0056aaf211181e561176354fbe9268a7c7b308151cf8e971f6ef70a89baad"

static void
test_round_trip (void **state)
{
    sq_crypt_t *crypt = sq_crypt_new (TEST_KEY);
    assert_non_null (crypt);
    const char *plain = "11010519491231002X";
    size_t sealed_size = 0;
    uint8_t *sealed = sq_crypt_seal (crypt, plain, strlen (plain), &sealed_size);
    assert_non_null (sealed);
    assert_int_equal (sealed_size, strlen (plain) + SQ_CRYPT_OVERHEAD);
    assert_null (memmem (sealed, sealed_size, plain, strlen (plain)));

    char *opened = NULL;
    size_t opened_size = 0;
    assert_int_equal (sq_crypt_open (crypt, sealed, sealed_size, &opened, &opened_size), 0);
    assert_int_equal (opened_size, strlen (plain));
    assert_string_equal (opened, plain);
    free (opened);

    //  A fresh nonce each time: the same value never seals the same way twice.
    size_t again_size = 0;
    uint8_t *again = sq_crypt_seal (crypt, plain, strlen (plain), &again_size);
    assert_int_equal (again_size, sealed_size);
    assert_memory_not_equal (again, sealed, sealed_size);
    free (again);
    free (sealed);

    //  The empty value seals too.
    sealed = sq_crypt_seal (crypt, "", 0, &sealed_size);
    assert_int_equal (sealed_size, SQ_CRYPT_OVERHEAD);
    assert_int_equal (sq_crypt_open (crypt, sealed, sealed_size, &opened, &opened_size), 0);
    assert_int_equal (opened_size, 0);
    assert_string_equal (opened, "");
    free (opened);
    free (sealed);
    sq_crypt_destroy (&crypt);
    assert_null (crypt);
    sq_crypt_destroy (&crypt);
}

static void
test_tamper (void **state)
{
    sq_crypt_t *crypt = sq_crypt_new (TEST_KEY);
    const char *plain = "13812345678";
    size_t sealed_size = 0;
    uint8_t *sealed = sq_crypt_seal (crypt, plain, strlen (plain), &sealed_size);
    //  One flipped bit anywhere — nonce, ciphertext or tag — and nothing opens.
    for (size_t i = 0; i < sealed_size; i++) {
        sealed[i] ^= 0x01;
        char *opened = (char *) 1;
        size_t opened_size = 99;
        assert_int_equal (sq_crypt_open (crypt, sealed, sealed_size, &opened, &opened_size),
                          -1);
        assert_null (opened);
        assert_int_equal (opened_size, 0);
        sealed[i] ^= 0x01;
    }
    char *opened = NULL;
    size_t opened_size = 0;
    //  Cut short, or cut below the nonce and tag.
    assert_int_equal (sq_crypt_open (crypt, sealed, sealed_size - 1, &opened, &opened_size),
                      -1);
    assert_int_equal (sq_crypt_open (crypt, sealed, SQ_CRYPT_OVERHEAD - 1, &opened,
                                     &opened_size),
                      -1);
    assert_int_equal (sq_crypt_open (crypt, sealed, 0, &opened, &opened_size), -1);
    assert_int_equal (sq_crypt_open (crypt, NULL, 0, &opened, &opened_size), -1);
    assert_int_equal (sq_crypt_open (crypt, sealed, sealed_size, &opened, &opened_size), 0);
    free (opened);
    free (sealed);
    sq_crypt_destroy (&crypt);
}

static void
test_wrong_key (void **state)
{
    sq_crypt_t *crypt = sq_crypt_new (TEST_KEY);
    sq_crypt_t *other = sq_crypt_new (TEST_KEY_OTHER);
    assert_non_null (other);
    size_t sealed_size = 0;
    uint8_t *sealed = sq_crypt_seal (crypt, "secret", 6, &sealed_size);
    char *opened = NULL;
    size_t opened_size = 0;
    assert_int_equal (sq_crypt_open (other, sealed, sealed_size, &opened, &opened_size), -1);
    assert_null (opened);
    free (sealed);
    sq_crypt_destroy (&other);
    sq_crypt_destroy (&crypt);
}

static void
test_too_large (void **state)
{
    sq_crypt_t *crypt = sq_crypt_new (TEST_KEY);
    size_t size = SQ_CRYPT_PLAIN_MAX + 1;
    char *big = calloc (1, size);
    size_t sealed_size = 0;
    assert_null (sq_crypt_seal (crypt, big, size, &sealed_size));
    uint8_t *sealed = sq_crypt_seal (crypt, big, size - 1, &sealed_size);
    assert_non_null (sealed);
    free (sealed);
    free (big);
    sq_crypt_destroy (&crypt);
}

static void
test_blind_index (void **state)
{
    sq_crypt_t *crypt = sq_crypt_new (TEST_KEY);
    sq_crypt_t *upper = sq_crypt_new (TEST_KEY_UPPER);
    sq_crypt_t *other = sq_crypt_new (TEST_KEY_OTHER);
    char index[SQ_CRYPT_INDEX_HEX_SIZE];
    char again[SQ_CRYPT_INDEX_HEX_SIZE];
    sq_crypt_blind_index (crypt, "11010519491231002X", index);
    assert_string_equal (index, TEST_INDEX);
    assert_int_equal (strlen (index), 64);
    assert_int_equal (strspn (index, "0123456789abcdef"), 64);
    //  Deterministic, and the same key whatever the case of its hex.
    sq_crypt_blind_index (crypt, "11010519491231002X", again);
    assert_string_equal (again, index);
    sq_crypt_blind_index (upper, "11010519491231002X", again);
    assert_string_equal (again, index);
    //  Another value, or another key, gives another index.
    sq_crypt_blind_index (crypt, "110105194912310011", again);
    assert_string_not_equal (again, index);
    sq_crypt_blind_index (other, "11010519491231002X", again);
    assert_string_not_equal (again, index);
    //  The index is no plain hash of the value, which a dictionary of numbers would undo.
    uint8_t hash[32];
    char plain_hash[SQ_CRYPT_INDEX_HEX_SIZE];
    crypto_generichash (hash, sizeof hash, (const uint8_t *) "11010519491231002X", 18, NULL, 0);
    sodium_bin2hex (plain_hash, sizeof plain_hash, hash, sizeof hash);
    assert_string_not_equal (plain_hash, index);
    sq_crypt_destroy (&crypt);
    sq_crypt_destroy (&upper);
    sq_crypt_destroy (&other);
}

static void
test_bad_keys (void **state)
{
    assert_null (sq_crypt_new (NULL));
    assert_null (sq_crypt_new (""));
    //  63 and 65 characters.
    assert_null (sq_crypt_new ("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1"));
    assert_null (
        sq_crypt_new ("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f0"));
    //  Not hex, or hex with a separator.
    assert_null (sq_crypt_new ("zz0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"));
    assert_null (sq_crypt_new ("00 102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"));
    assert_null (sq_crypt_new ("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1g"));
}

static void
test_key_from_env (void **state)
{
    unsetenv (SQ_ENV_DATA_KEY);
    assert_null (sq_crypt_key_from_env ());
    assert_null (sq_crypt_new_from_env ());
    setenv (SQ_ENV_DATA_KEY, "", 1);
    assert_null (sq_crypt_key_from_env ());
    setenv (SQ_ENV_DATA_KEY, "not a key", 1);
    assert_string_equal (sq_crypt_key_from_env (), "not a key");
    assert_null (sq_crypt_new_from_env ());
    setenv (SQ_ENV_DATA_KEY, TEST_KEY, 1);
    sq_crypt_t *crypt = sq_crypt_new_from_env ();
    assert_non_null (crypt);
    char index[SQ_CRYPT_INDEX_HEX_SIZE];
    sq_crypt_blind_index (crypt, "11010519491231002X", index);
    assert_string_equal (index, TEST_INDEX);
    sq_crypt_destroy (&crypt);
    unsetenv (SQ_ENV_DATA_KEY);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_round_trip),  cmocka_unit_test (test_tamper),
        cmocka_unit_test (test_wrong_key),   cmocka_unit_test (test_too_large),
        cmocka_unit_test (test_blind_index), cmocka_unit_test (test_bad_keys),
        cmocka_unit_test (test_key_from_env),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
