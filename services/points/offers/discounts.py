"""The cart a checkout sends, and the discount an offer gives on it. Pure: no I/O.

Exact money only (Decimal, the currency's minor unit, shared/money.py). A percentage is taken of the
subtotal (after the cart's other discounts) and rounded half up to the minor unit; a fixed amount,
store credit or a free product's value is at most the subtotal; free shipping takes the shipping
total. A discount is therefore never more than the cart.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from shared.errors import BadUserInput
from shared.ids import external_id
from shared.money import currency_code, minor_unit, parse_amount

MAX_LINES = 500
MAX_QUANTITY = 100_000


@dataclass(frozen=True)
class Line:
    product_id: str
    quantity: int
    unit_price: Decimal


@dataclass(frozen=True)
class Cart:
    currency: str
    subtotal: Decimal  # goods after the cart's other discounts
    shipping: Decimal
    customer_id: str | None = None
    lines: tuple[Line, ...] = ()


def cart(*, currency: str, subtotal: str, shipping_total: str | None, customer_id: str | None,
         lines: list[tuple[str, int, str]] | None) -> Cart:
    """A cart as the checkout sends it, validated: BAD_USER_INPUT for anything a cart cannot be
    (a negative, absurd or over-precise amount, an unknown currency format, too many lines)."""
    code = currency_code(currency)
    amount = parse_amount(subtotal, "cart.subtotal", code)
    shipping = parse_amount(shipping_total, "cart.shippingTotal", code, default=Decimal(0))
    parsed: list[Line] = []
    if lines is not None:
        if len(lines) > MAX_LINES:
            raise BadUserInput(f"a cart has at most {MAX_LINES} lines", field="cart.lines")
        for i, (product_id, quantity, unit_price) in enumerate(lines):
            if not 0 < quantity <= MAX_QUANTITY:
                raise BadUserInput(f"cart.lines[{i}].quantity must be between 1 and {MAX_QUANTITY}",
                                   field="cart.lines")
            parsed.append(Line(external_id(product_id, f"cart.lines[{i}].productId"), quantity,
                               parse_amount(unit_price, f"cart.lines[{i}].unitPrice", code)))
    who = external_id(customer_id, "cart.customerId") if customer_id is not None else None
    return Cart(currency=code, subtotal=amount, shipping=shipping, customer_id=who, lines=tuple(parsed))


def _minor(amount: Decimal, currency: str) -> Decimal:
    return amount.quantize(Decimal(1).scaleb(-minor_unit(currency)), rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Discount:
    amount: Decimal
    free_shipping: bool


def discount(kind: str, value: Decimal | None, c: Cart) -> Discount:
    """What an offer of `kind` and `value` takes off cart `c` (its terms are checked elsewhere)."""
    if kind == "FREE_SHIPPING":
        return Discount(_minor(c.shipping, c.currency), True)
    if kind == "PERCENTAGE":
        share = min(max(value or Decimal(0), Decimal(0)), Decimal(100))
        return Discount(min(_minor(c.subtotal * share / 100, c.currency), c.subtotal), False)
    # FIXED_AMOUNT, STORE_CREDIT, FREE_PRODUCT (its value: the product's price, when the offer names one)
    return Discount(_minor(min(max(value or Decimal(0), Decimal(0)), c.subtotal), c.currency), False)
