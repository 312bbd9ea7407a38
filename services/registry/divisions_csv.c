/*  divisions_csv: a strict reader of the divisions file (see divisions_csv.h).

    Two passes: the first reads records one by one (an RFC 4180 state machine over a read
    buffer) and checks each row on its own; the second indexes the rows by code, which finds
    duplicates, then checks that every parent exists and gives communities their kind. */
#include "divisions_csv.h"

#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REGISTRY_DIVISIONS_FIELDS 4        //  code, name, level, parent_code
#define REGISTRY_DIVISIONS_CHUNK 65536     //  bytes read from the file at a time
#define REGISTRY_DIVISIONS_ROWS_FIRST 1024 //  rows allocated before the first growth
#define REGISTRY_DIVISIONS_ECHO_MAX 24     //  longest field value quoted in a message
#define REGISTRY_SLOT_FREE UINT32_MAX      //  an empty slot of the code index
#define REGISTRY_FNV_OFFSET 2166136261u    //  FNV-1a 32-bit offset basis
#define REGISTRY_FNV_PRIME 16777619u       //  FNV-1a 32-bit prime
#define REGISTRY_KIND_COUNT 3              //  village, urban and rural community

static const char *const s_header[REGISTRY_DIVISIONS_FIELDS] = {"code", "name", "level",
                                                                "parent_code"};
static const char s_bom[] = "\xef\xbb\xbf";

struct registry_divisions {
    registry_division_t *rows;                 //  in file order
    size_t count;                              //  rows in use
    size_t capacity;                           //  rows allocated
    uint32_t *slots;                           //  open-addressing index: row or FREE
    size_t slot_count;                         //  a power of two, at least 2 * count
    size_t level_counts[REGISTRY_LEVEL_COUNT]; //  rows per level
    size_t kind_counts[REGISTRY_KIND_COUNT];   //  communities per kind, as in s_kinds
};

static const char *const s_kinds[REGISTRY_KIND_COUNT] = {
    REGISTRY_KIND_VILLAGE, REGISTRY_KIND_URBAN_COMMUNITY, REGISTRY_KIND_RURAL_COMMUNITY};

//  One record as read: fields NUL-separated in text. A record holds at most LINE_MAX raw
//  bytes and adds one terminator per field, so text cannot overflow at twice that.
typedef struct {
    char text[2 * REGISTRY_DIVISIONS_LINE_MAX + 2]; //  field bytes, each field terminated
    size_t used;                                    //  bytes of text in use
    size_t field_start;                             //  offset of the field being read
    const char *fields[REGISTRY_DIVISIONS_FIELDS];  //  the first fields, into text
    size_t field_count;                             //  fields seen, may exceed FIELDS
    size_t bytes;                                   //  raw bytes of the record
    uint32_t line;                                  //  line the record starts on
} s_record_t;

//  The file being read, through a buffer of its own.
typedef struct {
    FILE *file;                                    //  open for reading
    const char *path;                              //  for messages
    unsigned char chunk[REGISTRY_DIVISIONS_CHUNK]; //  bytes read ahead
    size_t size;                                   //  bytes in chunk
    size_t at;                                     //  next byte of chunk
    uint32_t line;                                 //  current line, from 1
    bool failed;                                   //  a read error happened
    int error;                                     //  errno of the failed read
    s_record_t record;                             //  the record being read
} s_reader_t;

//  Returns the next byte of the file, or EOF at its end or on a read error (failed set).
static int
s_reader_get (s_reader_t *reader)
{
    if (reader->at == reader->size) {
        reader->size = fread (reader->chunk, 1, sizeof reader->chunk, reader->file);
        reader->at = 0;
        if (reader->size == 0) {
            if (ferror (reader->file)) {
                reader->failed = true;
                reader->error = errno;
            }
            return EOF;
        }
    }
    return reader->chunk[reader->at++];
}

static void
s_record_reset (s_record_t *record, uint32_t line)
{
    record->used = 0;
    record->field_start = 0;
    record->field_count = 0;
    record->bytes = 0;
    record->line = line;
}

static void
s_record_append (s_record_t *record, int c)
{
    assert (record->used < sizeof record->text - 1);
    record->text[record->used++] = (char) c;
}

static void
s_record_field_end (s_record_t *record)
{
    record->text[record->used++] = 0;
    if (record->field_count < REGISTRY_DIVISIONS_FIELDS)
        record->fields[record->field_count] = record->text + record->field_start;
    record->field_count++;
    record->field_start = record->used;
}

//  Sets err to `invalid` on field path with the message "line <line>: <what>".
static int s_fault (sq_error_t *err, uint32_t line, const char *format, ...)
    __attribute__ ((format (printf, 3, 4)));

static int
s_fault (sq_error_t *err, uint32_t line, const char *format, ...)
{
    char what[SQ_ERROR_MESSAGE_MAX];
    va_list ap;
    va_start (ap, format);
    vsnprintf (what, sizeof what, format, ap);
    va_end (ap);
    return sq_error_set (err, SQ_ERR_INVALID, "path", "line %u: %s", line, what);
}

//  The states of the record reader.
typedef enum {
    S_FIELD_START, //  nothing of the field read yet
    S_UNQUOTED,    //  inside a field without quotes
    S_QUOTED,      //  inside quotes
    S_QUOTE_SEEN   //  a quote inside quotes: the end, or the first of a doubled quote
} s_state_t;

//  Handles the end of the file inside a record. Returns 1 with a record, 0 when the file
//  ended between records, -1 with err.
static int
s_record_at_end (s_reader_t *reader, s_state_t state, uint32_t quote_line, sq_error_t *err)
{
    if (reader->failed)
        return sq_error_set (err, SQ_ERR_INVALID, "path", "could not read %s: %s",
                             reader->path, strerror (reader->error));
    if (state == S_QUOTED)
        return s_fault (err, quote_line, "quoted field is not closed before the end of the file");
    if (reader->record.bytes == 0)
        return 0;
    s_record_field_end (&reader->record);
    return 1;
}

//  Reads one record. Returns 1 with reader->record filled, 0 at the end of the file, -1 with
//  err. NB: line counts physical lines, so a quoted newline moves it on within a record.
static int
s_record_read (s_reader_t *reader, sq_error_t *err)
{
    s_record_t *record = &reader->record;
    s_record_reset (record, reader->line);
    s_state_t state = S_FIELD_START;
    uint32_t quote_line = 0;
    for (;;) {
        int c = s_reader_get (reader);
        if (c == EOF) return s_record_at_end (reader, state, quote_line, err);
        if (++record->bytes > REGISTRY_DIVISIONS_LINE_MAX)
            return s_fault (err, record->line, "record is longer than %d bytes",
                            REGISTRY_DIVISIONS_LINE_MAX);
        if (c == 0) return s_fault (err, reader->line, "holds a NUL byte");
        if (c == '\n') reader->line++;
        if (state == S_QUOTED) {
            if (c == '"') state = S_QUOTE_SEEN;
            else s_record_append (record, c);
            continue;
        }
        if (state == S_QUOTE_SEEN && c == '"') {
            s_record_append (record, c);
            state = S_QUOTED;
        } else if (c == ',') {
            s_record_field_end (record);
            state = S_FIELD_START;
        } else if (c == '\n' || c == '\r') {
            if (c == '\r' && s_reader_get (reader) != '\n')
                return s_fault (err, reader->line, "carriage return without a line feed");
            if (c == '\r') reader->line++;
            s_record_field_end (record);
            return 1;
        } else if (c == '"' && state == S_FIELD_START) {
            state = S_QUOTED;
            quote_line = reader->line;
        } else if (c == '"') {
            return s_fault (err, reader->line, "quote inside an unquoted field");
        } else if (state == S_QUOTE_SEEN) {
            return s_fault (err, reader->line, "text after the closing quote of a field");
        } else {
            s_record_append (record, c);
            state = S_UNQUOTED;
        }
    }
}

//  True when text is short printable ASCII, safe to quote in a message.
static bool
s_echoable (const char *text)
{
    size_t len = strnlen (text, REGISTRY_DIVISIONS_ECHO_MAX + 1);
    if (len > REGISTRY_DIVISIONS_ECHO_MAX)
        return false;
    for (size_t i = 0; i < len; i++)
        if (text[i] < ' ' || text[i] > '~') return false;
    return true;
}

static bool
s_all_digits (const char *text)
{
    for (; *text; text++)
        if (*text < '0' || *text > '9') return false;
    return true;
}

//  Checks the header record.
static int
s_header_check (const s_record_t *record, sq_error_t *err)
{
    if (record->field_count >= 1
        && strncmp (record->fields[0], s_bom, sizeof s_bom - 1) == 0)
        return s_fault (err, 1, "file starts with a byte order mark, save it as UTF-8 "
                        "without BOM");
    bool exact = record->field_count == REGISTRY_DIVISIONS_FIELDS;
    for (size_t i = 0; exact && i < REGISTRY_DIVISIONS_FIELDS; i++)
        exact = strcmp (record->fields[i], s_header[i]) == 0;
    if (!exact)
        return s_fault (err, record->line, "header must be code,name,level,parent_code");
    return 0;
}

//  Checks the code and level fields; fills row->code and row->level.
static int
s_code_check (const s_record_t *record, registry_division_t *row, sq_error_t *err)
{
    const char *code = record->fields[0];
    const char *level = record->fields[2];
    if (!*code) return s_fault (err, record->line, "code is empty");
    if (!s_all_digits (code)) return s_fault (err, record->line, "code must hold only digits");
    if (registry_level_parse (level, &row->level) != 0) {
        if (s_echoable (level))
            return s_fault (err, record->line, "level \"%s\" is not one of province, city, "
                            "district, street, community", level);
        return s_fault (err, record->line, "level is not one of province, city, district, "
                        "street, community");
    }
    size_t len = strlen (code);
    size_t len_needed = registry_level_code_len (row->level);
    if (!s_echoable (code)) //  too long to quote
        return s_fault (err, record->line, "code has %zu digits, level %s needs %zu", len,
                        level, len_needed);
    if (len != len_needed)
        return s_fault (err, record->line, "code %s has %zu digits, level %s needs %zu", code,
                        len, level, len_needed);
    memcpy (row->code, code, len + 1);
    return 0;
}

//  Checks the name field: not empty, valid UTF-8, no control characters, at most
//  REGISTRY_DIVISION_NAME_MAX bytes. Fills row->name.
static int
s_name_check (const s_record_t *record, registry_division_t *row, sq_error_t *err)
{
    const char *name = record->fields[1];
    size_t len = strlen (name);
    if (len == 0) return s_fault (err, record->line, "name of %s is empty", row->code);
    if (len > REGISTRY_DIVISION_NAME_MAX)
        return s_fault (err, record->line, "name of %s is longer than %d bytes", row->code,
                        REGISTRY_DIVISION_NAME_MAX);
    if (!sq_utf8_valid (name, len))
        return s_fault (err, record->line, "name of %s is not valid UTF-8", row->code);
    for (size_t i = 0; i < len; i++)
        if ((unsigned char) name[i] < ' ' || name[i] == 0x7f)
            return s_fault (err, record->line, "name of %s holds a control character",
                            row->code);
    memcpy (row->name, name, len + 1);
    return 0;
}

//  Checks the parent_code field: empty for a province; otherwise the code of the level one
//  up, and a prefix of the row's code. Fills row->parent_code.
static int
s_parent_check (const s_record_t *record, registry_division_t *row, sq_error_t *err)
{
    const char *parent = record->fields[3];
    const char *level = registry_level_name (row->level);
    size_t len = strlen (parent);
    if (row->level == REGISTRY_LEVEL_PROVINCE) {
        if (len == 0) return 0;
        return s_fault (err, record->line, "province %s must have an empty parent_code",
                        row->code);
    }
    if (len == 0)
        return s_fault (err, record->line, "parent_code of %s %s is missing", level, row->code);
    registry_level_t up = (registry_level_t) (row->level - 1);
    size_t len_needed = registry_level_code_len (up);
    if (len != len_needed || !s_all_digits (parent)) {
        if (s_echoable (parent))
            return s_fault (err, record->line, "parent_code \"%s\" of %s %s must be the "
                            "%zu-digit code of a %s", parent, level, row->code, len_needed,
                            registry_level_name (up));
        return s_fault (err, record->line, "parent_code of %s %s must be the %zu-digit code "
                        "of a %s", level, row->code, len_needed, registry_level_name (up));
    }
    if (strncmp (row->code, parent, len) != 0)
        return s_fault (err, record->line, "code %s does not start with its parent_code %s",
                        row->code, parent);
    memcpy (row->parent_code, parent, len + 1);
    return 0;
}

//  Checks one data record on its own and fills row.
static int
s_row_parse (const s_record_t *record, registry_division_t *row, sq_error_t *err)
{
    memset (row, 0, sizeof *row);
    row->line = record->line;
    if (record->field_count == 1 && record->bytes <= 2 && !*record->fields[0])
        return s_fault (err, record->line, "empty line");
    if (record->field_count != REGISTRY_DIVISIONS_FIELDS)
        return s_fault (err, record->line, "has %zu fields, expected 4 "
                        "(code,name,level,parent_code)", record->field_count);
    if (s_code_check (record, row, err) != 0 || s_name_check (record, row, err) != 0
        || s_parent_check (record, row, err) != 0)
        return -1;
    return 0;
}

//  Makes room for one more row. Returns 0, or -1 with err at the row limit or out of memory.
static int
s_rows_grow (registry_divisions_t *self, uint32_t line, sq_error_t *err)
{
    if (self->count < self->capacity)
        return 0;
    if (self->count >= REGISTRY_DIVISIONS_ROWS_MAX)
        return s_fault (err, line, "more than %d rows", REGISTRY_DIVISIONS_ROWS_MAX);
    size_t capacity = self->capacity ? 2 * self->capacity : REGISTRY_DIVISIONS_ROWS_FIRST;
    if (capacity > REGISTRY_DIVISIONS_ROWS_MAX)
        capacity = REGISTRY_DIVISIONS_ROWS_MAX;
    registry_division_t *rows = realloc (self->rows, capacity * sizeof *rows);
    if (!rows)
        return sq_error_set (err, SQ_ERR_INTERNAL, "path",
                             "could not read divisions: out of memory at line %u", line);
    self->rows = rows;
    self->capacity = capacity;
    return 0;
}

//  Reads the header and every row, each checked on its own.
static int
s_rows_read (registry_divisions_t *self, s_reader_t *reader, sq_error_t *err)
{
    int rc = s_record_read (reader, err);
    if (rc < 0)
        return -1;
    if (rc == 0)
        return s_fault (err, 1, "file is empty, expected the header "
                        "code,name,level,parent_code");
    if (s_header_check (&reader->record, err) != 0)
        return -1;
    while ((rc = s_record_read (reader, err)) == 1) {
        if (s_rows_grow (self, reader->record.line, err) != 0
            || s_row_parse (&reader->record, &self->rows[self->count], err) != 0)
            return -1;
        self->level_counts[self->rows[self->count].level]++;
        self->count++;
    }
    return rc;
}

static uint32_t
s_code_hash (const char *code)
{
    uint32_t hash = REGISTRY_FNV_OFFSET;
    for (; *code; code++)
        hash = (hash ^ (uint8_t) *code) * REGISTRY_FNV_PRIME;
    return hash;
}

//  Returns the slot holding code, or the free slot where it would go.
static size_t
s_slot_find (const registry_divisions_t *self, const char *code)
{
    size_t mask = self->slot_count - 1;
    size_t slot = s_code_hash (code) & mask;
    //  Terminates: the index is at most half full.
    while (self->slots[slot] != REGISTRY_SLOT_FREE
           && strcmp (self->rows[self->slots[slot]].code, code) != 0)
        slot = (slot + 1) & mask;
    return slot;
}

//  Indexes every row by code; a code seen twice is a fault.
static int
s_index_build (registry_divisions_t *self, sq_error_t *err)
{
    self->slot_count = 2;
    while (self->slot_count < 2 * self->count)
        self->slot_count *= 2;
    self->slots = malloc (self->slot_count * sizeof *self->slots);
    if (!self->slots)
        return sq_error_set (err, SQ_ERR_INTERNAL, "path",
                             "could not index divisions: out of memory");
    memset (self->slots, 0xff, self->slot_count * sizeof *self->slots);
    for (size_t i = 0; i < self->count; i++) {
        const registry_division_t *row = &self->rows[i];
        size_t slot = s_slot_find (self, row->code);
        if (self->slots[slot] != REGISTRY_SLOT_FREE)
            return s_fault (err, row->line, "code %s appears again (first on line %u)",
                            row->code, self->rows[self->slots[slot]].line);
        self->slots[slot] = (uint32_t) i;
    }
    return 0;
}

//  Checks that every parent is in the file, and gives each community its kind.
static int
s_parents_link (registry_divisions_t *self, sq_error_t *err)
{
    for (size_t i = 0; i < self->count; i++) {
        registry_division_t *row = &self->rows[i];
        if (row->level == REGISTRY_LEVEL_PROVINCE)
            continue;
        const registry_division_t *parent = registry_divisions_find (self, row->parent_code);
        if (!parent)
            return s_fault (err, row->line, "parent_code %s of %s %s is not in the file",
                            row->parent_code, registry_level_name (row->level), row->code);
        if (row->level != REGISTRY_LEVEL_COMMUNITY)
            continue;
        row->kind = registry_community_kind (row->name, parent->name);
        for (size_t k = 0; k < REGISTRY_KIND_COUNT; k++)
            if (strcmp (row->kind, s_kinds[k]) == 0) self->kind_counts[k]++;
    }
    return 0;
}

registry_divisions_t *
registry_divisions_csv_read (const char *path, sq_error_t *err)
{
    assert (path && err);
    registry_divisions_t *self = calloc (1, sizeof *self);
    s_reader_t *reader = calloc (1, sizeof *reader);
    if (!self || !reader) {
        sq_error_set (err, SQ_ERR_INTERNAL, "path", "could not read divisions: out of memory");
        goto fail;
    }
    reader->path = path;
    reader->line = 1;
    reader->file = fopen (path, "rb");
    if (!reader->file) {
        sq_error_set (err, SQ_ERR_INVALID, "path", "could not open %s: %s", path,
                      strerror (errno));
        goto fail;
    }
    if (s_rows_read (self, reader, err) != 0 || s_index_build (self, err) != 0
        || s_parents_link (self, err) != 0)
        goto fail;
    fclose (reader->file);
    free (reader);
    return self;
fail:
    if (reader && reader->file)
        fclose (reader->file);
    free (reader);
    registry_divisions_destroy (&self);
    return NULL;
}

void
registry_divisions_destroy (registry_divisions_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        free ((*self_p)->rows);
        free ((*self_p)->slots);
        free (*self_p);
        *self_p = NULL;
    }
}

size_t
registry_divisions_count (const registry_divisions_t *self)
{
    assert (self);
    return self->count;
}

const registry_division_t *
registry_divisions_row (const registry_divisions_t *self, size_t index)
{
    assert (self && index < self->count);
    return &self->rows[index];
}

const registry_division_t *
registry_divisions_find (const registry_divisions_t *self, const char *code)
{
    assert (self && code);
    if (!self->slots)
        return NULL;
    size_t slot = s_slot_find (self, code);
    return self->slots[slot] == REGISTRY_SLOT_FREE ? NULL : &self->rows[self->slots[slot]];
}

size_t
registry_divisions_level_count (const registry_divisions_t *self, registry_level_t level)
{
    assert (self && level >= 0 && level < REGISTRY_LEVEL_COUNT);
    return self->level_counts[level];
}

size_t
registry_divisions_kind_count (const registry_divisions_t *self, const char *kind)
{
    assert (self && kind);
    for (size_t k = 0; k < REGISTRY_KIND_COUNT; k++)
        if (strcmp (kind, s_kinds[k]) == 0) return self->kind_counts[k];
    return 0;
}
