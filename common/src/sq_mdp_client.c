/*  sq_mdp_client: the client half of Majordomo 0.1 (RFC 7), over a DEALER socket.

    A DEALER rather than the RFC's REQ lets a caller pipeline several requests and poll the
    socket with others. The price is that replies carry no request id: sq_mdp_client_call
    therefore replaces its socket after a timeout (the Lazy Pirate pattern), so a reply that
    comes late is dropped with the old socket instead of answering the next call. */
#include "sq_mdp.h"
#include "sq_log.h"
#include "sq_util.h"

#include <assert.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SQ_CLIENT_FRAMES 4 //  empty, "MDPC01", service, body

struct sq_mdp_client {
    void *socket;                       //  DEALER connected to the broker
    char endpoint[SQ_MDP_ENDPOINT_MAX]; //  broker's command endpoint
};

//  Opens a fresh DEALER on the endpoint. Returns 0 or -1.
static int
s_client_connect (sq_mdp_client_t *self)
{
    self->socket = zmq_socket (sq_zmq_context (), ZMQ_DEALER);
    if (!self->socket) {
        sq_log_error ("could not create client socket", "error=\"%s\"", zmq_strerror (errno));
        return -1;
    }
    if (sq_zmq_socket_setup (self->socket) || zmq_connect (self->socket, self->endpoint)) {
        sq_log_error ("could not connect client to broker", "endpoint=%s error=\"%s\"",
                      self->endpoint, zmq_strerror (errno));
        zmq_close (self->socket);
        self->socket = NULL;
        return -1;
    }
    return 0;
}

sq_mdp_client_t *
sq_mdp_client_new (const char *endpoint)
{
    assert (endpoint);
    if (strlen (endpoint) >= SQ_MDP_ENDPOINT_MAX) {
        sq_log_error ("could not create client: endpoint is too long", "endpoint=%.64s...",
                      endpoint);
        return NULL;
    }
    sq_mdp_client_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    snprintf (self->endpoint, sizeof self->endpoint, "%s", endpoint);
    if (s_client_connect (self)) {
        free (self);
        return NULL;
    }
    return self;
}

void
sq_mdp_client_destroy (sq_mdp_client_t **self_p)
{
    assert (self_p);
    sq_mdp_client_t *self = *self_p;
    if (!self)
        return;
    if (self->socket)
        zmq_close (self->socket);
    free (self);
    *self_p = NULL;
}

void *
sq_mdp_client_socket (sq_mdp_client_t *self)
{
    assert (self);
    return self->socket;
}

int
sq_mdp_client_send (sq_mdp_client_t *self, const char *service, const void *body, size_t size)
{
    assert (self && service);
    assert (body || size == 0);
    if (strlen (service) == 0 || strlen (service) > SQ_MDP_SERVICE_MAX) {
        sq_log_error ("could not send request: service name is empty or too long",
                      "service=\"%.64s\" max=%d", service, SQ_MDP_SERVICE_MAX);
        errno = EINVAL;
        return -1;
    }
    if (!self->socket && s_client_connect (self))
        return -1;
    //  NB: once the first frame is accepted ZeroMQ takes the rest of the message, so
    //  ZMQ_DONTWAIT on the first frame alone keeps a full queue from blocking the caller.
    if (zmq_send (self->socket, "", 0, ZMQ_SNDMORE | ZMQ_DONTWAIT) == -1)
        return -1;
    if (zmq_send (self->socket, SQ_MDP_CLIENT, strlen (SQ_MDP_CLIENT), ZMQ_SNDMORE) == -1
        || zmq_send (self->socket, service, strlen (service), ZMQ_SNDMORE) == -1
        || zmq_send (self->socket, body, size, 0) == -1)
        return -1;
    return 0;
}

//  Reads one message. Returns 1 with the body of a well-formed reply, 0 when the message
//  was malformed and dropped, -1 on error.
static int
s_client_read (sq_mdp_client_t *self, void **body, size_t *size)
{
    zmq_msg_t frames[SQ_CLIENT_FRAMES];
    int count = sq_zmq_frames_recv (self->socket, frames, SQ_CLIENT_FRAMES, ZMQ_DONTWAIT);
    if (count == -1)
        return errno == EAGAIN ? 0 : -1;
    int rc = 0;
    if (count != SQ_CLIENT_FRAMES || zmq_msg_size (&frames[0]) != 0
        || zmq_msg_size (&frames[1]) != strlen (SQ_MDP_CLIENT)
        || memcmp (zmq_msg_data (&frames[1]), SQ_MDP_CLIENT, strlen (SQ_MDP_CLIENT)) != 0)
        sq_log_warn ("dropped malformed reply from broker", "frames=%d", count);
    else {
        size_t body_size = zmq_msg_size (&frames[3]);
        *body = malloc (body_size ? body_size : 1);
        if (*body) {
            memcpy (*body, zmq_msg_data (&frames[3]), body_size);
            *size = body_size;
            rc = 1;
        } else
            rc = -1;
    }
    int kept = count < SQ_CLIENT_FRAMES ? count : SQ_CLIENT_FRAMES;
    sq_zmq_frames_close (frames, (size_t) kept);
    return rc;
}

int
sq_mdp_client_recv (sq_mdp_client_t *self, int timeout_ms, void **body, size_t *size)
{
    assert (self && body && size);
    if (!self->socket && s_client_connect (self))
        return -1;
    int64_t deadline_ms = timeout_ms < 0 ? -1 : sq_clock_ms () + timeout_ms;
    while (true) {
        long wait_ms = -1;
        if (deadline_ms >= 0) {
            int64_t left_ms = deadline_ms - sq_clock_ms ();
            wait_ms = left_ms > 0 ? (long) left_ms : 0;
        }
        zmq_pollitem_t item = {self->socket, 0, ZMQ_POLLIN, 0};
        int rc = zmq_poll (&item, 1, wait_ms);
        if (rc == -1)
            return -1;
        if (rc == 1) {
            rc = s_client_read (self, body, size);
            if (rc != 0)
                return rc == 1 ? 0 : -1;
        }
        if (deadline_ms >= 0 && sq_clock_ms () >= deadline_ms) {
            errno = ETIMEDOUT;
            return -1;
        }
    }
}

int
sq_mdp_client_call (sq_mdp_client_t *self, const char *service, const void *body, size_t size,
                    int timeout_ms, void **reply, size_t *reply_size)
{
    assert (self);
    if (sq_mdp_client_send (self, service, body, size))
        return -1;
    if (sq_mdp_client_recv (self, timeout_ms, reply, reply_size) == 0)
        return 0;
    int saved = errno;
    //  Lazy Pirate: whatever answers this request later must not answer the next one.
    zmq_close (self->socket);
    self->socket = NULL;
    s_client_connect (self);
    errno = saved;
    return -1;
}
