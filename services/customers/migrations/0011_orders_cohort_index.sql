-- migrate: without transaction
-- Counting orders by their customer's first order: the partial cohort months at a period's ends read
-- only the orders of the customers who first bought in them.
CREATE INDEX CONCURRENTLY IF NOT EXISTS orders_cohort ON orders (shop_id, first_at) INCLUDE (placed_at, prev_at)
    WHERE status IN ('PAID', 'SHIPPED', 'DELIVERED');
