from decimal import Decimal

import pytest

from services.referrals import fraud
from services.referrals.fraud import Person, email_key, identity_rejection, velocity_rejection
from services.referrals.program import check, parse_days, reward_for
from shared.errors import BadUserInput


@pytest.mark.parametrize("email, key", [
    ("Anna.Smith@Gmail.com", "annasmith@gmail.com"),
    ("a.n.n.a.smith+shop@googlemail.com", "annasmith@gmail.com"),
    ("anna.smith+x@example.com", "anna.smith@example.com"),
    ("ANNA@EXAMPLE.COM", "anna@example.com"),
    (None, None), ("not-an-email", None),
])
def test_email_key_collapses_aliases_of_one_mailbox(email, key):
    assert email_key(email) == key


REFERRER = Person("a", "anna@example.com", frozenset({"dev-a"}), frozenset({"addr-a"}), frozenset({"card-a"}))


@pytest.mark.parametrize("friend, reason", [
    (Person("a"), fraud.SELF_REFERRAL),
    (Person("b", "anna@example.com"), fraud.SAME_EMAIL),
    (Person("b", devices=frozenset({"dev-a"})), fraud.SAME_DEVICE),
    (Person("b", payments=frozenset({"card-a"})), fraud.SAME_PAYMENT),
    (Person("b", addresses=frozenset({"addr-a"})), fraud.SAME_ADDRESS),
    (Person("b", "ben@example.com", frozenset({"dev-b"}), frozenset({"addr-b"}), frozenset({"card-b"})), None),
])
def test_identity_rejections(friend, reason):
    assert identity_rejection(REFERRER, friend, shared_address_rejects=True) == reason


def test_a_shared_household_address_may_be_allowed():
    friend = Person("b", addresses=frozenset({"addr-a"}))
    assert identity_rejection(REFERRER, friend, shared_address_rejects=False) is None


def test_velocity():
    assert velocity_rejection(4, 5) is None
    assert velocity_rejection(5, 5) == fraud.VELOCITY


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
