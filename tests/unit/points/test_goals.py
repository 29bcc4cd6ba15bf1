"""The pure rules of challenges: launch validation, status, which events count, completion."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from services.points.challenges import goals
from services.points.challenges.goals import Goal, Happening
from shared.errors import BadUserInput

T0 = datetime(2026, 6, 1, tzinfo=UTC)


def make(**over):
    args = dict(title="Three photo reviews", description=None, hashtag_=None, goal_event="REVIEW_PUBLISHED",
                goal_count=3, goal_with_media=True, goal_hashtag=None, goal_measure=None, starts_at=T0,
                ends_at=T0 + timedelta(days=7), audience=None, reward_points=150, badge="photographer",
                leaderboard_bonus=None, leaderboard_top=None, idempotency_key=None)
    return goals.launch(**{**args, **over})


def test_a_valid_launch_keeps_its_values_and_defaults_the_top_three():
    launch = make(title="  Three photo reviews ", idempotency_key=" k-1 ")
    assert launch.title == "Three photo reviews" and launch.goal == Goal("REVIEW_PUBLISHED", 3, True, None)
    assert launch.leaderboard_top == 3 and launch.leaderboard_bonus == 0 and launch.idempotency_key == "k-1"


@pytest.mark.parametrize(("over", "field"), [
    ({"ends_at": T0}, "endsAt"),
    ({"ends_at": T0 - timedelta(hours=1)}, "endsAt"),
    ({"ends_at": T0 + timedelta(days=400)}, "endsAt"),
    ({"goal_event": "REVIEW_DELETED"}, "goal.event"),
    ({"reward_points": -1}, "rewardPoints"),
    ({"leaderboard_bonus": -5}, "leaderboardBonus"),
    ({"goal_count": 0}, "goal.count"),
    ({"title": "   "}, "title"),
    ({"title": "x" * 201}, "title"),
    ({"description": "x" * 2001}, "description"),
    ({"badge": "b" * 61}, "badge"),
    ({"hashtag_": "two words"}, "hashtag"),
    ({"audience": "GOLD"}, "audience"),
    ({"goal_event": "ORDER_PAID", "goal_hashtag": "summer"}, "goal.hashtag"),
    ({"goal_event": "ORDER_PAID", "goal_with_media": True}, "goal.withMedia"),
    ({"starts_at": T0.replace(tzinfo=None)}, "startsAt"),
    ({"goal_measure": "SPEND"}, "goal.measure"),
    ({"goal_event": "ORDER_PAID", "goal_with_media": False, "goal_count": 1001}, "goal.count"),
    ({"idempotency_key": " "}, "idempotencyKey"),
])
def test_bad_input_names_its_field(over, field):
    with pytest.raises(BadUserInput) as exc:
        make(**over)
    assert exc.value.extensions["field"] == field


TIERS = ("Bronze", "Silver", "Gold")


def test_a_tier_audience_names_one_tier_of_the_program():
    launch = make(audience_tier=" Gold ", tier_names=TIERS)
    assert launch.audience_tier == "Gold" and launch.audience is None
    assert make(tier_names=TIERS).audience_tier is None


@pytest.mark.parametrize("over", [
    {"audience_tier": "Platinum"},
    {"audience_tier": "gold"},
    {"audience_tier": ""},
    {"audience_tier": "Gold", "audience": "VIP"},
])
def test_an_unknown_tier_or_two_audiences_is_bad_input(over):
    with pytest.raises(BadUserInput) as exc:
        make(tier_names=TIERS, **over)
    assert exc.value.extensions["field"] == "audienceTier"


def test_a_launch_without_a_tier_audience_keeps_its_old_fingerprint():
    plain = make()
    before = {k: v for k, v in asdict(plain).items() if k not in ("idempotency_key", "audience_tier")}
    assert plain.fingerprint() == hashlib.sha256(json.dumps(before, default=str, sort_keys=True).encode()).hexdigest()
    assert plain.fingerprint() != make(audience_tier="Gold", tier_names=TIERS).fingerprint()
    assert plain.fingerprint() == make(tier_names=TIERS).fingerprint()


def test_a_ugc_goal_takes_the_challenge_hashtag_normalised():
    launch = make(goal_event="UGC_SUBMITTED", goal_with_media=False, hashtag_="#SummerLook")
    assert launch.hashtag == "summerlook" and launch.goal.hashtag == "summerlook"


def test_the_fingerprint_ignores_the_key_but_not_the_input():
    assert make(idempotency_key="a").fingerprint() == make(idempotency_key="b").fingerprint()
    assert make().fingerprint() != make(reward_points=151).fingerprint()


def test_status_follows_the_window_and_an_early_end():
    end = T0 + timedelta(days=7)
    assert goals.status(T0, end, None, T0 - timedelta(seconds=1)) == "SCHEDULED"
    assert goals.status(T0, end, None, T0) == "ACTIVE"
    assert goals.status(T0, end, None, end) == "ENDED"
    assert goals.status(T0, end, T0 + timedelta(days=1), T0 + timedelta(days=2)) == "ENDED"
    assert goals.status(T0, end, T0 + timedelta(days=1), T0 + timedelta(hours=1)) == "ACTIVE"


def test_the_window_is_half_open_and_cut_by_an_early_end():
    end, early = T0 + timedelta(days=7), T0 + timedelta(days=2)
    assert goals.in_window(T0, T0, end, None) and not goals.in_window(end, T0, end, None)
    assert not goals.in_window(T0 - timedelta(seconds=1), T0, end, None)
    assert not goals.in_window(early, T0, end, early)
    assert goals.in_window(early - timedelta(seconds=1), T0, end, early)


def happening(event="REVIEW_PUBLISHED", **over):
    return Happening(event=event, source_key="review:r-1", customer_id="c-1", at=T0, **over)


def test_which_events_move_which_goal():
    media = Goal("REVIEW_PUBLISHED", 3, True)
    assert goals.counts(media, "ch-1", happening(with_media=True))
    assert not goals.counts(media, "ch-1", happening(with_media=False))
    assert goals.counts(Goal("REVIEW_PUBLISHED", 3), "ch-1", happening(with_media=False))
    assert not goals.counts(Goal("ORDER_PAID", 2), "ch-1", happening())
    assert goals.counts(Goal("ORDER_PAID", 2), "ch-1", happening("ORDER_PAID"))
    ugc = Goal("UGC_SUBMITTED", 1, hashtag="summerlook")
    assert goals.counts(ugc, "ch-1", happening("UGC_SUBMITTED", hashtags=("#SummerLook",)))
    assert not goals.counts(ugc, "ch-1", happening("UGC_SUBMITTED", hashtags=("winter",)))
    assert goals.counts(ugc, "ch-1", happening("UGC_SUBMITTED", challenge_id="ch-1"))
    assert not goals.counts(ugc, "ch-1", happening("UGC_SUBMITTED", challenge_id="ch-2"))


def test_completion_happens_on_the_step_that_reaches_the_goal_only():
    assert [goals.completes(n, n + 1, 3) for n in range(5)] == [False, False, True, False, False]


def test_a_spend_goal_moves_by_whole_units_of_the_net_amount():
    spend = make(goal_event="ORDER_PAID", goal_with_media=False, goal_measure="SPEND", goal_count=5000).goal
    assert spend.measure == "SPEND" and spend.count == 5000
    assert goals.step(spend, happening("ORDER_PAID", amount=Decimal("45.99"))) == 45
    assert not goals.counts(spend, "ch-1", happening("ORDER_PAID", amount=Decimal("0.50")))  # less than 1
    assert not goals.counts(spend, "ch-1", happening("ORDER_PAID"))  # another currency: amount 0
    count = Goal("ORDER_PAID", 2)
    assert goals.step(count, happening("ORDER_PAID", amount=Decimal("45.99"))) == 1


def test_a_refund_takes_back_what_the_order_no_longer_brings():
    orders = Goal("ORDER_PAID", 2)
    spend = Goal("ORDER_PAID", 100, measure="SPEND")
    assert goals.still_counted(orders, 1, Decimal("3.00"), voided=False) == 1  # partly refunded: still an order
    assert goals.still_counted(orders, 1, Decimal("0"), voided=True) == 0
    # 12.99 counted 12; 0.50 refunded leaves 12.49 (still 12), 1.00 refunded leaves 11.99 (11), never 12 - 1 rounded
    assert goals.still_counted(spend, 12, Decimal("12.49"), voided=False) == 12
    assert goals.still_counted(spend, 12, Decimal("11.99"), voided=False) == 11
    assert goals.still_counted(spend, 12, Decimal("11.99"), voided=True) == 0
    # A refund never adds: an older refund arriving late (more left) keeps the lower count.
    assert goals.still_counted(spend, 5, Decimal("11.99"), voided=False) == 5
    assert goals.still_counted(spend, 12, Decimal("-1"), voided=False) == 0


def test_a_completion_is_taken_back_only_below_the_goal_and_pays_again_under_a_new_key():
    assert goals.falls_short(True, 1, 2) and not goals.falls_short(True, 2, 2)
    assert not goals.falls_short(False, 0, 2)
    keys = [goals.completion_key("ch-1", "c-1", n) for n in range(3)]
    assert keys[0] == "challenge:ch-1:c-1" and len(set(keys)) == 3
