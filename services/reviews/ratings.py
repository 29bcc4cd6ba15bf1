"""A product's rating summary from its published reviews, and how one review changes it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

Distribution = tuple[int, int, int, int, int]  # count of 1★ .. 5★
EMPTY: Distribution = (0, 0, 0, 0, 0)


@dataclass(frozen=True)
class Summary:
    average: Decimal
    count: int
    distribution: Distribution


def summary(distribution: Distribution) -> Summary:
    count = sum(distribution)
    if count == 0:
        return Summary(Decimal("0.00"), 0, distribution)
    total = sum(stars * n for stars, n in enumerate(distribution, start=1))
    average = (Decimal(total) / Decimal(count)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return Summary(average, count, distribution)


def contribution(status: str | None, rating: int | None) -> Distribution:
    """What one review adds to the summary: only a published review counts."""
    if status != "PUBLISHED" or rating is None:
        return EMPTY
    return _five(1 if stars == rating else 0 for stars in range(1, 6))


def change(before: Distribution, after: Distribution) -> Distribution:
    return _five(a - b for a, b in zip(after, before, strict=True))


def _five(counts: Iterable[int]) -> Distribution:
    one, two, three, four, five = counts
    return one, two, three, four, five
