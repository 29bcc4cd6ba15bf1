"""segmentCounts reads per-segment counters that a statement trigger on customers keeps (migration
0012). Whatever changes customers — sign-ups, segment moves one by one or in bulk, erasures, deletes,
profile edits, from several connections at once — the counters equal a count of the live customers,
and the migration counts the customers that were there before it."""

from __future__ import annotations

import asyncio
import random

import asyncpg

from services.customers import segmenting, store
from services.customers.segments import SEGMENTS
from shared.db import SHARED_MIGRATIONS, Connection, create_pool, migrate
from tests.integration.conftest import SERVICES, migrate_until, throwaway_database

SHOPS = ("sizes-a", "sizes-b")


async def _counted(pool: asyncpg.Pool, shop: str) -> dict[str, int]:
    counts = dict.fromkeys(SEGMENTS, 0)
    for r in await pool.fetch("SELECT segment, count(*) AS n FROM customers WHERE shop_id = $1 AND erased_at IS NULL "
                              "GROUP BY segment", shop):
        counts[r["segment"]] = r["n"]
    return counts


async def _lock(conn: Connection, shop: str, where: str = "true", *args) -> list[str]:
    """Lock the rows a statement will change in id order, as the service does, so that the writers
    below wait for each other instead of deadlocking."""
    rows = await conn.fetch(f"SELECT id FROM customers WHERE shop_id = $1 AND {where} ORDER BY id FOR UPDATE",
                            shop, *args)
    return [r["id"] for r in rows]


async def _writer(pool: asyncpg.Pool, seed: int) -> None:
    rng = random.Random(seed)
    for i in range(60):
        shop = rng.choice(SHOPS)
        draw = rng.random()
        async with pool.acquire() as conn, conn.transaction():
            some: list[str] = []
            if 0.3 <= draw < 0.8:
                ids = await conn.fetch("SELECT id FROM customers WHERE shop_id = $1 ORDER BY random() LIMIT $2",
                                       shop, rng.choice([1, 1, 5, 50]))
                some = await _lock(conn, shop, "id = ANY($2)", [r["id"] for r in ids])
            if draw < 0.3:
                await conn.execute("INSERT INTO customers (shop_id, id, email, segment) VALUES ($1, $2, 'x', $3) "
                                   "ON CONFLICT DO NOTHING", shop, f"w{seed}-{i}", rng.choice(SEGMENTS))
            elif draw < 0.6:
                await conn.execute("UPDATE customers SET segment = $2 WHERE shop_id = $1 AND id = ANY($3)",
                                   shop, rng.choice(SEGMENTS), some)
            elif draw < 0.7:
                await conn.execute("UPDATE customers SET erased_at = now(), email = NULL "
                                   "WHERE shop_id = $1 AND id = ANY($2) AND erased_at IS NULL", shop, some[:1])
            elif draw < 0.8:
                await conn.execute("DELETE FROM customers WHERE shop_id = $1 AND id = ANY($2)", shop, some[:2])
            elif draw < 0.9:
                everyone = await _lock(conn, shop)  # only those: rows committed since are not locked yet
                await conn.execute("UPDATE customers SET first_name = 'edited' WHERE shop_id = $1 AND id = ANY($2)",
                                   shop, everyone)
            else:
                erased = await _lock(conn, shop, "erased_at IS NOT NULL")
                await conn.execute("UPDATE customers SET segment = 'VIP', erased_at = NULL WHERE shop_id = $1 "
                                   "AND id = ANY($2)", shop, erased)  # a row leaving the erased set counts again


async def _folder(pool: asyncpg.Pool) -> None:
    """The daily pass's fold, again and again while the writers work."""
    for _ in range(15):
        for shop in SHOPS:
            async with pool.acquire() as conn, conn.transaction():
                await store.segments.fold_counters(conn, shop)
        await asyncio.sleep(0.02)


async def test_the_counters_follow_every_change_to_customers(settings):
    async with throwaway_database(settings, "customers") as dsn:
        pool = await create_pool(dsn, max_size=7)
        try:
            for shop in SHOPS:
                await pool.execute("INSERT INTO customers (shop_id, id, email) SELECT $1, 'c' || g, 'x' "
                                   "FROM generate_series(1, 200) g", shop)
            await asyncio.gather(_folder(pool), *(_writer(pool, seed) for seed in range(5)))
            for shop in SHOPS:
                counted = await _counted(pool, shop)
                assert sum(counted.values()) > 100 and len([n for n in counted.values() if n]) >= 4
                assert await segmenting.sizes(pool, shop) == counted
                async with pool.acquire() as conn:
                    await store.segments.fold_counters(conn, shop)
                folded = await pool.fetchval("SELECT count(*) FROM segment_sizes WHERE shop_id = $1", shop)
                assert folded <= len(SEGMENTS)
                assert await segmenting.sizes(pool, shop) == counted
            assert await segmenting.sizes(pool, "sizes-none") == dict.fromkeys(SEGMENTS, 0)
        finally:
            await pool.close()


async def test_the_migration_counts_the_customers_already_there(settings, tmp_path):
    async with throwaway_database(settings) as dsn:
        await migrate_until(dsn, "customers", "0012", tmp_path)
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute(
                """INSERT INTO customers (shop_id, id, email, segment, erased_at)
                   SELECT 'sizes-a', 'c' || g, 'x', (ARRAY['NEW', 'VIP', 'AT_RISK'])[1 + g % 3],
                          CASE WHEN g % 7 = 0 THEN now() END
                   FROM generate_series(1, 300) g""")
        finally:
            await conn.close()
        await migrate(dsn, [("shared", SHARED_MIGRATIONS), ("customers", SERVICES / "customers" / "migrations")])
        pool = await create_pool(dsn, max_size=2)
        try:
            counted = await _counted(pool, "sizes-a")
            assert counted["VIP"] > 0 and sum(counted.values()) == 300 - 300 // 7
            assert await segmenting.sizes(pool, "sizes-a") == counted
        finally:
            await pool.close()
