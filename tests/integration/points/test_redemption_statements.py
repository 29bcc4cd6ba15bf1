"""What one redeemReward costs in statements: the points spent, the code issued and both announced,
and only the reads the reward's own limits need. Each statement is a round trip and a span in every
redemption (issue 21 measures redeemReward's p99 at a fixed rate)."""

from __future__ import annotations

import pytest

from services.points.loyalty import adjustment, configuration, redemption
from shared.errors import Conflict, Forbidden
from tests.integration.points.conftest import new_shop


def named(statements: list[str], *parts: str) -> list[str]:
    return [s for s in statements if all(p in s for p in parts)]


async def test_a_plain_reward_is_redeemed_in_sixteen_statements(points_pool, statements):
    shop, anna = new_shop(), "anna"
    await adjustment.adjust_points(points_pool, shop, anna, 1000, "to spend", "start")
    await redemption.redeem(points_pool, shop, anna, "r-5-off", "k-0")  # the shop's first one seeds its program
    async with statements.counted() as ran:
        done = await redemption.redeem(points_pool, shop, anna, "r-5-off", "k-1")
    assert done.redemption["points_spent"] == 200
    # Neither limits it: no count of the customer's redemptions, no tier (the spend over the period).
    assert named(ran, "count(*)", "FROM redemptions") == []
    assert named(ran, "FROM order_points") == []
    # The account exists: locked with one statement, no insert that does nothing.
    assert len(named(ran, "FROM accounts", "FOR UPDATE")) == 1 and named(ran, "INSERT INTO accounts") == []
    # The ledger entry goes in with its key (no look for the key first); the expiry reminder and the
    # lapse in one statement; the new offer is not read back after its insert.
    assert named(ran, "FROM ledger_entries") == []
    assert len(named(ran, "INSERT INTO scheduled_jobs")) == 1
    assert len(named(ran, "FROM offers")) == 1  # the look for its key, before the insert
    assert len(ran) == 16, "\n".join(ran)


async def test_a_reward_limited_by_tier_and_per_customer_reads_both_and_refuses_a_lower_tier(
        points_pool, statements):
    shop, anna = new_shop(), "anna"
    await adjustment.adjust_points(points_pool, shop, anna, 1000, "to spend", "start")
    await configuration.upsert_reward(points_pool, shop, id="r-gold", name="Gold only", kind="FREE_PRODUCT",
                                      points_cost=100, value=None, min_tier="Gold", limit_per_customer=None,
                                      limit_total=None, active=None)
    await configuration.upsert_reward(points_pool, shop, id="r-twice", name="Twice", kind="FREE_PRODUCT",
                                      points_cost=100, value=None, min_tier=None, limit_per_customer=2,
                                      limit_total=None, active=None)
    async with statements.counted() as ran:
        with pytest.raises(Forbidden):
            await redemption.redeem(points_pool, shop, anna, "r-gold", "k-1")
    assert len(named(ran, "FROM order_points")) >= 1  # the tier needs the spend
    async with statements.counted() as ran:
        await redemption.redeem(points_pool, shop, anna, "r-twice", "k-2")
    assert len(named(ran, "count(*)", "FROM redemptions")) == 1
    await redemption.redeem(points_pool, shop, anna, "r-twice", "k-3")
    with pytest.raises(Conflict, match="as often as allowed"):
        await redemption.redeem(points_pool, shop, anna, "r-twice", "k-4")
    balance = await points_pool.fetchval("SELECT balance FROM accounts WHERE shop_id = $1 AND customer_id = $2",
                                         shop, anna)
    assert balance == 800
