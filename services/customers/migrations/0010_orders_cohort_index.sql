-- migrate: without transaction
-- Counting orders by their customer's first order: a period's cohorts read only the orders of customers
-- who first bought in it, not every order of the period.
CREATE INDEX CONCURRENTLY IF NOT EXISTS orders_cohort ON orders (shop_id, first_at) INCLUDE (placed_at, prev_at)
    WHERE status IN ('PAID', 'SHIPPED', 'DELIVERED');
