/*  sq_crypt: personal data at rest (identity numbers, phones), on libsodium.

    One secret from the environment (SHEQU_DATA_KEY, 64 hex characters) yields two subkeys:
    one seals values with XChaCha20-Poly1305 (random 24-byte nonce, so the same value seals
    differently every time), the other computes a blind index, a keyed BLAKE2b hash that finds
    and deduplicates a value without storing it in clear. An object is read-only once made,
    so threads may share it. */
#ifndef SQ_CRYPT_H
#define SQ_CRYPT_H

#include <stddef.h>
#include <stdint.h>

#define SQ_CRYPT_KEY_HEX_LEN 64           //  hex characters of SHEQU_DATA_KEY (32 bytes)
#define SQ_CRYPT_INDEX_HEX_SIZE 65        //  blind index: 64 hex characters and the terminator
#define SQ_CRYPT_PLAIN_MAX (64 * 1024)    //  largest value sealed, bytes
#define SQ_CRYPT_OVERHEAD (24 + 16)       //  nonce and tag added to every sealed value, bytes

typedef struct sq_crypt sq_crypt_t;

//  Makes an object from a key of exactly 64 hex characters. Returns NULL, after logging
//  the reason, when key_hex is NULL, the wrong length, or not hex.
sq_crypt_t *sq_crypt_new (const char *key_hex);

//  Returns the key from SHEQU_DATA_KEY (borrowed from the environment), or NULL after
//  logging an error when it is unset or empty: a service cannot run without it.
const char *sq_crypt_key_from_env (void);

//  sq_crypt_new (sq_crypt_key_from_env ()): the usual start of a service.
sq_crypt_t *sq_crypt_new_from_env (void);

//  Wipes the keys, frees the object and nulls the caller's pointer; accepts NULL.
void sq_crypt_destroy (sq_crypt_t **self_p);

//  Seals plain_size bytes. Returns nonce || ciphertext || tag, plain_size +
//  SQ_CRYPT_OVERHEAD bytes (*sealed_size), which the caller frees; NULL when plain_size
//  exceeds SQ_CRYPT_PLAIN_MAX or memory runs out.
uint8_t *sq_crypt_seal (const sq_crypt_t *self, const void *plain, size_t plain_size,
                        size_t *sealed_size);

//  Opens what sq_crypt_seal made with the same key. On success returns 0 and sets *plain_p
//  to a new buffer of *plain_size bytes plus a NUL terminator (the caller frees). Returns -1
//  when the input is too short, too long, tampered with or sealed under another key.
int sq_crypt_open (const sq_crypt_t *self, const void *sealed, size_t sealed_size,
                   char **plain_p, size_t *plain_size);

//  Writes the blind index of text (a keyed hash, 64 lower-case hex characters) into out.
//  Deterministic for one key, unrelated across keys. Normalise text before (e.g. the
//  identity number as sq_id_number_check returns it), or equal values will differ.
void sq_crypt_blind_index (const sq_crypt_t *self, const char *text,
                           char out[SQ_CRYPT_INDEX_HEX_SIZE]);

#endif
