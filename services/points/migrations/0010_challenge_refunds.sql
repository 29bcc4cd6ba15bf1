-- A refunded or cancelled order takes back the challenge progress it brought: each count row keeps
-- what it added (`counted`; for an order also its net amount), so a refund takes back exactly that,
-- and a replay of the refund finds nothing more to take. Rows of COUNT goals counted 1; rows of SPEND
-- goals counted before this migration stay NULL (their step is unknown) and a refund leaves them be.
ALTER TABLE challenge_counts ADD COLUMN counted int CHECK (counted >= 0), ADD COLUMN amount numeric;
UPDATE challenge_counts k SET counted = 1 FROM challenges c
 WHERE c.shop_id = k.shop_id AND c.id = k.challenge_id AND c.goal_measure = 'COUNT';
CREATE INDEX challenge_counts_source ON challenge_counts (shop_id, source_key);

-- How often a refund took a completion back: the next completion's reward has a ledger key of its own.
ALTER TABLE challenge_progress ADD COLUMN revoked int NOT NULL DEFAULT 0;
