-- Flows are data: the shipped definitions live in flows.py (versioned with the code); a shop
-- overrides them here (enable/disable, a step's delay or template).
CREATE TABLE flow_overrides (
    shop_id    text        NOT NULL,
    flow_key   text        NOT NULL,
    enabled    boolean,
    steps      jsonb       NOT NULL DEFAULT '{}',  -- {step_key: {"delay_seconds": n, "template": "x"}}
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (shop_id, flow_key)
);

-- Which flow step planned a message, what it belongs to (an order, a product) so a newer event
-- can cancel it, and whether it is transactional (exempt from marketing consent and caps).
ALTER TABLE deliveries
    ADD COLUMN flow_key      text,
    ADD COLUMN step_key      text,
    ADD COLUMN correlation   text,
    ADD COLUMN transactional boolean NOT NULL DEFAULT true,
    ADD COLUMN attempts      int     NOT NULL DEFAULT 0,
    ADD COLUMN opened_at     timestamptz,
    ADD COLUMN clicked_at    timestamptz,
    ALTER COLUMN customer_id DROP NOT NULL;  -- NULL once the customer was erased (counts stay)
CREATE INDEX deliveries_pending_flow ON deliveries (shop_id, customer_id, flow_key)
    WHERE status = 'SCHEDULED';
CREATE INDEX deliveries_failed ON deliveries (shop_id, created_at DESC, id DESC) WHERE status = 'FAILED';
CREATE INDEX deliveries_sent_marketing ON deliveries (shop_id, customer_id, sent_at)
    WHERE status = 'SENT' AND NOT transactional;

-- The customer's own choices override the consents the commerce platform sent (NULL: no choice).
ALTER TABLE contacts
    ADD COLUMN email_opt       boolean,
    ADD COLUMN sms_opt         boolean,
    ADD COLUMN whatsapp_opt    boolean,
    ADD COLUMN phone           text,
    ADD COLUMN pref_locale     text,
    ADD COLUMN pref_timezone   text,
    ADD COLUMN quiet_start     time,
    ADD COLUMN quiet_end       time,
    ADD COLUMN segment         text,
    ALTER COLUMN email DROP NOT NULL;

-- Enough of each order to address a delay note to its customer.
CREATE TABLE orders (
    shop_id     text        NOT NULL,
    order_id    text        NOT NULL,
    customer_id text        NOT NULL,
    currency    text        NOT NULL,
    total       numeric     NOT NULL,
    status      text        NOT NULL,
    placed_at   timestamptz NOT NULL,
    PRIMARY KEY (shop_id, order_id)
);
CREATE INDEX orders_customer ON orders (shop_id, customer_id);

-- Per-shop delivery settings (links, caps, retries).
CREATE TABLE shop_settings (
    shop_id          text        PRIMARY KEY,
    storefront_url   text,
    tracking_url     text,       -- with {order_id}
    daily_cap        int,
    weekly_cap       int,
    retry_seconds    int[],
    -- SMS / WhatsApp through a provider with Twilio's Messages API (base URL, account, token)
    sms_provider_url text,
    sms_account_sid  text,
    sms_auth_token   text,
    sms_from         text,
    whatsapp_from    text,
    -- the WEBHOOK channel: rendered messages POSTed to the merchant's own ESP, HMAC-signed
    message_webhook_url text,
    webhook_secret   text,
    updated_at       timestamptz NOT NULL DEFAULT now()
);

-- Customers erased under GDPR, by a hash of their id: late events about them are dropped.
CREATE TABLE erased_customers (
    shop_id     text        NOT NULL,
    id_hash     text        NOT NULL,
    erased_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (shop_id, id_hash)
);
