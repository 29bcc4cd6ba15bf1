-- retentionMetrics without per-customer grouping (DOMAIN.md "Exact definitions"). Each counting order
-- knows its neighbours among the customer's counting orders, so "the customer's first order in the
-- period", "their second order ever" or "their first order in that month" are filters on one row, and
-- a period's figures are index-only scans of its orders with no DISTINCT (indexes: 0009-0011), or
-- counters.
--
-- Activity spells: a customer is active at t when they have a counting order in [t - 365 d, t), so each
-- order makes them active on (placed_at, placed_at + 365 d]; the union of those intervals is a set of
-- disjoint spells. An order starts a spell when the previous one is more than 365 days older, and ends
-- one when the next is more than 365 days later (or there is none yet). The customers active at t are
-- then the spells started before t minus those whose last order is older than t - 365 d: two prefix
-- sums, kept per UTC day in active_spells, so S and E cost a few thousand rows instead of a year of
-- orders. store._summarise_orders keeps all of it current on every transition of the customer's orders;
-- 0008 fills it in for the orders already there.

ALTER TABLE orders
    ADD COLUMN prev_at     timestamptz,                    -- the customer's previous counting order
    ADD COLUMN prev2_at    timestamptz,                    -- ... and the one before that
    ADD COLUMN next_at     timestamptz,                    -- ... and the next one
    ADD COLUMN first_at    timestamptz,                    -- the customer's first counting order
    ADD COLUMN counted_net numeric(20,4),                  -- the net amount while the order counts
    ADD COLUMN spell_start boolean NOT NULL DEFAULT false, -- starts an activity spell (counting orders only)
    ADD COLUMN spell_end   boolean NOT NULL DEFAULT false; -- ends one

-- Spell starts and ends per UTC day of the order's placed_at, as a log of changes: each transition adds
-- a row with what it moved (inserts wait for no one, where one counter row per day would make every
-- order of a shop queue behind the others), and the daily pass folds a shop's rows into one per day.
CREATE TABLE active_spells (
    shop_id text   NOT NULL,
    day     date   NOT NULL,
    starts  bigint NOT NULL,
    ends    bigint NOT NULL
);
CREATE INDEX active_spells_day ON active_spells (shop_id, day) INCLUDE (starts, ends);

-- Cohorts: customers by the UTC month of their first counting order and each month they bought in,
-- counted from the orders that open a month for their customer (the first of that month), also a log
-- of changes that the daily pass folds.
CREATE TABLE cohort_months (
    shop_id      text   NOT NULL,
    first_month  date   NOT NULL,
    active_month date   NOT NULL,
    customers    bigint NOT NULL
);
CREATE INDEX cohort_months_first ON cohort_months (shop_id, first_month) INCLUDE (active_month, customers);
