"""Reads the subgraph repeats per parent run once per request (the request's DataLoaders): a
customer's redemptions load their rewards in one query, their challenge progress its challenges in
one query, and many Order entities their points in one query."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.points.challenges import organising
from services.points.loyalty import adjustment, redemption
from tests.integration.points.conftest import graphql, handle, new_shop, paid

CUSTOMER = """query ($r: [_Any!]!) { _entities(representations: $r) { ... on Customer { %s } } }"""


async def test_a_customers_redemptions_load_their_rewards_in_one_query(points_pool, statements):
    shop, anna = new_shop(), "anna"
    await adjustment.adjust_points(points_pool, shop, anna, 5000, "to spend", "k-start")
    spent = ["r-5-off", "r-free-shipping", "r-5-off", "r-5-credit", "r-free-shipping"]
    for i, reward_id in enumerate(spent):
        await redemption.redeem(points_pool, shop, anna, reward_id, f"k-{i}")
    async with statements.counted() as ran:
        data = await graphql(points_pool, shop, CUSTOMER % "redemptions { code reward { id name } }",
                             {"r": [{"__typename": "Customer", "id": anna}]})
    [customer] = data["_entities"]
    assert sorted(r["reward"]["id"] for r in customer["redemptions"]) == sorted(spent)
    # One query for the redemptions, one for all their rewards (it was one per redemption).
    assert len(ran) == 2, ran
    assert "FROM redemptions" in ran[0] and "FROM rewards" in ran[1]


async def test_a_customers_challenge_progress_loads_its_challenges_in_one_query(points_pool, statements):
    shop, anna, now = new_shop(), "anna", datetime.now(UTC)
    for n in range(4):
        ch = await organising.launch(
            points_pool, shop, title=f"Challenge {n}", description=None, hashtag_=None, goal_event="ORDER_PAID",
            goal_count=n + 1, goal_with_media=None, goal_hashtag=None, goal_measure=None,
            starts_at=now - timedelta(hours=n + 1), ends_at=now + timedelta(days=1), audience=None, reward_points=0,
            badge=None, leaderboard_bonus=None, leaderboard_top=None, idempotency_key=None)
        await organising.join(points_pool, shop, ch["id"], anna)
    async with statements.counted() as ran:
        data = await graphql(points_pool, shop, CUSTOMER % "challengeProgress { progress challenge { title } }",
                             {"r": [{"__typename": "Customer", "id": anna}]})
    [customer] = data["_entities"]
    assert [p["challenge"]["title"] for p in customer["challengeProgress"]] == [f"Challenge {n}" for n in range(4)]
    # One query for the progress rows, one for all their challenges (it was one per challenge).
    assert len(ran) == 2, ran
    assert "FROM challenge_progress" in ran[0] and "FROM challenges WHERE" in ran[1]


async def test_many_order_entities_load_their_points_in_one_query(points_pool, statements):
    shop, anna = new_shop(), "anna"
    for order_id, amount in (("o-1", "10"), ("o-2", "25.50")):
        await handle(points_pool, paid(shop, anna, order_id, amount))
    async with statements.counted() as ran:
        data = await graphql(
            points_pool, shop, "query ($r: [_Any!]!) { _entities(representations: $r) { ... on Order { id "
            "pointsEarned pointsStatus } } }",
            {"r": [{"__typename": "Order", "id": o} for o in ("o-1", "o-2", "o-unpaid")]})
    assert data["_entities"] == [
        {"id": "o-1", "pointsEarned": 10, "pointsStatus": "PENDING"},
        {"id": "o-2", "pointsEarned": 25, "pointsStatus": "PENDING"},
        {"id": "o-unpaid", "pointsEarned": 0, "pointsStatus": "PENDING"},
    ]
    assert len(ran) == 1 and "FROM order_points" in ran[0], ran


async def test_one_request_reads_the_program_once_for_all_its_fields(points_pool, statements):
    """The rewards panel's root fields (tiers, rewardsCatalog, the customer's loyalty) each need the
    program in force: a query reads it once (the request's memo), where each field read it before."""
    shop, anna = new_shop(), "anna"
    await adjustment.adjust_points(points_pool, shop, anna, 100, "welcome", "k-start")  # seeds the program
    query = """query ($r: [_Any!]!) { tiers { name } rewardsCatalog { id }
      _entities(representations: $r) { ... on Customer { loyalty { balance tier { name } } } } }"""
    async with statements.counted() as ran:
        data = await graphql(points_pool, shop, query, {"r": [{"__typename": "Customer", "id": anna}]})
    assert [t["name"] for t in data["tiers"]] == ["Bronze", "Silver", "Gold"]
    assert data["_entities"][0]["loyalty"]["balance"] == 100
    assert len([s for s in ran if "FROM programs" in s]) == 1, ran
