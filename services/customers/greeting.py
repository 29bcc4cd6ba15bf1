"""The birthday greeting: scheduled for the customer's local morning (birthdays.py), published as
customer.birthday once per customer and year, then scheduled for the next year. Runs inside the
caller's transaction (a profile's save, the job, an erasure)."""

from __future__ import annotations

from datetime import UTC, datetime

import asyncpg

from services.customers import SOURCE, birthdays, store
from shared import events, outbox, schedule
from shared.db import Connection
from shared.schedule import Job

JOB_KIND = "customer.birthday"


async def schedule_next(conn: Connection, shop: str, customer: asyncpg.Record, *, year: int | None = None) -> None:
    """The customer's next greeting (or that of `year`); none without a birthday or once erased."""
    if customer["birthday"] is None or customer["erased_at"] is not None:
        return
    if year is None:
        year, due = birthdays.next_greeting(customer["birthday"], customer["timezone"], datetime.now(UTC))
    else:
        due = birthdays.greeting_at(customer["birthday"], customer["timezone"], year)
    await schedule.schedule(
        conn, shop=shop, kind=JOB_KIND, dedup_key=birthdays.job_key(customer["id"], customer["birthday"], year),
        due_at=due, payload={"customer_id": customer["id"], "year": year},
    )


async def cancel(conn: Connection, shop: str, customer_id: str) -> None:
    await schedule.cancel(conn, shop=shop, kind=JOB_KIND, dedup_key_prefix=birthdays.job_prefix(customer_id))


async def greet(conn: Connection, job: Job) -> None:
    """The job: publish customer.birthday once per customer and year, then schedule next year's."""
    shop, customer_id, year = job.shop, job.payload["customer_id"], int(job.payload["year"])
    customer = await store.profiles.lock(conn, shop, customer_id)
    if customer is None or customer["birthday"] is None or customer["erased_at"] is not None:
        return
    if (customer["birthday_greeted_year"] or 0) < year and birthdays.is_birthday(
            customer["birthday"], customer["timezone"], datetime.now(UTC), year):
        await store.profiles.mark_greeted(conn, shop, customer_id, year)
        await outbox.add(conn, events.CustomerBirthday(shop=shop, customer_id=customer_id, year=year), source=SOURCE)
    await schedule_next(conn, shop, customer, year=year + 1)
