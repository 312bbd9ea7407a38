/*  ledger budget: budget.compute (what the communities of a city, district or street are owed
    for a year under a policy profile, line by line) and budget.appropriate (posting those
    lines from the paying treasuries to the communities' funds), issue 5.

    The figures are the registry's at the moment of computation (counts.c); the arithmetic is
    profiles.c's, integer fen throughout. An appropriation is one transaction: every line is
    a transfer whose id is derived from (year, profile, community, fund, payer) — not from the
    division asked, so appropriating a street and then its district pays nobody twice — and
    any refusal rolls the whole command back. Lines already posted with the same amount are
    found, not posted again; one posted with another amount (the counts changed since) is a
    conflict: a top-up is a decision of its own. */
#include "ledger.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const s_readers[] = {"operator", "auditor", "city_official",
                                        "district_official", "street_official",
                                        "community_office", NULL};
static const char *const s_appropriators[] = {"operator", "city_official", "district_official",
                                              NULL};
static const char *const s_payer_choices[] = {"city", "district", NULL};

#define S_CODE_CITY 4
#define S_CODE_DISTRICT 6

//  What a budget command was asked.
typedef struct {
    char division[SQ_DIV_MAX];
    int64_t year;
    const ledger_profile_t *profile;
    int payer;                       //  ledger_payer_t, or -1 for every payer
    int64_t page;
} s_budget_t;

static int
s_read (sq_ctx_t *ctx, const char *const *roles, s_budget_t *b)
{
    char profile[64];
    memset (b, 0, sizeof *b);
    b->payer = -1;
    b->page = 1;
    if (sq_ctx_require_role (ctx, roles)
        || sq_arg_str (ctx->args, "division", true, 9, b->division, sizeof b->division,
                       &ctx->err) < 0)
        return -1;
    size_t len = strlen (b->division);
    if (!(len == 4 || len == 6 || len == 9) || !sq_is_digits (b->division, len))
        return sq_error_set (&ctx->err, SQ_ERR_INVALID, "division", "division %s is not a city,"
                             " district or street code (4, 6 or 9 digits)", b->division);
    if (sq_arg_int (ctx->args, "year", true, LEDGER_YEAR_MIN, LEDGER_YEAR_MAX, &b->year,
                    &ctx->err) < 0
        || sq_arg_str (ctx->args, "profile", true, sizeof profile - 1, profile, sizeof profile,
                       &ctx->err) < 0
        || !(b->profile = ledger_profile_find (profile, &ctx->err))
        || sq_arg_enum (ctx->args, "payer", false, s_payer_choices, &b->payer, &ctx->err) < 0
        || sq_arg_int (ctx->args, "page", false, 1, LEDGER_PAGE_MAX, &b->page, &ctx->err) < 0)
        return -1;
    return sq_ctx_require_scope (ctx, b->division, "division");
}

//  The lines of one community (only the asked payer's when one was asked).
static int
s_lines (sq_ctx_t *ctx, const s_budget_t *b, const ledger_count_t *c, ledger_line_t *lines,
         size_t *count)
{
    ledger_community_t community = {c->code, c->kind, c->residents, c->party_members,
                                     c->households};
    if (ledger_profile_compute (b->profile, &community, lines, count, &ctx->err))
        return -1;
    size_t kept = 0;
    for (size_t i = 0; i < *count; i++)
        if (b->payer < 0 || (int) lines[i].payer == b->payer)
            lines[kept++] = lines[i];
    *count = kept;
    return 0;
}

//  The treasury that pays line for community: the city's or the district's.
static void
s_treasury (const char *community, ledger_payer_t payer, char out[LEDGER_ACCOUNT_MAX + 1])
{
    int digits = payer == LEDGER_PAYER_CITY ? S_CODE_CITY : S_CODE_DISTRICT;
    snprintf (out, LEDGER_ACCOUNT_MAX + 1, "treasury:%.*s", digits, community);
}

static void
s_fund_account (const char *community, ledger_fund_t fund, char out[LEDGER_ACCOUNT_MAX + 1])
{
    snprintf (out, LEDGER_ACCOUNT_MAX + 1, "community:%s:%s", community, ledger_fund_name (fund));
}

static void
s_pack_line (msgpack_packer *pk, const ledger_count_t *c, const ledger_line_t *line)
{
    char treasury[LEDGER_ACCOUNT_MAX + 1], account[LEDGER_ACCOUNT_MAX + 1];
    s_treasury (c->code, line->payer, treasury);
    s_fund_account (c->code, line->fund, account);
    msgpack_pack_map (pk, 12);
    sq_pack_kv_str (pk, "community", c->code);
    sq_pack_kv_str (pk, "kind", c->kind);
    sq_pack_kv_str (pk, "fund", ledger_fund_name (line->fund));
    sq_pack_kv_str (pk, "basis", ledger_basis_name (line->basis));
    sq_pack_kv_int (pk, "quantity", line->quantity);
    sq_pack_kv_int (pk, "rate", line->rate_fen);
    sq_pack_kv_int (pk, "share", line->share_percent);
    sq_pack_kv_int (pk, "amount", line->amount_fen);
    sq_pack_kv_str (pk, "payer", ledger_payer_name (line->payer));
    sq_pack_kv_str (pk, "debit", treasury);
    sq_pack_kv_str (pk, "credit", account);
    sq_pack_kv_str (pk, "source", line->source);
}

static void
s_pack_totals (msgpack_packer *pk, const char *key, const ledger_totals_t *totals)
{
    sq_pack_str (pk, key);
    msgpack_pack_map (pk, 3);
    sq_pack_kv_int (pk, "city", totals->amount_fen[LEDGER_PAYER_CITY]);
    sq_pack_kv_int (pk, "district", totals->amount_fen[LEDGER_PAYER_DISTRICT]);
    sq_pack_kv_int (pk, "total", totals->amount_fen[LEDGER_PAYER_CITY]
                                     + totals->amount_fen[LEDGER_PAYER_DISTRICT]);
}

int
ledger_budget_compute (sq_ctx_t *ctx)
{
    s_budget_t b;
    ledger_counts_t counts;
    if (s_read (ctx, s_readers, &b) || ledger_counts_load (ctx, b.division, &counts))
        return -1;
    size_t first = (size_t) (b.page - 1) * LEDGER_BUDGET_PAGE_SIZE;
    size_t shown = first < counts.count ? counts.count - first : 0;
    if (shown > LEDGER_BUDGET_PAGE_SIZE)
        shown = LEDGER_BUDGET_PAGE_SIZE;
    msgpack_sbuffer buf;
    msgpack_sbuffer_init (&buf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &buf, msgpack_sbuffer_write);
    ledger_totals_t totals = {{0}};
    size_t line_count = 0, shown_lines = 0;
    int rc = 0;
    //  The page's lines go into buf first: the header before them holds the totals.
    for (size_t i = 0; i < counts.count && rc == 0; i++) {
        ledger_line_t lines[LEDGER_LINES_MAX];
        size_t n = 0;
        rc = s_lines (ctx, &b, &counts.items[i], lines, &n);
        if (rc == 0)
            rc = ledger_totals_add (&totals, lines, n, &ctx->err);
        line_count += n;
        bool on_page = i >= first && i < first + shown;
        for (size_t l = 0; rc == 0 && on_page && l < n; l++, shown_lines++)
            s_pack_line (&pk, &counts.items[i], &lines[l]);
    }
    if (rc == 0) {
        msgpack_pack_map (ctx->pk, 12);
        sq_pack_kv_str (ctx->pk, "division", b.division);
        sq_pack_kv_int (ctx->pk, "year", b.year);
        sq_pack_kv_str (ctx->pk, "profile", ledger_profile_name (b.profile));
        sq_pack_kv_str (ctx->pk, "counted_from", counts.source);
        sq_pack_kv_int (ctx->pk, "registry_seq", counts.registry_seq);
        sq_pack_kv_int (ctx->pk, "communities", (int64_t) counts.count);
        sq_pack_kv_int (ctx->pk, "line_count", (int64_t) line_count);
        s_pack_totals (ctx->pk, "totals", &totals);
        sq_pack_str (ctx->pk, "lines");
        msgpack_pack_array (ctx->pk, shown_lines);
        ctx->pk->callback (ctx->pk->data, buf.data, buf.size);
        sq_pack_kv_int (ctx->pk, "page", b.page);
        sq_pack_kv_bool (ctx->pk, "more", first + shown < counts.count);
        sq_pack_kv_str (ctx->pk, "payer", b.payer < 0 ? NULL : s_payer_choices[b.payer]);
    }
    msgpack_sbuffer_destroy (&buf);
    ledger_counts_free (&counts);
    return rc;
}

//  Builds the transfer of one line: id bud:<year>:<profile>:<community>:<fund>:<payer>, '_'
//  of fund names spelt '-' (ids allow letters, digits and . _ : -, but keep one spelling).
static int
s_line_transfer (sq_ctx_t *ctx, const s_budget_t *b, const ledger_count_t *c,
                 const ledger_line_t *line, ledger_transfer_t *t)
{
    memset (t, 0, sizeof *t);
    char fund[32], debit[LEDGER_ACCOUNT_MAX + 1], credit[LEDGER_ACCOUNT_MAX + 1];
    snprintf (fund, sizeof fund, "%s", ledger_fund_name (line->fund));
    for (char *u = fund; *u; u++)
        if (*u == '_')
            *u = '-';
    snprintf (t->id, sizeof t->id, "bud:%" PRId64 ":%s:%s:%s:%s", b->year,
              ledger_profile_name (b->profile), c->code, fund, ledger_payer_name (line->payer));
    s_treasury (c->code, line->payer, debit);
    s_fund_account (c->code, line->fund, credit);
    if (ledger_account_parse (debit, "debit", &t->debit, &ctx->err)
        || ledger_account_parse (credit, "credit", &t->credit, &ctx->err))
        return -1;
    t->amount = line->amount_fen;
    snprintf (t->code, sizeof t->code, "appropriation");
    snprintf (t->memo, sizeof t->memo, "budget %" PRId64 " %s %s: %" PRId64 " %s x %" PRId64
              " fen x %d%%", b->year, ledger_profile_name (b->profile), line->source,
              line->quantity, ledger_basis_name (line->basis), line->rate_fen,
              line->share_percent);
    t->has_memo = true;
    return 0;
}

static int
s_emit_appropriated (sq_ctx_t *ctx, const s_budget_t *b, size_t communities, int64_t posted,
                     const ledger_totals_t *fen)
{
    sq_data_t data;
    sq_data_begin (&data);
    msgpack_pack_map (&data.pk, 7);
    sq_pack_kv_str (&data.pk, "division", b->division);
    sq_pack_kv_int (&data.pk, "year", b->year);
    sq_pack_kv_str (&data.pk, "profile", ledger_profile_name (b->profile));
    sq_pack_kv_str (&data.pk, "payer", b->payer < 0 ? NULL : s_payer_choices[b->payer]);
    sq_pack_kv_int (&data.pk, "communities", (int64_t) communities);
    sq_pack_kv_int (&data.pk, "transfers", posted);
    s_pack_totals (&data.pk, "amount", fen);
    return sq_ctx_emit_data (ctx, &data, "appropriated", b->division);
}

//  The lines of an appropriation as transfers, with the payer of each.
typedef struct {
    ledger_transfer_t *items;
    ledger_payer_t *payers;
    size_t count, cap;
} s_lines_t;

static ledger_transfer_t *
s_lines_push (s_lines_t *self, ledger_payer_t payer)
{
    if (self->count == self->cap) {
        self->cap = self->cap ? 2 * self->cap : 256;
        self->items = realloc (self->items, self->cap * sizeof *self->items);
        self->payers = realloc (self->payers, self->cap * sizeof *self->payers);
        assert (self->items && self->payers);
    }
    self->payers[self->count] = payer;
    return &self->items[self->count++];
}

//  Posts every line in one apply (apply.c), linked: one refusal (scope, a line posted before
//  with another amount) leaves nothing. Counts what was new. Returns 0 or -1 with ctx->err.
static int
s_post_lines (sq_ctx_t *ctx, const s_lines_t *lines, int64_t *posted,
              ledger_totals_t *posted_fen)
{
    ledger_apply_t apply;
    int rc = ledger_apply (ctx, NULL, lines->items, lines->count, true, &apply);
    if (rc == 0 && apply.failed < lines->count) {
        const ledger_transfer_t *t = &lines->items[apply.failed];
        ctx->err = apply.results[apply.failed].err;
        if (strcmp (ctx->err.field, "id") == 0)
            sq_error_set (&ctx->err, SQ_ERR_CONFLICT, "year", "could not appropriate %s:"
                          " it was posted before with another amount (the counts changed);"
                          " a top-up is a transfer of its own", t->id);
        rc = -1;
    }
    for (size_t i = 0; rc == 0 && i < lines->count; i++)
        if (apply.results[i].outcome == LEDGER_CREATED) {
            (*posted)++;
            posted_fen->amount_fen[lines->payers[i]] += lines->items[i].amount;
        }
    ledger_apply_free (&apply);
    return rc;
}

int
ledger_budget_appropriate (sq_ctx_t *ctx)
{
    s_budget_t b;
    ledger_counts_t counts;
    if (s_read (ctx, s_appropriators, &b) || ledger_counts_load (ctx, b.division, &counts))
        return -1;
    int rc = 0;
    int64_t posted = 0;
    ledger_totals_t totals = {{0}}, posted_fen = {{0}};
    s_lines_t all = {0};
    for (size_t i = 0; i < counts.count && rc == 0; i++) {
        ledger_line_t lines[LEDGER_LINES_MAX];
        size_t n = 0;
        rc = s_lines (ctx, &b, &counts.items[i], lines, &n);
        if (rc == 0)
            rc = ledger_totals_add (&totals, lines, n, &ctx->err);
        for (size_t l = 0; rc == 0 && l < n; l++)
            if (lines[l].amount_fen > 0) //  nothing owed on a basis of zero yet
                rc = s_line_transfer (ctx, &b, &counts.items[i], &lines[l],
                                      s_lines_push (&all, lines[l].payer));
    }
    int64_t lines_total = (int64_t) all.count;
    if (rc == 0 && all.count)
        rc = s_post_lines (ctx, &all, &posted, &posted_fen);
    free (all.items);
    free (all.payers);
    if (rc == 0 && posted > 0)
        rc = s_emit_appropriated (ctx, &b, counts.count, posted, &posted_fen);
    if (rc == 0) {
        msgpack_pack_map (ctx->pk, 11);
        sq_pack_kv_str (ctx->pk, "division", b.division);
        sq_pack_kv_int (ctx->pk, "year", b.year);
        sq_pack_kv_str (ctx->pk, "profile", ledger_profile_name (b.profile));
        sq_pack_kv_str (ctx->pk, "payer", b.payer < 0 ? NULL : s_payer_choices[b.payer]);
        sq_pack_kv_str (ctx->pk, "counted_from", counts.source);
        sq_pack_kv_int (ctx->pk, "communities", (int64_t) counts.count);
        sq_pack_kv_int (ctx->pk, "transfers", lines_total);
        sq_pack_kv_int (ctx->pk, "posted", posted);
        sq_pack_kv_int (ctx->pk, "found", lines_total - posted);
        s_pack_totals (ctx->pk, "totals", &totals);
        s_pack_totals (ctx->pk, "posted_amount", &posted_fen);
    }
    ledger_counts_free (&counts);
    return rc;
}
