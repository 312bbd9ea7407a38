/*  sq_identity: resident identity numbers (GB 11643-1999) and mainland mobile phone numbers.

    Pure functions: they check and normalise what a user typed, derive sex and birth date,
    and mask values for events and for readers who may not see them in full (DESIGN.md). */
#ifndef SQ_IDENTITY_H
#define SQ_IDENTITY_H

#include "sq_codec.h"

#include <stdbool.h>
#include <stdint.h>

#define SQ_ID_NUMBER_LEN 18          //  characters of an identity number
#define SQ_ID_NUMBER_SIZE 19         //  with the terminator
#define SQ_ID_DIVISION_SIZE 7        //  6-digit division code and the terminator
#define SQ_BIRTH_DATE_SIZE 11        //  YYYY-MM-DD and the terminator
#define SQ_BIRTH_YEAR_MIN 1900       //  earliest birth year accepted
#define SQ_PHONE_LEN 11              //  digits of a normalised mobile number
#define SQ_PHONE_SIZE 12             //  with the terminator
#define SQ_PHONE_INPUT_MAX 32        //  longest phone accepted as typed, bytes

//  What an identity number tells about its holder.
typedef struct {
    bool male;                                    //  odd 17th digit
    const char *sex;                              //  "male" or "female" (static)
    char birth_date[SQ_BIRTH_DATE_SIZE];    //  YYYY-MM-DD
    int birth_year;                               //  1900 ...
    int birth_month;                              //  1-12
    int birth_day;                                //  1-31
    char division[SQ_ID_DIVISION_SIZE];     //  division code of first registration
} sq_id_info_t;

//  Checks an identity number as typed: 18 characters, 17 digits, a plausible division
//  prefix (a real province), a real birth date from 1900-01-01 to the UTC date at now_us
//  (0 or less: the current time), and the ISO 7064 MOD 11-2 check character. Returns 0
//  with the number in out (lower-case x made upper-case) and info filled (info may be
//  NULL), or -1 with err set (`invalid`, field `id_number`, saying which check failed).
int sq_id_number_check (const char *in, int64_t now_us,
                              char out[SQ_ID_NUMBER_SIZE], sq_id_info_t *info,
                              sq_error_t *err);

//  Returns the check character ('0'-'9' or 'X') for the first 17 digits of digits17.
char sq_id_number_check_char (const char *digits17);

//  Checks a mainland mobile number: an optional +86 or 0086 prefix, spaces and hyphens
//  anywhere (dropped), then 11 digits in an allocated 1[3-9]x range. Returns 0 with the
//  11 digits in out, or -1 with err set (`invalid`, field `phone`).
int sq_phone_check (const char *in, char out[SQ_PHONE_SIZE], sq_error_t *err);

//  Masks a normalised identity number: first 3 and last 4 characters kept, 11 stars
//  between (`110***********002X`). Anything not 18 characters long becomes 18 stars.
void sq_mask_id_number (const char *id_number, char out[SQ_ID_NUMBER_SIZE]);

//  Masks a normalised phone: `138****5678`. Anything not 11 characters becomes 11 stars.
void sq_mask_phone (const char *phone, char out[SQ_PHONE_SIZE]);

#endif
