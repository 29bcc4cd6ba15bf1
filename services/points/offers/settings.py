"""The merchant's offer settings, kept in the points program (versioned with it): a default per
source, the tier perks that apply at checkout, the birthday gift, whether a cancelled order gives
its codes back, and the limits a requested offer must stay within. Pure: no I/O.

Defaults (docs/domain.md, "Offers"): the referred friend 20 % from 12, valid 30 days; at-risk free
shipping, 7 days; win-back day 120 10 % and day 135 20 %, 14 days each; birthday 10 %, 30 days
(Gold: 10 in store credit instead); punch card (its percentage is `punchCardPercent`) 60 days;
challenge codes off until the merchant turns them on; free shipping at checkout for Silver and Gold.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from shared.errors import BadUserInput
from shared.money import parse_amount

SOURCES = ("REWARD", "REFERRAL", "WINBACK", "AT_RISK", "BIRTHDAY", "PUNCH_CARD", "TIER_PERK", "CHALLENGE",
           "STORE_CREDIT", "MANUAL")
KINDS = ("FIXED_AMOUNT", "PERCENTAGE", "FREE_SHIPPING", "FREE_PRODUCT", "STORE_CREDIT")
CONFIGURABLE = ("REFERRAL", "WINBACK", "AT_RISK", "BIRTHDAY", "PUNCH_CARD", "CHALLENGE", "MANUAL")
MAX_VALID_DAYS = 730
MAX_STEPS = 5


@dataclass(frozen=True)
class SourceDefault:
    source: str
    kind: str
    value: Decimal | None  # an amount, or a percentage (10 = 10 %); PUNCH_CARD: the program's punchCardPercent
    min_order: Decimal | None
    valid_days: int
    step: int | None = None  # WINBACK: the step, in days without an order
    enabled: bool = True


@dataclass(frozen=True)
class OfferSettings:
    defaults: tuple[SourceDefault, ...]
    free_shipping_tiers: tuple[str, ...] = ("Silver", "Gold")
    birthday_gift_tiers: tuple[str, ...] = ("Gold",)
    birthday_gift: Decimal = Decimal(10)  # store credit, in the program currency
    restore_codes_on_cancel: bool = True
    max_percent: Decimal = Decimal(50)
    max_amount: Decimal = Decimal(100)  # in the program currency

    def default(self, source: str, step: int | None = None) -> SourceDefault | None:
        """The default for a source; for WINBACK the step asked for, else its first step."""
        found = [d for d in self.defaults if d.source == source]
        return next((d for d in found if d.step == step), found[0] if found else None)

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> OfferSettings:
        if not data:
            return DEFAULT_SETTINGS
        return cls(
            defaults=tuple(SourceDefault(
                d["source"], d["kind"], _dec(d.get("value")), _dec(d.get("min_order")), int(d["valid_days"]),
                d.get("step"), bool(d.get("enabled", True))) for d in data["defaults"]),
            free_shipping_tiers=tuple(data["free_shipping_tiers"]),
            birthday_gift_tiers=tuple(data["birthday_gift_tiers"]),
            birthday_gift=Decimal(data["birthday_gift"]),
            restore_codes_on_cancel=bool(data["restore_codes_on_cancel"]),
            max_percent=Decimal(data["max_percent"]), max_amount=Decimal(data["max_amount"]))


def _dec(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


DEFAULT_SETTINGS = OfferSettings(defaults=(
    SourceDefault("REFERRAL", "PERCENTAGE", Decimal(20), Decimal(12), 30),
    SourceDefault("AT_RISK", "FREE_SHIPPING", None, None, 7),
    SourceDefault("WINBACK", "PERCENTAGE", Decimal(10), None, 14, step=120),
    SourceDefault("WINBACK", "PERCENTAGE", Decimal(20), None, 14, step=135),
    SourceDefault("BIRTHDAY", "PERCENTAGE", Decimal(10), None, 30),
    SourceDefault("PUNCH_CARD", "PERCENTAGE", None, None, 60),
    SourceDefault("CHALLENGE", "FIXED_AMOUNT", Decimal(5), None, 30, enabled=False),
    SourceDefault("MANUAL", "FIXED_AMOUNT", Decimal(5), None, 30),
))


def amount_of(value: Decimal, field_name: str, currency: str) -> Decimal:
    """A Decimal from outside as an amount of `currency` (shared/money.py's checks), without first
    writing out an absurd exponent (1E+999999999 would be a billion digits)."""
    if not value.is_finite() or value.adjusted() > 12:
        raise BadUserInput(f"{field_name} is too large", field=field_name)
    return parse_amount(format(value, "f"), field_name, currency)


def checked_value(kind: str, value: Decimal | None, currency: str, field_name: str) -> Decimal | None:
    """A value that fits its kind: a percentage in (0, 100], a positive amount in the currency's minor
    unit, none for free shipping, an optional price cap for a free product."""
    if kind not in KINDS:
        raise BadUserInput(f"kind must be one of {', '.join(KINDS)}", field=field_name)
    if kind == "FREE_SHIPPING":
        if value is not None:
            raise BadUserInput("a FREE_SHIPPING offer takes no value", field=field_name)
        return None
    if value is None:
        if kind == "FREE_PRODUCT":
            return None
        raise BadUserInput(f"a {kind} offer needs a value", field=field_name)
    if kind == "PERCENTAGE":
        amount = amount_of(value, field_name, "EUR")  # two decimals, like 12.5 %
        if not 0 < amount <= 100:
            raise BadUserInput("a percentage is more than 0 and at most 100", field=field_name)
        return amount
    amount = amount_of(value, field_name, currency)
    if amount <= 0 and kind != "FREE_PRODUCT":
        raise BadUserInput(f"{field_name} must be positive", field=field_name)
    return amount


@dataclass(frozen=True)
class DefaultChange:
    source: str
    step: int | None = None
    kind: str | None = None
    value: str | None = None
    min_order: str | None = None
    valid_days: int | None = None
    enabled: bool | None = None


@dataclass(frozen=True)
class SettingsChange:
    """A partial change, as the admin sends it: None keeps the current value."""
    defaults: list[DefaultChange] = field(default_factory=list)
    free_shipping_tiers: list[str] | None = None
    birthday_gift_tiers: list[str] | None = None
    birthday_gift: str | None = None
    restore_codes_on_cancel: bool | None = None
    max_percent: str | None = None
    max_amount: str | None = None


def _changed_default(current: SourceDefault | None, c: DefaultChange, currency: str) -> SourceDefault:
    if c.source not in CONFIGURABLE:
        raise BadUserInput(f"offers of source {c.source} take no default", field="offers.defaults")
    if (c.step is not None) != (c.source == "WINBACK"):
        raise BadUserInput("a step is given for WINBACK defaults, and only for them", field="offers.defaults")
    if c.step is not None and not 1 <= c.step <= 3650:
        raise BadUserInput("a win-back step is 1–3650 days", field="offers.defaults")
    punch_card_terms = c.value is not None or c.kind not in (None, "PERCENTAGE") or c.enabled is not None
    if c.source == "PUNCH_CARD" and punch_card_terms:
        raise BadUserInput("the punch card is set by punchCardPercent and punchCardOrders (0: off)",
                           field="offers.defaults")
    base = current or SourceDefault(c.source, c.kind or "PERCENTAGE", None, None, 30, c.step)
    kind = c.kind or base.kind
    value = parse_decimal(c.value, "offers.defaults") if c.value is not None else None
    if c.value is None and kind == base.kind:
        value = base.value
    valid_days = base.valid_days if c.valid_days is None else c.valid_days
    if not 1 <= valid_days <= MAX_VALID_DAYS:
        raise BadUserInput(f"validDays must be between 1 and {MAX_VALID_DAYS}", field="offers.defaults")
    return replace(
        base, kind=kind,
        value=base.value if c.source == "PUNCH_CARD" else checked_value(kind, value, currency, "offers.defaults"),
        min_order=(base.min_order if c.min_order is None else
                   parse_amount(c.min_order, "offers.defaults.minOrder", currency) or None),
        valid_days=valid_days, enabled=base.enabled if c.enabled is None else c.enabled)


def parse_decimal(text: str, field_name: str) -> Decimal:
    """A decimal string as a number (its sign and precision are the caller's to check)."""
    try:
        number = Decimal(text.strip()) if len(text) <= 32 else None
    except ArithmeticError:
        number = None
    if number is None or not number.is_finite():
        raise BadUserInput(f"{field_name} must be a decimal string like \"10\"", field=field_name)
    return number


def _tier_names(names: list[str], tiers: tuple[str, ...], field_name: str) -> tuple[str, ...]:
    unknown = [n for n in names if n not in tiers]
    if unknown:
        raise BadUserInput(f"unknown tier {unknown[0]}", field=field_name)
    return tuple(dict.fromkeys(names))


def apply_change(current: OfferSettings, change: SettingsChange, currency: str,
                 tiers: tuple[str, ...]) -> OfferSettings:
    """The next settings, validated against the program's currency and tier names."""
    defaults = list(current.defaults)
    for c in change.defaults:
        at = next((i for i, d in enumerate(defaults) if d.source == c.source and d.step == c.step), None)
        made = _changed_default(defaults[at] if at is not None else None, c, currency)
        if at is None:
            defaults.append(made)
        else:
            defaults[at] = made
    if sum(d.source == "WINBACK" for d in defaults) > MAX_STEPS:
        raise BadUserInput(f"at most {MAX_STEPS} win-back steps", field="offers.defaults")

    def limit(text: str | None, now: Decimal, name: str, high: Decimal) -> Decimal:
        amount = now if text is None else parse_amount(text, name, currency)
        if not 0 < amount <= high:
            raise BadUserInput(f"{name} must be more than 0 and at most {high}", field=name)
        return amount
    return OfferSettings(
        defaults=tuple(sorted(defaults, key=lambda d: (SOURCES.index(d.source), d.step or 0))),
        free_shipping_tiers=(current.free_shipping_tiers if change.free_shipping_tiers is None else
                             _tier_names(change.free_shipping_tiers, tiers, "offers.freeShippingTiers")),
        birthday_gift_tiers=(current.birthday_gift_tiers if change.birthday_gift_tiers is None else
                             _tier_names(change.birthday_gift_tiers, tiers, "offers.birthdayGiftTiers")),
        birthday_gift=limit(change.birthday_gift, current.birthday_gift, "offers.birthdayGift", Decimal(100_000)),
        restore_codes_on_cancel=(current.restore_codes_on_cancel if change.restore_codes_on_cancel is None
                                 else change.restore_codes_on_cancel),
        max_percent=limit(change.max_percent, current.max_percent, "offers.maxPercent", Decimal(100)),
        max_amount=limit(change.max_amount, current.max_amount, "offers.maxAmount", Decimal(100_000)),
    )
