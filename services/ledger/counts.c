/*  ledger counts: the registry's figures per community (residents, party members, households,
    kind) as entitlements need them, "as counted at the moment of computation" (issue 5).

    - Counts come from the registry's stream (config.consumers, ledger_registry_apply):
      resident_registered / moved / left and household_created change ledger.community in the
      transaction that claims the event, so each event counts once and in order. The stream
      is kept whole (events.since serves it from seq 1), so a ledger started late replays the
      registry's history and its counts are complete once it has caught up.
    - Kinds are not in any event (divisions_imported carries totals only): the first budget
      of a division asks the registry's division.children down to the communities and keeps
      their kinds (ledger.division_synced); divisions_imported forgets that, so the next
      budget asks again.
    - At computation, the ledger compares the registry events it applied with the registry's
      last_seq (events.since) and waits up to LEDGER_CATCHUP_WAIT_MS for its consumer. Still
      behind (the consumer stopped, or stuck behind a lock), it asks the registry's stats.get
      per community instead, exact at that moment, and says so (source "registry"); it never
      writes those figures, which would count the pending events twice.
    NB: "now" is up to the relay's latency: a registry change committed but not yet given a
    seq is in neither. */
#include "ledger.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define S_COMMUNITY_LEN 12
#define S_LEVELS_BELOW_CITY 3 //  city → district → street → community

//  Packs {key: value} as the args of a call; the caller destroys buf.
static void
s_args (msgpack_sbuffer *buf, const char *key, const char *value, int64_t number)
{
    msgpack_sbuffer_init (buf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, buf, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, value ? 1 : 2);
    if (value)
        sq_pack_kv_str (&pk, key, value);
    else {
        sq_pack_kv_int (&pk, key, number);
        sq_pack_kv_int (&pk, "limit", 1);
    }
}

static sq_reply_t *
s_call (sq_ctx_t *ctx, const char *cmd, const char *key, const char *value, int64_t number)
{
    msgpack_sbuffer args;
    s_args (&args, key, value, number);
    sq_reply_t *reply = sq_ctx_call (ctx, "registry", cmd, args.data, args.size, 0);
    msgpack_sbuffer_destroy (&args);
    return reply;
}

static int64_t
s_int (const msgpack_object *map, const char *key)
{
    const msgpack_object *o = sq_obj_get (map, key);
    if (o && o->type == MSGPACK_OBJECT_POSITIVE_INTEGER && o->via.u64 <= INT64_MAX)
        return (int64_t) o->via.u64;
    return o && o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER ? o->via.i64 : -1;
}

static int
s_append (sq_ctx_t *ctx, ledger_counts_t *out, const char *code, const char *kind)
{
    if (out->count >= LEDGER_COMMUNITIES_MAX)
        return sq_error_set (&ctx->err, SQ_ERR_INVALID, "division", "could not count the"
                             " communities: more than %d", LEDGER_COMMUNITIES_MAX);
    if (out->count % 256 == 0) {
        ledger_count_t *items = realloc (out->items, (out->count + 256) * sizeof *items);
        if (!items)
            return sq_error_set (&ctx->err, SQ_ERR_INTERNAL, "", "out of memory");
        out->items = items;
    }
    ledger_count_t *item = &out->items[out->count++];
    memset (item, 0, sizeof *item);
    snprintf (item->code, sizeof item->code, "%s", code);
    snprintf (item->kind, sizeof item->kind, "%s", kind);
    return 0;
}

//  Appends the communities under code, with their kinds, asking division.children level by
//  level (depth bounded by the levels, calls by LEDGER_SYNC_CALLS_MAX).
static int
s_collect (sq_ctx_t *ctx, const char *code, int depth, int *calls, ledger_counts_t *out)
{
    if (++*calls > LEDGER_SYNC_CALLS_MAX)
        return sq_error_set (&ctx->err, SQ_ERR_INVALID, "division", "could not count the"
                             " communities: more than %d divisions", LEDGER_SYNC_CALLS_MAX);
    sq_reply_t *reply = s_call (ctx, "division.children", "code", code, 0);
    if (!reply)
        return -1;
    const msgpack_object *children = sq_obj_get (reply->result, "children");
    int rc = children && children->type == MSGPACK_OBJECT_ARRAY ? 0
             : sq_error_set (&ctx->err, SQ_ERR_INTERNAL, "", "registry division.children"
                             " gave no children for %s", code);
    for (uint32_t i = 0; rc == 0 && i < children->via.array.size; i++) {
        const msgpack_object *child = &children->via.array.ptr[i];
        char child_code[SQ_DIV_MAX] = "", kind[24] = "";
        sq_obj_str_copy (sq_obj_get (child, "code"), child_code, sizeof child_code);
        size_t len = strlen (child_code);
        if (len == S_COMMUNITY_LEN) {
            ledger_kind_t parsed;
            sq_obj_str_copy (sq_obj_get (child, "kind"), kind, sizeof kind);
            rc = ledger_kind_parse (kind, &parsed) == 0 ? s_append (ctx, out, child_code, kind)
                 : sq_error_set (&ctx->err, SQ_ERR_INTERNAL, "", "registry gave community %s"
                                 " the unknown kind \"%s\"", child_code, kind);
        } else if (len > strlen (code) && depth < S_LEVELS_BELOW_CITY)
            rc = s_collect (ctx, child_code, depth + 1, calls, out);
    }
    sq_reply_destroy (&reply);
    return rc;
}

//  The registry's last_seq, or -1 with ctx->err set.
static int64_t
s_registry_last_seq (sq_ctx_t *ctx, int64_t after)
{
    sq_reply_t *reply = s_call (ctx, "events.since", "after", NULL, after);
    if (!reply)
        return -1;
    int64_t last = s_int (reply->result, "last_seq");
    sq_reply_destroy (&reply);
    if (last < 0)
        sq_error_set (&ctx->err, SQ_ERR_INTERNAL, "", "registry events.since gave no last_seq");
    return last;
}

//  Waits for the consumer to apply the registry's events up to last. Returns the seq
//  applied (>= last when caught up), or -1 with ctx->err set.
static int64_t
s_wait_applied (sq_ctx_t *ctx, int64_t last)
{
    int64_t deadline = sq_clock_ms () + LEDGER_CATCHUP_WAIT_MS;
    for (;;) {
        int64_t applied = sq_inbox_last_seq (ctx->db, "ledger", "registry", &ctx->err);
        if (applied < 0 || applied >= last || sq_clock_ms () >= deadline)
            return applied;
        usleep (LEDGER_CATCHUP_POLL_MS * 1000);
    }
}

//  Fills every item's figures from the registry's stats.get (the local copy lags).
static int
s_counts_from_registry (sq_ctx_t *ctx, ledger_counts_t *out)
{
    if (out->count > LEDGER_FALLBACK_CALLS_MAX)
        return sq_error_set (&ctx->err, SQ_ERR_UNAVAILABLE, "division", "could not count the"
                             " communities: the ledger is behind the registry's events and"
                             " %zu communities are too many to ask one by one; retry", out->count);
    for (size_t i = 0; i < out->count; i++) {
        ledger_count_t *item = &out->items[i];
        sq_reply_t *reply = s_call (ctx, "stats.get", "division", item->code, 0);
        if (!reply)
            return -1;
        item->residents = s_int (sq_obj_get (reply->result, "residents"), "total");
        item->party_members = s_int (reply->result, "party_members");
        item->households = s_int (reply->result, "households");
        sq_reply_destroy (&reply);
    }
    out->source = "registry";
    return 0;
}

//  Keeps the kinds learnt from the registry, and that division was learnt.
static int
s_store_kinds (sq_ctx_t *ctx, const char *division, const ledger_counts_t *list)
{
    size_t size = list->count * (S_COMMUNITY_LEN + 1 + 24) + 4;
    char *codes = malloc (size), *kinds = malloc (size);
    if (!codes || !kinds) {
        free (codes);
        free (kinds);
        return sq_error_set (&ctx->err, SQ_ERR_INTERNAL, "", "out of memory");
    }
    size_t c = 0, k = 0;
    codes[c++] = '{';
    kinds[k++] = '{';
    for (size_t i = 0; i < list->count; i++) {
        c += (size_t) snprintf (codes + c, size - c, "%s%s", i ? "," : "", list->items[i].code);
        k += (size_t) snprintf (kinds + k, size - k, "%s%s", i ? "," : "", list->items[i].kind);
    }
    snprintf (codes + c, size - c, "}");
    snprintf (kinds + k, size - k, "}");
    char now[24], count[24];
    snprintf (now, sizeof now, "%" PRId64, sq_now_us ());
    snprintf (count, sizeof count, "%zu", list->count);
    const char *params[] = {codes, kinds, now};
    int rc = sq_db_exec (ctx->db, "INSERT INTO ledger.community (code, kind, updated_at)"
                         " SELECT c, k, $3::bigint FROM unnest ($1::text[], $2::text[]) AS u (c, k)"
                         " ORDER BY c ON CONFLICT (code) DO UPDATE SET kind = EXCLUDED.kind",
                         3, params, &ctx->err);
    const char *synced[] = {division, count, now};
    if (rc == 0)
        rc = sq_db_exec (ctx->db, "INSERT INTO ledger.division_synced (code, communities,"
                         " synced_at) VALUES ($1, $2::bigint, $3::bigint) ON CONFLICT (code) DO"
                         " UPDATE SET communities = EXCLUDED.communities, synced_at ="
                         " EXCLUDED.synced_at", 3, synced, &ctx->err);
    free (codes);
    free (kinds);
    return rc;
}

//  Reads the division's communities (kinds known) and, when with_counts, their figures.
static int
s_load_local (sq_ctx_t *ctx, const char *division, bool with_counts, ledger_counts_t *out)
{
    const char *params[] = {division};
    PGresult *res = sq_db_query (ctx->db, "SELECT code, kind, residents, party_members,"
                                 " households FROM ledger.community WHERE code LIKE $1 || '%'"
                                 " AND kind IS NOT NULL ORDER BY code", 1, params, &ctx->err);
    if (!res)
        return -1;
    int rc = 0;
    for (int i = 0; i < PQntuples (res) && rc == 0; i++) {
        rc = s_append (ctx, out, PQgetvalue (res, i, 0), PQgetvalue (res, i, 1));
        if (rc == 0 && with_counts) {
            ledger_count_t *item = &out->items[out->count - 1];
            item->residents = strtoll (PQgetvalue (res, i, 2), NULL, 10);
            item->party_members = strtoll (PQgetvalue (res, i, 3), NULL, 10);
            item->households = strtoll (PQgetvalue (res, i, 4), NULL, 10);
        }
    }
    PQclear (res);
    return rc;
}

int
ledger_counts_load (sq_ctx_t *ctx, const char *division, ledger_counts_t *out)
{
    memset (out, 0, sizeof *out);
    out->source = "events";
    const char *params[] = {division};
    PGresult *res = sq_db_query (ctx->db, "SELECT count(*) FROM ledger.division_synced WHERE"
                                 " $1 LIKE code || '%'", 1, params, &ctx->err);
    if (!res)
        return -1;
    bool synced = strcmp (PQgetvalue (res, 0, 0), "0") != 0;
    PQclear (res);
    //  Every call first (the transaction stays open while waiting), then the writes.
    int calls = 0;
    int rc = synced ? s_load_local (ctx, division, false, out)
                    : s_collect (ctx, division, 0, &calls, out);
    if (rc && strcmp (ctx->err.field, "code") == 0)
        snprintf (ctx->err.field, sizeof ctx->err.field, "division");
    int64_t applied = rc ? -1 : sq_inbox_last_seq (ctx->db, "ledger", "registry", &ctx->err);
    int64_t last = applied < 0 ? -1 : s_registry_last_seq (ctx, applied);
    if (last >= 0 && applied < last)
        applied = s_wait_applied (ctx, last);
    rc = last < 0 || applied < 0 ? -1 : 0;
    out->registry_seq = applied;
    if (rc == 0 && applied < last) {
        out->registry_seq = last;
        rc = s_counts_from_registry (ctx, out);
    }
    if (rc == 0 && !synced)
        rc = s_store_kinds (ctx, division, out);
    if (rc == 0 && strcmp (out->source, "events") == 0) {
        out->count = 0;
        rc = s_load_local (ctx, division, true, out);
    }
    if (rc)
        ledger_counts_free (out);
    return rc;
}

void
ledger_counts_free (ledger_counts_t *counts)
{
    free (counts->items);
    counts->items = NULL;
    counts->count = 0;
}

// ---- the consumer of stream registry ---------------------------------------------------

//  Adds to one community's counts (creating its row).
static int
s_count_add (sq_ctx_t *ctx, const sq_event_t *event, const char *community, int64_t residents,
             int64_t party_members, int64_t households)
{
    if (!sq_is_digits (community, S_COMMUNITY_LEN))
        return sq_error_set (&ctx->err, SQ_ERR_INVALID, "community", "could not count %s %"
                             PRIu64 ": community \"%s\" is not a 12-digit code",
                             event->env.type, event->env.seq, community);
    char r[24], p[24], h[24], seq[24], now[24];
    snprintf (r, sizeof r, "%" PRId64, residents);
    snprintf (p, sizeof p, "%" PRId64, party_members);
    snprintf (h, sizeof h, "%" PRId64, households);
    snprintf (seq, sizeof seq, "%" PRIu64, event->env.seq);
    snprintf (now, sizeof now, "%" PRId64, sq_now_us ());
    const char *params[] = {community, r, p, h, seq, now};
    return sq_db_exec (ctx->db, "INSERT INTO ledger.community (code, residents, party_members,"
                       " households, registry_seq, updated_at) VALUES ($1, $2::bigint,"
                       " $3::bigint, $4::bigint, $5::bigint, $6::bigint) ON CONFLICT (code) DO"
                       " UPDATE SET residents = community.residents + EXCLUDED.residents,"
                       " party_members = community.party_members + EXCLUDED.party_members,"
                       " households = community.households + EXCLUDED.households,"
                       " registry_seq = EXCLUDED.registry_seq, updated_at = EXCLUDED.updated_at",
                       6, params, &ctx->err);
}

int
ledger_registry_apply (sq_ctx_t *ctx, const sq_event_t *event)
{
    const char *type = event->env.type;
    const msgpack_object *data = event->env.data;
    char community[SQ_DIV_MAX] = "", from[SQ_DIV_MAX] = "";
    sq_obj_str_copy (sq_obj_get (data, "community"), community, sizeof community);
    const msgpack_object *party = sq_obj_get (data, "party_member");
    int64_t member = party && party->type == MSGPACK_OBJECT_BOOLEAN && party->via.boolean;
    if (strcmp (type, "registry.resident_registered") == 0)
        return s_count_add (ctx, event, community, 1, member, 0);
    if (strcmp (type, "registry.resident_left") == 0)
        return s_count_add (ctx, event, community, -1, -member, 0);
    if (strcmp (type, "registry.household_created") == 0)
        return s_count_add (ctx, event, community, 0, 0, 1);
    if (strcmp (type, "registry.resident_moved") == 0) {
        sq_obj_str_copy (sq_obj_get (data, "from"), from, sizeof from);
        if (strcmp (from, community) == 0)
            return 0; //  another grid of the same community
        //  Rows in code order, so two consumers' transactions could never deadlock.
        bool down_first = strcmp (from, community) < 0;
        return s_count_add (ctx, event, down_first ? from : community, down_first ? -1 : 1,
                            down_first ? -member : member, 0)
               || s_count_add (ctx, event, down_first ? community : from, down_first ? 1 : -1,
                               down_first ? member : -member, 0) ? -1 : 0;
    }
    if (strcmp (type, "registry.divisions_imported") == 0)
        return sq_db_exec (ctx->db, "DELETE FROM ledger.division_synced", 0, NULL, &ctx->err);
    return 0;
}
