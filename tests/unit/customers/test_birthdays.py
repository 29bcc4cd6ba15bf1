"""The birthday greeting: on the day, in the customer's local morning."""

from datetime import UTC, date, datetime

from services.customers.birthdays import greeting_at, is_birthday, job_key, job_prefix, next_greeting


def test_next_greeting_is_nine_in_the_morning_local_time():
    year, due = next_greeting(date(1990, 12, 5), "Europe/Berlin", datetime(2026, 11, 23, 12, tzinfo=UTC))
    assert year == 2026 and due == datetime(2026, 12, 5, 8, tzinfo=UTC)  # 09:00 CET
    year, due = next_greeting(date(1990, 5, 1), "America/New_York", datetime(2026, 11, 23, tzinfo=UTC))
    assert year == 2027 and due == datetime(2027, 5, 1, 13, tzinfo=UTC)  # 09:00 EDT
    year, due = next_greeting(date(1990, 5, 1), None, datetime(2026, 11, 23, tzinfo=UTC))
    assert due == datetime(2027, 5, 1, 9, tzinfo=UTC)  # no time zone: UTC


def test_a_birthday_today_after_the_morning_is_greeted_now():
    now = datetime(2026, 11, 23, 15, tzinfo=UTC)
    assert next_greeting(date(1980, 11, 23), "UTC", now) == (2026, now)
    # in Tokyo it is already the 24th: next year
    assert next_greeting(date(1980, 11, 23), "Asia/Tokyo", now)[0] == 2027


def test_leap_day_birthdays_fall_on_28_february_in_common_years():
    assert greeting_at(date(2000, 2, 29), "UTC", 2027) == datetime(2027, 2, 28, 9, tzinfo=UTC)
    assert greeting_at(date(2000, 2, 29), "UTC", 2028) == datetime(2028, 2, 29, 9, tzinfo=UTC)


def test_is_birthday_rechecks_the_day_in_the_customers_zone():
    assert is_birthday(date(1990, 12, 5), "Europe/Berlin", datetime(2026, 12, 5, 8, tzinfo=UTC), 2026)
    assert is_birthday(date(1990, 12, 5), "Europe/Berlin", datetime(2026, 12, 6, 8, tzinfo=UTC), 2026)  # a late run
    assert not is_birthday(date(1990, 12, 6), "Europe/Berlin", datetime(2026, 12, 4, 8, tzinfo=UTC), 2026)
    assert not is_birthday(date(1990, 12, 5), "UTC", datetime(2026, 12, 5, 8, tzinfo=UTC), 2027)


def test_a_greeting_job_is_keyed_by_customer_year_and_birthday():
    assert job_key("c-1", date(1990, 5, 17), 2026) == "c-1\x1f2026-1990-05-17"
    assert job_key("c-1", date(1990, 5, 17), 2026).startswith(job_prefix("c-1"))
    assert not job_key("c-10", date(1990, 5, 17), 2026).startswith(job_prefix("c-1"))  # c-1 is no prefix of c-10
