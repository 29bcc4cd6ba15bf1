"""The composed supergraph carries the points service's names of CONTRACT.md, exactly."""

from __future__ import annotations

from graphql import build_schema

from tests.conftest import ROOT

POINTS_CONTRACT = {
    "Query": {"rewardsCatalog", "tiers", "programLiability"},
    "Mutation": {"adjustPoints", "redeemReward", "upsertReward", "configureProgram", "validateRewardCode"},
    "Customer": {"loyalty", "pointsHistory", "storeCredit", "redemptions"},
    "LoyaltyAccount": {"balance", "pending", "lifetimeEarned", "tier", "nextTier", "amountToNextTier",
                       "expiringPoints", "expiringAt"},
    "Order": {"pointsEarned", "pointsStatus"},
    "Redemption": {"id", "code", "pointsSpent", "expiresAt", "reward"},
    "RewardCodeCheck": {"valid", "reason", "redemption"},
    "RewardInput": {"id", "name", "kind", "pointsCost", "value", "minTier", "limitPerCustomer", "active"},
}


def test_the_supergraph_has_the_points_contract():
    sdl = (ROOT / "gateway" / "supergraph.graphql").read_text()
    schema = build_schema(sdl)
    for type_name, fields in POINTS_CONTRACT.items():
        missing = fields - set(schema.get_type(type_name).fields)  # type: ignore[union-attr]
        assert not missing, f"{type_name} lacks {missing}"
    assert set(schema.get_type("PointsStatus").values) == {"PENDING", "AVAILABLE", "REVERSED", "NOT_ELIGIBLE"}  # type: ignore
    assert set(schema.get_type("RewardKind").values) == {  # type: ignore[union-attr]
        "FIXED_AMOUNT", "PERCENTAGE", "FREE_SHIPPING", "FREE_PRODUCT", "STORE_CREDIT"}
    money = schema.get_type("Query").fields["programLiability"].type  # type: ignore[union-attr]
    assert str(money) == "Money!"
