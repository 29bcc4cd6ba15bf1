-- Each contact's current tier, from tier.changed (to_tier), for challenge invitations to a tier
-- audience. NULL: no tier change seen yet. Erasure deletes the contact row, and the tier with it.
ALTER TABLE contacts ADD COLUMN tier text;
