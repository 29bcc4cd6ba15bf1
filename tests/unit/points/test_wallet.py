from decimal import Decimal

import pytest

from services.points.loyalty import wallet
from shared.errors import BadUserInput

POINTS = {"review": 50, "media_review": 100}


def test_review_rewards_points_by_media_with_a_key_per_customer_and_product():
    text = wallet.review_reward("c", "p", False, POINTS, Decimal(0), Decimal(0))
    media = wallet.review_reward("c", "p", True, POINTS, Decimal(0), Decimal(0))
    assert (text.points, media.points, text.key) == (50, 100, "review:c:p") and media.key == text.key


def test_review_rewards_credit_when_configured():
    r = wallet.review_reward("c", "p", True, POINTS, Decimal(2), Decimal(5))
    assert (r.credit, r.points) == (Decimal(5), 0)


def test_referral_reward_follows_the_event():
    assert wallet.referral_reward("r1", "credit", None, Decimal(20), 200).credit == Decimal(20)
    assert wallet.referral_reward("r1", "points", 300, None, 200).points == 300
    assert wallet.referral_reward("r1", "points", None, None, 200).points == 200
    assert wallet.referral_reward("r1", "credit", None, None, 200).key == "referral:r1"


@pytest.mark.parametrize("value", ["0", "-1", "abc", "1.001", "100000.01", "", "NaN"])
def test_bad_amounts(value):
    with pytest.raises(BadUserInput):
        wallet.amount(value, "amount", "EUR")


def test_signed_adjustments():
    assert wallet.adjustment("c", "-2.50", "EUR", "r", "k").amount == Decimal("-2.50")
    assert wallet.adjustment("c", "2.50", "EUR", "r", "k").idempotency_key == "credit:adjust:k"
    for bad in (("c", "1", "EUR", "", "k"), ("c", "1", "EUR", "r", ""), ("", "1", "EUR", "r", "k")):
        with pytest.raises(BadUserInput):
            wallet.adjustment(*bad)


def test_birthday_and_signup_bonuses_are_keyed_once_per_year_and_once_per_customer():
    points = {"birthday": 100, "signup": 0}
    birthday = wallet.birthday_reward("c-1", 2026, points)
    assert (birthday.key, birthday.points, birthday.reason) == ("birthday:c-1:2026", 100, "birthday 2026")
    signup = wallet.signup_reward("c-1", points)
    assert (signup.key, signup.points, signup.reason) == ("signup:c-1", 0, "welcome bonus")
