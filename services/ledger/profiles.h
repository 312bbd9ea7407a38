/*  profiles: what a community is owed per year under a funding policy (issue 5; DOMAIN.md
    section 5). A policy profile is a row of a static table of rules — fund, basis, rate, the
    kinds of community it applies to, and how the cost is shared between the paying
    treasuries — so a new policy is new data, not new code. Pure: no I/O, no state, no
    floating point; money is integer fen (0.01 yuan) in int64_t.

    A rule's whole is quantity × rate (quantity: residents, party members, households, or 1
    for a per-community rate). A shared rule gives each payer its percentage of the whole,
    rounded down, and the fen left over to the rule's remainder payer, so the shares always
    add up to the whole exactly. */
#ifndef LEDGER_PROFILES_H
#define LEDGER_PROFILES_H

#include "sq_codec.h"

#include <stddef.h>
#include <stdint.h>

#define LEDGER_FEN_PER_YUAN 100
#define LEDGER_PERCENT_WHOLE 100          //  shares of a rule add up to this
#define LEDGER_COUNT_MAX INT64_C (100000000) //  residents, party members or households of one
                                          //  community; far above any real one
#define LEDGER_RULES_MAX 16               //  rules of one profile
#define LEDGER_LINES_MAX 32               //  lines of one community: rules × payers that share

//  Funds of a community, as the wire names them (ledger_fund_name).
typedef enum {
    LEDGER_FUND_WORK = 0,        //  社区工作经费
    LEDGER_FUND_PARTY_BUILDING,  //  社区党建经费
    LEDGER_FUND_IT_TRAINING,     //  信息化建设和工作人员教育培训
    LEDGER_FUND_OFFICE,          //  办公经费
    LEDGER_FUND_PUBLIC_SERVICE,  //  公共服务和社会管理专项资金
    LEDGER_FUND_OLD_HOUSING,     //  老旧社区工作用房
    LEDGER_FUND_AWARD,           //  以奖代投
    LEDGER_FUND_ADMISSION,       //  funds that follow admitted work (费随事转)
    LEDGER_FUND_COUNT
} ledger_fund_t;

//  Treasuries that pay entitlements.
typedef enum {
    LEDGER_PAYER_CITY = 0,
    LEDGER_PAYER_DISTRICT,  //  district or county (区/县)
    LEDGER_PAYER_COUNT
} ledger_payer_t;

//  Kinds of community, spelt as the registry spells them (registry/rules.h).
typedef enum {
    LEDGER_KIND_URBAN_COMMUNITY = 0,
    LEDGER_KIND_RURAL_COMMUNITY,
    LEDGER_KIND_VILLAGE,
    LEDGER_KIND_COUNT
} ledger_kind_t;

//  What a rate is counted per.
typedef enum {
    LEDGER_BASIS_PER_RESIDENT = 0,
    LEDGER_BASIS_PER_PARTY_MEMBER,
    LEDGER_BASIS_PER_HOUSEHOLD,
    LEDGER_BASIS_PER_COMMUNITY,
    LEDGER_BASIS_COUNT
} ledger_basis_t;

//  A community as counted by the registry at the moment of computation. Counts are int64_t
//  so that whatever arrived off the wire can be passed in and rejected here.
typedef struct {
    const char *code;       //  12-digit division code (borrowed)
    const char *kind;       //  "urban_community", "rural_community" or "village" (borrowed)
    int64_t residents;      //  actual population (实有人口)
    int64_t party_members;  //  party members registered in the community
    int64_t households;
} ledger_community_t;

//  One entitlement: what one payer owes one community's fund for the year under one rule.
typedef struct {
    ledger_fund_t fund;
    ledger_basis_t basis;
    int64_t quantity;       //  units of the basis (1 for per_community)
    int64_t rate_fen;       //  per unit, before any sharing
    int share_percent;      //  this payer's share of quantity × rate; 100 when not shared
    int64_t amount_fen;     //  this payer's part, remainder fen included
    ledger_payer_t payer;
    const char *source;     //  the policy clause, e.g. "LF 6.2" (static)
} ledger_line_t;

//  Amounts owed per payer, summed over any number of lines.
typedef struct {
    int64_t amount_fen[LEDGER_PAYER_COUNT];  //  indexed by ledger_payer_t
} ledger_totals_t;

typedef struct ledger_profile ledger_profile_t;

//  Finds the profile called name (static), or returns NULL with err set (`invalid`, field
//  "profile", listing the known names) when there is none. err may be NULL.
const ledger_profile_t *ledger_profile_find (const char *name, sq_error_t *err);

//  Returns the index-th profile (static) in table order, or NULL past the last: lists them.
const ledger_profile_t *ledger_profile_at (size_t index);

//  The profile's name ("langfang-2017") and the seed it comes from (static).
const char *ledger_profile_name (const ledger_profile_t *profile);
const char *ledger_profile_source (const ledger_profile_t *profile);

//  Computes the yearly entitlements of community under profile into lines, which holds
//  LEDGER_LINES_MAX. Every rule that applies to the community's kind gives one line per
//  paying treasury, in table order, also when its amount is 0 (no residents yet), so a
//  statement shows the basis; posting should skip zero amounts. Returns 0 with *line_count
//  set, or -1 with err set (`invalid`, naming the field: code, kind, residents,
//  party_members, households) and *line_count 0.
int ledger_profile_compute (const ledger_profile_t *profile, const ledger_community_t *community,
                            ledger_line_t *lines, size_t *line_count, sq_error_t *err);

//  Splits whole_fen (>= 0) by percent (per payer, adding up to 100): each payer gets its
//  percentage rounded down, and remainder_payer (which must have a share) the fen left over.
//  Exact for any int64_t whole: the parts always add up to whole_fen.
void ledger_split_fen (int64_t whole_fen, const int percent[LEDGER_PAYER_COUNT],
                       ledger_payer_t remainder_payer, int64_t part_fen[LEDGER_PAYER_COUNT]);

//  Adds lines to totals per payer. Returns 0, or -1 with err set (`invalid`, field "amount")
//  and totals unchanged when a total would overflow.
int ledger_totals_add (ledger_totals_t *totals, const ledger_line_t *lines, size_t line_count,
                       sq_error_t *err);

//  Names as the wire spells them (static); parse returns -1 for an unknown name.
const char *ledger_fund_name (ledger_fund_t fund);
int ledger_fund_parse (const char *name, ledger_fund_t *fund);
const char *ledger_payer_name (ledger_payer_t payer);
const char *ledger_kind_name (ledger_kind_t kind);
int ledger_kind_parse (const char *name, ledger_kind_t *kind);
const char *ledger_basis_name (ledger_basis_t basis);

#endif
