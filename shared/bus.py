"""The message bus on RabbitMQ (aio-pika): one way to publish, one way to consume.

Topology, per consuming service:
  exchange  flywheel.events            durable topic exchange, routing key = event type
  queue     <service>.events           durable quorum queue bound to the types the service handles
  queues    <service>.events.retry.<ms> one classic queue per backoff step; messages wait out the
                                        queue's TTL, then dead-letter back into <service>.events
  queue     <service>.events.dlq       quorum queue of messages given up on, with the reason
A live consumer (LiveConsumer, the console's server-sent events) instead gets a per-process queue
that the broker deletes with the connection: it fans events out to whoever is connected right now,
so there is nothing to retry, dead-letter or de-duplicate (no inbox, no pool); a callback error is
logged and the message dropped, because the listener re-reads the API anyway.

What a consumer does with a message (see Consumer._on_message):
  handled (or already in the inbox)   -> ack
  PoisonMessage (malformed, unknown)  -> straight to the DLQ, ack; the queue keeps flowing
  any other exception                 -> to the next retry queue with attempt+1, ack;
                                         after the last step -> DLQ with the error, ack
  process dies mid-message            -> RabbitMQ redelivers; the inbox makes it harmless;
                                         the quorum queue's delivery limit dead-letters a crash loop
The copy is published with a publisher confirm before the original is acked, so a broker outage
in between redelivers rather than loses.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Protocol

import aio_pika
import asyncpg
from aio_pika.abc import AbstractIncomingMessage, AbstractRobustConnection, FieldValue
from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from shared.events import Envelope, EventData, PoisonMessage, parse_envelope
from shared.handlers import EventHandlers
from shared.inbox import handle_once
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

    async def close(self) -> None:
        if self._connect_task is not None:
            self._connect_task.cancel()
        if self._connection is not None:
            await self._connection.close()


class Startable(Protocol):
    async def start(self, connection: AbstractRobustConnection) -> None: ...


class Consumer:
    """Consumes one service queue through the inbox; the registry (shared/handlers.py) says which
    event types the queue is bound to and which handler takes each payload."""

    def __init__(
        self,
        *,
        bus: Bus,
        pool: asyncpg.Pool,
        topology: QueueTopology,
        handlers: EventHandlers,
        prefetch: int = 16,
    ) -> None:
        self.bus = bus
        self.pool = pool
        self.topology = topology
        self.handlers = handlers
        self.prefetch = prefetch
        self._channel: aio_pika.abc.AbstractChannel | None = None

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
        for routing_key in self.handlers.routing_keys():
            await queue.bind(exchange, routing_key=routing_key)
        self._channel = channel
        await queue.consume(self._on_message)

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        headers = dict(message.headers or {})
        with tracer(__name__).start_as_current_span(
            f"{self.topology.name} process",
            context=context_from(headers),
            kind=SpanKind.CONSUMER,
            attributes={
                "messaging.system": "rabbitmq",
                "messaging.destination.name": self.topology.name,
                "messaging.message.id": message.message_id or "",
                "messaging.rabbitmq.destination.routing_key": message.routing_key or "",
            },
        ) as span:
            try:
                envelope = parse_envelope(message.body)
                span.set_attribute("cloudevents.event_type", envelope.type)
                payload = envelope.payload()
                handler = self.handlers.handler_for(payload)
                if handler is None:
                    raise PoisonMessage(
                        f"no handler for {envelope.type} v{envelope.dataversion} in {self.topology.name}")
                applied = await handle_once(self.pool, self.topology.name, envelope, payload, handler)
                span.set_attribute("flywheel.inbox.duplicate", not applied)
            except PoisonMessage as exc:
                span.set_status(Status(StatusCode.ERROR, str(exc)))
                log.warning("dead-lettering poison message %s: %s", message.message_id, exc)
                await self._forward(message, self.topology.dlq, headers, exc)
            except Exception as exc:
                span.record_exception(exc)
                span.set_status(Status(StatusCode.ERROR, str(exc)))
                attempt = int(str(headers.get(ATTEMPT_HEADER) or 0))
                if attempt < len(self.topology.retry_delays_ms):
                    log.warning("retrying %s (attempt %d): %r", message.message_id, attempt + 1, exc)
                    await self._forward(
                        message, self.topology.retry_queue(attempt), headers, exc, attempt + 1
                    )
                else:
                    log.error("dead-lettering %s after %d attempts: %r", message.message_id, attempt, exc)
                    await self._forward(message, self.topology.dlq, headers, exc, attempt)
            else:
                await message.ack()

    async def _forward(
        self,
        message: AbstractIncomingMessage,
        queue_name: str,
        headers: dict[str, FieldValue],
        error: BaseException,
        attempt: int | None = None,
    ) -> None:
        assert self._channel is not None
        headers = dict(headers)
        headers[ERROR_HEADER] = f"{type(error).__name__}: {error}"[:1000]
        if attempt is not None:
            headers[ATTEMPT_HEADER] = attempt
        headers.setdefault("x-flywheel-routing-key", message.routing_key or "")
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
            await message.nack(requeue=True)
            return
        await message.ack()


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
