/*  sq_mdp: Majordomo Protocol 0.1 (ZeroMQ RFC 7) client and worker.

    Client (DEALER): sends [empty, "MDPC01", service, body], receives
    [empty, "MDPC01", service, body]. Several requests may be in flight on one client; replies
    come back in the order the services answer, so callers that pipeline keep their own count.
    Worker (DEALER): READY on connect, then REQUEST / REPLY / HEARTBEAT / DISCONNECT as RFC 7.
    A worker socket holds one request at a time (the broker sends only to waiting workers), so
    a process that wants N requests at once opens N workers and polls their sockets together
    (see sq_service: that is how concurrent commands get committed together). */
#ifndef SQ_MDP_H
#define SQ_MDP_H

#include <stddef.h>
#include <stdint.h>
#include <zmq.h>

#define SQ_MDP_CLIENT "MDPC01"
#define SQ_MDP_WORKER "MDPW01"
#define SQ_MDP_READY 0x01
#define SQ_MDP_REQUEST 0x02
#define SQ_MDP_REPLY 0x03
#define SQ_MDP_HEARTBEAT 0x04
#define SQ_MDP_DISCONNECT 0x05

#define SQ_MDP_SERVICE_MAX 64          //  longest service name, bytes
#define SQ_MDP_ADDRESS_MAX 256         //  longest client return address, bytes
#define SQ_MDP_HEARTBEAT_MS_DEFAULT 1000 //  SHEQU_HEARTBEAT_MS
#define SQ_MDP_LIVENESS 5              //  heartbeats missed before a peer is taken for dead
#define SQ_MDP_RECONNECT_MS 1000       //  worker's pause before reconnecting to a silent broker
#define SQ_MDP_ENDPOINT_MAX 256        //  longest endpoint string, bytes
#define SQ_ENV_HEARTBEAT_MS "SHEQU_HEARTBEAT_MS" //  MDP and ZMTP heartbeat interval

//  The process-wide ZeroMQ context (created on first use, thread-safe).
void *sq_zmq_context (void);

//  Applies the platform's socket options: ZMQ_MAXMSGSIZE from SHEQU_MSG_MAX, linger 0,
//  ZMQ_HEARTBEAT_IVL/TIMEOUT/TTL from SHEQU_HEARTBEAT_MS. Returns 0 or -1.
int sq_zmq_socket_setup (void *socket);

//  Applies the same options with explicit values (a broker configured by other means).
//  Returns 0 or -1.
int sq_zmq_socket_tune (void *socket, int64_t msg_max, int heartbeat_ms);

//  Largest frame accepted, bytes (SHEQU_MSG_MAX, default SQ_DEFAULT_MSG_MAX).
int64_t sq_zmq_msg_max (void);

//  Receives one whole message: its first frames_max frames into frames (initialised here; the
//  caller closes them with sq_zmq_frames_close), the rest read and dropped. flags as for
//  zmq_msg_recv (ZMQ_DONTWAIT). Returns how many frames the message had, which is more than
//  frames_max when some were dropped, or -1 with errno set (EAGAIN: nothing to read).
int sq_zmq_frames_recv (void *socket, zmq_msg_t *frames, size_t frames_max, int flags);
void sq_zmq_frames_close (zmq_msg_t *frames, size_t count);

//  Terminates the process-wide context once every socket is closed (the last ZeroMQ call of
//  a process that wants queued messages flushed and no thread left behind).
void sq_zmq_shutdown (void);

//  Heartbeat interval in milliseconds (SHEQU_HEARTBEAT_MS, default above).
int sq_mdp_heartbeat_ms (void);

// ---- client ----------------------------------------------------------------------------
typedef struct sq_mdp_client sq_mdp_client_t;

//  Connects a client to the broker's command endpoint. NULL on failure.
sq_mdp_client_t *sq_mdp_client_new (const char *endpoint);
void sq_mdp_client_destroy (sq_mdp_client_t **self_p);

//  Sends one request without waiting. Returns 0 or -1.
int sq_mdp_client_send (sq_mdp_client_t *self, const char *service, const void *body,
                        size_t size);

//  Waits up to timeout_ms (-1 forever) for the next reply. Returns 0 with *body (malloc'd,
//  the caller frees) and *size, or -1 on timeout or error.
int sq_mdp_client_recv (sq_mdp_client_t *self, int timeout_ms, void **body, size_t *size);

//  send + recv. On timeout the socket is closed and reopened, so that a late reply to this
//  request is never taken for the reply to the next one. Returns 0 or -1.
int sq_mdp_client_call (sq_mdp_client_t *self, const char *service, const void *body,
                        size_t size, int timeout_ms, void **reply, size_t *reply_size);

//  The underlying socket, for zmq_poll (borrowed).
void *sq_mdp_client_socket (sq_mdp_client_t *self);

// ---- worker ----------------------------------------------------------------------------
typedef struct sq_mdp_worker sq_mdp_worker_t;

//  One request as the broker delivered it.
typedef struct {
    uint8_t client[SQ_MDP_ADDRESS_MAX]; //  client's return address, as the broker framed it
    size_t client_size;                 //  bytes used in client
    uint8_t *body;                      //  request body (malloc'd, freed by clear)
    size_t body_size;                   //  bytes in body
} sq_mdp_request_t;

//  Connects a worker for service and sends READY. NULL on failure.
sq_mdp_worker_t *sq_mdp_worker_new (const char *endpoint, const char *service);
//  Sends DISCONNECT (best effort) and closes.
void sq_mdp_worker_destroy (sq_mdp_worker_t **self_p);

//  The underlying socket, for zmq_poll (borrowed). It stays the same for the worker's life:
//  reconnecting makes a new connection on the same socket.
void *sq_mdp_worker_socket (sq_mdp_worker_t *self);

//  Reads one message from the broker without blocking. Returns 1 with request filled,
//  0 when there was nothing for the caller (heartbeat, no message), -1 on error.
//  A DISCONNECT from the broker makes the worker reconnect on its next tick.
int sq_mdp_worker_read (sq_mdp_worker_t *self, sq_mdp_request_t *request);

//  Sends a heartbeat when one is due, and reconnects (with READY) when the broker has been
//  silent for SQ_MDP_LIVENESS intervals. Call at least once per heartbeat interval.
void sq_mdp_worker_tick (sq_mdp_worker_t *self);

//  Sends a heartbeat when one is due, and nothing else: for a worker busy with a long batch
//  of requests, so that the broker does not take it for dead meanwhile. Unlike tick it
//  never reconnects (the broker's own heartbeats wait unread until the batch is done).
void sq_mdp_worker_keepalive (sq_mdp_worker_t *self);

//  Sends the reply to request's client. Returns 0 or -1.
int sq_mdp_worker_reply (sq_mdp_worker_t *self, const sq_mdp_request_t *request,
                         const void *body, size_t size);

//  Frees request's body and zeroes it.
void sq_mdp_request_clear (sq_mdp_request_t *request);

#endif
