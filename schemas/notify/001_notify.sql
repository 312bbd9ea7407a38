-- shequ-notify: rules, subscriptions, templates, inbox messages, deliveries (issue 6).
-- Applied with search_path set to the notify schema. Times in microseconds since 1970 UTC.
--
-- A delivery is one (event, recipient, channel): the UNIQUE constraint is what makes each
-- of them happen at most once whatever the redelivery or replay of the event, since the
-- consumer inserts with ON CONFLICT DO NOTHING. Inbox deliveries are done in the consumer's
-- transaction; the others wait in `delivery` (status pending, next_at) for the sweep.

-- Rules stored by rule.put. The effective rules are the defaults that ship in the code
-- (services/notify/route.c), overlaid by these rows by id; `removed` hides a default rule.
CREATE TABLE rule (
    id          text PRIMARY KEY,
    spec        bytea NOT NULL,            -- the rule as a msgpack map (rule.put's args)
    removed     boolean NOT NULL DEFAULT false,
    changed_at  bigint NOT NULL,
    changed_by  text NOT NULL
);

-- A person or a department's system subscribed to topic prefixes on one channel; also the
-- address book: the address of a recipient for a channel is that of its subscription.
CREATE TABLE subscription (
    id            text PRIMARY KEY,
    subscriber    text NOT NULL,
    channel       text NOT NULL CHECK (channel IN ('inbox', 'sms', 'email', 'webhook')),
    address       text NOT NULL,
    topics        text[] NOT NULL,
    secret_sealed bytea,                   -- webhook HMAC secret, sealed (sq_crypt)
    created_at    bigint NOT NULL,
    changed_at    bigint NOT NULL,
    UNIQUE (subscriber, channel)
);

-- Templates that replace the defaults of the code, per event type and channel.
CREATE TABLE template (
    type        text NOT NULL,
    channel     text NOT NULL CHECK (channel IN ('inbox', 'sms', 'email', 'webhook')),
    subject     text,
    body        text NOT NULL,
    changed_at  bigint NOT NULL,
    PRIMARY KEY (type, channel)
);

CREATE TABLE delivery (
    id            text PRIMARY KEY,
    event_id      text NOT NULL,
    src           text NOT NULL,
    seq           bigint NOT NULL,
    type          text NOT NULL,
    div           text NOT NULL,
    recipient     text NOT NULL,
    channel       text NOT NULL CHECK (channel IN ('inbox', 'sms', 'email', 'webhook')),
    address       text NOT NULL,
    subscription  text REFERENCES subscription (id) ON DELETE SET NULL,
    rule          text NOT NULL,
    priority      text NOT NULL CHECK (priority IN ('normal', 'urgent')),
    subject       text NOT NULL DEFAULT '',
    body          text NOT NULL,           -- rendered; for a webhook the JSON posted
    status        text NOT NULL CHECK (status IN ('pending', 'delivered', 'dead')),
    attempts      int NOT NULL DEFAULT 0,
    next_at       bigint NOT NULL,
    last_error    text NOT NULL DEFAULT '',
    created_at    bigint NOT NULL,
    delivered_at  bigint,
    UNIQUE (event_id, recipient, channel)
);
CREATE INDEX delivery_due ON delivery (next_at) WHERE status = 'pending';
CREATE INDEX delivery_recipient ON delivery (recipient, created_at);

-- Every try of a delivery that leaves the platform.
CREATE TABLE attempt (
    delivery    text NOT NULL REFERENCES delivery (id),
    n           int NOT NULL,
    at          bigint NOT NULL,
    ok          boolean NOT NULL,
    error       text NOT NULL DEFAULT '',
    PRIMARY KEY (delivery, n)
);

CREATE TABLE dead_letter (
    delivery    text PRIMARY KEY REFERENCES delivery (id),
    at          bigint NOT NULL,
    attempts    int NOT NULL,
    last_error  text NOT NULL,
    retried_at  bigint                     -- set by deadletter.retry; the row stays as history
);

-- The inbox channel: messages stored per recipient.
CREATE TABLE message (
    id          text PRIMARY KEY,
    delivery    text NOT NULL UNIQUE REFERENCES delivery (id),
    recipient   text NOT NULL,
    event_id    text NOT NULL,
    type        text NOT NULL,
    div         text NOT NULL,
    priority    text NOT NULL,
    subject     text NOT NULL DEFAULT '',
    body        text NOT NULL,
    created_at  bigint NOT NULL,
    read_at     bigint
);
CREATE INDEX message_recipient ON message (recipient, created_at);
