-- The points program: versioned configuration, points per order (pending until the return window
-- passes), tiers, the rewards catalog with single-use codes, and the store-credit wallet.

-- Each configureProgram appends a version; ledger entries name the version that produced them, so
-- changing the program never rewrites history. The newest version is the one in force.
CREATE TABLE programs (
    shop_id    text        NOT NULL,
    version    int         NOT NULL CHECK (version > 0),
    config     jsonb       NOT NULL,
    actor      text        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (shop_id, version)
);

ALTER TABLE accounts
    ADD COLUMN shortfall        bigint      NOT NULL DEFAULT 0 CHECK (shortfall >= 0),
    ADD COLUMN tier             text,
    ADD COLUMN tier_since       timestamptz,
    ADD COLUMN last_activity_at timestamptz;

-- What each order earned and under which rule version, so a refund takes back by the same rule.
CREATE TABLE order_points (
    shop_id      text        NOT NULL,
    order_id     text        NOT NULL,
    customer_id  text        NOT NULL,
    currency     text        NOT NULL,
    net_amount   numeric     NOT NULL CHECK (net_amount >= 0),  -- what still counts after refunds
    earn_rate    numeric     NOT NULL,
    multiplier   numeric     NOT NULL,
    rule_version int         NOT NULL,
    earned       bigint      NOT NULL CHECK (earned >= 0),
    taken_back   bigint      NOT NULL DEFAULT 0 CHECK (taken_back >= 0 AND taken_back <= earned),
    status       text        NOT NULL DEFAULT 'PENDING' CHECK (status IN ('PENDING', 'AVAILABLE', 'REVERSED')),
    voided       boolean     NOT NULL DEFAULT false,  -- cancelled or fully refunded: no longer counts
    paid_at      timestamptz NOT NULL,
    release_at   timestamptz,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (shop_id, order_id)
);
CREATE INDEX order_points_customer ON order_points (shop_id, customer_id, paid_at);

-- One nudge per customer, tier and qualifying period.
CREATE TABLE tier_nudges (
    shop_id     text        NOT NULL,
    customer_id text        NOT NULL,
    tier        text        NOT NULL,
    period      text        NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (shop_id, customer_id, tier, period)
);

CREATE TABLE rewards (
    shop_id            text        NOT NULL,
    id                 text        NOT NULL,
    name               text        NOT NULL,
    kind               text        NOT NULL CHECK (kind IN ('FIXED_AMOUNT', 'PERCENTAGE', 'FREE_SHIPPING',
                                                               'FREE_PRODUCT', 'STORE_CREDIT')),
    points_cost        int         NOT NULL CHECK (points_cost >= 0),
    value              numeric,
    min_tier           text,
    limit_per_customer int         CHECK (limit_per_customer > 0),
    limit_total        int         CHECK (limit_total > 0),
    redeemed_count     int         NOT NULL DEFAULT 0,
    active             boolean     NOT NULL DEFAULT true,
    listed             boolean     NOT NULL DEFAULT true,  -- false: granted by rules (punch card), not bought
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (shop_id, id)
);

CREATE TABLE redemptions (
    shop_id         text        NOT NULL,
    id              text        NOT NULL,
    customer_id     text        NOT NULL,
    reward_id       text        NOT NULL,
    idempotency_key text        NOT NULL,
    code            text        NOT NULL,
    kind            text        NOT NULL,
    points_spent    int         NOT NULL CHECK (points_spent >= 0),
    value           numeric,
    currency        text        NOT NULL,
    expires_at      timestamptz NOT NULL,
    used_at         timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (shop_id, id),
    UNIQUE (shop_id, code),
    UNIQUE (shop_id, customer_id, idempotency_key),
    FOREIGN KEY (shop_id, reward_id) REFERENCES rewards (shop_id, id)
);
CREATE INDEX redemptions_customer ON redemptions (shop_id, customer_id, reward_id);

-- The store-credit wallet: exact money in the shop currency, with its own append-only ledger.
CREATE TABLE credit_accounts (
    shop_id     text        NOT NULL,
    customer_id text        NOT NULL,
    currency    text        NOT NULL,
    balance     numeric     NOT NULL DEFAULT 0 CHECK (balance >= 0),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (shop_id, customer_id)
);

CREATE TABLE credit_entries (
    shop_id         text        NOT NULL,
    id              bigserial   NOT NULL,
    customer_id     text        NOT NULL,
    kind            text        NOT NULL CHECK (kind IN ('grant', 'spend', 'adjust')),
    amount          numeric     NOT NULL CHECK (amount <> 0),
    currency        text        NOT NULL,
    reason          text        NOT NULL,
    source_event_id text,
    idempotency_key text        NOT NULL,
    actor           text        NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (shop_id, id),
    UNIQUE (shop_id, idempotency_key),
    FOREIGN KEY (shop_id, customer_id) REFERENCES credit_accounts (shop_id, customer_id)
);

CREATE TRIGGER credit_entries_append_only BEFORE UPDATE OR DELETE ON credit_entries
    FOR EACH ROW EXECUTE FUNCTION ledger_is_append_only();
