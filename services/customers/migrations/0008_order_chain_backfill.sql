-- migrate: without transaction
-- The order chains, activity spells and cohort months (0007) of the orders already there, customer by
-- customer in batches of 2,000, each batch its own transaction: a shop with millions of orders is
-- filled in without holding millions of row locks at once (one transaction took 4.6 minutes at 5M
-- orders, with every order write waiting). It is the statement store._summarise_orders runs for one
-- customer: it writes only orders whose chain differs and logs the difference of what they count, so
-- running it again after a crash adds nothing twice.
DO $$
DECLARE
    v_shop text;
    v_from text;
    v_to   text;
BEGIN
    FOR v_shop IN SELECT DISTINCT shop_id FROM customers ORDER BY 1 LOOP
        v_from := '';
        LOOP
            SELECT max(id) INTO v_to
            FROM (SELECT id FROM customers WHERE shop_id = v_shop AND id > v_from ORDER BY id LIMIT 2000) batch;
            EXIT WHEN v_to IS NULL;
            WITH chain AS (
                SELECT id, greatest(total - shipping_total - tax_total - refunded_total, 0) AS counted_net,
                       lag(placed_at) OVER w AS prev_at, lag(placed_at, 2) OVER w AS prev2_at,
                       lead(placed_at) OVER w AS next_at, first_value(placed_at) OVER w AS first_at,
                       lag(placed_at) OVER w IS NULL
                           OR lag(placed_at) OVER w < placed_at - interval '8760 hours' AS spell_start,
                       lead(placed_at) OVER w IS NULL
                           OR lead(placed_at) OVER w > placed_at + interval '8760 hours' AS spell_end
                FROM orders
                WHERE shop_id = v_shop AND customer_id > v_from AND customer_id <= v_to
                  AND status IN ('PAID', 'SHIPPED', 'DELIVERED')
                WINDOW w AS (PARTITION BY customer_id ORDER BY placed_at, id)),
            wanted AS (
                SELECT o.id, o.placed_at, o.spell_start AS was_start, o.spell_end AS was_end,
                       o.first_at AS was_first_at, o.prev_at AS was_prev_at,
                       c.prev_at, c.prev2_at, c.next_at, c.first_at, c.counted_net,
                       coalesce(c.spell_start, false) AS spell_start, coalesce(c.spell_end, false) AS spell_end
                FROM orders o LEFT JOIN chain c ON c.id = o.id
                WHERE o.shop_id = v_shop AND o.customer_id > v_from AND o.customer_id <= v_to),
            moved AS (
                UPDATE orders o SET prev_at = w.prev_at, prev2_at = w.prev2_at, next_at = w.next_at,
                       first_at = w.first_at, counted_net = w.counted_net, spell_start = w.spell_start,
                       spell_end = w.spell_end
                FROM wanted w
                WHERE o.shop_id = v_shop AND o.id = w.id
                  AND (o.prev_at, o.prev2_at, o.next_at, o.first_at, o.counted_net, o.spell_start, o.spell_end)
                      IS DISTINCT FROM (w.prev_at, w.prev2_at, w.next_at, w.first_at, w.counted_net,
                                        w.spell_start, w.spell_end)),
            cohort_moves AS (
                INSERT INTO cohort_months (shop_id, first_month, active_month, customers)
                SELECT v_shop, first_month, active_month, sum(d) FROM (
                    SELECT date_trunc('month', first_at AT TIME ZONE 'UTC')::date AS first_month,
                           date_trunc('month', placed_at AT TIME ZONE 'UTC')::date AS active_month, 1 AS d
                    FROM wanted
                    WHERE first_at IS NOT NULL AND (prev_at IS NULL OR date_trunc('month', prev_at AT TIME ZONE 'UTC')
                                                                       < date_trunc('month', placed_at AT TIME ZONE 'UTC'))
                    UNION ALL
                    SELECT date_trunc('month', was_first_at AT TIME ZONE 'UTC')::date,
                           date_trunc('month', placed_at AT TIME ZONE 'UTC')::date, -1
                    FROM wanted
                    WHERE was_first_at IS NOT NULL
                      AND (was_prev_at IS NULL OR date_trunc('month', was_prev_at AT TIME ZONE 'UTC')
                                                  < date_trunc('month', placed_at AT TIME ZONE 'UTC'))) moves
                GROUP BY 2, 3 HAVING sum(d) <> 0)
            INSERT INTO active_spells (shop_id, day, starts, ends)
            SELECT v_shop, (placed_at AT TIME ZONE 'UTC')::date,
                   sum(spell_start::int - was_start::int), sum(spell_end::int - was_end::int)
            FROM wanted WHERE spell_start <> was_start OR spell_end <> was_end
            GROUP BY 2;
            COMMIT;
            v_from := v_to;
        END LOOP;
    END LOOP;
END $$;
