"""Challenges for one tier through the gateway, each test in a shop of its own: only customers whose
current tier is exactly the audience's tier may join, the invitation reaches only them (notifications
keeps each contact's tier from tier.changed), and a bad tier audience stores nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from shared import events
from tests.e2e.challenges_support import JOIN, LIST, challenge_input, join, outbox
from tests.e2e.notifications_helpers import add_customer, handled, having, known_to_notifications, log, mails
from tests.e2e.points_support import Shop, new_shop
from tests.stack import codes, db, unique
from tests.stack import publish_event as publish
from tests.support import eventually

LAUNCH_FOR = """mutation($input: ChallengeInput!) { launchChallenge(input: $input) { id title audience
  audienceTier } }"""
ONE_TIER = "query($id: ID!) { challenge(id: $id) { id audience audienceTier } }"
OVERRIDE = """mutation($c: ID!, $t: String!, $r: String!, $u: DateTime!) {
  overrideTier(customerId: $c, tier: $t, reason: $r, until: $u) { tier { name } } }"""


async def make_tier(shop: Shop, customer_id: str, tier: str) -> None:
    until = (datetime.now(UTC) + timedelta(days=30)).isoformat()
    result = await shop.gql.ok(OVERRIDE, {"c": customer_id, "t": tier, "r": "tier audience test", "u": until},
                               shop.admin)
    assert result["overrideTier"]["tier"] == {"name": tier}


async def tier_in_notifications(shop: str, customer_id: str) -> str | None:
    conn = await db("notifications")
    try:
        return await conn.fetchval("SELECT tier FROM contacts WHERE shop_id = $1 AND customer_id = $2",
                                   shop, customer_id)
    finally:
        await conn.close()


async def test_a_gold_challenge_admits_and_invites_gold_customers_only(gql):
    shop = await new_shop(gql)
    gold = await add_customer(gql, shop.admin)
    bronze = await add_customer(gql, shop.admin)  # no tier change: the program's first tier
    for customer_id in (gold, bronze):
        await eventually(lambda c=customer_id: known_to_notifications(shop.id, c), what="the contact")
    await make_tier(shop, gold, "Gold")
    known = await eventually(lambda: tier_in_notifications(shop.id, gold), what="the tier in notifications")
    assert known == "Gold"
    assert await tier_in_notifications(shop.id, bronze) is None

    title = f"Gold members: two purchases {unique('t')}"
    launched = (await gql.ok(LAUNCH_FOR, {"input": challenge_input(title=title, audienceTier="Gold")},
                             shop.admin))["launchChallenge"]
    assert launched["audienceTier"] == "Gold" and launched["audience"] is None
    public = await gql.ok(ONE_TIER, {"id": launched["id"]}, {"x-shop": shop.id})
    assert public["challenge"] == {"id": launched["id"], "audience": None, "audienceTier": "Gold"}
    assert [e["audience_tier"] for e in await outbox(shop.id, "challenge.launched")] == ["Gold"]

    assert codes(await gql(JOIN, {"id": launched["id"]}, shop.customer(bronze))) == ["FORBIDDEN"]
    assert (await join(shop, launched["id"], gold))["progress"] == 0

    async def invitations(customer_id: str) -> list[dict]:
        return [m for m in await mails(f"{customer_id}@example.com") if m["subject"] == f"New challenge: {title}"]
    assert len(await eventually(lambda: invitations(gold), what="the invitation", timeout=120)) == 1
    # The audience is planned in one transaction: Gold's invitation being there, Bronze has none.
    assert having(await log(gql, shop.admin, bronze), flow="challenge_launched") == []
    assert await invitations(bronze) == []


async def test_the_tier_is_the_current_one_exactly(gql):
    shop = await new_shop(gql)
    bronze, gold = await shop.new_customer(), await shop.new_customer()
    await make_tier(shop, gold, "Gold")
    for_bronze = (await gql.ok(LAUNCH_FOR, {"input": challenge_input(audienceTier="Bronze")},
                               shop.admin))["launchChallenge"]
    assert (await join(shop, for_bronze["id"], bronze))["progress"] == 0
    assert codes(await gql(JOIN, {"id": for_bronze["id"]}, shop.customer(gold))) == ["FORBIDDEN"]  # higher
    for_silver = (await gql.ok(LAUNCH_FOR, {"input": challenge_input(audienceTier="Silver")},
                               shop.admin))["launchChallenge"]
    assert codes(await gql(JOIN, {"id": for_silver["id"]}, shop.customer(gold))) == ["FORBIDDEN"]
    assert codes(await gql(JOIN, {"id": for_silver["id"]}, shop.customer(bronze))) == ["FORBIDDEN"]


async def test_a_bad_tier_audience_stores_nothing(gql):
    shop = await new_shop(gql)
    for over in ({"audienceTier": "Platinum"}, {"audienceTier": "gold"}, {"audienceTier": "Gold", "audience": "VIP"}):
        assert codes(await gql(LAUNCH_FOR, {"input": challenge_input(**over)}, shop.admin)) == ["BAD_USER_INPUT"], over
    assert (await gql.ok(LIST, {}, {"x-shop": shop.id}))["challenges"] == []
    assert await outbox(shop.id, "challenge.launched") == []


async def test_erasure_forgets_the_tier_notifications_kept(gql):
    shop = await new_shop(gql)
    gold = await add_customer(gql, shop.admin)
    await eventually(lambda: known_to_notifications(shop.id, gold), what="the contact")
    await make_tier(shop, gold, "Gold")
    assert await eventually(lambda: tier_in_notifications(shop.id, gold), what="the tier") == "Gold"
    assert (await gql.ok("mutation($id: ID!) { eraseCustomer(id: $id) }", {"id": gold}, shop.admin))["eraseCustomer"]

    async def forgotten() -> bool:
        return not await known_to_notifications(shop.id, gold)
    await eventually(forgotten, what="the contact and its tier erased", timeout=60)
    late = await publish(events.TierChanged(shop=shop.id, customer_id=gold, from_tier="Gold", to_tier="Silver",
                                            direction="down"))
    await eventually(lambda: handled(late), what="the late tier change handled")
    assert not await known_to_notifications(shop.id, gold)  # a late tier change brings nothing back
