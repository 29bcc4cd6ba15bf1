"""Offers reach the connected platforms as discount codes (issue 17, "Platform push"): offer.issued
creates the code at the fake Shopify Admin API (every request checked against the documented
mutation shapes) and at the fake Shopware Admin API; offer.redeemed (used up) and offer.revoked
switch it off, offer.released (usable) back on; failures are counted, retried with backoff, and never
touch the offer itself. The last test has points publish those events for a real offer and order."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from shared import events
from tests.e2e.customers_support import customers_value
from tests.e2e.platforms_support import (
    DISCONNECT,
    big_id,
    connect_shopify,
    new_domain,
    new_shop,
    recent,
    shopify_order,
)
from tests.e2e.test_platforms_shopware import connected_shop
from tests.stack import publish_event, unique
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


ISSUE = """mutation($input: IssueOfferInput!) { issueOffer(input: $input) { id code status customerId } }"""
REVOKE = """mutation($id: ID!) { revokeOffer(id: $id, reason: "withdrawn by the admin") { status } }"""
OFFER_STATE = """query($id: ID!) { customer(id: $id) { offers { code status redeemedOrderId } } }"""


async def test_offers_points_issues_follow_their_shopify_code_through_a_real_order(gql, http, platform_fake):
    """Not hand-fed events: points issues the offer (issueOffer), the store's own order carrying the
    code (orders/create with discount_codes) redeems it, its cancellation (orders/cancelled) gives it
    back, the admin revokes it; each offer event points publishes moves the code at Shopify."""
    shop = new_shop(gql)
    token = f"shpat_{uuid.uuid4().hex}"
    domain = new_domain()
    fake = platform_fake.add_shopify(domain, token)
    store = await connect_shopify(gql, shop, token=token, domain=domain)
    buyer = big_id()
    issued = (await gql.ok(ISSUE, {"input": {"customerId": str(buyer), "source": "MANUAL", "kind": "FIXED_AMOUNT",
                                              "value": "10.00", "currency": "USD", "validDays": 30,
                                              "idempotencyKey": unique("k")}}, shop.admin))["issueOffer"]
    code = issued["code"]
    await eventually(lambda: code in fake.discounts, what="the issued offer's code at Shopify")
    made = fake.discounts[code]
    assert made.active and made.kind == "basic" and fake.errors == []
    assert made.input["customerSelection"] == {"customers": {"add": [f"gid://shopify/Customer/{buyer}"]}}
    assert made.input["customerGets"]["value"] == {"discountAmount": {"amount": "10", "appliesOnEachItem": False}}

    order = shopify_order(buyer, financial_status="paid", total_price="189.00",
                          discount_codes=[{"code": code.lower(), "amount": "10.00", "type": "fixed_amount"}],
                          total_discounts="10.00")
    order.pop("total_discounts_set", None)
    assert (await store.deliver(http, "orders/create", order)).json() == {"ok": "order PAID"}
    await eventually(lambda: not fake.discounts[code].active, what="the code used up at Shopify too")

    async def offer_state() -> dict:
        offers = (await gql.ok(OFFER_STATE, {"id": str(buyer)}, shop.admin))["customer"]["offers"]
        return next(o for o in offers if o["code"] == code)
    assert await offer_state() == {"code": code, "status": "REDEEMED", "redeemedOrderId": str(order["id"])}

    cancelled = {**order, "cancelled_at": recent(0.5), "cancel_reason": "customer", "financial_status": "voided"}
    assert (await store.deliver(http, "orders/cancelled", cancelled)).json() == {"ok": "order CANCELLED"}
    await eventually(lambda: fake.discounts[code].active, what="the given-back code on again at Shopify")
    assert (await offer_state())["status"] == "ACTIVE"

    assert (await gql.ok(REVOKE, {"id": issued["id"]}, shop.admin))["revokeOffer"]["status"] == "REVOKED"
    await eventually(lambda: not fake.discounts[code].active, what="the revoked code off at Shopify")

    async def counted():
        connection = await shop.connection(store.connection_id)
        return connection["offersPushed"] == 4 and connection  # created, off, on, off
    connection = await eventually(counted, what="four pushes counted")
    assert connection["pushFailures"] == 0 and fake.errors == []
    assert [c[0] for c in fake.calls if c[0].startswith("discount")] == [
        "discountCodeBasicCreate", "discountCodeDeactivate", "discountCodeActivate", "discountCodeDeactivate"]
