"""The daily pass's RFM scores (store.refresh_rfm): quintiles of the active base, written in one
statement that also clears the scores of customers who left the base, on a throwaway database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.customers import store
from services.customers.orders import new_order
from shared.db import create_pool
from tests.integration.conftest import throwaway_database

SHOP = "rfm-shop"
NOW = datetime(2026, 6, 1, tzinfo=UTC)


async def test_scores_follow_the_active_base_and_leave_with_it(settings):
    async with throwaway_database(settings, "customers") as dsn:
        pool = await create_pool(dsn, max_size=2)
        try:
            await pool.executemany("INSERT INTO customers (shop_id, id, email) VALUES ($1, $2, 'x')",
                                   [(SHOP, f"c{i}") for i in range(10)])
            for i in range(10):  # c0 bought 300 days ago, c9 10 days ago; c9 spent the most, c0 the least
                for k in range(1 + i // 3):
                    oid = f"o{i}-{k}"
                    await store.record_order(pool, SHOP, new_order(
                        id=oid, customer_id=f"c{i}", currency="EUR", lines=[("p", 1, f"{10 + 10 * i}.00")],
                        discount_total=None, shipping_total=None, tax_total=None, total=f"{10 + 10 * i}.00",
                        placed_at=NOW - timedelta(days=300 - 32 * i, hours=k)))
                    await store.update_order_status(pool, SHOP, oid, "PAID", None)
            async with pool.acquire() as conn:
                await store.refresh_rfm(conn, SHOP, NOW)
            scores = {r["id"]: (r["rfm_recency"], r["rfm_frequency"], r["rfm_monetary"], r["rfm_at"])
                      for r in await pool.fetch("SELECT * FROM customers WHERE shop_id = $1", SHOP)}
            assert [scores[f"c{i}"][0] for i in range(10)] == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
            assert [scores[f"c{i}"][2] for i in range(10)] == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
            assert [scores[f"c{i}"][1] for i in range(10)] == [1, 1, 1, 2, 2, 2, 4, 4, 4, 5]  # ties: the lower rank
            assert {s[3] for s in scores.values()} == {NOW}

            later = NOW + timedelta(days=140)  # c0-c2 last bought more than 365 days before: out of the base
            async with pool.acquire() as conn:
                await store.refresh_rfm(conn, SHOP, later)
            rows = {r["id"]: r for r in await pool.fetch("SELECT * FROM customers WHERE shop_id = $1", SHOP)}
            for i in range(3):
                assert (rows[f"c{i}"]["rfm_recency"], rows[f"c{i}"]["rfm_at"]) == (None, None)
            assert [rows[f"c{i}"]["rfm_recency"] for i in range(3, 10)] == [1, 1, 2, 3, 3, 4, 5]
            assert {rows[f"c{i}"]["rfm_at"] for i in range(3, 10)} == {later}
        finally:
            await pool.close()
