-- The tier last announced in tier.changed: the tier that applies (an admin override while it lasts),
-- so every move of it is announced once (the first tier, an override's start and end included) and
-- other services that keep a customer's tier from tier.changed agree with LoyaltyAccount.tier.
-- NULL: none announced yet (before this column, the lowest tier never was).
ALTER TABLE accounts ADD COLUMN announced_tier text;
UPDATE accounts SET announced_tier = CASE WHEN tier_override IS NOT NULL AND tier_override_until > now()
                                          THEN tier_override ELSE tier END;
