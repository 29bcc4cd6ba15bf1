"""What events do to challenges, inside the caller's (the inbox's) transaction: a counting event
moves the progress of each joined challenge whose goal it matches, once per challenge and event; the
step reaching the goal completes it (reward points, badge, challenge.completed); a refund or a
cancellation takes back what the order no longer brings, and a completion that is no longer
reached. Purchases and reviews also mark the customer's streak week.

Counting locks the customer's account first (the service's lock order), then their progress rows,
so concurrent events of one customer are each counted and a completion is granted exactly once.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from decimal import Decimal

import asyncpg

from services.points import SOURCE
from services.points.challenges import badges, goals, store, streaks
from services.points.loyalty import configuration, ledger, posting
from services.points.loyalty import store as loyalty_store
from services.points.loyalty.ledger import Entry
from services.points.offers import issuing
from services.points.offers.terms import Ask, Refusal
from shared import events, outbox
from shared.db import Connection

log = logging.getLogger(__name__)

def _goal(c: asyncpg.Record) -> goals.Goal:
    return goals.Goal(c["goal_event"], c["goal_count"], c["goal_with_media"], c["goal_hashtag"], c["goal_measure"])


async def count(conn: Connection, shop: str, h: goals.Happening, event_id: str) -> None:
    """Count one event for each challenge the customer joined whose goal it moves, once per challenge
    (challenge_counts' key), inside the window, before an early end and not before the join."""
    candidates = await store.joined_challenges_counting(conn, shop, h.customer_id, h.event, h.at)
    matching = [(c, _goal(c)) for c in candidates]
    matching = [(c, g) for c, g in matching if goals.counts(g, c["id"], h)]
    if not matching:
        return
    await posting.hold(conn, shop, h.customer_id)  # the service's lock order: the account first
    for c, goal in sorted(matching, key=lambda m: m[0]["id"]):
        step = goals.step(goal, h)
        if not await store.add_count(conn, shop, c["id"], h.source_key, h.customer_id, event_id, h.at, step,
                                     h.amount if h.event == "ORDER_PAID" else None):
            continue  # this event (or a replay of it under another id) already counted here
        before = await store.lock_progress(conn, shop, c["id"], h.customer_id)
        after = await store.add_progress(conn, shop, c["id"], h.customer_id, h.at, step)
        if before["completed_at"] is None and goals.completes(before["progress"], after["progress"],
                                                              c["goal_count"]):
            await _complete(conn, shop, c, h.customer_id, h.at, revoked=before["revoked"])


async def _complete(conn: Connection, shop: str, c: asyncpg.Record, customer_id: str,
                    at: datetime, *, revoked: int) -> None:
    """The reward once per completion: the ledger key is per challenge, customer and completion (see
    `_revoke`), the badge once per name; and a code when the program gives challenge codes (the
    CHALLENGE offer default, off unless the merchant turns it on), under the same key."""
    await store.mark_completed(conn, shop, c["id"], customer_id, at)
    prog = await configuration.seeded(conn, shop)
    code = prog.offers.default("CHALLENGE")
    if code is not None and code.enabled:
        try:
            await issuing.issue(conn, shop, Ask(key=goals.completion_key(c["id"], customer_id, revoked),
                                                source="CHALLENGE", customer_id=customer_id))
        except Refusal as refusal:  # settings changed since the default was set (a lower maxAmount)
            log.warning("challenge %s: no code for %s: %s", c["id"], customer_id, refusal.message)
    if c["reward_points"] > 0:
        await posting.credit_available(conn, shop, Entry(
            customer_id=customer_id, kind="earn", delta=c["reward_points"], reason=f"challenge {c['title']}",
            idempotency_key=goals.completion_key(c["id"], customer_id, revoked), actor="system",
            rule_version=prog.version))
    if c["badge"]:
        await store.award_badge(conn, shop, customer_id, c["badge"], badges.challenge_source(c["id"]))
    await outbox.add(conn, events.ChallengeCompleted(
        shop=shop, challenge_id=c["id"], customer_id=customer_id, title=c["title"],
        reward_points=c["reward_points"], badge=c["badge"]), source=SOURCE)


async def withdraw_order(conn: Connection, shop: str, customer_id: str, order_id: str,
                         net_remaining: Decimal, voided: bool, event_id: str) -> None:
    """A counted order was refunded (partly or fully) or cancelled: each challenge it counted for loses
    what the order no longer brings (goals.still_counted). A completion that the progress no longer
    reaches is taken back (`_revoke`). The refund events carry the order's state (the net amount
    left, fully refunded or not), not a difference, so a replay or a late, older refund takes nothing
    more. A refund before its payment: `order_paid` then counts nothing.

    Leaderboard bonuses already granted at a challenge's end stay: the ranking was final then."""
    source_key = f"order:{order_id}"
    rows = await store.counts_of(conn, shop, source_key, customer_id)
    if not rows:
        return
    await posting.hold(conn, shop, customer_id)  # the service's lock order: the account first
    for r in rows:
        c = await store.challenge(conn, shop, r["challenge_id"])
        if c is None:  # counts reference their challenge: it exists
            continue
        keep = goals.still_counted(_goal(c), r["counted"], net_remaining, voided)
        if keep >= r["counted"]:
            continue
        await store.reduce_count(conn, shop, c["id"], source_key, keep, net_remaining)
        after = await store.reduce_progress(conn, shop, c["id"], customer_id, r["counted"] - keep)
        if goals.falls_short(after["completed_at"] is not None, after["progress"], c["goal_count"]):
            await _revoke(conn, shop, c, customer_id, after["revoked"], event_id)


async def _revoke(conn: Connection, shop: str, c: asyncpg.Record, customer_id: str, revoked: int,
                  event_id: str) -> None:
    """Take a completion back, as a refund takes back the points its order earned: the reward points
    through a ledger `reverse` row (spent points become a shortfall), the challenge's badge (only when
    this challenge awarded it), and the completion mark, so the customer can complete again with new
    events and be rewarded again under the next completion key."""
    await store.clear_completion(conn, shop, c["id"], customer_id)
    key = goals.completion_key(c["id"], customer_id, revoked)
    await issuing.revoke_unused(conn, shop, key, f"challenge {c['title']}: refunded")
    granted = await loyalty_store.ledger.entry_by_key(conn, shop, key)
    if granted is not None and granted["delta"] > 0:
        await posting.reverse(conn, shop, customer_id, granted["delta"], bucket=ledger.AVAILABLE,
                              reason=f"challenge {c['title']}: refunded", event_id=event_id,
                              key=f"{key}:revoked", rule_version=granted["rule_version"])
    if c["badge"]:
        await store.remove_badge(conn, shop, customer_id, c["badge"], badges.challenge_source(c["id"]))


async def record_activity(conn: Connection, shop: str, customer_id: str, at: datetime) -> None:
    """A purchase or a review in `at`'s ISO week; a streak reaching a badge's length awards it.

    A week stays active when its purchase is later refunded or cancelled: a streak is the habit of
    coming back (the customer did shop that week), its badges carry no points to take back, and
    removing a week afterwards would rewrite a `longest` streak and a badge already shown."""
    if not await store.add_activity_week(conn, shop, customer_id, streaks.week_of(at)):
        return
    st = streaks.streak(await store.activity_weeks(conn, shop, customer_id), datetime.now(UTC).date())
    for weeks, name in sorted(streaks.STREAK_BADGES.items()):
        if st.longest >= weeks:
            await store.award_badge(conn, shop, customer_id, name, badges.streak_source(weeks))


# ---- the events ---------------------------------------------------------------------------


async def order_paid(conn: Connection, data: events.OrderPaid, event_id: str, at: datetime) -> None:
    """A streak week, and the order counted at what is left of it (a refund may have come first)."""
    await record_activity(conn, data.shop, data.customer_id, at)
    currency = (await configuration.seeded(conn, data.shop)).currency
    order = await loyalty_store.orders.order_points(conn, data.shop, data.order_id)
    if order is not None and order["voided"]:
        return  # cancelled or fully refunded before this payment (or its replay) arrived: no goal counts it
    net = min(data.net_amount, order["net_amount"]) if order is not None else data.net_amount
    await count(conn, data.shop, goals.Happening(
        "ORDER_PAID", f"order:{data.order_id}", data.customer_id, at,
        amount=net if data.currency == currency else Decimal(0)), event_id)


async def order_refunded(conn: Connection, data: events.OrderRefunded, event_id: str) -> None:
    await withdraw_order(conn, data.shop, data.customer_id, data.order_id, data.net_amount, data.fully_refunded,
                         event_id)


async def order_cancelled(conn: Connection, data: events.OrderCancelled, event_id: str) -> None:
    await withdraw_order(conn, data.shop, data.customer_id, data.order_id, data.net_amount, True, event_id)


async def review_published(conn: Connection, data: events.ReviewPublished, event_id: str, at: datetime) -> None:
    await record_activity(conn, data.shop, data.customer_id, at)
    await count(conn, data.shop, goals.Happening(
        "REVIEW_PUBLISHED", f"review:{data.review_id}", data.customer_id, at, with_media=data.has_media), event_id)


async def referral_converted(conn: Connection, data: events.ReferralConverted, event_id: str, at: datetime) -> None:
    await count(conn, data.shop, goals.Happening(
        "REFERRAL_CONVERTED", f"referral:{data.referral_id}", data.referrer_id, at), event_id)


async def ugc_submitted(conn: Connection, data: events.UgcSubmitted, event_id: str, at: datetime) -> None:
    """A moderated photo/video post with hashtags or a challenge id (the reviews service sends it)."""
    await count(conn, data.shop, goals.Happening(
        "UGC_SUBMITTED", f"ugc:{data.review_id}", data.customer_id, at, hashtags=tuple(data.hashtags),
        challenge_id=data.challenge_id), event_id)


async def segment_changed(conn: Connection, data: events.CustomerSegmentChanged) -> None:
    """A copy of the customer's segment, for challenge audiences (the last change handled wins)."""
    await store.save_segment(conn, data.shop, data.customer_id, data.to_segment)
