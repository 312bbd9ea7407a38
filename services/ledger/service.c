/*  ledger service: the command table and the sweep. */
#include "ledger.h"

#include <string.h>

static const sq_command_t s_commands[] = {
    {"transfer.create", ledger_transfer_create},
    {"transfer.create_batch", ledger_transfer_create_batch},
    {"transfer.post", ledger_transfer_post},
    {"transfer.void", ledger_transfer_void},
    {"transfer.list", ledger_transfer_list},
    {"account.get", ledger_account_get},
    {"account.list", ledger_account_list},
    {"audit.verify", ledger_audit_verify},
    {NULL, NULL}};

static const sq_command_t s_sweeps[] = {{"expire", ledger_expire}, {NULL, NULL}};

void
ledger_service_config (sq_service_config_t *config)
{
    memset (config, 0, sizeof *config);
    config->name = "ledger";
    config->schema = "ledger";
    config->commands = s_commands;
    config->sweeps = s_sweeps;
}
