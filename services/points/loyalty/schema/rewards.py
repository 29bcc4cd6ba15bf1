"""GraphQL of rewards: the catalog, redemptions and their single-use codes."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import Any

import asyncpg
import strawberry
from strawberry.dataloader import DataLoader
from strawberry.types import Info

from services.points.loyalty import configuration, redemption, store
from services.points.loyalty.schema import Keyed
from shared.graphql import Context, Money, ctx, customer_ctx, rows_loader
from shared.ids import external_id


@strawberry.enum
class RewardKind(Enum):
    FIXED_AMOUNT = "FIXED_AMOUNT"
    PERCENTAGE = "PERCENTAGE"
    FREE_SHIPPING = "FREE_SHIPPING"
    FREE_PRODUCT = "FREE_PRODUCT"
    STORE_CREDIT = "STORE_CREDIT"


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
    code: str = strawberry.field(description=(
        "Single use, also one of the customer's offers: the checkout checks it with checkCode and uses it with "
        "redeemCode (or validateRewardCode, superseded)."))
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


def reward_rows(c: Context) -> DataLoader[str, asyncpg.Record | None]:
    """The rewards of every redemption a request shows, in one query."""
    return rows_loader(c, "points:rewards", "id", store.rewards.rewards)


async def redemptions(root: Keyed, info: Info) -> list[Redemption]:
    c = customer_ctx(info, root.id)
    rows = await store.rewards.redemptions(c.pool, c.shop, root.id)
    found = await reward_rows(c).load_many([r["reward_id"] for r in rows])
    return [Redemption.of(r, reward) for r, reward in zip(rows, found, strict=True)]


async def rewards_catalog(info: Info) -> list[Reward]:
    c = ctx(info)
    rows, currency = await configuration.catalog(c.pool, c.shop)
    return [Reward.from_row(r, currency) for r in rows]


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


async def validate_reward_code(info: Info, code: str) -> RewardCodeCheck:
    c = ctx(info)
    c.principal.require_ingest()
    check, found = await redemption.use_code(c.pool, c.shop, code)
    return RewardCodeCheck(valid=check.valid, reason=check.reason,
                           redemption=Redemption.redeemed(found) if found else None)
