/*  mail: message formatting for the e-mail channel (pure). */
#include "mail.h"

#include "schedule.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define S_HEADERS_MAX 4096 //  room for every header but the subject

bool
notify_mail_address_valid (const char *address)
{
    size_t len = strnlen (address, NOTIFY_MAIL_ADDRESS_MAX);
    const char *at = strchr (address, '@');
    if (len == 0 || len == NOTIFY_MAIL_ADDRESS_MAX || !at || at == address || !at[1]
        || strchr (at + 1, '@'))
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char) address[i];
        if (c <= ' ' || c == 0x7f || strchr ("<>(),;:\"\\[]", c))
            return false;
    }
    return true;
}

int
notify_mail_date (int64_t at_us, char out[NOTIFY_MAIL_DATE_SIZE])
{
    //  The local time of Asia/Shanghai is UTC+8 all year: shift, then read it as UTC.
    time_t local = (time_t) ((at_us + NOTIFY_CST_OFFSET_US) / NOTIFY_SECOND_US);
    struct tm tm;
    if (!gmtime_r (&local, &tm))
        return -1;
    static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    int n = snprintf (out, NOTIFY_MAIL_DATE_SIZE, "%s, %02d %s %04d %02d:%02d:%02d +0800",
                      days[tm.tm_wday], tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900,
                      tm.tm_hour, tm.tm_min, tm.tm_sec);
    return n > 0 && n < NOTIFY_MAIL_DATE_SIZE ? 0 : -1;
}

//  Length of the UTF-8 sequence that starts with byte c (1 for a stray byte).
static size_t
s_utf8_length (unsigned char c)
{
    return c >= 0xf0 && c < 0xf8 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
}

int
notify_mail_subject (const char *subject, char *out, size_t out_size)
{
    size_t len = strlen (subject);
    bool ascii = true;
    for (size_t i = 0; i < len; i++)
        ascii &= (unsigned char) subject[i] >= ' ' && (unsigned char) subject[i] < 0x7f;
    //  Plain ASCII that cannot be mistaken for an encoded word goes as it is.
    if (ascii && !strstr (subject, "=?")) {
        int n = snprintf (out, out_size, "%s", subject);
        return n >= 0 && (size_t) n < out_size ? 0 : -1;
    }
    size_t used = 0;
    for (size_t start = 0; start < len;) {
        //  Whole characters only: a word must decode to valid UTF-8 on its own.
        size_t end = start;
        while (end < len) {
            size_t step = s_utf8_length ((unsigned char) subject[end]);
            if (end + step > len)
                step = len - end;
            if (end - start + step > NOTIFY_MAIL_WORD_BYTES)
                break;
            end += step;
        }
        unsigned char chunk[NOTIFY_MAIL_WORD_BYTES];
        size_t chunk_len = end - start;
        memcpy (chunk, subject + start, chunk_len);
        for (size_t i = 0; i < chunk_len; i++)
            if (chunk[i] < ' ' || chunk[i] == 0x7f)
                chunk[i] = ' ';
        char b64[sodium_base64_ENCODED_LEN (NOTIFY_MAIL_WORD_BYTES,
                                            sodium_base64_VARIANT_ORIGINAL)];
        sodium_bin2base64 (b64, sizeof b64, chunk, chunk_len, sodium_base64_VARIANT_ORIGINAL);
        int n = snprintf (out + used, out_size - used, "%s=?UTF-8?B?%s?=", used ? "\r\n " : "",
                          b64);
        if (n < 0 || (size_t) n >= out_size - used)
            return -1;
        used += (size_t) n;
        start = end;
    }
    return 0;
}

//  The domain of an address (after its '@').
static const char *
s_domain (const char *address)
{
    const char *at = strchr (address, '@');
    return at ? at + 1 : "localhost";
}

char *
notify_mail_format (const notify_mail_t *mail, size_t *size)
{
    size_t body_len = strlen (mail->body);
    if (!notify_mail_address_valid (mail->from) || !notify_mail_address_valid (mail->to)
        || body_len > NOTIFY_MAIL_BODY_MAX)
        return NULL;
    char date[NOTIFY_MAIL_DATE_SIZE], subject[NOTIFY_MAIL_SUBJECT_MAX];
    if (notify_mail_date (mail->at_us, date) || notify_mail_subject (mail->subject, subject,
                                                                     sizeof subject))
        return NULL;
    size_t b64_size = sodium_base64_ENCODED_LEN (body_len, sodium_base64_VARIANT_ORIGINAL);
    size_t lines = b64_size / NOTIFY_MAIL_LINE_CHARS + 1;
    size_t total = S_HEADERS_MAX + sizeof subject + b64_size + lines * 2;
    char *b64 = malloc (b64_size);
    char *out = malloc (total);
    if (!b64 || !out) {
        free (b64);
        free (out);
        return NULL;
    }
    sodium_bin2base64 (b64, b64_size, (const unsigned char *) mail->body, body_len,
                       sodium_base64_VARIANT_ORIGINAL);
    int n = snprintf (out, total, "Date: %s\r\nFrom: <%s>\r\nTo: <%s>\r\nSubject: %s\r\n"
                      "Message-ID: <%s@%s>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain;"
                      " charset=UTF-8\r\nContent-Transfer-Encoding: base64\r\n"
                      "Auto-Submitted: auto-generated\r\n\r\n", date, mail->from, mail->to,
                      subject, mail->message_id, s_domain (mail->from));
    size_t used = n > 0 && (size_t) n < total ? (size_t) n : total;
    size_t b64_len = strlen (b64);
    for (size_t i = 0; used < total && i < b64_len; i += NOTIFY_MAIL_LINE_CHARS) {
        size_t take = b64_len - i < NOTIFY_MAIL_LINE_CHARS ? b64_len - i : NOTIFY_MAIL_LINE_CHARS;
        memcpy (out + used, b64 + i, take);
        memcpy (out + used + take, "\r\n", 2);
        used += take + 2;
    }
    free (b64);
    if (used >= total) { //  cannot happen with the sizes above; refuse rather than cut
        free (out);
        return NULL;
    }
    out[used] = '\0';
    *size = used;
    return out;
}

char *
notify_mail_dot_stuff (const char *text, size_t size, size_t *out_size)
{
    //  Worst case: every byte a line of "." (3 bytes → 4 + CRLF), plus the final CRLF.
    char *out = malloc (size * 3 + 3);
    if (!out)
        return NULL;
    size_t used = 0;
    bool line_start = true;
    for (size_t i = 0; i < size; i++) {
        char c = text[i];
        if (c == '\r' || c == '\n') {
            if (c == '\r' && i + 1 < size && text[i + 1] == '\n')
                i++;
            out[used++] = '\r';
            out[used++] = '\n';
            line_start = true;
            continue;
        }
        if (line_start && c == '.')
            out[used++] = '.';
        out[used++] = c;
        line_start = false;
    }
    if (!line_start || used == 0) {
        out[used++] = '\r';
        out[used++] = '\n';
    }
    out[used] = '\0';
    *out_size = used;
    return out;
}
