-- Two index entries fewer per appended transfer (each of the 8,000 rows of a batch paid
-- for them):
-- - created_at alone is never searched: every query by time also names an account, and
--   goes by (debit, seq) or (credit, seq);
-- - pending_id is NULL on every created transfer, and a unique index holds an entry for
--   each NULL too; only the ends (post, void, expire) carry one, so the index that keeps a
--   pending transfer from being ended twice needs only them.
DROP INDEX transfer_created;
ALTER TABLE transfer DROP CONSTRAINT transfer_pending_id_key;
CREATE UNIQUE INDEX transfer_pending_id ON transfer (pending_id) WHERE pending_id IS NOT NULL;
