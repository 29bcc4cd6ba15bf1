"""The composition root of a service process: settings, migrations, pool, bus (outbox relay,
consumers), scheduler, tracing, and the Starlette app with /graphql, /healthz and /readyz behind the
edge's guards (shared/edge.py), plus the service's own routes."""

from __future__ import annotations

import contextlib
import gc
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import strawberry
from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from shared import edge
from shared.bus import Bus, Consumer, QueueTopology
from shared.db import SHARED_MIGRATIONS, create_pool, migrate
from shared.dead_letters import DeadLetterKeeper
from shared.errors import FlywheelError
from shared.graphql import FlywheelGraphQL
from shared.handlers import EventHandlers
from shared.outbox import Relay
from shared.schedule import JobHandler, Scheduler
from shared.settings import Settings
from shared.telemetry import setup_tracing, shutdown_tracing

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    settings: Settings
    pool: asyncpg.Pool
    bus: Bus
    relay: Relay
    scheduler: Scheduler | None
    extras: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ServiceDefinition:
    name: str
    schema: strawberry.federation.Schema
    migrations: Path
    consumers: EventHandlers = field(default_factory=EventHandlers)
    jobs: Mapping[str, JobHandler] = field(default_factory=dict)
    # The service's own HTTP routes, for callers from outside (platform webhooks, links in messages):
    # on <SERVICE>_PUBLIC_PORT when set, and in development on the GraphQL port as well.
    routes: Sequence[BaseRoute] = ()
    # Called once the runtime exists (e.g. to build an SMTP sender); may store things in extras.
    on_start: Callable[[Runtime], Awaitable[None]] | None = None
    on_stop: Callable[[Runtime], Awaitable[None]] | None = None


class ExpectedErrorsAreInfo(logging.Filter):
    """Strawberry logs every GraphQL error with its stack; a refused input or credential is the
    caller's business, so it becomes one INFO line and the ERROR level stays for real faults."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and isinstance(record.exc_info[1], FlywheelError):
            record.levelno, record.levelname = logging.INFO, "INFO"
            record.exc_info, record.exc_text, record.stack_info = None, None, None
            error = record.msg
            record.msg, record.args = "%s at %s: %s", (
                type(getattr(error, "original_error", error)).__name__,
                "/".join(map(str, getattr(error, "path", None) or [])), getattr(error, "message", error))
        return True


# GraphQL requests one service process works on at once; past it, 503 at once (Retry-After, UNAVAILABLE)
# rather than a queue inside the event loop that makes every answer late. Sized from measuring this
# machine (docs/operations.md, "Overload"): one process answers the points part of the rewards panel
# at ~400 req/s with 16 in flight, p99 150 ms; 32 in flight only doubles the wait. The gateway's own
# gates (gateway/overload.ts) normally keep a subgraph far below it; this one holds for any caller.
DEFAULT_MAX_CONCURRENT = 32
RETRY_AFTER_SECONDS = "1"


def max_concurrent() -> int:
    value = os.environ.get("SUBGRAPH_MAX_CONCURRENT", "").strip() or str(DEFAULT_MAX_CONCURRENT)
    if not value.isdigit() or int(value) < 1:
        raise RuntimeError(f"SUBGRAPH_MAX_CONCURRENT must be a positive whole number, got {value!r}")
    return int(value)


class ConcurrencyLimit:
    """At most `limit` /graphql requests in progress; one more is refused before it is read."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app, self.limit, self.active = app, limit, 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != "/graphql":
            await self.app(scope, receive, send)
            return
        if self.active >= self.limit:
            response = JSONResponse(
                {"errors": [{"message": "the service is over capacity; try again shortly",
                             "extensions": {"code": "UNAVAILABLE"}}]},
                status_code=503, headers={"retry-after": RETRY_AFTER_SECONDS})
            await response(scope, receive, send)
            return
        self.active += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.active -= 1


def freeze_startup_heap() -> int:
    """What a service makes while starting (its schema, modules, settings, pool, consumers) lives as
    long as the process. Moved out of the collector's reach, a full collection no longer walks it:
    those walks paused a service 70-110 ms at a time, a few times a minute under load, and made the
    p99 of redeemReward at 50/s (README, Benchmarks). Objects made later are collected as before."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


def create_app(definition: ServiceDefinition, settings: Settings | None = None) -> OpenTelemetryMiddleware:
    settings = settings or Settings.from_env(definition.name)
    edge.refuse_weak_credentials(settings)
    own_routes = None
    if definition.routes and settings.public_port is not None:
        own_routes = edge.OwnRoutesListener(definition.routes, settings.public_host, settings.public_port)
    elif definition.routes and settings.production:
        raise RuntimeError(f"FLYWHEEL_ENV=production: {definition.name}'s own routes need a listener of their "
                           f"own: set {definition.name.upper()}_PUBLIC_PORT")
    logging.basicConfig(level=logging.INFO, format=f"%(asctime)s {definition.name} %(levelname)s %(name)s: %(message)s")
    logging.getLogger("strawberry.execution").addFilter(ExpectedErrorsAreInfo())

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        setup_tracing(definition.name, settings.trace_dir, settings.otlp_endpoint, sql=settings.trace_sql)
        dsn = settings.dsn()
        await migrate(dsn, [("shared", SHARED_MIGRATIONS), (definition.name, definition.migrations)])
        pool = await create_pool(dsn)
        bus = Bus(settings.amqp_url, client_name=definition.name)
        if definition.consumers:
            bus.add_consumer(
                Consumer(
                    bus=bus, pool=pool, topology=QueueTopology(f"{definition.name}.events"),
                    handlers=definition.consumers, batch_size=settings.batch_size,
                    batch_wait_ms=settings.batch_wait_ms,
                )
            )
            bus.add_consumer(DeadLetterKeeper(pool, f"{definition.name}.events"))
        bus.start_in_background()
        relay = Relay(pool, bus, dsn)
        relay.start()
        scheduler = Scheduler(pool, definition.jobs) if definition.jobs else None
        runtime = Runtime(settings=settings, pool=pool, bus=bus, relay=relay, scheduler=scheduler)
        if definition.on_start is not None:
            await definition.on_start(runtime)
        if scheduler is not None:
            scheduler.start()
        app.state.runtime = runtime
        if own_routes is not None:
            await own_routes.start(runtime)
        frozen = freeze_startup_heap()
        log.info("startup heap frozen (pid %d): %d objects", os.getpid(), frozen)
        try:
            yield
        finally:
            if own_routes is not None:
                await own_routes.stop()
            if scheduler is not None:
                await scheduler.stop()
            if definition.on_stop is not None:
                await definition.on_stop(runtime)
            await relay.stop()
            await bus.close()
            await pool.close()
            shutdown_tracing()

    async def healthz(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok", "service": definition.name})

    async def readyz(request: Request) -> JSONResponse:
        """Ready: the database and the broker are reachable. `?broker=optional` is the question
        a load balancer or Kubernetes asks before sending traffic: without the broker a service
        still takes requests (their events wait in the outbox), so a RabbitMQ outage must not take
        every instance out of rotation."""
        runtime: Runtime = request.app.state.runtime
        checks = {"database": False, "broker": runtime.bus.connected}
        with contextlib.suppress(Exception):
            checks["database"] = await runtime.pool.fetchval("SELECT true", timeout=2)
        required = [checks["database"]]
        if request.query_params.get("broker") != "optional":
            required.append(checks["broker"])
        ready = all(required)
        return JSONResponse({"ready": ready, **checks}, status_code=200 if ready else 503)

    graphql = FlywheelGraphQL(definition.schema, graphql_ide=None if settings.production else "graphiql")
    app = Starlette(
        routes=[
            Route("/graphql", graphql, methods=["GET", "POST"]),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            *(() if settings.production else definition.routes),
        ],
        middleware=edge.middleware(settings),
        exception_handlers=edge.EXCEPTION_HANDLERS,
        lifespan=lifespan,
    )
    limited = ConcurrencyLimit(app, max_concurrent())
    return OpenTelemetryMiddleware(limited, excluded_urls="healthz,readyz", exclude_spans=["receive", "send"])
