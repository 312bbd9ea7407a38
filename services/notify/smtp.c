/*  smtp: one message to one recipient through the configured relay. */
#include "smtp.h"

#include "sq_util.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define S_LINE_MAX 600     //  longest command line sent (RFC 5321: 512 with the address)
#define S_QUOTE_MAX 160    //  bytes of a reply kept in an error

int
notify_smtp_config (notify_smtp_t *smtp, const char *server, const char *from, int timeout_ms,
                    char *error, size_t error_size)
{
    memset (smtp, 0, sizeof *smtp);
    smtp->timeout_ms = timeout_ms;
    if (!server || !server[0])
        return 0; //  not configured: e-mail deliveries are refused
    char url_text[NOTIFY_URL_MAX];
    notify_url_t url;
    //  "host[:port]" has the shape of an http:// URL's authority: parse it as one.
    int n = snprintf (url_text, sizeof url_text, "http://%s/", server);
    if (n < 0 || (size_t) n >= sizeof url_text || strchr (server, '/')
        || notify_url_parse (url_text, &url)) {
        snprintf (error, error_size, "SHEQU_NOTIFY_SMTP must be host[:port], not \"%s\"",
                  server);
        return -1;
    }
    if (!from || !notify_mail_address_valid (from)) {
        snprintf (error, error_size, "SHEQU_NOTIFY_SMTP_FROM must be an e-mail address");
        return -1;
    }
    snprintf (smtp->host, sizeof smtp->host, "%s", url.host);
    //  The URL parser's default port is HTTP's: without a port of its own SMTP's is 25.
    const char *after_host = server[0] == '[' ? strchr (server, ']') : server;
    bool has_port = after_host && strchr (after_host, ':');
    snprintf (smtp->port, sizeof smtp->port, "%s", has_port ? url.port : "25");
    snprintf (smtp->from, sizeof smtp->from, "%s", from);
    snprintf (smtp->helo, sizeof smtp->helo, "%s", strchr (from, '@') + 1);
    smtp->configured = true;
    return 0;
}

int
notify_smtp_reply (const char *buf, size_t len, size_t *consumed)
{
    size_t at = 0;
    int code = 0;
    while (at < len) {
        const char *line = buf + at;
        const char *nl = memchr (line, '\n', len - at);
        if (!nl)
            return 0;
        size_t line_len = (size_t) (nl - line);
        if (line_len < 3 || line[0] < '2' || line[0] > '5' || line[1] < '0' || line[1] > '9'
            || line[2] < '0' || line[2] > '9')
            return -1;
        int this_code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
        if (code && this_code != code)
            return -1;
        code = this_code;
        char sep = line_len > 3 ? line[3] : ' ';
        at += line_len + 1;
        if (sep == ' ' || sep == '\r') {
            *consumed = at;
            return code;
        }
        if (sep != '-')
            return -1;
    }
    return 0;
}

//  One conversation with the relay.
typedef struct {
    int fd;
    int64_t deadline_ms;
    char buf[NOTIFY_SMTP_REPLY_MAX]; //  bytes received and not yet read as a reply
    size_t len;
    char quote[S_QUOTE_MAX];         //  the last reply's first line, for errors
} s_session_t;

//  Reads the next reply. Returns its code, or -1 with the reason in error.
static int
s_reply (s_session_t *s, char *error, size_t error_size)
{
    for (;;) {
        size_t consumed = 0;
        int code = notify_smtp_reply (s->buf, s->len, &consumed);
        if (code > 0) {
            size_t line = strcspn (s->buf, "\r\n");
            snprintf (s->quote, sizeof s->quote, "%.*s", (int) (line < consumed ? line
                                                                                  : consumed),
                      s->buf);
            memmove (s->buf, s->buf + consumed, s->len - consumed);
            s->len -= consumed;
            return code;
        }
        if (code < 0 || s->len == sizeof s->buf) {
            snprintf (error, error_size, "the server's reply is not SMTP or too long");
            return -1;
        }
        if (notify_tcp_wait (s->fd, POLLIN, s->deadline_ms)) {
            snprintf (error, error_size, "no reply within the timeout");
            return -1;
        }
        ssize_t got = recv (s->fd, s->buf + s->len, sizeof s->buf - s->len, 0);
        if (got < 0 && (errno == EAGAIN || errno == EINTR))
            continue;
        if (got <= 0) {
            snprintf (error, error_size, "the server closed the connection");
            return -1;
        }
        s->len += (size_t) got;
    }
}

//  Sends data (unless NULL) and reads the reply; the outcome by the reply's first digit:
//  expected (2 or 3) is success, 5 is a refusal, anything else a failure.
static notify_outcome_t
s_step (s_session_t *s, const char *data, size_t size, int expected, const char *what,
        char *error, size_t error_size)
{
    if (data && notify_tcp_send (s->fd, data, size, s->deadline_ms)) {
        snprintf (error, error_size, "could not send %s", what);
        return NOTIFY_FAILED;
    }
    int code = s_reply (s, error, error_size);
    if (code < 0)
        return NOTIFY_FAILED;
    if (code / 100 == expected)
        return NOTIFY_SENT;
    snprintf (error, error_size, "SMTP server answered %s with %s", what, s->quote);
    return code / 100 == 5 ? NOTIFY_REFUSED : NOTIFY_FAILED;
}

//  A command line "<prefix><argument><suffix>CRLF": sends it, reads the reply.
static notify_outcome_t
s_command (s_session_t *s, int expected, const char *what, char *error, size_t error_size,
           const char *prefix, const char *argument, const char *suffix)
{
    char line[S_LINE_MAX];
    int n = snprintf (line, sizeof line, "%s%s%s\r\n", prefix, argument, suffix);
    if (n < 0 || (size_t) n >= sizeof line) {
        snprintf (error, error_size, "%s command too long", what);
        return NOTIFY_REFUSED;
    }
    return s_step (s, line, (size_t) n, expected, what, error, error_size);
}

//  The dialogue after the connection is made.
static notify_outcome_t
s_dialogue (const notify_smtp_t *smtp, s_session_t *s, const char *to, const char *message,
            size_t size, char *error, size_t error_size)
{
    notify_outcome_t rc = s_step (s, NULL, 0, 2, "the greeting", error, error_size);
    if (rc == NOTIFY_SENT) {
        rc = s_command (s, 2, "EHLO", error, error_size, "EHLO ", smtp->helo, "");
        //  An old server that does not know EHLO refuses it: say HELO instead.
        if (rc == NOTIFY_REFUSED)
            rc = s_command (s, 2, "HELO", error, error_size, "HELO ", smtp->helo, "");
    }
    if (rc == NOTIFY_SENT)
        rc = s_command (s, 2, "MAIL FROM", error, error_size, "MAIL FROM:<", smtp->from,
                        ">");
    if (rc == NOTIFY_SENT)
        rc = s_command (s, 2, "RCPT TO", error, error_size, "RCPT TO:<", to, ">");
    if (rc == NOTIFY_SENT)
        rc = s_step (s, "DATA\r\n", 6, 3, "DATA", error, error_size);
    if (rc != NOTIFY_SENT)
        return rc;
    size_t stuffed_size = 0;
    char *stuffed = notify_mail_dot_stuff (message, size, &stuffed_size);
    if (!stuffed) {
        snprintf (error, error_size, "out of memory");
        return NOTIFY_FAILED;
    }
    if (notify_tcp_send (s->fd, stuffed, stuffed_size, s->deadline_ms)) {
        snprintf (error, error_size, "could not send the message");
        rc = NOTIFY_FAILED;
    } else
        rc = s_step (s, ".\r\n", 3, 2, "the message", error, error_size);
    free (stuffed);
    return rc;
}

notify_outcome_t
notify_smtp_send (const notify_smtp_t *smtp, const char *to, const char *message, size_t size,
                  char *error, size_t error_size)
{
    error[0] = '\0';
    if (!smtp->configured) {
        snprintf (error, error_size, "e-mail is not configured on this platform"
                  " (SHEQU_NOTIFY_SMTP)");
        return NOTIFY_REFUSED;
    }
    if (!notify_mail_address_valid (to)) {
        snprintf (error, error_size, "the recipient's address is not an e-mail address");
        return NOTIFY_REFUSED;
    }
    s_session_t *s = calloc (1, sizeof *s);
    if (!s) {
        snprintf (error, error_size, "out of memory");
        return NOTIFY_FAILED;
    }
    s->deadline_ms = sq_clock_ms () + smtp->timeout_ms;
    s->fd = notify_tcp_connect (smtp->host, smtp->port, s->deadline_ms, error, error_size);
    notify_outcome_t rc = NOTIFY_FAILED;
    if (s->fd >= 0) {
        rc = s_dialogue (smtp, s, to, message, size, error, error_size);
        //  Polite end; its answer changes nothing: the message is accepted or not already.
        if (notify_tcp_send (s->fd, "QUIT\r\n", 6, s->deadline_ms) == 0) {
            char ignored[S_QUOTE_MAX];
            s_reply (s, ignored, sizeof ignored);
        }
        close (s->fd);
    }
    free (s);
    return rc;
}
