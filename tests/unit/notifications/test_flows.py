from datetime import UTC, datetime, timedelta

from services.notifications import flows

AT = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)


def test_the_automation_map_ships_as_data():
    # The timings themselves are checked by driving the engine with orders of a known time
    # (tests/integration/test_notifications_engine.py: D+1, D+21, D+28, win-back 90-135 days).
    triggers = {f.trigger for f in flows.DEFAULT_FLOWS}
    assert {"order.placed", "order.shipped", "order.delivered", "review.requested", "customer.birthday",
            "customer.disengaged", "tier.near", "tier.changed", "points.earned", "points.expiring",
            "referral.converted", "credit.granted", "challenge.launched", "challenge.completed",
            flows.ORDER_DELAY} <= triggers
    # The offer steps ask the points program for its defaults (WINBACK day 120 and 135, AT_RISK):
    # no value is kept here, so the merchant sets each in one place.
    winback = flows.BY_KEY["winback"]
    assert [(s.asks.source, s.asks.step) if s.asks else None for s in winback.steps] == [
        None, None, ("WINBACK", 120), ("WINBACK", 135)]
    assert flows.BY_KEY["at_risk"].steps[0].asks == flows.OfferAsk("AT_RISK")
    assert flows.BY_KEY["at_risk"].enabled  # crossing the engagement threshold starts win-back
    assert not any(s.variables for f in flows.DEFAULT_FLOWS for s in f.steps)


def test_delays_count_from_when_the_event_happened_and_overdue_steps_are_not_sent():
    placed = "2026-11-20T10:00:00+00:00"
    handled = datetime(2026, 11, 22, 9, tzinfo=UTC)
    assert flows.happened_at("order.placed", {"placed_at": placed}, handled) == datetime.fromisoformat(placed)
    assert flows.happened_at("order.delivered", {"delivered_at": None}, handled) == handled  # older senders
    assert flows.happened_at("order.delivered", {"delivered_at": "2027-01-01T00:00:00+00:00"}, handled) == handled
    assert flows.happened_at("tier.changed", {"placed_at": placed}, handled) == handled
    assert flows.too_late(handled - timedelta(hours=25), handled)
    assert not flows.too_late(handled - timedelta(hours=23), handled)


def test_newer_events_cancel_what_they_make_obsolete():
    cancelled = {(f.key, r.match) for f, r in flows.cancelled_by("order.placed", flows.DEFAULT_FLOWS)}
    assert ("winback", None) in cancelled and ("at_risk", None) in cancelled
    assert [f.key for f, _ in flows.cancelled_by("credit.spent", flows.DEFAULT_FLOWS)] == ["credit"]
    refunds = [r for f, r in flows.cancelled_by("order.refunded", flows.DEFAULT_FLOWS) if f.key == "order_delivered"]
    assert refunds[0].cancels({"fully_refunded": True}) and not refunds[0].cancels({"fully_refunded": False})
    review = flows.cancelled_by("review.submitted", flows.DEFAULT_FLOWS)
    assert [(f.key, r.match) for f, r in review] == [("review_request", "product_id")]


def test_conditions_select_the_events_a_flow_is_for():
    tier_up = flows.BY_KEY["tier_up"]
    assert tier_up.applies_to({"direction": "up"}) and not tier_up.applies_to({"direction": "down"})
    assert tier_up.applies_to({"direction": "up", "reason": None})
    assert tier_up.applies_to({"direction": "up", "reason": "override_started"})  # an admin's gesture
    assert not tier_up.applies_to({"direction": "up", "reason": "initial"})  # the first tier is no upgrade
    assert not tier_up.applies_to({"direction": "up", "reason": "override_ended"})
    assert not tier_up.applies_to({"direction": "down", "reason": "override_started"})
    earned = flows.BY_KEY["points_earned"]
    assert earned.applies_to({"pending": False}) and not earned.applies_to({"pending": True})
    # A referral reward is announced by referral_reward alone, in points or in credit; events from
    # before `origin` existed still send their mail.
    credit = flows.BY_KEY["credit"]
    for origin in ("review", "adjustment", "challenge", "other"):
        assert earned.applies_to({"pending": False, "origin": origin}) and credit.applies_to({"origin": origin})
    assert not earned.applies_to({"pending": False, "origin": "referral"})
    assert not credit.applies_to({"origin": "referral"})
    assert earned.applies_to({"pending": False}) and credit.applies_to({})
    assert flows.Condition("x", "in", ["a", "b"]).holds({"x": "b"})
    assert flows.Condition("x", "ne", 1).holds({"x": 2})


def test_one_run_per_natural_key_whatever_the_event_id():
    flow, step = flows.BY_KEY["review_request"], flows.BY_KEY["review_request"].steps[0]
    source = flow.source_of({"order_id": "o-1", "product_id": "p-1"}, AT)
    assert source == "o-1:p-1"
    key = flows.dedup_key(flow, step, "c-1", source)
    assert key == flows.dedup_key(flow, step, "c-1", source)
    assert key != flows.dedup_key(flow, step, "c-2", source)
    assert key != flows.dedup_key(flow, flow.steps[1], "c-1", source)
    assert "c-1" not in key  # no personal id left in the log once the customer is erased
    assert flows.BY_KEY["tier_near"].source_of({"next_tier": "Gold"}, AT) == "Gold:2026-11"


def test_a_shop_override_changes_delays_templates_and_enabled():
    flow = flows.BY_KEY["credit"]
    changed = flows.effective(flow, {"enabled": False, "steps": {"reminder": {"delay_seconds": 60,
                                                                             "template": "credit_granted"},
                                                                "nope": {"delay_seconds": 1}}})
    assert not changed.enabled
    assert changed.step("reminder").delay == timedelta(seconds=60)
    assert changed.step("reminder").template == "credit_granted"
    assert changed.step("granted") == flow.step("granted")
    assert flows.effective(flow, None) is flow
    assert flows.BY_KEY["segment_at_risk"].enabled is False
    assert flows.effective(flows.BY_KEY["segment_at_risk"], {"enabled": True, "steps": {}}).enabled


def test_only_steps_with_a_discount_or_gift_carry_an_offer():
    # The engagement score (docs/domain.md) takes 5 points per discount email left unopened, so the
    # notification.sent of these (and only these) says offer=true.
    assert flows.carries_offer("at_risk", "at_risk")
    assert flows.carries_offer("winback", "discount_10")
    assert flows.carries_offer("winback", "discount_20_survey")
    assert flows.carries_offer("birthday", "greeting")
    assert not flows.carries_offer("winback", "value_reminder")
    assert not flows.carries_offer("winback", "content")
    assert not flows.carries_offer("order_placed", "thank_you")
    assert not flows.carries_offer("challenge_launched", "invitation")
    assert not flows.carries_offer("no-such-flow", "at_risk")
    assert not flows.carries_offer(None, None)
    assert flows.carries_offer("referral_welcome", "welcome")
    offered = {(f.key, s.key) for f in flows.DEFAULT_FLOWS for s in f.steps if s.offer}
    assert offered == {("at_risk", "at_risk"), ("winback", "discount_10"), ("winback", "discount_20_survey"),
                       ("segment_at_risk", "at_risk"), ("birthday", "greeting"), ("referral_welcome", "welcome")}
    # Every offer step asks for its offer, except the friend's welcome, whose offer comes with its event.
    assert {(f.key, s.key) for f in flows.DEFAULT_FLOWS for s in f.steps if s.asks} == offered - {
        ("referral_welcome", "welcome")}
    assert flows.BY_KEY["birthday"].steps[0].asks == flows.OfferAsk("BIRTHDAY", from_event=True)


def test_an_offer_is_asked_under_one_key_per_customer_run_and_step():
    winback = flows.BY_KEY["winback"]
    assert flows.offer_key(winback, winback.step("discount_10"), "c-1", "o-1") == "winback:c-1:o-1:120"
    assert flows.offer_key(winback, winback.step("discount_20_survey"), "c-1", "o-1") == "winback:c-1:o-1:135"
    at_risk = flows.BY_KEY["at_risk"]
    lapse = at_risk.source_of({"last_order_at": "2026-09-20T10:00:00+00:00"}, AT)
    assert flows.offer_key(at_risk, at_risk.steps[0], "c-1", lapse) == "at_risk:c-1:2026-09-20T10:00:00+00:00:at_risk"
    birthday = flows.BY_KEY["birthday"]
    assert flows.offer_key(birthday, birthday.steps[0], "c-1", "2026") == "birthday:c-1:2026:greeting"
    # Ids are up to 200 characters each; the event's key at most 200: then a hash names customer and run.
    long = flows.offer_key(winback, winback.step("discount_10"), "c" * 200, "o" * 200)
    assert len(long) <= 200 and long.startswith("winback:") and long.endswith(":120") and "c" * 20 not in long
    assert long == flows.offer_key(winback, winback.step("discount_10"), "c" * 200, "o" * 200)
    assert long != flows.offer_key(winback, winback.step("discount_10"), "c" * 200, "o" * 199)


def test_the_friends_welcome_follows_a_sign_up_referrals_issued_offer_only():
    welcome = flows.BY_KEY["referral_welcome"]
    signup = {"source": "REFERRAL", "context": {"referral": "r-1", "opened_by": "signup"}}
    assert welcome.trigger == "offer.issued" and welcome.applies_to(signup)
    assert not welcome.applies_to({**signup, "source": "WINBACK"})
    assert not welcome.applies_to({**signup, "context": {"referral": "r-1", "opened_by": "carry_over"}})
    assert not welcome.applies_to({**signup, "context": {"referral": "r-1", "opened_by": "order"}})
    assert not welcome.applies_to({"source": "REFERRAL", "context": {}})
    assert welcome.source_of({"key": "referral:r-1"}, AT) == "referral:r-1"


def test_the_events_flows_use_are_their_triggers_and_cancellers_but_not_the_admins_delay_note():
    used = flows.events_used()
    assert {"order.placed", "review.requested", "credit.spent", "review.submitted"} <= used
    assert flows.ORDER_DELAY not in used
