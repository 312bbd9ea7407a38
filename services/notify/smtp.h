/*  smtp: the e-mail channel's client (RFC 5321) on a plain POSIX socket, every step under
    one overall timeout: greeting, EHLO (HELO when refused), MAIL FROM, RCPT TO, DATA, the
    dot-stuffed message, QUIT. Plain SMTP only (no STARTTLS, no AUTH): the platform hands
    mail to a relay of the government network that accepts it from the platform's hosts. A
    4xx reply or a broken connection is a failure tried again later; a 5xx reply refuses the
    message for good. */
#ifndef NOTIFY_SMTP_H
#define NOTIFY_SMTP_H

#include "http.h"
#include "mail.h"

#define NOTIFY_SMTP_REPLY_MAX 4096          //  longest reply read (all its lines)
#define NOTIFY_SMTP_TIMEOUT_MS_DEFAULT 2000 //  SHEQU_NOTIFY_SMTP_TIMEOUT_MS: one whole message
#define NOTIFY_SMTP_TIMEOUT_MS_MAX 120000

//  Where mail goes, from the configuration.
typedef struct {
    bool configured;                       //  SHEQU_NOTIFY_SMTP was given
    char host[NOTIFY_HOST_MAX];            //  relay host name or address
    char port[8];                          //  decimal, default 25
    char from[NOTIFY_MAIL_ADDRESS_MAX];    //  envelope and header sender
    char helo[NOTIFY_HOST_MAX];            //  name given in EHLO: the sender's domain
    int timeout_ms;                        //  per message, all steps
} notify_smtp_t;

//  Fills smtp from "host[:port]" ("[v6]:port" too) and the sender address. Returns 0, or
//  -1 with the reason in error (naming what is wrong).
int notify_smtp_config (notify_smtp_t *smtp, const char *server, const char *from,
                        int timeout_ms, char *error, size_t error_size);

//  Reads one reply from buf: its code when a whole reply (one line "NNN text" or lines
//  "NNN-text" ending with "NNN text", CRLF or LF) is there, with *consumed its bytes; 0
//  when more bytes are needed; -1 when it is not an SMTP reply.
int notify_smtp_reply (const char *buf, size_t len, size_t *consumed);

//  Sends message (notify_mail_format's output, not dot-stuffed) to one recipient. Returns
//  the outcome with the reason in error unless NOTIFY_SENT.
notify_outcome_t notify_smtp_send (const notify_smtp_t *smtp, const char *to,
                                   const char *message, size_t size, char *error,
                                   size_t error_size);

#endif
