"""Shopify webhooks into the customers service: signed, mapped onto the same commands, replay-safe."""

from __future__ import annotations

import json
import os

from services.customers import shopify
from tests.e2e.customers_support import customers_value, days_ago
from tests.stack import customer_token, port, unique

STORE = next(iter(shopify.parse_stores(os.environ.get("SHOPIFY_WEBHOOKS") or shopify.DEV_WEBHOOKS).values()))
ADMIN = customer_token("admin", shop=STORE.shop, roles=["admin"])
ORDER_VIEW = """query($id: ID!) { customer(id: $id) { email firstName segment
  stats { ordersCount totalSpent { amount currency } }
  orders { edges { node { id status total { amount } refunded { amount } } } } } }"""


def url(topic: str) -> str:
    return f"http://127.0.0.1:{port('customers')}/webhooks/shopify/{topic}"


async def deliver(http, topic: str, payload: dict, *, secret: bytes | None = None, domain: str | None = None):
    body = json.dumps(payload).encode()
    headers = {"content-type": "application/json", "x-shopify-topic": topic,
               "x-shopify-shop-domain": domain or STORE.domain,
               "x-shopify-hmac-sha256": shopify.signature(secret or STORE.secret, body)}
    return await http.post(url(topic), content=body, headers=headers)


def order_payload(order_id: str, customer_id: str, **over) -> dict:
    return {"id": order_id, "email": f"{customer_id}@shop.example", "created_at": days_ago(3),
            "currency": "EUR", "total_price": "119.00", "total_tax": "14.00", "total_discounts": "0.00",
            "total_shipping_price_set": {"shop_money": {"amount": "5.00", "currency_code": "EUR"}},
            "line_items": [{"id": 11, "product_id": 42, "quantity": 1, "price": "100.00"}],
            "financial_status": "pending",
            "customer": {"id": customer_id, "first_name": "Shopper", "email": f"{customer_id}@shop.example"}, **over}


async def test_shopify_order_lifecycle_is_mirrored_and_replays_are_harmless(http, gql):
    customer_id, order_id = unique("sc"), unique("so")
    created = await deliver(http, "orders/create", order_payload(order_id, customer_id))
    assert created.status_code == 200, created.text
    view = (await gql.ok(ORDER_VIEW, {"id": customer_id}, ADMIN))["customer"]
    assert view["email"] == f"{customer_id}@shop.example" and view["firstName"] == "Shopper"
    assert view["orders"]["edges"][0]["node"]["status"] == "PLACED"

    paid = order_payload(order_id, customer_id, financial_status="paid")
    for _ in range(2):  # Shopify delivers at least once
        assert (await deliver(http, "orders/paid", paid)).status_code == 200
    assert (await deliver(http, "orders/fulfilled", paid)).status_code == 200
    late = await deliver(http, "orders/paid", paid)  # arrives after fulfilment: nothing to do, not an error
    assert late.status_code == 200

    refund = {"id": unique("rf"), "order_id": order_id,
              "transactions": [{"kind": "refund", "status": "success", "amount": "19.00"}]}
    for _ in range(2):
        assert (await deliver(http, "refunds/create", refund)).status_code == 200
    view = (await gql.ok(ORDER_VIEW, {"id": customer_id}, ADMIN))["customer"]
    node = view["orders"]["edges"][0]["node"]
    assert node == {"id": order_id, "status": "SHIPPED", "total": {"amount": "119.00"}, "refunded": {"amount": "19.00"}}
    assert view["stats"] == {"ordersCount": 1, "totalSpent": {"amount": "81.00", "currency": "EUR"}}  # 119-5-14-19
    assert view["segment"] == "NEW"
    events = await customers_value(
        """SELECT array_agg(type ORDER BY seq) FROM outbox WHERE shop_id = $1
             AND envelope->'data'->>'order_id' = $2""", STORE.shop, order_id)
    assert events == ["order.placed", "order.paid", "order.shipped", "order.refunded"]

    rest = {"id": unique("rf"), "order_id": order_id,
            "transactions": [{"kind": "refund", "status": "success", "amount": "100.00"}]}
    assert (await deliver(http, "refunds/create", rest)).status_code == 200
    node = (await gql.ok(ORDER_VIEW, {"id": customer_id}, ADMIN))["customer"]["orders"]["edges"][0]["node"]
    assert node["status"] == "REFUNDED" and node["refunded"]["amount"] == "119.00"
    too_much = {"id": unique("rf"), "order_id": order_id,
                "transactions": [{"kind": "refund", "status": "success", "amount": "1.00"}]}
    assert (await deliver(http, "refunds/create", too_much)).status_code == 422
    assert await customers_value("SELECT refunded_total FROM orders WHERE shop_id = $1 AND id = $2",
                                 STORE.shop, order_id) == 119


async def test_customers_create_and_bad_deliveries_change_nothing(http, gql):
    customer_id = unique("sc")
    payload = {"id": customer_id, "email": "New.Shopper@Example.com", "first_name": "Nia", "phone": "+4930123456",
               "email_marketing_consent": {"state": "subscribed"}}
    assert (await deliver(http, "customers/create", payload)).status_code == 200
    assert (await deliver(http, "customers/create", payload)).status_code == 200  # replay
    registered = "SELECT count(*) FROM outbox WHERE shop_id = $1 AND type = 'customer.registered' AND " \
                 "envelope->'data'->>'customer_id' = $2"
    assert await customers_value(registered, STORE.shop, customer_id) == 1
    assert await customers_value("SELECT accepts_email FROM customers WHERE shop_id = $1 AND id = $2",
                                 STORE.shop, customer_id) is True

    stranger = unique("sc")
    forged = {**payload, "id": stranger}
    assert (await deliver(http, "customers/create", forged, secret=b"guessed")).status_code == 401
    assert (await deliver(http, "customers/create", forged, domain="evil.myshopify.com")).status_code == 401
    body = json.dumps(forged).encode()
    unsigned = await http.post(url("customers/create"), content=body,
                               headers={"x-shopify-shop-domain": STORE.domain})
    assert unsigned.status_code == 401
    tampered = await http.post(url("customers/create"), content=body.replace(b"Nia", b"Eve"), headers={
        "x-shopify-shop-domain": STORE.domain, "x-shopify-hmac-sha256": shopify.signature(STORE.secret, body)})
    assert tampered.status_code == 401
    assert (await deliver(http, "products/create", forged)).status_code == 400
    assert (await deliver(http, "customers/create", {**forged, "email": "not-an-email"})).status_code == 422
    signed_garbage = b"[1, 2"
    garbage = await http.post(url("customers/create"), content=signed_garbage, headers={
        "x-shopify-shop-domain": STORE.domain,
        "x-shopify-hmac-sha256": shopify.signature(STORE.secret, signed_garbage)})
    assert garbage.status_code == 400
    guest = order_payload(unique("so"), stranger, customer=None)
    assert (await deliver(http, "orders/create", guest)).status_code == 422
    cancelled = order_payload(unique("so"), customer_id)
    assert (await deliver(http, "orders/create", cancelled)).status_code == 200
    await gql.ok("mutation($id: ID!) { updateOrderStatus(id: $id, status: CANCELLED) { status } }",
                 {"id": cancelled["id"]}, ADMIN)
    obsolete = await deliver(http, "orders/paid", {**cancelled, "financial_status": "paid"})
    assert obsolete.status_code == 200 and "ignored" in obsolete.json()
    unknown_refund = {"id": unique("rf"), "order_id": unique("so"), "transactions": []}
    assert (await deliver(http, "refunds/create", unknown_refund)).status_code == 404
    assert await customers_value("SELECT count(*) FROM customers WHERE shop_id = $1 AND id = $2",
                                 STORE.shop, stranger) == 0
