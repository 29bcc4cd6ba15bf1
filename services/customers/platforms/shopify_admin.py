"""The Shopify adapter: Shopify's Admin GraphQL API (X-Shopify-Access-Token), for discount codes
(discountCodeBasicCreate, discountCodeFreeShippingCreate, discountCodeDeactivate,
discountCodeActivate, codeDiscountNodeByCode) and webhook subscriptions (webhookSubscriptionCreate).
The documents below are checked against Shopify's documented input shapes by the test fake
(tests/platform_fakes.py).

An offer becomes a code discount: a percentage or an amount off the order (store credit too), or free
shipping; with its usage limit, once per customer and only for that customer when it is bound
(customerSelection), a minimum subtotal, and endsAt at the expiry.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import httpx

from services.customers.platforms import settings
from services.customers.platforms.adapters import Code, PlatformError, Unsupported
from services.customers.platforms.connecting import Link

_ERRORS = "userErrors { field code message }"
BASIC_CREATE = f"""mutation FlywheelCodeCreate($input: DiscountCodeBasicInput!) {{
  discountCodeBasicCreate(basicCodeDiscount: $input) {{ codeDiscountNode {{ id }} {_ERRORS} }} }}"""
FREE_SHIPPING_CREATE = f"""mutation FlywheelFreeShippingCreate($input: DiscountCodeFreeShippingInput!) {{
  discountCodeFreeShippingCreate(freeShippingCodeDiscount: $input) {{ codeDiscountNode {{ id }} {_ERRORS} }} }}"""
DEACTIVATE = f"""mutation FlywheelCodeDeactivate($id: ID!) {{
  discountCodeDeactivate(id: $id) {{ codeDiscountNode {{ id }} {_ERRORS} }} }}"""
ACTIVATE = f"""mutation FlywheelCodeActivate($id: ID!) {{
  discountCodeActivate(id: $id) {{ codeDiscountNode {{ id }} {_ERRORS} }} }}"""
BY_CODE = """query FlywheelCodeByCode($code: String!) { codeDiscountNodeByCode(code: $code) { id } }"""
SUBSCRIBE = """mutation FlywheelSubscribe($topic: WebhookSubscriptionTopic!, $sub: WebhookSubscriptionInput!) {
  webhookSubscriptionCreate(topic: $topic, webhookSubscription: $sub) {
    webhookSubscription { id } userErrors { field message } } }"""


def topic_enum(topic: str) -> str:
    """orders/create → ORDERS_CREATE, as WebhookSubscriptionTopic spells it."""
    return topic.upper().replace("/", "_")


def _money(value: Decimal) -> str:
    return format(value.normalize(), "f")


def code_input(code: Code, now: datetime) -> tuple[str, str, dict[str, Any]]:
    """(document, field, input) that create the offer as a Shopify code discount."""
    common: dict[str, Any] = {
        "title": code.title, "code": code.code,
        "startsAt": (code.starts_at or now).isoformat(),
        "endsAt": code.expires_at.isoformat() if code.expires_at else None,
        "usageLimit": code.usage_limit,
        "appliesOncePerCustomer": code.customer_id is not None,
        "customerSelection": ({"customers": {"add": [f"gid://shopify/Customer/{code.customer_id}"]}}
                              if code.customer_id else {"all": True}),
    }
    if code.min_order:
        common["minimumRequirement"] = {"subtotal": {"greaterThanOrEqualToSubtotal": _money(code.min_order)}}
    if code.kind == "FREE_SHIPPING":
        return FREE_SHIPPING_CREATE, "discountCodeFreeShippingCreate", {**common, "destination": {"all": True}}
    if code.value is None or code.kind not in ("PERCENTAGE", "FIXED_AMOUNT", "STORE_CREDIT"):
        raise Unsupported(f"a {code.kind} offer has no Shopify code discount here")
    value: dict[str, Any] = (
        {"percentage": float(code.value / 100)} if code.kind == "PERCENTAGE"
        else {"discountAmount": {"amount": _money(code.value), "appliesOnEachItem": False}})
    return BASIC_CREATE, "discountCodeBasicCreate", {**common, "customerGets": {"value": value, "items": {"all": True}}}


class ShopifyAdmin:
    def __init__(self, link: Link) -> None:
        self.link = link
        self.url = settings.shopify_admin_url(link.domain, link.api_version or "2025-01")

    async def _call(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        token = self.link.secrets.get("admin_token")
        if not token:
            raise PlatformError("no Admin API access token", auth=True)
        try:
            async with httpx.AsyncClient(timeout=settings.TIMEOUT_SECONDS) as client:
                response = await client.post(self.url, json={"query": query, "variables": variables},
                                             headers={"X-Shopify-Access-Token": token})
        except httpx.HTTPError as exc:
            raise PlatformError(f"Shopify Admin API unreachable: {type(exc).__name__}") from exc
        if response.status_code in (401, 403):
            raise PlatformError(f"Shopify Admin API refused the token ({response.status_code})", auth=True)
        if response.status_code != 200:
            raise PlatformError(f"Shopify Admin API answered {response.status_code}")
        body = response.json()
        if body.get("errors"):
            raise PlatformError(f"Shopify Admin API: {body['errors'][0].get('message', body['errors'][0])}")
        data: dict[str, Any] = body.get("data") or {}
        return data

    async def create_code(self, code: Code, now: datetime) -> str:
        document, field, data = code_input(code, now)
        key = "freeShippingCodeDiscount" if field == "discountCodeFreeShippingCreate" else "basicCodeDiscount"
        result = (await self._call(document, {"input": data})).get(field) or {}
        errors = result.get("userErrors") or []
        if any(e.get("code") == "TAKEN" for e in errors):  # created before (a retried job): find it
            node = (await self._call(BY_CODE, {"code": code.code})).get("codeDiscountNodeByCode")
            if node and node.get("id"):
                return str(node["id"])
        if errors:
            raise PlatformError(f"Shopify refused the code ({key}): {errors[0].get('message')}")
        node = result.get("codeDiscountNode") or {}
        if not node.get("id"):
            raise PlatformError("Shopify answered no discount id")
        return str(node["id"])

    async def set_code_active(self, remote_id: str, code: Code, active: bool) -> None:
        field = "discountCodeActivate" if active else "discountCodeDeactivate"
        result = (await self._call(ACTIVATE if active else DEACTIVATE, {"id": remote_id})).get(field) or {}
        errors = result.get("userErrors") or []
        if errors:
            raise PlatformError(f"Shopify refused {field}: {errors[0].get('message')}")

    async def subscribe(self, topics: tuple[str, ...], callback_base: str) -> int:
        created = 0
        for topic in topics:
            result = (await self._call(SUBSCRIBE, {
                "topic": topic_enum(topic),
                "sub": {"callbackUrl": f"{callback_base}/webhooks/shopify/{topic}", "format": "JSON"},
            })).get("webhookSubscriptionCreate") or {}
            errors = result.get("userErrors") or []
            if errors and not all("taken" in str(e.get("message", "")).lower() for e in errors):
                raise PlatformError(f"Shopify refused the {topic} subscription: {errors[0].get('message')}")
            created += not errors
        return created
