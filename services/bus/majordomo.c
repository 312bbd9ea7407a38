/*  majordomo: the Majordomo 0.1 broker (see majordomo.h and README.md).

    Message shapes on the ROUTER, identity first:
      client   [id, "", "MDPC01", service, body]
      READY    [id, "", "MDPW01", 0x01, service]
      REPLY    [id, "", "MDPW01", 0x03, client, "", body]
      HEARTBEAT, DISCONNECT [id, "", "MDPW01", 0x04 | 0x05]
    Anything else is malformed: dropped, logged (at most once per BUS_MALFORMED_LOG_MS), and
    a worker that sent it is disconnected. */
#include "majordomo.h"
#include "directory.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BUS_FRAMES_MAX 7          //  frames of the longest valid message (a worker's REPLY)
#define BUS_MALFORMED_LOG_MS 1000 //  at most one malformed-message line per interval
#define BUS_MMI_PREFIX "mmi."     //  internal services (RFC 8)
#define BUS_PARTS_MAX 6           //  frames after the identity in anything the broker sends

struct bus_mdp {
    void *router;                   //  ROUTER bound on the command endpoint (borrowed)
    int request_timeout_ms;         //  longest wait of a queued request
    size_t queue_max;               //  requests queued per service
    int heartbeat_ms;               //  heartbeat interval
    bus_stats_t *stats;             //  counters (borrowed)
    bus_directory_t dir;            //  services, workers, queued requests
    int64_t heartbeat_at_ms;        //  when heartbeats are next due
    int64_t malformed_logged_ms;    //  when a malformed message was last logged
    uint64_t malformed_suppressed;  //  malformed messages not logged since then
};

typedef struct {
    const void *data; //  frame bytes
    size_t size;      //  frame length
} bus_part_t;

static const uint8_t s_command_request = SQ_MDP_REQUEST;
static const uint8_t s_command_heartbeat = SQ_MDP_HEARTBEAT;
static const uint8_t s_command_disconnect = SQ_MDP_DISCONNECT;

bus_mdp_t *
bus_mdp_new (void *router, const bus_config_t *config, bus_stats_t *stats)
{
    assert (router && config && stats);
    assert (config->request_timeout_ms > 0 && config->queue_max > 0 && config->heartbeat_ms > 0);
    bus_mdp_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->router = router;
    self->request_timeout_ms = config->request_timeout_ms;
    self->queue_max = (size_t) config->queue_max;
    self->heartbeat_ms = config->heartbeat_ms;
    self->stats = stats;
    self->heartbeat_at_ms = sq_clock_ms () + config->heartbeat_ms;
    return self;
}

void
bus_mdp_destroy (bus_mdp_t **self_p)
{
    assert (self_p);
    bus_mdp_t *self = *self_p;
    if (!self)
        return;
    bus_directory_clear (&self->dir);
    free (self);
    *self_p = NULL;
}

// ---- sending -----------------------------------------------------------------------------

//  Sends [identity, parts..., body]; body may be NULL and is emptied when sent (the caller
//  still closes it). Returns 0, or -1 with errno EHOSTUNREACH when the peer is gone and
//  EAGAIN when its queue is full: the broker never blocks on one peer.
static int
s_send (bus_mdp_t *self, const void *identity, size_t identity_size, const bus_part_t *parts,
        size_t count, zmq_msg_t *body)
{
    assert (count <= BUS_PARTS_MAX);
    if (zmq_send (self->router, identity, identity_size, ZMQ_SNDMORE | ZMQ_DONTWAIT) == -1)
        return -1;
    //  NB: after the identity frame ZeroMQ takes every further frame of the message.
    for (size_t i = 0; i < count; i++) {
        int more = i + 1 < count || body ? ZMQ_SNDMORE : 0;
        if (zmq_send (self->router, parts[i].data, parts[i].size, more) == -1)
            return -1;
    }
    if (body && zmq_msg_send (body, self->router, 0) == -1)
        return -1;
    return 0;
}

//  Sends a worker command without arguments (HEARTBEAT, DISCONNECT). Returns as s_send.
static int
s_send_command (bus_mdp_t *self, const void *identity, size_t identity_size,
                const uint8_t *command)
{
    bus_part_t parts[] = {{"", 0}, {SQ_MDP_WORKER, strlen (SQ_MDP_WORKER)}, {command, 1}};
    return s_send (self, identity, identity_size, parts, 3, NULL);
}

//  Sends a reply to a client as coming from service: body bytes, or the body frame.
static void
s_reply (bus_mdp_t *self, const void *client, size_t client_size, const char *service,
         const void *data, size_t size, zmq_msg_t *body)
{
    bus_part_t parts[] = {{"", 0},
                          {SQ_MDP_CLIENT, strlen (SQ_MDP_CLIENT)},
                          {service, strlen (service)},
                          {data, size}};
    if (s_send (self, client, client_size, parts, body ? 3 : 4, body) == -1)
        sq_log_debug ("dropped reply: client is gone or not reading", "service=%s error=\"%s\"",
                      service, zmq_strerror (errno));
}

//  Answers a client with an `unavailable` error reply from service.
static void __attribute__ ((format (printf, 5, 6)))
s_reply_unavailable (bus_mdp_t *self, const void *client, size_t client_size,
                     const char *service, const char *format, ...)
{
    char text[SQ_ERROR_MESSAGE_MAX];
    va_list args;
    va_start (args, format);
    vsnprintf (text, sizeof text, format, args);
    va_end (args);
    sq_error_t err = {0};
    sq_error_set (&err, SQ_ERR_UNAVAILABLE, NULL, "%s", text);
    msgpack_sbuffer buffer;
    msgpack_sbuffer_init (&buffer);
    sq_reply_pack_error (&buffer, &err);
    s_reply (self, client, client_size, service, buffer.data, buffer.size, NULL);
    msgpack_sbuffer_destroy (&buffer);
}

// ---- checks ------------------------------------------------------------------------------

static bool
s_frame_is (zmq_msg_t *frame, const char *text)
{
    size_t len = strlen (text);
    return zmq_msg_size (frame) == len && memcmp (zmq_msg_data (frame), text, len) == 0;
}

//  Copies a service name out of a frame: 1 to SQ_MDP_SERVICE_MAX printable ASCII bytes.
//  Returns 0, or -1 when the frame holds no valid name.
static int
s_frame_service (zmq_msg_t *frame, char name[SQ_MDP_SERVICE_MAX + 1])
{
    size_t size = zmq_msg_size (frame);
    const uint8_t *bytes = zmq_msg_data (frame);
    if (size == 0 || size > SQ_MDP_SERVICE_MAX)
        return -1;
    for (size_t i = 0; i < size; i++)
        if (bytes[i] <= ' ' || bytes[i] > '~')
            return -1;
    memcpy (name, bytes, size);
    name[size] = 0;
    return 0;
}

static bool
s_service_internal (const char *name)
{
    return strncmp (name, BUS_MMI_PREFIX, strlen (BUS_MMI_PREFIX)) == 0;
}

//  Logs a dropped message, at most once per BUS_MALFORMED_LOG_MS so a flood cannot fill disks.
static void
s_malformed (bus_mdp_t *self, const char *why, int frames)
{
    int64_t now_ms = sq_clock_ms ();
    if (now_ms - self->malformed_logged_ms < BUS_MALFORMED_LOG_MS) {
        self->malformed_suppressed++;
        return;
    }
    sq_log_warn ("dropped malformed message", "why=\"%s\" frames=%d suppressed=%" PRIu64, why,
                 frames, self->malformed_suppressed);
    self->malformed_logged_ms = now_ms;
    self->malformed_suppressed = 0;
}

//  True when a request body is a msgpack map with a non-empty string "idem": the service
//  dedupes it, so running it twice is safe.
static bool
s_request_idempotent (bus_request_t *request)
{
    char why[SQ_ERROR_MESSAGE_MAX];
    sq_doc_t *doc = sq_doc_new (zmq_msg_data (&request->body), zmq_msg_size (&request->body),
                                why, sizeof why);
    if (!doc)
        return false;
    const msgpack_object *idem = sq_obj_get (sq_doc_root (doc), "idem");
    bool idempotent = idem && idem->type == MSGPACK_OBJECT_STR && idem->via.str.size > 0;
    sq_doc_destroy (&doc);
    return idempotent;
}

// ---- workers and requests ----------------------------------------------------------------

//  A worker's request in flight whose worker is gone: requeued once when idempotent, else
//  answered `unavailable` — never dropped without a word. The caller dispatches afterwards.
static void
s_request_orphaned (bus_mdp_t *self, bus_service_t *service, bus_request_t *request)
{
    if (request->requeues == 0 && s_request_idempotent (request)) {
        request->requeues++;
        request->deadline_ms = sq_clock_ms () + self->request_timeout_ms;
        bus_service_enqueue (service, request);
        sq_log_warn ("requeued request of a lost worker", "service=%s", service->name);
        return;
    }
    s_reply_unavailable (self, request->client, request->client_size, service->name,
                         "worker of service %s was lost before it replied%s; the request may "
                         "have been carried out",
                         service->name, request->requeues ? ", twice" : "");
    bus_request_destroy (&request);
}

//  Forgets a worker (telling it to DISCONNECT when asked) and deals with its request.
static void
s_worker_drop (bus_mdp_t *self, bus_worker_t *worker, sq_log_level_t level, const char *event,
               bool disconnect)
{
    bus_service_t *service = worker->service;
    if (disconnect)
        s_send_command (self, worker->identity, worker->identity_size, &s_command_disconnect);
    sq_log (level, event, "service=%s worker=%s busy=%s workers=%zu", service->name,
            worker->id_text, worker->request ? "yes" : "no", service->worker_count - 1);
    bus_request_t *request = bus_worker_remove (&self->dir, worker);
    if (request)
        s_request_orphaned (self, service, request);
}

//  Hands queued requests to waiting workers, oldest request to longest-waiting worker.
static void
s_dispatch (bus_mdp_t *self, bus_service_t *service)
{
    while (service->waiting_head && service->queue_head) {
        bus_worker_t *worker = bus_service_next_waiting (service);
        bus_request_t *request = bus_service_dequeue (service);
        bus_part_t parts[] = {{"", 0},
                              {SQ_MDP_WORKER, strlen (SQ_MDP_WORKER)},
                              {&s_command_request, 1},
                              {request->client, request->client_size},
                              {"", 0}};
        zmq_msg_t body;
        zmq_msg_init (&body);
        zmq_msg_copy (&body, &request->body); //  shared, not copied: kept for a requeue
        int rc = s_send (self, worker->identity, worker->identity_size, parts, 5, &body);
        zmq_msg_close (&body);
        if (rc == 0) {
            worker->request = request;
            continue;
        }
        bus_service_requeue_first (service, request);
        s_worker_drop (self, worker, SQ_LOG_WARN, "worker unreachable", false);
    }
}

// ---- internal services (RFC 8) -----------------------------------------------------------

//  mmi.workers: {"services": [{name, workers, waiting, queued}...], uptime_ms, requests, events}
static void
s_mmi_workers (bus_mdp_t *self, msgpack_sbuffer *buffer)
{
    msgpack_packer pk;
    msgpack_packer_init (&pk, buffer, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, 4);
    sq_pack_str (&pk, "services");
    msgpack_pack_array (&pk, (size_t) self->dir.service_count);
    for (bus_service_t *service = self->dir.services; service; service = service->next) {
        msgpack_pack_map (&pk, 4);
        sq_pack_kv_str (&pk, "name", service->name);
        sq_pack_kv_uint (&pk, "workers", service->worker_count);
        sq_pack_kv_uint (&pk, "waiting", service->waiting_count);
        sq_pack_kv_uint (&pk, "queued", service->queued);
    }
    sq_pack_kv_int (&pk, "uptime_ms", sq_clock_ms () - self->stats->started_ms);
    sq_pack_kv_uint (&pk, "requests", self->stats->requests);
    sq_pack_kv_uint (&pk, "events", self->stats->events);
}

static void
s_mmi (bus_mdp_t *self, zmq_msg_t *client, const char *name, zmq_msg_t *body)
{
    msgpack_sbuffer buffer;
    msgpack_sbuffer_init (&buffer);
    const char *answer = "501"; //  RFC 8: not implemented
    if (strcmp (name, "mmi.service") == 0) {
        char asked[SQ_MDP_SERVICE_MAX + 1];
        bus_service_t *service = NULL;
        if (s_frame_service (body, asked) == 0)
            service = bus_service_find (&self->dir, asked);
        answer = service && service->worker_count ? "200" : "404";
    } else if (strcmp (name, "mmi.workers") == 0) {
        s_mmi_workers (self, &buffer);
        answer = NULL;
    }
    if (answer)
        s_reply (self, zmq_msg_data (client), zmq_msg_size (client), name, answer,
                 strlen (answer), NULL);
    else
        s_reply (self, zmq_msg_data (client), zmq_msg_size (client), name, buffer.data,
                 buffer.size, NULL);
    msgpack_sbuffer_destroy (&buffer);
}

// ---- messages ----------------------------------------------------------------------------

//  [id, "", "MDPC01", service, body]
static void
s_client_message (bus_mdp_t *self, zmq_msg_t *frames, int count)
{
    char name[SQ_MDP_SERVICE_MAX + 1];
    if (count != 5 || s_frame_service (&frames[3], name)) {
        s_malformed (self, "client request is not [empty, MDPC01, service, body]", count);
        return;
    }
    self->stats->requests++;
    const void *client = zmq_msg_data (&frames[0]);
    size_t client_size = zmq_msg_size (&frames[0]);
    if (s_service_internal (name)) {
        s_mmi (self, &frames[0], name, &frames[4]);
        return;
    }
    bus_service_t *service = bus_service_require (&self->dir, name);
    if (!service) {
        s_reply_unavailable (self, client, client_size, name,
                             "could not queue request: the bus already serves %d services",
                             BUS_SERVICES_MAX);
        return;
    }
    if (service->queued >= self->queue_max) {
        s_reply_unavailable (self, client, client_size, name,
                             "could not queue request: queue of service %s is full (%zu requests)",
                             name, self->queue_max);
        return;
    }
    bus_request_t *request = bus_request_new (client, client_size, &frames[4]);
    if (!request) {
        s_reply_unavailable (self, client, client_size, name,
                             "could not queue request: out of memory");
        return;
    }
    request->deadline_ms = sq_clock_ms () + self->request_timeout_ms;
    bus_service_enqueue (service, request);
    s_dispatch (self, service);
}

//  A worker (or a peer posing as one) broke the protocol: drop the message and the worker.
static void
s_worker_violation (bus_mdp_t *self, bus_worker_t *worker, zmq_msg_t *identity,
                    const char *why, int count)
{
    s_malformed (self, why, count);
    if (!worker) {
        s_send_command (self, zmq_msg_data (identity), zmq_msg_size (identity),
                        &s_command_disconnect);
        return;
    }
    bus_service_t *service = worker->service;
    s_worker_drop (self, worker, SQ_LOG_WARN, "worker disconnected for a protocol error", true);
    s_dispatch (self, service);
}

//  READY [id, "", "MDPW01", 0x01, service]
static void
s_worker_ready (bus_mdp_t *self, bus_worker_t *worker, zmq_msg_t *frames, int count)
{
    char name[SQ_MDP_SERVICE_MAX + 1];
    if (count != 5 || s_frame_service (&frames[4], name) || s_service_internal (name)) {
        s_worker_violation (self, worker, &frames[0], "READY without a valid service", count);
        return;
    }
    if (worker) {
        s_worker_violation (self, worker, &frames[0], "READY from a ready worker", count);
        return;
    }
    const void *identity = zmq_msg_data (&frames[0]);
    size_t identity_size = zmq_msg_size (&frames[0]);
    bus_service_t *service = bus_service_require (&self->dir, name);
    if (service)
        worker = bus_worker_add (&self->dir, service, identity, identity_size,
                                 sq_clock_ms () + (int64_t) self->heartbeat_ms * SQ_MDP_LIVENESS);
    if (!worker) {
        sq_log_warn ("refused worker: too many services or workers", "service=%s services=%zu "
                     "workers=%zu", name, self->dir.service_count, self->dir.worker_count);
        s_send_command (self, identity, identity_size, &s_command_disconnect);
        return;
    }
    sq_log_info ("worker ready", "service=%s worker=%s workers=%zu", name, worker->id_text,
                 service->worker_count);
    bus_service_wait (service, worker);
    s_dispatch (self, service);
}

//  REPLY [id, "", "MDPW01", 0x03, client, "", body]
static void
s_worker_reply (bus_mdp_t *self, bus_worker_t *worker, zmq_msg_t *frames, int count)
{
    if (count != 7 || zmq_msg_size (&frames[5]) != 0 || !worker || !worker->request) {
        s_worker_violation (self, worker, &frames[0], "REPLY out of turn or misframed", count);
        return;
    }
    bus_request_t *request = worker->request;
    if (zmq_msg_size (&frames[4]) != request->client_size
        || memcmp (zmq_msg_data (&frames[4]), request->client, request->client_size) != 0) {
        s_worker_violation (self, worker, &frames[0], "REPLY to another client", count);
        return;
    }
    bus_service_t *service = worker->service;
    worker->request = NULL;
    s_reply (self, request->client, request->client_size, service->name, NULL, 0, &frames[6]);
    bus_request_destroy (&request);
    bus_service_wait (service, worker);
    s_dispatch (self, service);
}

//  [id, "", "MDPW01", command, ...]
static void
s_worker_message (bus_mdp_t *self, zmq_msg_t *frames, int count)
{
    if (count < 4 || zmq_msg_size (&frames[3]) != 1) {
        s_malformed (self, "worker message without a one-byte command", count);
        return;
    }
    uint8_t command = *(uint8_t *) zmq_msg_data (&frames[3]);
    bus_worker_t *worker =
        bus_worker_find (&self->dir, zmq_msg_data (&frames[0]), zmq_msg_size (&frames[0]));
    if (worker)
        worker->expiry_ms = sq_clock_ms () + (int64_t) self->heartbeat_ms * SQ_MDP_LIVENESS;
    if (command == SQ_MDP_READY)
        s_worker_ready (self, worker, frames, count);
    else if (command == SQ_MDP_REPLY)
        s_worker_reply (self, worker, frames, count);
    else if (command == SQ_MDP_HEARTBEAT && count == 4) {
        //  RFC 7: a heartbeat from a worker we do not know asks for DISCONNECT (it reconnects).
        if (!worker)
            s_send_command (self, zmq_msg_data (&frames[0]), zmq_msg_size (&frames[0]),
                            &s_command_disconnect);
    } else if (command == SQ_MDP_DISCONNECT && count == 4) {
        if (worker) {
            bus_service_t *service = worker->service;
            s_worker_drop (self, worker, SQ_LOG_INFO, "worker disconnected", false);
            s_dispatch (self, service);
        }
    } else
        s_worker_violation (self, worker, &frames[0], "unknown or misframed worker command",
                            count);
}

int
bus_mdp_handle (bus_mdp_t *self)
{
    assert (self);
    zmq_msg_t frames[BUS_FRAMES_MAX];
    int count = sq_zmq_frames_recv (self->router, frames, BUS_FRAMES_MAX, ZMQ_DONTWAIT);
    if (count == -1)
        return errno == EAGAIN || errno == EINTR ? 0 : -1;
    if (count > BUS_FRAMES_MAX)
        s_malformed (self, "too many frames", count);
    else if (count < 3 || zmq_msg_size (&frames[1]) != 0)
        s_malformed (self, "message does not start with an empty frame and a protocol", count);
    else if (s_frame_is (&frames[2], SQ_MDP_CLIENT))
        s_client_message (self, frames, count);
    else if (s_frame_is (&frames[2], SQ_MDP_WORKER))
        s_worker_message (self, frames, count);
    else
        s_malformed (self, "unknown protocol", count);
    sq_zmq_frames_close (frames, (size_t) (count < BUS_FRAMES_MAX ? count : BUS_FRAMES_MAX));
    return 1;
}

// ---- time --------------------------------------------------------------------------------

//  Heartbeats every worker, waiting or busy; drops those silent too long or gone.
static void
s_heartbeat_all (bus_mdp_t *self, int64_t now_ms)
{
    bus_worker_t *next = NULL;
    for (bus_worker_t *worker = self->dir.workers; worker; worker = next) {
        next = worker->all_next;
        if (now_ms >= worker->expiry_ms)
            s_worker_drop (self, worker, SQ_LOG_WARN, "worker expired", true);
        else if (s_send_command (self, worker->identity, worker->identity_size,
                                 &s_command_heartbeat) == -1 && errno == EHOSTUNREACH)
            s_worker_drop (self, worker, SQ_LOG_WARN, "worker unreachable", false);
    }
}

//  Answers queued requests past their deadline. Queues are in deadline order: every request
//  waits the same time and a requeued one goes last with a fresh deadline.
static void
s_expire_requests (bus_mdp_t *self, bus_service_t *service, int64_t now_ms)
{
    while (service->queue_head && service->queue_head->deadline_ms <= now_ms) {
        bus_request_t *request = bus_service_dequeue (service);
        s_reply_unavailable (self, request->client, request->client_size, service->name,
                             "no worker for service %s answered within %d ms", service->name,
                             self->request_timeout_ms);
        bus_request_destroy (&request);
    }
}

int
bus_mdp_timers (bus_mdp_t *self)
{
    assert (self);
    int64_t now_ms = sq_clock_ms ();
    bool heartbeat_due = now_ms >= self->heartbeat_at_ms;
    if (heartbeat_due) {
        s_heartbeat_all (self, now_ms);
        self->heartbeat_at_ms = now_ms + self->heartbeat_ms;
    }
    int64_t next_ms = self->heartbeat_at_ms;
    for (bus_service_t *service = self->dir.services; service; service = service->next) {
        if (heartbeat_due)
            s_dispatch (self, service); //  requests requeued by dropped workers
        s_expire_requests (self, service, now_ms);
        if (service->queue_head && service->queue_head->deadline_ms < next_ms)
            next_ms = service->queue_head->deadline_ms;
    }
    if (heartbeat_due)
        bus_service_sweep (&self->dir);
    return next_ms > now_ms ? (int) (next_ms - now_ms) : 0;
}

void
bus_mdp_shutdown (bus_mdp_t *self)
{
    assert (self);
    for (bus_service_t *service = self->dir.services; service; service = service->next) {
        bus_request_t *request;
        while ((request = bus_service_dequeue (service))) {
            s_reply_unavailable (self, request->client, request->client_size, service->name,
                                 "bus is shutting down");
            bus_request_destroy (&request);
        }
    }
    for (bus_worker_t *worker = self->dir.workers; worker; worker = worker->all_next) {
        if (worker->request)
            s_reply_unavailable (self, worker->request->client, worker->request->client_size,
                                 worker->service->name,
                                 "bus shut down before the worker of service %s replied; the "
                                 "request may have been carried out",
                                 worker->service->name);
        s_send_command (self, worker->identity, worker->identity_size, &s_command_disconnect);
    }
    bus_directory_clear (&self->dir);
}
