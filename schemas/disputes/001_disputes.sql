-- shequ-disputes: dispute cases, their history, deadlines policy and calendar (issue 3).
-- Applied with search_path set to the disputes schema. Times in microseconds since 1970 UTC.
--
-- The history is the source of truth: every step a case takes is a row of `step`, and the
-- deadline running now is computed from the step that started it and the pauses after it
-- (services/disputes/deadline.c), never from stored counters. `dispute` holds the case's
-- current state, changed only together with a new step, under the case's row lock.

-- The deadlines policy: one row. Days are counted as calendar days, or as working days under
-- `calendar_day` (holidays and adjusted workdays, 节假日与调休).
CREATE TABLE policy (
    id             int     PRIMARY KEY CHECK (id = 1),
    accept_days    int     NOT NULL DEFAULT 3 CHECK (accept_days BETWEEN 1 AND 365),
    resolve_days   int     NOT NULL DEFAULT 30 CHECK (resolve_days BETWEEN 1 AND 365),
    followup_days  int     NOT NULL DEFAULT 15 CHECK (followup_days BETWEEN 1 AND 365),
    working_days   boolean NOT NULL DEFAULT false,
    auto_escalate  boolean NOT NULL DEFAULT false,  -- the sweep escalates a missed resolution
    changed_at     bigint  NOT NULL DEFAULT 0,
    changed_by     text    NOT NULL DEFAULT ''
);
INSERT INTO policy (id) VALUES (1);

CREATE TABLE calendar_day (
    day   date PRIMARY KEY,
    kind  text NOT NULL CHECK (kind IN ('holiday', 'workday')),  -- workday: a worked weekend day
    name  text NOT NULL DEFAULT ''                                -- e.g. 春节
);

-- "case" is an SQL keyword: the table is `dispute`.
CREATE TABLE dispute (
    id              text PRIMARY KEY,
    community       text    NOT NULL,
    category        text    NOT NULL,
    source          text    NOT NULL,
    summary         text    NOT NULL,
    risk            text    NOT NULL CHECK (risk IN ('normal', 'elevated', 'major')),
    people_involved int     NOT NULL CHECK (people_involved >= 0),
    grid            text,
    status          text    NOT NULL CHECK (status IN ('filed', 'accepted', 'mediating',
                                'resolved', 'failed', 'escalated', 'closed', 'withdrawn',
                                'referred')),
    level           text    NOT NULL CHECK (level IN ('community', 'street', 'district')),
    start_level     text    NOT NULL,
    resolved_level  text,                    -- the level it was finally resolved at
    paused          boolean NOT NULL DEFAULT false,
    mediator        text,
    referred_to     text,
    performed       boolean,                 -- the follow-up found the agreement performed
    steps           int     NOT NULL,        -- history rows so far
    stage_step      int     NOT NULL,        -- the step that started the running deadline
    stage_at        bigint  NOT NULL,        -- when that step was taken
    filed_at        bigint  NOT NULL,
    filed_by        text    NOT NULL,
    resolved_at     bigint,
    ended_at        bigint,                  -- closed, withdrawn or referred
    updated_at      bigint  NOT NULL
);
CREATE INDEX dispute_community ON dispute (community text_pattern_ops, filed_at);
CREATE INDEX dispute_open ON dispute (stage_at)
    WHERE status IN ('filed', 'accepted', 'mediating', 'resolved', 'escalated');

-- Parties: names in clear (shown to those who handle the case); phones and identity numbers
-- sealed (sq_crypt) with their masked forms beside them.
CREATE TABLE party (
    dispute          text  NOT NULL REFERENCES dispute (id),
    n                int   NOT NULL,
    name             text  NOT NULL,
    role             text  NOT NULL CHECK (role IN ('applicant', 'respondent', 'third_party')),
    phone_sealed     bytea,
    phone_masked     text,
    id_number_sealed bytea,
    id_number_masked text,
    PRIMARY KEY (dispute, n)
);

-- Every step of every case, never changed. A step that ends a deadline's stage (accept,
-- resolve, follow-up) records that deadline, when it fell and whether it was met.
CREATE TABLE step (
    dispute      text    NOT NULL REFERENCES dispute (id),
    n            int     NOT NULL,
    action       text    NOT NULL,           -- file, accept, assign, record, ...
    from_status  text,
    to_status    text    NOT NULL,
    level        text    NOT NULL,           -- the level after the step
    at           bigint  NOT NULL,
    actor        text    NOT NULL,
    actor_role   text    NOT NULL,
    note         text,
    deadline     text CHECK (deadline IN ('accept', 'resolve', 'followup')),
    due_at       bigint,
    on_time      boolean,
    PRIMARY KEY (dispute, n)
);
CREATE INDEX step_deadline ON step (dispute) WHERE deadline IS NOT NULL;

-- Missed deadlines, marked by the sweep: once per stage and deadline.
CREATE TABLE overdue (
    dispute    text    NOT NULL REFERENCES dispute (id),
    stage_step int     NOT NULL,
    deadline   text    NOT NULL,
    due_at     bigint  NOT NULL,
    marked_at  bigint  NOT NULL,
    PRIMARY KEY (dispute, stage_step, deadline)
);

-- Unmasked reads of parties' phones and identity numbers go to personal_data_reads, which
-- every service has (schemas/common), with subject "dispute:<id>".
