"""Shopware 6 app-system requests read as our own commands (pure: no I/O).

Signatures (Shopware's app base guide): the registration request signs its query string with the
app secret (`shopware-app-signature`, hex HMAC-SHA256); everything after it (the confirmation, every
webhook) signs the raw body with the shop secret the app handed the shop at registration
(`shopware-shop-signature`). The registration answer proves the app knows the app secret:
proof = HMAC-SHA256(shopId + shopUrl + appName, appSecret).

Webhooks: {"data": {"event": …, "payload": …}, "source": {"url", "shopId", "appVersion", "eventId"},
"timestamp"}. Order events carry the order entity ({"order": {…}}) with its associations; entity
events (customer.written, customer.deleted) carry only ids, so a written customer is read back
through the Admin API. Amounts are exact: bodies are parsed with Decimal, never float.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any
from urllib.parse import parse_qs

from services.customers import orders, profiles
from services.customers.platforms.connections import shop_url
from services.customers.shopify import PlatformProfile
from shared.errors import BadUserInput
from shared.money import currency_code, minor_unit

ORDER_PLACED = "checkout.order.placed"
PAID = "state_enter.order_transaction.state.paid"
REFUNDED = "state_enter.order_transaction.state.refunded"
REFUNDED_PARTIALLY = "state_enter.order_transaction.state.refunded_partially"
CANCELLED = "state_enter.order_transaction.state.cancelled"
SHIPPED = "state_enter.order_delivery.state.shipped"
# Shopware's delivery states stop at shipped (open, shipped, returned, cancelled): the order's own
# state `completed` is what says the goods arrived.
DELIVERED = "state_enter.order.state.completed"
CUSTOMER_WRITTEN = "customer.written"
CUSTOMER_DELETED = ("customer.deleted", "checkout.customer.deleted")
APP_DELETED = "app.deleted"  # the app was removed from the shop: like Shopify's app/uninstalled
ORDER_EVENTS = (ORDER_PLACED, PAID, REFUNDED, REFUNDED_PARTIALLY, CANCELLED, SHIPPED, DELIVERED)
EVENTS = (*ORDER_EVENTS, CUSTOMER_WRITTEN, *CUSTOMER_DELETED, APP_DELETED)
MAX_SKEW_SECONDS = 600  # a registration more than 10 minutes off our clock is refused
MAX_WEBHOOK_AGE_SECONDS = 86_400  # Shopware retries a failed webhook within hours, not days


def hex_signature(secret: str, data: bytes) -> str:
    return hmac.new(secret.encode(), data, hashlib.sha256).hexdigest()


def signed(secret: str | None, data: bytes, header: str | None) -> bool:
    if not secret or not header:
        return False
    return hmac.compare_digest(hex_signature(secret, data), header.strip().lower())


def proof(shop_id: str, url: str, app_name: str, app_secret: str) -> str:
    return hex_signature(app_secret, f"{shop_id}{url}{app_name}".encode())


def parse(body: bytes) -> Any:
    return json.loads(body, parse_float=Decimal)


@dataclass(frozen=True)
class Registration:
    shop_id: str
    shop_url: str
    timestamp: int


def registration(query: str) -> Registration:
    params = parse_qs(query, keep_blank_values=True)

    def one(name: str) -> str:
        values = params.get(name) or []
        if len(values) != 1 or not values[0]:
            raise BadUserInput(f"{name} is missing", field=name)
        return values[0]
    try:
        timestamp = int(one("timestamp"))
    except ValueError as exc:
        raise BadUserInput("timestamp must be a Unix time", field="timestamp") from exc
    return Registration(one("shop-id"), shop_url(one("shop-url"), "shop-url"), timestamp)


def fresh(timestamp: int, now: datetime, last: int | None) -> bool:
    """A registration is taken once: newer than the last one taken, and close to our clock."""
    return abs(now.timestamp() - timestamp) <= MAX_SKEW_SECONDS and (last is None or timestamp > last)


@dataclass(frozen=True)
class Confirmation:
    shop_id: str
    api_key: str
    secret_key: str


def confirmation(data: Any) -> Confirmation:
    if not isinstance(data, dict):
        raise BadUserInput("the confirmation must be a JSON object", field="body")
    values = {k: data.get(k) for k in ("shopId", "apiKey", "secretKey")}
    for k, v in values.items():
        if not isinstance(v, str) or not v or len(v) > 512:
            raise BadUserInput(f"{k} is missing", field=k)
    return Confirmation(str(values["shopId"]), str(values["apiKey"]), str(values["secretKey"]))


@dataclass(frozen=True)
class Delivery:
    event: str
    payload: Any
    shop_id: str
    event_id: str | None
    timestamp: int | None


def delivery(data: Any) -> Delivery:
    if not isinstance(data, dict) or not isinstance(data.get("data"), dict) or not isinstance(data.get("source"), dict):
        raise BadUserInput("a Shopware webhook has data and source", field="body")
    event, source = data["data"].get("event"), data["source"]
    if not isinstance(event, str) or not event:
        raise BadUserInput("data.event is missing", field="data.event")
    shop_id = source.get("shopId")
    if not isinstance(shop_id, str) or not shop_id:
        raise BadUserInput("source.shopId is missing", field="source.shopId")
    event_id = source.get("eventId")
    stamp = data.get("timestamp")
    return Delivery(event, data["data"].get("payload"), shop_id, event_id if isinstance(event_id, str) else None,
                    int(stamp) if isinstance(stamp, int | Decimal) and not isinstance(stamp, bool) else None)


def recent(timestamp: int | None, now: datetime) -> bool:
    return timestamp is None or now.timestamp() - timestamp <= MAX_WEBHOOK_AGE_SECONDS


def delivery_keys(d: Delivery) -> list[str]:
    return [f"event:{d.event_id.strip()[:200]}"] if d.event_id and d.event_id.strip() else []


# ---- orders ------------------------------------------------------------------------------


def _obj(value: Any, field: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise BadUserInput(f"{field} is missing", field=field)
    return value


def _text(value: Any, field: str) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > 200:
        raise BadUserInput(f"{field} is missing", field=field)
    return value


def _amount(value: Any, field: str, currency: str) -> Decimal:
    """Shopware's amounts, rounded to the currency's minor unit (its taxes carry more decimals)."""
    if isinstance(value, bool) or not isinstance(value, int | Decimal | str):
        raise BadUserInput(f"{field} is missing", field=field)
    try:
        amount = Decimal(str(value))
    except InvalidOperation as exc:
        raise BadUserInput(f"{field} must be a number", field=field) from exc
    if not amount.is_finite():
        raise BadUserInput(f"{field} must be a number", field=field)
    return amount.quantize(Decimal(1).scaleb(-minor_unit(currency)), rounding=ROUND_HALF_UP)


def order_of(payload: Any) -> dict[str, Any]:
    return _obj(_obj(payload, "payload").get("order"), "payload.order")


def order_id(order: dict[str, Any]) -> str:
    return _text(order.get("id"), "order.id")


def order_currency(order: dict[str, Any]) -> str:
    iso = _obj(order.get("currency"), "order.currency").get("isoCode")
    return currency_code(iso if isinstance(iso, str) else "")


def _taxes(price: Any, field: str, currency: str) -> Decimal:
    taxes = price.get("calculatedTaxes") if isinstance(price, dict) else None
    return sum((_amount(t.get("tax"), f"{field}.calculatedTaxes[].tax", currency)
                for t in taxes or [] if isinstance(t, dict)), Decimal(0))


def new_order(order: dict[str, Any]) -> orders.NewOrder:
    currency = order_currency(order)
    customer = _obj(order.get("orderCustomer"), "order.orderCustomer")
    try:
        placed_at = datetime.fromisoformat(_text(order.get("orderDateTime"), "order.orderDateTime"))
    except ValueError as exc:
        raise BadUserInput("orderDateTime must be an ISO-8601 time", field="orderDateTime") from exc
    total = _amount(order.get("amountTotal"), "order.amountTotal", currency)
    shipping = order.get("shippingCosts")
    shipping_gross = _amount(order.get("shippingTotal", 0), "order.shippingTotal", currency)
    shipping_net = shipping_gross - _taxes(shipping, "order.shippingCosts", currency)
    lines, discount, codes = [], Decimal(0), []
    for i, item in enumerate(order.get("lineItems") or []):
        if not isinstance(item, dict):
            raise BadUserInput(f"lineItems[{i}] is not an object", field="lineItems")
        if item.get("type") == "promotion":
            discount -= _amount(item.get("totalPrice"), f"lineItems[{i}].totalPrice", currency)
            code = (item.get("payload") or {}).get("code") if isinstance(item.get("payload"), dict) else None
            if isinstance(code, str) and code:
                codes.append(code)
            continue
        if item.get("type") not in (None, "product") or not item.get("good", True):
            continue
        quantity = item.get("quantity")
        if isinstance(quantity, bool) or not isinstance(quantity, int):
            raise BadUserInput(f"lineItems[{i}].quantity must be an integer", field="quantity")
        product = item.get("productId") or item.get("referencedId") or item.get("identifier")
        lines.append((_text(product, f"lineItems[{i}].productId"), quantity,
                      str(_amount(item.get("unitPrice"), f"lineItems[{i}].unitPrice", currency))))
    return orders.new_order(
        id=order_id(order), customer_id=_text(customer.get("customerId"), "orderCustomer.customerId"),
        currency=currency, lines=lines, discount_total=str(max(discount, Decimal(0))),
        shipping_total=str(max(shipping_net, Decimal(0))), tax_total=str(_taxes(order.get("price"), "order.price",
                                                                                   currency)),
        total=str(total), placed_at=placed_at, discount_codes=codes,
    )


def order_customer(order: dict[str, Any]) -> PlatformProfile:
    """The orderCustomer copy of the profile: name and email at the time of the order."""
    c = _obj(order.get("orderCustomer"), "order.orderCustomer")
    p = profiles.profile(id=_text(c.get("customerId"), "orderCustomer.customerId"), email=c.get("email") or "",
                         first_name=c.get("firstName"), last_name=c.get("lastName"))
    return PlatformProfile(p, frozenset({"email", "first_name", "last_name"}))


def refunded_so_far(order: dict[str, Any], currency: str) -> Decimal:
    """The sum of the order's refunds (transactions → captures → refunds) that did not fail."""
    found, total = False, Decimal(0)
    for t in order.get("transactions") or []:
        for capture in (t.get("captures") or []) if isinstance(t, dict) else []:
            for r in (capture.get("refunds") or []) if isinstance(capture, dict) else []:
                if not isinstance(r, dict):
                    continue
                state = (r.get("stateMachineState") or {}).get("technicalName")
                if state in ("failed", "cancelled"):
                    continue
                found = True
                total += _amount((r.get("amount") or {}).get("totalPrice"), "refunds[].amount.totalPrice", currency)
    if not found:
        raise BadUserInput("the order carries no refunds (transactions.captures.refunds)", field="transactions")
    return total


# ---- customers ---------------------------------------------------------------------------


def entity_ids(payload: Any, entity: str) -> list[str]:
    """The primary keys an entity event names (customer.written, customer.deleted)."""
    if not isinstance(payload, list):
        raise BadUserInput("payload must be a list of written entities", field="payload")
    ids = [p.get("primaryKey") for p in payload if isinstance(p, dict) and p.get("entity", entity) == entity]
    keys = [k for k in ids if isinstance(k, str) and k]
    if not keys:
        raise BadUserInput("payload names no entity", field="payload")
    return keys


def customer_profile(entity: dict[str, Any]) -> PlatformProfile:
    """A customer as the Admin API answers it (GET /api/customer/{id})."""
    sent = {"email", "first_name", "last_name"}
    birthday: date | None = None
    if isinstance(entity.get("birthday"), str):
        try:
            birthday = date.fromisoformat(entity["birthday"][:10])
            sent.add("birthday")
        except ValueError:
            birthday = None
    consent = entity.get("newsletter")
    if isinstance(consent, bool):
        sent.add("accepts_email")
    p = profiles.profile(id=_text(entity.get("id"), "customer.id"), email=entity.get("email") or "",
                         first_name=entity.get("firstName"), last_name=entity.get("lastName"), birthday=birthday,
                         accepts_email=consent if isinstance(consent, bool) else None)
    return PlatformProfile(p, frozenset(sent))
