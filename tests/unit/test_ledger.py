from decimal import Decimal

import pytest

from services.points.ledger import adjustment_entry, points_for_purchase, purchase_entry
from shared.errors import BadUserInput


@pytest.mark.parametrize("net, points", [
    ("0", 0), ("0.99", 0), ("1", 1), ("45.00", 45), ("45.99", 45), ("1000000", 1000000),
])
def test_one_point_per_whole_currency_unit(net, points):
    assert points_for_purchase(Decimal(net)) == points


def test_multiplier_rounds_down():
    assert points_for_purchase(Decimal("10.50"), multiplier=Decimal("1.5")) == 15


def test_purchase_entry_has_a_natural_key_per_order():
    entry = purchase_entry("c-1", "o-9", Decimal("12.30"), "evt-1")
    assert entry is not None
    assert (entry.delta, entry.kind, entry.idempotency_key, entry.source_event_id) == (
        12, "earn", "order:o-9:earn", "evt-1")
    assert purchase_entry("c-1", "o-9", Decimal("0.50"), "evt-2") is None


@pytest.mark.parametrize("delta, reason, key", [
    (0, "x", "k"), (10_000_001, "x", "k"), (-10_000_001, "x", "k"), (5, "", "k"), (5, "x" * 501, "k"),
    (5, "x", ""), (5, "x", "k" * 201),
])
def test_bad_adjustments(delta, reason, key):
    with pytest.raises(BadUserInput):
        adjustment_entry("c-1", delta, reason, key, "admin")
