-- shequ-registry: territory, grids, households, residents, organisations, volunteers, staff.
-- Applied with search_path set to the registry schema. Times are microseconds since the
-- epoch (UTC) in bigint columns.

CREATE TABLE division (
    code        text PRIMARY KEY,
    name        text NOT NULL,
    level       text NOT NULL CHECK (level IN ('province', 'city', 'district', 'street', 'community')),
    parent      text REFERENCES division (code),
    kind        text CHECK (kind IN ('urban_community', 'rural_community', 'village')),
    imported_at bigint NOT NULL,
    CHECK ((level = 'community') = (kind IS NOT NULL))
);
CREATE INDEX division_parent ON division (parent);
CREATE INDEX division_prefix ON division (code text_pattern_ops);

CREATE TABLE grid (
    code        text PRIMARY KEY,                 -- <community code>-<3 digits>
    community   text NOT NULL REFERENCES division (code),
    number      int  NOT NULL CHECK (number BETWEEN 1 AND 999),
    name        text NOT NULL,
    created_at  bigint NOT NULL,
    UNIQUE (community, number),
    UNIQUE (community, name)
);
CREATE INDEX grid_prefix ON grid (community text_pattern_ops);

CREATE TABLE household (
    id          text PRIMARY KEY,
    community   text NOT NULL REFERENCES division (code),
    grid        text REFERENCES grid (code),
    address     text NOT NULL,
    created_at  bigint NOT NULL
);
CREATE INDEX household_prefix ON household (community text_pattern_ops);

-- Identity numbers and phones are sealed (XChaCha20-Poly1305, key from SHEQU_DATA_KEY);
-- id_index is a keyed hash that finds a resident by identity number and keeps it unique
-- without the number ever being stored in clear.
CREATE TABLE resident (
    id           text PRIMARY KEY,
    community    text NOT NULL REFERENCES division (code),
    grid         text REFERENCES grid (code),
    household    text REFERENCES household (id),
    id_index     text NOT NULL UNIQUE,
    id_sealed    bytea NOT NULL,
    id_masked    text NOT NULL,
    name         text NOT NULL,
    sex          text NOT NULL CHECK (sex IN ('male', 'female')),
    birth_date   date NOT NULL,
    residency    text NOT NULL CHECK (residency IN ('registered', 'permanent', 'floating')),
    phone_sealed bytea,
    phone_masked text,
    party_member boolean NOT NULL DEFAULT false,
    care_groups  text[] NOT NULL DEFAULT '{}',
    status       text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'left')),
    left_reason  text,
    registered_at bigint NOT NULL,
    updated_at   bigint NOT NULL
);
CREATE INDEX resident_prefix ON resident (community text_pattern_ops) WHERE status = 'active';

CREATE TABLE volunteer (
    id           text PRIMARY KEY,
    resident     text NOT NULL UNIQUE REFERENCES resident (id),
    community    text NOT NULL REFERENCES division (code),
    hours_x100   bigint NOT NULL DEFAULT 0,       -- hundredths of an hour
    registered_at bigint NOT NULL
);
CREATE INDEX volunteer_prefix ON volunteer (community text_pattern_ops);

CREATE TABLE volunteer_hours (
    id           bigserial PRIMARY KEY,
    volunteer    text NOT NULL REFERENCES volunteer (id),
    hours_x100   bigint NOT NULL CHECK (hours_x100 > 0),
    activity     text NOT NULL,
    day          date NOT NULL,
    logged_at    bigint NOT NULL,
    logged_by    text NOT NULL
);

CREATE TABLE organisation (
    id           text PRIMARY KEY,
    community    text NOT NULL REFERENCES division (code),
    kind         text NOT NULL CHECK (kind IN ('social_org', 'resident_unit', 'owners_committee',
                                               'property_company', 'volunteer_org')),
    name         text NOT NULL,
    registered_at bigint NOT NULL,
    UNIQUE (community, kind, name)
);
CREATE INDEX organisation_prefix ON organisation (community text_pattern_ops);

CREATE TABLE staff (
    id           text PRIMARY KEY,
    community    text NOT NULL REFERENCES division (code),
    name         text NOT NULL,
    role         text NOT NULL CHECK (role IN ('secretary', 'director', 'full_time',
                                               'grid_worker', 'social_worker')),
    added_at     bigint NOT NULL
);
CREATE INDEX staff_prefix ON staff (community text_pattern_ops);
