"""The GraphQL side every subgraph shares: the request context (who is calling, which shop) and
its loaders, error shaping (codes, no stack traces), the Money type, and the strawberry ASGI endpoint."""

from __future__ import annotations

import logging
import os
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypeVar, cast

import asyncpg
import strawberry
from graphql import BREAK, ExecutionResult, GraphQLError, Visitor, visit
from opentelemetry import trace
from opentelemetry.trace import SpanKind
from starlette.requests import Request
from starlette.responses import Response
from strawberry.asgi import GraphQL
from strawberry.dataloader import DataLoader
from strawberry.extensions import (
    MaskErrors,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    SchemaExtension,
    ValidationCache,
)
from strawberry.extensions.tracing import OpenTelemetryExtension
from strawberry.federation.schema import FederationAny
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.types import Info
from strawberry.types.graphql import OperationType

from shared import edge
from shared.auth import Principal, authenticate
from shared.db import Executor, memo_scope
from shared.errors import FlywheelError
from shared.money import in_minor_units

if TYPE_CHECKING:
    from shared.runtime import Runtime

log = logging.getLogger(__name__)


@strawberry.federation.type(shareable=True, description="An amount in a shop's currency.")
class Money:
    amount: str = strawberry.field(description="Decimal as a string, e.g. \"20.00\"")
    currency: str

    @classmethod
    def of(cls, amount: Decimal, currency: str) -> Money:
        return cls(amount=str(in_minor_units(amount, currency)), currency=currency)


@dataclass
class Context:
    request: Request
    response: Response
    runtime: Runtime
    _principal: Principal | None = None
    _auth_error: FlywheelError | None = None
    loaders: dict[str, Any] = field(default_factory=dict)

    @property
    def principal(self) -> Principal:
        if self._auth_error is not None:
            raise self._auth_error
        assert self._principal is not None
        return self._principal

    @property
    def shop(self) -> str:
        return self.principal.shop

    @property
    def pool(self) -> asyncpg.Pool:
        return self.runtime.pool

    @property
    def client_address(self) -> str:
        """Whom per-client limits count: the client address the gateway decided on, else the peer's."""
        return edge.client_address(self.request, self.runtime.settings)


def ctx(info: Info[Context, Any]) -> Context:
    return info.context


K = TypeVar("K")
V = TypeVar("V")


def request_loader(c: Context, name: str,
                   fetch: Callable[[asyncpg.Pool, str, list[K]], Awaitable[Sequence[V]]]) -> DataLoader[K, V]:
    """The request's loader `name`, made on first use: every field of the request that asks it for a
    key is answered from one `fetch(pool, shop, keys)` of all the keys asked (one query for a page of
    parents instead of one per parent). `fetch` answers one value per key, in the keys' order."""
    loader = c.loaders.get(name)
    if loader is None:
        # The pool and shop, not the context: a loader closing over the context that holds it made
        # the request a reference cycle (ReleasedExecution below says why that matters).
        pool, shop = c.pool, c.shop

        async def load(keys: list[K]) -> Sequence[V]:
            return await fetch(pool, shop, keys)
        loader = c.loaders[name] = DataLoader(load_fn=load)
    return cast(DataLoader[K, V], loader)


def rows_loader(c: Context, name: str, key: str,
                fetch: Callable[[Executor, str, list[str]], Awaitable[Sequence[asyncpg.Record]]]
                ) -> DataLoader[str, asyncpg.Record | None]:
    """`request_loader` over a store function that reads the rows of many ids (in any order, an id
    without a row left out): each id gets the row whose column `key` holds it, or None."""
    async def matched(pool: asyncpg.Pool, shop: str, ids: list[str]) -> list[asyncpg.Record | None]:
        rows = {r[key]: r for r in await fetch(pool, shop, ids)}
        return [rows.get(i) for i in ids]
    return request_loader(c, name, matched)


def customer_ctx(info: Info, customer_id: str) -> Context:
    """The context of a resolver reading one customer's data, once the caller may read it."""
    context: Context = info.context
    context.principal.require_customer_access(customer_id)
    return context


def admin_entity_part(entity: str, key: str, attribute: str, service: str, field: Any, description: str) -> type:
    """A subgraph's part of an admin-only federated entity that every subgraph extends with one field
    named after itself (the GDPR export, the dead letters): `@key(fields: key)`, the key held as
    `attribute`, `field` under the service's name; a reference is resolved for admins only."""

    def resolve_reference(cls: type[Any], /, info: Info, **representation: Any) -> Any:
        info.context.principal.require_admin()
        return cls(**{attribute: strawberry.ID(str(representation.get(key, "")))})

    namespace = {"__annotations__": {attribute: strawberry.ID}, service: field,
                 "resolve_reference": classmethod(resolve_reference)}
    return strawberry.federation.type(keys=[key], description=description)(type(entity, (), namespace))


def guarded_reference(cls: type, info: Info, id: strawberry.ID) -> Any:
    """`resolve_reference` for an entity keyed by a customer id (the gateway's _entities calls,
    or anyone calling a subgraph directly): only that customer or an admin gets it."""
    customer_ctx(info, id)
    return cls(id=id)


# How long a caller waits before trying again when the database is unreachable: a PostgreSQL restart
# or failover takes seconds (the pool reconnects on the next request).
RETRY_AFTER_SECONDS = 2
_DATABASE_DOWN = (asyncpg.PostgresConnectionError, asyncpg.CannotConnectNowError, asyncpg.AdminShutdownError,
                  asyncpg.CrashShutdownError, asyncpg.TooManyConnectionsError, ConnectionError)


def database_unavailable(exc: BaseException | None) -> bool:
    """Whether an error (or what caused it) says the database cannot be reached right now: refused or
    lost connections, a server shutting down, starting up or out of connection slots. Not a query
    that failed on its own (a timeout, a constraint)."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, _DATABASE_DOWN):
            return True
        if isinstance(exc, asyncpg.InterfaceError) and "connection" in str(exc) and "closed" in str(exc):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


class ShapeErrors(MaskErrors):
    """Expected errors keep their message and code; a database that cannot be reached (a PostgreSQL
    restart) is UNAVAILABLE with `retryAfter` seconds, logged as a warning; other unexpected errors
    become a bare INTERNAL_SERVER_ERROR (logged here with their traceback); errors raised before
    execution (syntax, validation, variable coercion) get BAD_USER_INPUT when they carry no code."""

    def __init__(self) -> None:
        super().__init__(error_message="Internal server error")

    def _process_errors(self, errors: list[GraphQLError]) -> list[GraphQLError]:
        shaped: list[GraphQLError] = []
        for error in errors:
            original = error.original_error
            if isinstance(original, FlywheelError):
                shaped.append(error)
            elif error.path is not None and database_unavailable(original):
                log.warning("database unavailable at %s: %r", error.path, original)
                shaped.append(GraphQLError(
                    f"the service's database is unavailable for a moment; retry in {RETRY_AFTER_SECONDS} s",
                    nodes=error.nodes, source=error.source, positions=error.positions, path=error.path,
                    original_error=None,
                    extensions={"code": "UNAVAILABLE", "retryAfter": RETRY_AFTER_SECONDS}))
            elif error.path is None:
                error.extensions = {"code": "BAD_USER_INPUT", **(error.extensions or {})}
                shaped.append(error)
            else:
                log.error("unexpected error at %s: %s", error.path, error.message, exc_info=original)
                masked = self.anonymise_error(error)
                masked.extensions = {"code": "INTERNAL_SERVER_ERROR"}
                shaped.append(masked)
        return shaped


def _holds_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_holds_nul(k) or _holds_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_holds_nul(v) for v in value)
    return False


class _NulInLiterals(Visitor):
    found = False

    def enter_string_value(self, node: Any, *_: Any) -> Any:
        if "\x00" in node.value:
            self.found = True
            return BREAK
        return None


class RefuseNulCharacters(SchemaExtension):
    """PostgreSQL text cannot hold U+0000: a NUL in any argument (variable or literal) failed
    deep in a resolver as an INTERNAL_SERVER_ERROR (found by fuzzing). No field of ours has a use
    for it, so the whole request is refused up front with BAD_USER_INPUT and nothing runs."""

    def on_execute(self):  # type: ignore[no-untyped-def]
        context = self.execution_context
        literals = _NulInLiterals()
        # A literal can only hold NUL through a raw NUL or a \u escape in the text: most documents
        # have neither, and are not walked again on every request.
        query = context.query or ""
        if context.graphql_document is not None and ("\x00" in query or "\\u" in query):
            visit(context.graphql_document, literals)
        if literals.found or _holds_nul(context.variables):
            context.result = ExecutionResult(data=None, errors=[GraphQLError(
                "text may not contain NUL characters (U+0000)", extensions={"code": "BAD_USER_INPUT"})])
        yield


_TRACED_ARGUMENTS = frozenset({"id", "customer_id", "first", "after", "status", "sort", "product_id", "reward_id"})


def _traced_arguments(arguments: dict[str, Any], info: Any) -> dict[str, Any]:
    # Ids and paging only: inputs carry personal data (emails, names) that has no place in traces.
    return {k: v for k, v in arguments.items() if k in _TRACED_ARGUMENTS}


class TraceResolvers(OpenTelemetryExtension):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(arg_filter=_traced_arguments, **kwargs)


class OperationSpan(SchemaExtension):
    """Without resolver spans, still one span per GraphQL operation, named as strawberry names it
    ("GraphQL Query: <operation>"), so a trace shows which operation each subgraph ran."""

    def on_operation(self):  # type: ignore[no-untyped-def]
        context = self.execution_context
        span = _TRACER.start_span(f"GraphQL Query: {context.operation_name}" if context.operation_name
                                  else "GraphQL Query", kind=SpanKind.SERVER, attributes={"component": "graphql"})
        try:
            yield
            if context.operation_name:
                span.update_name(f"GraphQL Query: {context.operation_name}")
        finally:
            span.end()


class QueryMemo(SchemaExtension):
    """A query's resolvers share one memo (shared.db.remembered): what one field read of the shop's
    configuration (the points program, the referral program) the next field of the same request
    reuses instead of reading it again. Queries only: a mutation's fields run one after another,
    each in its own transaction with a memo of its own, and a read after one must see its write."""

    def on_execute(self):  # type: ignore[no-untyped-def]
        if self.execution_context.operation_type is OperationType.QUERY:
            with memo_scope():
                yield
        else:
            yield


_TRACER = trace.get_tracer("flywheel.graphql")

# Every subgraph schema uses these, in this order. Storefronts send the same few documents over and
# over (the gateway's query plans even more so), so each is parsed and validated once: validation
# alone was 12 % of the points subgraph's busy samples in a py-spy profile of panel reads. A span per
# resolver is detail for debugging, off unless TRACE_RESOLVERS=1: it cost 6 of the 13.5 ms of CPU the
# points subgraph spent on a rewards panel read (tests/bench/cpu.py); the request, SQL and message
# spans and one span per operation still make one trace.
_CACHES = [ParserCache(maxsize=1024), ValidationCache(maxsize=1024)]
_TRACING = [TraceResolvers] if os.environ.get("TRACE_RESOLVERS", "0") == "1" else [OperationSpan]
# A second line behind the gateway's depth (15) and token (2000) limits, for whatever reaches a
# subgraph some other way: the gateway's plans add a level (_entities) and key fields, never hundreds
# of aliases. Refused documents get BAD_USER_INPUT and run nothing.
_LIMITS = [QueryDepthLimiter(max_depth=20), MaxAliasesLimiter(max_alias_count=100),
           MaxTokensLimiter(max_token_count=4000)]
EXTENSIONS = [*_LIMITS, *_CACHES, *_TRACING, QueryMemo, ShapeErrors, RefuseNulCharacters]


# A request's execution is freed by reference counting when it ends, not left to the cycle collector.
# Left as they were, graphql-core's executor (its async helpers are its own bound methods), strawberry's
# federation resolver (it writes the resolver's `info` into each representation, which the request's
# variables hold, which the info holds) and our loaders (each closed over the context that holds it;
# request_loader above no longer does) made every request a reference cycle, with its context, the
# HTTP request and the executor's field caches in it: ~130 objects a request in points that only the
# collector freed, walking them in young collections first. Without them the young collections of a
# bench floor section cost the four services half the CPU (bench/router-default-2026-12-08.json).
# tests/unit/shared/test_request_garbage.py counts what a request leaves to the collector.
class ReleasedExecution(StrawberryGraphQLCoreExecutionContext):
    """The executor, letting go of what points back at it once its operation has its result."""

    def execute_operation(self, serially: bool | None = None) -> Any:
        result = super().execute_operation(serially)
        if not self.is_awaitable(result):
            self._release()
            return result
        return self._released(result)

    async def _released(self, result: Awaitable[Any]) -> Any:
        try:
            return await result
        finally:
            self._release()

    def _release(self) -> None:
        # Work still settling in the background (a sibling of a failed non-null field) needs them.
        if self.background_futures or self.pending_incremental_futures:
            return
        del self.async_helpers, self.variable_values


class SubgraphSchema(strawberry.federation.Schema):
    """Every subgraph's schema: Apollo Federation 2.9, the shared extensions, executions released."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(extensions=EXTENSIONS, execution_context_class=ReleasedExecution,
                         federation_version="2.9", **kwargs)

    def entities_resolver(self, info: Info, representations: list[FederationAny]) -> list[FederationAny]:
        # strawberry pops __typename from each representation and adds `info` to it: on copies, so that
        # the request's variables are left as they came and hold no info.
        return super().entities_resolver(info, [dict(r) for r in representations])  # type: ignore[call-overload]  # each a JSON object


class FlywheelGraphQL(GraphQL):
    async def get_context(self, request: Request, response: Response) -> Context:  # type: ignore[override]
        runtime = request.app.state.runtime
        context = Context(request=request, response=response, runtime=runtime)
        try:
            context._principal = authenticate(request.headers, runtime.settings)
        except FlywheelError as exc:
            context._auth_error = exc
        return context
