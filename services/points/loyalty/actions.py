"""Points or store credit for actions (a published review, a converted referral, a birthday, a
signup), inside the caller's transaction. Each action rewards once per its natural key (wallet.py)."""

from __future__ import annotations

from services.points.loyalty import configuration, posting, store, tiering, wallet
from services.points.loyalty.ledger import Entry
from services.points.loyalty.program import Program
from shared import events
from shared.db import Connection
from shared.events import PoisonMessage


async def reward(conn: Connection, shop: str, customer_id: str, action: wallet.ActionReward,
                 event_id: str, prog: Program) -> None:
    """Points (available at once) or store credit for an action, once per its natural key: a second
    review of the same product (with media this time, or another rating) earns nothing more. A
    customer's first action (the signup, usually) also gives them their first tier."""
    if (await posting.lock(conn, shop, customer_id))["announced_tier"] is None:
        await tiering.refresh(conn, shop, customer_id, prog)
    if await store.wallet.rewarded_before(conn, shop, action.key, f"credit:{action.key}"):
        return
    if action.credit > 0:
        await posting.post_credit(conn, shop, wallet.CreditEntry(
            customer_id=customer_id, kind="grant", amount=action.credit, currency=prog.currency,
            reason=action.reason, idempotency_key=f"credit:{action.key}", actor="system", source_event_id=event_id))
    elif action.points > 0:
        await posting.credit_available(conn, shop, Entry(
            customer_id=customer_id, kind="earn", delta=action.points, reason=action.reason,
            idempotency_key=action.key, actor="system", source_event_id=event_id, rule_version=prog.version))


async def review_published(conn: Connection, data: events.ReviewPublished, event_id: str) -> None:
    prog = await configuration.seeded(conn, data.shop)
    action = wallet.review_reward(data.customer_id, data.product_id, data.has_media, prog.action_points,
                                  prog.review_credit, prog.media_review_credit)
    await reward(conn, data.shop, data.customer_id, action, event_id, prog)


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
