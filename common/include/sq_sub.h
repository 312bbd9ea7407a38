/*  sq_sub: an event subscriber that never loses an event of the streams it tracks.

    PUB/SUB may drop (high-water marks, late joiners, a relay that died); the platform may
    not. For each tracked stream the subscriber remembers the last seq it delivered, drops
    repeats, and when it sees a gap, or has heard nothing for a while, asks the stream's
    service for what it missed with `events.since`. Events of a tracked stream come out
    exactly once, in seq order. */
#ifndef SQ_SUB_H
#define SQ_SUB_H

#include "sq_envelope.h"

#include <stdint.h>

#define SQ_SUB_STREAMS_MAX 16          //  streams one subscriber tracks
#define SQ_SUB_PREFIXES_MAX 32         //  topic prefixes one subscriber filters on
#define SQ_SUB_CATCHUP_MS_DEFAULT 1000 //  SHEQU_SUB_CATCHUP_MS: ask for the tail this often
#define SQ_SUB_CALL_TIMEOUT_MS 5000    //  events.since call timeout
#define SQ_SUB_FETCH_LIMIT 1000        //  events asked for per events.since call

//  One received event; env.data points into the decoded message held here.
typedef struct {
    char topic[SQ_TOPIC_MAX]; //  "<type>.<div>"
    sq_envelope_t env;        //  decoded envelope
    sq_doc_t *doc;            //  owns env.data
    void *raw;                //  the envelope's msgpack bytes (owned)
    size_t raw_size;          //  bytes in raw
} sq_event_t;

void sq_event_destroy (sq_event_t **self_p);

typedef struct sq_sub sq_sub_t;

//  Connects to the bus's events_out and commands endpoints (NULL: from the environment).
sq_sub_t *sq_sub_new (const char *events_out, const char *commands);
void sq_sub_destroy (sq_sub_t **self_p);

//  Delivers only events whose topic starts with prefix ("" = all). Without any prefix,
//  everything of the tracked streams is delivered. Returns 0 or -1.
int sq_sub_subscribe (sq_sub_t *self, const char *prefix);

//  Tracks stream src starting after after_seq (0: from the beginning). Returns 0 or -1.
int sq_sub_track (sq_sub_t *self, const char *src, uint64_t after_seq);

//  The next event, waiting up to timeout_ms; NULL when none came. The caller destroys it.
sq_event_t *sq_sub_next (sq_sub_t *self, int timeout_ms);

//  Last seq delivered (or skipped by filter) for src; 0 when untracked.
uint64_t sq_sub_last_seq (sq_sub_t *self, const char *src);

//  Events fetched with events.since so far (a measure of what PUB/SUB dropped).
uint64_t sq_sub_fetched (sq_sub_t *self);

#endif
