"""GraphQL of the checkout: a cart, checkCode (ingest or customer; no side effect), redeemCode and
releaseCode (ingest), checkoutBenefits (customer)."""

from __future__ import annotations

from enum import Enum

import strawberry
from strawberry.types import Info

from services.points.loyalty.schema.program import Tier
from services.points.offers import checkout, discounts
from services.points.offers.schema import Offer
from shared.errors import Forbidden
from shared.graphql import Money, ctx
from shared.ids import external_id


@strawberry.input
class OrderLineInput:
    product_id: strawberry.ID
    quantity: int
    unit_price: str


@strawberry.input(description="A checkout's cart; amounts are decimal strings in `currency`.")
class CartInput:
    currency: str
    subtotal: str = strawberry.field(description="The goods, after the cart's other discounts.")
    customer_id: strawberry.ID | None = strawberry.field(
        default=None, description="Who checks out (ingest); a customer token checks for itself.")
    shipping_total: str | None = None
    lines: list[OrderLineInput] | None = None


def _cart(c: CartInput) -> discounts.Cart:
    lines = None if c.lines is None else [(str(x.product_id), x.quantity, x.unit_price) for x in c.lines]
    return discounts.cart(currency=c.currency, subtotal=c.subtotal, shipping_total=c.shipping_total,
                          customer_id=c.customer_id, lines=lines)


@strawberry.enum
class CodeRejection(Enum):
    UNKNOWN = "UNKNOWN"
    USED = "USED"
    EXPIRED = "EXPIRED"
    NOT_STARTED = "NOT_STARTED"
    MIN_ORDER = "MIN_ORDER"
    WRONG_CUSTOMER = "WRONG_CUSTOMER"
    WRONG_CURRENCY = "WRONG_CURRENCY"
    REVOKED = "REVOKED"


@strawberry.type
class CodeCheck:
    valid: bool
    reason: CodeRejection | None = strawberry.field(description="Why not, when not valid.")
    offer: Offer | None
    discount: Money | None = strawberry.field(description="What the offer takes off this cart, exactly.")
    free_shipping: bool

    @classmethod
    def of(cls, r: checkout.Checked, currency: str) -> CodeCheck:
        return cls(valid=r.valid, reason=CodeRejection(r.reason) if r.reason else None,
                   offer=Offer.of(r.offer) if r.offer is not None else None,
                   discount=Money.of(r.discount, currency) if r.discount is not None else None,
                   free_shipping=r.free_shipping)


@strawberry.type
class CheckoutBenefits:
    free_shipping: bool = strawberry.field(description="The tier perk: this customer ships for free.")
    tier: Tier | None
    offers: list[Offer] = strawberry.field(description="The customer's offers that apply to this cart now.")


async def check_code(info: Info, code: str, cart: CartInput) -> CodeCheck:
    c = ctx(info)
    if c.principal.kind != "customer":
        c.principal.require_ingest()
    parsed = _cart(cart)
    customer_id = parsed.customer_id
    if c.principal.kind == "customer":  # a customer checks for themselves
        if customer_id is not None and customer_id != c.principal.customer_id:
            raise Forbidden("a customer checks codes for their own cart")
        customer_id = c.principal.customer_id
    return CodeCheck.of(await checkout.check(c.pool, c.shop, code, parsed, customer_id), parsed.currency)


async def redeem_code(info: Info, code: str, order_id: strawberry.ID, cart: CartInput) -> CodeCheck:
    c = ctx(info)
    c.principal.require_ingest()
    parsed = _cart(cart)
    answer = await checkout.redeem(c.pool, c.shop, code, external_id(order_id, "orderId"), parsed)
    return CodeCheck.of(answer, parsed.currency)


async def release_code(info: Info, code: str, order_id: strawberry.ID) -> Offer:
    c = ctx(info)
    c.principal.require_ingest()
    return Offer.of(await checkout.release(c.pool, c.shop, code, external_id(order_id, "orderId")))


async def checkout_benefits(info: Info, cart: CartInput) -> CheckoutBenefits:
    c = ctx(info)
    customer_id = c.principal.require_customer()
    parsed = _cart(cart)
    if parsed.customer_id is not None and parsed.customer_id != customer_id:
        raise Forbidden("a customer sees the benefits of their own cart")
    b = await checkout.benefits(c.pool, c.shop, customer_id, parsed)
    return CheckoutBenefits(free_shipping=b.free_shipping, tier=Tier.of(b.tier, b.currency),
                            offers=[Offer.of(r) for r in b.offers])
