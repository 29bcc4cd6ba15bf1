import asyncio
import uuid
from pathlib import Path

import asyncpg
import pytest

from shared.db import SHARED_MIGRATIONS, migrate

POINTS = Path(__file__).resolve().parents[2] / "services" / "points" / "migrations"


async def test_concurrent_starts_apply_each_migration_once(settings):
    name = f"flywheel_test_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(settings.dsn("postgres"))
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        scopes = [("shared", SHARED_MIGRATIONS), ("points", POINTS)]
        results = await asyncio.gather(*(migrate(settings.dsn(name), scopes) for _ in range(4)))
        applied = [m for r in results for m in r]
        expected = len(list(SHARED_MIGRATIONS.glob("*.sql"))) + len(list(POINTS.glob("*.sql")))
        assert len(applied) == expected and len(set(applied)) == expected
        conn = await asyncpg.connect(settings.dsn(name))
        assert await conn.fetchval("SELECT count(*) FROM schema_migrations") == expected
        assert await migrate(settings.dsn(name), scopes) == []  # a restart applies nothing
        await conn.close()
    finally:
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await admin.close()


async def test_the_points_ledger_is_append_only(settings):
    name = f"flywheel_test_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(settings.dsn("postgres"))
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        await migrate(settings.dsn(name), [("shared", SHARED_MIGRATIONS), ("points", POINTS)])
        conn = await asyncpg.connect(settings.dsn(name))
        await conn.execute("INSERT INTO accounts (shop_id, customer_id, balance) VALUES ('s', 'c', 5)")
        await conn.execute(
            "INSERT INTO ledger_entries (shop_id, customer_id, kind, delta, reason, idempotency_key, actor)"
            " VALUES ('s', 'c', 'earn', 5, 'test', 'k1', 'test')"
        )
        with pytest.raises(asyncpg.RaiseError, match="append-only"):
            await conn.execute("UPDATE ledger_entries SET delta = 500")
        with pytest.raises(asyncpg.RaiseError, match="append-only"):
            await conn.execute("DELETE FROM ledger_entries")
        with pytest.raises(asyncpg.CheckViolationError):
            await conn.execute("UPDATE accounts SET balance = -1")
        await conn.close()
    finally:
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await admin.close()


async def test_a_migration_marked_without_transaction_builds_an_index_concurrently(settings, tmp_path):
    """CREATE INDEX CONCURRENTLY is refused inside a transaction; the marker runs it on its own."""
    index = "CREATE INDEX CONCURRENTLY IF NOT EXISTS things_name ON things (name);\n"
    (tmp_path / "0001_things.sql").write_text("CREATE TABLE things (id int PRIMARY KEY, name text);\n")
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "0001_index.sql").write_text(index)
    (tmp_path / "0002_index.sql").write_text("-- migrate: without transaction\n-- builds without blocking\n" + index)
    name = f"flywheel_test_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(settings.dsn("postgres"))
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        with pytest.raises(asyncpg.ActiveSQLTransactionError):
            await migrate(settings.dsn(name), [("things", tmp_path), ("plain", plain)])
        assert await migrate(settings.dsn(name), [("things", tmp_path)]) == []  # both applied before the failure
        conn = await asyncpg.connect(settings.dsn(name))
        try:
            assert await conn.fetchval(
                "SELECT indisvalid FROM pg_index WHERE indexrelid = 'things_name'::regclass") is True
            assert await conn.fetchval("SELECT count(*) FROM schema_migrations WHERE scope = 'things'") == 2
            assert await conn.fetchval("SELECT count(*) FROM schema_migrations WHERE scope = 'plain'") == 0
        finally:
            await conn.close()
    finally:
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await admin.close()
