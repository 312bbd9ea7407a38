/*  sq_zmq: the process's ZeroMQ context and the options every shequ socket carries.

    ZeroMQ's defaults suit a trusted LAN, not a platform: message size is unbounded and
    heartbeats are off, so a hostile peer can exhaust memory and a dead peer is never noticed
    (DESIGN.md, known traps). Every socket the platform opens passes through
    sq_zmq_socket_setup. */
#include "sq_mdp.h"
#include "sq_config.h"
#include "sq_log.h"

#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>

#define SQ_MSG_MAX_MIN 1024                  //  smallest SHEQU_MSG_MAX accepted, bytes
#define SQ_MSG_MAX_MAX (INT64_C (1) << 30)   //  largest SHEQU_MSG_MAX accepted, bytes
#define SQ_HEARTBEAT_MS_MIN 10               //  shortest SHEQU_HEARTBEAT_MS accepted
#define SQ_HEARTBEAT_MS_MAX 600000           //  longest SHEQU_HEARTBEAT_MS accepted
#define SQ_ZMQ_TTL_MS_MAX 6553500            //  ZMQ_HEARTBEAT_TTL travels in 16 bits of 100 ms

static void *s_context;                      //  created once, on first use
static pthread_once_t s_context_once = PTHREAD_ONCE_INIT;

static void
s_context_create (void)
{
    s_context = zmq_ctx_new ();
}

void *
sq_zmq_context (void)
{
    pthread_once (&s_context_once, s_context_create);
    if (!s_context)
        sq_log_error ("could not create the ZeroMQ context", "errno=%d", errno);
    return s_context;
}

void
sq_zmq_shutdown (void)
{
    pthread_once (&s_context_once, s_context_create);
    if (!s_context)
        return;
    while (zmq_ctx_term (s_context) == -1 && errno == EINTR) {
    }
    s_context = NULL;
}

int64_t
sq_zmq_msg_max (void)
{
    return sq_config_int (SQ_ENV_MSG_MAX, SQ_DEFAULT_MSG_MAX, SQ_MSG_MAX_MIN, SQ_MSG_MAX_MAX);
}

int
sq_mdp_heartbeat_ms (void)
{
    return (int) sq_config_int (SQ_ENV_HEARTBEAT_MS, SQ_MDP_HEARTBEAT_MS_DEFAULT,
                                SQ_HEARTBEAT_MS_MIN, SQ_HEARTBEAT_MS_MAX);
}

int
sq_zmq_socket_tune (void *socket, int64_t msg_max, int heartbeat_ms)
{
    assert (socket);
    assert (msg_max > 0 && heartbeat_ms > 0);
    int linger = 0;
    int timeout_ms = heartbeat_ms * SQ_MDP_LIVENESS;
    int ttl_ms = timeout_ms < SQ_ZMQ_TTL_MS_MAX ? timeout_ms : SQ_ZMQ_TTL_MS_MAX;
    if (zmq_setsockopt (socket, ZMQ_MAXMSGSIZE, &msg_max, sizeof msg_max)
        || zmq_setsockopt (socket, ZMQ_LINGER, &linger, sizeof linger)
        || zmq_setsockopt (socket, ZMQ_HEARTBEAT_IVL, &heartbeat_ms, sizeof heartbeat_ms)
        || zmq_setsockopt (socket, ZMQ_HEARTBEAT_TIMEOUT, &timeout_ms, sizeof timeout_ms)
        || zmq_setsockopt (socket, ZMQ_HEARTBEAT_TTL, &ttl_ms, sizeof ttl_ms)) {
        sq_log_error ("could not set socket options", "error=\"%s\"", zmq_strerror (errno));
        return -1;
    }
    return 0;
}

int
sq_zmq_socket_setup (void *socket)
{
    return sq_zmq_socket_tune (socket, sq_zmq_msg_max (), sq_mdp_heartbeat_ms ());
}

void
sq_zmq_frames_close (zmq_msg_t *frames, size_t count)
{
    for (size_t i = 0; i < count; i++)
        zmq_msg_close (&frames[i]);
}

int
sq_zmq_frames_recv (void *socket, zmq_msg_t *frames, size_t frames_max, int flags)
{
    assert (socket && frames);
    size_t count = 0;
    bool more = true;
    while (more) {
        zmq_msg_t spare;
        zmq_msg_t *frame = count < frames_max ? &frames[count] : &spare;
        zmq_msg_init (frame);
        //  NB: only the first frame may be missing; ZeroMQ delivers the rest with it.
        if (zmq_msg_recv (frame, socket, count ? 0 : flags) == -1) {
            int saved = errno;
            zmq_msg_close (frame);
            sq_zmq_frames_close (frames, count < frames_max ? count : frames_max);
            errno = saved;
            return -1;
        }
        more = zmq_msg_more (frame);
        if (frame == &spare)
            zmq_msg_close (&spare);
        count++;
    }
    return (int) (count < INT32_MAX ? count : INT32_MAX);
}
