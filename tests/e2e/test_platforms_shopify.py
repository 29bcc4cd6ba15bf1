"""A Shopify store connected by mutation sends its real payloads (tests/fixtures/shopify, README.md
says where each came from) through the real webhook endpoint; the effects are read through the
gateway: orders earn (in a second currency too), cancellations and refunds take back, customer
updates and unsubscribes apply, redactions erase, and commerceConnections counts what was taken and
refused. The Admin API is the local fake (tests/platform_fakes.py)."""

from __future__ import annotations

import copy
import json
import uuid

from tests.e2e.platforms_support import (
    CONNECT_SHOPIFY,
    DISCONNECT,
    big_id,
    connect_shopify,
    fixture,
    new_domain,
    new_shop,
    recent,
    shopify_order,
    store_of_new_shop,
)
from tests.stack import codes, customer_token, unique
from tests.support import eventually

DATA_REQUESTS = """{ commerceDataRequests { requestId customerId ordersRequested known
  export { customerId customers points } } }"""
NOT_ELIGIBLE = """{ notEligibleOrders { currency orders lastPaidAt } }"""

# What connecting a store subscribes (docs/domain.md, Shopify topics; the privacy topics are the app's)
WEBHOOK_TOPICS = {"APP_UNINSTALLED", "CUSTOMERS_CREATE", "CUSTOMERS_DELETE", "CUSTOMERS_UPDATE", "FULFILLMENTS_CREATE",
                  "FULFILLMENTS_UPDATE", "ORDERS_CANCELLED", "ORDERS_CREATE", "ORDERS_FULFILLED", "ORDERS_PAID",
                  "ORDERS_UPDATED", "REFUNDS_CREATE"}


async def test_connecting_a_store_registers_its_webhooks_and_never_shows_its_secrets(gql, http, platform_fake):
    shop = new_shop(gql)
    token = f"shpat_{uuid.uuid4().hex}"
    domain = new_domain()
    fake_store = platform_fake.add_shopify(domain, token)
    store = await connect_shopify(gql, shop, token=token, domain=domain)

    await eventually(lambda: len(fake_store.subscriptions) == len(WEBHOOK_TOPICS), what="webhook subscriptions")
    assert fake_store.errors == []  # every request matched the documented mutation shapes
    # Spelled out here, not derived from the product's own SUBSCRIBED: a topic dropped there fails this.
    assert set(fake_store.subscriptions) == WEBHOOK_TOPICS
    assert fake_store.subscriptions["ORDERS_PAID"].endswith("/webhooks/shopify/orders/paid")
    assert "CUSTOMERS_REDACT" not in fake_store.subscriptions  # compliance topics live in the app's settings

    raw = json.dumps(await gql(
        "{ commerceConnections { id domain status adminAccess eventsTaken } }", {}, shop.admin))
    assert store.secret not in raw and token not in raw
    [listed] = (await gql.ok("{ commerceConnections { id domain status adminAccess } }", {}, shop.admin))[
        "commerceConnections"]
    assert listed == {"id": store.connection_id, "domain": store.domain, "status": "ACTIVE", "adminAccess": True}

    other = new_shop(gql)
    taken = await gql(CONNECT_SHOPIFY, {"input": {"domain": store.domain, "webhookSecret": "x"}}, other.admin)
    assert codes(taken) == ["CONFLICT"]
    bad = await gql(CONNECT_SHOPIFY, {"input": {"domain": "evil.example.com", "webhookSecret": "x"}}, shop.admin)
    assert codes(bad) == ["BAD_USER_INPUT"]
    customer = await gql(CONNECT_SHOPIFY, {"input": {"domain": f"{unique('st')}.myshopify.com",
                                                     "webhookSecret": "x"}}, customer_token("c1", shop=shop.id))
    assert codes(customer) == ["FORBIDDEN"]


async def test_a_secret_is_rotated_by_connecting_again_without_a_restart(gql, http):
    store = await store_of_new_shop(gql, usd_rate=None)
    shop = store.shop
    order = shopify_order()
    assert (await store.deliver(http, "orders/create", order)).status_code == 200
    rotated = await gql.ok(CONNECT_SHOPIFY, {"input": {"domain": store.domain, "webhookSecret": "new-secret"}},
                           shop.admin)
    assert rotated["connectShopifyStore"]["id"] == store.connection_id
    stale = await store.deliver(http, "orders/paid", order)
    assert stale.status_code == 401
    assert (await store.deliver(http, "orders/paid", order, secret="new-secret")).status_code == 200
    connection = await shop.connection(store.connection_id)
    assert (connection["eventsTaken"], connection["eventsRefused"]) == (2, 1)
    assert connection["lastError"] == "invalid signature"


async def test_orders_earn_in_a_second_currency_and_say_why_when_there_is_no_rate(gql, http):
    store = await store_of_new_shop(gql, usd_rate=None)
    shop = store.shop
    # The fixture's store books in USD; the program's currency is EUR and has no USD rate yet.
    first = shopify_order(financial_status="paid")
    assert (await store.deliver(http, "orders/paid", first)).status_code == 200
    customer_id = str(first["customer"]["id"])
    node = await shop.until_order(customer_id, str(first["id"]), "not eligible", pointsStatus="NOT_ELIGIBLE")
    assert node["pointsEarned"] == 0
    assert node["pointsNote"] == "no exchange rate from USD to the program currency EUR"
    [gap] = (await gql.ok(NOT_ELIGIBLE, {}, shop.admin))["notEligibleOrders"]
    assert (gap["currency"], gap["orders"]) == ("USD", 1)

    program = await shop.set_rates(baseCurrency="EUR", exchangeRates=[
        {"currency": "USD", "rate": "0.9215", "date": "2026-01-05"}])
    assert program["exchangeRates"] == [{"currency": "USD", "rate": "0.9215", "date": "2026-01-05"}]
    second = shopify_order(customer_id=first["customer"]["id"], financial_status="paid")
    assert (await store.deliver(http, "orders/paid", second)).status_code == 200
    # 199.00 USD × 0.9215 = 183.3785 EUR → 183 points, rounded down
    node = await shop.until_order(customer_id, str(second["id"]), "earned", pointsStatus="PENDING", pointsEarned=183)
    assert node["total"] == {"amount": "199.00", "currency": "USD"}
    [earned] = [e for e in await shop.history(customer_id) if e["kind"] == "EARN"]
    assert (earned["orderCurrency"], earned["exchangeRate"], earned["exchangeRateDate"]) == (
        "USD", "0.9215", "2026-01-05")
    refused = await gql(
        "mutation($i: ProgramInput!) { configureProgram(input: $i) { version } }",
        {"i": {"exchangeRates": [{"currency": "EUR", "rate": "1"}]}}, shop.admin)
    assert codes(refused) == ["BAD_USER_INPUT"]


async def test_an_order_walks_through_every_order_topic(gql, http):
    store = await store_of_new_shop(gql)
    shop = store.shop
    order = shopify_order()  # financial_status partially_paid: placed, not paid
    customer_id, order_id = str(order["customer"]["id"]), str(order["id"])
    assert (await store.deliver(http, "orders/create", order)).json() == {"ok": "order PLACED"}
    placed = await shop.customer(customer_id)
    assert placed["email"] == order["customer"]["email"] and placed["firstName"] == "John"

    edited = copy.deepcopy(order)  # an order edit before payment: a second unit
    edited["line_items"][0]["quantity"] = 2
    for key in ("total_price_set", "subtotal_price_set"):
        edited[key]["shop_money"]["amount"] = "398.00"
    edited["total_price"] = "398.00"
    assert (await store.deliver(http, "orders/updated", edited)).status_code == 200
    assert (await shop.order(customer_id, order_id))["total"] == {"amount": "398.00", "currency": "USD"}

    paid = {**edited, "financial_status": "paid"}
    assert (await store.deliver(http, "orders/paid", paid)).json() == {"ok": "order PAID"}
    await shop.until_order(customer_id, order_id, "earned", pointsEarned=398, pointsStatus="PENDING")

    assert (await store.deliver(http, "orders/fulfilled", {**paid, "fulfillment_status": "fulfilled"})).json() == {
        "ok": "order SHIPPED"}
    refund = fixture("shopify/refund.json")  # Shopify's refund object: one refund transaction of 41.94
    refund.update(id=big_id(), order_id=order["id"])
    with_refund = {**paid, "financial_status": "partially_refunded", "refunds": [refund]}
    assert (await store.deliver(http, "orders/updated", with_refund)).status_code == 200
    node = await shop.until_order(customer_id, order_id, "refund taken back", pointsEarned=356)  # 398 − 41.94
    assert node["refunded"] == {"amount": "41.94"} and node["status"] == "SHIPPED"
    again = await store.deliver(http, "refunds/create", refund)  # the same refund on its own topic
    assert again.json() == {"ok": "refund already recorded"}

    delivered = fixture("shopify/fulfillment.json")
    delivered.update(id=str(big_id()), order_id=order_id, shipment_status="delivered", updated_at=recent(1))
    assert (await store.deliver(http, "fulfillments/update", delivered)).json() == {"ok": "order DELIVERED"}
    late_paid = await store.deliver(http, "orders/paid", paid)  # arrives late: nothing to do
    assert late_paid.status_code == 200 and "ignored" not in late_paid.json()
    connection = await shop.connection(store.connection_id)
    assert connection["eventsTaken"] == 8 and connection["eventsRefused"] == 0


async def test_fulfillments_ship_and_deliver_and_refunds_take_back(gql, http):
    store = await store_of_new_shop(gql)
    shop = store.shop
    order = shopify_order(financial_status="paid")
    customer_id, order_id = str(order["customer"]["id"]), str(order["id"])
    assert (await store.deliver(http, "orders/create", order)).json() == {"ok": "order PAID"}
    shipped = fixture("shopify/fulfillment.json")  # status success, no shipment status yet
    shipped.update(id=str(big_id()), order_id=order_id)
    assert (await store.deliver(http, "fulfillments/create", shipped)).json() == {"ok": "order SHIPPED"}
    unknown = {**shipped, "order_id": str(big_id())}
    assert (await store.deliver(http, "fulfillments/create", unknown)).status_code == 404  # Shopify retries

    refund = fixture("shopify/refund.json")
    refund.update(id=big_id(), order_id=order["id"])
    assert (await store.deliver(http, "refunds/create", refund)).json() == {"ok": "refund recorded"}
    await shop.until_order(customer_id, order_id, "partly refunded", pointsEarned=157)  # 199.00 − 41.94
    rest = {**refund, "id": big_id(), "transactions": [{**refund["transactions"][0], "amount": "157.06"}]}
    assert (await store.deliver(http, "refunds/create", rest)).status_code == 200
    await shop.until_order(customer_id, order_id, "fully refunded", status="REFUNDED", pointsStatus="REVERSED",
                           pointsEarned=0)
    connection = await shop.connection(store.connection_id)
    assert (connection["eventsTaken"], connection["eventsFailed"]) == (4, 1)


async def test_a_cancelled_order_gives_its_pending_points_back(gql, http):
    store = await store_of_new_shop(gql)
    shop = store.shop
    order = shopify_order(financial_status="paid")
    customer_id, order_id = str(order["customer"]["id"]), str(order["id"])
    assert (await store.deliver(http, "orders/paid", order)).status_code == 200
    await shop.until_order(customer_id, order_id, "earned", pointsEarned=199, pointsStatus="PENDING")
    cancelled = {**order, "cancelled_at": recent(0.5), "cancel_reason": "customer", "financial_status": "voided"}
    assert (await store.deliver(http, "orders/cancelled", cancelled)).json() == {"ok": "order CANCELLED"}
    await shop.until_order(customer_id, order_id, "reversed", status="CANCELLED", pointsStatus="REVERSED",
                           pointsEarned=0)
    paid_again = await store.deliver(http, "orders/paid", order)  # obsolete: answered, nothing changes
    assert paid_again.status_code == 200 and "CANCELLED" in paid_again.json()["ignored"]


async def test_customer_updates_and_unsubscribes_apply_and_deletes_erase(gql, http):
    store = await store_of_new_shop(gql, usd_rate=None)
    shop = store.shop
    customer = fixture("shopify/customer.json")
    customer["id"] = str(big_id())
    customer_id = customer["id"]
    assert (await store.deliver(http, "customers/create", customer)).status_code == 200
    made = await shop.customer(customer_id)
    assert (made["email"], made["firstName"], made["lastName"]) == (
        "steve.lastnameson@example.com", "Steve", "Lastnameson")
    await gql.ok("mutation($i: CustomerInput!) { upsertCustomer(input: $i) { id } }", {"i": {
        "id": customer_id, "email": "steve.lastnameson@example.com", "firstName": "Steve",
        "lastName": "Lastnameson", "birthday": "1990-04-02", "locale": "de"}}, shop.admin)

    subscribed = {**customer, "first_name": "Stephen", "locale": "en",
                  "email_marketing_consent": {"state": "subscribed", "opt_in_level": "single_opt_in"}}
    assert (await store.deliver(http, "customers/update", subscribed)).status_code == 200
    await eventually(lambda: _email_consent(shop, customer_id, True), what="subscribed in notifications")
    updated = await shop.customer(customer_id)
    assert (updated["firstName"], updated["locale"], updated["birthday"]) == ("Stephen", "en", "1990-04-02")

    unsubscribed = {**subscribed, "email_marketing_consent": {"state": "unsubscribed"}}
    assert (await store.deliver(http, "customers/update", unsubscribed)).status_code == 200
    await eventually(lambda: _email_consent(shop, customer_id, False), what="unsubscribed in notifications")

    french = {**unsubscribed, "locale": "fr"}  # a shop language Flywheel does not write: kept as it was
    assert (await store.deliver(http, "customers/update", french)).status_code == 200
    assert (await shop.customer(customer_id))["locale"] == "en"

    assert (await store.deliver(http, "customers/delete", {"id": int(customer_id)})).json() == {
        "ok": f"customer {customer_id} erased"}
    gone = await shop.customer(customer_id)
    assert gone["email"] is None and gone["firstName"] is None
    assert (await store.deliver(http, "customers/delete", {"id": int(customer_id)})).json() == {
        "ok": f"customer {customer_id} was erased before"}


async def _email_consent(shop, customer_id: str, expected: bool) -> bool:
    found = await shop.preferences(customer_id)
    return found is not None and found["email"] is expected


async def test_privacy_webhooks_export_and_erase_across_services(gql, http):
    store = await store_of_new_shop(gql)
    shop = store.shop
    order = shopify_order(financial_status="paid")
    customer_id = order["customer"]["id"]
    assert (await store.deliver(http, "orders/paid", order)).status_code == 200
    await shop.until_order(str(customer_id), str(order["id"]), "earned", pointsEarned=199)

    request = fixture("shopify/customers_data_request.json")
    request.update(shop_domain=store.domain, orders_requested=[order["id"]])
    request["customer"].update(id=customer_id, email=order["customer"]["email"])
    request["data_request"]["id"] = big_id()
    assert (await store.deliver(http, "customers/data_request", request)).status_code == 200
    assert (await store.deliver(http, "customers/data_request", request)).status_code == 200  # redelivered
    [noted] = (await gql.ok(DATA_REQUESTS, {}, shop.admin))["commerceDataRequests"]
    assert (noted["customerId"], noted["known"], noted["ordersRequested"]) == (
        str(customer_id), True, [str(order["id"])])
    assert noted["export"]["customers"]["profile"]["email"] == order["customer"]["email"]
    assert noted["export"]["points"]["order_points"][0]["earned"] == 199  # every service's part

    redact = fixture("shopify/customers_redact.json")
    redact.update(shop_domain=store.domain, orders_to_redact=[order["id"]])
    redact["customer"].update(id=customer_id, email=order["customer"]["email"])
    assert (await store.deliver(http, "customers/redact", redact)).json() == {"ok": f"customer {customer_id} erased"}
    erased = await shop.customer(str(customer_id))
    assert erased["email"] is None
    stranger = {**redact, "customer": {**redact["customer"], "id": big_id()}}
    assert (await store.deliver(http, "customers/redact", stranger)).status_code == 200  # nothing held: fine


async def test_uninstall_then_shop_redaction_erases_every_customer_and_keeps_the_sums(gql, http):
    store = await store_of_new_shop(gql)
    shop = store.shop
    orders = [shopify_order(financial_status="paid") for _ in range(2)]
    for order in orders:
        assert (await store.deliver(http, "orders/paid", order)).status_code == 200
        await shop.until_order(str(order["customer"]["id"]), str(order["id"]), "earned", pointsEarned=199)

    uninstalled = await store.deliver(http, "app/uninstalled", {**fixture("shopify/shop.json"),
                                                                "myshopify_domain": store.domain})
    assert uninstalled.json() == {"ok": "connection uninstalled"}
    assert (await shop.connection(store.connection_id))["status"] == "UNINSTALLED"
    late = await store.deliver(http, "orders/create", shopify_order())
    assert late.status_code == 403  # refused and counted; privacy requests are still taken

    redact = {**fixture("shopify/shop_redact.json"), "shop_domain": store.domain}
    assert (await store.deliver(http, "shop/redact", redact)).json() == {"ok": "shop redaction scheduled"}
    for order in orders:
        customer_id = str(order["customer"]["id"])
        await eventually(lambda c=customer_id: _erased(shop, c), what=f"customer {customer_id} erased")
        node = await shop.order(customer_id, str(order["id"]))
        assert node["pointsEarned"] == 199 and node["total"]["amount"] == "199.00"  # sums kept, anonymously
    connection = await shop.connection(store.connection_id)
    assert connection["status"] == "UNINSTALLED" and connection["eventsRefused"] == 1


async def _erased(shop, customer_id: str) -> bool:
    found = await shop.customer(customer_id)
    return bool(found) and found["email"] is None


async def test_redeliveries_are_recognised_by_webhook_and_event_ids(gql, http):
    store = await store_of_new_shop(gql, usd_rate=None)
    shop = store.shop
    order = shopify_order()
    delivery = str(uuid.uuid4())
    first = await store.deliver(http, "orders/create", order, webhook_id=delivery)
    assert first.json() == {"ok": "order PLACED"}
    again = await store.deliver(http, "orders/create", order, webhook_id=delivery)
    assert again.json() == {"ok": "already applied", "duplicate": True}

    event = str(uuid.uuid4())  # one event, two topics: each applies once
    paid = {**order, "financial_status": "paid"}
    assert (await store.deliver(http, "orders/updated", paid, event_id=event)).json() == {"ok": "order PAID"}
    assert (await store.deliver(http, "orders/paid", paid, event_id=event)).json() == {"ok": "order PAID"}
    replay = await store.deliver(http, "orders/paid", paid, event_id=event)  # a new delivery id, same event
    assert replay.json()["duplicate"] is True

    by_header = await store.deliver(http, "orders/fulfilled", {**paid, "fulfillment_status": "fulfilled"},
                                    in_path=False)  # POST /webhooks/shopify, the topic in X-Shopify-Topic
    assert by_header.json() == {"ok": "order SHIPPED"}
    mismatch = await store.deliver(http, "orders/paid", paid, header_topic="orders/cancelled")
    assert mismatch.status_code == 400
    outbox = await _events(shop.id, str(order["id"]))
    assert outbox == ["order.placed", "order.paid", "order.shipped"]
    assert (await shop.connection(store.connection_id))["eventsTaken"] == 4


async def _events(shop: str, order_id: str) -> list[str]:
    from tests.e2e.customers_support import customers_value

    return await customers_value(
        "SELECT array_agg(type ORDER BY seq) FROM outbox WHERE shop_id = $1 AND envelope->'data'->>'order_id' = $2",
        shop, order_id)


async def test_amounts_come_from_shop_money_not_the_buyers_currency(gql, http):
    store = await store_of_new_shop(gql, usd_rate=None)
    shop = store.shop
    order = shopify_order()
    for key in ("total_price_set", "subtotal_price_set", "total_line_items_price_set"):  # the buyer paid in CAD
        order[key]["presentment_money"] = {"amount": "270.64", "currency_code": "CAD"}
    order["presentment_currency"] = "CAD"
    order["line_items"][0]["price_set"]["presentment_money"] = {"amount": "270.64", "currency_code": "CAD"}
    assert (await store.deliver(http, "orders/create", order)).status_code == 200
    node = await shop.order(str(order["customer"]["id"]), str(order["id"]))
    assert node["total"] == {"amount": "199.00", "currency": "USD"}


async def test_bad_deliveries_are_refused_counted_and_change_nothing(gql, http):
    store = await store_of_new_shop(gql, usd_rate=None)
    shop = store.shop
    order = shopify_order()
    customer_id = str(order["customer"]["id"])
    assert (await store.deliver(http, "orders/create", order, secret="guessed")).status_code == 401
    unsigned = await http.post(store_url("orders/create"), content=json.dumps(order).encode(),
                               headers={"x-shopify-shop-domain": store.domain})
    assert unsigned.status_code == 401
    stranger = await http.post(store_url("orders/create"), content=b"{}", headers={
        "x-shopify-shop-domain": f"{unique('st')}.myshopify.com", "x-shopify-hmac-sha256": "AAAA"})
    assert stranger.status_code == 401  # an unknown store: nothing to count on
    assert (await store.deliver(http, "products/create", order)).status_code == 400
    assert (await store.deliver(http, "orders/create", None, body=b"[1, 2")).status_code == 400
    no_customer = {**order, "customer": None}
    assert (await store.deliver(http, "orders/create", no_customer)).status_code == 422
    no_total = {k: v for k, v in order.items() if k not in ("total_price", "total_price_set")}
    assert (await store.deliver(http, "orders/create", no_total)).status_code == 422
    no_request_id = {**fixture("shopify/customers_data_request.json"), "data_request": {}}
    assert (await store.deliver(http, "customers/data_request", no_request_id)).status_code == 422
    assert await shop.customer(customer_id) is None
    connection = await shop.connection(store.connection_id)
    assert (connection["eventsTaken"], connection["eventsRefused"]) == (0, 7)

    assert (await gql.ok(DISCONNECT, {"id": store.connection_id}, shop.admin))["disconnectCommerce"]["status"] == \
        "DISCONNECTED"
    assert (await store.deliver(http, "orders/create", order)).status_code == 403
    redact = fixture("shopify/customers_redact.json")  # privacy requests are honoured even now
    assert (await store.deliver(http, "customers/redact", redact)).status_code == 200
    assert await shop.customer(customer_id) is None
    connection = await shop.connection(store.connection_id)
    assert (connection["status"], connection["eventsTaken"], connection["eventsRefused"]) == (
        "DISCONNECTED", 1, 8)


def store_url(topic: str) -> str:
    from tests.e2e.platforms_support import webhook_url

    return webhook_url(f"/webhooks/shopify/{topic}")
