"""The reviews service's transactions against real Postgres (a throwaway database): requests due
after a delay given in seconds, run by the real scheduler; counters exact under concurrent writers."""

from __future__ import annotations

import asyncio
import random
import uuid
from datetime import UTC, datetime

import pytest

from services.reviews import reviewing, store, submissions
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


async def test_a_request_waits_for_its_delay_in_seconds_then_goes_out_once(reviews_pool, monkeypatch):
    monkeypatch.setenv("REVIEW_REQUEST_DELAY_SECONDS", "1.5")
    customer, product, order = f"c-{uuid.uuid4().hex[:8]}", "p-delay", "o-1"
    async with reviews_pool.acquire() as conn, conn.transaction():
        await store.record_purchases(conn, SHOP, customer, order, [product], datetime.now(UTC))
        await reviewing.request_reviews(conn, SHOP, customer, order, [product], datetime.now(UTC))
    scheduler = Scheduler(reviews_pool, JOBS)
    assert not await scheduler.run_one()  # not due yet
    await asyncio.sleep(1.6)
    assert await scheduler.run_one()
    assert not await scheduler.run_one()
    sent = await reviews_pool.fetch(
        "SELECT envelope FROM outbox WHERE type = 'review.requested' AND envelope->'data'->>'customer_id' = $1",
        customer)
    assert [r["envelope"]["data"]["product_id"] for r in sent] == [product]
    [request] = await store.pending_requests(reviews_pool, SHOP, customer)
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
