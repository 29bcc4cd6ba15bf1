"""Offers at the checkout, through the gateway (issue 17's "Done when", the points side): a referred
friend's 20 % offer issued from offer.requested checks 4.00 off a 20.00 cart and MIN_ORDER on 11.99,
the order that uses it makes it USED for any other order and offerPerformance counts it under
REFERRAL; a Silver customer's checkout ships for free; bad input is refused and changes nothing; a
thousand guesses from one customer find nothing and are throttled at the gateway."""

from __future__ import annotations

import asyncio
import math
import os
import time
from datetime import UTC, datetime, timedelta

import httpx

from shared import events
from tests.e2e.platforms_support import connect_shopify, new_domain
from tests.e2e.points_support import new_shop
from tests.stack import codes, customer_token, db, gateway_url, publish_event, throttled, unique
from tests.support import eventually

OFFER_FIELDS = "id code source kind value currency minOrder { amount currency } expiresAt status redeemedOrderId"
OFFERS = f"query($id: ID!) {{ customer(id: $id) {{ offers {{ {OFFER_FIELDS} }} }} }}"
CHECK = f"""mutation($code: String!, $cart: CartInput!) {{ checkCode(code: $code, cart: $cart) {{
  valid reason discount {{ amount currency }} freeShipping offer {{ {OFFER_FIELDS} }} }} }}"""
REDEEM = """mutation($code: String!, $order: ID!, $cart: CartInput!) { redeemCode(code: $code, orderId: $order,
  cart: $cart) { valid reason discount { amount } offer { status redeemedOrderId } } }"""
BENEFITS = """query($cart: CartInput!) { checkoutBenefits(cart: $cart) { freeShipping tier { name }
  offers { code } } }"""
PERFORMANCE = """query($from: DateTime!, $to: DateTime!) { offerPerformance(from: $from, to: $to) {
  source issued redeemed redemptionRate attributedRevenue { amount currency } discountCost { amount }
  costShare withinBand } }"""


def cart(subtotal: str = "20.00", currency: str = "EUR", **over) -> dict:
    return {"currency": currency, "subtotal": subtotal, **over}


async def referral_offer(shop, friend: str) -> dict:
    """The friend's offer, asked for as the referrals service asks (offer.requested)."""
    referral = unique("r")
    await publish_event(events.OfferRequested(shop=shop.id, key=f"referral:{referral}", source="REFERRAL",
                                              customer_id=friend, context={"referral": referral}))

    async def issued():
        return (await shop.gql.ok(OFFERS, {"id": friend}, shop.admin))["customer"]["offers"]
    return (await eventually(issued, what="the friend's offer"))[0]


async def outbox_count(shop: str) -> int:
    conn = await db("points")
    try:
        return await conn.fetchval("SELECT count(*) FROM outbox WHERE shop_id = $1", shop)
    finally:
        await conn.close()


async def test_a_friends_referral_code_checks_redeems_once_and_counts_under_referral(gql, platform_fake):
    shop = await new_shop(gql)
    # The shop's Shopify store is connected: its own checkout must take the same code.
    token, domain = f"shpat_{unique('t')}", new_domain()
    shopify = platform_fake.add_shopify(domain, token)
    await connect_shopify(gql, shop, token=token, domain=domain)
    started = datetime.now(UTC) - timedelta(seconds=5)
    friend = await shop.new_customer()
    offer = await referral_offer(shop, friend)
    assert offer["code"].startswith("FLY-") and len(offer["code"].replace("-", "")) == 19
    assert (offer["source"], offer["kind"], offer["value"], offer["minOrder"], offer["status"]) == (
        "REFERRAL", "PERCENTAGE", "20", {"amount": "12.00", "currency": "EUR"}, "ACTIVE")
    await eventually(lambda: offer["code"] in shopify.discounts, what="the friend's code at Shopify")
    at_shopify = shopify.discounts[offer["code"]].input
    assert at_shopify["customerGets"]["value"] == {"percentage": 0.2}
    assert at_shopify["minimumRequirement"] == {"subtotal": {"greaterThanOrEqualToSubtotal": "12"}}
    me = shop.customer(friend)

    ok = (await gql.ok(CHECK, {"code": offer["code"].lower(), "cart": cart("20.00")}, me))["checkCode"]
    assert (ok["valid"], ok["reason"], ok["discount"], ok["freeShipping"]) == (
        True, None, {"amount": "4.00", "currency": "EUR"}, False)
    low = (await gql.ok(CHECK, {"code": offer["code"], "cart": cart("11.99")}, me))["checkCode"]
    assert (low["valid"], low["reason"], low["discount"]) == (False, "MIN_ORDER", None)

    order = await shop.order(friend, "PAID", lines=[{"productId": "p-mug", "quantity": 1, "unitPrice": "20.00"}],
                             discountTotal="4.00", shippingTotal="4.90", taxTotal="0", total="20.90",
                             discountCodes=[offer["code"]])

    async def used():
        mine = (await gql.ok("{ me { offers { code status redeemedOrderId } } }", headers=me))["me"]["offers"]
        return mine[0]["status"] == "REDEEMED" and mine[0]
    assert (await eventually(used, what="the order's use of the code"))["redeemedOrderId"] == order["id"]

    other = await shop.order(friend)
    again = (await gql.ok(REDEEM, {"code": offer["code"], "order": order["id"], "cart": cart(customerId=friend)},
                          shop.admin))["redeemCode"]
    assert (again["valid"], again["discount"]) == (True, {"amount": "4.00"})  # the same order: the same answer
    for call, variables in ((REDEEM, {"code": offer["code"], "order": other["id"], "cart": cart(customerId=friend)}),
                            (CHECK, {"code": offer["code"], "cart": cart()})):
        answer = await gql.ok(call, variables, shop.admin if call is REDEEM else me)
        assert next(iter(answer.values()))["reason"] == "USED"

    window = {"from": started.isoformat(), "to": (datetime.now(UTC) + timedelta(minutes=1)).isoformat()}

    async def counted():
        rows = (await gql.ok(PERFORMANCE, window, shop.admin))["offerPerformance"]
        return rows and rows[0]["attributedRevenue"]["amount"] != "0.00" and rows
    assert await eventually(counted, what="the order's revenue attributed") == [{
        "source": "REFERRAL", "issued": 1, "redeemed": 1, "redemptionRate": 100.0,
        "attributedRevenue": {"amount": "16.00", "currency": "EUR"}, "discountCost": {"amount": "4.00"},
        "costShare": 25.0, "withinBand": False}]


async def test_a_silver_customer_ships_for_free_and_sees_the_offers_that_fit_the_cart(gql):
    shop = await new_shop(gql)
    silver, bronze = await shop.new_customer(), await shop.new_customer()
    await shop.order(silver, "PAID", lines=[{"productId": "p-lamp", "quantity": 1, "unitPrice": "600.00"}],
                     discountTotal="0", total="612.40")
    await shop.until(silver, "Silver by 600 of spend", tier={"name": "Silver", "multiplier": "1.25"})
    offer = await referral_offer(shop, silver)

    benefits = (await gql.ok(BENEFITS, {"cart": cart("20.00", shippingTotal="4.90")}, shop.customer(silver)))
    assert benefits["checkoutBenefits"] == {"freeShipping": True, "tier": {"name": "Silver"},
                                            "offers": [{"code": offer["code"]}]}
    small = (await gql.ok(BENEFITS, {"cart": cart("11.99")}, shop.customer(silver)))["checkoutBenefits"]
    assert (small["freeShipping"], small["offers"]) == (True, [])  # the offer needs 12
    plain = (await gql.ok(BENEFITS, {"cart": cart()}, shop.customer(bronze)))["checkoutBenefits"]
    assert plain == {"freeShipping": False, "tier": {"name": "Bronze"}, "offers": []}
    assert codes(await gql(BENEFITS, {"cart": cart(customerId=bronze)}, shop.customer(silver))) == ["FORBIDDEN"]


async def test_bad_input_gets_a_clear_error_and_changes_nothing(gql):
    shop, elsewhere = await new_shop(gql), await new_shop(gql)
    friend = await shop.new_customer()
    offer = await referral_offer(shop, friend)
    foreign = await referral_offer(elsewhere, await elsewhere.new_customer())
    me = shop.customer(friend)
    before = await outbox_count(shop.id)

    for code, bad_cart in (("", cart()), ("FLY-7K3M;DROP TABLE", cart()), ("x" * 65, cart()),
                           (offer["code"], cart("-1.00")), (offer["code"], cart("1e30")),
                           (offer["code"], cart("99999999999")), (offer["code"], cart("20.001")),
                           (offer["code"], cart("NaN")), (offer["code"], cart(currency="euro")),
                           (offer["code"], cart(shippingTotal="-4.90")),
                           (offer["code"], cart(lines=[{"productId": "p", "quantity": 0, "unitPrice": "1.00"}]))):
        for call, variables, headers in ((CHECK, {"code": code, "cart": bad_cart}, me),
                                         (REDEEM, {"code": code, "order": "o-bad", "cart": bad_cart}, shop.admin)):
            body = await gql(call, variables, headers)
            assert codes(body) == ["BAD_USER_INPUT"], (code, bad_cart, body)
            assert body["errors"][0]["message"]  # says what is wrong

    for code, variables, reason in (("FLY-0000-0000-0000-0000", cart(), "UNKNOWN"),
                                    (foreign["code"], cart(), "UNKNOWN"),  # another shop's code
                                    (offer["code"], cart(currency="CHF"), "WRONG_CURRENCY")):
        check = (await gql.ok(CHECK, {"code": code, "cart": variables}, me))["checkCode"]
        redeem = (await gql.ok(REDEEM, {"code": code, "order": "o-bad", "cart": {**variables, "customerId": friend}},
                               shop.admin))["redeemCode"]
        assert (check["valid"], check["reason"], redeem["valid"], redeem["reason"]) == (False, reason, False, reason)
    stranger = (await gql.ok(REDEEM, {"code": offer["code"], "order": "o-bad", "cart": cart(customerId="someone")},
                             shop.admin))["redeemCode"]
    assert stranger["reason"] == "WRONG_CUSTOMER"
    assert codes(await gql(REDEEM, {"code": offer["code"], "order": "o-bad", "cart": cart()}, me)) == ["FORBIDDEN"]

    after = (await gql.ok(OFFERS, {"id": friend}, shop.admin))["customer"]["offers"]
    assert after == [offer]  # still ACTIVE, unused
    assert await outbox_count(shop.id) == before  # nothing announced


async def test_a_thousand_guesses_find_nothing_and_are_throttled_while_a_checkout_is_not(gql, http):
    """gateway/protections.ts: REDEMPTIONS_PER_MINUTE (60) checkCode calls a minute per customer."""
    limit = int(os.environ.get("REDEMPTIONS_PER_MINUTE", "60"))
    shop = await new_shop(gql)
    guesser, buyer = await shop.new_customer(), await shop.new_customer()
    offer = await referral_offer(shop, buyer)
    token = shop.customer(guesser)

    async def guess(i: int) -> httpx.Response:
        code = "FLY-" + "-".join(f"{i:016X}"[j:j + 4] for j in range(0, 16, 4))
        return await http.post(gateway_url(), headers=token, json={"query": CHECK, "variables": {
            "code": code, "cart": cart()}})
    answers: list[httpx.Response] = []
    started = time.monotonic()
    for start in range(0, 1000, 100):
        answers += await asyncio.gather(*(guess(i) for i in range(start, start + 100)))
    elapsed = time.monotonic() - started
    bodies = [a.json() for a in answers]
    checked = [b["data"]["checkCode"] for b in bodies if b.get("data")]
    limited = [a for a, b in zip(answers, bodies, strict=True) if codes(b) == ["RATE_LIMITED"]]
    assert len(checked) == limit and {c["reason"] for c in checked} == {"UNKNOWN"}  # nothing found
    assert len(limited) == 1000 - limit and len(checked) + len(limited) == 1000
    # Refused as a whole: 429, and Retry-After (also extensions.retryAfter) the seconds until the
    # minute's window frees a slot: every call was made within `elapsed` of the first, so a slot frees
    # at the earliest a minute after the first guess and at the latest a minute after the last one.
    for answer in limited:
        assert math.floor(60 - elapsed) <= throttled(answer) <= 60, elapsed
    fresh_token = customer_token(guesser, shop=shop.id, ttl=900)  # another token: the limit is per customer
    assert codes(await gql(CHECK, {"code": offer["code"], "cart": cart()}, fresh_token)) == ["RATE_LIMITED"]

    me = shop.customer(buyer)  # meanwhile a real checkout: checks on cart changes, then the shop redeems
    for subtotal in ("20.00", "24.00", "30.00"):
        assert (await gql.ok(CHECK, {"code": offer["code"], "cart": cart(subtotal)}, me))["checkCode"]["valid"]
    redeemed = (await gql.ok(REDEEM, {"code": offer["code"], "order": unique("o"),
                                      "cart": cart("30.00", customerId=buyer)}, shop.admin))["redeemCode"]
    assert (redeemed["valid"], redeemed["discount"]) == (True, {"amount": "6.00"})
