"""The gateway's response cache (gateway/cache.ts, invalidation.ts): public reads shared per shop,
customer reads per verified customer and shop and never anyone else's; a customer's own mutation read
back fresh at once; every event's change visible in the next read within a second of its owner
having made it; checks and redemptions never cached. The broker outage (fail fresh) is in
tests/chaos/test_gateway_cache_outage.py, overload in test_gateway_overload.py."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from shared import events
from tests.e2e.challenges_support import join, launch
from tests.e2e.points_support import new_shop
from tests.stack import ADMIN, INGEST, PUBLIC, customer_token, gateway_url, publish_event, unique
from tests.support import eventually

PANEL = """query CachePanel { me { id firstName loyalty { balance pending tier { name } }
  redemptions { id code reward { id name } } offers(status: ACTIVE) { id code }
  challengeProgress { challenge { id } progress completed } reviews { id status } } }"""
CATALOG = "query CacheCatalog { tiers { name } rewardsCatalog { id name pointsCost } }"
PRODUCT = """query CacheProduct($id: ID!) { product(id: $id) { ratingSummary { average count }
  reviews(first: 5) { edges { node { id rating helpfulCount } } } } }"""
TRUTH = """query($id: ID!) { customer(id: $id) { loyalty { balance pending tier { name } }
  challengeProgress { challenge { id } progress completed } offers(status: ACTIVE) { id code } } }"""
ADJUST = """mutation($c: ID!, $d: Int!, $k: String!) { adjustPoints(customerId: $c, delta: $d, reason: "cache test",
  idempotencyKey: $k) { balance } }"""
REWARD = """mutation($n: String!) { upsertReward(input: {name: $n, kind: FIXED_AMOUNT, pointsCost: 10, value: "1.00"})
  { id name } }"""
REDEEM = "mutation($r: ID!, $k: String!) { redeemReward(rewardId: $r, idempotencyKey: $k) { id code } }"


async def read(http, query: str, headers: dict | None = None, variables: dict | None = None,
               url: str | None = None) -> tuple[dict, str]:
    response = await http.post(url or gateway_url(), json={"query": query, "variables": variables or {}},
                               headers=headers or {})
    body = response.json()
    assert response.status_code == 200 and not body.get("errors"), body
    return body["data"], response.headers.get("x-flywheel-cache", "")


async def cached(http, query: str, headers: dict | None = None, variables: dict | None = None) -> dict:
    """Read until the answer comes from the cache (an event's hold may still be on); return it."""
    async def hit():
        data, status = await read(http, query, headers, variables)
        return status == "hit" and data
    return await eventually(hit, timeout=15, interval=0.2, what="a cache hit")


async def customer(gql, shop: str | None = None, customer_id: str | None = None) -> str:
    customer_id = customer_id or unique("c")
    await gql.ok("mutation($i: CustomerInput!) { upsertCustomer(input: $i) { id } }",
                 {"i": {"id": customer_id, "email": f"{customer_id}@example.com", "firstName": customer_id}},
                 customer_token("admin", shop=shop, roles=["admin"]) if shop else INGEST)
    return customer_id


async def visible_within_a_second(http, gql, customer_id: str, admin: dict, token: dict, changed) -> dict:
    """From the moment the owner shows the change (an admin read: never cached) the customer's own
    read shows it within 1 s. Returns the customer's panel then."""
    async def owner():
        return changed((await gql.ok(TRUTH, {"id": customer_id}, admin))["customer"])
    await eventually(owner, timeout=30, interval=0.05, what="the owning service to show the change")
    shown_at = time.monotonic()

    async def gateway():
        data, _ = await read(http, PANEL, token)
        return changed(data["me"]) and data["me"]
    panel = await eventually(gateway, timeout=5, interval=0.05, what="the gateway to show the change")
    assert time.monotonic() - shown_at <= 1.0, "the cached read lagged the owner by more than a second"
    return panel


async def test_customer_reads_are_never_shared_across_customers_or_shops(http, gql):
    anna, ben = await customer(gql), await customer(gql)
    # The same customer id in another shop is another customer. (Its events drop anna's entries here
    # too: entities are named by typename and id alone, which costs a read, never a stale one.)
    other_shop = unique("shop")
    await customer(gql, other_shop, anna)
    await gql.ok(ADJUST, {"c": anna, "d": 70, "k": unique("k")}, ADMIN)
    mine = await cached(http, PANEL, customer_token(anna))
    assert mine["me"]["id"] == anna and mine["me"]["loyalty"]["balance"] == 70

    data, status = await read(http, PANEL, customer_token(ben))  # the same document, another customer
    assert status == "miss" and data["me"]["id"] == ben and data["me"]["loyalty"]["balance"] == 0
    data, status = await read(http, PANEL, customer_token(anna, shop=other_shop))
    assert status == "miss" and data["me"]["id"] == anna and data["me"]["loyalty"]["balance"] == 0
    # Nobody gets a customer entry without the customer's verified token.
    anonymous = await http.post(gateway_url(), json={"query": PANEL}, headers=PUBLIC)
    assert anonymous.json()["data"]["me"] is None and anonymous.headers["x-flywheel-cache"] == "bypass"
    forged = await http.post(gateway_url(), json={"query": PANEL},
                             headers=customer_token(anna, secret="not-the-secret-0123456789abcdef0123"))
    assert forged.status_code == 401 and "data" not in forged.json()
    data, status = await read(http, PANEL, customer_token(anna))
    assert status == "hit" and data == mine
    # Admins and API keys always read live.
    _, status = await read(http, TRUTH, ADMIN, {"id": anna})
    assert status == "bypass"


async def test_public_reads_are_shared_per_shop(http, gql):
    shop = await new_shop(gql)
    reward = (await gql.ok(REWARD, {"n": unique("Mug")}, shop.admin))["upsertReward"]
    anonymous = {"x-shop": shop.id}
    data = await cached(http, CATALOG, anonymous)
    ids = {r["id"] for r in data["rewardsCatalog"]}
    assert reward["id"] in ids  # beside the defaults every new shop starts with
    # A signed-in customer of the shop shares the shop's entry; another shop has its own.
    data, status = await read(http, CATALOG, customer_token(unique("c"), shop=shop.id))
    assert status == "hit" and {r["id"] for r in data["rewardsCatalog"]} == ids
    data, status = await read(http, CATALOG, {"x-shop": unique("shop")})
    assert status == "miss" and reward["id"] not in {r["id"] for r in data["rewardsCatalog"]}
    # An admin's change to the catalog is in the next public read.
    renamed = await gql.ok("""mutation($id: ID!) { upsertReward(input: {id: $id, name: "Renamed", kind: FIXED_AMOUNT,
                              pointsCost: 10, value: "1.00"}) { id name } }""", {"id": reward["id"]}, shop.admin)
    assert renamed["upsertReward"]["name"] == "Renamed"
    data, status = await read(http, CATALOG, anonymous)
    assert status == "miss" and {r["id"]: r["name"] for r in data["rewardsCatalog"]}[reward["id"]] == "Renamed"
    await cached(http, CATALOG, anonymous)
    added = (await gql.ok(REWARD, {"n": unique("Tote")}, shop.admin))["upsertReward"]
    data, _ = await read(http, CATALOG, anonymous)
    assert {r["id"] for r in data["rewardsCatalog"]} == ids | {added["id"]}


async def test_a_customers_own_redemption_is_read_back_fresh_at_once(http, gql):
    shop = await new_shop(gql)
    reward = (await gql.ok(REWARD, {"n": unique("Voucher")}, shop.admin))["upsertReward"]
    anna = await shop.new_customer()
    await shop.adjust(anna, 100)
    token = shop.customer(anna)
    before = await cached(http, PANEL, token)
    assert before["me"]["loyalty"]["balance"] == 100 and before["me"]["redemptions"] == []

    redemption = (await gql.ok(REDEEM, {"r": reward["id"], "k": unique("k")}, token))["redeemReward"]
    data, status = await read(http, PANEL, token)  # at once: no wait, no retry
    assert status == "miss"
    assert data["me"]["loyalty"]["balance"] == 90
    assert [r["code"] for r in data["me"]["redemptions"]] == [redemption["code"]]


async def test_points_earned_and_a_tier_change_are_visible_within_a_second(http, gql):
    shop = await new_shop(gql)
    anna = await shop.new_customer()
    token = shop.customer(anna)
    await cached(http, PANEL, token)
    await shop.adjust(anna, 40)  # an admin's change: only its points.earned tells the gateway
    panel = await visible_within_a_second(http, gql, anna, shop.admin, token,
                                          lambda c: c["loyalty"]["balance"] == 40)
    assert panel["loyalty"]["balance"] == 40

    await cached(http, PANEL, token)
    tier = (await cached(http, PANEL, token))["me"]["loyalty"]["tier"]["name"]
    target = "Gold" if tier != "Gold" else "Silver"
    until = (datetime.now(UTC) + timedelta(days=30)).isoformat()
    await gql.ok("""mutation($c: ID!, $t: String!, $u: DateTime!) { overrideTier(customerId: $c, tier: $t,
                    reason: "cache test", until: $u) { tier { name } } }""", {"c": anna, "t": target, "u": until},
                 shop.admin)
    await visible_within_a_second(http, gql, anna, shop.admin, token, lambda c: c["loyalty"]["tier"]["name"] == target)


async def test_each_offer_event_reaches_the_customers_offers_within_a_second(http, gql):
    """offer.issued, offer.redeemed (a code used at checkout), offer.released (given back) and
    offer.revoked each change the customer's offers: each is in their next read within 1 s."""
    shop = await new_shop(gql)
    anna = await shop.new_customer()
    token = shop.customer(anna)
    panel = await cached(http, PANEL, token)
    assert panel["me"]["offers"] == []
    # An admin's issueOffer: only its offer.issued tells the gateway that anna has an offer now.
    offer = (await gql.ok("""mutation($c: ID!, $k: String!) { issueOffer(input: {kind: PERCENTAGE, value: "10",
                             customerId: $c, validDays: 30, idempotencyKey: $k}) { id code } }""",
                          {"c": anna, "k": unique("k")}, shop.admin))["issueOffer"]
    codes = lambda c: [o["code"] for o in c["offers"]]  # noqa: E731
    await visible_within_a_second(http, gql, anna, shop.admin, token, lambda c: codes(c) == [offer["code"]])
    await cached(http, PANEL, token)
    order = unique("o")
    redeemed = await gql.ok("""mutation($code: String!, $o: ID!, $c: ID!) { redeemCode(code: $code, orderId: $o,
                              cart: {currency: "EUR", subtotal: "50.00", shippingTotal: "4.90", customerId: $c})
                              { valid } }""",
                            {"code": offer["code"], "o": order, "c": anna}, shop.admin)
    assert redeemed["redeemCode"]["valid"]
    await visible_within_a_second(http, gql, anna, shop.admin, token, lambda c: c["offers"] == [])
    await cached(http, PANEL, token)
    await gql.ok("mutation($code: String!, $o: ID!) { releaseCode(code: $code, orderId: $o) { status } }",
                 {"code": offer["code"], "o": order}, shop.admin)
    await visible_within_a_second(http, gql, anna, shop.admin, token, lambda c: codes(c) == [offer["code"]])
    await cached(http, PANEL, token)
    await gql.ok('mutation($id: ID!) { revokeOffer(id: $id, reason: "cache test") { status } }', {"id": offer["id"]},
                 shop.admin)
    await visible_within_a_second(http, gql, anna, shop.admin, token, lambda c: c["offers"] == [])


async def test_an_expired_token_is_never_served_from_the_cache_nor_cached(http, gql):
    """An expired token's caller is public, its answer carries TOKEN_EXPIRED: neither the warning nor
    the answer may reach anyone else, and it gets no one's cached entry."""
    anna = await customer(gql)
    await cached(http, CATALOG, PUBLIC)
    expired = customer_token(anna, ttl=-120)
    for _ in range(3):
        response = await http.post(gateway_url(), json={"query": CATALOG}, headers=expired)
        body = response.json()
        assert response.headers["x-flywheel-cache"] == "bypass"
        assert [w["code"] for w in body["extensions"]["warnings"]] == ["TOKEN_EXPIRED"]
    data, status = await read(http, CATALOG, PUBLIC)
    assert status == "hit"
    response = await http.post(gateway_url(), json={"query": CATALOG}, headers=PUBLIC)
    assert "warnings" not in (response.json().get("extensions") or {})


async def test_a_published_review_and_the_challenge_progress_it_makes_are_visible_within_a_second(http, gql):
    shop = await new_shop(gql)
    challenge = await launch(shop, title="Review it", goal={"event": "REVIEW_PUBLISHED", "count": 3},
                             rewardPoints=0, badge=None)
    anna = await shop.new_customer()
    await join(shop, challenge["id"], anna)
    token = shop.customer(anna)
    panel = await cached(http, PANEL, token)
    assert panel["me"]["challengeProgress"][0]["progress"] == 0
    # The points service counts the review without an event of its own: the gateway holds anna's
    # entries while it does (invalidation.ts, CACHE_SETTLE_MS).
    await publish_event(events.ReviewPublished(shop=shop.id, review_id=unique("r"), customer_id=anna,
                                               product_id=unique("p"), rating=5))
    await visible_within_a_second(http, gql, anna, shop.admin, token,
                                  lambda c: c["challengeProgress"][0]["progress"] == 1)


async def test_a_published_review_reaches_the_cached_product_page(http, gql):
    from tests.e2e.reviews_support import buy, publish, submit
    product = unique("p")
    anna = await customer(gql)
    await buy(gql, anna, [product], deliver=True)
    page = await cached(http, PRODUCT, PUBLIC, {"id": product})
    assert page["product"]["ratingSummary"]["count"] == 0
    review = await submit(gql, anna, product, rating=4)
    data, _ = await read(http, PRODUCT, PUBLIC, {"id": product})
    assert data["product"]["ratingSummary"]["count"] == 0  # pending moderation: not on the page
    await publish(gql, review["id"])
    started = time.monotonic()

    async def shown():
        data, _ = await read(http, PRODUCT, PUBLIC, {"id": product})
        return data["product"]["ratingSummary"]["count"] == 1 and data
    data = await eventually(shown, timeout=5, interval=0.05, what="the review on the product page")
    assert time.monotonic() - started <= 1.0
    assert data["product"]["reviews"]["edges"][0]["node"]["id"] == review["id"]
    # A helpful vote (a mutation returning the review) reaches the page at once.
    await cached(http, PRODUCT, PUBLIC, {"id": product})
    other = await customer(gql)
    await gql.ok("mutation($id: ID!) { voteReviewHelpful(reviewId: $id) { id helpfulCount } }", {"id": review["id"]},
                 customer_token(other))
    data, _ = await read(http, PRODUCT, PUBLIC, {"id": product})
    assert data["product"]["reviews"]["edges"][0]["node"]["helpfulCount"] == 1


async def test_checks_and_redemptions_are_never_cached(http, gql):
    anna = await customer(gql)
    token = customer_token(anna)
    cart = {"cart": {"currency": "EUR", "subtotal": "30.00", "shippingTotal": "4.90"}}
    benefits = "query($cart: CartInput!) { checkoutBenefits(cart: $cart) { freeShipping offers { id } } }"
    statuses = [(await read(http, benefits, token, cart))[1] for _ in range(3)]
    assert "hit" not in statuses
    check = """mutation($cart: CartInput!) { checkCode(code: "NOPE-NOPE", cart: $cart) { valid reason } }"""
    for _ in range(2):
        response = await http.post(gateway_url(), json={"query": check, "variables": cart}, headers=token)
        assert response.headers["x-flywheel-cache"] == "bypass"
        assert response.json()["data"]["checkCode"]["valid"] is False
