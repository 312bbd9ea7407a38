/*  template: the text of a notification, made from an event (pure). */
#include "template.h"

#include "sq_json.h"

#include <assert.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define S_ELLIPSIS "\xe2\x80\xa6"               //  "…", U+2026, ends a cut text
#define S_ELLIPSIS_LEN (sizeof S_ELLIPSIS - 1)
#define S_REPLACEMENT "\xef\xbf\xbd"            //  U+FFFD, stands for bytes that are not UTF-8
#define S_ESCAPED_MAX 8                         //  longest escape of one character ("\u2028")
#define S_NUMBER_MAX 48                         //  longest number or time written, bytes
#define S_CST_OFFSET_S (8 * 3600)               //  China Standard Time minus UTC, no DST
#define S_US_PER_S INT64_C (1000000)
#define S_TIME_S_MAX (INT64_C (253402300799))   //  9999-12-31 23:59:59: later is not a date

static const char *const s_channels[NOTIFY_CHANNEL_COUNT] = {"inbox", "sms", "email", "webhook"};

//  Envelope keys a template may name; they are looked up before the data map.
static const char *const s_envelope_keys[] = {"type", "div", "at", "id", "src", "seq",
                                              "actor", "corr", "cause", NULL};
static const char *const s_filters[] = {"time", "yuan", "label", "count", NULL};

//  Chinese labels of the enum values of the contracts that default templates use. Values
//  are unique across those contracts, so one flat table serves them all.
static const char *const s_labels[][2] = {
    //  disputes: category
    {"neighbour", "邻里纠纷"}, {"family", "婚姻家庭纠纷"}, {"property_management", "物业纠纷"},
    {"land_contract", "土地承包纠纷"}, {"labour_wages", "劳资纠纷"},
    {"housing_homestead", "房屋宅基地纠纷"}, {"damages", "损害赔偿纠纷"},
    {"land_requisition", "征地拆迁纠纷"}, {"environment", "环境污染纠纷"},
    {"petition", "涉访纠纷"}, {"social_security", "社会保障纠纷"}, {"other", "其他纠纷"},
    //  disputes: risk, level, status, deadline, source
    {"normal", "一般"}, {"elevated", "较高"}, {"major", "重大"},
    {"community", "社区"}, {"street", "街道"}, {"district", "区县"},
    {"filed", "已登记"}, {"accepted", "已受理"}, {"mediating", "调解中"},
    {"resolved", "调解成功"}, {"failed", "调解未成功"}, {"escalated", "已上报"},
    {"closed", "已结案"}, {"withdrawn", "已撤回"}, {"referred", "已转办"},
    {"accept", "受理"}, {"resolve", "调解"}, {"followup", "回访"},
    {"visit", "来访"}, {"grid_patrol", "网格巡查"}, {"hotline", "热线"}, {"online", "网上"},
    {"police_referral", "公安移送"}, {"department_referral", "部门移送"},
    //  admission: kind, track, by
    {"task", "工作任务"}, {"inspection", "检查考核"}, {"certificate", "证明事项"},
    {"responsibility_agreement", "责任书"}, {"veto_item", "一票否决事项"},
    {"work_body", "工作机构"}, {"meeting", "会议"}, {"report", "报表"},
    {"catalogue", "准入目录"}, {"purchased_service", "购买服务"}, {"deliberation", "议事协商"},
    {"screening", "准入审查"}, {"review", "审核"},
};
#define S_LABEL_COUNT (sizeof s_labels / sizeof s_labels[0])

//  Default templates: one text for the inbox, the SMS and the e-mail body, and a subject.
typedef struct {
    const char *type;
    const char *subject;
    const char *body;
} s_default_t;

static const s_default_t s_defaults[] = {
    {"disputes.case_filed", "【矛盾纠纷】社区{community}新登记{category|label}一起",
     "社区{community}于{at|time}登记矛盾纠纷一起（案件{case}），类别：{category|label}，"
     "风险：{risk|label}，涉及{people_involved}人，来源：{source|label}。"
     "请于{due|time}前受理。"},
    {"disputes.case_overdue", "【矛盾纠纷逾期】案件{case}{missed|label}逾期",
     "案件{case}（社区{community}，{category|label}）的{missed|label}期限已于"
     "{missed_due|time}届满，当前状态：{status|label}，处理层级：{level|label}。"},
    {"disputes.case_escalated", "【矛盾纠纷上报】案件{case}已上报至{level|label}",
     "案件{case}（社区{community}，{category|label}，风险：{risk|label}）调解未成功，"
     "已于{at|time}上报至{level|label}层级处理，请于{due|time}前受理。"},
    {"disputes.major_case_filed", "【重大矛盾纠纷】社区{community}登记{category|label}",
     "社区{community}于{at|time}登记重大矛盾纠纷一起（案件{case}），类别：{category|label}，"
     "风险：{risk|label}，涉及{people_involved}人，来源：{source|label}，"
     "由{level|label}层级处理。"},
    {"admission.approved", "【准入审核通过】{department}：{kind|label}",
     "{department}申请的{kind|label}事项（申请{application}）已于{at|time}审核通过，"
     "准入方式：{track|label}，实施期间{start}至{end}，涉及{targets|count}个社区。"},
    {"admission.rejected", "【准入未通过】{department}：{kind|label}",
     "{department}申请的{kind|label}事项（申请{application}）未获准入"
     "（{by|label}）。{note}"},
    {"admission.agreement_signed", "【服务协议已签订】社区{community}",
     "社区{community}已于{at|time}签订服务协议（协议{agreement}，申请{application}），"
     "经费{funds|yuan}元可以拨付。"},
};
#define S_DEFAULT_COUNT (sizeof s_defaults / sizeof s_defaults[0])

const char *
notify_channel_name (notify_channel_t channel)
{
    return channel >= 0 && channel < NOTIFY_CHANNEL_COUNT ? s_channels[channel] : NULL;
}

int
notify_channel_parse (const char *name, notify_channel_t *channel)
{
    for (int i = 0; i < NOTIFY_CHANNEL_COUNT; i++)
        if (strcmp (name, s_channels[i]) == 0) {
            *channel = (notify_channel_t) i;
            return 0;
        }
    return -1;
}

const char *
notify_label (const char *value)
{
    for (size_t i = 0; i < S_LABEL_COUNT; i++)
        if (strcmp (value, s_labels[i][0]) == 0)
            return s_labels[i][1];
    return NULL;
}

static bool
s_listed (const char *const *names, const char *name)
{
    for (int i = 0; names[i]; i++)
        if (strcmp (names[i], name) == 0)
            return true;
    return false;
}

// ---- contracts ------------------------------------------------------------------------

//  Copies the data map's keys; -1 with err when one is not a string or there are too many.
static int
s_contract_fields (const msgpack_object *data, notify_contract_t *contract, sq_error_t *err)
{
    if (!data || data->type != MSGPACK_OBJECT_MAP)
        return sq_error_set (err, SQ_ERR_INVALID, "contract", "contract has no data map");
    if (data->via.map.size > NOTIFY_FIELDS_MAX)
        return sq_error_set (err, SQ_ERR_INVALID, "contract",
                             "contract has more than %d data fields", NOTIFY_FIELDS_MAX);
    for (uint32_t i = 0; i < data->via.map.size; i++) {
        char *name = contract->fields[contract->field_count];
        if (sq_obj_str_copy (&data->via.map.ptr[i].key, name, NOTIFY_NAME_MAX))
            return sq_error_set (err, SQ_ERR_INVALID, "contract",
                                 "data field %u of the contract is not a name", i);
        contract->field_count++;
    }
    return 0;
}

int
notify_contract_parse (const char *text, size_t len, notify_contract_t *contract,
                       sq_error_t *err)
{
    memset (contract, 0, sizeof *contract);
    if (len > NOTIFY_CONTRACT_TEXT_MAX)
        return sq_error_set (err, SQ_ERR_INVALID, "contract", "contract is longer than %d bytes",
                             NOTIFY_CONTRACT_TEXT_MAX);
    msgpack_sbuffer buf;
    msgpack_sbuffer_init (&buf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &buf, msgpack_sbuffer_write);
    char why[SQ_ERROR_MESSAGE_MAX] = "";
    sq_doc_t *doc = NULL;
    int rc = -1;
    if (sq_json_to_msgpack (text, len, &pk, why, sizeof why)
        || !(doc = sq_doc_new (buf.data, buf.size, why, sizeof why))) {
        sq_error_set (err, SQ_ERR_INVALID, "contract", "contract is not JSON: %s", why);
        goto cleanup;
    }
    const msgpack_object *root = sq_doc_root (doc);
    if (sq_obj_str_copy (sq_obj_get (root, "type"), contract->type, sizeof contract->type)
        || !contract->type[0]) {
        sq_error_set (err, SQ_ERR_INVALID, "contract", "contract has no event type");
        goto cleanup;
    }
    const msgpack_object *div = sq_obj_get (root, "div");
    if (div && sq_obj_str_copy (div, contract->div, sizeof contract->div)) {
        sq_error_set (err, SQ_ERR_INVALID, "contract", "contract's div is not a kind");
        goto cleanup;
    }
    rc = s_contract_fields (sq_obj_get (root, "data"), contract, err);
cleanup:
    sq_doc_destroy (&doc);
    msgpack_sbuffer_destroy (&buf);
    return rc;
}

bool
notify_contract_has (const notify_contract_t *contract, const char *name)
{
    if (s_listed (s_envelope_keys, name))
        return true;
    for (int i = 0; i < contract->field_count; i++)
        if (strcmp (contract->fields[i], name) == 0)
            return true;
    return false;
}

// ---- placeholders ---------------------------------------------------------------------

static bool
s_name_start (char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool
s_name_char (char c)
{
    return s_name_start (c) || (c >= '0' && c <= '9');
}

//  Reads a name at text[*at] into out; -1 when it is empty or too long.
static int
s_read_name (const char *text, size_t *at, char out[NOTIFY_NAME_MAX])
{
    size_t n = 0;
    while (s_name_char (text[*at + n])) {
        if (n + 1 >= NOTIFY_NAME_MAX)
            return -1;
        out[n] = text[*at + n];
        n++;
    }
    out[n] = 0;
    *at += n;
    return n ? 0 : -1;
}

//  Reads the placeholder whose `{` is at text[start] (followed by a name start). Returns 0
//  with name, filter ("" when none) and *end just past the `}`, or -1 with err.
static int
s_placeholder (const char *text, size_t start, const char *field, char name[NOTIFY_NAME_MAX],
               char filter[NOTIFY_NAME_MAX], size_t *end, sq_error_t *err)
{
    size_t at = start + 1;
    filter[0] = 0;
    if (s_read_name (text, &at, name))
        return sq_error_set (err, SQ_ERR_INVALID, field,
                             "placeholder at byte %zu is longer than %d bytes", start,
                             NOTIFY_NAME_MAX - 1);
    if (text[at] == '|') {
        at++;
        if (!s_name_start (text[at]) || s_read_name (text, &at, filter))
            return sq_error_set (err, SQ_ERR_INVALID, field,
                                 "placeholder {%s} has no valid filter after '|'", name);
    }
    if (text[at] != '}')
        return sq_error_set (err, SQ_ERR_INVALID, field,
                             "placeholder {%s at byte %zu is not closed", name, start);
    *end = at + 1;
    return 0;
}

int
notify_template_check (const char *text, const notify_contract_t *contract, const char *field,
                       sq_error_t *err)
{
    size_t len = strnlen (text, NOTIFY_TEMPLATE_MAX + 1);
    if (len > NOTIFY_TEMPLATE_MAX)
        return sq_error_set (err, SQ_ERR_INVALID, field, "template is longer than %d bytes",
                             NOTIFY_TEMPLATE_MAX);
    if (!sq_utf8_valid (text, len))
        return sq_error_set (err, SQ_ERR_INVALID, field, "template is not valid UTF-8 text");
    int count = 0;
    for (size_t at = 0; at < len;) {
        if (text[at] != '{' || !s_name_start (text[at + 1])) {
            at++;
            continue;
        }
        char name[NOTIFY_NAME_MAX], filter[NOTIFY_NAME_MAX];
        if (s_placeholder (text, at, field, name, filter, &at, err))
            return -1;
        if (++count > NOTIFY_PLACEHOLDERS_MAX)
            return sq_error_set (err, SQ_ERR_INVALID, field,
                                 "template has more than %d placeholders",
                                 NOTIFY_PLACEHOLDERS_MAX);
        if (!notify_contract_has (contract, name))
            return sq_error_set (err, SQ_ERR_INVALID, field,
                                 "placeholder {%s} is not a field of %s", name, contract->type);
        if (filter[0] && !s_listed (s_filters, filter))
            return sq_error_set (err, SQ_ERR_INVALID, field,
                                 "placeholder {%s|%s} has an unknown filter", name, filter);
    }
    return 0;
}

// ---- escaping and output --------------------------------------------------------------

//  Output with a limit in bytes and characters; remembers where a cut leaves room for "…".
typedef struct {
    char *out;          //  the caller's buffer
    size_t size;        //  its size, bytes
    size_t len;         //  bytes written, without the terminator
    size_t chars;       //  characters written
    size_t chars_max;   //  0: no limit
    size_t cut_len;     //  longest prefix written after which "…" still fits
    bool full;          //  something did not fit: the output was cut
    notify_escape_t escape;
} s_writer_t;

//  Appends one character's bytes, or cuts the output when they do not fit.
static void
s_emit (s_writer_t *w, const char *bytes, size_t n)
{
    if (w->full)
        return;
    if (w->len + n >= w->size || (w->chars_max && w->chars + 1 > w->chars_max)) {
        w->full = true;
        if (w->escape != NOTIFY_ESCAPE_JSON) {
            memcpy (w->out + w->cut_len, S_ELLIPSIS, S_ELLIPSIS_LEN);
            w->len = w->cut_len + S_ELLIPSIS_LEN;
        }
        w->out[w->len] = 0;
        return;
    }
    memcpy (w->out + w->len, bytes, n);
    w->len += n;
    w->chars++;
    w->out[w->len] = 0;
    if (w->len + S_ELLIPSIS_LEN < w->size && (!w->chars_max || w->chars + 1 <= w->chars_max))
        w->cut_len = w->len;
}

//  Decodes the character at s (len > 0 bytes left): its length, and *cp, U+FFFD for a byte
//  that does not start a valid UTF-8 sequence.
static size_t
s_utf8_next (const char *s, size_t len, uint32_t *cp)
{
    const uint8_t *p = (const uint8_t *) s;
    size_t n = p[0] < 0x80 ? 0 : (p[0] & 0xe0) == 0xc0 ? 1 : (p[0] & 0xf0) == 0xe0 ? 2
                                 : (p[0] & 0xf8) == 0xf0 ? 3 : 4;
    *cp = 0xfffd;
    if (n == 4 || n >= len)
        return 1;
    uint32_t value = n == 0 ? p[0] : n == 1 ? p[0] & 0x1fu : n == 2 ? p[0] & 0x0fu : p[0] & 0x07u;
    for (size_t k = 1; k <= n; k++) {
        if ((p[k] & 0xc0) != 0x80)
            return 1;
        value = (value << 6) | (p[k] & 0x3fu);
    }
    //  Overlong forms, surrogates and values past U+10FFFF are not UTF-8.
    if ((n == 1 && value < 0x80) || (n == 2 && value < 0x800) || (n == 3 && value < 0x10000)
        || value > 0x10ffff || (value >= 0xd800 && value <= 0xdfff))
        return 1;
    *cp = value;
    return n + 1;
}

//  Bidirectional overrides and isolates can make a text read differently from what it is.
static bool
s_bidi_control (uint32_t cp)
{
    return (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069);
}

//  Writes one character of a value, escaped for the output.
static void
s_emit_escaped (s_writer_t *w, uint32_t cp, const char *bytes, size_t n)
{
    bool control = cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || cp == 0x2028 || cp == 0x2029;
    char escaped[S_ESCAPED_MAX + 1];
    if (s_bidi_control (cp))
        return;
    if (cp == 0xfffd && n == 1) { //  a stray byte
        s_emit (w, S_REPLACEMENT, sizeof S_REPLACEMENT - 1);
        return;
    }
    switch (w->escape) {
    case NOTIFY_ESCAPE_TEXT:
        if (cp == '\r')
            return; //  line ends are LF; a transport that needs CRLF adds the CR
        if (control && cp != '\n' && cp != '\t') {
            bytes = " ";
            n = 1;
        }
        break;
    case NOTIFY_ESCAPE_LINE:
        if (control) {
            bytes = " ";
            n = 1;
        }
        break;
    case NOTIFY_ESCAPE_JSON: {
        const char *short_form = cp == '"' ? "\\\"" : cp == '\\' ? "\\\\" : cp == '\n' ? "\\n"
                                 : cp == '\r' ? "\\r" : cp == '\t' ? "\\t" : NULL;
        if (short_form) {
            bytes = short_form;
            n = strlen (short_form);
        } else if (control) {
            snprintf (escaped, sizeof escaped, "\\u%04x", (unsigned) cp);
            bytes = escaped;
            n = strlen (escaped);
        }
        break;
    }
    }
    s_emit (w, bytes, n);
}

//  Writes len bytes of a value, escaped; at most NOTIFY_VALUE_MAX of them, then "…".
static void
s_emit_value (s_writer_t *w, const char *s, size_t len)
{
    for (size_t at = 0; at < len && !w->full;) {
        uint32_t cp;
        size_t n = s_utf8_next (s + at, len - at, &cp);
        if (at + n > NOTIFY_VALUE_MAX) {
            s_emit (w, S_ELLIPSIS, S_ELLIPSIS_LEN);
            return;
        }
        s_emit_escaped (w, cp, s + at, n);
        at += n;
    }
}

//  Writes template text of len bytes: escaped as a value, but verbatim into JSON, whose
//  quotes and braces the template's author wrote on purpose.
static void
s_emit_literal (s_writer_t *w, const char *s, size_t len)
{
    for (size_t at = 0; at < len && !w->full;) {
        uint32_t cp;
        size_t n = s_utf8_next (s + at, len - at, &cp);
        if (w->escape == NOTIFY_ESCAPE_JSON && !(cp == 0xfffd && n == 1))
            s_emit (w, s + at, n);
        else
            s_emit_escaped (w, cp, s + at, n);
        at += n;
    }
}

// ---- values ---------------------------------------------------------------------------

//  The value of a placeholder: an envelope key, else a data field; nil when absent.
static msgpack_object
s_lookup (const sq_envelope_t *env, const char *name)
{
    msgpack_object value = {.type = MSGPACK_OBJECT_NIL};
    const char *text = strcmp (name, "type") == 0    ? env->type
                       : strcmp (name, "div") == 0   ? env->div
                       : strcmp (name, "id") == 0    ? env->id
                       : strcmp (name, "src") == 0   ? env->src
                       : strcmp (name, "actor") == 0 ? env->actor
                       : strcmp (name, "corr") == 0  ? env->corr
                       : strcmp (name, "cause") == 0 ? env->cause
                                                     : NULL;
    if (text) {
        value.type = MSGPACK_OBJECT_STR;
        value.via.str.ptr = text;
        value.via.str.size = (uint32_t) strlen (text);
    } else if (strcmp (name, "at") == 0) {
        value.type = env->at < 0 ? MSGPACK_OBJECT_NEGATIVE_INTEGER
                                 : MSGPACK_OBJECT_POSITIVE_INTEGER;
        value.via.i64 = env->at;
    } else if (strcmp (name, "seq") == 0) {
        value.type = MSGPACK_OBJECT_POSITIVE_INTEGER;
        value.via.u64 = env->seq;
    } else if (env->data) {
        const msgpack_object *found = sq_obj_get (env->data, name);
        if (found)
            value = *found;
    }
    return value;
}

static bool
s_integer (const msgpack_object *o, int64_t *out)
{
    if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
        *out = o->via.i64;
        return true;
    }
    if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER && o->via.u64 <= INT64_MAX) {
        *out = (int64_t) o->via.u64;
        return true;
    }
    return false;
}

//  Applies a filter that fits the value's type, writing into buf; false when none does.
static bool
s_filtered (const msgpack_object *o, const char *filter, char *buf, size_t size)
{
    int64_t number;
    if (strcmp (filter, "time") == 0 && s_integer (o, &number)) {
        int64_t seconds = number / S_US_PER_S - (number % S_US_PER_S < 0) + S_CST_OFFSET_S;
        if (seconds < 0 || seconds > S_TIME_S_MAX)
            return false;
        time_t t = (time_t) seconds;
        struct tm tm;
        gmtime_r (&t, &tm);
        snprintf (buf, size, "%04d-%02d-%02d %02d:%02d", tm.tm_year + 1900, tm.tm_mon + 1,
                  tm.tm_mday, tm.tm_hour, tm.tm_min);
        return true;
    }
    if (strcmp (filter, "yuan") == 0 && s_integer (o, &number)) {
        //  NB: the magnitude of INT64_MIN does not fit an int64_t.
        uint64_t fen = number < 0 ? (uint64_t) (-(number + 1)) + 1 : (uint64_t) number;
        snprintf (buf, size, "%s%" PRIu64 ".%02" PRIu64, number < 0 ? "-" : "", fen / 100,
                  fen % 100);
        return true;
    }
    if (strcmp (filter, "count") == 0
        && (o->type == MSGPACK_OBJECT_ARRAY || o->type == MSGPACK_OBJECT_MAP)) {
        snprintf (buf, size, "%" PRIu32,
                  o->type == MSGPACK_OBJECT_ARRAY ? o->via.array.size : o->via.map.size);
        return true;
    }
    char value[NOTIFY_NAME_MAX];
    if (strcmp (filter, "label") == 0 && sq_obj_str_copy (o, value, sizeof value) == 0) {
        const char *label = notify_label (value);
        if (label)
            snprintf (buf, size, "%s", label);
        return label != NULL;
    }
    return false;
}

//  Writes a value as text: strings as they are, numbers in decimal, nil as nothing, a list
//  or a map as JSON, bytes and extensions not at all.
static void
s_emit_object (s_writer_t *w, const msgpack_object *o, const char *filter)
{
    char buf[S_NUMBER_MAX];
    if (filter[0] && s_filtered (o, filter, buf, sizeof buf)) {
        s_emit_value (w, buf, strlen (buf));
        return;
    }
    switch (o->type) {
    case MSGPACK_OBJECT_STR:
        s_emit_value (w, o->via.str.ptr, o->via.str.size);
        return;
    case MSGPACK_OBJECT_BOOLEAN:
        s_emit_value (w, o->via.boolean ? "true" : "false", o->via.boolean ? 4 : 5);
        return;
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        snprintf (buf, sizeof buf, "%" PRIu64, o->via.u64);
        break;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        snprintf (buf, sizeof buf, "%" PRId64, o->via.i64);
        break;
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        snprintf (buf, sizeof buf, "%g", o->via.f64);
        break;
    case MSGPACK_OBJECT_ARRAY:
    case MSGPACK_OBJECT_MAP: {
        char *json = sq_json_from_msgpack (o);
        if (json)
            s_emit_value (w, json, strlen (json));
        free (json);
        return;
    }
    default:
        return;
    }
    s_emit_value (w, buf, strlen (buf));
}

int
notify_template_render (const char *text, const sq_envelope_t *env, notify_escape_t escape,
                        size_t chars_max, char *out, size_t out_size, bool *truncated,
                        sq_error_t *err)
{
    assert (out_size > S_ELLIPSIS_LEN);
    s_writer_t w = {.out = out, .size = out_size, .chars_max = chars_max, .escape = escape};
    out[0] = 0;
    *truncated = false;
    size_t len = strnlen (text, NOTIFY_TEMPLATE_MAX + 1);
    if (len > NOTIFY_TEMPLATE_MAX)
        return sq_error_set (err, SQ_ERR_INVALID, "template", "template is longer than %d bytes",
                             NOTIFY_TEMPLATE_MAX);
    for (size_t at = 0; at < len && !w.full;) {
        size_t literal = at;
        while (literal < len && !(text[literal] == '{' && s_name_start (text[literal + 1])))
            literal++;
        s_emit_literal (&w, text + at, literal - at);
        if (literal == len)
            break;
        char name[NOTIFY_NAME_MAX], filter[NOTIFY_NAME_MAX];
        if (s_placeholder (text, literal, "template", name, filter, &at, err))
            return -1;
        msgpack_object value = s_lookup (env, name);
        s_emit_object (&w, &value, filter);
    }
    if (w.full && escape == NOTIFY_ESCAPE_JSON)
        return sq_error_set (err, SQ_ERR_INVALID, "template",
                             "rendered JSON is longer than %zu bytes", out_size - 1);
    *truncated = w.full;
    return 0;
}

int
notify_message_render (const notify_template_t *tmpl, notify_channel_t channel,
                       const sq_envelope_t *env, notify_message_t *message, sq_error_t *err)
{
    assert (channel >= 0 && channel < NOTIFY_CHANNEL_COUNT);
    message->subject[0] = 0;
    message->body[0] = 0;
    message->truncated = false;
    if (!tmpl->body)
        return sq_error_set (err, SQ_ERR_INVALID, "body", "template of %s has no body",
                             tmpl->type ? tmpl->type : "an event");
    bool cut = false;
    if (channel == NOTIFY_EMAIL && tmpl->subject) {
        if (notify_template_render (tmpl->subject, env, NOTIFY_ESCAPE_LINE,
                                    NOTIFY_SUBJECT_CHARS_MAX, message->subject,
                                    sizeof message->subject, &cut, err))
            return -1;
        message->truncated = cut;
    }
    notify_escape_t escape = channel == NOTIFY_SMS       ? NOTIFY_ESCAPE_LINE
                             : channel == NOTIFY_WEBHOOK ? NOTIFY_ESCAPE_JSON
                                                         : NOTIFY_ESCAPE_TEXT;
    size_t chars_max = channel == NOTIFY_SMS ? NOTIFY_SMS_CHARS_MAX : 0;
    if (notify_template_render (tmpl->body, env, escape, chars_max, message->body,
                                sizeof message->body, &cut, err))
        return -1;
    message->truncated = message->truncated || cut;
    return 0;
}

int
notify_template_default (const char *type, notify_channel_t channel, notify_template_t *tmpl)
{
    if (channel == NOTIFY_WEBHOOK)
        return -1; //  a department's system gets the event itself
    for (size_t i = 0; i < S_DEFAULT_COUNT; i++)
        if (strcmp (type, s_defaults[i].type) == 0) {
            *tmpl = (notify_template_t) {
                .type = s_defaults[i].type,
                .subject = channel == NOTIFY_EMAIL ? s_defaults[i].subject : NULL,
                .body = s_defaults[i].body};
            return 0;
        }
    return -1;
}

int
notify_template_default_count (void)
{
    return (int) S_DEFAULT_COUNT;
}

const char *
notify_template_default_type (int index)
{
    return index >= 0 && index < (int) S_DEFAULT_COUNT ? s_defaults[index].type : NULL;
}
