/*  sign: the signature of a webhook (issue 6), on libsodium's HMAC-SHA256. Pure; unit-tested
    with the vectors of RFC 4231.

    A webhook POST carries two headers: NOTIFY_HEADER_TIMESTAMP, the seconds since the epoch
    when it was signed, and NOTIFY_HEADER_SIGNATURE, "sha256=" and the lower-case hex of
    HMAC-SHA256(secret, "<timestamp>.<body>"). Signing the timestamp with the body lets a
    receiver refuse a replayed request: it recomputes the signature, compares in constant
    time, and refuses a timestamp too far from its clock. */
#ifndef NOTIFY_SIGN_H
#define NOTIFY_SIGN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NOTIFY_HEADER_TIMESTAMP "X-Shequ-Timestamp"
#define NOTIFY_HEADER_SIGNATURE "X-Shequ-Signature"
#define NOTIFY_SIGNATURE_SCHEME "sha256="      //  before the hex, so the algorithm can change
#define NOTIFY_HMAC_SIZE 32                    //  bytes of an HMAC-SHA256
#define NOTIFY_HMAC_HEX_SIZE (2 * NOTIFY_HMAC_SIZE + 1) //  hex and the terminator
#define NOTIFY_SIGNATURE_SIZE (sizeof NOTIFY_SIGNATURE_SCHEME - 1 + NOTIFY_HMAC_HEX_SIZE)
#define NOTIFY_SECRET_MIN 16                   //  shortest webhook secret accepted, bytes
#define NOTIFY_SECRET_MAX 256                  //  longest, bytes
#define NOTIFY_SIGN_TOLERANCE_S 300            //  a receiver's default clock tolerance

//  HMAC-SHA256 of size bytes of message under a key of any length (RFC 2104) into out.
//  Returns 0, -1 when libsodium cannot start.
int notify_hmac_sha256 (const uint8_t *key, size_t key_size, const void *message, size_t size,
                        uint8_t out[NOTIFY_HMAC_SIZE]);

//  The value of the signature header, "sha256=<64 hex>", for body signed at timestamp_s with
//  a secret of NOTIFY_SECRET_MIN to NOTIFY_SECRET_MAX bytes. Returns 0, or -1 when the secret
//  is out of range or libsodium cannot start.
int notify_sign (const uint8_t *secret, size_t secret_size, int64_t timestamp_s,
                 const void *body, size_t body_size, char out[NOTIFY_SIGNATURE_SIZE]);

//  True when signature is the header notify_sign makes for body at timestamp_s and
//  timestamp_s is within tolerance_s of now_s. The comparison takes the same time whichever
//  byte differs.
bool notify_verify (const uint8_t *secret, size_t secret_size, int64_t timestamp_s,
                    const void *body, size_t body_size, const char *signature, int64_t now_s,
                    int64_t tolerance_s);

#endif
