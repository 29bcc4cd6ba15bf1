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
