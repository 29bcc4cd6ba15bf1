"""SQL of retention metrics: the counts of a period [start, end) that metrics.py turns into rates.
Active customers read the activity spells (a few rows per day of the shop's history) and cohorts
mostly the cohort-month counters; the rest is an index-only scan of the period's counting orders,
filtering on each order's chain: no per-customer grouping, no DISTINCT."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

import asyncpg

from services.customers.store.orders import COUNTING, opens_month, utc_month
from services.customers.store.rows import returned
from shared.db import Connection

# metrics.REORDER_WINDOW (60 days) in hours, as WINDOW_SQL in orders.py.
REORDER_SQL = "interval '1440 hours'"


def _utc_midnight(t: datetime) -> datetime:
    return datetime.combine(t.astimezone(UTC).date(), time(), UTC)


def _month_start(t: datetime) -> datetime:
    t = t.astimezone(UTC)
    return datetime(t.year, t.month, 1, tzinfo=UTC)


def _next_month(month: datetime) -> datetime:
    return datetime(month.year + month.month // 12, month.month % 12 + 1, 1, tzinfo=UTC)


# Customers active at $4: spells started before it, less spells whose last order lies before $4 - W.
# Whole UTC days come from the active_spells counters, the day in progress from its orders.
_ACTIVE_AT = f"""
    SELECT (SELECT coalesce(sum(starts), 0) FROM active_spells WHERE shop_id = $1 AND day < $2::date)::bigint
         + (SELECT count(*) FROM orders WHERE shop_id = $1 AND status IN {COUNTING} AND spell_start
              AND placed_at >= $3 AND placed_at < $4)
         - (SELECT coalesce(sum(ends), 0) FROM active_spells WHERE shop_id = $1 AND day < $5::date)::bigint
         - (SELECT count(*) FROM orders WHERE shop_id = $1 AND status IN {COUNTING} AND spell_end
              AND placed_at >= $6 AND placed_at < $7)"""


async def active_at(conn: Connection, shop: str, t: datetime, lapsed: datetime) -> int:
    """Customers with a counting order in [lapsed, t): the active window that ends at t."""
    day, lapsed_day = _utc_midnight(t), _utc_midnight(lapsed)
    active: int = await conn.fetchval(_ACTIVE_AT, shop, day.date(), day, t, lapsed_day.date(), lapsed_day, lapsed)
    return active


async def active_in(conn: Connection, shop: str, t: datetime, lapsed: datetime) -> int:
    """The same as active_at for a window other than the default (a shop's own activeWindowDays): the
    distinct customers of the counting orders in [lapsed, t)."""
    active: int = await conn.fetchval(
        f"""SELECT count(DISTINCT customer_id) FROM orders
            WHERE shop_id = $1 AND status IN {COUNTING} AND placed_at >= $2 AND placed_at < $3""",
        shop, lapsed, t)
    return active


async def period(conn: Connection, shop: str, start: datetime, end: datetime,
                 reorder_before: datetime) -> asyncpg.Record:
    """Counting orders of [start, end): how many, their net revenue, buyers, repeat buyers, new
    customers (and those referred), and of the new ones before `reorder_before` how many ordered
    again within 60 days."""
    # An order is its customer's first in the period when the previous one is older than the
    # period, their second in the period when the one before that is; a first order ever has
    # no previous one. Plain aggregates, so the scan may run in parallel.
    return returned(await conn.fetchrow(
        f"""SELECT count(*) AS orders, coalesce(sum(counted_net), 0) AS revenue,
                   count(*) FILTER (WHERE prev_at IS NULL OR prev_at < $2) AS buyers,
                   count(*) FILTER (WHERE prev_at >= $2 AND (prev2_at IS NULL OR prev2_at < $2))
                       AS repeat_buyers,
                   count(*) FILTER (WHERE prev_at IS NULL) AS new,
                   count(*) FILTER (WHERE prev_at IS NULL AND referral_converted) AS new_referred,
                   count(*) FILTER (WHERE prev_at IS NULL AND placed_at < $4) AS reorder_base,
                   count(*) FILTER (WHERE prev_at IS NULL AND placed_at < $4
                                      AND next_at <= placed_at + {REORDER_SQL}) AS reordered
            FROM orders
            WHERE shop_id = $1 AND status IN {COUNTING} AND placed_at >= $2 AND placed_at < $3""",
        shop, start, end, reorder_before,
    ))


async def median_days_to_second(conn: Connection, shop: str, start: datetime, end: datetime) -> float | None:
    """The median of days between first and second counting order, over the second orders of the period."""
    median: float | None = await conn.fetchval(
        f"""SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM placed_at - prev_at) / 86400)
            FROM orders
            WHERE shop_id = $1 AND status IN {COUNTING} AND prev_at IS NOT NULL AND prev2_at IS NULL
              AND placed_at >= $2 AND placed_at < $3""",
        shop, start, end,
    )
    return median


async def cohort_cells(conn: Connection, shop: str, start: datetime,
                       end: datetime) -> dict[tuple[date, date], int]:
    """(cohort month, active month) -> customers whose first counting order lies in [start, end) and
    in the cohort month, with a counting order before `end` in the active month. Cohorts of whole
    months inside the period read the cohort_months counters for their whole active months; the
    partial cohorts at either end and the active month `end` cuts short come from their orders."""
    whole_from = start if start == _month_start(start) else _next_month(_month_start(start))
    whole_to = _month_start(end)
    from_orders = f"""
        SELECT {utc_month("first_at")} AS first_month, {utc_month("placed_at")} AS active_month, count(*) AS n
        FROM orders WHERE shop_id = $1 AND status IN {COUNTING} AND {opens_month("first_at", "prev_at")}"""
    rows: list[asyncpg.Record] = []
    if whole_from < whole_to:
        rows += await conn.fetch(
            """SELECT first_month, active_month, sum(customers)::bigint AS n FROM cohort_months
               WHERE shop_id = $1 AND first_month >= $2 AND first_month < $3 AND active_month < $3
               GROUP BY 1, 2""",
            shop, whole_from.date(), whole_to.date(),
        )
        if whole_to < end:
            rows += await conn.fetch(
                from_orders + " AND placed_at >= $2 AND placed_at < $3 AND first_at >= $4 AND first_at < $5"
                " GROUP BY 1, 2",
                shop, whole_to, end, whole_from, whole_to,
            )
    for first_from, first_to in ((start, min(whole_from, end)), (max(whole_to, whole_from), end)):
        if first_from < first_to:
            rows += await conn.fetch(
                from_orders + " AND first_at >= $2 AND first_at < $3 AND placed_at < $4 GROUP BY 1, 2",
                shop, first_from, first_to, end,
            )
    cells: dict[tuple[date, date], int] = {}
    for r in rows:
        key = (r["first_month"], r["active_month"])
        cells[key] = cells.get(key, 0) + r["n"]
    return {key: n for key, n in cells.items() if n}


async def latest_currency(conn: Connection, shop: str, end: datetime) -> str | None:
    """The currency of the latest counting order before `end` (None when the shop has none)."""
    currency: str | None = await conn.fetchval(
        f"""SELECT currency FROM orders WHERE shop_id = $1 AND status IN {COUNTING} AND placed_at < $2
            ORDER BY placed_at DESC LIMIT 1""",
        shop, end,
    )
    return currency

