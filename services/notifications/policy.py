"""Who may receive what, and when: consent per channel, quiet hours in the customer's timezone,
the frequency cap for marketing, nothing for an erased customer. Pure functions over a contact's
row (a database row or a dict)."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime, time, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DEFAULT_DAILY_CAP = 2
DEFAULT_WEEKLY_CAP = 6
DEFAULT_RETRY_SECONDS = (30, 120, 600, 3600)  # channel failures: then FAILED
HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


class Row(Protocol):
    """A contact's columns by name: an asyncpg record or a dict."""

    def __getitem__(self, key: str, /) -> Any: ...


def id_hash(customer_id: str) -> str:
    """All that is kept of an erased customer: events about them that arrive later plan nothing."""
    return hashlib.sha256(customer_id.encode()).hexdigest()


def parse_hhmm(value: str) -> time:
    match = HHMM.match(value)
    if not match:
        raise ValueError("expected HH:MM (00:00–23:59)")
    return time(int(match.group(1)), int(match.group(2)))


def zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name) if name else ZoneInfo("UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def valid_timezone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def consents(contact: Row) -> dict[str, bool]:
    """The customer's own choice wins over what the commerce platform sent."""
    def pick(opt: str, platform: str) -> bool:
        return bool(contact[platform] if contact[opt] is None else contact[opt])
    return {"EMAIL": pick("email_opt", "accepts_email"), "SMS": pick("sms_opt", "accepts_sms"),
            "WHATSAPP": pick("whatsapp_opt", "accepts_whatsapp"), "WEBHOOK": True}


def phone(contact: Row) -> str | None:
    """The number SMS and WhatsApp go to: the one the customer set in their preferences, else the one
    the commerce platform sent with the profile (upsertCustomer's phone)."""
    try:
        platform = contact["profile_phone"]
    except KeyError:  # a contact written before the platform's phone was kept
        platform = None
    return contact["phone"] or platform or None


def reachable(contact: Row, channel: str) -> bool:
    if channel == "EMAIL":
        return bool(contact["email"])
    if channel in ("SMS", "WHATSAPP"):
        return bool(phone(contact))
    return True


def choose_channel(contact: Row, channels: tuple[str, ...], *, transactional: bool) -> str | None:
    """The first channel the customer can be reached on and agreed to. Transactional order
    messages need no email consent; SMS and WhatsApp always need an explicit opt-in."""
    agreed = consents(contact)
    for channel in channels:
        if not reachable(contact, channel):
            continue
        if agreed[channel] or (transactional and channel == "EMAIL"):
            return channel
    return None


def quiet_until(contact: Row, now: datetime) -> datetime | None:
    """When the customer's quiet hours end if `now` falls inside them, else None."""
    start, end = contact["quiet_start"], contact["quiet_end"]
    if start is None or end is None or start == end:
        return None
    tz = zone(contact["pref_timezone"] or contact["timezone"])
    local = now.astimezone(tz)
    t = local.time().replace(tzinfo=None)
    inside = (start <= t < end) if start < end else (t >= start or t < end)
    if not inside:
        return None
    end_day = local.date() if t < end else local.date() + timedelta(days=1)
    return datetime.combine(end_day, end, tzinfo=tz).astimezone(UTC)


def retry_delays(configured: list[int] | None) -> list[int]:
    """Seconds before each retry of a failed channel (messages and merchant webhooks)."""
    return list(configured or DEFAULT_RETRY_SECONDS)


def over_cap(sent_last_day: int, sent_last_week: int, daily_cap: int | None, weekly_cap: int | None) -> str | None:
    daily = DEFAULT_DAILY_CAP if daily_cap is None else daily_cap
    weekly = DEFAULT_WEEKLY_CAP if weekly_cap is None else weekly_cap
    if sent_last_day >= daily:
        return f"frequency cap: {daily} marketing messages per day"
    if sent_last_week >= weekly:
        return f"frequency cap: {weekly} marketing messages per week"
    return None


def locale_of(contact: Row) -> str:
    return contact["pref_locale"] or contact["locale"] or "en"
