"""The bench's scale seed (tests/bench/scale.py) writes what the services themselves would hold:
balances equal their ledger, order summaries equal the orders, tiers follow 12 months' spend, and the
retention metrics' SQL counts the seeded orders. Run on throwaway databases with the services'
migrations, at a size that takes seconds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg

from services.customers import retention as customers_retention
from shared.db import Connection, create_pool, init_connection
from tests.bench import scale
from tests.integration.conftest import throwaway_database

SIZE = scale.ShopSize("bench-scale-test", customers=300, orders=1500, ledger_rows=3000)


async def test_the_scale_seed_is_data_the_services_agree_with(settings):
    async with throwaway_database(settings, "customers") as customers_dsn, \
            throwaway_database(settings, "points") as points_dsn:
        dsns = {"customers": customers_dsn, "points": points_dsn}

        async def connect(service: str) -> Connection:
            conn = await asyncpg.connect(dsns[service])
            await init_connection(conn)
            return conn

        seeded = await scale.ensure_seeded(SIZE, log=lambda *_: None, connect=connect)
        assert "seed_customers_s" in seeded and "seed_points_s" in seeded
        again = await scale.ensure_seeded(SIZE, log=lambda *_: None, connect=connect)
        assert "seed_customers_s" not in again and "seed_points_s" not in again  # already there: skipped

        points = await connect("points")
        try:
            assert await points.fetchval("SELECT count(*) FROM ledger_entries WHERE shop_id = $1", SIZE.shop) == 3000
            assert await points.fetchval("SELECT count(*) FROM accounts WHERE shop_id = $1", SIZE.shop) == 300
            mismatched = await points.fetchval(
                """SELECT count(*) FROM accounts a
                   LEFT JOIN (SELECT customer_id, sum(delta) AS total FROM ledger_entries WHERE shop_id = $1
                              GROUP BY 1) l USING (customer_id)
                   WHERE a.shop_id = $1 AND (a.balance <> coalesce(l.total, 0)
                                             OR a.lifetime_earned <> coalesce(l.total, 0))""", SIZE.shop)
            assert mismatched == 0
            unique_keys = await points.fetchval(
                "SELECT count(DISTINCT idempotency_key) FROM ledger_entries WHERE shop_id = $1", SIZE.shop)
            assert unique_keys == 3000
            wrong_tiers = await points.fetchval(
                """SELECT count(*) FROM accounts a
                   LEFT JOIN (SELECT customer_id, sum(net_amount) AS spend FROM order_points
                              WHERE shop_id = $1 AND NOT voided AND paid_at > now() - interval '12 months'
                              GROUP BY 1) s USING (customer_id)
                   WHERE a.shop_id = $1 AND a.tier <> CASE WHEN s.spend >= 1500 THEN 'Gold'
                                                           WHEN s.spend >= 500 THEN 'Silver' ELSE 'Bronze' END""",
                SIZE.shop)
            assert wrong_tiers == 0
        finally:
            await points.close()

        customers = await connect("customers")
        try:
            wrong_summaries = await customers.fetchval(
                """SELECT count(*) FROM customers c
                   WHERE c.shop_id = $1 AND c.orders_count <> (
                       SELECT count(*) FROM orders o WHERE o.shop_id = c.shop_id AND o.customer_id = c.id
                         AND o.status IN ('PAID', 'SHIPPED', 'DELIVERED'))""", SIZE.shop)
            assert wrong_summaries == 0
            end = datetime.now(UTC)
            start = end - timedelta(days=365)
            counting = await customers.fetchval(
                """SELECT count(*) FROM orders WHERE shop_id = $1 AND status IN ('PAID', 'SHIPPED', 'DELIVERED')
                     AND placed_at >= $2 AND placed_at < $3""", SIZE.shop, start, end)
            # The same orders in both databases: points mirrors the customers service's orders.
            assert await customers.fetchval("SELECT count(*) FROM orders WHERE shop_id = $1", SIZE.shop) == 1500
        finally:
            await customers.close()
        assert counting > 0

        pool = await create_pool(customers_dsn)
        try:
            counts, currency = await customers_retention.counts(pool, SIZE.shop, start, end)
        finally:
            await pool.close()
        assert counts.orders == counting and currency == "EUR"
        assert 0 < counts.buyers <= 300 and counts.repeat_buyers <= counts.buyers
