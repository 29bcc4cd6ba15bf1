"""Customer profiles as the commerce platform sends them: validated and normalised."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from shared.errors import BadUserInput
from shared.ids import external_id

EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$")
PHONE_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
LOCALES = ("de", "en")
NAME_MAX = 100
# What a later profile may change, and what tells a replay of the same profile from a change; the
# referral code and device are the registration's and stay.
EDITABLE = ("email", "first_name", "last_name", "locale", "timezone", "birthday", "phone",
            "accepts_email", "accepts_sms", "accepts_whatsapp")


@dataclass(frozen=True)
class Profile:
    id: str
    email: str
    first_name: str | None
    last_name: str | None
    locale: str
    timezone: str | None
    birthday: date | None
    phone: str | None
    accepts_email: bool
    accepts_sms: bool
    accepts_whatsapp: bool
    referral_code: str | None
    device_id: str | None


def _text(value: str | None, field: str, limit: int = NAME_MAX) -> str | None:
    if value is None:
        return None
    value = value.strip()
    if len(value) > limit or any(ord(c) < 32 for c in value):
        raise BadUserInput(f"{field} must be at most {limit} printable characters", field=field)
    return value or None


def normalise_email(value: str) -> str:
    email = (value or "").strip().lower()
    if len(email) > 254 or not EMAIL.match(email):
        raise BadUserInput("email is not a valid address", field="email")
    return email


def normalise_phone(value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    phone = re.sub(r"[\s\-()./]", "", value)
    if phone.startswith("00"):
        phone = "+" + phone[2:]
    if not PHONE_E164.match(phone):
        raise BadUserInput("phone must be an international number like +4915112345678", field="phone")
    return phone


def normalise_locale(value: str | None) -> str:
    if value is None:
        return "en"
    locale = value.strip().lower().replace("_", "-").split("-")[0]
    if locale not in LOCALES:
        raise BadUserInput(f"locale must be one of {', '.join(LOCALES)}", field="locale")
    return locale


def normalise_timezone(value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(value.strip())
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise BadUserInput("timezone must be an IANA name like Europe/Berlin", field="timezone") from exc
    return value.strip()


def profile(
    *, id: str, email: str, first_name: str | None = None, last_name: str | None = None,
    locale: str | None = None, timezone: str | None = None, birthday: date | None = None,
    phone: str | None = None, accepts_email: bool | None = None, accepts_sms: bool | None = None,
    accepts_whatsapp: bool | None = None, referral_code: str | None = None, device_id: str | None = None,
    today: date | None = None,
) -> Profile:
    if birthday is not None and (birthday > (today or date.today()) or birthday.year < 1900):
        raise BadUserInput("birthday must be a past date", field="birthday")
    return Profile(
        id=external_id(id, "id"),
        email=normalise_email(email),
        first_name=_text(first_name, "firstName"),
        last_name=_text(last_name, "lastName"),
        locale=normalise_locale(locale),
        timezone=normalise_timezone(timezone),
        birthday=birthday,
        phone=normalise_phone(phone),
        accepts_email=bool(accepts_email),
        accepts_sms=bool(accepts_sms),
        accepts_whatsapp=bool(accepts_whatsapp),
        referral_code=_text(referral_code, "referralCode", 64),
        device_id=_text(device_id, "deviceId", 200),
    )
