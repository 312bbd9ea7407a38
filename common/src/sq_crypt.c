/*  sq_crypt: personal data at rest, sealed with XChaCha20-Poly1305 and found by blind index. */
#include "sq_crypt.h"
#include "sq_config.h"
#include "sq_log.h"

#include <assert.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

//  NB: changing the context or the subkey ids makes every stored value unreadable and
//  every blind index stale; they are part of the data format.
#define SQ_CRYPT_KDF_CONTEXT "shequpd1" //  crypto_kdf context: 8 bytes, shequ personal data v1
#define SQ_CRYPT_SUBKEY_SEAL 1          //  subkey id of the sealing key
#define SQ_CRYPT_SUBKEY_INDEX 2         //  subkey id of the blind-index key
#define SQ_CRYPT_INDEX_BYTES 32         //  blind index before hex encoding

_Static_assert (sizeof SQ_CRYPT_KDF_CONTEXT - 1 == crypto_kdf_CONTEXTBYTES,
                "the kdf context is 8 bytes");
_Static_assert (SQ_CRYPT_OVERHEAD == crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
                                         + crypto_aead_xchacha20poly1305_ietf_ABYTES,
                "SQ_CRYPT_OVERHEAD matches the cipher");
_Static_assert (SQ_CRYPT_KEY_HEX_LEN == 2 * crypto_kdf_KEYBYTES, "the key is 32 bytes");
_Static_assert (SQ_CRYPT_INDEX_HEX_SIZE == 2 * SQ_CRYPT_INDEX_BYTES + 1, "index hex size");

struct sq_crypt {
    uint8_t seal_key[crypto_aead_xchacha20poly1305_ietf_KEYBYTES]; //  seals and opens values
    uint8_t index_key[crypto_generichash_KEYBYTES];                //  keys the blind index
};

//  Decodes exactly SQ_CRYPT_KEY_HEX_LEN hex characters into master. Returns 0 or -1 with
//  the reason logged (never the key itself).
static int
s_key_decode (const char *key_hex, uint8_t master[crypto_kdf_KEYBYTES])
{
    if (!key_hex) {
        sq_log_error ("could not set up personal-data encryption: no key given", "env=%s",
                      SQ_ENV_DATA_KEY);
        return -1;
    }
    size_t len = strnlen (key_hex, SQ_CRYPT_KEY_HEX_LEN + 1);
    size_t bin_len = 0;
    const char *hex_end = NULL;
    if (len != SQ_CRYPT_KEY_HEX_LEN
        || sodium_hex2bin (master, crypto_kdf_KEYBYTES, key_hex, len, NULL, &bin_len, &hex_end)
               != 0
        || bin_len != crypto_kdf_KEYBYTES || hex_end != key_hex + len) {
        sq_log_error ("could not set up personal-data encryption: the key must be 64 hex "
                      "characters",
                      "env=%s length=%zu", SQ_ENV_DATA_KEY, len);
        return -1;
    }
    return 0;
}

sq_crypt_t *
sq_crypt_new (const char *key_hex)
{
    //  sodium_init is idempotent and safe to call from several threads.
    if (sodium_init () < 0) {
        sq_log_error ("could not set up personal-data encryption: sodium_init failed", NULL);
        return NULL;
    }
    uint8_t master[crypto_kdf_KEYBYTES];
    if (s_key_decode (key_hex, master) != 0) {
        sodium_memzero (master, sizeof master);
        return NULL;
    }
    sq_crypt_t *self = calloc (1, sizeof *self);
    if (self) {
        crypto_kdf_derive_from_key (self->seal_key, sizeof self->seal_key, SQ_CRYPT_SUBKEY_SEAL,
                                    SQ_CRYPT_KDF_CONTEXT, master);
        crypto_kdf_derive_from_key (self->index_key, sizeof self->index_key,
                                    SQ_CRYPT_SUBKEY_INDEX, SQ_CRYPT_KDF_CONTEXT, master);
    }
    sodium_memzero (master, sizeof master);
    return self;
}

const char *
sq_crypt_key_from_env (void)
{
    const char *key_hex = getenv (SQ_ENV_DATA_KEY);
    if (!key_hex || !*key_hex) {
        sq_log_error ("could not read the personal-data key: environment variable is not set",
                      "env=%s hint=\"64 hex characters, e.g. from: openssl rand -hex 32\"",
                      SQ_ENV_DATA_KEY);
        return NULL;
    }
    return key_hex;
}

sq_crypt_t *
sq_crypt_new_from_env (void)
{
    const char *key_hex = sq_crypt_key_from_env ();
    return key_hex ? sq_crypt_new (key_hex) : NULL;
}

void
sq_crypt_destroy (sq_crypt_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        sodium_memzero (*self_p, sizeof **self_p);
        free (*self_p);
        *self_p = NULL;
    }
}

uint8_t *
sq_crypt_seal (const sq_crypt_t *self, const void *plain, size_t plain_size,
               size_t *sealed_size)
{
    assert (self && (plain || plain_size == 0) && sealed_size);
    if (plain_size > SQ_CRYPT_PLAIN_MAX)
        return NULL;
    uint8_t *sealed = malloc (plain_size + SQ_CRYPT_OVERHEAD);
    if (!sealed)
        return NULL;
    uint8_t *nonce = sealed;
    uint8_t *cipher = sealed + crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
    //  A random 192-bit nonce never repeats in practice, whatever the number of replicas.
    randombytes_buf (nonce, crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
    unsigned long long cipher_size = 0;
    crypto_aead_xchacha20poly1305_ietf_encrypt (cipher, &cipher_size, plain, plain_size, NULL,
                                                0, NULL, nonce, self->seal_key);
    *sealed_size = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES + (size_t) cipher_size;
    assert (*sealed_size == plain_size + SQ_CRYPT_OVERHEAD);
    return sealed;
}

int
sq_crypt_open (const sq_crypt_t *self, const void *sealed, size_t sealed_size, char **plain_p,
               size_t *plain_size)
{
    assert (self && plain_p && plain_size);
    *plain_p = NULL;
    *plain_size = 0;
    if (!sealed || sealed_size < SQ_CRYPT_OVERHEAD
        || sealed_size > SQ_CRYPT_PLAIN_MAX + SQ_CRYPT_OVERHEAD)
        return -1;
    const uint8_t *nonce = sealed;
    const uint8_t *cipher = nonce + crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
    size_t cipher_size = sealed_size - crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
    size_t size = sealed_size - SQ_CRYPT_OVERHEAD;
    char *plain = malloc (size + 1);
    if (!plain)
        return -1;
    unsigned long long opened_size = 0;
    if (crypto_aead_xchacha20poly1305_ietf_decrypt ((uint8_t *) plain, &opened_size, NULL,
                                                    cipher, cipher_size, NULL, 0, nonce,
                                                    self->seal_key)
        != 0) {
        free (plain);
        return -1;
    }
    assert (opened_size == size);
    plain[size] = 0;
    *plain_p = plain;
    *plain_size = size;
    return 0;
}

void
sq_crypt_blind_index (const sq_crypt_t *self, const char *text,
                      char out[SQ_CRYPT_INDEX_HEX_SIZE])
{
    assert (self && text && out);
    uint8_t hash[SQ_CRYPT_INDEX_BYTES];
    crypto_generichash (hash, sizeof hash, (const uint8_t *) text, strlen (text),
                        self->index_key, sizeof self->index_key);
    sodium_bin2hex (out, SQ_CRYPT_INDEX_HEX_SIZE, hash, sizeof hash);
}
