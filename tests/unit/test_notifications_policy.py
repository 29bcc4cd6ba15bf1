from datetime import UTC, datetime, time

import pytest

from services.notifications import policy, validation
from shared.errors import BadUserInput

BASE = {"email": "a@example.com", "phone": None, "accepts_email": False, "accepts_sms": False,
        "accepts_whatsapp": False, "email_opt": None, "sms_opt": None, "whatsapp_opt": None,
        "quiet_start": None, "quiet_end": None, "timezone": "Europe/Berlin", "pref_timezone": None,
        "locale": "de", "pref_locale": None}


def contact(**over):
    return {**BASE, **over}


def test_transactional_email_needs_no_consent_but_marketing_does():
    assert policy.choose_channel(contact(), ("EMAIL",), transactional=True) == "EMAIL"
    assert policy.choose_channel(contact(), ("EMAIL",), transactional=False) is None
    assert policy.choose_channel(contact(accepts_email=True), ("EMAIL",), transactional=False) == "EMAIL"
    assert policy.choose_channel(contact(accepts_email=True, email_opt=False), ("EMAIL",), transactional=False) is None


def test_sms_and_whatsapp_need_an_explicit_opt_in_and_a_phone_even_when_transactional():
    c = contact(phone="+4915112345678")
    assert policy.choose_channel(c, ("WHATSAPP", "EMAIL"), transactional=True) == "EMAIL"
    assert policy.choose_channel({**c, "whatsapp_opt": True}, ("WHATSAPP", "EMAIL"), transactional=True) == "WHATSAPP"
    assert policy.choose_channel(contact(sms_opt=True), ("SMS",), transactional=True) is None  # no phone


def test_quiet_hours_in_the_customers_timezone_postpone_to_their_end():
    c = contact(quiet_start=time(22, 0), quiet_end=time(8, 0))
    # 22:30 UTC is 23:30 in Berlin (CET): inside; the message waits until 08:00 Berlin = 07:00 UTC
    assert policy.quiet_until(c, datetime(2026, 11, 23, 22, 30, tzinfo=UTC)) == datetime(2026, 11, 24, 7, 0, tzinfo=UTC)
    assert policy.quiet_until(c, datetime(2026, 11, 24, 5, 0, tzinfo=UTC)) == datetime(2026, 11, 24, 7, 0, tzinfo=UTC)
    assert policy.quiet_until(c, datetime(2026, 11, 24, 12, 0, tzinfo=UTC)) is None
    day = contact(quiet_start=time(12, 0), quiet_end=time(14, 0), pref_timezone="UTC")
    assert policy.quiet_until(day, datetime(2026, 11, 24, 13, 0, tzinfo=UTC)) == datetime(2026, 11, 24, 14, 0,
                                                                                           tzinfo=UTC)
    assert policy.quiet_until(contact(), datetime(2026, 11, 24, 3, 0, tzinfo=UTC)) is None


def test_frequency_cap_per_day_and_week():
    assert policy.over_cap(0, 0, None, None) is None
    assert "per day" in policy.over_cap(2, 2, None, None)
    assert "per week" in policy.over_cap(1, 6, None, None)
    assert policy.over_cap(5, 5, 10, 10) is None
    assert "per day" in policy.over_cap(0, 0, 0, 10)


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
