"""The points subgraph: the loyalty account on Customer, its history, admin adjustments."""

from __future__ import annotations

from datetime import datetime

import asyncpg
import strawberry
from strawberry.types import Info

from services.points import ledger, store
from shared.graphql import EXTENSIONS, ctx, customer_ctx, guarded_reference
from shared.ids import external_id
from shared.pagination import Connection, connection, decode_cursor, page_size


@strawberry.type
class LoyaltyAccount:
    balance: int = strawberry.field(description="Points available to spend now.")
    pending: int = strawberry.field(description="Points earned but still inside the return window.")
    lifetime_earned: int

    @classmethod
    def from_row(cls, row: asyncpg.Record | None) -> LoyaltyAccount:
        if row is None:
            return cls(balance=0, pending=0, lifetime_earned=0)
        return cls(balance=row["balance"], pending=row["pending"], lifetime_earned=row["lifetime_earned"])


@strawberry.type
class PointsTransaction:
    id: strawberry.ID
    delta: int
    kind: str
    reason: str
    created_at: datetime

    @classmethod
    def from_row(cls, row: asyncpg.Record) -> PointsTransaction:
        return cls(id=strawberry.ID(str(row["id"])), delta=row["delta"], kind=row["kind"].upper(),
                   reason=row["reason"], created_at=row["created_at"])


@strawberry.federation.type(keys=["id"])
class Customer:
    id: strawberry.ID

    resolve_reference = classmethod(guarded_reference)

    @strawberry.field
    async def loyalty(self, info: Info) -> LoyaltyAccount:
        c = customer_ctx(info, self.id)
        return LoyaltyAccount.from_row(await store.account(c.pool, c.shop, self.id))

    @strawberry.field(description="Ledger entries, newest first.")
    async def points_history(self, info: Info, first: int | None = None,
                             after: str | None = None) -> Connection[PointsTransaction]:
        c = customer_ctx(info, self.id)
        size = page_size(first)
        key = decode_cursor(after, int)
        before_id = key[0] if key else None
        rows = await store.history(c.pool, c.shop, self.id, size, before_id)
        return connection(rows, size, node=PointsTransaction.from_row, key=lambda r: (r["id"],), after=after)


@strawberry.type
class Mutation:
    @strawberry.mutation(description="Add or remove points by hand (admin). Idempotent on idempotencyKey.")
    async def adjust_points(self, info: Info, customer_id: strawberry.ID, delta: int, reason: str,
                            idempotency_key: str) -> LoyaltyAccount:
        c = ctx(info)
        c.principal.require_admin()
        entry = ledger.adjustment_entry(external_id(customer_id, "customerId"), delta, reason, idempotency_key,
                                        actor="admin")
        async with c.pool.acquire() as conn, conn.transaction():
            acct, _ = await store.post(conn, c.shop, entry)
        return LoyaltyAccount.from_row(acct)


schema = strawberry.federation.Schema(
    mutation=Mutation,
    types=[Customer],
    extensions=EXTENSIONS,
    federation_version="2.9",
)
