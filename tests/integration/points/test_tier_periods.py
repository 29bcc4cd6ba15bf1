"""Tier periods on real SQL (issue 19, item 1): a customer who still qualifies at the end of the
period the tier is held for starts a new one, so a dip in rolling spend afterwards does not
downgrade them at once; one who does not qualify then goes down. The spend at the period's end is
read from the ledger's orders (store.orders.qualifying_spend up to that end)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from services.points.loyalty import accounts, configuration, tiering
from shared.db import transaction
from tests.integration.points.conftest import new_shop

DAY = timedelta(days=1)


async def seed(pool, shop: str, customer_id: str, reached: datetime, orders: list[tuple[datetime, int]]) -> None:
    """An account holding Gold since `reached`, and paid orders (when, net amount) in the ledger's table."""
    async with transaction(pool) as conn:
        await configuration.seeded(conn, shop)
        await conn.execute("""INSERT INTO accounts (shop_id, customer_id, tier, tier_since, announced_tier)
                              VALUES ($1, $2, 'Gold', $3, 'Gold')""", shop, customer_id, reached)
        for i, (paid_at, net) in enumerate(orders):
            await conn.execute(
                """INSERT INTO order_points (shop_id, order_id, customer_id, currency, net_amount, earn_rate,
                       multiplier, rule_version, earned, status, paid_at, base_currency, fx_rate)
                   VALUES ($1, $2, $3, 'EUR', $4, 1, 1, 1, $5, 'AVAILABLE', $6, 'EUR', 1)""",
                shop, f"{customer_id}-o{i}", customer_id, Decimal(net), net, paid_at)


async def tier_of(pool, shop: str, customer_id: str) -> tuple[str, datetime]:
    async with transaction(pool) as conn:
        await tiering.refresh(conn, shop, customer_id, await configuration.seeded(conn, shop))
    row = await pool.fetchrow("SELECT tier, tier_since FROM accounts WHERE shop_id = $1 AND customer_id = $2",
                              shop, customer_id)
    return row["tier"], row["tier_since"]


async def test_still_qualifying_at_the_end_of_the_period_renews_it(points_pool):
    shop, anna = new_shop(), "anna"
    now = datetime.now(UTC)
    reached = now - 430 * DAY  # Gold reached 430 days ago; the first period ended 65 days ago
    # 1600 paid 400 days ago (inside the first period, so Gold at its end), 600 paid 10 days ago: the
    # rolling spend now is 600, Silver's.
    await seed(points_pool, shop, anna, reached, [(now - 400 * DAY, 1600), (now - 10 * DAY, 600)])
    tier, since = await tier_of(points_pool, shop, anna)
    assert (tier, since) == ("Gold", reached + 365 * DAY)  # a new period from the first one's end
    async with transaction(points_pool) as conn:
        view = await accounts.view(conn, shop, anna)
    assert view.tier.name == "Gold"
    review = await points_pool.fetchval(
        "SELECT due_at FROM scheduled_jobs WHERE shop_id = $1 AND kind = $2 AND dedup_key = $3",
        shop, tiering.REVIEW_JOB, f"{anna}|{since.isoformat()}")
    assert review == since + 365 * DAY  # looked at again at the end of the new period


async def test_not_qualifying_at_the_end_of_the_period_goes_down(points_pool):
    shop, ben = new_shop(), "ben"
    now = datetime.now(UTC)
    reached = now - 430 * DAY
    # Only 700 in the year before the first period's end (paid 100 days before it): Silver then, and now.
    await seed(points_pool, shop, ben, reached, [(now - 165 * DAY, 700)])
    tier, since = await tier_of(points_pool, shop, ben)
    assert tier == "Silver" and since > now - DAY
