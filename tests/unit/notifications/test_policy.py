"""Who may receive what, and when: consent, channels, quiet hours, the frequency cap."""

from datetime import UTC, datetime, time

from services.notifications import policy

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


def test_failed_channels_retry_on_the_shops_delays_or_the_defaults():
    assert policy.retry_delays(None) == [30, 120, 600, 3600]
    assert policy.retry_delays([]) == [30, 120, 600, 3600]
    assert policy.retry_delays([5, 10]) == [5, 10]


def test_an_erased_customer_is_remembered_by_a_hash_only():
    assert policy.id_hash("c-1") == policy.id_hash("c-1") != policy.id_hash("c-2")
    assert "c-1" not in policy.id_hash("c-1") and len(policy.id_hash("c-1")) == 64
