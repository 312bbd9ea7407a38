/*  sq_config: configuration from the environment, with defaults.
    Every endpoint and limit of the platform is read here, so that one table in the README
    lists them all (see README "Configuration"). */
#ifndef SQ_CONFIG_H
#define SQ_CONFIG_H

#include <stdint.h>

//  Returns the environment variable's value, or fallback when unset or empty (borrowed).
const char *sq_config_str (const char *name, const char *fallback);

//  Returns the variable as an integer within [min, max]; fallback when unset; an unparsable
//  or out-of-range value is logged and replaced by fallback.
int64_t sq_config_int (const char *name, int64_t fallback, int64_t min, int64_t max);

//  The platform's well-known settings with the defaults of DESIGN.md.
#define SQ_ENV_EVENTS_IN "SHEQU_EVENTS_IN"   //  XSUB, publishers connect
#define SQ_ENV_EVENTS_OUT "SHEQU_EVENTS_OUT" //  XPUB, subscribers connect
#define SQ_ENV_COMMANDS "SHEQU_COMMANDS"     //  ROUTER, MDP clients and workers connect
#define SQ_ENV_PG "SHEQU_PG"                 //  libpq connection string
#define SQ_ENV_REDIS "SHEQU_REDIS"           //  host:port or unix socket path
#define SQ_ENV_DATA_KEY "SHEQU_DATA_KEY"     //  64 hex chars: key for personal data at rest
#define SQ_ENV_MSG_MAX "SHEQU_MSG_MAX"       //  largest frame accepted, bytes

#define SQ_DEFAULT_EVENTS_IN "tcp://127.0.0.1:7100"
#define SQ_DEFAULT_EVENTS_OUT "tcp://127.0.0.1:7101"
#define SQ_DEFAULT_COMMANDS "tcp://127.0.0.1:7102"
#define SQ_DEFAULT_PG "dbname=shequ"
#define SQ_DEFAULT_REDIS "127.0.0.1:6379"
#define SQ_DEFAULT_MSG_MAX (4 * 1024 * 1024)

#endif
