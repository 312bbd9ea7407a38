/*  disputes: the service's shared declarations (issue 3; DOMAIN.md section 4).
    Commands and events are listed in services/disputes/README.md. */
#ifndef DISPUTES_H
#define DISPUTES_H

#include "deadline.h"
#include "lifecycle.h"
#include "shequ.h"
#include "sq_crypt.h"
#include "sq_service.h"

#define DISPUTES_TEXT_MAX 200          //  names, mediators, short reasons, bytes
#define DISPUTES_NOTE_MAX 4000         //  summaries, notes, agreements, bytes
#define DISPUTES_PARTIES_MAX 50        //  parties of one case
#define DISPUTES_PEOPLE_MAX 100000     //  people involved in one case
#define DISPUTES_GRID_SIZE 17          //  grid code <community>-NNN and the terminator
#define DISPUTES_PAGE_SIZE 100         //  rows per page of a list
#define DISPUTES_CALENDAR_DAYS_MAX 4000 //  days given to calendar.put at once
#define DISPUTES_DAY_MS_ENV "SHEQU_DISPUTES_DAY_MS" //  length of a deadline day, for tests

//  The deadlines a case runs against, one at a time.
typedef enum {
    DISPUTES_DEADLINE_NONE = -1,
    DISPUTES_DEADLINE_ACCEPT = 0,  //  from filing or escalation to acceptance
    DISPUTES_DEADLINE_RESOLVE,     //  from acceptance to resolution (or failure)
    DISPUTES_DEADLINE_FOLLOWUP,    //  from resolution to the follow-up
    DISPUTES_DEADLINE_COUNT
} disputes_deadline_t;

//  The service's own state, handed to handlers as ctx->state.
typedef struct {
    sq_crypt_t *crypt;  //  seals parties' phones and identity numbers
    int64_t day_us;     //  length of a deadline day (SHEQU_DISPUTES_DAY_MS; a real day)
} disputes_t;

//  The policy and calendar as they stand in the database, read for one command.
typedef struct {
    int days[DISPUTES_DEADLINE_COUNT];  //  accept, resolve, follow-up
    bool auto_escalate;
    disputes_calendar_t calendar;       //  points into the arrays below
    int32_t *holidays, *workdays;       //  malloc'd day numbers, sorted
} disputes_policy_t;

//  A case's current state, as locked or read.
typedef struct {
    char id[SQ_TEXT_ID_MAX];
    char community[SQ_DIV_MAX];
    char category[32];
    char risk[16];
    disputes_state_t state;
    int steps;          //  history rows so far
    int stage_step;     //  the step that started the running deadline
    int64_t stage_at;   //  when
    int64_t filed_at;
} disputes_case_t;

//  Fills config for the disputes service; the endpoints are left NULL (environment).
void disputes_service_config (disputes_t *state, sq_service_config_t *config);

//  Reads the policy and calendar. Returns 0, or -1 with err set. Free with policy_free.
int disputes_policy_load (sq_ctx_t *ctx, disputes_policy_t *policy);
void disputes_policy_free (disputes_policy_t *policy);

//  The deadline running for a status, or NONE.
disputes_deadline_t disputes_deadline_of (disputes_status_t status);
const char *disputes_deadline_name (disputes_deadline_t deadline);

//  The pauses of a case's running stage as one text, "pause:<at>,resume:<at>,...", in step
//  order: an SQL expression over the table alias d (disputes.dispute), shared by the command
//  path and the sweep so both read pauses the same way.
#define DISPUTES_PAUSES_SQL                                                                 \
    "(SELECT string_agg (s.action || ':' || s.at, ',' ORDER BY s.n) FROM disputes.step s"  \
    " WHERE s.dispute = d.id AND s.n > d.stage_step AND s.action IN ('pause', 'resume'))"

//  When the running deadline of c falls, given the pauses of its stage as DISPUTES_PAUSES_SQL
//  gives them (NULL or "" for none). Returns 0 with *due_us, 1 when no deadline runs (none
//  for the status, or paused), -1 with err set.
int disputes_case_due_from (const disputes_policy_t *policy, const disputes_case_t *c,
                            const char *pauses, int64_t *due_us, sq_error_t *err);

//  When the running deadline of c falls: reads the pauses after its stage started. Returns
//  0 with *due_us, 1 when no deadline runs (none for the status, or paused), -1 with err.
int disputes_case_due (sq_ctx_t *ctx, const disputes_policy_t *policy,
                       const disputes_case_t *c, int64_t *due_us);

//  Locks case id (FOR UPDATE) into *c. not_found when it does not exist; forbidden unless
//  the actor's scope covers the case at the level it is handled at.
int disputes_case_lock (sq_ctx_t *ctx, const char *id, disputes_case_t *c);

//  What a step adds to the case besides the transition.
typedef struct {
    const char *note;         //  kept in the history (NULL: none)
    const char *mediator;     //  assign
    const char *referred_to;  //  refer
    int performed;            //  followup: 0 or 1; -1 otherwise
} disputes_step_t;

//  Applies action to the locked case c: checks the transition, records the step (with the
//  deadline it ends, if any), updates the case and emits its event. c is updated.
int disputes_case_step (sq_ctx_t *ctx, const disputes_policy_t *policy, disputes_case_t *c,
                        disputes_action_t action, const disputes_step_t *step);

//  Emits "disputes.<name>" for c: the fields every case event carries (case, community,
//  category, risk, level, status, previous_status, step, and the deadline running now with
//  its due time), the step's own fields, then extra_fields more packed by pack_extra.
int disputes_emit_case (sq_ctx_t *ctx, const disputes_policy_t *policy, const disputes_case_t *c,
                        const char *name, disputes_status_t previous, const disputes_step_t *step,
                        int extra_fields, void (*pack_extra) (msgpack_packer *, const void *),
                        const void *extra);

//  Reads a division code argument of 2, 4, 6, 9 or 12 digits into out.
int disputes_read_division (sq_ctx_t *ctx, const char *field, char out[SQ_DIV_MAX]);

//  Roles that may file and handle cases, and that may read them.
extern const char *const disputes_handlers[];
extern const char *const disputes_readers[];

//  The categories of cases, as the wire names them (NULL-terminated).
extern const char *const disputes_categories[];

sq_handler_fn disputes_case_file, disputes_case_get, disputes_case_list;
sq_handler_fn disputes_case_accept, disputes_case_assign, disputes_case_record,
    disputes_case_resolve, disputes_case_fail, disputes_case_escalate, disputes_case_followup,
    disputes_case_withdraw, disputes_case_refer, disputes_case_pause, disputes_case_resume;
sq_handler_fn disputes_policy_get, disputes_policy_put, disputes_calendar_get,
    disputes_calendar_put;
sq_handler_fn disputes_stats_get;
sq_handler_fn disputes_sweep_overdue; //  sweep

#endif
