"""The composed supergraph carries the points service's names of the public contract (docs/api.md), exactly."""

from __future__ import annotations

from graphql import build_schema

from tests.conftest import ROOT

POINTS_CONTRACT = {
    "Query": {"rewardsCatalog", "tiers", "programLiability", "checkoutBenefits", "offerPerformance"},
    "Mutation": {"adjustPoints", "redeemReward", "upsertReward", "configureProgram", "validateRewardCode",
                 "checkCode", "redeemCode", "releaseCode"},
    "Customer": {"loyalty", "pointsHistory", "storeCredit", "redemptions", "offers"},
    "LoyaltyAccount": {"balance", "pending", "lifetimeEarned", "tier", "nextTier", "amountToNextTier",
                       "expiringPoints", "expiringAt"},
    "Order": {"pointsEarned", "pointsStatus"},
    "Redemption": {"id", "code", "pointsSpent", "expiresAt", "reward"},
    "RewardCodeCheck": {"valid", "reason", "redemption"},
    "RewardInput": {"id", "name", "kind", "pointsCost", "value", "minTier", "limitPerCustomer", "active"},
    # Offers and checkout
    "Offer": {"id", "code", "source", "kind", "value", "currency", "minOrder", "startsAt", "expiresAt", "status",
              "redeemedOrderId"},
    "CartInput": {"customerId", "currency", "subtotal", "shippingTotal", "lines"},
    "CodeCheck": {"valid", "reason", "offer", "discount", "freeShipping"},
    "CheckoutBenefits": {"freeShipping", "tier", "offers"},
    "OfferPerformance": {"source", "issued", "redeemed", "redemptionRate", "attributedRevenue", "discountCost",
                         "costShare"},
}
OFFER_ENUMS = {
    "OfferSource": "REWARD REFERRAL WINBACK AT_RISK BIRTHDAY PUNCH_CARD TIER_PERK CHALLENGE STORE_CREDIT MANUAL",
    "OfferKind": "FIXED_AMOUNT PERCENTAGE FREE_SHIPPING FREE_PRODUCT STORE_CREDIT",
    "OfferStatus": "ACTIVE REDEEMED EXPIRED REVOKED",
    "CodeRejection": "UNKNOWN USED EXPIRED NOT_STARTED MIN_ORDER WRONG_CUSTOMER WRONG_CURRENCY REVOKED",
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
    for enum, values in OFFER_ENUMS.items():
        assert set(schema.get_type(enum).values) == set(values.split()), enum  # type: ignore[union-attr]
    checks = schema.get_type("Mutation").fields  # type: ignore[union-attr]
    assert (set(checks["checkCode"].args), set(checks["redeemCode"].args), set(checks["releaseCode"].args)) == (
        {"code", "cart"}, {"code", "orderId", "cart"}, {"code", "orderId"})
