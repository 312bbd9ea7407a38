/*  shequ-disputes: reads configuration, starts the service, waits for a signal. */
#include "disputes.h"

#include <stdlib.h>

int
main (void)
{
    sq_log_init ("disputes", -1);
    disputes_t state = {0};
    state.day_us = DISPUTES_DAY_US;
    //  Deadline days can be shortened for tests (SHEQU_DISPUTES_DAY_MS); the code paths stay
    //  the same.
    const char *day_ms = getenv (DISPUTES_DAY_MS_ENV);
    if (day_ms && *day_ms) {
        char *end = NULL;
        long long ms = strtoll (day_ms, &end, 10);
        if (*end || ms < 1 || ms > DISPUTES_DAY_US / 1000) {
            sq_log_error ("bad configuration", "variable=%s value=\"%s\" expected=\"1 to 86400000"
                          " milliseconds\"", DISPUTES_DAY_MS_ENV, day_ms);
            return 1;
        }
        state.day_us = ms * 1000;
    }
    state.crypt = sq_crypt_new_from_env ();
    if (!state.crypt)
        return 1;
    sq_service_config_t config;
    disputes_service_config (&state, &config);
    int rc = sq_service_main (&config);
    sq_crypt_destroy (&state.crypt);
    return rc;
}
