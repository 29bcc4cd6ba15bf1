-- migrate: without transaction
-- Each customer's second counting order, by time: the median days from first to second order reads
-- only these (a fraction of all orders).
CREATE INDEX CONCURRENTLY IF NOT EXISTS orders_second ON orders (shop_id, placed_at) INCLUDE (prev_at)
    WHERE status IN ('PAID', 'SHIPPED', 'DELIVERED') AND prev_at IS NOT NULL AND prev2_at IS NULL;
