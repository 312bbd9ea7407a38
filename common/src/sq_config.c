/*  sq_config: configuration from the environment, with defaults. */
#include "sq_config.h"
#include "sq_log.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>

const char *
sq_config_str (const char *name, const char *fallback)
{
    const char *value = getenv (name);
    return value && *value ? value : fallback;
}

int64_t
sq_config_int (const char *name, int64_t fallback, int64_t min, int64_t max)
{
    const char *value = getenv (name);
    if (!value || !*value)
        return fallback;
    char *end = NULL;
    errno = 0;
    long long parsed = strtoll (value, &end, 10);
    if (errno || *end || parsed < min || parsed > max) {
        sq_log_warn ("ignoring invalid setting", "name=%s value=\"%s\" min=%" PRId64
                     " max=%" PRId64 " using=%" PRId64, name, value, min, max, fallback);
        return fallback;
    }
    return parsed;
}
