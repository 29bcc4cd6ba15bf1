"""Points expire after a period without earning or redeeming. Pure: no I/O.

Each activity (an earning or a redemption) plans a reminder before the lapse (the program's
`expiry_warning_days`, default 30) and the lapse itself, both keyed by the customer and that
activity; a job finding newer activity does nothing."""

from __future__ import annotations

import calendar
from datetime import datetime, timedelta

WARN_BEFORE = timedelta(days=30)  # the default of Program.expiry_warning_days
WARN_JOB = "points.expiring"  # the reminder (points.expiring)
LAPSE_JOB = "points.expire"  # the lapse (points.expired)


def add_months(at: datetime, months: int) -> datetime:
    """Calendar months, clamped to the month's last day (31 Jan + 1 month = 28/29 Feb)."""
    index = at.month - 1 + months
    year, month = at.year + index // 12, index % 12 + 1
    return at.replace(year=year, month=month, day=min(at.day, calendar.monthrange(year, month)[1]))


def lapse_at(activity: datetime, months: int) -> datetime | None:
    """When the balance lapses if nothing happens after `activity` (None: expiry switched off)."""
    return add_months(activity, months) if months > 0 else None


def expires_at(last_activity: datetime | None, months: int, balance: int) -> datetime | None:
    """When the whole balance lapses (None: nothing to lapse, or expiry switched off with 0 months)."""
    if last_activity is None or months <= 0 or balance <= 0:
        return None
    return add_months(last_activity, months)


def warn_at(expiry: datetime, before: timedelta = WARN_BEFORE) -> datetime:
    return expiry - before


def job_key(customer_id: str, activity: datetime) -> str:
    """Names the activity the reminder and the lapse were planned for."""
    return f"{customer_id}|{activity.isoformat()}"
