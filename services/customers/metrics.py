"""Retention metrics as docs/domain.md defines them ("Exact definitions for `retentionMetrics`"):
pure formulas over the counts that store/retention.py aggregates in SQL (retention.py runs it)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from shared.errors import BadUserInput

# A customer is active at t with a counting order in [t - ACTIVE_WINDOW, t); migration 0007 explains
# the order chain and the activity spells built on it. (store/orders.py writes it in SQL hours.) The
# default of a shop's activeWindowDays (segments.SegmentRules); another window counts the orders.
ACTIVE_WINDOW = timedelta(days=365)
# A new customer reorders with a second counting order within this of the first (store/retention.py
# writes it in SQL hours).
REORDER_WINDOW = timedelta(days=60)
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


def months_between(first: date | datetime, last: date | datetime) -> int:
    return (last.year - first.year) * 12 + last.month - first.month


def cohorts(cells: dict[tuple[date, date], int], end: datetime) -> list[tuple[str, int, list[int]]]:
    """Cohort rows (YYYY-MM, size, buyers in month 0, 1, 2 … up to the month of `end`) from the
    customers per (cohort month, active month)."""
    last = (end - timedelta(microseconds=1)).astimezone(UTC)
    per_month: dict[date, dict[int, int]] = {}
    for (first_month, active_month), n in sorted(cells.items()):
        per_month.setdefault(first_month, {})[months_between(first_month, active_month)] = n
    rows = []
    for month, active_by_k in per_month.items():
        span = months_between(month, last) + 1
        rows.append((month.strftime("%Y-%m"), active_by_k.get(0, 0), [active_by_k.get(k, 0) for k in range(span)]))
    return rows


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
