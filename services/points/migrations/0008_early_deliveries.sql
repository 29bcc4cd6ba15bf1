-- A delivery consumed before its payment (the consumer handles several messages at once) waits
-- here; the payment's handler schedules the release from it. No retry loop, no dead letter.
CREATE TABLE early_deliveries (
    shop_id      text        NOT NULL,
    order_id     text        NOT NULL,
    delivered_at timestamptz NOT NULL,
    PRIMARY KEY (shop_id, order_id)
);
