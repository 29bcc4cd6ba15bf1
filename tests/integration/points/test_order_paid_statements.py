"""What handling one order.paid costs in statements: the shop's program is read once and the
customer's account locked once, however many steps (earning, tier, punch card, challenges) need them."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from services.points.challenges import organising
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
