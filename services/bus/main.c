/*  shequ-bus: the platform's message bus (event proxy and Majordomo broker).

    Reads its configuration from the environment (see README.md), runs the bus until SIGTERM
    or SIGINT, then stops it, flushes what it still has to say and exits 0. */
#include "broker.h"
#include "shequ.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BUS_MAIN_CHECK_S 1 //  how often main looks whether the bus thread is still alive

int
main (void)
{
    sq_log_init ("bus", -1);
    //  Signals are taken by sigtimedwait below, so block them before any thread starts.
    sigset_t signals;
    sigemptyset (&signals);
    sigaddset (&signals, SIGTERM);
    sigaddset (&signals, SIGINT);
    pthread_sigmask (SIG_BLOCK, &signals, NULL);

    bus_config_t config;
    if (bus_config_from_env (&config))
        return EXIT_FAILURE;
    bus_t *bus = bus_new (&config);
    if (!bus || bus_start (bus)) {
        sq_log_error ("could not start the bus", NULL);
        bus_destroy (&bus);
        sq_zmq_shutdown ();
        return EXIT_FAILURE;
    }
    int signal_number = -1;
    struct timespec check = {BUS_MAIN_CHECK_S, 0};
    while (signal_number < 0 && bus_running (bus)) {
        signal_number = sigtimedwait (&signals, NULL, &check);
        if (signal_number < 0 && errno != EAGAIN && errno != EINTR)
            break;
    }
    int status = signal_number > 0 ? EXIT_SUCCESS : EXIT_FAILURE;
    if (signal_number > 0)
        sq_log_info ("shutting down", "signal=%s", strsignal (signal_number));
    bus_destroy (&bus);
    sq_zmq_shutdown ();
    sq_log_info ("shutdown complete", NULL);
    return status;
}
