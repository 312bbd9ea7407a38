/*  shequ-admission: reads configuration, starts the service, waits for a signal. */
#include "admission.h"

int
main (void)
{
    sq_service_config_t config;
    admission_service_config (&config);
    return sq_service_main (&config);
}
