"""Delayed work in Postgres: jobs with a due time, claimed one per transaction with
FOR UPDATE SKIP LOCKED so several workers (and several instances) never take the same job.

A job's effect and its `done` mark commit together. A handler that talks to the outside world
(SMTP, a provider) may repeat its call if the process dies after the call and before the commit:
at-least-once towards the outside, exactly-once inside.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any

import asyncpg
from opentelemetry import context as otel_context
from opentelemetry.trace import SpanKind, Status, StatusCode

from shared.background import BackgroundLoops
from shared.db import Connection, ending_scope
from shared.telemetry import context_from, inject_into, quiet, tracer

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Job:
    id: int
    shop: str
    kind: str
    dedup_key: str
    due_at: datetime
    payload: dict[str, Any]
    attempts: int  # failed runs before this one
    final_attempt: bool  # a handler may record its own failure (and return) rather than raise


JobHandler = Callable[[Connection, Job], Awaitable[None]]


async def schedule(
    conn: Connection,
    *,
    shop: str,
    kind: str,
    dedup_key: str,
    due_at: datetime,
    payload: dict[str, Any] | None = None,
) -> bool:
    """Schedule a job once per (shop, kind, dedup_key). False when it already existed."""
    return await schedule_all(conn, shop=shop, jobs=[Planned(kind, dedup_key, due_at, payload)]) == 1


@dataclass(frozen=True)
class Planned:
    """A job to schedule with others (`schedule_all`)."""
    kind: str
    dedup_key: str
    due_at: datetime
    payload: dict[str, Any] | None = None


async def schedule_all(conn: Connection, *, shop: str, jobs: Sequence[Planned]) -> int:
    """Several jobs of a shop with one statement, each once per (shop, kind, dedup_key) as `schedule`
    does: the reminder and the lapse an activity plans, say. The number of jobs created now."""
    if not jobs:
        return 0
    carrier = inject_into({})
    rows = ", ".join(f"($1, ${3 + 4 * i}, ${4 + 4 * i}, ${5 + 4 * i}, ${6 + 4 * i}, $2)" for i in range(len(jobs)))
    args: list[Any] = [shop, carrier.get("traceparent")]
    for job in jobs:
        args += [job.kind, job.dedup_key, job.due_at, job.payload or {}]
    created = await conn.fetch(
        f"""INSERT INTO scheduled_jobs (shop_id, kind, dedup_key, due_at, payload, traceparent)
            VALUES {rows}
            ON CONFLICT (shop_id, kind, dedup_key) DO NOTHING
            RETURNING true""",
        *args,
    )
    return len(created)


async def schedule_daily(conn: Connection, *, shop: str, kind: str, hour: int, after: datetime) -> None:
    """A shop's daily job at `hour` UTC, the next one after `after`; once per shop, kind and day, whoever
    schedules it first (the day is its dedup key)."""
    due = datetime.combine(after.astimezone(UTC).date(), time(hour), tzinfo=UTC)
    if due <= after:
        due += timedelta(days=1)
    await schedule(conn, shop=shop, kind=kind, dedup_key=due.date().isoformat(), due_at=due)


async def cancel(conn: Connection, *, shop: str, kind: str, dedup_key_prefix: str) -> int:
    """Cancel pending jobs of a kind whose key starts with the prefix; return how many."""
    result = await conn.execute(
        """UPDATE scheduled_jobs SET status = 'cancelled', updated_at = now()
           WHERE shop_id = $1 AND kind = $2 AND status = 'pending'
             AND starts_with(dedup_key, $3)""",
        shop, kind, dedup_key_prefix,
    )
    return int(result.split()[-1])


async def forget_cancelled(conn: Connection, *, shop: str, kind: str, dedup_key_prefix: str) -> int:
    """Delete cancelled jobs of a kind whose key starts with the prefix (their payloads may name a
    person: GDPR erasure removes them); return how many."""
    result = await conn.execute(
        """DELETE FROM scheduled_jobs
           WHERE shop_id = $1 AND kind = $2 AND status = 'cancelled' AND starts_with(dedup_key, $3)""",
        shop, kind, dedup_key_prefix,
    )
    return int(result.split()[-1])


async def reschedule(conn: Connection, *, shop: str, kind: str, dedup_key: str, due_at: datetime) -> bool:
    """Move a pending job (e.g. one backing off while it waited for another event) to a new time."""
    result = await conn.execute(
        """UPDATE scheduled_jobs SET due_at = $4, updated_at = now()
           WHERE shop_id = $1 AND kind = $2 AND dedup_key = $3 AND status = 'pending'""",
        shop, kind, dedup_key, due_at,
    )
    return result.endswith(" 1")


def backoff_seconds(attempts: int) -> float:
    return float(min(2 ** attempts * 5, 3600))


class Scheduler:
    def __init__(
        self,
        pool: asyncpg.Pool,
        handlers: Mapping[str, JobHandler],
        *,
        workers: int = 2,
        poll_seconds: float = 0.5,
        max_attempts: int = 6,
    ) -> None:
        self.pool = pool
        self.handlers = dict(handlers)
        self.workers = workers
        self.poll_seconds = poll_seconds
        self.max_attempts = max_attempts
        self._loops = BackgroundLoops()

    def start(self) -> None:
        for i in range(self.workers):
            self._loops.spawn(f"scheduler-{i}", self._work())

    async def stop(self) -> None:
        await self._loops.stop()

    async def _work(self) -> None:
        while True:
            try:
                with quiet():
                    if await self.run_one():
                        continue
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("scheduler pass failed: %s", exc)
            await asyncio.sleep(self.poll_seconds)

    async def run_one(self) -> bool:
        """Claim and run one due job. True when a job was taken."""
        async with self.pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                """SELECT * FROM scheduled_jobs
                   WHERE status = 'pending' AND due_at <= now() AND kind = ANY($1::text[])
                   ORDER BY due_at
                   LIMIT 1
                   FOR UPDATE SKIP LOCKED""",
                list(self.handlers),
            )
            if row is None:
                return False
            job = Job(
                id=row["id"], shop=row["shop_id"], kind=row["kind"], dedup_key=row["dedup_key"],
                due_at=row["due_at"], payload=row["payload"], attempts=row["attempts"],
                final_attempt=row["attempts"] + 1 >= self.max_attempts,
            )
            token = otel_context.attach(context_from({"traceparent": row["traceparent"]}))
            try:
                with tracer(__name__).start_as_current_span(
                    f"job {job.kind}", kind=SpanKind.CONSUMER, attributes={"flywheel.job.id": job.id}
                ) as span:
                    try:
                        async with conn.transaction():  # savepoint: a failed handler leaves no trace
                            async with ending_scope():
                                await self.handlers[job.kind](conn, job)
                    except Exception as exc:
                        span.record_exception(exc)
                        span.set_status(Status(StatusCode.ERROR, str(exc)))
                        attempts = job.attempts + 1
                        gave_up = attempts >= self.max_attempts
                        log.warning("job %s %s failed (attempt %d): %r", job.kind, job.id, attempts, exc)
                        await conn.execute(
                            """UPDATE scheduled_jobs
                               SET attempts = $2, last_error = $3, updated_at = now(),
                                   status = CASE WHEN $4 THEN 'failed' ELSE 'pending' END,
                                   due_at = now() + make_interval(secs => $5)
                               WHERE id = $1""",
                            job.id, attempts, f"{type(exc).__name__}: {exc}"[:1000], gave_up,
                            backoff_seconds(attempts),
                        )
                        return True
                    await conn.execute(
                        "UPDATE scheduled_jobs SET status = 'done', updated_at = now() WHERE id = $1",
                        job.id,
                    )
            finally:
                otel_context.detach(token)
        return True
