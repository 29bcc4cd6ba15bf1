"""The referrals subgraph: codes and links, the friend's landing and offer, a referrer's referrals
and stats, and the admin's program and list. Resolvers are thin: use cases in referring.py, SQL
reads in store/."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import Enum
from typing import Any

import asyncpg
import strawberry
from strawberry.dataloader import DataLoader
from strawberry.types import Info

from services.referrals import codes, referring, store
from shared.dead_letters_schema import dead_letters_part
from shared.graphql import Context, Money, SubgraphSchema, ctx, customer_ctx, guarded_reference, request_loader
from shared.pagination import Connection, connection, decode_cursor, page_size
from shared.personal_data import customer_data_export


@strawberry.enum
class ReferralStatus(Enum):
    PENDING = "PENDING"
    CONVERTED = "CONVERTED"
    REJECTED = "REJECTED"
    REVERSED = "REVERSED"


@strawberry.enum
class ReferralRewardKind(Enum):
    CREDIT = "credit"
    POINTS = "points"


@strawberry.type
class Referral:
    id: strawberry.ID
    status: ReferralStatus
    rejection_reason: str | None
    created_at: datetime
    decided_at: datetime | None
    reward: Money | None
    reward_points: int | None
    order_id: strawberry.ID | None = strawberry.field(description="The friend's first order (admins only).")

    @classmethod
    def from_row(cls, row: asyncpg.Record, *, admin: bool) -> Referral:
        reward = None
        if row["reward_amount"] is not None and row["currency"]:
            reward = Money.of(row["reward_amount"], row["currency"])
        return cls(id=strawberry.ID(str(row["id"])), status=ReferralStatus(row["status"]),
                   rejection_reason=row["rejection_reason"], created_at=row["created_at"],
                   decided_at=row["decided_at"], reward=reward, reward_points=row["reward_points"],
                   order_id=row["order_id"] if admin else None)


@strawberry.type
class ReferralStats:
    invited: int
    converted: int
    rejected: int
    reversed: int
    earned: Money
    earned_points: int


@strawberry.type
class FriendOffer:
    code: str = strawberry.field(description="Issued by the points service: checkCode / redeemCode take it.")
    percent_off: int
    used: bool
    minimum_order: Money | None = strawberry.field(default=None, description="The order value it needs.")
    expires_at: datetime | None = strawberry.field(default=None, description="After this it no longer works.")

    @classmethod
    def from_row(cls, row: asyncpg.Record) -> FriendOffer:
        minimum = row["min_order"]
        return cls(code=row["code"], percent_off=row["percent_off"], used=row["used_order"] is not None,
                   minimum_order=Money.of(minimum, row["currency"]) if minimum is not None and row["currency"]
                   else None, expires_at=row["expires_at"])


@strawberry.type
class ReferralLanding:
    code: str
    referrer_first_name: str | None
    percent_off: int
    minimum_order: Money


@strawberry.type
class ReferralProgram:
    currency: str
    friend_discount_percent: int
    friend_offer_valid_days: int
    minimum_order: Money
    reward_kind: ReferralRewardKind
    reward_amount: Money
    reward_points: int
    ambassador_threshold: int
    ambassador_reward_amount: Money
    ambassador_reward_points: int
    return_window_days: float
    signups_per_hour: int
    rewards_per_month: int
    shared_address_rejects: bool

    @classmethod
    def from_row(cls, p: dict[str, Any]) -> ReferralProgram:
        cur = p["currency"]
        return cls(currency=cur, friend_discount_percent=p["friend_discount_percent"],
                   friend_offer_valid_days=p["friend_offer_valid_days"],
                   minimum_order=Money.of(p["minimum_order"], cur), reward_kind=ReferralRewardKind(p["reward_kind"]),
                   reward_amount=Money.of(p["reward_amount"], cur), reward_points=p["reward_points"],
                   ambassador_threshold=p["ambassador_threshold"],
                   ambassador_reward_amount=Money.of(p["ambassador_reward_amount"], cur),
                   ambassador_reward_points=p["ambassador_reward_points"],
                   return_window_days=float(p["return_window_days"]), signups_per_hour=p["signups_per_hour"],
                   rewards_per_month=p["rewards_per_month"], shared_address_rejects=p["shared_address_rejects"])


@strawberry.input
class ReferralProgramInput:
    currency: str | None = None
    friend_discount_percent: int | None = None
    friend_offer_valid_days: int | None = strawberry.field(default=None, description="1–730 days")
    minimum_order: str | None = None
    reward_kind: ReferralRewardKind | None = None
    reward_amount: str | None = None
    reward_points: int | None = None
    ambassador_threshold: int | None = None
    ambassador_reward_amount: str | None = None
    ambassador_reward_points: int | None = None
    return_window_days: str | None = strawberry.field(default=None, description='Decimal days, e.g. "14"')
    signups_per_hour: int | None = None
    rewards_per_month: int | None = None
    shared_address_rejects: bool | None = None


def standings(c: Context) -> DataLoader[str, referring.Standing]:
    """One query per request for the stats of every referrer it shows (a page of customers, or one
    customer's referralStats and isAmbassador)."""
    return request_loader(c, "standings", referring.standings)


@strawberry.federation.type(keys=["id"])
class Customer:
    id: strawberry.ID

    @classmethod
    def resolve_reference(cls, info: Info, id: strawberry.ID) -> Customer:
        entity: Customer = guarded_reference(cls, info, id)  # that customer or an admin only
        return entity

    @strawberry.field(description="The code a friend enters at checkout or sign-up.")
    async def referral_code(self, info: Info) -> str:
        c = customer_ctx(info, self.id)
        # One loader for the request: referralLink asks too, and a page of customers reads at once.
        return await request_loader(c, "referral_code", referring.codes_for).load(self.id)

    @strawberry.field(description="The link to share; it carries the code.")
    async def referral_link(self, info: Info) -> str:
        code = await self.referral_code(info)
        return codes.link(ctx(info).runtime.settings.referral_base_url, code)

    @strawberry.field(description="Friends this customer referred, newest first.")
    async def referrals(self, info: Info) -> list[Referral]:
        c = customer_ctx(info, self.id)
        return [Referral.from_row(r, admin=c.principal.is_admin)
                for r in await store.referrals.of_referrer(c.pool, c.shop, self.id)]

    @strawberry.field
    async def referral_stats(self, info: Info) -> ReferralStats:
        c = customer_ctx(info, self.id)
        s = await standings(c).load(str(self.id))
        return ReferralStats(invited=s.invited, converted=s.converted, rejected=s.rejected, reversed=s.reversed,
                             earned=Money.of(s.earned, s.currency), earned_points=s.earned_points)

    @strawberry.field(description="Ambassadors have at least the program's threshold of conversions.")
    async def is_ambassador(self, info: Info) -> bool:
        c = customer_ctx(info, self.id)
        return (await standings(c).load(str(self.id))).ambassador

    @strawberry.field(description="The single-use discount a referred friend received, once issued.")
    async def friend_offer(self, info: Info) -> FriendOffer | None:
        c = customer_ctx(info, self.id)
        row = await store.offers.of_friend(c.pool, c.shop, self.id)
        return FriendOffer.from_row(row) if row is not None else None


def _client(info: Info) -> str:
    return ctx(info).client_address[:64]  # the gateway's, from trusted proxies only (shared/edge.py)


@strawberry.type
class Query:
    @strawberry.field(description="What a friend sees on the referral link: no personal data but a first name.")
    async def referral_landing(self, info: Info, code: str) -> ReferralLanding:
        c = ctx(info)
        landing = await referring.landing(c.pool, c.shop, _client(info), code)
        return ReferralLanding(code=landing.code, referrer_first_name=landing.referrer_first_name,
                               percent_off=landing.percent_off,
                               minimum_order=Money.of(landing.minimum_order, landing.currency))

    @strawberry.field(description="The shop's referral program (admin).")
    async def referral_program(self, info: Info) -> ReferralProgram:
        c = ctx(info)
        c.principal.require_admin()
        return ReferralProgram.from_row(await referring.current_program(c.pool, c.shop))

    @strawberry.field(description="Every referral of the shop with its status and reason (admin).")
    async def all_referrals(self, info: Info, status: ReferralStatus | None = None, first: int | None = None,
                            after: str | None = None) -> Connection[Referral]:
        c = ctx(info)
        c.principal.require_admin()
        size = page_size(first)
        rows = await store.referrals.list_all(c.pool, c.shop, status.value if status else None, size,
                                              decode_cursor(after, datetime.fromisoformat, uuid.UUID))
        return connection(rows, size, node=lambda r: Referral.from_row(r, admin=True),
                          key=lambda r: (r["created_at"].isoformat(), str(r["id"])), after=after)


@strawberry.type
class Mutation:
    @strawberry.mutation(description="Change the referral program (admin); omitted fields keep their value.")
    async def configure_referrals(self, info: Info, input: ReferralProgramInput) -> ReferralProgram:
        c = ctx(info)
        c.principal.require_admin()
        given = {
            "currency": input.currency,
            "friend_discount_percent": input.friend_discount_percent,
            "friend_offer_valid_days": input.friend_offer_valid_days,
            "minimum_order": input.minimum_order,
            "reward_kind": input.reward_kind.value if input.reward_kind else None,
            "reward_amount": input.reward_amount,
            "reward_points": input.reward_points,
            "ambassador_threshold": input.ambassador_threshold,
            "ambassador_reward_amount": input.ambassador_reward_amount,
            "ambassador_reward_points": input.ambassador_reward_points,
            "return_window_days": input.return_window_days,
            "signups_per_hour": input.signups_per_hour,
            "rewards_per_month": input.rewards_per_month,
            "shared_address_rejects": input.shared_address_rejects,
        }
        return ReferralProgram.from_row(await referring.configure(c.pool, c.shop, given))


schema = SubgraphSchema(
    query=Query,
    mutation=Mutation,
    types=[Customer, customer_data_export("referrals"), dead_letters_part("referrals")],
)
