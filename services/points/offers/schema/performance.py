"""GraphQL of offerPerformance (admin): per source, what the offers issued in a period brought."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry
from strawberry.types import Info

from services.points.offers import performance as rules
from services.points.offers.schema import OfferSource
from shared.graphql import Money, ctx


@strawberry.type(description="Rates and shares are percentages (85.0 = 85 %).")
class OfferPerformance:
    source: OfferSource
    issued: int = strawberry.field(description="Offers issued in the period.")
    redeemed: int = strawberry.field(description="Of those, the offers an order uses.")
    redemption_rate: float
    attributed_revenue: Money = strawberry.field(
        description="Net revenue, after refunds, of the paid orders that use them (each order once).")
    discount_cost: Money = strawberry.field(description="The discounts those orders got.")
    cost_share: float = strawberry.field(description="Discount cost as a share of attributed revenue.")
    within_band: bool = strawberry.field(description="The cost share is at most 5 % (the 3–5 % band's top).")


async def offer_performance(info: Info, from_: Annotated[datetime, strawberry.argument(name="from")],
                            to: datetime) -> list[OfferPerformance]:
    c = ctx(info)
    c.principal.require_admin()
    rows, currency = await rules.performance(c.pool, c.shop, from_, to)
    return [OfferPerformance(
        source=OfferSource(r.source), issued=r.issued, redeemed=r.redeemed, redemption_rate=r.redemption_rate,
        attributed_revenue=Money.of(r.revenue, currency), discount_cost=Money.of(r.cost, currency),
        cost_share=r.cost_share, within_band=r.within_band) for r in rows]
