"""The store-credit wallet and the points for actions, in the domain's words. Pure: no I/O.

Credit is exact money in the shop currency (Decimal, never a float). Each action rewards once per
its natural key: one review reward per customer and product (whatever the rating), one referral
reward per referral, one birthday bonus per year, one signup bonus, one social-share reward per
customer, network and shared content (at most the program's `social_shares_per_day` a day).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from decimal import Decimal

from shared.errors import BadUserInput
from shared.ids import external_id
from shared.money import parse_amount

MAX_CREDIT = Decimal(100_000)  # per grant or spend; beyond it is a typo, not a reward
REASON_MAX = 500
STORE_CREDIT_ID = "store-credit"


@dataclass(frozen=True)
class CreditEntry:
    customer_id: str
    kind: str  # grant | spend | adjust
    amount: Decimal  # signed: spending is negative
    currency: str
    reason: str
    idempotency_key: str
    actor: str
    source_event_id: str | None = None


def amount(value: str, field: str, currency: str, *, signed: bool = False) -> Decimal:
    """A credit amount: positive (or, for adjustments, non-zero), at most MAX_CREDIT in size."""
    text = value.strip() if isinstance(value, str) else value
    negative = signed and isinstance(text, str) and text.startswith("-")
    parsed = parse_amount(text[1:] if negative else text, field, currency)
    if parsed == 0 or parsed > MAX_CREDIT:
        raise BadUserInput(f"{field} must be above 0 and at most {MAX_CREDIT}", field=field)
    return -parsed if negative else parsed


def adjustment(customer_id: str, value: str, currency: str, reason: str, idempotency_key: str) -> CreditEntry:
    reason = reason.strip()
    if not reason or len(reason) > REASON_MAX:
        raise BadUserInput(f"reason must be 1–{REASON_MAX} characters", field="reason")
    return CreditEntry(customer_id=external_id(customer_id, "customerId"), kind="adjust",
                       amount=amount(value, "amount", currency, signed=True), currency=currency, reason=reason,
                       idempotency_key=f"credit:adjust:{external_id(idempotency_key, 'idempotencyKey')}",
                       actor="admin")


@dataclass(frozen=True)
class ActionReward:
    """What an action earns: points, or credit when the program (or the event) says credit."""
    key: str
    reason: str
    points: int = 0
    credit: Decimal = Decimal(0)


def review_reward(customer_id: str, product_id: str, has_media: bool, points: dict[str, int],
                  credit: Decimal, media_credit: Decimal) -> ActionReward:
    key = f"review:{customer_id}:{product_id}"
    reason = f"{'photo/video ' if has_media else ''}review of {product_id}"
    money = media_credit if has_media else credit
    if money > 0:
        return ActionReward(key, reason, credit=money)
    return ActionReward(key, reason, points=points.get("media_review" if has_media else "review", 0))


def referral_reward(referral_id: str, kind: str, reward_points: int | None, reward_amount: Decimal | None,
                    default_points: int) -> ActionReward:
    key = f"referral:{referral_id}"
    if kind == "credit" and reward_amount is not None and reward_amount > 0:
        return ActionReward(key, f"referral {referral_id}", credit=reward_amount)
    return ActionReward(key, f"referral {referral_id}", points=reward_points if reward_points else default_points)


def birthday_reward(customer_id: str, year: int, points: dict[str, int]) -> ActionReward:
    return ActionReward(f"birthday:{customer_id}:{year}", f"birthday {year}", points=points.get("birthday", 0))


def signup_reward(customer_id: str, points: dict[str, int]) -> ActionReward:
    return ActionReward(f"signup:{customer_id}", "welcome bonus", points=points.get("signup", 0))


NETWORKS = ("FACEBOOK", "INSTAGRAM", "X", "TIKTOK", "PINTEREST", "WHATSAPP", "LINKEDIN", "OTHER")
SHARE_CONTENT_MAX = 500


def share_prefix(customer_id: str) -> str:
    """Every social-share reward of a customer starts with it (the daily limit counts them)."""
    return f"share:{customer_id}:"


def social_share_reward(customer_id: str, network: str, content: str, points: dict[str, int]) -> ActionReward:
    """Points for sharing `content` (a product, review or referral link, a post's URL: 1–500
    characters, trimmed) on a network: once per customer, network and content."""
    if network not in NETWORKS:
        raise BadUserInput(f"unknown network {network}", field="network")
    text = content.strip()
    if not text or len(text) > SHARE_CONTENT_MAX or not text.isprintable():
        raise BadUserInput(f"content must be 1–{SHARE_CONTENT_MAX} printable characters", field="content")
    digest = hashlib.sha256(text.encode()).hexdigest()[:32]  # any length of content, one short key
    return ActionReward(f"{share_prefix(customer_id)}{network.lower()}:{digest}", f"social share on {network.lower()}",
                        points=points.get("social_share", 0))
