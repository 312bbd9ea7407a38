/*  ledger transfers: transfer.create, transfer.create_batch, transfer.post, transfer.void,
    transfer.list and the sweep that voids expired pending transfers. Every writer takes the
    chain lock first (chain.c), then changes the two accounts' sums and appends the row, in
    the command's transaction. A community fund's debit is a conditional UPDATE that only
    succeeds while the fund holds the amount, so two transfers racing on one fund can never
    overdraw it even without the chain lock. */
#include "ledger.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  Columns of LEDGER_TRANSFER_COLUMNS, by position.
enum { C_SEQ, C_ID, C_KIND, C_PENDING_ID, C_DEBIT, C_CREDIT, C_AMOUNT, C_CODE, C_MEMO,
       C_REVERSES, C_TIMEOUT, C_EXPIRES_AT, C_CREATED_AT, C_ACTOR, C_HASH };

#define S_GUARD                                                                               \
    " AND (NOT guarded OR credits_posted - debits_posted - debits_pending >= $2::bigint)"
#define S_ACCOUNT_SET(set) "UPDATE ledger.account SET " set " WHERE name = $1"
static const char *const s_debit_posted =
    S_ACCOUNT_SET ("debits_posted = debits_posted + $2::bigint") S_GUARD " RETURNING 1";
static const char *const s_debit_pending =
    S_ACCOUNT_SET ("debits_pending = debits_pending + $2::bigint") S_GUARD " RETURNING 1";
static const char *const s_credit_posted =
    S_ACCOUNT_SET ("credits_posted = credits_posted + $2::bigint") " RETURNING 1";
static const char *const s_credit_pending =
    S_ACCOUNT_SET ("credits_pending = credits_pending + $2::bigint") " RETURNING 1";
static const char *const s_debit_post = S_ACCOUNT_SET (
    "debits_pending = debits_pending - $2::bigint, debits_posted = debits_posted + $2::bigint")
    " RETURNING 1";
static const char *const s_credit_post = S_ACCOUNT_SET (
    "credits_pending = credits_pending - $2::bigint, credits_posted = credits_posted"
    " + $2::bigint") " RETURNING 1";
static const char *const s_debit_void =
    S_ACCOUNT_SET ("debits_pending = debits_pending - $2::bigint") " RETURNING 1";
static const char *const s_credit_void =
    S_ACCOUNT_SET ("credits_pending = credits_pending - $2::bigint") " RETURNING 1";

//  True when s is 1 or more characters, each a letter, digit or one of extra.
static bool
s_token_valid (const char *s, bool upper, const char *extra)
{
    if (!*s)
        return false;
    for (; *s; s++) {
        bool ok = (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9')
                  || (upper && *s >= 'A' && *s <= 'Z') || strchr (extra, *s);
        if (!ok)
            return false;
    }
    return true;
}

#define S_ID_RULE "1 to 63 characters, letters, digits and . _ : -"

static int
s_read_accounts (const msgpack_object *map, ledger_transfer_t *t, sq_error_t *err)
{
    char debit[LEDGER_ACCOUNT_MAX + 1], credit[LEDGER_ACCOUNT_MAX + 1];
    if (sq_arg_str (map, "debit", true, LEDGER_ACCOUNT_MAX, debit, sizeof debit, err) < 0
        || ledger_account_parse (debit, "debit", &t->debit, err)
        || sq_arg_str (map, "credit", true, LEDGER_ACCOUNT_MAX, credit, sizeof credit, err) < 0
        || ledger_account_parse (credit, "credit", &t->credit, err))
        return -1;
    if (strcmp (debit, credit) == 0)
        return sq_error_set (err, SQ_ERR_INVALID, "credit", "credit %s is also the debit: a"
                             " transfer moves money between two accounts", credit);
    return 0;
}

int
ledger_transfer_read (const msgpack_object *map, ledger_transfer_t *t, sq_error_t *err)
{
    memset (t, 0, sizeof *t);
    int memo = 0;
    if (sq_arg_str (map, "id", true, LEDGER_ID_MAX, t->id, sizeof t->id, err) < 0)
        return -1;
    if (!s_token_valid (t->id, true, "._:-"))
        return sq_error_set (err, SQ_ERR_INVALID, "id", "id must be " S_ID_RULE);
    if (s_read_accounts (map, t, err)
        || sq_arg_int (map, "amount", true, 1, LEDGER_AMOUNT_MAX, &t->amount, err) < 0
        || sq_arg_str (map, "code", true, LEDGER_CODE_MAX, t->code, sizeof t->code, err) < 0)
        return -1;
    if (!s_token_valid (t->code, false, "_"))
        return sq_error_set (err, SQ_ERR_INVALID, "code", "code must be 1 to %d characters,"
                             " lower-case letters, digits and _", LEDGER_CODE_MAX);
    if ((memo = sq_arg_str (map, "memo", false, LEDGER_MEMO_MAX, t->memo, sizeof t->memo,
                            err)) < 0
        || sq_arg_bool (map, "pending", false, &t->pending, err) < 0
        || sq_arg_int (map, "timeout", false, 1, LEDGER_TIMEOUT_S_MAX, &t->timeout_s, err) < 0
        || sq_arg_str (map, "reverses", false, LEDGER_ID_MAX, t->reverses, sizeof t->reverses,
                       err) < 0)
        return -1;
    t->has_memo = memo == 1;
    if (t->timeout_s && !t->pending)
        return sq_error_set (err, SQ_ERR_INVALID, "timeout", "timeout applies to a pending"
                             " transfer only");
    if (t->reverses[0] && !s_token_valid (t->reverses, true, "._:-"))
        return sq_error_set (err, SQ_ERR_INVALID, "reverses", "reverses must be " S_ID_RULE);
    if (t->reverses[0] && t->pending)
        return sq_error_set (err, SQ_ERR_INVALID, "reverses", "a correction is posted at once,"
                             " never pending");
    if (strcmp (t->reverses, t->id) == 0)
        return sq_error_set (err, SQ_ERR_INVALID, "reverses", "a transfer cannot reverse"
                             " itself");
    return 0;
}

//  Runs an UPDATE of one account's sums. Returns the rows changed (0 or 1), or -1 with
//  ctx->err set.
static PGresult *s_end (sq_ctx_t *ctx, const PGresult *pending, const char *kind,
                        const char *memo);

static int
s_account_update (sq_ctx_t *ctx, const char *sql, const char *account, int64_t amount)
{
    char amount_text[24];
    snprintf (amount_text, sizeof amount_text, "%" PRId64, amount);
    const char *params[] = {account, amount_text};
    PGresult *res = sq_db_query (ctx->db, sql, 2, params, &ctx->err);
    if (!res)
        return -1;
    int rows = PQntuples (res);
    PQclear (res);
    return rows;
}

//  Emits the event a new chain row announces (res row 0).
static int
s_emit (sq_ctx_t *ctx, const PGresult *res)
{
    const char *kind = PQgetvalue (res, 0, C_KIND);
    bool ends = PQgetisnull (res, 0, C_ID);
    bool posted = strcmp (kind, "posted") == 0 || strcmp (kind, "post") == 0;
    bool pending = strcmp (kind, "pending") == 0;
    char div[SQ_DIV_MAX];
    ledger_event_div (PQgetvalue (res, 0, C_DEBIT), PQgetvalue (res, 0, C_CREDIT), div);
    sq_data_t data;
    sq_data_begin (&data);
    msgpack_pack_map (&data.pk, 9);
    sq_pack_kv_str (&data.pk, "transfer", PQgetvalue (res, 0, ends ? C_PENDING_ID : C_ID));
    sq_pack_kv_int (&data.pk, "chain_seq", strtoll (PQgetvalue (res, 0, C_SEQ), NULL, 10));
    sq_pack_kv_str (&data.pk, "debit", PQgetvalue (res, 0, C_DEBIT));
    sq_pack_kv_str (&data.pk, "credit", PQgetvalue (res, 0, C_CREDIT));
    sq_pack_kv_int (&data.pk, "amount", strtoll (PQgetvalue (res, 0, C_AMOUNT), NULL, 10));
    sq_pack_kv_str (&data.pk, "code", PQgetvalue (res, 0, C_CODE));
    sq_pack_kv_str (&data.pk, "hash", PQgetvalue (res, 0, C_HASH));
    if (posted) {
        sq_pack_kv_bool (&data.pk, "pending", ends);
        sq_pack_str (&data.pk, "reverses");
        ledger_pack_text (&data.pk, res, 0, C_REVERSES);
    } else if (pending) {
        sq_pack_str (&data.pk, "memo");
        ledger_pack_text (&data.pk, res, 0, C_MEMO);
        sq_pack_str (&data.pk, "expires_at");
        ledger_pack_int (&data.pk, res, 0, C_EXPIRES_AT);
    } else {
        sq_pack_kv_str (&data.pk, "reason", strcmp (kind, "expire") ? "voided" : "expired");
        sq_pack_str (&data.pk, "memo");
        ledger_pack_text (&data.pk, res, 0, C_MEMO);
    }
    const char *name = posted ? "transfer_posted" : pending ? "transfer_pending"
                                                             : "transfer_voided";
    return sq_ctx_emit_data (ctx, &data, name, div);
}

//  The transfer with this id (LEDGER_TRANSFER_COLUMNS), zero or one row; NULL on failure.
static PGresult *
s_find (sq_ctx_t *ctx, const char *column, const char *value)
{
    char sql[512];
    snprintf (sql, sizeof sql, "SELECT " LEDGER_TRANSFER_COLUMNS " FROM ledger.transfer"
              " WHERE %s = $1", column);
    const char *params[] = {value};
    return sq_db_query (ctx->db, sql, 1, params, &ctx->err);
}

//  A transfer with t's id exists: the same content gives its row back, other content is a
//  conflict. Returns the row, or NULL with err or ctx->err set.
static PGresult *
s_repeat (sq_ctx_t *ctx, const ledger_transfer_t *t, PGresult *row, sq_error_t *err)
{
    char amount[24], timeout[24];
    snprintf (amount, sizeof amount, "%" PRId64, t->amount);
    snprintf (timeout, sizeof timeout, "%" PRId64, t->timeout_s);
    const char *params[] = {t->id, t->debit.name, t->credit.name, amount, t->code,
                            t->has_memo ? t->memo : NULL, t->pending ? "pending" : "posted",
                            t->timeout_s ? timeout : NULL, t->reverses[0] ? t->reverses : NULL};
    PGresult *res = sq_db_query (ctx->db, "SELECT debit = $2 AND credit = $3 AND amount ="
                                 " $4::bigint AND code = $5 AND memo IS NOT DISTINCT FROM $6"
                                 " AND kind = $7 AND timeout_s IS NOT DISTINCT FROM $8::bigint"
                                 " AND reverses IS NOT DISTINCT FROM $9 FROM ledger.transfer"
                                 " WHERE id = $1", 9, params, &ctx->err);
    if (!res) {
        PQclear (row);
        return NULL;
    }
    bool same = PQgetvalue (res, 0, 0)[0] == 't';
    PQclear (res);
    if (same)
        return row;
    sq_error_set (err, SQ_ERR_CONFLICT, "id", "could not create transfer %s: the id was used"
                  " for another transfer (seq %s)", t->id, PQgetvalue (row, 0, C_SEQ));
    PQclear (row);
    return NULL;
}

//  A correction must swap the accounts of a posted transfer and, with the corrections before
//  it, reverse no more than it moved. Returns 0, or -1 with err or ctx->err set.
static int
s_check_reversal (sq_ctx_t *ctx, const ledger_transfer_t *t, sq_error_t *err)
{
    const char *params[] = {t->reverses};
    PGresult *res = sq_db_query (
        ctx->db, "SELECT o.debit, o.credit, o.amount, o.kind = 'posted' OR EXISTS (SELECT 1"
        " FROM ledger.transfer e WHERE e.pending_id = o.id AND e.kind = 'post'),"
        " (SELECT coalesce (sum (r.amount), 0) FROM ledger.transfer r WHERE r.reverses = o.id)"
        " FROM ledger.transfer o WHERE o.id = $1", 1, params, &ctx->err);
    if (!res)
        return -1;
    const char *why = NULL;
    int64_t left = 0;
    if (PQntuples (res) == 0)
        why = "it does not exist";
    else if (PQgetvalue (res, 0, 3)[0] != 't')
        why = "it is not posted";
    else if (strcmp (PQgetvalue (res, 0, 0), t->credit.name)
             || strcmp (PQgetvalue (res, 0, 1), t->debit.name))
        why = "a correction moves the money back: its debit is the original's credit and its"
              " credit the original's debit";
    else
        left = strtoll (PQgetvalue (res, 0, 2), NULL, 10)
               - strtoll (PQgetvalue (res, 0, 4), NULL, 10);
    bool missing = PQntuples (res) == 0;
    PQclear (res);
    if (why)
        return sq_error_set (err, missing ? SQ_ERR_NOT_FOUND : SQ_ERR_CONFLICT, "reverses",
                             "could not create transfer %s reversing %s: %s", t->id,
                             t->reverses, why);
    if (t->amount > left)
        return sq_error_set (err, SQ_ERR_CONFLICT, "amount", "could not create transfer %s:"
                             " only %" PRId64 " fen of %s are left to reverse", t->id, left,
                             t->reverses);
    return 0;
}

//  Creates both accounts unless they exist.
static int
s_accounts_ensure (sq_ctx_t *ctx, const ledger_transfer_t *t)
{
    char now[24];
    snprintf (now, sizeof now, "%" PRId64, sq_now_us ());
    const ledger_account_t *a = &t->debit, *b = &t->credit;
    const char *params[] = {a->name, ledger_account_kind_name (a->kind), a->division,
                            a->guarded ? "true" : "false", b->name,
                            ledger_account_kind_name (b->kind), b->division,
                            b->guarded ? "true" : "false", now};
    return sq_db_exec (ctx->db, "INSERT INTO ledger.account (name, kind, division, guarded,"
                       " created_at) VALUES ($1, $2, $3, $4::boolean, $9::bigint), ($5, $6, $7,"
                       " $8::boolean, $9::bigint) ON CONFLICT (name) DO NOTHING", 9, params,
                       &ctx->err);
}

//  Moves the sums of a new transfer: the guarded debit first, refused when short.
static int
s_move (sq_ctx_t *ctx, const ledger_transfer_t *t, sq_error_t *err)
{
    int rows = s_account_update (ctx, t->pending ? s_debit_pending : s_debit_posted,
                                 t->debit.name, t->amount);
    if (rows < 0)
        return -1;
    if (rows == 0) {
        const char *params[] = {t->debit.name};
        PGresult *res = sq_db_query (ctx->db, "SELECT credits_posted - debits_posted -"
                                     " debits_pending FROM ledger.account WHERE name = $1", 1,
                                     params, &ctx->err);
        if (!res)
            return -1;
        sq_error_set (err, SQ_ERR_CONFLICT, "amount", "could not create transfer %s: %s holds"
                      " %s fen available, %" PRId64 " asked", t->id, t->debit.name,
                      PQgetvalue (res, 0, 0), t->amount);
        PQclear (res);
        return -1;
    }
    rows = s_account_update (ctx, t->pending ? s_credit_pending : s_credit_posted,
                             t->credit.name, t->amount);
    if (rows != 1)
        return rows < 0 ? -1
                        : sq_error_set (&ctx->err, SQ_ERR_INTERNAL, "credit", "could not credit"
                                        " %s: the account vanished", t->credit.name);
    return 0;
}

//  Creates one transfer, or finds its first creation. Returns its row (the caller
//  PQclear()s it), or NULL with err set when refused or ctx->err set when the database
//  failed. The chain lock is held.
static PGresult *
s_create (sq_ctx_t *ctx, const ledger_transfer_t *t, sq_error_t *err)
{
    if (!ledger_may_move (ctx, &t->debit, &t->credit)) {
        *err = ctx->err;
        memset (&ctx->err, 0, sizeof ctx->err);
        return NULL;
    }
    PGresult *row = s_find (ctx, "id", t->id);
    if (!row)
        return NULL;
    if (PQntuples (row) == 1)
        return s_repeat (ctx, t, row, err);
    PQclear (row);
    if ((t->reverses[0] && s_check_reversal (ctx, t, err)) || s_accounts_ensure (ctx, t)
        || s_move (ctx, t, err))
        return NULL;
    row = ledger_chain_append (ctx, t->id, t->pending ? "pending" : "posted", NULL,
                               t->debit.name, t->credit.name, t->amount, t->code,
                               t->has_memo ? t->memo : NULL,
                               t->reverses[0] ? t->reverses : NULL, t->timeout_s);
    if (!row)
        return NULL;
    const char *params[] = {t->id, PQgetvalue (row, 0, C_EXPIRES_AT)};
    if ((t->pending && sq_db_exec (ctx->db, "INSERT INTO ledger.pending_open (id, expires_at)"
                                   " VALUES ($1, nullif ($2, '')::bigint)", 2, params,
                                   &ctx->err))
        || s_emit (ctx, row)) {
        PQclear (row);
        return NULL;
    }
    return row;
}

PGresult *
ledger_transfer_make (sq_ctx_t *ctx, const ledger_transfer_t *t, sq_error_t *err)
{
    return s_create (ctx, t, err);
}

PGresult *
ledger_transfer_end (sq_ctx_t *ctx, const char *id, bool post, const char *memo,
                     sq_error_t *err)
{
    const char *verb = post ? "post" : "void";
    PGresult *pending = s_find (ctx, "id", id);
    if (!pending)
        return NULL;
    if (PQntuples (pending) == 0 || strcmp (PQgetvalue (pending, 0, C_KIND), "pending")) {
        sq_error_set (err, PQntuples (pending) ? SQ_ERR_CONFLICT : SQ_ERR_NOT_FOUND, "id",
                      "could not %s transfer %s: it %s", verb, id,
                      PQntuples (pending) ? "was not pending" : "does not exist");
        PQclear (pending);
        return NULL;
    }
    PGresult *end = s_find (ctx, "pending_id", id);
    if (end && PQntuples (end) == 1) {
        bool same = (strcmp (PQgetvalue (end, 0, C_KIND), "post") == 0) == post;
        if (!same) {
            sq_error_set (err, SQ_ERR_CONFLICT, "id", "could not %s transfer %s: it was already"
                          " ended by %s (seq %s)", verb, id, PQgetvalue (end, 0, C_KIND),
                          PQgetvalue (end, 0, C_SEQ));
            PQclear (end);
            end = NULL;
        }
        PQclear (pending);
        return end;
    }
    bool looked = end != NULL;
    PQclear (end);
    PGresult *row = looked ? s_end (ctx, pending, verb, memo) : NULL;
    PQclear (pending);
    return row;
}

int
ledger_transfer_create (sq_ctx_t *ctx)
{
    ledger_transfer_t t;
    if (ledger_transfer_read (ctx->args, &t, &ctx->err) || ledger_chain_lock (ctx))
        return -1;
    sq_error_t err = {0};
    return ledger_transfer_reply (ctx, s_create (ctx, &t, &err), &err);
}

int
ledger_transfer_reply (sq_ctx_t *ctx, PGresult *row, const sq_error_t *err)
{
    if (!row) {
        if (!ctx->err.code) //  a database failure already set ctx->err: it wins
            ctx->err = *err;
        return -1;
    }
    ledger_pack_transfer (ctx->pk, row, 0);
    PQclear (row);
    return 0;
}

static void
s_pack_item_error (msgpack_packer *pk, const sq_error_t *err)
{
    msgpack_pack_map (pk, 2);
    sq_pack_kv_bool (pk, "ok", false);
    sq_pack_str (pk, "error");
    msgpack_pack_map (pk, 3);
    sq_pack_kv_str (pk, "code", err->code);
    sq_pack_kv_str (pk, "message", err->message);
    sq_pack_kv_str (pk, "field", err->field);
}

//  Runs item i of a batch: packs its result into pk. Returns 1 created (or found), 0
//  refused (its error in err), -1 with ctx->err set when the database failed.
static int
s_batch_item (sq_ctx_t *ctx, const msgpack_object *item, int i, msgpack_packer *pk,
              sq_error_t *err)
{
    ledger_transfer_t t;
    memset (err, 0, sizeof *err);
    if (item->type != MSGPACK_OBJECT_MAP)
        sq_error_set (err, SQ_ERR_INVALID, "transfers", "transfers[%d] must be a map", i);
    else if (ledger_transfer_read (item, &t, err) == 0) {
        PGresult *row = s_create (ctx, &t, err);
        if (row) {
            msgpack_pack_map (pk, 2);
            sq_pack_kv_bool (pk, "ok", true);
            sq_pack_str (pk, "result");
            ledger_pack_transfer (pk, row, 0);
            PQclear (row);
            return 1;
        }
        if (ctx->err.code)
            return -1;
    }
    s_pack_item_error (pk, err);
    return 0;
}

//  Linked and one failed: nothing stays, every item says why.
static void
s_pack_linked_failure (msgpack_packer *pk, size_t count, size_t failed, const sq_error_t *err)
{
    msgpack_pack_array (pk, count);
    for (size_t i = 0; i < count; i++) {
        sq_error_t linked = {0};
        sq_error_set (&linked, SQ_ERR_CONFLICT, "linked", "not created: transfer %zu of the"
                      " linked batch failed", failed);
        s_pack_item_error (pk, i == failed ? err : &linked);
    }
}

int
ledger_transfer_create_batch (sq_ctx_t *ctx)
{
    const msgpack_object *items = NULL;
    bool linked = false;
    if (sq_arg_array (ctx->args, "transfers", true, LEDGER_BATCH_MAX, &items, &ctx->err) < 0
        || sq_arg_bool (ctx->args, "linked", false, &linked, &ctx->err) < 0)
        return -1;
    size_t count = items->via.array.size;
    if (count == 0)
        return sq_error_set (&ctx->err, SQ_ERR_INVALID, "transfers", "transfers must hold 1 to"
                             " %d transfers", LEDGER_BATCH_MAX);
    if (ledger_chain_lock (ctx)
        || (linked && sq_db_exec (ctx->db, "SAVEPOINT ledger_linked", 0, NULL, &ctx->err)))
        return -1;
    msgpack_sbuffer buf;
    msgpack_sbuffer_init (&buf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &buf, msgpack_sbuffer_write);
    msgpack_pack_array (&pk, count);
    size_t created = 0, failed = count;
    sq_error_t err = {0};
    int rc = 0;
    for (size_t i = 0; i < count && rc >= 0 && failed == count; i++) {
        rc = s_batch_item (ctx, &items->via.array.ptr[i], (int) i, &pk, &err);
        if (rc == 1)
            created++;
        else if (rc == 0 && linked)
            failed = i;
    }
    if (rc >= 0 && linked) {
        bool undo = failed < count;
        rc = sq_db_exec (ctx->db, undo ? "ROLLBACK TO SAVEPOINT ledger_linked"
                                       : "RELEASE SAVEPOINT ledger_linked", 0, NULL, &ctx->err);
        if (undo) {
            msgpack_sbuffer_clear (&buf);
            s_pack_linked_failure (&pk, count, failed, &err);
            created = 0;
        }
    }
    if (rc >= 0) {
        msgpack_pack_map (ctx->pk, 4);
        sq_pack_kv_raw (ctx->pk, "results", buf.data, buf.size);
        sq_pack_kv_int (ctx->pk, "created", (int64_t) created);
        sq_pack_kv_int (ctx->pk, "failed", (int64_t) (count - created));
        sq_pack_kv_bool (ctx->pk, "linked", linked);
    }
    msgpack_sbuffer_destroy (&buf);
    return rc < 0 ? -1 : 0;
}

//  Ends the pending transfer of row 0 of pending with a new row of kind post, void or
//  expire; memo NULL keeps the pending transfer's. Returns the new row or NULL with ctx->err
//  set.
static PGresult *
s_end (sq_ctx_t *ctx, const PGresult *pending, const char *kind, const char *memo)
{
    bool post = strcmp (kind, "post") == 0;
    const char *id = PQgetvalue (pending, 0, C_ID);
    const char *debit = PQgetvalue (pending, 0, C_DEBIT);
    const char *credit = PQgetvalue (pending, 0, C_CREDIT);
    int64_t amount = strtoll (PQgetvalue (pending, 0, C_AMOUNT), NULL, 10);
    int a = s_account_update (ctx, post ? s_debit_post : s_debit_void, debit, amount);
    int b = a == 1 ? s_account_update (ctx, post ? s_credit_post : s_credit_void, credit, amount)
                   : a;
    if (a != 1 || b != 1) {
        if (a >= 0 && b >= 0)
            sq_error_set (&ctx->err, SQ_ERR_INTERNAL, "id", "could not end transfer %s: an"
                          " account vanished", id);
        return NULL;
    }
    if (!memo)
        memo = PQgetisnull (pending, 0, C_MEMO) ? NULL : PQgetvalue (pending, 0, C_MEMO);
    PGresult *row = ledger_chain_append (ctx, NULL, kind, id, debit, credit, amount,
                                         PQgetvalue (pending, 0, C_CODE), memo, NULL, 0);
    const char *params[] = {id};
    if (row && (sq_db_exec (ctx->db, "DELETE FROM ledger.pending_open WHERE id = $1", 1, params,
                            &ctx->err)
                || s_emit (ctx, row))) {
        PQclear (row);
        return NULL;
    }
    return row;
}

//  transfer.post and transfer.void: ending a pending transfer once; asking again for the
//  same end gives that end back.
static int
s_finish (sq_ctx_t *ctx, bool post)
{
    char id[LEDGER_ID_MAX + 1];
    if (sq_arg_str (ctx->args, "id", true, LEDGER_ID_MAX, id, sizeof id, &ctx->err) < 0
        || ledger_chain_lock (ctx))
        return -1;
    const char *verb = post ? "post" : "void";
    PGresult *pending = s_find (ctx, "id", id);
    if (!pending)
        return -1;
    ledger_account_t debit, credit;
    int rc = PQntuples (pending) == 1 ? 0
             : sq_error_set (&ctx->err, SQ_ERR_NOT_FOUND, "id", "transfer %s does not exist", id);
    if (rc == 0 && (ledger_account_parse (PQgetvalue (pending, 0, C_DEBIT), "debit", &debit,
                                          &ctx->err)
                    || ledger_account_parse (PQgetvalue (pending, 0, C_CREDIT), "credit",
                                             &credit, &ctx->err)
                    || !ledger_may_move (ctx, &debit, &credit)))
        rc = -1;
    if (rc == 0 && strcmp (PQgetvalue (pending, 0, C_KIND), "pending"))
        rc = sq_error_set (&ctx->err, SQ_ERR_CONFLICT, "id", "could not %s transfer %s: it was"
                           " posted when created, not pending", verb, id);
    PGresult *end = rc == 0 ? s_find (ctx, "pending_id", id) : NULL;
    if (rc == 0 && !end)
        rc = -1;
    if (rc == 0 && PQntuples (end) == 1) {
        const char *kind = PQgetvalue (end, 0, C_KIND);
        bool same = post ? strcmp (kind, "post") == 0 : strcmp (kind, "post") != 0;
        if (same)
            ledger_pack_transfer (ctx->pk, end, 0);
        else
            rc = sq_error_set (&ctx->err, SQ_ERR_CONFLICT, "id", "could not %s transfer %s: it"
                               " was already ended by %s (seq %s)", verb, id, kind,
                               PQgetvalue (end, 0, C_SEQ));
        PQclear (end);
        PQclear (pending);
        return rc;
    }
    PQclear (end);
    if (rc == 0 && post && !PQgetisnull (pending, 0, C_EXPIRES_AT)
        && strtoll (PQgetvalue (pending, 0, C_EXPIRES_AT), NULL, 10) <= sq_now_us ())
        rc = sq_error_set (&ctx->err, SQ_ERR_CONFLICT, "id", "could not post transfer %s: it"
                           " expired at %s", id, PQgetvalue (pending, 0, C_EXPIRES_AT));
    PGresult *row = rc == 0 ? s_end (ctx, pending, verb, NULL) : NULL;
    PQclear (pending);
    if (!row)
        return -1;
    ledger_pack_transfer (ctx->pk, row, 0);
    PQclear (row);
    return 0;
}

int
ledger_transfer_post (sq_ctx_t *ctx)
{
    return s_finish (ctx, true);
}

int
ledger_transfer_void (sq_ctx_t *ctx)
{
    return s_finish (ctx, false);
}

int
ledger_transfer_list (sq_ctx_t *ctx)
{
    ledger_account_t account;
    int64_t from = 0, to = LEDGER_TIME_MAX, page = 1;
    if (ledger_read_account (ctx, "account", &account)
        || sq_arg_int (ctx->args, "from", false, 0, LEDGER_TIME_MAX, &from, &ctx->err) < 0
        || sq_arg_int (ctx->args, "to", false, 0, LEDGER_TIME_MAX, &to, &ctx->err) < 0
        || sq_arg_int (ctx->args, "page", false, 1, LEDGER_PAGE_MAX, &page, &ctx->err) < 0)
        return -1;
    if (to <= from)
        return sq_error_set (&ctx->err, SQ_ERR_INVALID, "to", "to must come after from");
    char from_text[24], to_text[24], limit[24], offset[24];
    snprintf (from_text, sizeof from_text, "%" PRId64, from);
    snprintf (to_text, sizeof to_text, "%" PRId64, to);
    snprintf (limit, sizeof limit, "%d", LEDGER_TRANSFER_PAGE_SIZE + 1);
    snprintf (offset, sizeof offset, "%" PRId64, (page - 1) * LEDGER_TRANSFER_PAGE_SIZE);
    const char *params[] = {account.name, from_text, to_text, limit, offset};
    PGresult *res = sq_db_query (ctx->db, "SELECT " LEDGER_TRANSFER_COLUMNS " FROM"
                                 " ledger.transfer WHERE (debit = $1 OR credit = $1) AND"
                                 " created_at >= $2::bigint AND created_at < $3::bigint ORDER BY"
                                 " seq LIMIT $4::int OFFSET $5::bigint", 5, params, &ctx->err);
    if (!res)
        return -1;
    int rows = PQntuples (res);
    bool more = rows > LEDGER_TRANSFER_PAGE_SIZE;
    if (more)
        rows = LEDGER_TRANSFER_PAGE_SIZE;
    msgpack_pack_map (ctx->pk, 4);
    sq_pack_kv_str (ctx->pk, "account", account.name);
    sq_pack_str (ctx->pk, "transfers");
    msgpack_pack_array (ctx->pk, (size_t) rows);
    for (int i = 0; i < rows; i++)
        ledger_pack_transfer (ctx->pk, res, i);
    PQclear (res);
    sq_pack_kv_int (ctx->pk, "page", page);
    sq_pack_kv_bool (ctx->pk, "more", more);
    return 0;
}

//  Sweep: pending transfers whose timeout has passed void themselves (kind expire). The
//  chain lock makes replicas that sweep together see each other's ends: each expires once.
int
ledger_expire (sq_ctx_t *ctx)
{
    char now[24], limit[24];
    snprintf (now, sizeof now, "%" PRId64, sq_now_us ());
    snprintf (limit, sizeof limit, "%d", LEDGER_SWEEP_BATCH_MAX);
    const char *params[] = {now, limit};
    if (ledger_chain_lock (ctx))
        return -1;
    PGresult *due = sq_db_query (ctx->db, "SELECT id FROM ledger.pending_open WHERE expires_at"
                                 " <= $1::bigint ORDER BY expires_at, id LIMIT $2::int", 2,
                                 params, &ctx->err);
    if (!due)
        return -1;
    int rc = 0;
    for (int i = 0; i < PQntuples (due) && rc == 0; i++) {
        PGresult *pending = s_find (ctx, "id", PQgetvalue (due, i, 0));
        PGresult *row = pending && PQntuples (pending) == 1
                            ? s_end (ctx, pending, "expire", NULL) : NULL;
        rc = row ? 0 : -1;
        if (!row && !ctx->err.code)
            sq_error_set (&ctx->err, SQ_ERR_INTERNAL, "", "pending transfer %s is missing",
                          PQgetvalue (due, i, 0));
        PQclear (row);
        PQclear (pending);
    }
    msgpack_pack_int (ctx->pk, PQntuples (due));
    PQclear (due);
    return rc;
}
