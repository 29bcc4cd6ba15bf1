"""The machine's own limit for the ledger transaction, measured with pgbench.

The transaction is the heart of every points change: insert a ledger row with a unique source id
(the idempotency key) and move the account's balance, in one transaction, on the points service's
real tables (its migrations are applied to a scratch database, so the indexes, the unique key, the
foreign key and the append-only trigger all cost what they cost in the service). Whatever the
services do on top — HTTP, GraphQL, RabbitMQ, the inbox and outbox rows — can only be slower, so
"orders → points" is reported as a fraction of this.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import asyncpg

from shared.db import migrate
from tests.bench.load import percentile
from tests.conftest import ROOT
from tests.stack import dsn

DATABASE = "flywheel_bench_ledger"
SHOP = "pgbench"
ACCOUNTS = 10_000

TRANSACTION = f"""\\set c random(1, {ACCOUNTS})
BEGIN;
INSERT INTO ledger_entries (shop_id, customer_id, kind, delta, reason, idempotency_key, actor, rule_version)
    VALUES ('{SHOP}', 'c' || :c, 'earn', 10, 'pgbench', gen_random_uuid()::text, 'bench', 1);
UPDATE accounts SET balance = balance + 10, lifetime_earned = lifetime_earned + 10, updated_at = now()
    WHERE shop_id = '{SHOP}' AND customer_id = 'c' || :c;
END;
"""


def _admin_dsn() -> str:
    return dsn("points")


async def _prepare() -> str:
    """A fresh scratch database with the points service's schema and 10k accounts."""
    await _drop()
    admin = await asyncpg.connect(_admin_dsn())
    try:
        await admin.execute(f"CREATE DATABASE {DATABASE}")
    finally:
        await admin.close()
    scratch = _admin_dsn().rsplit("/", 1)[0] + f"/{DATABASE}"
    await migrate(scratch, [("points", ROOT / "services" / "points" / "migrations")])
    conn = await asyncpg.connect(scratch)
    try:
        await conn.execute("""INSERT INTO accounts (shop_id, customer_id)
                              SELECT $1, 'c' || g FROM generate_series(1, $2::int) g""", SHOP, ACCOUNTS)
        await conn.execute("VACUUM ANALYZE accounts")
    finally:
        await conn.close()
    return scratch


async def _drop() -> None:
    # Without FORCE: pgbench has exited, and DROP DATABASE stops an autovacuum worker by itself (after
    # ten seconds of ledger inserts one is often at work there), where FORCE would have to terminate it
    # and a non-superuser may not (CI: InsufficientPrivilegeError).
    admin = await asyncpg.connect(_admin_dsn())
    try:
        await admin.execute(f"DROP DATABASE IF EXISTS {DATABASE}")
    finally:
        await admin.close()


def _pgbench() -> str:
    found = shutil.which("pgbench")
    if found:
        return found
    for candidate in sorted(Path("/usr/lib/postgresql").glob("*/bin/pgbench"), reverse=True):
        return str(candidate)
    raise RuntimeError("pgbench not found (Debian: it comes with the postgresql package)")


def _latencies(folder: Path) -> list[float]:
    """Seconds per transaction from pgbench's logs (client, transaction, time in µs, …)."""
    return [int(line.split()[2]) / 1_000_000
            for log in folder.glob("tx*") for line in log.read_text().splitlines() if line]


async def run(seconds: float, clients: int) -> dict:
    await _prepare()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            script = Path(tmp) / "ledger.sql"
            script.write_text(TRANSACTION)
            env = {**os.environ, "PGPASSWORD": os.environ["PG_PASSWORD"]}
            command = [_pgbench(), "-n", "-h", os.environ["PG_HOST"], "-p", os.environ["PG_PORT"],
                       "-U", os.environ["PG_USER"], "-c", str(clients), "-j", str(min(clients, os.cpu_count() or 1)),
                       "-T", str(int(seconds)), "-f", str(script), "-l", "--log-prefix", str(Path(tmp) / "tx"),
                       DATABASE]
            done = await asyncio.to_thread(subprocess.run, command, env=env, cwd=tmp, capture_output=True,
                                           text=True, check=True)
            out = done.stdout
            # Per-transaction log lines: client_id transaction_no time(µs) script_no epoch epoch_µs
            latencies = _latencies(Path(tmp))
    finally:
        await _drop()
    tps = next(float(line.split("=")[1].split()[0]) for line in out.splitlines() if line.startswith("tps ="))
    return {
        "transactions": len(latencies),
        "tx_per_s": round(tps, 1),
        "p50_ms": round(percentile(latencies, 50) * 1000, 2),
        "p99_ms": round(percentile(latencies, 99) * 1000, 2),
        "clients": clients,
        "seconds": seconds,
        "what": "INSERT ledger row (unique idempotency key) + UPDATE balance, one transaction, points schema",
    }
