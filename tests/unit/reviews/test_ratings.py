"""Rating summaries of the reviews service."""

from __future__ import annotations

from decimal import Decimal

from services.reviews import ratings


def test_summary_averages_to_two_decimals():
    s = ratings.summary((0, 0, 1, 1, 1))
    assert (s.average, s.count, s.distribution) == (Decimal("4.00"), 3, (0, 0, 1, 1, 1))
    assert ratings.summary((1, 0, 0, 0, 2)).average == Decimal("3.67")  # 11 / 3
    assert ratings.summary((0, 0, 0, 1, 1)).average == Decimal("4.50")
    assert ratings.summary((0, 1, 0, 0, 7)).average == Decimal("4.63")  # 4.625 rounds half up
    assert ratings.summary(ratings.EMPTY) == ratings.Summary(Decimal("0.00"), 0, ratings.EMPTY)


def test_only_published_reviews_count_and_changes_are_differences():
    assert ratings.contribution("PENDING", 5) == ratings.EMPTY
    assert ratings.contribution("REJECTED", 5) == ratings.EMPTY
    assert ratings.contribution("PUBLISHED", 2) == (0, 1, 0, 0, 0)
    published_4, published_2 = ratings.contribution("PUBLISHED", 4), ratings.contribution("PUBLISHED", 2)
    assert ratings.change(ratings.EMPTY, published_4) == (0, 0, 0, 1, 0)
    assert ratings.change(published_4, published_2) == (0, 1, 0, -1, 0)
    assert ratings.change(published_4, ratings.contribution("PENDING", 4)) == (0, 0, 0, -1, 0)
