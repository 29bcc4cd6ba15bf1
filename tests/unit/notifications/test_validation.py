"""Checks of what customers and admins send."""

from datetime import time

import pytest

from services.notifications import flows, validation
from shared.errors import BadUserInput


def test_preferences_input_is_checked():
    assert validation.preferences({"email": False, "quiet_hours_start": "22:00", "quiet_hours_end": "07:30"},
                                  None) == {"email_opt": False, "quiet_start": time(22), "quiet_end": time(7, 30)}
    assert validation.preferences({"quiet_hours_start": "", "quiet_hours_end": ""}, None) == {
        "quiet_start": None, "quiet_end": None}
    for bad in ({"locale": "fr"}, {"timezone": "Mars/Olympus"}, {"quiet_hours_start": "25:00", "quiet_hours_end": "x"},
                {"quiet_hours_start": "22:00"}, {"phone": "0151 123"}, {"sms": True}, {"timezone": "x" * 100}):
        with pytest.raises(BadUserInput):
            validation.preferences(bad, None)
    assert validation.preferences({"sms": True}, "+4915112345678") == {"sms_opt": True}


def test_settings_input_is_checked():
    assert validation.shop_settings({"daily_cap": 3, "retry_seconds": [1, 2]}) == {"daily_cap": 3,
                                                                                   "retry_seconds": [1, 2]}
    for bad in ({"daily_cap": -1}, {"retry_seconds": [0]}, {"retry_seconds": [1] * 11},
                {"storefront_url": "javascript:alert(1)"}, {"tracking_url": "https://x.test/track"},
                {"sms_from": "12345"}):
        with pytest.raises(BadUserInput):
            validation.shop_settings(bad)


def test_a_template_needing_what_the_flow_lacks_cannot_be_chosen():
    flow = flows.BY_KEY["birthday"]
    with pytest.raises(BadUserInput, match="cannot be used"):
        validation.renders(flow, flows.Step("greeting", "tier_near"))  # birthday events carry no tier gap
    with pytest.raises(BadUserInput):
        validation.renders(flow, flows.Step("greeting", "no_such_template"))


def test_an_offer_step_keeps_a_template_that_shows_its_offer():
    winback = flows.BY_KEY["winback"]
    discount = winback.step("discount_10")
    # The offer is issued for the message: a template without its code would hide it.
    with pytest.raises(BadUserInput, match="does not show the offer"):
        validation.flow_change(winback, None, [{"key": "discount_10", "template": "winback_value"}])
    # The same discount mail for the other win-back offer step, or the at-risk step, is fine.
    assert validation.flow_change(winback, None, [{"key": "discount_20_survey", "template": "winback_discount"},
                                                  {"key": "discount_10", "template": "winback_survey"}]) == {
        "discount_20_survey": {"template": "winback_discount"}, "discount_10": {"template": "winback_survey"}}
    # A step without an offer cannot take a template that shows one: it would have nothing to show.
    with pytest.raises(BadUserInput, match="cannot be used"):
        validation.flow_change(winback, None, [{"key": "content", "template": "winback_discount"}])
    validation.renders(winback, discount)


def test_a_delay_note_is_trimmed_and_limited():
    assert validation.delay_note(None) == ""
    assert validation.delay_note("  Sorry, the mug is late.  ") == "Sorry, the mug is late."
    assert validation.delay_note("x" * 1000) == "x" * 1000
    with pytest.raises(BadUserInput):
        validation.delay_note("x" * 1001)
