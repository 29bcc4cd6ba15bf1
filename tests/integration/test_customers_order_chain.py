"""retentionMetrics' counts read each order's chain (its neighbours among the customer's counting
orders) and the shop's activity spells, kept current on every transition (migration 0007). These tests
drive random order histories through the service's own use cases (backdated orders,
cancellations, partial and full refunds, concurrent transitions of one customer's orders) on a
throwaway database, and hold retention.counts to docs/domain.md's definitions computed in Python from the
orders themselves, over many periods, and the incrementally kept chain and spells to a rebuild from
scratch."""

from __future__ import annotations

import asyncio
import random
import statistics
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import asyncpg
import pytest

from services.customers import ordering, retention, store
from services.customers.catch_up import catch_up
from services.customers.orders import new_order
from shared.db import SHARED_MIGRATIONS, Connection, create_pool, migrate
from tests.integration.conftest import SERVICES, migrate_until, throwaway_database

SHOP = "chain-shop"
EPOCH = datetime(2023, 1, 1, tzinfo=UTC)
WINDOW = timedelta(days=365)
COUNTING = {"PAID", "SHIPPED", "DELIVERED"}


@dataclass(frozen=True)
class Order:
    id: str
    customer_id: str
    placed_at: datetime
    status: str
    net: Decimal
    referral_converted: bool


async def _add_customers(pool: asyncpg.Pool, n: int) -> list[str]:
    ids = [f"c{i}" for i in range(n)]
    await pool.executemany("INSERT INTO customers (shop_id, id, email) VALUES ($1, $2, $3)",
                           [(SHOP, c, f"{c}@chain.example") for c in ids])
    return ids


async def _place(pool: asyncpg.Pool, order_id: str, customer_id: str, at: datetime, total: str) -> None:
    await ordering.record(pool, SHOP, new_order(
        id=order_id, customer_id=customer_id, currency="EUR", lines=[("p1", 1, total)], discount_total=None,
        shipping_total="5.00", tax_total="2.00", total=total, placed_at=at))


async def _random_history(pool: asyncpg.Pool, rng: random.Random, customers: list[str], orders: int) -> None:
    """Orders placed in random time order (so many are backdated before a customer's later ones),
    then random transitions, partly interleaved with more orders."""
    placed: list[str] = []
    history: list[tuple[str, datetime]] = []
    for i in range(orders):
        at = EPOCH + timedelta(seconds=rng.randrange(3 * 365 * 86400))
        customer_id = rng.choice(customers[: max(3, len(customers) * (1 + i % 3) // 3)])
        draw = rng.random()
        if draw < 0.1:  # several orders at the very same moment: ties go by id
            at = EPOCH + timedelta(days=rng.randrange(3 * 365))
        elif draw < 0.2 and history:  # exactly one window after an earlier order: the spell goes on
            customer_id, earlier = rng.choice(history)
            at = earlier + rng.choice([WINDOW, -WINDOW, WINDOW + timedelta(microseconds=1)])
        oid = f"o{i:04d}"
        await _place(pool, oid, customer_id, at, f"{rng.randrange(10, 300)}.{rng.randrange(100):02d}")
        placed.append(oid)
        history.append((customer_id, at))
        if rng.random() < 0.8:
            await ordering.update_status(pool, SHOP, oid, "PAID", None)
    for oid in placed:
        status = await pool.fetchval("SELECT status FROM orders WHERE shop_id = $1 AND id = $2", SHOP, oid)
        draw = rng.random()
        if status == "PAID" and draw < 0.3:
            await ordering.update_status(pool, SHOP, oid, rng.choice(["SHIPPED", "DELIVERED"]), None)
        elif status == "PAID" and draw < 0.4:
            await ordering.update_status(pool, SHOP, oid, "CANCELLED", None)
        elif status == "PAID" and draw < 0.5:
            total = await pool.fetchval("SELECT total FROM orders WHERE shop_id = $1 AND id = $2", SHOP, oid)
            amount = total if draw < 0.45 else (total / 3).quantize(Decimal("0.01"))
            await ordering.update_status(pool, SHOP, oid, "REFUNDED", f"{amount:.2f}")
        elif status == "PLACED" and draw < 0.3:
            await ordering.update_status(pool, SHOP, oid, "CANCELLED", None)
        if rng.random() < 0.05:
            async with pool.acquire() as conn:
                await ordering.note_referral(conn, SHOP, oid)


async def _orders(pool: asyncpg.Pool) -> list[Order]:
    rows = await pool.fetch(
        """SELECT id, customer_id, placed_at, status, referral_converted,
                  greatest(total - shipping_total - tax_total - refunded_total, 0) AS net
           FROM orders WHERE shop_id = $1""", SHOP)
    return [Order(r["id"], r["customer_id"], r["placed_at"], r["status"], r["net"], r["referral_converted"])
            for r in rows]


def _month_index(t: datetime) -> int:
    return t.year * 12 + t.month


def expected_counts(orders: list[Order], start: datetime, end: datetime) -> dict:
    """docs/domain.md's "Exact definitions", customer by customer."""
    chains: dict[str, list[Order]] = {}
    for o in sorted((o for o in orders if o.status in COUNTING), key=lambda o: (o.placed_at, o.id)):
        chains.setdefault(o.customer_id, []).append(o)

    def active(t: datetime) -> int:
        return sum(any(t - WINDOW <= o.placed_at < t for o in chain) for chain in chains.values())

    period = {c: [o for o in chain if start <= o.placed_at < end] for c, chain in chains.items()}
    new = [chain for chain in chains.values() if start <= chain[0].placed_at < end]
    base = [chain for chain in new if chain[0].placed_at < end - timedelta(days=60)]
    second_days = [(chain[1].placed_at - chain[0].placed_at).total_seconds() / 86400
                   for chain in chains.values() if len(chain) > 1 and start <= chain[1].placed_at < end]
    last_month = _month_index(end - timedelta(microseconds=1))
    cohorts: dict[str, tuple[int, list[int]]] = {}
    for chain in sorted(new, key=lambda ch: ch[0].placed_at):
        first = _month_index(chain[0].placed_at)
        month = chain[0].placed_at.strftime("%Y-%m")
        size, active_months = cohorts.get(month, (0, [0] * (last_month - first + 1)))
        for k in {_month_index(o.placed_at) - first for o in chain if o.placed_at < end}:
            active_months[k] += 1
        cohorts[month] = (size + 1, active_months)
    return {
        "start_active": active(start), "end_active": active(end), "new": len(new),
        "new_referred": sum(chain[0].referral_converted for chain in new),
        "buyers": sum(1 for p in period.values() if p), "repeat_buyers": sum(1 for p in period.values() if len(p) > 1),
        "orders": sum(len(p) for p in period.values()), "revenue": sum((o.net for p in period.values() for o in p),
                                                                       Decimal(0)),
        "reorder_base": len(base),
        "reordered": sum(1 for ch in base if len(ch) > 1 and ch[1].placed_at <= ch[0].placed_at + timedelta(days=60)),
        "median_days_to_second": Decimal(str(round(statistics.median(second_days), 4))) if second_days else None,
        "cohorts": sorted((month, size, months) for month, (size, months) in cohorts.items()),
    }


def _as_dict(counts) -> dict:
    return {**counts.__dict__, "cohorts": sorted(counts.cohorts)}


def _periods(rng: random.Random, orders: list[Order]) -> list[tuple[datetime, datetime]]:
    """Calendar periods, random ones, and ones that start or end exactly on an order or a year after one."""
    periods = [(datetime(y, m, 1, tzinfo=UTC), datetime(y + (m + 2) // 12, (m + 2) % 12 + 1, 1, tzinfo=UTC))
               for y in (2023, 2024, 2025) for m in (1, 4, 7, 10)]
    periods += [(EPOCH, EPOCH + timedelta(days=4 * 365)), (EPOCH + timedelta(days=400), EPOCH + timedelta(days=765))]
    times = sorted(o.placed_at for o in orders)
    for _ in range(25):
        a = rng.choice(times) + rng.choice([timedelta(0), WINDOW, -WINDOW, timedelta(microseconds=1)])
        b = a + timedelta(days=rng.choice([1, 30, 61, 183, 365, 700]), seconds=rng.randrange(86400))
        if rng.random() < 0.5:
            b = rng.choice(times) + rng.choice([timedelta(0), WINDOW])
        if a < b:
            periods.append((a, b))
    return periods


async def _chain_state(conn: Connection) -> tuple[list, list]:
    chain = await conn.fetch(
        """SELECT id, prev_at, prev2_at, next_at, first_at, counted_net, spell_start, spell_end FROM orders
           WHERE shop_id = $1 ORDER BY id""", SHOP)
    spells = await conn.fetch(
        """SELECT day, sum(starts) AS starts, sum(ends) AS ends FROM active_spells WHERE shop_id = $1
           GROUP BY day HAVING sum(starts) <> 0 OR sum(ends) <> 0 ORDER BY day""", SHOP)
    cohorts = await conn.fetch(
        """SELECT first_month, active_month, sum(customers) FROM cohort_months WHERE shop_id = $1
           GROUP BY 1, 2 HAVING sum(customers) <> 0 ORDER BY 1, 2""", SHOP)
    return [tuple(r) for r in chain], [tuple(r) for r in spells], [tuple(r) for r in cohorts]


async def _assert_upkeep_equals_rebuild(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        kept = await _chain_state(conn)
        tx = conn.transaction()
        await tx.start()
        try:
            await store.orders.rebuild_chains(conn, SHOP)
            rebuilt = await _chain_state(conn)
        finally:
            await tx.rollback()
    assert kept[0] == rebuilt[0], "an order's chain differs from a rebuild"
    assert kept[1] == rebuilt[1], "the activity spells differ from a rebuild"
    assert kept[2] == rebuilt[2], "the cohort months differ from a rebuild"
    negative = await pool.fetchval(
        "SELECT count(*) FROM (SELECT day FROM active_spells WHERE shop_id = $1 GROUP BY day "
        "HAVING sum(starts) < 0 OR sum(ends) < 0) d", SHOP)
    assert negative == 0


async def _assert_folding_keeps_the_sums(pool: asyncpg.Pool) -> None:
    """The daily pass folds the logs to one row per key, sums unchanged."""
    async with pool.acquire() as conn:
        before = await _chain_state(conn)
        assert await conn.fetchval("SELECT count(*) FROM active_spells WHERE shop_id = $1", SHOP) > len(before[1])
        await store.segments.fold_counters(conn, SHOP)
        assert await _chain_state(conn) == before
        assert await conn.fetchval("SELECT count(*) FROM active_spells WHERE shop_id = $1", SHOP) == len(before[1])
        assert await conn.fetchval("SELECT count(*) FROM cohort_months WHERE shop_id = $1", SHOP) == len(before[2])
    await _assert_upkeep_equals_rebuild(pool)


@pytest.fixture
async def chain_pool(settings):
    async with throwaway_database(settings, "customers") as dsn:
        pool = await create_pool(dsn, max_size=8)
        try:
            yield pool
        finally:
            await pool.close()


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_retention_counts_match_the_definitions_over_random_histories(chain_pool, seed):
    rng = random.Random(seed)
    customers = await _add_customers(chain_pool, 40)
    await _random_history(chain_pool, rng, customers, 260)
    await _assert_upkeep_equals_rebuild(chain_pool)
    await _assert_folding_keeps_the_sums(chain_pool)
    orders = await _orders(chain_pool)
    assert sum(o.status in COUNTING for o in orders) > 100  # the history has substance
    checked = 0
    for start, end in _periods(rng, orders):
        counts, _ = await retention.counts(chain_pool, SHOP, start, end)
        assert _as_dict(counts) == expected_counts(orders, start, end), (start, end)
        checked += counts.orders
    assert checked > 500


async def test_concurrent_transitions_of_one_customer_keep_the_chain_exact(chain_pool):
    """Ten orders of one customer paid, then refunded or cancelled, all at once from separate
    connections: the customer lock serialises them without deadlock and the counters stay exact."""
    await _add_customers(chain_pool, 2)
    ids = [f"x{i}" for i in range(10)]
    for i, oid in enumerate(ids):
        await _place(chain_pool, oid, "c0" if i % 5 else "c1", EPOCH + timedelta(days=100 * i), "50.00")
    await asyncio.gather(*(ordering.update_status(chain_pool, SHOP, oid, "PAID", None) for oid in ids))
    await _assert_upkeep_equals_rebuild(chain_pool)
    await asyncio.gather(*(
        ordering.update_status(chain_pool, SHOP, oid, "CANCELLED" if i % 2 else "REFUNDED",
                               None if i % 2 else "45.00" if i % 4 else None)
        for i, oid in enumerate(ids)))
    await _assert_upkeep_equals_rebuild(chain_pool)
    statuses = await chain_pool.fetch("SELECT status FROM orders WHERE shop_id = $1", SHOP)
    assert {r["status"] for r in statuses} == {"CANCELLED", "REFUNDED", "PAID"}
    end = EPOCH + timedelta(days=1100)
    counts, _ = await retention.counts(chain_pool, SHOP, EPOCH, end)
    assert _as_dict(counts) == expected_counts(await _orders(chain_pool), EPOCH, end)


async def test_the_migration_backfills_the_chain_of_orders_recorded_before_it(settings, tmp_path):
    """Orders recorded before migration 0007 get the chain and spells a rebuild would give them."""
    async with throwaway_database(settings) as dsn:
        await migrate_until(dsn, "customers", "0007", tmp_path)
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute("INSERT INTO customers (shop_id, id, email) SELECT $1, 'c' || g, 'x' "
                               "FROM generate_series(1, 30) g", SHOP)
            await conn.execute(
                """INSERT INTO orders (shop_id, id, customer_id, currency, status, total, placed_at)
                   SELECT $1, 'o' || g, 'c' || (1 + g % 29), 'EUR',
                          (ARRAY['PAID', 'DELIVERED', 'CANCELLED', 'PLACED', 'SHIPPED'])[1 + g % 5],
                          10 + g, $2::timestamptz + (g * 37 % 1000) * interval '1 day'
                   FROM generate_series(1, 400) g""", SHOP, EPOCH)
        finally:
            await conn.close()
        await migrate(dsn, [("shared", SHARED_MIGRATIONS), ("customers", SERVICES / "customers" / "migrations")])
        pool = await create_pool(dsn, max_size=2)
        try:
            await _assert_upkeep_equals_rebuild(pool)
            assert await pool.fetchval("SELECT sum(starts) FROM active_spells WHERE shop_id = $1", SHOP) >= 29
            end = EPOCH + timedelta(days=1000)
            counts, _ = await retention.counts(pool, SHOP, EPOCH + timedelta(days=400), end)
            assert _as_dict(counts) == expected_counts(await _orders(pool), EPOCH + timedelta(days=400), end)
        finally:
            await pool.close()


async def test_catch_up_repairs_chains_that_a_previous_version_left_behind(chain_pool):
    """Transitions applied by pods of the version before 0007 (plain status updates, no chain upkeep)
    leave chains stale; catch_up since the migration's time makes them exact again."""
    rng = random.Random(7)
    customers = await _add_customers(chain_pool, 10)
    await _random_history(chain_pool, rng, customers, 60)
    migrated_at = await chain_pool.fetchval("SELECT now()")
    await chain_pool.execute(  # what the old version does: status and stamp, nothing else
        """UPDATE orders SET status = 'CANCELLED', cancelled_at = now(), updated_at = now()
           WHERE shop_id = $1 AND id IN (SELECT id FROM orders WHERE shop_id = $1 AND status = 'PAID' LIMIT 5)""", SHOP)
    await chain_pool.execute(
        """INSERT INTO orders (shop_id, id, customer_id, currency, status, total, placed_at)
           SELECT $1, 'late' || g, 'c' || g, 'EUR', 'PAID', 40, $2::timestamptz + g * interval '30 days'
           FROM generate_series(0, 4) g""", SHOP, EPOCH)
    with pytest.raises(AssertionError):
        await _assert_upkeep_equals_rebuild(chain_pool)
    assert 5 <= await catch_up(chain_pool, migrated_at) <= 10  # customers of the orders changed since
    await _assert_upkeep_equals_rebuild(chain_pool)
    end = EPOCH + timedelta(days=1100)
    counts, _ = await retention.counts(chain_pool, SHOP, EPOCH + timedelta(days=200), end)
    assert _as_dict(counts) == expected_counts(await _orders(chain_pool), EPOCH + timedelta(days=200), end)
