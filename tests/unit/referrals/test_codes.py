"""Referral and friend offer codes."""

from services.referrals.codes import ALPHABET, LENGTH, new_code, new_offer_code, normal


def test_referral_codes_are_random_and_unambiguous():
    codes = {new_code() for _ in range(2000)}
    assert len(codes) == 2000
    assert all(len(c) == LENGTH and set(c) <= set(ALPHABET) for c in codes)
    assert not set("ILOU") & set(ALPHABET)


def test_offer_codes_never_read_as_referral_codes_and_typed_codes_are_matched_normalised():
    assert new_offer_code().startswith("F") and len(new_offer_code()) == LENGTH + 1
    assert normal("  ab12cd34 ") == "AB12CD34"
