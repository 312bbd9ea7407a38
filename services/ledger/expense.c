/*  ledger spending and disclosure: expense.record (a transfer from a community fund to one of
    its expense accounts) and statement.get (财务公开: per fund, the opening balance, inflows
    by source, outflows by counterpart and category, the closing balance; issue 5). A
    statement counts posted money only (kinds posted and post, at the moment they were
    posted), the same sums account.get gives, so closing = opening + inflow - outflow and,
    for a period that ends now, closing = the account's balance. */
#include "ledger.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define S_DATE_LEN 10 //  YYYY-MM-DD
static const char *const s_readers[] = {"operator", "auditor", "city_official",
                                        "district_official", "street_official",
                                        "community_staff", "community_office", NULL};

static bool
s_digits (const char *s, size_t count)
{
    for (size_t i = 0; i < count; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

//  True when date is a real YYYY-MM-DD from LEDGER_YEAR_MIN up to today (UTC).
static bool
s_date_valid (const char *date)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (strlen (date) != S_DATE_LEN || date[4] != '-' || date[7] != '-'
        || !s_digits (date, 4) || !s_digits (date + 5, 2) || !s_digits (date + 8, 2))
        return false;
    int year = (date[0] - '0') * 1000 + (date[1] - '0') * 100 + (date[2] - '0') * 10
               + (date[3] - '0');
    int month = (date[5] - '0') * 10 + (date[6] - '0');
    int day = (date[8] - '0') * 10 + (date[9] - '0');
    if (year < LEDGER_YEAR_MIN || month < 1 || month > 12 || day < 1)
        return false;
    bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    if (day > days[month - 1] + (month == 2 && leap))
        return false;
    time_t now = time (NULL);
    struct tm tm;
    char today[S_DATE_LEN + 1];
    gmtime_r (&now, &tm);
    strftime (today, sizeof today, "%Y-%m-%d", &tm);
    return strcmp (date, today) <= 0;
}

//  expense.record {community, fund, amount, category, date, memo?, id?}
int
ledger_expense_record (sq_ctx_t *ctx)
{
    char community[SQ_DIV_MAX], fund[32], date[S_DATE_LEN + 2], memo[LEDGER_MEMO_MAX - 64];
    char debit[LEDGER_ACCOUNT_MAX + 1], credit[LEDGER_ACCOUNT_MAX + 1];
    int category = 0, has_memo = 0, has_id = 0;
    ledger_fund_t parsed;
    ledger_transfer_t t;
    memset (&t, 0, sizeof t);
    if (sq_arg_str (ctx->args, "community", true, 12, community, sizeof community, &ctx->err) < 0)
        return -1;
    if (!sq_is_digits (community, 12))
        return sq_error_set (&ctx->err, SQ_ERR_INVALID, "community", "community %s is not a"
                             " 12-digit community code", community);
    if (sq_arg_str (ctx->args, "fund", true, sizeof fund - 1, fund, sizeof fund, &ctx->err) < 0)
        return -1;
    if (ledger_fund_parse (fund, &parsed))
        return sq_error_set (&ctx->err, SQ_ERR_INVALID, "fund", "fund %s is not one of work,"
                             " party_building, it_training, office, public_service,"
                             " old_housing, award, admission", fund);
    if (sq_arg_int (ctx->args, "amount", true, 1, LEDGER_AMOUNT_MAX, &t.amount, &ctx->err) < 0
        || sq_arg_enum (ctx->args, "category", true, ledger_categories, &category,
                        &ctx->err) < 0
        || sq_arg_str (ctx->args, "date", true, S_DATE_LEN + 1, date, sizeof date, &ctx->err) < 0)
        return -1;
    if (!s_date_valid (date))
        return sq_error_set (&ctx->err, SQ_ERR_INVALID, "date", "date %s is not a day from %d"
                             " up to today, written YYYY-MM-DD", date, LEDGER_YEAR_MIN);
    if ((has_memo = sq_arg_str (ctx->args, "memo", false, sizeof memo - 1, memo, sizeof memo,
                                &ctx->err)) < 0
        || (has_id = sq_arg_str (ctx->args, "id", false, LEDGER_ID_MAX, t.id, sizeof t.id,
                                 &ctx->err)) < 0)
        return -1;
    for (const char *c = t.id; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9')
              || strchr ("._:-", *c)))
            return sq_error_set (&ctx->err, SQ_ERR_INVALID, "id", "id must be 1 to 63"
                                 " characters, letters, digits and . _ : -");
    if (!has_id) {
        char uuid[SQ_ID_SIZE];
        sq_id_new (uuid);
        snprintf (t.id, sizeof t.id, "exp:%s", uuid);
    }
    snprintf (debit, sizeof debit, "community:%s:%s", community, fund);
    snprintf (credit, sizeof credit, "expense:%s:%s", community, ledger_categories[category]);
    if (ledger_account_parse (debit, "fund", &t.debit, &ctx->err)
        || ledger_account_parse (credit, "category", &t.credit, &ctx->err))
        return -1;
    snprintf (t.code, sizeof t.code, "expense");
    snprintf (t.memo, sizeof t.memo, "%s%s%s", date, has_memo ? " " : "", has_memo ? memo : "");
    t.has_memo = true;
    return ledger_transfer_reply (ctx, &t);
}

// ---- statement.get ---------------------------------------------------------------------

//  Per fund account of the community: opening, inflow, outflow over [from, to).
#define S_FUND_SUMS                                                                           \
    "SELECT a.name, coalesce (sum (CASE WHEN t.credit = a.name THEN t.amount ELSE -t.amount"  \
    " END) FILTER (WHERE t.created_at < $2::bigint), 0), coalesce (sum (t.amount) FILTER"     \
    " (WHERE t.credit = a.name AND t.created_at >= $2::bigint), 0), coalesce (sum (t.amount)" \
    " FILTER (WHERE t.debit = a.name AND t.created_at >= $2::bigint), 0) FROM ledger.account" \
    " a LEFT JOIN ledger.transfer t ON (t.debit = a.name OR t.credit = a.name) AND t.kind IN" \
    " ('posted', 'post') AND t.created_at < $3::bigint WHERE a.name = ANY ($1::text[])"       \
    " GROUP BY a.name ORDER BY a.name"

//  Per fund account and counterpart: money in (from a source) and out (to a counterpart).
#define S_FLOWS                                                                               \
    "SELECT credit, 'in', debit, count(*), sum (amount) FROM ledger.transfer WHERE credit ="  \
    " ANY ($1::text[]) AND kind IN ('posted', 'post') AND created_at >= $2::bigint AND"       \
    " created_at < $3::bigint GROUP BY credit, debit UNION ALL SELECT debit, 'out', credit,"  \
    " count(*), sum (amount) FROM ledger.transfer WHERE debit = ANY ($1::text[]) AND kind IN" \
    " ('posted', 'post') AND created_at >= $2::bigint AND created_at < $3::bigint GROUP BY"   \
    " debit, credit ORDER BY 1, 2, 3 LIMIT $4::int"

enum { F_FUND, F_DIR, F_OTHER, F_COUNT, F_AMOUNT };

//  The category of an expense account name, or NULL for any other counterpart.
static const char *
s_category (const char *account)
{
    if (strncmp (account, "expense:", 8))
        return NULL;
    const char *colon = strrchr (account, ':');
    return colon ? colon + 1 : NULL;
}

//  Packs the flows of fund in direction dir ("in"/"out") and adds outflows to by_category.
static void
s_pack_flows (msgpack_packer *pk, const PGresult *flows, const char *fund, const char *dir,
              int64_t by_category[LEDGER_CATEGORY_COUNT])
{
    int n = 0;
    for (int r = 0; r < PQntuples (flows); r++)
        n += strcmp (PQgetvalue (flows, r, F_FUND), fund) == 0
             && strcmp (PQgetvalue (flows, r, F_DIR), dir) == 0;
    bool in = strcmp (dir, "in") == 0;
    msgpack_pack_array (pk, (size_t) n);
    for (int r = 0; r < PQntuples (flows); r++) {
        if (strcmp (PQgetvalue (flows, r, F_FUND), fund) || strcmp (PQgetvalue (flows, r, F_DIR),
                                                                    dir))
            continue;
        const char *other = PQgetvalue (flows, r, F_OTHER);
        int64_t amount = strtoll (PQgetvalue (flows, r, F_AMOUNT), NULL, 10);
        msgpack_pack_map (pk, in ? 3 : 4);
        sq_pack_kv_str (pk, in ? "source" : "to", other);
        sq_pack_kv_int (pk, "transfers", strtoll (PQgetvalue (flows, r, F_COUNT), NULL, 10));
        sq_pack_kv_int (pk, "amount", amount);
        if (in)
            continue;
        const char *category = s_category (other);
        sq_pack_kv_str (pk, "category", category);
        for (int c = 0; category && c < LEDGER_CATEGORY_COUNT; c++)
            if (strcmp (category, ledger_categories[c]) == 0)
                by_category[c] += amount;
    }
}

static int
s_statement_read (sq_ctx_t *ctx, char community[SQ_DIV_MAX], int64_t *from, int64_t *to)
{
    *from = 0;
    *to = sq_now_us () + 1;
    if (sq_ctx_require_role (ctx, s_readers)
        || sq_arg_str (ctx->args, "community", true, 12, community, SQ_DIV_MAX, &ctx->err) < 0)
        return -1;
    if (!sq_is_digits (community, 12))
        return sq_error_set (&ctx->err, SQ_ERR_INVALID, "community", "community %s is not a"
                             " 12-digit community code", community);
    if (sq_arg_int (ctx->args, "from", false, 0, LEDGER_TIME_MAX, from, &ctx->err) < 0
        || sq_arg_int (ctx->args, "to", false, 0, LEDGER_TIME_MAX, to, &ctx->err) < 0)
        return -1;
    if (*to <= *from)
        return sq_error_set (&ctx->err, SQ_ERR_INVALID, "to", "to must come after from");
    return sq_ctx_require_scope (ctx, community, "community");
}

//  statement.get {community, from?, to?}: from ≤ created_at < to, µs (default: all until now).
int
ledger_statement_get (sq_ctx_t *ctx)
{
    char community[SQ_DIV_MAX], names[LEDGER_FUND_COUNT * (LEDGER_ACCOUNT_MAX + 1) + 4];
    int64_t from, to;
    if (s_statement_read (ctx, community, &from, &to))
        return -1;
    size_t used = 0;
    for (int f = 0; f < LEDGER_FUND_COUNT; f++)
        used += (size_t) snprintf (names + used, sizeof names - used, "%scommunity:%s:%s",
                                   f ? "," : "{", community,
                                   ledger_fund_name ((ledger_fund_t) f));
    snprintf (names + used, sizeof names - used, "}");
    char from_text[24], to_text[24], limit[24];
    snprintf (from_text, sizeof from_text, "%" PRId64, from);
    snprintf (to_text, sizeof to_text, "%" PRId64, to);
    snprintf (limit, sizeof limit, "%d", LEDGER_STATEMENT_ROWS_MAX + 1);
    const char *params[] = {names, from_text, to_text, limit};
    PGresult *sums = sq_db_query (ctx->db, S_FUND_SUMS, 3, params, &ctx->err);
    PGresult *flows = sums ? sq_db_query (ctx->db, S_FLOWS, 4, params, &ctx->err) : NULL;
    if (!flows || PQntuples (flows) > LEDGER_STATEMENT_ROWS_MAX) {
        PQclear (sums);
        if (flows)
            sq_error_set (&ctx->err, SQ_ERR_INVALID, "from", "could not draw the statement: more"
                          " than %d sources and counterparts; ask for a shorter period",
                          LEDGER_STATEMENT_ROWS_MAX);
        PQclear (flows);
        return -1;
    }
    int64_t total[4] = {0}, by_category[LEDGER_CATEGORY_COUNT] = {0};
    msgpack_pack_map (ctx->pk, 6);
    sq_pack_kv_str (ctx->pk, "community", community);
    sq_pack_kv_int (ctx->pk, "from", from);
    sq_pack_kv_int (ctx->pk, "to", to);
    sq_pack_str (ctx->pk, "funds");
    msgpack_pack_array (ctx->pk, (size_t) PQntuples (sums));
    for (int r = 0; r < PQntuples (sums); r++) {
        const char *account = PQgetvalue (sums, r, 0);
        int64_t opening = strtoll (PQgetvalue (sums, r, 1), NULL, 10);
        int64_t inflow = strtoll (PQgetvalue (sums, r, 2), NULL, 10);
        int64_t outflow = strtoll (PQgetvalue (sums, r, 3), NULL, 10);
        msgpack_pack_map (ctx->pk, 8);
        sq_pack_kv_str (ctx->pk, "fund", strrchr (account, ':') + 1);
        sq_pack_kv_str (ctx->pk, "account", account);
        sq_pack_kv_int (ctx->pk, "opening", opening);
        sq_pack_kv_int (ctx->pk, "inflow", inflow);
        sq_pack_str (ctx->pk, "inflows");
        s_pack_flows (ctx->pk, flows, account, "in", by_category);
        sq_pack_kv_int (ctx->pk, "outflow", outflow);
        sq_pack_str (ctx->pk, "outflows");
        s_pack_flows (ctx->pk, flows, account, "out", by_category);
        sq_pack_kv_int (ctx->pk, "closing", opening + inflow - outflow);
        total[0] += opening;
        total[1] += inflow;
        total[2] += outflow;
        total[3] += opening + inflow - outflow;
    }
    PQclear (sums);
    PQclear (flows);
    sq_pack_str (ctx->pk, "total");
    msgpack_pack_map (ctx->pk, 4);
    sq_pack_kv_int (ctx->pk, "opening", total[0]);
    sq_pack_kv_int (ctx->pk, "inflow", total[1]);
    sq_pack_kv_int (ctx->pk, "outflow", total[2]);
    sq_pack_kv_int (ctx->pk, "closing", total[3]);
    sq_pack_str (ctx->pk, "outflows_by_category");
    msgpack_pack_map (ctx->pk, LEDGER_CATEGORY_COUNT);
    for (int c = 0; c < LEDGER_CATEGORY_COUNT; c++)
        sq_pack_kv_int (ctx->pk, ledger_categories[c], by_category[c]);
    return 0;
}
