"""Fixtures for the shared plumbing against the real PostgreSQL and RabbitMQ: a throwaway
database per test session and a throwaway exchange and queue names per test, so these tests never
touch the running services' data."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import aio_pika
import asyncpg
import pytest

from shared.auth import Principal
from shared.db import SHARED_MIGRATIONS, Connection, create_pool, migrate
from shared.graphql import Context
from shared.settings import Settings

SERVICES = Path(__file__).resolve().parents[2] / "services"


@pytest.fixture(scope="session")
def settings() -> Settings:
    return Settings.from_env("test")


@contextlib.asynccontextmanager
async def throwaway_database(settings: Settings, *services: str) -> AsyncIterator[str]:
    """A fresh database with the shared migrations and those of the named services; dropped after."""
    name = f"flywheel_test_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(settings.dsn("postgres"))
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        dsn = settings.dsn(name)
        await migrate(dsn, [("shared", SHARED_MIGRATIONS)] + [(s, SERVICES / s / "migrations") for s in services])
        yield dsn
    finally:
        try:
            # Plain DROP stops an autovacuum worker by itself, where FORCE would have to terminate it and
            # a non-superuser may not (busy throwaway databases often have one at work).
            await admin.execute(f'DROP DATABASE "{name}"')
        except asyncpg.ObjectInUseError:  # a test left a connection of its own open
            await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await admin.close()


async def migrate_until(dsn: str, service: str, version: str, scratch: Path) -> None:
    """Apply the shared migrations and the service's migrations numbered below `version`, as a
    database last migrated before that version would be (for testing what a migration does to data
    that is already there). The files keep their names and text, so a later full migrate goes on
    from there."""
    folder = scratch / f"{service}-before-{version}"
    folder.mkdir()
    for path in sorted((SERVICES / service / "migrations").glob("*.sql")):
        if path.name < version:
            (folder / path.name).write_text(path.read_text())
    await migrate(dsn, [("shared", SHARED_MIGRATIONS), (service, folder)])


@pytest.fixture(scope="session")
async def scratch_dsn(settings):
    async with throwaway_database(settings) as dsn:
        yield dsn


@pytest.fixture(scope="session")
async def pool(scratch_dsn):
    pool = await create_pool(scratch_dsn, max_size=20)
    await pool.execute(
        "CREATE TABLE IF NOT EXISTS effects (event_id text NOT NULL, note text, at timestamptz DEFAULT now())"
    )
    yield pool
    await pool.close()


@pytest.fixture
async def names(settings):
    """Unique exchange and queue names for one test, deleted afterwards."""
    tag = uuid.uuid4().hex[:8]
    made = {"exchange": f"test.{tag}.events", "queue": f"test.{tag}.events"}
    yield made
    connection = await aio_pika.connect(settings.amqp_url)
    async with connection:
        channel = await connection.channel()
        for suffix in ("", ".dlq", ".retry.100", ".retry.200", ".probe"):
            try:
                await channel.queue_delete(made["queue"] + suffix)
            except Exception:
                channel = await connection.channel()
        try:
            await channel.exchange_delete(made["exchange"])
        except Exception:
            pass


class Statements:
    """Every statement a logged pool's connections run, in order (`logged_pool`)."""

    def __init__(self) -> None:
        self.logged: list[str] = []

    def log(self, record: asyncpg.connection.LoggedQuery) -> None:
        self.logged.append(record.query)

    @contextlib.asynccontextmanager
    async def counted(self) -> AsyncIterator[list[str]]:
        """The statements run inside the block (filled in when it ends)."""
        start, ran = len(self.logged), []
        yield ran
        for _ in range(3):  # query loggers are called soon after the statement, not during it
            await asyncio.sleep(0)
        ran.extend(self.logged[start:])


@contextlib.asynccontextmanager
async def logged_pool(dsn: str, statements: Statements, max_size: int = 10) -> AsyncIterator[asyncpg.Pool]:
    """The services' own pool (shared.db.create_pool) on `dsn`, each statement logged in `statements`."""
    async def log(conn: Connection) -> None:
        conn.add_query_logger(statements.log)
    pool = await create_pool(dsn, max_size=max_size, then=log)
    try:
        yield pool
    finally:
        await pool.close()


async def run_graphql(schema: Any, pool: asyncpg.Pool, shop: str, query: str, variables: dict | None = None,
                      principal: Principal | None = None) -> dict:
    """Run one request on a subgraph's schema, as its endpoint would (a fresh context)."""
    runtime = SimpleNamespace(pool=pool, settings=Settings.from_env("test"))
    context = Context(request=None, response=None, runtime=runtime, _principal=principal or Principal("admin", shop))
    result = await schema.execute(query, variable_values=variables, context_value=context)
    assert result.errors is None, result.errors
    assert result.data is not None
    return dict(result.data)
