"""What handling one order.paid costs in statements: the shop's program is read once and the
customer's account locked once, however many steps (earning, tier, punch card, challenges) need them."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from services.points import consumers
from services.points.challenges import organising
from shared.events import OrderRefunded, new_envelope
from shared.inbox import Delivered, handle_batch
from tests.integration.points.conftest import handle, new_shop, paid

PROGRAM_READ = re.compile(r"\bFROM programs\b")


def program_reads(statements: list[str]) -> list[str]:
    return [s for s in statements if PROGRAM_READ.search(s)]


def account_locks(statements: list[str]) -> list[str]:
    return [s for s in statements if "FROM accounts" in s and "FOR UPDATE" in s]


async def test_one_paid_order_reads_the_program_once_and_locks_the_account_once(points_pool, statements):
    shop, anna = new_shop(), "anna"
    now = datetime.now(UTC)
    challenge = await organising.launch(
        points_pool, shop, title="Five purchases", description=None, hashtag_=None, goal_event="ORDER_PAID",
        goal_count=5, goal_with_media=None, goal_hashtag=None, goal_measure=None, starts_at=now - timedelta(hours=1),
        ends_at=now + timedelta(days=1), audience=None, reward_points=50, badge=None, leaderboard_bonus=None,
        leaderboard_top=None, idempotency_key=None)
    await organising.join(points_pool, shop, challenge["id"], anna)
    # The first payment is the shop's first write (it seeds the program), the third unlocks the punch
    # card; each also moves the challenge (which takes the account lock too) and refreshes the tier.
    for order_id in ("o-1", "o-2", "o-3"):
        async with statements.counted() as ran:
            await handle(points_pool, paid(shop, anna, order_id))
        assert len(program_reads(ran)) == 1, program_reads(ran)
        assert len(account_locks(ran)) == 1, account_locks(ran)
    account = await points_pool.fetchrow("SELECT * FROM accounts WHERE shop_id = $1 AND customer_id = $2", shop, anna)
    assert (account["pending"], account["tier"]) == (30, "Bronze")
    progress = await points_pool.fetchval(
        "SELECT progress FROM challenge_progress WHERE shop_id = $1 AND customer_id = $2", shop, anna)
    assert progress == 3
    assert await points_pool.fetchval(
        "SELECT count(*) FROM redemptions WHERE shop_id = $1 AND reward_id = 'punch-card'", shop) == 1


async def test_a_batch_of_paid_orders_reads_the_program_once_and_locks_each_account_once(points_pool, statements):
    """The batch shares its transaction's memo (shared/inbox.py): a shop's program is read once for the
    batch and each customer's account locked once, whichever event comes first; every event still
    earns, and a failing one (an unknown currency's refund before its payment) leaves the rest."""
    shop, customers = new_shop(), ["anna", "ben", "cleo"]
    await handle(points_pool, paid(shop, "seed", "o-seed"))  # the shop's first write seeds the program
    events = [paid(shop, customers[i % 3], f"o-{i}") for i in range(9)]
    early_refund = OrderRefunded(shop=shop, order_id="o-never-paid", customer_id="ben", currency="EUR",
                                 total=Decimal("10"), net_amount=Decimal(0), placed_at=datetime.now(UTC),
                                 refunded_amount=Decimal("5"), fully_refunded=False)
    batch = [Delivered(new_envelope(e, source="test"), e, consumers.HANDLERS.dispatch)
             for e in [*events[:4], early_refund, *events[4:]]]
    async with statements.counted() as ran:
        outcomes = await handle_batch(points_pool, "points", batch)
    assert [o.applied for o in outcomes] == [True] * 4 + [False] + [True] * 5
    assert isinstance(outcomes[4].error, LookupError)  # retried alone; the batch committed
    assert len(program_reads(ran)) == 1, program_reads(ran)
    assert len(account_locks(ran)) == 3, account_locks(ran)  # anna, ben, cleo: once each
    pending = await points_pool.fetch("SELECT customer_id, pending FROM accounts WHERE shop_id = $1 AND"
                                      " customer_id = ANY($2::text[]) ORDER BY 1", shop, customers)
    assert [(r["customer_id"], r["pending"]) for r in pending] == [("anna", 30), ("ben", 30), ("cleo", 30)]
