/*  sq_test_http: a webhook receiver for tests on libmicrohttpd. */
#include "sq_test_http.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sq_test_http {
    struct MHD_Daemon *daemon;
    int port;
    atomic_int status;
    pthread_mutex_t lock;
    sq_test_http_request_t requests[SQ_TEST_HTTP_REQUESTS_MAX];
    int count;
    int accepted;
};

//  A request's body as it arrives.
typedef struct {
    char *data;
    size_t size;
    bool too_big;
} s_upload_t;

static void
s_header (struct MHD_Connection *connection, const char *name, char *out, size_t size)
{
    const char *value = MHD_lookup_connection_value (connection, MHD_HEADER_KIND, name);
    snprintf (out, size, "%s", value ? value : "");
}

//  Keeps the request and answers with the set status.
static enum MHD_Result
s_answer (sq_test_http_t *self, struct MHD_Connection *connection, const char *url,
          s_upload_t *upload)
{
    int status = atomic_load (&self->status);
    pthread_mutex_lock (&self->lock);
    if (self->count < SQ_TEST_HTTP_REQUESTS_MAX) {
        sq_test_http_request_t *r = &self->requests[self->count];
        memset (r, 0, sizeof *r);
        snprintf (r->path, sizeof r->path, "%s", url);
        s_header (connection, "X-Shequ-Timestamp", r->timestamp, sizeof r->timestamp);
        s_header (connection, "X-Shequ-Signature", r->signature, sizeof r->signature);
        s_header (connection, "X-Shequ-Delivery", r->delivery, sizeof r->delivery);
        s_header (connection, "Authorization", r->authorization, sizeof r->authorization);
        r->body = upload->data ? upload->data : strdup ("");
        r->body_size = upload->size;
        r->status = status;
        upload->data = NULL;
    }
    self->count++;
    self->accepted += status >= 200 && status < 300;
    pthread_mutex_unlock (&self->lock);
    static const char text[] = "ok\n";
    struct MHD_Response *response = MHD_create_response_from_buffer (
        sizeof text - 1, (void *) text, MHD_RESPMEM_PERSISTENT);
    enum MHD_Result rc = MHD_queue_response (connection, (unsigned) status, response);
    MHD_destroy_response (response);
    return rc;
}

static enum MHD_Result
s_handle (void *cls, struct MHD_Connection *connection, const char *url, const char *method,
          const char *version, const char *data, size_t *data_size, void **con_cls)
{
    (void) version;
    sq_test_http_t *self = cls;
    s_upload_t *upload = *con_cls;
    if (!upload) {
        upload = calloc (1, sizeof *upload);
        *con_cls = upload;
        return upload ? MHD_YES : MHD_NO;
    }
    if (*data_size) {
        if (upload->size + *data_size > SQ_TEST_HTTP_BODY_MAX)
            upload->too_big = true;
        else {
            char *grown = realloc (upload->data, upload->size + *data_size + 1);
            if (!grown)
                return MHD_NO;
            memcpy (grown + upload->size, data, *data_size);
            upload->size += *data_size;
            grown[upload->size] = '\0';
            upload->data = grown;
        }
        *data_size = 0;
        return MHD_YES;
    }
    if (strcmp (method, "POST") || upload->too_big)
        return MHD_NO;
    return s_answer (self, connection, url, upload);
}

static void
s_completed (void *cls, struct MHD_Connection *connection, void **con_cls,
             enum MHD_RequestTerminationCode code)
{
    (void) cls, (void) connection, (void) code;
    s_upload_t *upload = *con_cls;
    if (upload)
        free (upload->data);
    free (upload);
    *con_cls = NULL;
}

int
sq_test_http_up (sq_test_http_t *self)
{
    if (self->daemon)
        return 0;
    struct sockaddr_in address = {.sin_family = AF_INET,
                                  .sin_port = htons ((uint16_t) self->port),
                                  .sin_addr.s_addr = htonl (INADDR_LOOPBACK)};
    self->daemon = MHD_start_daemon (
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, (uint16_t) self->port, NULL, NULL,
        s_handle, self, MHD_OPTION_SOCK_ADDR, &address, MHD_OPTION_LISTENING_ADDRESS_REUSE, 1u,
        MHD_OPTION_NOTIFY_COMPLETED, s_completed, self, MHD_OPTION_END);
    if (!self->daemon)
        return -1;
    const union MHD_DaemonInfo *info = MHD_get_daemon_info (self->daemon,
                                                            MHD_DAEMON_INFO_BIND_PORT);
    if (info)
        self->port = info->port;
    return 0;
}

int
sq_test_http_down (sq_test_http_t *self)
{
    if (self->daemon)
        MHD_stop_daemon (self->daemon);
    self->daemon = NULL;
    return 0;
}

sq_test_http_t *
sq_test_http_new (int port)
{
    sq_test_http_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->port = port;
    atomic_store (&self->status, 200);
    pthread_mutex_init (&self->lock, NULL);
    if (sq_test_http_up (self)) {
        sq_test_http_destroy (&self);
        return NULL;
    }
    return self;
}

void
sq_test_http_destroy (sq_test_http_t **self_p)
{
    sq_test_http_t *self = *self_p;
    if (!self)
        return;
    sq_test_http_down (self);
    int kept = self->count < SQ_TEST_HTTP_REQUESTS_MAX ? self->count : SQ_TEST_HTTP_REQUESTS_MAX;
    for (int i = 0; i < kept; i++)
        free (self->requests[i].body);
    pthread_mutex_destroy (&self->lock);
    free (self);
    *self_p = NULL;
}

int
sq_test_http_port (sq_test_http_t *self)
{
    return self->port;
}

void
sq_test_http_set_status (sq_test_http_t *self, int status)
{
    atomic_store (&self->status, status);
}

int
sq_test_http_count (sq_test_http_t *self)
{
    pthread_mutex_lock (&self->lock);
    int count = self->count;
    pthread_mutex_unlock (&self->lock);
    return count;
}

int
sq_test_http_accepted (sq_test_http_t *self)
{
    pthread_mutex_lock (&self->lock);
    int accepted = self->accepted;
    pthread_mutex_unlock (&self->lock);
    return accepted;
}

int
sq_test_http_request (sq_test_http_t *self, int i, sq_test_http_request_t *out)
{
    pthread_mutex_lock (&self->lock);
    int rc = -1;
    if (i >= 0 && i < self->count && i < SQ_TEST_HTTP_REQUESTS_MAX) {
        *out = self->requests[i];
        out->body = malloc (out->body_size + 1);
        if (out->body) {
            memcpy (out->body, self->requests[i].body, out->body_size);
            out->body[out->body_size] = '\0';
            rc = 0;
        }
    }
    pthread_mutex_unlock (&self->lock);
    return rc;
}
