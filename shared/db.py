"""Database plumbing: the asyncpg pool and the migrations runner.

Migrations are plain numbered SQL files. The shared ones (outbox, inbox, schedule) are applied to
every service's database first, then the service's own. A Postgres advisory lock makes concurrent
starts of several instances apply each file exactly once.

Each file runs in one transaction, except a file whose first line is `-- migrate: without transaction`:
it holds one statement that Postgres refuses inside a transaction (CREATE INDEX CONCURRENTLY, which
builds an index on a large table without blocking its writers). Such a statement must be safe to run
again (IF NOT EXISTS), since a crash between it and its bookkeeping row applies it twice.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

import asyncpg

log = logging.getLogger(__name__)

SHARED_MIGRATIONS = Path(__file__).parent / "migrations"
WITHOUT_TRANSACTION = "-- migrate: without transaction\n"
_MIGRATION_LOCK = 7_202_611  # any constant; all services use their own database, so no clash


async def init_connection(conn: asyncpg.Connection) -> None:
    for pg_type in ("json", "jsonb"):
        await conn.set_type_codec(
            pg_type, encoder=json.dumps, decoder=json.loads, schema="pg_catalog", format="text"
        )


async def create_pool(dsn: str, *, min_size: int = 1, max_size: int = 10) -> asyncpg.Pool:
    return await asyncpg.create_pool(
        dsn, min_size=min_size, max_size=max_size, init=init_connection, command_timeout=30
    )


def _migration_files(folder: Path) -> list[Path]:
    files = sorted(folder.glob("*.sql"))
    versions = [f.name.split("_", 1)[0] for f in files]
    if len(set(versions)) != len(versions):
        raise RuntimeError(f"two migrations share a number in {folder}")
    return files


async def migrate(dsn: str, scopes: list[tuple[str, Path]]) -> list[str]:
    """Apply every pending migration of each (scope, folder) in order; return what was applied."""
    applied: list[str] = []
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("SELECT pg_advisory_lock($1)", _MIGRATION_LOCK)
        try:
            await conn.execute(
                """CREATE TABLE IF NOT EXISTS schema_migrations (
                       scope text NOT NULL,
                       version text NOT NULL,
                       name text NOT NULL,
                       checksum text NOT NULL,
                       applied_at timestamptz NOT NULL DEFAULT now(),
                       PRIMARY KEY (scope, version))"""
            )
            for scope, folder in scopes:
                done = {
                    r["version"]: r["checksum"]
                    for r in await conn.fetch(
                        "SELECT version, checksum FROM schema_migrations WHERE scope = $1", scope
                    )
                }
                for path in _migration_files(folder):
                    version = path.name.split("_", 1)[0]
                    sql = path.read_text()
                    checksum = hashlib.sha256(sql.encode()).hexdigest()
                    if version in done:
                        if done[version] != checksum:
                            # An applied migration was edited: refuse rather than drift silently.
                            raise RuntimeError(f"migration {scope}/{path.name} changed after it was applied")
                        continue
                    record = ("INSERT INTO schema_migrations (scope, version, name, checksum) VALUES ($1, $2, $3, $4)",
                              scope, version, path.name, checksum)
                    if sql.startswith(WITHOUT_TRANSACTION):
                        await conn.execute(sql)  # one statement: the simple protocol runs it on its own
                        await conn.execute(*record)
                    else:
                        async with conn.transaction():
                            await conn.execute(sql)
                            await conn.execute(*record)
                    applied.append(f"{scope}/{path.name}")
                    log.info("applied migration %s/%s", scope, path.name)
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", _MIGRATION_LOCK)
    finally:
        await conn.close()
    return applied
