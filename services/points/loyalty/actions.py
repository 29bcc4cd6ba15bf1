"""Points or store credit for actions (a published review, a converted referral, a birthday, a
signup), inside the caller's transaction. Each action rewards once per its natural key (wallet.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time

import asyncpg

from services.points import SOURCE
from services.points.loyalty import accounts, configuration, posting, store, tiering, wallet
from services.points.loyalty.ledger import Entry
from services.points.loyalty.program import Program
from shared import events, outbox
from shared.db import Connection, transaction
from shared.events import PoisonMessage


async def reward(conn: Connection, shop: str, customer_id: str, action: wallet.ActionReward,
                 event_id: str | None, prog: Program) -> bool:
    """Points (available at once) or store credit for an action, once per its natural key: a second
    review of the same product (with media this time, or another rating) earns nothing more. A
    customer's first action (the signup, usually) also gives them their first tier."""
    if (await posting.lock(conn, shop, customer_id))["announced_tier"] is None:
        await tiering.refresh(conn, shop, customer_id, prog)
    if await store.wallet.rewarded_before(conn, shop, action.key, f"credit:{action.key}"):
        return False
    if action.credit > 0:
        await posting.post_credit(conn, shop, wallet.CreditEntry(
            customer_id=customer_id, kind="grant", amount=action.credit, currency=prog.currency,
            reason=action.reason, idempotency_key=f"credit:{action.key}", actor="system", source_event_id=event_id))
        return True
    if action.points > 0:
        await posting.credit_available(conn, shop, Entry(
            customer_id=customer_id, kind="earn", delta=action.points, reason=action.reason,
            idempotency_key=action.key, actor="system", source_event_id=event_id, rule_version=prog.version))
        return True
    return False


async def review_published(conn: Connection, data: events.ReviewPublished, event_id: str) -> None:
    """The review's reward (once per customer and product); review.rewarded tells the reviews service
    that this review was paid for, so it is shown as incentivized (and only then)."""
    prog = await configuration.seeded(conn, data.shop)
    action = wallet.review_reward(data.customer_id, data.product_id, data.has_media, prog.action_points,
                                  prog.review_credit, prog.media_review_credit)
    if await reward(conn, data.shop, data.customer_id, action, event_id, prog):
        await outbox.add(conn, events.ReviewRewarded(
            shop=data.shop, review_id=data.review_id, customer_id=data.customer_id, product_id=data.product_id,
            points=action.points if action.credit == 0 else 0,
            credit=action.credit if action.credit > 0 else None,
            currency=prog.currency if action.credit > 0 else None), source=SOURCE)


async def referral_converted(conn: Connection, data: events.ReferralConverted, event_id: str) -> None:
    prog = await configuration.seeded(conn, data.shop)
    if data.reward_kind == "credit" and data.currency not in (None, prog.currency):
        raise PoisonMessage(f"referral credit in {data.currency}, the shop's currency is {prog.currency}")
    action = wallet.referral_reward(data.referral_id, data.reward_kind, data.reward_points, data.reward_amount,
                                    prog.action_points.get("referral", 0))
    await reward(conn, data.shop, data.referrer_id, action, event_id, prog)


async def birthday(conn: Connection, data: events.CustomerBirthday, event_id: str) -> None:
    prog = await configuration.seeded(conn, data.shop)
    action = wallet.birthday_reward(data.customer_id, data.year, prog.action_points)
    await reward(conn, data.shop, data.customer_id, action, event_id, prog)


async def registered(conn: Connection, data: events.CustomerRegistered, event_id: str) -> None:
    prog = await configuration.seeded(conn, data.shop)
    action = wallet.signup_reward(data.customer_id, prog.action_points)
    await reward(conn, data.shop, data.customer_id, action, event_id, prog)


@dataclass(frozen=True)
class ShareOutcome:
    outcome: str  # AWARDED ALREADY_AWARDED DAILY_LIMIT NOT_REWARDED
    points: int
    account: accounts.AccountView


async def social_share(pool: asyncpg.Pool, shop: str, customer_id: str, network: str, content: str,
                       now: datetime | None = None) -> ShareOutcome:
    """recordSocialShare: points for a share, once per customer, network and content, and at most the
    program's social_shares_per_day rewards per customer and UTC day (more shares that day earn
    nothing and write nothing). Under the account lock, so racing shares cannot pass the limit."""
    now = now or datetime.now(UTC)
    async with transaction(pool) as conn:
        prog = await configuration.seeded(conn, shop)
        action = wallet.social_share_reward(customer_id, network, content, prog.action_points)
        await posting.lock(conn, shop, customer_id)
        outcome = "AWARDED"
        if await store.wallet.rewarded_before(conn, shop, action.key, f"credit:{action.key}"):
            outcome = "ALREADY_AWARDED"
        elif action.points <= 0:
            outcome = "NOT_REWARDED"
        elif await store.ledger.count_since(conn, shop, customer_id, wallet.share_prefix(customer_id),
                                            datetime.combine(now.date(), time(0), tzinfo=UTC)
                                            ) >= prog.social_shares_per_day:
            outcome = "DAILY_LIMIT"
        else:
            await reward(conn, shop, customer_id, action, None, prog)
        return ShareOutcome(outcome, action.points if outcome == "AWARDED" else 0,
                            await accounts.view(conn, shop, customer_id))
