"""The message bus on RabbitMQ (aio-pika): one way to publish, one way to consume.

Topology, per consuming service:
  exchange  flywheel.events            durable topic exchange, routing key = event type
  queue     <service>.events           durable quorum queue bound to the types the service handles
                                        (its registry's routing keys, shared/handlers.py; plus those
                                        the registry reads from the service's data, e.g. the types
                                        merchants' webhooks subscribe to); bindings to other catalog
                                        types, left by an earlier version, are removed at start-up
  queues    <service>.events.retry.<ms> one classic queue per backoff step; messages wait out the
                                        queue's TTL, then dead-letter back into <service>.events
  queue     <service>.events.dlq       quorum queue of messages given up on, with the reason; the
                                        service moves each into its `dead_letters` table
                                        (shared/dead_letters.py), where operators list and replay them
A live consumer (LiveConsumer, the console's server-sent events) instead gets a per-process queue
that the broker deletes with the connection: it fans events out to whoever is connected right now,
so there is nothing to retry, dead-letter or de-duplicate (no inbox, no pool); a callback error is
logged and the message dropped, because the listener re-reads the API anyway.

A consumer takes its messages in batches: up to `batch_size` delivered messages, waiting at most
`batch_wait_ms` for more once the first arrived (the broker sends up to twice a batch ahead), and
applies them in one transaction with a savepoint per event (shared/inbox.py). Then, per message:
  applied (or already in the inbox)   -> acked once the batch committed
  PoisonMessage (malformed, unknown)  -> straight to the DLQ, ack; the queue keeps flowing
  any other exception                 -> rolled back alone; to the next retry queue with attempt+1,
                                         ack; after the last step -> DLQ with the error, ack
  the batch's transaction fails       -> each event is tried again alone, in a transaction of its
                                         own, so one bad event cannot hold back the others (the
                                         database unreachable: every event to the retry queues)
  process dies mid-batch              -> RabbitMQ redelivers (after a commit too, before the ack);
                                         the inbox makes it harmless; the quorum queue's delivery
                                         limit dead-letters a crash loop
The copy is published with a publisher confirm before the original is acked, so a broker outage
in between redelivers rather than loses.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

import aio_pika
import asyncpg
from aio_pika.abc import AbstractIncomingMessage, AbstractRobustConnection, FieldValue
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from shared.events import Envelope, EventData, PoisonMessage, parse_envelope
from shared.handlers import EventHandlers
from shared.inbox import Around, Delivered, Outcome, handle_batch
from shared.telemetry import context_from, inject_into, tracer

log = logging.getLogger(__name__)

EXCHANGE = "flywheel.events"
ATTEMPT_HEADER = "x-flywheel-attempt"
ERROR_HEADER = "x-flywheel-error"
DEFAULT_RETRY_DELAYS_MS = (1_000, 5_000, 30_000)

# A live consumer's callback: no connection, no inbox (see LiveConsumer).
LiveCallback = Callable[[Envelope, EventData], Awaitable[None]]


@dataclass(frozen=True)
class QueueTopology:
    name: str  # "<service>.events"
    retry_delays_ms: tuple[int, ...] = DEFAULT_RETRY_DELAYS_MS
    delivery_limit: int = 20

    @property
    def dlq(self) -> str:
        return f"{self.name}.dlq"

    def retry_queue(self, attempt: int) -> str:
        return f"{self.name}.retry.{self.retry_delays_ms[attempt]}"


class Bus:
    """A robust connection, one confirmed publishing channel, and the consumers of this process."""

    def __init__(self, url: str, *, exchange: str = EXCHANGE, client_name: str = "flywheel") -> None:
        self.url = url
        self.exchange_name = exchange
        self.client_name = client_name
        self._connection: AbstractRobustConnection | None = None
        self._channel: aio_pika.abc.AbstractChannel | None = None
        self._exchange: aio_pika.abc.AbstractExchange | None = None
        self._consumers: list[Startable] = []
        self._ready = asyncio.Event()
        self._connect_task: asyncio.Task[None] | None = None

    @property
    def connected(self) -> bool:
        return self._connection is not None and self._connection.connected.is_set()

    async def connect(self) -> None:
        self._connection = await aio_pika.connect_robust(
            self.url, client_properties={"connection_name": self.client_name}
        )
        self._channel = await self._connection.channel(publisher_confirms=True)
        self._exchange = await self._channel.declare_exchange(
            self.exchange_name, aio_pika.ExchangeType.TOPIC, durable=True
        )
        for consumer in self._consumers:
            await consumer.start(self._connection)
        self._ready.set()

    def start_in_background(self, retry_seconds: float = 1.0) -> None:
        """Connect without blocking start-up: the service serves GraphQL (and fills its outbox)
        while the broker is unreachable, and reports not-ready until connected."""

        async def keep_trying() -> None:
            while True:
                try:
                    await self.connect()
                    return
                except Exception as exc:  # broker down or refusing: try again
                    log.warning("bus: cannot connect yet (%s); retrying", exc)
                    await asyncio.sleep(retry_seconds)

        self._connect_task = asyncio.create_task(keep_trying(), name="bus-connect")

    async def wait_ready(self, timeout: float) -> None:
        await asyncio.wait_for(self._ready.wait(), timeout)

    def add_consumer(self, consumer: Startable) -> None:
        self._consumers.append(consumer)

    async def publish(self, envelope: Envelope) -> None:
        """Publish with a broker confirm. Raises when the broker did not take the message."""
        if self._exchange is None or not self.connected:
            raise ConnectionError("bus is not connected")
        with tracer(__name__).start_as_current_span(
            f"{envelope.type} publish",
            kind=SpanKind.PRODUCER,
            attributes={
                "messaging.system": "rabbitmq",
                "messaging.destination.name": self.exchange_name,
                "messaging.rabbitmq.destination.routing_key": envelope.type,
                "messaging.message.id": envelope.id,
            },
        ):
            headers: dict[str, FieldValue] = dict(inject_into({}))
            headers["dataversion"] = str(envelope.dataversion)
            headers["shop"] = envelope.shop
            message = aio_pika.Message(
                body=envelope.model_dump_json().encode(),
                content_type="application/cloudevents+json",
                message_id=envelope.id,
                type=envelope.type,
                timestamp=envelope.time,
                headers=headers,
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            )
            async with asyncio.timeout(10):
                await self._exchange.publish(message, routing_key=envelope.type)

    async def publish_all(self, items: Sequence[tuple[Envelope, otel_context.Context]]) -> list[BaseException | None]:
        """Publish several events in their order without waiting for each confirm, then await the
        confirms together (the outbox relay's round); each in its own trace context. Returns, per
        event, None when the broker confirmed it, else the error."""
        async def one(envelope: Envelope, context: otel_context.Context) -> None:
            token = otel_context.attach(context)
            try:
                await self.publish(envelope)
            finally:
                otel_context.detach(token)

        results = await asyncio.gather(*(one(e, c) for e, c in items), return_exceptions=True)
        for result in results:
            if isinstance(result, asyncio.CancelledError):
                raise result
        return [r if isinstance(r, BaseException) else None for r in results]

    async def rebind(self) -> None:
        """Let every consumer of this process follow its registry's bindings now (notifications, after
        a merchant changed which events a webhook endpoint subscribes to)."""
        for consumer in self._consumers:
            if isinstance(consumer, Consumer):
                await consumer.rebind()

    async def close(self) -> None:
        if self._connect_task is not None:
            self._connect_task.cancel()
        for consumer in self._consumers:
            if isinstance(consumer, Consumer):
                await consumer.stop()
        if self._connection is not None:
            await self._connection.close()


class Startable(Protocol):
    async def start(self, connection: AbstractRobustConnection) -> None: ...


DEAD_LETTER_ID_HEADER = "x-flywheel-dead-letter-id"
ROUTING_KEY_HEADER = "x-flywheel-routing-key"
DEFAULT_BATCH_SIZE = 100
DEFAULT_BATCH_WAIT_MS = 10.0
REBIND_LOCK = 7_202_612  # advisory lock: one instance at a time changes a queue's bindings


class Consumer:
    """Consumes one service queue in batches through the inbox; the registry (shared/handlers.py)
    says which event types the queue is bound to and which handler takes each payload."""

    def __init__(
        self,
        *,
        bus: Bus,
        pool: asyncpg.Pool,
        topology: QueueTopology,
        handlers: EventHandlers,
        prefetch: int | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        batch_wait_ms: float = DEFAULT_BATCH_WAIT_MS,
    ) -> None:
        self.bus = bus
        self.pool = pool
        self.topology = topology
        self.handlers = handlers
        self.batch_size = max(1, batch_size)
        self.batch_wait_s = max(0.0, batch_wait_ms) / 1000
        self.prefetch = prefetch or 2 * self.batch_size
        self._channel: aio_pika.abc.AbstractChannel | None = None
        self._queue: aio_pika.abc.AbstractQueue | None = None
        self._exchange: aio_pika.abc.AbstractExchange | None = None
        self._bound: set[str] = set()
        self._rebinding = asyncio.Lock()
        self._buffer: list[AbstractIncomingMessage] = []
        self._arrived = asyncio.Event()
        self._full = asyncio.Event()
        self._worker: asyncio.Task[None] | None = None
        self._follower: asyncio.Task[None] | None = None

    async def start(self, connection: AbstractRobustConnection) -> None:
        t = self.topology
        channel = await connection.channel(publisher_confirms=True)
        await channel.set_qos(prefetch_count=self.prefetch)
        exchange = await channel.declare_exchange(
            self.bus.exchange_name, aio_pika.ExchangeType.TOPIC, durable=True
        )
        await channel.declare_queue(t.dlq, durable=True, arguments={"x-queue-type": "quorum"})
        for delay in t.retry_delays_ms:
            await channel.declare_queue(
                f"{t.name}.retry.{delay}",
                durable=True,
                arguments={
                    "x-message-ttl": delay,
                    "x-dead-letter-exchange": "",
                    "x-dead-letter-routing-key": t.name,
                },
            )
        queue = await channel.declare_queue(
            t.name,
            durable=True,
            arguments={
                "x-queue-type": "quorum",
                "x-dead-letter-exchange": "",
                "x-dead-letter-routing-key": t.dlq,
                "x-delivery-limit": t.delivery_limit,
            },
        )
        self._channel, self._queue, self._exchange = channel, queue, exchange
        try:
            await self.rebind(unbind_unknown=True)
        except (asyncpg.PostgresError, OSError, asyncpg.InterfaceError) as exc:  # the database is away
            log.warning("%s: bindings read from data follow later (%s)", t.name, exc)
            async with self._rebinding:
                await self._bind(set(self.handlers.routing_keys()), unbind_unknown=True)
        if self._worker is None or self._worker.done():
            self._worker = asyncio.create_task(self._work(), name=f"{t.name}-batches")
        if self.handlers.follows_data and (self._follower is None or self._follower.done()):
            self._follower = asyncio.create_task(self._follow(), name=f"{t.name}-bindings")
        await queue.consume(self._on_message)

    async def stop(self) -> None:
        for task in (self._worker, self._follower):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def _follow(self, every_s: float = 60.0) -> None:
        """Bindings read from data are followed at once by the instance that changed the data
        (Bus.rebind); this pass catches up whatever a broker or database outage let slip."""
        while True:
            await asyncio.sleep(every_s)
            try:
                await self.rebind()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("%s: could not follow its bindings (%s); trying again later", self.topology.name, exc)

    async def rebind(self, *, unbind_unknown: bool = False) -> list[str]:
        """Bind the queue to the routing keys the registry names now (its static ones and those it
        reads from the service's data) and unbind those it no longer names; with `unbind_unknown`,
        every other type of the catalog too (bindings an earlier version left). One instance at a
        time (an advisory lock), each reading the data after the others' changes committed, so the
        last one to run binds what the last change needs. Returns the keys bound."""
        if self._queue is None or self._exchange is None:
            return []
        async with self._rebinding:
            if not self.handlers.follows_data:  # nothing to read: no database needed
                return await self._bind(set(self.handlers.routing_keys()), unbind_unknown)
            async with self.pool.acquire() as conn, conn.transaction():
                await conn.execute("SELECT pg_advisory_xact_lock($1)", REBIND_LOCK)
                return await self._bind(set(await self.handlers.bindings(conn)), unbind_unknown)

    async def _bind(self, wanted: set[str], unbind_unknown: bool) -> list[str]:
        assert self._queue is not None and self._exchange is not None
        for key in sorted(wanted - self._bound):
            await self._queue.bind(self._exchange, routing_key=key)
        stale = (set(self.handlers.known_routing_keys()) if unbind_unknown else self._bound) - wanted
        for key in sorted(stale):
            await self._queue.unbind(self._exchange, routing_key=key)
        self._bound = wanted
        return sorted(wanted)

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        self._buffer.append(message)
        self._arrived.set()
        if len(self._buffer) >= self.batch_size:
            self._full.set()

    async def _work(self) -> None:
        while True:
            await self._arrived.wait()
            if len(self._buffer) < self.batch_size and self.batch_wait_s > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._full.wait(), self.batch_wait_s)
            batch, self._buffer = self._buffer[:self.batch_size], self._buffer[self.batch_size:]
            if len(self._buffer) < self.batch_size:
                self._full.clear()
            if not self._buffer:
                self._arrived.clear()
            try:
                await self.process(batch)
            except asyncio.CancelledError:
                raise
            except Exception:  # never expected: give back what is unsettled, the broker redelivers it
                log.exception("%s: a batch of %d failed unexpectedly", self.topology.name, len(batch))
                for message in batch:
                    if not message.processed:
                        with contextlib.suppress(Exception):
                            await message.nack(requeue=True)

    async def process(self, messages: Sequence[AbstractIncomingMessage]) -> None:
        """Apply one batch of delivered messages and settle each (ack, retry or dead-letter)."""
        name = self.topology.name
        parsed: list[tuple[AbstractIncomingMessage, Delivered]] = []
        unconcerned: list[AbstractIncomingMessage] = []
        for message in messages:
            try:
                envelope = parse_envelope(message.body)
                payload = envelope.payload()
                handler = self.handlers.handler_for(payload)
                if handler is None:
                    raise PoisonMessage(f"no handler for {envelope.type} v{envelope.dataversion} in {name}")
            except PoisonMessage as exc:
                log.warning("dead-lettering poison message %s: %s", message.message_id, exc)
                await self._forward(message, self.topology.dlq, exc)
                continue
            if self.handlers.concerns(payload):
                parsed.append((message, Delivered(envelope, payload, handler)))
            else:
                unconcerned.append(message)
        # An event the subscription ignores has nothing to apply, but it is settled with the batch,
        # not before: the ack is `multiple` and would cover the events delivered before it.
        settled: list[AbstractIncomingMessage] = list(unconcerned)
        if parsed:
            outcomes = await self._apply([d for _, d in parsed], [m for m, _ in parsed])
            for (message, _), outcome in zip(parsed, outcomes, strict=True):
                if outcome.error is None:
                    settled.append(message)
                else:
                    await self._failed(message, outcome.error)
        elif not settled:
            return
        await self._ack(settled)

    async def _ack(self, messages: Sequence[AbstractIncomingMessage]) -> None:
        """Ack the applied (and duplicate) messages of a batch, once its transaction committed."""
        await _ack_all(messages)

    async def _apply(self, batch: list[Delivered], messages: list[AbstractIncomingMessage]) -> list[Outcome]:
        links = [trace.Link(trace.get_current_span(context_from(dict(m.headers or {}))).get_span_context())
                 for m in messages]
        with tracer(__name__).start_as_current_span(
            f"{self.topology.name} batch", kind=SpanKind.CONSUMER, links=links,
            attributes={"messaging.system": "rabbitmq", "messaging.destination.name": self.topology.name,
                        "messaging.batch.message_count": len(batch)},
        ) as span:
            try:
                return await handle_batch(self.pool, self.topology.name, batch, self._traced(messages))
            except Exception as exc:
                span.record_exception(exc)
                if len(batch) == 1 or _unreachable(exc):  # no event of the batch caused it: retry them all
                    return [Outcome(applied=False, error=exc) for _ in batch]
                log.warning("%s: the batch of %d failed as a whole (%r); each event alone now",
                            self.topology.name, len(batch), exc)
        outcomes: list[Outcome] = []
        for i, item in enumerate(batch):
            try:
                outcomes += await handle_batch(self.pool, self.topology.name, [item], self._traced(messages[i:i + 1]))
            except Exception as exc:
                outcomes.append(Outcome(applied=False, error=exc))
        return outcomes

    def _traced(self, messages: Sequence[AbstractIncomingMessage]) -> Around:
        """Each event's handling in a span of its own, in the trace its message came with."""
        async def around(i: int, apply: Callable[[], Awaitable[None]]) -> None:
            message = messages[i]
            with tracer(__name__).start_as_current_span(
                f"{self.topology.name} process",
                context=context_from(dict(message.headers or {})),
                kind=SpanKind.CONSUMER,
                attributes={
                    "messaging.system": "rabbitmq",
                    "messaging.destination.name": self.topology.name,
                    "messaging.message.id": message.message_id or "",
                    "messaging.rabbitmq.destination.routing_key": message.routing_key or "",
                    "cloudevents.event_type": message.type or message.routing_key or "",
                },
            ) as span:
                try:
                    await apply()
                except Exception as exc:
                    span.record_exception(exc)
                    span.set_status(Status(StatusCode.ERROR, str(exc)))
                    raise
        return around

    async def _failed(self, message: AbstractIncomingMessage, error: Exception) -> None:
        if isinstance(error, PoisonMessage):
            log.warning("dead-lettering poison message %s: %s", message.message_id, error)
            await self._forward(message, self.topology.dlq, error)
            return
        attempt = int(str((message.headers or {}).get(ATTEMPT_HEADER) or 0))
        if attempt < len(self.topology.retry_delays_ms):
            log.warning("retrying %s (attempt %d): %r", message.message_id, attempt + 1, error)
            await self._forward(message, self.topology.retry_queue(attempt), error, attempt + 1)
        else:
            log.error("dead-lettering %s after %d attempts: %r", message.message_id, attempt, error)
            await self._forward(message, self.topology.dlq, error, attempt)

    async def _forward(
        self,
        message: AbstractIncomingMessage,
        queue_name: str,
        error: BaseException,
        attempt: int | None = None,
    ) -> None:
        assert self._channel is not None
        headers: dict[str, FieldValue] = dict(message.headers or {})
        headers[ERROR_HEADER] = f"{type(error).__name__}: {error}"[:1000]
        if attempt is not None:
            headers[ATTEMPT_HEADER] = attempt
        if queue_name == self.topology.dlq:
            headers[DEAD_LETTER_ID_HEADER] = str(uuid.uuid4())
        headers.setdefault(ROUTING_KEY_HEADER, message.routing_key or "")
        copy = aio_pika.Message(
            body=message.body,
            content_type=message.content_type,
            message_id=message.message_id,
            type=message.type,
            timestamp=message.timestamp,
            headers=headers,
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        )
        try:
            await self._channel.default_exchange.publish(copy, routing_key=queue_name)
        except Exception:
            # Not confirmed: leave the original unacked so the broker redelivers it.
            log.exception("could not move %s to %s; it will be redelivered", message.message_id, queue_name)
            with contextlib.suppress(Exception):
                await message.nack(requeue=True)
            return
        with contextlib.suppress(Exception):  # a channel lost meanwhile: the broker redelivers it
            await message.ack()


def _unreachable(error: BaseException) -> bool:
    """The database could not be reached or dropped the connection: trying each event alone would
    only wait that many times."""
    return isinstance(error, OSError | asyncpg.PostgresConnectionError | asyncpg.InterfaceError
                      | asyncpg.CannotConnectNowError | asyncpg.AdminShutdownError)


async def _ack_all(messages: Sequence[AbstractIncomingMessage]) -> None:
    """Ack a settled batch: one `multiple` ack per channel, on its last delivery tag. Every message
    delivered on that channel before it is settled by then (batches are taken in delivery order, one
    at a time); a message whose channel was lost since is redelivered by the broker."""
    last: dict[int, AbstractIncomingMessage] = {}
    for message in messages:
        key = id(message.channel)
        if key not in last or (message.delivery_tag or 0) > (last[key].delivery_tag or 0):
            last[key] = message
    for message in last.values():
        try:
            await message.ack(multiple=True)
        except Exception as exc:
            log.warning("could not ack a batch up to %s (%r); the broker redelivers it", message.message_id, exc)


class LiveConsumer:
    """Fans events out to whoever listens in this process right now (the console's live stream).

    Its queue is server-named, exclusive and auto-deleted: each process hears every event once, and
    a stopped process leaves no queue filling up behind it. Nothing is retried or de-duplicated."""

    def __init__(self, *, bus: Bus, name: str, routing_keys: Iterable[str], callback: LiveCallback) -> None:
        self.bus = bus
        self.name = name
        self.routing_keys = sorted(set(routing_keys))
        self.callback = callback
        self._channel: aio_pika.abc.AbstractChannel | None = None

    async def start(self, connection: AbstractRobustConnection) -> None:
        channel = await connection.channel()
        await channel.set_qos(prefetch_count=64)
        exchange = await channel.declare_exchange(self.bus.exchange_name, aio_pika.ExchangeType.TOPIC, durable=True)
        queue = await channel.declare_queue("", exclusive=True, auto_delete=True)
        for routing_key in self.routing_keys:
            await queue.bind(exchange, routing_key=routing_key)
        self._channel = channel
        await queue.consume(self._on_message)

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        try:
            envelope = parse_envelope(message.body)
            await self.callback(envelope, envelope.payload())
        except Exception as exc:  # live fan-out is best effort: the listener re-reads the API
            log.warning("live consumer %s dropped %s: %r", self.name, message.message_id, exc)
        finally:
            await message.ack()


def current_trace_id() -> str:
    return format(trace.get_current_span().get_span_context().trace_id, "032x")
