/*  sq_json: JSON text to msgpack and back.

    Reading goes in two passes over the text. msgpack writes a map's or an array's count
    before its elements, and JSON tells the count only at the closing bracket, so the first
    pass validates everything and records each container's count (in the order the containers
    open); the second pass, which cannot fail, packs. Nothing reaches the packer from a text
    that turns out to be invalid halfway. Recursion follows the nesting, which is bounded by
    SQ_JSON_DEPTH_MAX before it is entered. */
#include "sq_json.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SQ_JSON_COUNTS_INITIAL 64   //  container counts reserved before the first growth
#define SQ_JSON_KEYS_INITIAL 64     //  key slots reserved before the first growth
#define SQ_JSON_OUT_INITIAL 256     //  output buffer's first size, bytes
#define SQ_JSON_SCALAR_MAX 64       //  longest number or escape written, bytes
#define SQ_JSON_INDENT 2            //  spaces per level in pretty output
#define SQ_JSON_WHAT_MAX 160        //  longest description of a syntax error, bytes

// ---- JSON to msgpack ------------------------------------------------------------------

//  A key of an object still open, kept by the first pass to find duplicates.
typedef struct {
    const char *text; //  decoded key, inside the parser's scratch
    size_t size;      //  bytes in text
    size_t at;        //  byte offset of the key in the JSON text, for the error
} s_key_t;

typedef struct {
    const uint8_t *text;  //  the JSON text (borrowed)
    size_t len;           //  bytes in text
    size_t pos;           //  next byte to read
    int depth;            //  containers open around pos
    msgpack_packer *pk;   //  NULL on the validating pass
    uint32_t *counts;     //  each container's element count, in the order they open
    size_t counts_used;   //  containers seen (first pass) or packed (second pass)
    size_t counts_size;   //  slots allocated in counts
    char *scratch;        //  len + 1 bytes: keys of open objects, then the current string
    size_t scratch_used;  //  bytes held by keys of open objects
    s_key_t *keys;        //  keys of the open objects (first pass)
    size_t keys_used;     //  entries in keys
    size_t keys_size;     //  slots allocated in keys
    char *why;            //  where the error goes
    size_t why_size;      //  bytes in why
} s_parser_t;

static int s_parse_value (s_parser_t *p);

//  Writes "<what> at byte <offset>" into why; returns -1 for `return s_fail (...)`.
static int __attribute__ ((format (printf, 3, 4)))
s_fail (s_parser_t *p, size_t at, const char *format, ...)
{
    char what[SQ_JSON_WHAT_MAX];
    va_list ap;
    va_start (ap, format);
    vsnprintf (what, sizeof what, format, ap);
    va_end (ap);
    snprintf (p->why, p->why_size, "%s at byte %zu", what, at);
    return -1;
}

//  Names the byte at pos (or the end of the text) in an error that says what was expected.
static int
s_fail_unexpected (s_parser_t *p, const char *expected)
{
    if (p->pos >= p->len) {
        return s_fail (p, p->pos, "unexpected end of text, expected %s", expected);
    }
    uint8_t c = p->text[p->pos];
    if (c > 0x20 && c < 0x7f) {
        return s_fail (p, p->pos, "unexpected character '%c', expected %s", c, expected);
    }
    return s_fail (p, p->pos, "unexpected byte 0x%02x, expected %s", c, expected);
}

static void
s_skip_space (s_parser_t *p)
{
    while (p->pos < p->len) {
        uint8_t c = p->text[p->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
        p->pos++;
    }
}

//  Length of the valid UTF-8 sequence starting at s (1 to 4), or 0 when it is not one:
//  truncated, overlong, a surrogate, or past U+10FFFF.
static size_t
s_utf8_sequence (const uint8_t *s, size_t remain)
{
    uint8_t c = s[0];
    size_t n;
    uint32_t cp;
    if (c < 0x80) return 1;
    if ((c & 0xe0) == 0xc0) { n = 2; cp = c & 0x1f; }
    else if ((c & 0xf0) == 0xe0) { n = 3; cp = c & 0x0f; }
    else if ((c & 0xf8) == 0xf0) { n = 4; cp = c & 0x07; }
    else return 0;
    if (n > remain) return 0;
    for (size_t k = 1; k < n; k++) {
        if ((s[k] & 0xc0) != 0x80) return 0;
        cp = (cp << 6) | (s[k] & 0x3f);
    }
    if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000)
        || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
        return 0;
    }
    return n;
}

//  Writes code point cp as UTF-8 into out; returns the bytes written.
static size_t
s_utf8_put (uint32_t cp, char *out)
{
    if (cp < 0x80) {
        out[0] = (char) cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char) (0xc0 | (cp >> 6));
        out[1] = (char) (0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char) (0xe0 | (cp >> 12));
        out[1] = (char) (0x80 | ((cp >> 6) & 0x3f));
        out[2] = (char) (0x80 | (cp & 0x3f));
        return 3;
    }
    out[0] = (char) (0xf0 | (cp >> 18));
    out[1] = (char) (0x80 | ((cp >> 12) & 0x3f));
    out[2] = (char) (0x80 | ((cp >> 6) & 0x3f));
    out[3] = (char) (0x80 | (cp & 0x3f));
    return 4;
}

//  Reads the four hex digits of a \u escape at pos.
static int
s_parse_hex4 (s_parser_t *p, uint32_t *value)
{
    if (p->len - p->pos < 4) return s_fail (p, p->pos, "\\u escape cut short");
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        uint8_t c = p->text[p->pos + (size_t) i];
        uint32_t digit;
        if (c >= '0' && c <= '9') digit = (uint32_t) (c - '0');
        else if (c >= 'a' && c <= 'f') digit = (uint32_t) (c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') digit = (uint32_t) (c - 'A' + 10);
        else return s_fail (p, p->pos + (size_t) i, "\\u escape needs four hex digits");
        v = (v << 4) | digit;
    }
    p->pos += 4;
    *value = v;
    return 0;
}

//  Reads a \u escape (pos just past the 'u'), joining a surrogate pair into one code point.
static int
s_parse_unicode (s_parser_t *p, uint32_t *cp)
{
    size_t at = p->pos - 2;
    if (s_parse_hex4 (p, cp)) return -1;
    if (*cp >= 0xdc00 && *cp <= 0xdfff) {
        return s_fail (p, at, "\\u escape is a low surrogate without a high one");
    }
    if (*cp < 0xd800 || *cp > 0xdbff) return 0;
    //  A high surrogate stands for nothing alone: the low half must follow at once.
    if (p->len - p->pos < 2 || p->text[p->pos] != '\\' || p->text[p->pos + 1] != 'u') {
        return s_fail (p, at, "\\u escape is a high surrogate without a low one");
    }
    p->pos += 2;
    uint32_t low;
    if (s_parse_hex4 (p, &low)) return -1;
    if (low < 0xdc00 || low > 0xdfff) {
        return s_fail (p, at, "\\u escape is a high surrogate without a low one");
    }
    *cp = 0x10000 + ((*cp - 0xd800) << 10) + (low - 0xdc00);
    return 0;
}

//  Reads the escape after a backslash (pos on the backslash); appends its bytes to out.
static int
s_parse_escape (s_parser_t *p, char *out, size_t *used)
{
    size_t at = p->pos;
    if (p->len - p->pos < 2) return s_fail (p, at, "escape cut short");
    uint8_t c = p->text[p->pos + 1];
    p->pos += 2;
    char simple = 0;
    switch (c) {
    case '"': simple = '"'; break;
    case '\\': simple = '\\'; break;
    case '/': simple = '/'; break;
    case 'b': simple = '\b'; break;
    case 'f': simple = '\f'; break;
    case 'n': simple = '\n'; break;
    case 'r': simple = '\r'; break;
    case 't': simple = '\t'; break;
    case 'u': {
        uint32_t cp;
        if (s_parse_unicode (p, &cp)) return -1;
        *used += s_utf8_put (cp, out + *used);
        return 0;
    }
    default:
        return s_fail (p, at, "unknown escape in string");
    }
    out[(*used)++] = simple;
    return 0;
}

//  Reads a string (pos on its opening quote) and decodes it into out, which has room for
//  as many bytes as the string takes in the text: no escape decodes longer than it is.
static int
s_parse_string (s_parser_t *p, char *out, size_t *size)
{
    size_t start = p->pos;
    size_t used = 0;
    p->pos++;
    while (1) {
        if (p->pos >= p->len) return s_fail (p, start, "unterminated string");
        uint8_t c = p->text[p->pos];
        if (c == '"') {
            p->pos++;
            *size = used;
            return 0;
        }
        if (c == '\\') {
            if (s_parse_escape (p, out, &used)) return -1;
            continue;
        }
        if (c < 0x20) {
            return s_fail (p, p->pos, "control character 0x%02x in string must be escaped", c);
        }
        size_t n = s_utf8_sequence (p->text + p->pos, p->len - p->pos);
        if (n == 0) return s_fail (p, p->pos, "invalid UTF-8 in string");
        memcpy (out + used, p->text + p->pos, n);
        used += n;
        p->pos += n;
    }
}

//  Reads a string value and packs it on the second pass.
static int
s_parse_string_value (s_parser_t *p)
{
    char *out = p->scratch + p->scratch_used;
    size_t size;
    if (s_parse_string (p, out, &size)) return -1;
    if (p->pk) {
        msgpack_pack_str (p->pk, size);
        msgpack_pack_str_body (p->pk, out, size);
    }
    return 0;
}

static bool
s_is_digit (const s_parser_t *p)
{
    return p->pos < p->len && p->text[p->pos] >= '0' && p->text[p->pos] <= '9';
}

//  Checks the grammar of a number at pos and moves past it; *integer when it has neither
//  fraction nor exponent.
static int
s_scan_number (s_parser_t *p, bool *integer)
{
    if (p->text[p->pos] == '-') p->pos++;
    if (!s_is_digit (p)) return s_fail_unexpected (p, "a digit");
    if (p->text[p->pos] == '0') {
        p->pos++;
        if (s_is_digit (p)) return s_fail (p, p->pos - 1, "number with a leading zero");
    } else {
        while (s_is_digit (p))
            p->pos++;
    }
    *integer = true;
    if (p->pos < p->len && p->text[p->pos] == '.') {
        p->pos++;
        if (!s_is_digit (p)) return s_fail_unexpected (p, "a digit after the decimal point");
        while (s_is_digit (p))
            p->pos++;
        *integer = false;
    }
    if (p->pos < p->len && (p->text[p->pos] == 'e' || p->text[p->pos] == 'E')) {
        p->pos++;
        if (p->pos < p->len && (p->text[p->pos] == '+' || p->text[p->pos] == '-')) p->pos++;
        if (!s_is_digit (p)) return s_fail_unexpected (p, "a digit in the exponent");
        while (s_is_digit (p))
            p->pos++;
        *integer = false;
    }
    return 0;
}

//  Reads a number: an integer that fits int64 (negative) or uint64, or a finite double.
static int
s_parse_number (s_parser_t *p)
{
    size_t start = p->pos;
    bool integer = false;
    if (s_scan_number (p, &integer)) return -1;
    size_t size = p->pos - start;
    if (size > SQ_JSON_NUMBER_MAX) {
        return s_fail (p, start, "number longer than %d bytes", SQ_JSON_NUMBER_MAX);
    }
    char literal[SQ_JSON_NUMBER_MAX + 1];
    memcpy (literal, p->text + start, size);
    literal[size] = 0;
    errno = 0;
    if (integer && literal[0] == '-') {
        long long value = strtoll (literal, NULL, 10);
        if (errno == ERANGE) {
            return s_fail (p, start, "integer %s is below the least 64-bit integer", literal);
        }
        if (p->pk) msgpack_pack_int64 (p->pk, value);
    } else if (integer) {
        unsigned long long value = strtoull (literal, NULL, 10);
        if (errno == ERANGE) {
            return s_fail (p, start, "integer %s exceeds the largest 64-bit integer", literal);
        }
        if (p->pk) msgpack_pack_uint64 (p->pk, value);
    } else {
        //  NB: strtod follows LC_NUMERIC; the platform never calls setlocale, so "." it is.
        double value = strtod (literal, NULL);
        if (isinf (value)) {
            return s_fail (p, start, "number %s is out of the range of a double", literal);
        }
        if (p->pk) msgpack_pack_double (p->pk, value);
    }
    return 0;
}

//  Reads true, false or null.
static int
s_parse_literal (s_parser_t *p)
{
    static const char *const words[] = {"true", "false", "null"};
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
        size_t n = strlen (words[i]);
        if (p->len - p->pos >= n && memcmp (p->text + p->pos, words[i], n) == 0) {
            p->pos += n;
            if (!p->pk) return 0;
            switch (i) {
            case 0: msgpack_pack_true (p->pk); break;
            case 1: msgpack_pack_false (p->pk); break;
            default: msgpack_pack_nil (p->pk); break;
            }
            return 0;
        }
    }
    return s_fail_unexpected (p, "a value");
}

//  Opens a container at pos: checks the depth, and reserves (first pass) or takes (second
//  pass) its count. *slot receives the index of its count.
static int
s_container_open (s_parser_t *p, size_t *slot)
{
    if (p->depth == SQ_JSON_DEPTH_MAX) {
        return s_fail (p, p->pos, "nesting deeper than %d", SQ_JSON_DEPTH_MAX);
    }
    p->depth++;
    p->pos++;
    if (p->pk) {
        assert (p->counts_used < p->counts_size);
        *slot = p->counts_used++;
        return 0;
    }
    if (p->counts_used == p->counts_size) {
        size_t size = p->counts_size ? 2 * p->counts_size : SQ_JSON_COUNTS_INITIAL;
        uint32_t *counts = realloc (p->counts, size * sizeof *counts);
        if (!counts) return s_fail (p, p->pos, "out of memory");
        p->counts = counts;
        p->counts_size = size;
    }
    *slot = p->counts_used++;
    p->counts[*slot] = 0;
    return 0;
}

static int
s_parse_array (s_parser_t *p)
{
    size_t slot;
    if (s_container_open (p, &slot)) return -1;
    if (p->pk) msgpack_pack_array (p->pk, p->counts[slot]);
    uint32_t count = 0;
    s_skip_space (p);
    if (p->pos < p->len && p->text[p->pos] == ']') {
        p->pos++;
        p->depth--;
        return 0;
    }
    while (1) {
        if (s_parse_value (p)) return -1;
        count++;
        s_skip_space (p);
        if (p->pos < p->len && p->text[p->pos] == ',') {
            p->pos++;
            continue;
        }
        if (p->pos < p->len && p->text[p->pos] == ']') break;
        return s_fail_unexpected (p, "',' or ']'");
    }
    p->pos++;
    p->depth--;
    p->counts[slot] = count;
    return 0;
}

static int
s_key_compare (const void *a, const void *b)
{
    const s_key_t *x = a, *y = b;
    size_t n = x->size < y->size ? x->size : y->size;
    int c = memcmp (x->text, y->text, n);
    if (c) return c;
    return x->size < y->size ? -1 : x->size > y->size;
}

//  Keeps a decoded key of an open object (first pass), for s_check_duplicates.
static int
s_key_push (s_parser_t *p, const char *text, size_t size, size_t at)
{
    if (p->keys_used == p->keys_size) {
        size_t slots = p->keys_size ? 2 * p->keys_size : SQ_JSON_KEYS_INITIAL;
        s_key_t *keys = realloc (p->keys, slots * sizeof *keys);
        if (!keys) return s_fail (p, at, "out of memory");
        p->keys = keys;
        p->keys_size = slots;
    }
    p->keys[p->keys_used++] = (s_key_t) {text, size, at};
    p->scratch_used += size;
    return 0;
}

//  Refuses an object whose keys, from index first on, repeat: RFC 8259 leaves the meaning
//  of a repeated key to each reader, and two readers that disagree are a hole.
static int
s_check_duplicates (s_parser_t *p, size_t first)
{
    size_t count = p->keys_used - first;
    if (count < 2) return 0;
    s_key_t *keys = p->keys + first;
    qsort (keys, count, sizeof *keys, s_key_compare);
    for (size_t i = 1; i < count; i++) {
        if (s_key_compare (&keys[i - 1], &keys[i]) == 0) {
            size_t at = keys[i].at > keys[i - 1].at ? keys[i].at : keys[i - 1].at;
            return s_fail (p, at, "duplicate key \"%.*s\" in object", (int) keys[i].size,
                           keys[i].text);
        }
    }
    return 0;
}

//  Reads one "key": value pair of an object (pos on the key's quote).
static int
s_parse_member (s_parser_t *p)
{
    if (p->pos >= p->len || p->text[p->pos] != '"') return s_fail_unexpected (p, "a string key");
    size_t at = p->pos;
    char *key = p->scratch + p->scratch_used;
    size_t size;
    if (s_parse_string (p, key, &size)) return -1;
    if (p->pk) {
        msgpack_pack_str (p->pk, size);
        msgpack_pack_str_body (p->pk, key, size);
    } else if (s_key_push (p, key, size, at)) {
        return -1;
    }
    s_skip_space (p);
    if (p->pos >= p->len || p->text[p->pos] != ':') {
        return s_fail_unexpected (p, "':' after the key");
    }
    p->pos++;
    return s_parse_value (p);
}

static int
s_parse_object (s_parser_t *p)
{
    size_t slot;
    if (s_container_open (p, &slot)) return -1;
    if (p->pk) msgpack_pack_map (p->pk, p->counts[slot]);
    size_t keys_first = p->keys_used, scratch_first = p->scratch_used;
    uint32_t count = 0;
    s_skip_space (p);
    bool empty = p->pos < p->len && p->text[p->pos] == '}';
    while (!empty) {
        if (s_parse_member (p)) return -1;
        count++;
        s_skip_space (p);
        if (p->pos < p->len && p->text[p->pos] == ',') {
            p->pos++;
            s_skip_space (p);
            continue;
        }
        if (p->pos < p->len && p->text[p->pos] == '}') break;
        return s_fail_unexpected (p, "',' or '}'");
    }
    if (!p->pk && s_check_duplicates (p, keys_first)) return -1;
    p->keys_used = keys_first;
    p->scratch_used = scratch_first;
    p->pos++;
    p->depth--;
    p->counts[slot] = count;
    return 0;
}

static int
s_parse_value (s_parser_t *p)
{
    s_skip_space (p);
    if (p->pos >= p->len) return s_fail_unexpected (p, "a value");
    uint8_t c = p->text[p->pos];
    if (c == '{') return s_parse_object (p);
    if (c == '[') return s_parse_array (p);
    if (c == '"') return s_parse_string_value (p);
    if (c == '-' || (c >= '0' && c <= '9')) return s_parse_number (p);
    return s_parse_literal (p);
}

//  One pass over the whole text: a single value with optional white space around it.
static int
s_parse_document (s_parser_t *p)
{
    p->pos = 0;
    p->depth = 0;
    p->counts_used = 0;
    p->scratch_used = 0;
    p->keys_used = 0;
    s_skip_space (p);
    if (p->pos == p->len) return s_fail (p, p->pos, "empty text, expected a value");
    if (s_parse_value (p)) return -1;
    s_skip_space (p);
    if (p->pos != p->len) return s_fail_unexpected (p, "the end of the text after the value");
    return 0;
}

int
sq_json_to_msgpack (const char *text, size_t len, msgpack_packer *pk, char *why,
                    size_t why_size)
{
    assert (pk && why && why_size > 0);
    assert (text || len == 0);
    if (len > SQ_JSON_TEXT_MAX) {
        snprintf (why, why_size, "text of %zu bytes is longer than %d bytes", len,
                  SQ_JSON_TEXT_MAX);
        return -1;
    }
    s_parser_t p = {.text = (const uint8_t *) text, .len = len, .why = why,
                    .why_size = why_size};
    p.scratch = malloc (len + 1);
    if (!p.scratch) {
        snprintf (why, why_size, "out of memory");
        return -1;
    }
    int rc = s_parse_document (&p);
    if (rc == 0) {
        p.pk = pk;
        rc = s_parse_document (&p);
        assert (rc == 0); //  the first pass accepted this very text
    }
    free (p.scratch);
    free (p.counts);
    free (p.keys);
    return rc;
}

// ---- msgpack to JSON ------------------------------------------------------------------

typedef struct {
    char *data;      //  text so far, NUL-terminated while not failed
    size_t size;     //  bytes in data, without the terminator
    size_t capacity; //  bytes allocated
    size_t size_max; //  longest text allowed, bytes
    bool failed;     //  out of memory, too deep or too long; the result is discarded
    bool pretty;     //  newlines and indentation between members
} s_out_t;

static void s_write_value (s_out_t *out, const msgpack_object *o, int depth);

static void
s_out_append (s_out_t *out, const char *bytes, size_t n)
{
    if (out->failed) return;
    if (n > out->size_max - out->size) {
        out->failed = true;
        return;
    }
    if (out->size + n + 1 > out->capacity) {
        size_t capacity = out->capacity ? out->capacity : SQ_JSON_OUT_INITIAL;
        while (out->size + n + 1 > capacity)
            capacity *= 2;
        char *data = realloc (out->data, capacity);
        if (!data) {
            out->failed = true;
            return;
        }
        out->data = data;
        out->capacity = capacity;
    }
    memcpy (out->data + out->size, bytes, n);
    out->size += n;
    out->data[out->size] = 0;
}

static void
s_out_text (s_out_t *out, const char *text)
{
    s_out_append (out, text, strlen (text));
}

static void __attribute__ ((format (printf, 2, 3)))
s_out_format (s_out_t *out, const char *format, ...)
{
    char text[SQ_JSON_SCALAR_MAX];
    va_list ap;
    va_start (ap, format);
    int n = vsnprintf (text, sizeof text, format, ap);
    va_end (ap);
    assert (n >= 0 && (size_t) n < sizeof text); //  only short scalars go through here
    s_out_append (out, text, (size_t) n);
}

//  In pretty output, a line break and the indentation of depth.
static void
s_write_break (s_out_t *out, int depth)
{
    if (!out->pretty) return;
    s_out_append (out, "\n", 1);
    for (int i = 0; i < depth * SQ_JSON_INDENT; i++)
        s_out_append (out, " ", 1);
}

//  Writes a quoted string: control characters escaped, UTF-8 kept, other bytes as U+FFFD
//  so that the output is always valid JSON whatever the bytes were.
static void
s_write_string (s_out_t *out, const char *text, size_t size)
{
    const uint8_t *s = (const uint8_t *) text;
    s_out_append (out, "\"", 1);
    size_t i = 0;
    while (i < size) {
        uint8_t c = s[i];
        const char *escape = NULL;
        switch (c) {
        case '"': escape = "\\\""; break;
        case '\\': escape = "\\\\"; break;
        case '\n': escape = "\\n"; break;
        case '\r': escape = "\\r"; break;
        case '\t': escape = "\\t"; break;
        case '\b': escape = "\\b"; break;
        case '\f': escape = "\\f"; break;
        default: break;
        }
        if (escape) {
            s_out_text (out, escape);
            i++;
        } else if (c < 0x20) {
            s_out_format (out, "\\u%04x", c);
            i++;
        } else {
            size_t n = s_utf8_sequence (s + i, size - i);
            if (n == 0) {
                s_out_text (out, "\\ufffd");
                i++;
            } else {
                s_out_append (out, text + i, n);
                i += n;
            }
        }
    }
    s_out_append (out, "\"", 1);
}

//  Writes bytes as a quoted base64 string (RFC 4648, with padding).
static void
s_write_base64 (s_out_t *out, const char *bytes, size_t size)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const uint8_t *b = (const uint8_t *) bytes;
    s_out_append (out, "\"", 1);
    for (size_t i = 0; i < size; i += 3) {
        uint32_t v = (uint32_t) b[i] << 16;
        if (i + 1 < size) v |= (uint32_t) b[i + 1] << 8;
        if (i + 2 < size) v |= b[i + 2];
        char quad[4] = {alphabet[(v >> 18) & 0x3f], alphabet[(v >> 12) & 0x3f],
                        i + 1 < size ? alphabet[(v >> 6) & 0x3f] : '=',
                        i + 2 < size ? alphabet[v & 0x3f] : '='};
        s_out_append (out, quad, sizeof quad);
    }
    s_out_append (out, "\"", 1);
}

//  Writes a double with the fewest digits that read back to the same value (at most 17,
//  which always do), and a ".0" where it would otherwise read back as an integer.
static void
s_write_double (s_out_t *out, double value, bool single)
{
    if (!isfinite (value)) {
        s_out_text (out, "null");
        return;
    }
    char text[SQ_JSON_SCALAR_MAX];
    int precision = single ? 6 : 15;
    int precision_max = single ? 9 : 17;
    for (; precision <= precision_max; precision++) {
        snprintf (text, sizeof text, "%.*g", precision, value);
        double back = strtod (text, NULL);
        if (single ? (float) back == (float) value : back == value) break;
    }
    s_out_text (out, text);
    if (!strpbrk (text, ".eE")) s_out_text (out, ".0");
}

static void
s_write_array (s_out_t *out, const msgpack_object_array *array, int depth)
{
    s_out_append (out, "[", 1);
    for (uint32_t i = 0; i < array->size; i++) {
        if (i) s_out_append (out, ",", 1);
        s_write_break (out, depth + 1);
        s_write_value (out, &array->ptr[i], depth + 1);
    }
    if (array->size) s_write_break (out, depth);
    s_out_append (out, "]", 1);
}

//  Writes a key: a string as it is, anything else as the string of its one-line JSON text,
//  which must fit in SQ_JSON_KEY_TEXT_MAX and in what is left of the output's own limit.
static void
s_write_key (s_out_t *out, const msgpack_object *key, int depth)
{
    if (key->type == MSGPACK_OBJECT_STR) {
        s_write_string (out, key->via.str.ptr, key->via.str.size);
        return;
    }
    size_t left = out->size_max - out->size;
    s_out_t text = {.size_max = left < SQ_JSON_KEY_TEXT_MAX ? left : SQ_JSON_KEY_TEXT_MAX};
    s_write_value (&text, key, depth);
    if (text.failed) {
        out->failed = true;
    } else {
        s_write_string (out, text.data ? text.data : "", text.size);
    }
    free (text.data);
}

static void
s_write_map (s_out_t *out, const msgpack_object_map *map, int depth)
{
    s_out_append (out, "{", 1);
    for (uint32_t i = 0; i < map->size; i++) {
        if (i) s_out_append (out, ",", 1);
        s_write_break (out, depth + 1);
        s_write_key (out, &map->ptr[i].key, depth + 1);
        s_out_text (out, out->pretty ? ": " : ":");
        s_write_value (out, &map->ptr[i].val, depth + 1);
    }
    if (map->size) s_write_break (out, depth);
    s_out_append (out, "}", 1);
}

static void
s_write_ext (s_out_t *out, const msgpack_object_ext *ext, int depth)
{
    s_out_append (out, "{", 1);
    s_write_break (out, depth + 1);
    s_out_format (out, out->pretty ? "\"ext\": %d," : "\"ext\":%d,", (int) ext->type);
    s_write_break (out, depth + 1);
    s_out_text (out, out->pretty ? "\"data\": " : "\"data\":");
    s_write_base64 (out, ext->ptr, ext->size);
    s_write_break (out, depth);
    s_out_append (out, "}", 1);
}

//  depth counts the containers around o; an object deeper than the platform accepts fails
//  the whole conversion, which also bounds the recursion.
static void
s_write_value (s_out_t *out, const msgpack_object *o, int depth)
{
    bool container = o->type == MSGPACK_OBJECT_ARRAY || o->type == MSGPACK_OBJECT_MAP;
    if (out->failed || (container && depth >= SQ_JSON_DEPTH_MAX)) {
        out->failed = true;
        return;
    }
    switch (o->type) {
    case MSGPACK_OBJECT_NIL: s_out_text (out, "null"); break;
    case MSGPACK_OBJECT_BOOLEAN: s_out_text (out, o->via.boolean ? "true" : "false"); break;
    case MSGPACK_OBJECT_POSITIVE_INTEGER: s_out_format (out, "%" PRIu64, o->via.u64); break;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER: s_out_format (out, "%" PRId64, o->via.i64); break;
    case MSGPACK_OBJECT_FLOAT32: s_write_double (out, o->via.f64, true); break;
    case MSGPACK_OBJECT_FLOAT64: s_write_double (out, o->via.f64, false); break;
    case MSGPACK_OBJECT_STR: s_write_string (out, o->via.str.ptr, o->via.str.size); break;
    case MSGPACK_OBJECT_BIN: s_write_base64 (out, o->via.bin.ptr, o->via.bin.size); break;
    case MSGPACK_OBJECT_ARRAY: s_write_array (out, &o->via.array, depth); break;
    case MSGPACK_OBJECT_MAP: s_write_map (out, &o->via.map, depth); break;
    case MSGPACK_OBJECT_EXT: s_write_ext (out, &o->via.ext, depth); break;
    default: out->failed = true; break; //  a type this msgpack-c does not produce
    }
}

static char *
s_json_from_msgpack (const msgpack_object *o, bool pretty)
{
    assert (o);
    s_out_t out = {.pretty = pretty, .size_max = SQ_JSON_OUTPUT_MAX};
    s_write_value (&out, o, 0);
    if (out.failed) {
        free (out.data);
        return NULL;
    }
    return out.data;
}

char *
sq_json_from_msgpack (const msgpack_object *o)
{
    return s_json_from_msgpack (o, false);
}

char *
sq_json_from_msgpack_pretty (const msgpack_object *o)
{
    return s_json_from_msgpack (o, true);
}
