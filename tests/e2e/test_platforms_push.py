"""Offers reach the connected platforms as discount codes (issue 17, "Platform push"): offer.issued
creates the code at the fake Shopify Admin API (every request checked against the documented
mutation shapes) and at the fake Shopware Admin API; offer.redeemed (used up) and offer.revoked
switch it off, offer.released (usable) back on; failures are counted, retried with backoff, and never
touch the offer itself."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from shared import events
from tests.e2e.customers_support import customers_value
from tests.e2e.platforms_support import DISCONNECT, connect_shopify, new_domain, new_shop
from tests.e2e.test_platforms_shopware import connected_shop
from tests.stack import publish_event
from tests.support import eventually


def offer(shop: str, kind: str, value: str | None, *, customer_id: str | None = None, **over) -> dict:
    offer_id = f"of-{uuid.uuid4().hex[:12]}"
    code = f"FLY-{uuid.uuid4().hex[:12].upper()}"
    return {"shop": shop, "offer_id": offer_id, "key": f"test:{offer_id}", "code": code,
            "source": "REFERRAL", "kind": kind, "value": None if value is None else Decimal(value), "currency": "EUR",
            "customer_id": customer_id, "expires_at": datetime.now(UTC) + timedelta(days=30), "usage_limit": 1, **over}


async def issue(facts: dict) -> None:
    await publish_event(events.OfferIssued(**facts))


async def test_issued_offers_become_shopify_codes_that_follow_the_offer(gql, http, platform_fake):
    shop = new_shop(gql)
    token = f"shpat_{uuid.uuid4().hex}"
    domain = new_domain()
    fake = platform_fake.add_shopify(domain, token)
    store = await connect_shopify(gql, shop, token=token, domain=domain)

    friend = offer(shop.id, "PERCENTAGE", "20", customer_id="207119551", min_order=Decimal("12"))
    shipping = offer(shop.id, "FREE_SHIPPING", None, source="AT_RISK")
    credit = offer(shop.id, "STORE_CREDIT", "5.00", source="STORE_CREDIT", customer_id="207119551")
    product = offer(shop.id, "FREE_PRODUCT", None, source="REWARD")
    for facts in (friend, shipping, credit, product):
        await issue(facts)
    await issue(friend)  # offer.issued again (a replayed request): no second code
    await eventually(lambda: len(fake.discounts) == 3, what="three codes at Shopify")
    assert fake.errors == []  # every request matched the documented mutation shapes

    made = fake.discounts[friend["code"]]
    assert made.kind == "basic" and made.active
    assert made.input["customerGets"] == {"value": {"percentage": 0.2}, "items": {"all": True}}
    assert made.input["customerSelection"] == {"customers": {"add": ["gid://shopify/Customer/207119551"]}}
    assert made.input["minimumRequirement"] == {"subtotal": {"greaterThanOrEqualToSubtotal": "12"}}
    assert (made.input["usageLimit"], made.input["appliesOncePerCustomer"]) == (1, True)
    assert made.input["endsAt"].startswith(friend["expires_at"].date().isoformat())
    free = fake.discounts[shipping["code"]]
    assert free.kind == "free_shipping" and free.input["destination"] == {"all": True}
    assert free.input["customerSelection"] == {"all": True}
    assert fake.discounts[credit["code"]].input["customerGets"]["value"] == {
        "discountAmount": {"amount": "5", "appliesOnEachItem": False}}
    assert product["code"] not in fake.discounts  # no Shopify equivalent: skipped, not failed

    common = {"order_id": "o-1", "discount": Decimal("4.00")}
    await publish_event(events.OfferRedeemed(**friend, **common, exhausted=True))
    await eventually(lambda: not fake.discounts[friend["code"]].active, what="the used code switched off")
    await publish_event(events.OfferReleased(**friend, order_id="o-1", reason="order cancelled", usable=True))
    await eventually(lambda: fake.discounts[friend["code"]].active, what="the given-back code on again")
    await publish_event(events.OfferRevoked(**shipping, reason="revoked by the admin"))
    await eventually(lambda: not fake.discounts[shipping["code"]].active, what="the revoked code off")
    await publish_event(events.OfferRedeemed(**credit, **common, exhausted=False))  # uses left: stays on

    async def counted():
        connection = await shop.connection(store.connection_id)
        return connection["offersPushed"] == 6 and connection
    connection = await eventually(counted, what="six pushes counted")
    assert (connection["pushFailures"], connection["status"]) == (0, "ACTIVE")
    assert fake.discounts[credit["code"]].active
    creates = [c for c in fake.calls if c[0].endswith("Create") and c[0] != "webhookSubscriptionCreate"]
    assert len(creates) == 3


async def test_a_refused_push_is_counted_retried_with_backoff_and_recovers(gql, http, platform_fake):
    shop = new_shop(gql)
    token = f"shpat_{uuid.uuid4().hex}"
    store = await connect_shopify(gql, shop, token=token)
    fake = platform_fake.add_shopify(store.domain, "a-revoked-token")  # Shopify refuses our token
    facts = offer(shop.id, "FIXED_AMOUNT", "10.00", source="WINBACK")
    await issue(facts)

    async def failing():
        connection = await shop.connection(store.connection_id)
        return connection["pushFailures"] >= 1 and connection
    connection = await eventually(failing, what="the refused push counted")
    assert connection["status"] == "FAILING" and "refused the token (401)" in connection["lastError"]
    fake.token = token  # the merchant fixes the app's access
    await eventually(lambda: facts["code"] in fake.discounts, timeout=30, what="the retry after its backoff")

    async def recovered():
        connection = await shop.connection(store.connection_id)
        return connection["status"] == "ACTIVE" and connection
    connection = await eventually(recovered, what="the connection active again")
    assert (connection["offersPushed"], connection["pushFailures"]) == (1, 1)

    await gql.ok(DISCONNECT, {"id": store.connection_id}, shop.admin)
    later = offer(shop.id, "PERCENTAGE", "10", source="WINBACK")
    event_id = await publish_event(events.OfferIssued(**later))
    await eventually(lambda: _consumed(event_id), what="the offer event handled")
    jobs = await customers_value("SELECT count(*) FROM scheduled_jobs WHERE shop_id = $1 AND payload->>'offer_id' = $2",
                                 shop.id, later["offer_id"])
    connection = await shop.connection(store.connection_id)
    assert jobs == 0 and later["code"] not in fake.discounts and connection["offersPushed"] == 1  # disconnected


async def _consumed(event_id: str) -> bool:
    return bool(await customers_value("SELECT count(*) FROM inbox WHERE event_id = $1", event_id))


async def test_issued_offers_become_shopware_promotions_with_individual_codes(gql, http, platform_fake):
    sw, shop_id = await connected_shop(gql, http, platform_fake)
    fake = platform_fake.shopware[shop_id]
    facts = offer(sw.shop.id, "PERCENTAGE", "10", source="BIRTHDAY", customer_id="5e5d6cd8917c45839b2f6aa7b4bf1425")
    shipping = offer(sw.shop.id, "FREE_SHIPPING", None, source="AT_RISK")
    await issue(facts)
    await issue(shipping)
    await eventually(lambda: len(fake.promotions) == 2, what="two promotions at Shopware")
    assert fake.errors == []
    [promotion] = [p for p in fake.promotions.values() if p["individualCodes"][0]["code"] == facts["code"]]
    assert (promotion["active"], promotion["useIndividualCodes"], promotion["maxRedemptionsGlobal"]) == (True, True, 1)
    assert promotion["discounts"][0] | {"id": None} == {"id": None, "scope": "cart", "type": "percentage",
                                                        "value": 10.0, "considerAdvancedRules": False}
    assert promotion["personaCustomers"] == [{"id": "5e5d6cd8917c45839b2f6aa7b4bf1425"}]
    [free] = [p for p in fake.promotions.values() if p["individualCodes"][0]["code"] == shipping["code"]]
    assert free["discounts"][0]["scope"] == "delivery"

    await publish_event(events.OfferRevoked(**facts, reason="revoked by the admin"))
    await eventually(lambda: promotion["active"] is False, what="the promotion switched off")
    connection = await sw.shop.connection(sw.connection_id)
    assert connection["offersPushed"] == 3
    assert ("POST", "/api/oauth/token") in fake.requests
