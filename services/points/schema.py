"""The points subgraph: the program, the loyalty account on Customer, its history, points per order,
the rewards catalog and redemptions with single-use codes, admin adjustments; challenges, badges and
streaks (their types and resolvers live in challenge_schema.py)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import Enum

import asyncpg
import strawberry
from strawberry.types import Info

from services.points import challenge_schema as cs
from services.points import expiry, ledger, program, rewards, store, tiers, wallet
from shared.errors import BadUserInput, Unauthenticated
from shared.graphql import EXTENSIONS, Money, ctx, customer_ctx, guarded_reference
from shared.ids import external_id
from shared.pagination import Connection, connection, decode_cursor, page_size
from shared.personal_data import customer_data_export


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


async def loyalty_of(conn: store.Conn, shop: str, customer_id: str,
                     acct: asyncpg.Record | None = None) -> LoyaltyAccount:
    prog = await store.program(conn, shop, seed=False)
    if acct is None:
        acct = await store.account(conn, shop, customer_id)
    at = store.now()
    st, spend = await store.standing(conn, shop, acct, customer_id, prog, at)
    tier = store.applied_tier(acct, st, prog, at)
    gap = tiers.amount_to_next(tier, spend, prog.tiers)
    balance = acct["balance"] if acct else 0
    lapse = expiry.expires_at(acct["last_activity_at"] if acct else None, prog.expiry_months, balance)
    return LoyaltyAccount(
        balance=balance, pending=acct["pending"] if acct else 0,
        lifetime_earned=acct["lifetime_earned"] if acct else 0, shortfall=acct["shortfall"] if acct else 0,
        tier=Tier.of(tier, prog.currency),
        tier_override_until=acct["tier_override_until"] if acct and tier.name == acct["tier_override"] else None,
        next_tier=Tier.of(gap[0], prog.currency) if gap else None,
        amount_to_next_tier=Money.of(gap[1], prog.currency) if gap else None,
        expiring_points=balance if lapse else 0, expiring_at=lapse,
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
    def from_row(cls, row: asyncpg.Record, currency: str) -> Reward:
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


async def redemption_of(conn: store.Conn, shop: str, row: asyncpg.Record) -> Redemption:
    reward_row = await store.reward(conn, shop, row["reward_id"])
    value, percent = _value(row["kind"], row["value"], row["currency"])
    return Redemption(id=strawberry.ID(row["id"]), code=row["code"], points_spent=row["points_spent"],
                      expires_at=row["expires_at"], used_at=row["used_at"], created_at=row["created_at"],
                      value=value, percent_off=percent, reward=Reward.from_row(reward_row, row["currency"]))


@strawberry.type
class RewardCodeCheck:
    valid: bool
    reason: str | None = strawberry.field(description="UNKNOWN, USED or EXPIRED when not valid.")
    redemption: Redemption | None


@strawberry.federation.type(keys=["id"])
class Order:
    id: strawberry.ID
    points_earned: int = strawberry.field(description="Points the order earned and still keeps.")
    points_status: PointsStatus

    @classmethod
    async def resolve_reference(cls, info: Info, id: strawberry.ID) -> Order:
        c = ctx(info)
        row = await store.order_points(c.pool, c.shop, id)
        if row is None:  # not paid yet: nothing earned so far
            if c.principal.kind == "public":
                raise Unauthenticated("credentials are required")
            return cls(id=id, points_earned=0, points_status=PointsStatus.PENDING)
        c.principal.require_customer_access(row["customer_id"])
        return cls(id=id, points_earned=row["earned"] - row["taken_back"],
                   points_status=PointsStatus(row["status"]))


@strawberry.federation.type(keys=["id"])
class Customer:
    id: strawberry.ID

    resolve_reference = classmethod(guarded_reference)

    @strawberry.field
    async def loyalty(self, info: Info) -> LoyaltyAccount:
        c = customer_ctx(info, self.id)
        return await loyalty_of(c.pool, c.shop, self.id)

    @strawberry.field(description="Ledger entries, newest first.")
    async def points_history(self, info: Info, first: int | None = None,
                             after: str | None = None) -> Connection[PointsTransaction]:
        c = customer_ctx(info, self.id)
        size = page_size(first)
        key = decode_cursor(after, int)
        before_id = key[0] if key else None
        rows = await store.history(c.pool, c.shop, self.id, size, before_id)
        return connection(rows, size, node=PointsTransaction.from_row, key=lambda r: (r["id"],), after=after)

    @strawberry.field(description="The store-credit wallet, in the shop currency.")
    async def store_credit(self, info: Info) -> Money:
        c = customer_ctx(info, self.id)
        row = await store.credit_account(c.pool, c.shop, self.id)
        if row is None:
            return Money.of(Decimal(0), (await store.program(c.pool, c.shop, seed=False)).currency)
        return Money.of(row["balance"], row["currency"])

    @strawberry.field(description="Rewards redeemed and codes granted, newest first.")
    async def redemptions(self, info: Info) -> list[Redemption]:
        c = customer_ctx(info, self.id)
        return [await redemption_of(c.pool, c.shop, r) for r in await store.redemptions(c.pool, c.shop, self.id)]

    challenge_progress: list[cs.ChallengeProgress] = strawberry.field(
        resolver=cs.customer_progress, description="The challenges the customer joined, newest start first.")
    badges: list[cs.Badge] = strawberry.field(resolver=cs.customer_badges, description="Badges held, oldest first.")
    streak: cs.Streak = strawberry.field(resolver=cs.customer_streak)


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


@strawberry.type
class Query:
    challenges: list[cs.Challenge] = strawberry.field(
        resolver=cs.list_challenges, description="The shop's challenges, optionally of one status (public).")
    challenge: cs.Challenge | None = strawberry.field(resolver=cs.one_challenge, description="One challenge (public).")
    badge_catalog: list[cs.BadgeDefinition] = strawberry.field(
        resolver=cs.badge_catalog, description="Every badge the shop's customers can earn (public).")

    @strawberry.field(description="The shop's rewards catalog (public).")
    async def rewards_catalog(self, info: Info) -> list[Reward]:
        c = ctx(info)
        prog = await store.program(c.pool, c.shop, seed=False)
        return [Reward.from_row(r, prog.currency) for r in await store.catalog(c.pool, c.shop)]

    @strawberry.field(description="The shop's VIP tiers, lowest first (public).")
    async def tiers(self, info: Info) -> list[Tier]:
        c = ctx(info)
        prog = await store.program(c.pool, c.shop, seed=False)
        return [Tier.of(t, prog.currency) for t in prog.tiers]

    @strawberry.field(description="The program in force (admin).")
    async def program(self, info: Info) -> Program:
        c = ctx(info)
        c.principal.require_admin()
        return Program.of(await store.program(c.pool, c.shop, seed=False))

    @strawberry.field(description="Outstanding points (available and pending) × point value (admin).")
    async def program_liability(self, info: Info) -> Money:
        c = ctx(info)
        c.principal.require_admin()
        prog = await store.program(c.pool, c.shop, seed=False)
        return Money.of(Decimal(await store.liability_points(c.pool, c.shop)) * prog.point_value, prog.currency)


@strawberry.type
class Mutation:
    launch_challenge: cs.Challenge = strawberry.mutation(resolver=cs.launch_challenge, description=(
        "Launch a challenge (admin); announces challenge.launched (the invitations). Idempotent on "
        "idempotencyKey."))
    end_challenge: cs.Challenge = strawberry.mutation(
        resolver=cs.end_challenge, description="End a challenge now (admin) and grant its leaderboard bonus.")
    join_challenge: cs.ChallengeProgress = strawberry.mutation(
        resolver=cs.join_challenge, description="Take part in a challenge (customer); joining twice is harmless.")

    @strawberry.mutation(description="Add or remove points by hand (admin). Idempotent on idempotencyKey.")
    async def adjust_points(self, info: Info, customer_id: strawberry.ID, delta: int, reason: str,
                            idempotency_key: str) -> LoyaltyAccount:
        c = ctx(info)
        c.principal.require_admin()
        entry = ledger.adjustment_entry(external_id(customer_id, "customerId"), delta, reason, idempotency_key,
                                        actor="admin")
        async with c.pool.acquire() as conn, conn.transaction():
            acct, _ = await store.post(conn, c.shop, entry)
            return await loyalty_of(conn, c.shop, entry.customer_id, acct)

    @strawberry.mutation(description=(
        "Adjust many customers' points in one call (admin), up to 10 000 rows. Idempotent per batch key and "
        "row; a bad row is reported in errors and the others are applied."))
    async def bulk_adjust_points(self, info: Info, input: BulkAdjustmentInput) -> BulkAdjustmentResult:
        c = ctx(info)
        c.principal.require_admin()
        entries = ledger.bulk_entries(input.idempotency_key, [(r.customer_id, r.delta, r.reason) for r in input.rows])
        async with c.pool.acquire() as conn, conn.transaction():
            applied, skipped, errors = await store.bulk_adjust(conn, c.shop, list(entries))
        return BulkAdjustmentResult(applied=applied, already_applied=skipped, errors=[
            BulkAdjustmentError(index=i, customer_id=strawberry.ID(cid or input.rows[i].customer_id[:200]),
                                code=e.code, message=e.message) for i, cid, e in errors])

    @strawberry.mutation(description="Put a customer in a tier until a date, with a reason (admin).")
    async def override_tier(self, info: Info, customer_id: strawberry.ID, tier: str, reason: str,
                            until: datetime) -> LoyaltyAccount:
        c = ctx(info)
        c.principal.require_admin()
        cid = external_id(customer_id, "customerId")
        async with c.pool.acquire() as conn, conn.transaction():
            acct = await store.override_tier(conn, c.shop, cid, tier, reason, until)
            return await loyalty_of(conn, c.shop, cid, acct)

    @strawberry.mutation(description="Change the program (admin): a new version; history keeps the old one.")
    async def configure_program(self, info: Info, input: ProgramInput) -> Program:
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
        async with c.pool.acquire() as conn, conn.transaction():
            return Program.of(await store.save_program(conn, c.shop, change, actor="admin"))

    @strawberry.mutation(description="Create or change a catalog reward (admin); without id a new one.")
    async def upsert_reward(self, info: Info, input: RewardInput) -> Reward:
        c = ctx(info)
        c.principal.require_admin()
        async with c.pool.acquire() as conn, conn.transaction():
            prog = await store.program(conn, c.shop)
            r = rewards.reward(
                id=input.id, name=input.name, kind=input.kind.value, points_cost=input.points_cost,
                value=input.value, min_tier=input.min_tier, limit_per_customer=input.limit_per_customer,
                limit_total=input.limit_total, active=input.active, currency=prog.currency, tiers=prog.tiers)
            if r.id == rewards.PUNCH_CARD_ID:
                raise BadUserInput("this id is reserved for the punch card", field="id")
            return Reward.from_row(await store.upsert_reward(conn, c.shop, r), prog.currency)

    @strawberry.mutation(description=(
        "Spend points on a reward (customer): a single-use code. The same idempotencyKey returns the same "
        "redemption; with another reward it is a CONFLICT."))
    async def redeem_reward(self, info: Info, reward_id: strawberry.ID, idempotency_key: str) -> Redemption:
        c = ctx(info)
        customer_id = c.principal.require_customer()
        rid = external_id(reward_id, "rewardId")
        key = external_id(idempotency_key, "idempotencyKey")
        async with c.pool.acquire() as conn, conn.transaction():
            row = await store.redeem(conn, c.shop, customer_id, rid, key)
            return await redemption_of(conn, c.shop, row)

    @strawberry.mutation(description=(
        "Turn store credit into a single-use STORE_CREDIT code for the checkout (customer). Idempotent on "
        "idempotencyKey."))
    async def redeem_store_credit(self, info: Info, amount: str, idempotency_key: str) -> Redemption:
        c = ctx(info)
        customer_id = c.principal.require_customer()
        key = external_id(idempotency_key, "idempotencyKey")
        async with c.pool.acquire() as conn, conn.transaction():
            prog = await store.program(conn, c.shop)
            value = wallet.amount(amount, "amount", prog.currency)
            row = await store.spend_credit(conn, c.shop, customer_id, value, key)
            return await redemption_of(conn, c.shop, row)

    @strawberry.mutation(description=(
        "Grant (positive) or withdraw (negative) store credit by hand (admin). Idempotent on idempotencyKey."))
    async def adjust_store_credit(self, info: Info, customer_id: strawberry.ID, amount: str, reason: str,
                                  idempotency_key: str) -> Money:
        c = ctx(info)
        c.principal.require_admin()
        async with c.pool.acquire() as conn, conn.transaction():
            prog = await store.program(conn, c.shop)
            entry = wallet.adjustment(customer_id, amount, prog.currency, reason, idempotency_key)
            acct, _ = await store.post_credit(conn, c.shop, entry)
            return Money.of(acct["balance"], acct["currency"])

    @strawberry.mutation(description="Verify and consume a reward code at checkout, exactly once (ingest).")
    async def validate_reward_code(self, info: Info, code: str) -> RewardCodeCheck:
        c = ctx(info)
        c.principal.require_ingest()
        normal = rewards.normalise_code(code)
        async with c.pool.acquire() as conn, conn.transaction():
            check, row = await store.use_code(conn, c.shop, normal)
            return RewardCodeCheck(valid=check.valid, reason=check.reason,
                                   redemption=await redemption_of(conn, c.shop, row) if row else None)


schema = strawberry.federation.Schema(
    query=Query,
    mutation=Mutation,
    types=[Customer, Order, customer_data_export("points")],
    extensions=EXTENSIONS,
    federation_version="2.9",
)
