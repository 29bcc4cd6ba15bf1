"""D+7 review requests: their delay and their schedule keys."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.reviews import requests, settings
from shared.errors import BadUserInput


def test_the_request_delay_is_the_shops_setting_d7_by_default_and_versioned():
    """Issue 19, item 8: the D+7 delay is a per-shop setting (configureReviews), not an environment variable."""
    delivered = datetime(2026, 11, 20, 10, tzinfo=UTC)
    assert settings.DEFAULT.request_delay == timedelta(days=7)
    assert requests.due_at(delivered, settings.DEFAULT.request_delay) == datetime(2026, 11, 27, 10, tzinfo=UTC)
    v1 = settings.changed(settings.DEFAULT, request_delay_days="3.5")
    assert (v1.version, v1.request_delay) == (1, timedelta(days=3, hours=12))
    v2 = settings.changed(v1, media_hosts=["CDN.Shop.example", "cdn.shop.example."])
    assert (v2.version, v2.request_delay_days, v2.media_hosts) == (2, v1.request_delay_days, ("cdn.shop.example",))
    assert settings.ReviewSettings.from_json(2, v2.to_json()) == v2
    for bad in ({"request_delay_days": "-1"}, {"request_delay_days": "366"}, {"request_delay_days": "0.001"},
                {"request_delay_days": "soon"}, {"media_hosts": ["https://cdn.example.com"]},
                {"media_hosts": [f"h{i}.example.com" for i in range(21)]}):
        with pytest.raises(BadUserInput):
            settings.changed(settings.DEFAULT, **bad)


def test_request_keys_never_let_one_customer_prefix_match_another():
    assert requests.job_key("c-1", "p-1").startswith(requests.customer_prefix("c-1"))
    assert not requests.job_key("c-10", "p-1").startswith(requests.customer_prefix("c-1"))
    assert not requests.job_key("c-1", "p-10").startswith(requests.job_key("c-1", "p-1"))
    assert not requests.job_key("c/1", "p").startswith(requests.customer_prefix("c"))
