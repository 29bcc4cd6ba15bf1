"""Retention metrics of a period [start, end) (retentionMetrics): the counts from SQL
(store/retention.py), in one read-only snapshot, and the rates metrics.py computes from them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

import asyncpg

from services.customers import metrics, segmenting, store
from services.customers.metrics import Counts
from shared.db import transaction


@dataclass(frozen=True)
class Report:
    counts: Counts
    metrics: metrics.Metrics
    lifespan_years: Decimal
    currency: str  # of the latest counting order; EUR for a shop without one


async def counts(pool: asyncpg.Pool, shop: str, start: datetime, end: datetime) -> tuple[Counts, str | None]:
    """docs/domain.md's counts for [start, end), and the currency of the latest counting order
    (None when the shop has none)."""
    async with transaction(pool, isolation="repeatable_read", readonly=True) as conn:
        window = timedelta(days=(await segmenting.rules(conn, shop)).active_window_days)
        # The activity spells are kept for the default window; a shop's own window counts the orders.
        active_at = store.retention.active_at if window == metrics.ACTIVE_WINDOW else store.retention.active_in
        start_active = await active_at(conn, shop, start, start - window)
        end_active = await active_at(conn, shop, end, end - window)
        period = await store.retention.period(conn, shop, start, end, end - metrics.REORDER_WINDOW)
        median = await store.retention.median_days_to_second(conn, shop, start, end)
        cells = await store.retention.cohort_cells(conn, shop, start, end)
        currency = await store.retention.latest_currency(conn, shop, end)
    found = Counts(
        start_active=start_active, end_active=end_active, new=period["new"], new_referred=period["new_referred"],
        buyers=period["buyers"], repeat_buyers=period["repeat_buyers"], orders=period["orders"],
        revenue=period["revenue"], reorder_base=period["reorder_base"], reordered=period["reordered"],
        median_days_to_second=None if median is None else Decimal(str(round(median, 4))),
        cohorts=metrics.cohorts(cells, end),
    )
    return found, currency


async def report(pool: asyncpg.Pool, shop: str, start: datetime, end: datetime) -> Report:
    metrics.check_range(start, end)
    found, currency = await counts(pool, shop, start, end)
    computed = metrics.compute(found, start, end)
    return Report(counts=found, metrics=computed, currency=currency or "EUR",
                  lifespan_years=metrics.lifespan_years(computed.churn, metrics.period_days(start, end)))
