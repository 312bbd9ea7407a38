/*  shequ-notify: reads configuration, starts the service, waits for a signal. */
#include "notify.h"

int
main (void)
{
    sq_log_init ("notify", -1);
    sq_crypt_t *crypt = sq_crypt_new_from_env ();
    if (!crypt)
        return 1;
    notify_t state;
    int rc = 1;
    if (notify_state_init (&state, crypt) == 0) {
        sq_service_config_t config;
        notify_service_config (&state, &config);
        rc = sq_service_main (&config);
    }
    notify_state_destroy (&state);
    sq_crypt_destroy (&crypt);
    return rc;
}
