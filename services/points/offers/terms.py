"""What an offer will be, from what was asked and the program's defaults. Pure: no I/O.

An ask names a natural key and a source; whatever it leaves out comes from the source's default in
the program (offers/settings.py). An ask the rules cannot honour is a `Refusal` with a reason:
UNKNOWN_SOURCE, DISABLED (the merchant turned the source off), BAD_TERMS (a value, date, currency or
code that cannot be), OVER_LIMIT (above the program's maxPercent / maxAmount), CODE_TAKEN (a carried
code another offer has). Offers made in-process from what the customer paid for (a reward, store
credit, the punch card) are `trusted`: their value is the reward's, not held to the limits.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from services.points.offers import codes
from services.points.offers.settings import MAX_VALID_DAYS, SOURCES, OfferSettings, amount_of, checked_value
from shared.errors import BadUserInput
from shared.ids import external_id
from shared.money import currency_code

MAX_USES = 1_000_000


class Refusal(BadUserInput):
    """An ask that cannot be honoured: BAD_USER_INPUT to an admin, offer.refused to a requester."""

    def __init__(self, reason: str, message: str, field: str = "input") -> None:
        super().__init__(f"{reason}: {message}", field=field, reason=reason)
        self.reason = reason


@dataclass(frozen=True)
class Ask:
    key: str
    source: str
    customer_id: str | None = None
    kind: str | None = None
    value: Decimal | None = None
    currency: str | None = None
    min_order: Decimal | None = None
    starts_at: datetime | None = None
    expires_at: datetime | None = None
    valid_days: int | None = None
    usage_limit: int | None = None
    code: str | None = None
    step: int | None = None  # WINBACK: which step (else the key's last part when it is a number)
    reward_id: str | None = None
    redemption_id: str | None = None


@dataclass(frozen=True)
class NewOffer:
    id: str
    key: str
    code: str
    code_key: str
    source: str
    kind: str
    value: Decimal | None
    currency: str
    min_order: Decimal | None
    starts_at: datetime
    expires_at: datetime
    customer_id: str | None
    usage_limit: int
    reward_id: str | None
    redemption_id: str | None


def offer_id() -> str:
    return f"of-{secrets.token_hex(8)}"


def step_of(ask: Ask) -> int | None:
    if ask.step is not None:
        return ask.step
    last = ask.key.rsplit(":", 1)[-1]
    return int(last) if last.isdigit() and len(last) <= 4 else None


def _bad(exc: BadUserInput) -> Refusal:
    return Refusal("BAD_TERMS", exc.message, str(exc.extensions.get("field", "input")))


def terms(ask: Ask, settings: OfferSettings, *, currency: str, tier: str | None, punch_card_percent: Decimal,
          now: datetime, trusted: bool = False) -> NewOffer:
    """The offer `ask` makes under the program's settings, or a Refusal."""
    if ask.source not in SOURCES or ask.source == "TIER_PERK":
        raise Refusal("UNKNOWN_SOURCE", f"no offers of source {ask.source}", "source")
    default = settings.default(ask.source, step_of(ask))
    if default is not None and not default.enabled and not trusted:
        raise Refusal("DISABLED", f"{ask.source} offers are switched off in the program", "source")
    kind, value = ask.kind, ask.value
    if ask.source == "BIRTHDAY" and kind is None and tier in settings.birthday_gift_tiers:
        kind, value = "STORE_CREDIT", settings.birthday_gift  # the tier's birthday gift instead
    if kind is None:
        if default is None:
            raise Refusal("BAD_TERMS", "kind is required", "kind")
        kind = default.kind
    if ask.source == "PUNCH_CARD" and value is None:
        value = punch_card_percent
    elif value is None and default is not None and default.kind == kind:
        value = default.value
    try:
        money = currency_code(ask.currency or currency)
        value = checked_value(kind, value, money, "value")
        min_order = ask.min_order if ask.min_order is not None else default.min_order if default else None
        min_order = amount_of(min_order, "minOrder", money) if min_order is not None else None
        customer_id = external_id(ask.customer_id, "customerId") if ask.customer_id is not None else None
        code = ask.code.strip().upper() if ask.code is not None else codes.new_code()
        code_key = codes.key(code)
    except BadUserInput as exc:
        raise _bad(exc) from exc
    if not trusted and value is not None:
        if kind == "PERCENTAGE" and value > settings.max_percent:
            raise Refusal("OVER_LIMIT", f"{value} % is over the program's {settings.max_percent} %", "value")
        if kind != "PERCENTAGE" and money == currency and value > settings.max_amount:
            raise Refusal("OVER_LIMIT", f"{value} is over the program's {settings.max_amount}", "value")
    if any(at is not None and at.tzinfo is None for at in (ask.starts_at, ask.expires_at)):
        raise Refusal("BAD_TERMS", "startsAt and expiresAt need a time zone offset", "startsAt")
    starts = ask.starts_at or now
    days = ask.valid_days if ask.valid_days is not None else default.valid_days if default else 30
    if not trusted and not 1 <= days <= MAX_VALID_DAYS:
        raise Refusal("BAD_TERMS", f"validDays must be between 1 and {MAX_VALID_DAYS}", "validDays")
    expires = ask.expires_at or starts + timedelta(days=days)
    if expires <= max(starts, now) or (not trusted and expires > now + timedelta(days=MAX_VALID_DAYS)):
        raise Refusal("BAD_TERMS", "the offer must end after it starts, in the future and within two years",
                      "expiresAt")
    uses = ask.usage_limit if ask.usage_limit is not None else 1
    if not 1 <= uses <= MAX_USES:
        raise Refusal("BAD_TERMS", f"usageLimit must be between 1 and {MAX_USES}", "usageLimit")
    return NewOffer(id=offer_id(), key=ask.key, code=code, code_key=code_key, source=ask.source, kind=kind,
                    value=value, currency=money, min_order=min_order, starts_at=starts, expires_at=expires,
                    customer_id=customer_id, usage_limit=uses, reward_id=ask.reward_id,
                    redemption_id=ask.redemption_id)
