/*  sq_envelope: the event envelope of DESIGN.md. */
#include "sq_envelope.h"

#include <stdio.h>
#include <string.h>

void
sq_envelope_pack (msgpack_packer *pk, const sq_envelope_t *env, const void *data,
                  size_t data_size)
{
    msgpack_pack_map (pk, 11);
    sq_pack_kv_int (pk, "v", SQ_ENVELOPE_VERSION);
    sq_pack_kv_str (pk, "id", env->id);
    sq_pack_kv_str (pk, "src", env->src);
    sq_pack_kv_uint (pk, "seq", env->seq);
    sq_pack_kv_str (pk, "type", env->type);
    sq_pack_kv_str (pk, "div", env->div);
    sq_pack_kv_int (pk, "at", env->at);
    sq_pack_kv_str (pk, "actor", env->actor);
    sq_pack_kv_str (pk, "corr", env->corr);
    sq_pack_kv_str (pk, "cause", env->cause);
    if (data_size)
        sq_pack_kv_raw (pk, "data", data, data_size);
    else {
        sq_pack_str (pk, "data");
        msgpack_pack_map (pk, 0);
    }
}

//  Copies a required string field; empty strings allowed only where allow_empty.
static int
s_text (const msgpack_object *root, const char *field, char *out, size_t size, int allow_empty,
        sq_error_t *err)
{
    const msgpack_object *value = sq_obj_get (root, field);
    if (!value || value->type != MSGPACK_OBJECT_STR)
        return sq_error_set (err, SQ_ERR_INVALID, field, "envelope %s must be a string", field);
    if (sq_obj_str_copy (value, out, size))
        return sq_error_set (err, SQ_ERR_INVALID, field, "envelope %s is too long", field);
    if (!allow_empty && !out[0])
        return sq_error_set (err, SQ_ERR_INVALID, field, "envelope %s is empty", field);
    if (!sq_utf8_valid (out, strlen (out)))
        return sq_error_set (err, SQ_ERR_INVALID, field, "envelope %s is not UTF-8", field);
    return 0;
}

int
sq_envelope_decode (const msgpack_object *root, sq_envelope_t *env, sq_error_t *err)
{
    memset (env, 0, sizeof *env);
    if (!root || root->type != MSGPACK_OBJECT_MAP)
        return sq_error_set (err, SQ_ERR_INVALID, "", "envelope must be a map");
    const msgpack_object *v = sq_obj_get (root, "v");
    if (!v || v->type != MSGPACK_OBJECT_POSITIVE_INTEGER || v->via.u64 != SQ_ENVELOPE_VERSION)
        return sq_error_set (err, SQ_ERR_INVALID, "v", "envelope version must be 1");
    const msgpack_object *seq = sq_obj_get (root, "seq");
    if (!seq || seq->type != MSGPACK_OBJECT_POSITIVE_INTEGER || seq->via.u64 == 0)
        return sq_error_set (err, SQ_ERR_INVALID, "seq", "envelope seq must be a positive integer");
    env->seq = seq->via.u64;
    const msgpack_object *at = sq_obj_get (root, "at");
    if (!at || (at->type != MSGPACK_OBJECT_POSITIVE_INTEGER
                && at->type != MSGPACK_OBJECT_NEGATIVE_INTEGER))
        return sq_error_set (err, SQ_ERR_INVALID, "at", "envelope at must be an integer");
    env->at = at->type == MSGPACK_OBJECT_POSITIVE_INTEGER ? (int64_t) at->via.u64 : at->via.i64;
    if (s_text (root, "id", env->id, sizeof env->id, 0, err)
        || s_text (root, "src", env->src, sizeof env->src, 0, err)
        || s_text (root, "type", env->type, sizeof env->type, 0, err)
        || s_text (root, "div", env->div, sizeof env->div, 1, err)
        || s_text (root, "actor", env->actor, sizeof env->actor, 1, err)
        || s_text (root, "corr", env->corr, sizeof env->corr, 1, err)
        || s_text (root, "cause", env->cause, sizeof env->cause, 1, err))
        return -1;
    env->data = sq_obj_get (root, "data");
    if (!env->data || env->data->type != MSGPACK_OBJECT_MAP)
        return sq_error_set (err, SQ_ERR_INVALID, "data", "envelope data must be a map");
    return 0;
}

int
sq_envelope_topic (const sq_envelope_t *env, char *out, size_t out_size)
{
    int n = env->div[0] ? snprintf (out, out_size, "%s.%s", env->type, env->div)
                        : snprintf (out, out_size, "%s", env->type);
    return n < 0 || (size_t) n >= out_size ? -1 : 0;
}
