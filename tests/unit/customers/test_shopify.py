"""Shopify webhook payloads read as our commands, and their signatures."""

import base64
import hashlib
import hmac
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from services.customers import shopify
from shared.errors import BadUserInput

ORDER = {
    "id": 820982911946154508, "email": "jon@example.com", "created_at": "2026-11-20T10:00:00-05:00",
    "currency": "USD", "total_price": "238.47", "total_tax": "11.94", "total_discounts": "5.00",
    "total_shipping_price_set": {"shop_money": {"amount": "10.00", "currency_code": "USD"}},
    "line_items": [{"id": 1, "product_id": 632910392, "quantity": 2, "price": "108.27"}],
    "discount_codes": [{"code": "SPRING", "amount": "5.00"}], "financial_status": "paid",
    "customer": {"id": 115310627314723954, "first_name": "Jon", "last_name": "Doe",
                 "email_marketing_consent": {"state": "subscribed"}},
}


def test_signature_is_base64_hmac_sha256_of_the_raw_body():
    store = shopify.parse_stores("Shop-A.myshopify.com=shop-a:s3cret")["shop-a.myshopify.com"]
    body = b'{"id": 1}'
    good = base64.b64encode(hmac.new(b"s3cret", body, hashlib.sha256).digest()).decode()
    assert shopify.verified(store, body, good)
    assert not shopify.verified(store, body + b" ", good)
    assert not shopify.verified(store, body, None) and not shopify.verified(None, body, good)
    assert not shopify.verified(store, body, shopify.signature(b"other", body))
    with pytest.raises(ValueError):
        shopify.parse_stores("no-secret.myshopify.com=shop")


def test_an_order_payload_becomes_an_order_with_its_customer():
    order = shopify.new_order(ORDER)
    assert order.id == "820982911946154508" and order.customer_id == "115310627314723954"
    assert (order.total, order.shipping_total, order.tax_total, order.discount_total) == (
        Decimal("238.47"), Decimal("10.00"), Decimal("11.94"), Decimal("5.00"))
    assert order.placed_at == datetime(2026, 11, 20, 15, tzinfo=UTC)
    assert order.lines[0].product_id == "632910392" and order.lines[0].quantity == 2
    assert order.discount_codes == ("SPRING",)
    profile = shopify.customer_profile(shopify.order_customer(ORDER))
    assert profile.email == "jon@example.com" and profile.accepts_email and not profile.accepts_sms
    assert shopify.financially_paid(ORDER)


def test_shipping_falls_back_to_shipping_lines():
    payload = {k: v for k, v in ORDER.items() if k != "total_shipping_price_set"}
    payload["shipping_lines"] = [{"price": "4.00"}, {"price": "6.00"}]
    assert shopify.new_order(payload).shipping_total == Decimal("10.00")


@pytest.mark.parametrize("change", [
    {"customer": None}, {"created_at": "yesterday"}, {"total_price": "-1"}, {"currency": "dollars"},
    {"line_items": [{"product_id": 1, "quantity": "2", "price": "1.00"}]}, {"line_items": []},
    {"id": None}, {"total_price": "1.00"},
])
def test_bad_order_payloads_are_refused(change):
    with pytest.raises(BadUserInput):
        shopify.new_order({**ORDER, **change})


def test_a_refund_sums_its_successful_refund_transactions():
    payload = {"id": 929361462, "order_id": 450789469, "transactions": [
        {"kind": "refund", "status": "success", "amount": "41.94"},
        {"kind": "refund", "status": "failure", "amount": "100.00"},
        {"kind": "sale", "status": "success", "amount": "5.00"}]}
    refund = shopify.refund(payload, "EUR")
    assert (refund.id, refund.order_id, refund.amount) == ("929361462", "450789469", Decimal("41.94"))
    with pytest.raises(BadUserInput):
        shopify.refund({**payload, "transactions": [{"kind": "refund", "amount": "1.001"}]}, "EUR")
