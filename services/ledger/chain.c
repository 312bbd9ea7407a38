/*  ledger chain: appending a transfer to the hash chain, and packing transfers.

    Every row links to the one before it: row n holds the hash of row n - 1 and its own hash
    over that and its fields (schemas/ledger/001_ledger.sql, transfer_hash). Appending is
    read the tail, then insert n + 1; two transactions doing that at once would both read
    the same tail and fork the chain (or one would fail on the seq key). So every writer
    first takes one transaction-level advisory lock, and holds it until its COMMIT or
    ROLLBACK:

    - it serialises appends across worker threads and replicas, which each have their own
      connections; under READ COMMITTED the statement after the lock is granted sees the
      tail the previous holder committed;
    - it is released by the transaction's end whatever happens (a crashed replica's
      session ends, and with it the lock), and, unlike a session lock, it works through a
      pooler in transaction mode;
    - commands that share one group-commit transaction take it again at no cost (it is
      re-entrant) and see each other's rows;
    - writers take it before touching any account row, so two writers can never wait on each
      other's account rows in opposite order: there is no deadlock between ledger writers.

    The price is one writer transaction at a time; group commit makes each of them carry up
    to SHEQU_WORKER_CONCURRENCY commands, and a batch carries up to 8,000 transfers. created_at
    is never less than the tail's, so the chain is also in time order and a balance "at t" is
    the sum over a prefix of the chain. */
#include "ledger.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
ledger_chain_lock (sq_ctx_t *ctx)
{
    return sq_db_defer (ctx->db, "SELECT pg_advisory_xact_lock (hashtext ('shequ.ledger.chain'))",
                        0, NULL, NULL, NULL, &ctx->err);
}

//  Reads the tail (or the genesis: seq 0, 32 zero bytes, time 0) and inserts the next row.
#define S_APPEND                                                                              \
    "WITH tail AS (SELECT seq, hash, created_at FROM ledger.transfer ORDER BY seq DESC"      \
    " LIMIT 1), head AS (SELECT coalesce ((SELECT seq FROM tail), 0) + 1 AS seq,"            \
    " coalesce ((SELECT hash FROM tail), decode (repeat ('00', 32), 'hex')) AS prev,"         \
    " greatest ($11::bigint, coalesce ((SELECT created_at FROM tail), 0)) AS at),"            \
    " nxt AS (SELECT seq, prev, at, at + $10::bigint * 1000000 AS expires FROM head)"         \
    " INSERT INTO ledger.transfer (seq, id, kind, pending_id, debit, credit, amount, code,"  \
    " memo, reverses, timeout_s, expires_at, created_at, actor, prev_hash, hash)"            \
    " SELECT seq, $1::text, $2::text, $3::text, $4::text, $5::text, $6::bigint, $7::text,"   \
    " $8::text, $9::text, $10::bigint, expires, at, $12::text, prev, ledger.transfer_hash"    \
    " (prev, seq, $1::text, $2::text, $3::text, $4::text, $5::text, $6::bigint, $7::text,"   \
    " $8::text, $9::text, $10::bigint, expires, at, $12::text) FROM nxt"                     \
    " RETURNING " LEDGER_TRANSFER_COLUMNS

PGresult *
ledger_chain_append (sq_ctx_t *ctx, const char *id, const char *kind, const char *pending_id,
                     const char *debit, const char *credit, int64_t amount, const char *code,
                     const char *memo, const char *reverses, int64_t timeout_s)
{
    assert ((id == NULL) != (pending_id == NULL));
    char amount_text[24], timeout_text[24], now_text[24];
    snprintf (amount_text, sizeof amount_text, "%" PRId64, amount);
    snprintf (timeout_text, sizeof timeout_text, "%" PRId64, timeout_s);
    snprintf (now_text, sizeof now_text, "%" PRId64, sq_now_us ());
    const char *params[] = {id, kind, pending_id, debit, credit, amount_text, code, memo,
                            reverses, timeout_s ? timeout_text : NULL, now_text,
                            ctx->actor->id};
    PGresult *res = sq_db_query (ctx->db, S_APPEND, 12, params, &ctx->err);
    if (res && PQntuples (res) != 1) {
        PQclear (res);
        sq_error_set (&ctx->err, SQ_ERR_INTERNAL, "", "could not append to the transfer chain");
        return NULL;
    }
    return res;
}

void
ledger_pack_text (msgpack_packer *pk, const PGresult *res, int row, int column)
{
    if (PQgetisnull (res, row, column))
        msgpack_pack_nil (pk);
    else
        sq_pack_str (pk, PQgetvalue (res, row, column));
}

void
ledger_pack_transfer (msgpack_packer *pk, const PGresult *res, int row)
{
    ledger_row_t r;
    ledger_row_from (res, row, &r);
    ledger_row_pack (pk, &r);
}
