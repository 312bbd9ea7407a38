/*  broker: the message bus of one platform, runnable in-process.

    One thread polls four sockets: the event proxy (XSUB bound on events_in, XPUB bound on
    events_out) and the Majordomo 0.1 broker (ROUTER bound on commands), plus an inproc pipe
    that tells it to stop. See README.md beside this file for the rules it keeps. */
#ifndef BUS_BROKER_H
#define BUS_BROKER_H

#include <stdbool.h>
#include <stdint.h>

#define BUS_ENDPOINT_MAX 256 //  longest endpoint, bytes (with the terminator)

#define BUS_ENV_REQUEST_TIMEOUT_MS "SHEQU_BUS_REQUEST_TIMEOUT_MS"
#define BUS_ENV_QUEUE_MAX "SHEQU_BUS_QUEUE_MAX"
#define BUS_ENV_EVENTS_HWM "SHEQU_EVENTS_HWM"

#define BUS_DEFAULT_REQUEST_TIMEOUT_MS 5000 //  a queued request waits this long for a worker
#define BUS_DEFAULT_QUEUE_MAX 10000         //  requests waiting per service
#define BUS_DEFAULT_EVENTS_HWM 100000       //  events buffered per subscriber and publisher

typedef struct {
    char events_in[BUS_ENDPOINT_MAX];  //  XSUB bind endpoint: publishers connect
    char events_out[BUS_ENDPOINT_MAX]; //  XPUB bind endpoint: subscribers connect
    char commands[BUS_ENDPOINT_MAX];   //  ROUTER bind endpoint: MDP clients and workers
    int request_timeout_ms;            //  longest wait of a queued request for a worker
    int queue_max;                     //  requests waiting per service before `unavailable`
    int64_t msg_max;                   //  largest frame accepted on any socket, bytes
    int heartbeat_ms;                  //  MDP and ZMTP heartbeat interval
    int events_hwm;                    //  high-water mark of the event sockets, messages
} bus_config_t;

typedef struct bus bus_t;

//  Fills config from SHEQU_EVENTS_IN, SHEQU_EVENTS_OUT, SHEQU_COMMANDS,
//  SHEQU_BUS_REQUEST_TIMEOUT_MS, SHEQU_BUS_QUEUE_MAX, SHEQU_MSG_MAX, SHEQU_HEARTBEAT_MS and
//  SHEQU_EVENTS_HWM, with the defaults of sq_config.h and above. Returns 0, or -1 when an
//  endpoint is too long.
int bus_config_from_env (bus_config_t *config);

//  Creates the bus and binds its three endpoints (tcp://127.0.0.1:* picks free ports).
//  Returns NULL when a socket cannot be made or bound.
bus_t *bus_new (const bus_config_t *config);

//  Stops the bus if it runs (queued and pending clients get `unavailable`, workers get
//  DISCONNECT), closes its sockets and frees it. Accepts NULL; nulls the caller's pointer.
void bus_destroy (bus_t **self_p);

//  Starts the bus in its own thread. Returns 0 or -1.
int bus_start (bus_t *self);

//  True while the bus thread runs (false before start and after a fatal socket error).
bool bus_running (bus_t *self);

//  The endpoints actually bound, with the ports chosen for `*` (borrowed).
const char *bus_endpoint_commands (bus_t *self);
const char *bus_endpoint_events_in (bus_t *self);
const char *bus_endpoint_events_out (bus_t *self);

#endif
