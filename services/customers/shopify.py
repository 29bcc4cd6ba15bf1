"""Shopify's webhooks read as our own commands (pure: no I/O).

Shopify signs the raw body: X-Shopify-Hmac-Sha256 = base64(HMAC-SHA256(secret, body)), and names
the store in X-Shopify-Shop-Domain. Stores are connections (platforms/), connected by the admin
(connectShopifyStore) or, for development, bootstrapped from
  SHOPIFY_WEBHOOKS="store-a.myshopify.com=shop-a:secret-a,store-b.myshopify.com=shop-b:secret-b"

Money: every amount is read from the shop-currency `shop_money` of its `*_set` field (the plain
field, also in the shop currency, when a payload has no set). `presentment_money` is what the buyer
saw in their own currency; Shopify documents the shop money as the store's books, and that is what
earns at the merchant's exchange rate (points service). A refund's transactions are in the
presentment currency: when they are in another currency than the shop's, the refund counts at its
shop-money value (refunded lines with their tax, less the order adjustments).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from services.customers import orders, profiles
from shared.errors import BadUserInput
from shared.money import currency_code, parse_amount

# A dev default like the other local credentials (JWT_SECRET, API keys); set it in production.
DEV_WEBHOOKS = "flywheel-dev.myshopify.com=shopify-dev:dev-shopify-webhook-secret"
ORDER_TOPICS = ("orders/create", "orders/updated", "orders/paid", "orders/cancelled", "orders/fulfilled")
FULFILLMENT_TOPICS = ("fulfillments/create", "fulfillments/update")
CUSTOMER_TOPICS = ("customers/create", "customers/update", "customers/delete")
# The mandatory compliance webhooks: configured in the app's settings, never subscribed by API.
PRIVACY_TOPICS = ("customers/data_request", "customers/redact", "shop/redact")
TOPICS = (*ORDER_TOPICS, *FULFILLMENT_TOPICS, "refunds/create", *CUSTOMER_TOPICS, "app/uninstalled",
          *PRIVACY_TOPICS)
SUBSCRIBED = tuple(t for t in TOPICS if t not in PRIVACY_TOPICS)  # registered on connect


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


def signed(secret: str, body: bytes, header: str | None) -> bool:
    return bool(header) and hmac.compare_digest(signature(secret.encode(), body).encode(),
                                                (header or "").strip().encode())


def delivery_keys(topic: str, webhook_id: str | None, event_id: str | None) -> list[str]:
    """What tells a redelivery: the delivery's id, and the event's id per topic (one event fans out
    to several topics, each of which must be applied once)."""
    keys = []
    if webhook_id and webhook_id.strip():
        keys.append(f"webhook:{webhook_id.strip()[:200]}")
    if event_id and event_id.strip():
        keys.append(f"event:{event_id.strip()[:200]}:{topic}")
    return keys


def _id(value: Any, field: str) -> str:
    if isinstance(value, bool) or not isinstance(value, int | str) or str(value).strip() == "":
        raise BadUserInput(f"{field} is missing", field=field)
    return str(value)


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _number(value: Any) -> str | None:
    return str(value) if isinstance(value, str | int | float) and not isinstance(value, bool) else None


def _shop_money(money_set: Any, key: str = "amount") -> str | None:
    """`shop_money.<key>` of a Shopify money set (`{"shop_money": …, "presentment_money": …}`)."""
    money = money_set.get("shop_money") if isinstance(money_set, dict) else None
    return _number(money.get(key)) if isinstance(money, dict) else None


def _money(payload: dict[str, Any], field: str) -> str | None:
    """The shop-currency amount of `field`: `<field>_set.shop_money.amount`, else `<field>`."""
    return _shop_money(payload.get(f"{field}_set")) or _number(payload.get(field))


def shop_currency(payload: dict[str, Any]) -> str:
    code = _shop_money(payload.get("total_price_set"), "currency_code")
    return currency_code(code or str(payload.get("currency")))


def _consent(payload: dict[str, Any], key: str, legacy: str) -> bool | None:
    """True/False from the consent object (or the legacy flag); None when the payload says nothing."""
    consent = payload.get(key)
    if isinstance(consent, dict) and isinstance(consent.get("state"), str):
        return bool(consent["state"] == "subscribed")
    if isinstance(payload.get(legacy), bool):
        return bool(payload[legacy])
    return None


def _locale(value: Any) -> str | None:
    """A locale we write in (de, en), or None: a shop's other languages keep the stored one."""
    if not isinstance(value, str):
        return None
    try:
        return profiles.normalise_locale(value)
    except BadUserInput:
        return None


@dataclass(frozen=True)
class PlatformProfile:
    profile: profiles.Profile
    sent: frozenset[str]  # the profile fields the payload carried; the others keep what is stored


def platform_profile(payload: dict[str, Any]) -> PlatformProfile:
    """customers/create, customers/update, or the customer object inside an order."""
    email_consent = _consent(payload, "email_marketing_consent", "accepts_marketing")
    sms_consent = _consent(payload, "sms_marketing_consent", "accepts_sms_marketing")
    locale = _locale(payload.get("locale"))
    p = profiles.profile(
        id=_id(payload.get("id"), "customer.id"),
        email=_str(payload.get("email")) or "",
        first_name=_str(payload.get("first_name")),
        last_name=_str(payload.get("last_name")),
        locale=locale,
        phone=_str(payload.get("phone")),
        accepts_email=email_consent,
        accepts_sms=sms_consent,
    )
    sent = {"email"}
    sent.update(k for k in ("first_name", "last_name", "phone") if k in payload)
    if locale is not None:
        sent.add("locale")
    if email_consent is not None:
        sent.add("accepts_email")
    if sms_consent is not None:
        sent.add("accepts_sms")
    return PlatformProfile(p, frozenset(sent))


def customer_profile(payload: dict[str, Any]) -> profiles.Profile:
    return platform_profile(payload).profile


def _shipping(payload: dict[str, Any]) -> str | None:
    amount = _shop_money(payload.get("total_shipping_price_set"))
    if amount is not None:
        return amount
    lines = payload.get("shipping_lines") or []
    if lines:
        total = Decimal(0)
        for line in lines:
            if isinstance(line, dict):
                value = _money(line, "price") or "0"
                try:
                    total += Decimal(value)
                except InvalidOperation as exc:
                    raise BadUserInput("shipping_lines[].price must be a decimal", field="shipping_lines") from exc
        return str(total)
    return None


def order_customer(payload: dict[str, Any]) -> dict[str, Any]:
    customer = payload.get("customer")
    if not isinstance(customer, dict) or customer.get("id") is None:
        raise BadUserInput("the order has no customer (guest checkouts are not mirrored)", field="customer")
    if not customer.get("email") and isinstance(payload.get("email"), str):
        customer = {**customer, "email": payload["email"]}
    return customer


def order_id(payload: dict[str, Any]) -> str:
    return _id(payload.get("id"), "id")


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
        lines.append((_id(product, f"line_items[{i}].product_id"), quantity, str(_money(item, "price"))))
    codes = [c.get("code") for c in payload.get("discount_codes") or [] if isinstance(c, dict)]
    return orders.new_order(
        id=order_id(payload), customer_id=_id(customer.get("id"), "customer.id"),
        currency=shop_currency(payload), lines=lines,
        discount_total=_money(payload, "total_discounts"), shipping_total=_shipping(payload),
        tax_total=_money(payload, "total_tax"), total=str(_money(payload, "total_price")), placed_at=placed_at,
        discount_codes=[c for c in codes if isinstance(c, str)],
    )


def financially_paid(payload: dict[str, Any]) -> bool:
    return payload.get("financial_status") in ("paid", "partially_refunded", "refunded")


def cancelled(payload: dict[str, Any]) -> bool:
    return bool(payload.get("cancelled_at"))


def fulfilled(payload: dict[str, Any]) -> bool:
    return payload.get("fulfillment_status") == "fulfilled"


@dataclass(frozen=True)
class Refund:
    id: str
    order_id: str
    amount: Decimal


def _set_amount(obj: Any, field: str, currency: str) -> Decimal:
    """A signed shop-money amount of `<field>_set` (order adjustments are negative)."""
    if not isinstance(obj, dict):
        return Decimal(0)
    value = _money(obj, field)
    if value is None:
        return Decimal(0)
    negative = value.strip().startswith("-")
    amount = parse_amount(value.strip().lstrip("-"), field, currency)
    return -amount if negative else amount


def refund(payload: dict[str, Any], currency: str) -> Refund:
    """refunds/create (or one of an order's `refunds`): the money returned, in the shop currency."""
    currency = currency_code(currency)
    refunds = [t for t in payload.get("transactions") or []
               if isinstance(t, dict) and t.get("kind") == "refund" and t.get("status") in ("success", None)]
    if all(t.get("currency") in (None, currency) for t in refunds):
        amount = sum((parse_amount(str(t.get("amount")), f"transactions[{i}].amount", currency)
                      for i, t in enumerate(refunds)), Decimal(0))
    else:  # paid back in the buyer's currency: the refund's own shop-money value
        amount = sum((_set_amount(li, "subtotal", currency) + _set_amount(li, "total_tax", currency)
                      for li in payload.get("refund_line_items") or []), Decimal(0))
        amount -= sum((_set_amount(adj, "amount", currency) + _set_amount(adj, "tax_amount", currency)
                       for adj in payload.get("order_adjustments") or []), Decimal(0))
        if amount < 0:
            raise BadUserInput("the refund's shop-money amounts add up to less than nothing", field="transactions")
    return Refund(id=_id(payload.get("id"), "id"), order_id=_id(payload.get("order_id"), "order_id"), amount=amount)


def order_refunds(payload: dict[str, Any]) -> list[dict[str, Any]]:
    """The refunds an order payload carries (orders/updated), each with the order's id."""
    found = payload.get("refunds") or []
    return [{"order_id": payload.get("id"), **r} for r in found if isinstance(r, dict)]


@dataclass(frozen=True)
class Fulfillment:
    order_id: str
    delivered: bool
    at: datetime | None


def fulfillment(payload: dict[str, Any]) -> Fulfillment:
    """fulfillments/create and fulfillments/update: shipped, and delivered once the carrier says so."""
    at: datetime | None = None
    stamp = _str(payload.get("updated_at")) or _str(payload.get("created_at"))
    if stamp:
        try:
            at = datetime.fromisoformat(stamp)
        except ValueError as exc:
            raise BadUserInput("updated_at must be an ISO-8601 time", field="updated_at") from exc
    return Fulfillment(order_id=_id(payload.get("order_id"), "order_id"),
                       delivered=payload.get("shipment_status") == "delivered", at=at)


def fulfillment_counts(payload: dict[str, Any]) -> bool:
    """A cancelled or failed fulfillment ships nothing."""
    return payload.get("status") not in ("cancelled", "error", "failure")


@dataclass(frozen=True)
class PrivacyRequest:
    customer_id: str | None
    orders: tuple[str, ...]
    request_id: str | None


def privacy_request(payload: dict[str, Any], topic: str) -> PrivacyRequest:
    """customers/data_request, customers/redact, shop/redact (no customer)."""
    if topic == "shop/redact":
        return PrivacyRequest(None, (), None)
    customer = payload.get("customer")
    if not isinstance(customer, dict):
        raise BadUserInput("customer is missing", field="customer")
    listed = payload.get("orders_requested" if topic == "customers/data_request" else "orders_to_redact") or []
    request_id = None
    if topic == "customers/data_request":
        request = payload.get("data_request")
        request_id = _id(request.get("id") if isinstance(request, dict) else None, "data_request.id")
    return PrivacyRequest(_id(customer.get("id"), "customer.id"),
                          tuple(str(o) for o in listed if isinstance(o, int | str) and not isinstance(o, bool)),
                          request_id)


def deleted_customer(payload: dict[str, Any]) -> str:
    return _id(payload.get("id"), "id")
