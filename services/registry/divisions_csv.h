/*  divisions_csv: reads and checks the divisions file (../shared/data/divisions/README.md).

    The file is `code,name,level,parent_code`, UTF-8, RFC 4180 quoting, LF or CRLF. Reading
    is strict: the first fault stops it, and the message names the line. Memory is bounded
    by REGISTRY_DIVISIONS_ROWS_MAX rows of fixed size. */
#ifndef REGISTRY_DIVISIONS_CSV_H
#define REGISTRY_DIVISIONS_CSV_H

#include "rules.h"
#include "sq_codec.h"

#include <stddef.h>
#include <stdint.h>

#define REGISTRY_DIVISIONS_ROWS_MAX 1000000 //  rows accepted (all of China has ~700,000)
#define REGISTRY_DIVISIONS_LINE_MAX 1024    //  longest record, bytes
#define REGISTRY_DIVISION_NAME_MAX 200      //  longest name, bytes
#define REGISTRY_DIVISION_NAME_SIZE 201     //  with the terminator

//  One row of the file.
typedef struct {
    char code[REGISTRY_DIVISION_CODE_SIZE];        //  digits, as long as the level needs
    char name[REGISTRY_DIVISION_NAME_SIZE];        //  official name, valid UTF-8
    registry_level_t level;                        //  province ... community
    char parent_code[REGISTRY_DIVISION_CODE_SIZE]; //  "" for provinces
    const char *kind;                              //  communities: REGISTRY_KIND_*; else NULL
    uint32_t line;                                 //  line of the file the row starts on
} registry_division_t;

//  The rows of one file, in file order, with an index by code.
typedef struct registry_divisions registry_divisions_t;

//  Reads and checks the file at path. Returns the rows, or NULL with err set: `invalid`,
//  field `path`, the message naming the line and the fault (`line 17: code 13100200101 has
//  11 digits, level community needs 12`), or the path and strerror when the file cannot
//  be read. Parents may come before or after their children.
registry_divisions_t *registry_divisions_csv_read (const char *path, sq_error_t *err);

//  Frees the rows and nulls the caller's pointer; accepts NULL.
void registry_divisions_destroy (registry_divisions_t **self_p);

//  Returns the number of rows.
size_t registry_divisions_count (const registry_divisions_t *self);

//  Returns row index (0 to count - 1), borrowed from self.
const registry_division_t *registry_divisions_row (const registry_divisions_t *self,
                                                   size_t index);

//  Returns the row with this code, or NULL (borrowed from self).
const registry_division_t *registry_divisions_find (const registry_divisions_t *self,
                                                    const char *code);

//  Returns the number of rows at level.
size_t registry_divisions_level_count (const registry_divisions_t *self,
                                       registry_level_t level);

//  Returns the number of communities of kind (one of the REGISTRY_KIND_ strings).
size_t registry_divisions_kind_count (const registry_divisions_t *self, const char *kind);

#endif
