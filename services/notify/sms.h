/*  sms: the SMS channel, through an SMS provider's HTTP API given by configuration
    (SHEQU_NOTIFY_SMS_URL, an http:// URL inside the government network or a local
    TLS-terminating proxy). One POST per message with the JSON body
    {"to": "<mainland mobile>", "text": "<message>", "id": "<delivery id>", "sign": "<sign
    name>"} ("sign" only when configured), the API key, when configured, as
    "Authorization: Bearer <key>"; 2xx is accepted. The provider refusing the request (4xx
    but 408 and 429) refuses the message for good; a timeout or 5xx is tried again. */
#ifndef NOTIFY_SMS_H
#define NOTIFY_SMS_H

#include "http.h"

#include <stdbool.h>

#define NOTIFY_SMS_KEY_MAX 257  //  longest API key + 1 (printable ASCII)
#define NOTIFY_SMS_SIGN_MAX 65  //  longest sign name + 1, bytes of UTF-8 ("【某某社区】")

//  The provider, from the configuration.
typedef struct {
    bool configured;              //  SHEQU_NOTIFY_SMS_URL was given
    notify_url_t url;             //  where to POST
    char key[NOTIFY_SMS_KEY_MAX]; //  "" when none
    char sign[NOTIFY_SMS_SIGN_MAX]; //  "" when none
    int timeout_ms;               //  per POST
} notify_sms_t;

//  Fills sms from the URL (NULL or "": not configured), the API key and the sign name (NULL
//  or "": none). Returns 0, or -1 with the reason in error, naming the variable at fault.
int notify_sms_config (notify_sms_t *sms, const char *url, const char *key, const char *sign,
                       int timeout_ms, char *error, size_t error_size);

//  The JSON body of one message (malloc'd; the caller frees), NULL when out of memory.
char *notify_sms_body (const notify_sms_t *sms, const char *to, const char *text,
                       const char *id);

//  Posts one message. Returns the outcome, with the reason in error unless NOTIFY_SENT.
notify_outcome_t notify_sms_send (const notify_sms_t *sms, const char *to, const char *text,
                                  const char *id, char *error, size_t error_size);

#endif
