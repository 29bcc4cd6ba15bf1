"""The points program a merchant configures, in the domain's words. Pure: no I/O.

A program is stored as a version; a change makes a new version (the ledger keeps the version that
produced each entry). It must stay margin-safe: earn rate × highest tier multiplier × point value is
the effective cashback, refused above the ceiling (default 5 %) unless the merchant forces it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from services.points.offers.settings import DEFAULT_SETTINGS, OfferSettings, SettingsChange
from services.points.offers.settings import apply_change as change_offers
from shared.errors import BadUserInput
from shared.money import currency_code, parse_amount

DEFAULT_CEILING = Decimal("0.05")
BAND = (Decimal("0.03"), Decimal("0.05"))  # the sustainable band of effective cashback (docs/domain.md)
MAX_TIERS = 10
MAX_PERKS = 20
NAME_MAX = 64
PERK_MAX = 200
MAX_ACTION_POINTS = 1_000_000
ACTIONS = ("signup", "review", "media_review", "referral", "birthday", "social_share")
MAX_RATES = 50
MAX_RATE = Decimal(1_000_000)


@dataclass(frozen=True)
class ExchangeRate:
    """1 unit of the currency = `rate` × the program (base) currency, as the merchant set it on `date`."""
    rate: Decimal
    date: date


@dataclass(frozen=True)
class Tier:
    name: str
    threshold: Decimal  # rolling-12-month qualifying spend, in the program currency
    multiplier: Decimal
    perks: tuple[str, ...] = ()


@dataclass(frozen=True)
class Program:
    version: int
    currency: str
    earn_rate: Decimal  # points per whole currency unit of net spend
    point_value: Decimal  # money value of one point
    tiers: tuple[Tier, ...]  # ascending thresholds, the first at 0
    expiry_months: int
    pending_days: int
    action_points: dict[str, int] = field(default_factory=dict)
    review_credit: Decimal = Decimal(0)  # store credit for a text review (0: points instead)
    media_review_credit: Decimal = Decimal(0)
    punch_card_orders: int = 3  # the nth paid order unlocks the punch-card reward
    punch_card_percent: Decimal = Decimal(10)
    cashback_ceiling: Decimal = DEFAULT_CEILING
    offers: OfferSettings = DEFAULT_SETTINGS  # offers/settings.py: defaults per source, perks, limits
    exchange_rates: dict[str, ExchangeRate] = field(default_factory=dict)  # currency → rate to `currency`
    tier_period_days: int = 365  # the qualifying period: rolling spend window and the time a tier is held
    near_tier_percent: Decimal = Decimal(15)  # tier.near within this share of the next threshold (0: off)
    expiry_warning_days: int = 30  # points.expiring this many days before the lapse
    social_shares_per_day: int = 3  # social-share rewards per customer and UTC day (recordSocialShare)

    @property
    def tier_period(self) -> timedelta:
        return timedelta(days=self.tier_period_days)

    @property
    def near_tier_share(self) -> Decimal:
        return self.near_tier_percent / 100

    @property
    def expiry_warning(self) -> timedelta:
        return timedelta(days=self.expiry_warning_days)

    @property
    def effective_cashback(self) -> Decimal:
        top = max(t.multiplier for t in self.tiers)
        return self.earn_rate * top * self.point_value

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("version")
        return {k: _strs(v) for k, v in data.items()}

    def rate_for(self, currency: str) -> ExchangeRate | None:
        """How an amount in `currency` becomes one in the program currency: 1 for the program's own,
        the merchant's rate for another, None when there is none (the order earns nothing)."""
        if currency == self.currency:
            return ExchangeRate(Decimal(1), date.min)
        return self.exchange_rates.get(currency)

    @classmethod
    def from_json(cls, version: int, data: dict[str, Any]) -> Program:
        return cls(
            version=version, currency=data["currency"], earn_rate=Decimal(data["earn_rate"]),
            point_value=Decimal(data["point_value"]),
            tiers=tuple(Tier(t["name"], Decimal(t["threshold"]), Decimal(t["multiplier"]), tuple(t["perks"]))
                        for t in data["tiers"]),
            expiry_months=int(data["expiry_months"]), pending_days=int(data["pending_days"]),
            action_points={k: int(v) for k, v in data["action_points"].items()},
            review_credit=Decimal(data.get("review_credit", "0")),
            media_review_credit=Decimal(data.get("media_review_credit", "0")),
            punch_card_orders=int(data.get("punch_card_orders", 3)),
            punch_card_percent=Decimal(data.get("punch_card_percent", "10")),
            cashback_ceiling=Decimal(data.get("cashback_ceiling", str(DEFAULT_CEILING))),
            offers=OfferSettings.from_json(data.get("offers")),
            exchange_rates={c: ExchangeRate(Decimal(r["rate"]), date.fromisoformat(r["date"]))
                            for c, r in data.get("exchange_rates", {}).items()},
            tier_period_days=int(data.get("tier_period_days", 365)),
            near_tier_percent=Decimal(data.get("near_tier_percent", "15")),
            expiry_warning_days=int(data.get("expiry_warning_days", 30)),
            social_shares_per_day=int(data.get("social_shares_per_day", 3)),
        )


def _strs(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _strs(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_strs(v) for v in value]
    return value


# 1 point per unit of net spend, 100 points worth 2.50: 2.5 % back at Bronze, 3.125 % at Silver and an
# effective cashback (at the top tier) of 3.75 %, inside the sustainable band of 3–5 % (BAND below).
DEFAULT = Program(
    version=1, currency="EUR", earn_rate=Decimal(1), point_value=Decimal("0.025"),
    tiers=(
        Tier("Bronze", Decimal(0), Decimal(1), ()),
        Tier("Silver", Decimal(500), Decimal("1.25"), ("early access 24 h", "free shipping")),
        Tier("Gold", Decimal(1500), Decimal("1.5"),
             ("early access 48 h", "free shipping", "priority support", "birthday gift")),
    ),
    expiry_months=12, pending_days=14,
    # No signup bonus until the merchant sets one: a bonus on every registration is a cost to opt into.
    action_points={"signup": 0, "review": 50, "media_review": 100, "referral": 200, "birthday": 100,
                   "social_share": 20},
)


@dataclass(frozen=True)
class TierChange:
    name: str
    threshold: str
    multiplier: str
    perks: list[str]


@dataclass(frozen=True)
class RateChange:
    currency: str
    rate: str
    date: date | None = None  # the day the merchant's rate is from; today when left out


@dataclass(frozen=True)
class ProgramChange:
    """A partial change, as the admin sends it: None keeps the current value."""
    currency: str | None = None
    earn_rate: str | None = None
    point_value: str | None = None
    tiers: list[TierChange] | None = None
    expiry_months: int | None = None
    pending_days: int | None = None
    action_points: dict[str, int | None] | None = None
    review_credit: str | None = None
    media_review_credit: str | None = None
    punch_card_orders: int | None = None
    punch_card_percent: str | None = None
    cashback_ceiling: str | None = None
    offers: SettingsChange | None = None
    base_currency: str | None = None  # CONTRACT.md's name for `currency`; both given must agree
    exchange_rates: list[RateChange] | None = None  # replaces the whole set; [] removes every rate
    tier_period_days: int | None = None
    near_tier_percent: str | None = None
    expiry_warning_days: int | None = None
    social_shares_per_day: int | None = None
    force: bool = False


def _decimal(value: str, field: str, *, low: Decimal, high: Decimal) -> Decimal:
    if len(value) > 32:
        raise BadUserInput(f"{field} is too long", field=field)
    try:
        number = Decimal(value.strip())
    except InvalidOperation as exc:
        raise BadUserInput(f"{field} must be a decimal string like \"1.5\"", field=field) from exc
    if not number.is_finite() or not low <= number <= high:
        raise BadUserInput(f"{field} must be between {low} and {high}", field=field)
    return number


def _int(value: int, field: str, low: int, high: int) -> int:
    if not low <= value <= high:
        raise BadUserInput(f"{field} must be between {low} and {high}", field=field)
    return value


def _tiers(changes: list[TierChange], currency: str) -> tuple[Tier, ...]:
    if not changes or len(changes) > MAX_TIERS:
        raise BadUserInput(f"a program has 1–{MAX_TIERS} tiers", field="tiers")
    tiers = []
    for i, t in enumerate(changes):
        name = t.name.strip()
        if not name or len(name) > NAME_MAX:
            raise BadUserInput(f"tiers[{i}].name must be 1–{NAME_MAX} characters", field="tiers")
        if len(t.perks) > MAX_PERKS or any(not p.strip() or len(p) > PERK_MAX for p in t.perks):
            raise BadUserInput(f"tiers[{i}].perks: at most {MAX_PERKS} of 1–{PERK_MAX} characters", field="tiers")
        tiers.append(Tier(
            name=name, threshold=parse_amount(t.threshold, f"tiers[{i}].threshold", currency),
            multiplier=_decimal(t.multiplier, f"tiers[{i}].multiplier", low=Decimal(1), high=Decimal(10)),
            perks=tuple(p.strip() for p in t.perks),
        ))
    if tiers[0].threshold != 0:
        raise BadUserInput("the first tier starts at 0", field="tiers")
    if any(a.threshold >= b.threshold for a, b in zip(tiers, tiers[1:], strict=False)):
        raise BadUserInput("tier thresholds must rise strictly", field="tiers")
    if len({t.name.lower() for t in tiers}) != len(tiers):
        raise BadUserInput("tier names must be unique", field="tiers")
    return tuple(tiers)


def _rates(changes: list[RateChange], base: str, today: date) -> dict[str, ExchangeRate]:
    if len(changes) > MAX_RATES:
        raise BadUserInput(f"at most {MAX_RATES} exchange rates", field="exchangeRates")
    rates: dict[str, ExchangeRate] = {}
    for i, r in enumerate(changes):
        code = currency_code(r.currency)
        if code == base:
            raise BadUserInput(f"exchangeRates[{i}]: {code} is the base currency", field="exchangeRates")
        if code in rates:
            raise BadUserInput(f"exchangeRates[{i}]: {code} is given twice", field="exchangeRates")
        rate = _decimal(r.rate, f"exchangeRates[{i}].rate", low=Decimal(0), high=MAX_RATE)
        if rate == 0:
            raise BadUserInput(f"exchangeRates[{i}].rate must be above 0", field="exchangeRates")
        if r.date is not None and r.date > today:
            raise BadUserInput(f"exchangeRates[{i}].date is in the future", field="exchangeRates")
        rates[code] = ExchangeRate(rate, r.date or today)
    return rates


def apply_change(current: Program, change: ProgramChange, today: date | None = None) -> Program:
    """The next version of the program, validated. Raises BadUserInput, the margin check included."""
    if change.currency is not None and change.base_currency is not None and change.currency != change.base_currency:
        raise BadUserInput("currency and baseCurrency name the same thing and must agree", field="baseCurrency")
    chosen = change.base_currency if change.base_currency is not None else change.currency
    currency = currency_code(chosen) if chosen is not None else current.currency
    if change.exchange_rates is not None:
        rates = _rates(change.exchange_rates, currency, today or date.today())
    else:  # a rate for what is now the base currency has no meaning any more
        rates = {c: r for c, r in current.exchange_rates.items() if c != currency}
    actions = dict(current.action_points)
    for key, points in (change.action_points or {}).items():
        if key not in ACTIONS:
            raise BadUserInput(f"unknown action {key}", field="actionRewards")
        if points is not None:
            actions[key] = _int(points, f"actionRewards.{key}", 0, MAX_ACTION_POINTS)
    nxt = replace(
        current,
        version=current.version + 1,
        currency=currency,
        earn_rate=(current.earn_rate if change.earn_rate is None else
                   _decimal(change.earn_rate, "earnRate", low=Decimal(0), high=Decimal(1000))),
        point_value=(current.point_value if change.point_value is None else
                     _decimal(change.point_value, "pointValue", low=Decimal("0.0001"), high=Decimal(1000))),
        tiers=current.tiers if change.tiers is None else _tiers(change.tiers, currency),
        expiry_months=(current.expiry_months if change.expiry_months is None else
                       _int(change.expiry_months, "expiryMonths", 0, 120)),
        pending_days=(current.pending_days if change.pending_days is None else
                      _int(change.pending_days, "pendingDays", 0, 365)),
        action_points=actions,
        review_credit=(current.review_credit if change.review_credit is None else
                       parse_amount(change.review_credit, "reviewCredit", currency)),
        media_review_credit=(current.media_review_credit if change.media_review_credit is None else
                             parse_amount(change.media_review_credit, "mediaReviewCredit", currency)),
        punch_card_orders=(current.punch_card_orders if change.punch_card_orders is None else
                           _int(change.punch_card_orders, "punchCardOrders", 0, 1000)),
        punch_card_percent=(current.punch_card_percent if change.punch_card_percent is None else
                            _decimal(change.punch_card_percent, "punchCardPercent", low=Decimal(0),
                                     high=Decimal(100))),
        cashback_ceiling=(current.cashback_ceiling if change.cashback_ceiling is None else
                          _decimal(change.cashback_ceiling, "cashbackCeiling", low=Decimal(0), high=Decimal(1))),
        exchange_rates=rates,
        tier_period_days=(current.tier_period_days if change.tier_period_days is None else
                          _int(change.tier_period_days, "tierPeriodDays", 30, 1095)),
        near_tier_percent=(current.near_tier_percent if change.near_tier_percent is None else
                           _decimal(change.near_tier_percent, "nearTierPercent", low=Decimal(0), high=Decimal(100))),
        expiry_warning_days=(current.expiry_warning_days if change.expiry_warning_days is None else
                             _int(change.expiry_warning_days, "expiryWarningDays", 1, 365)),
        social_shares_per_day=(current.social_shares_per_day if change.social_shares_per_day is None else
                               _int(change.social_shares_per_day, "socialSharesPerDay", 0, 100)),
    )
    if nxt.expiry_months > 0 and nxt.expiry_warning_days >= nxt.expiry_months * 28:
        raise BadUserInput("expiryWarningDays must be shorter than the expiry period (expiryMonths × 28 days)",
                           field="expiryWarningDays")
    if change.offers is not None:
        nxt = replace(nxt, offers=change_offers(current.offers, change.offers, currency,
                                                tuple(t.name for t in nxt.tiers)))
    if nxt.effective_cashback > nxt.cashback_ceiling and not change.force:
        raise BadUserInput(
            f"effective cashback {nxt.effective_cashback * 100:.2f} % exceeds the ceiling of "
            f"{nxt.cashback_ceiling * 100:.2f} %; lower the earn rate, multipliers or point value, "
            "or set force: true", field="input", effectiveCashback=str(nxt.effective_cashback),
            ceiling=str(nxt.cashback_ceiling))
    return nxt
