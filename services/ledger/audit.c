/*  ledger audit: audit.verify recomputes the hash chain and the balances from the transfers.
    What it proves: every row still holds what was hashed when it was appended, no row was
    removed or reordered, money was neither created nor lost (total debits equal total
    credits), and every account's four sums equal what its transfers add up to. A row
    rewritten together with every hash after it is caught only by comparing the tail hash
    with a copy kept elsewhere: the result gives it, and every event carries its row's hash. */
#include "ledger.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const s_auditors[] = {"operator", "auditor", NULL};

//  The first row whose number, link or hash is wrong, with why.
#define S_FIRST_BREAK                                                                         \
    "SELECT seq, CASE WHEN seq <> n THEN 'seq' WHEN prev_hash IS DISTINCT FROM coalesce (prev," \
    " decode (repeat ('00', 32), 'hex')) THEN 'link' ELSE 'hash' END FROM (SELECT *,"          \
    " row_number () OVER (ORDER BY seq) AS n, lag (hash) OVER (ORDER BY seq) AS prev FROM"    \
    " ledger.transfer) c WHERE seq <> n OR prev_hash IS DISTINCT FROM coalesce (prev, decode"   \
    " (repeat ('00', 32), 'hex')) OR hash IS DISTINCT FROM ledger.transfer_hash (prev_hash,"   \
    " seq, id, kind, pending_id, debit, credit, amount, code, memo, reverses, timeout_s,"      \
    " expires_at, created_at, actor) ORDER BY seq LIMIT 1"

//  What each row adds to the sums of its two accounts.
#define S_POSTED_PART "amount * (kind IN ('posted', 'post'))::int"
#define S_PENDING_PART "amount * CASE kind WHEN 'pending' THEN 1 WHEN 'posted' THEN 0 ELSE -1 END"

//  Accounts whose stored sums differ from their transfers' (or transfers naming no account).
#define S_MISMATCHES                                                                          \
    "WITH parts AS (SELECT debit AS account, " S_POSTED_PART " AS dp, 0 AS cp, "             \
    S_PENDING_PART " AS dq, 0 AS cq FROM ledger.transfer UNION ALL SELECT credit, 0, "       \
    S_POSTED_PART ", 0, " S_PENDING_PART " FROM ledger.transfer), sums AS (SELECT account,"   \
    " sum (dp) AS dp, sum (cp) AS cp, sum (dq) AS dq, sum (cq) AS cq FROM parts GROUP BY"     \
    " account) SELECT coalesce (a.name, s.account) FROM ledger.account a FULL JOIN sums s ON" \
    " s.account = a.name WHERE a.name IS NULL OR a.debits_posted <> coalesce (s.dp, 0) OR"    \
    " a.credits_posted <> coalesce (s.cp, 0) OR a.debits_pending <> coalesce (s.dq, 0) OR"    \
    " a.credits_pending <> coalesce (s.cq, 0) ORDER BY 1 LIMIT $1::int"

//  Rows whose pending_id or reverses names no transfer (no foreign key checks it: see
//  schemas/ledger/003_set_based_append.sql).
#define S_DANGLING                                                                            \
    "SELECT t.seq FROM ledger.transfer t WHERE (t.pending_id IS NOT NULL AND NOT EXISTS"     \
    " (SELECT 1 FROM ledger.transfer p WHERE p.id = t.pending_id AND p.kind = 'pending')) OR"  \
    " (t.reverses IS NOT NULL AND NOT EXISTS (SELECT 1 FROM ledger.transfer o WHERE o.id ="   \
    " t.reverses)) ORDER BY t.seq LIMIT $1::int"

static int
s_pack_dangling (sq_ctx_t *ctx, bool *ok)
{
    char limit[24];
    snprintf (limit, sizeof limit, "%d", LEDGER_AUDIT_MISMATCH_MAX);
    const char *params[] = {limit};
    PGresult *res = sq_db_query (ctx->db, S_DANGLING, 1, params, &ctx->err);
    if (!res)
        return -1;
    *ok &= PQntuples (res) == 0;
    sq_pack_str (ctx->pk, "dangling");
    msgpack_pack_array (ctx->pk, (size_t) PQntuples (res));
    for (int i = 0; i < PQntuples (res); i++)
        msgpack_pack_int64 (ctx->pk, strtoll (PQgetvalue (res, i, 0), NULL, 10));
    PQclear (res);
    return 0;
}

static int
s_pack_break (sq_ctx_t *ctx, bool *ok)
{
    PGresult *res = sq_db_query (ctx->db, S_FIRST_BREAK, 0, NULL, &ctx->err);
    if (!res)
        return -1;
    sq_pack_str (ctx->pk, "broken");
    if (PQntuples (res) == 0)
        msgpack_pack_nil (ctx->pk);
    else {
        *ok = false;
        const char *reason = PQgetvalue (res, 0, 1);
        msgpack_pack_map (ctx->pk, 3);
        sq_pack_kv_int (ctx->pk, "seq", strtoll (PQgetvalue (res, 0, 0), NULL, 10));
        sq_pack_kv_str (ctx->pk, "reason", reason);
        sq_pack_kv_str (ctx->pk, "message",
                        strcmp (reason, "seq") == 0    ? "a row is missing before this one"
                        : strcmp (reason, "link") == 0 ? "the row does not name the hash of the"
                                                         " row before it"
                                                       : "the row's fields no longer give its"
                                                         " hash: it was changed");
    }
    PQclear (res);
    return 0;
}

//  Totals over all accounts, and the accounts whose sums are wrong.
static int
s_pack_balances (sq_ctx_t *ctx, bool *ok)
{
    PGresult *res = sq_db_query (ctx->db, "SELECT coalesce (sum (debits_posted), 0),"
                                 " coalesce (sum (credits_posted), 0), coalesce (sum"
                                 " (debits_pending), 0), coalesce (sum (credits_pending), 0),"
                                 " count (*) FROM ledger.account", 0, NULL, &ctx->err);
    if (!res)
        return -1;
    int64_t sums[5];
    for (int c = 0; c < 5; c++)
        sums[c] = strtoll (PQgetvalue (res, 0, c), NULL, 10);
    PQclear (res);
    bool balanced = sums[0] == sums[1] && sums[2] == sums[3];
    *ok &= balanced;
    sq_pack_kv_int (ctx->pk, "accounts", sums[4]);
    sq_pack_kv_int (ctx->pk, "debits_posted", sums[0]);
    sq_pack_kv_int (ctx->pk, "credits_posted", sums[1]);
    sq_pack_kv_int (ctx->pk, "debits_pending", sums[2]);
    sq_pack_kv_int (ctx->pk, "credits_pending", sums[3]);
    sq_pack_kv_bool (ctx->pk, "balanced", balanced);
    char limit[24];
    snprintf (limit, sizeof limit, "%d", LEDGER_AUDIT_MISMATCH_MAX);
    const char *params[] = {limit};
    res = sq_db_query (ctx->db, S_MISMATCHES, 1, params, &ctx->err);
    if (!res)
        return -1;
    *ok &= PQntuples (res) == 0;
    sq_pack_str (ctx->pk, "mismatched");
    msgpack_pack_array (ctx->pk, (size_t) PQntuples (res));
    for (int i = 0; i < PQntuples (res); i++)
        sq_pack_str (ctx->pk, PQgetvalue (res, i, 0));
    PQclear (res);
    return 0;
}

int
ledger_audit_verify (sq_ctx_t *ctx)
{
    if (sq_ctx_require_role (ctx, s_auditors) || sq_ctx_require_scope (ctx, "", "scope"))
        return -1;
    //  NB: under the chain lock, so the chain and the sums are read at one consistent point
    //  between two writers' transactions.
    if (ledger_chain_lock (ctx))
        return -1;
    PGresult *tail = sq_db_query (ctx->db, "SELECT count (*), coalesce (max (seq), 0),"
                                  " (SELECT encode (hash, 'hex') FROM ledger.transfer ORDER BY"
                                  " seq DESC LIMIT 1) FROM ledger.transfer", 0, NULL, &ctx->err);
    if (!tail)
        return -1;
    bool ok = true;
    msgpack_pack_map (ctx->pk, 13);
    sq_pack_kv_int (ctx->pk, "transfers", strtoll (PQgetvalue (tail, 0, 0), NULL, 10));
    sq_pack_kv_int (ctx->pk, "tail_seq", strtoll (PQgetvalue (tail, 0, 1), NULL, 10));
    sq_pack_str (ctx->pk, "tail_hash");
    ledger_pack_text (ctx->pk, tail, 0, 2);
    PQclear (tail);
    if (s_pack_break (ctx, &ok) || s_pack_balances (ctx, &ok) || s_pack_dangling (ctx, &ok))
        return -1;
    sq_pack_kv_bool (ctx->pk, "ok", ok);
    return 0;
}
