/*  ledger accounts: names by convention (README.md), who may read and move what, and the
    commands that read balances (account.get, account.list). An account is created by the
    first transfer that names it; nothing else creates one. */
#include "ledger.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const s_kind_names[LEDGER_ACCOUNT_KIND_COUNT] = {"treasury", "community",
                                                                    "department", "expense"};
//  Spending categories: those of the public-service fund (PZH 5.4), then office and other.
const char *const ledger_categories[LEDGER_CATEGORY_COUNT + 1] = {
    "volunteer_service", "facility_maintenance", "culture_sports", "education_training",
    "courtyard_governance", "office", "other", NULL};
static const char *const s_readers[] = {"operator", "auditor", "city_official",
                                        "district_official", "street_official",
                                        "community_staff", "community_office", NULL};
static const char *const s_movers[] = {"operator", "city_official", "district_official",
                                       "community_staff", NULL};

const char *
ledger_account_kind_name (ledger_account_kind_t kind)
{
    assert (kind >= 0 && kind < LEDGER_ACCOUNT_KIND_COUNT);
    return s_kind_names[kind];
}

//  Reads "<12 digits>:<tail>" after a prefix: the community code into division, the tail.
static const char *
s_community_part (const char *rest, ledger_account_t *out)
{
    if (strlen (rest) < 14 || rest[12] != ':')
        return NULL;
    memcpy (out->division, rest, 12);
    out->division[12] = 0;
    return sq_is_digits (out->division, 12) ? rest + 13 : NULL;
}

static bool
s_department_name_valid (const char *name)
{
    size_t len = strlen (name);
    if (len == 0 || len > LEDGER_DEPARTMENT_MAX || !sq_utf8_valid (name, len))
        return false;
    for (const unsigned char *c = (const unsigned char *) name; *c; c++)
        if (*c < 0x20 || *c == 0x7f || *c == ':')
            return false;
    return true;
}

int
ledger_account_parse (const char *name, const char *field, ledger_account_t *out,
                      sq_error_t *err)
{
    memset (out, 0, sizeof *out);
    if (strlen (name) > LEDGER_ACCOUNT_MAX)
        return sq_error_set (err, SQ_ERR_INVALID, field, "%s is longer than %d bytes", field,
                             LEDGER_ACCOUNT_MAX);
    snprintf (out->name, sizeof out->name, "%s", name);
    const char *why = NULL;
    if (strncmp (name, "treasury:", 9) == 0) {
        out->kind = LEDGER_ACCOUNT_TREASURY;
        snprintf (out->division, sizeof out->division, "%.15s", name + 9);
        if (!sq_is_digits (name + 9, 4) && !sq_is_digits (name + 9, 6))
            why = "a treasury is named treasury:<4-digit city or 6-digit district code>";
    } else if (strncmp (name, "community:", 10) == 0) {
        out->kind = LEDGER_ACCOUNT_COMMUNITY;
        out->guarded = true;
        const char *fund = s_community_part (name + 10, out);
        ledger_fund_t parsed;
        if (!fund || ledger_fund_parse (fund, &parsed))
            why = "a community fund is named community:<12-digit code>:<fund>, fund one of"
                  " work, party_building, it_training, office, public_service, old_housing,"
                  " award, admission";
    } else if (strncmp (name, "department:", 11) == 0) {
        out->kind = LEDGER_ACCOUNT_DEPARTMENT;
        if (!s_department_name_valid (name + 11))
            why = "a department is named department:<name>, the name 1 to 120 bytes of text"
                  " without ':' or control characters";
    } else if (strncmp (name, "expense:", 8) == 0) {
        out->kind = LEDGER_ACCOUNT_EXPENSE;
        const char *category = s_community_part (name + 8, out);
        bool known = false;
        for (int i = 0; category && ledger_categories[i]; i++)
            known |= strcmp (category, ledger_categories[i]) == 0;
        if (!known)
            why = "an expense account is named expense:<12-digit code>:<category>, category"
                  " one of volunteer_service, facility_maintenance, culture_sports,"
                  " education_training, courtyard_governance, office, other";
    } else
        why = "an account name starts with treasury:, community:, department: or expense:";
    if (why)
        return sq_error_set (err, SQ_ERR_INVALID, field, "%s %s is not an account: %s", field,
                             name, why);
    return 0;
}

bool
ledger_may_move (sq_ctx_t *ctx, const ledger_account_t *debit, const ledger_account_t *credit)
{
    if (sq_ctx_require_role (ctx, s_movers))
        return false;
    if (strcmp (ctx->actor->role, "community_staff") == 0) {
        //  Community staff spend their community's funds, and nothing else.
        bool spending = debit->kind == LEDGER_ACCOUNT_COMMUNITY
                        && credit->kind == LEDGER_ACCOUNT_EXPENSE
                        && strcmp (debit->division, credit->division) == 0
                        && strcmp (debit->division, ctx->actor->scope) == 0;
        if (!spending) {
            sq_error_set (&ctx->err, SQ_ERR_FORBIDDEN, "debit", "community staff may only move"
                          " money from a fund of their community %s to one of its expense"
                          " accounts", ctx->actor->scope);
            return false;
        }
        return true;
    }
    //  NB: a department account has no division, so only actors of the whole platform
    //  (scope "") reach it.
    return sq_ctx_require_scope (ctx, debit->division, "debit") == 0
           && sq_ctx_require_scope (ctx, credit->division, "credit") == 0;
}

int
ledger_read_account (sq_ctx_t *ctx, const char *field, ledger_account_t *out)
{
    char name[LEDGER_ACCOUNT_MAX + 1];
    if (sq_ctx_require_role (ctx, s_readers)
        || sq_arg_str (ctx->args, field, true, LEDGER_ACCOUNT_MAX, name, sizeof name,
                       &ctx->err) < 0
        || ledger_account_parse (name, field, out, &ctx->err))
        return -1;
    return sq_ctx_require_scope (ctx, out->division, field);
}

void
ledger_event_div (const char *debit, const char *credit, char out[SQ_DIV_MAX])
{
    ledger_account_t a, b;
    sq_error_t err;
    out[0] = 0;
    if (ledger_account_parse (debit, "debit", &a, &err)
        || ledger_account_parse (credit, "credit", &b, &err))
        return;
    snprintf (out, SQ_DIV_MAX, "%s", strlen (a.division) >= strlen (b.division) ? a.division
                                                                                 : b.division);
}

//  Packs an account's balances from four sums, with what follows from them.
static void
s_pack_balances (msgpack_packer *pk, int64_t debits_posted, int64_t credits_posted,
                 int64_t debits_pending, int64_t credits_pending)
{
    sq_pack_kv_int (pk, "debits_posted", debits_posted);
    sq_pack_kv_int (pk, "credits_posted", credits_posted);
    sq_pack_kv_int (pk, "debits_pending", debits_pending);
    sq_pack_kv_int (pk, "credits_pending", credits_pending);
    sq_pack_kv_int (pk, "balance", credits_posted - debits_posted);
    sq_pack_kv_int (pk, "available", credits_posted - debits_posted - debits_pending);
}

//  The sums of one account as its transfers up to at (inclusive) make them.
#define S_SUMS_AT                                                                             \
    "SELECT coalesce (sum (amount) FILTER (WHERE debit = $1 AND kind IN ('posted', 'post')),"\
    " 0), coalesce (sum (amount) FILTER (WHERE credit = $1 AND kind IN ('posted', 'post')),"  \
    " 0), coalesce (sum (CASE kind WHEN 'pending' THEN amount WHEN 'posted' THEN 0 ELSE"      \
    " -amount END) FILTER (WHERE debit = $1), 0), coalesce (sum (CASE kind WHEN 'pending'"    \
    " THEN amount WHEN 'posted' THEN 0 ELSE -amount END) FILTER (WHERE credit = $1), 0)"      \
    " FROM ledger.transfer WHERE (debit = $1 OR credit = $1) AND created_at <= $2::bigint"

int
ledger_account_get (sq_ctx_t *ctx)
{
    ledger_account_t account;
    int64_t at = 0;
    int has_at;
    if (ledger_read_account (ctx, "account", &account)
        || (has_at = sq_arg_int (ctx->args, "at", false, 0, LEDGER_TIME_MAX, &at, &ctx->err)) < 0)
        return -1;
    const char *name[] = {account.name};
    PGresult *res = sq_db_query (ctx->db, "SELECT debits_posted, credits_posted, debits_pending,"
                                 " credits_pending, created_at FROM ledger.account"
                                 " WHERE name = $1", 1, name, &ctx->err);
    if (!res)
        return -1;
    if (PQntuples (res) == 0) {
        PQclear (res);
        return sq_error_set (&ctx->err, SQ_ERR_NOT_FOUND, "account", "account %s does not exist"
                             " yet: no transfer has named it", account.name);
    }
    int64_t sums[5];
    for (int c = 0; c < 5; c++)
        sums[c] = strtoll (PQgetvalue (res, 0, c), NULL, 10);
    PQclear (res);
    if (has_at) {
        char at_text[24];
        snprintf (at_text, sizeof at_text, "%" PRId64, at);
        const char *params[] = {account.name, at_text};
        res = sq_db_query (ctx->db, S_SUMS_AT, 2, params, &ctx->err);
        if (!res)
            return -1;
        for (int c = 0; c < 4; c++)
            sums[c] = strtoll (PQgetvalue (res, 0, c), NULL, 10);
        PQclear (res);
    }
    msgpack_pack_map (ctx->pk, 11);
    sq_pack_kv_str (ctx->pk, "account", account.name);
    sq_pack_kv_str (ctx->pk, "kind", ledger_account_kind_name (account.kind));
    sq_pack_kv_str (ctx->pk, "division", account.division);
    sq_pack_kv_bool (ctx->pk, "guarded", account.guarded);
    s_pack_balances (ctx->pk, sums[0], sums[1], sums[2], sums[3]);
    if (has_at)
        sq_pack_kv_int (ctx->pk, "at", at);
    else
        sq_pack_kv_nil (ctx->pk, "at");
    return 0;
}

int
ledger_account_list (sq_ctx_t *ctx)
{
    char division[SQ_DIV_MAX];
    int64_t page = 1;
    if (sq_ctx_require_role (ctx, s_readers)
        || sq_arg_str (ctx->args, "division", true, 12, division, sizeof division, &ctx->err) < 0
        || sq_arg_int (ctx->args, "page", false, 1, LEDGER_PAGE_MAX, &page, &ctx->err) < 0)
        return -1;
    size_t len = strlen (division);
    bool level = len == 2 || len == 4 || len == 6 || len == 9 || len == 12;
    if (len && !(level && sq_is_digits (division, len)))
        return sq_error_set (&ctx->err, SQ_ERR_INVALID, "division", "division %s is not a"
                             " division code (2, 4, 6, 9 or 12 digits, or \"\" for all)",
                             division);
    if (sq_ctx_require_scope (ctx, division, "division"))
        return -1;
    char limit[24], offset[24];
    snprintf (limit, sizeof limit, "%d", LEDGER_ACCOUNT_PAGE_SIZE + 1);
    snprintf (offset, sizeof offset, "%" PRId64, (page - 1) * LEDGER_ACCOUNT_PAGE_SIZE);
    const char *params[] = {division, limit, offset};
    PGresult *res = sq_db_query (ctx->db, "SELECT name, kind, division, guarded, debits_posted,"
                                 " credits_posted, debits_pending, credits_pending FROM"
                                 " ledger.account WHERE division LIKE $1 || '%' ORDER BY"
                                 " division, name LIMIT $2::int OFFSET $3::bigint", 3, params,
                                 &ctx->err);
    if (!res)
        return -1;
    int rows = PQntuples (res);
    bool more = rows > LEDGER_ACCOUNT_PAGE_SIZE;
    if (more)
        rows = LEDGER_ACCOUNT_PAGE_SIZE;
    msgpack_pack_map (ctx->pk, 4);
    sq_pack_kv_str (ctx->pk, "division", division);
    sq_pack_str (ctx->pk, "accounts");
    msgpack_pack_array (ctx->pk, (size_t) rows);
    for (int i = 0; i < rows; i++) {
        msgpack_pack_map (ctx->pk, 10);
        sq_pack_kv_str (ctx->pk, "account", PQgetvalue (res, i, 0));
        sq_pack_kv_str (ctx->pk, "kind", PQgetvalue (res, i, 1));
        sq_pack_kv_str (ctx->pk, "division", PQgetvalue (res, i, 2));
        sq_pack_kv_bool (ctx->pk, "guarded", PQgetvalue (res, i, 3)[0] == 't');
        s_pack_balances (ctx->pk, strtoll (PQgetvalue (res, i, 4), NULL, 10),
                         strtoll (PQgetvalue (res, i, 5), NULL, 10),
                         strtoll (PQgetvalue (res, i, 6), NULL, 10),
                         strtoll (PQgetvalue (res, i, 7), NULL, 10));
    }
    PQclear (res);
    sq_pack_kv_int (ctx->pk, "page", page);
    sq_pack_kv_bool (ctx->pk, "more", more);
    return 0;
}
