-- shequ-notify: channel fallback and digests (issue 6, second slice). Applied with
-- search_path set to the notify schema. Times in microseconds since 1970 UTC.
--
-- Fallback: a rule lists channels in order. A delivery keeps the channels still to try
-- (`plan`) and, while there are any, the event itself (`event`) so that the sweep can
-- render it for the next channel when this one fails for good. The new delivery points
-- back at the one it replaces (`fallback_of`); the UNIQUE (event_id, recipient, channel)
-- of 001 still keeps each (event, recipient, channel) to one delivery.
--
-- Digests: past the per-recipient rate, a delivery is `folded` into a digest of its
-- (recipient, channel, window) instead of being sent; the digest is one message listing
-- its deliveries, sent when the window ends. Sent, every delivery it holds is `delivered`.

ALTER TABLE delivery DROP CONSTRAINT delivery_status_check;
ALTER TABLE delivery ADD CONSTRAINT delivery_status_check
    CHECK (status IN ('pending', 'delivered', 'dead', 'folded'));

ALTER TABLE delivery
    ADD COLUMN plan        text NOT NULL DEFAULT '',  -- channels to fall back to: "sms,email"
    ADD COLUMN skipped     text NOT NULL DEFAULT '',  -- rule's channels passed over: no address
    ADD COLUMN event       bytea,                     -- the envelope (msgpack) while plan is set
    ADD COLUMN fallback_of text REFERENCES delivery (id), -- the delivery that failed before
    ADD COLUMN digest      text;                      -- the digest it was folded into

-- One digest message: deliveries of one recipient and channel in one rate window, at most
-- NOTIFY_DIGEST_ITEMS_MAX of them (a window with more has several digests).
CREATE TABLE digest (
    id            text PRIMARY KEY,
    recipient     text NOT NULL,
    channel       text NOT NULL CHECK (channel IN ('sms', 'email', 'webhook')),
    address       text NOT NULL,
    window_start  bigint NOT NULL,
    items         int NOT NULL DEFAULT 0,
    status        text NOT NULL CHECK (status IN ('open', 'delivered', 'dead')),
    attempts      int NOT NULL DEFAULT 0,
    next_at       bigint NOT NULL,               -- the window's end (or after quiet hours)
    last_error    text NOT NULL DEFAULT '',
    created_at    bigint NOT NULL,
    delivered_at  bigint
);
CREATE INDEX digest_due ON digest (next_at) WHERE status = 'open';
CREATE INDEX digest_window ON digest (recipient, channel, window_start) WHERE status = 'open';

ALTER TABLE delivery ADD CONSTRAINT delivery_digest_fkey
    FOREIGN KEY (digest) REFERENCES digest (id);
CREATE INDEX delivery_digest ON delivery (digest) WHERE digest IS NOT NULL;
-- The rate counted in PostgreSQL while Redis is down: individual sends in the window.
CREATE INDEX delivery_sent ON delivery (recipient, channel, delivered_at) WHERE digest IS NULL;
