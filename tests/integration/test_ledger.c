/*  Ledger through the bus on real PostgreSQL and Redis: transfers created once per id,
    checked inputs and roles, community funds that never go below zero while many clients
    race on one, linked batches that post all or nothing, pending transfers posted, voided
    and expired by the sweep, corrections, balances at a past moment, and audit.verify
    before and after a row is tampered with in the database. */
#include "ledger.h"
#include "sq_test.h"

#include <inttypes.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#define DISTRICT "131002"        //  安次区
#define COMMUNITY "131002001007" //  吉祥社区
#define TREASURY "treasury:" DISTRICT
#define WORK "community:" COMMUNITY ":work"
#define PUBLIC "community:" COMMUNITY ":public_service"
#define OFFICE "community:" COMMUNITY ":office"
#define SPENT "expense:" COMMUNITY ":volunteer_service"
#define RACE_THREADS 8          //  clients racing on one fund
#define RACE_STEPS 25           //  debits each client tries
#define RACE_FUND 100000        //  fen in the fund before the race
#define RACE_AMOUNT 700         //  fen per debit: 142 fit, 58 do not
#define EXPIRY_WAIT_MS 10000    //  an expired transfer is voided within this

static sq_test_stack_t s_stack;
static sq_service_t *s_ledger;
static sq_sub_t *s_sub;

static int
s_setup (void **state)
{
    (void) state;
    //  Sweeps five times a second so a 1 s timeout is seen at once; four worker threads, so
    //  racing commands run in concurrent transactions on four connections.
    setenv ("SHEQU_SWEEP_MS", "200", 1);
    setenv ("SHEQU_WORKER_THREADS", "4", 1);
    unsetenv ("SHEQU_WORKER_CONCURRENCY"); //  the ledger's own default applies
    sq_test_stack_start (&s_stack, "ledger");
    sq_service_config_t config;
    ledger_service_config (&config);
    config.conninfo = s_stack.conninfo;
    config.commands_endpoint = bus_endpoint_commands (s_stack.bus);
    config.events_in = bus_endpoint_events_in (s_stack.bus);
    s_ledger = sq_service_new (&config);
    assert_int_equal (sq_service_start (s_ledger), 0);
    s_sub = sq_sub_new (bus_endpoint_events_out (s_stack.bus), bus_endpoint_commands (s_stack.bus));
    sq_sub_track (s_sub, "ledger", 0);
    return 0;
}

static int
s_teardown (void **state)
{
    (void) state;
    sq_sub_destroy (&s_sub);
    sq_service_destroy (&s_ledger);
    sq_test_stack_stop (&s_stack);
    return 0;
}

// ---- helpers ----------------------------------------------------------------------------

static sq_test_reply_t *
s_ok (const char *cmd, const char *args, const char *role, const char *scope)
{
    return sq_test_ok (s_stack.client, "ledger", cmd, args, role, scope);
}

static void
s_fails (const char *cmd, const char *args, const char *role, const char *scope,
         const char *code, const char *field)
{
    sq_test_fails (s_stack.client, "ledger", cmd, args, role, scope, code, field);
}

//  The args of a transfer; extra is JSON starting with a comma, or "".
static const char *
s_args (const char *id, const char *debit, const char *credit, int64_t amount, const char *extra)
{
    static char args[1024];
    snprintf (args, sizeof args, "{\"id\":\"%s\",\"debit\":\"%s\",\"credit\":\"%s\","
              "\"amount\":%lld,\"code\":\"test\"%s}", id, debit, credit, (long long) amount,
              extra);
    return args;
}

//  Moves money as the district's official; must succeed.
static void
s_move (const char *id, const char *debit, const char *credit, int64_t amount, const char *extra)
{
    sq_test_reply_t *reply = s_ok ("transfer.create", s_args (id, debit, credit, amount, extra),
                                   "district_official", DISTRICT);
    sq_test_reply_destroy (&reply);
}

//  One balance field of account now (at 0) or at a past moment.
static int64_t
s_balance (const char *account, const char *field, int64_t at)
{
    char args[256];
    if (at)
        snprintf (args, sizeof args, "{\"account\":\"%s\",\"at\":%lld}", account, (long long) at);
    else
        snprintf (args, sizeof args, "{\"account\":\"%s\"}", account);
    sq_test_reply_t *reply = s_ok ("account.get", args, "auditor", "");
    int64_t value = sq_test_int (reply->result, field);
    sq_test_reply_destroy (&reply);
    return value;
}

static void
s_event (const char *id, const char *type)
{
    sq_event_t *event = sq_test_event_about (s_sub, "transfer", id, type);
    sq_event_destroy (&event);
}

static int64_t
s_count (const char *sql)
{
    return sq_test_db_int (s_stack.db, sql);
}

// ---- tests ------------------------------------------------------------------------------

//  The ledger's default concurrency is its own (ledger.h says why), not the platform's.
static void
test_health_reports_ledger_concurrency (void **state)
{
    (void) state;
    sq_test_reply_t *reply = s_ok ("health", "{}", "operator", "");
    assert_int_equal (sq_test_int (reply->result, "concurrency"), LEDGER_CONCURRENCY_DEFAULT);
    assert_true (LEDGER_CONCURRENCY_DEFAULT != SQ_CONCURRENCY_DEFAULT);
    sq_test_reply_destroy (&reply);
}

static void
test_create_once_per_id (void **state)
{
    (void) state;
    const char *args = s_args ("fund-work-1", TREASURY, WORK, 100000,
                               ",\"memo\":\"2024 工作经费\"");
    sq_test_reply_t *first = s_ok ("transfer.create", args, "district_official", DISTRICT);
    char kind[16];
    assert_string_equal (sq_test_str (first->result, "kind", kind, sizeof kind), "posted");
    s_event ("fund-work-1", "ledger.transfer_posted");
    //  The same id and content: the first result, byte for byte, and nothing moves again.
    sq_test_reply_t *again = s_ok ("transfer.create", args, "district_official", DISTRICT);
    char *a = sq_test_json (first->result), *b = sq_test_json (again->result);
    assert_string_equal (a, b);
    free (a);
    free (b);
    sq_test_reply_destroy (&first);
    sq_test_reply_destroy (&again);
    assert_int_equal (s_balance (WORK, "balance", 0), 100000);
    assert_int_equal (s_balance (TREASURY, "balance", 0), -100000);
    //  The same id, other content: conflict.
    s_fails ("transfer.create", s_args ("fund-work-1", TREASURY, WORK, 100001, ""),
             "district_official", DISTRICT, SQ_ERR_CONFLICT, "id");
    assert_int_equal (s_count ("SELECT count(*) FROM ledger.transfer"), 1);
}

static void
test_inputs_and_roles (void **state)
{
    (void) state;
    const char *role = "district_official";
    s_fails ("transfer.create", s_args ("x1", "community:" COMMUNITY ":cake", WORK, 1, ""), role,
             DISTRICT, SQ_ERR_INVALID, "debit");
    s_fails ("transfer.create", s_args ("x1", TREASURY, "bank:1", 1, ""), role, DISTRICT,
             SQ_ERR_INVALID, "credit");
    s_fails ("transfer.create", s_args ("x1", WORK, WORK, 1, ""), role, DISTRICT,
             SQ_ERR_INVALID, "credit");
    s_fails ("transfer.create", s_args ("x1", TREASURY, WORK, 0, ""), role, DISTRICT,
             SQ_ERR_INVALID, "amount");
    s_fails ("transfer.create", s_args ("x 1", TREASURY, WORK, 1, ""), role, DISTRICT,
             SQ_ERR_INVALID, "id");
    s_fails ("transfer.create", s_args ("x1", TREASURY, WORK, 1, ",\"timeout\":5"), role,
             DISTRICT, SQ_ERR_INVALID, "timeout");
    s_fails ("transfer.create", s_args ("x1", TREASURY, WORK, 1, ",\"pending\":\"yes\""), role,
             DISTRICT, SQ_ERR_INVALID, "pending");
    s_fails ("transfer.create", "{\"id\":\"x1\",\"debit\":\"" TREASURY "\",\"credit\":\"" WORK
             "\",\"amount\":1,\"code\":\"Not A Code\"}", role, DISTRICT, SQ_ERR_INVALID, "code");
    s_fails ("transfer.create", "{\"id\":\"x1\",\"debit\":\"" TREASURY "\",\"credit\":\"" WORK
             "\",\"amount\":1}", role, DISTRICT, SQ_ERR_INVALID, "code");
    //  Outside the scope, the wrong role, staff moving anything but their own spending.
    s_fails ("transfer.create", s_args ("x1", TREASURY, WORK, 1, ""), role, "130102",
             SQ_ERR_FORBIDDEN, "debit");
    s_fails ("transfer.create", s_args ("x1", TREASURY, WORK, 1, ""), "auditor", "",
             SQ_ERR_FORBIDDEN, NULL);
    s_fails ("transfer.create", s_args ("x1", TREASURY, WORK, 1, ""), "community_staff",
             COMMUNITY, SQ_ERR_FORBIDDEN, "debit");
    s_fails ("transfer.create", s_args ("x1", "department:民政局", WORK, 1, ""), role, DISTRICT,
             SQ_ERR_FORBIDDEN, "debit");
    s_fails ("audit.verify", "{}", role, DISTRICT, SQ_ERR_FORBIDDEN, NULL);
    s_fails ("account.get", "{\"account\":\"" WORK "\"}", "community_staff", "131002001010",
             SQ_ERR_FORBIDDEN, "account");
    s_fails ("account.get", "{\"account\":\"" OFFICE "\"}", "auditor", "", SQ_ERR_NOT_FOUND,
             "account");
    //  Spending more than the fund holds: conflict naming the amount; nothing moved.
    s_fails ("transfer.create", s_args ("x1", WORK, "expense:" COMMUNITY ":office", 100001, ""),
             "community_staff", COMMUNITY, SQ_ERR_CONFLICT, "amount");
    assert_int_equal (s_balance (WORK, "balance", 0), 100000);
    assert_int_equal (s_count ("SELECT count(*) FROM ledger.transfer WHERE id = 'x1'"), 0);
}

typedef struct {
    sq_mdp_client_t *client;
    int thread;
    int ok, refused, failed; //  debits made, refused for want of money, other errors
    int shared, invalid;     //  the same transfer asked by every racer; malformed asks refused
} s_racer_t;

//  Asks, besides the race, for a transfer every racer asks for with the same id and
//  content (created once, the same row for all) and one with a malformed amount (refused,
//  nothing written): concurrent transfer.create share one apply in a group commit, and
//  neither must disturb the others.
static void
s_race_extras (s_racer_t *racer)
{
    sq_test_reply_t *reply = sq_test_call (racer->client, "ledger", "transfer.create",
                                           "{\"id\":\"race-shared\",\"debit\":\"" TREASURY
                                           "\",\"credit\":\"" SPENT "\",\"amount\":1,"
                                           "\"code\":\"test\"}", "district_official", DISTRICT,
                                           NULL);
    racer->shared += reply->ok;
    sq_test_reply_destroy (&reply);
    reply = sq_test_call (racer->client, "ledger", "transfer.create",
                          "{\"id\":\"race-bad\",\"debit\":\"" PUBLIC "\",\"credit\":\"" SPENT
                          "\",\"amount\":0,\"code\":\"expense\"}", "community_staff", COMMUNITY,
                          NULL);
    racer->invalid += !reply->ok && strcmp (reply->code, SQ_ERR_INVALID) == 0
                      && strcmp (reply->field, "amount") == 0;
    sq_test_reply_destroy (&reply);
}

static void *
s_race (void *arg)
{
    s_racer_t *racer = arg;
    for (int i = 0; i < RACE_STEPS; i++) {
        char id[64], args[512];
        snprintf (id, sizeof id, "race-%d-%d", racer->thread, i);
        snprintf (args, sizeof args, "{\"id\":\"%s\",\"debit\":\"" PUBLIC "\",\"credit\":\""
                  SPENT "\",\"amount\":%d,\"code\":\"expense\"}", id, RACE_AMOUNT);
        sq_test_reply_t *reply = sq_test_call (racer->client, "ledger", "transfer.create", args,
                                               "community_staff", COMMUNITY, NULL);
        if (reply->ok)
            racer->ok++;
        else if (strcmp (reply->code, SQ_ERR_CONFLICT) == 0 && strcmp (reply->field, "amount") == 0)
            racer->refused++;
        else
            racer->failed++;
        sq_test_reply_destroy (&reply);
        if (i == racer->thread % RACE_STEPS)
            s_race_extras (racer);
    }
    return NULL;
}

static void
test_racing_debits_never_overdraw (void **state)
{
    (void) state;
    s_move ("fund-public-1", TREASURY, PUBLIC, RACE_FUND, "");
    pthread_t threads[RACE_THREADS];
    s_racer_t racers[RACE_THREADS];
    for (int t = 0; t < RACE_THREADS; t++) {
        racers[t] = (s_racer_t) {.thread = t};
        racers[t].client = sq_mdp_client_new (bus_endpoint_commands (s_stack.bus));
        assert_non_null (racers[t].client);
    }
    for (int t = 0; t < RACE_THREADS; t++)
        assert_int_equal (pthread_create (&threads[t], NULL, s_race, &racers[t]), 0);
    int ok = 0, refused = 0, failed = 0, shared = 0, invalid = 0;
    for (int t = 0; t < RACE_THREADS; t++) {
        pthread_join (threads[t], NULL);
        sq_mdp_client_destroy (&racers[t].client);
        ok += racers[t].ok;
        refused += racers[t].refused;
        failed += racers[t].failed;
        shared += racers[t].shared;
        invalid += racers[t].invalid;
    }
    assert_int_equal (failed, 0);
    assert_int_equal (shared, RACE_THREADS);
    assert_int_equal (invalid, RACE_THREADS);
    assert_int_equal (s_count ("SELECT count(*) FROM ledger.transfer WHERE id = 'race-shared'"),
                      1);
    assert_int_equal (s_count ("SELECT count(*) FROM ledger.transfer WHERE id = 'race-bad'"), 0);
    assert_int_equal (ok, RACE_FUND / RACE_AMOUNT);
    assert_int_equal (refused, RACE_THREADS * RACE_STEPS - RACE_FUND / RACE_AMOUNT);
    assert_int_equal (s_balance (PUBLIC, "balance", 0), RACE_FUND % RACE_AMOUNT);
    assert_int_equal (s_balance (SPENT, "balance", 0), RACE_FUND - RACE_FUND % RACE_AMOUNT + 1);
}

#define AWARD "community:" COMMUNITY ":award"
#define IDENT_THREADS 8         //  clients, each its own actor
#define IDENT_STEPS 20          //  transfers each

typedef struct {
    sq_mdp_client_t *client;
    int thread;
    int ok;
} s_ident_t;

//  transfer.create as actor "actor-<thread>" with corr "corr-<thread>-<i>".
static void *
s_ident (void *arg)
{
    s_ident_t *self = arg;
    for (int i = 0; i < IDENT_STEPS; i++) {
        char text[128];
        msgpack_sbuffer buf;
        msgpack_sbuffer_init (&buf);
        msgpack_packer pk;
        msgpack_packer_init (&pk, &buf, msgpack_sbuffer_write);
        msgpack_pack_map (&pk, 4);
        sq_pack_kv_str (&pk, "cmd", "transfer.create");
        sq_pack_str (&pk, "args");
        msgpack_pack_map (&pk, 5);
        snprintf (text, sizeof text, "ident-%d-%d", self->thread, i);
        sq_pack_kv_str (&pk, "id", text);
        sq_pack_kv_str (&pk, "debit", TREASURY);
        sq_pack_kv_str (&pk, "credit", SPENT);
        sq_pack_kv_int (&pk, "amount", 1);
        sq_pack_kv_str (&pk, "code", "test");
        sq_pack_str (&pk, "actor");
        msgpack_pack_map (&pk, 3);
        snprintf (text, sizeof text, "actor-%d", self->thread);
        sq_pack_kv_str (&pk, "id", text);
        sq_pack_kv_str (&pk, "role", "district_official");
        sq_pack_kv_str (&pk, "scope", DISTRICT);
        snprintf (text, sizeof text, "corr-%d-%d", self->thread, i);
        sq_pack_kv_str (&pk, "corr", text);
        void *reply = NULL;
        size_t size = 0;
        if (sq_mdp_client_call (self->client, "ledger", buf.data, buf.size, 10000, &reply,
                                &size) == 0) {
            char why[128];
            sq_doc_t *doc = sq_doc_new (reply, size, why, sizeof why);
            const msgpack_object *ok = doc ? sq_obj_get (sq_doc_root (doc), "ok") : NULL;
            self->ok += ok && ok->type == MSGPACK_OBJECT_BOOLEAN && ok->via.boolean;
            sq_doc_destroy (&doc);
        }
        free (reply);
        msgpack_sbuffer_destroy (&buf);
    }
    return NULL;
}

//  Concurrent transfer.create of different actors share one apply in a group commit; each
//  transfer and each event still carries its own command's actor, corr and cause.
static void
test_grouped_commands_keep_their_identity (void **state)
{
    (void) state;
    pthread_t threads[IDENT_THREADS];
    s_ident_t idents[IDENT_THREADS];
    for (int t = 0; t < IDENT_THREADS; t++) {
        idents[t] = (s_ident_t) {.thread = t};
        idents[t].client = sq_mdp_client_new (bus_endpoint_commands (s_stack.bus));
        assert_non_null (idents[t].client);
    }
    for (int t = 0; t < IDENT_THREADS; t++)
        assert_int_equal (pthread_create (&threads[t], NULL, s_ident, &idents[t]), 0);
    int ok = 0;
    for (int t = 0; t < IDENT_THREADS; t++) {
        pthread_join (threads[t], NULL);
        sq_mdp_client_destroy (&idents[t].client);
        ok += idents[t].ok;
    }
    const int64_t all = IDENT_THREADS * IDENT_STEPS;
    assert_int_equal (ok, all);
    //  Rows of several actors were made by one apply (they share its time)...
    assert_true (s_count ("SELECT count(*) FROM (SELECT created_at FROM ledger.transfer WHERE"
                          " id LIKE 'ident-%' GROUP BY created_at HAVING count (DISTINCT actor)"
                          " > 1) g") > 0);
    //  ...and each row names its own actor,
    assert_int_equal (s_count ("SELECT count(*) FROM ledger.transfer WHERE id LIKE 'ident-%'"
                               " AND actor = 'actor-' || split_part (id, '-', 2)"), all);
    //  each event its own command's actor and corr, about its own transfer,
    assert_int_equal (s_count ("SELECT count(*) FROM ledger.outbox WHERE corr LIKE 'corr-%'"
                               " AND type = 'ledger.transfer_posted' AND actor = 'actor-' ||"
                               " split_part (corr, '-', 2) AND position (convert_to ('ident-' ||"
                               " substr (corr, 6), 'UTF8') IN data) > 0"), all);
    //  and its own command as cause.
    assert_int_equal (s_count ("SELECT count (DISTINCT cause) FROM ledger.outbox WHERE corr"
                               " LIKE 'corr-%'"), all);
}

#define BIG_BATCH LEDGER_BATCH_MAX //  transfers of the largest batch

//  The error field of result i of a batch reply, or NULL when it succeeded.
static const msgpack_object *
s_item (const sq_test_reply_t *reply, size_t i)
{
    const msgpack_object *results = sq_obj_get (reply->result, "results");
    assert_true (i < results->via.array.size);
    return &results->via.array.ptr[i];
}

static bool
s_item_failed (const sq_test_reply_t *reply, size_t i, const char *field)
{
    const msgpack_object *error = sq_obj_get (s_item (reply, i), "error");
    return error && sq_obj_str_eq (sq_obj_get (error, "field"), field);
}

static void
test_linked_batch_all_or_nothing (void **state)
{
    (void) state;
    //  The third overdraws the office fund, which holds only what the first brings.
    const char *items = "[{\"id\":\"b-1\",\"debit\":\"" TREASURY "\",\"credit\":\"" OFFICE
                        "\",\"amount\":5000,\"code\":\"appropriation\"},"
                        "{\"id\":\"b-2\",\"debit\":\"" TREASURY "\",\"credit\":\"" WORK
                        "\",\"amount\":700,\"code\":\"appropriation\"},"
                        "{\"id\":\"b-3\",\"debit\":\"" OFFICE "\",\"credit\":\"" TREASURY
                        "\",\"amount\":9000,\"code\":\"return\"}]";
    char args[2048];
    snprintf (args, sizeof args, "{\"linked\":true,\"transfers\":%s}", items);
    sq_test_reply_t *reply = s_ok ("transfer.create_batch", args, "district_official", DISTRICT);
    assert_int_equal (sq_test_int (reply->result, "created"), 0);
    assert_int_equal (sq_test_int (reply->result, "failed"), 3);
    const msgpack_object *results = sq_obj_get (reply->result, "results");
    assert_int_equal (results->via.array.size, 3);
    const msgpack_object *third = sq_obj_get (&results->via.array.ptr[2], "error");
    assert_true (sq_obj_str_eq (sq_obj_get (third, "field"), "amount"));
    const msgpack_object *first = sq_obj_get (&results->via.array.ptr[0], "error");
    assert_true (sq_obj_str_eq (sq_obj_get (first, "field"), "linked"));
    sq_test_reply_destroy (&reply);
    assert_int_equal (s_count ("SELECT count(*) FROM ledger.transfer WHERE id LIKE 'b-%'"), 0);
    assert_int_equal (s_count ("SELECT count(*) FROM ledger.account WHERE name = '" OFFICE "'"),
                      0);
    assert_int_equal (s_balance (WORK, "balance", 0), 100000);
    //  Not linked: each stands alone.
    snprintf (args, sizeof args, "{\"transfers\":%s}", items);
    reply = s_ok ("transfer.create_batch", args, "district_official", DISTRICT);
    assert_int_equal (sq_test_int (reply->result, "created"), 2);
    assert_int_equal (sq_test_int (reply->result, "failed"), 1);
    sq_test_reply_destroy (&reply);
    assert_int_equal (s_balance (OFFICE, "balance", 0), 5000);
    assert_int_equal (s_balance (WORK, "balance", 0), 100700);
    s_fails ("transfer.create_batch", "{\"transfers\":[]}", "operator", "", SQ_ERR_INVALID,
             "transfers");
    //  Items that do not even read are refused one by one, naming their field; linked, they
    //  refuse the others too.
    reply = s_ok ("transfer.create_batch", "{\"transfers\":[1,{\"id\":\"b-9\"}]}", "operator", "");
    assert_int_equal (sq_test_int (reply->result, "created"), 0);
    assert_int_equal (sq_test_int (reply->result, "failed"), 2);
    assert_true (s_item_failed (reply, 0, "transfers"));
    assert_true (s_item_failed (reply, 1, "debit"));
    sq_test_reply_destroy (&reply);
    snprintf (args, sizeof args, "{\"linked\":true,\"transfers\":[{\"id\":\"b-10\","
              "\"debit\":\"" TREASURY "\",\"credit\":\"" WORK "\",\"amount\":1,\"code\":\"x\"},"
              "{\"id\":\"b-11\",\"debit\":\"" TREASURY "\",\"credit\":\"" WORK "\","
              "\"amount\":-1,\"code\":\"x\"}]}");
    reply = s_ok ("transfer.create_batch", args, "operator", "");
    assert_int_equal (sq_test_int (reply->result, "created"), 0);
    assert_true (s_item_failed (reply, 0, "linked"));
    assert_true (s_item_failed (reply, 1, "amount"));
    sq_test_reply_destroy (&reply);
    assert_int_equal (s_count ("SELECT count(*) FROM ledger.transfer WHERE id IN ('b-9',"
                               " 'b-10', 'b-11')"), 0);
}

//  A batch is judged item by item in order, as if each came alone: the guard sees the
//  items before it, a repeated id finds the earlier item, a correction sees what is left;
//  and memos with every character JSON escapes hash as the database's transfer_hash does
//  (audit.verify at the end recomputes every hash in SQL).
static void
test_batch_judged_in_order (void **state)
{
    (void) state;
    const char *items =
        "[{\"id\":\"o-1\",\"debit\":\"" TREASURY "\",\"credit\":\"" AWARD "\",\"amount\":1000,"
        "\"code\":\"award\"},"
        "{\"id\":\"o-2\",\"debit\":\"" AWARD "\",\"credit\":\"" SPENT "\",\"amount\":600,"
        "\"code\":\"expense\"},"
        "{\"id\":\"o-3\",\"debit\":\"" AWARD "\",\"credit\":\"" SPENT "\",\"amount\":600,"
        "\"code\":\"expense\"},"
        "{\"id\":\"o-1\",\"debit\":\"" TREASURY "\",\"credit\":\"" AWARD "\",\"amount\":1000,"
        "\"code\":\"award\"},"
        "{\"id\":\"o-1\",\"debit\":\"" TREASURY "\",\"credit\":\"" AWARD "\",\"amount\":999,"
        "\"code\":\"award\"},"
        "{\"id\":\"o-4\",\"debit\":\"" AWARD "\",\"credit\":\"" TREASURY "\",\"amount\":300,"
        "\"code\":\"correction\",\"reverses\":\"o-1\"},"
        "{\"id\":\"o-5\",\"debit\":\"" AWARD "\",\"credit\":\"" TREASURY "\",\"amount\":800,"
        "\"code\":\"correction\",\"reverses\":\"o-1\"},"
        "{\"id\":\"o-6\",\"debit\":\"" TREASURY "\",\"credit\":\"" AWARD "\",\"amount\":1,"
        "\"code\":\"award\",\"memo\":\"引号\\\"反斜杠\\\\换行\\n制表\\t\\u0001\\u001f/end\"}]";
    char args[4096];
    snprintf (args, sizeof args, "{\"transfers\":%s}", items);
    sq_test_reply_t *reply = s_ok ("transfer.create_batch", args, "district_official", DISTRICT);
    assert_int_equal (sq_test_int (reply->result, "created"), 5);
    assert_int_equal (sq_test_int (reply->result, "failed"), 3);
    assert_true (s_item_failed (reply, 2, "amount"));   //  400 fen left after o-2
    assert_true (s_item_failed (reply, 4, "id"));       //  o-1 with another amount
    assert_true (s_item_failed (reply, 6, "amount"));   //  700 left to reverse of o-1
    const msgpack_object *first = sq_obj_get (s_item (reply, 0), "result");
    const msgpack_object *again = sq_obj_get (s_item (reply, 3), "result");
    assert_int_equal (sq_test_int (again, "seq"), sq_test_int (first, "seq"));
    char hash[80];
    assert_true (sq_obj_str_eq (sq_obj_get (again, "hash"),
                                sq_test_str (first, "hash", hash, sizeof hash)));
    //  Created rows follow each other on the chain.
    const msgpack_object *last = sq_obj_get (s_item (reply, 7), "result");
    assert_int_equal (sq_test_int (last, "seq"), sq_test_int (first, "seq") + 3);
    assert_true (sq_obj_str_eq (sq_obj_get (last, "memo"),
                                "引号\"反斜杠\\换行\n制表\t\001\037/end"));
    sq_test_reply_destroy (&reply);
    assert_int_equal (s_balance (AWARD, "balance", 0), 1000 - 600 - 300 + 1);
    //  The database computes the same hash as the service did.
    assert_int_equal (s_count ("SELECT count(*) FROM ledger.transfer WHERE id LIKE 'o-%' AND"
                               " hash = ledger.transfer_hash (prev_hash, seq, id, kind,"
                               " pending_id, debit, credit, amount, code, memo, reverses,"
                               " timeout_s, expires_at, created_at, actor)"), 4);
}

//  Memos of the largest batch: every character COPY's text format escapes (tab, newline,
//  carriage return, backslash, and \N, its NULL), quotes and other text.
static const char *const s_big_memos[] = {
    "制表\\t换行\\n回车\\r反斜杠\\\\末", "\\\\N", "\\\"引号\\\" {a,b} \\u0001", "plain"};
#define BIG_MEMOS 4

//  The largest batch: every transfer created, each with its event, and once only. Big
//  batches go to the database by COPY (the transfers and their events): the memos come back
//  as written, the database computes the same hashes, the events carry their data.
static void
test_largest_batch (void **state)
{
    (void) state;
    size_t size = (size_t) BIG_BATCH * 220 + 64;
    char *args = malloc (size);
    assert_non_null (args);
    size_t used = (size_t) snprintf (args, size, "{\"transfers\":[");
    for (int i = 0; i < BIG_BATCH; i++)
        used += (size_t) snprintf (args + used, size - used, "%s{\"id\":\"big-%d\",\"debit\":\""
                                   TREASURY "\",\"credit\":\"" WORK "\",\"amount\":%d,"
                                   "\"code\":\"test\",\"memo\":\"%s\"}", i ? "," : "", i,
                                   1 + i % 7, s_big_memos[i % BIG_MEMOS]);
    assert_true (used < size - 8);
    snprintf (args + used, size - used, "]}");
    int64_t before = s_balance (WORK, "balance", 0);
    int64_t events = s_count ("SELECT count(*) FROM ledger.outbox");
    int64_t last_seq = s_count ("SELECT max (seq) FROM ledger.outbox");
    for (int round = 0; round < 2; round++) {
        sq_test_reply_t *reply = s_ok ("transfer.create_batch", args, "operator", "");
        assert_int_equal (sq_test_int (reply->result, "created"), BIG_BATCH);
        assert_int_equal (sq_test_int (reply->result, "failed"), 0);
        sq_test_reply_destroy (&reply);
    }
    free (args);
    int64_t moved = 0;
    for (int i = 0; i < BIG_BATCH; i++)
        moved += 1 + i % 7;
    assert_int_equal (s_balance (WORK, "balance", 0), before + moved);
    assert_int_equal (s_count ("SELECT count(*) FROM ledger.transfer WHERE id LIKE 'big-%'"),
                      BIG_BATCH);
    assert_int_equal (s_count ("SELECT count(*) FROM ledger.outbox"), events + BIG_BATCH);
    //  The memos as sent, and the hashes the database computes from the stored columns.
    static const char *const expected[] = {"制表\t换行\n回车\r反斜杠\\末", "\\N",
                                           "\"引号\" {a,b} \001", "plain"};
    for (int m = 0; m < BIG_MEMOS; m++) {
        char sql[256];
        snprintf (sql, sizeof sql, "SELECT memo FROM ledger.transfer WHERE id = 'big-%d'", m);
        char *memo = sq_test_db_value (s_stack.db, sql);
        assert_string_equal (memo, expected[m]);
        free (memo);
    }
    assert_int_equal (s_count ("SELECT count(*) FROM ledger.transfer WHERE id LIKE 'big-%' AND"
                               " hash = ledger.transfer_hash (prev_hash, seq, id, kind,"
                               " pending_id, debit, credit, amount, code, memo, reverses,"
                               " timeout_s, expires_at, created_at, actor)"), BIG_BATCH);
    //  Each event once, in the order of the transfers, with its data.
    char sql[256];
    snprintf (sql, sizeof sql, "SELECT count(*) FROM ledger.outbox o JOIN ledger.transfer t ON"
              " t.seq = o.seq - %" PRId64 " + (SELECT min (seq) - 1 FROM ledger.transfer WHERE"
              " id LIKE 'big-%%') WHERE o.seq > %" PRId64 " AND position (convert_to (t.id,"
              " 'UTF8') IN o.data) > 0", last_seq, last_seq);
    assert_int_equal (s_count (sql), BIG_BATCH);
}

static void
test_pending_post_void_expire (void **state)
{
    (void) state;
    //  Pending, then posted: reserved at once, moved at the post; posting again gives the
    //  same post; voiding it now is a conflict.
    s_move ("p-post", WORK, TREASURY, 700, ",\"pending\":true");
    s_event ("p-post", "ledger.transfer_pending");
    assert_int_equal (s_balance (WORK, "available", 0), 100000);
    assert_int_equal (s_balance (WORK, "balance", 0), 100700);
    sq_test_reply_t *post = s_ok ("transfer.post", "{\"id\":\"p-post\"}", "district_official",
                                  DISTRICT);
    sq_test_reply_t *again = s_ok ("transfer.post", "{\"id\":\"p-post\"}", "district_official",
                                   DISTRICT);
    char *a = sq_test_json (post->result), *b = sq_test_json (again->result);
    assert_string_equal (a, b);
    free (a);
    free (b);
    sq_test_reply_destroy (&post);
    sq_test_reply_destroy (&again);
    s_event ("p-post", "ledger.transfer_posted");
    s_fails ("transfer.void", "{\"id\":\"p-post\"}", "district_official", DISTRICT,
             SQ_ERR_CONFLICT, "id");
    s_fails ("transfer.post", "{\"id\":\"fund-work-1\"}", "district_official", DISTRICT,
             SQ_ERR_CONFLICT, "id");
    s_fails ("transfer.post", "{\"id\":\"nothing\"}", "district_official", DISTRICT,
             SQ_ERR_NOT_FOUND, "id");
    assert_int_equal (s_balance (WORK, "balance", 0), 100000);
    assert_int_equal (s_balance (WORK, "debits_pending", 0), 0);
    //  Pending, then voided: everything as before.
    s_move ("p-void", WORK, TREASURY, 300, ",\"pending\":true");
    assert_int_equal (s_balance (WORK, "available", 0), 99700);
    sq_test_reply_t *voided = s_ok ("transfer.void", "{\"id\":\"p-void\"}",
                                    "district_official", DISTRICT);
    sq_test_reply_destroy (&voided);
    s_event ("p-void", "ledger.transfer_pending");
    s_event ("p-void", "ledger.transfer_voided");
    s_fails ("transfer.post", "{\"id\":\"p-void\"}", "district_official", DISTRICT,
             SQ_ERR_CONFLICT, "id");
    assert_int_equal (s_balance (WORK, "available", 0), 100000);
    //  Pending with a timeout of 1 s: the sweep voids it.
    s_move ("p-expire", WORK, TREASURY, 400, ",\"pending\":true,\"timeout\":1");
    s_event ("p-expire", "ledger.transfer_pending");
    sq_event_t *event = sq_test_event_about (s_sub, "transfer", "p-expire",
                                             "ledger.transfer_voided");
    assert_true (sq_obj_str_eq (sq_obj_get (event->env.data, "reason"), "expired"));
    sq_event_destroy (&event);
    assert_int_equal (s_balance (WORK, "available", 0), 100000);
    assert_int_equal (s_count ("SELECT count(*) FROM ledger.transfer WHERE kind = 'expire'"
                               " AND pending_id = 'p-expire'"), 1);
    s_fails ("transfer.post", "{\"id\":\"p-expire\"}", "district_official", DISTRICT,
             SQ_ERR_CONFLICT, "id");
}

static void
test_corrections_and_history (void **state)
{
    (void) state;
    int64_t before = sq_now_us ();
    usleep (2000);
    s_move ("wrong-1", TREASURY, WORK, 2500, ",\"memo\":\"录入错误\"");
    int64_t between = sq_now_us ();
    usleep (2000);
    //  A correction swaps the accounts of a posted transfer and reverses no more than it.
    s_fails ("transfer.create", s_args ("fix-1", TREASURY, WORK, 2500, ",\"reverses\":\"wrong-1\""),
             "district_official", DISTRICT, SQ_ERR_CONFLICT, "reverses");
    s_fails ("transfer.create", s_args ("fix-1", WORK, TREASURY, 2501, ",\"reverses\":\"wrong-1\""),
             "district_official", DISTRICT, SQ_ERR_CONFLICT, "amount");
    s_fails ("transfer.create", s_args ("fix-1", WORK, TREASURY, 1, ",\"reverses\":\"nope\""),
             "district_official", DISTRICT, SQ_ERR_NOT_FOUND, "reverses");
    s_move ("fix-1", WORK, TREASURY, 2500, ",\"reverses\":\"wrong-1\"");
    sq_event_t *event = sq_test_event_about (s_sub, "transfer", "fix-1", "ledger.transfer_posted");
    assert_true (sq_obj_str_eq (sq_obj_get (event->env.data, "reverses"), "wrong-1"));
    assert_string_equal (event->env.div, COMMUNITY);
    sq_event_destroy (&event);
    //  The balance now, and at the moments before and between.
    assert_int_equal (s_balance (WORK, "balance", 0), 100000);
    assert_int_equal (s_balance (WORK, "balance", before), 100000);
    assert_int_equal (s_balance (WORK, "balance", between), 102500);
    //  Lists.
    sq_test_reply_t *reply = s_ok ("transfer.list", "{\"account\":\"" WORK "\",\"from\":0}",
                                   "community_staff", COMMUNITY);
    const msgpack_object *rows = sq_obj_get (reply->result, "transfers");
    //  fund-work-1, b-2, p-post and its post, p-void and its void, p-expire and its expiry,
    //  wrong-1, fix-1.
    assert_int_equal (rows->via.array.size, 10);
    sq_test_reply_destroy (&reply);
    reply = s_ok ("account.list", "{\"division\":\"" COMMUNITY "\"}", "street_official",
                  "131002001");
    //  work, public_service, office and the volunteer_service expenses.
    assert_int_equal (sq_obj_get (reply->result, "accounts")->via.array.size, 4);
    sq_test_reply_destroy (&reply);
    s_fails ("account.list", "{\"division\":\"13100\"}", "operator", "", SQ_ERR_INVALID,
             "division");
    s_fails ("transfer.list", "{\"account\":\"" WORK "\",\"from\":5,\"to\":5}", "operator", "",
             SQ_ERR_INVALID, "to");
}

static void
test_audit_finds_tampering (void **state)
{
    (void) state;
    sq_test_reply_t *reply = s_ok ("audit.verify", "{}", "auditor", "");
    char *json = sq_test_json (reply->result);
    if (!sq_obj_get (reply->result, "ok")->via.boolean)
        fail_msg ("audit failed: %s", json);
    free (json);
    int64_t transfers = sq_test_int (reply->result, "transfers");
    assert_true (transfers > RACE_FUND / RACE_AMOUNT);
    assert_int_equal (sq_test_int (reply->result, "tail_seq"), transfers);
    sq_test_reply_destroy (&reply);
    //  Transfers refuse to be changed...
    sq_error_t err = {0};
    assert_int_equal (sq_db_exec (s_stack.db, "UPDATE ledger.transfer SET amount = amount + 1"
                                  " WHERE seq = 5", 0, NULL, &err), -1);
    //  ...unless someone with the database's keys switches the guard off.
    assert_int_equal (sq_db_exec (s_stack.db, "ALTER TABLE ledger.transfer DISABLE TRIGGER"
                                  " transfer_immutable", 0, NULL, &err), 0);
    assert_int_equal (sq_db_exec (s_stack.db, "UPDATE ledger.transfer SET amount = amount + 1"
                                  " WHERE seq = 5", 0, NULL, &err), 0);
    reply = s_ok ("audit.verify", "{}", "operator", "");
    assert_false (sq_obj_get (reply->result, "ok")->via.boolean);
    const msgpack_object *broken = sq_obj_get (reply->result, "broken");
    assert_int_equal (sq_test_int (broken, "seq"), 5);
    assert_true (sq_obj_str_eq (sq_obj_get (broken, "reason"), "hash"));
    assert_true (sq_obj_get (reply->result, "mismatched")->via.array.size >= 1);
    sq_test_reply_destroy (&reply);
    //  A row removed: the next one is missing its predecessor.
    assert_int_equal (sq_db_exec (s_stack.db, "UPDATE ledger.transfer SET amount = amount - 1"
                                  " WHERE seq = 5", 0, NULL, &err), 0);
    assert_int_equal (sq_db_exec (s_stack.db, "UPDATE ledger.transfer SET prev_hash ="
                                  " sha256 (prev_hash) WHERE seq = 7", 0, NULL, &err), 0);
    reply = s_ok ("audit.verify", "{}", "operator", "");
    broken = sq_obj_get (reply->result, "broken");
    assert_int_equal (sq_test_int (broken, "seq"), 7);
    assert_true (sq_obj_str_eq (sq_obj_get (broken, "reason"), "link"));
    sq_test_reply_destroy (&reply);
    //  A correction naming no transfer (no foreign key stops it: audit.verify does).
    assert_int_equal (sq_db_exec (s_stack.db, "UPDATE ledger.transfer SET reverses = 'ghost'"
                                  " WHERE seq = 9", 0, NULL, &err), 0);
    reply = s_ok ("audit.verify", "{}", "operator", "");
    const msgpack_object *dangling = sq_obj_get (reply->result, "dangling");
    assert_int_equal (dangling->via.array.size, 1);
    assert_int_equal (dangling->via.array.ptr[0].via.i64, 9);
    sq_test_reply_destroy (&reply);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_health_reports_ledger_concurrency),
        cmocka_unit_test (test_create_once_per_id),
        cmocka_unit_test (test_inputs_and_roles),
        cmocka_unit_test (test_racing_debits_never_overdraw),
        cmocka_unit_test (test_grouped_commands_keep_their_identity),
        cmocka_unit_test (test_linked_batch_all_or_nothing),
        cmocka_unit_test (test_pending_post_void_expire),
        cmocka_unit_test (test_corrections_and_history),
        cmocka_unit_test (test_batch_judged_in_order),
        cmocka_unit_test (test_largest_batch),
        cmocka_unit_test (test_audit_finds_tampering),
    };
    return cmocka_run_group_tests (tests, s_setup, s_teardown);
}
