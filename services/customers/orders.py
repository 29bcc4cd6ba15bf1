"""Orders as the commerce platform reports them, and the transitions they may take."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from shared.errors import BadUserInput, Conflict
from shared.ids import external_id
from shared.money import currency_code, parse_amount

STATUSES = ("PLACED", "PAID", "SHIPPED", "DELIVERED", "CANCELLED", "REFUNDED")
# Where an order may go next. Fulfilment may skip SHIPPED (digital goods, pick-up).
TRANSITIONS: dict[str, frozenset[str]] = {
    "PLACED": frozenset({"PAID", "CANCELLED"}),
    "PAID": frozenset({"SHIPPED", "DELIVERED", "CANCELLED", "REFUNDED"}),
    "SHIPPED": frozenset({"DELIVERED", "REFUNDED"}),
    "DELIVERED": frozenset({"REFUNDED"}),
    "CANCELLED": frozenset(),
    "REFUNDED": frozenset(),
}
MAX_LINES = 500
MAX_QUANTITY = 100_000


@dataclass(frozen=True)
class Line:
    product_id: str
    quantity: int
    unit_price: Decimal


@dataclass(frozen=True)
class NewOrder:
    id: str
    customer_id: str
    currency: str
    lines: tuple[Line, ...]
    discount_total: Decimal
    shipping_total: Decimal
    tax_total: Decimal
    total: Decimal
    placed_at: datetime
    referral_code: str | None
    discount_codes: tuple[str, ...]
    shipping_address_hash: str | None
    payment_fingerprint: str | None
    device_id: str | None


def net_amount(total: Decimal, shipping: Decimal, tax: Decimal, refunded: Decimal = Decimal(0)) -> Decimal:
    """What the customer paid for goods: shipping and tax earn nothing, refunds are taken back."""
    return max(total - shipping - tax - refunded, Decimal(0))


def _short(value: str | None, field: str, limit: int = 200) -> str | None:
    if value is None:
        return None
    if len(value) > limit:
        raise BadUserInput(f"{field} is longer than {limit} characters", field=field)
    return value.strip() or None


def new_order(
    *, id: str, customer_id: str, currency: str, lines: list[tuple[str, int, str]],
    discount_total: str | None, shipping_total: str | None, tax_total: str | None, total: str,
    placed_at: datetime, referral_code: str | None = None, discount_codes: list[str] | None = None,
    shipping_address_hash: str | None = None, payment_fingerprint: str | None = None,
    device_id: str | None = None,
) -> NewOrder:
    currency = currency_code(currency)
    if not lines:
        raise BadUserInput("an order needs at least one line", field="lines")
    if len(lines) > MAX_LINES:
        raise BadUserInput(f"an order has at most {MAX_LINES} lines", field="lines")
    parsed: list[Line] = []
    for i, (product_id, quantity, unit_price) in enumerate(lines):
        if not 0 < quantity <= MAX_QUANTITY:
            raise BadUserInput(f"lines[{i}].quantity must be between 1 and {MAX_QUANTITY}", field="quantity")
        parsed.append(Line(external_id(product_id, f"lines[{i}].productId"), quantity,
                           parse_amount(unit_price, f"lines[{i}].unitPrice", currency)))
    zero = Decimal(0)
    shipping = parse_amount(shipping_total, "shippingTotal", currency, default=zero)
    tax = parse_amount(tax_total, "taxTotal", currency, default=zero)
    amount = parse_amount(total, "total", currency)
    if shipping + tax > amount:
        raise BadUserInput("shippingTotal + taxTotal exceed total", field="total")
    if placed_at.tzinfo is None:
        raise BadUserInput("placedAt needs a time zone offset", field="placedAt")
    codes = tuple(c for c in (_short(c, "discountCodes", 64) for c in (discount_codes or [])) if c)
    if len(codes) > 20:
        raise BadUserInput("at most 20 discount codes", field="discountCodes")
    return NewOrder(
        id=external_id(id, "id"),
        customer_id=external_id(customer_id, "customerId"),
        currency=currency,
        lines=tuple(parsed),
        discount_total=parse_amount(discount_total, "discountTotal", currency, default=zero),
        shipping_total=shipping,
        tax_total=tax,
        total=amount,
        placed_at=placed_at,
        referral_code=_short(referral_code, "referralCode", 64),
        discount_codes=codes,
        shipping_address_hash=_short(shipping_address_hash, "shippingAddressHash"),
        payment_fingerprint=_short(payment_fingerprint, "paymentFingerprint"),
        device_id=_short(device_id, "deviceId"),
    )


@dataclass(frozen=True)
class StatusChange:
    status: str  # the order's status after the change
    refunded_total: Decimal
    event: str | None  # the event type to publish, None when nothing changed


def check_status_time(at: datetime, placed_at: datetime, now: datetime) -> None:
    """When a status change happened, as the platform reports it: with an offset, not before the order
    was placed, at most 5 minutes ahead of our clock."""
    if at.tzinfo is None:
        raise BadUserInput("at needs a time-zone offset", field="at")
    if at < placed_at:
        raise BadUserInput("at is before the order was placed", field="at")
    if at > now + timedelta(minutes=5):
        raise BadUserInput("at is in the future", field="at")


def change_status(
    current: str, requested: str, *, total: Decimal, refunded_total: Decimal, refunded_amount: Decimal | None
) -> StatusChange:
    """Apply a status update. REFUNDED with `refunded_amount` below the total is a partial refund:
    the order keeps its status and its refunded total grows (the amount is cumulative, so a
    repeated update is harmless). Repeating the current status changes nothing."""
    if requested not in STATUSES:
        raise BadUserInput(f"unknown status {requested}", field="status")
    if requested != "REFUNDED" and refunded_amount is not None:
        raise BadUserInput("refundedAmount goes with status REFUNDED", field="refundedAmount")
    if requested == "REFUNDED":
        if current in ("PLACED", "CANCELLED"):
            raise Conflict(f"an order that is {current} cannot be refunded")
        amount = total if refunded_amount is None else refunded_amount
        if amount > total:
            raise BadUserInput("refundedAmount exceeds the order total", field="refundedAmount")
        if amount < refunded_total:
            raise Conflict("refundedAmount is cumulative and cannot go down")
        if amount == refunded_total:
            return StatusChange(current, refunded_total, None)
        status = "REFUNDED" if amount == total else current
        return StatusChange(status, amount, "order.refunded")
    if requested == current:
        return StatusChange(current, refunded_total, None)
    if requested not in TRANSITIONS[current]:
        raise Conflict(f"an order cannot go from {current} to {requested}")
    return StatusChange(requested, refunded_total, f"order.{requested.lower()}")
