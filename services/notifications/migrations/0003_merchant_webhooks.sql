-- Outbound webhooks: a merchant's URLs receive the event types they selected, signed, retried,
-- with a delivery log.
CREATE TABLE webhook_endpoints (
    shop_id     text        NOT NULL,
    id          uuid        NOT NULL DEFAULT gen_random_uuid(),
    url         text        NOT NULL,
    secret      text        NOT NULL,
    event_types text[]      NOT NULL,
    enabled     boolean     NOT NULL DEFAULT true,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (shop_id, id)
);

CREATE TABLE webhook_deliveries (
    shop_id         text        NOT NULL,
    id              uuid        NOT NULL DEFAULT gen_random_uuid(),
    endpoint_id     uuid        NOT NULL,
    event_id        text        NOT NULL,
    event_type      text        NOT NULL,
    customer_id     text,
    payload         jsonb       NOT NULL,
    status          text        NOT NULL DEFAULT 'PENDING' CHECK (status IN ('PENDING', 'SENT', 'FAILED')),
    attempts        int         NOT NULL DEFAULT 0,
    response_status int,
    error           text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    delivered_at    timestamptz,
    PRIMARY KEY (shop_id, id),
    UNIQUE (shop_id, endpoint_id, event_id)
);
CREATE INDEX webhook_deliveries_recent ON webhook_deliveries (shop_id, created_at DESC, id DESC);
CREATE INDEX webhook_deliveries_customer ON webhook_deliveries (shop_id, customer_id);
