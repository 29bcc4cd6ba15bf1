-- migrate: without transaction
-- retentionMetrics' period scan: counting orders by time with what the period's counts read, so the
-- scan is index-only and narrow (a year of a 5M-order shop is about 1.6M entries). Built CONCURRENTLY:
-- on a large shop a plain build would block every order write for the minutes it takes.
CREATE INDEX CONCURRENTLY IF NOT EXISTS orders_period ON orders (shop_id, placed_at)
    INCLUDE (prev_at, prev2_at, next_at, first_at, counted_net, referral_converted, spell_start, spell_end)
    WHERE status IN ('PAID', 'SHIPPED', 'DELIVERED');
