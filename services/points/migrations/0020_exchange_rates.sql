-- Orders in other currencies (issue 18, "Currencies"): each paid order keeps the rate that turned its
-- currency into the program (base) currency, and the date of that rate; an order without a rate is
-- recorded as NOT_ELIGIBLE with a note saying why, never a silent 0. The earning ledger entry keeps
-- the rate and its date as well. Numbered 0020 so that it cannot take a number the offers work uses.
ALTER TABLE order_points
    ADD COLUMN base_currency text,
    ADD COLUMN fx_rate       numeric CHECK (fx_rate > 0),
    ADD COLUMN fx_date       date,
    ADD COLUMN points_note   text;

ALTER TABLE order_points DROP CONSTRAINT order_points_status_check;
ALTER TABLE order_points ADD CONSTRAINT order_points_status_check
    CHECK (status IN ('PENDING', 'AVAILABLE', 'REVERSED', 'NOT_ELIGIBLE'));

-- Orders recorded before: those in the program's currency earned at 1:1; the others earned 0 points
-- silently, and now say why. Tombstones of orders cancelled before payment have no currency.
WITH programs_now AS (
    SELECT DISTINCT ON (shop_id) shop_id, config->>'currency' AS currency
    FROM programs ORDER BY shop_id, version DESC)
UPDATE order_points o
SET base_currency = coalesce(p.currency, 'EUR'),
    fx_rate = CASE WHEN o.currency = coalesce(p.currency, 'EUR') THEN 1 END,
    status = CASE WHEN o.currency <> coalesce(p.currency, 'EUR') AND o.currency <> '' AND NOT o.voided
                  THEN 'NOT_ELIGIBLE' ELSE o.status END,
    points_note = CASE WHEN o.currency <> coalesce(p.currency, 'EUR') AND o.currency <> ''
                       THEN 'no exchange rate from ' || o.currency || ' to the program currency '
                            || coalesce(p.currency, 'EUR') || ' (paid before exchange rates existed)' END
FROM (SELECT DISTINCT shop_id FROM order_points) s
LEFT JOIN programs_now p ON p.shop_id = s.shop_id
WHERE o.shop_id = s.shop_id;

CREATE INDEX order_points_not_eligible ON order_points (shop_id, currency) WHERE status = 'NOT_ELIGIBLE';

ALTER TABLE ledger_entries
    ADD COLUMN fx_currency text,
    ADD COLUMN fx_rate     numeric,
    ADD COLUMN fx_date     date;
