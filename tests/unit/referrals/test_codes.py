"""Referral codes."""

from services.referrals.codes import ALPHABET, LENGTH, new_code, normal


def test_referral_codes_are_random_and_unambiguous():
    codes = {new_code() for _ in range(2000)}
    assert len(codes) == 2000
    assert all(len(c) == LENGTH and set(c) <= set(ALPHABET) for c in codes)
    assert not set("ILOU") & set(ALPHABET)


def test_typed_codes_are_matched_normalised():
    assert normal("  ab12cd34 ") == "AB12CD34"
