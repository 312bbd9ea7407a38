/*  registry: the service's shared declarations (state, handlers, helpers).
    Commands and events are listed in services/registry/README.md. */
#ifndef REGISTRY_H
#define REGISTRY_H

#include "shequ.h"
#include "sq_crypt.h"
#include "sq_service.h"

#define REGISTRY_NAME_MAX 100      //  longest person, grid or organisation name, bytes
#define REGISTRY_ADDRESS_MAX 300   //  longest household address, bytes
#define REGISTRY_TEXT_MAX 500      //  longest free text (reason, activity), bytes
#define REGISTRY_PATH_MAX 1024     //  longest import path
#define REGISTRY_CARE_GROUPS_MAX 11 //  care groups one resident may be in
#define REGISTRY_PAGE_SIZE 100     //  rows per page of a list
#define REGISTRY_HOURS_X100_MAX 2400 //  at most 24 hours in one log entry
#define REGISTRY_STAFF_LIST_MAX 1000 //  staff returned by one staff.list

//  The service's own state, handed to handlers as ctx->state.
typedef struct {
    sq_crypt_t *crypt; //  seals identity numbers and phones; blind index
} registry_t;

//  Fills config for the registry service (state, commands, names); the endpoints are left
//  NULL (from the environment) for the caller to override.
void registry_service_config (registry_t *state, sq_service_config_t *config);

//  Roles that may change the registry, and that may read residents.
extern const char *const registry_writers[];
extern const char *const registry_readers[];

//  Checks that code is an existing community inside the actor's scope; fills the kind.
//  Returns 0 or -1 with ctx->err set (invalid, not_found or forbidden, naming field).
int registry_require_community (sq_ctx_t *ctx, const char *code, const char *field);

//  Checks that grid (household) exists and belongs to community. Returns 0 or -1 with
//  ctx->err set (not_found or invalid, naming the field).
int registry_require_grid (sq_ctx_t *ctx, const char *grid, const char *community);
int registry_require_household (sq_ctx_t *ctx, const char *household, const char *community);

//  Handlers, one per command (files named after what they hold).
sq_handler_fn registry_division_import, registry_division_get, registry_division_children;
sq_handler_fn registry_division_communities;
sq_handler_fn registry_grid_create, registry_grid_list, registry_household_create;
sq_handler_fn registry_resident_register, registry_resident_get, registry_resident_find;
//  resident.register of several clients in one group commit: one INSERT for all of them.
sq_group_fn registry_resident_register_group;
sq_handler_fn registry_resident_move, registry_resident_leave, registry_resident_list;
sq_handler_fn registry_volunteer_register, registry_volunteer_log_hours;
sq_handler_fn registry_org_register, registry_staff_add, registry_staff_list;
sq_handler_fn registry_stats_get;

#endif
