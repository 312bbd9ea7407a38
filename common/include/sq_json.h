/*  sq_json: JSON text to msgpack and back, for the people and tools at the platform's edge
    (the CLI, the gateway). Inside the platform everything is msgpack; JSON is only ever
    converted at the boundary, strictly, so that what a person typed cannot reach a service
    in a shape the strict msgpack checker (sq_codec) would refuse. */
#ifndef SQ_JSON_H
#define SQ_JSON_H

#include "sq_codec.h"
#include "sq_config.h"

#include <stddef.h>

#define SQ_JSON_DEPTH_MAX SQ_CODEC_DEPTH_MAX //  deepest nesting of objects and arrays
#define SQ_JSON_TEXT_MAX SQ_DEFAULT_MSG_MAX  //  longest JSON text accepted, bytes
#define SQ_JSON_NUMBER_MAX 128               //  longest number literal accepted, bytes
#define SQ_JSON_OUTPUT_MAX (16 * SQ_DEFAULT_MSG_MAX) //  longest JSON text written, bytes
#define SQ_JSON_KEY_TEXT_MAX 256             //  longest JSON text of a non-string key

//  Parses one JSON value (RFC 8259, strictly: no comments, no trailing commas, no BOM, valid
//  UTF-8, no duplicate keys in an object) and packs it into pk. Integers become msgpack ints
//  (int64 when negative, uint64 otherwise; out of range is an error), numbers with a fraction
//  or exponent become doubles. Nothing is packed unless the whole text is valid.
//  Returns 0, or -1 with the reason and its byte offset in why.
int sq_json_to_msgpack (const char *text, size_t len, msgpack_packer *pk, char *why,
                        size_t why_size);

//  Writes o as one line of JSON. Maps keep their order; a key that is not a string is
//  written as the JSON text of the key; bin becomes a base64 string, ext becomes
//  {"ext":<type>,"data":"<base64>"}, non-finite doubles become null, bytes of a string that
//  are not UTF-8 become U+FFFD. Returns a malloc'd string the caller frees, NULL when out of
//  memory, when o is nested deeper than SQ_JSON_DEPTH_MAX, or when the text would pass
//  SQ_JSON_OUTPUT_MAX or a key's SQ_JSON_KEY_TEXT_MAX (NB: keys within keys are escaped
//  once per level, so without these limits a few hostile bytes could ask for gigabytes).
char *sq_json_from_msgpack (const msgpack_object *o);

//  Same as sq_json_from_msgpack, indented by two spaces per level, for people to read.
char *sq_json_from_msgpack_pretty (const msgpack_object *o);

#endif
