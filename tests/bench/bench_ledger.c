/*  bench_ledger: transfers per second through the ledger on this machine, side by side with
    bare PostgreSQL doing the same transactions with the same clients, measured in the same
    run (issue 5, section "Benchmark"; README.md beside this file explains every figure).

    Set-up: a fresh database, the bus in-process, the real shequ-ledger binary, 50 guarded
    community fund accounts funded from a district treasury by one batch, and a bare schema
    of two tables for PostgreSQL alone. Then transfer.create with 20 clients between two bare
    runs of the same transaction on 20 connections; transfer.create_batch with 1 and with 2
    clients, each between two bare set-based runs of as many transfers a transaction; and
    last the checks: audit.verify, the transfers in the ledger against the ok replies
    counted, the money in the accounts against what was funded. It prints what it measured
    and exits 0 whatever the figures are; 1 only when the set-up failed, 2 on a bad option. */
#include "bench_util.h"
#include "sq_json.h"
#include "sq_test.h"

#include <assert.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_BATCH_DEFAULT 8000         //  --batch: transfers per create_batch (the ledger's most)
#define S_BATCH_MAX 8000             //  the contract's limit of transfer.create_batch
#define S_CLIENTS_SINGLE 20          //  issue 5: transfer.create with 20 clients
#define S_BATCH_RUNS 2               //  create_batch from 1 client, then from 2
#define S_ACCOUNTS 50                //  issue 5: over 50 accounts
#define S_DISTRICT "131002"          //  安次区: the accounts are funds of its communities
#define S_FUND "work"                //  the fund of each community that is used
#define S_FUNDING_FEN INT64_C (10000000000) //  each account's funding: 10^8 yuan, far above
                                     //  any random walk of a run, so no transfer lacks funds
#define S_AMOUNT_MAX 100             //  fen per transfer: 1 to this
#define S_CODE "bench"               //  code of the measured transfers
#define S_NAME_MAX 64                //  bytes of an account name here (27 in use)
#define S_ID_MAX 32                  //  bytes of a transfer id here
#define S_LINE_MAX 512               //  a line of divisions.csv
#define S_CALL_TIMEOUT_MS 10000      //  a transfer.create without a reply by then: timeout
#define S_BATCH_TIMEOUT_MS 120000    //  a whole batch without a reply by then: timeout
#define S_VERIFY_TIMEOUT_MS 600000   //  audit.verify recomputes every hash
#define S_STOP_TIMEOUT_MS 15000      //  the ledger stops within this after SIGTERM
#define S_STATEMENTS_MAX 5           //  statements of one bare pipeline
#define S_AMOUNT_DIGITS 24           //  a decimal int64 with its separator
#define S_TARGET_SINGLE 8000.0       //  issue 5: single transfers per second
#define S_TARGET_BATCH 80000.0       //  issue 5: batched transfers per second

// ---- the bench's state ---------------------------------------------------------------------

//  What the checks after the runs found.
typedef struct {
    bool audited;                    //  audit.verify answered
    bool ok, balanced;               //  its verdicts
    int64_t transfers, tail_seq;     //  rows of the chain
    int64_t accounts;                //  accounts it summed
    char broken[BENCH_TEXT_MAX];     //  its "broken" as JSON ("null" when whole)
    char mismatched[BENCH_TEXT_MAX]; //  its "mismatched" as JSON
    uint64_t expected;               //  funding + ok units counted in every ledger run
    uint64_t not_ok;                 //  ledger requests without an ok reply, whole runs
    bool balances_read;              //  account.get answered for every account
    int64_t held;                    //  the sum of the 50 balances
    int64_t lowest;                  //  the lowest of them
    int64_t treasury;                //  the treasury's balance
    char why[2 * BENCH_TEXT_MAX];    //  what stopped a check, "" when none
} s_check_t;

typedef struct {
    int seconds;                          //  measured window of each figure
    int batch_size;                       //  transfers per batch (--batch)
    bench_stack_t stack;                  //  database, bus, shequ-ledger, set-up client
    char accounts[S_ACCOUNTS][S_NAME_MAX]; //  community:<code>:work
    char treasury[S_NAME_MAX];            //  treasury:<district>, their source
    atomic_uint_fast64_t next_transfer;   //  ids "t-<n>", unique over the whole bench
    bench_facts_t facts;
    bench_result_t single;                //  transfer.create, 20 clients
    bench_result_t bare_single[3];        //  before, after, mean
    bench_result_t batch[S_BATCH_RUNS];   //  create_batch, [i]: i + 1 clients
    bench_result_t bare_batch[S_BATCH_RUNS][3]; //  before, after, mean
    s_check_t check;
} s_bench_t;

enum { S_BEFORE, S_AFTER, S_MEAN };

// ---- transfers -----------------------------------------------------------------------------

//  A random transfer between two different accounts of the 50, small enough never to lack
//  funds: debit and credit are indexes into bench->accounts.
static void
s_pick (bench_client_t *client, int *debit, int *credit, int64_t *amount)
{
    uint64_t r = bench_random (client);
    *debit = (int) (r % S_ACCOUNTS);
    *credit = (int) ((uint64_t) *debit + 1 + (r / S_ACCOUNTS) % (S_ACCOUNTS - 1)) % S_ACCOUNTS;
    *amount = 1 + (int64_t) ((r >> 32) % S_AMOUNT_MAX);
}

//  Packs one transfer map of transfer.create's arguments.
static void
s_pack_transfer (msgpack_packer *pk, const char *id, const char *debit, const char *credit,
                 int64_t amount, const char *code)
{
    msgpack_pack_map (pk, 5);
    sq_pack_kv_str (pk, "id", id);
    sq_pack_kv_str (pk, "debit", debit);
    sq_pack_kv_str (pk, "credit", credit);
    sq_pack_kv_int (pk, "amount", amount);
    sq_pack_kv_str (pk, "code", code);
}

//  Packs the next random transfer with a fresh id.
static void
s_pack_random (msgpack_packer *pk, bench_client_t *client)
{
    s_bench_t *bench = client->plan->user;
    int debit, credit;
    int64_t amount;
    s_pick (client, &debit, &credit, &amount);
    char id[S_ID_MAX];
    snprintf (id, sizeof id, "t-%" PRIu64, atomic_fetch_add (&bench->next_transfer, 1));
    s_pack_transfer (pk, id, bench->accounts[debit], bench->accounts[credit], amount, S_CODE);
}

//  Reads an ok create_batch reply: its created items are the op's units, its refused ones
//  are counted by code. Returns the reply's outcome.
static bench_outcome_t
s_batch_reply (bench_client_t *client, const void *raw, size_t size, size_t count)
{
    char why[BENCH_TEXT_MAX];
    sq_doc_t *doc = sq_doc_new (raw, size, why, sizeof why);
    const msgpack_object *result = doc ? bench_reply_result (doc, why, sizeof why) : NULL;
    if (!result) {
        sq_doc_destroy (&doc);
        return bench_reply_outcome (raw, size, NULL, 0);
    }
    int64_t created = bench_int (result, "created"), failed = bench_int (result, "failed");
    const msgpack_object *results = sq_obj_get (result, "results");
    bench_outcome_t outcome = BENCH_OK;
    if (created < 0 || failed < 0 || (size_t) (created + failed) != count || !results
        || results->type != MSGPACK_OBJECT_ARRAY || results->via.array.size != count) {
        bench_note (BENCH_MALFORMED, "create_batch reply without one result per transfer");
        outcome = BENCH_MALFORMED;
    }
    client->units = outcome == BENCH_OK ? (uint64_t) created : 0;
    for (size_t i = 0; outcome == BENCH_OK && failed > 0 && i < count; i++) {
        const msgpack_object *item = &results->via.array.ptr[i];
        const msgpack_object *ok = sq_obj_get (item, "ok");
        if (ok && ok->type == MSGPACK_OBJECT_BOOLEAN && ok->via.boolean)
            continue;
        const msgpack_object *error = sq_obj_get (item, "error");
        char code[32] = "", message[BENCH_TEXT_MAX] = "";
        sq_obj_str_copy (sq_obj_get (error, "code"), code, sizeof code);
        sq_obj_str_copy (sq_obj_get (error, "message"), message, sizeof message);
        bench_outcome_t kind = bench_outcome_of_code (code);
        bench_note (kind, message);
        client->refused[kind]++;
    }
    sq_doc_destroy (&doc);
    return outcome;
}

// ---- loads: the ledger through the bus -----------------------------------------------------

//  One transfer.create of a random transfer, as an operator of the whole platform.
static bench_outcome_t
s_single_op (bench_client_t *self)
{
    msgpack_sbuffer args, body;
    msgpack_sbuffer_init (&args);
    msgpack_sbuffer_init (&body);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &args, msgpack_sbuffer_write);
    s_pack_random (&pk, self);
    bench_request_pack (&body, "transfer.create", args.data, args.size, "operator", "", NULL);
    bench_outcome_t outcome = bench_mdp_call (self->handle, "ledger", &body, S_CALL_TIMEOUT_MS);
    msgpack_sbuffer_destroy (&args);
    msgpack_sbuffer_destroy (&body);
    return outcome;
}

//  One transfer.create_batch of bench->batch_size random transfers, not linked.
static bench_outcome_t
s_batch_op (bench_client_t *self)
{
    s_bench_t *bench = self->plan->user;
    msgpack_sbuffer args, body;
    msgpack_sbuffer_init (&args);
    msgpack_sbuffer_init (&body);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &args, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, 2);
    sq_pack_str (&pk, "transfers");
    msgpack_pack_array (&pk, (size_t) bench->batch_size);
    for (int i = 0; i < bench->batch_size; i++)
        s_pack_random (&pk, self);
    sq_pack_kv_bool (&pk, "linked", false);
    bench_request_pack (&body, "transfer.create_batch", args.data, args.size, "operator", "",
                        NULL);
    msgpack_sbuffer_destroy (&args);
    size_t size = 0;
    bench_outcome_t outcome;
    void *reply =
        bench_mdp_request (self->handle, "ledger", &body, S_BATCH_TIMEOUT_MS, &size, &outcome);
    msgpack_sbuffer_destroy (&body);
    if (reply)
        outcome = s_batch_reply (self, reply, size, (size_t) bench->batch_size);
    free (reply);
    return outcome;
}

static const bench_load_t s_load_single = {"transfer.create via bus", bench_mdp_open,
                                           s_single_op, bench_mdp_close};
static const bench_load_t s_load_batch = {"transfer.create_batch via bus", bench_mdp_open,
                                          s_batch_op, bench_mdp_close};

// ---- loads: bare PostgreSQL, the same transactions -----------------------------------------

//  One statement of a pipeline: prepared (name) or not (sql), with its text parameters.
typedef struct {
    const char *name;            //  prepared statement, or NULL
    const char *sql;             //  text when name is NULL
    int count;                   //  parameters
    const char *const *params;
} s_statement_t;

//  Sends the statements and a sync in pipeline mode (one round trip, one commit) and reads
//  every result. Returns BENCH_OK or BENCH_FAILED with the first error noted; a failed
//  transaction is rolled back.
static bench_outcome_t
s_pipeline (PGconn *conn, const s_statement_t *statements, int count)
{
    assert (count <= S_STATEMENTS_MAX);
    bool sent = PQenterPipelineMode (conn) == 1;
    for (int i = 0; sent && i < count; i++) {
        const s_statement_t *s = &statements[i];
        sent = s->name ? PQsendQueryPrepared (conn, s->name, s->count, s->params, NULL, NULL, 0)
                       : PQsendQueryParams (conn, s->sql, s->count, NULL, s->params, NULL,
                                            NULL, 0);
    }
    sent = sent && PQpipelineSync (conn) == 1;
    bench_outcome_t outcome = sent ? BENCH_OK : BENCH_FAILED;
    for (int i = 0; sent && i < count; i++) {
        PGresult *res = PQgetResult (conn);
        ExecStatusType status = res ? PQresultStatus (res) : PGRES_FATAL_ERROR;
        if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK && outcome == BENCH_OK) {
            outcome = BENCH_FAILED;
            bench_note (BENCH_FAILED, res ? PQresultErrorMessage (res) : PQerrorMessage (conn));
        }
        PQclear (res);
        PQclear (PQgetResult (conn)); //  the NULL that ends each statement's results
    }
    PGresult *sync = sent ? PQgetResult (conn) : NULL;
    PQclear (sync);
    if (PQexitPipelineMode (conn) != 1 || !sent) {
        bench_note (BENCH_FAILED, PQerrorMessage (conn));
        return BENCH_FAILED;
    }
    //  NB: an error inside BEGIN ... COMMIT leaves the transaction open and failed.
    if (PQtransactionStatus (conn) == PQTRANS_INERROR)
        PQclear (PQexecParams (conn, "ROLLBACK", 0, NULL, NULL, NULL, NULL, 0));
    return outcome;
}

static int
s_bare_open (bench_client_t *self)
{
    s_bench_t *bench = self->plan->user;
    if (bench_pg_open (self, bench->stack.conninfo))
        return -1;
    return bench_pg_prepare (self, "debit", "UPDATE bare.account SET debits = debits"
                             " + $2::bigint WHERE name = $1", 2)
           || bench_pg_prepare (self, "credit", "UPDATE bare.account SET credits = credits"
                                " + $2::bigint WHERE name = $1", 2)
           || bench_pg_prepare (self, "transfer", "INSERT INTO bare.transfer (debit, credit,"
                                " amount, code) VALUES ($1, $2, $3::bigint, '" S_CODE "')", 3)
           || bench_pg_prepare (self, "lock", "SELECT name FROM bare.account WHERE name"
                                " = ANY ($1::text[]) ORDER BY name FOR UPDATE", 1)
           || bench_pg_prepare (self, "deltas", "UPDATE bare.account AS a SET debits = a.debits"
                                " + d.debits, credits = a.credits + d.credits FROM unnest"
                                " ($1::text[], $2::bigint[], $3::bigint[]) AS d (name, debits,"
                                " credits) WHERE a.name = d.name", 3)
           || bench_pg_prepare (self, "transfers", "INSERT INTO bare.transfer (debit, credit,"
                                " amount, code) SELECT d, c, m, '" S_CODE "' FROM unnest"
                                " ($1::text[], $2::text[], $3::bigint[]) AS t (d, c, m)", 3)
               ? -1
               : 0;
}

//  BEGIN; the debit's and the credit's UPDATE; the transfer's INSERT; COMMIT — in one
//  pipeline. The two rows are locked in name order, as they must be by any two
//  transactions that are never to deadlock.
static bench_outcome_t
s_bare_single_op (bench_client_t *self)
{
    s_bench_t *bench = self->plan->user;
    int debit, credit;
    int64_t amount;
    s_pick (self, &debit, &credit, &amount);
    char fen[S_AMOUNT_DIGITS];
    snprintf (fen, sizeof fen, "%" PRId64, amount);
    const char *debit_params[] = {bench->accounts[debit], fen};
    const char *credit_params[] = {bench->accounts[credit], fen};
    const char *row[] = {bench->accounts[debit], bench->accounts[credit], fen};
    s_statement_t debit_update = {"debit", NULL, 2, debit_params};
    s_statement_t credit_update = {"credit", NULL, 2, credit_params};
    bool debit_first = strcmp (bench->accounts[debit], bench->accounts[credit]) < 0;
    s_statement_t statements[] = {{NULL, "BEGIN", 0, NULL},
                                  debit_first ? debit_update : credit_update,
                                  debit_first ? credit_update : debit_update,
                                  {"transfer", NULL, 3, row},
                                  {NULL, "COMMIT", 0, NULL}};
    return s_pipeline (self->handle, statements,
                       (int) (sizeof statements / sizeof statements[0]));
}

//  A text array literal being written: {a,b,c}. Sized by its maker; writing past the size is
//  a programmer error.
typedef struct {
    char *data;
    size_t used, size;
} s_array_t;

static void
s_array_add (s_array_t *self, const char *item)
{
    size_t len = strlen (item);
    assert (self->used + len + 2 < self->size);
    char separator = self->used == 0 ? '{' : ',';
    self->data[self->used++] = separator;
    memcpy (self->data + self->used, item, len);
    self->used += len;
    self->data[self->used] = 0;
}

static const char *
s_array_end (s_array_t *self)
{
    assert (self->used + 2 < self->size);
    if (self->used == 0)
        self->data[self->used++] = '{';
    self->data[self->used++] = '}';
    self->data[self->used] = 0;
    return self->data;
}

//  The batch's arrays: debits, credits and amounts per transfer, and per touched account
//  the sums it gains (names, debits, credits).
typedef struct {
    s_array_t debit, credit, amount, name, debits, credits;
} s_bare_batch_t;

static int
s_bare_batch_new (s_bare_batch_t *self, size_t transfers)
{
    s_array_t *arrays[] = {&self->debit, &self->credit, &self->amount,
                           &self->name, &self->debits, &self->credits};
    size_t items[] = {transfers, transfers, transfers, S_ACCOUNTS, S_ACCOUNTS, S_ACCOUNTS};
    size_t width[] = {S_NAME_MAX, S_NAME_MAX, S_AMOUNT_DIGITS,
                      S_NAME_MAX, S_AMOUNT_DIGITS, S_AMOUNT_DIGITS};
    int rc = 0;
    for (size_t i = 0; i < sizeof arrays / sizeof arrays[0]; i++) {
        arrays[i]->size = items[i] * (width[i] + 1) + 3;
        arrays[i]->used = 0;
        arrays[i]->data = malloc (arrays[i]->size);
        rc |= arrays[i]->data ? 0 : -1;
    }
    return rc;
}

static void
s_bare_batch_destroy (s_bare_batch_t *self)
{
    s_array_t *arrays[] = {&self->debit, &self->credit, &self->amount,
                           &self->name, &self->debits, &self->credits};
    for (size_t i = 0; i < sizeof arrays / sizeof arrays[0]; i++)
        free (arrays[i]->data);
}

//  Fills the arrays with bench->batch_size random transfers and their sums per account.
static void
s_bare_batch_fill (bench_client_t *client, s_bare_batch_t *self)
{
    s_bench_t *bench = client->plan->user;
    int64_t debits[S_ACCOUNTS] = {0}, credits[S_ACCOUNTS] = {0};
    char fen[S_AMOUNT_DIGITS];
    for (int i = 0; i < bench->batch_size; i++) {
        int debit, credit;
        int64_t amount;
        s_pick (client, &debit, &credit, &amount);
        snprintf (fen, sizeof fen, "%" PRId64, amount);
        s_array_add (&self->debit, bench->accounts[debit]);
        s_array_add (&self->credit, bench->accounts[credit]);
        s_array_add (&self->amount, fen);
        debits[debit] += amount;
        credits[credit] += amount;
    }
    for (int a = 0; a < S_ACCOUNTS; a++) {
        if (debits[a] == 0 && credits[a] == 0)
            continue;
        s_array_add (&self->name, bench->accounts[a]);
        snprintf (fen, sizeof fen, "%" PRId64, debits[a]);
        s_array_add (&self->debits, fen);
        snprintf (fen, sizeof fen, "%" PRId64, credits[a]);
        s_array_add (&self->credits, fen);
    }
}

//  bench->batch_size transfers in one transaction, set-based: lock the touched accounts in
//  name order, one UPDATE of them all from the summed deltas, one INSERT of every row from
//  the arrays — in one pipeline.
static bench_outcome_t
s_bare_batch_op (bench_client_t *self)
{
    s_bench_t *bench = self->plan->user;
    s_bare_batch_t arrays;
    if (s_bare_batch_new (&arrays, (size_t) bench->batch_size)) {
        s_bare_batch_destroy (&arrays);
        bench_note (BENCH_FAILED, "out of memory for a batch's arrays");
        return BENCH_FAILED;
    }
    s_bare_batch_fill (self, &arrays);
    const char *names[] = {s_array_end (&arrays.name)};
    const char *deltas[] = {names[0], s_array_end (&arrays.debits),
                            s_array_end (&arrays.credits)};
    const char *rows[] = {s_array_end (&arrays.debit), s_array_end (&arrays.credit),
                          s_array_end (&arrays.amount)};
    s_statement_t statements[] = {{NULL, "BEGIN", 0, NULL},
                                  {"lock", NULL, 1, names},
                                  {"deltas", NULL, 3, deltas},
                                  {"transfers", NULL, 3, rows},
                                  {NULL, "COMMIT", 0, NULL}};
    bench_outcome_t outcome = s_pipeline (self->handle, statements,
                                          (int) (sizeof statements / sizeof statements[0]));
    s_bare_batch_destroy (&arrays);
    self->units = outcome == BENCH_OK ? (uint64_t) bench->batch_size : 0;
    return outcome;
}

static const bench_load_t s_load_bare_single = {"bare PostgreSQL, one transfer a tx",
                                                s_bare_open, s_bare_single_op, bench_pg_close};
static const bench_load_t s_load_bare_batch = {"bare PostgreSQL, a batch a tx", s_bare_open,
                                               s_bare_batch_op, bench_pg_close};

// ---- set-up and tear-down ------------------------------------------------------------------

//  The accounts: the S_FUND fund of the first S_ACCOUNTS communities of S_DISTRICT in the
//  real divisions file ("code,name,level,parent_code"), and the district's treasury.
static int
s_accounts_read (s_bench_t *bench)
{
    const char *path = sq_test_divisions_path ();
    FILE *file = fopen (path, "r");
    if (!file) {
        fprintf (stderr, "bench: could not open %s (set SHEQU_SHARED_DIR)\n", path);
        return -1;
    }
    char line[S_LINE_MAX];
    int count = 0;
    while (count < S_ACCOUNTS && fgets (line, sizeof line, file)) {
        line[strcspn (line, "\r\n")] = 0;
        char *parent = strrchr (line, ',');
        if (!parent)
            continue;
        *parent = 0;
        const char *level = strrchr (line, ',');
        size_t code_len = strcspn (line, ",");
        if (level && strcmp (level + 1, "community") == 0 && code_len == 12
            && strncmp (line, S_DISTRICT, strlen (S_DISTRICT)) == 0)
            snprintf (bench->accounts[count++], S_NAME_MAX, "community:%.12s:%s", line, S_FUND);
    }
    fclose (file);
    snprintf (bench->treasury, sizeof bench->treasury, "treasury:%s", S_DISTRICT);
    if (count < S_ACCOUNTS) {
        fprintf (stderr, "bench: %s has %d communities under %s, %d needed\n", path, count,
                 S_DISTRICT, S_ACCOUNTS);
        return -1;
    }
    return 0;
}

//  Funds every account with S_FUNDING_FEN from the treasury in one linked create_batch.
static int
s_fund (s_bench_t *bench)
{
    msgpack_sbuffer args;
    msgpack_sbuffer_init (&args);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &args, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, 2);
    sq_pack_str (&pk, "transfers");
    msgpack_pack_array (&pk, S_ACCOUNTS);
    for (int i = 0; i < S_ACCOUNTS; i++) {
        char id[S_ID_MAX];
        snprintf (id, sizeof id, "fund-%d", i);
        s_pack_transfer (&pk, id, bench->treasury, bench->accounts[i], S_FUNDING_FEN,
                         "funding");
    }
    sq_pack_kv_bool (&pk, "linked", true);
    void *raw = NULL;
    char why[BENCH_TEXT_MAX];
    sq_doc_t *doc = bench_call (bench->stack.client, "ledger", "transfer.create_batch", args.data,
                                args.size, S_BATCH_TIMEOUT_MS, &raw, why, sizeof why);
    msgpack_sbuffer_destroy (&args);
    const msgpack_object *result = doc ? bench_reply_result (doc, why, sizeof why) : NULL;
    int64_t created = result ? bench_int (result, "created") : -1;
    if (result && created != S_ACCOUNTS)
        snprintf (why, sizeof why, "%" PRId64 " of %d funding transfers created", created,
                  S_ACCOUNTS);
    sq_doc_destroy (&doc);
    free (raw);
    if (created != S_ACCOUNTS) {
        fprintf (stderr, "bench: could not fund the accounts: %s\n", why);
        return -1;
    }
    return 0;
}

//  The bare schema: the same 50 account names, a transfer table with a bigserial key.
static int
s_bare_schema (s_bench_t *bench)
{
    static const char *const ddl[] = {
        "CREATE SCHEMA bare",
        "CREATE TABLE bare.account (name text PRIMARY KEY, debits bigint NOT NULL DEFAULT 0,"
        " credits bigint NOT NULL DEFAULT 0)",
        "CREATE TABLE bare.transfer (seq bigserial PRIMARY KEY, debit text NOT NULL,"
        " credit text NOT NULL, amount bigint NOT NULL, code text NOT NULL)",
        NULL};
    sq_error_t err;
    for (int i = 0; ddl[i]; i++)
        if (sq_db_exec (bench->stack.db, ddl[i], 0, NULL, &err)) {
            fprintf (stderr, "bench: could not create the bare schema: %s\n", err.message);
            return -1;
        }
    for (int i = 0; i < S_ACCOUNTS; i++) {
        const char *params[] = {bench->accounts[i]};
        if (sq_db_exec (bench->stack.db, "INSERT INTO bare.account (name) VALUES ($1)", 1, params,
                        &err)) {
            fprintf (stderr, "bench: could not fill bare.account: %s\n", err.message);
            return -1;
        }
    }
    return 0;
}

//  Database, bus, ledger process, funded accounts, bare schema. Returns 0 or -1 (said on
//  stderr).
static int
s_setup (void *arg)
{
    s_bench_t *bench = arg;
    if (s_accounts_read (bench) || bench_stack_start (&bench->stack, "bench_ledger", "ledger")
        || s_fund (bench) || s_bare_schema (bench))
        return -1;
    bench_facts_read (&bench->facts, bench->stack.db);
    return 0;
}

static void
s_teardown (void *arg)
{
    s_bench_t *bench = arg;
    bench_stack_stop (&bench->stack, S_STOP_TIMEOUT_MS);
}

// ---- the checks after the runs -------------------------------------------------------------

static bool
s_bool (const msgpack_object *map, const char *key)
{
    const msgpack_object *value = sq_obj_get (map, key);
    return value && value->type == MSGPACK_OBJECT_BOOLEAN && value->via.boolean;
}

//  A field as JSON text into out ("absent" when it is not there).
static void
s_json (const msgpack_object *map, const char *key, char *out, size_t out_size)
{
    const msgpack_object *value = sq_obj_get (map, key);
    char *text = value ? sq_json_from_msgpack (value) : NULL;
    snprintf (out, out_size, "%s", text ? text : "absent");
    free (text);
}

//  audit.verify as an operator: the chain recomputed, debits against credits, every balance
//  against its transfers.
static void
s_check_audit (s_bench_t *bench)
{
    s_check_t *c = &bench->check;
    void *raw = NULL;
    char why[BENCH_TEXT_MAX];
    sq_doc_t *doc = bench_command (bench->stack.client, "ledger", "audit.verify", "{}",
                                   S_VERIFY_TIMEOUT_MS, &raw, why, sizeof why);
    const msgpack_object *result = doc ? bench_reply_result (doc, why, sizeof why) : NULL;
    if (result) {
        c->audited = true;
        c->ok = s_bool (result, "ok");
        c->balanced = s_bool (result, "balanced");
        c->transfers = bench_int (result, "transfers");
        c->tail_seq = bench_int (result, "tail_seq");
        c->accounts = bench_int (result, "accounts");
        s_json (result, "broken", c->broken, sizeof c->broken);
        s_json (result, "mismatched", c->mismatched, sizeof c->mismatched);
    } else
        snprintf (c->why, sizeof c->why, "audit.verify: %s", why);
    sq_doc_destroy (&doc);
    free (raw);
}

//  An account's balance by account.get. Returns 0 or -1 with the reason in why.
static int
s_balance (s_bench_t *bench, const char *account, int64_t *balance, char *why, size_t why_size)
{
    char args[BENCH_TEXT_MAX];
    snprintf (args, sizeof args, "{\"account\":\"%s\"}", account);
    void *raw = NULL;
    sq_doc_t *doc = bench_command (bench->stack.client, "ledger", "account.get", args,
                                   S_CALL_TIMEOUT_MS, &raw, why, why_size);
    const msgpack_object *result = doc ? bench_reply_result (doc, why, why_size) : NULL;
    *balance = result ? bench_int (result, "balance") : INT64_MIN;
    sq_doc_destroy (&doc);
    free (raw);
    return result ? 0 : -1;
}

//  What the ledger holds against what the bench counted: transfers, and money.
static void
s_check (s_bench_t *bench)
{
    s_check_t *c = &bench->check;
    c->expected = S_ACCOUNTS + bench->single.ok_all;
    c->not_ok = bench_errors (bench->single.outcomes_all);
    for (int i = 0; i < S_BATCH_RUNS; i++) {
        c->expected += bench->batch[i].ok_all;
        c->not_ok += bench_errors (bench->batch[i].outcomes_all);
    }
    s_check_audit (bench);
    char why[BENCH_TEXT_MAX] = "";
    c->lowest = INT64_MAX;
    c->balances_read = s_balance (bench, bench->treasury, &c->treasury, why, sizeof why) == 0;
    for (int i = 0; c->balances_read && i < S_ACCOUNTS; i++) {
        int64_t balance;
        c->balances_read = s_balance (bench, bench->accounts[i], &balance, why, sizeof why) == 0;
        c->held += balance;
        c->lowest = balance < c->lowest ? balance : c->lowest;
    }
    if (!c->balances_read && !c->why[0])
        snprintf (c->why, sizeof c->why, "account.get: %s", why);
    bench_progress ("checked: audit.verify %s, %" PRId64 " transfers for %" PRIu64 " expected",
                    c->audited ? (c->ok ? "ok" : "NOT ok") : "unanswered", c->transfers,
                    c->expected);
}

//  Every transfer kept and the invariants intact.
static bool
s_check_passed (const s_bench_t *bench)
{
    const s_check_t *c = &bench->check;
    int64_t funded = S_ACCOUNTS * S_FUNDING_FEN;
    return c->audited && c->ok && c->balanced && c->transfers >= 0
           && (uint64_t) c->transfers == c->expected && c->balances_read && c->held == funded
           && c->treasury == -funded && c->lowest >= 0;
}

// ---- the measurements ----------------------------------------------------------------------

//  Runs load with clients threads for the bench's window, keeping each request's latency.
static int
s_run (s_bench_t *bench, const bench_load_t *load, int clients, bench_result_t *result)
{
    bench_plan_t plan = {.load = load, .user = bench, .commands = bench->stack.commands,
                         .clients = clients, .seconds = bench->seconds, .keep_samples = true};
    return bench_run (&plan, result);
}

//  A ledger run between two bare runs with as many clients, so that whatever else loads
//  this machine weighs on a figure and its ceiling alike (the drift between the two bare
//  runs shows how much it did).
static int
s_measure_pair (s_bench_t *bench, const bench_load_t *ledger, const bench_load_t *bare,
                int clients, bench_result_t *result, bench_result_t bare_results[3])
{
    if (s_run (bench, bare, clients, &bare_results[S_BEFORE])
        || s_run (bench, ledger, clients, result)
        || s_run (bench, bare, clients, &bare_results[S_AFTER]))
        return -1;
    bench_result_mean (&bare_results[S_BEFORE], &bare_results[S_AFTER], &bare_results[S_MEAN]);
    return 0;
}

//  The ledger's figures, each between two bare ones, then the checks of what they left.
static int
s_measure (void *arg)
{
    s_bench_t *bench = arg;
    if (s_measure_pair (bench, &s_load_single, &s_load_bare_single, S_CLIENTS_SINGLE,
                        &bench->single, bench->bare_single))
        return -1;
    for (int i = 0; i < S_BATCH_RUNS; i++)
        if (s_measure_pair (bench, &s_load_batch, &s_load_bare_batch, i + 1, &bench->batch[i],
                            bench->bare_batch[i]))
            return -1;
    s_check (bench);
    return 0;
}

// ---- the report ----------------------------------------------------------------------------

static void
s_report_head (const s_bench_t *bench)
{
    bench_facts_print ("bench_ledger", &bench->facts);
    printf ("ledger    shequ-ledger process (concurrency %" PRId64 "), bus in-process, no other"
            " service\n", bench->stack.concurrency);
    printf ("accounts  %d guarded community funds, the %s fund of the first %d communities of"
            " %s\n          (%s .. %s),\n          each funded with %" PRId64 " fen from %s"
            " by one linked batch;\n          transfers between random pairs of them, 1 to %d"
            " fen, ids unique, code \"%s\", as an operator\n", S_ACCOUNTS, S_FUND,
            S_ACCOUNTS, S_DISTRICT, bench->accounts[0], bench->accounts[S_ACCOUNTS - 1],
            S_FUNDING_FEN, bench->treasury, S_AMOUNT_MAX, S_CODE);
    printf ("method    %d s window per figure after %d ms warm-up; N clients = N threads, each"
            " with its own\n          connection (MDP client or libpq) and one request in"
            " flight\n", bench->seconds, BENCH_WARMUP_MS);
}

//  Transfers refused inside ok batch replies, by code, with the first message of each kind.
static void
s_report_refused (const bench_result_t *r)
{
    for (int k = BENCH_OK + 1; k < BENCH_OUTCOMES; k++)
        if (r->refused[k])
            printf ("      %" PRIu64 " transfers refused: %s (first: %s)\n", r->refused[k],
                    bench_outcome_names[k], bench_note_text (k));
}

//  A bare figure: its mean rate and latency, and the two runs it is the mean of.
static void
s_report_bare (const char *label, const bench_result_t runs[3])
{
    const bench_result_t *mean = &runs[S_MEAN];
    printf ("  %-50s %10.1f   p50 %7.3f ms  p99 %7.3f ms\n", label, mean->per_second,
            bench_ms (mean->p50_us), bench_ms (mean->p99_us));
    printf ("      before the ledger run %.1f/s, after it %.1f/s\n", runs[S_BEFORE].per_second,
            runs[S_AFTER].per_second);
    bench_errors_print (mean);
}

//  A ledger figure beside its bare ceiling.
static void
s_report_ledger (const char *label, const bench_result_t *r, const bench_result_t *bare,
                 const char *per)
{
    printf ("  %-50s %10.1f   %5.2f of %10.1f\n", label, r->per_second,
            bench_ratio (r->per_second, bare->per_second), bare->per_second);
    printf ("      per %s: p50 %.3f ms, p99 %.3f ms; %" PRIu64 " ok in the window (%" PRIu64
            " transfers), %" PRIu64 " errors\n", per, bench_ms (r->p50_us), bench_ms (r->p99_us),
            r->requests_ok, r->ok, bench_errors (r->outcomes));
    bench_errors_print (r);
    s_report_refused (r);
    uint64_t outside = bench_errors (r->outcomes_all) - bench_errors (r->outcomes);
    for (int k = BENCH_OK + 1; outside && k < BENCH_OUTCOMES; k++)
        if (r->outcomes_all[k] > r->outcomes[k])
            printf ("      %" PRIu64 " %s in the warm-up or the tail (first: %s)\n",
                    r->outcomes_all[k] - r->outcomes[k], bench_outcome_names[k],
                    bench_note_text (k));
}

static void
s_report_rates (const s_bench_t *bench)
{
    char label[96];
    printf ("\nbare PostgreSQL, the same transactions, this run         transfers/s"
            "   per transaction\n");
    snprintf (label, sizeof label, "1 transfer a transaction, %d connections (mean)",
              S_CLIENTS_SINGLE);
    s_report_bare (label, bench->bare_single);
    for (int i = 0; i < S_BATCH_RUNS; i++) {
        snprintf (label, sizeof label, "%d transfers a transaction, %d connection%s (mean)",
                  bench->batch_size, i + 1, i ? "s" : "");
        s_report_bare (label, bench->bare_batch[i]);
    }
    printf ("\nledger through the bus                                   transfers/s"
            "   ratio to bare PostgreSQL\n");
    snprintf (label, sizeof label, "transfer.create, %d clients", S_CLIENTS_SINGLE);
    s_report_ledger (label, &bench->single, &bench->bare_single[S_MEAN], "command");
    for (int i = 0; i < S_BATCH_RUNS; i++) {
        snprintf (label, sizeof label, "transfer.create_batch of %d, %d client%s",
                  bench->batch_size, i + 1, i ? "s" : "");
        s_report_ledger (label, &bench->batch[i], &bench->bare_batch[i][S_MEAN], "batch");
    }
}

static void
s_report_check (const s_bench_t *bench)
{
    const s_check_t *c = &bench->check;
    int64_t funded = S_ACCOUNTS * S_FUNDING_FEN;
    printf ("\nafter all runs, the ledger as they left it\n");
    if (c->why[0])
        printf ("  could not check: %s\n", c->why);
    if (c->audited)
        printf ("  audit.verify   ok %s, balanced %s, broken %s; %" PRId64 " transfers (tail_seq"
                " %" PRId64 "), %" PRId64 " accounts, mismatched %s\n", c->ok ? "true" : "false",
                c->balanced ? "true" : "false", c->broken, c->transfers, c->tail_seq,
                c->accounts, c->mismatched);
    printf ("  transfers      %" PRId64 " in the ledger, %" PRIu64 " expected: %d funding + %"
            PRIu64 " created in ok replies (warm-up and tail included)%s\n", c->transfers,
            c->expected, S_ACCOUNTS, c->expected - S_ACCOUNTS,
            c->transfers >= 0 && (uint64_t) c->transfers == c->expected ? "" : "  MISMATCH");
    if (c->not_ok)
        printf ("      %" PRIu64 " requests had no ok reply: a refused one left nothing, one"
                " that timed out or\n      was answered unavailable by the broker may have"
                " been committed\n", c->not_ok);
    if (c->balances_read)
        printf ("  money          the %d accounts hold %" PRId64 " fen, %" PRId64 " funded%s;"
                " lowest %" PRId64 " fen;\n                 %s %" PRId64 " fen\n",
                S_ACCOUNTS, c->held, funded, c->held == funded ? "" : "  MISMATCH", c->lowest,
                bench->treasury, c->treasury);
}

static void
s_report_targets (const s_bench_t *bench)
{
    const bench_result_t *single = &bench->single;
    int best = bench->batch[1].per_second > bench->batch[0].per_second ? 1 : 0;
    const bench_result_t *batch = &bench->batch[best];
    const bench_facts_t *f = &bench->facts;
    bool durable = strcmp (f->pg[1], "on") == 0 && strcmp (f->pg[2], "on") == 0;
    printf ("\ntargets of issue 5 (reported, not a gate)\n");
    bench_target_print (single->ok > 0 && single->per_second >= S_TARGET_SINGLE,
                        "transfer.create, %d clients: %.1f/s >= %.0f/s (%.2f of bare"
                        " PostgreSQL's %.1f/s)", single->clients, single->per_second,
                        S_TARGET_SINGLE,
                        bench_ratio (single->per_second, bench->bare_single[S_MEAN].per_second),
                        bench->bare_single[S_MEAN].per_second);
    bench_target_print (batch->ok > 0 && batch->per_second >= S_TARGET_BATCH,
                        "transfer.create_batch of %d, best of 1 and 2 clients (%d): %.1f/s >="
                        " %.0f/s (%.2f of bare PostgreSQL's %.1f/s)", bench->batch_size,
                        batch->clients, batch->per_second, S_TARGET_BATCH,
                        bench_ratio (batch->per_second,
                                     bench->bare_batch[best][S_MEAN].per_second),
                        bench->bare_batch[best][S_MEAN].per_second);
    bench_target_print (durable && s_check_passed (bench),
                        "every transfer durable (fsync=%s, synchronous_commit=%s) and the"
                        " invariants intact (audit.verify ok, transfers = ok replies +"
                        " funding, money conserved, no fund below zero)", f->pg[1], f->pg[2]);
}

static void
s_report (void *arg)
{
    const s_bench_t *bench = arg;
    s_report_head (bench);
    s_report_rates (bench);
    s_report_check (bench);
    s_report_targets (bench);
}

// ---- main ----------------------------------------------------------------------------------

int
main (int argc, char **argv)
{
    static s_bench_t bench; //  large, and its atomics start at zero
    bench.batch_size = S_BATCH_DEFAULT;
    const bench_option_t options[] = {
        {"--batch", 1, S_BATCH_MAX, &bench.batch_size, "transfers per transfer.create_batch"},
        {NULL, 0, 0, NULL, NULL}};
    if (bench_options_read ("bench_ledger", argc, argv, &bench.seconds, options))
        return 2;
    const bench_program_t program = {
        "ledger", "fresh database, bus in-process, shequ-ledger, funded accounts", s_setup,
        s_measure, s_report, s_teardown};
    return bench_program_run (&program, &bench, &bench.facts, &bench.stack);
}
