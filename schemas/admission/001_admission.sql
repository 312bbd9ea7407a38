-- shequ-admission: catalogues, applications, targets, agreements (issue 4).
-- Applied with search_path set to the admission schema. Money in fen, times in microseconds.

-- Every change to a county's catalogues makes a new version; items carry the range of
-- versions they belong to, so the catalogue as it stood at any version can be read back.
CREATE TABLE catalog_version (
    county      text   NOT NULL,
    version     int    NOT NULL,
    changed_at  bigint NOT NULL,
    actor       text   NOT NULL,
    change      text   NOT NULL,                  -- e.g. "put assist_government/A-07"
    PRIMARY KEY (county, version)
);

CREATE TABLE catalog_item (
    county       text NOT NULL,
    list         text NOT NULL CHECK (list IN ('self_governance', 'assist_government')),
    code         text NOT NULL,
    name         text NOT NULL,
    department   text NOT NULL,
    legal_basis  text,
    from_version int  NOT NULL,                   -- first version holding it
    to_version   int,                             -- first version without it; NULL: current
    PRIMARY KEY (county, code, from_version)
);
CREATE INDEX catalog_item_current ON catalog_item (county, code) WHERE to_version IS NULL;

CREATE TABLE application (
    id                  text PRIMARY KEY,
    department          text   NOT NULL,
    title               text   NOT NULL,
    kind                text   NOT NULL,
    subject             text,
    county              text   NOT NULL,
    targets_given       text[] NOT NULL,          -- as submitted (communities, or one street/district)
    catalog_item        text,
    catalog_list        text,                     -- list of the item at submission, NULL: outside
    catalog_version     int    NOT NULL,          -- the county's catalogue version it was judged by
    start_date          date   NOT NULL,
    end_date            date   NOT NULL,
    funds_per_community bigint NOT NULL DEFAULT 0 CHECK (funds_per_community >= 0),
    staff_support       boolean NOT NULL DEFAULT false,
    decision_ref        text,
    description         text,
    status              text   NOT NULL CHECK (status IN ('rejected', 'incomplete', 'pending_review',
                                   'deliberation', 'approved', 'refused', 'withdrawn', 'expired')),
    outcome             text   NOT NULL,          -- screening: rejected/incomplete/review/deliberation
    track               text   NOT NULL,          -- none/catalogue/purchased_service/deliberation
    reasons             bytea  NOT NULL,          -- msgpack list of {rule, seed, field, message}
    submitted_at        bigint NOT NULL,
    submitted_by        text   NOT NULL,
    reviewed_at         bigint,
    reviewed_by         text,
    review_note         text
);
CREATE INDEX application_county ON application (county, status);

CREATE TABLE application_target (
    application text   NOT NULL REFERENCES application (id),
    community   text   NOT NULL,
    funds       bigint NOT NULL CHECK (funds >= 0),
    PRIMARY KEY (application, community)
);
CREATE INDEX application_target_prefix ON application_target (community text_pattern_ops);

CREATE TABLE agreement (
    id          text PRIMARY KEY,
    application text   NOT NULL REFERENCES application (id),
    community   text   NOT NULL,
    funds       bigint NOT NULL,
    status      text   NOT NULL CHECK (status IN ('pending', 'signed', 'void')),
    created_at  bigint NOT NULL,
    signed_at   bigint,
    signed_by   text,
    UNIQUE (application, community)
);
CREATE INDEX agreement_prefix ON agreement (community text_pattern_ops);
