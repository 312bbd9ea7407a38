/*  lifecycle: the states of a dispute case and the transitions between them (pure). */
#include "lifecycle.h"

#include <stdio.h>
#include <string.h>

#define DISPUTES_MAJOR_PEOPLE 5 //  this many people involved makes a case start at the street

static const char *const s_statuses[DISPUTES_STATUS_COUNT] = {
    "filed", "accepted", "mediating", "resolved", "failed", "escalated", "closed", "withdrawn",
    "referred"};
static const char *const s_actions[DISPUTES_ACTION_COUNT] = {
    "accept", "assign", "record", "resolve", "fail", "escalate", "followup", "withdraw", "refer",
    "pause", "resume"};
static const char *const s_levels[DISPUTES_LEVEL_COUNT] = {"community", "street", "district"};

#define S_NONE DISPUTES_STATUS_COUNT //  no transition
//  Short names for the table only.
#define FIL DISPUTES_FILED
#define ACC DISPUTES_ACCEPTED
#define MED DISPUTES_MEDIATING
#define RES DISPUTES_RESOLVED
#define FAI DISPUTES_FAILED
#define ESC DISPUTES_ESCALATED
#define CLO DISPUTES_CLOSED
#define WDR DISPUTES_WITHDRAWN
#define REF DISPUTES_REFERRED
#define NO S_NONE

//  The status each action leads to from each status; NO where it is not allowed. Pause and
//  resume keep the status; withdraw and refer end any open stage but a resolved one (which
//  waits only for its follow-up).
static const int s_table[DISPUTES_ACTION_COUNT][DISPUTES_STATUS_COUNT] = {
    //                    filed accepted mediating resolved failed escalated closed withdrawn referred
    [DISPUTES_ACCEPT]   = {ACC, NO,  NO,  NO,  NO,  ACC, NO, NO, NO},
    [DISPUTES_ASSIGN]   = {NO,  MED, MED, NO,  NO,  NO,  NO, NO, NO},
    [DISPUTES_RECORD]   = {NO,  NO,  MED, NO,  NO,  NO,  NO, NO, NO},
    [DISPUTES_RESOLVE]  = {NO,  NO,  RES, NO,  NO,  NO,  NO, NO, NO},
    [DISPUTES_FAIL]     = {NO,  NO,  FAI, NO,  NO,  NO,  NO, NO, NO},
    [DISPUTES_ESCALATE] = {NO,  NO,  NO,  NO,  ESC, NO,  NO, NO, NO},
    [DISPUTES_FOLLOWUP] = {NO,  NO,  NO,  CLO, NO,  NO,  NO, NO, NO},
    [DISPUTES_WITHDRAW] = {WDR, WDR, WDR, NO,  WDR, WDR, NO, NO, NO},
    [DISPUTES_REFER]    = {REF, REF, REF, NO,  REF, REF, NO, NO, NO},
    [DISPUTES_PAUSE]    = {FIL, ACC, MED, NO,  NO,  NO,  NO, NO, NO},
    [DISPUTES_RESUME]   = {FIL, ACC, MED, NO,  NO,  NO,  NO, NO, NO},
};
#undef FIL
#undef ACC
#undef MED
#undef RES
#undef FAI
#undef ESC
#undef CLO
#undef WDR
#undef REF
#undef NO

bool
disputes_status_open (disputes_status_t status)
{
    return status != DISPUTES_CLOSED && status != DISPUTES_WITHDRAWN
           && status != DISPUTES_REFERRED;
}

disputes_level_t
disputes_start_level (bool major_risk, int people_involved)
{
    return major_risk || people_involved >= DISPUTES_MAJOR_PEOPLE ? DISPUTES_STREET
                                                                   : DISPUTES_COMMUNITY;
}

int
disputes_transition (const disputes_state_t *state, disputes_action_t action,
                     disputes_state_t *next, sq_error_t *err)
{
    const char *verb = disputes_action_name (action), *now = disputes_status_name (state->status);
    if (!verb || !now)
        return sq_error_set (err, SQ_ERR_INVALID, "id", "unknown action or status");
    int to = s_table[action][state->status];
    if (to == S_NONE) {
        //  Name both statuses: the case's, and those the action applies to.
        char allowed[128] = "";
        for (int st = 0; st < DISPUTES_STATUS_COUNT; st++)
            if (s_table[action][st] != S_NONE)
                snprintf (allowed + strlen (allowed), sizeof allowed - strlen (allowed), "%s%s",
                          allowed[0] ? " or " : "", s_statuses[st]);
        return sq_error_set (err, SQ_ERR_CONFLICT, "id", "could not %s: the case is %s;"
                             " %s applies only to a case that is %s", verb, now, verb, allowed);
    }
    bool ends = action == DISPUTES_WITHDRAW || action == DISPUTES_REFER;
    if (state->paused && action != DISPUTES_RESUME && !ends)
        return sq_error_set (err, SQ_ERR_CONFLICT, "id", "could not %s: the case is %s and"
                             " paused; resume it first", verb, now);
    if (action == DISPUTES_PAUSE && state->paused)
        return sq_error_set (err, SQ_ERR_CONFLICT, "id", "could not pause: the case is %s and"
                             " paused already", now);
    if (action == DISPUTES_RESUME && !state->paused)
        return sq_error_set (err, SQ_ERR_CONFLICT, "id", "could not resume: the case is %s and"
                             " not paused", now);
    if (action == DISPUTES_ESCALATE && state->level == DISPUTES_DISTRICT)
        return sq_error_set (err, SQ_ERR_CONFLICT, "id", "could not escalate: the case is %s at"
                             " the district, the highest level", now);
    *next = *state;
    next->status = (disputes_status_t) to;
    next->paused = action == DISPUTES_PAUSE || (action == DISPUTES_RESUME ? false : state->paused);
    if (ends)
        next->paused = false;
    if (action == DISPUTES_ESCALATE)
        next->level = (disputes_level_t) (state->level + 1);
    return 0;
}

const char *
disputes_status_name (disputes_status_t status)
{
    return status >= 0 && status < DISPUTES_STATUS_COUNT ? s_statuses[status] : NULL;
}

int
disputes_status_parse (const char *name, disputes_status_t *status)
{
    for (int i = 0; i < DISPUTES_STATUS_COUNT; i++)
        if (strcmp (name, s_statuses[i]) == 0) {
            *status = (disputes_status_t) i;
            return 0;
        }
    return -1;
}

const char *
disputes_action_name (disputes_action_t action)
{
    return action >= 0 && action < DISPUTES_ACTION_COUNT ? s_actions[action] : NULL;
}

const char *
disputes_level_name (disputes_level_t level)
{
    return level >= 0 && level < DISPUTES_LEVEL_COUNT ? s_levels[level] : NULL;
}

int
disputes_level_parse (const char *name, disputes_level_t *level)
{
    for (int i = 0; i < DISPUTES_LEVEL_COUNT; i++)
        if (strcmp (name, s_levels[i]) == 0) {
            *level = (disputes_level_t) i;
            return 0;
        }
    return -1;
}
