-- How far the relay has published, kept in the stream's one row instead of a flag on every
-- outbox row. Marking 8,000 events published used to update 8,000 rows (each a new row
-- version with its index entries, as much work again as stamping them); now it updates
-- one. After a crash the relay publishes again from published_seq + 1: at least once, as
-- before (subscribers drop repeats by seq).
ALTER TABLE stream ADD COLUMN published_seq bigint NOT NULL DEFAULT 0;
UPDATE stream SET published_seq = coalesce ((SELECT max (seq) FROM outbox WHERE published), 0);
-- The flag is no longer written or read; the column stays so that a replica still running
-- the previous relay during an upgrade keeps working.
DROP INDEX outbox_unpublished;
