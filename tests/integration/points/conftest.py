"""The points service's use cases and SQL on real PostgreSQL: one throwaway database with the
points migrations for this package, and a pool whose every statement is logged, so a test can
count what one use case or one GraphQL request runs."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal

import asyncpg
import pytest

from services.points import consumers
from services.points.schema import schema
from shared import inbox
from shared.auth import Principal
from shared.events import EventData, OrderPaid, new_envelope
from tests.integration.conftest import Statements, logged_pool, run_graphql, throwaway_database
from tests.invariants import LEDGER_SUMS, WALLET_SUMS


@pytest.fixture(scope="package")
def statements() -> Statements:
    return Statements()


@pytest.fixture(scope="package")
async def points_pool(settings, statements):
    async with throwaway_database(settings, "points") as dsn, logged_pool(dsn, statements) as pool:
        yield pool


def new_shop() -> str:
    return f"shop-{uuid.uuid4().hex[:8]}"


async def handle(pool: asyncpg.Pool, data: EventData) -> None:
    """Deliver one event to the points consumers as the bus does: once, in the inbox's transaction."""
    await inbox.handle_once(pool, "points", new_envelope(data, source="test"), data, consumers.HANDLERS.dispatch)


def paid(shop: str, customer_id: str, order_id: str, amount: str = "10", currency: str = "EUR") -> OrderPaid:
    return OrderPaid(shop=shop, order_id=order_id, customer_id=customer_id, currency=currency,
                     total=Decimal(amount), net_amount=Decimal(amount), placed_at=datetime.now(UTC))


async def graphql(pool: asyncpg.Pool, shop: str, query: str, variables: dict | None = None,
                  principal: Principal | None = None) -> dict:
    """Run one request on the points subgraph's schema, as its endpoint would (a fresh context)."""
    return await run_graphql(schema, pool, shop, query, variables, principal)


async def sums_differ(pool: asyncpg.Pool, shop: str) -> list[dict]:
    """Accounts and wallets of the shop whose sums are not their ledger's (empty: they all agree)."""
    return [dict(r) for r in await pool.fetch(LEDGER_SUMS, shop, None)
            + await pool.fetch(WALLET_SUMS, shop, None)]
