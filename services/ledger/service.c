/*  ledger service: the command table, the streams it consumes and the sweep. */
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
    {"budget.compute", ledger_budget_compute},
    {"budget.appropriate", ledger_budget_appropriate},
    {"expense.record", ledger_expense_record},
    {"statement.get", ledger_statement_get},
    {NULL, NULL}};

//  The registry's figures (counts.c) and funds that follow admitted work (follow.c).
static const sq_consumer_t s_consumers[] = {{"registry", "registry.", ledger_registry_apply},
                                            {"admission", "admission.", ledger_admission_apply},
                                            {NULL, NULL, NULL}};

//  Several clients' transfer.create in one group commit share one apply (apply.c).
static const sq_group_t s_groups[] = {{"transfer.create", ledger_transfer_create_group},
                                      {NULL, NULL}};

static const sq_command_t s_sweeps[] = {{"expire", ledger_expire}, {NULL, NULL}};

void
ledger_service_config (sq_service_config_t *config)
{
    memset (config, 0, sizeof *config);
    config->name = "ledger";
    config->schema = "ledger";
    config->commands = s_commands;
    //  Every writer waits for the one chain lock, so throughput is the group commit's size
    //  over one commit's time: more worker sockets, bigger groups. bench_ledger with 20
    //  clients: 1,156 transfers/s at 16, 2,717/s at 64.
    config->concurrency_default = LEDGER_CONCURRENCY_DEFAULT;
    config->groups = s_groups;
    config->sweeps = s_sweeps;
    config->consumers = s_consumers;
}
