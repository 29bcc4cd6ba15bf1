# The pagination tests moved to tests/unit/shared/test_pagination.py; what is left here tests
# services/referrals/codes.py and moves with the referrals tests (tests/unit/referrals/).
from services.referrals.codes import ALPHABET, LENGTH, new_code


def test_referral_codes_are_random_and_unambiguous():
    codes = {new_code() for _ in range(2000)}
    assert len(codes) == 2000
    assert all(len(c) == LENGTH and set(c) <= set(ALPHABET) for c in codes)
    assert not set("ILOU") & set(ALPHABET)
