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
#define LEDGER_TRANSFER_PAGE_SIZE 100      //  rows per page of transfer.list
#define LEDGER_ACCOUNT_PAGE_SIZE 500       //  rows per page of account.list
#define LEDGER_PAGE_MAX 1000000            //  highest page number asked for
#define LEDGER_SWEEP_BATCH_MAX 1000        //  expired transfers voided per sweep round
#define LEDGER_AUDIT_MISMATCH_MAX 10       //  accounts listed by audit.verify when wrong
#define LEDGER_TIME_MAX INT64_C (4102444800000000) //  2100-01-01, in microseconds
#define LEDGER_US_PER_S INT64_C (1000000)

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

//  Parses an account name into out; pure. Returns 0, or -1 with err set (`invalid`, naming
//  field) saying what is wrong with it.
int ledger_account_parse (const char *name, const char *field, ledger_account_t *out,
                          sq_error_t *err);
const char *ledger_account_kind_name (ledger_account_kind_t kind);

//  Reads a transfer from map (a transfer.create args map or a batch item); checks every
//  field. Returns 0, or -1 with err set naming the field.
int ledger_transfer_read (const msgpack_object *map, ledger_transfer_t *out, sq_error_t *err);

//  True when the actor may move money between the two accounts; otherwise sets ctx->err
//  (`forbidden`) and returns false.
bool ledger_may_move (sq_ctx_t *ctx, const ledger_account_t *debit,
                      const ledger_account_t *credit);

//  Reads an account argument, checks that the actor may read it. Returns 0 or -1.
int ledger_read_account (sq_ctx_t *ctx, const char *field, ledger_account_t *out);

//  Takes the chain's lock for the rest of the transaction (chain.c explains why). Returns 0
//  or -1 with ctx->err set.
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

//  Packs the value of a nullable column: text, integer or nil.
void ledger_pack_text (msgpack_packer *pk, const PGresult *res, int row, int column);
void ledger_pack_int (msgpack_packer *pk, const PGresult *res, int row, int column);

//  The division an event about a transfer between the two accounts is published under:
//  the more specific of the two (a community before its district); "" for departments.
void ledger_event_div (const char *debit, const char *credit, char out[SQ_DIV_MAX]);

sq_handler_fn ledger_transfer_create, ledger_transfer_create_batch, ledger_transfer_post,
    ledger_transfer_void, ledger_transfer_list;
sq_handler_fn ledger_account_get, ledger_account_list;
sq_handler_fn ledger_audit_verify;
sq_handler_fn ledger_expire; //  sweep

#endif
