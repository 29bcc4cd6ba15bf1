-- The service's dead letters, moved here from its <service>.events.dlq queue (shared/dead_letters.py):
-- a quorum queue cannot be read without taking messages out of it, a table can be counted, grouped
-- by reason and replayed a chosen few at a time. One row per dead-lettering (letter_key), so moving
-- the same message twice after a crash keeps one row.
CREATE TABLE dead_letters (
    id           bigserial   PRIMARY KEY,
    queue        text        NOT NULL,            -- the queue it died in: <service>.events
    letter_key   text        NOT NULL UNIQUE,
    message_id   text,                            -- the event id, when the message had one
    event_type   text,                            -- the routing key it was published with
    shop_id      text,                            -- from the envelope; NULL for a body that is no event
    reason       text        NOT NULL,            -- the error, as the consumer gave up on it
    reason_group text        NOT NULL,            -- the reason with ids and numbers left out
    attempts     int         NOT NULL DEFAULT 0,
    headers      jsonb       NOT NULL DEFAULT '{}',
    body         bytea       NOT NULL,
    content_type text,
    dead_at      timestamptz NOT NULL DEFAULT now(),
    replayed_at  timestamptz,                     -- last put back on the service's queue
    replays      int         NOT NULL DEFAULT 0
);
CREATE INDEX dead_letters_waiting ON dead_letters (queue, shop_id, dead_at) WHERE replayed_at IS NULL;
