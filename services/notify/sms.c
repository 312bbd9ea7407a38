/*  sms: messages to the SMS provider's HTTP API. */
#include "sms.h"

#include "sq_codec.h"
#include "sq_json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_HTTP_BAD_REQUEST 400
#define S_HTTP_TIMEOUT 408           //  the provider's own timeout: try again
#define S_HTTP_TOO_MANY 429          //  the provider's rate limit: try again
#define S_HTTP_SERVER_ERROR 500

int
notify_sms_config (notify_sms_t *sms, const char *url, const char *key, const char *sign,
                   int timeout_ms, char *error, size_t error_size)
{
    memset (sms, 0, sizeof *sms);
    sms->timeout_ms = timeout_ms;
    if (!url || !url[0])
        return 0; //  not configured: SMS deliveries are refused
    if (notify_url_parse (url, &sms->url)) {
        snprintf (error, error_size, "SHEQU_NOTIFY_SMS_URL must be an http://host[:port]/path"
                  " URL");
        return -1;
    }
    key = key ? key : "";
    size_t key_len = strnlen (key, NOTIFY_SMS_KEY_MAX);
    bool key_ok = key_len < NOTIFY_SMS_KEY_MAX;
    for (size_t i = 0; i < key_len; i++) //  a header must not be split or smuggled
        key_ok &= (unsigned char) key[i] > ' ' && (unsigned char) key[i] < 0x7f;
    if (!key_ok) {
        snprintf (error, error_size, "SHEQU_NOTIFY_SMS_KEY must be at most %d printable ASCII"
                  " characters without spaces", NOTIFY_SMS_KEY_MAX - 1);
        return -1;
    }
    sign = sign ? sign : "";
    size_t sign_len = strnlen (sign, NOTIFY_SMS_SIGN_MAX);
    bool controls = false;
    for (size_t i = 0; i < sign_len; i++)
        controls |= (unsigned char) sign[i] < ' ' || sign[i] == 0x7f;
    if (sign_len == NOTIFY_SMS_SIGN_MAX || controls || !sq_utf8_valid (sign, sign_len)) {
        snprintf (error, error_size, "SHEQU_NOTIFY_SMS_SIGN must be at most %d bytes of UTF-8"
                  " text", NOTIFY_SMS_SIGN_MAX - 1);
        return -1;
    }
    memcpy (sms->key, key, key_len);
    memcpy (sms->sign, sign, sign_len);
    sms->configured = true;
    return 0;
}

char *
notify_sms_body (const notify_sms_t *sms, const char *to, const char *text, const char *id)
{
    //  Packed as msgpack and written as JSON by the platform's writer: escaping in one place.
    msgpack_sbuffer buf;
    msgpack_sbuffer_init (&buf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &buf, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, sms->sign[0] ? 4 : 3);
    sq_pack_kv_str (&pk, "to", to);
    sq_pack_kv_str (&pk, "text", text);
    sq_pack_kv_str (&pk, "id", id);
    if (sms->sign[0])
        sq_pack_kv_str (&pk, "sign", sms->sign);
    char why[64];
    sq_doc_t *doc = sq_doc_new (buf.data, buf.size, why, sizeof why);
    char *json = doc ? sq_json_from_msgpack (sq_doc_root (doc)) : NULL;
    sq_doc_destroy (&doc);
    msgpack_sbuffer_destroy (&buf);
    return json;
}

notify_outcome_t
notify_sms_send (const notify_sms_t *sms, const char *to, const char *text, const char *id,
                 char *error, size_t error_size)
{
    error[0] = '\0';
    if (!sms->configured) {
        snprintf (error, error_size, "SMS is not configured on this platform"
                  " (SHEQU_NOTIFY_SMS_URL)");
        return NOTIFY_REFUSED;
    }
    char *body = notify_sms_body (sms, to, text, id);
    if (!body) {
        snprintf (error, error_size, "could not write the SMS request");
        return NOTIFY_FAILED;
    }
    char headers[NOTIFY_HTTP_HEADERS_MAX];
    snprintf (headers, sizeof headers, "%s%s%sX-Shequ-Delivery: %s\r\n",
              sms->key[0] ? "Authorization: Bearer " : "", sms->key, sms->key[0] ? "\r\n" : "",
              id);
    int status = notify_http_post (&sms->url, headers, body, strlen (body), sms->timeout_ms,
                                   error, error_size);
    free (body);
    if (status >= 200 && status < 300)
        return NOTIFY_SENT;
    if (status < 0)
        return NOTIFY_FAILED;
    snprintf (error, error_size, "SMS provider answered HTTP %d", status);
    bool refused = status >= S_HTTP_BAD_REQUEST && status < S_HTTP_SERVER_ERROR
                   && status != S_HTTP_TIMEOUT && status != S_HTTP_TOO_MANY;
    return refused ? NOTIFY_REFUSED : NOTIFY_FAILED;
}
