"""The rewards catalog, redemptions with single-use codes, and checkout validation, through the gateway."""

from __future__ import annotations

import asyncio

import pytest

from tests.e2e.points_support import assert_ledger_invariant, events_of, new_shop
from tests.stack import codes, db, unique
from tests.support import eventually

CATALOG = "{ rewardsCatalog { id name kind pointsCost value { amount currency } percentOff minTier active } }"
UPSERT_REWARD = """mutation($input: RewardInput!) { upsertReward(input: $input) {
  id name kind pointsCost value { amount currency } percentOff minTier limitPerCustomer limitTotal active } }"""
REDEEM = """mutation($r: ID!, $k: String!) { redeemReward(rewardId: $r, idempotencyKey: $k) {
  id code pointsSpent expiresAt reward { id } value { amount currency } percentOff } }"""
VALIDATE = """mutation($code: String!) { validateRewardCode(code: $code) { valid reason
  redemption { id code pointsSpent reward { id } } } }"""
REDEMPTIONS = "query($id: ID!) { customer(id: $id) { redemptions { id code pointsSpent percentOff reward { id } } } }"


async def reward(shop, **over) -> dict:
    data = {"name": "10 off", "kind": "FIXED_AMOUNT", "pointsCost": 100, "value": "10.00", **over}
    return (await shop.gql.ok(UPSERT_REWARD, {"input": data}, shop.admin))["upsertReward"]


async def test_a_fresh_shop_has_a_public_catalog_with_a_fixed_amount_reward(gql):
    shop = await new_shop(gql)
    catalog = (await gql.ok(CATALOG, headers={"x-shop": shop.id}))["rewardsCatalog"]
    assert any(r["kind"] == "FIXED_AMOUNT" and r["value"] == {"amount": "5.00", "currency": "EUR"} for r in catalog)
    made = await reward(shop, name="Mug", kind="FREE_PRODUCT", value=None, pointsCost=900, minTier="Gold")
    assert made["id"].startswith("r-") and made["minTier"] == "Gold"
    changed = await reward(shop, id=made["id"], name="Mug", kind="FREE_PRODUCT", value=None, pointsCost=900,
                           active=False)
    assert changed["id"] == made["id"] and changed["active"] is False
    catalog = (await gql.ok(CATALOG, headers={"x-shop": shop.id}))["rewardsCatalog"]
    assert made["id"] not in {r["id"] for r in catalog}  # inactive rewards are not offered


async def test_redeem_issues_a_single_use_code_idempotently(gql):
    shop = await new_shop(gql)
    customer = await shop.new_customer()
    r1, r2 = await reward(shop), await reward(shop, kind="PERCENTAGE", value="15", name="15 %")
    me = shop.customer(customer)
    key = unique("k")
    assert codes(await gql(REDEEM, {"r": r1["id"], "k": key}, me)) == ["INSUFFICIENT_POINTS"]
    await shop.adjust(customer, 250)
    first = (await gql.ok(REDEEM, {"r": r1["id"], "k": key}, me))["redeemReward"]
    assert first["pointsSpent"] == 100 and first["reward"] == {"id": r1["id"]}
    assert first["value"] == {"amount": "10.00", "currency": "EUR"} and len(first["code"]) == 16
    again = (await gql.ok(REDEEM, {"r": r1["id"], "k": key}, me))["redeemReward"]
    assert again == first
    assert codes(await gql(REDEEM, {"r": r2["id"], "k": key}, me)) == ["CONFLICT"]
    pct = (await gql.ok(REDEEM, {"r": r2["id"], "k": unique("k")}, me))["redeemReward"]
    assert pct["percentOff"] == "15" and pct["value"] is None and pct["code"] != first["code"]
    assert (await shop.loyalty(customer))["balance"] == 50
    await assert_ledger_invariant(shop.id, customer)
    listed = (await gql.ok("{ me { redemptions { code } } }", headers=me))["me"]["redemptions"]
    assert {r["code"] for r in listed} == {first["code"], pct["code"]}
    events = await events_of(shop.id, "reward.redeemed", customer)
    assert sorted(e["code"] for e in events) == sorted([first["code"], pct["code"]])

    check = (await gql.ok(VALIDATE, {"code": first["code"].lower()}, shop.admin))["validateRewardCode"]
    assert check["valid"] is True and check["reason"] is None and check["redemption"]["id"] == first["id"]
    used = (await gql.ok(VALIDATE, {"code": first["code"]}, shop.admin))["validateRewardCode"]
    assert (used["valid"], used["reason"]) == (False, "USED")
    unknown = (await gql.ok(VALIDATE, {"code": "NOPE" + first["code"][4:]}, shop.admin))["validateRewardCode"]
    assert (unknown["valid"], unknown["reason"], unknown["redemption"]) == (False, "UNKNOWN", None)
    assert codes(await gql(VALIDATE, {"code": "x" * 100}, shop.admin)) == ["BAD_USER_INPUT"]
    assert codes(await gql(VALIDATE, {"code": pct["code"]}, me)) == ["FORBIDDEN"]


async def test_an_expired_code_says_so_and_two_checkouts_cannot_both_use_one(gql):
    shop = await new_shop(gql)
    customer = await shop.new_customer()
    r = await reward(shop)
    await shop.adjust(customer, 200)
    me = shop.customer(customer)
    old = (await gql.ok(REDEEM, {"r": r["id"], "k": unique("k")}, me))["redeemReward"]
    fresh = (await gql.ok(REDEEM, {"r": r["id"], "k": unique("k")}, me))["redeemReward"]
    conn = await db("points")
    try:
        for table, column in (("redemptions", "id"), ("offers", "redemption_id")):  # the code's offer decides
            await conn.execute(f"UPDATE {table} SET expires_at = now() - interval '1 day'"
                               f" WHERE shop_id = $1 AND {column} = $2", shop.id, old["id"])
    finally:
        await conn.close()
    expired = (await gql.ok(VALIDATE, {"code": old["code"]}, shop.admin))["validateRewardCode"]
    assert (expired["valid"], expired["reason"]) == (False, "EXPIRED")
    results = await asyncio.gather(*(gql.ok(VALIDATE, {"code": fresh["code"]}, shop.admin) for _ in range(10)))
    assert sorted(r["validateRewardCode"]["valid"] for r in results) == [False] * 9 + [True]


async def test_fifty_parallel_redemptions_never_overdraw(gql):
    shop = await new_shop(gql)
    customer = await shop.new_customer()
    r = await reward(shop, pointsCost=100)
    await shop.adjust(customer, 1000)
    me = shop.customer(customer)
    bodies = await asyncio.gather(*(gql(REDEEM, {"r": r["id"], "k": unique("k")}, me) for _ in range(50)))
    ok = [b for b in bodies if not b.get("errors")]
    assert len(ok) == 10
    assert codes({"errors": [e for b in bodies for e in b.get("errors", [])]}) == ["INSUFFICIENT_POINTS"] * 40
    assert len({b["data"]["redeemReward"]["code"] for b in ok}) == 10
    assert (await shop.loyalty(customer))["balance"] == 0
    await assert_ledger_invariant(shop.id, customer)


async def test_limits_and_minimum_tier(gql):
    shop = await new_shop(gql)
    customer = await shop.new_customer()
    await shop.adjust(customer, 5000)
    me = shop.customer(customer)
    once = await reward(shop, limitPerCustomer=1)
    await gql.ok(REDEEM, {"r": once["id"], "k": unique("k")}, me)
    assert codes(await gql(REDEEM, {"r": once["id"], "k": unique("k")}, me)) == ["CONFLICT"]
    scarce = await reward(shop, limitTotal=1)
    other = await shop.new_customer()
    await shop.adjust(other, 500)
    await gql.ok(REDEEM, {"r": scarce["id"], "k": unique("k")}, shop.customer(other))
    assert codes(await gql(REDEEM, {"r": scarce["id"], "k": unique("k")}, me)) == ["CONFLICT"]
    gold = await reward(shop, minTier="Gold")
    assert codes(await gql(REDEEM, {"r": gold["id"], "k": unique("k")}, me)) == ["FORBIDDEN"]
    assert codes(await gql(REDEEM, {"r": "no-such-reward", "k": unique("k")}, me)) == ["NOT_FOUND"]
    assert (await shop.loyalty(customer))["balance"] == 4900
    await assert_ledger_invariant(shop.id, customer)


@pytest.mark.parametrize("over", [
    {"pointsCost": 0}, {"pointsCost": -5}, {"pointsCost": 2_000_000_000}, {"name": "x" * 500}, {"name": " "},
    {"value": "-1"}, {"value": "ten"}, {"value": "1.001"}, {"kind": "PERCENTAGE", "value": "101"},
    {"kind": "FREE_SHIPPING", "value": "5"}, {"minTier": "Diamond"}, {"limitPerCustomer": 0},
    {"id": "x" * 300}, {"id": "punch-card"},
], ids=lambda o: f"{next(iter(o))}={str(next(iter(o.values())))[:10]}")
async def test_bad_rewards_change_nothing(gql, over):
    shop = await new_shop(gql)
    before = (await gql.ok(CATALOG, headers={"x-shop": shop.id}))["rewardsCatalog"]
    body = await gql(UPSERT_REWARD, {"input": {"name": "n", "kind": "FIXED_AMOUNT", "pointsCost": 10,
                                               "value": "1.00", **over}}, shop.admin)
    assert codes(body) == ["BAD_USER_INPUT"], body
    assert (await gql.ok(CATALOG, headers={"x-shop": shop.id}))["rewardsCatalog"] == before


async def test_bad_redemption_input(gql):
    shop = await new_shop(gql)
    customer = await shop.new_customer()
    me = shop.customer(customer)
    for r, k in (("r-5-off", ""), ("r-5-off", "k" * 300), ("", "k")):
        assert codes(await gql(REDEEM, {"r": r, "k": k}, me)) == ["BAD_USER_INPUT"]
    assert codes(await gql(REDEEM, {"r": "r-5-off", "k": "k"}, shop.admin)) == ["FORBIDDEN"]
    assert codes(await gql(REDEEM, {"r": "r-5-off", "k": "k"})) == ["UNAUTHENTICATED"]


async def test_the_third_paid_order_unlocks_the_punch_card(gql):
    shop = await new_shop(gql)
    customer = await shop.new_customer()
    for _ in range(3):
        await shop.order(customer, "PAID")

    async def punched():
        listed = (await gql.ok(REDEMPTIONS, {"id": customer}, shop.admin))["customer"]["redemptions"]
        return listed
    listed = await eventually(punched, what="the punch-card code")
    assert [(r["reward"]["id"], r["percentOff"], r["pointsSpent"]) for r in listed] == [("punch-card", "10", 0)]
    await shop.order(customer, "PAID")
    await shop.until(customer, "four orders", pending=180)
    assert len((await gql.ok(REDEMPTIONS, {"id": customer}, shop.admin))["customer"]["redemptions"]) == 1


async def test_the_same_key_in_parallel_redeems_once(gql):
    shop = await new_shop(gql)
    customer = await shop.new_customer()
    r = await reward(shop, pointsCost=100)
    await shop.adjust(customer, 1000)
    key = unique("k")
    bodies = await asyncio.gather(*(gql.ok(REDEEM, {"r": r["id"], "k": key}, shop.customer(customer))
                                    for _ in range(10)))
    assert len({b["redeemReward"]["id"] for b in bodies}) == 1
    assert (await shop.loyalty(customer))["balance"] == 900
    await assert_ledger_invariant(shop.id, customer)


async def test_a_total_limit_set_later_counts_earlier_redemptions(gql):
    shop = await new_shop(gql)
    customer = await shop.new_customer()
    await shop.adjust(customer, 1000)
    r = await reward(shop)
    for _ in range(2):
        await gql.ok(REDEEM, {"r": r["id"], "k": unique("k")}, shop.customer(customer))
    await reward(shop, id=r["id"], limitTotal=3)
    await gql.ok(REDEEM, {"r": r["id"], "k": unique("k")}, shop.customer(customer))
    assert codes(await gql(REDEEM, {"r": r["id"], "k": unique("k")}, shop.customer(customer))) == ["CONFLICT"]
    assert (await shop.loyalty(customer))["balance"] == 700


async def test_public_reads_of_a_made_up_shop_write_nothing(gql):
    shop_id = unique("nowhere")
    catalog = (await gql.ok(CATALOG, headers={"x-shop": shop_id}))["rewardsCatalog"]
    tiers = (await gql.ok("{ tiers { name } }", headers={"x-shop": shop_id}))["tiers"]
    assert any(r["kind"] == "FIXED_AMOUNT" for r in catalog) and tiers[0] == {"name": "Bronze"}
    conn = await db("points")
    try:
        assert await conn.fetchval("SELECT count(*) FROM programs WHERE shop_id = $1", shop_id) == 0
        assert await conn.fetchval("SELECT count(*) FROM rewards WHERE shop_id = $1", shop_id) == 0
    finally:
        await conn.close()
