-- One referral code per customer, unique within the shop; the referrer's first name is kept for
-- the friend's landing page and nothing else personal.
CREATE TABLE referral_codes (
    shop_id     text        NOT NULL,
    customer_id text        NOT NULL,
    code        text        NOT NULL,
    first_name  text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (shop_id, customer_id),
    UNIQUE (shop_id, code)
);
