"""Challenges for one tier through the gateway, each test in a shop of its own: only customers whose
current tier is exactly the audience's tier may join, the invitation reaches only them (notifications
keeps each contact's tier from tier.changed), and a bad tier audience stores nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from shared import events
from tests.e2e.challenges_support import JOIN, LIST, challenge_input, join, outbox
from tests.e2e.notifications_support import add_customer, handled, having, known_to_notifications, log, mails
from tests.e2e.points_support import Shop, events_of, new_shop
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


async def tier_is(shop: str, customer_id: str, tier: str) -> bool:
    return await tier_in_notifications(shop, customer_id) == tier


async def tier_changes(shop: str, customer_id: str) -> list[tuple]:
    return [(c["from_tier"], c["to_tier"], c["direction"], c.get("reason"))
            for c in await events_of(shop, "tier.changed", customer_id)]


async def test_a_gold_challenge_admits_and_invites_gold_customers_only(gql):
    shop = await new_shop(gql)
    gold = await add_customer(gql, shop.admin)
    bronze = await add_customer(gql, shop.admin)  # only ever the program's first tier
    for customer_id in (gold, bronze):
        await eventually(lambda c=customer_id: known_to_notifications(shop.id, c), what="the contact")
    await make_tier(shop, gold, "Gold")
    await eventually(lambda: tier_is(shop.id, gold, "Gold"), what="Gold in notifications")
    await eventually(lambda: tier_is(shop.id, bronze, "Bronze"), what="Bronze in notifications")

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
    await eventually(lambda: tier_is(shop.id, gold, "Gold"), what="the tier")
    assert (await gql.ok("mutation($id: ID!) { eraseCustomer(id: $id) }", {"id": gold}, shop.admin))["eraseCustomer"]

    async def forgotten() -> bool:
        return not await known_to_notifications(shop.id, gold)
    await eventually(forgotten, what="the contact and its tier erased", timeout=60)
    late = await publish(events.TierChanged(shop=shop.id, customer_id=gold, from_tier="Gold", to_tier="Silver",
                                            direction="down"))
    await eventually(lambda: handled(late), what="the late tier change handled")
    assert not await known_to_notifications(shop.id, gold)  # a late tier change brings nothing back


async def test_a_bronze_challenge_invites_a_customer_who_only_ever_had_bronze(gql):
    """The first tier is announced (reason initial) without a congratulation, so notifications knows
    every customer's tier; an admin override up is announced and congratulated."""
    shop = await new_shop(gql)
    bronze, gold = await add_customer(gql, shop.admin), await add_customer(gql, shop.admin)
    for customer_id in (bronze, gold):
        await eventually(lambda c=customer_id: known_to_notifications(shop.id, c), what="the contact")
        await eventually(lambda c=customer_id: tier_is(shop.id, c, "Bronze"), what="the first tier in notifications")
    assert await tier_changes(shop.id, bronze) == [(None, "Bronze", "up", "initial")]
    assert (await shop.loyalty(bronze))["tier"]["name"] == "Bronze"  # the event agrees with the API
    await make_tier(shop, gold, "Gold")
    await eventually(lambda: tier_is(shop.id, gold, "Gold"), what="Gold in notifications")
    assert (await tier_changes(shop.id, gold))[-1] == ("Bronze", "Gold", "up", "override_started")

    title = f"Bronze members: two purchases {unique('t')}"
    launched = (await gql.ok(LAUNCH_FOR, {"input": challenge_input(title=title, audienceTier="Bronze")},
                             shop.admin))["launchChallenge"]

    async def invitations(customer_id: str) -> list[dict]:
        return [m for m in await mails(f"{customer_id}@example.com") if m["subject"] == f"New challenge: {title}"]
    assert len(await eventually(lambda: invitations(bronze), what="the invitation", timeout=120)) == 1
    assert having(await log(gql, shop.admin, gold), flow="challenge_launched") == []
    assert (await join(shop, launched["id"], bronze))["progress"] == 0
    # The override up is congratulated; the first tier is not.
    assert len(await eventually(lambda: having_flow(gql, shop, gold, "tier_up"), what="the congratulation")) == 1
    assert await having_flow(gql, shop, bronze, "tier_up") == []


async def having_flow(gql, shop: Shop, customer_id: str, flow: str) -> list[dict]:
    return having(await log(gql, shop.admin, customer_id), flow=flow)


async def test_an_override_hides_the_spend_tier_until_it_ends_and_its_end_is_announced(gql):
    shop = await new_shop(gql, tiers=[{"name": "Bronze", "threshold": "0", "multiplier": "1"},
                                      {"name": "Silver", "threshold": "40", "multiplier": "1"},
                                      {"name": "Gold", "threshold": "1000", "multiplier": "1"}])
    anna = await add_customer(gql, shop.admin)
    await eventually(lambda: tier_is(shop.id, anna, "Bronze"), what="the first tier in notifications")
    until = datetime.now(UTC) + timedelta(seconds=10)
    await shop.gql.ok(OVERRIDE, {"c": anna, "t": "Gold", "r": "launch party", "u": until.isoformat()}, shop.admin)
    await shop.order(anna, "PAID")  # 45 spent: Silver by spend, but Gold applies while the override lasts
    account = await shop.until(anna, "the order's points", pending=45)
    assert account["tier"]["name"] == "Gold"
    assert [c[1] for c in await tier_changes(shop.id, anna)] == ["Bronze", "Gold"]  # no Silver announced
    assert await tier_in_notifications(shop.id, anna) == "Gold"

    async def ended() -> bool:
        return (await tier_changes(shop.id, anna))[-1] == ("Gold", "Silver", "down", "override_ended")
    await eventually(ended, what="the override's end announced", timeout=60)
    assert (await shop.loyalty(anna))["tier"]["name"] == "Silver"
    await eventually(lambda: tier_is(shop.id, anna, "Silver"), what="Silver in notifications")
    assert [c[3] for c in await tier_changes(shop.id, anna)] == ["initial", "override_started", "override_ended"]


async def test_an_override_ending_back_up_is_announced_without_a_congratulation(gql):
    shop = await new_shop(gql, tiers=[{"name": "Bronze", "threshold": "0", "multiplier": "1"},
                                      {"name": "Silver", "threshold": "40", "multiplier": "1"}])
    anna = await add_customer(gql, shop.admin)
    until = datetime.now(UTC) + timedelta(seconds=6)
    await shop.gql.ok(OVERRIDE, {"c": anna, "t": "Bronze", "r": "abuse", "u": until.isoformat()}, shop.admin)
    await shop.order(anna, "PAID")  # Silver by spend, hidden by the override: no upgrade announced
    await shop.until(anna, "the order's points", pending=45)
    assert [c[1] for c in await tier_changes(shop.id, anna)] == ["Bronze"]

    async def ended() -> bool:
        return (await tier_changes(shop.id, anna))[-1] == ("Bronze", "Silver", "up", "override_ended")
    await eventually(ended, what="the override's end announced", timeout=60)
    await eventually(lambda: notified(shop.id, anna), what="notifications handled every tier change")
    assert await tier_in_notifications(shop.id, anna) == "Silver"
    assert await having_flow(gql, shop, anna, "tier_up") == []  # back to the earned tier: no congratulation


async def notified(shop: str, customer_id: str) -> bool:
    """Notifications has handled every tier.changed points published for the customer."""
    conn = await db("points")
    try:
        ids = await conn.fetch("""SELECT envelope->>'id' AS id FROM outbox WHERE shop_id = $1 AND type = 'tier.changed'
                                    AND envelope->'data'->>'customer_id' = $2""", shop, customer_id)
    finally:
        await conn.close()
    return all([await handled(r["id"]) for r in ids])
