"""The checkout's use cases: check a code against a cart (no side effect), redeem it for an order
(once per order, exactly one winner for a single-use code), release it, and what a signed-in
customer's checkout gets (checkoutBenefits). Orders recorded with discount codes redeem them by
themselves (order.placed), and a cancelled or fully refunded order gives them back while they have
not expired, unless the program says otherwise (`restoreCodesOnCancel`).

A redemption locks the offer row (FOR UPDATE), so concurrent checkouts of one code count their uses
one after the other: with a single-use code exactly one of them wins, the others hear USED.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

import asyncpg

from services.points import SOURCE
from services.points.loyalty import accounts, configuration, posting
from services.points.loyalty import store as loyalty_store
from services.points.loyalty.program import Tier
from services.points.offers import checks, codes, discounts, store
from services.points.offers.issuing import facts
from shared import events, outbox
from shared.db import Connection, Executor, transaction
from shared.errors import BadUserInput, Conflict, NotFound

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Checked:
    """CodeCheck: valid, or the reason; the offer (hidden when it is another customer's); the discount."""
    valid: bool
    reason: str | None
    offer: asyncpg.Record | None
    discount: Decimal | None = None
    free_shipping: bool = False


UNKNOWN = Checked(False, "UNKNOWN", None)


def _terms(row: asyncpg.Record) -> checks.Terms:
    return checks.Terms(status=row["status"], customer_id=row["customer_id"], usage_limit=row["usage_limit"],
                        used_count=row["used_count"], starts_at=row["starts_at"], expires_at=row["expires_at"],
                        currency=row["currency"], min_order=row["min_order"])


def judge(row: asyncpg.Record, cart: discounts.Cart, customer_id: str | None, now: datetime,
          cap: Decimal | None = None) -> Checked:
    """Whether the offer applies to the cart, and the discount it gives (at most `cap`)."""
    reason = checks.refusal(_terms(row), cart, customer_id, now)
    if reason is not None:
        return Checked(False, reason, None if reason == "WRONG_CUSTOMER" else row)
    d = discounts.discount(row["kind"], row["value"], cart)
    return Checked(True, None, row, d.amount if cap is None else min(d.amount, cap), d.free_shipping)


async def check(conn: Executor, shop: str, code: str, cart: discounts.Cart, customer_id: str | None) -> Checked:
    """checkCode: no side effect. Another shop's code is UNKNOWN here."""
    row = await store.by_code(conn, shop, codes.key(code))
    return UNKNOWN if row is None else judge(row, cart, customer_id, datetime.now(UTC))


async def redeem(pool: asyncpg.Pool, shop: str, code: str, order_id: str, cart: discounts.Cart) -> Checked:
    """redeemCode: the checkout names the customer in the cart."""
    key = codes.key(code)
    async with transaction(pool) as conn:
        return await redeem_for_order(conn, shop, key, order_id, cart, cart.customer_id)


async def redeem_for_order(conn: Connection, shop: str, code_key: str, order_id: str, cart: discounts.Cart,
                           customer_id: str | None, cap: Decimal | None = None) -> Checked:
    """Use the offer of `code_key` for the order, inside the caller's transaction. The same order again
    answers what it got the first time; announces offer.redeemed."""
    row = await store.lock_by_code(conn, shop, code_key)
    if row is None:
        return UNKNOWN
    mine = await store.use(conn, shop, row["id"], order_id)
    if mine is not None and mine["released_at"] is None:
        return Checked(True, None, await store.by_id(conn, shop, row["id"]), mine["discount"], mine["free_shipping"])
    answer = judge(row, cart, customer_id, datetime.now(UTC), cap)
    if not answer.valid:
        return answer
    await store.add_use(conn, shop, row["id"], order_id, discount=answer.discount, free_shipping=answer.free_shipping,
                        currency=cart.currency, subtotal=cart.subtotal)
    after = await store.count_use(conn, shop, row["id"], 1)
    exhausted = after["used_count"] >= after["usage_limit"]
    if after["redemption_id"] is not None and exhausted:
        await store.mark_redemption(conn, shop, after["redemption_id"], True)
    await outbox.add(conn, events.OfferRedeemed(**facts(after), order_id=order_id, discount=answer.discount or 0,
                                                exhausted=exhausted), source=SOURCE)
    return Checked(True, None, after, answer.discount, answer.free_shipping)


async def _give_back(conn: Connection, shop: str, row: asyncpg.Record, order_id: str, reason: str) -> bool:
    """Release the order's use of the locked offer `row`; announces offer.released. False: no use."""
    if not await store.release_use(conn, shop, row["id"], order_id, reason):
        return False
    after = await store.count_use(conn, shop, row["id"], -1)
    if after["redemption_id"] is not None:
        await store.mark_redemption(conn, shop, after["redemption_id"], False)
    usable = after["status"] == "ACTIVE" and not checks.is_expired(after["expires_at"], datetime.now(UTC))
    await outbox.add(conn, events.OfferReleased(**facts(after), order_id=order_id, reason=reason, usable=usable),
                     source=SOURCE)
    return True


async def release(pool: asyncpg.Pool, shop: str, code: str, order_id: str) -> asyncpg.Record:
    """releaseCode: the checkout was abandoned or the order cancelled before payment. Releasing again
    answers the offer as it is; a paid order gives its codes back by its cancellation or refund."""
    key = codes.key(code)
    async with transaction(pool) as conn:
        row = await store.lock_by_code(conn, shop, key)
        mine = None if row is None else await store.use(conn, shop, row["id"], order_id)
        if row is None or mine is None:
            raise NotFound("this code was not redeemed by this order", field="code")
        paid = await loyalty_store.orders.order_points(conn, shop, order_id)
        if mine["released_at"] is None and paid is not None and not paid["voided"]:
            raise Conflict("the order is paid: cancel or refund it to give the code back")
        await _give_back(conn, shop, row, order_id, "released")
        found = await store.by_id(conn, shop, row["id"])
        if found is None:
            raise LookupError(f"offer {row['id']} vanished inside its own transaction")
        return found


def order_cart(data: events.OrderPlaced) -> discounts.Cart:
    """The cart an order had: its goods before discounts (the lines; else the net amount) and shipping."""
    goods = sum((line.unit_price * line.quantity for line in data.lines), Decimal(0)) or data.net_amount
    return discounts.Cart(currency=data.currency, subtotal=goods, shipping=data.shipping_total or Decimal(0),
                          customer_id=data.customer_id)


async def order_placed(conn: Connection, data: events.OrderPlaced) -> None:
    """An order recorded with discount codes uses those that are offers, as redeemCode would for it
    (the same (code, order) again changes nothing); the discount is at most the order's own discount
    total. Codes that are not offers (the platform's own) are left alone. The customer's account is
    locked before the offers (the service's lock order), as the order's payment and cancellation do."""
    keys: set[str] = set()
    for code in data.discount_codes:
        try:
            keys.add(codes.key(code))
        except BadUserInput:
            continue
    if not keys:
        return
    await posting.hold(conn, data.shop, data.customer_id)
    cart = order_cart(data)
    for key in sorted(keys):  # the lock order of offers
        answer = await redeem_for_order(conn, data.shop, key, data.order_id, cart, data.customer_id,
                                        cap=data.discount_total)
        if not answer.valid and answer.reason != "UNKNOWN":
            log.info("order %s carries offer code %s… that does not apply: %s", data.order_id, key[:6],
                     answer.reason)


async def order_voided(conn: Connection, shop: str, order_id: str, customer_id: str, reason: str) -> None:
    """A cancelled or fully refunded order gives back the codes it used, those not expired or revoked,
    when the program restores codes on cancellation (the default).

    Lock order: the customer's account first (held already by the takeback in the same transaction),
    then the offers in the order of their codes. The program is only read here, never seeded: a shop
    with offers has its program, and seeding it (an insert that waits for another transaction seeding
    it) after the account lock deadlocks with a payment, which seeds before it locks the account."""
    await posting.hold(conn, shop, customer_id)
    prog = await configuration.in_force(conn, shop)
    if not prog.offers.restore_codes_on_cancel:
        return
    now = datetime.now(UTC)
    for u in await store.standing_uses_of_order(conn, shop, order_id):
        row = await store.lock(conn, shop, u["id"])
        if row["status"] != "REVOKED" and not checks.is_expired(row["expires_at"], now):
            await _give_back(conn, shop, row, order_id, reason)


@dataclass(frozen=True)
class Benefits:
    free_shipping: bool
    tier: Tier
    currency: str
    offers: list[asyncpg.Record]


async def benefits(pool: asyncpg.Pool, shop: str, customer_id: str, cart: discounts.Cart) -> Benefits:
    """checkoutBenefits: the tier perk (free shipping for the tiers the program names) and the
    customer's offers that apply to this cart now."""
    prog = await configuration.in_force(pool, shop)
    tier = await accounts.current_tier(pool, shop, customer_id)
    now = datetime.now(UTC)
    usable = [r for r in await store.of_customer(pool, shop, customer_id, "ACTIVE", now)
              if judge(r, cart, customer_id, now).valid]
    return Benefits(tier.name in prog.offers.free_shipping_tiers, tier, prog.currency, usable)


async def consume_reward_code(conn: Connection, shop: str, code_key: str) -> tuple[str | None, str | None]:
    """validateRewardCode (superseded by checkCode/redeemCode): consume a redemption's code without a
    cart, once. Answers (the reason it is refused, or None; the redemption id, None for UNKNOWN)."""
    row = await store.lock_by_code(conn, shop, code_key)
    if row is None or row["redemption_id"] is None:
        return "UNKNOWN", None
    now = datetime.now(UTC)
    reason = ("REVOKED" if row["status"] == "REVOKED" else "USED" if row["used_count"] >= row["usage_limit"]
              else "EXPIRED" if checks.is_expired(row["expires_at"], now) else None)
    if reason is None:
        cart = discounts.Cart(currency=row["currency"], subtotal=Decimal(0), shipping=Decimal(0))
        answer = await redeem_for_order(conn, shop, code_key, f"validateRewardCode:{row['used_count'] + 1}", cart,
                                        row["customer_id"])
        reason = answer.reason
    return reason, row["redemption_id"]
