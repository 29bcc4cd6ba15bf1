-- The referral program per shop (defaults of DOMAIN.md), the referrals themselves, what the
-- fraud checks compare, the friend's single-use offer, and landing-page lookups for rate limiting.

CREATE TABLE programs (
    shop_id                   text          PRIMARY KEY,
    currency                  text          NOT NULL DEFAULT 'EUR',
    friend_discount_percent   int           NOT NULL DEFAULT 20 CHECK (friend_discount_percent BETWEEN 1 AND 100),
    minimum_order             numeric(20,4) NOT NULL DEFAULT 12 CHECK (minimum_order >= 0),
    reward_kind               text          NOT NULL DEFAULT 'credit' CHECK (reward_kind IN ('credit', 'points')),
    reward_amount             numeric(20,4) NOT NULL DEFAULT 20 CHECK (reward_amount >= 0),
    reward_points             int           NOT NULL DEFAULT 2000 CHECK (reward_points >= 0),
    ambassador_threshold      int           NOT NULL DEFAULT 5 CHECK (ambassador_threshold >= 1),
    ambassador_reward_amount  numeric(20,4) NOT NULL DEFAULT 30 CHECK (ambassador_reward_amount >= 0),
    ambassador_reward_points  int           NOT NULL DEFAULT 3000 CHECK (ambassador_reward_points >= 0),
    return_window_days        numeric(6,2)  NOT NULL DEFAULT 14 CHECK (return_window_days >= 0),
    signups_per_hour          int           NOT NULL DEFAULT 5 CHECK (signups_per_hour >= 1),
    rewards_per_month         int           NOT NULL DEFAULT 10 CHECK (rewards_per_month >= 1),
    shared_address_rejects    boolean       NOT NULL DEFAULT true,
    updated_at                timestamptz   NOT NULL DEFAULT now()
);

CREATE TABLE customer_facts (
    shop_id              text    NOT NULL,
    customer_id          text    NOT NULL,
    email_key            text,
    device_ids           text[]  NOT NULL DEFAULT '{}',
    address_hashes       text[]  NOT NULL DEFAULT '{}',
    payment_fingerprints text[]  NOT NULL DEFAULT '{}',
    order_ids            text[]  NOT NULL DEFAULT '{}',
    delivered_order_ids  text[]  NOT NULL DEFAULT '{}',
    PRIMARY KEY (shop_id, customer_id)
);

CREATE TABLE referrals (
    shop_id          text          NOT NULL,
    id               uuid          NOT NULL DEFAULT gen_random_uuid(),
    referrer_id      text          NOT NULL,
    friend_id        text          NOT NULL,
    code             text          NOT NULL,
    status           text          NOT NULL DEFAULT 'PENDING'
                     CHECK (status IN ('PENDING', 'CONVERTED', 'REJECTED', 'REVERSED')),
    rejection_reason text,
    order_id         text,
    order_paid       boolean       NOT NULL DEFAULT false,
    order_net        numeric(20,4),
    currency         text,
    reward_kind      text,
    reward_amount    numeric(20,4),
    reward_points    int,
    created_at       timestamptz   NOT NULL DEFAULT now(),
    decided_at       timestamptz,
    convert_due      timestamptz,  -- set when the first order is delivered
    PRIMARY KEY (shop_id, id),
    UNIQUE (shop_id, friend_id)  -- a friend is referred once
);
CREATE INDEX referrals_referrer ON referrals (shop_id, referrer_id, created_at DESC);
CREATE INDEX referrals_status ON referrals (shop_id, status, created_at DESC, id DESC);

CREATE TABLE friend_offers (
    shop_id     text        NOT NULL,
    friend_id   text        NOT NULL,
    referral_id uuid        NOT NULL,
    code        text        NOT NULL,
    percent_off int         NOT NULL,
    used_order  text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (shop_id, friend_id),
    UNIQUE (shop_id, code)
);

CREATE TABLE landing_lookups (
    shop_id      text        NOT NULL,
    client       text        NOT NULL,
    window_start timestamptz NOT NULL,
    misses       int         NOT NULL DEFAULT 0,
    PRIMARY KEY (shop_id, client, window_start)
);
