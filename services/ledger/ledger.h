/*  ledger: the service's shared declarations (issue 5; DOMAIN.md section 5). Accounts named
    by convention and created on first use, immutable transfers in a hash chain, pending
    transfers with timeouts, audit. Commands and events: services/ledger/README.md. */
#ifndef LEDGER_H
#define LEDGER_H

#include "profiles.h"
#include "shequ.h"
#include "sq_service.h"

#include <stdbool.h>
#include <stdint.h>

#define LEDGER_ACCOUNT_MAX 160             //  bytes of an account name
#define LEDGER_DEPARTMENT_MAX 120          //  bytes of a department's name in its account
#define LEDGER_ID_MAX (SQ_TEXT_ID_MAX - 1) //  bytes of a transfer id
#define LEDGER_CODE_MAX 32                 //  bytes of a transfer code
#define LEDGER_MEMO_MAX 500                //  bytes of a memo
#define LEDGER_AMOUNT_MAX INT64_C (10000000000000) //  10^13 fen (10^11 yuan) per transfer
#define LEDGER_TIMEOUT_S_MAX (366 * 86400)  //  a pending transfer waits a year at most
#define LEDGER_BATCH_MAX 8000              //  transfers of one transfer.create_batch
#define LEDGER_CONCURRENCY_DEFAULT 64      //  worker sockets (service.c says why so many)
#define LEDGER_COPY_MIN 256                //  transfers an apply writes by COPY rather than INSERT
#define LEDGER_TRANSFER_PAGE_SIZE 100      //  rows per page of transfer.list
#define LEDGER_ACCOUNT_PAGE_SIZE 500       //  rows per page of account.list
#define LEDGER_PAGE_MAX 1000000            //  highest page number asked for
#define LEDGER_SWEEP_BATCH_MAX 1000        //  expired transfers voided per sweep round
#define LEDGER_AUDIT_MISMATCH_MAX 10       //  accounts listed by audit.verify when wrong
#define LEDGER_TIME_MAX INT64_C (4102444800000000) //  2100-01-01, in microseconds
#define LEDGER_US_PER_S INT64_C (1000000)
#define LEDGER_COMMUNITIES_MAX 10000       //  communities of one budget (a city has ~4,000)
#define LEDGER_SYNC_CALLS_MAX 2000         //  registry calls to learn a division's communities
#define LEDGER_FALLBACK_CALLS_MAX 1000     //  stats.get calls when the local counts lag
#define LEDGER_CATCHUP_WAIT_MS 3000        //  a budget waits this long for registry events
#define LEDGER_CATCHUP_POLL_MS 10          //  and looks this often
#define LEDGER_BUDGET_PAGE_SIZE 500        //  communities per page of budget.compute
#define LEDGER_YEAR_MIN 2000
#define LEDGER_YEAR_MAX 2099
#define LEDGER_STATEMENT_ROWS_MAX 5000     //  (fund, counterpart) rows of one statement
#define LEDGER_APPLY_TARGETS_MAX 20000     //  pending transfers voided for one application

//  What an account is, from its name (ledger_account_parse).
typedef enum {
    LEDGER_ACCOUNT_TREASURY = 0, //  treasury:<city or district code>
    LEDGER_ACCOUNT_COMMUNITY,    //  community:<12-digit code>:<fund>, guarded
    LEDGER_ACCOUNT_DEPARTMENT,   //  department:<name>, no division
    LEDGER_ACCOUNT_EXPENSE,      //  expense:<12-digit code>:<category>
    LEDGER_ACCOUNT_KIND_COUNT
} ledger_account_kind_t;

typedef struct {
    char name[LEDGER_ACCOUNT_MAX + 1]; //  the whole name
    ledger_account_kind_t kind;
    char division[SQ_DIV_MAX];         //  the division it belongs to; "" for departments
    bool guarded;                      //  may never go below zero (community funds)
} ledger_account_t;

//  A transfer as asked for by transfer.create (one item of transfer.create_batch).
typedef struct {
    char id[LEDGER_ID_MAX + 1];              //  chosen by the caller
    ledger_account_t debit;                  //  money leaves this account
    ledger_account_t credit;                 //  and arrives in this one
    int64_t amount;                          //  fen, > 0
    char code[LEDGER_CODE_MAX + 1];          //  why, e.g. "appropriation"
    char memo[LEDGER_MEMO_MAX + 1];          //  free text
    bool has_memo;                           //  memo given
    bool pending;                            //  reserve now, post or void later
    int64_t timeout_s;                       //  pending only: 0 waits forever
    char reverses[LEDGER_ID_MAX + 1];        //  id of the transfer it corrects; "" none
} ledger_transfer_t;

void ledger_service_config (sq_service_config_t *config);

//  A community's figures as a budget uses them (counts.c).
typedef struct {
    char code[SQ_DIV_MAX];   //  12-digit division code
    char kind[24];           //  urban_community, rural_community or village
    int64_t residents;       //  active residents, every residency
    int64_t party_members;
    int64_t households;
} ledger_count_t;

//  The communities of a division with their figures, in code order (counts.c).
typedef struct {
    ledger_count_t *items;   //  owned; ledger_counts_free
    size_t count;
    const char *source;      //  "events" (the local copy) or "registry" (stats.get) (static)
    int64_t registry_seq;    //  registry events applied ("events") or seen ("registry")
} ledger_counts_t;

//  Loads the communities of division (4, 6 or 9 digits) as counted now: fetches kinds from
//  the registry at the division's first use, and, when the local copy lags the registry's
//  stream for longer than LEDGER_CATCHUP_WAIT_MS, asks the registry's stats.get per
//  community. Calls other services: run it before writing. Returns 0, or -1 with ctx->err.
int ledger_counts_load (sq_ctx_t *ctx, const char *division, ledger_counts_t *out);
void ledger_counts_free (ledger_counts_t *counts);

//  A row of the chain as a reply or an event shows it. Strings are borrowed (from the
//  transfer asked for, or a PGresult); NULL is nil.
typedef struct {
    int64_t seq, amount, created_at;
    int64_t timeout_s, expires_at; //  0: none
    const char *id, *kind, *pending_id, *debit, *credit, *code, *memo, *reverses, *actor;
    char hash[65];                 //  hex
} ledger_row_t;

typedef enum { LEDGER_REFUSED = 0, LEDGER_CREATED, LEDGER_FOUND } ledger_outcome_t;

//  What became of one transfer of an apply.
typedef struct {
    ledger_outcome_t outcome;
    sq_error_t err;               //  refused: why
    ledger_row_t row;             //  created, or found (the first creation of its id)
    char prev_hash[65];           //  created: the hash it links to (hex)
    int same_as;                  //  found: the earlier item of this apply it repeats, or -1
} ledger_result_t;

typedef struct {
    size_t count;                 //  transfers asked for
    ledger_result_t *results;     //  one each, in order
    size_t created, found_count;  //  outcomes
    size_t failed;                //  linked and refused: the refusal that undid all; or count
    PGresult *found, *originals;  //  rows the results borrow from
} ledger_apply_t;

//  Creates transfers (apply.c): each is judged in order as if alone, and those not refused
//  are written with a few set-based statements. linked: one refusal refuses all. item_ctx:
//  NULL when every item is ctx's command's, else the command of each item (its actor, corr
//  and request id: a group of transfer.create). Takes the chain lock. Returns 0 with out
//  filled (ledger_apply_free it; the rows borrow from items, which must outlive it), or -1
//  with ctx->err when the database failed.
int ledger_apply (sq_ctx_t *ctx, sq_ctx_t *const *item_ctx, const ledger_transfer_t *items,
                  size_t count, bool linked, ledger_apply_t *out);
void ledger_apply_free (ledger_apply_t *self);

//  Creates one transfer, or finds its first creation, and packs its row into pk unless NULL.
//  Returns 1 created, 0 found, -1 refused with err set or the database failed (ctx->err).
int ledger_transfer_make (sq_ctx_t *ctx, const ledger_transfer_t *t, msgpack_packer *pk,
                          sq_error_t *err);

//  Replies with one transfer (transfer.create, expense.record): packs it into ctx->pk, or
//  fails with its error. Returns the handler's result.
int ledger_transfer_reply (sq_ctx_t *ctx, const ledger_transfer_t *t);

//  Rows: from a result of LEDGER_TRANSFER_COLUMNS (borrowing its strings), as a reply map,
//  as an event (fills data, div; returns the event's name), and the chain's hash: SHA-256
//  over prev and the JSON text of the row's fields exactly as the SQL transfer_hash spells
//  it (ledger_row_json), so that audit.verify can recompute it in the database.
void ledger_row_from (const PGresult *res, int row, ledger_row_t *out);
void ledger_row_pack (msgpack_packer *pk, const ledger_row_t *row);
const char *ledger_row_event (const ledger_row_t *row, sq_data_t *data, char div[SQ_DIV_MAX]);
void ledger_row_json (const ledger_row_t *row, msgpack_sbuffer *buf);
void ledger_row_hash (const uint8_t prev[32], const ledger_row_t *row, uint8_t out[32]);

//  Posts (post) or voids a pending transfer, with memo for the ending row (NULL: the pending
//  transfer's). Ending it again the same way returns the first end. Returns the ending row,
//  or NULL with err set (not_found, conflict) or ctx->err. Hold the chain lock.
PGresult *ledger_transfer_end (sq_ctx_t *ctx, const char *id, bool post, const char *memo,
                               sq_error_t *err);

//  Parses an account name into out; pure. Returns 0, or -1 with err set (`invalid`, naming
//  field) saying what is wrong with it.
int ledger_account_parse (const char *name, const char *field, ledger_account_t *out,
                          sq_error_t *err);
const char *ledger_account_kind_name (ledger_account_kind_t kind);

//  Spending categories of expense accounts, NULL-terminated (account.c).
#define LEDGER_CATEGORY_COUNT 7
extern const char *const ledger_categories[LEDGER_CATEGORY_COUNT + 1];

//  Reads a transfer from map (a transfer.create args map or a batch item); checks every
//  field. Returns 0, or -1 with err set naming the field.
int ledger_transfer_read (const msgpack_object *map, ledger_transfer_t *out, sq_error_t *err);

//  True when the actor may move money between the two accounts; otherwise sets ctx->err
//  (`forbidden`) and returns false.
bool ledger_may_move (sq_ctx_t *ctx, const ledger_account_t *debit,
                      const ledger_account_t *credit);

//  Reads an account argument, checks that the actor may read it. Returns 0 or -1.
int ledger_read_account (sq_ctx_t *ctx, const char *field, ledger_account_t *out);

//  Takes the chain's lock for the rest of the transaction (chain.c explains why). Deferred:
//  it rides with the next statement, which reports its failure. Returns 0 or -1 with
//  ctx->err set.
int ledger_chain_lock (sq_ctx_t *ctx);

//  Appends one row to the chain and returns it (columns LEDGER_TRANSFER_COLUMNS; the caller
//  PQclear()s it), or NULL with ctx->err set. id and pending_id: exactly one is non-NULL;
//  memo and reverses may be NULL; timeout_s 0 for none.
PGresult *ledger_chain_append (sq_ctx_t *ctx, const char *id, const char *kind,
                               const char *pending_id, const char *debit, const char *credit,
                               int64_t amount, const char *code, const char *memo,
                               const char *reverses, int64_t timeout_s);

//  The columns every query of transfers returns, in the order ledger_pack_transfer reads.
#define LEDGER_TRANSFER_COLUMNS                                                               \
    "seq, id, kind, pending_id, debit, credit, amount, code, memo, reverses, timeout_s,"     \
    " expires_at, created_at, actor, encode (hash, 'hex')"

//  Packs row of res (LEDGER_TRANSFER_COLUMNS) as one map.
void ledger_pack_transfer (msgpack_packer *pk, const PGresult *res, int row);

//  Packs the value of a nullable text column, or nil.
void ledger_pack_text (msgpack_packer *pk, const PGresult *res, int row, int column);

//  The division an event about a transfer between the two accounts is published under:
//  the more specific of the two (a community before its district); "" for departments.
void ledger_event_div (const char *debit, const char *credit, char out[SQ_DIV_MAX]);

//  transfer.create of several clients in one group commit: one apply for all of them.
int ledger_transfer_create_group (sq_ctx_t *ctxs, int count);

sq_handler_fn ledger_transfer_create, ledger_transfer_create_batch, ledger_transfer_post,
    ledger_transfer_void, ledger_transfer_list;
sq_handler_fn ledger_account_get, ledger_account_list;
sq_handler_fn ledger_audit_verify;
sq_handler_fn ledger_expire; //  sweep
sq_handler_fn ledger_budget_compute, ledger_budget_appropriate;
sq_handler_fn ledger_expense_record, ledger_statement_get;
sq_event_fn ledger_registry_apply;  //  consumer of stream registry (counts.c)
sq_event_fn ledger_admission_apply; //  consumer of stream admission (follow.c)

#endif
