"""Points and store credit for actions (reviews, referrals, birthdays, signups), once per natural key,
and the store-credit wallet spent as a single-use code. Events are published to the real broker."""

from __future__ import annotations

import json
from decimal import Decimal

import asyncpg
import pytest

from shared import events
from tests.e2e.points_support import events_of, new_shop
from tests.invariants import ledger_violations
from tests.stack import codes, db, publish_raw, unique
from tests.support import eventually

CREDIT = "query($id: ID!) { customer(id: $id) { storeCredit { amount currency } } }"
ADJUST_CREDIT = """mutation($c: ID!, $a: String!, $k: String!) { adjustStoreCredit(customerId: $c, amount: $a,
  reason: "goodwill", idempotencyKey: $k) { amount currency } }"""
SPEND = """mutation($a: String!, $k: String!) { redeemStoreCredit(amount: $a, idempotencyKey: $k) {
  id code pointsSpent value { amount currency } reward { id } } }"""
VALIDATE = "mutation($code: String!) { validateRewardCode(code: $code) { valid reason } }"


async def publish(data: events.EventData) -> str:
    envelope = events.new_envelope(data, source="test")
    await publish_raw(json.dumps(envelope.model_dump(mode="json")).encode(), envelope.type, envelope.id)
    return envelope.id


async def handled(event_id: str) -> None:
    async def seen():
        conn = await db("points")
        try:
            return await conn.fetchval("SELECT count(*) = 1 FROM inbox WHERE event_id = $1", event_id)
        finally:
            await conn.close()
    await eventually(seen, what=f"event {event_id} handled")


async def credit(shop, customer) -> str:
    return (await shop.gql.ok(CREDIT, {"id": customer}, shop.admin))["customer"]["storeCredit"]["amount"]


async def assert_wallet_invariant(shop: str, customer: str) -> None:
    conn = await db("points")
    try:
        balance = await conn.fetchval(
            "SELECT balance FROM credit_accounts WHERE shop_id = $1 AND customer_id = $2", shop, customer)
    finally:
        await conn.close()
    assert balance is not None and balance >= 0
    assert await ledger_violations(shop, customer) == []


def review(shop, customer, product, media=False, rating=5) -> events.ReviewPublished:
    return events.ReviewPublished(shop=shop.id, review_id=unique("rv"), customer_id=customer, product_id=product,
                                  rating=rating, has_media=media)


async def test_a_review_rewards_once_per_customer_and_product_whatever_the_rating(gql):
    shop = await new_shop(gql)
    customer = await shop.new_customer()
    await publish(review(shop, customer, "p-1", rating=5))
    await shop.until(customer, "text review points", balance=50, lifetimeEarned=50)
    await handled(await publish(review(shop, customer, "p-1", rating=1, media=True)))  # a second review
    # Handled before the balance is read: if the second review of p-1 had earned (100), the balance
    # would be 250 once p-2's 100 arrive, never 150 (waiting for 150 alone passed with 50 + 100 of p-1).
    await handled(await publish(review(shop, customer, "p-2", media=True)))
    assert (await shop.loyalty(customer))["balance"] == 150
    assert sorted(e["reason"] for e in await events_of(shop.id, "points.earned", customer)) == [
        "photo/video review of p-2", "review of p-1"]
    # review.rewarded names each paid review once (the reviews service marks it incentivized)
    rewarded = await events_of(shop.id, "review.rewarded", customer)
    assert sorted((r["product_id"], r["points"]) for r in rewarded) == [("p-1", 50), ("p-2", 100)]


SHARE = """mutation($n: SocialNetwork!, $c: String!, $id: ID) { recordSocialShare(network: $n, content: $c,
  customerId: $id) { outcome points loyalty { id balance } } }"""


async def test_a_social_share_earns_once_per_network_and_content_and_at_most_the_daily_limit(gql):
    """Issue 19, item 7: socialShare points are earned by recordSocialShare."""
    shop = await new_shop(gql, actionRewards={"socialShare": 20}, socialSharesPerDay=2)
    customer = await shop.new_customer()
    me = shop.customer(customer)

    async def share(network: str, content: str, headers=me, **extra) -> dict:
        return (await gql.ok(SHARE, {"n": network, "c": content, **extra}, headers))["recordSocialShare"]
    first = await share("INSTAGRAM", "https://shop.example/p/mug")
    assert (first["outcome"], first["points"], first["loyalty"]) == ("AWARDED", 20, {"id": customer, "balance": 20})
    assert (await share("INSTAGRAM", " https://shop.example/p/mug "))["outcome"] == "ALREADY_AWARDED"
    assert (await share("FACEBOOK", "https://shop.example/p/mug"))["outcome"] == "AWARDED"  # another network
    limited = await share("X", "https://shop.example/p/cup")  # a third reward today: over the limit of 2
    assert (limited["outcome"], limited["points"], limited["loyalty"]["balance"]) == ("DAILY_LIMIT", 0, 40)
    # an ingest key records a share on the customer's behalf, naming them; without a name it is refused
    assert (await share("X", "https://shop.example/p/cup", shop.admin, id=customer))["outcome"] == "DAILY_LIMIT"
    assert codes(await gql(SHARE, {"n": "X", "c": "x"}, shop.admin)) == ["BAD_USER_INPUT"]
    assert codes(await gql(SHARE, {"n": "X", "c": "x", "id": unique("other")}, me)) == ["FORBIDDEN"]
    assert codes(await gql(SHARE, {"n": "X", "c": ""}, me)) == ["BAD_USER_INPUT"]
    assert codes(await gql(SHARE, {"n": "X", "c": "x"})) == ["UNAUTHENTICATED"]
    earned = await events_of(shop.id, "points.earned", customer)
    assert [(e["points"], e["origin"]) for e in earned] == [(20, "social_share")] * 2


async def test_reviews_earn_store_credit_when_the_program_says_so(gql):
    shop = await new_shop(gql, reviewCredit="2.00", mediaReviewCredit="5.00")
    customer = await shop.new_customer()
    await publish(review(shop, customer, "p-1"))
    await publish(review(shop, customer, "p-2", media=True))
    await eventually(lambda: _credit_is(shop, customer, "7.00"), what="7.00 credit")
    granted = await events_of(shop.id, "credit.granted", customer)
    assert sorted(Decimal(g["amount"]) for g in granted) == [Decimal(2), Decimal(5)]
    assert (await shop.loyalty(customer))["balance"] == 0
    await assert_wallet_invariant(shop.id, customer)


async def _credit_is(shop, customer, amount: str) -> bool:
    return await credit(shop, customer) == amount


async def test_a_converted_referral_rewards_the_referrer_once_per_referral(gql):
    shop = await new_shop(gql)
    referrer, friend = await shop.new_customer(), await shop.new_customer()
    referral_id = unique("ref")
    converted = events.ReferralConverted(shop=shop.id, referral_id=referral_id, referrer_id=referrer,
                                         friend_id=friend, order_id=unique("o"), reward_kind="credit",
                                         reward_amount=Decimal("20.00"), currency="EUR")
    await publish(converted)
    await handled(await publish(converted))  # the same referral under a new event id
    await eventually(lambda: _credit_is(shop, referrer, "20.00"), what="20.00 credit")
    as_points = converted.model_copy(update={"referral_id": unique("ref"), "reward_kind": "points",
                                             "reward_points": 300})
    await publish(as_points)
    await shop.until(referrer, "referral points", balance=300)
    assert await credit(shop, referrer) == "20.00"
    await assert_wallet_invariant(shop.id, referrer)


async def test_birthday_once_a_year_and_the_signup_bonus_once(gql):
    shop = await new_shop(gql, actionRewards={"signup": 25, "birthday": 100})
    customer = await shop.new_customer()
    await shop.until(customer, "the welcome bonus", balance=25)
    for year in (2026, 2026, 2027):
        await handled(await publish(events.CustomerBirthday(shop=shop.id, customer_id=customer, year=year)))
    await shop.until(customer, "two birthdays", balance=225)
    registered = (await events_of(shop.id, "points.earned", customer))[0]
    assert registered["reason"] == "welcome bonus"


async def test_store_credit_is_spent_as_a_single_use_code(gql):
    shop = await new_shop(gql)
    customer = await shop.new_customer()
    me = shop.customer(customer)
    assert await credit(shop, customer) == "0.00"
    granted = await gql.ok(ADJUST_CREDIT, {"c": customer, "a": "10.00", "k": unique("k")}, shop.admin)
    assert granted["adjustStoreCredit"] == {"amount": "10.00", "currency": "EUR"}
    key = unique("k")
    code = (await gql.ok(SPEND, {"a": "4.00", "k": key}, me))["redeemStoreCredit"]
    assert code["value"] == {"amount": "4.00", "currency": "EUR"} and code["reward"] == {"id": "store-credit"}
    assert (await gql.ok(SPEND, {"a": "4.00", "k": key}, me))["redeemStoreCredit"] == code
    assert codes(await gql(SPEND, {"a": "5.00", "k": key}, me)) == ["CONFLICT"]
    assert codes(await gql(SPEND, {"a": "6.01", "k": unique("k")}, me)) == ["INSUFFICIENT_POINTS"]
    assert await credit(shop, customer) == "6.00"
    assert (await gql.ok(VALIDATE, {"code": code["code"]}, shop.admin))["validateRewardCode"] == {
        "valid": True, "reason": None}
    spent = await events_of(shop.id, "credit.spent", customer)
    assert [(s["amount"], s["balance"]) for s in spent] == [("4.00", "6.00")]
    await assert_wallet_invariant(shop.id, customer)


@pytest.mark.parametrize("amount", ["0", "-1", "abc", "1.001", "1e9", "", "99999999"])
async def test_bad_store_credit_amounts_change_nothing(gql, amount):
    shop = await new_shop(gql)
    customer = await shop.new_customer()
    await gql.ok(ADJUST_CREDIT, {"c": customer, "a": "10.00", "k": unique("k")}, shop.admin)
    assert codes(await gql(SPEND, {"a": amount, "k": unique("k")}, shop.customer(customer))) == ["BAD_USER_INPUT"]
    if amount != "-1":
        assert codes(await gql(ADJUST_CREDIT, {"c": customer, "a": amount, "k": unique("k")}, shop.admin)) == [
            "BAD_USER_INPUT"]
    assert await credit(shop, customer) == "10.00"


@pytest.mark.parametrize("table", ["ledger_entries", "credit_entries"])
async def test_the_ledgers_are_append_only(gql, table):
    shop = await new_shop(gql)
    customer = await shop.new_customer()
    await shop.adjust(customer, 10)
    await gql.ok(ADJUST_CREDIT, {"c": customer, "a": "1.00", "k": unique("k")}, shop.admin)
    conn = await db("points")
    try:
        for statement in (f"UPDATE {table} SET reason = 'rewritten' WHERE shop_id = $1",
                          f"DELETE FROM {table} WHERE shop_id = $1"):
            with pytest.raises(asyncpg.RaiseError, match="append-only"):
                await conn.execute(statement, shop.id)
        assert await conn.fetchval(f"SELECT count(*) FROM {table} WHERE shop_id = $1", shop.id) == 1
    finally:
        await conn.close()
