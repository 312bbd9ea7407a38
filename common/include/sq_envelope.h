/*  sq_envelope: the event envelope of DESIGN.md, encoded and strictly decoded.
    {"v":1,"id","src","seq","type","div","at","actor","corr","cause","data"} */
#ifndef SQ_ENVELOPE_H
#define SQ_ENVELOPE_H

#include "sq_codec.h"

#include <stdint.h>

#define SQ_ENVELOPE_VERSION 1
#define SQ_TYPE_MAX 64    //  longest event type, e.g. "registry.resident_registered"
#define SQ_DIV_MAX 16     //  longest division code (12 digits, grids add "-NNN")
#define SQ_SRC_MAX 32     //  longest stream name
#define SQ_TEXT_ID_MAX 64 //  longest id, actor, corr or cause
#define SQ_TOPIC_MAX (SQ_TYPE_MAX + SQ_DIV_MAX + 2)

typedef struct {
    char id[SQ_TEXT_ID_MAX];    //  globally unique event id
    char src[SQ_SRC_MAX];       //  stream: the emitting service's name
    uint64_t seq;               //  per stream, from 1, no gaps
    char type[SQ_TYPE_MAX];     //  "<service>.<event>"
    char div[SQ_DIV_MAX];       //  division code the event concerns
    int64_t at;                 //  microseconds since the epoch, UTC
    char actor[SQ_TEXT_ID_MAX]; //  who caused it
    char corr[SQ_TEXT_ID_MAX];  //  correlation id, "" when none
    char cause[SQ_TEXT_ID_MAX]; //  id of the event or command that caused it, "" when none
    const msgpack_object *data; //  borrowed from the decoded doc (decode) or NULL
} sq_envelope_t;

//  Packs the envelope; data is the raw msgpack of the data map (size 0 packs an empty map).
void sq_envelope_pack (msgpack_packer *pk, const sq_envelope_t *env, const void *data,
                       size_t data_size);

//  Reads an envelope from a decoded root; every field is type- and length-checked.
//  Returns 0, or -1 with err naming the field.
int sq_envelope_decode (const msgpack_object *root, sq_envelope_t *env, sq_error_t *err);

//  Writes the topic "<type>.<div>" into out. Returns 0, -1 when it does not fit.
int sq_envelope_topic (const sq_envelope_t *env, char *out, size_t out_size);

#endif
