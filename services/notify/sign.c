/*  sign: the signature of a webhook, HMAC-SHA256 over "<timestamp>.<body>" (pure). */
#include "sign.h"

#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#define S_TIMESTAMP_MAX 24 //  "-9223372036854775808" and a dot fit

_Static_assert (NOTIFY_HMAC_SIZE == crypto_auth_hmacsha256_BYTES, "HMAC-SHA256 is 32 bytes");

int
notify_hmac_sha256 (const uint8_t *key, size_t key_size, const void *message, size_t size,
                    uint8_t out[NOTIFY_HMAC_SIZE])
{
    //  sodium_init is idempotent and safe to call from several threads.
    if (sodium_init () < 0)
        return -1;
    //  NB: crypto_auth_hmacsha256 itself takes a 32-byte key only; the streaming API takes
    //  any length, as RFC 2104 does (a key longer than the block is hashed first).
    crypto_auth_hmacsha256_state state;
    crypto_auth_hmacsha256_init (&state, key, key_size);
    crypto_auth_hmacsha256_update (&state, message, size);
    crypto_auth_hmacsha256_final (&state, out);
    sodium_memzero (&state, sizeof state);
    return 0;
}

//  The raw HMAC of "<timestamp>.<body>", without building the concatenation.
static int
s_mac (const uint8_t *secret, size_t secret_size, int64_t timestamp_s, const void *body,
       size_t body_size, uint8_t out[NOTIFY_HMAC_SIZE])
{
    if (secret_size < NOTIFY_SECRET_MIN || secret_size > NOTIFY_SECRET_MAX)
        return -1;
    if (sodium_init () < 0)
        return -1;
    char prefix[S_TIMESTAMP_MAX];
    int len = snprintf (prefix, sizeof prefix, "%" PRId64 ".", timestamp_s);
    crypto_auth_hmacsha256_state state;
    crypto_auth_hmacsha256_init (&state, secret, secret_size);
    crypto_auth_hmacsha256_update (&state, (const uint8_t *) prefix, (unsigned long long) len);
    crypto_auth_hmacsha256_update (&state, body, body_size);
    crypto_auth_hmacsha256_final (&state, out);
    sodium_memzero (&state, sizeof state);
    return 0;
}

int
notify_sign (const uint8_t *secret, size_t secret_size, int64_t timestamp_s, const void *body,
             size_t body_size, char out[NOTIFY_SIGNATURE_SIZE])
{
    uint8_t mac[NOTIFY_HMAC_SIZE];
    if (s_mac (secret, secret_size, timestamp_s, body, body_size, mac))
        return -1;
    size_t scheme_len = sizeof NOTIFY_SIGNATURE_SCHEME - 1;
    memcpy (out, NOTIFY_SIGNATURE_SCHEME, scheme_len);
    sodium_bin2hex (out + scheme_len, NOTIFY_HMAC_HEX_SIZE, mac, sizeof mac);
    return 0;
}

bool
notify_verify (const uint8_t *secret, size_t secret_size, int64_t timestamp_s, const void *body,
               size_t body_size, const char *signature, int64_t now_s, int64_t tolerance_s)
{
    //  NB: now_s - timestamp_s could overflow for a hostile timestamp; compare each way.
    if (timestamp_s < now_s - tolerance_s || timestamp_s > now_s + tolerance_s)
        return false;
    size_t scheme_len = sizeof NOTIFY_SIGNATURE_SCHEME - 1;
    if (strncmp (signature, NOTIFY_SIGNATURE_SCHEME, scheme_len) != 0
        || strnlen (signature, NOTIFY_SIGNATURE_SIZE) != NOTIFY_SIGNATURE_SIZE - 1)
        return false;
    uint8_t given[NOTIFY_HMAC_SIZE], mac[NOTIFY_HMAC_SIZE];
    size_t given_size = 0;
    //  Decoding the hex depends only on what the sender sent, not on the secret.
    if (sodium_hex2bin (given, sizeof given, signature + scheme_len, NOTIFY_HMAC_HEX_SIZE - 1,
                        NULL, &given_size, NULL)
        || given_size != sizeof given)
        return false;
    if (s_mac (secret, secret_size, timestamp_s, body, body_size, mac))
        return false;
    return sodium_memcmp (given, mac, sizeof mac) == 0;
}
