"""When a customer's birthday greeting is due: on the day, in their local morning."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

LOCAL_MORNING = time(9, 0)


def _on(birthday: date, year: int) -> date:
    # 29 February is celebrated on 28 February in common years.
    if birthday.month == 2 and birthday.day == 29:
        try:
            return date(year, 2, 29)
        except ValueError:
            return date(year, 2, 28)
    return birthday.replace(year=year)


def greeting_at(birthday: date, timezone: str | None, year: int) -> datetime:
    return datetime.combine(_on(birthday, year), LOCAL_MORNING, tzinfo=ZoneInfo(timezone or "UTC"))


def next_greeting(birthday: date, timezone: str | None, now: datetime) -> tuple[int, datetime]:
    """The year and the instant of the next greeting. A birthday that is today but whose morning
    has passed is greeted now (late rather than never)."""
    today = now.astimezone(ZoneInfo(timezone or "UTC")).date()
    year = today.year if _on(birthday, today.year) >= today else today.year + 1
    return year, max(greeting_at(birthday, timezone, year), now)


def job_prefix(customer_id: str) -> str:
    """What the keys of all the customer's greeting jobs start with."""
    return f"{customer_id}\x1f"  # ids never hold control characters (shared.ids)


def job_key(customer_id: str, birthday: date, year: int) -> str:
    """One greeting per customer, year and birthday: a changed birthday is a new job."""
    return f"{job_prefix(customer_id)}{year}-{birthday.isoformat()}"


def is_birthday(birthday: date, timezone: str | None, at: datetime, year: int) -> bool:
    """Whether `at` falls on the customer's birthday of `year` in their zone (the job re-checks,
    since the profile may have changed after it was scheduled)."""
    local = at.astimezone(ZoneInfo(timezone or "UTC")).date()
    return local == _on(birthday, year) or local - timedelta(days=1) == _on(birthday, year)
