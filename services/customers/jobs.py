"""Delayed work of the customers service (shared.schedule): the daily segment/RFM pass per shop
and the birthday greeting per customer. Each handler runs in the job's transaction."""

from __future__ import annotations

from datetime import UTC, datetime

from services.customers import store
from shared import schedule
from shared.db import Connection
from shared.schedule import Job, JobHandler


async def daily_pass(conn: Connection, job: Job) -> None:
    """One batch of the shop's daily pass per job. When more customers follow, the next batch is a
    job of its own, due at once, so each batch commits on its own: a large shop's pass (1M customers,
    two minutes) never holds the customers it moved locked until the end, where their orders would
    wait. The batches share the pass's `now`; the last one scores RFM and schedules the next day."""
    now = datetime.fromisoformat(job.payload["now"]) if "now" in job.payload else datetime.now(UTC)
    size = int(job.payload.get("batch", store.DAILY_BATCH))
    last, _ = await store.refresh_segments_batch(conn, job.shop, now, job.payload.get("after", ""), size)
    if last is not None:
        await schedule.schedule(
            conn, shop=job.shop, kind=store.DAILY_JOB, dedup_key=f"{job.dedup_key.split('>')[0]}>{last}",
            due_at=datetime.now(UTC),
            payload={"now": now.isoformat(), "after": last, "batch": size},
        )
        return
    await store.finish_daily_pass(conn, job.shop, now)
    await store.schedule_daily(conn, job.shop, now)


async def birthday(conn: Connection, job: Job) -> None:
    await store.greet_birthday(conn, job.shop, job.payload["customer_id"], int(job.payload["year"]))


JOBS: dict[str, JobHandler] = {
    store.DAILY_JOB: daily_pass,
    store.BIRTHDAY_JOB: birthday,
}
