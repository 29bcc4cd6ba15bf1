"""Delayed work of the customers service (shared.schedule): the daily segment/RFM pass per shop
and the birthday greeting per customer. Each handler runs in the job's transaction."""

from __future__ import annotations

from datetime import UTC, datetime

import asyncpg

from services.customers import store
from shared.schedule import Job, JobHandler


async def daily_pass(conn: asyncpg.Connection, job: Job) -> None:
    now = datetime.now(UTC)
    await store.refresh_shop(conn, job.shop, now)
    await store.schedule_daily(conn, job.shop, now)


async def birthday(conn: asyncpg.Connection, job: Job) -> None:
    await store.greet_birthday(conn, job.shop, job.payload["customer_id"], int(job.payload["year"]))


JOBS: dict[str, JobHandler] = {
    store.DAILY_JOB: daily_pass,
    store.BIRTHDAY_JOB: birthday,
}
