/*  shequ-ledger: reads configuration, starts the service, waits for a signal. */
#include "ledger.h"

int
main (void)
{
    sq_service_config_t config;
    ledger_service_config (&config);
    return sq_service_main (&config);
}
