-- Messages that carry an offer (win-back, at-risk, birthday) ask the points service for it when they
-- come due (offer.requested under `offer_key`) and wait, SCHEDULED, until offer.issued brings it: its
-- facts go into `variables` ('offer') and its id here. offer.refused cancels the message. A message
-- planned before this migration has no key yet; it gets one when it first asks (docs/operations.md).
ALTER TABLE deliveries
    ADD COLUMN offer_key      text,         -- the natural key its offer is asked under (names the customer)
    ADD COLUMN offer_asked_at timestamptz,  -- when it first asked: it gives up after a week without an answer
    ADD COLUMN offer_id       text;         -- the issued offer it carries
