/*  sq_codec: strict msgpack decoding, typed argument readers and packing helpers.

    msgpack-c's unpacker trusts the counts in headers and allocates for them before reading
    the elements (DESIGN.md, known traps). sq_codec_check walks the bytes first: every
    declared length must fit in what remains, nesting is bounded, and the buffer holds
    exactly one value. Only then does sq_doc_new hand the bytes to msgpack_unpack, so a
    hostile input costs memory in proportion to its length and no more. */
#ifndef SQ_CODEC_H
#define SQ_CODEC_H

#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SQ_CODEC_DEPTH_MAX 32    //  deepest nesting of maps and arrays accepted
#define SQ_ERROR_MESSAGE_MAX 256 //  longest error message, bytes
#define SQ_ERROR_FIELD_MAX 64    //  longest field name in an error

//  The stable error codes of DESIGN.md.
#define SQ_ERR_INVALID "invalid"
#define SQ_ERR_NOT_FOUND "not_found"
#define SQ_ERR_CONFLICT "conflict"
#define SQ_ERR_FORBIDDEN "forbidden"
#define SQ_ERR_UNAVAILABLE "unavailable"
#define SQ_ERR_INTERNAL "internal"

//  An operating error on its way to a reply: code is one of the SQ_ERR_ strings (static).
typedef struct {
    const char *code;                    //  NULL while no error is set
    char message[SQ_ERROR_MESSAGE_MAX];  //  PostgreSQL style: lower case, no final period
    char field[SQ_ERROR_FIELD_MAX];      //  argument at fault, "" when none
} sq_error_t;

//  Fills err and returns -1, so that `return sq_error_set (...)` reads naturally.
int sq_error_set (sq_error_t *err, const char *code, const char *field, const char *format, ...)
    __attribute__ ((format (printf, 4, 5)));

//  Checks that data holds exactly one well-formed msgpack value within the limits above.
//  Returns 0, or -1 with the reason in why.
int sq_codec_check (const void *data, size_t size, char *why, size_t why_size);

//  A decoded message: its root object lives in a zone owned by the doc.
typedef struct sq_doc sq_doc_t;

//  Checks and decodes data (copied neither: objects point into data for strings and bins, so
//  data must outlive the doc). Returns NULL with the reason in why.
sq_doc_t *sq_doc_new (const void *data, size_t size, char *why, size_t why_size);
const msgpack_object *sq_doc_root (const sq_doc_t *self);
void sq_doc_destroy (sq_doc_t **self_p);

//  Looks up key in a map; NULL when absent or when map is not a map (borrowed).
const msgpack_object *sq_obj_get (const msgpack_object *map, const char *key);

//  True when o is a string equal to text.
bool sq_obj_str_eq (const msgpack_object *o, const char *text);

//  Copies a string object into out (NUL-terminated); -1 when not a string or too long.
int sq_obj_str_copy (const msgpack_object *o, char *out, size_t out_size);

//  True when the bytes are valid UTF-8 without NUL characters.
bool sq_utf8_valid (const char *s, size_t len);

//  Argument readers. Each returns 1 when the field is present and valid, 0 when it is
//  absent or nil and not required, -1 with err set (`invalid`, naming the field) otherwise.
//  args may be NULL (no arguments given).
int sq_arg_str (const msgpack_object *args, const char *field, bool required, size_t len_max,
                char *out, size_t out_size, sq_error_t *err);
int sq_arg_int (const msgpack_object *args, const char *field, bool required, int64_t min,
                int64_t max, int64_t *out, sq_error_t *err);
int sq_arg_bool (const msgpack_object *args, const char *field, bool required, bool *out,
                 sq_error_t *err);
//  An array with at most items_max elements; *out borrowed from args.
int sq_arg_array (const msgpack_object *args, const char *field, bool required,
                  size_t items_max, const msgpack_object **out, sq_error_t *err);
//  A string that must be one of the NULL-terminated choices; *index gets its position.
int sq_arg_enum (const msgpack_object *args, const char *field, bool required,
                 const char *const *choices, int *index, sq_error_t *err);

//  Packing helpers for the maps of DESIGN.md. A NULL string packs as nil.
void sq_pack_str (msgpack_packer *pk, const char *s);
void sq_pack_kv_str (msgpack_packer *pk, const char *key, const char *value);
void sq_pack_kv_int (msgpack_packer *pk, const char *key, int64_t value);
void sq_pack_kv_uint (msgpack_packer *pk, const char *key, uint64_t value);
void sq_pack_kv_bool (msgpack_packer *pk, const char *key, bool value);
void sq_pack_kv_double (msgpack_packer *pk, const char *key, double value);
void sq_pack_kv_nil (msgpack_packer *pk, const char *key);
//  Packs key, then the raw msgpack bytes of an already encoded value (checked by the caller).
void sq_pack_kv_raw (msgpack_packer *pk, const char *key, const void *value, size_t size);

//  Reply bodies: {"ok":true,"result":<raw>} and {"ok":false,"error":{code,message,field}}.
//  Appends to buf (msgpack_sbuffer initialised by the caller).
void sq_reply_pack_ok (msgpack_sbuffer *buf, const void *result, size_t result_size);
void sq_reply_pack_error (msgpack_sbuffer *buf, const sq_error_t *err);

#endif
