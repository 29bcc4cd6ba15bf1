"""The Postgres schedule: due jobs run once, survive in the table, retry with backoff, cancel."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

from shared import schedule
from shared.schedule import Scheduler


async def job_row(pool, key):
    return await pool.fetchrow("SELECT * FROM scheduled_jobs WHERE dedup_key = $1", key)


async def test_a_due_job_runs_once_even_with_competing_workers(pool):
    key, runs = f"k-{uuid.uuid4()}", []

    async def handler(conn, job):
        runs.append(job.dedup_key)
        await conn.execute("INSERT INTO effects (event_id, note) VALUES ($1, 'job')", job.dedup_key)

    async with pool.acquire() as conn:
        assert await schedule.schedule(conn, shop="default", kind="test.once", dedup_key=key,
                                       due_at=datetime.now(UTC), payload={"n": 1})
        assert not await schedule.schedule(conn, shop="default", kind="test.once", dedup_key=key,
                                           due_at=datetime.now(UTC))
    workers = [Scheduler(pool, {"test.once": handler}) for _ in range(3)]
    await asyncio.gather(*(w.run_one() for w in workers for _ in range(2)))
    assert runs == [key]
    assert (await job_row(pool, key))["status"] == "done"
    assert await pool.fetchval("SELECT count(*) FROM effects WHERE event_id = $1", key) == 1


async def test_a_job_not_yet_due_waits_and_a_cancelled_job_never_runs(pool):
    later, cancelled, runs = f"later-{uuid.uuid4()}", f"cancel-{uuid.uuid4()}", []

    async def handler(conn, job):
        runs.append(job.dedup_key)

    async with pool.acquire() as conn:
        await schedule.schedule(conn, shop="default", kind="test.wait", dedup_key=later,
                                due_at=datetime.now(UTC) + timedelta(days=7))
        await schedule.schedule(conn, shop="default", kind="test.wait", dedup_key=cancelled,
                                due_at=datetime.now(UTC))
        assert await schedule.cancel(conn, shop="default", kind="test.wait", dedup_key_prefix="cancel-") >= 1
    assert not await Scheduler(pool, {"test.wait": handler}).run_one()
    assert runs == []
    assert (await job_row(pool, cancelled))["status"] == "cancelled"


async def test_a_failing_job_backs_off_and_finally_fails(pool):
    key = f"fail-{uuid.uuid4()}"
    seen_final = []

    async def handler(conn, job):
        seen_final.append(job.final_attempt)
        await conn.execute("INSERT INTO effects (event_id, note) VALUES ($1, 'must roll back')", job.dedup_key)
        raise RuntimeError("provider down")

    async with pool.acquire() as conn:
        await schedule.schedule(conn, shop="default", kind="test.fail", dedup_key=key, due_at=datetime.now(UTC))
    scheduler = Scheduler(pool, {"test.fail": handler}, max_attempts=2)
    assert await scheduler.run_one()
    row = await job_row(pool, key)
    assert (row["status"], row["attempts"]) == ("pending", 1)
    assert row["due_at"] > datetime.now(UTC) + timedelta(seconds=5)  # backed off
    assert "provider down" in row["last_error"]
    await pool.execute("UPDATE scheduled_jobs SET due_at = now() WHERE dedup_key = $1", key)
    assert await scheduler.run_one()
    assert (await job_row(pool, key))["status"] == "failed"
    assert seen_final == [False, True]
    assert await pool.fetchval("SELECT count(*) FROM effects WHERE event_id = $1", key) == 0
