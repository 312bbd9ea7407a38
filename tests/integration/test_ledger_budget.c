/*  The ledger's second slice of issue 5 through the bus, on real PostgreSQL and Redis, with
    the registry and the admission service in this process: counts fed by the registry's
    events, budget.compute for a real district against hand-computed figures, appropriation
    twice posting once, funds following admitted work (catalogue, purchased service,
    withdrawal) and replayed events changing nothing, expenses racing from several clients
    never overdrawing, the statement adding up to the balances, and the audit at the end. */
#include "admission.h"
#include "ledger.h"
#include "sq_test.h"

#include <inttypes.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#define DISTRICT "510403"          //  攀枝花市西区: 26 communities
#define HOME "510403001003"        //  杨家坪社区居民委员会 (urban)
#define VILLAGE "510403100200"     //  新庄村民委员会
#define COUNTY "131002"            //  安次区 (admission)
#define COMMUNITY "131002001007"
#define OTHER "131002001010"
#define OFFICE_ROLE "community_office"
#define WAIT_MS 20000
#define RACERS 8                   //  client threads racing on one fund
#define RACE_EXPENSES 10           //  expenses each racer tries
#define RACE_AMOUNT 2000           //  fen each
#define RACE_FUNDS 100000          //  fen in the fund: room for exactly 50 expenses

static sq_test_stack_t s_stack;
static sq_service_t *s_ledger;
static sq_service_t *s_admission;
static sq_sub_t *s_sub;

static sq_service_t *
s_start_ledger (void)
{
    sq_service_config_t config;
    ledger_service_config (&config);
    config.events_out = bus_endpoint_events_out (s_stack.bus);
    return sq_test_service_start (&s_stack, &config);
}

static int
s_setup (void **state)
{
    (void) state;
    sq_test_stack_start (&s_stack, "ledger_budget");
    sq_service_config_t config;
    admission_service_config (&config);
    config.events_out = bus_endpoint_events_out (s_stack.bus);
    s_admission = sq_test_service_start (&s_stack, &config);
    s_ledger = s_start_ledger ();
    s_sub = sq_sub_new (bus_endpoint_events_out (s_stack.bus),
                        bus_endpoint_commands (s_stack.bus));
    sq_sub_track (s_sub, "ledger", 0);
    return 0;
}

static int
s_teardown (void **state)
{
    (void) state;
    sq_sub_destroy (&s_sub);
    sq_service_destroy (&s_ledger);
    sq_service_destroy (&s_admission);
    sq_test_stack_stop (&s_stack);
    return 0;
}

// ---- helpers ----------------------------------------------------------------------------

static sq_test_reply_t *
s_ok (const char *service, const char *cmd, const char *args, const char *role,
      const char *scope)
{
    return sq_test_ok (s_stack.client, service, cmd, args, role, scope);
}

static void
s_done (sq_test_reply_t *reply)
{
    sq_test_reply_destroy (&reply);
}

static int64_t
s_count (const char *sql)
{
    return sq_test_db_int (s_stack.db, sql);
}

//  Waits until sql gives expected; fails after WAIT_MS.
static void
s_wait_value (const char *sql, int64_t expected)
{
    int64_t deadline = sq_clock_ms () + WAIT_MS, value = -1;
    while (sq_clock_ms () < deadline) {
        value = s_count (sql);
        if (value == expected)
            return;
        usleep (50 * 1000);
    }
    fail_msg ("%s gave %" PRId64 ", expected %" PRId64, sql, value, expected);
}

static int64_t
s_balance (const char *account, const char *field)
{
    char args[256];
    snprintf (args, sizeof args, "{\"account\":\"%s\"}", account);
    sq_test_reply_t *reply = s_ok ("ledger", "account.get", args, "auditor", "");
    int64_t value = sq_test_int (reply->result, field);
    s_done (reply);
    return value;
}

static void
s_register (int n, const char *community, const char *household, bool party)
{
    char id[19], args[512];
    sq_test_id_number (n, id);
    snprintf (args, sizeof args, "{\"id_number\":\"%s\",\"name\":\"居民%d\",\"community\":\"%s\","
              "\"residency\":\"permanent\",\"party_member\":%s%s%s%s}", id, n, community,
              party ? "true" : "false", household ? ",\"household\":\"" : "",
              household ? household : "", household ? "\"" : "");
    s_done (s_ok ("registry", "resident.register", args, "operator", ""));
}

static void
s_household (const char *community, char out[64])
{
    char args[256];
    snprintf (args, sizeof args, "{\"community\":\"%s\",\"address\":\"%s 1号\"}", community,
              community);
    sq_test_reply_t *reply = s_ok ("registry", "household.create", args, "operator", "");
    sq_test_str (reply->result, "id", out, 64);
    s_done (reply);
}

// ---- tests ------------------------------------------------------------------------------

static void
test_budget_of_a_real_district (void **state)
{
    (void) state;
    char home_a[64], home_b[64];
    s_household (HOME, home_a);
    s_household (HOME, home_b);
    s_register (1, HOME, home_a, true);
    s_register (2, HOME, home_a, false);
    s_register (3, HOME, home_b, false);
    s_register (4, VILLAGE, NULL, false);
    //  Counted from the registry's events.
    s_wait_value ("SELECT coalesce ((SELECT residents * 100 + party_members * 10 + households"
                  " FROM ledger.community WHERE code = '" HOME "'), -1)", 312);

    //  PZH 5.4, by hand: 18 urban communities × 50,000 yuan, 2 rural (under 格里坪镇) ×
    //  40,000, 6 villages × 30,000 = 1,160,000 yuan; 2 households × 30 yuan; all district.
    const char *pzh = "{\"division\":\"" DISTRICT "\",\"year\":2026,"
                      "\"profile\":\"panzhihua-2015\"}";
    sq_test_reply_t *reply = s_ok ("ledger", "budget.compute", pzh, "district_official",
                                   DISTRICT);
    assert_int_equal (sq_test_int (reply->result, "communities"), 26);
    const msgpack_object *totals = sq_obj_get (reply->result, "totals");
    assert_int_equal (sq_test_int (totals, "city"), 0);
    assert_int_equal (sq_test_int (totals, "district"), 116000000 + 2 * 3000);
    const msgpack_object *lines = sq_obj_get (reply->result, "lines");
    assert_int_equal (lines->via.array.size, 26 * 2); //  office and public service each
    int64_t sum = 0;
    for (uint32_t i = 0; i < lines->via.array.size; i++)
        sum += sq_test_int (&lines->via.array.ptr[i], "amount");
    assert_int_equal (sum, 116006000);
    s_done (reply);

    //  LF 6.2, by hand: IT 50,000 yuan × 26 shared 3:7; 4 residents × 10 yuan, 1 party
    //  member × 50 yuan to the district.
    const char *lf = "{\"division\":\"" DISTRICT "\",\"year\":2026,\"profile\":\"langfang-2017\"}";
    reply = s_ok ("ledger", "budget.compute", lf, "district_official", DISTRICT);
    totals = sq_obj_get (reply->result, "totals");
    assert_int_equal (sq_test_int (totals, "city"), 26 * 1500000);
    assert_int_equal (sq_test_int (totals, "district"), 26 * 3500000 + 4 * 1000 + 5000);
    assert_int_equal (sq_test_int (totals, "total"), 26 * 5000000 + 9000);
    s_done (reply);
    //  A street of the district: its own communities only.
    reply = s_ok ("ledger", "budget.compute", "{\"division\":\"510403100\",\"year\":2026,"
                  "\"profile\":\"panzhihua-2015\"}", "street_official", "510403100");
    assert_int_equal (sq_test_int (reply->result, "communities"), 8);
    assert_int_equal (sq_test_int (sq_obj_get (reply->result, "totals"), "district"),
                      2 * 4000000 + 6 * 3000000);
    s_done (reply);

    sq_test_fails (s_stack.client, "ledger", "budget.compute", "{\"division\":\"51040\","
                   "\"year\":2026,\"profile\":\"langfang-2017\"}", "operator", "", "invalid",
                   "division");
    sq_test_fails (s_stack.client, "ledger", "budget.compute", "{\"division\":\"" DISTRICT "\","
                   "\"year\":1999,\"profile\":\"langfang-2017\"}", "operator", "", "invalid",
                   "year");
    sq_test_fails (s_stack.client, "ledger", "budget.compute", "{\"division\":\"" DISTRICT "\","
                   "\"year\":2026,\"profile\":\"nowhere\"}", "operator", "", "invalid",
                   "profile");
    sq_test_fails (s_stack.client, "ledger", "budget.compute", lf, "district_official",
                   "131002", "forbidden", "division");
    sq_test_fails (s_stack.client, "ledger", "budget.compute", lf, "resident", DISTRICT,
                   "forbidden", "actor.role");
    sq_test_fails (s_stack.client, "ledger", "budget.compute", "{\"division\":\"519999\","
                   "\"year\":2026,\"profile\":\"langfang-2017\"}", "operator", "", "not_found",
                   "division");
}

static void
test_appropriation_posts_once (void **state)
{
    (void) state;
    const char *lf = "{\"division\":\"" DISTRICT "\",\"year\":2026,\"profile\":\"langfang-2017\"}";
    sq_test_fails (s_stack.client, "ledger", "budget.appropriate", lf, "street_official",
                   DISTRICT, "forbidden", "actor.role");
    //  The district's official may not take the city's share.
    sq_test_fails (s_stack.client, "ledger", "budget.appropriate", lf, "district_official",
                   DISTRICT, "forbidden", NULL);
    assert_int_equal (s_count ("SELECT count(*) FROM ledger.transfer"), 0); //  nothing kept
    //  52 IT lines, work for 2 communities, party building for 1.
    sq_test_reply_t *reply = s_ok ("ledger", "budget.appropriate", lf, "operator", "");
    assert_int_equal (sq_test_int (reply->result, "transfers"), 55);
    assert_int_equal (sq_test_int (reply->result, "posted"), 55);
    assert_int_equal (sq_test_int (sq_obj_get (reply->result, "posted_amount"), "total"),
                      26 * 5000000 + 9000);
    s_done (reply);
    sq_event_t *event = sq_test_event_about (s_sub, "division", DISTRICT, "ledger.appropriated");
    assert_int_equal (sq_test_int (event->env.data, "transfers"), 55);
    sq_event_destroy (&event);
    reply = s_ok ("ledger", "budget.appropriate", lf, "operator", "");
    assert_int_equal (sq_test_int (reply->result, "posted"), 0);
    assert_int_equal (sq_test_int (reply->result, "found"), 55);
    s_done (reply);
    //  A street of it afterwards: its lines are the same transfers, nothing new.
    reply = s_ok ("ledger", "budget.appropriate", "{\"division\":\"510403100\",\"year\":2026,"
                  "\"profile\":\"langfang-2017\"}", "city_official", "5104");
    assert_int_equal (sq_test_int (reply->result, "posted"), 0);
    s_done (reply);
    assert_int_equal (s_count ("SELECT count(*) FROM ledger.transfer WHERE code ="
                               " 'appropriation'"), 55);
    assert_int_equal (s_balance ("treasury:5104", "balance"), -26 * 1500000);
    assert_int_equal (s_balance ("treasury:" DISTRICT, "balance"), -(26 * 3500000 + 9000));
    assert_int_equal (s_balance ("community:" HOME ":work", "balance"), 3000);
    assert_int_equal (s_balance ("community:" HOME ":party_building", "balance"), 5000);
    assert_int_equal (s_balance ("community:" VILLAGE ":it_training", "balance"), 5000000);
    //  The counts changed since: the same year's lines cannot be posted again differently.
    s_register (5, HOME, NULL, false);
    s_wait_value ("SELECT residents FROM ledger.community WHERE code = '" HOME "'", 4);
    sq_test_fails (s_stack.client, "ledger", "budget.appropriate", lf, "operator", "",
                   "conflict", "year");
    assert_int_equal (s_count ("SELECT count(*) FROM ledger.transfer WHERE code ="
                               " 'appropriation'"), 55);
}

//  Submits and approves an application of 统计局 in COUNTY; rest is JSON of the targets,
//  funds and track fields. Returns its id in out.
static void
s_approve (const char *rest, char out[64])
{
    char args[1024];
    snprintf (args, sizeof args, "{\"department\":\"统计局\",\"title\":\"入户核查\","
              "\"start\":\"2026-12-01\",\"end\":\"2099-12-31\",\"kind\":\"task\",%s}", rest);
    sq_test_reply_t *reply = s_ok ("admission", "application.submit", args, "department",
                                   COUNTY);
    sq_test_str (reply->result, "id", out, 64);
    s_done (reply);
    snprintf (args, sizeof args, "{\"id\":\"%s\",\"decision\":\"approve\",\"note\":\"同意\"}",
              out);
    s_done (s_ok ("admission", "application.review", args, OFFICE_ROLE, COUNTY));
}

static void
test_funds_follow_admitted_work (void **state)
{
    (void) state;
    char sql[512], catalogue[64], bought[64], args[256];
    s_done (s_ok ("admission", "catalog.put", "{\"county\":\"" COUNTY "\",\"list\":"
                  "\"assist_government\",\"code\":\"A-01\",\"name\":\"协助开展人口普查\","
                  "\"department\":\"统计局\"}", OFFICE_ROLE, COUNTY));
    //  Catalogue work: posted at once.
    s_approve ("\"catalog_item\":\"A-01\",\"targets\":[\"" COMMUNITY "\"],"
               "\"funds_per_community\":300000,\"staff_support\":true", catalogue);
    snprintf (sql, sizeof sql, "SELECT count(*) FROM ledger.transfer WHERE id = 'adm:%s:"
              COMMUNITY "' AND kind = 'posted'", catalogue);
    s_wait_value (sql, 1);
    snprintf (sql, sizeof sql, "SELECT count(*) FROM ledger.transfer t JOIN ledger.inbox i ON"
              " t.memo = 'admission.approved event ' || i.event_id || ' application %s' WHERE"
              " t.id = 'adm:%s:" COMMUNITY "'", catalogue, catalogue);
    assert_int_equal (s_count (sql), 1); //  it names the decision
    assert_int_equal (s_balance ("community:" COMMUNITY ":admission", "balance"), 300000);

    //  Bought as a service: pending per community until its agreement is signed.
    s_approve ("\"targets\":[\"" COMMUNITY "\",\"" OTHER "\"],\"funds_per_community\":500000",
               bought);
    snprintf (sql, sizeof sql, "SELECT count(*) FROM ledger.pending_open WHERE id LIKE"
              " 'adm:%s:%%'", bought);
    s_wait_value (sql, 2);
    assert_int_equal (s_balance ("community:" OTHER ":admission", "credits_pending"), 500000);
    sq_test_reply_t *reply = s_ok ("admission", "agreement.list", "{\"community\":\""
                                   COMMUNITY "\"}", "community_staff", COMMUNITY);
    const msgpack_object *agreements = sq_obj_get (reply->result, "agreements");
    char agreement[64] = "", application[64];
    for (uint32_t i = 0; i < agreements->via.array.size; i++)
        if (strcmp (sq_test_str (&agreements->via.array.ptr[i], "application", application,
                                 sizeof application), bought) == 0)
            sq_test_str (&agreements->via.array.ptr[i], "id", agreement, sizeof agreement);
    s_done (reply);
    assert_true (agreement[0]);
    snprintf (args, sizeof args, "{\"id\":\"%s\"}", agreement);
    s_done (s_ok ("admission", "agreement.sign", args, "community_staff", COMMUNITY));
    snprintf (sql, sizeof sql, "SELECT count(*) FROM ledger.transfer WHERE pending_id ="
              " 'adm:%s:" COMMUNITY "' AND kind = 'post' AND memo LIKE"
              " 'admission.agreement_signed event %% application %s agreement %s'", bought,
              bought, agreement);
    s_wait_value (sql, 1);
    //  Withdrawn: the other community's pending funds are voided, naming the withdrawal.
    snprintf (args, sizeof args, "{\"id\":\"%s\"}", bought);
    s_done (s_ok ("admission", "application.withdraw", args, "department", COUNTY));
    snprintf (sql, sizeof sql, "SELECT count(*) FROM ledger.transfer WHERE pending_id ="
              " 'adm:%s:" OTHER "' AND kind = 'void' AND memo LIKE 'admission.withdrawn"
              " event %% application %s'", bought, bought);
    s_wait_value (sql, 1);
    assert_int_equal (s_balance ("community:" COMMUNITY ":admission", "balance"), 800000);
    assert_int_equal (s_balance ("community:" OTHER ":admission", "balance"), 0);
    assert_int_equal (s_balance ("community:" OTHER ":admission", "credits_pending"), 0);
    //  Departments are sources: below zero by what they paid.
    assert_int_equal (s_balance ("department:统计局", "balance"), -800000);

    //  Replayed from the start (the inbox forgotten): the ids find their transfers.
    int64_t rows = s_count ("SELECT count(*) FROM ledger.transfer");
    sq_service_destroy (&s_ledger);
    free (sq_test_db_value (s_stack.db, "WITH gone AS (DELETE FROM ledger.inbox WHERE src ="
                            " 'admission' RETURNING 1) SELECT count(*) FROM gone"));
    s_ledger = s_start_ledger ();
    s_wait_value ("SELECT count(*) FROM ledger.inbox WHERE src = 'admission'",
                  s_count ("SELECT last_seq FROM admission.stream WHERE name = 'admission'"));
    assert_int_equal (s_count ("SELECT count(*) FROM ledger.transfer"), rows);
    assert_int_equal (s_balance ("department:统计局", "balance"), -800000);
}

typedef struct {
    int index;
    atomic_int *spent;      //  expenses recorded
    atomic_int *refused;    //  conflicts naming the balance
    atomic_int *other;      //  anything else
} s_racer_t;

static void *
s_race (void *arg)
{
    s_racer_t *racer = arg;
    sq_mdp_client_t *client = sq_mdp_client_new (bus_endpoint_commands (s_stack.bus));
    for (int i = 0; i < RACE_EXPENSES; i++) {
        char args[512];
        snprintf (args, sizeof args, "{\"community\":\"" COMMUNITY "\",\"fund\":"
                  "\"public_service\",\"amount\":%d,\"category\":\"volunteer_service\","
                  "\"date\":\"2026-01-15\",\"memo\":\"志愿服务 %d-%d\"}", RACE_AMOUNT,
                  racer->index, i);
        sq_test_reply_t *reply = sq_test_call (client, "ledger", "expense.record", args,
                                               "community_staff", COMMUNITY, NULL);
        if (reply->ok)
            atomic_fetch_add (racer->spent, 1);
        else if (strcmp (reply->code, "conflict") == 0 && strcmp (reply->field, "amount") == 0
                 && strstr (reply->message, "fen available"))
            atomic_fetch_add (racer->refused, 1);
        else if (atomic_fetch_add (racer->other, 1) == 0)
            fprintf (stderr, "expense.record: %s %s (%s)\n", reply->code, reply->message,
                     reply->field);
        sq_test_reply_destroy (&reply);
    }
    sq_mdp_client_destroy (&client);
    return NULL;
}

static void
test_expenses_race_and_statement (void **state)
{
    (void) state;
    char args[512];
    snprintf (args, sizeof args, "{\"id\":\"ps-2026\",\"debit\":\"treasury:" COUNTY "\","
              "\"credit\":\"community:" COMMUNITY ":public_service\",\"amount\":%d,"
              "\"code\":\"appropriation\"}", RACE_FUNDS);
    s_done (s_ok ("ledger", "transfer.create", args, "district_official", COUNTY));
    int64_t before = sq_now_us ();
    atomic_int spent = 0, refused = 0, other = 0;
    pthread_t threads[RACERS];
    s_racer_t racers[RACERS];
    for (int i = 0; i < RACERS; i++) {
        racers[i] = (s_racer_t) {i, &spent, &refused, &other};
        assert_int_equal (pthread_create (&threads[i], NULL, s_race, &racers[i]), 0);
    }
    for (int i = 0; i < RACERS; i++)
        pthread_join (threads[i], NULL);
    assert_int_equal (atomic_load (&other), 0);
    assert_int_equal (atomic_load (&spent), RACE_FUNDS / RACE_AMOUNT);
    assert_int_equal (atomic_load (&refused), RACERS * RACE_EXPENSES - RACE_FUNDS / RACE_AMOUNT);
    assert_int_equal (s_balance ("community:" COMMUNITY ":public_service", "balance"), 0);
    assert_int_equal (s_balance ("expense:" COMMUNITY ":volunteer_service", "balance"),
                      RACE_FUNDS);

    const char *bad[][2] = {
        {"{\"community\":\"13100200100\",\"fund\":\"office\",\"amount\":1,\"category\":\"other\","
         "\"date\":\"2026-01-01\"}", "community"},
        {"{\"community\":\"" COMMUNITY "\",\"fund\":\"rent\",\"amount\":1,\"category\":\"other\","
         "\"date\":\"2026-01-01\"}", "fund"},
        {"{\"community\":\"" COMMUNITY "\",\"fund\":\"office\",\"amount\":0,\"category\":\"other\","
         "\"date\":\"2026-01-01\"}", "amount"},
        {"{\"community\":\"" COMMUNITY "\",\"fund\":\"office\",\"amount\":1,\"category\":\"food\","
         "\"date\":\"2026-01-01\"}", "category"},
        {"{\"community\":\"" COMMUNITY "\",\"fund\":\"office\",\"amount\":1,\"category\":\"other\","
         "\"date\":\"2026-02-30\"}", "date"},
        {"{\"community\":\"" COMMUNITY "\",\"fund\":\"office\",\"amount\":1,\"category\":\"other\","
         "\"date\":\"2099-01-01\"}", "date"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        sq_test_fails (s_stack.client, "ledger", "expense.record", bad[i][0], "community_staff",
                       COMMUNITY, "invalid", bad[i][1]);
    sq_test_fails (s_stack.client, "ledger", "expense.record", "{\"community\":\"" COMMUNITY "\","
                   "\"fund\":\"admission\",\"amount\":1000000,\"category\":\"other\","
                   "\"date\":\"2026-01-01\"}", "community_staff", COMMUNITY, "conflict", "amount");
    sq_test_fails (s_stack.client, "ledger", "expense.record", "{\"community\":\"" COMMUNITY "\","
                   "\"fund\":\"admission\",\"amount\":1,\"category\":\"other\","
                   "\"date\":\"2026-01-01\"}", "community_staff", OTHER, "forbidden", NULL);
    s_done (s_ok ("ledger", "expense.record", "{\"community\":\"" COMMUNITY "\",\"fund\":"
                  "\"admission\",\"amount\":120000,\"category\":\"education_training\","
                  "\"date\":\"2026-01-20\",\"memo\":\"普查员培训\"}", "community_staff",
                  COMMUNITY));

    //  The whole history: closing per fund = the balance; the totals add up.
    snprintf (args, sizeof args, "{\"community\":\"" COMMUNITY "\"}");
    sq_test_reply_t *reply = s_ok ("ledger", "statement.get", args, "community_staff",
                                   COMMUNITY);
    const msgpack_object *funds = sq_obj_get (reply->result, "funds");
    int64_t closing = 0;
    for (uint32_t i = 0; i < funds->via.array.size; i++) {
        const msgpack_object *fund = &funds->via.array.ptr[i];
        char account[LEDGER_ACCOUNT_MAX + 1];
        sq_test_str (fund, "account", account, sizeof account);
        assert_int_equal (sq_test_int (fund, "closing"), s_balance (account, "balance"));
        assert_int_equal (sq_test_int (fund, "opening") + sq_test_int (fund, "inflow")
                          - sq_test_int (fund, "outflow"), sq_test_int (fund, "closing"));
        closing += sq_test_int (fund, "closing");
    }
    const msgpack_object *total = sq_obj_get (reply->result, "total");
    assert_int_equal (sq_test_int (total, "closing"), closing);
    assert_int_equal (closing, 800000 - 120000);
    const msgpack_object *by_category = sq_obj_get (reply->result, "outflows_by_category");
    assert_int_equal (sq_test_int (by_category, "volunteer_service"), RACE_FUNDS);
    assert_int_equal (sq_test_int (by_category, "education_training"), 120000);
    s_done (reply);
    //  From the race on: the opening is the balance just before it.
    snprintf (args, sizeof args, "{\"community\":\"" COMMUNITY "\",\"from\":%" PRId64 "}",
              before);
    reply = s_ok ("ledger", "statement.get", args, "auditor", "");
    funds = sq_obj_get (reply->result, "funds");
    for (uint32_t i = 0; i < funds->via.array.size; i++) {
        const msgpack_object *fund = &funds->via.array.ptr[i];
        char name[32];
        if (strcmp (sq_test_str (fund, "fund", name, sizeof name), "public_service") == 0) {
            assert_int_equal (sq_test_int (fund, "opening"), RACE_FUNDS);
            assert_int_equal (sq_test_int (fund, "outflow"), RACE_FUNDS);
            assert_int_equal (sq_test_int (fund, "closing"), 0);
        }
    }
    s_done (reply);
    sq_test_fails (s_stack.client, "ledger", "statement.get", args, "community_staff", OTHER,
                   "forbidden", "community");
    sq_test_fails (s_stack.client, "ledger", "statement.get", "{\"community\":\"" COMMUNITY "\","
                   "\"from\":5,\"to\":5}", "auditor", "", "invalid", "to");
}

static void
test_audit_at_the_end (void **state)
{
    (void) state;
    sq_test_reply_t *reply = s_ok ("ledger", "audit.verify", "{}", "auditor", "");
    assert_true (sq_obj_get (reply->result, "ok")->via.boolean);
    assert_true (sq_obj_get (reply->result, "balanced")->via.boolean);
    s_done (reply);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_budget_of_a_real_district),
        cmocka_unit_test (test_appropriation_posts_once),
        cmocka_unit_test (test_funds_follow_admitted_work),
        cmocka_unit_test (test_expenses_race_and_statement),
        cmocka_unit_test (test_audit_at_the_end),
    };
    return cmocka_run_group_tests (tests, s_setup, s_teardown);
}
