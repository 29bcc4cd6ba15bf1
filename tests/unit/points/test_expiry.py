from datetime import UTC, datetime

from services.points.loyalty.expiry import add_months, expires_at, job_key, warn_at


def test_calendar_months_clamp_to_the_last_day():
    assert add_months(datetime(2026, 1, 31, tzinfo=UTC), 1) == datetime(2026, 2, 28, tzinfo=UTC)
    assert add_months(datetime(2027, 12, 15, tzinfo=UTC), 12) == datetime(2028, 12, 15, tzinfo=UTC)
    assert add_months(datetime(2028, 1, 31, tzinfo=UTC), 1) == datetime(2028, 2, 29, tzinfo=UTC)


def test_the_balance_lapses_a_period_after_the_last_activity():
    last = datetime(2026, 3, 10, tzinfo=UTC)
    assert expires_at(last, 12, 100) == datetime(2027, 3, 10, tzinfo=UTC)
    assert warn_at(datetime(2027, 3, 10, tzinfo=UTC)) == datetime(2027, 2, 8, tzinfo=UTC)
    assert expires_at(last, 12, 0) is None
    assert expires_at(None, 12, 100) is None
    assert expires_at(last, 0, 100) is None


def test_the_reminder_and_the_lapse_are_keyed_by_customer_and_activity():
    at = datetime(2026, 3, 10, 9, 30, tzinfo=UTC)
    assert job_key("c-1", at) == "c-1|2026-03-10T09:30:00+00:00"
    assert job_key("c-1", at) != job_key("c-1", add_months(at, 1))
