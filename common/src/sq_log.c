/*  sq_log: structured log lines on stderr. */
#include "sq_log.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>

static char s_service[32] = "shequ";
static int s_level = SQ_LOG_INFO;
static pthread_mutex_t s_lock = PTHREAD_MUTEX_INITIALIZER;

void
sq_log_init (const char *service_name, int level)
{
    if (service_name)
        snprintf (s_service, sizeof s_service, "%s", service_name);
    if (level < 0) {
        const char *env = getenv ("SHEQU_LOG_LEVEL");
        level = SQ_LOG_INFO;
        if (env && strcasecmp (env, "debug") == 0) level = SQ_LOG_DEBUG;
        if (env && strcasecmp (env, "warn") == 0) level = SQ_LOG_WARN;
        if (env && strcasecmp (env, "error") == 0) level = SQ_LOG_ERROR;
    }
    s_level = level;
}

void
sq_log (sq_log_level_t level, const char *msg, const char *fields, ...)
{
    static const char *names[] = {"debug", "info", "warn", "error"};
    if ((int) level < s_level)
        return;
    struct timeval tv;
    gettimeofday (&tv, NULL);
    struct tm tm;
    gmtime_r (&tv.tv_sec, &tm);
    char ts[32];
    strftime (ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);

    char extra[1024] = "";
    if (fields) {
        va_list ap;
        va_start (ap, fields);
        vsnprintf (extra, sizeof extra, fields, ap);
        va_end (ap);
    }
    //  Quotes in the message would break the key=value split: replace them.
    char text[512];
    snprintf (text, sizeof text, "%s", msg ? msg : "");
    for (char *p = text; *p; p++)
        if (*p == '"' || *p == '\n') *p = '\'';

    pthread_mutex_lock (&s_lock);
    fprintf (stderr, "ts=%s.%06ldZ level=%s svc=%s msg=\"%s\"%s%s\n", ts, (long) tv.tv_usec,
             names[level], s_service, text, extra[0] ? " " : "", extra);
    pthread_mutex_unlock (&s_lock);
}
