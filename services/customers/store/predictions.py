"""SQL of predictions: the shop's buyers as the models read them, the per-customer predictions and the
fit's outcome per shop."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import asyncpg

from services.customers.store.orders import COUNTING, NET
from shared.db import Connection, Executor


async def buyers(conn: Executor, shop: str, now: datetime) -> list[asyncpg.Record]:
    """Per customer with a counting order: repeat purchase days, days from the first to the last and to
    `now`, and the average spend of the repeat days (UTC days, as the models count purchases)."""
    return await conn.fetch(
        f"""WITH days AS (
                SELECT customer_id, date_trunc('day', placed_at AT TIME ZONE 'UTC') AS day, sum({NET}) AS spend
                FROM orders WHERE shop_id = $1 AND status IN {COUNTING} AND placed_at < $2
                GROUP BY customer_id, day),
            ranked AS (SELECT *, min(day) OVER (PARTITION BY customer_id) AS first_day FROM days)
            SELECT customer_id, count(*) - 1 AS x,
                   extract(epoch FROM max(day) - min(day)) / 86400 AS t_x,
                   extract(epoch FROM ($2 AT TIME ZONE 'UTC') - min(day)) / 86400 AS age,
                   coalesce(avg(spend) FILTER (WHERE day > first_day), 0) AS spend
            FROM ranked GROUP BY customer_id ORDER BY customer_id""", shop, now)


async def replace(conn: Connection, shop: str, rows: list[tuple[str, float, float, Decimal]]) -> None:
    """The shop's predictions, all of them at once: (customer id, probability active, expected orders in
    90 days, expected value over 12 months)."""
    await conn.execute("DELETE FROM predictions WHERE shop_id = $1", shop)
    if rows:
        await conn.copy_records_to_table(
            "predictions", records=[(shop, *r) for r in rows],
            columns=["shop_id", "customer_id", "probability_active", "expected_orders_90d", "expected_value_12m"])


async def save_fit(conn: Connection, shop: str, *, status: str, reason: str | None, model: str,
                   params: dict[str, Any] | None, buyers: int, repeat_buyers: int, currency: str | None,
                   fitted_at: datetime) -> None:
    await conn.execute(
        """INSERT INTO prediction_fits (shop_id, status, reason, model, params, buyers, repeat_buyers, currency,
               fitted_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
           ON CONFLICT (shop_id) DO UPDATE SET status = $2, reason = $3, model = $4, params = $5, buyers = $6,
               repeat_buyers = $7, currency = $8, fitted_at = $9""",
        shop, status, reason, model, params, buyers, repeat_buyers, currency, fitted_at)


async def fit(conn: Executor, shop: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM prediction_fits WHERE shop_id = $1", shop)


async def for_customers(conn: Executor, shop: str, ids: list[str]) -> list[asyncpg.Record]:
    """The customers' predictions with the fit's model, time and currency (only while the shop has a fit)."""
    return await conn.fetch(
        """SELECT p.*, f.model, f.fitted_at, f.currency FROM predictions p
           JOIN prediction_fits f ON f.shop_id = p.shop_id AND f.status = 'FITTED'
           WHERE p.shop_id = $1 AND p.customer_id = ANY($2::text[])""", shop, ids)
