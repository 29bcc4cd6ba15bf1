"""Database plumbing: the asyncpg pool and the migrations runner.

Migrations are plain numbered SQL files. The shared ones (outbox, inbox, schedule) are applied to
every service's database first, then the service's own. A Postgres advisory lock makes concurrent
starts of several instances apply each file exactly once.

Use cases open their transaction with `transaction(pool)`: it also scopes a memo (`remembered`) for
what several steps of one transaction read (a shop's program, say), so it is read once per
transaction and never carried into the next one. A consumer's batch of events is one transaction
with a savepoint per event (shared/inbox.py): the events share the batch's memo, and each event sees
it through `savepoint_memo`, so what a rolled-back event remembered or forgot leaves no trace.
Upkeep that only depends on the state a transaction ends with (a customer's summary and segment) is
asked for with `at_end`: it runs once per key, after the last step, before the commit.

Each migration file runs in one transaction, except a file whose first line is `-- migrate: without transaction`:
it holds one statement that Postgres refuses inside a transaction (CREATE INDEX CONCURRENTLY, which
builds an index on a large table without blocking its writers). Such a statement must be safe to run
again (IF NOT EXISTS), since a crash between it and its bookkeeping row applies it twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import hashlib
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextvars import ContextVar
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeAlias, TypeVar, cast

import asyncpg

if TYPE_CHECKING:
    from asyncpg.pool import PoolConnectionProxy

    # What a transaction runs on: a connection taken from the pool (a proxy of one) or a plain one.
    Connection: TypeAlias = asyncpg.Connection[asyncpg.Record] | PoolConnectionProxy[asyncpg.Record]
    _PlainConnection = asyncpg.Connection[asyncpg.Record]
else:
    Connection = _PlainConnection = asyncpg.Connection  # generic only in the stubs
Isolation: TypeAlias = Literal["read_committed", "repeatable_read", "serializable"]
# What a single read may run on: a transaction's connection, or the pool itself.
Executor: TypeAlias = "Connection | asyncpg.Pool"

log = logging.getLogger(__name__)
T = TypeVar("T")

SHARED_MIGRATIONS = Path(__file__).parent / "migrations"
WITHOUT_TRANSACTION = "-- migrate: without transaction\n"
_MIGRATION_LOCK = 7_202_611  # any constant; all services use their own database, so no clash


async def init_connection(conn: Connection) -> None:
    for pg_type in ("json", "jsonb"):
        await conn.set_type_codec(
            pg_type, encoder=json.dumps, decoder=json.loads, schema="pg_catalog", format="text"
        )


class PooledConnection(_PlainConnection):
    """A pool's connection, handed back without the reset statement asyncpg would otherwise send
    (advisory unlock, CLOSE ALL, UNLISTEN, RESET ALL): a round trip per release, a sixth of a
    subgraph's CPU on a panel read. Pooled connections keep no session state: a transaction's locks
    are `pg_advisory_xact_lock`, LISTEN has a connection of its own (shared/outbox.py), nothing runs
    SET outside a transaction. asyncpg still rolls back a transaction left open."""

    def get_reset_query(self) -> str:
        return ""


async def create_pool(dsn: str, *, min_size: int = 1, max_size: int = 10,
                      then: Callable[[Connection], Awaitable[None]] | None = None) -> asyncpg.Pool:
    """The pool every service reads and writes through; `then` prepares each new connection further
    (the tests log its statements)."""
    async def init(conn: Connection) -> None:
        await init_connection(conn)
        if then is not None:
            await then(conn)
    return await asyncpg.create_pool(
        dsn, min_size=min_size, max_size=max_size, init=init, command_timeout=30,
        connection_class=PooledConnection,
    )


_memo: ContextVar[dict[str, Any] | None] = ContextVar("flywheel_transaction_memo", default=None)
_AT_END = "\x00at_end"  # the memo's entry for the work `at_end` put off: key -> work
_LOADING = "\x00loading:"  # + key: the load of `key` under way (remembered)


@contextlib.contextmanager
def memo_scope() -> Iterator[None]:
    """A fresh memo for the transaction (or savepoint) about to run in this task. Its `at_end` work
    is run by `end_scope` (or `ending_scope`), not by leaving this block."""
    token = _memo.set({})
    try:
        yield
    finally:
        _memo.reset(token)


@contextlib.asynccontextmanager
async def ending_scope() -> AsyncIterator[None]:
    """memo_scope() whose `at_end` work runs when the block ends without an error: for a transaction
    (or a job's savepoint) about to run in this task."""
    with memo_scope():
        yield
        await run_at_end()


def _own_copy(value: Any) -> Any:
    # Remembered values are treated as read-only, except the containers a step adds to (the accounts
    # this transaction holds): a savepoint gets its own copy of those.
    return copy.copy(value) if isinstance(value, set | dict | list) else value


@contextlib.contextmanager
def savepoint_memo() -> Iterator[None]:
    """The memo of one savepoint of the current transaction (one event of a batch): it starts as
    what the transaction remembers so far; when the block ends without an error, what the savepoint
    remembered, forgot or put off becomes the transaction's; when it raises (its savepoint rolled
    back), the transaction's memo is as it was before. Outside a memo, a fresh one."""
    parent = _memo.get()
    child = {} if parent is None else {k: _own_copy(v) for k, v in parent.items()}
    token = _memo.set(child)
    try:
        yield
    finally:
        _memo.reset(token)
    if parent is not None:  # reached only without an error
        parent.clear()
        parent.update(child)


@contextlib.asynccontextmanager
async def transaction(pool: asyncpg.Pool, *, isolation: Isolation | None = None,
                      readonly: bool = False) -> AsyncIterator[Connection]:
    """A pooled connection inside one transaction, with its own memo (and its `at_end` work run
    before the commit): the one way a use case opens its transaction."""
    async with pool.acquire() as conn:
        async with conn.transaction(isolation=isolation, readonly=readonly):
            async with ending_scope():
                yield conn


async def remembered(key: str, load: Callable[[], Awaitable[T]]) -> T:
    """`load()` once per transaction (or query, shared.graphql.QueryMemo) for `key`; outside a memo,
    every time. A query's fields run at once: one that asks while another is loading waits for that
    load instead of running its own."""
    memo = _memo.get()
    if memo is None:
        return await load()
    if key in memo:
        return cast(T, memo[key])
    loading = _LOADING + key
    pending: asyncio.Future[T] | None = memo.get(loading)
    if pending is not None:
        return await asyncio.shield(pending)
    pending = memo[loading] = asyncio.get_running_loop().create_future()
    try:
        value = await load()
    except asyncio.CancelledError:
        pending.cancel()
        raise
    except BaseException as exc:
        pending.set_exception(exc)
        pending.exception()  # those waiting get it; with none waiting it is not "never retrieved"
        raise
    finally:
        memo.pop(loading, None)
    memo[key] = value
    pending.set_result(value)
    return value


def forget(key: str) -> None:
    """Drop a remembered value that the transaction has just changed."""
    memo = _memo.get()
    if memo is not None:
        memo.pop(key, None)


async def at_end(key: str, work: Callable[[], Awaitable[None]]) -> None:
    """Run `work()` once for `key` when the transaction's steps are done, just before it commits,
    however many steps ask for it: upkeep that only depends on the state the transaction ends with
    (a customer's order summary and segment after a batch of their events). A later request under
    the same key replaces the earlier work. Outside a transaction's memo, `work()` runs now."""
    memo = _memo.get()
    if memo is None:
        await work()
        return
    pending = memo.setdefault(_AT_END, {})
    pending.pop(key, None)  # re-inserted last: the work runs in the order of the latest requests
    pending[key] = work


async def run_at_end() -> None:
    """Run the `at_end` work of the current memo (and whatever that work puts off in turn), in the
    order it was asked for. The transaction and `shared/inbox.py`'s batches call this before their
    commit; an error propagates, so the transaction rolls back."""
    memo = _memo.get()
    while memo is not None and (pending := memo.get(_AT_END)):
        key = next(iter(pending))
        work = pending.pop(key)
        await work()


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
