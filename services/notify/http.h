/*  http: the smallest HTTP/1.1 client the webhook channel needs, on POSIX sockets.
    Plain http:// only (no TLS: a department's receiver is reached inside the government
    network or through a TLS-terminating proxy it runs; see README). One POST per
    connection (Connection: close), every step under one overall timeout. */
#ifndef NOTIFY_HTTP_H
#define NOTIFY_HTTP_H

#include <stddef.h>
#include <stdint.h>

#define NOTIFY_URL_MAX 512       //  longest URL + 1
#define NOTIFY_HOST_MAX 256      //  longest host name + 1
#define NOTIFY_HTTP_HEADERS_MAX 2048 //  longest block of extra header lines
#define NOTIFY_HTTP_REPLY_MAX 4096   //  bytes of the reply read (status line and headers)

//  What became of one try on a channel that leaves the platform.
typedef enum {
    NOTIFY_SENT = 0, //  accepted by the receiver
    NOTIFY_FAILED,   //  not now (timeout, 4xx of SMTP, 5xx of HTTP): tried again later
    NOTIFY_REFUSED   //  never (not configured, 5xx of SMTP, 4xx of an SMS provider): the
                     //  delivery fails for good and the rule's next channel is tried
} notify_outcome_t;

typedef struct {
    char host[NOTIFY_HOST_MAX]; //  name or IPv4 / [IPv6] literal without brackets
    char port[8];               //  decimal, default 80
    char path[NOTIFY_URL_MAX];  //  from the first '/', default "/"
} notify_url_t;

//  Parses "http://host[:port][/path]". Returns 0, or -1 when it is not such a URL (another
//  scheme, user info, no host, a bad port, spaces or control characters).
int notify_url_parse (const char *text, notify_url_t *url);

//  POSTs body (content type application/json) with extra header lines (each ending in
//  CRLF; may be "") and waits for the status line, all within timeout_ms. Returns the HTTP
//  status (100 to 599), or -1 with the reason in error.
int notify_http_post (const notify_url_t *url, const char *headers, const char *body,
                      size_t body_size, int timeout_ms, char *error, size_t error_size);

//  The socket steps the HTTP and SMTP clients share, each bounded by a deadline on
//  sq_clock_ms. Waits until fd is ready for events (poll's POLLIN / POLLOUT); returns 0, or
//  -1 when the deadline passed.
int notify_tcp_wait (int fd, short events, int64_t deadline_ms);

//  Connects (non-blocking) to one of host's addresses before the deadline. Returns the
//  socket (the caller closes it) or -1 with the reason in error.
int notify_tcp_connect (const char *host, const char *port, int64_t deadline_ms, char *error,
                        size_t error_size);

//  Sends all of data before the deadline. Returns 0 or -1.
int notify_tcp_send (int fd, const char *data, size_t size, int64_t deadline_ms);

#endif
