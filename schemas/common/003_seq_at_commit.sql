-- seq is given when the events are written, not stamped afterwards by the relay.
--
-- A transaction's events are now inserted by its last statement before COMMIT, which takes
-- their seqs from the stream's counter row (stream.last_seq) and keeps that row locked until
-- the transaction ends (sq_outbox_flush): the transactions of a stream commit in seq order,
-- so a reader that sees seq n+1 also sees n. The relay only reads and publishes. Stamping
-- cost an UPDATE of every event row (a new row version and its index entries, about 17 µs a
-- row, as much as writing it), a second transaction per round, and the wait for the oldest
-- running transaction of the cluster before an event could go out.
--
-- Upgrade: stop every replica of the service before starting this version; a replica of
-- the previous version writes rows without seq, which this table no longer accepts.

-- Rows the previous relay had not stamped yet, in the order it would have stamped them.
WITH pick AS (SELECT id, row_number () OVER (ORDER BY xid, id) AS rn
              FROM outbox WHERE seq IS NULL),
     base AS (SELECT greatest ((SELECT coalesce (max (last_seq), 0) FROM stream),
                               (SELECT coalesce (max (seq), 0) FROM outbox)) AS b)
UPDATE outbox o SET seq = base.b + pick.rn FROM pick, base WHERE o.id = pick.id;
UPDATE stream SET last_seq = greatest (last_seq, (SELECT coalesce (max (seq), 0) FROM outbox));

-- How far the relay published, in a table of its own: writers keep the stream's row locked
-- until they commit, and the relay must not wait for them.
CREATE TABLE relay_position (
    name          text PRIMARY KEY,
    published_seq bigint NOT NULL DEFAULT 0
);
INSERT INTO relay_position (name, published_seq) SELECT name, published_seq FROM stream;
ALTER TABLE stream DROP COLUMN published_seq;

-- The row is identified by its seq now; what served the stamping goes (three index entries
-- fewer per event: id, the unstamped rows, xid).
DROP INDEX outbox_unstamped;
DROP INDEX outbox_xid;
ALTER TABLE outbox DROP COLUMN id, DROP COLUMN xid, DROP COLUMN published;
-- UNIQUE and NOT NULL: seq is the key (its index, outbox_seq_key, serves every read).
ALTER TABLE outbox ALTER COLUMN seq SET NOT NULL;
