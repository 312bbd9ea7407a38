/*  sq_util: time, identifiers and small helpers. */
#include "sq_util.h"
#include "sq_config.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

int64_t
sq_now_us (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_REALTIME, &ts);
    static int64_t offset = -1;
    if (offset == -1)
        offset = sq_config_int ("SHEQU_CLOCK_OFFSET_US", 0, -(INT64_C (1) << 60),
                                INT64_C (1) << 60);
    return (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000 + offset;
}

int64_t
sq_clock_ms (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

//  Random bytes for ids, taken from the system a pool at a time: a getrandom call per id was
//  a system call per event (8,000 for a ledger batch).
#define S_RANDOM_POOL 512
static _Thread_local uint8_t s_pool[S_RANDOM_POOL];
static _Thread_local size_t s_pool_left;

void
sq_id_new (char out[SQ_ID_SIZE])
{
    uint8_t b[16];
    uint64_t ms = (uint64_t) (sq_now_us () / 1000);
    for (int i = 0; i < 6; i++)
        b[i] = (uint8_t) (ms >> (40 - 8 * i));
    if (s_pool_left < 10) {
        randombytes_buf (s_pool, sizeof s_pool);
        s_pool_left = sizeof s_pool;
    }
    memcpy (b + 6, s_pool + sizeof s_pool - s_pool_left, 10);
    sodium_memzero (s_pool + sizeof s_pool - s_pool_left, 10); //  used bytes do not linger
    s_pool_left -= 10;
    b[6] = (uint8_t) (0x70 | (b[6] & 0x0f)); //  version 7
    b[8] = (uint8_t) (0x80 | (b[8] & 0x3f)); //  RFC 4122 variant
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[o++] = '-';
        out[o++] = hex[b[i] >> 4];
        out[o++] = hex[b[i] & 15];
    }
    out[o] = 0;
}

int
sq_is_digits (const char *s, size_t len)
{
    size_t n = strlen (s);
    if (n == 0 || (len && n != len))
        return 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return 0;
    return 1;
}

size_t
sq_int_text (int64_t value, char out[SQ_INT_TEXT_MAX])
{
    char digits[SQ_INT_TEXT_MAX];
    //  In unsigned arithmetic, so that INT64_MIN has a magnitude.
    uint64_t magnitude = value < 0 ? 0 - (uint64_t) value : (uint64_t) value;
    size_t n = 0;
    do {
        digits[n++] = (char) ('0' + magnitude % 10);
        magnitude /= 10;
    } while (magnitude);
    size_t len = 0;
    if (value < 0)
        out[len++] = '-';
    while (n)
        out[len++] = digits[--n];
    out[len] = 0;
    return len;
}

size_t
sq_copy_str (char *dst, size_t size, const char *src)
{
    if (size == 0)
        return 0;
    size_t len = strnlen (src, size - 1);
    memcpy (dst, src, len);
    dst[len] = 0;
    return len;
}
