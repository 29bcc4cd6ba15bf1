"""Segments, engagement, RFM and stats through the gateway, each test in a fresh shop."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

from services.customers.jobs import JOBS
from shared.schedule import Job
from tests.e2e.customers_support import (
    customer,
    customers_value,
    days_ago,
    order,
    publish_event,
    statements_of_request,
)
from tests.stack import INGEST, codes, customer_token, db, new_shop, subgraph_url, unique
from tests.support import eventually

PROFILE = """query($id: ID!) { customer(id: $id) { segment rfm { recency frequency monetary }
  stats { ordersCount totalSpent { amount currency } averageOrderValue { amount } firstOrderAt lastOrderAt
          engagementScore engagementThreshold } } }"""
COUNTS = "{ segmentCounts { segment count } }"
ENGAGE = "mutation($input: EngagementInput!) { recordEngagement(input: $input) }"
REFRESH = "mutation { refreshSegments }"


async def segment_of(gql, headers, customer_id):
    return (await gql.ok(PROFILE, {"id": customer_id}, headers))["customer"]["segment"]


async def test_each_segment_from_order_history_and_the_counts(gql):
    shop, admin = new_shop()
    prospect = await customer(gql, admin)
    new = await customer(gql, admin)
    await order(gql, admin, new, days_ago(5))
    regular = await customer(gql, admin)
    for age in (80, 40, 10):
        await order(gql, admin, regular, days_ago(age), net="20.00")
    vip = await customer(gql, admin)
    for age in (80, 60, 30, 3):  # more than 3 purchases in the last 90 days, AOV 150
        await order(gql, admin, vip, days_ago(age), net="150.00", status="DELIVERED")
    lifetime = await customer(gql, admin)  # the same four, one of them 200 days ago: no VIP (issue 19)
    for age in (200, 60, 30, 3):
        await order(gql, admin, lifetime, days_ago(age), net="150.00", status="DELIVERED")
    occasional = await customer(gql, admin)  # one purchase 45 days ago: none of the brief's rows
    await order(gql, admin, occasional, days_ago(45))
    at_risk = await customer(gql, admin)
    await order(gql, admin, at_risk, days_ago(100))
    churned = await customer(gql, admin)
    await order(gql, admin, churned, days_ago(400))
    await order(gql, admin, churned, days_ago(10), status="CANCELLED")  # does not count

    expected = {prospect: "PROSPECT", new: "NEW", regular: "REGULAR", vip: "VIP", at_risk: "AT_RISK",
                churned: "CHURNED", lifetime: "REGULAR", occasional: "OCCASIONAL"}
    for customer_id, segment in expected.items():
        assert await segment_of(gql, admin, customer_id) == segment, segment
    counts = {c["segment"]: c["count"] for c in (await gql.ok(COUNTS, headers=admin))["segmentCounts"]}
    assert counts == {"PROSPECT": 1, "NEW": 1, "REGULAR": 2, "VIP": 1, "OCCASIONAL": 1, "AT_RISK": 1, "CHURNED": 1}

    stats = (await gql.ok(PROFILE, {"id": vip}, admin))["customer"]["stats"]
    assert stats["ordersCount"] == 4
    assert stats["totalSpent"] == {"amount": "600.00", "currency": "EUR"}
    assert stats["averageOrderValue"]["amount"] == "150.00"
    assert stats["engagementThreshold"] == -15

    # entering AT_RISK is announced
    changed = await customers_value(
        """SELECT envelope->'data' FROM outbox WHERE shop_id = $1 AND type = 'customer.segment_changed'
             AND envelope->'data'->>'customer_id' = $2""", shop, at_risk)
    assert changed == {"shop": shop, "customer_id": at_risk, "from_segment": "PROSPECT", "to_segment": "AT_RISK"}


async def test_a_refund_moves_the_segment_back_and_rfm_follows_the_daily_pass(gql):
    shop, admin = new_shop()
    buyers = []
    for n in range(5):  # n+1 orders of 10 each, the last one n days ago
        customer_id = await customer(gql, admin)
        for k in range(n + 1):
            await order(gql, admin, customer_id, days_ago(n + 30 * k), net="10.00")
        buyers.append(customer_id)
    assert (await gql.ok(PROFILE, {"id": buyers[0]}, admin))["customer"]["rfm"] is None  # before the pass
    await gql.ok(REFRESH, headers=admin)
    scores = [(await gql.ok(PROFILE, {"id": c}, admin))["customer"]["rfm"] for c in buyers]
    assert [s["recency"] for s in scores] == [5, 4, 3, 2, 1]
    assert [s["frequency"] for s in scores] == [1, 2, 3, 4, 5]
    assert [s["monetary"] for s in scores] == [1, 2, 3, 4, 5]

    one = await customer(gql, admin)
    paid = await order(gql, admin, one, days_ago(2))
    assert await segment_of(gql, admin, one) == "NEW"
    await gql.ok("mutation($id: ID!) { updateOrderStatus(id: $id, status: REFUNDED) { status } }", {"id": paid}, admin)
    assert await segment_of(gql, admin, one) == "PROSPECT"
    stats = (await gql.ok(PROFILE, {"id": one}, admin))["customer"]["stats"]
    assert stats["ordersCount"] == 0 and stats["totalSpent"]["amount"] == "0.00"


async def test_thresholds_are_configurable_per_shop(gql):
    shop, admin = new_shop()
    other_shop, other_admin = new_shop()
    configure = """mutation($input: SegmentRulesInput!) { configureSegments(input: $input) {
        regularMinOrders atRiskDays vipMinAov } }"""
    data = await gql.ok(configure, {"input": {"regularMinOrders": 2, "vipMinAov": "500.00"}}, admin)
    assert data["configureSegments"] == {"regularMinOrders": 2, "atRiskDays": 90, "vipMinAov": "500.00"}
    twice = await customer(gql, admin)
    for age in (5, 20):
        await order(gql, admin, twice, days_ago(age))
    assert await segment_of(gql, admin, twice) == "REGULAR"
    other = await customer(gql, other_admin)
    for age in (5, 20):
        await order(gql, other_admin, other, days_ago(age))
    assert await segment_of(gql, other_admin, other) == "NEW"  # defaults elsewhere: 2 orders are not regular

    for bad in ({"newDays": 0}, {"vipMinOpenPercent": 120}, {"engagementThreshold": 3}, {"vipMinAov": "-1"},
                {"atRiskDays": 500}):
        body = await gql(configure, {"input": bad}, admin)
        assert codes(body) == ["BAD_USER_INPUT"], bad
    assert codes(await gql(configure, {"input": {"newDays": 5}}, INGEST)) == ["FORBIDDEN"]
    rules = await gql.ok("{ segmentRules { regularMinOrders newDays } }", headers=admin)
    assert rules["segmentRules"] == {"regularMinOrders": 2, "newDays": 30}


async def test_engagement_moves_the_score_and_bad_engagement_input_changes_nothing(gql):
    shop, admin = new_shop()
    quiet = await customer(gql, admin)
    await order(gql, admin, quiet, days_ago(45))
    score = (await gql.ok(PROFILE, {"id": quiet}, admin))["customer"]["stats"]["engagementScore"]
    assert score == -10  # no site visit in 30 days; purchase within 60 days
    assert await segment_of(gql, admin, quiet) == "OCCASIONAL"  # one purchase 45 days ago
    disengaged = """SELECT count(*) FROM outbox WHERE shop_id = $1 AND type = 'customer.disengaged'
                      AND envelope->'data'->>'customer_id' = $2"""

    # a marketing email without an offer, not opened: the score's -5 (docs/domain.md) is for discount emails only
    plain = {"notification_id": unique("n"), "customer_id": quiet, "channel": "EMAIL", "template": "care_tips"}
    await publish_event("notification.sent", shop, plain)
    plain_key = f"notification:{plain['notification_id']}:EMAIL_SENT"
    await eventually(lambda: customers_value(
        "SELECT count(*) = 1 FROM engagements WHERE shop_id = $1 AND idempotency_key = $2", shop, plain_key),
        what="the plain email to be recorded")
    assert (await gql.ok(PROFILE, {"id": quiet}, admin))["customer"]["stats"]["engagementScore"] == -10

    assert await customers_value(disengaged, shop, quiet) == 0
    # a discount email sent and not opened: -5 more reaches the threshold -15: win-back starts
    # (customer.disengaged, issue 19 item 3); the segment is the purchases' alone
    notification = unique("n")
    sent = {"notification_id": notification, "customer_id": quiet, "channel": "EMAIL", "template": "winback_discount",
            "offer": True}
    await publish_event("notification.sent", shop, sent)

    async def crossed():
        return await customers_value(disengaged, shop, quiet) == 1
    await eventually(crossed, what="the unopened email to start win-back")
    event = await customers_value("""SELECT envelope->'data' FROM outbox WHERE shop_id = $1
                                       AND type = 'customer.disengaged' AND envelope->'data'->>'customer_id' = $2""",
                                  shop, quiet)
    assert (event["score"], event["threshold"]) == (-15, -15)
    last = (await gql.ok(PROFILE, {"id": quiet}, admin))["customer"]["stats"]["lastOrderAt"]
    assert datetime.fromisoformat(event["last_order_at"]) == datetime.fromisoformat(last)
    assert await segment_of(gql, admin, quiet) == "OCCASIONAL"
    # the open arrives twice (redelivery under a new id): counted once, back above the threshold
    await publish_event("notification.opened", shop, sent)
    await publish_event("notification.opened", shop, sent)

    async def back():
        return (await gql.ok(PROFILE, {"id": quiet}, admin))["customer"]["stats"]["engagementScore"] == -10
    await eventually(back, what="the open to count")
    assert await segment_of(gql, admin, quiet) == "OCCASIONAL"
    assert await customers_value(disengaged, shop, quiet) == 1
    key = f"notification:{notification}:EMAIL_OPEN"
    assert await customers_value("SELECT count(*) FROM engagements WHERE shop_id = $1 AND idempotency_key = $2",
                                 shop, key) == 1

    visit = {"customerId": quiet, "kind": "SITE_VISIT", "idempotencyKey": "visit-1"}
    assert (await gql.ok(ENGAGE, {"input": visit}, admin))["recordEngagement"] is True
    assert (await gql.ok(ENGAGE, {"input": visit}, admin))["recordEngagement"] is True  # replay: counted once
    assert (await gql.ok(PROFILE, {"id": quiet}, admin))["customer"]["stats"]["engagementScore"] == 0
    count = "SELECT count(*) FROM engagements WHERE shop_id = $1 AND customer_id = $2"
    assert await customers_value(count, shop, quiet) == 4  # plain sent, offer sent, opened, visit

    bad = [
        ({"customerId": unique("nobody"), "kind": "SITE_VISIT"}, admin, "NOT_FOUND"),
        ({"customerId": quiet, "kind": "SITE_VISIT", "at": "2099-01-01T00:00:00Z"}, admin, "BAD_USER_INPUT"),
        ({"customerId": quiet, "kind": "SITE_VISIT", "at": "2026-01-01T00:00:00"}, admin, "BAD_USER_INPUT"),
        ({"customerId": "x" * 201, "kind": "SITE_VISIT"}, admin, "BAD_USER_INPUT"),
        ({"customerId": quiet, "kind": "SITE_VISIT"}, customer_token(quiet, shop=shop), "FORBIDDEN"),
        ({"customerId": quiet, "kind": "SITE_VISIT"}, {}, "UNAUTHENTICATED"),
    ]
    for variables, headers, code in bad:
        assert codes(await gql(ENGAGE, {"input": variables}, headers)) == [code], variables
    unknown_kind = await gql(ENGAGE, {"input": {"customerId": quiet, "kind": "PAGE_VIEW"}}, admin)
    assert unknown_kind.get("errors") and not unknown_kind.get("data")  # refused by the gateway's validation
    assert await customers_value(count, shop, quiet) == 4


async def test_a_customer_sees_their_own_segment_and_stats_but_not_the_counts(gql):
    shop, admin = new_shop()
    me = await customer(gql, admin)
    await order(gql, admin, me, days_ago(1))
    token = customer_token(me, shop=shop)
    data = await gql.ok("{ me { segment stats { ordersCount } } }", headers=token)
    assert data["me"] == {"segment": "NEW", "stats": {"ordersCount": 1}}
    assert codes(await gql(COUNTS, headers=token)) == ["FORBIDDEN"]
    assert codes(await gql(REFRESH, headers=token)) == ["FORBIDDEN"]
    other = await customer(gql, admin)
    assert codes(await gql(PROFILE, {"id": other}, token)) == ["FORBIDDEN"]


async def test_the_daily_job_moves_stale_segments_and_schedules_the_next_day(gql):
    shop, admin = new_shop()
    lapsed = await customer(gql, admin)
    await order(gql, admin, lapsed, days_ago(120))
    conn = await db("customers")
    try:
        # as if the customer had been NEW when the last order event came in and time had passed since
        await conn.execute("UPDATE customers SET segment = 'NEW' WHERE shop_id = $1 AND id = $2", shop, lapsed)
        job = Job(id=0, shop=shop, kind="customers.daily", dedup_key="test", due_at=datetime.now(UTC), payload={},
                  attempts=0, final_attempt=False)
        async with conn.transaction():
            await JOBS["customers.daily"](conn, job)
        assert await conn.fetchval("SELECT segment FROM customers WHERE shop_id = $1 AND id = $2",
                                   shop, lapsed) == "AT_RISK"
        moved = await conn.fetchval(
            """SELECT envelope->'data'->>'from_segment' FROM outbox WHERE shop_id = $1
                 AND type = 'customer.segment_changed' ORDER BY seq DESC LIMIT 1""", shop)
        assert moved == "NEW"
        assert await conn.fetchval("SELECT recency FROM rfm_scores WHERE shop_id = $1 AND customer_id = $2",
                                   shop, lapsed) == 1  # the only one in the active base
        next_day = await conn.fetch(
            """SELECT due_at FROM scheduled_jobs WHERE shop_id = $1 AND kind = 'customers.daily'
                 AND status = 'pending'""", shop)
        assert len(next_day) == 1 and next_day[0]["due_at"] > datetime.now(UTC)
        assert next_day[0]["due_at"].astimezone(UTC).hour == 3
    finally:
        await conn.close()


async def test_a_segment_lists_its_customers_page_by_page_and_bad_arguments_are_refused(gql):
    shop, admin = new_shop()
    fresh = sorted([await customer(gql, admin) for _ in range(3)])
    buyer = await customer(gql, admin)
    await order(gql, admin, buyer, days_ago(1))
    members = """query($s: Segment!, $first: Int, $after: String) { customers(segment: $s, first: $first,
        after: $after) { edges { node { id segment } } pageInfo { hasNextPage endCursor } } }"""
    first = (await gql.ok(members, {"s": "PROSPECT", "first": 2}, admin))["customers"]
    assert [e["node"]["id"] for e in first["edges"]] == fresh[:2] and first["pageInfo"]["hasNextPage"]
    rest = (await gql.ok(members, {"s": "PROSPECT", "first": 2, "after": first["pageInfo"]["endCursor"]},
                         admin))["customers"]
    assert [e["node"] for e in rest["edges"]] == [{"id": fresh[2], "segment": "PROSPECT"}]
    assert not rest["pageInfo"]["hasNextPage"]
    new = (await gql.ok(members, {"s": "NEW"}, admin))["customers"]["edges"]
    assert [e["node"]["id"] for e in new] == [buyer]

    unknown = await gql(members, {"s": "WHALE"}, admin)
    assert unknown.get("errors") and not unknown.get("data")  # not a Segment: refused before execution
    assert codes(await gql(members, {"s": "NEW", "after": "not-a-cursor"}, admin)) == ["BAD_USER_INPUT"]
    assert codes(await gql(members, {"s": "NEW", "first": 1000}, admin)) == ["BAD_USER_INPUT"]
    assert codes(await gql(members, {"s": "NEW"}, customer_token(buyer, shop=shop))) == ["FORBIDDEN"]
    assert codes(await gql(members, {"s": "NEW"}, INGEST)) == ["FORBIDDEN"]


async def test_a_page_of_customers_reads_each_kind_of_row_in_one_statement(gql):
    """A segment's page with every customer's RFM and stats, and the gateway's batch of Customer and
    Order entities: one statement per kind of row, however many customers (DataLoaders per request)."""
    shop, admin = new_shop()
    people = [await customer(gql, admin) for _ in range(4)]
    orders = [await order(gql, admin, person, days_ago(2), status="PLACED") for person in people]

    async def statements(query: str, variables: dict, url: str | None = None) -> list[str]:
        trace_id = secrets.token_hex(16)
        traced = {**admin, "traceparent": f"00-{trace_id}-{secrets.token_hex(8)}-01"}
        await gql.ok(query, variables, traced, **({"url": url} if url else {}))
        return await eventually(lambda: statements_of_request(trace_id), what="the request's spans")

    def reading(table: str, found: list[str]) -> int:
        return len([s for s in found if f"FROM {table} " in s])

    page = await statements("""query { customers(segment: PROSPECT) { edges { node { id rfm { recency }
        stats { ordersCount engagementThreshold } } } } }""", {})
    assert (reading("customers", page), reading("rfm_scores", page), reading("segment_rules", page)) == (1, 1, 1)
    assert len(page) == 3

    entities = await statements("""query($r: [_Any!]!) { _entities(representations: $r) {
        ... on Customer { id email } ... on Order { id status } } }""",
        {"r": [{"__typename": "Customer", "id": p} for p in people]
              + [{"__typename": "Order", "id": o} for o in orders]},
        url=subgraph_url("customers"))
    assert (reading("customers", entities), reading("orders", entities)) == (1, 1)
    assert len(entities) == 2
