/*  shequ-registry: reads configuration, starts the service, waits for a signal. */
#include "registry.h"

#include <stdio.h>

int
main (void)
{
    sq_log_init ("registry", -1);
    registry_t state = {0};
    state.crypt = sq_crypt_new_from_env ();
    if (!state.crypt)
        return 1;
    sq_service_config_t config;
    registry_service_config (&state, &config);
    int rc = sq_service_main (&config);
    sq_crypt_destroy (&state.crypt);
    return rc;
}
