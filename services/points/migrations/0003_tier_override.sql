-- An admin may put a customer in a tier for a while (a VIP gesture, a complaint settled): the
-- override wins until its end date, with the reason kept for the team.
ALTER TABLE accounts
    ADD COLUMN tier_override        text,
    ADD COLUMN tier_override_until  timestamptz,
    ADD COLUMN tier_override_reason text;
