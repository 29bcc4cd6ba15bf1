import uuid
from datetime import UTC, datetime, timedelta

from shared import schedule


async def test_reschedule_moves_only_a_pending_job(pool):
    key = f"move-{uuid.uuid4()}"
    async with pool.acquire() as conn:
        await schedule.schedule(conn, shop="default", kind="test.move", dedup_key=key,
                                due_at=datetime.now(UTC) + timedelta(hours=1))
        soon = datetime.now(UTC) + timedelta(seconds=1)
        assert await schedule.reschedule(conn, shop="default", kind="test.move", dedup_key=key, due_at=soon)
        assert await conn.fetchval("SELECT due_at FROM scheduled_jobs WHERE dedup_key = $1", key) == soon
        await schedule.cancel(conn, shop="default", kind="test.move", dedup_key_prefix=key)
        assert not await schedule.reschedule(conn, shop="default", kind="test.move", dedup_key=key, due_at=soon)


async def test_forget_cancelled_deletes_only_cancelled_jobs_of_the_prefix(pool):
    key = f"forget-{uuid.uuid4()}"
    async with pool.acquire() as conn:
        for suffix in ("a", "b"):
            await schedule.schedule(conn, shop="default", kind="test.forget", dedup_key=f"{key}:{suffix}",
                                    due_at=datetime.now(UTC) + timedelta(hours=1))
        await schedule.cancel(conn, shop="default", kind="test.forget", dedup_key_prefix=f"{key}:a")
        assert await schedule.forget_cancelled(conn, shop="default", kind="test.forget", dedup_key_prefix=key) == 1
        left = await conn.fetch("SELECT dedup_key, status FROM scheduled_jobs WHERE starts_with(dedup_key, $1)", key)
        assert [(r["dedup_key"], r["status"]) for r in left] == [(f"{key}:b", "pending")]
