"""Local fakes of Shopify's Admin GraphQL API and Shopware 6's Admin API, on loopback, started by the
tests (the customers service reaches them through SHOPIFY_ADMIN_API_URL and the Shopware shops'
shopUrl). They keep what was created, so a test can look, and they refuse what the real APIs refuse.

No npm or PyPI package ships Shopify's Admin GraphQL schema (checked: @shopify/admin-api-client,
@shopify/api-codegen-preset, @shopify/app only carry clients and codegen presets that download it
from Shopify). So SHOPIFY_SDL below is a minimal SDL written from the documented inputs and payloads
of the operations Flywheel sends (shopify.dev, Admin GraphQL API 2025-01: discountCodeBasicCreate,
DiscountCodeBasicInput, discountCodeFreeShippingCreate, DiscountCodeFreeShippingInput,
discountCodeActivate, discountCodeDeactivate, codeDiscountNodeByCode, webhookSubscriptionCreate,
WebhookSubscriptionInput, WebhookSubscriptionTopic), and every request is parsed, validated and
executed against it with graphql-core: an unknown field, a wrong type or a missing argument is a
GraphQL error, as Shopify would answer.
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import pytest
from graphql import GraphQLSchema, build_schema, graphql_sync

SHOPIFY_SDL = """
scalar DateTime
scalar Decimal
scalar URL

enum DiscountErrorCode { BLANK INVALID TAKEN TOO_LONG GREATER_THAN INTERNAL_ERROR }
type DiscountUserError { field: [String!]  code: DiscountErrorCode  message: String! }
type UserError { field: [String!]  message: String! }

input DiscountCustomersInput { add: [ID!]  remove: [ID!] }
input DiscountCustomerSelectionInput { all: Boolean  customers: DiscountCustomersInput }
input DiscountAmountInput { amount: Decimal  appliesOnEachItem: Boolean }
input DiscountCustomerGetsValueInput { percentage: Float  discountAmount: DiscountAmountInput }
input DiscountItemsInput { all: Boolean }
input DiscountCustomerGetsInput { value: DiscountCustomerGetsValueInput  items: DiscountItemsInput
  appliesOnOneTimePurchase: Boolean  appliesOnSubscription: Boolean }
input DiscountMinimumSubtotalInput { greaterThanOrEqualToSubtotal: Decimal }
input DiscountMinimumRequirementInput { subtotal: DiscountMinimumSubtotalInput }
input DiscountCombinesWithInput { orderDiscounts: Boolean  productDiscounts: Boolean  shippingDiscounts: Boolean }
input DiscountShippingDestinationSelectionInput { all: Boolean }

input DiscountCodeBasicInput { title: String  code: String  startsAt: DateTime  endsAt: DateTime  usageLimit: Int
  appliesOncePerCustomer: Boolean  customerSelection: DiscountCustomerSelectionInput
  customerGets: DiscountCustomerGetsInput  minimumRequirement: DiscountMinimumRequirementInput
  combinesWith: DiscountCombinesWithInput }
input DiscountCodeFreeShippingInput { title: String  code: String  startsAt: DateTime  endsAt: DateTime
  usageLimit: Int  appliesOncePerCustomer: Boolean  customerSelection: DiscountCustomerSelectionInput
  destination: DiscountShippingDestinationSelectionInput  minimumRequirement: DiscountMinimumRequirementInput
  maximumShippingPrice: Decimal  combinesWith: DiscountCombinesWithInput
  appliesOnOneTimePurchase: Boolean  appliesOnSubscription: Boolean }

type DiscountCodeNode { id: ID! }
type DiscountCodeBasicCreatePayload { codeDiscountNode: DiscountCodeNode  userErrors: [DiscountUserError!]! }
type DiscountCodeFreeShippingCreatePayload { codeDiscountNode: DiscountCodeNode  userErrors: [DiscountUserError!]! }
type DiscountCodeActivatePayload { codeDiscountNode: DiscountCodeNode  userErrors: [DiscountUserError!]! }
type DiscountCodeDeactivatePayload { codeDiscountNode: DiscountCodeNode  userErrors: [DiscountUserError!]! }

enum WebhookSubscriptionTopic { APP_UNINSTALLED CUSTOMERS_CREATE CUSTOMERS_UPDATE CUSTOMERS_DELETE
  FULFILLMENTS_CREATE FULFILLMENTS_UPDATE ORDERS_CANCELLED ORDERS_CREATE ORDERS_FULFILLED ORDERS_PAID
  ORDERS_UPDATED REFUNDS_CREATE PRODUCTS_CREATE }
enum WebhookSubscriptionFormat { JSON XML }
input WebhookSubscriptionInput { callbackUrl: URL  format: WebhookSubscriptionFormat  includeFields: [String!]
  metafieldNamespaces: [String!] }
type WebhookSubscription { id: ID!  topic: WebhookSubscriptionTopic! }
type WebhookSubscriptionCreatePayload { webhookSubscription: WebhookSubscription  userErrors: [UserError!]! }

type Query { codeDiscountNodeByCode(code: String!): DiscountCodeNode }
type Mutation {
  discountCodeBasicCreate(basicCodeDiscount: DiscountCodeBasicInput!): DiscountCodeBasicCreatePayload
  discountCodeFreeShippingCreate(freeShippingCodeDiscount: DiscountCodeFreeShippingInput!):
    DiscountCodeFreeShippingCreatePayload
  discountCodeActivate(id: ID!): DiscountCodeActivatePayload
  discountCodeDeactivate(id: ID!): DiscountCodeDeactivatePayload
  webhookSubscriptionCreate(topic: WebhookSubscriptionTopic!, webhookSubscription: WebhookSubscriptionInput!):
    WebhookSubscriptionCreatePayload
}
"""
SCHEMA: GraphQLSchema = build_schema(SHOPIFY_SDL)
_SHOPIFY_PATH = re.compile(r"^/shopify/(?P<domain>[^/]+)/admin/api/(?P<version>[^/]+)/graphql\.json$")
_SHOPWARE_PATH = re.compile(r"^/shopware/(?P<shop>[^/]+)(?P<rest>/api/.*)$")


@dataclass
class Discount:
    id: str
    kind: str  # basic | free_shipping
    input: dict[str, Any]
    active: bool = True


@dataclass
class ShopifyStore:
    token: str
    discounts: dict[str, Discount] = field(default_factory=dict)  # by code
    subscriptions: dict[str, str] = field(default_factory=dict)  # topic → callbackUrl
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # (field, arguments)
    errors: list[str] = field(default_factory=list)  # requests the schema refused
    fail: list[int] = field(default_factory=list)  # HTTP statuses to answer to the next requests


@dataclass
class ShopwareShop:
    client_id: str
    client_secret: str
    customers: dict[str, dict[str, Any]] = field(default_factory=dict)
    promotions: dict[str, dict[str, Any]] = field(default_factory=dict)  # by id, as upserted
    tokens: set[str] = field(default_factory=set)
    requests: list[tuple[str, str]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    fail: list[int] = field(default_factory=list)


class PlatformFake:
    def __init__(self, port: int) -> None:
        self.port = port
        self.lock = threading.Lock()
        self.shopify: dict[str, ShopifyStore] = {}
        self.shopware: dict[str, ShopwareShop] = {}
        self.server = ThreadingHTTPServer(("127.0.0.1", port), _handler(self))
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> PlatformFake:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def shopware_url(self, shop_id: str) -> str:
        return f"http://127.0.0.1:{self.port}/shopware/{shop_id}"

    def add_shopify(self, domain: str, token: str) -> ShopifyStore:
        with self.lock:
            self.shopify[domain] = ShopifyStore(token)
            return self.shopify[domain]

    def add_shopware(self, shop_id: str, client_id: str, client_secret: str) -> ShopwareShop:
        with self.lock:
            self.shopware[shop_id] = ShopwareShop(client_id, client_secret)
            return self.shopware[shop_id]

    # ---- Shopify Admin GraphQL ----------------------------------------------------------------

    def shopify_call(self, domain: str, token: str | None, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        store = self.shopify.get(domain)
        if store is None or token != store.token:
            return 401, {"errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"}
        if store.fail:
            return store.fail.pop(0), {"errors": "injected failure"}
        result = graphql_sync(SCHEMA, body.get("query", ""), root_value=_ShopifyRoot(self, store),
                              variable_values=body.get("variables") or {})
        if result.errors:
            store.errors.extend(e.message for e in result.errors)
            return 200, {"errors": [{"message": e.message} for e in result.errors]}
        return 200, {"data": result.data}

    # ---- Shopware Admin API -------------------------------------------------------------------

    def shopware_call(self, shop_id: str, method: str, path: str, auth: str | None,
                      body: Any) -> tuple[int, Any]:
        shop = self.shopware.get(shop_id)
        if shop is None:
            return 404, {"errors": [{"detail": "no such shop"}]}
        shop.requests.append((method, path))
        if path == "/api/oauth/token" and method == "POST":
            if not isinstance(body, dict) or body.get("grant_type") != "client_credentials" or \
                    body.get("client_id") != shop.client_id or body.get("client_secret") != shop.client_secret:
                return 401, {"errors": [{"code": "9", "title": "Unauthorized"}]}
            token = uuid.uuid4().hex
            shop.tokens.add(token)
            return 200, {"token_type": "Bearer", "expires_in": 600, "access_token": token}
        if not auth or auth.removeprefix("Bearer ") not in shop.tokens:
            return 401, {"errors": [{"code": "9", "title": "Unauthorized"}]}
        if shop.fail:
            return shop.fail.pop(0), {"errors": [{"detail": "injected failure"}]}
        if path.startswith("/api/customer/") and method == "GET":
            customer = shop.customers.get(path.rsplit("/", 1)[1])
            return (200, {"data": customer}) if customer else (404, {"errors": [{"detail": "not found"}]})
        if path == "/api/_action/sync" and method == "POST":
            problem = _shopware_sync_problem(body)
            if problem:
                shop.errors.append(problem)
                return 400, {"errors": [{"detail": problem}]}
            for op in body:
                for data in op["payload"]:
                    shop.promotions.setdefault(data["id"], {}).update(data)
            return 200, {"success": True}
        return 404, {"errors": [{"detail": f"no route {method} {path}"}]}


class _ShopifyRoot:
    """Resolvers of the fake: graphql-core calls them with the coerced arguments."""

    def __init__(self, fake: PlatformFake, store: ShopifyStore) -> None:
        self.fake, self.store = fake, store

    def _create(self, kind: str, data: dict[str, Any], field_name: str) -> dict[str, Any]:
        self.store.calls.append((field_name, data))
        code = data.get("code")
        if not code or not data.get("title") or not data.get("startsAt"):
            return {"codeDiscountNode": None, "userErrors": [
                {"field": ["basicCodeDiscount"], "code": "BLANK", "message": "code, title and startsAt are required"}]}
        with self.fake.lock:
            if code in self.store.discounts:
                return {"codeDiscountNode": None, "userErrors": [
                    {"field": ["basicCodeDiscount", "code"], "code": "TAKEN", "message": "Code must be unique."}]}
            node = Discount(f"gid://shopify/DiscountCodeNode/{uuid.uuid4().int % 10**12}", kind, data)
            self.store.discounts[code] = node
        return {"codeDiscountNode": {"id": node.id}, "userErrors": []}

    def discountCodeBasicCreate(self, info: Any, basicCodeDiscount: dict[str, Any]) -> dict[str, Any]:  # noqa: N802, N803
        return self._create("basic", basicCodeDiscount, "discountCodeBasicCreate")

    def discountCodeFreeShippingCreate(self, info: Any, freeShippingCodeDiscount: dict[str, Any]) -> dict[str, Any]:  # noqa: N802, N803
        return self._create("free_shipping", freeShippingCodeDiscount, "discountCodeFreeShippingCreate")

    def _switch(self, node_id: str, active: bool, field_name: str) -> dict[str, Any]:
        self.store.calls.append((field_name, {"id": node_id}))
        for d in self.store.discounts.values():
            if d.id == node_id:
                d.active = active
                return {"codeDiscountNode": {"id": d.id}, "userErrors": []}
        return {"codeDiscountNode": None, "userErrors": [{"field": ["id"], "code": "INVALID",
                                                          "message": "Discount does not exist"}]}

    def discountCodeActivate(self, info: Any, id: str) -> dict[str, Any]:  # noqa: N802
        return self._switch(id, True, "discountCodeActivate")

    def discountCodeDeactivate(self, info: Any, id: str) -> dict[str, Any]:  # noqa: N802
        return self._switch(id, False, "discountCodeDeactivate")

    def codeDiscountNodeByCode(self, info: Any, code: str) -> dict[str, Any] | None:  # noqa: N802
        found = self.store.discounts.get(code)
        return {"id": found.id} if found else None

    def webhookSubscriptionCreate(self, info: Any, topic: str, webhookSubscription: dict[str, Any]) -> dict[str, Any]:  # noqa: N802, N803
        self.store.calls.append(("webhookSubscriptionCreate", {"topic": topic, **webhookSubscription}))
        if topic in self.store.subscriptions:
            return {"webhookSubscription": None, "userErrors": [{
                "field": ["webhookSubscription", "callbackUrl"],
                "message": "Address for this topic has already been taken"}]}
        self.store.subscriptions[topic] = webhookSubscription["callbackUrl"]
        node = f"gid://shopify/WebhookSubscription/{len(self.store.subscriptions)}"
        return {"webhookSubscription": {"id": node, "topic": topic}, "userErrors": []}


_PROMOTION_REQUIRED = ("id", "name", "active", "useCodes", "useIndividualCodes", "individualCodes", "discounts")


def _shopware_sync_problem(body: Any) -> str | None:
    """What Shopware's sync API would refuse in Flywheel's promotion writes (its documented shape:
    a list of operations {action, entity, payload[]}; a new promotion with codes and discounts)."""
    if not isinstance(body, list) or not body:
        return "the sync body is a list of operations"
    for op in body:
        if not isinstance(op, dict) or op.get("action") != "upsert" or op.get("entity") != "promotion" \
                or not isinstance(op.get("payload"), list):
            return "each operation is {action: upsert, entity: promotion, payload: [...]}"
        for data in op["payload"]:
            if not isinstance(data, dict) or not re.fullmatch(r"[0-9a-f]{32}", str(data.get("id", ""))):
                return "each promotion has a 32-hex id"
            if len(data) > 2:  # a whole promotion, not a switch of `active`
                missing = [k for k in _PROMOTION_REQUIRED if k not in data]
                if missing:
                    return f"a promotion needs {', '.join(missing)}"
                for d in data["discounts"]:
                    if d.get("scope") not in ("cart", "delivery") or d.get("type") not in ("percentage", "absolute") \
                            or not isinstance(d.get("value"), int | float):
                        return "a discount has scope cart|delivery, type percentage|absolute and a value"
                if not all(isinstance(c.get("code"), str) and c["code"] for c in data["individualCodes"]):
                    return "an individual code has a code"
            elif not isinstance(data.get("active"), bool):
                return "a switch names active"
    return None


def _handler(fake: PlatformFake) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            return

        def _answer(self, status: int, body: Any) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _body(self) -> Any:
            length = int(self.headers.get("content-length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                return json.loads(raw) if raw else None
            except ValueError:
                return None

        def _route(self, method: str) -> None:
            path = urlsplit(self.path).path
            body = self._body() if method in ("POST", "PATCH") else None
            if m := _SHOPIFY_PATH.match(path):
                if method != "POST" or not isinstance(body, dict):
                    return self._answer(400, {"errors": "POST a JSON body"})
                status, answer = fake.shopify_call(m["domain"], self.headers.get("x-shopify-access-token"), body)
                return self._answer(status, answer)
            if m := _SHOPWARE_PATH.match(path):
                status, answer = fake.shopware_call(m["shop"], method, m["rest"], self.headers.get("authorization"),
                                                    body)
                return self._answer(status, answer)
            return self._answer(404, {"errors": "unknown path"})

        def do_GET(self) -> None:  # noqa: N802
            self._route("GET")

        def do_POST(self) -> None:  # noqa: N802
            self._route("POST")

        def do_PATCH(self) -> None:  # noqa: N802
            self._route("PATCH")

    return Handler


def fake_port() -> int:
    import os

    url = os.environ.get("SHOPIFY_ADMIN_API_URL", "")
    port = urlsplit(url.replace("{domain}", "d").replace("{version}", "v")).port
    if not port:
        raise RuntimeError("SHOPIFY_ADMIN_API_URL must point at the local fake (see .env.example)")
    return port


@pytest.fixture(scope="module")
def platform_fake() -> Iterator[PlatformFake]:
    fake = PlatformFake(fake_port()).start()
    try:
        yield fake
    finally:
        fake.stop()
