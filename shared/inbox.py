"""The idempotent inbox: an event's effect and the record that it happened commit together.

A redelivered event (broker redelivery, relay re-publish after a crash, a replay) finds its id in
the inbox and has no second effect. Money-like effects carry their own natural unique keys too,
so even a replay under a new event id cannot double-grant.

A consumer applies its events in batches (`handle_batch`): one transaction for the batch, one
multi-row statement recording every event id (`unnest … ON CONFLICT DO NOTHING RETURNING`: an id
seen before, in an earlier batch or earlier in this one, is a duplicate and skipped), then each new
event in a savepoint of its own. An event whose handler raises is rolled back to its savepoint and
its inbox row removed, so it alone is retried; the others commit. A batch of one event needs no
savepoint: its failure rolls back the transaction and is raised. The events of one customer keep
their order; the batch's events are otherwise taken customer by customer, so that concurrent batches
(competing consumers) lock accounts in one order and do not deadlock. What the events read through
`shared.db.remembered` (a shop's program, the accounts the transaction holds) is read once per batch,
and upkeep asked for with `shared.db.at_end` runs once per batch, before the commit.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import asyncpg

from shared.db import Connection, ending_scope, savepoint_memo, transaction
from shared.events import Envelope, EventData

Handler = Callable[[Connection, Envelope, EventData], Awaitable[None]]
# Wraps each event's handling (the bus opens the event's own trace span there); the default runs it.
Around = Callable[[int, Callable[[], Awaitable[None]]], Awaitable[None]]


async def handle_once(
    pool: asyncpg.Pool,
    consumer: str,
    envelope: Envelope,
    payload: EventData,
    handler: Callable[[Connection, Envelope, EventData], Awaitable[None]],
) -> bool:
    """Run the handler unless this consumer already handled the event. True when it ran."""
    async with transaction(pool) as conn:
        first_time = await conn.fetchval(
            """INSERT INTO inbox (consumer, event_id, event_type, shop_id)
               VALUES ($1, $2, $3, $4)
               ON CONFLICT DO NOTHING
               RETURNING true""",
            consumer, envelope.id, envelope.type, envelope.shop,
        )
        if not first_time:
            return False
        await handler(conn, envelope, payload)
        return True


@dataclass(frozen=True)
class Delivered:
    """One event of a batch and the handler the registry named for it."""
    envelope: Envelope
    payload: EventData
    handler: Handler


@dataclass(frozen=True)
class Outcome:
    """What became of one event of a batch: applied, a duplicate (neither applied nor failed), or
    failed with `error` (rolled back; nothing of it committed, not even its inbox row)."""
    applied: bool
    error: Exception | None = None

    @property
    def duplicate(self) -> bool:
        return not self.applied and self.error is None


def partition(payload: EventData) -> str | None:
    """Whose events must keep their order: the customer's (the referrer's for referral events);
    None for an event about no one customer (a challenge launched), which keeps its place."""
    for field in ("customer_id", "referrer_id"):
        value = getattr(payload, field, None)
        if isinstance(value, str) and value:
            return f"{payload.shop}\x1f{value}"
    return None


def in_order(batch: Sequence[Delivered]) -> list[int]:
    """The positions of the batch in the order to apply them: customer by customer (a stable sort,
    so each customer's events keep their order), an event about no one customer staying where it
    was, between the events delivered before and after it."""
    order: list[int] = []
    run: list[int] = []
    for i, item in enumerate(batch):
        if partition(item.payload) is None:
            order += sorted(run, key=lambda j: partition(batch[j].payload) or "")
            order.append(i)
            run = []
        else:
            run.append(i)
    return order + sorted(run, key=lambda j: partition(batch[j].payload) or "")


async def _plain(_: int, apply: Callable[[], Awaitable[None]]) -> None:
    await apply()


async def record_batch(conn: Connection, consumer: str, batch: Sequence[Delivered]) -> set[str]:
    """Record the batch's event ids in the inbox with one statement; returns the ids recorded now
    (an id recorded before, or twice in the batch, is returned at most once). Ids are written in
    sorted order, so two batches sharing ids wait for each other instead of deadlocking."""
    rows = sorted({e.envelope.id: e.envelope for e in batch}.items())
    recorded = await conn.fetch(
        """INSERT INTO inbox (consumer, event_id, event_type, shop_id)
           SELECT $1, e.id, e.type, e.shop FROM unnest($2::text[], $3::text[], $4::text[]) AS e(id, type, shop)
           ON CONFLICT DO NOTHING
           RETURNING event_id""",
        consumer, [i for i, _ in rows], [e.type for _, e in rows], [e.shop for _, e in rows],
    )
    return {r["event_id"] for r in recorded}


async def handle_batch(pool: asyncpg.Pool, consumer: str, batch: Sequence[Delivered],
                       around: Around = _plain) -> list[Outcome]:
    """Apply a batch of events in one transaction (see the module's docstring); returns each
    event's outcome, in the batch's order, once the transaction committed. Raises when the
    transaction as a whole failed (the connection, the commit, `at_end` upkeep, or the handler of a
    batch of one event): then nothing of the batch was applied or recorded."""
    # A batch of one event needs no savepoint: its failure is the transaction's (raised, nothing kept).
    alone = len(batch) == 1
    outcomes: list[Outcome | None] = [None] * len(batch)
    async with pool.acquire() as conn, conn.transaction(), ending_scope():
        new = await record_batch(conn, consumer, batch)
        failed: list[str] = []
        for i in in_order(batch):
            item = batch[i]
            if item.envelope.id not in new:
                outcomes[i] = Outcome(applied=False)
                continue
            new.discard(item.envelope.id)  # a second copy in the same batch is a duplicate

            async def apply(item: Delivered = item) -> None:
                if alone:
                    await item.handler(conn, item.envelope, item.payload)
                    return
                with savepoint_memo():
                    async with conn.transaction():
                        await item.handler(conn, item.envelope, item.payload)
            try:
                await around(i, apply)
            except Exception as exc:
                if alone:
                    raise
                outcomes[i] = Outcome(applied=False, error=exc)
                failed.append(item.envelope.id)
            else:
                outcomes[i] = Outcome(applied=True)
        if failed:
            await conn.execute("DELETE FROM inbox WHERE consumer = $1 AND event_id = ANY($2::text[])",
                               consumer, failed)
    return [o if o is not None else Outcome(applied=False) for o in outcomes]
