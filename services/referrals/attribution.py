"""Who referred whom, and when a referral converts, is rejected or reversed.

A referral starts when a friend signs up with a code (customer.registered) or orders with one
(order.placed, or order.paid if that is handled first). It follows the friend's FIRST order: paid at
or above the minimum, delivered, then after the return window it converts and the referrer is
rewarded through `referral.converted` (the points service books the credit or points). A refund or
cancellation inside the window reverses it; a friend with an order from before the referral is not
new.

The consumer handles several messages at once and retries a failed one after a delay, so the events
of one friend arrive in any order: a refund before the payment, an order before the sign-up that
brought the code. Handlers therefore only record what their event says (facts.py) and then
`advance` works the referral out from everything recorded so far, which comes out the same whatever
the arrival order. Handlers about one friend take that friend's lock first
(store.people.lock_friend), so they never interleave. Everything here runs in the caller's
transaction (the consumer's inbox transaction, or the conversion job's) and writes its events to
the outbox.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import asyncpg

from services.referrals import codes, fraud, offers, store
from services.referrals.program import reward_for
from services.referrals.referring import program_of
from shared import events, outbox, schedule
from shared.db import Connection
from shared.schedule import Job

log = logging.getLogger(__name__)

SOURCE = "referrals"
CONVERT_JOB = "referral.convert"  # the return window has passed: convert (registered in jobs.py)


def _not_new(orders: list[asyncpg.Record], started_at: datetime, own_order: str | None) -> bool:
    """Whether the friend had an order before the referral started (other than the order that
    brought the code). Event times come from the customers service's clock, the one order both
    were recorded by."""
    return any(o["first_seen"] < started_at and o["order_id"] != own_order for o in orders)


def _job_key(referral: asyncpg.Record) -> str:
    # One conversion job per (referral, order): if the referral moves to an earlier order, the
    # cancelled job of the other one does not stop the new one being scheduled. Cancelling goes by
    # the referral id as a prefix.
    return f"{referral['id']}:{referral['order_id']}"


async def _person(conn: Connection, shop: str, customer_id: str) -> fraud.Person:
    row = await store.people.facts_of(conn, shop, customer_id)
    if row is None:
        return fraud.Person(customer_id)
    return fraud.Person(customer_id, row["email_key"], frozenset(row["device_ids"]), frozenset(row["address_hashes"]),
                        frozenset(row["payment_fingerprints"]))


async def _rejected(conn: Connection, shop: str, referral: asyncpg.Record, reason: str) -> None:
    await outbox.add(conn, events.ReferralRejected(
        shop=shop, referral_id=str(referral["id"]), referrer_id=referral["referrer_id"],
        friend_id=referral["friend_id"], reason=reason,
    ), source=SOURCE)


async def attribute(conn: Connection, shop: str, friend_id: str, code: str, *, started_at: datetime,
                    order_id: str | None = None) -> asyncpg.Record | None:
    """Open (or refuse) the referral of a friend; an existing one stays as it is."""
    existing = await store.referrals.of_friend(conn, shop, friend_id)
    if existing is not None:
        return existing
    code = codes.normal(code)
    referrer = await store.people.referrer_by_code(conn, shop, code)
    if referrer is None:
        log.info("referral code %r of %s is unknown in shop %s; no referral", code, friend_id, shop)
        return None
    referrer_id = referrer["customer_id"]
    await store.people.lock_referrer(conn, shop, referrer_id)
    program = await program_of(conn, shop)
    rejection = (
        fraud.identity_rejection(await _person(conn, shop, referrer_id), await _person(conn, shop, friend_id),
                                 shared_address_rejects=program["shared_address_rejects"])
        or (fraud.NOT_NEW if _not_new(await store.people.friend_orders(conn, shop, friend_id), started_at, order_id)
            else None)
        or fraud.velocity_rejection(await store.referrals.signups_last_hour(conn, shop, referrer_id),
                                    program["signups_per_hour"])
    )
    row = await store.referrals.create(conn, shop, referrer_id=referrer_id, friend_id=friend_id, code=code,
                                       started_at=started_at, order_id=order_id, rejection=rejection)
    if row is None:  # another handler of the same friend got there first
        return await store.referrals.of_friend(conn, shop, friend_id)
    if rejection:
        await _rejected(conn, shop, row, rejection)
        return row
    await outbox.add(conn, events.ReferralSignedUp(
        shop=shop, referral_id=str(row["id"]), referrer_id=referrer_id, friend_id=friend_id, code=code,
    ), source=SOURCE)
    await offers.ask(conn, shop, friend_id, row["id"], opened_by="order" if order_id else "signup")
    return row


async def advance(conn: Connection, shop: str, friend_id: str) -> None:
    """Move the friend's pending referral as far as the recorded facts of its order allow: bind it
    to the first order, reject it (not new, same person, order too small), reverse it (cancelled,
    or refunded below the minimum), note the payment, start the return window once delivered."""
    referral = await store.referrals.of_friend(conn, shop, friend_id)
    if referral is None or referral["status"] != "PENDING":
        return  # after conversion the return window has passed: a late refund changes nothing
    orders = await store.people.friend_orders(conn, shop, friend_id)
    if _not_new(orders, referral["started_at"], referral["order_id"]):
        await _reject(conn, shop, referral, fraud.NOT_NEW)
        return
    if not orders:
        return
    order = orders[0]  # only the friend's first order counts
    if referral["order_id"] != order["order_id"]:
        if referral["order_id"] is not None and all(o["order_id"] != referral["order_id"] for o in orders):
            return  # bound without facts of its order (docs/operations.md, referrals 0003): wait for them
        # Not bound yet, or bound to an order whose events came first although it was recorded
        # later: the referral follows the first order, with nothing carried over from the other.
        if referral["convert_due"] is not None:
            await schedule.cancel(conn, shop=shop, kind=CONVERT_JOB, dedup_key_prefix=str(referral["id"]))
        await store.referrals.set_order(conn, shop, referral["id"], order["order_id"])
        referral = await store.referrals.of_friend(conn, shop, friend_id)
        if referral is None:
            return
    program = await program_of(conn, shop)
    # The order brings the address, card and device: check the friend is still someone else.
    rejection = fraud.identity_rejection(await _person(conn, shop, referral["referrer_id"]),
                                         await _person(conn, shop, friend_id),
                                         shared_address_rejects=program["shared_address_rejects"])
    if rejection:
        await _reject(conn, shop, referral, rejection)
        return
    if order["cancelled"] or order["fully_refunded"] \
            or (order["refunded_net"] is not None and order["refunded_net"] < program["minimum_order"]):
        await store.referrals.reverse(conn, shop, referral["id"])
        await outbox.add(conn, events.ReferralReversed(
            shop=shop, referral_id=str(referral["id"]), referrer_id=referral["referrer_id"],
            friend_id=referral["friend_id"], order_id=referral["order_id"],
        ), source=SOURCE)
        await schedule.cancel(conn, shop=shop, kind=CONVERT_JOB, dedup_key_prefix=str(referral["id"]))
        return
    if order["paid_net"] is not None:
        if order["paid_net"] < program["minimum_order"]:
            await _reject(conn, shop, referral, fraud.ORDER_TOO_SMALL)
            return
        if referral["convert_due"] is not None:
            # Delivery may have been seen first, and the conversion be backing off waiting for this
            # payment: due again at its time (a no-op while that is still ahead).
            await schedule.reschedule(conn, shop=shop, kind=CONVERT_JOB, dedup_key=_job_key(referral),
                                      due_at=max(referral["convert_due"], datetime.now(UTC)))
    if order["delivered"] and referral["convert_due"] is None:
        due = datetime.now(UTC) + timedelta(days=float(program["return_window_days"]))
        await store.referrals.set_convert_due(conn, shop, referral["id"], due)
        await schedule.schedule(conn, shop=shop, kind=CONVERT_JOB, dedup_key=_job_key(referral), due_at=due,
                                payload={"referral_id": str(referral["id"])})


async def _reject(conn: Connection, shop: str, referral: asyncpg.Record, reason: str) -> None:
    await store.referrals.reject(conn, shop, referral["id"], reason)
    await _rejected(conn, shop, referral, reason)
    # Delivery may have been seen before the payment that turned out too small.
    await schedule.cancel(conn, shop=shop, kind=CONVERT_JOB, dedup_key_prefix=str(referral["id"]))


async def convert_when_due(conn: Connection, job: Job) -> None:
    referral = await store.referrals.by_id(conn, job.shop, job.payload["referral_id"])
    if referral is None or referral["status"] != "PENDING":
        return
    order = next((o for o in await store.people.friend_orders(conn, job.shop, referral["friend_id"])
                  if o["order_id"] == referral["order_id"]), None)
    if order is not None and order["paid_net"] is not None:
        currency = order["currency"]
    elif referral["order_paid"]:  # noted on the referral itself (docs/operations.md, referrals 0003)
        currency = referral["currency"]
    else:
        raise RuntimeError("the first order is delivered but its payment is not recorded yet")
    await store.people.lock_referrer(conn, job.shop, referral["referrer_id"])
    program = await program_of(conn, job.shop)
    month = datetime.now(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    if await store.referrals.converted_count(conn, job.shop, referral["referrer_id"], since=month) \
            >= program["rewards_per_month"]:
        await store.referrals.reject(conn, job.shop, referral["id"], fraud.MONTHLY_CAP)
        await _rejected(conn, job.shop, referral, fraud.MONTHLY_CAP)
        return
    so_far = await store.referrals.converted_count(conn, job.shop, referral["referrer_id"])
    reward = reward_for(program, conversions_so_far=so_far)
    # The reward is in the currency of the friend's order.
    await store.referrals.convert(conn, job.shop, referral["id"], reward_kind=reward.kind, reward_amount=reward.amount,
                                  reward_points=reward.points, currency=currency)
    await outbox.add(conn, events.ReferralConverted(
        shop=job.shop, referral_id=str(referral["id"]), referrer_id=referral["referrer_id"],
        friend_id=referral["friend_id"], order_id=referral["order_id"], reward_kind=reward.kind,
        reward_amount=reward.amount, reward_points=reward.points, currency=currency,
    ), source=SOURCE)
