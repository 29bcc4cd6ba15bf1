"""D+7 review requests: their delay and their schedule keys."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.reviews import requests


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
