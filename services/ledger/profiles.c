/*  profiles: the funding policies as a table of rules, and the pure arithmetic of a
    community's yearly entitlements under one of them (see profiles.h). */
#include "profiles.h"
#include "sq_util.h"

#include <assert.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define S_COMMUNITY_CODE_LEN 12  //  digits of a community's division code
#define S_PROFILE_NAMES_SIZE 128 //  the known names in an error; longer lists are cut

//  Every rule can give one line per payer.
_Static_assert (LEDGER_LINES_MAX >= LEDGER_RULES_MAX * LEDGER_PAYER_COUNT,
                "LEDGER_LINES_MAX must hold a line per rule and payer");

#define S_YUAN(yuan) ((int64_t) (yuan) * LEDGER_FEN_PER_YUAN)

//  Kinds a rule applies to, as a set of bits indexed by ledger_kind_t.
#define S_URBAN (1u << LEDGER_KIND_URBAN_COMMUNITY)
#define S_RURAL (1u << LEDGER_KIND_RURAL_COMMUNITY)
#define S_VILLAGE (1u << LEDGER_KIND_VILLAGE)
#define S_ALL_KINDS (S_URBAN | S_RURAL | S_VILLAGE)

//  The district (区/县) pays the whole.
#define S_DISTRICT_PAYS                                                                      \
    .percent = {[LEDGER_PAYER_DISTRICT] = LEDGER_PERCENT_WHOLE},                            \
    .remainder_payer = LEDGER_PAYER_DISTRICT

//  PZH 5.4 sets the public-service fund per 100 households; paid pro rata (issue 5), which
//  is exactly 30 yuan a household, so a household count needs no rounding.
#define S_PZH_PUBLIC_SERVICE_HOUSEHOLDS 100
#define S_PZH_PUBLIC_SERVICE_FEN S_YUAN (3000) //  per S_PZH_PUBLIC_SERVICE_HOUSEHOLDS
_Static_assert (S_PZH_PUBLIC_SERVICE_FEN % S_PZH_PUBLIC_SERVICE_HOUSEHOLDS == 0,
                "the per-household rate must be a whole number of fen");

//  One rule of a profile: rate_fen per unit of basis, for communities of the kinds given,
//  shared between the payers by percent.
typedef struct {
    ledger_fund_t fund;
    ledger_basis_t basis;
    unsigned kinds;                      //  S_URBAN, S_RURAL, S_VILLAGE bits
    int64_t rate_fen;                    //  per unit of basis, > 0
    int percent[LEDGER_PAYER_COUNT];     //  share per payer; add up to LEDGER_PERCENT_WHOLE
    ledger_payer_t remainder_payer;      //  gets the fen that rounding the shares down leaves
    const char *source;                  //  the clause; NULL ends a profile's rules
} ledger_rule_t;

struct ledger_profile {
    const char *name;                    //  as the wire spells it
    const char *source;                  //  the seed document
    ledger_rule_t rules[LEDGER_RULES_MAX];
};

/*  The seeds' numbers (DOMAIN.md section 5, checked against the Chinese originals in
    /work/shared/seeds/). Every rate is a minimum (不低于) in the seeds; a profile pays the
    minimum. Differences and readings of our own:
    - LF 6.2 reads 每人每年不低于10元,每名党员每年50元的标准,将社区工作经费、社区党建经费纳入
      县(市、区)级财政预算: the 10 yuan per resident is the work fund (社区工作经费) and the
      50 yuan per party member the party-building fund (社区党建经费), which issue 5 calls
      "work funds" together. Both are in the county-level budget: the district pays.
    - LF 6.2 says 每个社区 for IT and training, and PZH 5.4 社区 for the public-service fund;
      we apply them, and LF's work funds, to villages too ("one village, one community").
    - LF 6.2 shares old-community housing costs (old_housing) 5:5 but names no amount, so it is
      no rule here: it is a share of a project's cost, not an entitlement.
    - PZH 5.4 puts office funds (办公经费, party organisation funds included) and the
      public-service fund in 市、县(区)财政预算 without saying who pays which; issue 5 has the
      district pay the public-service fund, and we have it pay the office funds as well.
    - PZH 5.4 office funds hold from 2015 and are adjusted every three years; a new amount is
      a new profile. LF's seed is a draft for comment (征求意见稿) of 2017-06-08. */
static const struct ledger_profile s_profiles[] = {
    {.name = "langfang-2017",
     .source = "Langfang 2017, 关于加强和完善城乡社区治理的实施意见 (LF)",
     .rules = {
         {.fund = LEDGER_FUND_WORK, .basis = LEDGER_BASIS_PER_RESIDENT, .kinds = S_ALL_KINDS,
          .rate_fen = S_YUAN (10), S_DISTRICT_PAYS, .source = "LF 6.2"},
         {.fund = LEDGER_FUND_PARTY_BUILDING, .basis = LEDGER_BASIS_PER_PARTY_MEMBER,
          .kinds = S_ALL_KINDS, .rate_fen = S_YUAN (50), S_DISTRICT_PAYS, .source = "LF 6.2"},
         //  City and district share 3:7; the district, whose budget holds the community's
         //  line, takes any fen left over.
         {.fund = LEDGER_FUND_IT_TRAINING, .basis = LEDGER_BASIS_PER_COMMUNITY,
          .kinds = S_ALL_KINDS, .rate_fen = S_YUAN (50000),
          .percent = {[LEDGER_PAYER_CITY] = 30, [LEDGER_PAYER_DISTRICT] = 70},
          .remainder_payer = LEDGER_PAYER_DISTRICT, .source = "LF 6.2"},
     }},
    {.name = "panzhihua-2015",
     .source = "Panzhihua 2015, 攀委发〔2015〕10号 (PZH)",
     .rules = {
         {.fund = LEDGER_FUND_OFFICE, .basis = LEDGER_BASIS_PER_COMMUNITY, .kinds = S_URBAN,
          .rate_fen = S_YUAN (50000), S_DISTRICT_PAYS, .source = "PZH 5.4"},
         {.fund = LEDGER_FUND_OFFICE, .basis = LEDGER_BASIS_PER_COMMUNITY, .kinds = S_RURAL,
          .rate_fen = S_YUAN (40000), S_DISTRICT_PAYS, .source = "PZH 5.4"},
         {.fund = LEDGER_FUND_OFFICE, .basis = LEDGER_BASIS_PER_COMMUNITY, .kinds = S_VILLAGE,
          .rate_fen = S_YUAN (30000), S_DISTRICT_PAYS, .source = "PZH 5.4"},
         {.fund = LEDGER_FUND_PUBLIC_SERVICE, .basis = LEDGER_BASIS_PER_HOUSEHOLD,
          .kinds = S_ALL_KINDS,
          .rate_fen = S_PZH_PUBLIC_SERVICE_FEN / S_PZH_PUBLIC_SERVICE_HOUSEHOLDS,
          S_DISTRICT_PAYS, .source = "PZH 5.4"},
     }},
};
#define S_PROFILE_COUNT (sizeof s_profiles / sizeof s_profiles[0])

static const char *const s_funds[LEDGER_FUND_COUNT] = {
    "work", "party_building", "it_training", "office", "public_service", "old_housing", "award",
    "admission"};
static const char *const s_payers[LEDGER_PAYER_COUNT] = {"city", "district"};
static const char *const s_kinds[LEDGER_KIND_COUNT] = {"urban_community", "rural_community",
                                                       "village"};
static const char *const s_bases[LEDGER_BASIS_COUNT] = {"per_resident", "per_party_member",
                                                        "per_household", "per_community"};

//  The community field each basis counts; NULL for per_community (always 1).
static const char *const s_basis_fields[LEDGER_BASIS_COUNT] = {"residents", "party_members",
                                                               "households", NULL};

const char *
ledger_fund_name (ledger_fund_t fund)
{
    assert (fund >= 0 && fund < LEDGER_FUND_COUNT);
    return s_funds[fund];
}

int
ledger_fund_parse (const char *name, ledger_fund_t *fund)
{
    for (int i = 0; name && i < LEDGER_FUND_COUNT; i++) {
        if (strcmp (name, s_funds[i]) == 0) {
            *fund = (ledger_fund_t) i;
            return 0;
        }
    }
    return -1;
}

const char *
ledger_payer_name (ledger_payer_t payer)
{
    assert (payer >= 0 && payer < LEDGER_PAYER_COUNT);
    return s_payers[payer];
}

const char *
ledger_kind_name (ledger_kind_t kind)
{
    assert (kind >= 0 && kind < LEDGER_KIND_COUNT);
    return s_kinds[kind];
}

int
ledger_kind_parse (const char *name, ledger_kind_t *kind)
{
    for (int i = 0; name && i < LEDGER_KIND_COUNT; i++) {
        if (strcmp (name, s_kinds[i]) == 0) {
            *kind = (ledger_kind_t) i;
            return 0;
        }
    }
    return -1;
}

const char *
ledger_basis_name (ledger_basis_t basis)
{
    assert (basis >= 0 && basis < LEDGER_BASIS_COUNT);
    return s_bases[basis];
}

const ledger_profile_t *
ledger_profile_at (size_t index)
{
    return index < S_PROFILE_COUNT ? &s_profiles[index] : NULL;
}

//  Writes the profiles' names, comma-separated, into out (truncated to out_size).
static void
s_profile_names (char *out, size_t out_size)
{
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; i < S_PROFILE_COUNT && used < out_size; i++) {
        int n = snprintf (out + used, out_size - used, "%s%s", i ? ", " : "", s_profiles[i].name);
        if (n < 0) break;
        used += (size_t) n;
    }
}

const ledger_profile_t *
ledger_profile_find (const char *name, sq_error_t *err)
{
    for (size_t i = 0; name && i < S_PROFILE_COUNT; i++)
        if (strcmp (name, s_profiles[i].name) == 0) return &s_profiles[i];
    if (err) {
        char known[S_PROFILE_NAMES_SIZE];
        s_profile_names (known, sizeof known);
        sq_error_set (err, SQ_ERR_INVALID, "profile", "unknown profile \"%.64s\": known are %s",
                      name ? name : "", known);
    }
    return NULL;
}

const char *
ledger_profile_name (const ledger_profile_t *profile)
{
    assert (profile);
    return profile->name;
}

const char *
ledger_profile_source (const ledger_profile_t *profile)
{
    assert (profile);
    return profile->source;
}

void
ledger_split_fen (int64_t whole_fen, const int percent[LEDGER_PAYER_COUNT],
                  ledger_payer_t remainder_payer, int64_t part_fen[LEDGER_PAYER_COUNT])
{
    assert (whole_fen >= 0);
    assert (remainder_payer >= 0 && remainder_payer < LEDGER_PAYER_COUNT);
    assert (percent[remainder_payer] > 0);
    //  whole × percent / 100 rounded down, as q × p + r × p / 100 so that no product can
    //  overflow whatever the whole.
    int64_t whole_q = whole_fen / LEDGER_PERCENT_WHOLE, whole_r = whole_fen % LEDGER_PERCENT_WHOLE;
    int64_t given = 0;
    int percent_sum = 0;
    for (int p = 0; p < LEDGER_PAYER_COUNT; p++) {
        assert (percent[p] >= 0 && percent[p] <= LEDGER_PERCENT_WHOLE);
        percent_sum += percent[p];
        part_fen[p] = whole_q * percent[p] + whole_r * percent[p] / LEDGER_PERCENT_WHOLE;
        given += part_fen[p];
    }
    assert (percent_sum == LEDGER_PERCENT_WHOLE);
    //  Each share lost less than one fen to rounding down.
    int64_t remainder = whole_fen - given;
    assert (remainder >= 0 && remainder < LEDGER_PAYER_COUNT);
    part_fen[remainder_payer] += remainder;
}

static int64_t
s_quantity (const ledger_community_t *community, ledger_basis_t basis)
{
    switch (basis) {
    case LEDGER_BASIS_PER_RESIDENT: return community->residents;
    case LEDGER_BASIS_PER_PARTY_MEMBER: return community->party_members;
    case LEDGER_BASIS_PER_HOUSEHOLD: return community->households;
    case LEDGER_BASIS_PER_COMMUNITY: return 1;
    case LEDGER_BASIS_COUNT: break;
    }
    assert (false);
    return 0;
}

//  Checks what compute takes off the wire. Returns 0 with *kind, or -1 with err set.
static int
s_community_check (const ledger_community_t *community, ledger_kind_t *kind, sq_error_t *err)
{
    const char *code = community->code;
    if (!code || !sq_is_digits (code, S_COMMUNITY_CODE_LEN)) {
        return sq_error_set (err, SQ_ERR_INVALID, "code",
                             "could not compute entitlements: code \"%.32s\" is not a 12-digit "
                             "community code",
                             code ? code : "");
    }
    if (ledger_kind_parse (community->kind, kind)) {
        return sq_error_set (err, SQ_ERR_INVALID, "kind",
                             "could not compute entitlements of community %s: kind \"%.32s\" is "
                             "not urban_community, rural_community or village",
                             code, community->kind ? community->kind : "");
    }
    for (int b = 0; b < LEDGER_BASIS_COUNT; b++) {
        const char *field = s_basis_fields[b];
        int64_t count = field ? s_quantity (community, (ledger_basis_t) b) : 0;
        if (count < 0 || count > LEDGER_COUNT_MAX) {
            return sq_error_set (err, SQ_ERR_INVALID, field,
                                 "could not compute entitlements of community %s: %s must be "
                                 "between 0 and %" PRId64 ", not %" PRId64,
                                 code, field, LEDGER_COUNT_MAX, count);
        }
    }
    return 0;
}

//  Appends the lines of one rule, one per payer with a share. Returns 0, or -1 with err set
//  when quantity × rate overflows (only for a rate far above any seed's: counts are bounded).
static int
s_rule_apply (const ledger_rule_t *rule, const ledger_community_t *community,
              ledger_line_t *lines, size_t *line_count, sq_error_t *err)
{
    assert (rule->rate_fen > 0);
    int64_t quantity = s_quantity (community, rule->basis);
    if (quantity > INT64_MAX / rule->rate_fen) {
        return sq_error_set (err, SQ_ERR_INVALID, s_basis_fields[rule->basis],
                             "could not compute entitlements of community %s: %s %" PRId64
                             " at %" PRId64 " fen overflows the %s fund",
                             community->code, s_basis_fields[rule->basis], quantity,
                             rule->rate_fen, s_funds[rule->fund]);
    }
    int64_t part_fen[LEDGER_PAYER_COUNT];
    ledger_split_fen (quantity * rule->rate_fen, rule->percent, rule->remainder_payer, part_fen);
    for (int p = 0; p < LEDGER_PAYER_COUNT; p++) {
        if (rule->percent[p] == 0) continue;
        assert (*line_count < LEDGER_LINES_MAX);
        lines[(*line_count)++] = (ledger_line_t) {
            .fund = rule->fund, .basis = rule->basis, .quantity = quantity,
            .rate_fen = rule->rate_fen, .share_percent = rule->percent[p],
            .amount_fen = part_fen[p], .payer = (ledger_payer_t) p, .source = rule->source};
    }
    return 0;
}

int
ledger_profile_compute (const ledger_profile_t *profile, const ledger_community_t *community,
                        ledger_line_t *lines, size_t *line_count, sq_error_t *err)
{
    assert (profile && community && lines && line_count && err);
    *line_count = 0;
    ledger_kind_t kind = LEDGER_KIND_COUNT; //  set by the check; NB: gcc -O2 cannot see that
    if (s_community_check (community, &kind, err)) return -1;
    for (size_t r = 0; r < LEDGER_RULES_MAX && profile->rules[r].source; r++) {
        const ledger_rule_t *rule = &profile->rules[r];
        if (!(rule->kinds & (1u << kind))) continue;
        if (s_rule_apply (rule, community, lines, line_count, err)) {
            *line_count = 0;
            return -1;
        }
    }
    return 0;
}

int
ledger_totals_add (ledger_totals_t *totals, const ledger_line_t *lines, size_t line_count,
                   sq_error_t *err)
{
    assert (totals && (lines || line_count == 0) && err);
    ledger_totals_t sum = *totals;
    for (size_t i = 0; i < line_count; i++) {
        ledger_payer_t payer = lines[i].payer;
        assert (payer >= 0 && payer < LEDGER_PAYER_COUNT && lines[i].amount_fen >= 0);
        if (sum.amount_fen[payer] > INT64_MAX - lines[i].amount_fen) {
            return sq_error_set (err, SQ_ERR_INVALID, "amount",
                                 "could not total the entitlements: the %s's total overflows",
                                 s_payers[payer]);
        }
        sum.amount_fen[payer] += lines[i].amount_fen;
    }
    *totals = sum;
    return 0;
}
