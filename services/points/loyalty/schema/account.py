"""GraphQL of the loyalty account: what it shows, its history, the points of each order, and the
admin's adjustments (points, store credit, a tier override)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import Enum

import asyncpg
import strawberry
from strawberry.dataloader import DataLoader
from strawberry.types import Info

from services.points.loyalty import accounts, actions, adjustment, configuration, store, tiering
from services.points.loyalty.schema import Keyed
from services.points.loyalty.schema.program import Tier
from shared.errors import BadUserInput, Unauthenticated
from shared.graphql import Context, Money, ctx, customer_ctx, rows_loader
from shared.ids import external_id
from shared.pagination import Connection, connection, decode_cursor, page_size


@strawberry.enum
class PointsStatus(Enum):
    PENDING = "PENDING"
    AVAILABLE = "AVAILABLE"
    REVERSED = "REVERSED"
    NOT_ELIGIBLE = "NOT_ELIGIBLE"


@strawberry.type(description="A customer's points account (one per customer and shop).")
class LoyaltyAccount:
    id: strawberry.ID = strawberry.field(description="Stable: the customer's id (one account per customer), so "
                                                     "client caches merge every read of it.")
    balance: int = strawberry.field(description="Points available to spend now.")
    pending: int = strawberry.field(description="Points earned but still inside the return window.")
    lifetime_earned: int = strawberry.field(description="Points earned and not taken back.")
    shortfall: int = strawberry.field(description="Points taken back after they were spent; netted against "
                                                  "future earnings.")
    tier: Tier
    next_tier: Tier | None
    amount_to_next_tier: Money | None
    expiring_points: int = strawberry.field(description="Points that lapse at expiringAt without activity.")
    expiring_at: datetime | None
    tier_override_until: datetime | None = strawberry.field(
        description="Set while an admin override decides the tier.")

    @classmethod
    def of(cls, v: accounts.AccountView) -> LoyaltyAccount:
        return cls(
            id=strawberry.ID(v.customer_id), balance=v.balance, pending=v.pending,
            lifetime_earned=v.lifetime_earned, shortfall=v.shortfall,
            tier=Tier.of(v.tier, v.currency), tier_override_until=v.tier_override_until,
            next_tier=Tier.of(v.next_tier, v.currency) if v.next_tier else None,
            amount_to_next_tier=(Money.of(v.amount_to_next_tier, v.currency)
                                 if v.amount_to_next_tier is not None else None),
            expiring_points=v.expiring_points, expiring_at=v.expiring_at,
        )


@strawberry.type
class PointsTransaction:
    id: strawberry.ID
    delta: int
    kind: str
    bucket: str = strawberry.field(description="AVAILABLE or PENDING")
    reason: str
    rule_version: int | None
    created_at: datetime
    order_currency: str | None = strawberry.field(description="A purchase in another currency than the program's: "
                                                              "its currency, converted at exchangeRate.")
    exchange_rate: str | None
    exchange_rate_date: date | None

    @classmethod
    def from_row(cls, row: asyncpg.Record) -> PointsTransaction:
        return cls(id=strawberry.ID(str(row["id"])), delta=row["delta"], kind=row["kind"].upper(),
                   bucket=row["bucket"].upper(), reason=row["reason"], rule_version=row["rule_version"],
                   created_at=row["created_at"], order_currency=row["fx_currency"],
                   exchange_rate=None if row["fx_rate"] is None else str(row["fx_rate"]),
                   exchange_rate_date=row["fx_date"])


def order_rows(c: Context) -> DataLoader[str, asyncpg.Record | None]:
    """The points of every Order entity a request resolves (an order history page), in one query."""
    return rows_loader(c, "points:orders", "order_id", store.orders.many_order_points)


@strawberry.federation.type(keys=["id"])
class Order:
    id: strawberry.ID
    points_earned: int = strawberry.field(description="Points the order earned and still keeps.")
    points_status: PointsStatus
    points_note: str | None = strawberry.field(default=None, description="Why the order earns nothing (NOT_ELIGIBLE).")

    @classmethod
    async def resolve_reference(cls, info: Info, id: strawberry.ID) -> Order:
        c = ctx(info)
        row = await order_rows(c).load(id)
        if row is None:  # not paid yet: nothing earned so far
            if c.principal.kind == "public":
                raise Unauthenticated("credentials are required")
            return cls(id=id, points_earned=0, points_status=PointsStatus.PENDING)
        c.principal.require_customer_access(row["customer_id"])
        return cls(id=id, points_earned=row["earned"] - row["taken_back"],
                   points_status=PointsStatus(row["status"]), points_note=row["points_note"])


async def loyalty(root: Keyed, info: Info) -> LoyaltyAccount:
    c = customer_ctx(info, root.id)
    return LoyaltyAccount.of(await accounts.view(c.pool, c.shop, root.id))


async def points_history(root: Keyed, info: Info, first: int | None = None,
                         after: str | None = None) -> Connection[PointsTransaction]:
    c = customer_ctx(info, root.id)
    size = page_size(first)
    key = decode_cursor(after, int)
    before_id = key[0] if key else None
    rows = await store.ledger.history(c.pool, c.shop, root.id, size, before_id)
    return connection(rows, size, node=PointsTransaction.from_row, key=lambda r: (r["id"],), after=after)


async def store_credit(root: Keyed, info: Info) -> Money:
    c = customer_ctx(info, root.id)
    row = await store.wallet.credit_account(c.pool, c.shop, root.id)
    if row is None:
        return Money.of(Decimal(0), (await configuration.in_force(c.pool, c.shop)).currency)
    return Money.of(row["balance"], row["currency"])


@strawberry.input
class BulkAdjustmentRow:
    customer_id: strawberry.ID
    delta: int
    reason: str


@strawberry.input
class BulkAdjustmentInput:
    idempotency_key: str = strawberry.field(description="Names the batch; sending it again applies nothing twice.")
    rows: list[BulkAdjustmentRow]


@strawberry.type
class BulkAdjustmentError:
    index: int
    customer_id: strawberry.ID | None
    code: str
    message: str


@strawberry.type
class BulkAdjustmentResult:
    applied: int
    already_applied: int
    errors: list[BulkAdjustmentError]


async def adjust_points(info: Info, customer_id: strawberry.ID, delta: int, reason: str,
                        idempotency_key: str) -> LoyaltyAccount:
    c = ctx(info)
    c.principal.require_admin()
    cid = external_id(customer_id, "customerId")
    return LoyaltyAccount.of(await adjustment.adjust_points(c.pool, c.shop, cid, delta, reason, idempotency_key))


async def bulk_adjust_points(info: Info, input: BulkAdjustmentInput) -> BulkAdjustmentResult:
    c = ctx(info)
    c.principal.require_admin()
    outcome = await adjustment.bulk_adjust(c.pool, c.shop, input.idempotency_key,
                                           [(r.customer_id, r.delta, r.reason) for r in input.rows])
    return BulkAdjustmentResult(applied=outcome.applied, already_applied=outcome.already_applied, errors=[
        BulkAdjustmentError(index=i, customer_id=strawberry.ID(cid or input.rows[i].customer_id[:200]),
                            code=e.code, message=e.message) for i, cid, e in outcome.errors])


async def override_tier(info: Info, customer_id: strawberry.ID, tier: str, reason: str,
                        until: datetime) -> LoyaltyAccount:
    c = ctx(info)
    c.principal.require_admin()
    cid = external_id(customer_id, "customerId")
    return LoyaltyAccount.of(await tiering.override(c.pool, c.shop, cid, tier, reason, until))


async def adjust_store_credit(info: Info, customer_id: strawberry.ID, amount: str, reason: str,
                              idempotency_key: str) -> Money:
    c = ctx(info)
    c.principal.require_admin()
    acct = await adjustment.adjust_store_credit(c.pool, c.shop, customer_id, amount, reason, idempotency_key)
    return Money.of(acct["balance"], acct["currency"])


@strawberry.enum(description="Where a customer shared something (wallet.NETWORKS).")
class SocialNetwork(Enum):
    FACEBOOK = "FACEBOOK"
    INSTAGRAM = "INSTAGRAM"
    X = "X"
    TIKTOK = "TIKTOK"
    PINTEREST = "PINTEREST"
    WHATSAPP = "WHATSAPP"
    LINKEDIN = "LINKEDIN"
    OTHER = "OTHER"


@strawberry.enum(description="What a recorded social share earned.")
class SocialShareOutcome(Enum):
    AWARDED = "AWARDED"
    ALREADY_AWARDED = "ALREADY_AWARDED"
    DAILY_LIMIT = "DAILY_LIMIT"
    NOT_REWARDED = "NOT_REWARDED"


@strawberry.type
class SocialShareResult:
    outcome: SocialShareOutcome = strawberry.field(description=(
        "AWARDED: the points were posted; ALREADY_AWARDED: this network and content earned before; DAILY_LIMIT: "
        "the program's socialSharesPerDay were reached today (UTC); NOT_REWARDED: the program pays 0 for a share."))
    points: int = strawberry.field(description="Points this call earned (0 unless AWARDED).")
    loyalty: LoyaltyAccount


async def record_social_share(info: Info, network: SocialNetwork, content: str,
                              customer_id: strawberry.ID | None = None) -> SocialShareResult:
    c = ctx(info)
    if c.principal.kind == "customer":
        cid = c.principal.require_customer()
        if customer_id is not None and customer_id != cid:
            c.principal.require_customer_access(customer_id)
    else:
        c.principal.require_ingest()
        if customer_id is None:
            raise BadUserInput("customerId is required with an API key", field="customerId")
        cid = external_id(customer_id, "customerId")
    done = await actions.social_share(c.pool, c.shop, cid, network.value, content)
    return SocialShareResult(outcome=SocialShareOutcome(done.outcome), points=done.points,
                             loyalty=LoyaltyAccount.of(done.account))
