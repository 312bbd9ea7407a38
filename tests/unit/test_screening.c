/*  admission screening, rule by rule (DOMAIN.md section 3, issue 4). */
#include "screening.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#define FUNDS 500000 //  5,000 yuan per community, in fen

//  A complete assistance application: admissible as it stands.
static admission_application_t
s_assist (void)
{
    return (admission_application_t) {.kind = ADMISSION_KIND_TASK,
                                       .list = ADMISSION_LIST_ASSIST_GOVERNMENT,
                                       .funds_per_community = FUNDS, .staff_support = true};
}

static bool
s_has (const admission_screening_t *r, const char *rule, const char *seed, const char *field)
{
    for (int i = 0; i < r->reason_count; i++)
        if (!strcmp (r->reasons[i].rule, rule) && !strcmp (r->reasons[i].seed, seed)
            && !strcmp (r->reasons[i].field, field) && r->reasons[i].message[0])
            return true;
    return false;
}

static void
test_negative_list_subjects_are_rejected (void **state)
{
    for (int s = ADMISSION_SUBJECT_INVESTMENT_ATTRACTION; s < ADMISSION_SUBJECT_COUNT; s++) {
        admission_application_t a = s_assist ();
        a.subject = (admission_subject_t) s;
        admission_screening_t r;
        admission_screen (&a, &r);
        assert_int_equal (r.outcome, ADMISSION_OUTCOME_REJECTED);
        assert_int_equal (r.track, ADMISSION_TRACK_NONE);
        assert_true (s_has (&r, "negative_list", "LF 4.4", "subject"));
    }
}

static void
test_forbidden_kinds_are_rejected (void **state)
{
    const struct { admission_kind_t kind; const char *rule; } cases[] = {
        {ADMISSION_KIND_RESPONSIBILITY_AGREEMENT, "responsibility_agreement"},
        {ADMISSION_KIND_VETO_ITEM, "veto_item"},
        {ADMISSION_KIND_WORK_BODY, "work_body"},
        {ADMISSION_KIND_INSPECTION, "department_inspection"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        admission_application_t a = s_assist (); //  funds and staff change nothing
        a.kind = cases[i].kind;
        admission_screening_t r;
        admission_screen (&a, &r);
        assert_int_equal (r.outcome, ADMISSION_OUTCOME_REJECTED);
        assert_true (s_has (&r, cases[i].rule, "LF 4.4", "kind"));
    }
}

static void
test_certificate_in_remit_rejected_catalogued_admitted (void **state)
{
    admission_application_t a = {.kind = ADMISSION_KIND_CERTIFICATE, .funds_per_community = FUNDS};
    admission_screening_t r;
    admission_screen (&a, &r);
    assert_int_equal (r.outcome, ADMISSION_OUTCOME_REJECTED);
    assert_true (s_has (&r, "certificate_in_remit", "LF 4.4", "kind"));
    a = s_assist ();
    a.kind = ADMISSION_KIND_CERTIFICATE; //  the county catalogued it: the community issues it
    admission_screen (&a, &r);
    assert_int_equal (r.outcome, ADMISSION_OUTCOME_REVIEW);
    assert_int_equal (r.reason_count, 0);
}

static void
test_self_governance_item_cannot_be_assigned (void **state)
{
    admission_application_t a = s_assist ();
    a.list = ADMISSION_LIST_SELF_GOVERNANCE;
    admission_screening_t r;
    admission_screen (&a, &r);
    assert_int_equal (r.outcome, ADMISSION_OUTCOME_REJECTED);
    assert_true (s_has (&r, "self_governance_item", "LF 2.2, LF 4.4", "catalog_item"));
}

static void
test_assistance_item_needs_funds_and_staff (void **state)
{
    admission_application_t a = s_assist ();
    admission_screening_t r;
    admission_screen (&a, &r);
    assert_int_equal (r.outcome, ADMISSION_OUTCOME_REVIEW);
    assert_int_equal (r.track, ADMISSION_TRACK_CATALOGUE);
    a.funds_per_community = 0;
    a.staff_support = false;
    admission_screen (&a, &r);
    assert_int_equal (r.outcome, ADMISSION_OUTCOME_INCOMPLETE);
    assert_int_equal (r.reason_count, 2);
    assert_true (s_has (&r, "assist_needs_funds", "PZH 3.2.3", "funds_per_community"));
    assert_true (s_has (&r, "assist_needs_staff", "PZH 3.2.3", "staff_support"));
    a = s_assist ();
    a.staff_support = false;
    admission_screen (&a, &r);
    assert_int_equal (r.outcome, ADMISSION_OUTCOME_INCOMPLETE);
    assert_int_equal (r.reason_count, 1);
    assert_true (s_has (&r, "assist_needs_staff", "PZH 3.2.3", "staff_support"));
}

static void
test_outside_catalogue_only_as_purchased_service (void **state)
{
    admission_application_t a = {.kind = ADMISSION_KIND_TASK, .funds_per_community = FUNDS};
    admission_screening_t r;
    admission_screen (&a, &r);
    assert_int_equal (r.outcome, ADMISSION_OUTCOME_REVIEW);
    assert_int_equal (r.track, ADMISSION_TRACK_PURCHASED_SERVICE);
    a.funds_per_community = 0;
    admission_screen (&a, &r);
    assert_int_equal (r.outcome, ADMISSION_OUTCOME_INCOMPLETE);
    assert_true (s_has (&r, "outside_catalogue_needs_funds", "LF 4.4, WP 2, ADV 5, DXAL 30",
                        "funds_per_community"));
    //  Meetings and reports outside the catalogues are bought the same way.
    a.kind = ADMISSION_KIND_REPORT;
    admission_screen (&a, &r);
    assert_int_equal (r.outcome, ADMISSION_OUTCOME_INCOMPLETE);
}

static void
test_temporary_task_with_decision_goes_to_deliberation (void **state)
{
    admission_application_t a = {.kind = ADMISSION_KIND_TASK, .decision_ref = true};
    admission_screening_t r;
    admission_screen (&a, &r);
    assert_int_equal (r.outcome, ADMISSION_OUTCOME_DELIBERATION);
    assert_int_equal (r.track, ADMISSION_TRACK_DELIBERATION);
    assert_int_equal (r.reason_count, 0);
    //  A decision does not lift the negative list.
    a.subject = ADMISSION_SUBJECT_DEMOLITION;
    admission_screen (&a, &r);
    assert_int_equal (r.outcome, ADMISSION_OUTCOME_REJECTED);
}

static void
test_every_reason_is_kept (void **state)
{
    admission_application_t a = {.kind = ADMISSION_KIND_VETO_ITEM,
                                 .subject = ADMISSION_SUBJECT_TAX_ASSISTANCE,
                                 .list = ADMISSION_LIST_SELF_GOVERNANCE};
    admission_screening_t r;
    admission_screen (&a, &r);
    assert_int_equal (r.outcome, ADMISSION_OUTCOME_REJECTED);
    assert_int_equal (r.reason_count, 3);
    assert_true (s_has (&r, "negative_list", "LF 4.4", "subject"));
    assert_true (s_has (&r, "veto_item", "LF 4.4", "kind"));
    assert_true (s_has (&r, "self_governance_item", "LF 2.2, LF 4.4", "catalog_item"));
}

static void
test_names_parse_both_ways (void **state)
{
    for (int k = 0; k < ADMISSION_KIND_COUNT; k++) {
        admission_kind_t back;
        assert_int_equal (admission_kind_parse (admission_kind_name ((admission_kind_t) k), &back),
                          0);
        assert_int_equal (back, k);
    }
    admission_subject_t subject;
    assert_int_equal (admission_subject_parse ("city_management", &subject), 0);
    assert_int_equal (subject, ADMISSION_SUBJECT_CITY_MANAGEMENT);
    assert_int_equal (admission_subject_parse ("none", &subject), -1);
    admission_kind_t kind;
    assert_int_equal (admission_kind_parse ("party", &kind), -1);
    assert_string_equal (admission_outcome_name (ADMISSION_OUTCOME_DELIBERATION), "deliberation");
    assert_string_equal (admission_track_name (ADMISSION_TRACK_PURCHASED_SERVICE),
                         "purchased_service");
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_negative_list_subjects_are_rejected),
        cmocka_unit_test (test_forbidden_kinds_are_rejected),
        cmocka_unit_test (test_certificate_in_remit_rejected_catalogued_admitted),
        cmocka_unit_test (test_self_governance_item_cannot_be_assigned),
        cmocka_unit_test (test_assistance_item_needs_funds_and_staff),
        cmocka_unit_test (test_outside_catalogue_only_as_purchased_service),
        cmocka_unit_test (test_temporary_task_with_decision_goes_to_deliberation),
        cmocka_unit_test (test_every_reason_is_kept),
        cmocka_unit_test (test_names_parse_both_ways),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
