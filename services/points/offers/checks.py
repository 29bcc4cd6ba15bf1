"""Why a code does not apply to a cart, in the order a checkout should hear it. Pure: no I/O.

The reasons are CONTRACT.md's CodeRejection: UNKNOWN (no such code in this shop), REVOKED,
WRONG_CUSTOMER (bound to another customer, or to one while the cart names none), USED (no use left),
EXPIRED, NOT_STARTED, WRONG_CURRENCY, MIN_ORDER (the subtotal after other discounts is below it).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from services.points.offers.discounts import Cart


@dataclass(frozen=True)
class Terms:
    """What decides whether an offer applies (a row of `offers`, as the rules need it)."""
    status: str  # ACTIVE REDEEMED REVOKED (EXPIRED is read from expires_at)
    customer_id: str | None
    usage_limit: int
    used_count: int
    starts_at: datetime
    expires_at: datetime | None
    currency: str
    min_order: Decimal | None


def is_expired(expires_at: datetime | None, now: datetime) -> bool:
    return expires_at is not None and expires_at <= now


def status(stored: str, expires_at: datetime | None, now: datetime) -> str:
    """The status a reader sees: an ACTIVE offer past its expiry is EXPIRED."""
    return "EXPIRED" if stored == "ACTIVE" and is_expired(expires_at, now) else stored


def refusal(t: Terms, c: Cart, customer_id: str | None, now: datetime) -> str | None:
    """The reason the offer does not apply to cart `c` for `customer_id`, or None when it does."""
    if t.status == "REVOKED":
        return "REVOKED"
    if t.customer_id is not None and t.customer_id != customer_id:
        return "WRONG_CUSTOMER"
    if t.used_count >= t.usage_limit:
        return "USED"
    if is_expired(t.expires_at, now):
        return "EXPIRED"
    if t.starts_at > now:
        return "NOT_STARTED"
    if c.currency != t.currency:
        return "WRONG_CURRENCY"
    if t.min_order is not None and c.subtotal < t.min_order:
        return "MIN_ORDER"
    return None
