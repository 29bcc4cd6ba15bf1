"""Fixtures for the shared plumbing against the real PostgreSQL and RabbitMQ: a throwaway
database per test session and a throwaway exchange and queue names per test, so these tests never
touch the running services' data."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import aio_pika
import asyncpg
import pytest

from shared.db import SHARED_MIGRATIONS, create_pool, migrate
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
