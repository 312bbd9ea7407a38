-- The tables every service keeps in its own schema (applied before the service's own
-- migrations, with search_path set to that schema). See common/README.md.

-- Transactional outbox: a command's events are inserted in the command's transaction.
-- The relay stamps seq on rows whose writing transaction is older than every transaction
-- still running (xid < pg_snapshot_xmin), so a transaction that commits late is stamped
-- late rather than skipped.
CREATE TABLE outbox (
    id          bigserial PRIMARY KEY,
    event_id    text   NOT NULL UNIQUE,
    xid         xid8   NOT NULL DEFAULT pg_current_xact_id(),
    seq         bigint UNIQUE,                -- NULL until the relay stamps it
    published   boolean NOT NULL DEFAULT false,
    type        text   NOT NULL,
    div         text   NOT NULL,
    at          bigint NOT NULL,              -- microseconds since the epoch, UTC
    actor       text   NOT NULL,
    corr        text   NOT NULL DEFAULT '',
    cause       text   NOT NULL DEFAULT '',
    data        bytea  NOT NULL               -- msgpack map
);
CREATE INDEX outbox_unstamped ON outbox (xid, id) WHERE seq IS NULL;
CREATE INDEX outbox_unpublished ON outbox (seq) WHERE seq IS NOT NULL AND NOT published;
CREATE INDEX outbox_xid ON outbox (xid);

-- The stream's last stamped seq, one row, locked by the active relay while it stamps.
CREATE TABLE stream (
    name        text PRIMARY KEY,
    last_seq    bigint NOT NULL DEFAULT 0
);

-- Inbox: the events this service has applied, recorded in the same transaction as their effect.
CREATE TABLE inbox (
    src         text   NOT NULL,
    seq         bigint NOT NULL,
    event_id    text   NOT NULL,
    applied_at  bigint NOT NULL,
    PRIMARY KEY (src, seq)
);

-- Idempotency keys: the first reply to a request carrying `idem`, returned to repeats.
CREATE TABLE idem (
    key         text PRIMARY KEY,
    cmd         text   NOT NULL,
    digest      text   NOT NULL,              -- hash of cmd and args: a reused key is a conflict
    reply       bytea  NOT NULL,
    at          bigint NOT NULL
);

-- Reads of unmasked personal data (DESIGN.md: every such read is recorded).
CREATE TABLE personal_data_reads (
    id          bigserial PRIMARY KEY,
    at          bigint NOT NULL,
    actor_id    text   NOT NULL,
    actor_role  text   NOT NULL,
    actor_scope text   NOT NULL,
    subject     text   NOT NULL,              -- what was read, e.g. "resident:<id>"
    fields      text   NOT NULL,              -- which fields, e.g. "id_number,phone"
    cmd         text   NOT NULL
);
