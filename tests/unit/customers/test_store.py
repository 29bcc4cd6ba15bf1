"""The SQL the store spells out by hand agrees with the rules. (That it only runs SQL is checked
for every service's store in tests/unit/test_layers.py.)"""

from __future__ import annotations

from datetime import timedelta

from services.customers import metrics
from services.customers.store import orders, retention


def _hours(window: timedelta) -> str:
    return f"interval '{int(window.total_seconds()) // 3600} hours'"


def test_the_windows_written_in_sql_are_the_rules_windows():
    assert orders.WINDOW_SQL == _hours(metrics.ACTIVE_WINDOW)
    assert retention.REORDER_SQL == _hours(metrics.REORDER_WINDOW)
