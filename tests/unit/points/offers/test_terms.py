from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from services.points.offers.settings import DEFAULT_SETTINGS
from services.points.offers.terms import Ask, Refusal, step_of, terms

NOW = datetime(2026, 11, 23, 12, tzinfo=UTC)


def made(ask: Ask, tier: str | None = None, trusted: bool = False, settings=DEFAULT_SETTINGS):
    return terms(ask, settings, currency="EUR", tier=tier, punch_card_percent=Decimal(10), now=NOW, trusted=trusted)


def test_what_an_ask_leaves_out_comes_from_its_sources_default():
    o = made(Ask(key="referral:r-1", source="REFERRAL", customer_id="friend"))
    assert (o.kind, o.value, o.min_order, o.currency, o.usage_limit) == ("PERCENTAGE", 20, 12, "EUR", 1)
    assert (o.starts_at, o.expires_at, o.customer_id) == (NOW, NOW + timedelta(days=30), "friend")
    assert o.code.startswith("FLY-") and o.code_key == o.code.replace("-", "") and o.id.startswith("of-")
    at_risk = made(Ask(key="at-risk:c:1", source="AT_RISK"))
    assert (at_risk.kind, at_risk.value, at_risk.expires_at - NOW) == ("FREE_SHIPPING", None, timedelta(days=7))


def test_win_back_steps_by_the_asks_step_or_its_keys_last_part():
    assert made(Ask(key="winback:c:s1:135", source="WINBACK")).value == 20
    assert made(Ask(key="winback:c:s1:120", source="WINBACK")).value == 10
    assert made(Ask(key="winback:c:s1:x", source="WINBACK", step=135)).value == 20
    assert made(Ask(key="winback:c:s1:first", source="WINBACK")).value == 10
    assert step_of(Ask(key="winback:c:s1:135", source="WINBACK")) == 135


def test_a_gold_birthday_is_the_tiers_gift_of_store_credit():
    assert (made(Ask(key="b", source="BIRTHDAY"), tier="Silver").kind,) == ("PERCENTAGE",)
    gold = made(Ask(key="b", source="BIRTHDAY"), tier="Gold")
    assert (gold.kind, gold.value) == ("STORE_CREDIT", Decimal("10.00"))


def test_the_punch_card_takes_the_programs_percentage():
    assert made(Ask(key="p", source="PUNCH_CARD"), trusted=True).value == 10


def test_an_ask_may_name_its_terms_and_keep_a_carried_code():
    o = made(Ask(key="referral:r-2", source="REFERRAL", kind="FIXED_AMOUNT", value=Decimal("7.5"), currency="CHF",
                 min_order=Decimal(0), valid_days=10, usage_limit=5, code=" friend-abc12 "))
    assert (o.kind, o.value, o.currency, o.min_order, o.usage_limit) == ("FIXED_AMOUNT", Decimal("7.50"), "CHF", 0, 5)
    assert (o.code, o.code_key, o.expires_at) == ("FRIEND-ABC12", "FRIENDABC12", NOW + timedelta(days=10))


@pytest.mark.parametrize("over, reason", [
    ({"source": "TIER_PERK"}, "UNKNOWN_SOURCE"),
    ({"source": "NOPE"}, "UNKNOWN_SOURCE"),
    ({"source": "CHALLENGE"}, "DISABLED"),
    ({"value": Decimal(60)}, "OVER_LIMIT"),
    ({"kind": "FIXED_AMOUNT", "value": Decimal("100.01")}, "OVER_LIMIT"),
    ({"value": Decimal(0)}, "BAD_TERMS"),
    ({"value": Decimal("-5")}, "BAD_TERMS"),
    ({"kind": "FREE_SHIPPING", "value": Decimal(5)}, "BAD_TERMS"),
    ({"kind": "FIXED_AMOUNT", "value": Decimal("1.001")}, "BAD_TERMS"),
    ({"kind": "CASH"}, "BAD_TERMS"),
    ({"currency": "euro"}, "BAD_TERMS"),
    ({"min_order": Decimal(-1)}, "BAD_TERMS"),
    ({"customer_id": " "}, "BAD_TERMS"),
    ({"code": "no;way"}, "BAD_TERMS"),
    ({"valid_days": 0}, "BAD_TERMS"),
    ({"valid_days": 731}, "BAD_TERMS"),
    ({"expires_at": NOW}, "BAD_TERMS"),
    ({"starts_at": NOW + timedelta(days=5), "expires_at": NOW + timedelta(days=4)}, "BAD_TERMS"),
    ({"usage_limit": 0}, "BAD_TERMS"),
    ({"value": Decimal("1E+999999999")}, "BAD_TERMS"),  # refused before a billion digits are written
    ({"min_order": Decimal("NaN")}, "BAD_TERMS"),
    ({"starts_at": datetime(2026, 11, 24)}, "BAD_TERMS"),  # no time zone
])
def test_an_ask_the_rules_cannot_honour_is_refused_with_a_reason(over, reason):
    with pytest.raises(Refusal) as refused:
        made(replace(Ask(key="k", source="REFERRAL"), **over))
    assert refused.value.reason == reason and refused.value.extensions["code"] == "BAD_USER_INPUT"


def test_trusted_asks_skip_the_limits_but_not_the_shapes():
    assert made(Ask(key="r", source="REWARD", kind="FIXED_AMOUNT", value=Decimal(500)), trusted=True).value == 500
    with pytest.raises(Refusal):
        made(Ask(key="r", source="REWARD", kind="FIXED_AMOUNT", value=Decimal(-1)), trusted=True)
