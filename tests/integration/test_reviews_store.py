"""The reviews service's transactions against real Postgres (a throwaway database): requests due the
shop's delay after the delivery, run by the real scheduler; counters exact under concurrent writers;
settings versions; incentivized only when rewarded; a full refund un-verifies."""

from __future__ import annotations

import asyncio
import random
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from services.reviews import requests, reviewing, store, submissions
from services.reviews.jobs import JOBS
from shared.db import create_pool
from shared.schedule import Scheduler
from tests.integration.conftest import throwaway_database

SHOP = "s1"


@pytest.fixture(scope="module")
async def reviews_pool(settings):
    async with throwaway_database(settings, "reviews") as dsn:
        pool = await create_pool(dsn, max_size=12)
        yield pool
        await pool.close()


def draft(product: str, rating: int) -> submissions.Draft:
    return submissions.draft(product_id=product, rating=rating, title=None, body="Solid mug, nice glaze, good size.",
                             media_urls=None, order_id=None, hashtags=None, challenge_id=None)


async def test_a_request_waits_for_the_shops_delay_after_the_delivery_then_goes_out_once(reviews_pool):
    shop = f"s-{uuid.uuid4().hex[:8]}"
    configured = await reviewing.configure(reviews_pool, shop, request_delay_days="0.01", media_hosts=None)
    assert (configured.version, configured.request_delay) == (1, timedelta(seconds=864))
    customer, product, order = f"c-{uuid.uuid4().hex[:8]}", "p-delay", "o-1"
    # Delivered 864 - 4 s ago (handled now): due 4 s from now, counted from the delivery.
    delivered = datetime.now(UTC) - timedelta(seconds=864 - 4)
    async with reviews_pool.acquire() as conn, conn.transaction():
        await store.record_purchases(conn, shop, customer, order, [product], delivered)
        await reviewing.request_reviews(conn, shop, customer, order, [product], delivered)
    due = await reviews_pool.fetchval("SELECT due_at FROM scheduled_jobs WHERE shop_id = $1 AND dedup_key = $2",
                                      shop, requests.job_key(customer, product))
    assert due == delivered + timedelta(seconds=864)
    scheduler = Scheduler(reviews_pool, JOBS)
    assert not await scheduler.run_one()  # not due yet (4 s of margin for a loaded machine)
    await asyncio.sleep(max((due - datetime.now(UTC)).total_seconds(), 0) + 0.1)  # until it is due, not a guess
    assert await scheduler.run_one()
    assert not await scheduler.run_one()
    sent = await reviews_pool.fetch(
        "SELECT envelope FROM outbox WHERE type = 'review.requested' AND envelope->'data'->>'customer_id' = $1",
        customer)
    assert [r["envelope"]["data"]["product_id"] for r in sent] == [product]
    [request] = await store.pending_requests(reviews_pool, shop, customer)
    assert request["requested_at"] is not None


async def test_counters_match_a_recount_after_many_concurrent_writers(reviews_pool):
    product, rng = "p-busy", random.Random(7)
    async with reviews_pool.acquire() as conn, conn.transaction():
        await store.record_purchases(conn, SHOP, "buyer", "o-busy", [product], None)
    customers = [f"c{i}" for i in range(16)]
    rows = await asyncio.gather(*(reviewing.submit(reviews_pool, SHOP, c, draft(product, rng.randint(1, 5)))
                                  for c in customers))
    review_ids = [str(r["id"]) for r in rows]

    async def random_writer(i: int) -> None:
        for _ in range(6):
            action = rng.choice(("approve", "reject", "edit"))
            if action == "edit":
                await reviewing.submit(reviews_pool, SHOP, customers[i], draft(product, rng.randint(1, 5)))
            else:
                await reviewing.moderate(reviews_pool, SHOP, review_ids[i], action.upper(), None)

    # Two writers per review at once, plus a third that approves everything, all racing.
    await asyncio.gather(*(random_writer(i) for i in range(16) for _ in range(2)),
                         *(reviewing.moderate(reviews_pool, SHOP, rid, "APPROVE", None) for rid in review_ids))
    counters = await store.product(reviews_pool, SHOP, product)
    recount = await reviews_pool.fetch(
        "SELECT rating, count(*) AS n FROM reviews WHERE shop_id = $1 AND product_id = $2 AND status = 'PUBLISHED' "
        "GROUP BY rating", SHOP, product)
    expected = {r["rating"]: r["n"] for r in recount}
    assert [counters[f"r{s}"] for s in range(1, 6)] == [expected.get(s, 0) for s in range(1, 6)]


async def test_a_cancellation_handled_before_the_order_still_counts(reviews_pool):
    """The consumer may handle an order's cancellation before its placing (several messages at
    once, retries later): the purchases the placing records then make no verified buyer."""
    customer = f"c-{uuid.uuid4().hex[:8]}"
    async with reviews_pool.acquire() as conn, conn.transaction():
        await store.cancel_purchases(conn, SHOP, f"{customer}-o1")
        await store.record_purchases(conn, SHOP, customer, f"{customer}-o1", ["p-late"], delivered_at=None)
        await store.record_purchases(conn, SHOP, customer, f"{customer}-o1", ["p-late"], datetime.now(UTC))
        assert not await store.bought(conn, SHOP, customer, "p-late")
        await store.record_purchases(conn, SHOP, customer, f"{customer}-o2", ["p-late"], delivered_at=None)
        assert await store.bought(conn, SHOP, customer, "p-late")
        assert not await store.bought(conn, SHOP, customer, "p-late", f"{customer}-o1")


async def test_settings_changes_are_versions_and_two_admins_at_once_make_two(reviews_pool):
    shop = f"s-{uuid.uuid4().hex[:8]}"
    assert (await reviewing.settings_of(reviews_pool, shop)).version == 0
    await asyncio.gather(reviewing.configure(reviews_pool, shop, request_delay_days="5", media_hosts=None),
                         reviewing.configure(reviews_pool, shop, request_delay_days=None,
                                             media_hosts=["cdn.x.example"]))
    latest = await reviewing.settings_of(reviews_pool, shop)
    assert (latest.version, latest.request_delay_days, latest.media_hosts) == (2, 5, ("cdn.x.example",))
    assert await reviews_pool.fetchval("SELECT count(*) FROM review_settings WHERE shop_id = $1", shop) == 2


async def test_a_review_is_incentivized_only_once_its_reward_is_granted(reviews_pool):
    """Issue 19, item 6: publishing alone does not mark a review incentivized; review.rewarded does."""
    shop, customer, product = f"s-{uuid.uuid4().hex[:8]}", "c-paid", "p-reward"
    async with reviews_pool.acquire() as conn, conn.transaction():
        await store.record_purchases(conn, shop, customer, "o-r", [product], None)
    row = await reviewing.submit(reviews_pool, shop, customer, draft(product, 5))
    published = await reviewing.moderate(reviews_pool, shop, str(row["id"]), "APPROVE", None)
    assert (published["status"], published["incentivized"]) == ("PUBLISHED", False)
    async with reviews_pool.acquire() as conn, conn.transaction():
        await reviewing.record_reward(conn, shop, str(row["id"]))
    again = await reviewing.submit(reviews_pool, shop, customer, draft(product, 4))  # an edit keeps it
    assert again["incentivized"] is True


async def test_a_full_refund_unverifies_the_buyer_and_their_review(reviews_pool):
    """Issue 19, item 6: a fully refunded order no longer makes a verified buyer (a cancellation neither)."""
    shop, customer, product = f"s-{uuid.uuid4().hex[:8]}", "c-refund", "p-refund"
    async with reviews_pool.acquire() as conn, conn.transaction():
        await store.record_purchases(conn, shop, customer, "o-1", [product], None)
    row = await reviewing.submit(reviews_pool, shop, customer, draft(product, 5))
    assert row["verified_buyer"] is True
    async with reviews_pool.acquire() as conn, conn.transaction():
        await reviewing.record_cancellation(conn, shop, "o-1")  # what order.refunded (fully) calls
    assert (await store.review(reviews_pool, shop, row["id"]))["verified_buyer"] is False
    assert (await reviewing.submit(reviews_pool, shop, customer, draft(product, 4)))["verified_buyer"] is False
