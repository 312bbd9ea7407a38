/*  template: the text of a notification, made from an event (issue 6). Pure; unit-tested.

    A template is text with placeholders `{name}` or `{name|filter}`. A name is a field of the
    event's data map or of its envelope (`type`, `div`, `at`, `id`, `src`, `seq`, `actor`,
    `corr`, `cause`; NB: an envelope key hides a data field of the same name, which no
    contract has today). Filters: `time` (microseconds to "2026-11-23 10:00" China Standard
    Time), `yuan` (fen to "12.34"), `label` (a contract's enum value to its Chinese label),
    `count` (elements of a list or map). A `{` not followed by a letter or `_` is literal text, so a
    JSON template for a webhook needs no escaping of its own braces.

    A template is checked against its event type's contract before it is stored
    (`template.put`): every placeholder must be a field the contract lists, or an envelope key.
    Values are escaped for the channel they go out on, so an event cannot inject a header
    line into an e-mail, a control character into an SMS or a quote into a webhook's JSON. */
#ifndef NOTIFY_TEMPLATE_H
#define NOTIFY_TEMPLATE_H

#include "sq_codec.h"
#include "sq_envelope.h"

#include <stdbool.h>
#include <stddef.h>

#define NOTIFY_TEMPLATE_MAX 4096        //  longest template text, bytes
#define NOTIFY_NAME_MAX 64              //  longest placeholder, filter or field name + 1
#define NOTIFY_PLACEHOLDERS_MAX 32      //  most placeholders in one template
#define NOTIFY_FIELDS_MAX 64            //  most data fields of one contract
#define NOTIFY_CONTRACT_TEXT_MAX 65536  //  longest contract file, bytes
#define NOTIFY_VALUE_MAX 1024           //  longest value put in place of one placeholder, bytes
#define NOTIFY_BODY_MAX 8192            //  longest rendered body, bytes with the terminator
#define NOTIFY_SUBJECT_CHARS_MAX 120    //  longest e-mail subject, characters
#define NOTIFY_SUBJECT_MAX (NOTIFY_SUBJECT_CHARS_MAX * 4 + 1) //  the same, bytes
#define NOTIFY_SMS_CHARS_MAX 300        //  longest SMS, characters (a few concatenated parts)
#define NOTIFY_DIV_KIND_MAX 16          //  longest `div` kind of a contract ("community")

//  The channels of issue 6, in the order their names are listed.
typedef enum {
    NOTIFY_INBOX = 0,
    NOTIFY_SMS,
    NOTIFY_EMAIL,
    NOTIFY_WEBHOOK,
    NOTIFY_CHANNEL_COUNT
} notify_channel_t;

//  How values (and, but for JSON, the template's own text) are escaped.
typedef enum {
    NOTIFY_ESCAPE_TEXT = 0, //  inbox, e-mail body: controls but newline and tab become spaces
    NOTIFY_ESCAPE_LINE,     //  SMS, e-mail subject: one line, every control becomes a space
    NOTIFY_ESCAPE_JSON      //  inside a JSON string: quotes, backslashes, controls escaped
} notify_escape_t;

//  The field names of an event type, as its contract under schemas/events/ lists them.
typedef struct {
    char type[SQ_TYPE_MAX];                      //  "disputes.case_filed"
    char div[NOTIFY_DIV_KIND_MAX];               //  community, division, none or any
    char fields[NOTIFY_FIELDS_MAX][NOTIFY_NAME_MAX]; //  top-level keys of the data map
    int field_count;
} notify_contract_t;

//  A template for one event type on one channel. Strings are borrowed.
typedef struct {
    const char *type;    //  the event type it renders
    const char *subject; //  e-mail subject; NULL for the other channels
    const char *body;    //  the text; for a webhook, the JSON body
} notify_template_t;

//  A rendered message.
typedef struct {
    char subject[NOTIFY_SUBJECT_MAX]; //  e-mail only, "" otherwise; never holds CR or LF
    char body[NOTIFY_BODY_MAX];
    bool truncated;                   //  cut at a character boundary and ended with "…"
} notify_message_t;

//  Names as the wire spells them (static; NULL when out of range); parse returns -1 for an
//  unknown name.
const char *notify_channel_name (notify_channel_t channel);
int notify_channel_parse (const char *name, notify_channel_t *channel);

//  Reads the type, the div kind and the data field names from the JSON text of a contract.
//  Returns 0, or -1 with err (`invalid`, field "contract") when it is not one.
int notify_contract_parse (const char *text, size_t len, notify_contract_t *contract,
                           sq_error_t *err);

//  True when name is a field of the contract or an envelope key.
bool notify_contract_has (const notify_contract_t *contract, const char *name);

//  Checks the syntax of a template and that each of its placeholders is one the contract
//  has and each filter is known. Returns 0, or -1 with err (`invalid`, naming field, which
//  is the argument that held the text: "body" or "subject").
int notify_template_check (const char *text, const notify_contract_t *contract,
                           const char *field, sq_error_t *err);

//  Renders text with the values of env (its data map included) escaped as escape says, into
//  out of out_size bytes, at most chars_max characters (0: no limit). Text and values too
//  long are cut at a character boundary and end with "…" (*truncated true), but for JSON,
//  which a cut would break. Returns 0, or -1 with err (`invalid`) on a syntax error or JSON
//  that does not fit.
int notify_template_render (const char *text, const sq_envelope_t *env, notify_escape_t escape,
                            size_t chars_max, char *out, size_t out_size, bool *truncated,
                            sq_error_t *err);

//  Renders a template for a channel: the subject (e-mail only, one line, at most
//  NOTIFY_SUBJECT_CHARS_MAX characters) and the body (SMS: one line of at most
//  NOTIFY_SMS_CHARS_MAX characters; webhook: JSON). Returns 0, or -1 with err.
int notify_message_render (const notify_template_t *tmpl, notify_channel_t channel,
                           const sq_envelope_t *env, notify_message_t *message, sq_error_t *err);

//  The Chinese default template of an event type for a channel. Returns 0 with *tmpl (static
//  strings), or -1 when there is none: an event type without defaults, or the webhook, which
//  by default posts the event itself as JSON.
int notify_template_default (const char *type, notify_channel_t channel,
                             notify_template_t *tmpl);

//  The event types that have default templates: how many, and the one at index (static;
//  NULL when out of range).
int notify_template_default_count (void);
const char *notify_template_default_type (int index);

//  The Chinese label of an enum value of a contract ("neighbour" -> "邻里纠纷"), or NULL.
const char *notify_label (const char *value);

#endif
