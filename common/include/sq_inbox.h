/*  sq_inbox: a consumer records (src, seq) of each event it applies, in the same
    transaction as the effect, so a redelivered event changes nothing twice. */
#ifndef SQ_INBOX_H
#define SQ_INBOX_H

#include "sq_db.h"
#include "sq_envelope.h"

//  Records env's (src, seq) in schema.inbox inside the caller's open transaction.
//  Returns 1 when the event is new (apply it), 0 when it was applied before, -1 on error.
int sq_inbox_claim (sq_db_t *db, const char *schema, const sq_envelope_t *env,
                    sq_error_t *err);

//  The highest seq of src applied so far (0 when none), or -1 with err set. A consumer
//  starts tracking src from here after a restart.
int64_t sq_inbox_last_seq (sq_db_t *db, const char *schema, const char *src, sq_error_t *err);

#endif
