"""Shopify's order and customer webhooks, read as our own commands (pure: no I/O).

Shopify signs the raw body: X-Shopify-Hmac-Sha256 = base64(HMAC-SHA256(secret, body)), and names
the store in X-Shopify-Shop-Domain. Each store maps to one of our shops with its own secret:
  SHOPIFY_WEBHOOKS="store-a.myshopify.com=shop-a:secret-a,store-b.myshopify.com=shop-b:secret-b"
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from services.customers import orders, profiles
from shared.errors import BadUserInput
from shared.money import currency_code, parse_amount

# A dev default like the other local credentials (JWT_SECRET, API keys); set it in production.
DEV_WEBHOOKS = "flywheel-dev.myshopify.com=shopify-dev:dev-shopify-webhook-secret"
TOPICS = ("customers/create", "orders/create", "orders/paid", "orders/fulfilled", "refunds/create")


@dataclass(frozen=True)
class Store:
    domain: str
    shop: str
    secret: bytes


def parse_stores(raw: str) -> dict[str, Store]:
    stores: dict[str, Store] = {}
    for item in filter(None, (part.strip() for part in raw.split(","))):
        domain, _, rest = item.partition("=")
        shop, _, secret = rest.partition(":")
        if not domain or not shop or not secret:
            raise ValueError("SHOPIFY_WEBHOOKS entries look like domain=shop:secret")
        stores[domain.strip().lower()] = Store(domain.strip().lower(), shop.strip(), secret.encode())
    return stores


def signature(secret: bytes, body: bytes) -> str:
    return base64.b64encode(hmac.new(secret, body, hashlib.sha256).digest()).decode()


def verified(store: Store | None, body: bytes, header: str | None) -> bool:
    if store is None or not header:
        return False
    return hmac.compare_digest(signature(store.secret, body).encode(), header.strip().encode())


def _id(value: Any, field: str) -> str:
    if isinstance(value, bool) or not isinstance(value, int | str) or str(value).strip() == "":
        raise BadUserInput(f"{field} is missing", field=field)
    return str(value)


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _consent(payload: dict[str, Any], key: str, legacy: str) -> bool:
    consent = payload.get(key)
    if isinstance(consent, dict):
        return consent.get("state") == "subscribed"
    return payload.get(legacy) is True


def customer_profile(payload: dict[str, Any]) -> profiles.Profile:
    """customers/create, or the customer object inside an order."""
    return profiles.profile(
        id=_id(payload.get("id"), "customer.id"),
        email=_str(payload.get("email")) or "",
        first_name=_str(payload.get("first_name")),
        last_name=_str(payload.get("last_name")),
        locale=_str(payload.get("locale")),
        phone=_str(payload.get("phone")),
        accepts_email=_consent(payload, "email_marketing_consent", "accepts_marketing"),
        accepts_sms=_consent(payload, "sms_marketing_consent", "accepts_sms_marketing"),
    )


def _shipping(payload: dict[str, Any]) -> str | None:
    money = (payload.get("total_shipping_price_set") or {}).get("shop_money") or {}
    amount = money.get("amount")
    if isinstance(amount, str):
        return amount
    lines = payload.get("shipping_lines") or []
    if lines:
        return str(sum(Decimal(str(line.get("price", "0"))) for line in lines if isinstance(line, dict)))
    return None


def order_customer(payload: dict[str, Any]) -> dict[str, Any]:
    customer = payload.get("customer")
    if not isinstance(customer, dict) or customer.get("id") is None:
        raise BadUserInput("the order has no customer (guest checkouts are not mirrored)", field="customer")
    if not customer.get("email") and isinstance(payload.get("email"), str):
        customer = {**customer, "email": payload["email"]}
    return customer


def new_order(payload: dict[str, Any]) -> orders.NewOrder:
    customer = order_customer(payload)
    created = _str(payload.get("created_at")) or ""
    try:
        placed_at = datetime.fromisoformat(created)
    except ValueError as exc:
        raise BadUserInput("created_at must be an ISO-8601 time", field="created_at") from exc
    lines = []
    for i, item in enumerate(payload.get("line_items") or []):
        if not isinstance(item, dict):
            raise BadUserInput(f"line_items[{i}] is not an object", field="line_items")
        product = item.get("product_id") or item.get("variant_id") or item.get("id")
        quantity = item.get("quantity")
        if isinstance(quantity, bool) or not isinstance(quantity, int):
            raise BadUserInput(f"line_items[{i}].quantity must be an integer", field="quantity")
        lines.append((_id(product, f"line_items[{i}].product_id"), quantity, str(item.get("price"))))
    codes = [c.get("code") for c in payload.get("discount_codes") or [] if isinstance(c, dict)]
    return orders.new_order(
        id=_id(payload.get("id"), "id"), customer_id=_id(customer.get("id"), "customer.id"),
        currency=str(payload.get("currency")), lines=lines,
        discount_total=_str(payload.get("total_discounts")), shipping_total=_shipping(payload),
        tax_total=_str(payload.get("total_tax")), total=str(payload.get("total_price")), placed_at=placed_at,
        discount_codes=[c for c in codes if isinstance(c, str)],
    )


def financially_paid(payload: dict[str, Any]) -> bool:
    return payload.get("financial_status") in ("paid", "partially_refunded", "refunded")


@dataclass(frozen=True)
class Refund:
    id: str
    order_id: str
    amount: Decimal


def refund(payload: dict[str, Any], currency: str) -> Refund:
    """refunds/create: the money actually returned is the sum of its successful refund transactions."""
    currency = currency_code(currency)
    amount = Decimal(0)
    for i, t in enumerate(payload.get("transactions") or []):
        if isinstance(t, dict) and t.get("kind") == "refund" and t.get("status") in ("success", None):
            amount += parse_amount(str(t.get("amount")), f"transactions[{i}].amount", currency)
    return Refund(id=_id(payload.get("id"), "id"), order_id=_id(payload.get("order_id"), "order_id"), amount=amount)
