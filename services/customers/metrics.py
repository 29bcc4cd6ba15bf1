"""Retention metrics exactly as DOMAIN.md defines them ("Exact definitions for
`retentionMetrics`"): pure formulas over the counts that store.retention_counts aggregates in SQL."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from shared.errors import BadUserInput

MAX_RANGE = timedelta(days=3660)  # ten years and a few leap days
MAX_LIFESPAN_YEARS = Decimal(10)
YEAR_DAYS = Decimal(365)


def check_range(start: datetime, end: datetime) -> None:
    if start.tzinfo is None or end.tzinfo is None:
        raise BadUserInput("from and to need a time zone offset", field="from")
    if start >= end:
        raise BadUserInput("from must be before to", field="from")
    if end - start > MAX_RANGE:
        raise BadUserInput("the range may span at most 10 years", field="to")


def _pct(part: int | Decimal, whole: int | Decimal) -> Decimal:
    return Decimal(part) * 100 / Decimal(whole) if whole else Decimal(0)


def retention_rate(start: int, end: int, new: int) -> Decimal:
    """CRR = (E - N) / S x 100."""
    return _pct(end - new, start)


def churn_rate(start: int, end: int, new: int) -> Decimal:
    """Churn = (S - (E - N)) / S x 100."""
    return _pct(start - (end - new), start)


def repeat_purchase_rate(repeat_buyers: int, buyers: int) -> Decimal:
    return _pct(repeat_buyers, buyers)


def purchase_frequency(orders: int, buyers: int) -> Decimal:
    return Decimal(orders) / buyers if buyers else Decimal(0)


def average_order_value(revenue: Decimal, orders: int) -> Decimal:
    return revenue / orders if orders else Decimal(0)


def period_days(start: datetime, end: datetime) -> Decimal:
    return Decimal((end - start).total_seconds()) / 86400


def lifespan_years(churn_percent: Decimal, days: Decimal) -> Decimal:
    """1 / yearly churn (churn scaled to 365 days), capped at 10 years; 10 when nobody churned."""
    yearly_churn = churn_percent / 100 * YEAR_DAYS / days
    if yearly_churn <= 0:
        return MAX_LIFESPAN_YEARS
    return min(1 / yearly_churn, MAX_LIFESPAN_YEARS)


def lifetime_value(aov: Decimal, frequency: Decimal, churn_percent: Decimal, days: Decimal) -> Decimal:
    """CLV = AOV x PF per year x lifespan in years."""
    yearly_frequency = frequency * YEAR_DAYS / days
    return aov * yearly_frequency * lifespan_years(churn_percent, days)


@dataclass(frozen=True)
class Counts:
    """What SQL aggregates for a period [from, to)."""
    start_active: int  # S
    end_active: int  # E
    new: int  # N
    new_referred: int  # of N, first order carried a converted referral
    buyers: int  # customers with >= 1 counting order in the period
    repeat_buyers: int  # ... with >= 2
    orders: int
    revenue: Decimal  # net
    reorder_base: int  # first order in [from, to - 60 d)
    reordered: int  # ... with a second counting order within 60 days
    median_days_to_second: Decimal | None
    cohorts: list[tuple[str, int, list[int]]] = field(default_factory=list)  # month, size, buyers per month k


@dataclass(frozen=True)
class Metrics:
    retention: Decimal
    churn: Decimal
    repeat_purchase: Decimal
    frequency: Decimal
    aov: Decimal
    clv: Decimal
    referral: Decimal
    reorder_60d: Decimal
    median_days_to_second: Decimal | None
    cohorts: list[tuple[str, int, list[Decimal]]]


def compute(c: Counts, start: datetime, end: datetime) -> Metrics:
    days = period_days(start, end)
    churn = churn_rate(c.start_active, c.end_active, c.new)
    frequency = purchase_frequency(c.orders, c.buyers)
    aov = average_order_value(c.revenue, c.orders)
    return Metrics(
        retention=retention_rate(c.start_active, c.end_active, c.new),
        churn=churn,
        repeat_purchase=repeat_purchase_rate(c.repeat_buyers, c.buyers),
        frequency=frequency,
        aov=aov,
        clv=lifetime_value(aov, frequency, churn, days),
        referral=_pct(c.new_referred, c.new),
        reorder_60d=_pct(c.reordered, c.reorder_base),
        median_days_to_second=c.median_days_to_second,
        cohorts=[(month, size, [_pct(n, size) for n in active]) for month, size, active in c.cohorts],
    )
