from decimal import Decimal

import pytest

from services.points.loyalty.program import DEFAULT, Program, ProgramChange, apply_change
from services.points.offers.settings import DEFAULT_SETTINGS, DefaultChange, SettingsChange
from shared.errors import BadUserInput


def change(**offers) -> Program:
    return apply_change(DEFAULT, ProgramChange(offers=SettingsChange(**offers)))


def test_the_defaults_are_the_domains():
    s = DEFAULT.offers
    seen = {(d.source, d.step): (d.kind, d.value, d.min_order, d.valid_days, d.enabled) for d in s.defaults}
    assert seen == {
        ("REFERRAL", None): ("PERCENTAGE", 20, 12, 30, True),
        ("AT_RISK", None): ("FREE_SHIPPING", None, None, 7, True),
        ("WINBACK", 120): ("PERCENTAGE", 10, None, 14, True),
        ("WINBACK", 135): ("PERCENTAGE", 20, None, 14, True),
        ("BIRTHDAY", None): ("PERCENTAGE", 10, None, 30, True),
        ("PUNCH_CARD", None): ("PERCENTAGE", None, None, 60, True),
        ("CHALLENGE", None): ("FIXED_AMOUNT", 5, None, 30, False),
        ("MANUAL", None): ("FIXED_AMOUNT", 5, None, 30, True),
    }
    assert (s.free_shipping_tiers, s.birthday_gift_tiers, s.birthday_gift, s.restore_codes_on_cancel) == (
        ("Silver", "Gold"), ("Gold",), 10, True)
    assert s.default("WINBACK", 135).value == 20 and s.default("WINBACK", 99).step == 120  # unknown step: first


def test_settings_are_versioned_with_the_program_and_read_back_the_same():
    nxt = change(defaults=[DefaultChange("REFERRAL", value="15", valid_days=45),
                           DefaultChange("WINBACK", step=180, kind="FIXED_AMOUNT", value="10.00")],
                 free_shipping_tiers=["Gold"], restore_codes_on_cancel=False)
    assert nxt.version == 2
    assert Program.from_json(nxt.version, nxt.to_json()) == nxt
    assert nxt.offers.default("REFERRAL").value == 15 and nxt.offers.default("REFERRAL").valid_days == 45
    assert nxt.offers.default("REFERRAL").min_order == 12  # left out: kept
    assert [d.step for d in nxt.offers.defaults if d.source == "WINBACK"] == [120, 135, 180]
    assert (nxt.offers.free_shipping_tiers, nxt.offers.restore_codes_on_cancel) == (("Gold",), False)
    assert Program.from_json(1, {**DEFAULT.to_json(), "offers": None}).offers == DEFAULT_SETTINGS  # older versions


def test_changing_the_kind_drops_a_value_that_does_not_fit():
    nxt = change(defaults=[DefaultChange("BIRTHDAY", kind="FREE_SHIPPING")])
    assert (nxt.offers.default("BIRTHDAY").kind, nxt.offers.default("BIRTHDAY").value) == ("FREE_SHIPPING", None)


@pytest.mark.parametrize("offers", [
    {"defaults": [DefaultChange("REFERRAL", value="101")]},
    {"defaults": [DefaultChange("REFERRAL", value="0")]},
    {"defaults": [DefaultChange("REFERRAL", value="ten")]},
    {"defaults": [DefaultChange("REFERRAL", value="1e999999")]},
    {"defaults": [DefaultChange("REFERRAL", kind="FIXED_AMOUNT", value="5.001")]},
    {"defaults": [DefaultChange("AT_RISK", value="5")]},
    {"defaults": [DefaultChange("REFERRAL", valid_days=0)]},
    {"defaults": [DefaultChange("REFERRAL", valid_days=731)]},
    {"defaults": [DefaultChange("REFERRAL", min_order="-1")]},
    {"defaults": [DefaultChange("REFERRAL", step=120)]},
    {"defaults": [DefaultChange("WINBACK")]},
    {"defaults": [DefaultChange("WINBACK", step=0)]},
    {"defaults": [DefaultChange("WINBACK", step=s) for s in (10, 20, 30, 40)]},
    {"defaults": [DefaultChange("REWARD", value="5")]},
    {"defaults": [DefaultChange("TIER_PERK", value="5")]},
    {"defaults": [DefaultChange("PUNCH_CARD", value="15")]},
    {"defaults": [DefaultChange("PUNCH_CARD", enabled=False)]},
    {"free_shipping_tiers": ["Diamond"]}, {"birthday_gift_tiers": ["gold"]},
    {"birthday_gift": "0"}, {"birthday_gift": "-5"}, {"max_percent": "100.01"}, {"max_amount": "0"},
])
def test_bad_settings_are_refused_and_change_nothing(offers):
    with pytest.raises(BadUserInput):
        change(**offers)
    assert DEFAULT.offers == DEFAULT_SETTINGS


def test_a_gift_and_limits_in_the_program_currency():
    nxt = change(birthday_gift="12.50", max_percent="30", max_amount="50")
    assert (nxt.offers.birthday_gift, nxt.offers.max_percent, nxt.offers.max_amount) == (
        Decimal("12.50"), Decimal("30.00"), Decimal("50.00"))
