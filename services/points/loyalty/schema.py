"""GraphQL of the loyalty program: its types, the per-request loaders, and the resolvers that
services/points/schema.py mounts on Query, Mutation and Customer. Resolvers are thin: they parse,
check who calls, call one use case (or one read) and map the result."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import Any, Protocol

import asyncpg
import strawberry
from strawberry.dataloader import DataLoader
from strawberry.types import Info

from services.points.loyalty import (
    accounts,
    adjustment,
    configuration,
    program,
    redemption,
    store,
    tiering,
)
from shared.db import Executor
from shared.errors import Unauthenticated
from shared.graphql import Context, Money, ctx, customer_ctx
from shared.ids import external_id
from shared.pagination import Connection, connection, decode_cursor, page_size


class Keyed(Protocol):
    """The entity a Customer field resolves on (services/points/schema.py's Customer)."""
    id: strawberry.ID


@strawberry.enum
class PointsStatus(Enum):
    PENDING = "PENDING"
    AVAILABLE = "AVAILABLE"
    REVERSED = "REVERSED"


@strawberry.enum
class RewardKind(Enum):
    FIXED_AMOUNT = "FIXED_AMOUNT"
    PERCENTAGE = "PERCENTAGE"
    FREE_SHIPPING = "FREE_SHIPPING"
    FREE_PRODUCT = "FREE_PRODUCT"
    STORE_CREDIT = "STORE_CREDIT"


@strawberry.type
class Tier:
    name: str
    threshold: Money = strawberry.field(description="Qualifying spend over a rolling 12 months.")
    multiplier: str = strawberry.field(description="Earn multiplier, a decimal string like \"1.25\".")
    perks: list[str]

    @classmethod
    def of(cls, t: program.Tier, currency: str) -> Tier:
        return cls(name=t.name, threshold=Money.of(t.threshold, currency), multiplier=str(t.multiplier),
                   perks=list(t.perks))


@strawberry.type
class ActionRewards:
    signup: int
    review: int
    media_review: int
    referral: int
    birthday: int
    social_share: int


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

    @classmethod
    def of(cls, p: program.Program) -> Program:
        a = p.action_points
        return cls(
            version=p.version, currency=p.currency, earn_rate=str(p.earn_rate),
            point_value=Money(amount=str(p.point_value), currency=p.currency),
            tiers=[Tier.of(t, p.currency) for t in p.tiers], expiry_months=p.expiry_months,
            pending_days=p.pending_days,
            action_rewards=ActionRewards(**{k: a.get(k, 0) for k in program.ACTIONS}),
            review_credit=Money.of(p.review_credit, p.currency),
            media_review_credit=Money.of(p.media_review_credit, p.currency),
            punch_card_orders=p.punch_card_orders, punch_card_percent=str(p.punch_card_percent),
            cashback_ceiling=str(p.cashback_ceiling), effective_cashback=str(p.effective_cashback),
        )


@strawberry.type
class LoyaltyAccount:
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
            balance=v.balance, pending=v.pending, lifetime_earned=v.lifetime_earned, shortfall=v.shortfall,
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

    @classmethod
    def from_row(cls, row: asyncpg.Record) -> PointsTransaction:
        return cls(id=strawberry.ID(str(row["id"])), delta=row["delta"], kind=row["kind"].upper(),
                   bucket=row["bucket"].upper(), reason=row["reason"], rule_version=row["rule_version"],
                   created_at=row["created_at"])


def _value(kind: str, value: Decimal | None, currency: str) -> tuple[Money | None, str | None]:
    if value is None:
        return None, None
    if kind == "PERCENTAGE":
        return None, format(value.normalize(), "f")
    return Money.of(value, currency), None


@strawberry.type
class Reward:
    id: strawberry.ID
    name: str
    kind: RewardKind
    points_cost: int
    value: Money | None = strawberry.field(description="For FIXED_AMOUNT and STORE_CREDIT.")
    percent_off: str | None = strawberry.field(description="For PERCENTAGE, e.g. \"10\".")
    min_tier: str | None
    limit_per_customer: int | None
    limit_total: int | None
    active: bool

    @classmethod
    def from_row(cls, row: Mapping[str, Any] | asyncpg.Record, currency: str) -> Reward:
        value, percent = _value(row["kind"], row["value"], currency)
        return cls(id=strawberry.ID(row["id"]), name=row["name"], kind=RewardKind(row["kind"]),
                   points_cost=row["points_cost"], value=value, percent_off=percent, min_tier=row["min_tier"],
                   limit_per_customer=row["limit_per_customer"], limit_total=row["limit_total"],
                   active=row["active"])


@strawberry.type
class Redemption:
    id: strawberry.ID
    code: str = strawberry.field(description="Single use; the checkout consumes it with validateRewardCode.")
    points_spent: int
    expires_at: datetime
    used_at: datetime | None
    created_at: datetime
    value: Money | None
    percent_off: str | None
    reward: Reward

    @classmethod
    def of(cls, row: asyncpg.Record, reward_row: asyncpg.Record | None) -> Redemption:
        if reward_row is None:  # redemptions reference their reward: it exists
            raise LookupError(f"reward {row['reward_id']} of redemption {row['id']} is missing")
        value, percent = _value(row["kind"], row["value"], row["currency"])
        return cls(id=strawberry.ID(row["id"]), code=row["code"], points_spent=row["points_spent"],
                   expires_at=row["expires_at"], used_at=row["used_at"], created_at=row["created_at"],
                   value=value, percent_off=percent, reward=Reward.from_row(reward_row, row["currency"]))

    @classmethod
    def redeemed(cls, r: redemption.Redeemed) -> Redemption:
        return cls.of(r.redemption, r.reward)


@strawberry.type
class RewardCodeCheck:
    valid: bool
    reason: str | None = strawberry.field(description="UNKNOWN, USED or EXPIRED when not valid.")
    redemption: Redemption | None


# ---- per-request loaders: one query for everything a request asks of one kind -------------


def program_in_force(c: Context) -> DataLoader[str, program.Program]:
    """The shop's program, read once per request however many fields show it."""
    loader: DataLoader[str, program.Program] | None = c.loaders.get("points:program")
    if loader is None:
        async def load(shops: list[str]) -> list[program.Program]:
            return [await configuration.in_force(c.pool, shop) for shop in shops]
        loader = c.loaders["points:program"] = DataLoader(load_fn=load)
    return loader


def rows_loader(c: Context, name: str, key: str,
                fetch: Callable[[Executor, str, list[str]], Awaitable[list[asyncpg.Record]]]
                ) -> DataLoader[str, asyncpg.Record | None]:
    """The request's loader `name`: the rows of all the ids its fields ask for, in one `fetch`
    (a store function taking ids), each found by its column `key` (None for an id without a row)."""
    loader: DataLoader[str, asyncpg.Record | None] | None = c.loaders.get(name)
    if loader is None:
        async def load(ids: list[str]) -> list[asyncpg.Record | None]:
            rows = {r[key]: r for r in await fetch(c.pool, c.shop, ids)}
            return [rows.get(i) for i in ids]
        loader = c.loaders[name] = DataLoader(load_fn=load)
    return loader


def reward_rows(c: Context) -> DataLoader[str, asyncpg.Record | None]:
    """The rewards of every redemption a request shows, in one query."""
    return rows_loader(c, "points:rewards", "id", store.rewards.rewards)


def order_rows(c: Context) -> DataLoader[str, asyncpg.Record | None]:
    """The points of every Order entity a request resolves (an order history page), in one query."""
    return rows_loader(c, "points:orders", "order_id", store.orders.many_order_points)


@strawberry.federation.type(keys=["id"])
class Order:
    id: strawberry.ID
    points_earned: int = strawberry.field(description="Points the order earned and still keeps.")
    points_status: PointsStatus

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
                   points_status=PointsStatus(row["status"]))


# ---- Customer's fields ------------------------------------------------------------------


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
        return Money.of(Decimal(0), (await program_in_force(c).load(c.shop)).currency)
    return Money.of(row["balance"], row["currency"])


async def redemptions(root: Keyed, info: Info) -> list[Redemption]:
    c = customer_ctx(info, root.id)
    rows = await store.rewards.redemptions(c.pool, c.shop, root.id)
    found = await reward_rows(c).load_many([r["reward_id"] for r in rows])
    return [Redemption.of(r, reward) for r, reward in zip(rows, found, strict=True)]


# ---- Query ------------------------------------------------------------------------------


async def rewards_catalog(info: Info) -> list[Reward]:
    c = ctx(info)
    rows, currency = await configuration.catalog(c.pool, c.shop)
    return [Reward.from_row(r, currency) for r in rows]


async def tiers(info: Info) -> list[Tier]:
    c = ctx(info)
    prog = await program_in_force(c).load(c.shop)
    return [Tier.of(t, prog.currency) for t in prog.tiers]


async def program_in_effect(info: Info) -> Program:
    c = ctx(info)
    c.principal.require_admin()
    return Program.of(await program_in_force(c).load(c.shop))


async def program_liability(info: Info) -> Money:
    c = ctx(info)
    c.principal.require_admin()
    amount, currency = await configuration.liability(c.pool, c.shop)
    return Money.of(amount, currency)


# ---- Mutation ---------------------------------------------------------------------------


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
    force: bool = strawberry.field(default=False, description="Accept a cashback above the ceiling.")


@strawberry.input
class RewardInput:
    name: str
    kind: RewardKind
    points_cost: int
    id: strawberry.ID | None = None
    value: str | None = None
    min_tier: str | None = None
    limit_per_customer: int | None = None
    limit_total: int | None = None
    active: bool | None = None


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


async def configure_program(info: Info, input: ProgramInput) -> Program:
    c = ctx(info)
    c.principal.require_admin()
    change = program.ProgramChange(
        currency=input.currency, earn_rate=input.earn_rate, point_value=input.point_value,
        tiers=None if input.tiers is None else [
            program.TierChange(t.name, t.threshold, t.multiplier, list(t.perks)) for t in input.tiers],
        expiry_months=input.expiry_months, pending_days=input.pending_days,
        action_points=None if input.action_rewards is None else {
            k: getattr(input.action_rewards, k) for k in program.ACTIONS},
        review_credit=input.review_credit, media_review_credit=input.media_review_credit,
        punch_card_orders=input.punch_card_orders, punch_card_percent=input.punch_card_percent,
        cashback_ceiling=input.cashback_ceiling, force=input.force,
    )
    return Program.of(await configuration.configure(c.pool, c.shop, change, actor="admin"))


async def upsert_reward(info: Info, input: RewardInput) -> Reward:
    c = ctx(info)
    c.principal.require_admin()
    row, currency = await configuration.upsert_reward(
        c.pool, c.shop, id=input.id, name=input.name, kind=input.kind.value, points_cost=input.points_cost,
        value=input.value, min_tier=input.min_tier, limit_per_customer=input.limit_per_customer,
        limit_total=input.limit_total, active=input.active)
    return Reward.from_row(row, currency)


async def redeem_reward(info: Info, reward_id: strawberry.ID, idempotency_key: str) -> Redemption:
    c = ctx(info)
    customer_id = c.principal.require_customer()
    rid = external_id(reward_id, "rewardId")
    key = external_id(idempotency_key, "idempotencyKey")
    return Redemption.redeemed(await redemption.redeem(c.pool, c.shop, customer_id, rid, key))


async def redeem_store_credit(info: Info, amount: str, idempotency_key: str) -> Redemption:
    c = ctx(info)
    customer_id = c.principal.require_customer()
    key = external_id(idempotency_key, "idempotencyKey")
    return Redemption.redeemed(await redemption.spend_credit(c.pool, c.shop, customer_id, amount, key))


async def adjust_store_credit(info: Info, customer_id: strawberry.ID, amount: str, reason: str,
                              idempotency_key: str) -> Money:
    c = ctx(info)
    c.principal.require_admin()
    acct = await adjustment.adjust_store_credit(c.pool, c.shop, customer_id, amount, reason, idempotency_key)
    return Money.of(acct["balance"], acct["currency"])


async def validate_reward_code(info: Info, code: str) -> RewardCodeCheck:
    c = ctx(info)
    c.principal.require_ingest()
    check, found = await redemption.use_code(c.pool, c.shop, code)
    return RewardCodeCheck(valid=check.valid, reason=check.reason,
                           redemption=Redemption.redeemed(found) if found else None)

