"""The shop's referral program: rewards, checks of a merchant's change, window days."""

from decimal import Decimal

import pytest

from services.referrals.program import changes, check, is_ambassador, parse_days, reward_for
from shared.errors import BadUserInput

PROGRAM = {"reward_kind": "credit", "reward_amount": Decimal("20"), "reward_points": 2000,
           "ambassador_threshold": 5, "ambassador_reward_amount": Decimal("30"), "ambassador_reward_points": 3000}


def test_ambassadors_earn_more():
    assert reward_for(PROGRAM, conversions_so_far=4).amount == Decimal("20")
    assert reward_for(PROGRAM, conversions_so_far=5).amount == Decimal("30")
    points = reward_for({**PROGRAM, "reward_kind": "points"}, conversions_so_far=0)
    assert (points.kind, points.points, points.amount) == ("points", 2000, None)


@pytest.mark.parametrize("changes", [
    {"friend_discount_percent": 0}, {"friend_discount_percent": 101}, {"rewards_per_month": 0},
    {"return_window_days": Decimal("400")}, {"reward_kind": "cash"}, {"signups_per_hour": 10**6},
    {"friend_offer_valid_days": 0}, {"friend_offer_valid_days": 731},
])
def test_program_refuses_what_a_merchant_cannot_mean(changes):
    with pytest.raises(BadUserInput):
        check(changes)


def test_program_keeps_only_given_values():
    assert check({"friend_discount_percent": 15, "minimum_order": None}) == {"friend_discount_percent": 15}


@pytest.mark.parametrize("value", ["x", "", "1.234", "NaN", "Infinity"])
def test_window_days_must_be_a_plain_number(value):
    with pytest.raises(BadUserInput):
        parse_days(value)


def test_window_days_allow_fractions():
    assert parse_days(" 0.5 ") == Decimal("0.5")


def test_ambassadors_have_at_least_the_threshold_of_conversions():
    assert not is_ambassador(PROGRAM, 4)
    assert is_ambassador(PROGRAM, 5)


NOTHING = dict.fromkeys(("currency", "friend_discount_percent", "friend_offer_valid_days",
                         "minimum_order", "reward_kind", "reward_amount",
                         "reward_points", "ambassador_threshold", "ambassador_reward_amount",
                         "ambassador_reward_points", "return_window_days", "signups_per_hour", "rewards_per_month",
                         "shared_address_rejects"))


def test_a_change_is_parsed_in_the_currency_the_program_will_have():
    assert changes({**NOTHING, "minimum_order": "40", "return_window_days": "14"}, "EUR") == {
        "minimum_order": Decimal("40"), "return_window_days": Decimal("14")}
    assert changes({**NOTHING, "currency": "USD", "reward_amount": "12.50"}, "EUR") == {
        "currency": "USD", "reward_amount": Decimal("12.50")}
    assert changes(NOTHING, "EUR") == {}
    assert changes({**NOTHING, "friend_offer_valid_days": 730}, "EUR") == {"friend_offer_valid_days": 730}
    with pytest.raises(BadUserInput):
        changes({**NOTHING, "currency": "JPY", "reward_amount": "12.50"}, "EUR")  # yen have no cents
    assert changes({**NOTHING, "reward_amount": "1250"}, "JPY") == {"reward_amount": Decimal("1250")}
