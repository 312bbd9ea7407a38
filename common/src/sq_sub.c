/*  sq_sub: a subscriber that delivers each event of its tracked streams once, in order. */
#include "sq_sub.h"
#include "sq_config.h"
#include "sq_log.h"
#include "sq_mdp.h"
#include "sq_util.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#define S_QUEUE_SIZE (SQ_SUB_FETCH_LIMIT + 1) //  events waiting to be handed out

typedef struct {
    char name[SQ_SRC_MAX]; //  stream (service) name
    uint64_t last;         //  last seq delivered or filtered out
    int64_t heard_ms;      //  when this stream last moved or was asked
} s_stream_t;

struct sq_sub {
    void *socket;                               //  SUB on events_out
    char commands[256];                         //  bus ROUTER, for events.since
    sq_mdp_client_t *client;                    //  created on first fetch
    char *prefixes[SQ_SUB_PREFIXES_MAX];        //  delivery filter
    int prefix_count;
    s_stream_t streams[SQ_SUB_STREAMS_MAX];     //  tracked streams
    int stream_count;
    sq_event_t *queue[S_QUEUE_SIZE];            //  fetched events, in order
    int head, tail;
    int catchup_ms;                             //  tail check interval
    uint64_t fetched;                           //  events obtained by events.since
};

void
sq_event_destroy (sq_event_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        sq_doc_destroy (&(*self_p)->doc);
        free ((*self_p)->raw);
        free (*self_p);
        *self_p = NULL;
    }
}

//  Builds an event from envelope bytes (copied). NULL when they are not a valid envelope.
static sq_event_t *
s_event_new (const void *data, size_t size)
{
    sq_event_t *event = calloc (1, sizeof *event);
    assert (event);
    event->raw = malloc (size ? size : 1);
    assert (event->raw);
    memcpy (event->raw, data, size);
    event->raw_size = size;
    char why[128];
    sq_error_t err;
    event->doc = sq_doc_new (event->raw, size, why, sizeof why);
    if (!event->doc || sq_envelope_decode (sq_doc_root (event->doc), &event->env, &err)
        || sq_envelope_topic (&event->env, event->topic, sizeof event->topic)) {
        sq_log_warn ("dropping a malformed event", "why=\"%s\"", event->doc ? err.message : why);
        sq_event_destroy (&event);
    }
    return event;
}

sq_sub_t *
sq_sub_new (const char *events_out, const char *commands)
{
    sq_sub_t *self = calloc (1, sizeof *self);
    assert (self);
    snprintf (self->commands, sizeof self->commands, "%s",
              commands ? commands : sq_config_str (SQ_ENV_COMMANDS, SQ_DEFAULT_COMMANDS));
    self->catchup_ms = (int) sq_config_int ("SHEQU_SUB_CATCHUP_MS", SQ_SUB_CATCHUP_MS_DEFAULT,
                                            10, 3600000);
    self->socket = zmq_socket (sq_zmq_context (), ZMQ_SUB);
    const char *endpoint = events_out ? events_out
                                      : sq_config_str (SQ_ENV_EVENTS_OUT, SQ_DEFAULT_EVENTS_OUT);
    int hwm = (int) sq_config_int ("SHEQU_EVENTS_HWM", 100000, 1000, 10000000);
    if (!self->socket || sq_zmq_socket_setup (self->socket)
        || zmq_setsockopt (self->socket, ZMQ_RCVHWM, &hwm, sizeof hwm)
        || zmq_connect (self->socket, endpoint)) {
        sq_log_error ("subscriber could not connect", "endpoint=%s", endpoint);
        sq_sub_destroy (&self);
    }
    return self;
}

void
sq_sub_destroy (sq_sub_t **self_p)
{
    assert (self_p);
    sq_sub_t *self = *self_p;
    if (!self)
        return;
    if (self->socket)
        zmq_close (self->socket);
    sq_mdp_client_destroy (&self->client);
    for (int i = 0; i < self->prefix_count; i++)
        free (self->prefixes[i]);
    while (self->head != self->tail) {
        sq_event_destroy (&self->queue[self->head]);
        self->head = (self->head + 1) % S_QUEUE_SIZE;
    }
    free (self);
    *self_p = NULL;
}

int
sq_sub_subscribe (sq_sub_t *self, const char *prefix)
{
    if (self->prefix_count == SQ_SUB_PREFIXES_MAX)
        return -1;
    self->prefixes[self->prefix_count++] = strdup (prefix);
    return zmq_setsockopt (self->socket, ZMQ_SUBSCRIBE, prefix, strlen (prefix));
}

int
sq_sub_track (sq_sub_t *self, const char *src, uint64_t after_seq)
{
    if (self->stream_count == SQ_SUB_STREAMS_MAX || strlen (src) >= SQ_SRC_MAX - 1)
        return -1;
    s_stream_t *stream = &self->streams[self->stream_count++];
    snprintf (stream->name, sizeof stream->name, "%s", src);
    stream->last = after_seq;
    stream->heard_ms = 0; //  ask for the tail at once: events may be waiting
    //  A tracked stream is received whole, so that a missing seq is a real gap; the
    //  prefixes then filter what is handed out.
    char topic[SQ_SRC_MAX + 1];
    snprintf (topic, sizeof topic, "%s.", src);
    return zmq_setsockopt (self->socket, ZMQ_SUBSCRIBE, topic, strlen (topic));
}

uint64_t
sq_sub_last_seq (sq_sub_t *self, const char *src)
{
    for (int i = 0; i < self->stream_count; i++)
        if (strcmp (self->streams[i].name, src) == 0)
            return self->streams[i].last;
    return 0;
}

uint64_t
sq_sub_fetched (sq_sub_t *self)
{
    return self->fetched;
}

static bool
s_wanted (sq_sub_t *self, const char *topic)
{
    if (self->prefix_count == 0)
        return true;
    for (int i = 0; i < self->prefix_count; i++)
        if (strncmp (topic, self->prefixes[i], strlen (self->prefixes[i])) == 0)
            return true;
    return false;
}

static s_stream_t *
s_stream (sq_sub_t *self, const char *src)
{
    for (int i = 0; i < self->stream_count; i++)
        if (strcmp (self->streams[i].name, src) == 0)
            return &self->streams[i];
    return NULL;
}

static void
s_enqueue (sq_sub_t *self, sq_event_t *event)
{
    int next = (self->tail + 1) % S_QUEUE_SIZE;
    assert (next != self->head); //  fetches are sized to fit an empty queue
    self->queue[self->tail] = event;
    self->tail = next;
}

//  Packs the events.since request for stream after its last seq.
static void
s_since_request (msgpack_sbuffer *buf, uint64_t after)
{
    msgpack_packer pk;
    msgpack_packer_init (&pk, buf, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, 3);
    sq_pack_kv_str (&pk, "cmd", "events.since");
    sq_pack_str (&pk, "args");
    msgpack_pack_map (&pk, 2);
    sq_pack_kv_uint (&pk, "after", after);
    sq_pack_kv_int (&pk, "limit", SQ_SUB_FETCH_LIMIT);
    sq_pack_str (&pk, "actor");
    msgpack_pack_map (&pk, 3);
    sq_pack_kv_str (&pk, "id", "subscriber");
    sq_pack_kv_str (&pk, "role", "operator");
    sq_pack_kv_str (&pk, "scope", "");
}

//  Takes the events of one events.since reply in order. Returns how many were new.
static int
s_take_fetched (sq_sub_t *self, s_stream_t *stream, const msgpack_object *events)
{
    int taken = 0;
    for (uint32_t i = 0; i < events->via.array.size; i++) {
        msgpack_sbuffer buf;
        msgpack_sbuffer_init (&buf);
        msgpack_packer pk;
        msgpack_packer_init (&pk, &buf, msgpack_sbuffer_write);
        msgpack_pack_object (&pk, events->via.array.ptr[i]);
        sq_event_t *event = s_event_new (buf.data, buf.size);
        msgpack_sbuffer_destroy (&buf);
        if (!event || event->env.seq != stream->last + 1
            || strcmp (event->env.src, stream->name) != 0) {
            sq_event_destroy (&event);
            break; //  out of order or foreign: ask again from where we are
        }
        stream->last = event->env.seq;
        taken++;
        if (s_wanted (self, event->topic))
            s_enqueue (self, event);
        else
            sq_event_destroy (&event);
    }
    return taken;
}

//  Asks stream's service for what came after its last seq. Returns events taken, -1 when
//  the service did not answer.
static int
s_fetch (sq_sub_t *self, s_stream_t *stream)
{
    stream->heard_ms = sq_clock_ms ();
    if (!self->client)
        self->client = sq_mdp_client_new (self->commands);
    if (!self->client)
        return -1;
    msgpack_sbuffer request;
    msgpack_sbuffer_init (&request);
    s_since_request (&request, stream->last);
    void *reply = NULL;
    size_t size = 0;
    int rc = sq_mdp_client_call (self->client, stream->name, request.data, request.size,
                                 SQ_SUB_CALL_TIMEOUT_MS, &reply, &size);
    msgpack_sbuffer_destroy (&request);
    if (rc)
        return -1;
    char why[128];
    sq_doc_t *doc = sq_doc_new (reply, size, why, sizeof why);
    const msgpack_object *root = doc ? sq_doc_root (doc) : NULL;
    const msgpack_object *events = sq_obj_get (sq_obj_get (root, "result"), "events");
    int taken = -1;
    if (events && events->type == MSGPACK_OBJECT_ARRAY) {
        taken = s_take_fetched (self, stream, events);
        self->fetched += (uint64_t) taken;
    } else
        sq_log_warn ("events.since failed", "stream=%s", stream->name);
    sq_doc_destroy (&doc);
    free (reply);
    return taken;
}

//  Fills the gap of stream up to seq (inclusive) or until the service has nothing more.
static void
s_fill (sq_sub_t *self, s_stream_t *stream, uint64_t seq)
{
    while (stream->last < seq && self->head == self->tail) {
        if (s_fetch (self, stream) <= 0)
            break;
    }
}

//  Handles one message from the socket. Returns an event to hand out, or NULL.
static sq_event_t *
s_receive (sq_sub_t *self)
{
    zmq_msg_t topic, body;
    zmq_msg_init (&topic);
    zmq_msg_init (&body);
    sq_event_t *event = NULL;
    int more = 0;
    size_t more_size = sizeof more;
    if (zmq_msg_recv (&topic, self->socket, ZMQ_DONTWAIT) >= 0
        && zmq_getsockopt (self->socket, ZMQ_RCVMORE, &more, &more_size) == 0 && more
        && zmq_msg_recv (&body, self->socket, ZMQ_DONTWAIT) >= 0)
        event = s_event_new (zmq_msg_data (&body), zmq_msg_size (&body));
    //  Drain any further frames of a malformed multi-part message.
    while (zmq_getsockopt (self->socket, ZMQ_RCVMORE, &more, &more_size) == 0 && more
           && zmq_msg_recv (&body, self->socket, ZMQ_DONTWAIT) >= 0)
        ;
    zmq_msg_close (&topic);
    zmq_msg_close (&body);
    if (!event)
        return NULL;
    s_stream_t *stream = s_stream (self, event->env.src);
    if (stream) {
        stream->heard_ms = sq_clock_ms ();
        if (event->env.seq <= stream->last) {
            sq_event_destroy (&event); //  a repeat
            return NULL;
        }
        if (event->env.seq > stream->last + 1) {
            uint64_t seq = event->env.seq;
            sq_event_destroy (&event); //  it comes back, in order, with the gap
            s_fill (self, stream, seq);
            return NULL;
        }
        stream->last = event->env.seq;
    }
    if (!s_wanted (self, event->topic))
        sq_event_destroy (&event);
    return event;
}

sq_event_t *
sq_sub_next (sq_sub_t *self, int timeout_ms)
{
    int64_t deadline = sq_clock_ms () + (timeout_ms < 0 ? 0 : timeout_ms);
    while (1) {
        if (self->head != self->tail) {
            sq_event_t *event = self->queue[self->head];
            self->head = (self->head + 1) % S_QUEUE_SIZE;
            return event;
        }
        int64_t now = sq_clock_ms ();
        int64_t wait = deadline - now;
        for (int i = 0; i < self->stream_count; i++) {
            s_stream_t *stream = &self->streams[i];
            if (now - stream->heard_ms >= self->catchup_ms)
                s_fetch (self, stream);
            int64_t due = stream->heard_ms + self->catchup_ms - now;
            if (due < wait)
                wait = due;
        }
        if (self->head != self->tail)
            continue;
        zmq_pollitem_t item = {self->socket, 0, ZMQ_POLLIN, 0};
        if (zmq_poll (&item, 1, wait > 0 ? (long) wait : 0) > 0) {
            sq_event_t *event = s_receive (self);
            if (event)
                return event;
            continue;
        }
        if (sq_clock_ms () >= deadline)
            return NULL;
    }
}
