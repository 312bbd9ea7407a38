/*  sq_log: structured log lines on stderr, one line per event.
    A line is `ts=<iso8601> level=<lvl> svc=<name> msg="<text>" key=value ...`, so that
    operators can grep it and log shippers can split it without a schema. */
#ifndef SQ_LOG_H
#define SQ_LOG_H

#include <stdarg.h>

typedef enum { SQ_LOG_DEBUG = 0, SQ_LOG_INFO, SQ_LOG_WARN, SQ_LOG_ERROR } sq_log_level_t;

//  Sets the name printed as svc= and the minimum level; reads SHEQU_LOG_LEVEL when level < 0.
void sq_log_init (const char *service_name, int level);

//  Prints one line: msg is a plain text (quoted for the reader), fields is a printf format
//  for trailing key=value pairs, may be NULL.
void sq_log (sq_log_level_t level, const char *msg, const char *fields, ...)
    __attribute__ ((format (printf, 3, 4)));

#define sq_log_info(msg, ...) sq_log (SQ_LOG_INFO, msg, __VA_ARGS__)
#define sq_log_warn(msg, ...) sq_log (SQ_LOG_WARN, msg, __VA_ARGS__)
#define sq_log_error(msg, ...) sq_log (SQ_LOG_ERROR, msg, __VA_ARGS__)
#define sq_log_debug(msg, ...) sq_log (SQ_LOG_DEBUG, msg, __VA_ARGS__)

#endif
