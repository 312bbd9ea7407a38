/*  registry service: the command table and the helpers the handlers share. */
#include "registry.h"
#include "sq_db.h"

#include <stdio.h>
#include <string.h>

const char *const registry_writers[] = {"community_staff", "grid_worker", "street_official",
                                        "district_official", "city_official", "operator",
                                        NULL};
const char *const registry_readers[] = {"community_staff", "grid_worker", "street_official",
                                        "district_official", "city_official", "operator",
                                        "mediator", "auditor", NULL};

static const sq_command_t s_commands[] = {
    {"division.import", registry_division_import},
    {"division.get", registry_division_get},
    {"division.children", registry_division_children},
    {"division.communities", registry_division_communities},
    {"grid.create", registry_grid_create},
    {"grid.list", registry_grid_list},
    {"household.create", registry_household_create},
    {"resident.register", registry_resident_register},
    {"resident.get", registry_resident_get},
    {"resident.find", registry_resident_find},
    {"resident.list", registry_resident_list},
    {"resident.move", registry_resident_move},
    {"resident.leave", registry_resident_leave},
    {"volunteer.register", registry_volunteer_register},
    {"volunteer.log_hours", registry_volunteer_log_hours},
    {"org.register", registry_org_register},
    {"staff.add", registry_staff_add},
    {"staff.list", registry_staff_list},
    {"stats.get", registry_stats_get},
    {NULL, NULL}};

//  Registrations are the platform's busiest command: concurrent ones share one INSERT.
static const sq_group_t s_groups[] = {{"resident.register", registry_resident_register_group},
                                      {NULL, NULL}};

void
registry_service_config (registry_t *state, sq_service_config_t *config)
{
    memset (config, 0, sizeof *config);
    config->name = "registry";
    config->schema = "registry";
    config->commands = s_commands;
    config->groups = s_groups;
    config->state = state;
}

int
registry_require_community (sq_ctx_t *ctx, const char *code, const char *field)
{
    if (!sq_is_digits (code, 12))
        return sq_error_set (&ctx->err, SQ_ERR_INVALID, field,
                             "%s must be a 12-digit community code", field);
    const char *params[] = {code};
    PGresult *res = sq_db_query (ctx->db, "SELECT level FROM registry.division WHERE code = $1",
                                 1, params, &ctx->err);
    if (!res)
        return -1;
    int found = PQntuples (res) == 1;
    int community = found && strcmp (PQgetvalue (res, 0, 0), "community") == 0;
    PQclear (res);
    if (!found)
        return sq_error_set (&ctx->err, SQ_ERR_NOT_FOUND, field, "community %s does not exist",
                             code);
    if (!community)
        return sq_error_set (&ctx->err, SQ_ERR_INVALID, field, "%s is not a community", code);
    return sq_ctx_require_scope (ctx, code, field);
}

//  Checks that the row of what (grid or household) keyed by id lies in community. The
//  statements are constants: what is never spliced into SQL.
static int
s_require_in_community (sq_ctx_t *ctx, const char *what, const char *sql, const char *id,
                        const char *community)
{
    const char *params[] = {id};
    PGresult *res = sq_db_query (ctx->db, sql, 1, params, &ctx->err);
    if (!res)
        return -1;
    int found = PQntuples (res) == 1;
    int same = found && strcmp (PQgetvalue (res, 0, 0), community) == 0;
    PQclear (res);
    if (!found)
        return sq_error_set (&ctx->err, SQ_ERR_NOT_FOUND, what, "%s %s does not exist", what, id);
    if (!same)
        return sq_error_set (&ctx->err, SQ_ERR_INVALID, what,
                             "%s %s does not belong to community %s", what, id, community);
    return 0;
}

int
registry_require_grid (sq_ctx_t *ctx, const char *grid, const char *community)
{
    return s_require_in_community (ctx, "grid", "SELECT community FROM registry.grid"
                                   " WHERE code = $1", grid, community);
}

int
registry_require_household (sq_ctx_t *ctx, const char *household, const char *community)
{
    return s_require_in_community (ctx, "household", "SELECT community FROM registry.household"
                                   " WHERE id = $1", household, community);
}
