-- shequ-ledger: the registry's figures per community, as entitlements need them (issue 5).
-- Applied with search_path set to the ledger schema. services/ledger/counts.c explains how
-- the rows are kept: counts from the registry's events (one consumer, each event once), kinds
-- from the registry's commands at the first budget of a division.

-- One row per community the ledger has heard of. residents counts active residents of every
-- residency (实有人口); party_members those of them who are party members. kind is NULL until
-- a budget fetched the community's division from the registry.
CREATE TABLE community (
    code           text   PRIMARY KEY,           -- 12-digit division code
    kind           text   CHECK (kind IN ('urban_community', 'rural_community', 'village')),
    residents      bigint NOT NULL DEFAULT 0,
    party_members  bigint NOT NULL DEFAULT 0,
    households     bigint NOT NULL DEFAULT 0,
    registry_seq   bigint NOT NULL DEFAULT 0,    -- last registry event that changed the row
    updated_at     bigint NOT NULL
);

-- Divisions whose communities and kinds were fetched from the registry (division.children).
-- A registry.divisions_imported event empties it: kinds are fetched again at the next budget.
CREATE TABLE division_synced (
    code         text   PRIMARY KEY,             -- 4, 6 or 9 digits
    communities  bigint NOT NULL,                -- communities found under it
    synced_at    bigint NOT NULL
);
