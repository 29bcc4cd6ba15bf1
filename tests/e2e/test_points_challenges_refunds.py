"""Refunds and cancellations take back challenge progress, through the gateway and the real bus, each
test in a shop of its own: a COUNT goal loses a fully refunded or cancelled order, a SPEND goal the
whole units no longer left of it; a completion the progress no longer reaches is taken back through
the ledger (and paid again under a new key when reached again); replays and late refunds take nothing
more; a refund before its payment leaves the payment counting nothing; streak weeks stay."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from shared import events
from tests.e2e.challenges_support import join, launch, paid, progress, send, state
from tests.e2e.points_support import Shop, assert_ledger_invariant, new_shop
from tests.stack import db
from tests.support import eventually


def refunded(shop: Shop, order: events.OrderPaid, left: str, *, fully: bool = False) -> events.OrderRefunded:
    """The refund event the customers service sends: the net amount left and the cumulative refund."""
    return events.OrderRefunded(shop=shop.id, order_id=order.order_id, customer_id=order.customer_id,
                                currency=order.currency, total=order.total, net_amount=Decimal(left),
                                placed_at=order.placed_at, refunded_amount=order.net_amount - Decimal(left),
                                fully_refunded=fully)


def cancelled(shop: Shop, order: events.OrderPaid) -> events.OrderCancelled:
    return events.OrderCancelled(shop=shop.id, order_id=order.order_id, customer_id=order.customer_id,
                                 currency=order.currency, total=order.total, net_amount=order.net_amount,
                                 placed_at=order.placed_at)


async def challenge_rewards(shop: Shop, customer_id: str, challenge_id: str) -> list[tuple[str, int]]:
    conn = await db("points")
    try:
        rows = await conn.fetch(
            """SELECT kind, delta FROM ledger_entries WHERE shop_id = $1 AND customer_id = $2
                 AND starts_with(idempotency_key, $3) ORDER BY id""",
            shop.id, customer_id, f"challenge:{challenge_id}:")
    finally:
        await conn.close()
    return [(r["kind"], r["delta"]) for r in rows]


async def now_at(shop: Shop, customer_id: str, challenge_id: str) -> tuple[int, bool]:
    got = await progress(shop, customer_id, challenge_id)
    return got["progress"], got["completed"]


async def test_a_refunded_order_leaves_a_count_goal_and_takes_the_completion_back_once(gql):
    shop = await new_shop(gql)
    ch = await launch(shop, goal={"event": "ORDER_PAID", "count": 2}, rewardPoints=50, badge="two-orders")
    anna = await shop.new_customer()
    await join(shop, ch["id"], anna)
    # Real orders through the gateway: customers publishes order.paid / order.refunded.
    first = await shop.order(anna, "PAID")
    second = await shop.order(anna, "PAID")

    async def at(n: int, done: bool):
        return await now_at(shop, anna, ch["id"]) == (n, done)
    await eventually(lambda: at(2, True), what="completion")
    assert await challenge_rewards(shop, anna, ch["id"]) == [("earn", 50)]
    await shop.status(second["id"], "REFUNDED", "10.00")  # partly refunded: still an order
    await shop.until(anna, "the partial refund's points", pending=80)
    assert await now_at(shop, anna, ch["id"]) == (2, True)
    await shop.status(first["id"], "REFUNDED", first["total"])  # fully refunded: the order no longer counts
    await eventually(lambda: at(1, False), what="progress and completion taken back")
    assert await challenge_rewards(shop, anna, ch["id"]) == [("earn", 50), ("reverse", -50)]
    mine = await state(shop, anna)
    assert "two-orders" not in {b["name"] for b in mine["badges"]}
    assert mine["streak"]["current"] == 1  # the refunded purchase keeps its week
    await shop.until(anna, "the reward reversed", balance=0)

    replay = events.OrderRefunded(shop=shop.id, order_id=first["id"], customer_id=anna, currency="EUR",
                                  total=Decimal(first["total"]), net_amount=Decimal(0),
                                  placed_at=datetime.fromisoformat(first["placedAt"]),
                                  refunded_amount=Decimal(first["total"]), fully_refunded=True)
    await send(replay)  # the same refund again, under a new event id
    await send(cancelled(shop, paid(shop, anna, first["id"])))  # and a cancellation of it: nothing more
    assert await now_at(shop, anna, ch["id"]) == (1, False)
    assert await challenge_rewards(shop, anna, ch["id"]) == [("earn", 50), ("reverse", -50)]

    await shop.order(anna, "PAID")  # completed again: rewarded again, once
    await eventually(lambda: at(2, True), what="completed again")
    assert await challenge_rewards(shop, anna, ch["id"]) == [("earn", 50), ("reverse", -50), ("earn", 50)]
    assert "two-orders" in {b["name"] for b in (await state(shop, anna))["badges"]}
    await assert_ledger_invariant(shop.id, anna)


async def test_a_spend_goal_loses_exactly_the_whole_units_no_longer_left(gql):
    shop = await new_shop(gql)
    ch = await launch(shop, goal={"event": "ORDER_PAID", "count": 30, "measure": "SPEND"}, rewardPoints=20,
                      badge=None)
    anna = await shop.new_customer()
    await join(shop, ch["id"], anna)
    order = paid(shop, anna).model_copy(update={"net_amount": Decimal("12.99"), "total": Decimal("12.99")})
    await send(order)
    await send(paid(shop, anna).model_copy(update={"net_amount": Decimal("20.00"), "total": Decimal("20.00")}))
    assert await now_at(shop, anna, ch["id"]) == (32, True)
    await send(refunded(shop, order, "12.49"))  # 0.50 back: 12.49 is still 12 whole units
    assert await now_at(shop, anna, ch["id"]) == (32, True)
    await send(refunded(shop, order, "11.99"))  # 1.00 back in all: 11 units, 31 still completes
    assert await now_at(shop, anna, ch["id"]) == (31, True)
    await send(refunded(shop, order, "9.99"))  # 3.00 back: 9 units, 29 is below the goal
    assert await now_at(shop, anna, ch["id"]) == (29, False)
    assert await challenge_rewards(shop, anna, ch["id"]) == [("earn", 20), ("reverse", -20)]
    await send(refunded(shop, order, "9.99"))  # a replay
    await send(refunded(shop, order, "12.49"))  # an older refund arriving late
    assert await now_at(shop, anna, ch["id"]) == (29, False)
    await send(refunded(shop, order, "0", fully=True))
    assert await now_at(shop, anna, ch["id"]) == (20, False)
    assert await challenge_rewards(shop, anna, ch["id"]) == [("earn", 20), ("reverse", -20)]
    await assert_ledger_invariant(shop.id, anna)


async def test_a_refund_or_cancellation_before_the_payment_leaves_it_counting_nothing(gql):
    shop = await new_shop(gql)
    ch = await launch(shop, goal={"event": "ORDER_PAID", "count": 1}, rewardPoints=10)
    anna = await shop.new_customer()
    await join(shop, ch["id"], anna)
    gone, back = paid(shop, anna), paid(shop, anna)
    await send(cancelled(shop, gone))
    await send(refunded(shop, back, "0", fully=True))
    await send(gone)
    await send(back)
    assert await now_at(shop, anna, ch["id"]) == (0, False)
    assert await challenge_rewards(shop, anna, ch["id"]) == []
    await send(paid(shop, anna))  # an order that stays does count
    assert await now_at(shop, anna, ch["id"]) == (1, True)


async def test_a_refund_of_an_order_the_challenge_never_counted_changes_nothing(gql):
    shop = await new_shop(gql)
    anna = await shop.new_customer()
    before_join = paid(shop, anna)
    await send(before_join)  # paid before the challenge and the join
    ch = await launch(shop, goal={"event": "ORDER_PAID", "count": 1}, rewardPoints=10)
    await join(shop, ch["id"], anna)
    counted = paid(shop, anna)
    await send(counted)
    assert await now_at(shop, anna, ch["id"]) == (1, True)
    await send(refunded(shop, before_join, "0", fully=True))
    assert await now_at(shop, anna, ch["id"]) == (1, True)
    assert await challenge_rewards(shop, anna, ch["id"]) == [("earn", 10)]
