"""GraphQL of offers, by area: settings.py (the offer settings of the program), checkout.py (carts,
checkCode, redeemCode, releaseCode, checkoutBenefits), issued.py (Customer.offers, issueOffer,
revokeOffer) and performance.py (offerPerformance). Here: the enums and the Offer type they share."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from enum import Enum

import asyncpg
import strawberry

from services.points.offers import checks
from shared.graphql import Money
from shared.money import in_minor_units


@strawberry.enum
class OfferSource(Enum):
    REWARD = "REWARD"
    REFERRAL = "REFERRAL"
    WINBACK = "WINBACK"
    AT_RISK = "AT_RISK"
    BIRTHDAY = "BIRTHDAY"
    PUNCH_CARD = "PUNCH_CARD"
    TIER_PERK = "TIER_PERK"
    CHALLENGE = "CHALLENGE"
    STORE_CREDIT = "STORE_CREDIT"
    MANUAL = "MANUAL"


@strawberry.enum
class OfferKind(Enum):
    FIXED_AMOUNT = "FIXED_AMOUNT"
    PERCENTAGE = "PERCENTAGE"
    FREE_SHIPPING = "FREE_SHIPPING"
    FREE_PRODUCT = "FREE_PRODUCT"
    STORE_CREDIT = "STORE_CREDIT"


@strawberry.enum
class OfferStatus(Enum):
    ACTIVE = "ACTIVE"
    REDEEMED = "REDEEMED"
    EXPIRED = "EXPIRED"
    REVOKED = "REVOKED"


def shown_value(kind: str, value: Decimal | None, currency: str) -> str | None:
    """An amount in the currency's minor unit ("4.00"), a percentage as written ("20", "12.5")."""
    if value is None:
        return None
    if kind == "PERCENTAGE":
        return format(value.normalize(), "f")
    return str(in_minor_units(value, currency))


@strawberry.type(description="An incentive as a code a checkout can check and redeem.")
class Offer:
    id: strawberry.ID
    code: str = strawberry.field(description="Case, spaces and dashes do not matter when it is typed.")
    source: OfferSource
    kind: OfferKind
    value: str | None = strawberry.field(description="An amount in `currency`, or a percentage (\"20\" = 20 %).")
    currency: str | None
    min_order: Money | None = strawberry.field(description="The subtotal (after other discounts) it needs.")
    starts_at: datetime | None
    expires_at: datetime | None
    status: OfferStatus
    redeemed_order_id: strawberry.ID | None = strawberry.field(description="The order that used it last.")
    customer_id: strawberry.ID | None = strawberry.field(description="Bound to this customer; null: shareable.")
    usage_limit: int
    used_count: int = strawberry.field(description="Uses by orders, not counting released ones.")

    @classmethod
    def of(cls, row: asyncpg.Record) -> Offer:
        order = row["redeemed_order_id"]
        return cls(
            id=strawberry.ID(row["id"]), code=row["code"], source=OfferSource(row["source"]),
            kind=OfferKind(row["kind"]), value=shown_value(row["kind"], row["value"], row["currency"]),
            currency=row["currency"],
            min_order=Money.of(row["min_order"], row["currency"]) if row["min_order"] is not None else None,
            starts_at=row["starts_at"], expires_at=row["expires_at"],
            status=OfferStatus(checks.status(row["status"], row["expires_at"], datetime.now(UTC))),
            redeemed_order_id=strawberry.ID(order) if order is not None else None,
            customer_id=strawberry.ID(row["customer_id"]) if row["customer_id"] is not None else None,
            usage_limit=row["usage_limit"], used_count=row["used_count"])
