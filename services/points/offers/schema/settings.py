"""GraphQL of the offer settings in the program (Program.offers, ProgramInput.offers)."""

from __future__ import annotations

import strawberry

from services.points.offers import settings as rules
from services.points.offers.schema import OfferKind, OfferSource, shown_value
from shared.graphql import Money


@strawberry.type(description="What an offer of a source is when its request leaves the terms out.")
class OfferDefault:
    source: OfferSource
    step: int | None = strawberry.field(description="WINBACK: the step, in days without an order.")
    kind: OfferKind
    value: str | None = strawberry.field(description="PUNCH_CARD: the program's punchCardPercent.")
    min_order: Money | None
    valid_days: int
    enabled: bool


@strawberry.type
class OfferSettings:
    defaults: list[OfferDefault]
    free_shipping_tiers: list[str] = strawberry.field(description="Tiers whose checkout ships for free.")
    birthday_gift_tiers: list[str] = strawberry.field(
        description="Tiers whose birthday offer is the store-credit gift instead of the BIRTHDAY default.")
    birthday_gift: Money
    restore_codes_on_cancel: bool = strawberry.field(
        description="A cancelled or fully refunded order gives its codes back while they have not expired.")
    max_percent: str = strawberry.field(description="The highest percentage a requested offer may have.")
    max_amount: Money = strawberry.field(description="The highest amount a requested offer may have.")

    @classmethod
    def of(cls, s: rules.OfferSettings, currency: str, punch_card_percent: str) -> OfferSettings:
        return cls(
            defaults=[OfferDefault(
                source=OfferSource(d.source), step=d.step, kind=OfferKind(d.kind),
                value=punch_card_percent if d.source == "PUNCH_CARD" else shown_value(d.kind, d.value, currency),
                min_order=Money.of(d.min_order, currency) if d.min_order is not None else None,
                valid_days=d.valid_days, enabled=d.enabled) for d in s.defaults],
            free_shipping_tiers=list(s.free_shipping_tiers), birthday_gift_tiers=list(s.birthday_gift_tiers),
            birthday_gift=Money.of(s.birthday_gift, currency), restore_codes_on_cancel=s.restore_codes_on_cancel,
            max_percent=format(s.max_percent.normalize(), "f"), max_amount=Money.of(s.max_amount, currency))


@strawberry.input(description="A change to one source's default; fields left out keep their value.")
class OfferDefaultInput:
    source: OfferSource
    step: int | None = strawberry.field(default=None, description="WINBACK only; a new step adds one.")
    kind: OfferKind | None = None
    value: str | None = None
    min_order: str | None = None
    valid_days: int | None = None
    enabled: bool | None = None


@strawberry.input(description="A change to the offer settings; fields left out keep their value.")
class OfferSettingsInput:
    defaults: list[OfferDefaultInput] | None = None
    free_shipping_tiers: list[str] | None = None
    birthday_gift_tiers: list[str] | None = None
    birthday_gift: str | None = None
    restore_codes_on_cancel: bool | None = None
    max_percent: str | None = None
    max_amount: str | None = None


def change(i: OfferSettingsInput) -> rules.SettingsChange:
    return rules.SettingsChange(
        defaults=[rules.DefaultChange(source=d.source.value, step=d.step, kind=d.kind.value if d.kind else None,
                                      value=d.value, min_order=d.min_order, valid_days=d.valid_days,
                                      enabled=d.enabled) for d in i.defaults or []],
        free_shipping_tiers=i.free_shipping_tiers, birthday_gift_tiers=i.birthday_gift_tiers,
        birthday_gift=i.birthday_gift, restore_codes_on_cancel=i.restore_codes_on_cancel,
        max_percent=i.max_percent, max_amount=i.max_amount)
