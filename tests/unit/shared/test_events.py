import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from pydantic import ValidationError

from shared.events import CATALOG, OrderPaid, PoisonMessage, TierChanged, new_envelope, parse_envelope


def paid():
    return OrderPaid(shop="default", order_id="o-1", customer_id="c-1", currency="EUR",
                     total=Decimal("57.40"), net_amount=Decimal("45.00"),
                     placed_at=datetime(2026, 11, 1, tzinfo=UTC))


def test_envelope_is_a_cloudevent_and_round_trips():
    envelope = new_envelope(paid(), source="customers")
    body = json.loads(envelope.model_dump_json())
    for attribute in ("id", "source", "type", "time", "specversion", "datacontenttype", "data"):
        assert attribute in body
    assert body["specversion"] == "1.0" and body["type"] == "order.paid" and body["dataversion"] == 1
    assert body["data"]["net_amount"] == "45.00"  # money as a string, never a float
    again = parse_envelope(envelope.model_dump_json().encode())
    assert again.payload() == paid()


@pytest.mark.parametrize("body", [
    b"not json",
    b"{}",
    json.dumps({"id": "1", "source": "x", "type": "order.paid", "time": "2026-01-01T00:00:00Z",
                "shop": "default", "data": {"shop": "default"}}).encode(),
    json.dumps({"id": "1", "source": "x", "type": "order.exploded", "time": "2026-01-01T00:00:00Z",
                "shop": "default", "data": {}}).encode(),
    json.dumps({"id": "1", "source": "x", "type": "order.paid", "dataversion": 99,
                "time": "2026-01-01T00:00:00Z", "shop": "default", "data": {}}).encode(),
])
def test_malformed_or_unknown_events_are_poison(body):
    with pytest.raises(PoisonMessage):
        parse_envelope(body).payload()


def test_catalog_names_are_versioned_and_unique():
    assert ("order.paid", 1) in CATALOG
    assert all(model.type == t and model.version == v for (t, v), model in CATALOG.items())


def test_tier_changed_reason_is_optional_and_one_of_three():
    base = {"shop": "s", "customer_id": "c", "from_tier": None, "to_tier": "Bronze", "direction": "up"}
    assert TierChanged.model_validate(base).reason is None  # a producer from before the field
    assert TierChanged.model_validate({**base, "reason": "initial"}).reason == "initial"
    with pytest.raises(ValidationError):
        TierChanged.model_validate({**base, "reason": "because"})
