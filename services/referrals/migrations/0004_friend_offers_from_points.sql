-- The friend's offer is issued by the points service: when a referral opens, referrals writes the row
-- without a code and asks (offer.requested, key "referral:<referral id>"); offer.issued brings the
-- code, offer.redeemed marks it used. Codes minted here before are handed to points keeping their
-- code by a start-up catch-up (offers.carry_over): rows with a code that were never asked for.
ALTER TABLE programs ADD COLUMN friend_offer_valid_days int NOT NULL DEFAULT 30
    CHECK (friend_offer_valid_days BETWEEN 1 AND 730);

ALTER TABLE friend_offers
    ALTER COLUMN code DROP NOT NULL,  -- NULL until offer.issued
    ADD COLUMN asked_at   timestamptz,  -- when points was asked for it (NULL: minted here before, not handed over yet)
    ADD COLUMN offer_id   text,
    ADD COLUMN min_order  numeric(20,4),
    ADD COLUMN currency   text,
    ADD COLUMN expires_at timestamptz,
    ADD COLUMN refused    text;         -- why points refused it (nothing was issued)

CREATE INDEX friend_offers_to_hand_over ON friend_offers (shop_id) WHERE asked_at IS NULL;
