/*  sq_mdp_worker: the worker half of Majordomo 0.1 (RFC 7), over a DEALER socket.

    The worker never blocks and owns no loop: the caller polls its socket (with many others),
    calls sq_mdp_worker_read when it is readable and sq_mdp_worker_tick at least once per
    heartbeat interval. Liveness is kept in time rather than in missed polls, so a caller that
    wakes often for other sockets does not wear the broker's credit down faster. */
#include "sq_mdp.h"
#include "sq_log.h"
#include "sq_util.h"

#include <assert.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SQ_WORKER_FRAMES 6           //  empty, "MDPW01", command, client, empty, body
#define SQ_WORKER_DISCONNECT_LINGER_MS 100 //  time given to DISCONNECT to leave on destroy

struct sq_mdp_worker {
    void *socket;                            //  DEALER connected to the broker
    char endpoint[SQ_MDP_ENDPOINT_MAX];      //  broker's command endpoint
    char service[SQ_MDP_SERVICE_MAX + 1];    //  service this worker offers
    int heartbeat_ms;                        //  heartbeat interval
    int64_t heartbeat_at_ms;                 //  when the next heartbeat is due
    int64_t expiry_ms;                       //  broker taken for dead after this
    int64_t connected_at_ms;                 //  when the last connection was made
    bool connected;                          //  socket is connected to endpoint
    bool reconnect;                          //  the broker said DISCONNECT
};

//  Sends a command with up to one argument frame. Returns 0 or -1.
static int
s_worker_send (sq_mdp_worker_t *self, uint8_t command, const char *argument)
{
    if (zmq_send (self->socket, "", 0, ZMQ_SNDMORE | ZMQ_DONTWAIT) == -1)
        return -1;
    if (zmq_send (self->socket, SQ_MDP_WORKER, strlen (SQ_MDP_WORKER), ZMQ_SNDMORE) == -1
        || zmq_send (self->socket, &command, 1, argument ? ZMQ_SNDMORE : 0) == -1)
        return -1;
    if (argument && zmq_send (self->socket, argument, strlen (argument), 0) == -1)
        return -1;
    return 0;
}

//  Opens a new connection to the broker and announces the service. NB: the socket stays the
//  same, because callers keep it in their poll sets; disconnecting terminates the old pipe,
//  so nothing the broker sent on the old connection can be read after this. Returns 0 or -1.
static int
s_worker_connect (sq_mdp_worker_t *self)
{
    int64_t now_ms = sq_clock_ms ();
    self->connected_at_ms = now_ms;
    self->expiry_ms = now_ms + (int64_t) self->heartbeat_ms * SQ_MDP_LIVENESS;
    self->heartbeat_at_ms = now_ms + self->heartbeat_ms;
    self->reconnect = false;
    if (self->connected) {
        zmq_disconnect (self->socket, self->endpoint);
        self->connected = false;
    }
    if (zmq_connect (self->socket, self->endpoint)) {
        sq_log_error ("could not connect worker to broker", "endpoint=%s service=%s error=\"%s\"",
                      self->endpoint, self->service, zmq_strerror (errno));
        return -1;
    }
    self->connected = true;
    if (s_worker_send (self, SQ_MDP_READY, self->service))
        sq_log_warn ("could not send READY to broker", "endpoint=%s service=%s error=\"%s\"",
                     self->endpoint, self->service, zmq_strerror (errno));
    return 0;
}

sq_mdp_worker_t *
sq_mdp_worker_new (const char *endpoint, const char *service)
{
    assert (endpoint && service);
    if (strlen (endpoint) >= SQ_MDP_ENDPOINT_MAX || !*service
        || strlen (service) > SQ_MDP_SERVICE_MAX) {
        sq_log_error ("could not create worker: endpoint or service name is too long or empty",
                      "endpoint=%.64s service=%.64s", endpoint, service);
        return NULL;
    }
    sq_mdp_worker_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    snprintf (self->endpoint, sizeof self->endpoint, "%s", endpoint);
    snprintf (self->service, sizeof self->service, "%s", service);
    self->heartbeat_ms = sq_mdp_heartbeat_ms ();
    self->socket = zmq_socket (sq_zmq_context (), ZMQ_DEALER);
    if (!self->socket || sq_zmq_socket_setup (self->socket) || s_worker_connect (self)) {
        sq_log_error ("could not create worker", "service=%s error=\"%s\"", service,
                      zmq_strerror (errno));
        if (self->socket)
            zmq_close (self->socket);
        free (self);
        return NULL;
    }
    return self;
}

void
sq_mdp_worker_destroy (sq_mdp_worker_t **self_p)
{
    assert (self_p);
    sq_mdp_worker_t *self = *self_p;
    if (!self)
        return;
    //  Linger a little so that DISCONNECT leaves before the socket goes.
    int linger = SQ_WORKER_DISCONNECT_LINGER_MS;
    zmq_setsockopt (self->socket, ZMQ_LINGER, &linger, sizeof linger);
    s_worker_send (self, SQ_MDP_DISCONNECT, NULL);
    zmq_close (self->socket);
    free (self);
    *self_p = NULL;
}

void *
sq_mdp_worker_socket (sq_mdp_worker_t *self)
{
    assert (self);
    return self->socket;
}

void
sq_mdp_worker_tick (sq_mdp_worker_t *self)
{
    assert (self);
    int64_t now_ms = sq_clock_ms ();
    if (!self->connected || self->reconnect || now_ms >= self->expiry_ms) {
        //  NB: the pause keeps a broker that keeps refusing us from being hammered.
        if (now_ms - self->connected_at_ms < SQ_MDP_RECONNECT_MS)
            return;
        sq_log_warn (self->reconnect ? "broker disconnected worker, reconnecting"
                                     : "broker went silent, reconnecting worker",
                     "service=%s endpoint=%s", self->service, self->endpoint);
        s_worker_connect (self);
        return;
    }
    sq_mdp_worker_keepalive (self);
}

void
sq_mdp_worker_keepalive (sq_mdp_worker_t *self)
{
    assert (self);
    int64_t now_ms = sq_clock_ms ();
    if (self->connected && !self->reconnect && now_ms >= self->heartbeat_at_ms) {
        s_worker_send (self, SQ_MDP_HEARTBEAT, NULL);
        self->heartbeat_at_ms = now_ms + self->heartbeat_ms;
    }
}

//  Copies a REQUEST's client address and body into request. Returns 1, 0 when malformed,
//  -1 when out of memory.
static int
s_worker_take_request (zmq_msg_t *frames, sq_mdp_request_t *request)
{
    size_t client_size = zmq_msg_size (&frames[3]);
    if (client_size == 0 || client_size > SQ_MDP_ADDRESS_MAX || zmq_msg_size (&frames[4]) != 0)
        return 0;
    size_t body_size = zmq_msg_size (&frames[5]);
    uint8_t *body = malloc (body_size ? body_size : 1);
    if (!body)
        return -1;
    memcpy (body, zmq_msg_data (&frames[5]), body_size);
    memcpy (request->client, zmq_msg_data (&frames[3]), client_size);
    request->client_size = client_size;
    request->body = body;
    request->body_size = body_size;
    return 1;
}

//  Acts on one well-framed command from the broker. Returns as sq_mdp_worker_read.
static int
s_worker_command (sq_mdp_worker_t *self, zmq_msg_t *frames, int count,
                  sq_mdp_request_t *request)
{
    uint8_t command = *(uint8_t *) zmq_msg_data (&frames[2]);
    int rc = 0;
    if (command == SQ_MDP_REQUEST && count == SQ_WORKER_FRAMES)
        rc = s_worker_take_request (frames, request);
    else if (command == SQ_MDP_HEARTBEAT && count == 3)
        return 0;
    else if (command == SQ_MDP_DISCONNECT && count == 3) {
        self->reconnect = true;
        return 0;
    }
    if (rc == 0)
        sq_log_warn ("dropped malformed command from broker", "service=%s command=%d frames=%d",
                     self->service, command, count);
    return rc;
}

int
sq_mdp_worker_read (sq_mdp_worker_t *self, sq_mdp_request_t *request)
{
    assert (self && request);
    zmq_msg_t frames[SQ_WORKER_FRAMES];
    int count = sq_zmq_frames_recv (self->socket, frames, SQ_WORKER_FRAMES, ZMQ_DONTWAIT);
    if (count == -1)
        return errno == EAGAIN || errno == EINTR ? 0 : -1;
    int rc = 0;
    if (count < 3 || count > SQ_WORKER_FRAMES || zmq_msg_size (&frames[0]) != 0
        || zmq_msg_size (&frames[1]) != strlen (SQ_MDP_WORKER)
        || memcmp (zmq_msg_data (&frames[1]), SQ_MDP_WORKER, strlen (SQ_MDP_WORKER)) != 0
        || zmq_msg_size (&frames[2]) != 1)
        sq_log_warn ("dropped malformed message from broker", "service=%s frames=%d",
                     self->service, count);
    else {
        //  Anything well formed from the broker shows it is alive.
        self->expiry_ms = sq_clock_ms () + (int64_t) self->heartbeat_ms * SQ_MDP_LIVENESS;
        rc = s_worker_command (self, frames, count, request);
    }
    sq_zmq_frames_close (frames, (size_t) (count < SQ_WORKER_FRAMES ? count : SQ_WORKER_FRAMES));
    return rc;
}

int
sq_mdp_worker_reply (sq_mdp_worker_t *self, const sq_mdp_request_t *request, const void *body,
                     size_t size)
{
    assert (self && request);
    assert (body || size == 0);
    assert (request->client_size > 0 && request->client_size <= SQ_MDP_ADDRESS_MAX);
    uint8_t command = SQ_MDP_REPLY;
    if (zmq_send (self->socket, "", 0, ZMQ_SNDMORE | ZMQ_DONTWAIT) == -1)
        return -1;
    if (zmq_send (self->socket, SQ_MDP_WORKER, strlen (SQ_MDP_WORKER), ZMQ_SNDMORE) == -1
        || zmq_send (self->socket, &command, 1, ZMQ_SNDMORE) == -1
        || zmq_send (self->socket, request->client, request->client_size, ZMQ_SNDMORE) == -1
        || zmq_send (self->socket, "", 0, ZMQ_SNDMORE) == -1
        || zmq_send (self->socket, body, size, 0) == -1)
        return -1;
    return 0;
}

void
sq_mdp_request_clear (sq_mdp_request_t *request)
{
    assert (request);
    free (request->body);
    memset (request, 0, sizeof *request);
}
