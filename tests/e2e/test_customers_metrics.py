"""retentionMetrics through the gateway against a hand-computed fixture (the exact
definitions of docs/domain.md, Retention metrics), in a shop of its own.

Period [2025-07-01, 2026-01-01), 184 days; net amounts (shipping 5 and tax 14 come on top):
  A  2025-03-01 100 PAID, 2025-08-01 100 PAID, 2025-08-20 50 DELIVERED
  B  2024-12-01 40 PAID                                   (active at from, lost by to)
  C  2025-07-10 60 PAID (referral converted), 2025-08-01 60 PAID
  D  2025-09-15 80 PAID, 2025-12-20 80 SHIPPED
  E  2025-12-01 30 PAID
  F  2025-08-05 CANCELLED, 2025-10-01 fully REFUNDED     (never counts)
  G  2025-10-10 110 PAID, 10 refunded                     (counts with 100)
  H  2026-01-05 70 PAID                                   (after the period)
S = {A, B} = 2; E = {A, C, D, E, G} = 5; N = {C, D, E, G} = 4
CRR = (5 - 4) / 2 = 50 %; churn = (2 - 1) / 2 = 50 %
in the period: orders A2 C2 D2 E1 G1 = 8 by 5 buyers, 3 with two -> RPR 60 %, PF 1.6
revenue 150 + 120 + 160 + 30 + 100 = 560 -> AOV 70
CLV = 70 x (1.6 x 365/184) x 1 / (0.5 x 365/184) = 70 x 1.6 / 0.5 = 224.00; lifespan 184/182.5 years
referral rate 1 of 4 = 25 %; 60-day reorder: base first orders before 2025-11-02 = C, D, G; C reordered -> 33.33 %
median days to a second order in the period: A 153, C 22, D 96 -> 96
cohorts: 2025-07 C [100 100 0 0 0 0], 2025-09 D [100 0 0 100], 2025-10 G [100 0 0], 2025-12 E [100]
"""

from __future__ import annotations

import pytest

from tests.e2e.customers_support import customer, customers_value, order, publish_event
from tests.stack import ADMIN, codes, customer_token, new_shop, unique
from tests.support import eventually

METRICS = """query($from: DateTime!, $to: DateTime!) { retentionMetrics(from: $from, to: $to) {
  customerRetentionRate churnRate repeatPurchaseRate purchaseFrequency averageOrderValue { amount currency }
  customerLifetimeValue { amount currency } lifespanYears referralRate reorderRate60d medianDaysToSecondOrder
  cohorts { month size retention } customersAtStart customersAtEnd newCustomers orders } }"""
PERIOD = {"from": "2025-07-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"}


def at(day: str) -> str:
    return f"{day}T12:00:00+00:00"


async def test_retention_metrics_match_the_hand_computed_fixture(gql):
    shop, admin = new_shop()
    a, b, c, d, e, f, g, h = [await customer(gql, admin) for _ in range(8)]
    await order(gql, admin, a, at("2025-03-01"))
    await order(gql, admin, a, at("2025-08-01"))
    await order(gql, admin, a, at("2025-08-20"), net="50.00", status="DELIVERED")
    await order(gql, admin, b, at("2024-12-01"), net="40.00")
    referred = await order(gql, admin, c, at("2025-07-10"), net="60.00", referralCode="FRIEND-1")
    await order(gql, admin, c, at("2025-08-01"), net="60.00")
    await order(gql, admin, d, at("2025-09-15"), net="80.00")
    await order(gql, admin, d, at("2025-12-20"), net="80.00", status="SHIPPED")
    await order(gql, admin, e, at("2025-12-01"), net="30.00")
    await order(gql, admin, f, at("2025-08-05"), status="CANCELLED")
    await order(gql, admin, f, at("2025-10-01"), status="REFUNDED")
    await order(gql, admin, g, at("2025-10-10"), net="110.00", status="REFUNDED", refunded="10.00")
    await order(gql, admin, h, at("2026-01-05"), net="70.00")
    await publish_event("referral.converted", shop, {
        "referral_id": unique("r"), "referrer_id": a, "friend_id": c, "order_id": referred, "reward_kind": "credit"})
    await eventually(lambda: customers_value(
        "SELECT referral_converted FROM orders WHERE shop_id = $1 AND id = $2", shop, referred),
        what="referral.converted to mark the order")

    m = (await gql.ok(METRICS, PERIOD, admin))["retentionMetrics"]
    assert (m["customersAtStart"], m["customersAtEnd"], m["newCustomers"], m["orders"]) == (2, 5, 4, 8)
    assert m["customerRetentionRate"] == 50 and m["churnRate"] == 50
    assert m["repeatPurchaseRate"] == 60 and m["purchaseFrequency"] == 1.6
    assert m["averageOrderValue"] == {"amount": "70.00", "currency": "EUR"}
    assert m["customerLifetimeValue"] == {"amount": "224.00", "currency": "EUR"}
    assert m["lifespanYears"] == pytest.approx(184 / 182.5)
    assert m["referralRate"] == 25
    assert m["reorderRate60d"] == pytest.approx(100 / 3)
    assert m["medianDaysToSecondOrder"] == 96
    assert m["cohorts"] == [
        {"month": "2025-07", "size": 1, "retention": [100, 100, 0, 0, 0, 0]},
        {"month": "2025-09", "size": 1, "retention": [100, 0, 0, 100]},
        {"month": "2025-10", "size": 1, "retention": [100, 0, 0]},
        {"month": "2025-12", "size": 1, "retention": [100]},
    ]

    # another shop's admin sees none of it
    _, other_admin = new_shop()
    other = (await gql.ok(METRICS, PERIOD, other_admin))["retentionMetrics"]
    assert (other["customersAtStart"], other["orders"], other["cohorts"]) == (0, 0, [])
    assert other["customerLifetimeValue"]["amount"] == "0.00" and other["medianDaysToSecondOrder"] is None


async def test_bad_ranges_and_callers_are_refused(gql):
    bad = [
        {"from": "2026-01-01T00:00:00Z", "to": "2025-07-01T00:00:00Z"},
        {"from": "2026-01-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"},
        {"from": "2010-01-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"},
        {"from": "2025-01-01T00:00:00", "to": "2026-01-01T00:00:00"},
    ]
    for variables in bad:
        assert codes(await gql(METRICS, variables, ADMIN)) == ["BAD_USER_INPUT"], variables
    garbage = await gql(METRICS, {"from": "yesterday", "to": "2026-01-01T00:00:00Z"}, ADMIN)
    assert garbage.get("errors") and not garbage.get("data")
    assert codes(await gql(METRICS, PERIOD, customer_token(unique("c")))) == ["FORBIDDEN"]
    assert codes(await gql(METRICS, PERIOD, {})) == ["UNAUTHENTICATED"]
    assert codes(await gql(METRICS, PERIOD, customer_token("x", ttl=-3600))) == ["UNAUTHENTICATED"]
