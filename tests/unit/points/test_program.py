from datetime import date
from decimal import Decimal

import pytest

from services.points.loyalty.program import (
    BAND,
    DEFAULT,
    ExchangeRate,
    Program,
    ProgramChange,
    RateChange,
    TierChange,
    apply_change,
)
from shared.errors import BadUserInput

TIERS = [TierChange("Bronze", "0", "1", []), TierChange("Silver", "100", "2", ["free shipping"])]


def test_defaults_are_margin_safe_inside_the_band_and_round_trip_through_json():
    # Issue 19, item 9: 1 point per unit × 1.5 × 0.025 = 3.75 %, inside the sustainable 3–5 % band.
    assert DEFAULT.effective_cashback == Decimal("0.0375")
    assert BAND[0] <= DEFAULT.effective_cashback <= BAND[1] == DEFAULT.cashback_ceiling
    assert Program.from_json(1, DEFAULT.to_json()) == DEFAULT
    assert [t.name for t in DEFAULT.tiers] == ["Bronze", "Silver", "Gold"]
    assert (DEFAULT.expiry_months, DEFAULT.pending_days) == (12, 14)


def test_a_change_makes_the_next_version_and_keeps_what_it_does_not_name():
    nxt = apply_change(DEFAULT, ProgramChange(earn_rate="1.2", pending_days=0))
    assert (nxt.version, nxt.earn_rate, nxt.pending_days, nxt.point_value) == (2, Decimal("1.2"), 0, Decimal("0.025"))
    assert nxt.tiers == DEFAULT.tiers


@pytest.mark.parametrize("change", [
    ProgramChange(earn_rate="4"),  # 4 × 1.5 × 0.01 = 6 %
    ProgramChange(point_value="0.05"),  # 1 × 1.5 × 0.05 = 7.5 %
    ProgramChange(tiers=[TierChange("Bronze", "0", "1", []), TierChange("Diamond", "10", "6", [])]),
    ProgramChange(earn_rate="3", cashback_ceiling="0.04"),
])
def test_above_the_cashback_ceiling_is_refused_unless_forced(change):
    with pytest.raises(BadUserInput) as refused:
        apply_change(DEFAULT, change)
    assert "exceeds the ceiling" in refused.value.message
    forced = apply_change(DEFAULT, ProgramChange(**{**change.__dict__, "force": True}))
    assert forced.effective_cashback > forced.cashback_ceiling


def test_exactly_at_the_ceiling_is_fine():
    p = apply_change(DEFAULT, ProgramChange(earn_rate="1", point_value="0.05", tiers=[TierChange("B", "0", "1", [])]))
    assert p.effective_cashback == Decimal("0.05")


@pytest.mark.parametrize("change", [
    ProgramChange(earn_rate="-1"), ProgramChange(earn_rate="lots"), ProgramChange(earn_rate="1e9"),
    ProgramChange(earn_rate="NaN"), ProgramChange(point_value="0"), ProgramChange(currency="EURO"),
    ProgramChange(expiry_months=-1), ProgramChange(pending_days=1000), ProgramChange(tiers=[]),
    ProgramChange(tiers=[TierChange("Bronze", "10", "1", [])]),
    ProgramChange(tiers=[TierChange("A", "0", "1", []), TierChange("B", "0", "1", [])]),
    ProgramChange(tiers=[TierChange("A", "0", "1", []), TierChange("a", "5", "1", [])]),
    ProgramChange(tiers=[TierChange("A", "0", "0.5", [])]),
    ProgramChange(tiers=[TierChange("x" * 65, "0", "1", [])]),
    ProgramChange(tiers=[TierChange("A", "0", "1", ["p" * 201])]),
    ProgramChange(tiers=[TierChange("A", "0", "1", []), TierChange("B", "-5", "1", [])]),
    ProgramChange(action_points={"dance": 5}), ProgramChange(action_points={"review": -5}),
    ProgramChange(review_credit="1.234"), ProgramChange(punch_card_percent="150"),
    ProgramChange(tier_period_days=29), ProgramChange(tier_period_days=1096), ProgramChange(near_tier_percent="101"),
    ProgramChange(near_tier_percent="-1"), ProgramChange(expiry_warning_days=0),
    ProgramChange(expiry_warning_days=366), ProgramChange(expiry_months=1, expiry_warning_days=28),
])
def test_bad_changes_are_refused(change):
    with pytest.raises(BadUserInput):
        apply_change(DEFAULT, change)


def test_the_tier_period_nudge_share_and_expiry_warning_are_settings_of_the_program():
    """Issue 19, item 8: defaults 365 days, 15 %, 30 days; each changed in a new version."""
    assert (DEFAULT.tier_period_days, DEFAULT.near_tier_percent, DEFAULT.expiry_warning_days) == (365, 15, 30)
    p = apply_change(DEFAULT, ProgramChange(tier_period_days=180, near_tier_percent="20", expiry_warning_days=14))
    assert (p.version, p.tier_period.days, p.near_tier_share, p.expiry_warning.days) == (2, 180, Decimal("0.2"), 14)
    assert Program.from_json(2, p.to_json()) == p
    assert apply_change(p, ProgramChange(pending_days=3)).tier_period_days == 180  # kept when not named
    stored_before = {k: v for k, v in DEFAULT.to_json().items()
                     if k not in ("tier_period_days", "near_tier_percent", "expiry_warning_days")}
    assert Program.from_json(1, stored_before) == DEFAULT  # versions stored before read as the defaults


def test_tiers_and_actions_are_replaced_as_given():
    p = apply_change(DEFAULT, ProgramChange(tiers=TIERS, action_points={"review": 70, "birthday": None}))
    assert [(t.name, t.threshold, t.multiplier) for t in p.tiers] == [
        ("Bronze", Decimal("0.00"), Decimal(1)), ("Silver", Decimal("100.00"), Decimal(2))]
    assert p.action_points["review"] == 70 and p.action_points["birthday"] == 100


# ---- currencies (docs/domain.md, Currencies) ------------------------------------------------

TODAY = date(2026, 3, 1)


def test_exchange_rates_are_set_with_their_date_and_round_trip_through_json():
    nxt = apply_change(DEFAULT, ProgramChange(base_currency="EUR", exchange_rates=[
        RateChange("AUD", "0.61", date(2026, 2, 27)), RateChange("USD", "0.9215")]), today=TODAY)
    assert nxt.exchange_rates == {"AUD": ExchangeRate(Decimal("0.61"), date(2026, 2, 27)),
                                  "USD": ExchangeRate(Decimal("0.9215"), TODAY)}
    assert Program.from_json(nxt.version, nxt.to_json()) == nxt
    assert nxt.rate_for("EUR") == ExchangeRate(Decimal(1), date.min)
    assert nxt.rate_for("AUD").rate == Decimal("0.61") and nxt.rate_for("CHF") is None
    kept = apply_change(nxt, ProgramChange(earn_rate="1.2"), today=TODAY)
    assert kept.exchange_rates == nxt.exchange_rates  # left out: kept
    cleared = apply_change(nxt, ProgramChange(exchange_rates=[]), today=TODAY)
    assert cleared.exchange_rates == {}


def test_a_new_base_currency_drops_the_rate_that_named_it():
    with_rates = apply_change(DEFAULT, ProgramChange(exchange_rates=[RateChange("USD", "0.9")]), today=TODAY)
    moved = apply_change(with_rates, ProgramChange(currency="USD"), today=TODAY)
    assert moved.currency == "USD" and moved.exchange_rates == {}


@pytest.mark.parametrize("change", [
    ProgramChange(currency="EUR", base_currency="USD"),
    ProgramChange(exchange_rates=[RateChange("EUR", "1")]),
    ProgramChange(exchange_rates=[RateChange("USD", "0")]),
    ProgramChange(exchange_rates=[RateChange("USD", "-1")]),
    ProgramChange(exchange_rates=[RateChange("USD", "1e9")]),
    ProgramChange(exchange_rates=[RateChange("USD", "abc")]),
    ProgramChange(exchange_rates=[RateChange("usd", "1")]),
    ProgramChange(exchange_rates=[RateChange("USD", "1"), RateChange("USD", "2")]),
    ProgramChange(exchange_rates=[RateChange("USD", "1", date(2026, 3, 2))]),
    ProgramChange(exchange_rates=[RateChange(f"A{chr(65 + i // 26)}{chr(65 + i % 26)}", "1") for i in range(51)]),
])
def test_bad_exchange_rates_are_refused(change):
    with pytest.raises(BadUserInput):
        apply_change(DEFAULT, change, today=TODAY)
