"""Events the points service consumes, and its scheduled jobs. Each handler runs inside the inbox
transaction (shared/inbox.py): its ledger entries commit together with the record of the event.
Every effect also has a natural key (the order id, the reward's idempotency key), so a replay under
a new event id changes nothing. A handler raises to be retried with backoff (an order event that
overtook the payment it depends on); a payload that can never be handled is dead-lettered by the bus.

`customer.erased` is deliberately not consumed: this service stores no personal data, only the
commerce platform's customer id next to points, credit and codes. The ledger and its sums stay, so
the program's liability and history remain exact after an erasure.
"""

from __future__ import annotations

from decimal import Decimal

from services.points import challenge_store, challenges, store, wallet
from shared.db import Connection
from shared.events import (
    CustomerBirthday,
    CustomerRegistered,
    CustomerSegmentChanged,
    Envelope,
    OrderCancelled,
    OrderDelivered,
    OrderPaid,
    OrderRefunded,
    PoisonMessage,
    ReferralConverted,
    ReviewPublished,
    UgcSubmitted,
)
from shared.handlers import EventHandlers, on
from shared.schedule import Job, JobHandler


async def on_order_paid(conn: Connection, event: Envelope, data: OrderPaid) -> None:
    await store.earn_for_order(conn, data.shop, data, event.id, event.time)
    await challenge_store.record_activity(conn, data.shop, data.customer_id, event.time)
    currency = (await store.program(conn, data.shop)).currency
    order = await store.order_points(conn, data.shop, data.order_id)
    if order is not None and order["voided"]:
        return  # cancelled or fully refunded before this payment (or its replay) arrived: no goal counts it
    net = min(data.net_amount, order["net_amount"]) if order is not None else data.net_amount
    await challenge_store.count(conn, data.shop, challenges.Happening(
        "ORDER_PAID", f"order:{data.order_id}", data.customer_id, event.time,
        amount=net if data.currency == currency else Decimal(0)), event.id)


async def on_order_delivered(conn: Connection, event: Envelope, data: OrderDelivered) -> None:
    await store.lock_account(conn, data.shop, data.customer_id)  # the same lock as the payment's handler
    await store.schedule_release(conn, data.shop, data.order_id, event.time)


async def on_order_refunded(conn: Connection, event: Envelope, data: OrderRefunded) -> None:
    await store.take_back(conn, data.shop, data.order_id, data.customer_id, data.net_amount,
                          voided=data.fully_refunded, event_id=event.id, reason="refund")
    await challenge_store.withdraw_order(conn, data.shop, data.customer_id, data.order_id, data.net_amount,
                                         data.fully_refunded, event.id)


async def on_order_cancelled(conn: Connection, event: Envelope, data: OrderCancelled) -> None:
    await store.take_back(conn, data.shop, data.order_id, data.customer_id, data.net_amount,
                          voided=True, event_id=event.id, reason="cancellation")
    await challenge_store.withdraw_order(conn, data.shop, data.customer_id, data.order_id, data.net_amount,
                                         True, event.id)


async def on_review_published(conn: Connection, event: Envelope, data: ReviewPublished) -> None:
    prog = await store.program(conn, data.shop)
    reward = wallet.review_reward(data.customer_id, data.product_id, data.has_media, prog.action_points,
                                  prog.review_credit, prog.media_review_credit)
    await store.reward_action(conn, data.shop, data.customer_id, reward, event.id, prog)
    await challenge_store.record_activity(conn, data.shop, data.customer_id, event.time)
    await challenge_store.count(conn, data.shop, challenges.Happening(
        "REVIEW_PUBLISHED", f"review:{data.review_id}", data.customer_id, event.time, with_media=data.has_media),
        event.id)


async def on_referral_converted(conn: Connection, event: Envelope, data: ReferralConverted) -> None:
    prog = await store.program(conn, data.shop)
    if data.reward_kind == "credit" and data.currency not in (None, prog.currency):
        raise PoisonMessage(f"referral credit in {data.currency}, the shop's currency is {prog.currency}")
    reward = wallet.referral_reward(data.referral_id, data.reward_kind, data.reward_points, data.reward_amount,
                                    prog.action_points.get("referral", 0))
    await store.reward_action(conn, data.shop, data.referrer_id, reward, event.id, prog)
    await challenge_store.count(conn, data.shop, challenges.Happening(
        "REFERRAL_CONVERTED", f"referral:{data.referral_id}", data.referrer_id, event.time), event.id)


async def on_ugc_submitted(conn: Connection, event: Envelope, data: UgcSubmitted) -> None:
    """A moderated photo/video post with hashtags or a challenge id (the reviews service sends it)."""
    await challenge_store.count(conn, data.shop, challenges.Happening(
        "UGC_SUBMITTED", f"ugc:{data.review_id}", data.customer_id, event.time, hashtags=tuple(data.hashtags),
        challenge_id=data.challenge_id), event.id)


async def on_segment_changed(conn: Connection, event: Envelope, data: CustomerSegmentChanged) -> None:
    """A copy of the customer's segment, for challenge audiences (the last change handled wins)."""
    await challenge_store.save_segment(conn, data.shop, data.customer_id, data.to_segment)


async def on_customer_birthday(conn: Connection, event: Envelope, data: CustomerBirthday) -> None:
    prog = await store.program(conn, data.shop)
    reward = wallet.ActionReward(f"birthday:{data.customer_id}:{data.year}", f"birthday {data.year}",
                                 points=prog.action_points.get("birthday", 0))
    await store.reward_action(conn, data.shop, data.customer_id, reward, event.id, prog)


async def on_customer_registered(conn: Connection, event: Envelope, data: CustomerRegistered) -> None:
    prog = await store.program(conn, data.shop)
    reward = wallet.ActionReward(f"signup:{data.customer_id}", "welcome bonus",
                                 points=prog.action_points.get("signup", 0))
    await store.reward_action(conn, data.shop, data.customer_id, reward, event.id, prog)


async def release_points(conn: Connection, job: Job) -> None:
    await store.release(conn, job.shop, job.payload["order_id"])


HANDLERS = EventHandlers(
    on(OrderPaid, on_order_paid),
    on(OrderDelivered, on_order_delivered),
    on(OrderRefunded, on_order_refunded),
    on(OrderCancelled, on_order_cancelled),
    on(ReviewPublished, on_review_published),
    on(ReferralConverted, on_referral_converted),
    on(CustomerBirthday, on_customer_birthday),
    on(CustomerRegistered, on_customer_registered),
    on(UgcSubmitted, on_ugc_submitted),
    on(CustomerSegmentChanged, on_segment_changed),
)

async def warn_expiring(conn: Connection, job: Job) -> None:
    await store.warn_expiring(conn, job.shop, job.payload)


async def expire_points(conn: Connection, job: Job) -> None:
    await store.expire(conn, job.shop, job.payload)


async def end_challenge(conn: Connection, job: Job) -> None:
    await challenge_store.finish(conn, job.shop, job.payload["challenge_id"])


async def review_tier(conn: Connection, job: Job) -> None:
    await store.refresh_tier(conn, job.shop, job.payload["customer_id"], await store.program(conn, job.shop))


JOBS: dict[str, JobHandler] = {
    store.RELEASE_JOB: release_points,
    store.EXPIRING_JOB: warn_expiring,
    store.EXPIRE_JOB: expire_points,
    store.TIER_REVIEW_JOB: review_tier,
    challenge_store.END_JOB: end_challenge,
}
