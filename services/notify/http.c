/*  http: an HTTP/1.1 POST over a plain socket, bounded in time and in bytes. */
#include "http.h"

#include "sq_util.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int
notify_url_parse (const char *text, notify_url_t *url)
{
    static const char scheme[] = "http://";
    memset (url, 0, sizeof *url);
    size_t len = strnlen (text, NOTIFY_URL_MAX);
    if (len == NOTIFY_URL_MAX || strncmp (text, scheme, sizeof scheme - 1))
        return -1;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char) text[i] <= ' ' || text[i] == 0x7f)
            return -1;
    const char *host = text + sizeof scheme - 1;
    size_t authority = strcspn (host, "/?#");
    if (memchr (host, '@', authority))
        return -1;
    const char *port = NULL;
    size_t host_len = authority;
    if (host[0] == '[') {
        const char *close = memchr (host, ']', authority);
        if (!close)
            return -1;
        const char *after = close + 1;
        host_len = (size_t) (close - host) - 1;
        port = after[0] == ':' ? after + 1 : NULL;
        if (!port && after != host + authority)
            return -1;
        host++;
    } else {
        const char *colon = memchr (host, ':', authority);
        if (colon) {
            host_len = (size_t) (colon - host);
            port = colon + 1;
        }
    }
    if (host_len == 0 || host_len >= sizeof url->host)
        return -1;
    memcpy (url->host, host, host_len);
    const char *end = text + sizeof scheme - 1 + authority;
    if (port) {
        size_t port_len = (size_t) (end - port);
        if (port_len == 0 || port_len > 5)
            return -1;
        memcpy (url->port, port, port_len);
        long number = strtol (url->port, NULL, 10);
        if (!sq_is_digits (url->port, 0) || number < 1 || number > 65535)
            return -1;
    } else
        snprintf (url->port, sizeof url->port, "80");
    snprintf (url->path, sizeof url->path, "%s%s", *end == '/' ? "" : "/", end);
    return 0;
}

int
notify_tcp_wait (int fd, short events, int64_t deadline_ms)
{
    int64_t left = deadline_ms - sq_clock_ms ();
    if (left <= 0)
        return -1;
    struct pollfd item = {fd, events, 0};
    int rc;
    do
        rc = poll (&item, 1, (int) left);
    while (rc < 0 && errno == EINTR);
    return rc > 0 ? 0 : -1;
}

int
notify_tcp_connect (const char *host, const char *port, int64_t deadline_ms, char *error,
                    size_t error_size)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *list = NULL;
    //  NB: getaddrinfo has no timeout of its own; addresses are literals or local names here.
    int rc = getaddrinfo (host, port, &hints, &list);
    if (rc) {
        snprintf (error, error_size, "could not resolve %s: %s", host, gai_strerror (rc));
        return -1;
    }
    int fd = -1;
    for (struct addrinfo *a = list; a && fd < 0; a = a->ai_next) {
        fd = socket (a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0)
            continue;
        int connected = connect (fd, a->ai_addr, a->ai_addrlen) == 0;
        int err = 0;
        socklen_t err_size = sizeof err;
        if (!connected && errno == EINPROGRESS && notify_tcp_wait (fd, POLLOUT, deadline_ms) == 0
            && getsockopt (fd, SOL_SOCKET, SO_ERROR, &err, &err_size) == 0 && err == 0)
            connected = 1;
        if (!connected) {
            snprintf (error, error_size, "could not connect to %s:%s: %s", host, port,
                      strerror (err ? err : errno ? errno : ETIMEDOUT));
            close (fd);
            fd = -1;
        }
    }
    freeaddrinfo (list);
    return fd;
}

int
notify_tcp_send (int fd, const char *data, size_t size, int64_t deadline_ms)
{
    while (size > 0) {
        ssize_t sent = send (fd, data, size, MSG_NOSIGNAL);
        if (sent < 0 && (errno == EAGAIN || errno == EINTR)) {
            if (notify_tcp_wait (fd, POLLOUT, deadline_ms))
                return -1;
            continue;
        }
        if (sent <= 0)
            return -1;
        data += sent;
        size -= (size_t) sent;
    }
    return 0;
}

//  Reads until the status line is complete. Returns the status or -1.
static int
s_read_status (int fd, int64_t deadline_ms, char *error, size_t error_size)
{
    char reply[NOTIFY_HTTP_REPLY_MAX];
    size_t have = 0;
    while (have < sizeof reply - 1 && !memchr (reply, '\n', have)) {
        if (notify_tcp_wait (fd, POLLIN, deadline_ms)) {
            snprintf (error, error_size, "no reply within the timeout");
            return -1;
        }
        ssize_t got = recv (fd, reply + have, sizeof reply - 1 - have, 0);
        if (got < 0 && (errno == EAGAIN || errno == EINTR))
            continue;
        if (got <= 0) {
            snprintf (error, error_size, "connection closed before a status line");
            return -1;
        }
        have += (size_t) got;
    }
    reply[have] = '\0';
    //  "HTTP/1.x NNN reason"
    if (strncmp (reply, "HTTP/1.", 7) || have < 12 || reply[8] != ' '
        || !(reply[9] >= '1' && reply[9] <= '5') || !(reply[10] >= '0' && reply[10] <= '9')
        || !(reply[11] >= '0' && reply[11] <= '9')) {
        snprintf (error, error_size, "reply is not HTTP/1.x");
        return -1;
    }
    return (reply[9] - '0') * 100 + (reply[10] - '0') * 10 + (reply[11] - '0');
}

int
notify_http_post (const notify_url_t *url, const char *headers, const char *body,
                  size_t body_size, int timeout_ms, char *error, size_t error_size)
{
    int64_t deadline_ms = sq_clock_ms () + timeout_ms;
    error[0] = '\0';
    int fd = notify_tcp_connect (url->host, url->port, deadline_ms, error, error_size);
    if (fd < 0)
        return -1;
    //  A host that holds ':' is an IPv6 literal: brackets in the Host header.
    bool v6 = strchr (url->host, ':') != NULL;
    char head[NOTIFY_URL_MAX + NOTIFY_HOST_MAX + NOTIFY_HTTP_HEADERS_MAX + 256];
    int head_len = snprintf (head, sizeof head, "POST %s HTTP/1.1\r\nHost: %s%s%s:%s\r\n"
                             "Content-Type: application/json; charset=utf-8\r\n"
                             "Content-Length: %zu\r\nConnection: close\r\n"
                             "User-Agent: shequ-notify\r\n%s\r\n",
                             url->path, v6 ? "[" : "", url->host, v6 ? "]" : "", url->port,
                             body_size, headers);
    int status = -1;
    if (head_len < 0 || (size_t) head_len >= sizeof head)
        snprintf (error, error_size, "request headers too long");
    else if (notify_tcp_send (fd, head, (size_t) head_len, deadline_ms)
             || notify_tcp_send (fd, body, body_size, deadline_ms))
        snprintf (error, error_size, "could not send the request to %s:%s", url->host, url->port);
    else
        status = s_read_status (fd, deadline_ms, error, error_size);
    close (fd);
    return status;
}
