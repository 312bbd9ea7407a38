/*  ledger transfers: transfer.create, transfer.create_batch, transfer.post, transfer.void,
    transfer.list and the sweep that voids expired pending transfers. Every writer takes the
    chain lock first (chain.c). Creating goes through ledger_apply (apply.c), set-based.
    Ending a pending transfer changes the two accounts' sums and appends one row here. */
#include "ledger.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  Columns of LEDGER_TRANSFER_COLUMNS, by position.
enum { C_SEQ, C_ID, C_KIND, C_PENDING_ID, C_DEBIT, C_CREDIT, C_AMOUNT, C_CODE, C_MEMO,
       C_REVERSES, C_TIMEOUT, C_EXPIRES_AT, C_CREATED_AT, C_ACTOR, C_HASH };

#define S_ACCOUNT_SET(set) "UPDATE ledger.account SET " set " WHERE name = $1"
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
    ledger_row_t row;
    ledger_row_from (res, 0, &row);
    sq_data_t data;
    char div[SQ_DIV_MAX];
    const char *name = ledger_row_event (&row, &data, div);
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

int
ledger_transfer_make (sq_ctx_t *ctx, const ledger_transfer_t *t, msgpack_packer *pk,
                      sq_error_t *err)
{
    ledger_apply_t apply;
    if (ledger_apply (ctx, NULL, t, 1, false, &apply)) {
        ledger_apply_free (&apply);
        return -1;
    }
    const ledger_result_t *r = &apply.results[0];
    int rc = r->outcome == LEDGER_CREATED ? 1 : r->outcome == LEDGER_FOUND ? 0 : -1;
    if (rc < 0)
        *err = r->err;
    else if (pk)
        ledger_row_pack (pk, &r->row);
    ledger_apply_free (&apply);
    return rc;
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
    if (ledger_transfer_read (ctx->args, &t, &ctx->err))
        return -1;
    return ledger_transfer_reply (ctx, &t);
}

int
ledger_transfer_create_group (sq_ctx_t *ctxs, int count)
{
    ledger_transfer_t *items = calloc ((size_t) count, sizeof *items);
    sq_ctx_t **owners = calloc ((size_t) count, sizeof *owners);
    int *position = calloc ((size_t) count, sizeof *position); //  command -> item, or -1
    assert (items && owners && position);
    size_t n = 0;
    for (int k = 0; k < count; k++) {
        position[k] = -1;
        if (ledger_transfer_read (ctxs[k].args, &items[n], &ctxs[k].err) == 0) {
            owners[n] = &ctxs[k];
            position[k] = (int) n++;
        }
    }
    ledger_apply_t apply = {0};
    int rc = ledger_apply (&ctxs[0], owners, items, n, false, &apply);
    for (int k = 0; rc == 0 && k < count; k++) {
        if (position[k] < 0)
            continue;
        const ledger_result_t *r = &apply.results[position[k]];
        if (r->outcome == LEDGER_REFUSED)
            ctxs[k].err = r->err;
        else
            ledger_row_pack (ctxs[k].pk, &r->row);
    }
    ledger_apply_free (&apply);
    free (items);
    free (owners);
    free (position);
    return rc;
}

int
ledger_transfer_reply (sq_ctx_t *ctx, const ledger_transfer_t *t)
{
    sq_error_t err = {0};
    if (ledger_transfer_make (ctx, t, ctx->pk, &err) >= 0)
        return 0;
    if (!ctx->err.code) //  a database failure already set ctx->err: it wins
        ctx->err = err;
    return -1;
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
    //  Items that do not read are refused here; the others go to the apply together, and
    //  their results are merged back in order.
    ledger_transfer_t *valid = calloc (count, sizeof *valid);
    sq_error_t *invalid = calloc (count, sizeof *invalid);
    int *position = calloc (count, sizeof *position); //  item -> index in valid, or -1
    assert (valid && invalid && position);
    size_t valid_count = 0, first_invalid = count;
    for (size_t i = 0; i < count; i++) {
        const msgpack_object *item = &items->via.array.ptr[i];
        position[i] = -1;
        if (item->type != MSGPACK_OBJECT_MAP)
            sq_error_set (&invalid[i], SQ_ERR_INVALID, "transfers", "transfers[%zu] must be a"
                          " map", i);
        else if (ledger_transfer_read (item, &valid[valid_count], &invalid[i]) == 0)
            position[i] = (int) valid_count++;
        if (position[i] < 0 && first_invalid == count)
            first_invalid = i;
    }
    ledger_apply_t apply = {0};
    //  Linked with an item that does not even read: nothing to apply, all refused.
    int rc = linked && first_invalid < count ? 0
             : ledger_apply (ctx, NULL, valid, valid_count, linked, &apply);
    if (rc == 0) {
        //  Linked: the first refusal in the batch's order undid everything. With no item
        //  refused on reading, the apply's items are the batch's, in the same order.
        size_t failed = !linked ? count : first_invalid < count ? first_invalid : apply.failed;
        size_t ok = 0;
        msgpack_pack_map (ctx->pk, 4);
        sq_pack_str (ctx->pk, "results");
        msgpack_pack_array (ctx->pk, count);
        for (size_t i = 0; i < count; i++) {
            const ledger_result_t *r = position[i] >= 0 ? &apply.results[position[i]] : NULL;
            sq_error_t linked_err = {0};
            if (failed < count && i != failed) {
                sq_error_set (&linked_err, SQ_ERR_CONFLICT, "linked", "not created: transfer"
                              " %zu of the linked batch failed", failed);
                s_pack_item_error (ctx->pk, &linked_err);
            } else if (!r || r->outcome == LEDGER_REFUSED)
                s_pack_item_error (ctx->pk, r ? &r->err : &invalid[i]);
            else {
                msgpack_pack_map (ctx->pk, 2);
                sq_pack_kv_bool (ctx->pk, "ok", true);
                sq_pack_str (ctx->pk, "result");
                ledger_row_pack (ctx->pk, &r->row);
                ok++;
            }
        }
        sq_pack_kv_int (ctx->pk, "created", (int64_t) ok);
        sq_pack_kv_int (ctx->pk, "failed", (int64_t) (count - ok));
        sq_pack_kv_bool (ctx->pk, "linked", linked);
    }
    ledger_apply_free (&apply);
    free (valid);
    free (invalid);
    free (position);
    return rc;
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
