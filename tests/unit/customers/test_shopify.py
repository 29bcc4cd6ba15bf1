"""Shopify webhook payloads read as our commands, and their signatures."""

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

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


# ---- the rest of the topics (issue 18) -------------------------------------------------------

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "shopify"


def fixture(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


def test_the_real_order_reads_its_amounts_from_shop_money():
    payload = fixture("order.json")
    for key in ("total_price_set", "line_items"):  # the buyer saw Canadian dollars
        if key == "line_items":
            payload[key][0]["price_set"]["presentment_money"] = {"amount": "270.64", "currency_code": "CAD"}
        else:
            payload[key]["presentment_money"] = {"amount": "270.64", "currency_code": "CAD"}
    order = shopify.new_order(payload)
    assert (order.id, order.customer_id, order.currency, order.total) == (
        "1073459969", "1073339463", "USD", Decimal("199.00"))
    assert order.lines[0].unit_price == Decimal("199.00") and order.lines[0].product_id == "921728736"
    payload["total_price_set"]["shop_money"]["amount"] = "201.00"  # the set wins over the plain field
    assert shopify.new_order(payload).total == Decimal("201.00")
    assert not shopify.financially_paid(payload)  # partially_paid is not paid


def test_a_refund_in_the_buyers_currency_counts_at_its_shop_money_value():
    refund = fixture("refund.json")
    assert shopify.refund(refund, "USD").amount == Decimal("41.94")  # transactions in the shop currency
    abroad = {**refund, "transactions": [{**refund["transactions"][0], "currency": "CAD", "amount": "57.00"}],
              "order_adjustments": [{"amount_set": {"shop_money": {"amount": "-5.00", "currency_code": "USD"}},
                                     "tax_amount_set": {"shop_money": {"amount": "0.00", "currency_code": "USD"}}}]}
    assert shopify.refund(abroad, "USD").amount == Decimal("204.65")  # 195.67 + 3.98 of the line, + 5.00 shipping


def test_fulfillments_say_shipped_or_delivered():
    f = fixture("fulfillment.json")
    assert shopify.fulfillment(f) == shopify.Fulfillment("450789469", False, datetime(2024, 10, 2, 14, 2, tzinfo=UTC))
    assert shopify.fulfillment({**f, "shipment_status": "delivered"}).delivered
    assert shopify.fulfillment_counts(f) and not shopify.fulfillment_counts({**f, "status": "cancelled"})


def test_a_customer_update_names_what_it_carries():
    pp = shopify.platform_profile(fixture("customer.json"))
    assert pp.profile.email == "steve.lastnameson@example.com" and pp.profile.phone == "+15142546011"
    assert pp.sent == {"email", "first_name", "last_name", "phone", "accepts_email", "accepts_sms"}
    assert not pp.profile.accepts_email  # not_subscribed
    french = shopify.platform_profile({**fixture("customer.json"), "locale": "fr-CA"})
    assert "locale" not in french.sent  # kept as stored: Flywheel writes de and en
    assert "locale" in shopify.platform_profile({**fixture("customer.json"), "locale": "de-DE"}).sent


def test_privacy_requests_and_delivery_ids():
    request = shopify.privacy_request(fixture("customers_data_request.json"), "customers/data_request")
    assert request == shopify.PrivacyRequest("191167", ("299938", "280263", "220458"), "9999")
    redact = shopify.privacy_request(fixture("customers_redact.json"), "customers/redact")
    assert (redact.customer_id, redact.request_id) == ("191167", None)
    assert shopify.privacy_request(fixture("shop_redact.json"), "shop/redact").customer_id is None
    with pytest.raises(BadUserInput):
        shopify.privacy_request({"customer": {}}, "customers/redact")
    assert shopify.delivery_keys("orders/paid", "w-1", "e-1") == ["webhook:w-1", "event:e-1:orders/paid"]
    assert shopify.delivery_keys("orders/paid", None, " ") == []
    assert "customers/redact" not in shopify.SUBSCRIBED and "orders/updated" in shopify.SUBSCRIBED
