/*  sq_test_smtp: a real little SMTP server on 127.0.0.1 for tests (RFC 5321 on a POSIX
    socket, its own thread), standing in for the platform's mail relay. It speaks EHLO/HELO,
    MAIL, RCPT, DATA (undoing dot-stuffing), RSET, NOOP and QUIT, records every message it
    accepts, and can be told to answer RCPT TO with a 4xx or 5xx code, or slowly. Helpers decode what
    the tests check: a header (unfolded), an RFC 2047 subject, a base64 body. */
#ifndef SQ_TEST_SMTP_H
#define SQ_TEST_SMTP_H

#include <stdbool.h>
#include <stddef.h>

#define SQ_TEST_SMTP_MESSAGES_MAX 1024     //  messages recorded; later ones are answered 452
#define SQ_TEST_SMTP_DATA_MAX (4 * 1024 * 1024) //  longest message accepted
#define SQ_TEST_SMTP_ADDRESS_MAX 256

//  One message as received.
typedef struct {
    char from[SQ_TEST_SMTP_ADDRESS_MAX]; //  MAIL FROM:<...>
    char to[SQ_TEST_SMTP_ADDRESS_MAX];   //  RCPT TO:<...> (the last one)
    char helo[SQ_TEST_SMTP_ADDRESS_MAX]; //  the name given in EHLO or HELO
    char *data;                          //  the message, dot-stuffing undone, CRLF line ends
    size_t size;
    bool bare_lf;                        //  a line of DATA ended in LF without CR
} sq_test_smtp_message_t;

typedef struct sq_test_smtp sq_test_smtp_t;

//  Starts a server on 127.0.0.1 on a free port. NULL when it cannot listen.
sq_test_smtp_t *sq_test_smtp_new (void);
void sq_test_smtp_destroy (sq_test_smtp_t **self_p);

int sq_test_smtp_port (sq_test_smtp_t *self);

//  The code RCPT TO is answered with: 250 at start; 4xx or 5xx to refuse recipients.
void sq_test_smtp_set_reply (sq_test_smtp_t *self, int code);

//  How long RCPT TO's answer is held back: a slow relay (0 at start).
void sq_test_smtp_set_delay_ms (sq_test_smtp_t *self, int delay_ms);

//  Messages accepted so far; recipients refused so far.
int sq_test_smtp_count (sq_test_smtp_t *self);
int sq_test_smtp_refused (sq_test_smtp_t *self);

//  A copy of message i (data malloc'd: free it). Returns 0, -1 when out of range.
int sq_test_smtp_message (sq_test_smtp_t *self, int i, sq_test_smtp_message_t *out);

//  The value of header name in a message's data, continuation lines unfolded (malloc'd;
//  NULL when absent).
char *sq_test_smtp_header (const char *data, const char *name);

//  A header value with its RFC 2047 encoded words ("=?UTF-8?B?...?=", "=?UTF-8?Q?...?=")
//  decoded (malloc'd; NULL when a word is malformed).
char *sq_test_smtp_decode_words (const char *value);

//  The body of a message, decoded when its Content-Transfer-Encoding is base64 (malloc'd;
//  NULL when malformed).
char *sq_test_smtp_body (const char *data);

#endif
