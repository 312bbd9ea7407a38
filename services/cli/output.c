/*  output: printing JSON for people and scripts, and reading numbers and stdin safely
    (strtoll with every error checked, never atoi). */
#include "cli.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CLI_STDIN_CHUNK 65536 //  bytes read from stdin per read call

int
cli_print_json (FILE *out, const msgpack_object *o, bool pretty)
{
    char *text = pretty ? sq_json_from_msgpack_pretty (o) : sq_json_from_msgpack (o);
    if (!text) {
        fprintf (stderr, "shequ: could not write the reply as JSON: out of memory or nested "
                         "deeper than %d\n", SQ_JSON_DEPTH_MAX);
        return -1;
    }
    //  One write and a flush per document: `shequ tail | jq` sees each line as it comes.
    int rc = fprintf (out, "%s\n", text) < 0 || fflush (out) ? -1 : 0;
    free (text);
    if (rc) fprintf (stderr, "shequ: could not write to the output: %s\n", strerror (errno));
    return rc;
}

bool
cli_stdout_is_tty (void)
{
    return isatty (STDOUT_FILENO) == 1;
}

int
cli_parse_int (const char *option, const char *text, int64_t min, int64_t max, int64_t *out)
{
    char *end = NULL;
    errno = 0;
    long long value = strtoll (text, &end, 10);
    if (errno || end == text || *end || value < min || value > max) {
        fprintf (stderr, "shequ: %s must be a whole number from %" PRId64 " to %" PRId64
                         ", not \"%s\"\n", option, min, max, text);
        return -1;
    }
    *out = value;
    return 0;
}

char *
cli_read_stdin (size_t max, size_t *len, char *why, size_t why_size)
{
    size_t capacity = CLI_STDIN_CHUNK;
    size_t used = 0;
    char *data = malloc (capacity);
    if (!data) {
        snprintf (why, why_size, "out of memory");
        return NULL;
    }
    while (1) {
        if (used == capacity) {
            //  Grow, but never past one byte more than max: that byte tells "too long".
            size_t grown = capacity * 2 > max + 1 ? max + 1 : capacity * 2;
            if (grown == capacity) {
                snprintf (why, why_size, "input is longer than %zu bytes", max);
                free (data);
                return NULL;
            }
            char *bigger = realloc (data, grown);
            if (!bigger) {
                snprintf (why, why_size, "out of memory");
                free (data);
                return NULL;
            }
            data = bigger;
            capacity = grown;
        }
        ssize_t n = read (STDIN_FILENO, data + used, capacity - used);
        if (n == 0) break;
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            snprintf (why, why_size, "could not read stdin: %s", strerror (errno));
            free (data);
            return NULL;
        }
        used += (size_t) n;
    }
    if (used > max) {
        snprintf (why, why_size, "input is longer than %zu bytes", max);
        free (data);
        return NULL;
    }
    *len = used;
    return data;
}
