/*  test_profiles: the ledger's entitlements under the policy profiles (issue 5; DOMAIN.md
    section 5), on cases computed by hand from the seeds' rates: LF 10 yuan per resident,
    50 per party member, 50,000 per community for IT shared 3:7; PZH 50,000 / 40,000 / 30,000
    office funds by kind, 3,000 yuan per 100 households. Amounts are fen. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "ledger/profiles.h"
#include "registry/rules.h"

#define CODE "131003001002" //  a community of Langfang's Guangyang district

//  Computes community's lines under the profile called name; fails the test on an error.
static size_t
s_compute (const char *name, ledger_community_t community, ledger_line_t *lines)
{
    sq_error_t err = {0};
    const ledger_profile_t *profile = ledger_profile_find (name, &err);
    assert_non_null (profile);
    size_t count = 99;
    if (ledger_profile_compute (profile, &community, lines, &count, &err))
        fail_msg ("%s", err.message);
    return count;
}

//  Checks one line in full.
static void
s_assert_line (const ledger_line_t *line, ledger_fund_t fund, ledger_basis_t basis,
               int64_t quantity, int64_t rate_fen, int share_percent, int64_t amount_fen,
               ledger_payer_t payer)
{
    assert_int_equal (line->fund, fund);
    assert_int_equal (line->basis, basis);
    assert_int_equal (line->quantity, quantity);
    assert_int_equal (line->rate_fen, rate_fen);
    assert_int_equal (line->share_percent, share_percent);
    assert_int_equal (line->amount_fen, amount_fen);
    assert_int_equal (line->payer, payer);
    assert_non_null (line->source);
}

//  Computes under name and expects an `invalid` error naming field.
static void
s_assert_invalid (const char *name, ledger_community_t community, const char *field)
{
    ledger_line_t lines[LEDGER_LINES_MAX];
    sq_error_t err = {0};
    size_t count = 99;
    assert_int_equal (ledger_profile_compute (ledger_profile_find (name, NULL), &community,
                                              lines, &count, &err), -1);
    assert_int_equal (count, 0);
    assert_string_equal (err.code, SQ_ERR_INVALID);
    assert_string_equal (err.field, field);
    assert_non_null (strstr (err.message, field));
}

static void
test_langfang_work_and_party_funds (void **state)
{
    ledger_line_t lines[LEDGER_LINES_MAX];
    ledger_community_t community = {CODE, REGISTRY_KIND_URBAN_COMMUNITY, 1234, 57, 480};
    size_t count = s_compute ("langfang-2017", community, lines);
    assert_int_equal (count, 4);
    //  1,234 × 10 yuan = 12,340 yuan; 57 × 50 yuan = 2,850 yuan; together 15,190 yuan.
    s_assert_line (&lines[0], LEDGER_FUND_WORK, LEDGER_BASIS_PER_RESIDENT, 1234, 1000, 100,
                   1234000, LEDGER_PAYER_DISTRICT);
    s_assert_line (&lines[1], LEDGER_FUND_PARTY_BUILDING, LEDGER_BASIS_PER_PARTY_MEMBER, 57, 5000,
                   100, 285000, LEDGER_PAYER_DISTRICT);
    assert_int_equal (lines[0].amount_fen + lines[1].amount_fen, 1519000);
    //  IT and training, 50,000 yuan shared 3:7: 15,000 yuan city, 35,000 yuan district.
    s_assert_line (&lines[2], LEDGER_FUND_IT_TRAINING, LEDGER_BASIS_PER_COMMUNITY, 1, 5000000, 30,
                   1500000, LEDGER_PAYER_CITY);
    s_assert_line (&lines[3], LEDGER_FUND_IT_TRAINING, LEDGER_BASIS_PER_COMMUNITY, 1, 5000000, 70,
                   3500000, LEDGER_PAYER_DISTRICT);
    assert_int_equal (lines[2].amount_fen + lines[3].amount_fen, 5000000);
    assert_string_equal (lines[0].source, "LF 6.2");
    //  The district pays 15,190 + 35,000 yuan, the city 15,000.
    ledger_totals_t totals = {{0}};
    sq_error_t err = {0};
    assert_int_equal (ledger_totals_add (&totals, lines, count, &err), 0);
    assert_int_equal (totals.amount_fen[LEDGER_PAYER_CITY], 1500000);
    assert_int_equal (totals.amount_fen[LEDGER_PAYER_DISTRICT], 5019000);
}

static void
test_langfang_every_kind_and_empty (void **state)
{
    //  LF's rates do not depend on the kind of community.
    const char *kinds[] = {REGISTRY_KIND_URBAN_COMMUNITY, REGISTRY_KIND_RURAL_COMMUNITY,
                           REGISTRY_KIND_VILLAGE};
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        ledger_line_t lines[LEDGER_LINES_MAX];
        ledger_community_t community = {CODE, kinds[k], 3, 1, 2};
        assert_int_equal (s_compute ("langfang-2017", community, lines), 4);
        assert_int_equal (lines[0].amount_fen, 3000);
        assert_int_equal (lines[1].amount_fen, 5000);
        assert_int_equal (lines[2].amount_fen + lines[3].amount_fen, 5000000);
    }
    //  A community with nobody counted yet still has its lines, at 0 but for IT.
    ledger_line_t lines[LEDGER_LINES_MAX];
    ledger_community_t empty = {CODE, REGISTRY_KIND_VILLAGE, 0, 0, 0};
    assert_int_equal (s_compute ("langfang-2017", empty, lines), 4);
    s_assert_line (&lines[0], LEDGER_FUND_WORK, LEDGER_BASIS_PER_RESIDENT, 0, 1000, 100, 0,
                   LEDGER_PAYER_DISTRICT);
    assert_int_equal (lines[1].amount_fen, 0);
    assert_int_equal (lines[3].amount_fen, 3500000);
}

static void
test_panzhihua_office_funds_by_kind (void **state)
{
    struct {
        const char *kind;
        int64_t office_fen;
    } cases[] = {{REGISTRY_KIND_URBAN_COMMUNITY, 5000000},
                 {REGISTRY_KIND_RURAL_COMMUNITY, 4000000},
                 {REGISTRY_KIND_VILLAGE, 3000000}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ledger_line_t lines[LEDGER_LINES_MAX];
        ledger_community_t community = {CODE, cases[i].kind, 2600, 80, 1000};
        assert_int_equal (s_compute ("panzhihua-2015", community, lines), 2);
        s_assert_line (&lines[0], LEDGER_FUND_OFFICE, LEDGER_BASIS_PER_COMMUNITY, 1,
                       cases[i].office_fen, 100, cases[i].office_fen, LEDGER_PAYER_DISTRICT);
        //  1,000 households: 10 × 3,000 yuan.
        s_assert_line (&lines[1], LEDGER_FUND_PUBLIC_SERVICE, LEDGER_BASIS_PER_HOUSEHOLD, 1000,
                       3000, 100, 3000000, LEDGER_PAYER_DISTRICT);
        assert_string_equal (lines[0].source, "PZH 5.4");
    }
}

static void
test_panzhihua_public_service_pro_rata (void **state)
{
    //  3,000 yuan per 100 households, pro rata: 30 yuan = 3,000 fen a household.
    struct {
        int64_t households;
        int64_t amount_fen;
    } cases[] = {{0, 0}, {1, 3000}, {99, 297000}, {100, 300000}, {101, 303000},
                 {2999, 8997000}, {LEDGER_COUNT_MAX, INT64_C (300000000000)}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ledger_line_t lines[LEDGER_LINES_MAX];
        ledger_community_t community = {CODE, REGISTRY_KIND_URBAN_COMMUNITY, 0, 0,
                                        cases[i].households};
        assert_int_equal (s_compute ("panzhihua-2015", community, lines), 2);
        assert_int_equal (lines[1].fund, LEDGER_FUND_PUBLIC_SERVICE);
        assert_int_equal (lines[1].quantity, cases[i].households);
        assert_int_equal (lines[1].amount_fen, cases[i].amount_fen);
    }
}

static void
test_split_is_exact (void **state)
{
    const int lf_it[LEDGER_PAYER_COUNT] = {[LEDGER_PAYER_CITY] = 30, [LEDGER_PAYER_DISTRICT] = 70};
    const int halves[LEDGER_PAYER_COUNT] = {[LEDGER_PAYER_CITY] = 50, [LEDGER_PAYER_DISTRICT] = 50};
    const int district[LEDGER_PAYER_COUNT] = {[LEDGER_PAYER_DISTRICT] = 100};
    struct {
        int64_t whole;
        const int *percent;
        ledger_payer_t remainder_payer;
        int64_t city, district;
    } cases[] = {
        {5000000, lf_it, LEDGER_PAYER_DISTRICT, 1500000, 3500000},
        {0, lf_it, LEDGER_PAYER_DISTRICT, 0, 0},
        {1, lf_it, LEDGER_PAYER_DISTRICT, 0, 1},      //  0.3 and 0.7: the fen to the district
        {101, lf_it, LEDGER_PAYER_DISTRICT, 30, 71},  //  30.3 and 70.7
        {101, lf_it, LEDGER_PAYER_CITY, 31, 70},      //  the same fen, to the city
        {199, lf_it, LEDGER_PAYER_DISTRICT, 59, 140}, //  59.7 and 139.3
        {101, halves, LEDGER_PAYER_DISTRICT, 50, 51}, //  old housing's 5:5
        {INT64_MAX, district, LEDGER_PAYER_DISTRICT, 0, INT64_MAX},
        {INT64_MAX, lf_it, LEDGER_PAYER_DISTRICT, INT64_C (2767011611056432742),
         INT64_C (6456360425798343065)},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t part[LEDGER_PAYER_COUNT];
        ledger_split_fen (cases[i].whole, cases[i].percent, cases[i].remainder_payer, part);
        assert_int_equal (part[LEDGER_PAYER_CITY], cases[i].city);
        assert_int_equal (part[LEDGER_PAYER_DISTRICT], cases[i].district);
        assert_true (part[LEDGER_PAYER_CITY] == cases[i].whole - part[LEDGER_PAYER_DISTRICT]);
    }
}

static void
test_unknown_profile (void **state)
{
    sq_error_t err = {0};
    assert_null (ledger_profile_find ("beijing-2020", &err));
    assert_string_equal (err.code, SQ_ERR_INVALID);
    assert_string_equal (err.field, "profile");
    assert_non_null (strstr (err.message, "beijing-2020"));
    //  The message lists every profile there is.
    size_t i = 0;
    for (const ledger_profile_t *profile; (profile = ledger_profile_at (i)); i++)
        assert_non_null (strstr (err.message, ledger_profile_name (profile)));
    assert_int_equal (i, 2);
    sq_error_t none = {0};
    assert_null (ledger_profile_find (NULL, &none));
    assert_string_equal (none.field, "profile");
    assert_null (ledger_profile_find ("Langfang-2017", NULL)); //  names are exact
}

static void
test_profile_list (void **state)
{
    assert_string_equal (ledger_profile_name (ledger_profile_at (0)), "langfang-2017");
    assert_string_equal (ledger_profile_name (ledger_profile_at (1)), "panzhihua-2015");
    assert_null (ledger_profile_at (2));
    for (size_t i = 0; ledger_profile_at (i); i++) {
        const ledger_profile_t *profile = ledger_profile_at (i);
        assert_ptr_equal (ledger_profile_find (ledger_profile_name (profile), NULL), profile);
        assert_non_null (ledger_profile_source (profile));
    }
}

static void
test_invalid_communities (void **state)
{
    const char *lf = "langfang-2017", *pzh = "panzhihua-2015", *urban = "urban_community";
    s_assert_invalid (lf, (ledger_community_t) {CODE, urban, -1, 0, 0}, "residents");
    s_assert_invalid (lf, (ledger_community_t) {CODE, urban, INT64_MIN, 0, 0}, "residents");
    s_assert_invalid (lf, (ledger_community_t) {CODE, urban, 0, -5, 0}, "party_members");
    s_assert_invalid (lf, (ledger_community_t) {CODE, urban, 0, LEDGER_COUNT_MAX + 1, 0},
                      "party_members");
    //  Counts that would overflow the amounts are refused as out of range, in any profile.
    s_assert_invalid (pzh, (ledger_community_t) {CODE, urban, 0, 0, INT64_MAX}, "households");
    s_assert_invalid (lf, (ledger_community_t) {CODE, urban, 0, 0, INT64_MAX / 2}, "households");
    s_assert_invalid (pzh, (ledger_community_t) {CODE, urban, INT64_MAX / 1000, 0, 0},
                      "residents");
    s_assert_invalid (pzh, (ledger_community_t) {CODE, "town", 1, 1, 1}, "kind");
    s_assert_invalid (pzh, (ledger_community_t) {CODE, NULL, 1, 1, 1}, "kind");
    s_assert_invalid (pzh, (ledger_community_t) {"13100300100", urban, 1, 1, 1}, "code");
    s_assert_invalid (pzh, (ledger_community_t) {"13100300100x", urban, 1, 1, 1}, "code");
    s_assert_invalid (pzh, (ledger_community_t) {NULL, urban, 1, 1, 1}, "code");
    //  The largest counts allowed compute without overflow: 10^8 × 50 yuan.
    ledger_line_t lines[LEDGER_LINES_MAX];
    ledger_community_t largest = {CODE, urban, LEDGER_COUNT_MAX, LEDGER_COUNT_MAX,
                                  LEDGER_COUNT_MAX};
    assert_int_equal (s_compute (lf, largest, lines), 4);
    assert_int_equal (lines[1].amount_fen, INT64_C (500000000000));
}

//  Per-payer totals equal the sum of the lines, over many communities of both profiles.
static void
test_totals_are_the_sum_of_lines (void **state)
{
    for (size_t p = 0; ledger_profile_at (p); p++) {
        const ledger_profile_t *profile = ledger_profile_at (p);
        ledger_totals_t totals = {{0}};
        int64_t by_hand[LEDGER_PAYER_COUNT] = {0};
        int64_t lines_sum = 0;
        for (int64_t i = 0; i < 300; i++) {
            ledger_community_t community = {CODE, ledger_kind_name ((ledger_kind_t) (i % 3)),
                                            i * 37 % 5000, i % 91, i * 13 % 2900};
            ledger_line_t lines[LEDGER_LINES_MAX];
            size_t count = 0;
            sq_error_t err = {0};
            assert_int_equal (ledger_profile_compute (profile, &community, lines, &count, &err),
                              0);
            for (size_t l = 0; l < count; l++) {
                by_hand[lines[l].payer] += lines[l].amount_fen;
                lines_sum += lines[l].amount_fen;
            }
            assert_int_equal (ledger_totals_add (&totals, lines, count, &err), 0);
        }
        assert_int_equal (totals.amount_fen[LEDGER_PAYER_CITY], by_hand[LEDGER_PAYER_CITY]);
        assert_int_equal (totals.amount_fen[LEDGER_PAYER_DISTRICT],
                          by_hand[LEDGER_PAYER_DISTRICT]);
        assert_int_equal (totals.amount_fen[LEDGER_PAYER_CITY]
                              + totals.amount_fen[LEDGER_PAYER_DISTRICT],
                          lines_sum);
    }
    //  PZH over the 300: 100 of each kind, so office funds are 100 × (50,000 + 40,000 +
    //  30,000) yuan, plus 3,000 fen for each household counted.
    ledger_totals_t pzh = {{0}};
    int64_t households = 0;
    for (int64_t i = 0; i < 300; i++) {
        ledger_community_t community = {CODE, ledger_kind_name ((ledger_kind_t) (i % 3)), 0, 0,
                                        i * 13 % 2900};
        ledger_line_t lines[LEDGER_LINES_MAX];
        size_t count = 0;
        sq_error_t err = {0};
        assert_int_equal (ledger_profile_compute (ledger_profile_find ("panzhihua-2015", NULL),
                                                  &community, lines, &count, &err), 0);
        assert_int_equal (ledger_totals_add (&pzh, lines, count, &err), 0);
        households += community.households;
    }
    assert_int_equal (pzh.amount_fen[LEDGER_PAYER_CITY], 0);
    assert_int_equal (pzh.amount_fen[LEDGER_PAYER_DISTRICT],
                      INT64_C (100) * 12000000 + households * 3000);
}

static void
test_totals_overflow (void **state)
{
    ledger_line_t lines[LEDGER_LINES_MAX];
    ledger_community_t community = {CODE, REGISTRY_KIND_URBAN_COMMUNITY, 10, 1, 1};
    size_t count = s_compute ("langfang-2017", community, lines);
    ledger_totals_t totals = {{[LEDGER_PAYER_CITY] = 7, [LEDGER_PAYER_DISTRICT] = INT64_MAX - 1}};
    sq_error_t err = {0};
    assert_int_equal (ledger_totals_add (&totals, lines, count, &err), -1);
    assert_string_equal (err.code, SQ_ERR_INVALID);
    assert_string_equal (err.field, "amount");
    assert_non_null (strstr (err.message, "district"));
    //  Nothing was added, not even the city's lines that fitted.
    assert_int_equal (totals.amount_fen[LEDGER_PAYER_CITY], 7);
    assert_int_equal (totals.amount_fen[LEDGER_PAYER_DISTRICT], INT64_MAX - 1);
    assert_int_equal (ledger_totals_add (&totals, NULL, 0, &err), 0);
}

static void
test_names (void **state)
{
    //  The wire's fund names, in order, and the registry's kinds.
    const char *funds[] = {"work", "party_building", "it_training", "office", "public_service",
                           "old_housing", "award", "admission"};
    assert_int_equal (sizeof funds / sizeof funds[0], LEDGER_FUND_COUNT);
    for (int f = 0; f < LEDGER_FUND_COUNT; f++) {
        assert_string_equal (ledger_fund_name ((ledger_fund_t) f), funds[f]);
        ledger_fund_t parsed = LEDGER_FUND_COUNT;
        assert_int_equal (ledger_fund_parse (funds[f], &parsed), 0);
        assert_int_equal (parsed, f);
    }
    ledger_fund_t fund;
    assert_int_equal (ledger_fund_parse ("Work", &fund), -1);
    assert_int_equal (ledger_fund_parse (NULL, &fund), -1);
    assert_string_equal (ledger_kind_name (LEDGER_KIND_URBAN_COMMUNITY),
                         REGISTRY_KIND_URBAN_COMMUNITY);
    assert_string_equal (ledger_kind_name (LEDGER_KIND_RURAL_COMMUNITY),
                         REGISTRY_KIND_RURAL_COMMUNITY);
    assert_string_equal (ledger_kind_name (LEDGER_KIND_VILLAGE), REGISTRY_KIND_VILLAGE);
    ledger_kind_t kind;
    assert_int_equal (ledger_kind_parse (REGISTRY_KIND_VILLAGE, &kind), 0);
    assert_int_equal (kind, LEDGER_KIND_VILLAGE);
    assert_int_equal (ledger_kind_parse ("city", &kind), -1);
    assert_string_equal (ledger_payer_name (LEDGER_PAYER_CITY), "city");
    assert_string_equal (ledger_payer_name (LEDGER_PAYER_DISTRICT), "district");
    assert_string_equal (ledger_basis_name (LEDGER_BASIS_PER_RESIDENT), "per_resident");
    assert_string_equal (ledger_basis_name (LEDGER_BASIS_PER_PARTY_MEMBER), "per_party_member");
    assert_string_equal (ledger_basis_name (LEDGER_BASIS_PER_HOUSEHOLD), "per_household");
    assert_string_equal (ledger_basis_name (LEDGER_BASIS_PER_COMMUNITY), "per_community");
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_langfang_work_and_party_funds),
        cmocka_unit_test (test_langfang_every_kind_and_empty),
        cmocka_unit_test (test_panzhihua_office_funds_by_kind),
        cmocka_unit_test (test_panzhihua_public_service_pro_rata),
        cmocka_unit_test (test_split_is_exact),
        cmocka_unit_test (test_unknown_profile),
        cmocka_unit_test (test_profile_list),
        cmocka_unit_test (test_invalid_communities),
        cmocka_unit_test (test_totals_are_the_sum_of_lines),
        cmocka_unit_test (test_totals_overflow),
        cmocka_unit_test (test_names),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
