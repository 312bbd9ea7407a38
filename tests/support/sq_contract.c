/*  sq_contract: checks events against the written contracts of their types,
    schemas/events/<type>.json (format in schemas/events/README.md). A contract is read,
    parsed and checked for well-formedness once, then kept in a small table for the life of
    the process. The check covers the whole envelope and the data map, and the platform's
    privacy rule: no name beside an identity number, identity numbers and phones masked. */
#include "sq_json.h"
#include "sq_test.h"

#include <assert.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_CONTRACTS_MAX 64                   //  contracts kept per process
#define S_CONTRACT_TEXT_MAX (64 * 1024)      //  largest contract file, bytes
#define S_DEPTH_MAX 8                        //  deepest nesting of maps and lists checked
#define S_PATH_MAX 256                       //  longest field path in a reason
#define S_SHOWN_MAX 64                       //  bytes of a value quoted in a reason
#define S_FILE_PATH_MAX 1024                 //  longest path of a contract file
#define S_AT_MIN_US INT64_C (1577836800000000) //  2020-01-01T00:00:00Z: no event is older
#define S_AT_AHEAD_MAX_US INT64_C (60000000) //  an event's at may run a minute ahead
#define S_ENVELOPE_KEYS 11                   //  keys of the envelope map (DESIGN.md)

//  Where a reason goes.
typedef struct {
    char *text;  //  the caller's buffer
    size_t size; //  its size
} s_why_t;

//  A loaded, well-formed contract.
typedef struct {
    char type[SQ_TYPE_MAX]; //  event type: the file's name without ".json"
    msgpack_sbuffer buf;    //  the contract as msgpack; doc's strings point into it
    sq_doc_t *doc;          //  decoded contract
} s_contract_t;

static s_contract_t s_contracts[S_CONTRACTS_MAX];
static int s_contract_count;
static pthread_mutex_t s_contracts_lock = PTHREAD_MUTEX_INITIALIZER;

//  Field types and the bits that say which spec keys apply to them.
enum { S_STRING = 1, S_INTEGER = 2, S_NUMBER = 4, S_BOOLEAN = 8, S_MAP = 16, S_LIST = 32 };
#define S_ANY_TYPE 63

static const struct {
    const char *name;
    unsigned bit;
} s_types[] = {{"string", S_STRING}, {"integer", S_INTEGER}, {"number", S_NUMBER},
               {"boolean", S_BOOLEAN}, {"map", S_MAP}, {"list", S_LIST}};
#define S_TYPE_COUNT (sizeof s_types / sizeof s_types[0])

//  The keys a field spec may hold, and the types each applies to.
static const struct {
    const char *key;
    unsigned types;
} s_spec_keys[] = {{"type", S_ANY_TYPE}, {"description", S_ANY_TYPE}, {"required", S_ANY_TYPE},
                   {"nullable", S_ANY_TYPE}, {"format", S_STRING}, {"enum", S_STRING},
                   {"min_length", S_STRING}, {"max_length", S_STRING},
                   {"minimum", S_INTEGER | S_NUMBER}, {"maximum", S_INTEGER | S_NUMBER},
                   {"fields", S_MAP}, {"additional", S_MAP}, {"items", S_LIST}};
#define S_SPEC_KEY_COUNT (sizeof s_spec_keys / sizeof s_spec_keys[0])

static const char *const s_top_keys[] = {"type", "stream", "command", "div", "div_field",
                                         "description", "data", "additional", NULL};
static const char *const s_div_rules[] = {"community", "division", "none", "any", NULL};
static const char *const s_formats[] = {"masked_id_number", "masked_phone", "division_code",
                                        "community_code", "grid_code", "uuid", "date", NULL};
static const char *const s_envelope_keys[] = {"v", "id", "src", "seq", "type", "div", "at",
                                              "actor", "corr", "cause", "data", NULL};

static int s_fail (s_why_t *why, const char *format, ...) __attribute__ ((format (printf, 2, 3)));

//  Writes the reason and returns -1.
static int
s_fail (s_why_t *why, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    vsnprintf (why->text, why->size, format, args);
    va_end (args);
    return -1;
}

// ---- small pure helpers -----------------------------------------------------------------

static bool
s_digits (const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

//  Index of the string o in the NULL-terminated list, or -1.
static int
s_str_index (const msgpack_object *o, const char *const *list)
{
    for (int i = 0; list[i]; i++)
        if (sq_obj_str_eq (o, list[i]))
            return i;
    return -1;
}

//  A short name of what o is, for reasons.
static const char *
s_kind_name (const msgpack_object *o)
{
    switch (o->type) {
    case MSGPACK_OBJECT_NIL: return "nil";
    case MSGPACK_OBJECT_BOOLEAN: return "a boolean";
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
    case MSGPACK_OBJECT_NEGATIVE_INTEGER: return "an integer";
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64: return "a float";
    case MSGPACK_OBJECT_STR: return "a string";
    case MSGPACK_OBJECT_ARRAY: return "a list";
    case MSGPACK_OBJECT_MAP: return "a map";
    default: return "binary or ext";
    }
}

static bool
s_is_integer (const msgpack_object *o)
{
    return o->type == MSGPACK_OBJECT_POSITIVE_INTEGER
           || o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER;
}

static bool
s_is_number (const msgpack_object *o)
{
    return s_is_integer (o) || o->type == MSGPACK_OBJECT_FLOAT32
           || o->type == MSGPACK_OBJECT_FLOAT64;
}

//  The value of a number object; long double holds every int64 and uint64 exactly.
static long double
s_number (const msgpack_object *o)
{
    if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
        return (long double) o->via.u64;
    if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
        return (long double) o->via.i64;
    return (long double) o->via.f64;
}

//  The value under key (a msgpack object) in map, or NULL.
static const msgpack_object *
s_map_find (const msgpack_object *map, const msgpack_object *key)
{
    for (uint32_t i = 0; i < map->via.map.size; i++)
        if (msgpack_object_equal (map->via.map.ptr[i].key, *key))
            return &map->via.map.ptr[i].val;
    return NULL;
}

//  Appends ".key" (or "[index]" when key is NULL) to path.
static void
s_path_child (char out[S_PATH_MAX], const char *path, const msgpack_object *key, uint32_t index)
{
    int n = key ? snprintf (out, S_PATH_MAX, "%s.%.*s", path, (int) key->via.str.size,
                            key->via.str.ptr)
                : snprintf (out, S_PATH_MAX, "%s[%u]", path, index);
    if (n < 0 || n >= S_PATH_MAX)
        memcpy (out + S_PATH_MAX - 4, "...", 4); //  a path that long is cut, visibly
}

// ---- formats ----------------------------------------------------------------------------

//  `110***********002X`: 3 digits, 11 stars, 3 digits and a digit or X.
static bool
s_masked_id_number (const char *s, size_t n)
{
    if (n != 18 || !s_digits (s, 3) || !s_digits (s + 14, 3))
        return false;
    for (size_t i = 3; i < 14; i++)
        if (s[i] != '*')
            return false;
    return (s[17] >= '0' && s[17] <= '9') || s[17] == 'X';
}

//  `138****5678`: a mainland mobile prefix 1[3-9]x, 4 stars, 4 digits.
static bool
s_masked_phone (const char *s, size_t n)
{
    if (n != 11 || s[0] != '1' || s[1] < '3' || s[1] > '9' || !s_digits (s + 2, 1)
        || !s_digits (s + 7, 4))
        return false;
    return memcmp (s + 3, "****", 4) == 0;
}

static bool
s_division_code (const char *s, size_t n)
{
    return (n == 2 || n == 4 || n == 6 || n == 9 || n == 12) && s_digits (s, n);
}

//  `<12-digit community>-<001..999>`
static bool
s_grid_code (const char *s, size_t n)
{
    return n == 16 && s_digits (s, 12) && s[12] == '-' && s_digits (s + 13, 3)
           && memcmp (s + 13, "000", 3) != 0;
}

//  Lower-case 8-4-4-4-12 hex, as sq_id_new writes it.
static bool
s_uuid (const char *s, size_t n)
{
    if (n != 36)
        return false;
    for (size_t i = 0; i < n; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        bool hex = (s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f');
        if (dash ? s[i] != '-' : !hex)
            return false;
    }
    return true;
}

//  A real calendar date YYYY-MM-DD.
static bool
s_date (const char *s, size_t n)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (n != 10 || s[4] != '-' || s[7] != '-' || !s_digits (s, 4) || !s_digits (s + 5, 2)
        || !s_digits (s + 8, 2))
        return false;
    int y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
    int m = (s[5] - '0') * 10 + (s[6] - '0');
    int d = (s[8] - '0') * 10 + (s[9] - '0');
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m >= 1 && m <= 12 && d >= 1 && d <= days[m - 1] + (m == 2 && leap);
}

//  True when the string s of n bytes has the named format (one of s_formats).
static bool
s_format_matches (const char *format, const char *s, size_t n)
{
    if (strcmp (format, "masked_id_number") == 0)
        return s_masked_id_number (s, n);
    if (strcmp (format, "masked_phone") == 0)
        return s_masked_phone (s, n);
    if (strcmp (format, "division_code") == 0)
        return s_division_code (s, n);
    if (strcmp (format, "community_code") == 0)
        return n == 12 && s_digits (s, n);
    if (strcmp (format, "grid_code") == 0)
        return s_grid_code (s, n);
    if (strcmp (format, "uuid") == 0)
        return s_uuid (s, n);
    if (strcmp (format, "date") == 0)
        return s_date (s, n);
    return false;
}

// ---- contracts: well-formedness ---------------------------------------------------------

static int s_spec_valid (const msgpack_object *spec, const char *path, int depth, s_why_t *why);

//  The spec's type bit, 0 when type is missing or unknown.
static unsigned
s_spec_type (const msgpack_object *spec)
{
    const msgpack_object *type = sq_obj_get (spec, "type");
    for (size_t i = 0; type && i < S_TYPE_COUNT; i++)
        if (sq_obj_str_eq (type, s_types[i].name))
            return s_types[i].bit;
    return 0;
}

//  Checks one key of a field spec of type bit: known, applicable, of the right shape.
static int
s_spec_key_valid (const msgpack_object_kv *kv, unsigned bit, const char *path, int depth,
                  s_why_t *why)
{
    size_t k = 0;
    while (k < S_SPEC_KEY_COUNT && !sq_obj_str_eq (&kv->key, s_spec_keys[k].key))
        k++;
    if (k == S_SPEC_KEY_COUNT)
        return s_fail (why, "%s: unknown key %.*s in field spec", path,
                       kv->key.type == MSGPACK_OBJECT_STR ? (int) kv->key.via.str.size : 0,
                       kv->key.type == MSGPACK_OBJECT_STR ? kv->key.via.str.ptr : "");
    const char *key = s_spec_keys[k].key;
    const msgpack_object *v = &kv->val;
    if (!(s_spec_keys[k].types & bit))
        return s_fail (why, "%s: %s does not apply to this type", path, key);
    bool ok = true;
    if (!strcmp (key, "description"))
        ok = v->type == MSGPACK_OBJECT_STR && v->via.str.size > 0;
    else if (!strcmp (key, "required") || !strcmp (key, "nullable") || !strcmp (key, "additional"))
        ok = v->type == MSGPACK_OBJECT_BOOLEAN;
    else if (!strcmp (key, "format"))
        ok = s_str_index (v, s_formats) >= 0;
    else if (!strcmp (key, "min_length") || !strcmp (key, "max_length"))
        ok = v->type == MSGPACK_OBJECT_POSITIVE_INTEGER;
    else if (!strcmp (key, "minimum") || !strcmp (key, "maximum"))
        ok = s_is_number (v) && isfinite ((double) s_number (v));
    else if (!strcmp (key, "enum")) {
        ok = v->type == MSGPACK_OBJECT_ARRAY && v->via.array.size > 0;
        for (uint32_t i = 0; ok && i < v->via.array.size; i++)
            ok = v->via.array.ptr[i].type == MSGPACK_OBJECT_STR;
    } else if (!strcmp (key, "items")) {
        char items[S_PATH_MAX];
        snprintf (items, sizeof items, "%s[]", path);
        return s_spec_valid (v, items, depth + 1, why);
    }
    if (!ok)
        return s_fail (why, "%s: %s has the wrong shape", path, key);
    return 0;
}

//  Checks the fields map of a map spec (or of the contract's data) at path.
static int
s_fields_valid (const msgpack_object *fields, const char *path, int depth, s_why_t *why)
{
    if (!fields || fields->type != MSGPACK_OBJECT_MAP)
        return s_fail (why, "%s: fields must be a map of field specs", path);
    for (uint32_t i = 0; i < fields->via.map.size; i++) {
        const msgpack_object_kv *kv = &fields->via.map.ptr[i];
        char child[S_PATH_MAX];
        s_path_child (child, path, &kv->key, 0);
        if (s_spec_valid (&kv->val, child, depth + 1, why))
            return -1;
        const msgpack_object *format = sq_obj_get (&kv->val, "format");
        if (sq_obj_str_eq (&kv->key, "id_number") && !sq_obj_str_eq (format, "masked_id_number"))
            return s_fail (why, "%s: an id_number field must have format masked_id_number", child);
        if (sq_obj_str_eq (&kv->key, "phone") && !sq_obj_str_eq (format, "masked_phone"))
            return s_fail (why, "%s: a phone field must have format masked_phone", child);
    }
    if (sq_obj_get (fields, "name") && sq_obj_get (fields, "id_number"))
        return s_fail (why, "%s: a map may not hold both name and id_number", path);
    return 0;
}

//  Checks that the spec's lower limits are not above its upper limits.
static int
s_spec_limits_valid (const msgpack_object *spec, const char *path, s_why_t *why)
{
    const msgpack_object *low = sq_obj_get (spec, "minimum");
    const msgpack_object *high = sq_obj_get (spec, "maximum");
    if (low && high && s_number (low) > s_number (high))
        return s_fail (why, "%s: minimum is above maximum", path);
    low = sq_obj_get (spec, "min_length");
    high = sq_obj_get (spec, "max_length");
    if (low && high && low->via.u64 > high->via.u64)
        return s_fail (why, "%s: min_length is above max_length", path);
    return 0;
}

//  Checks a field spec: a map of known keys, a known type, what that type needs.
static int
s_spec_valid (const msgpack_object *spec, const char *path, int depth, s_why_t *why)
{
    if (depth > S_DEPTH_MAX)
        return s_fail (why, "%s: nested deeper than %d", path, S_DEPTH_MAX);
    if (spec->type != MSGPACK_OBJECT_MAP)
        return s_fail (why, "%s: a field spec must be a map", path);
    unsigned bit = s_spec_type (spec);
    if (!bit)
        return s_fail (why, "%s: type must be one of string, integer, number, boolean, map, list",
                       path);
    if (!sq_obj_get (spec, "description"))
        return s_fail (why, "%s: description is missing", path);
    for (uint32_t i = 0; i < spec->via.map.size; i++)
        if (s_spec_key_valid (&spec->via.map.ptr[i], bit, path, depth, why))
            return -1;
    if (s_spec_limits_valid (spec, path, why))
        return -1;
    if (bit == S_MAP)
        return s_fields_valid (sq_obj_get (spec, "fields"), path, depth, why);
    if (bit == S_LIST && !sq_obj_get (spec, "items"))
        return s_fail (why, "%s: a list needs items", path);
    return 0;
}

//  Checks div_field: it names a required, non-nullable code field of data.
static int
s_div_field_valid (const msgpack_object *root, s_why_t *why)
{
    const msgpack_object *name = sq_obj_get (root, "div_field");
    if (!name)
        return 0;
    const msgpack_object *spec = NULL;
    if (name->type == MSGPACK_OBJECT_STR) {
        char key[S_PATH_MAX];
        snprintf (key, sizeof key, "%.*s", (int) name->via.str.size, name->via.str.ptr);
        spec = sq_obj_get (sq_obj_get (root, "data"), key);
    }
    const msgpack_object *format = spec ? sq_obj_get (spec, "format") : NULL;
    const msgpack_object *required = spec ? sq_obj_get (spec, "required") : NULL;
    const msgpack_object *nullable = spec ? sq_obj_get (spec, "nullable") : NULL;
    if (!format
        || !(sq_obj_str_eq (format, "community_code") || sq_obj_str_eq (format, "division_code"))
        || (required && !required->via.boolean) || (nullable && nullable->via.boolean))
        return s_fail (why, "div_field must name a required, non-nullable data field with"
                       " format community_code or division_code");
    return 0;
}

//  Checks the contract's top level against the file's type name.
static int
s_contract_valid (const msgpack_object *root, const char *type, s_why_t *why)
{
    if (root->type != MSGPACK_OBJECT_MAP)
        return s_fail (why, "a contract must be a JSON object");
    for (uint32_t i = 0; i < root->via.map.size; i++) {
        const msgpack_object *key = &root->via.map.ptr[i].key;
        if (s_str_index (key, s_top_keys) < 0)
            return s_fail (why, "unknown top-level key %.*s", (int) key->via.str.size,
                           key->via.str.ptr);
    }
    const char *dot = strchr (type, '.');
    const msgpack_object *stream = sq_obj_get (root, "stream");
    const msgpack_object *command = sq_obj_get (root, "command");
    const msgpack_object *description = sq_obj_get (root, "description");
    const msgpack_object *additional = sq_obj_get (root, "additional");
    if (!sq_obj_str_eq (sq_obj_get (root, "type"), type))
        return s_fail (why, "type must equal the file's name, %s", type);
    if (!stream || stream->type != MSGPACK_OBJECT_STR || !dot
        || stream->via.str.size != (size_t) (dot - type)
        || memcmp (stream->via.str.ptr, type, stream->via.str.size) != 0)
        return s_fail (why, "stream must be the type's service, before the dot");
    if (command && command->type != MSGPACK_OBJECT_STR)
        return s_fail (why, "command must be a string");
    if (s_str_index (sq_obj_get (root, "div"), s_div_rules) < 0)
        return s_fail (why, "div must be one of community, division, none, any");
    if (!description || description->type != MSGPACK_OBJECT_STR || !description->via.str.size)
        return s_fail (why, "description is missing");
    if (!additional || additional->type != MSGPACK_OBJECT_BOOLEAN)
        return s_fail (why, "additional must be true or false");
    if (s_fields_valid (sq_obj_get (root, "data"), "data", 0, why))
        return -1;
    return s_div_field_valid (root, why);
}

// ---- contracts: loading -----------------------------------------------------------------

//  True when type is "<service>.<event>" of lower-case letters, digits and '_'.
static bool
s_type_name_valid (const char *type)
{
    size_t n = strnlen (type, SQ_TYPE_MAX), dots = 0;
    if (n == 0 || n >= SQ_TYPE_MAX || type[0] == '.' || type[n - 1] == '.')
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = type[i];
        dots += c == '.';
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.'))
            return false;
    }
    return dots == 1;
}

//  Reads a whole file of at most S_CONTRACT_TEXT_MAX bytes. Returns malloc'd text or NULL.
static char *
s_file_read (const char *path, size_t *size, s_why_t *why)
{
    FILE *file = fopen (path, "rb");
    if (!file) {
        s_fail (why, "could not open contract %s", path);
        return NULL;
    }
    char *text = malloc (S_CONTRACT_TEXT_MAX + 1);
    assert (text);
    *size = fread (text, 1, S_CONTRACT_TEXT_MAX + 1, file);
    int failed = ferror (file);
    fclose (file);
    if (failed || *size > S_CONTRACT_TEXT_MAX) {
        s_fail (why, "could not read contract %s: %s", path,
                failed ? "read error" : "larger than its limit");
        free (text);
        return NULL;
    }
    return text;
}

//  Loads and checks the contract of type into contract. Returns 0 or -1.
static int
s_contract_load (const char *type, s_contract_t *contract, s_why_t *why)
{
    const char *dir = getenv ("SHEQU_SOURCE_DIR");
    char path[S_FILE_PATH_MAX];
    snprintf (path, sizeof path, "%s/schemas/events/%s.json", dir && *dir ? dir : SQ_SOURCE_DIR,
              type);
    size_t size = 0;
    char *text = s_file_read (path, &size, why);
    if (!text)
        return -1;
    memset (contract, 0, sizeof *contract);
    snprintf (contract->type, sizeof contract->type, "%s", type);
    msgpack_sbuffer_init (&contract->buf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &contract->buf, msgpack_sbuffer_write);
    char reason[SQ_ERROR_MESSAGE_MAX] = "";
    s_why_t inner = {reason, sizeof reason};
    if (sq_json_to_msgpack (text, size, &pk, reason, sizeof reason) == 0)
        contract->doc = sq_doc_new (contract->buf.data, contract->buf.size, reason, sizeof reason);
    free (text);
    if (!contract->doc || s_contract_valid (sq_doc_root (contract->doc), type, &inner)) {
        sq_doc_destroy (&contract->doc);
        msgpack_sbuffer_destroy (&contract->buf);
        return s_fail (why, "contract %s is malformed: %s", path, reason);
    }
    return 0;
}

//  The contract of type, loaded on first use (borrowed; kept until the process ends).
static const s_contract_t *
s_contract (const char *type, s_why_t *why)
{
    if (!s_type_name_valid (type)) {
        s_fail (why, "type: %.*s is not <service>.<event>", SQ_TYPE_MAX, type);
        return NULL;
    }
    const s_contract_t *found = NULL;
    pthread_mutex_lock (&s_contracts_lock);
    for (int i = 0; i < s_contract_count && !found; i++)
        if (strcmp (s_contracts[i].type, type) == 0)
            found = &s_contracts[i];
    if (!found && s_contract_count == S_CONTRACTS_MAX)
        s_fail (why, "more than %d contracts loaded", S_CONTRACTS_MAX);
    else if (!found && s_contract_load (type, &s_contracts[s_contract_count], why) == 0)
        found = &s_contracts[s_contract_count++];
    pthread_mutex_unlock (&s_contracts_lock);
    return found;
}

// ---- events: the envelope ---------------------------------------------------------------

//  Checks the envelope map itself: exactly the keys of DESIGN.md, once each, and v == 1.
static int
s_root_valid (const msgpack_object *root, s_why_t *why)
{
    if (root->type != MSGPACK_OBJECT_MAP)
        return s_fail (why, "envelope: is %s, not a map", s_kind_name (root));
    unsigned seen = 0;
    for (uint32_t i = 0; i < root->via.map.size; i++) {
        const msgpack_object *key = &root->via.map.ptr[i].key;
        int k = s_str_index (key, s_envelope_keys);
        if (k < 0)
            return s_fail (why, "envelope: unknown key %.*s",
                           key->type == MSGPACK_OBJECT_STR ? (int) key->via.str.size : 0,
                           key->type == MSGPACK_OBJECT_STR ? key->via.str.ptr : "");
        if (seen & (1u << k))
            return s_fail (why, "envelope: key %s appears twice", s_envelope_keys[k]);
        seen |= 1u << k;
    }
    if (seen != (1u << S_ENVELOPE_KEYS) - 1)
        return s_fail (why, "envelope: a key of v, id, src, seq, type, div, at, actor, corr,"
                       " cause, data is missing");
    const msgpack_object *v = sq_obj_get (root, "v");
    if (v->type != MSGPACK_OBJECT_POSITIVE_INTEGER || v->via.u64 != SQ_ENVELOPE_VERSION)
        return s_fail (why, "v: must be %d", SQ_ENVELOPE_VERSION);
    return 0;
}

//  Checks the event's envelope map, from its doc or, without one, its raw bytes.
static int
s_event_root_valid (const sq_event_t *event, s_why_t *why)
{
    if (event->doc)
        return s_root_valid (sq_doc_root (event->doc), why);
    if (!event->raw)
        return s_fail (why, "envelope: the event carries neither doc nor raw bytes");
    char reason[SQ_ERROR_MESSAGE_MAX];
    sq_doc_t *doc = sq_doc_new (event->raw, event->raw_size, reason, sizeof reason);
    if (!doc)
        return s_fail (why, "envelope: %s", reason);
    int rc = s_root_valid (sq_doc_root (doc), why);
    sq_doc_destroy (&doc);
    return rc;
}

//  Checks div against the contract's rule.
static int
s_div_valid (const msgpack_object *rule, const char *div, s_why_t *why)
{
    size_t n = strlen (div);
    if (sq_obj_str_eq (rule, "community") && !(n == 12 && s_digits (div, n)))
        return s_fail (why, "div: \"%s\" is not a community code", div);
    if (sq_obj_str_eq (rule, "division") && !s_division_code (div, n))
        return s_fail (why, "div: \"%s\" is not a division code", div);
    if (sq_obj_str_eq (rule, "none") && n)
        return s_fail (why, "div: \"%s\" must be empty", div);
    if (sq_obj_str_eq (rule, "any") && n && !s_division_code (div, n))
        return s_fail (why, "div: \"%s\" is neither empty nor a division code", div);
    return 0;
}

//  Checks the decoded envelope fields against the contract.
static int
s_envelope_valid (const msgpack_object *contract, const sq_event_t *event, s_why_t *why)
{
    const sq_envelope_t *env = &event->env;
    if (!env->id[0])
        return s_fail (why, "id: is empty");
    if (!sq_obj_str_eq (sq_obj_get (contract, "stream"), env->src))
        return s_fail (why, "src: \"%s\" is not the contract's stream", env->src);
    if (env->seq == 0)
        return s_fail (why, "seq: must be 1 or more");
    if (!sq_obj_str_eq (sq_obj_get (contract, "type"), env->type))
        return s_fail (why, "type: \"%s\" is not the contract's type", env->type);
    if (s_div_valid (sq_obj_get (contract, "div"), env->div, why))
        return -1;
    int64_t now = sq_now_us ();
    if (env->at < S_AT_MIN_US || env->at > now + S_AT_AHEAD_MAX_US)
        return s_fail (why, "at: %" PRId64 " is before 2020 or more than a minute ahead of"
                       " %" PRId64, env->at, now);
    char topic[SQ_TOPIC_MAX];
    if (sq_envelope_topic (env, topic, sizeof topic) || strcmp (topic, event->topic) != 0)
        return s_fail (why, "topic: \"%.*s\" is not \"%s\"", SQ_TOPIC_MAX, event->topic, topic);
    return 0;
}

//  Checks that the envelope's div equals the data field the contract names.
static int
s_div_field_matches (const msgpack_object *contract, const sq_envelope_t *env, s_why_t *why)
{
    const msgpack_object *name = sq_obj_get (contract, "div_field");
    if (!name)
        return 0;
    char key[S_PATH_MAX];
    snprintf (key, sizeof key, "%.*s", (int) name->via.str.size, name->via.str.ptr);
    if (!sq_obj_str_eq (sq_obj_get (env->data, key), env->div))
        return s_fail (why, "div: \"%s\" is not data.%s", env->div, key);
    return 0;
}

// ---- events: privacy --------------------------------------------------------------------

//  Checks that value, found under an id_number or phone key at path, is masked or nil.
static int
s_masked (const msgpack_object *value, bool id_number, const char *path, s_why_t *why)
{
    if (value->type == MSGPACK_OBJECT_NIL)
        return 0;
    if (value->type != MSGPACK_OBJECT_STR)
        return s_fail (why, "%s: is %s, not a masked string", path, s_kind_name (value));
    const char *s = value->via.str.ptr;
    size_t n = value->via.str.size;
    if (id_number ? s_masked_id_number (s, n) : s_masked_phone (s, n))
        return 0;
    return s_fail (why, "%s: %.*s is not masked", path, (int) (n < S_SHOWN_MAX ? n : S_SHOWN_MAX),
                   s);
}

//  Walks data (bounded depth): no map holds both name and id_number, and every id_number
//  and phone is masked, whatever the contract says.
static int
s_private_valid (const msgpack_object *o, const char *path, int depth, s_why_t *why)
{
    if (depth > S_DEPTH_MAX)
        return s_fail (why, "%s: nested deeper than %d", path, S_DEPTH_MAX);
    uint32_t count = o->type == MSGPACK_OBJECT_MAP     ? o->via.map.size
                     : o->type == MSGPACK_OBJECT_ARRAY ? o->via.array.size
                                                       : 0;
    bool name = false, id_number = false;
    for (uint32_t i = 0; i < count; i++) {
        bool is_map = o->type == MSGPACK_OBJECT_MAP;
        const msgpack_object *key = is_map ? &o->via.map.ptr[i].key : NULL;
        const msgpack_object *value = is_map ? &o->via.map.ptr[i].val : &o->via.array.ptr[i];
        if (key && key->type != MSGPACK_OBJECT_STR)
            return s_fail (why, "%s: a key is %s, not a string", path, s_kind_name (key));
        if (key && !sq_utf8_valid (key->via.str.ptr, key->via.str.size))
            return s_fail (why, "%s: a key is not UTF-8 text without NUL", path);
        char child[S_PATH_MAX];
        s_path_child (child, path, key, i);
        name = name || sq_obj_str_eq (key, "name");
        id_number = id_number || sq_obj_str_eq (key, "id_number");
        if ((sq_obj_str_eq (key, "id_number") || sq_obj_str_eq (key, "phone"))
            && s_masked (value, sq_obj_str_eq (key, "id_number"), child, why))
            return -1;
        if (s_private_valid (value, child, depth + 1, why))
            return -1;
    }
    if (name && id_number)
        return s_fail (why, "%s: carries both name and id_number", path);
    return 0;
}

// ---- events: data against the contract --------------------------------------------------

static int s_value_valid (const msgpack_object *spec, const msgpack_object *value,
                          const char *path, int depth, s_why_t *why);

//  Checks a string value against the spec's length, format and enum.
static int
s_string_valid (const msgpack_object *spec, const msgpack_object *value, const char *path,
                s_why_t *why)
{
    const char *s = value->via.str.ptr;
    size_t n = value->via.str.size;
    int shown = (int) (n < S_SHOWN_MAX ? n : S_SHOWN_MAX);
    const msgpack_object *min = sq_obj_get (spec, "min_length");
    const msgpack_object *max = sq_obj_get (spec, "max_length");
    const msgpack_object *format = sq_obj_get (spec, "format");
    const msgpack_object *choices = sq_obj_get (spec, "enum");
    if (!sq_utf8_valid (s, n))
        return s_fail (why, "%s: is not UTF-8 text without NUL", path);
    if ((min && n < min->via.u64) || (max && n > max->via.u64))
        return s_fail (why, "%s: %zu bytes is outside its length limits", path, n);
    if (format) {
        char name[32];
        snprintf (name, sizeof name, "%.*s", (int) format->via.str.size, format->via.str.ptr);
        bool masked = strncmp (name, "masked_", 7) == 0;
        if (!s_format_matches (name, s, n) && masked)
            return s_fail (why, "%s: %.*s is not masked", path, shown, s);
        if (!s_format_matches (name, s, n))
            return s_fail (why, "%s: %.*s is not a %s", path, shown, s, name);
    }
    for (uint32_t i = 0; choices && i < choices->via.array.size; i++) {
        const msgpack_object *choice = &choices->via.array.ptr[i];
        if (choice->via.str.size == n && memcmp (choice->via.str.ptr, s, n) == 0)
            return 0;
    }
    if (choices)
        return s_fail (why, "%s: %.*s is not one of its enum", path, shown, s);
    return 0;
}

//  Checks a number against the spec's minimum and maximum.
static int
s_number_valid (const msgpack_object *spec, const msgpack_object *value, const char *path,
                s_why_t *why)
{
    const msgpack_object *min = sq_obj_get (spec, "minimum");
    const msgpack_object *max = sq_obj_get (spec, "maximum");
    long double x = s_number (value);
    if (!isfinite ((double) x))
        return s_fail (why, "%s: is not finite", path);
    if ((min && x < s_number (min)) || (max && x > s_number (max)))
        return s_fail (why, "%s: %Lg is outside [%Lg, %Lg]", path, x,
                       min ? s_number (min) : -INFINITY, max ? s_number (max) : INFINITY);
    return 0;
}

//  Checks a data map against fields: every key a unique string, known unless additional,
//  every required field present, every value valid.
static int
s_fields_match (const msgpack_object *fields, bool additional, const msgpack_object *map,
                const char *path, int depth, s_why_t *why)
{
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object *key = &map->via.map.ptr[i].key;
        if (key->type != MSGPACK_OBJECT_STR)
            return s_fail (why, "%s: a key is %s, not a string", path, s_kind_name (key));
        char child[S_PATH_MAX];
        s_path_child (child, path, key, 0);
        for (uint32_t j = 0; j < i; j++)
            if (msgpack_object_equal (*key, map->via.map.ptr[j].key))
                return s_fail (why, "%s: appears twice", child);
        if (!additional && !s_map_find (fields, key))
            return s_fail (why, "%s: unknown field", child);
    }
    for (uint32_t i = 0; i < fields->via.map.size; i++) {
        const msgpack_object_kv *field = &fields->via.map.ptr[i];
        char child[S_PATH_MAX];
        s_path_child (child, path, &field->key, 0);
        const msgpack_object *value = s_map_find (map, &field->key);
        const msgpack_object *required = sq_obj_get (&field->val, "required");
        if (!value && (!required || required->via.boolean))
            return s_fail (why, "%s: required field is missing", child);
        if (value && s_value_valid (&field->val, value, child, depth + 1, why))
            return -1;
    }
    return 0;
}

//  Checks one value against its field spec (type, nullability, limits, nesting).
static int
s_value_valid (const msgpack_object *spec, const msgpack_object *value, const char *path,
               int depth, s_why_t *why)
{
    if (depth > S_DEPTH_MAX)
        return s_fail (why, "%s: nested deeper than %d", path, S_DEPTH_MAX);
    const msgpack_object *nullable = sq_obj_get (spec, "nullable");
    if (value->type == MSGPACK_OBJECT_NIL)
        return nullable && nullable->via.boolean ? 0
                                                 : s_fail (why, "%s: is nil, not nullable", path);
    unsigned bit = s_spec_type (spec);
    bool ok = (bit == S_STRING && value->type == MSGPACK_OBJECT_STR)
              || (bit == S_INTEGER && s_is_integer (value))
              || (bit == S_NUMBER && s_is_number (value))
              || (bit == S_BOOLEAN && value->type == MSGPACK_OBJECT_BOOLEAN)
              || (bit == S_MAP && value->type == MSGPACK_OBJECT_MAP)
              || (bit == S_LIST && value->type == MSGPACK_OBJECT_ARRAY);
    if (!ok)
        return s_fail (why, "%s: is %s, not of type %.*s", path, s_kind_name (value),
                       (int) sq_obj_get (spec, "type")->via.str.size,
                       sq_obj_get (spec, "type")->via.str.ptr);
    if (bit == S_STRING)
        return s_string_valid (spec, value, path, why);
    if (bit == S_INTEGER || bit == S_NUMBER)
        return s_number_valid (spec, value, path, why);
    if (bit == S_MAP) {
        const msgpack_object *additional = sq_obj_get (spec, "additional");
        return s_fields_match (sq_obj_get (spec, "fields"), additional && additional->via.boolean,
                               value, path, depth, why);
    }
    for (uint32_t i = 0; bit == S_LIST && i < value->via.array.size; i++) {
        char child[S_PATH_MAX];
        s_path_child (child, path, NULL, i);
        if (s_value_valid (sq_obj_get (spec, "items"), &value->via.array.ptr[i], child,
                           depth + 1, why))
            return -1;
    }
    return 0;
}

//  Checks the event's data map: privacy first, then the contract's fields.
static int
s_data_valid (const msgpack_object *contract, const sq_envelope_t *env, s_why_t *why)
{
    if (!env->data || env->data->type != MSGPACK_OBJECT_MAP)
        return s_fail (why, "data: is %s, not a map",
                       env->data ? s_kind_name (env->data) : "missing");
    if (s_private_valid (env->data, "data", 0, why))
        return -1;
    const msgpack_object *additional = sq_obj_get (contract, "additional");
    return s_fields_match (sq_obj_get (contract, "data"), additional->via.boolean, env->data,
                           "data", 0, why);
}

int
sq_test_contract_check (const sq_event_t *event, char *why, size_t why_size)
{
    assert (event && why && why_size > 0);
    s_why_t reason = {why, why_size};
    why[0] = 0;
    const s_contract_t *contract = s_contract (event->env.type, &reason);
    if (!contract)
        return -1;
    const msgpack_object *root = sq_doc_root (contract->doc);
    if (s_event_root_valid (event, &reason) || s_envelope_valid (root, event, &reason)
        || s_data_valid (root, &event->env, &reason)
        || s_div_field_matches (root, &event->env, &reason))
        return -1;
    return 0;
}
