"""The transactional outbox: events are rows written in the same transaction as the state change,
then published by a relay with publisher confirms and marked sent.

The relay works in rounds: it takes up to `batch_size` unpublished rows (committed ones only: it
reads them in a transaction of its own, `FOR UPDATE SKIP LOCKED`, so another instance's relay takes
others), publishes them all in their order on the confirmed channel without waiting for each
confirm, awaits the confirms together, and marks the confirmed rows published with one UPDATE, in
the same transaction as it took them. If the broker or the service dies between commit and publish,
the row is still there and goes out when both are back; if it dies between publish and mark, the
event goes out twice with the same id and the consumers' inbox drops the second copy. A row the
broker did not confirm stays unpublished (its attempts and last error noted) and goes out in a later
round, possibly after rows behind it that were confirmed. The relay wakes on NOTIFY (sent at commit)
and also polls, so a lost notification only delays an event by one poll interval.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence

import asyncpg

from shared.background import BackgroundLoops
from shared.bus import Bus
from shared.db import Connection, remembered
from shared.events import Envelope, EventData, new_envelope
from shared.telemetry import context_from, quiet

log = logging.getLogger(__name__)

CHANNEL = "flywheel_outbox"


async def add(conn: Connection, data: EventData, *, source: str) -> Envelope:
    """Record an event inside the caller's open transaction."""
    return (await add_many(conn, [data], source=source))[0]


async def add_many(conn: Connection, items: Sequence[EventData], *, source: str) -> list[Envelope]:
    """Record several events inside the caller's open transaction, in their order, with one
    pipelined statement and one wake-up: a batch that announces thousands of changes would spend
    most of its time in two round trips per event, one `add` each."""
    envelopes = [new_envelope(data, source=source) for data in items]
    if not envelopes:
        return []
    if len(envelopes) == 1:
        e = envelopes[0]
        await conn.execute("INSERT INTO outbox (id, shop_id, type, envelope) VALUES ($1, $2, $3, $4)",
                           e.id, e.shop, e.type, e.model_dump(mode="json"))
    else:
        await conn.executemany(
            "INSERT INTO outbox (id, shop_id, type, envelope) VALUES ($1, $2, $3, $4)",
            [(e.id, e.shop, e.type, e.model_dump(mode="json")) for e in envelopes],
        )
    await _wake_relay(conn)
    return envelopes


async def _wake_relay(conn: Connection) -> None:
    """NOTIFY the relay, once per transaction: Postgres delivers one notification per channel and
    payload at commit however often it was sent, so a batch of events that write many outbox rows
    sends it once (the memo knows; a rolled-back savepoint's NOTIFY goes with it, and so does what its
    memo knew)."""
    async def not_yet() -> list[bool]:
        return []
    sent = await remembered(f"outbox:notified:{id(conn)}", not_yet)
    if not sent:
        await conn.execute("SELECT pg_notify($1, '')", CHANNEL)
        sent.append(True)


class Relay:
    def __init__(
        self,
        pool: asyncpg.Pool,
        bus: Bus,
        dsn: str,
        *,
        batch_size: int = 200,
        poll_seconds: float = 1.0,
        keep_published_days: int = 7,
    ) -> None:
        self.pool = pool
        self.bus = bus
        self.dsn = dsn
        self.batch_size = batch_size
        self.poll_seconds = poll_seconds
        self.keep_published_days = keep_published_days
        self._wake = asyncio.Event()
        self._loops = BackgroundLoops()
        self._last_cleanup = 0.0

    def start(self) -> None:
        self._loops.spawn("outbox-listen", self._listen())
        self._loops.spawn("outbox-relay", self._run())

    async def stop(self) -> None:
        await self._loops.stop()

    async def _listen(self) -> None:
        while True:
            try:
                conn = await asyncpg.connect(self.dsn)
                closed = asyncio.Event()
                try:
                    conn.add_termination_listener(lambda _conn, done=closed: done.set())
                    await conn.add_listener(CHANNEL, lambda *_: self._wake.set())
                    self._wake.set()  # catch up on whatever was written while not listening
                    await closed.wait()
                finally:
                    with contextlib.suppress(Exception):
                        await conn.close()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("outbox listener lost its connection (%s); polling until back", exc)
                await asyncio.sleep(self.poll_seconds)

    async def _run(self) -> None:
        while True:
            try:
                with quiet():
                    sent = await self.publish_pending()
                if sent == self.batch_size:
                    continue  # more waiting: no sleep
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("outbox relay pass failed: %s", exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll_seconds)
            self._wake.clear()

    async def publish_pending(self) -> int:
        """Publish one batch of unsent events in order; return how many were sent."""
        if not self.bus.connected:
            return 0
        async with self.pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(
                """SELECT id, envelope FROM outbox
                   WHERE published_at IS NULL
                   ORDER BY seq
                   LIMIT $1
                   FOR UPDATE SKIP LOCKED""",
                self.batch_size,
            )
            if not rows:
                errors: list[BaseException | None] = []
            else:
                errors = await self.bus.publish_all([(Envelope.model_validate(r["envelope"]),
                                                      context_from(r["envelope"])) for r in rows])
            sent = [row["id"] for row, error in zip(rows, errors, strict=True) if error is None]
            failed = [row["id"] for row, error in zip(rows, errors, strict=True) if error is not None]
            error = next((e for e in errors if e is not None), None)
            if sent:
                await conn.execute(
                    "UPDATE outbox SET published_at = now() WHERE id = ANY($1::uuid[])", sent
                )
            if failed:
                await conn.execute(
                    "UPDATE outbox SET attempts = attempts + 1, last_error = $2 WHERE id = ANY($1::uuid[])",
                    failed, str(error)[:1000],
                )
        if error is not None:
            log.warning("outbox: broker refused or unreachable (%s); %d sent this pass, %d not",
                        error, len(sent), len(failed))
            return 0  # not a full round: wait for the next wake-up or poll before trying again
        if len(sent) < self.batch_size:
            await self._forget_old()
        return len(sent)

    async def _forget_old(self) -> None:
        now = asyncio.get_running_loop().time()
        if now - self._last_cleanup < 600:
            return
        self._last_cleanup = now
        await self.pool.execute(
            "DELETE FROM outbox WHERE published_at < now() - make_interval(days => $1)",
            self.keep_published_days,
        )
