"""Issue 22 through the gateway: a merchant simulates doubling the earn rate over the last year next to
today's program; a regular customer is predicted active and a long-silent one not; a shop with too few
buyers is told why; the predicted at-risk rule, once switched on, moves a customer to AT_RISK."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import numpy as np

from tests.e2e.conftest import RECORD, STATUS, UPSERT, order_input
from tests.stack import customer_token, db, new_shop, unique

SIDE = """orders pointsIssued pointsPending pointsAvailable pointsExpired effectiveCashback liability { amount }
  rewardCost { amount } withinCeiling withinBand tierDistribution { tier customers } netRevenue { amount }"""
SIMULATE = f"""query($input: ProgramInput!, $from: DateTime!, $to: DateTime!) {{
  simulateProgram(input: $input, from: $from, to: $to) {{ proposed {{ {SIDE} }} current {{ {SIDE} }} notes }} }}"""
PREDICTION = """query($id: ID!) { customer(id: $id) { segment prediction { probabilityActive expectedOrders90d
  expectedValue12m { amount currency } model fittedAt } } }"""
STATUS_QUERY = """{ predictionStatus { status reason buyers repeatBuyers minimumBuyers minimumRepeatBuyers
  fittedAt parameters } }"""
REFRESH = "mutation { refreshPredictions { status reason buyers repeatBuyers parameters } }"


async def _buy(gql, admin, customer_id: str, when: datetime, net: str = "45.00") -> None:
    total = f"{float(net) + 12.40:.2f}"  # shipping 4.90 + tax 7.50
    order = order_input(customer_id, placedAt=when.isoformat(), total=total)
    await gql.ok(RECORD, {"input": order}, admin)
    await gql.ok(STATUS, {"id": order["id"], "status": "PAID"}, admin)


async def _customer(gql, admin) -> str:
    customer_id = unique("c")
    await gql.ok(UPSERT, {"input": {"id": customer_id, "email": f"{customer_id}@example.com"}}, admin)
    return customer_id


async def test_doubling_the_earn_rate_over_the_last_year_next_to_today(gql):
    shop, admin = new_shop()
    now = datetime.now(UTC)
    # A shop whose point is worth 0.01 (the default is 0.025): doubling its earn rate stays under the 5 %
    # ceiling (2 × 1.5 × 0.01 = 3 %), so the comparison below is of two programs the shop may run.
    await gql.ok('mutation { configureProgram(input: {pointValue: "0.01"}) { version } }', {}, admin)
    customers = [await _customer(gql, admin) for _ in range(3)]
    for i, customer_id in enumerate(customers):
        for k in range(i + 1):
            await _buy(gql, admin, customer_id, now - timedelta(days=30 * k + 1), net=f"{100 + 50 * i}.00")
    # Points earns them from order.paid: wait until the ledger has all six (the liability shows them).
    for _ in range(100):
        liability = (await gql.ok("{ programLiability { amount } }", {}, admin))["programLiability"]["amount"]
        if liability == "10.00":  # 100 + 2 × 150 + 3 × 200 = 1000 pending points at 0.01
            break
        await asyncio.sleep(0.1)
    period = {"from": (now - timedelta(days=365)).isoformat(), "to": datetime.now(UTC).isoformat()}
    answer = (await gql.ok(SIMULATE, {"input": {"earnRate": "2"}, **period}, admin))["simulateProgram"]
    current, proposed = answer["current"], answer["proposed"]
    assert current["orders"] == proposed["orders"] == 6
    assert current["pointsIssued"] == current["pointsPending"] == 1000
    assert current["liability"]["amount"] == liability == "10.00"
    assert proposed["pointsIssued"] == 2000 and proposed["liability"]["amount"] == "20.00"
    assert current["effectiveCashback"] == 0.01 and proposed["effectiveCashback"] == 0.02
    assert current["withinCeiling"] and proposed["withinCeiling"] and not proposed["withinBand"]
    assert current["netRevenue"]["amount"] == "1000.00" and answer["notes"] == []
    # The third customer's 600 reached Silver (500) with their last order, which still earned at Bronze.
    assert {t["tier"]: t["customers"] for t in current["tierDistribution"]} == {"Bronze": 2, "Silver": 1, "Gold": 0}
    # Above the ceiling: answered and flagged, nothing configured.
    over = (await gql.ok(SIMULATE, {"input": {"earnRate": "10"}, **period}, admin))["simulateProgram"]
    assert not over["proposed"]["withinCeiling"] and "ceiling" in over["notes"][0]
    assert (await gql.ok("{ program { version earnRate } }", {}, admin))["program"]["earnRate"] == "1"
    # A period over 3 years is refused with a clear answer.
    errors = (await gql(SIMULATE, {"input": {}, "from": (now - timedelta(days=4 * 365)).isoformat(),
                                   "to": now.isoformat()}, admin))["errors"]
    assert errors[0]["extensions"]["code"] == "BAD_USER_INPUT" and "3 years" in errors[0]["message"]


async def _seed_buyers(shop: str, n: int, now: datetime) -> None:
    """Buyers drawn from a BG/NBD story (every ~20 days while active, some drop out), put straight into
    the order mirror: the API would take minutes for a few hundred customers and their orders."""
    rng = np.random.default_rng(22)
    customers, orders = [], []
    for i in range(n):
        customer_id = f"seed-{i}"
        customers.append((shop, customer_id, f"{customer_id}@example.com"))
        rate, drop = rng.gamma(0.8, 1 / 40), rng.beta(0.6, 3.0)
        t, first = 0.0, now - timedelta(days=float(rng.uniform(30, 700)))
        k = 0
        while True:
            placed = first + timedelta(days=t)
            if placed >= now:
                break
            orders.append((shop, f"{customer_id}-o{k}", customer_id, placed))
            k += 1
            if k > 1 and rng.random() < drop:
                break
            t += float(rng.exponential(1 / rate))
    conn = await db("customers")
    try:
        await conn.executemany("INSERT INTO customers (shop_id, id, email) VALUES ($1, $2, $3)", customers)
        await conn.executemany(
            """INSERT INTO orders (shop_id, id, customer_id, currency, status, total, placed_at, paid_at)
               VALUES ($1, $2, $3, 'EUR', 'DELIVERED', 40, $4, $4)""", orders)
    finally:
        await conn.close()


async def test_a_regular_customer_is_predicted_active_and_a_long_silent_one_is_not(gql):
    shop, admin = new_shop()
    now = datetime.now(UTC)
    # Too few buyers: no prediction, and the shop is told why.
    regular, silent = await _customer(gql, admin), await _customer(gql, admin)
    for k in range(10):  # every 30 days, the last 10 days ago
        await _buy(gql, admin, regular, now - timedelta(days=10 + 30 * k))
        await _buy(gql, admin, silent, now - timedelta(days=400 + 30 * k))  # and nothing for 400 days
    refreshed = (await gql.ok(REFRESH, {}, admin))["refreshPredictions"]
    assert refreshed["status"] == "TOO_FEW_BUYERS" and "too few buyers" in refreshed["reason"]
    assert (await gql.ok(PREDICTION, {"id": regular}, admin))["customer"]["prediction"] is None
    # Enough buyers: fitted, stored per customer.
    await _seed_buyers(shop, 400, now)
    refreshed = (await gql.ok(REFRESH, {}, admin))["refreshPredictions"]
    assert refreshed["status"] == "FITTED" and refreshed["buyers"] == 402, refreshed
    status = (await gql.ok(STATUS_QUERY, {}, admin))["predictionStatus"]
    assert status["minimumBuyers"] == 200 and set(status["parameters"]) >= {"r", "alpha", "a", "b", "p", "q"}
    active = (await gql.ok(PREDICTION, {"id": regular}, admin))["customer"]["prediction"]
    gone = (await gql.ok(PREDICTION, {"id": silent}, admin))["customer"]["prediction"]
    assert active["probabilityActive"] > 0.9 > 0.1 > gone["probabilityActive"], (active, gone)
    assert active["expectedOrders90d"] > gone["expectedOrders90d"]
    assert float(active["expectedValue12m"]["amount"]) > float(gone["expectedValue12m"]["amount"])
    assert active["model"] == "BG/NBD + Gamma-Gamma" and active["expectedValue12m"]["currency"] == "EUR"
    # A customer's prediction is the shop admin's only.
    body = await gql(PREDICTION, {"id": regular}, customer_token(regular, shop=shop))
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_the_predicted_at_risk_rule_is_off_until_the_merchant_sets_a_threshold(gql):
    shop, admin = new_shop()
    now = datetime.now(UTC)
    lapsing = await _customer(gql, admin)
    await _buy(gql, admin, lapsing, now - timedelta(days=53))
    await _buy(gql, admin, lapsing, now - timedelta(days=50))  # two orders 3 days apart, then 50 quiet days
    await gql.ok("""mutation($c: ID!) { recordEngagement(input: {customerId: $c, kind: SITE_VISIT}) }""",
                 {"c": lapsing}, admin)  # engaged: the engagement score alone leaves them alone
    await _seed_buyers(shop, 300, now)
    assert (await gql.ok(REFRESH, {}, admin))["refreshPredictions"]["status"] == "FITTED"
    await gql.ok("mutation { refreshSegments }", {}, admin)
    before = (await gql.ok(PREDICTION, {"id": lapsing}, admin))["customer"]
    # Two purchases in the last 90 days, the first over 30 days ago: OCCASIONAL (docs/domain.md, Segments).
    assert before["segment"] == "OCCASIONAL" and before["prediction"]["probabilityActive"] < 0.9
    rules = (await gql.ok("{ segmentRules { predictedAtRiskBelow } }", {}, admin))["segmentRules"]
    assert rules["predictedAtRiskBelow"] == 0
    await gql.ok("mutation { configureSegments(input: {predictedAtRiskBelow: 0.9}) { predictedAtRiskBelow } }",
                 {}, admin)
    await gql.ok("mutation { refreshSegments }", {}, admin)
    assert (await gql.ok(PREDICTION, {"id": lapsing}, admin))["customer"]["segment"] == "AT_RISK"
