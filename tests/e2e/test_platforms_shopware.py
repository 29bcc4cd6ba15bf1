"""A Shopware 6 shop connected by mutation goes through the app registration handshake and sends its
real payloads (tests/fixtures/shopware, README.md says where from) through the real endpoints; the
effects are read through the gateway. Its Admin API is the local fake (tests/platform_fakes.py)."""

from __future__ import annotations

import copy
import uuid
from datetime import UTC, datetime

from services.customers import shopware
from tests.e2e.platforms_support import (
    CONNECT_SHOPWARE,
    DISCONNECT,
    ShopwareShop,
    fixture,
    new_shop,
    recent,
)
from tests.stack import codes, unique
from tests.support import eventually


async def connected_shop(gql, http, fake, *, register: bool = True) -> tuple[ShopwareShop, str]:
    """A fresh shop with a Shopware shop connected and registered; (the shop, its order fixture's id)."""
    shop = new_shop(gql)
    await shop.set_rates(exchangeRates=[])
    shop_id = uuid.uuid4().hex[:16]
    app_secret = f"app-{uuid.uuid4().hex}"
    data = await gql.ok(CONNECT_SHOPWARE, {"input": {"shopId": shop_id, "shopUrl": fake.shopware_url(shop_id),
                                                     "appSecret": app_secret}}, shop.admin)
    sw = ShopwareShop(shop, shop_id, app_secret, data["connectShopwareShop"]["id"])
    if register:
        answer = await sw.register(http, fake.shopware_url(shop_id))
        assert answer.status_code == 200, answer.text
        body = answer.json()
        confirmation = {**fixture("shopware/confirmation.json"), "shopId": shop_id,
                        "shopUrl": fake.shopware_url(shop_id), "apiKey": f"SWIA{uuid.uuid4().hex[:20].upper()}",
                        "secretKey": uuid.uuid4().hex, "timestamp": str(int(datetime.now(UTC).timestamp()))}
        fake.add_shopware(shop_id, confirmation["apiKey"], confirmation["secretKey"])
        assert (await sw.confirm(http, confirmation, body["secret"])).status_code == 204
        sw.shop_secret = body["secret"]
    return sw, shop_id


def order_payload(customer_id: str | None = None) -> dict:
    """The real Shopware order under fresh ids, placed an hour ago."""
    order = copy.deepcopy(fixture("shopware/order.json"))
    order["id"] = uuid.uuid4().hex
    order["orderCustomer"]["customerId"] = customer_id or uuid.uuid4().hex
    order["orderCustomer"]["email"] = f"{order['orderCustomer']['customerId']}@example.com"
    order["orderDateTime"] = recent(1)
    return order


async def test_the_registration_handshake_proves_the_app_and_replays_are_refused(gql, http, platform_fake):
    sw, shop_id = await connected_shop(gql, http, platform_fake, register=False)
    url = platform_fake.shopware_url(shop_id)
    now = int(datetime.now(UTC).timestamp())
    wrong = await sw.register(http, url, timestamp=now, secret="not-the-app-secret")
    assert wrong.status_code == 401
    answer = await sw.register(http, url, timestamp=now)
    assert answer.status_code == 200
    body = answer.json()
    assert body["proof"] == shopware.proof(shop_id, url, "FlywheelLoyalty", sw.app_secret)
    assert body["confirmation_url"].endswith("/webhooks/shopware/confirm") and len(body["secret"]) >= 32
    assert (await sw.register(http, url, timestamp=now)).status_code == 401  # the same registration again
    assert (await sw.register(http, url, timestamp=now - 3600)).status_code == 401  # stale

    confirmation = {**fixture("shopware/confirmation.json"), "shopId": shop_id, "shopUrl": url}
    assert (await sw.confirm(http, confirmation, "guessed-secret")).status_code == 401
    assert (await sw.confirm(http, confirmation, body["secret"])).status_code == 204
    assert (await sw.confirm(http, confirmation, body["secret"])).status_code == 401  # replayed confirmation
    [connection] = await sw.shop.connections()
    assert (connection["registered"], connection["adminAccess"], connection["eventsRefused"]) == (True, True, 5)
    assert connection["shopUrl"] == url

    sw.shop_secret = body["secret"]
    stranger = await http.get(
        f"{answer.url.scheme}://{answer.url.host}:{answer.url.port}/webhooks/shopware/register"
        f"?shop-id=unknown{uuid.uuid4().hex[:6]}&shop-url=https://x.example&timestamp={now}",
        headers={"shopware-app-signature": "00"})
    assert stranger.status_code == 401


async def test_every_order_event_moves_the_order_and_points_follow(gql, http, platform_fake):
    sw, _ = await connected_shop(gql, http, platform_fake)
    shop = sw.shop
    order = order_payload()
    customer_id, order_id = order["orderCustomer"]["customerId"], order["id"]
    placed = await sw.deliver(http, shopware.ORDER_PLACED, {"order": order})
    assert placed.json() == {"ok": "order PLACED"}
    made = await shop.customer(customer_id)
    assert (made["email"], made["firstName"], made["lastName"]) == (f"{customer_id}@example.com", "Max", "Mustermann")
    assert (await sw.deliver(http, shopware.PAID, {"order": order})).json() == {"ok": "order PAID"}
    await shop.until_order(customer_id, order_id, "earned", pointsEarned=395, pointsStatus="PENDING")
    assert (await sw.deliver(http, shopware.SHIPPED, {"order": order})).json() == {"ok": "order SHIPPED"}

    refund = fixture("shopware/refund.json")  # Shopware's refund entity, for 95.01 of the order
    refund["amount"]["totalPrice"] = 95.01
    partly = copy.deepcopy(order)
    partly["transactions"][0]["captures"] = [{"refunds": [refund]}]
    answer = await sw.deliver(http, shopware.REFUNDED_PARTIALLY, {"order": partly})
    assert answer.json() == {"ok": "order SHIPPED, refunded 95.01"}
    await shop.until_order(customer_id, order_id, "taken back in part", pointsEarned=300)
    assert (await sw.deliver(http, shopware.DELIVERED, {"order": order})).json() == {"ok": "order DELIVERED"}
    assert (await sw.deliver(http, shopware.REFUNDED, {"order": order})).status_code == 200
    await shop.until_order(customer_id, order_id, "refunded", status="REFUNDED", pointsStatus="REVERSED",
                           pointsEarned=0)

    other = order_payload(customer_id)  # a second order, cancelled before it was paid
    assert (await sw.deliver(http, shopware.CANCELLED, {"order": other})).json() == {"ok": "order CANCELLED"}
    late = await sw.deliver(http, shopware.PAID, {"order": other})
    assert late.status_code == 200 and "ignored" in late.json()
    connection = await shop.connection(sw.connection_id)
    assert (connection["eventsTaken"], connection["eventsRefused"]) == (8, 0)


async def test_written_customers_are_read_back_and_deleted_ones_erased(gql, http, platform_fake):
    sw, shop_id = await connected_shop(gql, http, platform_fake)
    shop = sw.shop
    order = order_payload()
    customer_id = order["orderCustomer"]["customerId"]
    assert (await sw.deliver(http, shopware.ORDER_PLACED, {"order": order})).status_code == 200
    entity = {**fixture("shopware/customer.json"), "id": customer_id, "firstName": "Maximilian",
              "email": f"{customer_id}@example.com", "birthday": "1987-06-05"}
    platform_fake.shopware[shop_id].customers[customer_id] = entity
    written = [{"entity": "customer", "operation": "update", "primaryKey": customer_id,
                "updatedFields": ["firstName", "birthday"]}]
    assert (await sw.deliver(http, shopware.CUSTOMER_WRITTEN, written)).json() == {"ok": "1 customer(s) to read back"}

    async def updated():
        found = await shop.customer(customer_id)
        return found["firstName"] == "Maximilian" and found

    found = await eventually(updated, what="the customer read back through the Admin API")
    assert found["birthday"] == "1987-06-05" and found["lastName"] == "Mustermann"
    assert ("GET", f"/api/customer/{customer_id}") in platform_fake.shopware[shop_id].requests

    deleted = [{"entity": "customer", "operation": "delete", "primaryKey": customer_id, "updatedFields": []}]
    assert (await sw.deliver(http, "customer.deleted", deleted)).json() == {"ok": f"customer {customer_id} erased"}
    assert (await shop.customer(customer_id))["email"] is None

    assert (await sw.deliver(http, "app.deleted", [])).json() == {"ok": "connection uninstalled"}
    assert (await shop.connection(sw.connection_id))["status"] == "UNINSTALLED"
    assert (await sw.deliver(http, shopware.ORDER_PLACED, {"order": order_payload()})).status_code == 403


async def test_bad_shopware_deliveries_are_refused_counted_and_change_nothing(gql, http, platform_fake):
    sw, shop_id = await connected_shop(gql, http, platform_fake)
    shop = sw.shop
    order = order_payload()
    customer_id = order["orderCustomer"]["customerId"]
    assert (await sw.deliver(http, shopware.ORDER_PLACED, {"order": order}, secret="wrong")).status_code == 401
    assert (await sw.deliver(http, "product.written", [])).status_code == 400
    old = int(datetime.now(UTC).timestamp()) - 3 * 86400
    assert (await sw.deliver(http, shopware.ORDER_PLACED, {"order": order}, timestamp=old)).status_code == 401
    no_customer = {**order, "orderCustomer": None}
    assert (await sw.deliver(http, shopware.ORDER_PLACED, {"order": no_customer})).status_code == 422
    no_currency = {k: v for k, v in order.items() if k != "currency"}
    assert (await sw.deliver(http, shopware.ORDER_PLACED, {"order": no_currency})).status_code == 422
    no_refunds = await sw.deliver(http, shopware.REFUNDED_PARTIALLY, {"order": order})
    assert no_refunds.status_code == 422  # the order carries no refund amounts
    assert await shop.customer(customer_id) is None

    event = uuid.uuid4().hex
    assert (await sw.deliver(http, shopware.ORDER_PLACED, {"order": order}, event_id=event)).status_code == 200
    again = await sw.deliver(http, shopware.ORDER_PLACED, {"order": order}, event_id=event)
    assert again.json()["duplicate"] is True
    connection = await shop.connection(sw.connection_id)
    assert (connection["eventsTaken"], connection["eventsRefused"]) == (1, 6)

    await gql.ok(DISCONNECT, {"id": sw.connection_id}, shop.admin)
    assert (await sw.deliver(http, shopware.PAID, {"order": order})).status_code == 403
    taken = await gql(CONNECT_SHOPWARE, {"input": {"shopId": shop_id, "shopUrl": "https://elsewhere.example",
                                                   "appSecret": "x"}}, new_shop(gql).admin)
    assert codes(taken) == ["CONFLICT"]
    bad = await gql(CONNECT_SHOPWARE, {"input": {"shopId": unique("a b"), "shopUrl": "https://x.example",
                                                 "appSecret": "x"}}, shop.admin)
    assert codes(bad) == ["BAD_USER_INPUT"]
