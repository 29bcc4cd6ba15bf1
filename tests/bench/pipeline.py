"""The event pipeline's own figures: how long an `order.paid` takes to become a ledger row at a fixed
offered rate (open loop), and when a ledger row became visible.

A ledger row's `created_at` is its transaction's start (`now()`), which for a batch of events is
earlier than its commit; a watcher therefore polls the ledger (every `POLL_S`) for the rows still
awaited and takes the time it first saw each one: commit visibility, at the poll's resolution.

Two ways in, each at 10, 50 and 200 per second (`--latency-rates`), never waiting for an earlier answer:
  bus      `order.paid` published straight on the exchange (as customers' relay would): the time from
           its publish to its ledger row is the pipeline alone (relay excluded).
  gateway  recordOrder + PAID through the gateway with the commerce platform's key: the time from when
           the order was due to its ledger row (gateway, customers, outbox relay, bus, points), and
           the writes' own latency from when they were due.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from decimal import Decimal

import aio_pika

from shared import events
from shared.bus import EXCHANGE
from shared.events import new_envelope
from tests.bench.cpu import Meter
from tests.bench.load import percentile
from tests.stack import amqp_url, db, unique

POLL_S = 0.02
SETTLE_S = 120.0  # how long to wait for the last ledger rows after the last order was sent


class LedgerWatch:
    """Polls points' ledger for the earn rows of the awaited orders of one shop; `seen` maps an order
    id to the wall-clock time its row was first visible."""

    def __init__(self, shop: str) -> None:
        self.shop = shop
        self.awaited: set[str] = set()
        self.seen: dict[str, float] = {}
        self._all_seen = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def expect(self, order_id: str) -> None:
        self.awaited.add(order_id)

    async def __aenter__(self) -> LedgerWatch:
        self._conn = await db("points")
        self._task = asyncio.create_task(self._poll())
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        try:
            await self._task
        except asyncio.CancelledError:
            pass
        await self._conn.close()

    async def _poll(self) -> None:
        while True:
            waiting = list(self.awaited - self.seen.keys())
            if waiting:
                rows = await self._conn.fetch(
                    "SELECT idempotency_key FROM ledger_entries"
                    " WHERE shop_id = $1 AND idempotency_key = ANY($2::text[])",
                    self.shop, [f"order:{o}:earn" for o in waiting])
                now = time.time()
                for r in rows:
                    self.seen.setdefault(r["idempotency_key"].split(":")[1], now)
            if self.awaited <= self.seen.keys():
                self._all_seen.set()
            await asyncio.sleep(POLL_S)

    async def settle(self, deadline_s: float = SETTLE_S) -> None:
        """Until every awaited order's row was seen (the next poll tells), or `deadline_s` passed."""
        self._all_seen.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._all_seen.wait(), deadline_s)


def _lags(started: dict[str, float], seen: dict[str, float]) -> dict:
    lags = [seen[o] - started[o] for o in started if o in seen]
    if not lags:
        return {"p50_ms": None, "p99_ms": None, "max_ms": None}
    return {"p50_ms": round(percentile(lags, 50) * 1000, 1), "p99_ms": round(percentile(lags, 99) * 1000, 1),
            "max_ms": round(max(lags) * 1000, 1)}


async def _open_loop(rate: float, count: int, send: Callable[[int, float], Awaitable[None]]) -> float:
    """Call send(i, due) for i in 0..count, each at its due time (i / rate seconds after the start),
    whether or not earlier calls returned; returns the elapsed seconds."""
    started = time.perf_counter()
    wall = time.time()

    async def one(i: int) -> None:
        due = started + i / rate
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
        await send(i, wall + i / rate)

    await asyncio.gather(*(one(i) for i in range(max(1, count))))
    return time.perf_counter() - started


async def bus_latency(rate: float, seconds: float, customers: int = 100) -> dict:
    """order.paid events published at `rate` per second: publish → ledger row, p50/p99."""
    shop = unique("bench-latency")
    ids = [unique("c") for _ in range(customers)]
    published: dict[str, float] = {}
    connection = await aio_pika.connect(amqp_url())
    async with connection, LedgerWatch(shop) as watch:
        channel = await connection.channel(publisher_confirms=True)
        exchange = await channel.get_exchange(EXCHANGE)

        async def send(i: int, due: float) -> None:
            envelope = new_envelope(events.OrderPaid(
                shop=shop, order_id=unique("o"), customer_id=ids[i % customers], currency="EUR",
                total=Decimal("59.90"), net_amount=Decimal("50.00"), placed_at=datetime.now(UTC)), source="bench")
            order_id = envelope.data["order_id"]
            watch.expect(order_id)
            published[order_id] = time.time()
            await exchange.publish(aio_pika.Message(envelope.model_dump_json().encode(), message_id=envelope.id,
                                                    delivery_mode=aio_pika.DeliveryMode.PERSISTENT),
                                   routing_key=envelope.type)

        with Meter() as meter:
            elapsed = await _open_loop(rate, int(rate * seconds), send)
            await watch.settle()
        seen = dict(watch.seen)
    return {"offered_per_s": rate, "sent": len(published), "credited": len(seen),
            "sent_per_s": round(len(published) / elapsed, 1), **_lags(published, seen),
            "cpu_ms_per_event": meter.per_request(len(seen))}


async def gateway_latency(ok: Callable[[str, dict, dict], Awaitable[dict]], record: str, status: str,
                          order_input: Callable[[str], dict], headers: dict, shop: str, customers: list[str],
                          rate: float, seconds: float, most: int) -> dict:
    """recordOrder + PAID through the gateway at `rate` orders per second for `seconds`, at most
    `most` orders (a rate the stack cannot take would otherwise pile up minutes of work): from when
    each order was due to its ledger row, and the two writes' latency from when they were due."""
    due_at: dict[str, float] = {}
    writes: list[float] = []
    errors: list[str] = []
    async with LedgerWatch(shop) as watch:
        async def send(i: int, due: float) -> None:
            order = order_input(customers[i % len(customers)])
            try:
                await ok(record, {"input": order}, headers)
                await ok(status, {"id": order["id"], "status": "PAID"}, headers)
            except Exception as exc:  # counted, not fatal: an overloaded stack is a figure too
                errors.append(f"{type(exc).__name__}: {str(exc)[:120]}")
                return
            writes.append(time.time() - due)
            due_at[order["id"]] = due
            watch.expect(order["id"])

        with Meter() as meter:
            elapsed = await _open_loop(rate, min(int(rate * seconds), most), send)
            await watch.settle()
        seen = dict(watch.seen)
    result = {"offered_per_s": rate, "paid": len(due_at), "credited": len(seen), "errors": len(errors),
              "orders_per_s": round(len(due_at) / elapsed, 1), **_lags(due_at, seen),
              "writes_p50_ms": round(percentile(writes, 50) * 1000, 1) if writes else None,
              "writes_p99_ms": round(percentile(writes, 99) * 1000, 1) if writes else None,
              "cpu_ms_per_order": meter.per_request(len(seen))}
    if errors:
        result["first_error"] = errors[0]
    return result
