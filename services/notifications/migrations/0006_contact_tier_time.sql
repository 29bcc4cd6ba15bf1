-- When the contact's tier was announced (the tier.changed envelope's time): a tier change delivered
-- late (retried while the profile had not arrived yet) never overwrites a newer one.
ALTER TABLE contacts ADD COLUMN tier_at timestamptz;
