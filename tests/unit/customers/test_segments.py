"""Segments and the negative engagement score (docs/domain.md "Segments")."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from services.customers.segments import Facts, SegmentRules, crossed, engagement_score, segment
from shared.errors import BadUserInput

NOW = datetime(2026, 11, 23, 12, tzinfo=UTC)
RULES = SegmentRules()


def days_ago(n: float) -> datetime:
    return NOW - timedelta(days=n)


def buyer(**over) -> Facts:
    base = dict(orders_count=1, total_spent=Decimal(50), first_order_at=days_ago(10), last_order_at=days_ago(10),
                orders_recent=1, visited_recent=True)
    return Facts(**{**base, **over})


def test_no_counting_order_is_a_prospect():
    assert segment(Facts(), RULES, NOW) == "PROSPECT"


def test_first_purchase_in_the_last_30_days_is_new_and_then_occasional_not_silently_new():
    """Issue 19, item 4: a single purchase 45 days ago fits none of the brief's rows; it is OCCASIONAL."""
    assert segment(buyer(), RULES, NOW) == "NEW"
    assert segment(buyer(first_order_at=days_ago(30), last_order_at=days_ago(30)), RULES, NOW) == "NEW"
    assert segment(buyer(first_order_at=days_ago(45), last_order_at=days_ago(45)), RULES, NOW) == "OCCASIONAL"
    # two purchases, the first 60 days ago: not "more than 2 in 90 days", not new → OCCASIONAL, not REGULAR
    two = buyer(orders_count=2, orders_recent=2, first_order_at=days_ago(60), last_order_at=days_ago(5))
    assert segment(two, RULES, NOW) == "OCCASIONAL"
    # five purchases, but only one in the last 90 days: not REGULAR either
    old_regular = buyer(orders_count=5, orders_recent=1, first_order_at=days_ago(300), last_order_at=days_ago(20))
    assert segment(old_regular, RULES, NOW) == "OCCASIONAL"


def test_more_than_two_purchases_in_90_days_is_regular_two_is_not():
    three = buyer(orders_count=3, orders_recent=3, first_order_at=days_ago(80), total_spent=Decimal(90))
    assert segment(three, RULES, NOW) == "REGULAR"
    two = buyer(orders_count=2, orders_recent=2, first_order_at=days_ago(5), total_spent=Decimal(60))
    assert segment(two, RULES, NOW) == "NEW"


def test_vip_needs_more_than_three_purchases_and_aov_over_100_in_90_days_and_half_the_emails_opened():
    vip = buyer(orders_count=4, orders_recent=4, orders_vip=4, spent_vip=Decimal("400.04"),
                total_spent=Decimal("400.04"), first_order_at=days_ago(200), emails_sent_vip=4, emails_opened_vip=2)
    assert segment(vip, RULES, NOW) == "VIP"
    assert segment(buyer(**{**vip.__dict__, "spent_vip": Decimal(400)}), RULES, NOW) == "REGULAR"  # AOV = 100
    assert segment(buyer(**{**vip.__dict__, "orders_vip": 3, "orders_recent": 3}), RULES, NOW) == "REGULAR"
    assert segment(buyer(**{**vip.__dict__, "emails_opened_vip": 1}), RULES, NOW) == "REGULAR"  # 25 % opened
    # No marketing email in the window (no consent, say): judged on purchases alone.
    assert segment(buyer(**{**vip.__dict__, "emails_sent_vip": 0, "emails_opened_vip": 0}), RULES, NOW) == "VIP"
    # Lifetime counts no longer make a VIP: 20 orders and 5000 spent, but one order in the last 90 days.
    lifetime = buyer(orders_count=20, total_spent=Decimal(5000), orders_recent=1, orders_vip=1,
                     spent_vip=Decimal(250), first_order_at=days_ago(700), last_order_at=days_ago(10))
    assert segment(lifetime, RULES, NOW) == "OCCASIONAL"


def test_no_purchase_in_90_days_is_at_risk_and_none_in_the_year_is_churned():
    assert segment(buyer(last_order_at=days_ago(91), first_order_at=days_ago(200)), RULES, NOW) == "AT_RISK"
    loyal = buyer(orders_count=9, orders_recent=0, total_spent=Decimal(2000), first_order_at=days_ago(400),
                  last_order_at=days_ago(100))
    assert segment(loyal, RULES, NOW) == "AT_RISK"  # lapse beats VIP
    assert segment(buyer(last_order_at=days_ago(366), first_order_at=days_ago(400)), RULES, NOW) == "CHURNED"


def test_engagement_score_weights_and_crossing_the_threshold_starts_win_back_without_moving_the_segment():
    quiet = buyer(first_order_at=days_ago(45), last_order_at=days_ago(45), visited_recent=False,
                  offers_ignored=1)
    assert engagement_score(quiet, RULES, NOW) == -15  # -10 no visit, -5 one discount email not opened
    assert segment(quiet, RULES, NOW) == "OCCASIONAL"  # the score decides no segment
    assert crossed(-10, -15, quiet, RULES) and crossed(None, -40, quiet, RULES)
    assert not crossed(-15, -30, quiet, RULES)  # already below: started before
    assert not crossed(-10, -14, quiet, RULES)
    assert not crossed(0, -40, Facts(), RULES)  # no purchase history: nothing to win back
    assert engagement_score(buyer(offers_ignored=3), RULES, NOW) == -15
    assert engagement_score(buyer(), RULES, NOW) == 0
    lapsed = buyer(first_order_at=days_ago(61), last_order_at=days_ago(61))
    assert engagement_score(lapsed, RULES, NOW) == -30  # no purchase in 60 days: the 60-day at-risk start
    assert segment(lapsed, RULES, NOW) == "OCCASIONAL"
    assert engagement_score(Facts(), RULES, NOW) == -40


def test_rules_are_configurable_and_validated():
    lenient = RULES.changed(engagement_threshold=-50, new_days=60, vip_days=30, active_window_days=400)
    lapsed = buyer(first_order_at=days_ago(61), last_order_at=days_ago(61))
    assert segment(lapsed, RULES.changed(new_days=70), NOW) == "NEW"
    assert (lenient.vip_days, lenient.active_window_days) == (30, 400)
    assert SegmentRules.from_json(lenient.to_json()) == lenient
    assert SegmentRules.from_json({"vip_min_aov": "250.00", "unknown": 1}).vip_min_aov == Decimal(250)
    for bad in ({"new_days": 0}, {"vip_min_open_percent": 101}, {"engagement_threshold": 5},
                {"at_risk_days": 400}, {"regular_min_orders": -1}, {"vip_days": 0},
                {"active_window_days": 4000}):
        with pytest.raises(BadUserInput):
            RULES.changed(**bad)
