from decimal import Decimal

import pytest

from services.points import ledger, wallet
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


def test_every_entry_key_names_its_origin():
    assert [ledger.origin(k) for k in (
        "order:1001:earn", "order:1001:release:in", "review:c-1:p-1", "credit:review:c-1:p-1", "referral:r-1",
        "credit:referral:r-1", "signup:c-1", "birthday:c-1:2026", "challenge:ch-1:c-1:again:2",
        "challenge:ch-1:bonus:c-1", "adjust:k-1", "credit:adjust:k-1", "expire:c-1:x", "credit:spend:c-1:k",
    )] == ["purchase", "purchase", "review", "review", "referral", "referral", "signup", "birthday", "challenge",
          "challenge", "adjustment", "adjustment", "other", "other"]
    reward = wallet.referral_reward("r-1", "credit", None, Decimal("20"), 2000)
    assert ledger.origin(f"credit:{reward.key}") == "referral"
    assert ledger.origin(wallet.review_reward("c-1", "p-1", False, {}, Decimal(0), Decimal(0)).key) == "review"
