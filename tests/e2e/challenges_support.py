"""Helpers of the challenge end-to-end tests: the operations, a challenge input, joining, a customer's
progress, and events published straight to the exchange and waited for in the points inbox."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from shared import events
from tests.e2e.points_support import Shop
from tests.stack import db, unique
from tests.stack import publish_event as publish
from tests.support import eventually

LAUNCH = """mutation($input: ChallengeInput!) { launchChallenge(input: $input) { id title status hashtag
  goal { event count withMedia hashtag } startsAt endsAt rewardPoints badge leaderboardBonus } }"""
END = "mutation($id: ID!) { endChallenge(id: $id) { id status endedAt } }"
JOIN = "mutation($id: ID!) { joinChallenge(id: $id) { challenge { id } progress completed completedAt } }"
LIST = "query($s: ChallengeStatus) { challenges(status: $s) { id title status } }"
ONE = """query($id: ID!, $n: Int) { challenge(id: $id) { id status
  leaderboard(first: $n) { rank progress completed isMe customerId } } }"""
STATE = """query($id: ID!) { customer(id: $id) { loyalty { balance }
  challengeProgress { challenge { id } progress completed completedAt } badges { name source }
  streak { current longest } } }"""


def iso(at: datetime) -> str:
    return at.isoformat()


def challenge_input(**over) -> dict:
    now = datetime.now(UTC)
    return {"title": "Two purchases", "goal": {"event": "ORDER_PAID", "count": 2},
            "startsAt": iso(now - timedelta(hours=1)), "endsAt": iso(now + timedelta(days=7)),
            "rewardPoints": 100, "badge": "regular-buyer", **over}


async def launch(shop: Shop, **over) -> dict:
    return (await shop.gql.ok(LAUNCH, {"input": challenge_input(**over)}, shop.admin))["launchChallenge"]


async def join(shop: Shop, challenge_id: str, customer_id: str) -> dict:
    return (await shop.gql.ok(JOIN, {"id": challenge_id}, shop.customer(customer_id)))["joinChallenge"]


async def state(shop: Shop, customer_id: str) -> dict:
    return (await shop.gql.ok(STATE, {"id": customer_id}, shop.admin))["customer"]


async def progress(shop: Shop, customer_id: str, challenge_id: str) -> dict | None:
    rows = (await state(shop, customer_id))["challengeProgress"]
    return next((p for p in rows if p["challenge"]["id"] == challenge_id), None)


async def handled(event_id: str) -> bool:
    conn = await db("points")
    try:
        return bool(await conn.fetchval("SELECT true FROM inbox WHERE event_id = $1", event_id))
    finally:
        await conn.close()


async def send(data: events.EventData) -> str:
    """Publish an event and wait until the points service has handled it."""
    event_id = await publish(data)
    await eventually(lambda: handled(event_id), what=f"{data.type} handled")
    return event_id


def paid(shop: Shop, customer_id: str, order_id: str | None = None) -> events.OrderPaid:
    return events.OrderPaid(shop=shop.id, order_id=order_id or unique("o"), customer_id=customer_id,
                            currency="EUR", total="10.00", net_amount="10.00", placed_at=datetime.now(UTC))


async def outbox(shop: str, event_type: str) -> list[dict]:
    conn = await db("points")
    try:
        rows = await conn.fetch("SELECT envelope FROM outbox WHERE shop_id = $1 AND type = $2 ORDER BY seq",
                                shop, event_type)
    finally:
        await conn.close()
    return [r["envelope"]["data"] for r in rows]
