"""offerPerformance: per source, what the offers issued in a period brought. The sums are exact; the
rates are percentages (85.0 = 85 %), as everywhere in the API.

- issued: offers issued in the period; redeemed: those of them an order uses (a released use does
  not count);
- attributed revenue: the net amount (after refunds) of the paid, not cancelled orders in the
  program currency that use them, each order once per source;
- discount cost: the discounts those orders got; cost share: cost / revenue, shown beside the 3–5 %
  band a retention incentive should stay within.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import asyncpg

from services.points.loyalty import configuration
from services.points.offers import store
from services.points.offers.settings import SOURCES
from shared.db import Executor
from shared.errors import BadUserInput

BAND = (3.0, 5.0)  # percent of attributed revenue
MAX_SPAN_DAYS = 3 * 366


@dataclass(frozen=True)
class SourcePerformance:
    source: str
    issued: int
    redeemed: int
    redemption_rate: float
    revenue: Decimal
    cost: Decimal
    cost_share: float

    @property
    def within_band(self) -> bool:
        return self.cost_share <= BAND[1]


def _percent(part: Decimal | int, whole: Decimal | int) -> float:
    return round(float(Decimal(part) / Decimal(whole) * 100), 2) if whole else 0.0


def per_source(issued: Sequence[asyncpg.Record], money: Sequence[asyncpg.Record]) -> list[SourcePerformance]:
    """The rows of the sources with offers issued in the period, in the order of OfferSource."""
    counts = {r["source"]: r for r in issued}
    sums = {r["source"]: r for r in money}
    out = []
    for source in SOURCES:
        if source not in counts:
            continue
        n, used = counts[source]["issued"], counts[source]["redeemed"]
        revenue = sums[source]["revenue"] if source in sums else Decimal(0)
        cost = sums[source]["cost"] if source in sums else Decimal(0)
        out.append(SourcePerformance(source, n, used, _percent(used, n), revenue, cost, _percent(cost, revenue)))
    return out


async def performance(conn: Executor, shop: str, start: datetime, end: datetime) -> tuple[list[SourcePerformance], str]:
    """The figures for [start, end), and the program currency they are in."""
    if start.tzinfo is None or end.tzinfo is None:
        raise BadUserInput("from and to need a time zone offset", field="from")
    if not start < end or (end - start).days > MAX_SPAN_DAYS:
        raise BadUserInput(f"from must be before to, at most {MAX_SPAN_DAYS} days apart", field="from")
    prog = await configuration.in_force(conn, shop)
    issued = await store.issued_by_source(conn, shop, start, end)
    money = await store.money_by_source(conn, shop, start, end, prog.currency)
    return per_source(issued, money), prog.currency
