"""The review use cases: each runs in one transaction that also writes its events to the outbox.

Lock order, everywhere: the product row, then the review row. Every change to a review's status
or rating moves the product's counters by the difference it makes, under that lock.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import asyncpg

from services.reviews import moderation, ratings, requests, store, submissions
from services.reviews import settings as review_settings
from services.reviews.settings import ReviewSettings
from services.reviews.submissions import Draft
from shared import events, outbox, schedule
from shared.db import Connection, transaction
from shared.errors import BadUserInput, Forbidden, NotFound

SOURCE = "reviews"
REQUEST_JOB = "review.request"  # a D+7 review request falling due (registered in jobs.py)


def review_uuid(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except ValueError as exc:
        raise NotFound("no such review") from exc


def _event_fields(shop: str, row: asyncpg.Record) -> dict[str, Any]:
    return dict(shop=shop, review_id=str(row["id"]), customer_id=row["customer_id"], product_id=row["product_id"],
                rating=row["rating"], has_media=bool(row["media_urls"]))


async def _move(conn: Connection, shop: str, before: asyncpg.Record | None, after: asyncpg.Record) -> None:
    old = ratings.contribution(before["status"], before["rating"]) if before else ratings.EMPTY
    new = ratings.contribution(after["status"], after["rating"])
    await store.move_counters(conn, shop, after["product_id"], ratings.change(old, new))


async def settings_of(conn: asyncpg.Pool | Connection, shop: str) -> ReviewSettings:
    """The shop's review settings in force (the defaults until a first change)."""
    row = await store.settings(conn, shop)
    return review_settings.DEFAULT if row is None else ReviewSettings.from_json(row["version"], row["settings"])


async def configure(pool: asyncpg.Pool, shop: str, *, request_delay_days: str | None,
                    media_hosts: list[str] | None) -> ReviewSettings:
    """configureReviews: a new settings version (the fields sent, the others kept). Requests already
    scheduled keep their due time; deliveries handled from now on use the new delay."""
    async with transaction(pool) as conn:
        await store.lock_settings(conn, shop)
        nxt = review_settings.changed(await settings_of(conn, shop), request_delay_days=request_delay_days,
                                      media_hosts=media_hosts)
        await store.add_settings(conn, shop, nxt.version, nxt.to_json(), actor="admin")
        return nxt


async def submit(pool: asyncpg.Pool, shop: str, customer_id: str, draft: Draft) -> asyncpg.Record:
    """Create or replace the customer's review of a product; it goes (back) to moderation."""
    verdict = moderation.review(draft.title, draft.body)
    async with transaction(pool) as conn:
        submissions.check_media(draft.media_urls, (await settings_of(conn, shop)).media_hosts)
        if await store.lock_product(conn, shop, draft.product_id) is None:
            # Products are known from the shop's orders: an id never sold is a typo or spam.
            raise NotFound("no such product in this shop", field="productId")
        if draft.order_id is not None and not await store.bought(conn, shop, customer_id, draft.product_id,
                                                                 draft.order_id):
            raise BadUserInput("that order of yours does not contain this product", field="orderId")
        verified = await store.bought(conn, shop, customer_id, draft.product_id)
        before = await store.review_of(conn, shop, customer_id, draft.product_id, lock=True)
        row = await store.save_review(
            conn, shop, customer_id, draft.product_id, order_id=draft.order_id, rating=draft.rating,
            title=draft.title, body=draft.body, media_urls=draft.media_urls, hashtags=draft.hashtags,
            challenge_id=draft.challenge_id, status=verdict.status, reason=verdict.reason, verified=verified)
        await _move(conn, shop, before, row)
        await schedule.cancel(conn, shop=shop, kind=REQUEST_JOB,
                              dedup_key_prefix=requests.job_key(customer_id, draft.product_id))
        await store.close_request(conn, shop, customer_id, draft.product_id)
        await outbox.add(conn, events.ReviewSubmitted(**_event_fields(shop, row)), source=SOURCE)
        if verdict.status == "REJECTED":
            await outbox.add(conn, events.ReviewRejected(**_event_fields(shop, row), reason=verdict.reason or ""),
                             source=SOURCE)
        return row


async def moderate(pool: asyncpg.Pool, shop: str, review_id: str, decision: str,
                   reason: str | None) -> asyncpg.Record:
    rid = review_uuid(review_id)
    async with transaction(pool) as conn:
        found = await store.review(conn, shop, rid)
        if found is None or found["erased_at"] is not None:
            raise NotFound("no such review")
        await store.lock_product(conn, shop, found["product_id"])
        before = await store.review(conn, shop, rid, lock=True)
        if before is None:
            raise NotFound("no such review")
        status = "PUBLISHED" if decision == "APPROVE" else "REJECTED"
        if status == before["status"] and (status == "PUBLISHED" or reason in (None, before["rejection_reason"])):
            return before  # a repeated decision changes nothing and announces nothing
        row = await store.set_status(conn, shop, rid, status, None if status == "PUBLISHED" else
                                     (reason or "REJECTED_BY_MODERATOR"))
        await _move(conn, shop, before, row)
        if status == "PUBLISHED":
            await outbox.add(conn, events.ReviewPublished(**_event_fields(shop, row),
                                                          verified_buyer=row["verified_buyer"]), source=SOURCE)
            if not row["ugc_sent"] and row["media_urls"] and (row["hashtags"] or row["challenge_id"]):
                # Only moderated photos count for challenges: unmoderated spam must not win rewards.
                await outbox.add(conn, events.UgcSubmitted(
                    shop=shop, review_id=str(row["id"]), customer_id=row["customer_id"],
                    product_id=row["product_id"], media_count=len(row["media_urls"]),
                    hashtags=list(row["hashtags"]), challenge_id=row["challenge_id"],
                ), source=SOURCE)
                row = await store.mark_ugc_sent(conn, shop, rid)
        else:
            await outbox.add(conn, events.ReviewRejected(**_event_fields(shop, row), reason=row["rejection_reason"]),
                             source=SOURCE)
        return row


async def reply(pool: asyncpg.Pool, shop: str, review_id: str, body: str) -> asyncpg.Record:
    rid = review_uuid(review_id)
    async with transaction(pool) as conn:
        row = await store.set_reply(conn, shop, rid, body)
        if row is None:
            raise NotFound("no such review")
        return row


async def vote_helpful(pool: asyncpg.Pool, shop: str, customer_id: str, review_id: str) -> asyncpg.Record:
    rid = review_uuid(review_id)
    async with transaction(pool) as conn:
        row = await store.review(conn, shop, rid)
        if row is None or row["status"] != "PUBLISHED" or row["erased_at"] is not None:
            raise NotFound("no such published review")
        if row["customer_id"] == customer_id:
            raise Forbidden("you cannot vote for your own review")
        return await store.add_vote(conn, shop, rid, customer_id)


# ---- purchases and D+7 requests (in the consumer's or the job's transaction) -------------------


async def record_order(conn: Connection, shop: str, customer_id: str, order_id: str, product_ids: list[str]) -> None:
    """A placed order makes its products known in the shop and the customer their verified buyer."""
    await store.record_purchases(conn, shop, customer_id, order_id, product_ids, delivered_at=None)


async def record_delivery(conn: Connection, shop: str, customer_id: str, order_id: str, product_ids: list[str],
                          delivered_at: datetime) -> None:
    await store.record_purchases(conn, shop, customer_id, order_id, product_ids, delivered_at=delivered_at)
    await request_reviews(conn, shop, customer_id, order_id, product_ids, delivered_at)


async def record_cancellation(conn: Connection, shop: str, order_id: str) -> None:
    """A cancelled or fully refunded order no longer makes a verified buyer (nor does its placing,
    handled later): the customer has not kept the product."""
    await store.cancel_purchases(conn, shop, order_id)


async def record_reward(conn: Connection, shop: str, review_id: str) -> None:
    """The points service granted the review's reward (review.rewarded): the review is incentivized."""
    try:
        rid = uuid.UUID(review_id)
    except ValueError:
        return
    await store.mark_incentivized(conn, shop, rid)


async def request_reviews(conn: Connection, shop: str, customer_id: str, order_id: str,
                          product_ids: list[str], delivered_at: datetime) -> None:
    """Schedule a request for each delivered product the customer has not reviewed yet, due the shop's
    delay (D+7 by default) after the delivery happened."""
    due = requests.due_at(delivered_at, (await settings_of(conn, shop)).request_delay)
    for product_id in sorted(set(product_ids)):  # sorted: product locks always taken in one order
        await store.lock_product(conn, shop, product_id)  # a concurrent submitReview waits or wins
        if await store.review_of(conn, shop, customer_id, product_id) is not None:
            continue
        if await store.add_request(conn, shop, customer_id, product_id, order_id, delivered_at, due):
            await schedule.schedule(conn, shop=shop, kind=REQUEST_JOB,
                                    dedup_key=requests.job_key(customer_id, product_id), due_at=due,
                                    payload={"customer_id": customer_id, "product_id": product_id,
                                             "order_id": order_id})


async def send_request(conn: Connection, job: schedule.Job) -> None:
    customer_id, product_id = job.payload["customer_id"], job.payload["product_id"]
    request = await store.request_for_update(conn, job.shop, customer_id, product_id)
    if request is None or request["requested_at"] is not None:
        return  # reviewed (or the person erased) since it was scheduled
    if await store.review_of(conn, job.shop, customer_id, product_id) is not None:
        await store.close_request(conn, job.shop, customer_id, product_id)
        return
    await store.mark_requested(conn, job.shop, customer_id, product_id)
    await outbox.add(conn, events.ReviewRequested(shop=job.shop, customer_id=customer_id, product_id=product_id,
                                                  order_id=request["order_id"]), source=SOURCE)


async def erase(conn: Connection, shop: str, customer_id: str) -> None:
    prefix = requests.customer_prefix(customer_id)
    await schedule.cancel(conn, shop=shop, kind=REQUEST_JOB, dedup_key_prefix=prefix)
    await schedule.forget_cancelled(conn, shop=shop, kind=REQUEST_JOB, dedup_key_prefix=prefix)
    await store.erase_customer(conn, shop, customer_id)
