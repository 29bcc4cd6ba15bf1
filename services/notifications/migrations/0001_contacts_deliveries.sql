-- What notifications knows of a customer: its own copy, fed by customer events.
CREATE TABLE contacts (
    shop_id          text        NOT NULL,
    customer_id      text        NOT NULL,
    email            text        NOT NULL,
    first_name       text,
    locale           text        NOT NULL DEFAULT 'en',
    timezone         text,
    accepts_email    boolean     NOT NULL DEFAULT false,
    accepts_sms      boolean     NOT NULL DEFAULT false,
    accepts_whatsapp boolean     NOT NULL DEFAULT false,
    updated_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (shop_id, customer_id)
);

-- The delivery log: one row per message, unique per (template, customer, source) so a
-- redelivered event never sends twice.
CREATE TABLE deliveries (
    shop_id     text        NOT NULL,
    id          uuid        NOT NULL DEFAULT gen_random_uuid(),
    customer_id text        NOT NULL,
    channel     text        NOT NULL CHECK (channel IN ('EMAIL', 'SMS', 'WHATSAPP', 'WEBHOOK')),
    template    text        NOT NULL,
    status      text        NOT NULL DEFAULT 'SCHEDULED'
                CHECK (status IN ('SCHEDULED', 'SENT', 'FAILED', 'SUPPRESSED', 'CANCELLED')),
    dedup_key   text        NOT NULL,
    variables   jsonb       NOT NULL DEFAULT '{}',
    recipient   text,
    subject     text,
    error       text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    due_at      timestamptz NOT NULL DEFAULT now(),
    sent_at     timestamptz,
    PRIMARY KEY (shop_id, id),
    UNIQUE (shop_id, dedup_key)
);
CREATE INDEX deliveries_customer ON deliveries (shop_id, customer_id, created_at DESC, id DESC);
