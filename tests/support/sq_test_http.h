/*  sq_test_http: a real HTTP server on 127.0.0.1 for tests (libmicrohttpd, its own thread),
    standing in for a department's webhook receiver. It records every POST with the
    signature headers, answers with a status the test sets, and can be stopped and started
    again on the same port to play a receiver that is down for a while. */
#ifndef SQ_TEST_HTTP_H
#define SQ_TEST_HTTP_H

#include <stddef.h>

#define SQ_TEST_HTTP_REQUESTS_MAX 256 //  requests recorded; later ones are answered, not kept
#define SQ_TEST_HTTP_BODY_MAX 65536   //  longest body recorded

//  One POST as received.
typedef struct {
    char path[256];
    char timestamp[32];  //  X-Shequ-Timestamp
    char signature[128]; //  X-Shequ-Signature
    char delivery[64];   //  X-Shequ-Delivery
    char authorization[300]; //  Authorization (the SMS provider's API key)
    char *body;          //  NUL-terminated
    size_t body_size;
    int status;          //  what the receiver answered
} sq_test_http_request_t;

typedef struct sq_test_http sq_test_http_t;

//  Starts a receiver on 127.0.0.1:port (0: any free port). NULL when it cannot listen.
sq_test_http_t *sq_test_http_new (int port);
void sq_test_http_destroy (sq_test_http_t **self_p);

//  Stops listening (connections are refused) and starts again on the same port; the
//  record is kept. Return 0 or -1.
int sq_test_http_down (sq_test_http_t *self);
int sq_test_http_up (sq_test_http_t *self);

int sq_test_http_port (sq_test_http_t *self);

//  Status answered to the next requests (200 at start).
void sq_test_http_set_status (sq_test_http_t *self, int status);

//  Requests received so far, and how many were answered 2xx.
int sq_test_http_count (sq_test_http_t *self);
int sq_test_http_accepted (sq_test_http_t *self);

//  A copy of request i (the body malloc'd: free it). Returns 0, -1 when out of range.
int sq_test_http_request (sq_test_http_t *self, int i, sq_test_http_request_t *out);

#endif
