"""Helpers of the commerce-platform end-to-end tests: a fresh shop with a connected Shopify store or
Shopware shop, signed deliveries of the real payloads in tests/fixtures, and the reads that check
their effects through the gateway."""

from __future__ import annotations

import copy
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from services.customers import shopify, shopware
from tests.e2e import points_support
from tests.stack import GraphQL, codes, port, unique
from tests.support import eventually

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
CONNECTIONS = """{ commerceConnections { id platform domain shopUrl status registered adminAccess lastEventAt
  eventsTaken eventsRefused eventsFailed offersPushed pushFailures lastError } }"""
CONNECT_SHOPIFY = """mutation($input: ShopifyStoreInput!) { connectShopifyStore(input: $input) {
  id platform domain status adminAccess eventsTaken eventsRefused } }"""
CONNECT_SHOPWARE = """mutation($input: ShopwareShopInput!) { connectShopwareShop(input: $input) {
  id platform domain shopUrl status registered adminAccess } }"""
DISCONNECT = """mutation($id: ID!) { disconnectCommerce(id: $id) { id status } }"""
PREFERENCES = """query($id: ID!) { customer(id: $id) { notificationPreferences { email sms } } }"""
CUSTOMER = """query($id: ID!) { customer(id: $id) { id email firstName lastName locale birthday
  orders { edges { node { id status total { amount currency } refunded { amount }
    pointsEarned pointsStatus pointsNote } } } } }"""
CONFIGURE = """mutation($input: ProgramInput!) { configureProgram(input: $input) { currency baseCurrency
  exchangeRates { currency rate date } } }"""
HISTORY = """query($id: ID!) { customer(id: $id) { pointsHistory { edges { node { delta kind reason
  orderCurrency exchangeRate exchangeRateDate } } } } }"""


def fixture(path: str) -> Any:
    return json.loads((FIXTURES / path).read_text())


def big_id() -> int:
    """A Shopify-like numeric id of its own (tests must not collide)."""
    return uuid.uuid4().int % 10**15


def recent(hours: float = 1) -> str:
    return (datetime.now(UTC) - timedelta(hours=hours)).isoformat()


def webhook_url(path: str) -> str:
    return f"http://127.0.0.1:{port('customers')}{path}"


@dataclass
class Shop(points_support.Shop):
    """A shop of its own and its admin, with what the platform tests read."""

    async def connections(self) -> list[dict]:
        return (await self.gql.ok(CONNECTIONS, {}, self.admin))["commerceConnections"]

    async def connection(self, connection_id: str) -> dict:
        return next(c for c in await self.connections() if c["id"] == connection_id)

    async def customer(self, customer_id: str) -> dict | None:
        return (await self.gql.ok(CUSTOMER, {"id": customer_id}, self.admin))["customer"]

    async def preferences(self, customer_id: str) -> dict | None:
        body = await self.gql(PREFERENCES, {"id": customer_id}, self.admin)
        return None if body.get("errors") else body["data"]["customer"]["notificationPreferences"]

    async def order(self, customer_id: str, order_id: str) -> dict | None:
        found = await self.customer(customer_id)
        nodes = [e["node"] for e in (found or {}).get("orders", {}).get("edges", [])]
        return next((n for n in nodes if n["id"] == order_id), None)

    async def until_order(self, customer_id: str, order_id: str, what: str, **expected: Any) -> dict:
        async def probe() -> dict | None:
            node = await self.order(customer_id, order_id)
            return node if node and all(node[k] == v for k, v in expected.items()) else None
        return await eventually(probe, what=f"order {order_id} {what}: {expected}")

    async def set_rates(self, **program: Any) -> dict:
        return (await self.gql.ok(CONFIGURE, {"input": program}, self.admin))["configureProgram"]

    async def history(self, customer_id: str) -> list[dict]:
        data = await self.gql.ok(HISTORY, {"id": customer_id}, self.admin)
        return [e["node"] for e in data["customer"]["pointsHistory"]["edges"]]


def new_shop(gql: GraphQL) -> Shop:
    return Shop(gql, unique("shop"))


@dataclass
class ShopifyStore:
    shop: Shop
    domain: str
    secret: str
    connection_id: str

    async def deliver(self, http: httpx.AsyncClient, topic: str, payload: Any, *, secret: str | None = None,
                      webhook_id: str | None = None, event_id: str | None = None, in_path: bool = True,
                      header_topic: str | None = None, body: bytes | None = None) -> httpx.Response:
        raw = body if body is not None else json.dumps(payload).encode()
        headers = {"content-type": "application/json", "x-shopify-shop-domain": self.domain,
                   "x-shopify-topic": header_topic or topic,
                   "x-shopify-hmac-sha256": shopify.signature((secret or self.secret).encode(), raw),
                   "x-shopify-webhook-id": webhook_id or str(uuid.uuid4())}
        if event_id:
            headers["x-shopify-event-id"] = event_id
        path = f"/webhooks/shopify/{topic}" if in_path else "/webhooks/shopify"
        return await http.post(webhook_url(path), content=raw, headers=headers)


async def store_of_new_shop(gql: GraphQL, *, usd_rate: str | None = "1") -> ShopifyStore:
    """A fresh shop with a connected store; the fixtures' USD earns at `usd_rate` (None: no rate)."""
    shop = new_shop(gql)
    if usd_rate is not None:
        await shop.set_rates(exchangeRates=[{"currency": "USD", "rate": usd_rate}])
    return await connect_shopify(gql, shop)


def new_domain() -> str:
    return f"{unique('st')}.myshopify.com"


async def connect_shopify(gql: GraphQL, shop: Shop, *, token: str | None = None,
                          domain: str | None = None) -> ShopifyStore:
    domain = domain or new_domain()
    secret = f"whsec-{uuid.uuid4().hex}"
    data = await gql.ok(CONNECT_SHOPIFY, {"input": {"domain": domain, "webhookSecret": secret,
                                                    "adminAccessToken": token}}, shop.admin)
    return ShopifyStore(shop, domain, secret, data["connectShopifyStore"]["id"])


def shopify_order(customer_id: int | None = None, **over: Any) -> dict:
    """The real order of tests/fixtures/shopify/order.json under fresh ids."""
    order = copy.deepcopy(fixture("shopify/order.json"))
    order["id"] = big_id()
    order["customer"]["id"] = customer_id or big_id()
    order["customer"]["email"] = f"c{order['customer']['id']}@example.com"
    order["email"] = order["customer"]["email"]
    order["created_at"] = recent(2)
    order.update(over)
    return order


@dataclass
class ShopwareShop:
    shop: Shop
    shop_id: str
    app_secret: str
    connection_id: str
    shop_secret: str | None = None

    async def register(self, http: httpx.AsyncClient, shop_url: str, *, timestamp: int | None = None,
                       secret: str | None = None) -> httpx.Response:
        query = (f"shop-id={self.shop_id}&shop-url={shop_url}"
                 f"&timestamp={timestamp or int(datetime.now(UTC).timestamp())}")
        return await http.get(webhook_url(f"/webhooks/shopware/register?{query}"), headers={
            "shopware-app-signature": shopware.hex_signature(secret or self.app_secret, query.encode())})

    async def confirm(self, http: httpx.AsyncClient, body: dict, secret: str) -> httpx.Response:
        raw = json.dumps(body).encode()
        return await http.post(webhook_url("/webhooks/shopware/confirm"), content=raw, headers={
            "content-type": "application/json", "shopware-shop-signature": shopware.hex_signature(secret, raw)})

    async def deliver(self, http: httpx.AsyncClient, event: str, payload: Any, *, event_id: str | None = None,
                      secret: str | None = None, timestamp: int | None = None) -> httpx.Response:
        envelope = fixture("shopware/webhook_entity_written.json")
        envelope["data"] = {"payload": payload, "event": event}
        envelope["source"]["shopId"] = self.shop_id
        envelope["source"]["eventId"] = event_id or uuid.uuid4().hex
        envelope["timestamp"] = timestamp or int(datetime.now(UTC).timestamp())
        raw = json.dumps(envelope).encode()
        return await http.post(webhook_url("/webhooks/shopware"), content=raw, headers={
            "content-type": "application/json",
            "shopware-shop-signature": shopware.hex_signature(secret or self.shop_secret or "", raw)})


def refused(body: dict, code: str) -> bool:
    return code in codes(body)
