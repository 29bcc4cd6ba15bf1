"""The rewards catalog and redemption rules. Pure: no I/O.

A redemption issues a single-use code: 16 characters from a 32-letter alphabet without look-alikes
(80 bits from `secrets`), so codes can neither be guessed nor enumerated.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from services.points.loyalty.program import Tier
from services.points.loyalty.tiers import by_name, rank
from shared.errors import BadUserInput, Conflict, Forbidden, InsufficientPoints
from shared.ids import external_id
from shared.money import parse_amount

KINDS = ("FIXED_AMOUNT", "PERCENTAGE", "FREE_SHIPPING", "FREE_PRODUCT", "STORE_CREDIT")
NAME_MAX = 200
MAX_COST = 10_000_000
MAX_LIMIT = 1_000_000
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 16
CODE_MAX = 64
CODE_VALIDITY = timedelta(days=90)
PUNCH_CARD_ID = "punch-card"


@dataclass(frozen=True)
class Reward:
    id: str
    name: str
    kind: str
    points_cost: int
    value: Decimal | None
    min_tier: str | None
    limit_per_customer: int | None
    limit_total: int | None
    active: bool


def _limit(value: int | None, field: str) -> int | None:
    if value is not None and not 0 < value <= MAX_LIMIT:
        raise BadUserInput(f"{field} must be between 1 and {MAX_LIMIT}", field=field)
    return value


def reward(*, id: str | None, name: str, kind: str, points_cost: int, value: str | None, min_tier: str | None,
           limit_per_customer: int | None, limit_total: int | None, active: bool | None, currency: str,
           tiers: tuple[Tier, ...]) -> Reward:
    """A catalog entry, validated against the program (currency, tier names)."""
    reward_id = external_id(id, "id") if id is not None else f"r-{secrets.token_hex(6)}"
    name = name.strip()
    if not name or len(name) > NAME_MAX:
        raise BadUserInput(f"name must be 1–{NAME_MAX} characters", field="name")
    if kind not in KINDS:
        raise BadUserInput(f"kind must be one of {', '.join(KINDS)}", field="kind")
    if not 0 < points_cost <= MAX_COST:
        raise BadUserInput(f"pointsCost must be between 1 and {MAX_COST}", field="pointsCost")
    amount: Decimal | None = None
    if kind in ("FIXED_AMOUNT", "STORE_CREDIT", "PERCENTAGE"):
        amount = parse_amount(value, "value", currency)
        if amount <= 0:
            raise BadUserInput("value must be positive", field="value")
        if kind == "PERCENTAGE" and amount > 100:
            raise BadUserInput("a percentage is at most 100", field="value")
    elif value is not None:
        raise BadUserInput(f"a {kind} reward takes no value", field="value")
    if min_tier is not None and by_name(min_tier, tiers) is None:
        raise BadUserInput(f"unknown tier {min_tier}", field="minTier")
    return Reward(id=reward_id, name=name, kind=kind, points_cost=points_cost, value=amount, min_tier=min_tier,
                  limit_per_customer=_limit(limit_per_customer, "limitPerCustomer"),
                  limit_total=_limit(limit_total, "limitTotal"), active=True if active is None else active)


def seeded(currency: str) -> list[Reward]:
    """The catalog a shop starts with, priced at the default point value (0.025: 200 points = 5.00, 120 =
    3.00 of shipping); the punch-card reward is granted by rules, never bought."""
    return [
        Reward("r-5-off", "5 off your next order", "FIXED_AMOUNT", 200, Decimal(5), None, None, None, True),
        Reward("r-free-shipping", "Free shipping", "FREE_SHIPPING", 120, None, None, None, None, True),
        Reward("r-5-credit", "5 in store credit", "STORE_CREDIT", 200, Decimal(5), None, None, None, True),
    ]


def check_redeemable(r: Reward, *, balance: int, tier: Tier | None, tiers: tuple[Tier, ...],
                     redeemed_by_customer: int | None, redeemed_total: int) -> None:
    """Raises when the customer cannot redeem `r` now. `tier` and `redeemed_by_customer` are needed
    only for a reward with a minimum tier or a limit per customer (None otherwise)."""
    if not r.active:
        raise BadUserInput("this reward is not available", field="rewardId")
    if r.min_tier is not None:
        if tier is None:
            raise ValueError("a reward with a minimum tier is checked against the customer's tier")
        needed = by_name(r.min_tier, tiers)
        if needed is not None and rank(tier, tiers) < rank(needed, tiers):
            raise Forbidden(f"this reward needs tier {r.min_tier}", minTier=r.min_tier)
    if r.limit_per_customer is not None:
        if redeemed_by_customer is None:
            raise ValueError("a reward with a limit per customer is checked against the customer's count")
        if redeemed_by_customer >= r.limit_per_customer:
            raise Conflict("you have redeemed this reward as often as allowed", limit=r.limit_per_customer)
    if r.limit_total is not None and redeemed_total >= r.limit_total:
        raise Conflict("this reward is sold out", limit=r.limit_total)
    if balance < r.points_cost:
        raise InsufficientPoints(f"{r.points_cost} points needed, {balance} available", balance=balance)


def redemption_id() -> str:
    return f"rd-{secrets.token_hex(8)}"


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def normalise_code(code: str) -> str:
    if not isinstance(code, str) or not code.strip() or len(code) > CODE_MAX:
        raise BadUserInput(f"code must be 1–{CODE_MAX} characters", field="code")
    return code.strip().upper().replace("-", "")


@dataclass(frozen=True)
class CodeCheck:
    valid: bool
    reason: str | None  # UNKNOWN | USED | EXPIRED | REVOKED
