"""Helpers of the points end-to-end tests: a fresh shop per test (its own program), its admin,
customers and orders, and the ledger invariant."""

from __future__ import annotations

from dataclasses import dataclass

from tests.e2e.conftest import RECORD, STATUS, UPSERT, order_input
from tests.invariants import ledger_violations
from tests.stack import GraphQL, customer_token, db, unique
from tests.support import eventually

LOYALTY = """query($id: ID!) { customer(id: $id) { loyalty { balance pending lifetimeEarned shortfall
  tier { name multiplier } nextTier { name } amountToNextTier { amount currency } expiringPoints expiringAt } } }"""
CONFIGURE = """mutation($input: ProgramInput!) { configureProgram(input: $input) { version earnRate
  pointValue { amount currency } pendingDays expiryMonths effectiveCashback cashbackCeiling
  tiers { name threshold { amount } multiplier perks } actionRewards { signup review mediaReview } } }"""
ADJUST = """mutation($c: ID!, $d: Int!, $k: String!) { adjustPoints(customerId: $c, delta: $d, reason: "test",
  idempotencyKey: $k) { balance } }"""


@dataclass
class Shop:
    """A shop of its own, so a test may change the program without touching any other test."""
    gql: GraphQL
    id: str

    @property
    def admin(self) -> dict[str, str]:
        return customer_token("shop-admin", shop=self.id, roles=["admin"])

    def customer(self, customer_id: str) -> dict[str, str]:
        return customer_token(customer_id, shop=self.id)

    async def configure(self, **program) -> dict:
        return (await self.gql.ok(CONFIGURE, {"input": program}, self.admin))["configureProgram"]

    async def new_customer(self) -> str:
        customer_id = unique("c")
        await self.gql.ok(UPSERT, {"input": {"id": customer_id, "email": f"{customer_id}@example.com"}}, self.admin)
        return customer_id

    async def order(self, customer_id: str, *statuses: str, **over) -> dict:
        order = order_input(customer_id, **over)
        await self.gql.ok(RECORD, {"input": order}, self.admin)
        for status in statuses:
            await self.status(order["id"], status)
        return order

    async def status(self, order_id: str, status: str, refunded: str | None = None) -> dict:
        return await self.gql.ok(STATUS, {"id": order_id, "status": status, "refunded": refunded}, self.admin)

    async def loyalty(self, customer_id: str) -> dict:
        return (await self.gql.ok(LOYALTY, {"id": customer_id}, self.admin))["customer"]["loyalty"]

    async def until(self, customer_id: str, what: str, **expected) -> dict:
        """Wait until the loyalty account shows the expected values, then check the ledger invariant."""
        async def probe():
            account = await self.loyalty(customer_id)
            return all(account[k] == v for k, v in expected.items()) and account
        account = await eventually(probe, what=f"{what}: {expected}")
        await assert_ledger_invariant(self.id, customer_id)
        return account

    async def adjust(self, customer_id: str, delta: int) -> dict:
        return await self.gql.ok(ADJUST, {"c": customer_id, "d": delta, "k": unique("k")}, self.admin)


async def new_shop(gql: GraphQL, **program) -> Shop:
    shop = Shop(gql, unique("shop"))
    if program:
        await shop.configure(**program)
    return shop


async def assert_ledger_invariant(shop: str, customer_id: str) -> None:
    """balance, pending and lifetimeEarned are exactly the sums of the append-only ledger."""
    conn = await db("points")
    try:
        row = await conn.fetchrow("SELECT balance, pending FROM accounts WHERE shop_id = $1 AND customer_id = $2",
                                  shop, customer_id)
    finally:
        await conn.close()
    assert row is not None, "no account"
    assert await ledger_violations(shop, customer_id) == []
    assert row["balance"] >= 0 and row["pending"] >= 0


async def events_of(shop: str, event_type: str, customer_id: str) -> list[dict]:
    conn = await db("points")
    try:
        rows = await conn.fetch(
            """SELECT envelope FROM outbox WHERE shop_id = $1 AND type = $2
                 AND envelope->'data'->>'customer_id' = $3 ORDER BY seq""", shop, event_type, customer_id)
    finally:
        await conn.close()
    return [r["envelope"]["data"] for r in rows]
