"""Events of one customer handled at once by several workers (each in its own transaction, on real
PostgreSQL, through the points handlers): every payment counts once, replays count nothing, refunds
racing their own payments end the same whichever commits first, and the completion pays once."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from services.points import consumers
from services.points.challenges import organising
from shared.db import create_pool
from shared.events import EventData, OrderPaid, OrderRefunded, new_envelope
from tests.integration.conftest import throwaway_database


async def test_racing_payments_replays_and_refunds_of_one_customer(settings):
    async with throwaway_database(settings, "points") as dsn:
        pool = await create_pool(dsn, max_size=20)
        try:
            await _race(pool)
        finally:
            await pool.close()


async def _race(pool) -> None:
    shop, anna = f"race-{uuid.uuid4().hex[:8]}", "anna"
    now = datetime.now(UTC)
    ch = await organising.launch(
        pool, shop, title="Four purchases", description=None, hashtag_=None, goal_event="ORDER_PAID", goal_count=4,
        goal_with_media=None, goal_hashtag=None, goal_measure=None, starts_at=now - timedelta(hours=1),
        ends_at=now + timedelta(days=1), audience=None, reward_points=40, badge="four", leaderboard_bonus=None,
        leaderboard_top=None, idempotency_key=None)
    await organising.join(pool, shop, ch["id"], anna)

    def paid(order_id: str) -> OrderPaid:
        return OrderPaid(shop=shop, order_id=order_id, customer_id=anna, currency="EUR", total=Decimal("10"),
                         net_amount=Decimal("10"), placed_at=now)

    def refunded(order_id: str) -> OrderRefunded:
        return OrderRefunded(shop=shop, order_id=order_id, customer_id=anna, currency="EUR", total=Decimal("10"),
                             net_amount=Decimal(0), placed_at=now, refunded_amount=Decimal("10"), fully_refunded=True)

    async def handle(data: EventData) -> None:
        envelope = new_envelope(data, source="test")  # a new event id each time: replays are new events
        async with pool.acquire() as conn, conn.transaction():
            await consumers.HANDLERS.dispatch(conn, envelope, data)

    orders = [f"o-{i}" for i in range(6)]
    # Six payments, each also replayed, and full refunds of two of them, all at once.
    await asyncio.gather(*(handle(paid(o)) for o in orders + orders),
                         *(handle(refunded(o)) for o in orders[:2]))
    await asyncio.gather(*(handle(refunded(o)) for o in orders[:2]))  # the refunds replayed
    row = await pool.fetchrow("SELECT * FROM challenge_progress WHERE shop_id = $1", shop)
    assert row["progress"] == 4 and row["completed_at"] is not None
    rewards = await pool.fetch("SELECT delta FROM ledger_entries WHERE shop_id = $1 AND customer_id = $2"
                               " AND starts_with(idempotency_key, 'challenge:')", shop, anna)
    # A refund committed after a completion reached with its order takes the completion back, and a
    # later payment completes again: whatever the order, the reward is held exactly once at the end.
    deltas = [r["delta"] for r in rewards]
    assert sum(deltas) == 40 and deltas.count(40) == deltas.count(-40) + 1, deltas
    assert await pool.fetchval(
        "SELECT count(*) FROM outbox WHERE shop_id = $1 AND type = 'challenge.completed'", shop) == deltas.count(40)
    counted = await pool.fetch("SELECT source_key, counted FROM challenge_counts WHERE shop_id = $1 ORDER BY 1",
                               shop)
    assert {r["source_key"]: r["counted"] for r in counted if r["counted"]} == {f"order:{o}": 1 for o in orders[2:]}
