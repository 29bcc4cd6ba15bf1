"""The services' connection pool (shared.db.create_pool) on real PostgreSQL: a connection goes back
without asyncpg's reset statement (a round trip per release), and what that reset was for still
holds: a transaction left open is rolled back before the next user gets the connection."""

from __future__ import annotations

import pytest

from tests.integration.conftest import Statements, logged_pool, throwaway_database


@pytest.fixture(scope="module")
def statements() -> Statements:
    return Statements()


@pytest.fixture(scope="module")
async def pool(settings, statements):
    async with throwaway_database(settings) as dsn, logged_pool(dsn, statements, max_size=1) as pool:
        yield pool


async def test_a_connection_goes_back_to_the_pool_without_a_statement(pool, statements):
    async with statements.counted() as ran:
        async with pool.acquire() as conn:
            assert await conn.fetchval("SELECT 41 + 1") == 42
        async with pool.acquire() as conn:  # the same connection (max_size 1), after its release
            assert await conn.fetchval("SELECT 2") == 2
    assert ran == ["SELECT 41 + 1", "SELECT 2"]


async def test_a_transaction_left_open_is_rolled_back_before_the_next_user(pool):
    async with pool.acquire() as conn:
        await conn.execute("BEGIN")
        await conn.execute("CREATE TABLE left_open (x int)")
    async with pool.acquire() as conn:
        assert not conn.is_in_transaction()
        assert await conn.fetchval("SELECT to_regclass('left_open')") is None
