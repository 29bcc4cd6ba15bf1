from datetime import UTC, datetime
from decimal import Decimal

import pytest

from services.points.loyalty import rewards
from services.points.loyalty.program import DEFAULT
from shared.errors import BadUserInput, Conflict, Forbidden, InsufficientPoints

T = DEFAULT.tiers
NOW = datetime(2026, 11, 23, tzinfo=UTC)


def make(**over):
    args = {"id": "r-1", "name": "5 off", "kind": "FIXED_AMOUNT", "points_cost": 500, "value": "5.00",
            "min_tier": None, "limit_per_customer": None, "limit_total": None, "active": None,
            "currency": "EUR", "tiers": T, **over}
    return rewards.reward(**args)


def test_a_valid_reward():
    r = make(min_tier="Gold", limit_per_customer=2)
    assert (r.value, r.min_tier, r.limit_per_customer, r.active) == (Decimal("5.00"), "Gold", 2, True)
    assert make(id=None).id.startswith("r-")
    assert make(kind="FREE_SHIPPING", value=None).value is None


@pytest.mark.parametrize("over", [
    {"name": ""}, {"name": "x" * 201}, {"kind": "CASH"}, {"points_cost": 0}, {"points_cost": -5},
    {"points_cost": 10**9}, {"value": None}, {"value": "-5"}, {"value": "0"}, {"value": "abc"},
    {"value": "5.001"}, {"kind": "PERCENTAGE", "value": "150"}, {"kind": "FREE_SHIPPING", "value": "5"},
    {"min_tier": "Platinum"}, {"limit_per_customer": 0}, {"limit_total": -1}, {"id": "x" * 201},
])
def test_bad_rewards_are_refused(over):
    with pytest.raises(BadUserInput):
        make(**over)


def test_seeded_catalog_has_a_fixed_amount_reward():
    assert any(r.kind == "FIXED_AMOUNT" for r in rewards.seeded("EUR"))


def check(r, balance=1000, tier=T[0], mine=0, total=0):
    rewards.check_redeemable(r, balance=balance, tier=tier, tiers=T, redeemed_by_customer=mine, redeemed_total=total)


def test_redeemable_rules():
    check(make())
    with pytest.raises(InsufficientPoints):
        check(make(), balance=499)
    with pytest.raises(Forbidden):
        check(make(min_tier="Silver"))
    check(make(min_tier="Silver"), tier=T[2])
    with pytest.raises(Conflict):
        check(make(limit_per_customer=1), mine=1)
    with pytest.raises(Conflict):
        check(make(limit_total=10), total=10)
    with pytest.raises(BadUserInput):
        check(make(active=False))


def test_codes_are_long_random_and_unambiguous():
    codes = {rewards.new_code() for _ in range(2000)}
    assert len(codes) == 2000
    assert all(len(c) == 16 and set(c) <= set(rewards.CODE_ALPHABET) for c in codes)
    assert not set("01OI") & set(rewards.CODE_ALPHABET)
    assert rewards.normalise_code(" abcd-efgh ") == "ABCDEFGH"
    for bad in ("", "   ", "x" * 65):
        with pytest.raises(BadUserInput):
            rewards.normalise_code(bad)



def test_the_tier_and_the_count_are_needed_only_for_rewards_they_limit():
    # A plain reward is checked without the customer's tier or count (the use case reads neither)...
    check(make(), tier=None, mine=None)
    # ...and one that limits them is never let through without them.
    with pytest.raises(ValueError):
        check(make(min_tier="Silver"), tier=None)
    with pytest.raises(ValueError):
        check(make(limit_per_customer=1), mine=None)
