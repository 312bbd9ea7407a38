/*  sq_util: time, identifiers and small helpers shared by every service. */
#ifndef SQ_UTIL_H
#define SQ_UTIL_H

#include <stddef.h>
#include <stdint.h>

#define SQ_ID_SIZE 37 //  36 characters and the terminator

//  Microseconds since the epoch, UTC. SHEQU_CLOCK_OFFSET_US (tests only) shifts it.
int64_t sq_now_us (void);

//  Monotonic milliseconds, for timeouts.
int64_t sq_clock_ms (void);

//  A new globally unique id (UUID version 7 text: time-ordered, 74 random bits).
void sq_id_new (char out[SQ_ID_SIZE]);

//  True when every byte of s is an ASCII digit and s has length len (len 0: any length > 0).
int sq_is_digits (const char *s, size_t len);

#define SQ_INT_TEXT_MAX 21 //  "-9223372036854775808" and the terminator

//  Writes value in decimal into out; returns its length. What snprintf ("%" PRId64) does,
//  at a fraction of the cost, for code that writes thousands of numbers a batch.
size_t sq_int_text (int64_t value, char out[SQ_INT_TEXT_MAX]);

//  Copies src into dst of size bytes, cut to fit and always terminated (snprintf "%s"
//  without the format parsing). Returns the bytes copied.
size_t sq_copy_str (char *dst, size_t size, const char *src);

#endif
