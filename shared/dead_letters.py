"""Dead letters for operators: what a service gave up on, kept where it can be read and replayed.

A consumer dead-letters a message into `<service>.events.dlq` (shared/bus.py: poison, or a handler
that failed through every retry; RabbitMQ itself for a crash loop past the delivery limit). The
service's keeper moves each of them into its own database's `dead_letters` table (one row per
dead-lettering, whoever moves it twice), because a quorum queue cannot be read without taking the
messages out: the table can be counted, grouped by reason and replayed a chosen few at a time.

  make dead-letters                          every service: count, oldest, reasons grouped
  make replay-dead-letters SERVICE=points    put the waiting ones back on points.events
      [LETTERS=12,13] [REASON=text] [TYPE=order.paid] [SHOP=s] [AGAIN=1]

A replay publishes the stored message, unchanged but for a fresh attempt count, to the service's own
queue (the default exchange, as the retry queues do) with a publisher confirm, then marks the rows
replayed; a row already replayed is skipped unless asked again. Replaying is harmless twice over: the
inbox drops an event that was applied meanwhile, and every effect has its natural key. An event that
fails again comes back as a new dead letter. Admins see their shop's dead letters through the
`deadLetters` query (each service's part, shared/dead_letters_schema.py). Rows are kept 30 days.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import re
import sys
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import aio_pika
import asyncpg
from aio_pika.abc import AbstractIncomingMessage, AbstractRobustConnection, FieldValue

from shared.bus import ATTEMPT_HEADER, DEAD_LETTER_ID_HEADER, ERROR_HEADER, ROUTING_KEY_HEADER
from shared.db import Executor, create_pool
from shared.events import PoisonMessage, parse_envelope

log = logging.getLogger(__name__)

REPLAYED_HEADER = "x-flywheel-replayed-from"
KEEP_DAYS = 30
SERVICES = ("customers", "points", "referrals", "reviews", "notifications")


def reason_group(reason: str) -> str:
    """The reason with whatever names one message left out (ids, numbers, quoted values), so that
    letters that died of the same cause group together."""
    text = re.split(r"[\[{]", reason, maxsplit=1)[0].rstrip(" :")  # a validation error's details
    text = re.sub(r"'[^']*'|\"[^\"]*\"", "…", text)
    text = re.sub(r"\S*\d\S*", "…", text)
    return text[:200]


def _plain(value: Any) -> Any:
    """A header value as JSON (x-death holds tables, lists and timestamps)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


@dataclass(frozen=True)
class Letter:
    """A dead-lettered message as the keeper files it."""
    key: str
    message_id: str | None
    event_type: str | None
    shop: str | None
    reason: str
    attempts: int
    headers: dict[str, Any]
    body: bytes
    content_type: str | None

    @classmethod
    def of(cls, message: AbstractIncomingMessage) -> Letter:
        headers = dict(message.headers or {})
        deaths = headers.get("x-death")
        reason = str(headers.get(ERROR_HEADER) or "")
        if not reason and isinstance(deaths, list) and deaths:  # the broker dead-lettered it (a crash loop)
            death = deaths[0] if isinstance(deaths[0], dict) else {}
            reason = f"RabbitMQ: {_plain(death.get('reason'))} in {_plain(death.get('queue'))}"
        key = str(headers.get(DEAD_LETTER_ID_HEADER) or "")
        if not key:  # no id of ours: the broker's own count and time name this dead-lettering
            key = f"{message.message_id}:{json.dumps(_plain(deaths), sort_keys=True)}" if deaths \
                else str(uuid.uuid4())
        shop = None
        with contextlib.suppress(PoisonMessage):
            shop = parse_envelope(message.body).shop
        return cls(key=key, message_id=message.message_id, shop=shop,
                   event_type=str(headers.get(ROUTING_KEY_HEADER) or message.routing_key or "") or None,
                   reason=reason or "unknown", attempts=int(str(headers.get(ATTEMPT_HEADER) or 0)),
                   headers=_plain(headers), body=message.body, content_type=message.content_type)


async def file(conn: Executor, queue: str, letter: Letter) -> bool:
    """Keep one dead letter; False when it was filed before."""
    return bool(await conn.fetchval(
        """INSERT INTO dead_letters (queue, letter_key, message_id, event_type, shop_id, reason, reason_group,
                                     attempts, headers, body, content_type)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
           ON CONFLICT (letter_key) DO NOTHING RETURNING true""",
        queue, letter.key, letter.message_id, letter.event_type, letter.shop, letter.reason,
        reason_group(letter.reason), letter.attempts, letter.headers, letter.body, letter.content_type))


class DeadLetterKeeper:
    """Moves the dead letters of one service queue from its `.dlq` queue into `dead_letters`: each is
    filed, committed, then acked (a crash in between files it once: its key). Rows older than
    KEEP_DAYS go (the same as a replayed event's personal data would)."""

    def __init__(self, pool: asyncpg.Pool, queue: str) -> None:
        self.pool = pool
        self.queue = queue
        self._last_purge = 0.0

    async def start(self, connection: AbstractRobustConnection) -> None:
        channel = await connection.channel()
        await channel.set_qos(prefetch_count=32)
        dlq = await channel.declare_queue(f"{self.queue}.dlq", durable=True, arguments={"x-queue-type": "quorum"})
        await dlq.consume(self._on_message)

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        try:
            await file(self.pool, self.queue, Letter.of(message))
            await self._purge()
        except Exception as exc:  # the database is away: the letter waits in the queue
            log.warning("dead letters: could not file %s (%s); it stays in %s.dlq", message.message_id, exc,
                        self.queue)
            await asyncio.sleep(1)
            with contextlib.suppress(Exception):
                await message.nack(requeue=True)
            return
        with contextlib.suppress(Exception):  # the channel went: the broker gives it again, filed once
            await message.ack()

    async def _purge(self) -> None:
        now = asyncio.get_running_loop().time()
        if now - self._last_purge > 3600:
            self._last_purge = now
            await self.pool.execute("DELETE FROM dead_letters WHERE dead_at < now() - make_interval(days => $1)",
                                    KEEP_DAYS)


# ---- reading them ---------------------------------------------------------------------------------


async def summary(conn: Executor, queue: str, shop: str | None) -> dict[str, Any]:
    """The letters waiting (not replayed) in one service, of one shop (None: of every shop, and the
    bodies that are no event): count, oldest, and the reasons grouped, most frequent first."""
    rows = await conn.fetch(
        """SELECT reason_group, count(*) AS n, min(dead_at) AS oldest, max(dead_at) AS newest,
                  array_agg(DISTINCT coalesce(event_type, '')) AS event_types, min(reason) AS example
           FROM dead_letters
           WHERE queue = $1 AND replayed_at IS NULL AND ($2::text IS NULL OR shop_id = $2)
           GROUP BY reason_group ORDER BY n DESC, oldest""",
        queue, shop)
    return {
        "queue": queue,
        "count": sum(r["n"] for r in rows),
        "oldest": min((r["oldest"] for r in rows), default=None),
        "reasons": [{"reason": r["reason_group"], "example": r["example"], "count": r["n"], "oldest": r["oldest"],
                     "newest": r["newest"], "event_types": sorted(t for t in r["event_types"] if t)} for r in rows],
    }


async def letters(conn: Executor, queue: str, shop: str | None, limit: int = 20) -> list[asyncpg.Record]:
    """The oldest waiting letters (without their bodies)."""
    return await conn.fetch(
        """SELECT id, message_id, event_type, shop_id, reason, attempts, dead_at, replays
           FROM dead_letters WHERE queue = $1 AND replayed_at IS NULL AND ($2::text IS NULL OR shop_id = $2)
           ORDER BY dead_at, id LIMIT $3""",
        queue, shop, limit)


# ---- replaying them -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Choice:
    """Which letters to replay: by id, or by the reason (a substring), type and shop; waiting ones
    only unless `again`."""
    ids: Sequence[int] = ()
    reason: str | None = None
    event_type: str | None = None
    shop: str | None = None
    again: bool = False


async def chosen(conn: Executor, queue: str, choice: Choice) -> list[asyncpg.Record]:
    return await conn.fetch(
        """SELECT id, message_id, event_type, headers, body, content_type FROM dead_letters
           WHERE queue = $1 AND (cardinality($2::bigint[]) = 0 OR id = ANY($2::bigint[]))
             AND ($3::text IS NULL OR strpos(reason, $3) > 0) AND ($4::text IS NULL OR event_type = $4)
             AND ($5::text IS NULL OR shop_id = $5) AND ($6 OR replayed_at IS NULL)
           ORDER BY dead_at, id""",
        queue, list(choice.ids), choice.reason, choice.event_type, choice.shop, choice.again)


def _replay_headers(stored: dict[str, Any], letter_id: int) -> dict[str, FieldValue]:
    headers: dict[str, FieldValue] = {
        k: v for k, v in stored.items()
        if k not in (ATTEMPT_HEADER, ERROR_HEADER, DEAD_LETTER_ID_HEADER, "x-death", "x-delivery-count",
                     "x-first-death-exchange", "x-first-death-queue", "x-first-death-reason",
                     "x-last-death-exchange", "x-last-death-queue", "x-last-death-reason")
        and isinstance(v, str | int | float | bool)}
    headers[REPLAYED_HEADER] = letter_id
    return headers


async def replay(pool: asyncpg.Pool, amqp_url: str, queue: str, choice: Choice) -> list[int]:
    """Put the chosen letters back on `queue`, each confirmed by the broker before its row is marked
    replayed; returns the ids replayed."""
    rows = await chosen(pool, queue, choice)
    if not rows:
        return []
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        await channel.declare_queue(queue, passive=True)  # the service must have declared it
        await asyncio.gather(*(channel.default_exchange.publish(aio_pika.Message(
            body=bytes(r["body"]), content_type=r["content_type"], message_id=r["message_id"],
            headers=_replay_headers(r["headers"] or {}, r["id"]), delivery_mode=aio_pika.DeliveryMode.PERSISTENT),
            routing_key=queue) for r in rows))
    ids = [r["id"] for r in rows]
    await pool.execute(
        "UPDATE dead_letters SET replayed_at = now(), replays = replays + 1 WHERE id = ANY($1::bigint[])", ids)
    return ids


# ---- the operator's command line (make dead-letters, make replay-dead-letters) ---------------------


def _print_summary(service: str, s: dict[str, Any], waiting: list[asyncpg.Record]) -> None:
    oldest = s["oldest"].isoformat(timespec="seconds") if s["oldest"] else "-"
    print(f"{s['queue']}: {s['count']} waiting, oldest {oldest}")
    for r in s["reasons"]:
        print(f"  {r['count']:>5} × {r['reason']}  [{', '.join(r['event_types']) or '?'}]"
              f"  {r['oldest']:%Y-%m-%d %H:%M} … {r['newest']:%Y-%m-%d %H:%M}")
    for w in waiting:
        print(f"        #{w['id']} {w['event_type'] or '?'} shop {w['shop_id'] or '?'} {w['message_id']}: "
              f"{w['reason'][:100]}")


async def _main(args: argparse.Namespace) -> int:
    from shared.settings import Settings  # the operator's environment (.env through stack.sh exec)

    services = [args.service] if args.service else list(SERVICES)
    for service in services:
        settings = Settings.from_env(service)
        pool = await create_pool(settings.dsn(), max_size=2)
        try:
            queue = f"{service}.events"
            if args.command == "list":
                _print_summary(service, await summary(pool, queue, args.shop),
                               await letters(pool, queue, args.shop, args.show))
            else:
                ids = [int(i) for i in (args.letters or "").split(",") if i.strip()]
                choice = Choice(ids=ids, reason=args.reason or None, event_type=args.type or None,
                                shop=args.shop, again=args.again)
                if not (ids or choice.reason or choice.event_type or choice.shop or args.all):
                    print("replay: name the letters (LETTERS=…, REASON=…, TYPE=…, SHOP=…) or ALL=1", file=sys.stderr)
                    return 2
                done = await replay(pool, settings.amqp_url, queue, choice)
                print(f"{queue}: {len(done)} dead letters replayed{': #' + ', #'.join(map(str, done)) if done else ''}")
        finally:
            await pool.close()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=("list", "replay"))
    parser.add_argument("--service", choices=SERVICES, help="one service (list: default all; replay: required)")
    parser.add_argument("--shop", default=None)
    parser.add_argument("--show", type=int, default=5, help="list: the oldest letters to show per service")
    parser.add_argument("--letters", default="", help="replay: comma-separated ids")
    parser.add_argument("--reason", default="", help="replay: those whose reason contains this text")
    parser.add_argument("--type", default="", help="replay: those of this event type")
    parser.add_argument("--all", action="store_true", help="replay: every waiting letter of the service")
    parser.add_argument("--again", action="store_true", help="replay: letters replayed before too")
    args = parser.parse_args(argv)
    if args.command == "replay" and not args.service:
        parser.error("replay needs --service")
    return asyncio.run(_main(args))


if __name__ == "__main__":
    sys.exit(main())
