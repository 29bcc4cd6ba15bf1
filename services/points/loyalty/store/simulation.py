"""SQL of a simulation (simulateProgram): what the replay reads of a shop's history, one page of
customers at a time (reads only), and the runs of startProgramSimulation (their own table)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import asyncpg

from services.points.loyalty.store.rows import one
from shared.db import Connection, Executor

# Entries the replay works out itself (purchases, releases, their takebacks, shortfalls settled,
# lapses) are left out; the others it takes as they were made.
REPLAYED_ENTRIES = """kind IN ('earn', 'adjust', 'redeem', 'reverse')
    AND idempotency_key NOT LIKE 'order:%' AND idempotency_key NOT LIKE '%:shortfall'"""


async def versions(conn: Executor, shop: str) -> list[asyncpg.Record]:
    return await conn.fetch("SELECT version, config, created_at FROM programs WHERE shop_id = $1 ORDER BY version",
                            shop)


async def customers(conn: Executor, shop: str, before: datetime, after: str, size: int) -> list[str]:
    """The next page of the shop's accounts opened before `before`, by customer id."""
    return [r["customer_id"] for r in await conn.fetch(
        """SELECT customer_id FROM accounts WHERE shop_id = $1 AND customer_id > $2 AND created_at < $3
           ORDER BY customer_id LIMIT $4""", shop, after, before, size)]


async def starts(conn: Executor, shop: str, ids: list[str], start: datetime) -> list[asyncpg.Record]:
    """Each customer's buckets and last activity (an earning or a redemption) before `start`."""
    return await conn.fetch(
        """SELECT customer_id,
                  coalesce(sum(delta) FILTER (WHERE bucket = 'available'), 0) AS available,
                  coalesce(sum(delta) FILTER (WHERE bucket = 'pending'), 0) AS pending,
                  max(created_at) FILTER (WHERE kind IN ('earn', 'redeem')) AS last_activity
           FROM ledger_entries WHERE shop_id = $1 AND customer_id = ANY($2::text[]) AND created_at < $3
           GROUP BY customer_id""", shop, ids, start)


async def orders(conn: Executor, shop: str, ids: list[str], end: datetime) -> list[asyncpg.Record]:
    """The customers' orders paid before `end` (not the tombstones of orders cancelled unpaid)."""
    return await conn.fetch(
        """SELECT order_id, customer_id, currency, paid_at, coalesce(paid_net, net_amount) AS paid_net,
                  delivered_at, release_at, earned, earn_rate, multiplier, base_currency, fx_rate
           FROM order_points WHERE shop_id = $1 AND customer_id = ANY($2::text[]) AND paid_at < $3
             AND currency <> ''
           ORDER BY customer_id, paid_at, order_id""", shop, ids, end)


async def changes(conn: Executor, shop: str, ids: list[str], end: datetime) -> list[asyncpg.Record]:
    return await conn.fetch(
        """SELECT order_id, at, net_amount, voided FROM order_point_changes
           WHERE shop_id = $1 AND customer_id = ANY($2::text[]) AND at < $3 ORDER BY at, id""", shop, ids, end)


async def entries(conn: Executor, shop: str, ids: list[str], start: datetime, end: datetime) -> list[asyncpg.Record]:
    return await conn.fetch(
        f"""SELECT customer_id, created_at, kind, bucket, delta, idempotency_key, reason, rule_version
            FROM ledger_entries
            WHERE shop_id = $1 AND customer_id = ANY($2::text[]) AND created_at >= $3 AND created_at < $4
              AND {REPLAYED_ENTRIES}
            ORDER BY created_at, id""", shop, ids, start, end)


async def observed(conn: Executor, shop: str, start: datetime, end: datetime) -> asyncpg.Record:
    """Points earned and redeemed in the period, as the ledger has them, and the orders paid in it."""
    row = await conn.fetchrow(
        """SELECT coalesce(sum(delta) FILTER (WHERE kind = 'earn'), 0)
                  + coalesce(sum(delta) FILTER (WHERE kind = 'reverse' AND idempotency_key LIKE 'order:%'), 0)
                  AS earned,
                  coalesce(-sum(delta) FILTER (WHERE kind = 'redeem'), 0) AS redeemed
           FROM ledger_entries WHERE shop_id = $1 AND created_at >= $2 AND created_at < $3""", shop, start, end)
    assert row is not None
    return row


async def orders_before(conn: Executor, shop: str, end: datetime) -> int:
    """Paid orders before `end`: what a replay reads (the history before the period too)."""
    return int(await conn.fetchval(
        "SELECT count(*) FROM order_points WHERE shop_id = $1 AND paid_at < $2 AND currency <> ''", shop, end))


async def paid_orders(conn: Executor, shop: str, start: datetime, end: datetime) -> int:
    return int(await conn.fetchval(
        "SELECT count(*) FROM order_points WHERE shop_id = $1 AND paid_at >= $2 AND paid_at < $3 AND currency <> ''",
        shop, start, end))


# ---- runs of startProgramSimulation ---------------------------------------------------------------


async def add_run(conn: Connection, shop: str, id: str, proposed: dict[str, Any], current: dict[str, Any],
                  start: datetime, end: datetime, rate: Decimal, orders: int, totals: list[dict[str, Any]],
                  actor: str) -> asyncpg.Record:
    return await one(
        conn,
        """INSERT INTO simulation_runs (shop_id, id, proposed, current, period_from, period_to, rate, orders, after,
               totals, actor)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, '', $9, $10) RETURNING *""",
        shop, id, proposed, current, start, end, rate, orders, totals, actor)


async def run(conn: Executor, shop: str, id: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM simulation_runs WHERE shop_id = $1 AND id = $2", shop, id)


async def lock_run(conn: Connection, shop: str, id: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM simulation_runs WHERE shop_id = $1 AND id = $2 FOR UPDATE", shop, id)


async def advance_run(conn: Connection, shop: str, id: str, after: str | None, customers: int,
                      totals: list[dict[str, Any]]) -> None:
    """A page done: where the run has got to (None: finished) and its totals so far."""
    await conn.execute(
        """UPDATE simulation_runs SET after = $3, customers = customers + $4, totals = $5,
               finished_at = CASE WHEN $3::text IS NULL THEN now() END
           WHERE shop_id = $1 AND id = $2""", shop, id, after, customers, totals)
