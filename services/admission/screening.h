/*  screening: the admission rules of DOMAIN.md section 3, as a pure function of an
    application and the catalogue item it names (as the catalogue stood at submission).
    Every reason names its rule and the seed clause it comes from, so a department can read
    why and a community office can cite it. No I/O, no state: unit-tested rule by rule. */
#ifndef ADMISSION_SCREENING_H
#define ADMISSION_SCREENING_H

#include <stdbool.h>
#include <stdint.h>

#define ADMISSION_REASONS_MAX 12 //  more than the rules there are: every reason fits

//  What a department asks communities to do.
typedef enum {
    ADMISSION_KIND_TASK = 0,
    ADMISSION_KIND_INSPECTION,               //  inspections and evaluations
    ADMISSION_KIND_CERTIFICATE,              //  asking the community to certify something
    ADMISSION_KIND_RESPONSIBILITY_AGREEMENT, //  target-responsibility agreement
    ADMISSION_KIND_VETO_ITEM,                //  "one-vote veto" item
    ADMISSION_KIND_WORK_BODY,                //  a body or nameplate in the community
    ADMISSION_KIND_MEETING,
    ADMISSION_KIND_REPORT,                   //  forms, ledgers, reports
    ADMISSION_KIND_COUNT
} admission_kind_t;

//  Subjects of the negative list (LF 4.4), or none.
typedef enum {
    ADMISSION_SUBJECT_NONE = 0,
    ADMISSION_SUBJECT_INVESTMENT_ATTRACTION,
    ADMISSION_SUBJECT_TAX_ASSISTANCE,
    ADMISSION_SUBJECT_REVENUE_GENERATION,
    ADMISSION_SUBJECT_LAW_ENFORCEMENT,
    ADMISSION_SUBJECT_DEMOLITION,
    ADMISSION_SUBJECT_ENVIRONMENT_RECTIFICATION,
    ADMISSION_SUBJECT_CITY_MANAGEMENT,
    ADMISSION_SUBJECT_COUNT
} admission_subject_t;

//  The two catalogues of a county (LF 2.2, LF 4.4).
typedef enum {
    ADMISSION_LIST_NONE = 0,          //  the application names no catalogue item
    ADMISSION_LIST_SELF_GOVERNANCE,   //  the community's own affairs
    ADMISSION_LIST_ASSIST_GOVERNMENT  //  where the community assists the government
} admission_list_t;

//  What screening needs of an application.
typedef struct {
    admission_kind_t kind;
    admission_subject_t subject;
    admission_list_t list;        //  list of the named catalogue item, NONE when none
    int64_t funds_per_community;  //  fen; 0 when none offered
    bool staff_support;           //  professional staff come with the work
    bool decision_ref;            //  a higher party committee's or government's decision
} admission_application_t;

//  Where screening sends an application.
typedef enum {
    ADMISSION_OUTCOME_REJECTED = 0,   //  never admitted: the reasons say why
    ADMISSION_OUTCOME_INCOMPLETE,     //  admissible once what is missing is supplied
    ADMISSION_OUTCOME_REVIEW,         //  to the county community office for approval
    ADMISSION_OUTCOME_DELIBERATION    //  temporary work: "one matter, one deliberation"
} admission_outcome_t;

//  How admitted work is carried, when it is.
typedef enum {
    ADMISSION_TRACK_NONE = 0,
    ADMISSION_TRACK_CATALOGUE,        //  an assist_government item, funds and staff with it
    ADMISSION_TRACK_PURCHASED_SERVICE, //  outside the catalogues: bought, agreement follows
    ADMISSION_TRACK_DELIBERATION      //  decided by a higher authority, deliberated once
} admission_track_t;

//  One reason: a stable rule code, the seed clause, and a sentence for people.
typedef struct {
    const char *rule;    //  e.g. "negative_list" (static)
    const char *seed;    //  e.g. "LF 4.4" (static)
    const char *field;   //  the application field concerned (static)
    const char *message; //  lower case, no final period (static)
} admission_reason_t;

typedef struct {
    admission_outcome_t outcome;
    admission_track_t track;
    int reason_count;
    admission_reason_t reasons[ADMISSION_REASONS_MAX];
} admission_screening_t;

//  Screens an application. Every rule is applied and every reason kept: rejections first,
//  then what is missing. Never fails.
void admission_screen (const admission_application_t *application,
                       admission_screening_t *result);

//  Names as the wire spells them (static); parse returns -1 for an unknown name.
const char *admission_kind_name (admission_kind_t kind);
int admission_kind_parse (const char *name, admission_kind_t *kind);
const char *admission_subject_name (admission_subject_t subject);
int admission_subject_parse (const char *name, admission_subject_t *subject);
const char *admission_outcome_name (admission_outcome_t outcome);
const char *admission_track_name (admission_track_t track);

#endif
