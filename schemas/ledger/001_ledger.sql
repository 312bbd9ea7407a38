-- shequ-ledger: accounts and immutable, hash-chained transfers (issue 5).
-- Applied with search_path set to the ledger schema. Money in integer fen, times in
-- microseconds since the epoch (UTC). services/ledger/README.md explains the design.

-- One row per account, created on first use by a transfer. The four sums are kept in the
-- transfer's transaction; audit.verify checks them against the transfers. A guarded account
-- (every community fund) can never spend more than it holds: the conditional UPDATE of the
-- transfer refuses it, and this CHECK is the last line should any code path forget.
CREATE TABLE account (
    name            text    PRIMARY KEY,         -- e.g. community:131002001007:work
    kind            text    NOT NULL CHECK (kind IN ('treasury', 'community', 'department',
                                                     'expense')),
    division        text    NOT NULL,            -- division code; '' for departments
    guarded         boolean NOT NULL,            -- debits may never exceed credits
    debits_posted   bigint  NOT NULL DEFAULT 0 CHECK (debits_posted >= 0),
    credits_posted  bigint  NOT NULL DEFAULT 0 CHECK (credits_posted >= 0),
    debits_pending  bigint  NOT NULL DEFAULT 0 CHECK (debits_pending >= 0),
    credits_pending bigint  NOT NULL DEFAULT 0 CHECK (credits_pending >= 0),
    created_at      bigint  NOT NULL,
    CHECK (NOT guarded OR credits_posted - debits_posted - debits_pending >= 0)
);
CREATE INDEX account_division ON account (division text_pattern_ops, name);

-- Transfers, never updated or deleted. A transfer created by transfer.create is kind
-- 'posted' or 'pending' and carries the caller's id; ending a pending transfer is a new
-- row of kind 'post', 'void' or 'expire' naming it in pending_id (at most one each: the
-- UNIQUE makes a second end impossible). A correction is a new 'posted' transfer naming
-- the one it reverses.
--
-- Hash chain: seq numbers the rows 1..N without a gap; prev_hash is the hash of row seq - 1
-- (32 zero bytes for the first) and hash = transfer_hash (prev_hash, the row's fields).
-- Writers append under a transaction-level advisory lock (see services/ledger/chain.c), so
-- the chain never forks, whatever the number of replicas.
CREATE TABLE transfer (
    seq         bigint  PRIMARY KEY CHECK (seq >= 1),
    id          text    UNIQUE,                  -- the caller's id; NULL for ends
    kind        text    NOT NULL CHECK (kind IN ('posted', 'pending', 'post', 'void',
                                                 'expire')),
    pending_id  text    UNIQUE REFERENCES transfer (id),  -- the pending transfer an end ends
    debit       text    NOT NULL REFERENCES account (name),
    credit      text    NOT NULL REFERENCES account (name),
    amount      bigint  NOT NULL CHECK (amount > 0),
    code        text    NOT NULL,                -- why the money moves, e.g. appropriation
    memo        text,
    reverses    text    REFERENCES transfer (id), -- the transfer this one corrects
    timeout_s   bigint,                          -- pending: seconds before it voids itself
    expires_at  bigint,                          -- pending with a timeout: when it expires
    created_at  bigint  NOT NULL,                -- never decreases along the chain
    actor       text    NOT NULL,
    prev_hash   bytea   NOT NULL,
    hash        bytea   NOT NULL UNIQUE,
    CHECK (debit <> credit),
    CHECK ((kind IN ('posted', 'pending')) = (id IS NOT NULL AND pending_id IS NULL))
);
CREATE INDEX transfer_debit ON transfer (debit, seq);
CREATE INDEX transfer_credit ON transfer (credit, seq);
CREATE INDEX transfer_reverses ON transfer (reverses) WHERE reverses IS NOT NULL;
CREATE INDEX transfer_created ON transfer (created_at);

-- Pending transfers not yet ended: the work list of post, void and the expiry sweep. Not a
-- ledger record (the transfers are); a row goes when its transfer ends.
CREATE TABLE pending_open (
    id          text    PRIMARY KEY REFERENCES transfer (id),
    expires_at  bigint                           -- NULL: waits until posted or voided
);
CREATE INDEX pending_open_expires ON pending_open (expires_at) WHERE expires_at IS NOT NULL;

-- The link of one row: SHA-256 over the previous hash and the row's fields as a JSON array
-- (json output is canonical: one spelling per value, so the same fields hash the same way
-- in every session). Used to append and by audit.verify to recompute.
CREATE FUNCTION transfer_hash (prev bytea, seq bigint, id text, kind text, pending_id text,
                               debit text, credit text, amount bigint, code text, memo text,
                               reverses text, timeout_s bigint, expires_at bigint,
                               created_at bigint, actor text)
RETURNS bytea LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT sha256 (prev || convert_to (json_build_array (seq, id, kind, pending_id, debit,
                   credit, amount, code, memo, reverses, timeout_s, expires_at, created_at,
                   actor)::text, 'UTF8'))
$$;

-- Transfers are immutable: the service never updates or deletes one, and the database
-- refuses it to anyone who tries without first disabling this trigger (which audit.verify
-- would then catch through the chain).
CREATE FUNCTION transfer_immutable () RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ledger transfers are immutable: % refused', TG_OP;
END
$$;
CREATE TRIGGER transfer_immutable BEFORE UPDATE OR DELETE ON transfer
    FOR EACH ROW EXECUTE FUNCTION transfer_immutable ();
CREATE TRIGGER transfer_no_truncate BEFORE TRUNCATE ON transfer
    FOR EACH STATEMENT EXECUTE FUNCTION transfer_immutable ();
