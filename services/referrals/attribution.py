"""Who referred whom, and when a referral converts, is rejected or reversed.

A referral starts when a friend signs up with a code (customer.registered) or orders with one
(order.placed). It follows the friend's FIRST order: paid at or above the minimum, delivered,
then after the return window it converts and the referrer is rewarded through
`referral.converted` (the points service books the credit or points). A refund or cancellation
inside the window reverses it. Events of one order can arrive out of order (the consumer handles
several at once), so every step tolerates a missing earlier one; handlers about one friend take
that friend's lock first (store.lock_friend), so they never interleave.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import asyncpg

from services.referrals import fraud, store
from services.referrals.program import reward_for
from shared import schedule
from shared.schedule import Job

log = logging.getLogger(__name__)

CONVERT_JOB = "referral.convert"


async def attribute(conn: asyncpg.Connection, shop: str, friend_id: str, code: str,
                    order_id: str | None = None) -> asyncpg.Record | None:
    """Open (or refuse) the referral of a friend; an existing one stays as it is."""
    existing = await store.referral_of_friend(conn, shop, friend_id)
    if existing is not None:
        return existing
    referrer = await store.referrer_by_code(conn, shop, code)
    if referrer is None:
        log.info("referral code %r of %s is unknown in shop %s; no referral", code, friend_id, shop)
        return None
    referrer_id = referrer["customer_id"]
    await store.lock_referrer(conn, shop, referrer_id)
    program = await store.program(conn, shop)
    referrer_facts, _ = await store.person(conn, shop, referrer_id)
    friend_facts, friend_orders = await store.person(conn, shop, friend_id)
    earlier_orders = [o for o in friend_orders if o != order_id]
    rejection = (
        fraud.identity_rejection(referrer_facts, friend_facts,
                                 shared_address_rejects=program["shared_address_rejects"])
        or (fraud.NOT_NEW if earlier_orders else None)
        or fraud.velocity_rejection(await store.signups_last_hour(conn, shop, referrer_id),
                                    program["signups_per_hour"])
    )
    row = await store.create(conn, shop, referrer_id=referrer_id, friend_id=friend_id,
                             code=code.strip().upper(), order_id=order_id, rejection=rejection)
    if row is None:  # another handler of the same friend got there first
        return await store.referral_of_friend(conn, shop, friend_id)
    if rejection is None:
        await store.issue_friend_offer(conn, shop, friend_id, row["id"], program["friend_discount_percent"])
    return row


async def on_first_order(conn: asyncpg.Connection, shop: str, *, friend_id: str, order_id: str,
                         referral_code: str | None, discount_codes: list[str], earlier_orders: list[str]) -> None:
    referral = await store.referral_of_friend(conn, shop, friend_id)
    if referral is None and referral_code:
        referral = await attribute(conn, shop, friend_id, referral_code, order_id)
    if referral is None or referral["status"] != "PENDING":
        return
    if referral["order_id"] is None:
        if earlier_orders:
            await store.reject(conn, shop, referral, fraud.NOT_NEW)
            return
        await store.set_order(conn, shop, referral["id"], order_id)
    elif referral["order_id"] != order_id:
        return  # a later order of the friend: only the first one counts
    # The order brings the address, card and device: check the friend is still someone else.
    program = await store.program(conn, shop)
    referrer_facts, _ = await store.person(conn, shop, referral["referrer_id"])
    friend_facts, _ = await store.person(conn, shop, friend_id)
    rejection = fraud.identity_rejection(referrer_facts, friend_facts,
                                         shared_address_rejects=program["shared_address_rejects"])
    if rejection:
        await store.reject(conn, shop, referral, rejection)
        return
    if discount_codes:
        await store.use_friend_offer(conn, shop, friend_id, discount_codes, order_id)
    await _schedule_if_delivered(conn, shop, friend_id)


async def on_paid(conn: asyncpg.Connection, shop: str, *, friend_id: str, order_id: str, net: Decimal,
                  currency: str, referral_code: str | None) -> None:
    referral = await store.referral_of_friend(conn, shop, friend_id)
    if referral is None and referral_code:  # order.placed not handled yet: attribute from the payment
        earlier = [o for o in (await store.person(conn, shop, friend_id))[1] if o != order_id]
        referral = await attribute(conn, shop, friend_id, referral_code, None if earlier else order_id)
    if referral is None or referral["status"] != "PENDING":
        return
    if referral["order_id"] is None:
        await store.set_order(conn, shop, referral["id"], order_id)
    elif referral["order_id"] != order_id:
        return
    program = await store.program(conn, shop)
    if net < program["minimum_order"]:
        await store.reject(conn, shop, referral, fraud.ORDER_TOO_SMALL)
        return
    await store.mark_paid(conn, shop, referral["id"], net, currency)
    if referral["convert_due"] is not None:
        # Delivery was seen first and the conversion may be backing off waiting for this payment.
        await schedule.reschedule(conn, shop=shop, kind=CONVERT_JOB, dedup_key=str(referral["id"]),
                                  due_at=max(referral["convert_due"], datetime.now(UTC)))
    else:
        await _schedule_if_delivered(conn, shop, friend_id)


async def on_delivered(conn: asyncpg.Connection, shop: str, *, friend_id: str, order_id: str) -> None:
    await store.remember_delivery(conn, shop, friend_id, order_id)
    await _schedule_if_delivered(conn, shop, friend_id)


async def _schedule_if_delivered(conn: asyncpg.Connection, shop: str, friend_id: str) -> None:
    """Start the return window once the referral's first order is known AND delivered, in whichever
    order those two facts arrived."""
    referral = await store.referral_of_friend(conn, shop, friend_id)
    if referral is None or referral["status"] != "PENDING" or referral["order_id"] is None \
            or referral["convert_due"] is not None:
        return
    if referral["order_id"] not in await store.delivered_orders(conn, shop, friend_id):
        return
    program = await store.program(conn, shop)
    due = datetime.now(UTC) + timedelta(days=float(program["return_window_days"]))
    await store.set_convert_due(conn, shop, referral["id"], due)
    await schedule.schedule(conn, shop=shop, kind=CONVERT_JOB, dedup_key=str(referral["id"]), due_at=due,
                            payload={"referral_id": str(referral["id"])})


async def on_refund_or_cancel(conn: asyncpg.Connection, shop: str, *, friend_id: str, order_id: str,
                              remaining_net: Decimal | None) -> None:
    """A cancellation, a full refund, or a partial one that leaves less than the minimum, inside
    the return window, reverses the referral. `remaining_net` is None for a cancellation."""
    referral = await store.referral_of_friend(conn, shop, friend_id)
    if referral is None or referral["status"] != "PENDING" or referral["order_id"] != order_id:
        return  # after conversion the return window has passed: a late refund changes nothing
    if remaining_net is not None:
        program = await store.program(conn, shop)
        if remaining_net >= program["minimum_order"]:
            return
    await store.reverse(conn, shop, referral)
    await schedule.cancel(conn, shop=shop, kind=CONVERT_JOB, dedup_key_prefix=str(referral["id"]))


async def convert_when_due(conn: asyncpg.Connection, job: Job) -> None:
    referral = await store.referral_by_id(conn, job.shop, job.payload["referral_id"])
    if referral is None or referral["status"] != "PENDING":
        return
    if not referral["order_paid"]:
        raise RuntimeError("the first order is delivered but its payment is not recorded yet")
    await store.lock_referrer(conn, job.shop, referral["referrer_id"])
    program = await store.program(conn, job.shop)
    if await store.converted_count(conn, job.shop, referral["referrer_id"], this_month=True) \
            >= program["rewards_per_month"]:
        await store.reject(conn, job.shop, referral, fraud.MONTHLY_CAP)
        return
    so_far = await store.converted_count(conn, job.shop, referral["referrer_id"], this_month=False)
    await store.convert(conn, job.shop, referral, reward_for(program, conversions_so_far=so_far))
