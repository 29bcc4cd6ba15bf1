"""Why a referral is refused: mailbox keys, identity and velocity rules."""

import pytest

from services.referrals import fraud
from services.referrals.fraud import Person, email_key, identity_rejection, velocity_rejection


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
