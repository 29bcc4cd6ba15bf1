"""The points service's use cases and SQL on real PostgreSQL: one throwaway database with the
points migrations for this package, and a pool whose every statement is logged, so a test can
count what one use case or one GraphQL request runs."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from types import SimpleNamespace

import asyncpg
import pytest

from services.points import consumers
from services.points.schema import schema
from shared import inbox
from shared.auth import Principal
from shared.db import init_connection
from shared.events import EventData, OrderPaid, new_envelope
from shared.graphql import Context
from tests.integration.conftest import throwaway_database
from tests.invariants import LEDGER_SUMS, WALLET_SUMS

POOL_RESET = "SELECT pg_advisory_unlock_all();"  # what the pool runs when a connection goes back


class Statements:
    """Every statement the pool's connections run for the code, in order (not the pool's resets)."""

    def __init__(self) -> None:
        self.logged: list[str] = []

    def log(self, record: asyncpg.connection.LoggedQuery) -> None:
        if not record.query.startswith(POOL_RESET):
            self.logged.append(record.query)

    @contextlib.asynccontextmanager
    async def counted(self) -> AsyncIterator[list[str]]:
        """The statements run inside the block (filled in when it ends)."""
        start, ran = len(self.logged), []
        yield ran
        for _ in range(3):  # query loggers are called soon after the statement, not during it
            await asyncio.sleep(0)
        ran.extend(self.logged[start:])


@pytest.fixture(scope="package")
def statements() -> Statements:
    return Statements()


@pytest.fixture(scope="package")
async def points_pool(settings, statements):
    async with throwaway_database(settings, "points") as dsn:
        async def init(conn: asyncpg.Connection) -> None:
            await init_connection(conn)
            conn.add_query_logger(statements.log)
        pool = await asyncpg.create_pool(dsn, min_size=1, max_size=10, init=init)
        try:
            yield pool
        finally:
            await pool.close()


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
    context = Context(request=None, response=None, runtime=SimpleNamespace(pool=pool),
                      _principal=principal or Principal("admin", shop))
    result = await schema.execute(query, variable_values=variables, context_value=context)
    assert result.errors is None, result.errors
    assert result.data is not None
    return result.data


async def sums_differ(pool: asyncpg.Pool, shop: str) -> list[dict]:
    """Accounts and wallets of the shop whose sums are not their ledger's (empty: they all agree)."""
    return [dict(r) for r in await pool.fetch(LEDGER_SUMS, shop, None)
            + await pool.fetch(WALLET_SUMS, shop, None)]
