/*  broker: the bus's sockets, its thread and the event proxy (see broker.h, README.md).

    The event proxy forwards whole messages XSUB -> XPUB and subscriptions XPUB -> XSUB, like
    zmq_proxy, but inside the broker's own poll loop so that one thread serves both halves and
    the loop can count events and stop on request. */
#include "broker.h"
#include "majordomo.h"
#include "shequ.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

#define BUS_BATCH_MAX 1024                //  messages taken from one socket per loop turn
#define BUS_SHUTDOWN_LINGER_MS 200        //  time given to goodbye messages at shutdown
#define BUS_REQUEST_TIMEOUT_MS_MIN 10     //  settings accepted from the environment
#define BUS_REQUEST_TIMEOUT_MS_MAX 3600000
#define BUS_QUEUE_MAX_MAX 1000000
#define BUS_EVENTS_HWM_MAX 10000000
#define BUS_STOP "STOP"                   //  what bus_destroy says down the pipe

struct bus {
    bus_config_t config;                    //  as given to bus_new
    void *router;                           //  MDP broker, bound on commands
    void *xsub;                             //  events in, bound on events_in
    void *xpub;                             //  events out, bound on events_out
    void *pipe_front;                       //  bus_destroy's end of the stop pipe
    void *pipe_back;                        //  the bus thread's end
    char commands[BUS_ENDPOINT_MAX];        //  endpoints as bound
    char events_in[BUS_ENDPOINT_MAX];
    char events_out[BUS_ENDPOINT_MAX];
    bus_stats_t stats;                      //  counters for mmi.workers
    bus_mdp_t *mdp;                         //  the Majordomo broker
    pthread_t thread;                       //  the bus thread, once started
    bool started;                           //  thread was created
    atomic_bool running;                    //  thread is in its loop
};

//  Copies an endpoint setting into out. Returns 0, or -1 when it does not fit.
static int
s_config_endpoint (const char *name, const char *fallback, char out[BUS_ENDPOINT_MAX])
{
    const char *value = sq_config_str (name, fallback);
    if (strlen (value) >= BUS_ENDPOINT_MAX) {
        sq_log_error ("could not read configuration: endpoint is too long", "name=%s max=%d",
                      name, BUS_ENDPOINT_MAX - 1);
        return -1;
    }
    snprintf (out, BUS_ENDPOINT_MAX, "%s", value);
    return 0;
}

int
bus_config_from_env (bus_config_t *config)
{
    assert (config);
    memset (config, 0, sizeof *config);
    if (s_config_endpoint (SQ_ENV_EVENTS_IN, SQ_DEFAULT_EVENTS_IN, config->events_in)
        || s_config_endpoint (SQ_ENV_EVENTS_OUT, SQ_DEFAULT_EVENTS_OUT, config->events_out)
        || s_config_endpoint (SQ_ENV_COMMANDS, SQ_DEFAULT_COMMANDS, config->commands))
        return -1;
    config->request_timeout_ms =
        (int) sq_config_int (BUS_ENV_REQUEST_TIMEOUT_MS, BUS_DEFAULT_REQUEST_TIMEOUT_MS,
                             BUS_REQUEST_TIMEOUT_MS_MIN, BUS_REQUEST_TIMEOUT_MS_MAX);
    config->queue_max =
        (int) sq_config_int (BUS_ENV_QUEUE_MAX, BUS_DEFAULT_QUEUE_MAX, 1, BUS_QUEUE_MAX_MAX);
    config->events_hwm =
        (int) sq_config_int (BUS_ENV_EVENTS_HWM, BUS_DEFAULT_EVENTS_HWM, 1, BUS_EVENTS_HWM_MAX);
    config->msg_max = sq_zmq_msg_max ();
    config->heartbeat_ms = sq_mdp_heartbeat_ms ();
    return 0;
}

//  Opens a socket of type with the platform's options and hwm (0: ZeroMQ's default), binds
//  it and writes the endpoint actually bound into bound. NULL on failure, logged.
static void *
s_socket_bind (const bus_config_t *config, int type, int hwm, const char *endpoint,
               char bound[BUS_ENDPOINT_MAX])
{
    void *socket = zmq_socket (sq_zmq_context (), type);
    if (!socket) {
        sq_log_error ("could not create socket", "error=\"%s\"", zmq_strerror (errno));
        return NULL;
    }
    int mandatory = 1;
    size_t bound_size = BUS_ENDPOINT_MAX;
    if (sq_zmq_socket_tune (socket, config->msg_max, config->heartbeat_ms)
        || (type == ZMQ_ROUTER
            && zmq_setsockopt (socket, ZMQ_ROUTER_MANDATORY, &mandatory, sizeof mandatory))
        || (hwm && zmq_setsockopt (socket, ZMQ_SNDHWM, &hwm, sizeof hwm))
        || (hwm && zmq_setsockopt (socket, ZMQ_RCVHWM, &hwm, sizeof hwm))
        || zmq_bind (socket, endpoint)
        || zmq_getsockopt (socket, ZMQ_LAST_ENDPOINT, bound, &bound_size)) {
        sq_log_error ("could not bind socket", "endpoint=%s error=\"%s\"", endpoint,
                      zmq_strerror (errno));
        zmq_close (socket);
        return NULL;
    }
    return socket;
}

//  Opens the inproc pipe that tells the bus thread to stop. Returns 0 or -1.
static int
s_pipe_open (bus_t *self)
{
    //  NB: a counter, not the address: a bus freed and another allocated at the same place
    //  would find the old name still bound until ZeroMQ's reaper has closed the socket.
    static atomic_uint s_pipes;
    char endpoint[BUS_ENDPOINT_MAX];
    snprintf (endpoint, sizeof endpoint, "inproc://shequ-bus-%d-%u", (int) getpid (),
              atomic_fetch_add (&s_pipes, 1));
    self->pipe_back = zmq_socket (sq_zmq_context (), ZMQ_PAIR);
    self->pipe_front = zmq_socket (sq_zmq_context (), ZMQ_PAIR);
    if (!self->pipe_back || !self->pipe_front || zmq_bind (self->pipe_back, endpoint)
        || zmq_connect (self->pipe_front, endpoint)) {
        sq_log_error ("could not open the bus's control pipe", "error=\"%s\"",
                      zmq_strerror (errno));
        return -1;
    }
    return 0;
}

bus_t *
bus_new (const bus_config_t *config)
{
    assert (config);
    assert (config->request_timeout_ms > 0 && config->queue_max > 0);
    assert (config->msg_max > 0 && config->heartbeat_ms > 0 && config->events_hwm > 0);
    bus_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->config = *config;
    self->stats.started_ms = sq_clock_ms ();
    atomic_init (&self->running, false);
    self->router = s_socket_bind (config, ZMQ_ROUTER, 0, config->commands, self->commands);
    if (self->router)
        self->xsub = s_socket_bind (config, ZMQ_XSUB, config->events_hwm, config->events_in,
                                    self->events_in);
    if (self->xsub)
        self->xpub = s_socket_bind (config, ZMQ_XPUB, config->events_hwm, config->events_out,
                                    self->events_out);
    if (self->xpub && s_pipe_open (self) == 0)
        self->mdp = bus_mdp_new (self->router, config, &self->stats);
    if (!self->mdp)
        bus_destroy (&self);
    return self;
}

//  Moves up to BUS_BATCH_MAX whole messages from one socket to another without blocking;
//  counts them in *forwarded when given. Returns 0, or -1 on a socket error.
static int
s_forward (void *from, void *to, uint64_t *forwarded)
{
    for (int taken = 0; taken < BUS_BATCH_MAX; taken++) {
        zmq_msg_t frame;
        bool more = true;
        for (int part = 0; more; part++) {
            zmq_msg_init (&frame);
            //  NB: the frames after the first arrive with it, so only the first may wait.
            if (zmq_msg_recv (&frame, from, part ? 0 : ZMQ_DONTWAIT) == -1) {
                zmq_msg_close (&frame);
                return errno == EAGAIN || errno == EINTR ? 0 : -1;
            }
            more = zmq_msg_more (&frame);
            //  XPUB drops at its high-water mark rather than block: PUB/SUB may lose, and
            //  subscribers catch up with events.since (DESIGN.md).
            zmq_msg_send (&frame, to, (more ? ZMQ_SNDMORE : 0) | ZMQ_DONTWAIT);
            zmq_msg_close (&frame);
        }
        if (forwarded)
            (*forwarded)++;
    }
    return 0;
}

//  Handles up to BUS_BATCH_MAX messages from the ROUTER. Returns 0, or -1 on a socket error.
static int
s_commands (bus_t *self)
{
    for (int taken = 0; taken < BUS_BATCH_MAX; taken++) {
        int rc = bus_mdp_handle (self->mdp);
        if (rc <= 0)
            return rc;
    }
    return 0;
}

static void *
s_bus_run (void *argument)
{
    bus_t *self = argument;
    sq_log_info ("bus started", "commands=%s events_in=%s events_out=%s heartbeat_ms=%d "
                 "request_timeout_ms=%d queue_max=%d msg_max=%" PRId64 " events_hwm=%d",
                 self->commands, self->events_in, self->events_out, self->config.heartbeat_ms,
                 self->config.request_timeout_ms, self->config.queue_max, self->config.msg_max,
                 self->config.events_hwm);
    while (true) {
        int timeout_ms = bus_mdp_timers (self->mdp);
        zmq_pollitem_t items[] = {{self->pipe_back, 0, ZMQ_POLLIN, 0},
                                  {self->router, 0, ZMQ_POLLIN, 0},
                                  {self->xsub, 0, ZMQ_POLLIN, 0},
                                  {self->xpub, 0, ZMQ_POLLIN, 0}};
        if (zmq_poll (items, 4, timeout_ms) == -1) {
            if (errno == EINTR)
                continue;
            sq_log_error ("bus stopped on a polling error", "error=\"%s\"", zmq_strerror (errno));
            break;
        }
        if (items[0].revents & ZMQ_POLLIN)
            break;
        if (((items[1].revents & ZMQ_POLLIN) && s_commands (self))
            || ((items[2].revents & ZMQ_POLLIN)
                && s_forward (self->xsub, self->xpub, &self->stats.events))
            || ((items[3].revents & ZMQ_POLLIN) && s_forward (self->xpub, self->xsub, NULL))) {
            sq_log_error ("bus stopped on a socket error", "error=\"%s\"", zmq_strerror (errno));
            break;
        }
    }
    bus_mdp_shutdown (self->mdp);
    sq_log_info ("bus stopped", "requests=%" PRIu64 " events=%" PRIu64, self->stats.requests,
                 self->stats.events);
    atomic_store (&self->running, false);
    return NULL;
}

int
bus_start (bus_t *self)
{
    assert (self);
    assert (!self->started);
    atomic_store (&self->running, true);
    if (pthread_create (&self->thread, NULL, s_bus_run, self)) {
        atomic_store (&self->running, false);
        sq_log_error ("could not start the bus thread", NULL);
        return -1;
    }
    self->started = true;
    return 0;
}

bool
bus_running (bus_t *self)
{
    assert (self);
    return atomic_load (&self->running);
}

static void
s_socket_close (void **socket_p, int linger_ms)
{
    if (!*socket_p)
        return;
    zmq_setsockopt (*socket_p, ZMQ_LINGER, &linger_ms, sizeof linger_ms);
    zmq_close (*socket_p);
    *socket_p = NULL;
}

void
bus_destroy (bus_t **self_p)
{
    assert (self_p);
    bus_t *self = *self_p;
    if (!self)
        return;
    if (self->started) {
        zmq_send (self->pipe_front, BUS_STOP, strlen (BUS_STOP), 0);
        pthread_join (self->thread, NULL);
    }
    bus_mdp_destroy (&self->mdp);
    //  The router lingers so that the goodbyes of bus_mdp_shutdown can leave.
    s_socket_close (&self->router, BUS_SHUTDOWN_LINGER_MS);
    s_socket_close (&self->xsub, 0);
    s_socket_close (&self->xpub, 0);
    s_socket_close (&self->pipe_front, 0);
    s_socket_close (&self->pipe_back, 0);
    free (self);
    *self_p = NULL;
}

const char *
bus_endpoint_commands (bus_t *self)
{
    assert (self);
    return self->commands;
}

const char *
bus_endpoint_events_in (bus_t *self)
{
    assert (self);
    return self->events_in;
}

const char *
bus_endpoint_events_out (bus_t *self)
{
    assert (self);
    return self->events_out;
}
