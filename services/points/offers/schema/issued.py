"""GraphQL of the offers a customer holds (Customer.offers) and the admin's issueOffer / revokeOffer."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import strawberry
from strawberry.types import Info

from services.points.loyalty.schema import Keyed
from services.points.offers import issuing, store
from services.points.offers.schema import Offer, OfferKind, OfferSource, OfferStatus
from services.points.offers.settings import parse_decimal
from services.points.offers.terms import Ask
from shared.errors import BadUserInput
from shared.graphql import ctx, customer_ctx
from shared.ids import external_id


async def customer_offers(root: Keyed, info: Info, status: OfferStatus | None = None) -> list[Offer]:
    c = customer_ctx(info, root.id)
    rows = await store.of_customer(c.pool, c.shop, root.id, status.value if status else None, datetime.now(UTC))
    return [Offer.of(r) for r in rows]


@strawberry.input(description="An offer issued by hand; terms left out come from the source's default.")
class IssueOfferInput:
    customer_id: strawberry.ID | None = strawberry.field(default=None, description="Null: a shareable code.")
    source: OfferSource = OfferSource.MANUAL
    kind: OfferKind | None = None
    value: str | None = None
    currency: str | None = None
    min_order: str | None = None
    starts_at: datetime | None = None
    expires_at: datetime | None = None
    valid_days: int | None = None
    usage_limit: int | None = None
    idempotency_key: str | None = strawberry.field(default=None, description="The same key: the same offer.")


def _decimal(text: str | None, field: str) -> Decimal | None:
    return None if text is None else parse_decimal(text, field)


async def issue_offer(info: Info, input: IssueOfferInput) -> Offer:
    c = ctx(info)
    c.principal.require_admin()
    if input.source in (OfferSource.REWARD, OfferSource.STORE_CREDIT, OfferSource.PUNCH_CARD,
                        OfferSource.TIER_PERK):
        raise BadUserInput(f"{input.source.value} offers are issued by their own rules", field="source")
    key = external_id(input.idempotency_key, "idempotencyKey") if input.idempotency_key is not None else None
    ask = Ask(key=issuing.manual_key(key), source=input.source.value,
              customer_id=input.customer_id, kind=input.kind.value if input.kind else None,
              value=_decimal(input.value, "value"), currency=input.currency,
              min_order=_decimal(input.min_order, "minOrder"), starts_at=input.starts_at,
              expires_at=input.expires_at, valid_days=input.valid_days, usage_limit=input.usage_limit)
    return Offer.of(await issuing.issue_manual(c.pool, c.shop, ask))


async def revoke_offer(info: Info, id: strawberry.ID, reason: str | None = None) -> Offer:
    c = ctx(info)
    c.principal.require_admin()
    why = external_id(reason, "reason") if reason is not None else "revoked by an admin"
    return Offer.of(await issuing.revoke(c.pool, c.shop, external_id(id, "id"), why))
