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

void
sq_id_new (char out[SQ_ID_SIZE])
{
    uint8_t b[16];
    uint64_t ms = (uint64_t) (sq_now_us () / 1000);
    for (int i = 0; i < 6; i++)
        b[i] = (uint8_t) (ms >> (40 - 8 * i));
    randombytes_buf (b + 6, 10);
    b[6] = (uint8_t) (0x70 | (b[6] & 0x0f)); //  version 7
    b[8] = (uint8_t) (0x80 | (b[8] & 0x3f)); //  RFC 4122 variant
    snprintf (out, SQ_ID_SIZE,
              "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
              b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
              b[14], b[15]);
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
