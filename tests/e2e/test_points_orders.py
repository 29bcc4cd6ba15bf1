"""Orders through the gateway become pending points, are released after the return window, and are
taken back on refunds and cancellations; the ledger invariant holds after every scenario."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from shared import events
from shared.events import new_envelope
from tests.e2e.points_support import events_of, new_shop
from tests.stack import codes, db, publish_raw, subgraph_url, unique
from tests.support import eventually

ORDERS = """query($id: ID!) { customer(id: $id) {
  orders { edges { node { id status pointsEarned pointsStatus } } } } }"""
HISTORY = """query($id: ID!) { customer(id: $id) {
  pointsHistory { edges { node { delta kind bucket ruleVersion } } } } }"""


async def order_points(shop, customer_id):
    data = await shop.gql.ok(ORDERS, {"id": customer_id}, shop.admin)
    return {e["node"]["id"]: (e["node"]["pointsEarned"], e["node"]["pointsStatus"])
            for e in data["customer"]["orders"]["edges"]}


async def test_paid_is_pending_and_delivery_plus_pending_days_releases(gql):
    shop = await new_shop(gql, pendingDays=0)
    customer = await shop.new_customer()
    order = await shop.order(customer, "PAID")
    account = await shop.until(customer, "pending points", pending=45, balance=0, lifetimeEarned=45)
    assert account["tier"]["name"] == "Bronze" and account["nextTier"]["name"] == "Silver"
    assert account["amountToNextTier"] == {"amount": "455.00", "currency": "EUR"}
    assert (await order_points(shop, customer))[order["id"]] == (45, "PENDING")
    await shop.status(order["id"], "DELIVERED")
    account = await shop.until(customer, "released points", pending=0, balance=45, lifetimeEarned=45)
    assert account["expiringPoints"] == 45 and account["expiringAt"]
    assert (await order_points(shop, customer))[order["id"]] == (45, "AVAILABLE")
    earned = await events_of(shop.id, "points.earned", customer)
    assert [(e["points"], e["pending"]) for e in earned] == [(45, True), (45, False)]


async def test_the_default_window_keeps_points_pending_for_fourteen_days_in_a_durable_job(gql):
    shop = await new_shop(gql)
    customer = await shop.new_customer()
    before = datetime.now(UTC)
    order = await shop.order(customer, "PAID", "SHIPPED", "DELIVERED")
    after = datetime.now(UTC)
    conn, customers = await db("points"), await db("customers")
    try:
        job = await eventually(lambda: conn.fetchrow(
            "SELECT due_at, status FROM scheduled_jobs WHERE shop_id = $1 AND dedup_key = $2", shop.id, order["id"]),
            what="the release job")
        release = await conn.fetchval(
            "SELECT release_at FROM order_points WHERE shop_id = $1 AND order_id = $2", shop.id, order["id"])
        delivered = await customers.fetchval(
            "SELECT delivered_at FROM orders WHERE shop_id = $1 AND id = $2", shop.id, order["id"])
    finally:
        await conn.close()
        await customers.close()
    # Fourteen days from the delivery the customers service recorded (during this test), not two values
    # the points service computes compared with each other.
    assert before - timedelta(seconds=5) <= delivered <= after + timedelta(seconds=5)
    assert release == delivered + timedelta(days=14)
    assert job["status"] == "pending" and job["due_at"] == release
    assert (await shop.loyalty(customer))["pending"] == 45


async def test_partial_then_full_refund_takes_back_in_proportion_then_all(gql):
    shop = await new_shop(gql)
    customer = await shop.new_customer()
    order = await shop.order(customer, "PAID")
    await shop.until(customer, "pending", pending=45)
    await shop.status(order["id"], "REFUNDED", "10.00")
    await shop.until(customer, "a tenth less", pending=35, lifetimeEarned=35)
    await shop.status(order["id"], "REFUNDED", "10.00")  # the platform repeats itself: nothing more
    await shop.status(order["id"], "REFUNDED")
    await shop.until(customer, "all reversed", pending=0, balance=0, lifetimeEarned=0)
    assert (await order_points(shop, customer))[order["id"]] == (0, "REVERSED")
    reversed_ = await events_of(shop.id, "points.reversed", customer)
    assert [(e["points"], e["shortfall"]) for e in reversed_] == [(10, 0), (35, 0)]


async def test_a_cancelled_paid_order_reverses_everything(gql):
    shop = await new_shop(gql)
    customer = await shop.new_customer()
    order = await shop.order(customer, "PAID")
    await shop.until(customer, "pending", pending=45)
    await shop.status(order["id"], "CANCELLED")
    await shop.until(customer, "reversed", pending=0, lifetimeEarned=0)
    assert (await order_points(shop, customer))[order["id"]] == (0, "REVERSED")


async def test_spent_points_are_never_overdrawn_the_shortfall_is_netted_later(gql):
    shop = await new_shop(gql, pendingDays=0)
    customer = await shop.new_customer()
    first = await shop.order(customer, "PAID", "DELIVERED")
    await shop.until(customer, "available", balance=45)
    await shop.adjust(customer, -40)  # spent elsewhere
    await shop.status(first["id"], "REFUNDED")
    await shop.until(customer, "what is left taken", balance=0, shortfall=40)
    reversed_ = await events_of(shop.id, "points.reversed", customer)
    assert [(e["points"], e["shortfall"], e["balance"]) for e in reversed_] == [(45, 40, 0)]
    await shop.order(customer, "PAID", "DELIVERED")
    await shop.until(customer, "the shortfall netted", balance=5, shortfall=0, pending=0)


async def test_a_refund_takes_back_by_the_rule_version_that_earned(gql):
    shop = await new_shop(gql)
    customer = await shop.new_customer()
    order = await shop.order(customer, "PAID")
    await shop.until(customer, "pending at rate 1", pending=45)
    program = await shop.configure(earnRate="2", force=True)  # 7.5 % with the default point value 0.025
    assert program["version"] == 2
    await shop.status(order["id"], "REFUNDED", "10.00")
    await shop.until(customer, "10 taken at rate 1, not 20", pending=35)
    later = await shop.order(customer, "PAID")
    await shop.until(customer, "the new order at rate 2", pending=125)
    history = (await gql.ok(HISTORY, {"id": customer}, shop.admin))["customer"]["pointsHistory"]["edges"]
    assert [(e["node"]["delta"], e["node"]["kind"], e["node"]["ruleVersion"]) for e in history] == [
        (90, "EARN", 2), (-10, "REVERSE", 1), (45, "EARN", 1)]
    assert (await order_points(shop, customer))[later["id"]] == (90, "PENDING")


async def test_tier_upgrade_is_immediate_multiplies_later_orders_and_nudges_once(gql):
    shop = await new_shop(gql, tiers=[
        {"name": "Bronze", "threshold": "0", "multiplier": "1"},
        {"name": "Silver", "threshold": "100", "multiplier": "2", "perks": ["free shipping"]},
    ])
    customer = await shop.new_customer()
    await shop.order(customer, "PAID")  # 45 spent
    await shop.order(customer, "PAID", total="52.40", lines=[{"productId": "p", "quantity": 1, "unitPrice": "40"}])
    account = await shop.until(customer, "near Silver", pending=85)  # 85 spent: 15 % of 100 away
    assert account["tier"]["name"] == "Bronze" and account["amountToNextTier"]["amount"] == "15.00"
    await shop.order(customer, "PAID")  # 130 spent: Silver at once
    account = await shop.until(customer, "Silver", pending=130)
    assert account["tier"] == {"name": "Silver", "multiplier": "2"} and account["nextTier"] is None
    await shop.order(customer, "PAID")
    await shop.until(customer, "doubled", pending=220)
    changes = await events_of(shop.id, "tier.changed", customer)
    said = [(c["from_tier"], c["to_tier"], c["direction"], c["reason"]) for c in changes]
    assert said == [(None, "Bronze", "up", "initial"), ("Bronze", "Silver", "up", None)], said
    nudges = await events_of(shop.id, "tier.near", customer)
    assert [(n["next_tier"], n["amount_to_next"]) for n in nudges] == [("Silver", "15.00")]


async def test_orders_in_another_currency_without_a_rate_earn_nothing_and_say_so(gql):
    shop = await new_shop(gql)
    customer = await shop.new_customer()
    order = await shop.order(customer, "PAID", currency="USD")
    await eventually(lambda: order_points(shop, customer), what="the order")

    async def seen():  # issue 18: never a silent 0 (the note: tests/e2e/test_platforms_shopify.py)
        return (await order_points(shop, customer)).get(order["id"]) == (0, "NOT_ELIGIBLE")
    await eventually(seen, what="the order recorded with 0 points, not eligible")
    account = await shop.until(customer, "nothing", pending=0, balance=0)
    assert account["lifetimeEarned"] == 0


async def test_the_points_subgraph_guards_order_entities(gql):
    shop = await new_shop(gql)
    a, b = await shop.new_customer(), await shop.new_customer()
    order = await shop.order(a, "PAID")
    await shop.until(a, "pending", pending=45)
    query = "query($r: [_Any!]!) { _entities(representations: $r) { ... on Order { id pointsEarned pointsStatus } } }"
    rep = {"r": [{"__typename": "Order", "id": order["id"]}]}
    url = subgraph_url("points")
    assert codes(await gql(query, rep, shop.customer(b), url=url)) == ["FORBIDDEN"]
    assert codes(await gql(query, rep, url=url)) == ["UNAUTHENTICATED"]
    own = await gql.ok(query, rep, shop.customer(a), url=url)
    assert own["_entities"] == [{"id": order["id"], "pointsEarned": 45, "pointsStatus": "PENDING"}]


async def test_a_delivery_consumed_before_its_payment_still_releases_the_points(gql):
    """The consumer handles several messages at once, so order.delivered may be handled first."""
    shop = await new_shop(gql, pendingDays=0)
    customer_id = await shop.new_customer()
    order_id = unique("o")
    fields = dict(shop=shop.id, order_id=order_id, customer_id=customer_id, currency="EUR", total=Decimal("57.40"),
                  net_amount=Decimal("45.00"), placed_at=datetime.now(UTC))
    delivered = new_envelope(events.OrderDelivered(**fields), source="tests")
    await publish_raw(delivered.model_dump_json().encode(), "order.delivered", delivered.id)

    async def handled(event_id: str) -> bool:
        conn = await db("points")
        try:
            return bool(await conn.fetchval(
                "SELECT count(*) FROM inbox WHERE consumer = 'points.events' AND event_id = $1", event_id))
        finally:
            await conn.close()
    await eventually(lambda: handled(delivered.id), what="the early delivery handled, not retried")
    paid = new_envelope(events.OrderPaid(**fields), source="tests")
    await publish_raw(paid.model_dump_json().encode(), "order.paid", paid.id)
    await shop.until(customer_id, "released once paid", balance=45, pending=0)
