from decimal import Decimal

from services.points.offers.performance import per_source


def test_rates_and_shares_per_source_in_the_order_of_the_enum():
    issued = [{"source": "WINBACK", "issued": 8, "redeemed": 2}, {"source": "REFERRAL", "issued": 3, "redeemed": 1},
              {"source": "AT_RISK", "issued": 4, "redeemed": 0}]
    money = [{"source": "REFERRAL", "revenue": Decimal("45.00"), "cost": Decimal("4.00")},
             {"source": "WINBACK", "revenue": Decimal("300.00"), "cost": Decimal("9.00")}]
    rows = per_source(issued, money)
    assert [r.source for r in rows] == ["REFERRAL", "WINBACK", "AT_RISK"]
    referral, winback, at_risk = rows
    assert (referral.redemption_rate, referral.cost_share, referral.within_band) == (33.33, 8.89, False)
    assert (winback.redemption_rate, winback.cost_share, winback.within_band) == (25.0, 3.0, True)
    assert (at_risk.revenue, at_risk.cost, at_risk.cost_share, at_risk.redemption_rate) == (0, 0, 0.0, 0.0)
