/*  sq_outbox: the transactional outbox and its relay (see common/README.md).

    A transaction's events are gathered in memory (sq_outbox_many_t) while it runs and
    written by sq_outbox_flush as its last statement before COMMIT: one INSERT that takes
    their `seq` from the stream's counter row (`<schema>.stream.last_seq`). The row stays
    locked until the transaction ends, so the transactions of one stream commit in the order
    of their seq, and a reader never sees seq n+1 without n: nothing to stamp afterwards and
    nothing a late committer could make a reader skip. The relay, one active per stream
    whatever the number of replicas (a session advisory lock on its own direct connection;
    the others stand by and retry), publishes the rows after its published position and
    records that position; a relay that dies before recording it leaves rows that the next
    relay publishes again, and subscribers drop what they have already seen by `seq`. */
#ifndef SQ_OUTBOX_H
#define SQ_OUTBOX_H

#include "sq_db.h"
#include "sq_envelope.h"

#include <stdbool.h>
#include <stdint.h>

//  Rows read and published per round. A burst (a ledger batch of 8,000) goes out in one
//  round; the PUB socket's high-water mark (SHEQU_EVENTS_HWM, 100,000) holds a whole round.
#define SQ_RELAY_BATCH_MAX 8000
#define SQ_RELAY_POLL_MS_DEFAULT 50   //  SHEQU_RELAY_POLL_MS: idle wait between rounds
#define SQ_RELAY_STANDBY_MS 500       //  a standing-by relay retries the lock this often
#define SQ_RELAY_RECORD_MS_DEFAULT 100 //  SHEQU_RELAY_RECORD_MS: how often at most the relay
                                       //  records its published position
#define SQ_SINCE_LIMIT_MAX 1000       //  most events one events.since reply carries

//  The events of one transaction, in the order emitted: each with its own envelope fields
//  (id, type, div, actor, corr, cause, at), the data maps back to back in one buffer.
typedef struct {
    sq_envelope_t *events;      //  their envelopes
    size_t *offsets;            //  where each one's data map starts in data
    size_t count;               //  events added
    size_t cap;                 //  room in events and offsets
    msgpack_sbuffer data;       //  the data maps, back to back
} sq_outbox_many_t;

//  How far a sq_outbox_many_t was filled: a savepoint rolled back takes its events with it.
typedef struct {
    size_t count;               //  events
    size_t data;                //  bytes of data
} sq_outbox_mark_t;

//  From this many events on, a flush writes them with COPY (sq_db_copy): two round trips
//  instead of one, but PostgreSQL takes 8,000 rows by COPY in a fraction of the time it
//  spends on an INSERT ... SELECT FROM unnest of array literals.
#define SQ_OUTBOX_COPY_MIN 256

void sq_outbox_many_init (sq_outbox_many_t *self);
void sq_outbox_many_destroy (sq_outbox_many_t *self);
//  Adds an event: env gives id, type, div, actor, corr, cause and at (seq is ignored).
void sq_outbox_many_add (sq_outbox_many_t *self, const sq_envelope_t *env, const void *data,
                         size_t size);
sq_outbox_mark_t sq_outbox_many_mark (const sq_outbox_many_t *self);
//  Forgets the events added after mark was taken.
void sq_outbox_many_rewind (sq_outbox_many_t *self, const sq_outbox_mark_t *mark);

//  Writes every event of many into schema.outbox with the next seqs of stream, and wakes the
//  stream's relay once the transaction commits (NOTIFY). Must be the transaction's last
//  statements: they lock the stream's counter row, which other writers of the stream wait
//  for until this transaction ends, so a lock taken after them could deadlock. Up to
//  SQ_OUTBOX_COPY_MIN events, one deferred INSERT (sq_db_defer: a failure is reported by the
//  COMMIT); from there on, the counter is taken now and the rows go by COPY. Nothing happens
//  when many is empty. Returns 0 or -1 with err set.
int sq_outbox_flush (sq_db_t *db, const char *schema, const char *stream,
                     sq_outbox_many_t *many, sq_error_t *err);

//  Makes sure stream has its counter row, after the highest seq already in the outbox.
//  Run once at start, before anything is written. Returns 0 or -1 with err set.
int sq_outbox_prepare (sq_db_t *db, const char *schema, const char *stream, sq_error_t *err);

//  Packs the events.since result: {"events": [envelope, ...], "last_seq": n} with the
//  events after seq `after`, at most limit of them. Returns 0 or -1 with err set.
int sq_outbox_since (sq_db_t *db, const char *schema, const char *stream, uint64_t after,
                     uint32_t limit, msgpack_packer *pk, sq_error_t *err);

//  The stream's last committed seq, or -1 with err set.
int64_t sq_outbox_last_seq (sq_db_t *db, const char *schema, const char *stream,
                            sq_error_t *err);

typedef struct sq_relay sq_relay_t;

//  Creates a relay for stream (the service name) over schema's outbox, publishing to the
//  bus's events_in endpoint. conninfo NULL means SHEQU_PG. NULL on failure.
sq_relay_t *sq_relay_new (const char *conninfo, const char *schema, const char *stream,
                          const char *events_in);

//  Runs the relay in its own thread. Returns 0 or -1.
int sq_relay_start (sq_relay_t *self);

//  Stops the thread, releases the lock (by closing the connection) and frees.
void sq_relay_destroy (sq_relay_t **self_p);

//  True while this relay holds the stream's lock.
bool sq_relay_active (sq_relay_t *self);

//  Events this relay has published since it started.
uint64_t sq_relay_published (sq_relay_t *self);

#endif
