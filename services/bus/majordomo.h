/*  majordomo: the Majordomo 0.1 broker (ZeroMQ RFC 7, with RFC 8's mmi.service) on a ROUTER.

    The bus thread calls bus_mdp_handle when the ROUTER is readable and bus_mdp_timers on every
    turn of its loop; this file owns the protocol, directory.c the tables. */
#ifndef BUS_MAJORDOMO_H
#define BUS_MAJORDOMO_H

#include "broker.h"

#include <stdint.h>

//  Counters shown by mmi.workers; owned by the bus, written by its thread only.
typedef struct {
    int64_t started_ms; //  monotonic clock when the bus was created
    uint64_t requests;  //  well-formed client requests received
    uint64_t events;    //  event messages forwarded from publishers to subscribers
} bus_stats_t;

typedef struct bus_mdp bus_mdp_t;

//  A broker on router (borrowed, bound by the caller, ZMQ_ROUTER_MANDATORY set) with the
//  limits of config; stats borrowed. NULL when out of memory.
bus_mdp_t *bus_mdp_new (void *router, const bus_config_t *config, bus_stats_t *stats);

//  Frees the broker and everything it holds, sending nothing. Accepts NULL.
void bus_mdp_destroy (bus_mdp_t **self_p);

//  Reads and acts on one message from the ROUTER without blocking. Returns 1 when one was
//  handled, 0 when none was waiting, -1 on a socket error (the context is ending).
int bus_mdp_handle (bus_mdp_t *self);

//  Sends heartbeats, drops silent workers and answers requests that waited too long, as
//  they fall due. Returns the milliseconds until the next is due.
int bus_mdp_timers (bus_mdp_t *self);

//  Answers every queued and pending request with `unavailable` and tells every worker to
//  DISCONNECT, then forgets them all.
void bus_mdp_shutdown (bus_mdp_t *self);

#endif
