-- Offers (DOMAIN.md "Offers"): every incentive is a code a checkout can check and redeem. One row
-- per offer, unique per shop by its natural key (issuing twice under one key gives the same offer)
-- and by its code's lookup key (upper case, no spaces or dashes). `used_count` counts the uses that
-- are not released; EXPIRED is read from expires_at, never stored.
CREATE TABLE offers (
    shop_id       text        NOT NULL,
    id            text        NOT NULL,
    key           text        NOT NULL,
    code          text        NOT NULL,  -- as shown, e.g. FLY-7K3M-9QXD-2HRB-T4VW
    code_key      text        NOT NULL,  -- as looked up: FLY7K3M9QXD2HRBT4VW
    source        text        NOT NULL CHECK (source IN ('REWARD', 'REFERRAL', 'WINBACK', 'AT_RISK', 'BIRTHDAY',
                                                         'PUNCH_CARD', 'TIER_PERK', 'CHALLENGE', 'STORE_CREDIT',
                                                         'MANUAL')),
    kind          text        NOT NULL CHECK (kind IN ('FIXED_AMOUNT', 'PERCENTAGE', 'FREE_SHIPPING', 'FREE_PRODUCT',
                                                       'STORE_CREDIT')),
    value         numeric     CHECK (value >= 0),
    currency      text        NOT NULL,
    min_order     numeric     CHECK (min_order >= 0),
    starts_at     timestamptz NOT NULL,
    expires_at    timestamptz NOT NULL,
    customer_id   text,                  -- NULL: shareable
    usage_limit   int         NOT NULL DEFAULT 1 CHECK (usage_limit > 0),
    used_count    int         NOT NULL DEFAULT 0 CHECK (used_count >= 0 AND used_count <= usage_limit),
    status        text        NOT NULL DEFAULT 'ACTIVE' CHECK (status IN ('ACTIVE', 'REDEEMED', 'REVOKED')),
    reward_id     text,
    redemption_id text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    revoked_at    timestamptz,
    revoke_reason text,
    PRIMARY KEY (shop_id, id),
    UNIQUE (shop_id, key),
    UNIQUE (shop_id, code_key)
);
CREATE INDEX offers_customer ON offers (shop_id, customer_id, created_at DESC);
CREATE INDEX offers_issued ON offers (shop_id, created_at);
CREATE UNIQUE INDEX offers_redemption ON offers (shop_id, redemption_id) WHERE redemption_id IS NOT NULL;

-- Each order that used an offer (attribution), once per (offer, order): the same order redeeming
-- again finds its row. A release (checkout abandoned, order cancelled or refunded) keeps the row.
CREATE TABLE offer_uses (
    shop_id        text        NOT NULL,
    offer_id       text        NOT NULL,
    order_id       text        NOT NULL,
    discount       numeric     CHECK (discount >= 0),  -- NULL: consumed by validateRewardCode, no cart
    free_shipping  boolean     NOT NULL DEFAULT false,
    currency       text,
    subtotal       numeric,
    redeemed_at    timestamptz NOT NULL DEFAULT now(),
    released_at    timestamptz,
    release_reason text,
    PRIMARY KEY (shop_id, offer_id, order_id),
    FOREIGN KEY (shop_id, offer_id) REFERENCES offers (shop_id, id)
);
CREATE INDEX offer_uses_order ON offer_uses (shop_id, order_id);

-- The redemptions so far become offers, keeping their codes (already upper case, without dashes)
-- and states: a used code has one use, by validateRewardCode (it knew no order).
INSERT INTO offers (shop_id, id, key, code, code_key, source, kind, value, currency, starts_at, expires_at,
                    customer_id, used_count, status, reward_id, redemption_id, created_at)
SELECT shop_id, 'of-' || id, 'redemption:' || id, code, code,
       CASE reward_id WHEN 'punch-card' THEN 'PUNCH_CARD' WHEN 'store-credit' THEN 'STORE_CREDIT' ELSE 'REWARD' END,
       kind, value, currency, created_at, expires_at, customer_id,
       CASE WHEN used_at IS NULL THEN 0 ELSE 1 END, CASE WHEN used_at IS NULL THEN 'ACTIVE' ELSE 'REDEEMED' END,
       reward_id, id, created_at
  FROM redemptions;
INSERT INTO offer_uses (shop_id, offer_id, order_id, currency, redeemed_at)
SELECT shop_id, 'of-' || id, 'validateRewardCode:1', currency, used_at FROM redemptions WHERE used_at IS NOT NULL;
