"""Predictions kept current: the shop's models fitted on its order mirror and every buyer's prediction
stored (predictions.py has the models), by a nightly job per shop at 02:00 UTC, before the daily segment
pass reads them for the predicted at-risk rule, and on demand (refreshPredictions). With too few buyers
the shop's predictions are removed and the reason kept: Customer.prediction is null, predictionStatus
says why."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

import asyncpg
import numpy as np

from services.customers import predictions, store
from shared import schedule
from shared.db import Connection, transaction
from shared.schedule import Job

JOB = "customers.predictions"
NIGHTLY_AT_HOUR = 2  # UTC, before the daily segment pass (segmenting.DAILY_AT_HOUR)


@dataclass(frozen=True)
class Outcome:
    status: str  # FITTED | TOO_FEW_BUYERS | NOT_FITTED
    reason: str | None
    buyers: int
    repeat_buyers: int


def _summary(rows: list[asyncpg.Record]) -> predictions.Summary:
    column = lambda name: np.array([float(r[name]) for r in rows], dtype=np.float64)  # noqa: E731
    return predictions.Summary(x=column("x"), t_x=column("t_x"), T=column("age"), spend=column("spend"))


def _model(found: predictions.Fitted, s: predictions.Summary) -> list[tuple[float, float, Decimal]]:
    alive, orders, value = predictions.predict(found, s)
    alive = np.clip(np.nan_to_num(alive, nan=1.0), 0.0, 1.0)
    orders = np.maximum(np.nan_to_num(orders, nan=0.0, posinf=0.0), 0.0)
    value = np.maximum(np.nan_to_num(value, nan=0.0, posinf=0.0), 0.0)
    return [(float(a), float(o), Decimal(f"{v:.4f}")) for a, o, v in zip(alive, orders, value, strict=True)]


async def refit(conn: Connection, shop: str, now: datetime | None = None) -> Outcome:
    """Fit the shop's models and store every buyer's prediction, in the caller's transaction. The
    fitting runs in a worker thread (numpy and scipy leave the event loop free)."""
    now = now or datetime.now(UTC)
    rows = await store.predictions.buyers(conn, shop, now)
    s = _summary(rows)
    buyers, repeat = len(rows), int(np.count_nonzero(s.x > 0))
    found = await asyncio.to_thread(predictions.fit, s)
    currency = await store.retention.latest_currency(conn, shop, now) or "EUR"
    if isinstance(found, str):
        status = "TOO_FEW_BUYERS" if predictions.enough(s) is not None else "NOT_FITTED"
        await store.predictions.replace(conn, shop, [])
        await store.predictions.save_fit(conn, shop, status=status, reason=found, model=predictions.MODEL,
                                         params=None, buyers=buyers, repeat_buyers=repeat, currency=currency,
                                         fitted_at=now)
        return Outcome(status, found, buyers, repeat)
    values = await asyncio.to_thread(_model, found, s)
    await store.predictions.replace(conn, shop, [(r["customer_id"], *v) for r, v in zip(rows, values, strict=True)])
    m, g = found.purchases, found.spend
    params = {"r": m.r, "alpha": m.alpha, "a": m.a, "b": m.b, "p": g.p, "q": g.q, "gamma": g.v, "unit": "day"}
    await store.predictions.save_fit(conn, shop, status="FITTED", reason=None, model=predictions.MODEL,
                                     params=params, buyers=buyers, repeat_buyers=repeat, currency=currency,
                                     fitted_at=now)
    return Outcome("FITTED", None, buyers, repeat)


async def refresh(pool: asyncpg.Pool, shop: str) -> Outcome:
    """refreshPredictions: fit now, in a transaction of its own."""
    async with transaction(pool) as conn:
        return await refit(conn, shop)


async def schedule_nightly(conn: Connection, shop: str, after: datetime) -> None:
    """The shop's next nightly fit (once per shop and night, whoever schedules it first)."""
    await schedule.schedule_daily(conn, shop=shop, kind=JOB, hour=NIGHTLY_AT_HOUR, after=after)


async def nightly(conn: Connection, job: Job) -> None:
    """The job: fit, then plan the next night."""
    await refit(conn, job.shop)
    await schedule_nightly(conn, job.shop, datetime.now(UTC))
