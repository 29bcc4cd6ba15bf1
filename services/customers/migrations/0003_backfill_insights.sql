-- Customers and orders recorded before the insights existed: fill their order summary (what
-- store._summarise_orders keeps current from now on) and give every known shop its daily pass.

WITH o AS (
    SELECT shop_id, customer_id, id, placed_at, currency,
           greatest(total - shipping_total - tax_total - refunded_total, 0) AS net,
           row_number() OVER (PARTITION BY shop_id, customer_id ORDER BY placed_at, id) AS n,
           row_number() OVER (PARTITION BY shop_id, customer_id ORDER BY placed_at DESC, id DESC) AS back
    FROM orders WHERE status IN ('PAID', 'SHIPPED', 'DELIVERED')
), summary AS (
    SELECT shop_id, customer_id, count(*) AS orders_count, sum(net) AS total_spent,
           max(currency) FILTER (WHERE back = 1) AS spent_currency,
           max(id) FILTER (WHERE n = 1) AS first_order_id,
           max(placed_at) FILTER (WHERE n = 1) AS first_order_at,
           max(placed_at) FILTER (WHERE n = 2) AS second_order_at,
           max(placed_at) AS last_order_at
    FROM o GROUP BY shop_id, customer_id
)
UPDATE customers c SET orders_count = s.orders_count, total_spent = s.total_spent,
       spent_currency = s.spent_currency, first_order_id = s.first_order_id,
       first_order_at = s.first_order_at, second_order_at = s.second_order_at, last_order_at = s.last_order_at
FROM summary s WHERE c.shop_id = s.shop_id AND c.id = s.customer_id;

-- Segments follow on the first daily pass, due at once.
INSERT INTO scheduled_jobs (shop_id, kind, dedup_key, due_at)
SELECT DISTINCT shop_id, 'customers.daily', 'backfill', now() FROM customers
ON CONFLICT DO NOTHING;
