/*  ledger apply: creating transfers set-based, one transfer or 8,000 alike.

    transfer.create, transfer.create_batch, expense.record, budget.appropriate and the funds
    that follow admitted work all create transfers here. Under the chain lock (chain.c) the
    database cannot change under us, so instead of asking it once per transfer ("does the id
    exist? does the fund hold enough? append after the tail") the apply asks once for all:

    1. reads: the accounts named and the chain's tail (one statement), the ids that already
       exist (one), and, only when a transfer corrects another, the originals (one);
    2. judges every transfer in order in memory, as the database would one at a time:
       repeats, permissions, corrections, and the guard of community funds against the sums
       as they stand after the transfers before it;
    3. hashes the new rows in C (ledger_row_hash: the same bytes as the SQL transfer_hash,
       which audit.verify recomputes) and writes everything with set-based statements: new
       accounts, one UPDATE of every account's sums, one INSERT of the rows, the pending
       ones' work list, one INSERT of the events. All but the rows' INSERT are deferred
       (sq_db_defer), so a single transfer costs three round trips and 8,000 cost about the
       same number of statements.

    The CHECK on account and the UNIQUE keys on transfer remain the last line: should the
    judgement in memory ever differ from the database, the INSERT fails and the command's
    savepoint undoes everything. */
#include "ledger.h"

#include <assert.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_HASH_SIZE 32 //  SHA-256

// ---- a small map from strings to indexes, for one apply ---------------------------------

typedef struct {
    const char **keys; //  borrowed; NULL = empty slot
    int *values;
    size_t mask;       //  capacity - 1 (a power of two)
} s_map_t;

static void
s_map_init (s_map_t *self, size_t expected)
{
    size_t cap = 16;
    while (cap < expected * 2)
        cap *= 2;
    self->keys = calloc (cap, sizeof *self->keys);
    self->values = calloc (cap, sizeof *self->values);
    assert (self->keys && self->values);
    self->mask = cap - 1;
}

static void
s_map_free (s_map_t *self)
{
    free (self->keys);
    free (self->values);
}

//  The slot holding key, or the empty slot where it would go (FNV-1a, linear probing).
static size_t
s_map_slot (const s_map_t *self, const char *key)
{
    uint64_t h = UINT64_C (14695981039346656037);
    for (const char *s = key; *s; s++)
        h = (h ^ (unsigned char) *s) * UINT64_C (1099511628211);
    size_t i = (size_t) h & self->mask;
    while (self->keys[i] && strcmp (self->keys[i], key))
        i = (i + 1) & self->mask;
    return i;
}

static int
s_map_get (const s_map_t *self, const char *key)
{
    size_t i = s_map_slot (self, key);
    return self->keys[i] ? self->values[i] : -1;
}

//  key must outlive the map.
static void
s_map_put (s_map_t *self, const char *key, int value)
{
    size_t i = s_map_slot (self, key);
    self->keys[i] = key;
    self->values[i] = value;
}

// ---- rows ---------------------------------------------------------------------------------

//  Columns of LEDGER_TRANSFER_COLUMNS, by position.
enum { C_SEQ, C_ID, C_KIND, C_PENDING_ID, C_DEBIT, C_CREDIT, C_AMOUNT, C_CODE, C_MEMO,
       C_REVERSES, C_TIMEOUT, C_EXPIRES_AT, C_CREATED_AT, C_ACTOR, C_HASH, C_COUNT };

static const char *
s_text (const PGresult *res, int row, int column)
{
    return PQgetisnull (res, row, column) ? NULL : PQgetvalue (res, row, column);
}

static int64_t
s_int (const PGresult *res, int row, int column)
{
    return PQgetisnull (res, row, column) ? 0 : strtoll (PQgetvalue (res, row, column), NULL, 10);
}

void
ledger_row_from (const PGresult *res, int row, ledger_row_t *out)
{
    assert (PQnfields (res) == C_COUNT);
    out->seq = s_int (res, row, C_SEQ);
    out->id = s_text (res, row, C_ID);
    out->kind = PQgetvalue (res, row, C_KIND);
    out->pending_id = s_text (res, row, C_PENDING_ID);
    out->debit = PQgetvalue (res, row, C_DEBIT);
    out->credit = PQgetvalue (res, row, C_CREDIT);
    out->amount = s_int (res, row, C_AMOUNT);
    out->code = PQgetvalue (res, row, C_CODE);
    out->memo = s_text (res, row, C_MEMO);
    out->reverses = s_text (res, row, C_REVERSES);
    out->timeout_s = s_int (res, row, C_TIMEOUT);
    out->expires_at = s_int (res, row, C_EXPIRES_AT);
    out->created_at = s_int (res, row, C_CREATED_AT);
    out->actor = PQgetvalue (res, row, C_ACTOR);
    snprintf (out->hash, sizeof out->hash, "%s", PQgetvalue (res, row, C_HASH));
}

//  Packs a text that may be nil, or an integer where 0 means nil.
static void
s_pack_text (msgpack_packer *pk, const char *key, const char *value)
{
    sq_pack_str (pk, key);
    if (value)
        sq_pack_str (pk, value);
    else
        msgpack_pack_nil (pk);
}

static void
s_pack_int (msgpack_packer *pk, const char *key, int64_t value)
{
    sq_pack_str (pk, key);
    if (value)
        msgpack_pack_int64 (pk, value);
    else
        msgpack_pack_nil (pk);
}

void
ledger_row_pack (msgpack_packer *pk, const ledger_row_t *row)
{
    msgpack_pack_map (pk, 15);
    sq_pack_kv_int (pk, "seq", row->seq);
    s_pack_text (pk, "id", row->id);
    sq_pack_kv_str (pk, "kind", row->kind);
    s_pack_text (pk, "pending_id", row->pending_id);
    sq_pack_kv_str (pk, "debit", row->debit);
    sq_pack_kv_str (pk, "credit", row->credit);
    sq_pack_kv_int (pk, "amount", row->amount);
    sq_pack_kv_str (pk, "code", row->code);
    s_pack_text (pk, "memo", row->memo);
    s_pack_text (pk, "reverses", row->reverses);
    s_pack_int (pk, "timeout", row->timeout_s);
    s_pack_int (pk, "expires_at", row->expires_at);
    sq_pack_kv_int (pk, "created_at", row->created_at);
    sq_pack_kv_str (pk, "actor", row->actor);
    sq_pack_kv_str (pk, "hash", row->hash);
}

const char *
ledger_row_event (const ledger_row_t *row, sq_data_t *data, char div[SQ_DIV_MAX])
{
    bool ends = row->id == NULL;
    bool posted = strcmp (row->kind, "posted") == 0 || strcmp (row->kind, "post") == 0;
    bool pending = strcmp (row->kind, "pending") == 0;
    ledger_event_div (row->debit, row->credit, div);
    sq_data_begin (data);
    msgpack_packer *pk = &data->pk;
    msgpack_pack_map (pk, 9);
    sq_pack_kv_str (pk, "transfer", ends ? row->pending_id : row->id);
    sq_pack_kv_int (pk, "chain_seq", row->seq);
    sq_pack_kv_str (pk, "debit", row->debit);
    sq_pack_kv_str (pk, "credit", row->credit);
    sq_pack_kv_int (pk, "amount", row->amount);
    sq_pack_kv_str (pk, "code", row->code);
    sq_pack_kv_str (pk, "hash", row->hash);
    if (posted) {
        sq_pack_kv_bool (pk, "pending", ends);
        s_pack_text (pk, "reverses", row->reverses);
    } else if (pending) {
        s_pack_text (pk, "memo", row->memo);
        s_pack_int (pk, "expires_at", row->expires_at);
    } else {
        sq_pack_kv_str (pk, "reason", strcmp (row->kind, "expire") ? "voided" : "expired");
        s_pack_text (pk, "memo", row->memo);
    }
    return posted ? "transfer_posted" : pending ? "transfer_pending" : "transfer_voided";
}

// ---- the hash ------------------------------------------------------------------------------

//  Appends s as PostgreSQL's json output spells a text value (escape_json): quotes, the
//  backslash and the usual control characters by their short escapes, other control
//  characters as \u00xx, everything else (UTF-8 included) as it is.
static void
s_json_text (msgpack_sbuffer *buf, const char *s)
{
    if (!s) {
        msgpack_sbuffer_write (buf, "null", 4);
        return;
    }
    msgpack_sbuffer_write (buf, "\"", 1);
    //  Runs of bytes that need no escape go in one write.
    const char *run = s;
    for (const char *p = s;; p++) {
        unsigned char c = (unsigned char) *p;
        if (c >= ' ' && c != '"' && c != '\\')
            continue;
        msgpack_sbuffer_write (buf, run, (size_t) (p - run));
        if (!c)
            break;
        const char *esc = NULL;
        char code[8];
        switch (c) {
        case '"': esc = "\\\""; break;
        case '\\': esc = "\\\\"; break;
        case '\b': esc = "\\b"; break;
        case '\f': esc = "\\f"; break;
        case '\n': esc = "\\n"; break;
        case '\r': esc = "\\r"; break;
        case '\t': esc = "\\t"; break;
        default:
            snprintf (code, sizeof code, "\\u%04x", (unsigned) c);
            esc = code;
        }
        msgpack_sbuffer_write (buf, esc, strlen (esc));
        run = p + 1;
    }
    msgpack_sbuffer_write (buf, "\"", 1);
}

static void
s_json_int (msgpack_sbuffer *buf, int64_t value, bool null)
{
    char text[SQ_INT_TEXT_MAX];
    if (null)
        msgpack_sbuffer_write (buf, "null", 4);
    else
        msgpack_sbuffer_write (buf, text, sq_int_text (value, text));
}

void
ledger_row_json (const ledger_row_t *row, msgpack_sbuffer *buf)
{
    //  json_build_array (seq, id, kind, pending_id, debit, credit, amount, code, memo,
    //  reverses, timeout_s, expires_at, created_at, actor)::text: elements joined by ", ".
    msgpack_sbuffer_write (buf, "[", 1);
    s_json_int (buf, row->seq, false);
    const char *texts1[] = {row->id, row->kind, row->pending_id, row->debit, row->credit};
    for (size_t i = 0; i < sizeof texts1 / sizeof texts1[0]; i++) {
        msgpack_sbuffer_write (buf, ", ", 2);
        s_json_text (buf, texts1[i]);
    }
    msgpack_sbuffer_write (buf, ", ", 2);
    s_json_int (buf, row->amount, false);
    const char *texts2[] = {row->code, row->memo, row->reverses};
    for (size_t i = 0; i < sizeof texts2 / sizeof texts2[0]; i++) {
        msgpack_sbuffer_write (buf, ", ", 2);
        s_json_text (buf, texts2[i]);
    }
    msgpack_sbuffer_write (buf, ", ", 2);
    s_json_int (buf, row->timeout_s, row->timeout_s == 0);
    msgpack_sbuffer_write (buf, ", ", 2);
    s_json_int (buf, row->expires_at, row->expires_at == 0);
    msgpack_sbuffer_write (buf, ", ", 2);
    s_json_int (buf, row->created_at, false);
    msgpack_sbuffer_write (buf, ", ", 2);
    s_json_text (buf, row->actor);
    msgpack_sbuffer_write (buf, "]", 1);
}

void
ledger_row_hash (const uint8_t prev[32], const ledger_row_t *row, uint8_t out[32])
{
    msgpack_sbuffer json;
    msgpack_sbuffer_init (&json);
    ledger_row_json (row, &json);
    crypto_hash_sha256_state state;
    crypto_hash_sha256_init (&state);
    crypto_hash_sha256_update (&state, prev, S_HASH_SIZE);
    crypto_hash_sha256_update (&state, (const unsigned char *) json.data, json.size);
    crypto_hash_sha256_final (&state, out);
    msgpack_sbuffer_destroy (&json);
}

// ---- judging ---------------------------------------------------------------------------------

enum { S_DP, S_CP, S_DPE, S_CPE, S_SUMS }; //  debits/credits posted, debits/credits pending

//  An account named by the apply: its sums as the database has them and what we add.
typedef struct {
    const ledger_account_t *account; //  as parsed from the first transfer naming it
    bool exists;                     //  a row in the database
    bool used;                       //  a created transfer moves it: create it, update it
    int64_t sums[S_SUMS];
    int64_t delta[S_SUMS];
} s_account_t;

//  A transfer that may be corrected: found in the database or created earlier in the apply.
typedef struct {
    bool exists;         //  known at all
    const char *debit, *credit;
    bool posted;         //  posted at creation, or a pending one since posted
    int64_t left;        //  amount not yet reversed
} s_original_t;

typedef struct {
    sq_ctx_t *ctx;                  //  the database, and the command of every item...
    sq_ctx_t *const *item_ctx;      //  ...unless each item has its own (a group); or NULL
    const ledger_transfer_t *items;
    size_t count;
    ledger_apply_t *out;
    s_account_t *accounts;
    size_t account_count;
    s_map_t account_map;  //  name -> accounts[]
    s_map_t found_map;    //  id -> row of out->found (existing in the database)
    s_map_t made_map;     //  id -> item created by this apply
    s_original_t *originals;
    size_t original_count;
    s_map_t original_map; //  id -> originals[]
    int64_t tail_seq;
    uint8_t tail_hash[S_HASH_SIZE];
    int64_t tail_at;
} s_apply_t;

//  The command item i belongs to: its actor, corr and request id.
static sq_ctx_t *
s_owner (const s_apply_t *self, size_t i)
{
    return self->item_ctx ? self->item_ctx[i] : self->ctx;
}

static s_account_t *
s_account (s_apply_t *self, const char *name)
{
    int i = s_map_get (&self->account_map, name);
    return i < 0 ? NULL : &self->accounts[i];
}

//  Names every account of the items once, in accounts[].
static void
s_accounts_collect (s_apply_t *self)
{
    self->accounts = calloc (2 * self->count, sizeof *self->accounts);
    assert (self->accounts);
    s_map_init (&self->account_map, 2 * self->count);
    for (size_t i = 0; i < self->count; i++) {
        const ledger_account_t *pair[] = {&self->items[i].debit, &self->items[i].credit};
        for (int k = 0; k < 2; k++)
            if (s_map_get (&self->account_map, pair[k]->name) < 0) {
                self->accounts[self->account_count].account = pair[k];
                s_map_put (&self->account_map, pair[k]->name, (int) self->account_count++);
            }
    }
}

//  Reads the accounts' sums and the chain's tail in one statement: the tail is the row
//  whose name is NULL (seq, created_at and hash in its columns).
static int
s_read_accounts_and_tail (s_apply_t *self)
{
    sq_db_array_t names;
    sq_db_array_init (&names);
    for (size_t i = 0; i < self->account_count; i++)
        sq_db_array_add (&names, self->accounts[i].account->name);
    const char *params[] = {sq_db_array_text (&names)};
    PGresult *res = sq_db_query (
        self->ctx->db, "SELECT name, debits_posted, credits_posted, debits_pending,"
        " credits_pending, NULL FROM ledger.account WHERE name = ANY ($1::text[]) UNION ALL"
        " (SELECT NULL, seq, created_at, 0, 0, encode (hash, 'hex') FROM ledger.transfer"
        " ORDER BY seq DESC LIMIT 1)", 1, params, &self->ctx->err);
    sq_db_array_destroy (&names);
    if (!res)
        return -1;
    for (int r = 0; r < PQntuples (res); r++) {
        if (PQgetisnull (res, r, 0)) {
            self->tail_seq = s_int (res, r, 1);
            self->tail_at = s_int (res, r, 2);
            size_t len = 0;
            if (sodium_hex2bin (self->tail_hash, S_HASH_SIZE, PQgetvalue (res, r, 5),
                                strlen (PQgetvalue (res, r, 5)), NULL, &len, NULL)
                || len != S_HASH_SIZE) {
                PQclear (res);
                return sq_error_set (&self->ctx->err, SQ_ERR_INTERNAL, "", "the chain's tail"
                                     " has a malformed hash");
            }
            continue;
        }
        s_account_t *a = s_account (self, PQgetvalue (res, r, 0));
        assert (a);
        a->exists = true;
        for (int k = 0; k < S_SUMS; k++)
            a->sums[k] = s_int (res, r, 1 + k);
    }
    PQclear (res);
    return 0;
}

//  The transfers whose ids the items use and that exist already.
static int
s_read_found (s_apply_t *self)
{
    sq_db_array_t ids;
    sq_db_array_init (&ids);
    for (size_t i = 0; i < self->count; i++)
        sq_db_array_add (&ids, self->items[i].id);
    const char *params[] = {sq_db_array_text (&ids)};
    self->out->found = sq_db_query (self->ctx->db, "SELECT " LEDGER_TRANSFER_COLUMNS " FROM"
                                    " ledger.transfer JOIN unnest ($1::text[]) AS u (id) USING"
                                    " (id)", 1, params,
                                    &self->ctx->err);
    sq_db_array_destroy (&ids);
    if (!self->out->found)
        return -1;
    s_map_init (&self->found_map, (size_t) PQntuples (self->out->found));
    for (int r = 0; r < PQntuples (self->out->found); r++)
        s_map_put (&self->found_map, PQgetvalue (self->out->found, r, C_ID), r);
    return 0;
}

//  The transfers the items correct, with what is left of each to reverse. Only when an item
//  corrects something: most applies skip this round trip.
static int
s_read_originals (s_apply_t *self)
{
    sq_db_array_t ids;
    sq_db_array_init (&ids);
    for (size_t i = 0; i < self->count; i++)
        if (self->items[i].reverses[0])
            sq_db_array_add (&ids, self->items[i].reverses);
    //  Originals are the ones found plus every posted transfer the apply creates: at most
    //  two per item.
    self->originals = calloc (2 * self->count, sizeof *self->originals);
    assert (self->originals);
    s_map_init (&self->original_map, 2 * self->count);
    if (ids.count == 0) {
        sq_db_array_destroy (&ids);
        return 0;
    }
    const char *params[] = {sq_db_array_text (&ids)};
    self->out->originals = sq_db_query (
        self->ctx->db, "SELECT o.id, o.debit, o.credit, o.amount - (SELECT coalesce (sum"
        " (r.amount), 0) FROM ledger.transfer r WHERE r.reverses = o.id), o.kind = 'posted' OR"
        " EXISTS (SELECT 1 FROM ledger.transfer e WHERE e.pending_id = o.id AND e.kind ="
        " 'post') FROM ledger.transfer o WHERE o.id = ANY ($1::text[])", 1, params,
        &self->ctx->err);
    sq_db_array_destroy (&ids);
    PGresult *res = self->out->originals;
    if (!res)
        return -1;
    for (int r = 0; r < PQntuples (res); r++) {
        s_original_t *o = &self->originals[self->original_count];
        *o = (s_original_t) {true, PQgetvalue (res, r, 1), PQgetvalue (res, r, 2),
                             PQgetvalue (res, r, 4)[0] == 't', s_int (res, r, 3)};
        s_map_put (&self->original_map, PQgetvalue (res, r, 0), (int) self->original_count++);
    }
    return 0;
}

//  Does the stored (or earlier) transfer row say what item t asks for?
static bool
s_same (const ledger_row_t *row, const ledger_transfer_t *t)
{
    const char *memo = t->has_memo ? t->memo : NULL;
    const char *reverses = t->reverses[0] ? t->reverses : NULL;
    return strcmp (row->debit, t->debit.name) == 0 && strcmp (row->credit, t->credit.name) == 0
           && row->amount == t->amount && strcmp (row->code, t->code) == 0
           && ((!row->memo && !memo) || (row->memo && memo && strcmp (row->memo, memo) == 0))
           && strcmp (row->kind, t->pending ? "pending" : "posted") == 0
           && row->timeout_s == t->timeout_s
           && ((!row->reverses && !reverses)
               || (row->reverses && reverses && strcmp (row->reverses, reverses) == 0));
}

//  A correction must swap the accounts of a posted transfer and, with the corrections before
//  it, reverse no more than it moved. Returns 0, or -1 with err set.
static int
s_check_reversal (s_apply_t *self, const ledger_transfer_t *t, sq_error_t *err)
{
    int i = s_map_get (&self->original_map, t->reverses);
    s_original_t *o = i < 0 ? NULL : &self->originals[i];
    const char *why = !o ? "it does not exist"
                      : !o->posted ? "it is not posted"
                      : strcmp (o->credit, t->debit.name) || strcmp (o->debit, t->credit.name)
                          ? "a correction moves the money back: its debit is the original's"
                            " credit and its credit the original's debit"
                          : NULL;
    if (why)
        return sq_error_set (err, o ? SQ_ERR_CONFLICT : SQ_ERR_NOT_FOUND, "reverses",
                             "could not create transfer %s reversing %s: %s", t->id,
                             t->reverses, why);
    if (t->amount > o->left)
        return sq_error_set (err, SQ_ERR_CONFLICT, "amount", "could not create transfer %s:"
                             " only %" PRId64 " fen of %s are left to reverse", t->id, o->left,
                             t->reverses);
    return 0;
}

//  Moves the sums in memory: the guarded debit first, refused when the fund is short.
static int
s_move (s_apply_t *self, const ledger_transfer_t *t, sq_error_t *err)
{
    s_account_t *debit = s_account (self, t->debit.name);
    s_account_t *credit = s_account (self, t->credit.name);
    int64_t available = debit->sums[S_CP] + debit->delta[S_CP] - debit->sums[S_DP]
                        - debit->delta[S_DP] - debit->sums[S_DPE] - debit->delta[S_DPE];
    if (t->debit.guarded && available < t->amount)
        return sq_error_set (err, SQ_ERR_CONFLICT, "amount", "could not create transfer %s: %s"
                             " holds %" PRId64 " fen available, %" PRId64 " asked", t->id,
                             t->debit.name, available, t->amount);
    debit->delta[t->pending ? S_DPE : S_DP] += t->amount;
    credit->delta[t->pending ? S_CPE : S_CP] += t->amount;
    debit->used = credit->used = true;
    return 0;
}

//  Fills the row of a transfer this apply creates; seq and hash come later.
static void
s_row_new (s_apply_t *self, size_t i, const ledger_transfer_t *t, ledger_row_t *row)
{
    memset (row, 0, sizeof *row);
    row->id = t->id;
    row->kind = t->pending ? "pending" : "posted";
    row->debit = t->debit.name;
    row->credit = t->credit.name;
    row->amount = t->amount;
    row->code = t->code;
    row->memo = t->has_memo ? t->memo : NULL;
    row->reverses = t->reverses[0] ? t->reverses : NULL;
    row->timeout_s = t->timeout_s;
    row->actor = s_owner (self, i)->actor->id;
}

//  Judges item i against what the database holds and the items before it.
static void
s_judge (s_apply_t *self, size_t i)
{
    const ledger_transfer_t *t = &self->items[i];
    ledger_result_t *r = &self->out->results[i];
    sq_ctx_t *owner = s_owner (self, i);
    //  ledger_may_move refuses through the owner's err, and the refusal is this item's alone:
    //  a command that carries a refusal of its own never reaches the apply.
    assert (!owner->err.code);
    bool may = ledger_may_move (owner, &t->debit, &t->credit);
    r->err = owner->err;
    memset (&owner->err, 0, sizeof owner->err);
    if (!may)
        return;
    memset (&r->err, 0, sizeof r->err);
    int found = s_map_get (&self->found_map, t->id);
    int made = s_map_get (&self->made_map, t->id);
    if (found >= 0 || made >= 0) {
        ledger_row_t row;
        if (found >= 0)
            ledger_row_from (self->out->found, found, &row);
        else
            row = self->out->results[made].row;
        if (s_same (&row, t)) {
            r->outcome = LEDGER_FOUND;
            r->row = row;
            r->same_as = made;
        } else if (found >= 0)
            sq_error_set (&r->err, SQ_ERR_CONFLICT, "id", "could not create transfer %s: the"
                          " id was used for another transfer (seq %" PRId64 ")", t->id,
                          row.seq);
        else
            sq_error_set (&r->err, SQ_ERR_CONFLICT, "id", "could not create transfer %s: the"
                          " id was used for another transfer (transfer %d of this batch)",
                          t->id, made);
        return;
    }
    if ((t->reverses[0] && s_check_reversal (self, t, &r->err)) || s_move (self, t, &r->err))
        return;
    if (t->reverses[0])
        self->originals[s_map_get (&self->original_map, t->reverses)].left -= t->amount;
    r->outcome = LEDGER_CREATED;
    s_row_new (self, i, t, &r->row);
    s_map_put (&self->made_map, t->id, (int) i);
    if (!t->pending) { //  a posted transfer may be corrected by the items after it
        s_original_t *o = &self->originals[self->original_count];
        *o = (s_original_t) {true, t->debit.name, t->credit.name, true, t->amount};
        s_map_put (&self->original_map, t->id, (int) self->original_count++);
    }
}

// ---- writing ---------------------------------------------------------------------------------

//  Numbers, stamps and hashes the created rows after the tail.
static void
s_chain (s_apply_t *self)
{
    int64_t now = sq_now_us ();
    int64_t at = now > self->tail_at ? now : self->tail_at;
    uint8_t prev[S_HASH_SIZE], hash[S_HASH_SIZE];
    memcpy (prev, self->tail_hash, S_HASH_SIZE);
    int64_t seq = self->tail_seq;
    for (size_t i = 0; i < self->count; i++) {
        ledger_result_t *r = &self->out->results[i];
        if (r->outcome != LEDGER_CREATED)
            continue;
        r->row.seq = ++seq;
        r->row.created_at = at;
        r->row.expires_at = r->row.timeout_s ? at + r->row.timeout_s * LEDGER_US_PER_S : 0;
        ledger_row_hash (prev, &r->row, hash);
        sodium_bin2hex (r->prev_hash, sizeof r->prev_hash, prev, S_HASH_SIZE);
        sodium_bin2hex (r->row.hash, sizeof r->row.hash, hash, S_HASH_SIZE);
        memcpy (prev, hash, S_HASH_SIZE);
    }
    //  Repeats within the apply point at the row they repeat, now numbered.
    for (size_t i = 0; i < self->count; i++) {
        ledger_result_t *r = &self->out->results[i];
        if (r->outcome == LEDGER_FOUND && r->same_as >= 0)
            r->row = self->out->results[r->same_as].row;
    }
}

//  New accounts, then every moved account's sums in one UPDATE (both deferred).
static int
s_write_accounts (s_apply_t *self)
{
    sq_db_array_t names, kinds, divisions, guarded, sums[S_SUMS];
    sq_db_array_init (&names);
    sq_db_array_init (&kinds);
    sq_db_array_init (&divisions);
    sq_db_array_init (&guarded);
    for (int k = 0; k < S_SUMS; k++)
        sq_db_array_init (&sums[k]);
    for (size_t i = 0; i < self->account_count; i++) {
        const s_account_t *a = &self->accounts[i];
        if (a->used && !a->exists) {
            sq_db_array_add (&names, a->account->name);
            sq_db_array_add (&kinds, ledger_account_kind_name (a->account->kind));
            sq_db_array_add (&divisions, a->account->division);
            sq_db_array_add (&guarded, a->account->guarded ? "t" : "f");
        }
    }
    char now[24];
    snprintf (now, sizeof now, "%" PRId64, sq_now_us ());
    const char *iparams[] = {sq_db_array_text (&names), sq_db_array_text (&kinds),
                             sq_db_array_text (&divisions), sq_db_array_text (&guarded), now};
    int rc = names.count == 0 ? 0 : sq_db_defer (
        self->ctx->db, "INSERT INTO ledger.account (name, kind, division, guarded, created_at)"
        " SELECT u.name, u.kind, u.division, u.guarded, $5::bigint FROM unnest ($1::text[],"
        " $2::text[], $3::text[], $4::boolean[]) AS u (name, kind, division, guarded)", 5,
        iparams, NULL, NULL, &self->ctx->err);
    sq_db_array_destroy (&names);
    for (size_t i = 0; i < self->account_count; i++) {
        const s_account_t *a = &self->accounts[i];
        if (!a->used)
            continue;
        sq_db_array_add (&names, a->account->name);
        for (int k = 0; k < S_SUMS; k++)
            sq_db_array_add_int (&sums[k], a->delta[k]);
    }
    const char *uparams[] = {sq_db_array_text (&names), sq_db_array_text (&sums[S_DP]),
                             sq_db_array_text (&sums[S_CP]), sq_db_array_text (&sums[S_DPE]),
                             sq_db_array_text (&sums[S_CPE])};
    if (rc == 0 && names.count)
        rc = sq_db_defer (
            self->ctx->db, "UPDATE ledger.account a SET debits_posted = a.debits_posted + u.dp,"
            " credits_posted = a.credits_posted + u.cp, debits_pending = a.debits_pending +"
            " u.dpe, credits_pending = a.credits_pending + u.cpe FROM unnest ($1::text[],"
            " $2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[]) AS u (name, dp, cp, dpe,"
            " cpe) WHERE a.name = u.name", 5, uparams, NULL, NULL, &self->ctx->err);
    sq_db_array_destroy (&names);
    sq_db_array_destroy (&kinds);
    sq_db_array_destroy (&divisions);
    sq_db_array_destroy (&guarded);
    for (int k = 0; k < S_SUMS; k++)
        sq_db_array_destroy (&sums[k]);
    return rc;
}

//  Columns of the rows' INSERT, as arrays.
enum { A_SEQ, A_ID, A_KIND, A_DEBIT, A_CREDIT, A_AMOUNT, A_CODE, A_MEMO, A_REVERSES,
       A_TIMEOUT, A_EXPIRES, A_CREATED, A_PREV, A_HASH, A_ACTOR, A_COUNT };

static void
s_add_nullable_int (sq_db_array_t *array, int64_t value)
{
    if (value)
        sq_db_array_add_int (array, value);
    else
        sq_db_array_add (array, NULL);
}

//  A hash (hex) as bytea's hex input, for COPY.
static void
s_copy_hash (sq_db_copy_t *rows, const char *hex)
{
    char text[2 + sizeof ((ledger_row_t *) 0)->hash];
    snprintf (text, sizeof text, "\\x%s", hex);
    sq_db_copy_text (rows, text);
}

static void
s_copy_nullable_int (sq_db_copy_t *rows, int64_t value)
{
    if (value)
        sq_db_copy_int (rows, value);
    else
        sq_db_copy_text (rows, NULL);
}

//  The created rows by COPY: for big batches, a fraction of the INSERT's time.
static int
s_copy_rows (s_apply_t *self)
{
    sq_db_copy_t rows;
    sq_db_copy_init (&rows);
    for (size_t i = 0; i < self->count; i++) {
        const ledger_result_t *r = &self->out->results[i];
        if (r->outcome != LEDGER_CREATED)
            continue;
        const ledger_row_t *row = &r->row;
        sq_db_copy_int (&rows, row->seq);
        sq_db_copy_text (&rows, row->id);
        sq_db_copy_text (&rows, row->kind);
        sq_db_copy_text (&rows, row->debit);
        sq_db_copy_text (&rows, row->credit);
        sq_db_copy_int (&rows, row->amount);
        sq_db_copy_text (&rows, row->code);
        sq_db_copy_text (&rows, row->memo);
        sq_db_copy_text (&rows, row->reverses);
        s_copy_nullable_int (&rows, row->timeout_s);
        s_copy_nullable_int (&rows, row->expires_at);
        sq_db_copy_int (&rows, row->created_at);
        sq_db_copy_text (&rows, row->actor);
        s_copy_hash (&rows, r->prev_hash);
        s_copy_hash (&rows, row->hash);
        sq_db_copy_end_row (&rows);
    }
    int rc = sq_db_copy (self->ctx->db, "COPY ledger.transfer (seq, id, kind, debit, credit,"
                         " amount, code, memo, reverses, timeout_s, expires_at, created_at, actor,"
                         " prev_hash, hash) FROM STDIN", &rows, &self->ctx->err);
    sq_db_copy_destroy (&rows);
    return rc;
}

//  The created rows by one INSERT ... SELECT FROM unnest: one round trip.
static int
s_insert_rows (s_apply_t *self)
{
    sq_db_array_t a[A_COUNT];
    for (int k = 0; k < A_COUNT; k++)
        sq_db_array_init (&a[k]);
    for (size_t i = 0; i < self->count; i++) {
        const ledger_result_t *r = &self->out->results[i];
        if (r->outcome != LEDGER_CREATED)
            continue;
        const ledger_row_t *row = &r->row;
        sq_db_array_add_int (&a[A_SEQ], row->seq);
        sq_db_array_add (&a[A_ID], row->id);
        sq_db_array_add (&a[A_KIND], row->kind);
        sq_db_array_add (&a[A_DEBIT], row->debit);
        sq_db_array_add (&a[A_CREDIT], row->credit);
        sq_db_array_add_int (&a[A_AMOUNT], row->amount);
        sq_db_array_add (&a[A_CODE], row->code);
        sq_db_array_add (&a[A_MEMO], row->memo);
        sq_db_array_add (&a[A_REVERSES], row->reverses);
        s_add_nullable_int (&a[A_TIMEOUT], row->timeout_s);
        s_add_nullable_int (&a[A_EXPIRES], row->expires_at);
        sq_db_array_add_int (&a[A_CREATED], row->created_at);
        sq_db_array_add (&a[A_PREV], r->prev_hash);
        sq_db_array_add (&a[A_HASH], row->hash);
        sq_db_array_add (&a[A_ACTOR], row->actor);
    }
    const char *params[A_COUNT];
    for (int k = 0; k < A_COUNT; k++)
        params[k] = sq_db_array_text (&a[k]);
    int rc = sq_db_exec (
        self->ctx->db, "INSERT INTO ledger.transfer (seq, id, kind, debit, credit, amount,"
        " code, memo, reverses, timeout_s, expires_at, created_at, actor, prev_hash, hash)"
        " SELECT u.seq, u.id, u.kind, u.debit, u.credit, u.amount, u.code, u.memo, u.reverses,"
        " u.timeout_s, u.expires_at, u.created_at, u.actor, decode (u.prev, 'hex'), decode"
        " (u.hash, 'hex') FROM unnest ($1::bigint[], $2::text[], $3::text[], $4::text[],"
        " $5::text[], $6::bigint[], $7::text[], $8::text[], $9::text[], $10::bigint[],"
        " $11::bigint[], $12::bigint[], $13::text[], $14::text[], $15::text[]) AS u (seq, id,"
        " kind, debit, credit, amount, code, memo, reverses, timeout_s, expires_at, created_at,"
        " prev, hash, actor)", A_COUNT, params, &self->ctx->err);
    for (int k = 0; k < A_COUNT; k++)
        sq_db_array_destroy (&a[k]);
    return rc;
}

//  The rows (run now: a failure is this command's), then the pending ones' work list
//  (deferred) and the events (with the transaction's others, before its COMMIT).
static int
s_write_rows (s_apply_t *self)
{
    size_t created = 0;
    for (size_t i = 0; i < self->count; i++)
        created += self->out->results[i].outcome == LEDGER_CREATED;
    if (created == 0)
        return 0;
    int rc = created < LEDGER_COPY_MIN ? s_insert_rows (self) : s_copy_rows (self);
    sq_db_array_t pending_ids, pending_expires;
    sq_db_array_init (&pending_ids);
    sq_db_array_init (&pending_expires);
    for (size_t i = 0; rc == 0 && i < self->count; i++) {
        const ledger_result_t *r = &self->out->results[i];
        if (r->outcome != LEDGER_CREATED)
            continue;
        const ledger_row_t *row = &r->row;
        if (self->items[i].pending) {
            sq_db_array_add (&pending_ids, row->id);
            s_add_nullable_int (&pending_expires, row->expires_at);
        }
        sq_data_t data;
        char div[SQ_DIV_MAX];
        const char *name = ledger_row_event (row, &data, div);
        sq_ctx_emit_data (s_owner (self, i), &data, name, div);
    }
    const char *pparams[] = {sq_db_array_text (&pending_ids),
                             sq_db_array_text (&pending_expires)};
    if (rc == 0 && pending_ids.count)
        rc = sq_db_defer (self->ctx->db, "INSERT INTO ledger.pending_open (id, expires_at)"
                          " SELECT * FROM unnest ($1::text[], $2::bigint[])", 2, pparams, NULL,
                          NULL, &self->ctx->err);
    sq_db_array_destroy (&pending_ids);
    sq_db_array_destroy (&pending_expires);
    return rc;
}

//  Linked and one refused: nothing is created; that one says why, the others that they
//  were linked to it.
static void
s_unlink (ledger_apply_t *out, size_t failed)
{
    for (size_t i = 0; i < out->count; i++) {
        ledger_result_t *r = &out->results[i];
        if (i == failed)
            continue;
        r->outcome = LEDGER_REFUSED;
        memset (&r->err, 0, sizeof r->err);
        sq_error_set (&r->err, SQ_ERR_CONFLICT, "linked", "not created: transfer %zu of the"
                      " linked batch failed", failed);
    }
    out->created = out->found_count = 0;
    out->failed = failed;
}

int
ledger_apply (sq_ctx_t *ctx, sq_ctx_t *const *item_ctx, const ledger_transfer_t *items,
              size_t count, bool linked, ledger_apply_t *out)
{
    memset (out, 0, sizeof *out);
    out->count = out->failed = count;
    out->results = calloc (count ? count : 1, sizeof *out->results);
    assert (out->results);
    if (count == 0)
        return 0; //  nothing to judge: no lock, no reads
    s_apply_t self = {.ctx = ctx, .item_ctx = item_ctx, .items = items, .count = count,
                      .out = out};
    s_accounts_collect (&self);
    s_map_init (&self.made_map, count);
    int rc = ledger_chain_lock (ctx) || s_read_accounts_and_tail (&self) || s_read_found (&self)
                     || s_read_originals (&self) ? -1 : 0;
    size_t failed = count;
    for (size_t i = 0; rc == 0 && i < count && failed == count; i++) {
        out->results[i].same_as = -1;
        s_judge (&self, i);
        switch (out->results[i].outcome) {
        case LEDGER_CREATED: out->created++; break;
        case LEDGER_FOUND: out->found_count++; break;
        case LEDGER_REFUSED: failed = linked ? i : count; break;
        }
    }
    if (rc == 0 && failed < count)
        s_unlink (out, failed);
    else if (rc == 0 && out->created) {
        s_chain (&self);
        rc = s_write_accounts (&self) || s_write_rows (&self) ? -1 : 0;
    }
    free (self.accounts);
    free (self.originals);
    s_map_free (&self.account_map);
    s_map_free (&self.made_map);
    if (self.found_map.keys)
        s_map_free (&self.found_map);
    if (self.original_map.keys)
        s_map_free (&self.original_map);
    return rc;
}

void
ledger_apply_free (ledger_apply_t *self)
{
    free (self->results);
    PQclear (self->found);
    PQclear (self->originals);
    memset (self, 0, sizeof *self);
}
