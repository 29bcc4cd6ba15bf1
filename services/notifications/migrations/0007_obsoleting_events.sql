-- A message is obsolete when an event that cancels its flow HAPPENED after the event that planned
-- it, whichever of the two the consumer handled first (it handles several at once and retries a
-- failed one later). So each delivery keeps the time of the event that planned it, a cancelling
-- event cancels only messages planned by older events, and it is remembered (the latest per
-- customer, flow and correlation; '' for the whole flow) so an older event handled after it plans
-- nothing.
ALTER TABLE deliveries ADD COLUMN triggered_at timestamptz;  -- NULL for messages planned before 0007

CREATE TABLE flow_cancellations (
    shop_id     text        NOT NULL,
    customer_id text        NOT NULL,
    flow_key    text        NOT NULL,
    correlation text        NOT NULL,
    at          timestamptz NOT NULL,
    PRIMARY KEY (shop_id, customer_id, flow_key, correlation)
);
