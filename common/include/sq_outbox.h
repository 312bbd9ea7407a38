/*  sq_outbox: the transactional outbox and its relay (see common/README.md).

    A command appends its events to its service's outbox table inside its own transaction,
    so the change and its events commit or vanish together. The relay, one active per stream
    whatever the number of replicas (a session advisory lock on its own direct connection;
    the others stand by and retry), stamps `seq` on committed rows in an order that is safe
    against transactions committing out of id order, publishes them to the bus, and marks
    them published. A relay that dies between stamping and marking leaves rows that the next
    relay publishes again; subscribers drop what they have already seen by `seq`. */
#ifndef SQ_OUTBOX_H
#define SQ_OUTBOX_H

#include "sq_db.h"
#include "sq_envelope.h"

#include <stdbool.h>
#include <stdint.h>

//  Rows stamped (and published) per round. Stamping is an UPDATE of each row, and rounds of
//  8,000 cost about 17 µs a row against 26 to 43 µs in rounds of 1,000 (measured here on
//  the ledger's outbox): a burst (a ledger batch of 8,000) goes out in one round. The PUB
//  socket's high-water mark (SHEQU_EVENTS_HWM, 100,000) holds a whole round.
#define SQ_RELAY_BATCH_MAX 8000
#define SQ_RELAY_POLL_MS_DEFAULT 50   //  SHEQU_RELAY_POLL_MS: idle wait between rounds
#define SQ_RELAY_BUSY_POLL_MS 1       //  wait while committed rows wait for an older transaction
#define SQ_RELAY_STANDBY_MS 500       //  a standing-by relay retries the lock this often
#define SQ_SINCE_LIMIT_MAX 1000       //  most events one events.since reply carries

//  Appends one event to schema.outbox in the caller's open transaction. env gives id, type,
//  div, at, actor, corr, cause (seq is ignored); data is the raw msgpack of the data map.
//  The INSERT is deferred (sq_db_defer): it is sent with the transaction's next statement,
//  at the latest its COMMIT, which reports a failure. Returns 0 or -1 with err set.
int sq_outbox_append (sq_db_t *db, const char *schema, const sq_envelope_t *env,
                      const void *data, size_t data_size, sq_error_t *err);

//  Many events written by one INSERT ... SELECT FROM unnest, in the order added, instead of
//  one INSERT each (a ledger batch of 8,000 transfers, or the transfers of several commands
//  that share a transaction). Each event has its own envelope fields; the data maps lie back
//  to back in one buffer. All share one `at`.
enum { SQ_MANY_ID, SQ_MANY_TYPE, SQ_MANY_DIV, SQ_MANY_ACTOR, SQ_MANY_CORR, SQ_MANY_CAUSE,
       SQ_MANY_OFFSET, SQ_MANY_SIZE, SQ_MANY_COLUMNS };
typedef struct {
    sq_db_array_t columns[SQ_MANY_COLUMNS]; //  per event: envelope fields, where its data lies
    msgpack_sbuffer data;                   //  the data maps, back to back
    size_t count;                           //  events added
} sq_outbox_many_t;

void sq_outbox_many_init (sq_outbox_many_t *self);
void sq_outbox_many_destroy (sq_outbox_many_t *self);
//  Adds an event: env gives id, type, div, actor, corr and cause (at and seq are ignored).
void sq_outbox_many_add (sq_outbox_many_t *self, const sq_envelope_t *env, const void *data,
                         size_t size);

//  Appends every event of many, stamped at, with one deferred INSERT. Returns 0 or -1 with
//  err set.
int sq_outbox_append_many (sq_db_t *db, const char *schema, int64_t at, sq_outbox_many_t *many,
                           sq_error_t *err);

//  Wakes the relay of schema once this transaction commits (NOTIFY). Returns 0 or -1.
int sq_outbox_notify (sq_db_t *db, const char *schema, sq_error_t *err);

//  Packs the events.since result: {"events": [envelope, ...], "last_seq": n} with the
//  stamped events after seq `after`, at most limit of them. Returns 0 or -1 with err set.
int sq_outbox_since (sq_db_t *db, const char *schema, const char *stream, uint64_t after,
                     uint32_t limit, msgpack_packer *pk, sq_error_t *err);

//  The stream's last stamped seq, or -1 with err set.
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
