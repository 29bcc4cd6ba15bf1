-- A challenge's audience may be a tier of the shop's program instead of a segment: the customers whose
-- current tier (the one the points service applies, override included) is exactly that tier.
ALTER TABLE challenges ADD COLUMN audience_tier text;
ALTER TABLE challenges ADD CONSTRAINT challenges_one_audience CHECK (audience IS NULL OR audience_tier IS NULL);
