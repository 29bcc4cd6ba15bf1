-- DOMAIN.md takes 5 engagement points for each discount email left unopened, not for every marketing
-- email: a sent email remembers whether it carried an offer (notification.sent's `offer`).
ALTER TABLE engagements ADD COLUMN offer boolean NOT NULL DEFAULT false;
