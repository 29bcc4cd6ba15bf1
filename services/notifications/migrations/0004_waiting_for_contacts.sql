-- Events about a customer whose profile has not reached notifications yet wait here, instead of
-- circling through the retry queues; the profile's arrival plans them. Kept for a week at most.
CREATE TABLE waiting_events (
    shop_id     text        NOT NULL,
    id          bigserial   NOT NULL,
    customer_id text        NOT NULL,
    event_type  text        NOT NULL,
    data        jsonb       NOT NULL,
    happened_at timestamptz NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (shop_id, id)
);
CREATE INDEX waiting_events_customer ON waiting_events (shop_id, customer_id, id);
CREATE INDEX waiting_events_received ON waiting_events (received_at);
