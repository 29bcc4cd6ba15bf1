"""Rating summaries, request timing and sort keys of the reviews service."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from services.reviews import listing, ratings, requests


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


def test_request_delay_defaults_to_seven_days_and_is_configurable():
    assert requests.delay({}) == timedelta(days=7)
    assert requests.delay({"REVIEW_REQUEST_DELAY_SECONDS": "3"}) == timedelta(seconds=3)
    with pytest.raises(ValueError):
        requests.delay({"REVIEW_REQUEST_DELAY_SECONDS": "-1"})
    delivered = datetime(2026, 11, 20, 10, tzinfo=UTC)
    assert requests.due_at(delivered, requests.delay({})) == datetime(2026, 11, 27, 10, tzinfo=UTC)


def test_request_keys_never_let_one_customer_prefix_match_another():
    assert requests.job_key("c-1", "p-1").startswith(requests.customer_prefix("c-1"))
    assert not requests.job_key("c-10", "p-1").startswith(requests.customer_prefix("c-1"))
    assert not requests.job_key("c-1", "p-10").startswith(requests.job_key("c-1", "p-1"))
    assert not requests.job_key("c/1", "p").startswith(requests.customer_prefix("c"))


def test_sort_keys_are_descending_tuples():
    created = datetime(2026, 11, 20, tzinfo=UTC)
    row = {"rating": 2, "helpful_count": 7, "media_urls": ["https://x.example/a.jpg"], "created_at": created,
           "id": "00000000-0000-0000-0000-000000000001"}
    assert listing.key("NEWEST", False, row) == (0, 0, created.isoformat(), row["id"])
    assert listing.key("HIGHEST", True, row)[:2] == (1, 2)
    assert listing.key("LOWEST", False, row)[:2] == (0, -2)
    assert listing.key("MOST_HELPFUL", False, {**row, "media_urls": []})[:2] == (0, 7)
