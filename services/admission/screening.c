/*  screening: the admission rules of DOMAIN.md section 3 (pure). */
#include "screening.h"

#include <string.h>

static const char *const s_kinds[ADMISSION_KIND_COUNT] = {
    "task", "inspection", "certificate", "responsibility_agreement", "veto_item", "work_body",
    "meeting", "report"};

static const char *const s_subjects[ADMISSION_SUBJECT_COUNT] = {
    "none", "investment_attraction", "tax_assistance", "revenue_generation", "law_enforcement",
    "demolition", "environment_rectification", "city_management"};

//  Why each negative-list subject is refused (LF 4.4), indexed by subject.
static const char *const s_subject_messages[ADMISSION_SUBJECT_COUNT] = {
    "",
    "investment attraction is on the negative list: communities do not attract investment",
    "tax assistance is on the negative list: communities do not assist in collecting taxes",
    "revenue generation is on the negative list: communities do not generate revenue",
    "a community is never a responsible party for comprehensive law enforcement",
    "a community is never a responsible party for demolition",
    "a community is never a responsible party for environmental rectification",
    "a community is never a responsible party for city management"};

static void
s_add (admission_screening_t *result, const char *rule, const char *seed, const char *field,
       const char *message)
{
    if (result->reason_count == ADMISSION_REASONS_MAX)
        return;
    result->reasons[result->reason_count++] = (admission_reason_t) {rule, seed, field, message};
}

//  The kinds of work never admitted, whatever comes with them (LF 4.4).
static void
s_reject_by_kind (const admission_application_t *a, admission_screening_t *result)
{
    switch (a->kind) {
    case ADMISSION_KIND_RESPONSIBILITY_AGREEMENT:
        s_add (result, "responsibility_agreement", "LF 4.4", "kind",
               "target-responsibility agreements are not signed with communities");
        break;
    case ADMISSION_KIND_VETO_ITEM:
        s_add (result, "veto_item", "LF 4.4", "kind",
               "one-vote veto items are not imposed on communities");
        break;
    case ADMISSION_KIND_WORK_BODY:
        s_add (result, "work_body", "LF 4.4", "kind",
               "no extra work bodies or nameplates are set up in communities");
        break;
    case ADMISSION_KIND_INSPECTION:
        s_add (result, "department_inspection", "LF 4.4", "kind",
               "departments do not inspect or evaluate communities separately: there is one"
               " unified county evaluation");
        break;
    case ADMISSION_KIND_CERTIFICATE:
        //  A certificate the county put in its assistance catalogue is the community's to
        //  issue; any other falls within the asking department's own remit.
        if (a->list != ADMISSION_LIST_ASSIST_GOVERNMENT)
            s_add (result, "certificate_in_remit", "LF 4.4", "kind",
                   "certificates within a department's own remit are not asked of communities");
        break;
    default:
        break;
    }
}

//  What an admissible application must bring. Sets track and outcome.
static void
s_admissible (const admission_application_t *a, admission_screening_t *result)
{
    if (a->list == ADMISSION_LIST_ASSIST_GOVERNMENT) {
        result->track = ADMISSION_TRACK_CATALOGUE;
        if (a->funds_per_community <= 0)
            s_add (result, "assist_needs_funds", "PZH 3.2.3", "funds_per_community",
                   "an assistance item must come with the necessary funds");
        if (!a->staff_support)
            s_add (result, "assist_needs_staff", "PZH 3.2.3", "staff_support",
                   "an assistance item must come with professional staff");
    } else if (a->decision_ref) {
        result->track = ADMISSION_TRACK_DELIBERATION;
    } else {
        result->track = ADMISSION_TRACK_PURCHASED_SERVICE;
        if (a->funds_per_community <= 0)
            s_add (result, "outside_catalogue_needs_funds", "LF 4.4, WP 2, ADV 5, DXAL 30",
                   "funds_per_community",
                   "work outside the catalogues is admitted only as a purchased service with"
                   " funds for every target community");
    }
    if (result->reason_count)
        result->outcome = ADMISSION_OUTCOME_INCOMPLETE;
    else if (result->track == ADMISSION_TRACK_DELIBERATION)
        result->outcome = ADMISSION_OUTCOME_DELIBERATION;
    else
        result->outcome = ADMISSION_OUTCOME_REVIEW;
}

void
admission_screen (const admission_application_t *a, admission_screening_t *result)
{
    memset (result, 0, sizeof *result);
    if (a->subject > ADMISSION_SUBJECT_NONE && a->subject < ADMISSION_SUBJECT_COUNT)
        s_add (result, "negative_list", "LF 4.4", "subject", s_subject_messages[a->subject]);
    s_reject_by_kind (a, result);
    if (a->list == ADMISSION_LIST_SELF_GOVERNANCE)
        s_add (result, "self_governance_item", "LF 2.2, LF 4.4", "catalog_item",
               "an item of the self-governance catalogue is the community's own affair and"
               " cannot be assigned by a department");
    if (result->reason_count) {
        result->outcome = ADMISSION_OUTCOME_REJECTED;
        result->track = ADMISSION_TRACK_NONE;
        return;
    }
    s_admissible (a, result);
}

const char *
admission_kind_name (admission_kind_t kind)
{
    return kind >= 0 && kind < ADMISSION_KIND_COUNT ? s_kinds[kind] : NULL;
}

int
admission_kind_parse (const char *name, admission_kind_t *kind)
{
    for (int i = 0; i < ADMISSION_KIND_COUNT; i++)
        if (strcmp (name, s_kinds[i]) == 0) {
            *kind = (admission_kind_t) i;
            return 0;
        }
    return -1;
}

const char *
admission_subject_name (admission_subject_t subject)
{
    return subject >= 0 && subject < ADMISSION_SUBJECT_COUNT ? s_subjects[subject] : NULL;
}

int
admission_subject_parse (const char *name, admission_subject_t *subject)
{
    //  "none" is the absence of a subject, not something a caller names.
    for (int i = 1; i < ADMISSION_SUBJECT_COUNT; i++)
        if (strcmp (name, s_subjects[i]) == 0) {
            *subject = (admission_subject_t) i;
            return 0;
        }
    return -1;
}

const char *
admission_outcome_name (admission_outcome_t outcome)
{
    static const char *const names[] = {"rejected", "incomplete", "review", "deliberation"};
    return outcome >= 0 && outcome <= ADMISSION_OUTCOME_DELIBERATION ? names[outcome] : NULL;
}

const char *
admission_track_name (admission_track_t track)
{
    static const char *const names[] = {"none", "catalogue", "purchased_service",
                                        "deliberation"};
    return track >= 0 && track <= ADMISSION_TRACK_DELIBERATION ? names[track] : NULL;
}
