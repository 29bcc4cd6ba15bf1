-- Segment thresholds as versions (issue 19): configureSegments makes the next version and keeps every
-- one, like the points program. A shop's existing row is its version 1.
ALTER TABLE segment_rules ADD COLUMN version integer NOT NULL DEFAULT 1;

CREATE TABLE segment_rule_versions (
    shop_id    text        NOT NULL,
    version    integer     NOT NULL,
    rules      jsonb       NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (shop_id, version)
);

INSERT INTO segment_rule_versions (shop_id, version, rules, created_at)
SELECT shop_id, version, rules, updated_at FROM segment_rules;

-- OCCASIONAL (issue 19): bought in the last 90 days but neither new, regular nor VIP, the gap the product
-- brief's segment rules leave; it was NEW or REGULAR before.
ALTER TABLE customers DROP CONSTRAINT customers_segment_check;
ALTER TABLE customers ADD CONSTRAINT customers_segment_check
    CHECK (segment IN ('PROSPECT', 'NEW', 'REGULAR', 'VIP', 'OCCASIONAL', 'AT_RISK', 'CHURNED'));
