/*  lifecycle: the states of a dispute case and the transitions between them (issue 3;
    DOMAIN.md section 4), as pure functions, unit-tested transition by transition.

    filed -> accepted -> mediating -> resolved -> closed (after the follow-up)
                                   -> failed -> escalated (one level up) -> accepted ...
    withdrawn and referred end a case at any open stage. A paused case keeps its status; while
    paused only resume, withdraw and refer are allowed. */
#ifndef DISPUTES_LIFECYCLE_H
#define DISPUTES_LIFECYCLE_H

#include "sq_codec.h"

#include <stdbool.h>

typedef enum {
    DISPUTES_FILED = 0,
    DISPUTES_ACCEPTED,
    DISPUTES_MEDIATING,
    DISPUTES_RESOLVED,
    DISPUTES_FAILED,
    DISPUTES_ESCALATED,
    DISPUTES_CLOSED,
    DISPUTES_WITHDRAWN,
    DISPUTES_REFERRED,
    DISPUTES_STATUS_COUNT
} disputes_status_t;

typedef enum {
    DISPUTES_ACCEPT = 0,
    DISPUTES_ASSIGN,    //  a mediator takes the case (again)
    DISPUTES_RECORD,    //  a mediation session
    DISPUTES_RESOLVE,
    DISPUTES_FAIL,
    DISPUTES_ESCALATE,
    DISPUTES_FOLLOWUP,  //  the follow-up visit closes a resolved case
    DISPUTES_WITHDRAW,
    DISPUTES_REFER,
    DISPUTES_PAUSE,
    DISPUTES_RESUME,
    DISPUTES_ACTION_COUNT
} disputes_action_t;

//  Levels a case is handled at, bottom up.
typedef enum {
    DISPUTES_COMMUNITY = 0,
    DISPUTES_STREET,
    DISPUTES_DISTRICT,
    DISPUTES_LEVEL_COUNT
} disputes_level_t;

//  A case as the lifecycle sees it.
typedef struct {
    disputes_status_t status;
    disputes_level_t level;
    bool paused;
} disputes_state_t;

//  Applies action to state. Returns 0 with *next the new state (status, level, paused), or
//  -1 with err set: `conflict` naming the action and the current status (and why: a paused
//  case, no level above the district), field "id".
int disputes_transition (const disputes_state_t *state, disputes_action_t action,
                         disputes_state_t *next, sq_error_t *err);

//  True for the statuses a case can still move on from (not closed, withdrawn, referred).
bool disputes_status_open (disputes_status_t status);

//  The level a new case starts at: street for a major risk or 5 or more people involved.
disputes_level_t disputes_start_level (bool major_risk, int people_involved);

//  Names as the wire spells them (static); parse returns -1 for an unknown name.
const char *disputes_status_name (disputes_status_t status);
int disputes_status_parse (const char *name, disputes_status_t *status);
const char *disputes_action_name (disputes_action_t action);
const char *disputes_level_name (disputes_level_t level);
int disputes_level_parse (const char *name, disputes_level_t *level);

#endif
