/*  sq_codec: strict msgpack decoding, typed argument readers and packing helpers. */
#include "sq_codec.h"

#include <assert.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SQ_DOC_ZONE_CHUNK 2048 //  first zone chunk; grows with the message

struct sq_doc {
    msgpack_zone zone;   //  owns every object of the tree
    msgpack_object root; //  the decoded value
};

int
sq_error_set (sq_error_t *err, const char *code, const char *field, const char *format, ...)
{
    assert (err && code);
    err->code = code;
    snprintf (err->field, sizeof err->field, "%s", field ? field : "");
    va_list ap;
    va_start (ap, format);
    vsnprintf (err->message, sizeof err->message, format, ap);
    va_end (ap);
    return -1;
}

static uint64_t
s_read_be (const uint8_t *p, size_t width)
{
    uint64_t value = 0;
    for (size_t i = 0; i < width; i++)
        value = (value << 8) | p[i];
    return value;
}

//  Describes the value whose header starts at p: the bytes of header and payload to skip
//  (scalars, strings, bins, exts), or the number of child values (maps and arrays).
//  Returns -1 on a byte that starts no value or a header cut short.
static int
s_header (const uint8_t *p, size_t remain, uint64_t *skip, uint64_t *children)
{
    uint8_t b = p[0];
    *skip = 0;
    *children = 0;
    if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3) {
        *skip = 1;
        return 0;
    }
    if (b >= 0x80 && b <= 0x8f) { *skip = 1; *children = 2 * (uint64_t) (b & 0x0f); return 0; }
    if (b >= 0x90 && b <= 0x9f) { *skip = 1; *children = b & 0x0f; return 0; }
    if (b >= 0xa0 && b <= 0xbf) { *skip = 1 + (uint64_t) (b & 0x1f); return 0; }

    //  Sized headers: width of the length field, extra fixed bytes, and what it counts.
    size_t width = 0, fixed = 0;
    int kind = 0; //  0 payload bytes, 1 array items, 2 map pairs
    switch (b) {
    case 0xc4: case 0xd9: width = 1; break;
    case 0xc5: case 0xda: width = 2; break;
    case 0xc6: case 0xdb: width = 4; break;
    case 0xc7: width = 1; fixed = 1; break;
    case 0xc8: width = 2; fixed = 1; break;
    case 0xc9: width = 4; fixed = 1; break;
    case 0xca: *skip = 1 + 4; return 0;
    case 0xcb: *skip = 1 + 8; return 0;
    case 0xcc: case 0xd0: *skip = 1 + 1; return 0;
    case 0xcd: case 0xd1: *skip = 1 + 2; return 0;
    case 0xce: case 0xd2: *skip = 1 + 4; return 0;
    case 0xcf: case 0xd3: *skip = 1 + 8; return 0;
    case 0xd4: *skip = 1 + 1 + 1; return 0;
    case 0xd5: *skip = 1 + 1 + 2; return 0;
    case 0xd6: *skip = 1 + 1 + 4; return 0;
    case 0xd7: *skip = 1 + 1 + 8; return 0;
    case 0xd8: *skip = 1 + 1 + 16; return 0;
    case 0xdc: width = 2; kind = 1; break;
    case 0xdd: width = 4; kind = 1; break;
    case 0xde: width = 2; kind = 2; break;
    case 0xdf: width = 4; kind = 2; break;
    default: return -1; //  0xc1 is never used
    }
    if (remain < 1 + width)
        return -1;
    uint64_t length = s_read_be (p + 1, width);
    if (kind == 0)
        *skip = 1 + width + fixed + length;
    else {
        *skip = 1 + width;
        *children = kind == 2 ? 2 * length : length;
    }
    return 0;
}

int
sq_codec_check (const void *data, size_t size, char *why, size_t why_size)
{
    const uint8_t *bytes = data;
    uint64_t pending[SQ_CODEC_DEPTH_MAX + 1]; //  values still to read at each open level
    int depth = 0;
    size_t pos = 0;
    pending[0] = 1;
    if (!data || size == 0) {
        snprintf (why, why_size, "empty message");
        return -1;
    }
    while (1) {
        if (pending[depth] == 0) {
            if (depth == 0)
                break;
            depth--;
            continue;
        }
        if (pos >= size) {
            snprintf (why, why_size, "message truncated at byte %zu", pos);
            return -1;
        }
        pending[depth]--;
        uint64_t skip, children;
        if (s_header (bytes + pos, size - pos, &skip, &children)) {
            snprintf (why, why_size, "malformed value at byte %zu", pos);
            return -1;
        }
        if (skip > size - pos) {
            snprintf (why, why_size, "length at byte %zu exceeds the message", pos);
            return -1;
        }
        pos += skip;
        if (children == 0)
            continue;
        //  NB: every child takes at least one byte, so a count larger than what remains
        //  is a lie; refusing it here is what keeps msgpack_unpack from allocating for it.
        if (children > size - pos) {
            snprintf (why, why_size, "count at byte %zu exceeds the message", pos - skip);
            return -1;
        }
        if (depth == SQ_CODEC_DEPTH_MAX) {
            snprintf (why, why_size, "nesting deeper than %d", SQ_CODEC_DEPTH_MAX);
            return -1;
        }
        pending[++depth] = children;
    }
    if (pos != size) {
        snprintf (why, why_size, "%zu trailing bytes after the value", size - pos);
        return -1;
    }
    return 0;
}

sq_doc_t *
sq_doc_new (const void *data, size_t size, char *why, size_t why_size)
{
    if (sq_codec_check (data, size, why, why_size))
        return NULL;
    sq_doc_t *self = calloc (1, sizeof *self);
    if (!self || !msgpack_zone_init (&self->zone, SQ_DOC_ZONE_CHUNK)) {
        free (self);
        snprintf (why, why_size, "out of memory");
        return NULL;
    }
    size_t offset = 0;
    msgpack_unpack_return rc = msgpack_unpack (data, size, &offset, &self->zone, &self->root);
    if (rc != MSGPACK_UNPACK_SUCCESS) {
        snprintf (why, why_size, "msgpack could not decode the message (%d)", (int) rc);
        msgpack_zone_destroy (&self->zone);
        free (self);
        return NULL;
    }
    return self;
}

const msgpack_object *
sq_doc_root (const sq_doc_t *self)
{
    assert (self);
    return &self->root;
}

void
sq_doc_destroy (sq_doc_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        msgpack_zone_destroy (&(*self_p)->zone);
        free (*self_p);
        *self_p = NULL;
    }
}

const msgpack_object *
sq_obj_get (const msgpack_object *map, const char *key)
{
    if (!map || map->type != MSGPACK_OBJECT_MAP)
        return NULL;
    size_t key_len = strlen (key);
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object *k = &map->via.map.ptr[i].key;
        if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == key_len
            && memcmp (k->via.str.ptr, key, key_len) == 0)
            return &map->via.map.ptr[i].val;
    }
    return NULL;
}

bool
sq_obj_str_eq (const msgpack_object *o, const char *text)
{
    size_t len = strlen (text);
    return o && o->type == MSGPACK_OBJECT_STR && o->via.str.size == len
           && memcmp (o->via.str.ptr, text, len) == 0;
}

int
sq_obj_str_copy (const msgpack_object *o, char *out, size_t out_size)
{
    if (!o || o->type != MSGPACK_OBJECT_STR || o->via.str.size >= out_size)
        return -1;
    memcpy (out, o->via.str.ptr, o->via.str.size);
    out[o->via.str.size] = 0;
    return 0;
}

bool
sq_utf8_valid (const char *s, size_t len)
{
    const uint8_t *p = (const uint8_t *) s;
    size_t i = 0;
    while (i < len) {
        uint8_t c = p[i];
        size_t n;
        uint32_t cp;
        if (c == 0) return false;
        if (c < 0x80) { i++; continue; }
        if ((c & 0xe0) == 0xc0) { n = 1; cp = c & 0x1f; }
        else if ((c & 0xf0) == 0xe0) { n = 2; cp = c & 0x0f; }
        else if ((c & 0xf8) == 0xf0) { n = 3; cp = c & 0x07; }
        else return false;
        if (i + n >= len) //  the sequence is cut short
            return false;
        for (size_t k = 1; k <= n; k++) {
            if ((p[i + k] & 0xc0) != 0x80) return false;
            cp = (cp << 6) | (p[i + k] & 0x3f);
        }
        //  Overlong forms, surrogates and values past U+10FFFF are not UTF-8.
        if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000)
            || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += n + 1;
    }
    return true;
}

//  Finds a field; returns 1 present, 0 absent (or nil) and optional, -1 absent and required.
static int
s_arg_find (const msgpack_object *args, const char *field, bool required,
            const msgpack_object **out, sq_error_t *err)
{
    const msgpack_object *value = sq_obj_get (args, field);
    if (!value || value->type == MSGPACK_OBJECT_NIL) {
        if (required)
            return sq_error_set (err, SQ_ERR_INVALID, field, "%s is required", field);
        return 0;
    }
    *out = value;
    return 1;
}

int
sq_arg_str (const msgpack_object *args, const char *field, bool required, size_t len_max,
            char *out, size_t out_size, sq_error_t *err)
{
    const msgpack_object *value = NULL;
    int rc = s_arg_find (args, field, required, &value, err);
    if (rc <= 0)
        return rc;
    if (value->type != MSGPACK_OBJECT_STR)
        return sq_error_set (err, SQ_ERR_INVALID, field, "%s must be a string", field);
    size_t len = value->via.str.size;
    if (len > len_max || len >= out_size)
        return sq_error_set (err, SQ_ERR_INVALID, field, "%s is longer than %zu bytes", field,
                             len_max < out_size - 1 ? len_max : out_size - 1);
    if (!sq_utf8_valid (value->via.str.ptr, len))
        return sq_error_set (err, SQ_ERR_INVALID, field, "%s is not valid UTF-8 text", field);
    memcpy (out, value->via.str.ptr, len);
    out[len] = 0;
    return 1;
}

int
sq_arg_int (const msgpack_object *args, const char *field, bool required, int64_t min,
            int64_t max, int64_t *out, sq_error_t *err)
{
    const msgpack_object *value = NULL;
    int rc = s_arg_find (args, field, required, &value, err);
    if (rc <= 0)
        return rc;
    int64_t number;
    if (value->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
        if (value->via.u64 > (uint64_t) INT64_MAX)
            return sq_error_set (err, SQ_ERR_INVALID, field, "%s is out of range", field);
        number = (int64_t) value->via.u64;
    } else if (value->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
        number = value->via.i64;
    else
        return sq_error_set (err, SQ_ERR_INVALID, field, "%s must be an integer", field);
    if (number < min || number > max)
        return sq_error_set (err, SQ_ERR_INVALID, field,
                             "%s must be between %" PRId64 " and %" PRId64, field, min, max);
    *out = number;
    return 1;
}

int
sq_arg_bool (const msgpack_object *args, const char *field, bool required, bool *out,
             sq_error_t *err)
{
    const msgpack_object *value = NULL;
    int rc = s_arg_find (args, field, required, &value, err);
    if (rc <= 0)
        return rc;
    if (value->type != MSGPACK_OBJECT_BOOLEAN)
        return sq_error_set (err, SQ_ERR_INVALID, field, "%s must be true or false", field);
    *out = value->via.boolean;
    return 1;
}

int
sq_arg_array (const msgpack_object *args, const char *field, bool required, size_t items_max,
              const msgpack_object **out, sq_error_t *err)
{
    const msgpack_object *value = NULL;
    int rc = s_arg_find (args, field, required, &value, err);
    if (rc <= 0)
        return rc;
    if (value->type != MSGPACK_OBJECT_ARRAY)
        return sq_error_set (err, SQ_ERR_INVALID, field, "%s must be a list", field);
    if (value->via.array.size > items_max)
        return sq_error_set (err, SQ_ERR_INVALID, field, "%s has more than %zu items", field,
                             items_max);
    *out = value;
    return 1;
}

int
sq_arg_enum (const msgpack_object *args, const char *field, bool required,
             const char *const *choices, int *index, sq_error_t *err)
{
    const msgpack_object *value = NULL;
    int rc = s_arg_find (args, field, required, &value, err);
    if (rc <= 0)
        return rc;
    for (int i = 0; choices[i]; i++) {
        if (sq_obj_str_eq (value, choices[i])) {
            *index = i;
            return 1;
        }
    }
    char list[SQ_ERROR_MESSAGE_MAX] = "";
    size_t used = 0;
    for (int i = 0; choices[i] && used < sizeof list; i++)
        used += (size_t) snprintf (list + used, sizeof list - used, "%s%s", i ? ", " : "",
                                   choices[i]);
    return sq_error_set (err, SQ_ERR_INVALID, field, "%s must be one of: %s", field, list);
}

void
sq_pack_str (msgpack_packer *pk, const char *s)
{
    if (!s) {
        msgpack_pack_nil (pk);
        return;
    }
    size_t len = strlen (s);
    msgpack_pack_str (pk, len);
    msgpack_pack_str_body (pk, s, len);
}

void
sq_pack_kv_str (msgpack_packer *pk, const char *key, const char *value)
{
    sq_pack_str (pk, key);
    sq_pack_str (pk, value);
}

void
sq_pack_kv_int (msgpack_packer *pk, const char *key, int64_t value)
{
    sq_pack_str (pk, key);
    msgpack_pack_int64 (pk, value);
}

void
sq_pack_kv_uint (msgpack_packer *pk, const char *key, uint64_t value)
{
    sq_pack_str (pk, key);
    msgpack_pack_uint64 (pk, value);
}

void
sq_pack_kv_bool (msgpack_packer *pk, const char *key, bool value)
{
    sq_pack_str (pk, key);
    if (value)
        msgpack_pack_true (pk);
    else
        msgpack_pack_false (pk);
}

void
sq_pack_kv_double (msgpack_packer *pk, const char *key, double value)
{
    sq_pack_str (pk, key);
    msgpack_pack_double (pk, value);
}

void
sq_pack_kv_nil (msgpack_packer *pk, const char *key)
{
    sq_pack_str (pk, key);
    msgpack_pack_nil (pk);
}

void
sq_pack_kv_raw (msgpack_packer *pk, const char *key, const void *value, size_t size)
{
    sq_pack_str (pk, key);
    if (size == 0) {
        msgpack_pack_nil (pk);
        return;
    }
    //  msgpack_packer writes through its callback; raw bytes go the same way.
    pk->callback (pk->data, value, size);
}

void
sq_reply_pack_ok (msgpack_sbuffer *buf, const void *result, size_t result_size)
{
    msgpack_packer pk;
    msgpack_packer_init (&pk, buf, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, 2);
    sq_pack_kv_bool (&pk, "ok", true);
    sq_pack_kv_raw (&pk, "result", result, result_size);
}

void
sq_reply_pack_error (msgpack_sbuffer *buf, const sq_error_t *err)
{
    msgpack_packer pk;
    msgpack_packer_init (&pk, buf, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, 2);
    sq_pack_kv_bool (&pk, "ok", false);
    sq_pack_str (&pk, "error");
    msgpack_pack_map (&pk, err->field[0] ? 3 : 2);
    sq_pack_kv_str (&pk, "code", err->code ? err->code : SQ_ERR_INTERNAL);
    sq_pack_kv_str (&pk, "message", err->message);
    if (err->field[0])
        sq_pack_kv_str (&pk, "field", err->field);
}
