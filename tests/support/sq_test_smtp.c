/*  sq_test_smtp: an SMTP receiver for tests, one connection at a time on its own thread. */
#include "sq_test_smtp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define S_LINE_MAX 1024         //  longest command line (RFC 5321: 512)
#define S_POLL_MS 100           //  how often the thread looks at the stop flag
#define S_IDLE_MS 10000         //  a silent client is dropped after this

struct sq_test_smtp {
    int listener;
    int port;
    pthread_t thread;
    atomic_bool stop;
    atomic_int reply; //  RCPT TO's answer
    atomic_int delay_ms; //  how long RCPT TO's answer takes: a slow relay
    pthread_mutex_t lock;
    sq_test_smtp_message_t messages[SQ_TEST_SMTP_MESSAGES_MAX];
    int count;
    int refused;
};

//  One connection: its socket and the bytes read but not yet taken as lines.
typedef struct {
    sq_test_smtp_t *server;
    int fd;
    char buf[S_LINE_MAX * 4];
    size_t len;
} s_conn_t;

static int
s_say (s_conn_t *c, const char *text)
{
    size_t size = strlen (text);
    while (size > 0) {
        ssize_t sent = send (c->fd, text, size, MSG_NOSIGNAL);
        if (sent <= 0)
            return -1;
        text += sent;
        size -= (size_t) sent;
    }
    return 0;
}

//  Reads one line (without its end) into line of line_size; *bare_lf when it ended in LF
//  alone. Returns its length, or -1 on close, timeout, stop or a line too long.
static long
s_line (s_conn_t *c, char *line, size_t line_size, bool *bare_lf)
{
    int idle_ms = 0;
    for (;;) {
        char *nl = memchr (c->buf, '\n', c->len);
        if (nl) {
            size_t len = (size_t) (nl - c->buf);
            *bare_lf = len == 0 || c->buf[len - 1] != '\r';
            size_t text = *bare_lf ? len : len - 1;
            if (text >= line_size)
                return -1;
            memcpy (line, c->buf, text);
            line[text] = '\0';
            memmove (c->buf, nl + 1, c->len - len - 1);
            c->len -= len + 1;
            return (long) text;
        }
        if (c->len == sizeof c->buf || atomic_load (&c->server->stop) || idle_ms > S_IDLE_MS)
            return -1;
        struct pollfd item = {c->fd, POLLIN, 0};
        int rc = poll (&item, 1, S_POLL_MS);
        if (rc == 0) {
            idle_ms += S_POLL_MS;
            continue;
        }
        if (rc < 0 && errno == EINTR)
            continue;
        ssize_t got = rc > 0 ? recv (c->fd, c->buf + c->len, sizeof c->buf - c->len, 0) : -1;
        if (got <= 0)
            return -1;
        c->len += (size_t) got;
        idle_ms = 0;
    }
}

//  The address between < and > of a MAIL FROM or RCPT TO argument.
static void
s_address (const char *argument, char out[SQ_TEST_SMTP_ADDRESS_MAX])
{
    const char *open = strchr (argument, '<');
    const char *close = open ? strchr (open, '>') : NULL;
    size_t len = open && close ? (size_t) (close - open - 1) : 0;
    snprintf (out, SQ_TEST_SMTP_ADDRESS_MAX, "%.*s", (int) len, open ? open + 1 : "");
}

//  Reads DATA up to the "." line into m. Returns 0, or -1 when the connection failed.
static int
s_data (s_conn_t *c, sq_test_smtp_message_t *m)
{
    size_t cap = 4096;
    m->data = malloc (cap);
    m->size = 0;
    bool too_big = false;
    char line[S_LINE_MAX * 4];
    for (;;) {
        bool bare_lf = false;
        long len = s_line (c, line, sizeof line, &bare_lf);
        if (len < 0)
            return -1;
        if (strcmp (line, ".") == 0)
            break;
        m->bare_lf |= bare_lf;
        const char *text = line[0] == '.' ? line + 1 : line; //  undo dot-stuffing
        size_t text_len = strlen (text);
        if (m->size + text_len + 3 > SQ_TEST_SMTP_DATA_MAX) {
            too_big = true;
            continue;
        }
        while (m->size + text_len + 3 > cap)
            cap *= 2;
        m->data = realloc (m->data, cap);
        memcpy (m->data + m->size, text, text_len);
        memcpy (m->data + m->size + text_len, "\r\n", 2);
        m->size += text_len + 2;
    }
    m->data[m->size] = '\0';
    return too_big ? -1 : 0;
}

//  Keeps a message; answers whether there was room.
static bool
s_keep (sq_test_smtp_t *self, sq_test_smtp_message_t *m)
{
    pthread_mutex_lock (&self->lock);
    bool room = self->count < SQ_TEST_SMTP_MESSAGES_MAX;
    if (room)
        self->messages[self->count++] = *m;
    pthread_mutex_unlock (&self->lock);
    if (!room)
        free (m->data);
    m->data = NULL;
    return room;
}

//  Speaks SMTP with one client until QUIT or failure.
static void
s_session (s_conn_t *c)
{
    sq_test_smtp_t *self = c->server;
    sq_test_smtp_message_t m;
    memset (&m, 0, sizeof m);
    bool have_rcpt = false;
    char line[S_LINE_MAX], reply[64];
    if (s_say (c, "220 sq-test-smtp ESMTP ready\r\n"))
        return;
    for (;;) {
        bool bare_lf = false;
        if (s_line (c, line, sizeof line, &bare_lf) < 0)
            break;
        const char *answer = "500 5.5.2 command not recognised\r\n";
        if (!strncasecmp (line, "EHLO ", 5) || !strncasecmp (line, "HELO ", 5)) {
            snprintf (m.helo, sizeof m.helo, "%.*s", (int) sizeof m.helo - 1, line + 5);
            answer = line[0] == 'E' || line[0] == 'e' ? "250-sq-test-smtp\r\n250 8BITMIME\r\n"
                                                      : "250 sq-test-smtp\r\n";
        } else if (!strncasecmp (line, "MAIL FROM:", 10)) {
            s_address (line + 10, m.from);
            m.bare_lf = false;
            answer = "250 2.1.0 ok\r\n";
        } else if (!strncasecmp (line, "RCPT TO:", 8)) {
            int code = atomic_load (&self->reply);
            int delay_ms = atomic_load (&self->delay_ms);
            if (delay_ms > 0)
                usleep ((useconds_t) delay_ms * 1000);
            if (code >= 400) {
                pthread_mutex_lock (&self->lock);
                self->refused++;
                pthread_mutex_unlock (&self->lock);
                snprintf (reply, sizeof reply, "%d recipient refused by the test\r\n", code);
                answer = reply;
            } else {
                s_address (line + 8, m.to);
                have_rcpt = true;
                answer = "250 2.1.5 ok\r\n";
            }
        } else if (!strcasecmp (line, "DATA")) {
            if (!have_rcpt)
                answer = "503 5.5.1 no valid recipient\r\n";
            else {
                if (s_say (c, "354 end data with <CR><LF>.<CR><LF>\r\n") || s_data (c, &m)) {
                    free (m.data);
                    break;
                }
                answer = s_keep (self, &m) ? "250 2.0.0 queued\r\n" : "452 4.3.1 test box full\r\n";
                have_rcpt = false;
            }
        } else if (!strcasecmp (line, "RSET") || !strcasecmp (line, "NOOP"))
            answer = "250 2.0.0 ok\r\n";
        else if (!strcasecmp (line, "QUIT")) {
            s_say (c, "221 2.0.0 bye\r\n");
            break;
        }
        if (s_say (c, answer))
            break;
    }
}

static void *
s_thread (void *arg)
{
    sq_test_smtp_t *self = arg;
    s_conn_t *c = calloc (1, sizeof *c);
    while (c && !atomic_load (&self->stop)) {
        struct pollfd item = {self->listener, POLLIN, 0};
        if (poll (&item, 1, S_POLL_MS) <= 0)
            continue;
        int fd = accept (self->listener, NULL, NULL);
        if (fd < 0)
            continue;
        memset (c, 0, sizeof *c);
        c->server = self;
        c->fd = fd;
        s_session (c);
        close (fd);
    }
    free (c);
    return NULL;
}

sq_test_smtp_t *
sq_test_smtp_new (void)
{
    sq_test_smtp_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    atomic_store (&self->reply, 250);
    pthread_mutex_init (&self->lock, NULL);
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = 0,
                                  .sin_addr.s_addr = htonl (INADDR_LOOPBACK)};
    socklen_t size = sizeof address;
    self->listener = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (self->listener < 0 || bind (self->listener, (struct sockaddr *) &address, size)
        || listen (self->listener, 16)
        || getsockname (self->listener, (struct sockaddr *) &address, &size)
        || pthread_create (&self->thread, NULL, s_thread, self)) {
        if (self->listener >= 0)
            close (self->listener);
        pthread_mutex_destroy (&self->lock);
        free (self);
        return NULL;
    }
    self->port = ntohs (address.sin_port);
    return self;
}

void
sq_test_smtp_destroy (sq_test_smtp_t **self_p)
{
    sq_test_smtp_t *self = *self_p;
    if (!self)
        return;
    atomic_store (&self->stop, true);
    pthread_join (self->thread, NULL);
    close (self->listener);
    for (int i = 0; i < self->count; i++)
        free (self->messages[i].data);
    pthread_mutex_destroy (&self->lock);
    free (self);
    *self_p = NULL;
}

int
sq_test_smtp_port (sq_test_smtp_t *self)
{
    return self->port;
}

void
sq_test_smtp_set_reply (sq_test_smtp_t *self, int code)
{
    atomic_store (&self->reply, code);
}

void
sq_test_smtp_set_delay_ms (sq_test_smtp_t *self, int delay_ms)
{
    atomic_store (&self->delay_ms, delay_ms);
}

int
sq_test_smtp_count (sq_test_smtp_t *self)
{
    pthread_mutex_lock (&self->lock);
    int count = self->count;
    pthread_mutex_unlock (&self->lock);
    return count;
}

int
sq_test_smtp_refused (sq_test_smtp_t *self)
{
    pthread_mutex_lock (&self->lock);
    int refused = self->refused;
    pthread_mutex_unlock (&self->lock);
    return refused;
}

int
sq_test_smtp_message (sq_test_smtp_t *self, int i, sq_test_smtp_message_t *out)
{
    pthread_mutex_lock (&self->lock);
    int rc = -1;
    if (i >= 0 && i < self->count) {
        *out = self->messages[i];
        out->data = malloc (out->size + 1);
        if (out->data) {
            memcpy (out->data, self->messages[i].data, out->size + 1);
            rc = 0;
        }
    }
    pthread_mutex_unlock (&self->lock);
    return rc;
}

char *
sq_test_smtp_header (const char *data, const char *name)
{
    size_t name_len = strlen (name);
    const char *end = strstr (data, "\r\n\r\n");
    for (const char *line = data; line && (!end || line < end);) {
        if (!strncasecmp (line, name, name_len) && line[name_len] == ':') {
            const char *value = line + name_len + 1;
            while (*value == ' ')
                value++;
            char *out = malloc (strlen (value) + 1);
            size_t used = 0;
            //  Unfold: a line end followed by a space or tab continues the value.
            for (const char *p = value; *p; p++) {
                if (p[0] == '\r' && p[1] == '\n' && (p[2] == ' ' || p[2] == '\t')) {
                    p += 1;
                    continue;
                }
                if (p[0] == '\r' && p[1] == '\n')
                    break;
                out[used++] = *p;
            }
            out[used] = '\0';
            return out;
        }
        line = strstr (line, "\r\n");
        line = line ? line + 2 : NULL;
    }
    return NULL;
}

//  Decodes one encoded word's text (B or Q) into out; returns bytes written or -1.
static long
s_word (char encoding, const char *text, size_t len, unsigned char *out, size_t out_size)
{
    if (encoding == 'B' || encoding == 'b') {
        size_t bin_len = 0;
        if (sodium_base642bin (out, out_size, text, len, NULL, &bin_len, NULL,
                               sodium_base64_VARIANT_ORIGINAL))
            return -1;
        return (long) bin_len;
    }
    size_t used = 0;
    for (size_t i = 0; i < len && used < out_size; i++) {
        if (text[i] == '_')
            out[used++] = ' ';
        else if (text[i] == '=' && i + 2 < len) {
            unsigned int byte;
            if (sscanf (text + i + 1, "%2x", &byte) != 1)
                return -1;
            out[used++] = (unsigned char) byte;
            i += 2;
        } else
            out[used++] = (unsigned char) text[i];
    }
    return (long) used;
}

char *
sq_test_smtp_decode_words (const char *value)
{
    size_t len = strlen (value);
    unsigned char *out = malloc (len + 1);
    size_t used = 0;
    bool after_word = false;
    for (size_t i = 0; i < len;) {
        if (!strncasecmp (value + i, "=?UTF-8?", 8) && i + 10 < len && value[i + 9] == '?') {
            const char *text = value + i + 10;
            const char *close = strstr (text, "?=");
            if (!close) {
                free (out);
                return NULL;
            }
            long n = s_word (value[i + 8], text, (size_t) (close - text), out + used,
                             len - used);
            if (n < 0) {
                free (out);
                return NULL;
            }
            used += (size_t) n;
            i = (size_t) (close - value) + 2;
            after_word = true;
            continue;
        }
        //  White space between two encoded words is not part of the text (RFC 2047 6.2).
        size_t space = strspn (value + i, " \t");
        if (after_word && space && !strncasecmp (value + i + space, "=?UTF-8?", 8)) {
            i += space;
            continue;
        }
        out[used++] = (unsigned char) value[i++];
        after_word = false;
    }
    out[used] = '\0';
    return (char *) out;
}

char *
sq_test_smtp_body (const char *data)
{
    const char *start = strstr (data, "\r\n\r\n");
    if (!start)
        return NULL;
    start += 4;
    char *encoding = sq_test_smtp_header (data, "Content-Transfer-Encoding");
    bool base64 = encoding && !strcasecmp (encoding, "base64");
    free (encoding);
    size_t len = strlen (start);
    char *out = malloc (len + 1);
    if (!base64) {
        memcpy (out, start, len + 1);
        return out;
    }
    size_t bin_len = 0;
    if (sodium_base642bin ((unsigned char *) out, len, start, len, "\r\n", &bin_len, NULL,
                           sodium_base64_VARIANT_ORIGINAL)) {
        free (out);
        return NULL;
    }
    out[bin_len] = '\0';
    return out;
}
