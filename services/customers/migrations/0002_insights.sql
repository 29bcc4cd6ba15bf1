-- Insights: per-customer order summary (kept current by every order transition), segments, RFM,
-- engagement, per-shop segment rules, GDPR erasure, webhook refunds.

ALTER TABLE customers
    ALTER COLUMN email DROP NOT NULL,  -- an erased profile keeps its id, not its address
    ADD COLUMN segment         text          NOT NULL DEFAULT 'PROSPECT'
        CHECK (segment IN ('PROSPECT', 'NEW', 'REGULAR', 'VIP', 'AT_RISK', 'CHURNED')),
    ADD COLUMN segment_since   timestamptz   NOT NULL DEFAULT now(),
    ADD COLUMN engagement_score int          NOT NULL DEFAULT 0,
    ADD COLUMN orders_count    int           NOT NULL DEFAULT 0,   -- counting orders (PAID SHIPPED DELIVERED)
    ADD COLUMN total_spent     numeric(20,4) NOT NULL DEFAULT 0,   -- their net amount
    ADD COLUMN spent_currency  text,
    ADD COLUMN first_order_id  text,
    ADD COLUMN first_order_at  timestamptz,
    ADD COLUMN second_order_at timestamptz,
    ADD COLUMN last_order_at   timestamptz,
    ADD COLUMN rfm_recency     smallint CHECK (rfm_recency BETWEEN 1 AND 5),
    ADD COLUMN rfm_frequency   smallint CHECK (rfm_frequency BETWEEN 1 AND 5),
    ADD COLUMN rfm_monetary    smallint CHECK (rfm_monetary BETWEEN 1 AND 5),
    ADD COLUMN rfm_at          timestamptz,
    ADD COLUMN birthday_greeted_year int,
    ADD COLUMN erased_at       timestamptz;

-- Metrics read customers by the time of their first and second counting order.
CREATE INDEX customers_first_order ON customers (shop_id, first_order_at) WHERE first_order_at IS NOT NULL;
CREATE INDEX customers_second_order ON customers (shop_id, second_order_at) WHERE second_order_at IS NOT NULL;
CREATE INDEX customers_segment ON customers (shop_id, segment);

-- Set when referrals reports that the order's referral converted (referral rate).
ALTER TABLE orders ADD COLUMN referral_converted boolean NOT NULL DEFAULT false;

-- Counting orders by time, with what the metrics need in the index (index-only scans over a window).
CREATE INDEX orders_counting_by_time ON orders (shop_id, placed_at)
    INCLUDE (customer_id, total, shipping_total, tax_total, refunded_total, currency)
    WHERE status IN ('PAID', 'SHIPPED', 'DELIVERED');
CREATE INDEX orders_counting_by_customer ON orders (shop_id, customer_id, placed_at)
    INCLUDE (total, shipping_total, tax_total, refunded_total)
    WHERE status IN ('PAID', 'SHIPPED', 'DELIVERED');

CREATE TABLE engagements (
    shop_id         text        NOT NULL,
    id              bigserial   NOT NULL,
    customer_id     text        NOT NULL,
    kind            text        NOT NULL CHECK (kind IN ('SITE_VISIT', 'EMAIL_SENT', 'EMAIL_OPEN', 'EMAIL_CLICK')),
    at              timestamptz NOT NULL,
    notification_id text,
    idempotency_key text,
    PRIMARY KEY (shop_id, id),
    FOREIGN KEY (shop_id, customer_id) REFERENCES customers (shop_id, id)
);
CREATE INDEX engagements_customer ON engagements (shop_id, customer_id, kind, at);
CREATE UNIQUE INDEX engagements_key ON engagements (shop_id, idempotency_key) WHERE idempotency_key IS NOT NULL;

CREATE TABLE segment_rules (
    shop_id    text        PRIMARY KEY,
    rules      jsonb       NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- Refunds reported one by one (Shopify refunds/create): summed into the order's cumulative refund.
CREATE TABLE order_refunds (
    shop_id   text          NOT NULL,
    refund_id text          NOT NULL,
    order_id  text          NOT NULL,
    amount    numeric(20,4) NOT NULL CHECK (amount >= 0),
    PRIMARY KEY (shop_id, refund_id),
    FOREIGN KEY (shop_id, order_id) REFERENCES orders (shop_id, id)
);
