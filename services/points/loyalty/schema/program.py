"""GraphQL of the program: its tiers and settings, what it costs, and the admin's changes."""

from __future__ import annotations

from datetime import date, datetime

import strawberry
from strawberry.types import Info

from services.points.loyalty import configuration
from services.points.loyalty import program as rules
from services.points.offers.schema import settings as offer_settings
from shared.graphql import Money, ctx


@strawberry.type
class Tier:
    id: strawberry.ID = strawberry.field(description="Stable: the tier's name, unique in the shop's program "
                                                     "(regardless of case), so client caches merge its reads.")
    name: str
    threshold: Money = strawberry.field(description="Qualifying spend over the tier period (Program.tierPeriodDays, "
                                                    "default a rolling 365 days).")
    multiplier: str = strawberry.field(description="Earn multiplier, a decimal string like \"1.25\".")
    perks: list[str]

    @classmethod
    def of(cls, t: rules.Tier, currency: str) -> Tier:
        return cls(id=strawberry.ID(t.name), name=t.name, threshold=Money.of(t.threshold, currency),
                   multiplier=str(t.multiplier), perks=list(t.perks))


@strawberry.type
class ActionRewards:
    signup: int
    review: int
    media_review: int
    referral: int
    birthday: int
    social_share: int


@strawberry.type(description="1 unit of `currency` = `rate` × the program's base currency, as set on `date`.")
class ExchangeRate:
    currency: str
    rate: str
    date: date


@strawberry.type(description="Paid orders that earned nothing for want of an exchange rate.")
class NotEligibleOrders:
    currency: str
    orders: int
    last_paid_at: datetime


@strawberry.type
class Program:
    version: int = strawberry.field(description="Ledger entries keep the version that produced them.")
    currency: str
    earn_rate: str = strawberry.field(description="Points per whole currency unit of net spend.")
    point_value: Money
    tiers: list[Tier]
    expiry_months: int
    pending_days: int
    action_rewards: ActionRewards
    review_credit: Money = strawberry.field(description="Store credit for a text review; 0 pays points instead.")
    media_review_credit: Money
    punch_card_orders: int
    punch_card_percent: str
    cashback_ceiling: str = strawberry.field(description="Highest allowed effective cashback, 0.05 = 5 %.")
    effective_cashback: str = strawberry.field(description="Earn rate × highest multiplier × point value.")
    offers: offer_settings.OfferSettings = strawberry.field(
        description="Offers: the default per source, the tier perks at checkout, limits.")
    base_currency: str = strawberry.field(description="The program's currency (the same as `currency`): orders "
                                                      "in others earn at exchangeRates.")
    exchange_rates: list[ExchangeRate]
    tier_period_days: int = strawberry.field(
        description="The qualifying period: tiers follow the spend of this many days, and a tier reached (or "
                    "renewed) is held for as long before it may go down.")
    near_tier_percent: str = strawberry.field(
        description="tier.near goes out when the gap to the next tier is within this percentage of its threshold "
                    "(\"15\" = 15 %; \"0\" switches the nudge off).")
    expiry_warning_days: int = strawberry.field(description="points.expiring goes out this many days before "
                                                            "points lapse.")
    social_shares_per_day: int = strawberry.field(
        description="Social-share rewards per customer and UTC day (recordSocialShare); 0 pays none.")
    within_band: bool = strawberry.field(
        description="effectiveCashback lies in the sustainable band of 3–5 % of spend (docs/domain.md).")

    @classmethod
    def of(cls, p: rules.Program) -> Program:
        a = p.action_points
        return cls(
            version=p.version, currency=p.currency, earn_rate=str(p.earn_rate),
            point_value=Money(amount=str(p.point_value), currency=p.currency),
            tiers=[Tier.of(t, p.currency) for t in p.tiers], expiry_months=p.expiry_months,
            pending_days=p.pending_days,
            action_rewards=ActionRewards(**{k: a.get(k, 0) for k in rules.ACTIONS}),
            review_credit=Money.of(p.review_credit, p.currency),
            media_review_credit=Money.of(p.media_review_credit, p.currency),
            punch_card_orders=p.punch_card_orders, punch_card_percent=str(p.punch_card_percent),
            cashback_ceiling=str(p.cashback_ceiling), effective_cashback=str(p.effective_cashback),
            offers=offer_settings.OfferSettings.of(p.offers, p.currency, str(p.punch_card_percent)),
            base_currency=p.currency, exchange_rates=[ExchangeRate(currency=c, rate=str(r.rate), date=r.date)
                                                      for c, r in sorted(p.exchange_rates.items())],
            tier_period_days=p.tier_period_days, near_tier_percent=str(p.near_tier_percent),
            expiry_warning_days=p.expiry_warning_days, social_shares_per_day=p.social_shares_per_day,
            within_band=rules.BAND[0] <= p.effective_cashback <= rules.BAND[1],
        )


async def tiers(info: Info) -> list[Tier]:
    c = ctx(info)
    prog = await configuration.in_force(c.pool, c.shop)  # once per query (shared.graphql.QueryMemo)
    return [Tier.of(t, prog.currency) for t in prog.tiers]


async def program_in_effect(info: Info) -> Program:
    c = ctx(info)
    c.principal.require_admin()
    return Program.of(await configuration.in_force(c.pool, c.shop))


async def program_liability(info: Info) -> Money:
    c = ctx(info)
    c.principal.require_admin()
    amount, currency = await configuration.liability(c.pool, c.shop)
    return Money.of(amount, currency)


@strawberry.input
class TierInput:
    name: str
    threshold: str
    multiplier: str
    perks: list[str] = strawberry.field(default_factory=list)


@strawberry.input
class ActionRewardsInput:
    signup: int | None = None
    review: int | None = None
    media_review: int | None = None
    referral: int | None = None
    birthday: int | None = None
    social_share: int | None = None


@strawberry.input(description="1 unit of `currency` = `rate` × the base currency.")
class ExchangeRateInput:
    currency: str
    rate: str = strawberry.field(description="A decimal string, e.g. \"0.61\".")
    date: date | None = strawberry.field(default=None, description="The day the rate is from; today when left out.")


@strawberry.input(description="A change to the program; fields left out keep their value.")
class ProgramInput:
    currency: str | None = None
    earn_rate: str | None = None
    point_value: str | None = None
    tiers: list[TierInput] | None = None
    expiry_months: int | None = None
    pending_days: int | None = None
    action_rewards: ActionRewardsInput | None = None
    review_credit: str | None = None
    media_review_credit: str | None = None
    punch_card_orders: int | None = None
    punch_card_percent: str | None = None
    cashback_ceiling: str | None = strawberry.field(default=None, description="0.05 = 5 % (the default).")
    offers: offer_settings.OfferSettingsInput | None = None
    base_currency: str | None = strawberry.field(default=None, description="The program's currency (= currency).")
    exchange_rates: list[ExchangeRateInput] | None = strawberry.field(
        default=None, description="Replaces every rate ([] removes them); orders in a currency without one earn "
                                  "nothing (Order.pointsStatus NOT_ELIGIBLE).")
    tier_period_days: int | None = strawberry.field(default=None, description="30–1095 days (default 365).")
    near_tier_percent: str | None = strawberry.field(default=None, description="0–100 (default \"15\").")
    expiry_warning_days: int | None = strawberry.field(
        default=None, description="1–365 days (default 30), shorter than the expiry period.")
    social_shares_per_day: int | None = strawberry.field(default=None, description="0–100 (default 3).")
    force: bool = strawberry.field(default=False, description="Accept a cashback above the ceiling.")


def change_of(input: ProgramInput) -> rules.ProgramChange:
    """The admin's input as the program's rules take it (configureProgram, simulateProgram)."""
    return rules.ProgramChange(
        currency=input.currency, earn_rate=input.earn_rate, point_value=input.point_value,
        tiers=None if input.tiers is None else [
            rules.TierChange(t.name, t.threshold, t.multiplier, list(t.perks)) for t in input.tiers],
        expiry_months=input.expiry_months, pending_days=input.pending_days,
        action_points=None if input.action_rewards is None else {
            k: getattr(input.action_rewards, k) for k in rules.ACTIONS},
        review_credit=input.review_credit, media_review_credit=input.media_review_credit,
        punch_card_orders=input.punch_card_orders, punch_card_percent=input.punch_card_percent,
        cashback_ceiling=input.cashback_ceiling, base_currency=input.base_currency,
        exchange_rates=None if input.exchange_rates is None else [
            rules.RateChange(r.currency, r.rate, r.date) for r in input.exchange_rates],
        offers=None if input.offers is None else offer_settings.change(input.offers),
        tier_period_days=input.tier_period_days, near_tier_percent=input.near_tier_percent,
        expiry_warning_days=input.expiry_warning_days, social_shares_per_day=input.social_shares_per_day,
        force=input.force,
    )


async def configure_program(info: Info, input: ProgramInput) -> Program:
    c = ctx(info)
    c.principal.require_admin()
    return Program.of(await configuration.configure(c.pool, c.shop, change_of(input), actor="admin"))


async def not_eligible_orders(info: Info) -> list[NotEligibleOrders]:
    c = ctx(info)
    c.principal.require_admin()
    return [NotEligibleOrders(currency=r["currency"], orders=r["orders"], last_paid_at=r["last_paid_at"])
            for r in await configuration.not_eligible(c.pool, c.shop)]
