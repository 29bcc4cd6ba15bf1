from datetime import UTC, datetime, timedelta
from decimal import Decimal

from services.points.loyalty import tiers
from services.points.loyalty.program import DEFAULT

T = DEFAULT.tiers  # Bronze 0, Silver 500, Gold 1500
NOW = datetime(2026, 11, 23, tzinfo=UTC)


def test_qualifying_tier_by_spend():
    assert [tiers.qualifying(Decimal(s), T).name for s in ("0", "499.99", "500", "1499", "1500", "99999")] == [
        "Bronze", "Bronze", "Silver", "Silver", "Gold", "Gold"]


def test_upgrade_is_immediate():
    s = tiers.standing("Bronze", NOW - timedelta(days=10), Decimal(600), T, NOW)
    assert (s.tier.name, s.changed, s.direction, s.since) == ("Silver", True, "up", NOW)


def test_a_first_look_stores_the_tier_the_spend_says_even_the_lowest():
    s = tiers.standing(None, None, Decimal(10), T, NOW)
    assert (s.tier.name, s.changed, s.since) == ("Bronze", True, NOW)
    s = tiers.standing(None, None, Decimal(1600), T, NOW)
    assert (s.tier.name, s.changed, s.direction) == ("Gold", True, "up")


def _said(announced, applies, override=None, until=None):
    c = tiers.announcement(announced, tiers.by_name(applies, T), T, override=override, override_until=until, now=NOW)
    return c and (c.from_tier, c.to_tier, c.direction, c.reason)


def test_the_first_tier_is_announced_as_initial_only_when_it_is_the_lowest():
    assert _said(None, "Bronze") == (None, "Bronze", "up", "initial")
    assert _said(None, "Silver") == (None, "Silver", "up", None)  # a first order that qualifies: an upgrade
    assert _said("Bronze", "Bronze") is None


def test_spend_moves_are_announced_without_a_reason():
    assert _said("Bronze", "Gold") == ("Bronze", "Gold", "up", None)
    assert _said("Gold", "Silver") == ("Gold", "Silver", "down", None)


def test_an_override_start_and_end_are_announced_with_the_tier_that_applies():
    soon, past = NOW + timedelta(days=3), NOW - timedelta(seconds=1)
    assert _said("Bronze", "Gold", "Gold", soon) == ("Bronze", "Gold", "up", "override_started")
    assert _said("Gold", "Bronze", "Bronze", soon) == ("Gold", "Bronze", "down", "override_started")
    assert _said(None, "Gold", "Gold", soon) == (None, "Gold", "up", "override_started")
    assert _said("Gold", "Gold", "Gold", soon) is None  # spend during the override: the override still applies
    assert _said("Gold", "Silver", "Gold", past) == ("Gold", "Silver", "down", "override_ended")
    assert _said("Bronze", "Gold", "Bronze", past) == ("Bronze", "Gold", "up", "override_ended")
    assert _said("Gold", "Gold", "Gold", past) is None  # the spend reached the override's tier meanwhile
    # A newer override replaced an older one: the end of the older one is not announced.
    assert _said("Silver", "Silver", "Silver", soon) is None
    # Spend moved the tier after an override ended and its end was announced: no override reason.
    assert _said("Silver", "Gold", "Gold", past) == ("Silver", "Gold", "up", None)


def test_downgrade_only_after_the_period():
    reached = NOW - timedelta(days=100)
    s = tiers.standing("Gold", reached, Decimal(0), T, NOW)
    assert (s.tier.name, s.changed) == ("Gold", False)
    later = reached + tiers.PERIOD
    s = tiers.standing("Gold", reached, Decimal(600), T, later)
    assert (s.tier.name, s.changed, s.direction) == ("Silver", True, "down")


def test_near_within_fifteen_percent_of_the_next_threshold():
    bronze = T[0]
    assert tiers.is_near(bronze, Decimal("424.99"), T) is None  # 75.01 away, limit 75
    assert tiers.is_near(bronze, Decimal("425"), T).name == "Silver"
    assert tiers.is_near(bronze, Decimal("500"), T) is None  # reached, not near
    assert tiers.is_near(T[2], Decimal("1600"), T) is None  # top tier
    assert tiers.amount_to_next(bronze, Decimal("480"), T) == (T[1], Decimal(20))
    assert tiers.amount_to_next(T[2], Decimal("1"), T) is None


def test_one_period_key_per_year_since_the_tier_was_reached():
    since = datetime(2026, 1, 1, tzinfo=UTC)
    assert tiers.period_key(since, since + timedelta(days=10)) == tiers.period_key(since, since + timedelta(days=300))
    assert tiers.period_key(since, since + timedelta(days=370)) != tiers.period_key(since, since)


def test_an_override_applies_until_its_end_and_is_validated():
    import pytest

    from shared.errors import BadUserInput
    st = tiers.standing("Bronze", None, Decimal(0), T, NOW)
    assert tiers.overridden(st, "Gold", NOW + timedelta(days=1), T, NOW).name == "Gold"
    assert tiers.overridden(st, "Gold", NOW, T, NOW).name == "Bronze"
    assert tiers.overridden(st, "Renamed", NOW + timedelta(days=1), T, NOW).name == "Bronze"
    assert tiers.check_override("Silver", "vip", NOW + timedelta(days=3), T, NOW).name == "Silver"
    for bad in (("Nope", "r", NOW + timedelta(days=1)), ("Gold", " ", NOW + timedelta(days=1)),
                ("Gold", "r", NOW - timedelta(days=1)), ("Gold", "r", NOW + timedelta(days=2000)),
                ("Gold", "r", datetime(2027, 1, 1))):
        with pytest.raises(BadUserInput):
            tiers.check_override(*bad, T, NOW)


def test_a_tier_still_qualified_for_at_the_end_of_its_period_is_renewed_for_a_new_period():
    """Issue 19, item 1: Gold reached 2025-01-10, still qualifying on day 366, spend 600 on day 430:
    still Gold (its second period runs to 2027-01-10), not Silver at once."""
    reached = datetime(2025, 1, 10, tzinfo=UTC)
    day_366 = reached + timedelta(days=366)
    renewed = tiers.standing("Gold", reached, Decimal(1600), T, day_366)
    assert (renewed.tier.name, renewed.since, renewed.changed, renewed.direction) == (
        "Gold", reached + tiers.PERIOD, True, None)
    day_430 = reached + timedelta(days=430)
    later = tiers.standing("Gold", renewed.since, Decimal(600), T, day_430)
    assert (later.tier.name, later.changed) == ("Gold", False)
    # The review at the end never ran (no stored renewal): the spend at the end still renews it.
    late = tiers.standing("Gold", reached, Decimal(600), T, day_430, spend_at_end=Decimal(1600))
    assert (late.tier.name, late.since, late.direction) == ("Gold", reached + tiers.PERIOD, None)
    # Not qualifying at the end: down to what the spend says now.
    down = tiers.standing("Gold", reached, Decimal(600), T, day_430, spend_at_end=Decimal(600))
    assert (down.tier.name, down.since, down.direction) == ("Silver", day_430, "down")
    # Missed at the end, qualifying again now: kept, a new period from now.
    back = tiers.standing("Gold", reached, Decimal(1600), T, day_430, spend_at_end=Decimal(600))
    assert (back.tier.name, back.since, back.direction) == ("Gold", day_430, None)
    assert tiers.period_end(reached, day_430) == reached + tiers.PERIOD
    assert tiers.period_end(reached, reached + timedelta(days=800)) == reached + 2 * tiers.PERIOD


def test_the_tier_period_and_the_nudge_share_are_the_programs():
    reached = NOW - timedelta(days=100)
    quarter = timedelta(days=90)
    s = tiers.standing("Gold", reached, Decimal(0), T, NOW, period=quarter)
    assert (s.tier.name, s.direction) == ("Bronze", "down")
    assert tiers.standing("Gold", reached, Decimal(0), T, NOW).tier.name == "Gold"
    bronze = T[0]
    assert tiers.is_near(bronze, Decimal("400"), T, Decimal("0.20")).name == "Silver"  # 100 away, limit 100
    assert tiers.is_near(bronze, Decimal("400"), T) is None  # 15 %: limit 75
    assert tiers.is_near(bronze, Decimal("499"), T, Decimal(0)) is None  # 0: no nudge
    assert tiers.period_key(reached, NOW, quarter) == (reached + quarter).date().isoformat()
