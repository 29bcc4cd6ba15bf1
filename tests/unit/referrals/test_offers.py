"""The friend's offer as referrals asks for it: the key, the program's terms, what a key names."""

import uuid
from decimal import Decimal

from services.referrals import offers

PROGRAM = {"currency": "EUR", "friend_discount_percent": 20, "minimum_order": Decimal("12.0000"),
           "friend_offer_valid_days": 30}
REFERRAL = uuid.UUID("6f1c2a64-5d2b-4c1e-9a35-0d7e1b2c3a4f")


def test_the_friends_offer_is_asked_on_the_referral_programs_terms():
    ask = offers._request("shop-1", "ben", REFERRAL, 20, PROGRAM, opened_by="signup")
    assert (ask.key, ask.source, ask.customer_id) == (f"referral:{REFERRAL}", "REFERRAL", "ben")
    assert (ask.kind, ask.value, ask.currency, ask.min_order, ask.valid_days, ask.usage_limit, ask.code) == (
        "PERCENTAGE", Decimal(20), "EUR", Decimal("12.00"), 30, 1, None)
    assert str(ask.min_order) == "12.00"  # in the currency's minor unit, as the points service takes amounts
    assert ask.context == {"referral": str(REFERRAL), "opened_by": "signup"}


def test_a_code_minted_here_before_is_handed_over_as_it_is():
    ask = offers._request("shop-1", "ben", str(REFERRAL), 15, PROGRAM, opened_by="carry_over", code="FABCD2345")
    assert (ask.code, ask.value, ask.key) == ("FABCD2345", Decimal(15), f"referral:{REFERRAL}")
    assert ask.context["opened_by"] == "carry_over"  # no welcome mail for it


def test_only_a_referral_offers_key_names_a_referral():
    assert offers.referral_of(f"referral:{REFERRAL}", "REFERRAL") == REFERRAL
    assert offers.referral_of(f"referral:{REFERRAL}", "WINBACK") is None
    assert offers.referral_of("winback:c-1:o-1:120", "REFERRAL") is None
    assert offers.referral_of("referral:not-a-uuid", "REFERRAL") is None


def test_the_consumer_takes_only_a_referred_friends_offer_events():
    from services.referrals.consumers import HANDLERS
    from shared.events import OfferIssued, OfferRedeemed

    def issued(key: str, source: str, customer: str | None = "ben") -> OfferIssued:
        return OfferIssued(shop="s", offer_id="of-1", key=key, code="C1", source=source, kind="PERCENTAGE",
                           customer_id=customer)
    assert HANDLERS.concerns(issued(f"referral:{REFERRAL}", "REFERRAL"))
    assert not HANDLERS.concerns(issued("redemption:rd-1", "REWARD"))  # a reward's code: not ours
    assert not HANDLERS.concerns(issued(f"referral:{REFERRAL}", "REFERRAL", customer=None))
    used = OfferRedeemed(**issued("winback:c-1:o-1:120", "WINBACK").model_dump(exclude={"context"}), order_id="o-1",
                         discount=Decimal("5"), exhausted=True)
    assert not HANDLERS.concerns(used)
