"""Shopware 6 app-system requests read as our commands, and their signatures (real payloads:
tests/fixtures/shopware, README.md says where from)."""

import copy
import hashlib
import hmac
import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from services.customers import shopware
from shared.errors import BadUserInput

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "shopware"


def fixture(name: str):
    return shopware.parse((FIXTURES / name).read_bytes())


def test_signatures_are_hex_hmac_sha256():
    body = (FIXTURES / "confirmation.json").read_bytes()
    good = hmac.new(b"shop-secret", body, hashlib.sha256).hexdigest()
    assert shopware.signed("shop-secret", body, good) and shopware.signed("shop-secret", body, good.upper())
    assert not shopware.signed("shop-secret", body + b" ", good)
    assert not shopware.signed(None, body, good) and not shopware.signed("shop-secret", body, None)
    assert shopware.proof("sid", "https://shop.example", "App", "s") == hmac.new(
        b"s", b"sidhttps://shop.exampleApp", hashlib.sha256).hexdigest()


def test_the_documented_registration_and_confirmation_are_read():
    query = (FIXTURES / "registration_query.txt").read_text().strip()
    r = shopware.registration(query)
    assert r == shopware.Registration("KIPf0Fz6BUkN", "http://my.shop.com", 159239728)
    c = shopware.confirmation(fixture("confirmation.json"))
    assert (c.shop_id, c.api_key) == ("sqX6cqHi6hbj", "SWIARXBSDJRWEMJONFK2OHBNWA")
    with pytest.raises(BadUserInput):
        shopware.registration("shop-id=a&timestamp=1")
    with pytest.raises(BadUserInput):
        shopware.confirmation({"shopId": "a", "apiKey": "b"})


def test_a_registration_is_taken_once_and_only_when_fresh():
    now = datetime(2026, 3, 1, 12, tzinfo=UTC)
    stamp = int(now.timestamp())
    assert shopware.fresh(stamp, now, None) and shopware.fresh(stamp, now, stamp - 1)
    assert not shopware.fresh(stamp, now, stamp)  # the same request again: a replay
    assert not shopware.fresh(stamp - 3600, now, None)  # an hour old
    assert not shopware.fresh(159239728, now, None)  # the documentation's example, from 1975


def test_the_real_order_becomes_an_order_with_exact_amounts():
    order = fixture("order.json")
    o = shopware.new_order(order)
    assert (o.id, o.customer_id, o.currency, o.total) == (
        "8f69d4874c53486a95383b2126161738", "5e5d6cd8917c45839b2f6aa7b4bf1425", "EUR", Decimal("395.01"))
    assert (o.tax_total, o.shipping_total, o.discount_total) == (Decimal(0), Decimal(0), Decimal(0))
    assert [(x.product_id, x.quantity, x.unit_price) for x in o.lines] == [
        ("9c4734591e8d40308e0b9480523ba10f", 1, Decimal("395.01"))]
    assert o.placed_at == datetime(2023, 5, 4, 13, 36, 26, 557000, tzinfo=UTC)
    customer = shopware.order_customer(order)
    assert (customer.profile.email, customer.profile.first_name) == ("test@example.com", "Max")


def test_promotions_taxes_and_shipping_tax_are_taken_apart():
    order = fixture("order.json")
    order["amountTotal"] = Decimal("124.90")
    order["price"]["calculatedTaxes"] = [{"tax": Decimal("19.94"), "taxRate": 19}]
    order["shippingTotal"] = Decimal("4.90")
    order["shippingCosts"]["calculatedTaxes"] = [{"tax": Decimal("0.78"), "taxRate": 19}]
    order["lineItems"].append({"type": "promotion", "totalPrice": Decimal("-10.00"), "payload": {"code": "FLY-7K3M"},
                               "quantity": 1, "good": False})
    o = shopware.new_order(order)
    assert (o.tax_total, o.shipping_total, o.discount_total, o.discount_codes) == (
        Decimal("19.94"), Decimal("4.12"), Decimal("10.00"), ("FLY-7K3M",))


def test_refunds_are_read_from_the_transaction_captures():
    order = fixture("order.json")
    with pytest.raises(BadUserInput):
        shopware.refunded_so_far(order, "EUR")
    refund = fixture("refund.json")
    failed = copy.deepcopy(refund)
    failed["stateMachineState"]["technicalName"] = "failed"
    order["transactions"][0]["captures"] = [{"refunds": [refund, failed]}]
    assert shopware.refunded_so_far(order, "EUR") == Decimal("420.69")


@pytest.mark.parametrize("change", [
    {"orderCustomer": None}, {"currency": None}, {"currency": {"isoCode": "euro"}}, {"amountTotal": None},
    {"orderDateTime": "yesterday"}, {"lineItems": [{"type": "product", "quantity": "1", "unitPrice": 1}]},
])
def test_orders_missing_fields_are_refused(change):
    with pytest.raises(BadUserInput):
        shopware.new_order({**fixture("order.json"), **change})


def test_webhooks_and_entity_events():
    envelope = fixture("webhook_entity_written.json")
    d = shopware.delivery(envelope)
    assert (d.event, d.shop_id, d.event_id, d.timestamp) == (
        "product.written", "dgrH7nLU6tlE", "7b04ebe416db4ebc93de4d791325e1d9", 123123123)
    assert shopware.delivery_keys(d) == ["event:7b04ebe416db4ebc93de4d791325e1d9"]
    assert shopware.entity_ids(d.payload, "product") == ["7b04ebe416db4ebc93de4d791325e1d9"]
    with pytest.raises(BadUserInput):
        shopware.entity_ids(d.payload, "customer")
    with pytest.raises(BadUserInput):
        shopware.delivery({"data": {"event": "x"}})
    assert not shopware.recent(123123123, datetime(2026, 1, 1, tzinfo=UTC))
    pp = shopware.customer_profile(json.loads((FIXTURES / "customer.json").read_text()))
    assert pp.profile.email == "test@example.com" and pp.sent == {"email", "first_name", "last_name"}
