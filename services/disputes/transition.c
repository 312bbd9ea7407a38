/*  disputes transitions: the commands that move a case along its life cycle. Each reads its
    arguments, locks the case and takes one step (disputes_case_step), so two replicas
    acting on one case at once serialise on its row and neither update is lost. */
#include "disputes.h"

#include <stdio.h>
#include <string.h>

static const char *const s_referrals[] = {"litigation", "arbitration", "administrative", NULL};

//  The arguments of a transition command besides the id.
typedef struct {
    const char *note_field;  //  argument kept as the step's note, NULL when none
    bool note_required;
    bool mediator;           //  reads `mediator` (assign)
    bool referral;           //  reads `to` (refer)
    bool performed;          //  reads `performed` (followup)
} s_shape_t;

static int
s_step (sq_ctx_t *ctx, disputes_action_t action, const s_shape_t *shape)
{
    char id[SQ_TEXT_ID_MAX], note[DISPUTES_NOTE_MAX + 1] = "";
    char mediator[DISPUTES_TEXT_MAX + 1] = "";
    int referral = -1;
    bool performed = false;
    if (sq_ctx_require_role (ctx, disputes_handlers)
        || sq_arg_str (ctx->args, "id", true, sizeof id - 1, id, sizeof id, &ctx->err) < 0
        || (shape->note_field
            && sq_arg_str (ctx->args, shape->note_field, shape->note_required, DISPUTES_NOTE_MAX,
                           note, sizeof note, &ctx->err) < 0)
        || (shape->mediator && sq_arg_str (ctx->args, "mediator", true, DISPUTES_TEXT_MAX,
                                           mediator, sizeof mediator, &ctx->err) < 0)
        || (shape->referral
            && sq_arg_enum (ctx->args, "to", true, s_referrals, &referral, &ctx->err) < 0)
        || (shape->performed
            && sq_arg_bool (ctx->args, "performed", true, &performed, &ctx->err) < 0))
        return -1;
    if (shape->note_field && shape->note_required && !note[0])
        return sq_error_set (&ctx->err, SQ_ERR_INVALID, shape->note_field, "%s must not be"
                             " empty", shape->note_field);
    if (shape->mediator && !mediator[0])
        return sq_error_set (&ctx->err, SQ_ERR_INVALID, "mediator", "mediator must not be"
                             " empty");
    disputes_step_t step = {note[0] ? note : NULL, shape->mediator ? mediator : NULL,
                            referral >= 0 ? s_referrals[referral] : NULL,
                            shape->performed ? performed : -1};
    disputes_policy_t policy;
    if (disputes_policy_load (ctx, &policy))
        return -1;
    disputes_case_t c;
    int64_t due = 0;
    int running = 0;
    int rc = disputes_case_lock (ctx, id, &c) || disputes_case_step (ctx, &policy, &c, action,
                                                                     &step) ? -1 : 0;
    if (rc == 0 && (running = disputes_case_due (ctx, &policy, &c, &due)) < 0)
        rc = -1;
    disputes_policy_free (&policy);
    if (rc)
        return -1;
    msgpack_pack_map (ctx->pk, 7);
    sq_pack_kv_str (ctx->pk, "id", c.id);
    sq_pack_kv_str (ctx->pk, "status", disputes_status_name (c.state.status));
    sq_pack_kv_str (ctx->pk, "level", disputes_level_name (c.state.level));
    sq_pack_kv_bool (ctx->pk, "paused", c.state.paused);
    sq_pack_kv_int (ctx->pk, "step", c.steps);
    sq_pack_kv_str (ctx->pk, "deadline", running == 0 ? disputes_deadline_name (
                                              disputes_deadline_of (c.state.status)) : NULL);
    if (running == 0)
        sq_pack_kv_int (ctx->pk, "due", due);
    else
        sq_pack_kv_nil (ctx->pk, "due");
    return 0;
}

int
disputes_case_accept (sq_ctx_t *ctx)
{
    static const s_shape_t shape = {0};
    return s_step (ctx, DISPUTES_ACCEPT, &shape);
}

int
disputes_case_assign (sq_ctx_t *ctx)
{
    static const s_shape_t shape = {.mediator = true};
    return s_step (ctx, DISPUTES_ASSIGN, &shape);
}

int
disputes_case_record (sq_ctx_t *ctx)
{
    static const s_shape_t shape = {.note_field = "note", .note_required = true};
    return s_step (ctx, DISPUTES_RECORD, &shape);
}

int
disputes_case_resolve (sq_ctx_t *ctx)
{
    static const s_shape_t shape = {.note_field = "agreement", .note_required = true};
    return s_step (ctx, DISPUTES_RESOLVE, &shape);
}

int
disputes_case_fail (sq_ctx_t *ctx)
{
    static const s_shape_t shape = {.note_field = "reason", .note_required = true};
    return s_step (ctx, DISPUTES_FAIL, &shape);
}

int
disputes_case_escalate (sq_ctx_t *ctx)
{
    static const s_shape_t shape = {.note_field = "reason", .note_required = true};
    return s_step (ctx, DISPUTES_ESCALATE, &shape);
}

int
disputes_case_followup (sq_ctx_t *ctx)
{
    static const s_shape_t shape = {.note_field = "note", .performed = true};
    return s_step (ctx, DISPUTES_FOLLOWUP, &shape);
}

int
disputes_case_withdraw (sq_ctx_t *ctx)
{
    static const s_shape_t shape = {.note_field = "reason"};
    return s_step (ctx, DISPUTES_WITHDRAW, &shape);
}

int
disputes_case_refer (sq_ctx_t *ctx)
{
    static const s_shape_t shape = {.note_field = "note", .referral = true};
    return s_step (ctx, DISPUTES_REFER, &shape);
}

int
disputes_case_pause (sq_ctx_t *ctx)
{
    static const s_shape_t shape = {.note_field = "reason", .note_required = true};
    return s_step (ctx, DISPUTES_PAUSE, &shape);
}

int
disputes_case_resume (sq_ctx_t *ctx)
{
    static const s_shape_t shape = {.note_field = "note"};
    return s_step (ctx, DISPUTES_RESUME, &shape);
}
