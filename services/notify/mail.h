/*  mail: an e-mail message as SMTP carries it (RFC 5322, MIME, RFC 2047). Pure; unit-tested
    in tests/unit/test_notify_mail.c.

    A notification is one text/plain part in UTF-8, base64-encoded (so no line is too long
    and no byte needs 8BITMIME), with a subject encoded as RFC 2047 words when it is not
    plain ASCII. Lines end in CRLF. Before DATA the message is dot-stuffed: a line starting
    with '.' gets a second one, so no line of the text can end the transfer. */
#ifndef NOTIFY_MAIL_H
#define NOTIFY_MAIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NOTIFY_MAIL_ADDRESS_MAX 255       //  longest address + 1 (RFC 5321: 254)
#define NOTIFY_MAIL_DATE_SIZE 40          //  "Mon, 23 Nov 2026 10:00:00 +0800" + NUL
#define NOTIFY_MAIL_WORD_BYTES 45         //  UTF-8 bytes per encoded word: 60 base64 chars,
                                          //  72 with "=?UTF-8?B?" and "?=" (RFC 2047: 75)
#define NOTIFY_MAIL_SUBJECT_MAX 2048      //  longest encoded Subject value, bytes + 1
#define NOTIFY_MAIL_LINE_CHARS 76         //  base64 characters per body line (RFC 2045)
#define NOTIFY_MAIL_BODY_MAX (1024 * 1024) //  longest body accepted, bytes

//  One message to format. Strings are borrowed.
typedef struct {
    const char *from;       //  sender address (checked with notify_mail_address_valid)
    const char *to;         //  recipient address (checked too)
    const char *subject;    //  UTF-8, one line
    const char *body;       //  UTF-8 text; LF or CRLF line ends
    const char *message_id; //  unique left part of Message-ID (the delivery id)
    int64_t at_us;          //  Date, microseconds since the epoch (UTC)
} notify_mail_t;

//  True when address is local@domain with no space, control, quote, comma, angle bracket
//  or backslash, one '@' and at most NOTIFY_MAIL_ADDRESS_MAX - 1 bytes: safe inside
//  "MAIL FROM:<...>" and a header.
bool notify_mail_address_valid (const char *address);

//  The Date header value for at_us in China Standard Time ("+0800"). Returns 0 or -1.
int notify_mail_date (int64_t at_us, char out[NOTIFY_MAIL_DATE_SIZE]);

//  The Subject value: subject as is when it is printable ASCII, else RFC 2047 "B" encoded
//  words of whole UTF-8 characters, folded with CRLF SP. Control characters become spaces.
//  Returns 0, or -1 when it does not fit out_size.
int notify_mail_subject (const char *subject, char *out, size_t out_size);

//  The whole message (headers, blank line, base64 body), CRLF line ends, not dot-stuffed.
//  Returns a malloc'd string (the caller frees) with its length in *size, or NULL when an
//  address is invalid, the body too long or memory short.
char *notify_mail_format (const notify_mail_t *mail, size_t *size);

//  Dot-stuffs text for DATA: every line end becomes CRLF (LF or lone CR too), a line that
//  starts with '.' gets another, and the result ends with CRLF. Returns a malloc'd string
//  (the caller frees) with its length in *size, or NULL when memory is short.
char *notify_mail_dot_stuff (const char *text, size_t size, size_t *out_size);

#endif
