-- Counting a reward's redemptions (its total limit) without scanning every customer's.
CREATE INDEX redemptions_reward ON redemptions (shop_id, reward_id);
