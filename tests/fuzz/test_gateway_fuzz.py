"""Fuzzing every query and mutation of the supergraph through the real gateway, as admin, customer,
the commerce platform (ingest) and an anonymous caller of the shop `fuzz`, two ways:

  - shapes: hypothesis-graphql builds schema-valid documents (any selection, arbitrary literal
    arguments);
  - values: one document per operation with its arguments as variables, drawn from values that get
    past type coercion into the services' own rules: decimals and almost-decimals, currency codes,
    dates, ids that exist in the shop, edge integers, NUL bytes, very long strings.

For every answer:

  - the HTTP status is below 500 and the body is a GraphQL response;
  - every error has an extensions.code, and none is INTERNAL_SERVER_ERROR or
    DOWNSTREAM_SERVICE_ERROR (those are unexpected exceptions: bugs to fix, not answers);
  - no error shows a stack trace, a file path, SQL or a driver message;
  - a mutation that failed left every table of the shop in every service as it was (no partial
    write), and the points ledger still adds up to the balances.

Bounded and reproducible: a fixed number of derandomized examples per operation, no shrinking
(a failure names the exact document). FUZZ_EXAMPLES scales the count (default 2 shapes and 4 value
sets per operation)."""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Iterator
from datetime import UTC

import asyncpg
import httpx
import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    build_schema,
    get_named_type,
)
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis_graphql import from_schema, nodes

from shared.db import Connection, init_connection
from tests.conftest import ROOT
from tests.e2e.authz_support import RULES
from tests.invariants import ledger_violations
from tests.stack import SERVICES, customer_token, dsn, ensure_stack, gateway_url, unique

pytestmark = pytest.mark.fuzz

SHOP = "fuzz"
SCHEMA = build_schema((ROOT / "gateway" / "supergraph.graphql").read_text(), assume_valid=True,
                      assume_valid_sdl=True)
QUERIES = sorted(name for name in SCHEMA.query_type.fields if not name.startswith("_"))
MUTATIONS = sorted(SCHEMA.mutation_type.fields)
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "2"))

CUSTOMER = unique("fuzz-c")  # fresh each run: the fuzz shop outlives runs, earlier runs moved their rows on
ORDER = unique("fuzz-o")
CALLERS = {
    "admin": customer_token("fuzz-ops", shop=SHOP, roles=["admin"], ttl=3600),
    "customer": customer_token(CUSTOMER, shop=SHOP, ttl=3600),
    "ingest": {"x-api-key": "fuzz-ingest-key"},  # API_KEYS in .env: fuzz-ingest-key:ingest:fuzz
    "anonymous": {"x-shop": SHOP},
}
ENTITLED = {"public": "anonymous", "customer": "customer", "ingest": "ingest", "admin": "admin",
            "checkout": "customer"}

# Custom scalars: mostly well-formed values (so calls get past coercion into the services' rules),
# sometimes anything at all.
_text = st.text(max_size=12).map(nodes.String)
CUSTOM_SCALARS = {
    "DateTime": st.one_of(
        st.datetimes(timezones=st.just(UTC)).map(lambda d: nodes.String(d.isoformat())),
        _text),
    "Date": st.one_of(st.dates().map(lambda d: nodes.String(d.isoformat())), _text),
    "JSON": st.one_of(_text, st.integers().map(nodes.Int), st.just(nodes.Object([]))),
}

# Values that reach the services' rules. Ids of things that exist in the shop come first, so some
# calls act on real rows (the seeded customer, her paid order, the catalog's rewards).
KNOWN_IDS = [CUSTOMER, ORDER, "p-fuzz"]
EDGE_TEXT = ["", " ", "0", "-1", "1.5", "12.50", "0.001", "-0.00", "1e3", "1E-7", "NaN", "Infinity", "-inf",
             "99999999999999999999999.99", "1,50", "EUR", "eur", "XXX", "JPY", "de", "en", "xx-YY", "22:00", "25:61",
             "2026-11-20", "2026-02-30", "2026-11-20T10:00:00Z", "not a date", "a@b.c", "@", "https://x.test/a.jpg",
             "javascript:alert(1)", "\x00", "a\x00b", "\u202e", "💥", "'; DROP TABLE accounts; --", "%s%s%n",
             "{{ 7*7 }}", "x" * 5000]
EDGE_INTS = [0, 1, -1, 2, 100, 10_000, -10_000, 2**31 - 1, -(2**31)]


def _value(type_, depth: int = 0) -> st.SearchStrategy:
    if isinstance(type_, GraphQLNonNull):
        return _value(type_.of_type, depth)
    nullable = st.none()
    if isinstance(type_, GraphQLList):
        inner = st.lists(_value(type_.of_type, depth + 1), max_size=3 if depth < 2 else 1)
        return st.one_of(inner, nullable)
    if isinstance(type_, GraphQLEnumType):
        return st.sampled_from(sorted(type_.values))
    if isinstance(type_, GraphQLInputObjectType):
        required = {n: _value(f.type, depth + 1) for n, f in type_.fields.items() if isinstance(f.type, GraphQLNonNull)}
        optional = {n: _value(f.type, depth + 1) for n, f in type_.fields.items() if n not in required}
        return st.fixed_dictionaries(required, optional=optional)
    assert isinstance(type_, GraphQLScalarType)
    text = st.one_of(st.sampled_from(EDGE_TEXT), st.text(max_size=20))
    return {
        "ID": st.one_of(st.sampled_from(KNOWN_IDS), text),
        "String": text,
        "Int": st.one_of(st.sampled_from(EDGE_INTS), st.integers(-(2**31), 2**31 - 1)),
        "Float": st.one_of(st.sampled_from([0.0, -1.0, 0.5, 1e308]), st.floats(allow_nan=False, allow_infinity=False)),
        "Boolean": st.booleans(),
        "DateTime": st.one_of(st.sampled_from(["2026-11-20T10:00:00+00:00", "2099-01-01T00:00:00Z",
                                               "1970-01-01T00:00:00Z", "2026-11-20", "soon"]),
                              st.datetimes(timezones=st.just(UTC)).map(lambda d: d.isoformat())),
        "Date": st.one_of(st.sampled_from(["2000-02-29", "1900-01-01", "2999-12-31", "02/03/2000"]),
                          st.dates().map(lambda d: d.isoformat())),
        "JSON": st.one_of(st.none(), text, st.dictionaries(st.text(max_size=5), text, max_size=3)),
    }.get(type_.name, text)


def _selection(type_, depth: int = 0) -> str:
    """Every leaf of the result, and the leaves one object further down."""
    named = get_named_type(type_)
    if not isinstance(named, GraphQLObjectType):
        return ""
    leaves, nested = ["__typename"], []
    for name, field in named.fields.items():
        if any(isinstance(a.type, GraphQLNonNull) for a in field.args.values()):
            continue
        inner = get_named_type(field.type)
        if isinstance(inner, (GraphQLScalarType, GraphQLEnumType)):
            leaves.append(name)
        elif depth < 1:
            nested.append(f"{name} {{ {_selection(inner, depth + 1)} }}")
    return " ".join(leaves + nested)


def with_variables(field_name: str, kind: str) -> st.SearchStrategy[tuple[str, dict]]:
    root = SCHEMA.query_type if kind == "query" else SCHEMA.mutation_type
    field = root.fields[field_name]
    declared = ", ".join(f"${n}: {a.type}" for n, a in field.args.items())
    passed = ", ".join(f"{n}: ${n}" for n in field.args)
    selection = _selection(field.type)
    head = f"{kind} Fuzz({declared})" if declared else f"{kind} Fuzz"
    call = f"{field_name}({passed})" if passed else field_name
    document = f"{head} {{ {call} {{ {selection} }} }}" if selection else f"{head} {{ {call} }}"
    required = {n: _value(a.type) for n, a in field.args.items() if isinstance(a.type, GraphQLNonNull)}
    optional = {n: _value(a.type) for n, a in field.args.items() if n not in required}
    return st.fixed_dictionaries(required, optional=optional).map(lambda variables: (document, variables))


# What a masked or leaked internal failure looks like in a message.
LEAKS = re.compile(
    r"Traceback|File \"|\.py\b|\.ts\b|\.js\b|/work/|site-packages|node_modules|\bat \S+ \(|asyncpg|psycopg"
    r"|\bSELECT\b|\bINSERT\b|\bUPDATE\b.*\bSET\b|\bviolates\b|duplicate key|syntax error at|relation \""
    r"|invalid input syntax|Unexpected error\.|Internal server error",
    re.IGNORECASE,
)
UNEXPECTED = {"INTERNAL_SERVER_ERROR", "DOWNSTREAM_SERVICE_ERROR", None}


def problems_in(status: int, body: object) -> list[str]:
    """What is wrong with one gateway answer (empty: nothing)."""
    if status >= 500:
        return [f"HTTP {status}"]
    if not isinstance(body, dict) or not ("data" in body or "errors" in body):
        return [f"not a GraphQL response: {body!r}"[:300]]
    found = []
    for error in body.get("errors") or []:
        code = (error.get("extensions") or {}).get("code")
        if code in UNEXPECTED:
            found.append(f"error code {code!r}: {error.get('message')!r} at {error.get('path')}")
        if LEAKS.search(error.get("message", "")):
            found.append(f"internals in message: {error.get('message')!r}")
        extensions = error.get("extensions") or {}
        if {"stacktrace", "stack", "exception", "originalError"} & set(extensions):
            found.append(f"internals in extensions: {sorted(extensions)}")
    return found


class ShopState:
    """Every row of the shop `fuzz` in every service database, as a digest per table. The outbox
    counts rows only (the relay stamps published_at later); the inbox and the schedule change on
    their own (consumers, due jobs) and are left out."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.conns: dict[str, Connection] = {}
        self.queries: dict[str, str] = {}

    def open(self) -> None:
        self.loop.run_until_complete(self._open())

    async def _open(self) -> None:
        for service in SERVICES:
            conn = await asyncpg.connect(dsn(service))
            await init_connection(conn)
            tables = await conn.fetch(
                """SELECT table_name FROM information_schema.columns
                    WHERE table_schema = 'public' AND column_name = 'shop_id'
                      AND table_name NOT IN ('inbox', 'scheduled_jobs') ORDER BY table_name""")
            parts = []
            for (table,) in tables:
                digest = ("''" if table == "outbox"
                          else "md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), ''))")
                parts.append(f"SELECT '{table}' AS name, count(*) AS n, {digest} AS digest "
                             f'FROM "{table}" t WHERE shop_id = $1')
            self.conns[service] = conn
            self.queries[service] = " UNION ALL ".join(parts)

    def close(self) -> None:
        for conn in self.conns.values():
            self.loop.run_until_complete(conn.close())

    def snapshot(self) -> dict[str, tuple[int, str]]:
        return self.loop.run_until_complete(self._snapshot())

    async def _snapshot(self) -> dict[str, tuple[int, str]]:
        state = {}
        for service, conn in self.conns.items():
            for row in await conn.fetch(self.queries[service], SHOP):
                state[f"{service}.{row['name']}"] = (row["n"], row["digest"])
        return state

    def unpublished(self) -> int:
        async def count() -> int:
            total = 0
            for conn in self.conns.values():
                total += await conn.fetchval(
                    "SELECT count(*) FROM outbox WHERE shop_id = $1 AND published_at IS NULL", SHOP)
            return total
        return self.loop.run_until_complete(count())

    def settle(self, timeout: float = 15.0) -> dict[str, tuple[int, str]]:
        """Wait until the events of earlier successful calls have been published and handled (the
        shop's state stops changing), so a later comparison sees only what one call did."""
        deadline = self.loop.time() + timeout
        before = self.snapshot()
        while self.loop.time() < deadline:
            self.loop.run_until_complete(asyncio.sleep(0.25))
            after = self.snapshot()
            if after == before and self.unpublished() == 0:
                return after
            before = after
        return before


def changed(before: dict, after: dict) -> list[str]:
    return sorted(name for name in before.keys() | after.keys() if before.get(name) != after.get(name))


@pytest.fixture(scope="module")
def world() -> Iterator[tuple[httpx.Client, ShopState]]:
    ensure_stack()
    loop = asyncio.new_event_loop()
    state = ShopState(loop)
    state.open()
    with httpx.Client(timeout=30) as client:
        # The fuzz shop's customer exists and has a paid order, so calls can act on real rows.
        def ingest(query: str, variables: dict) -> None:
            body = client.post(gateway_url(), headers=CALLERS["ingest"],
                               json={"query": query, "variables": variables}).json()
            assert body.get("data"), f"is fuzz-ingest-key:ingest:fuzz missing from API_KEYS in .env? {body}"
        ingest("mutation($i: CustomerInput!) { upsertCustomer(input: $i) { id } }",
               {"i": {"id": CUSTOMER, "email": f"{CUSTOMER}@example.com", "firstName": "Anna"}})
        ingest("mutation($i: OrderInput!) { recordOrder(input: $i) { id } }",
               {"i": {"id": ORDER, "customerId": CUSTOMER, "currency": "EUR", "total": "30.00",
                      "placedAt": "2026-11-20T10:00:00+00:00",
                      "lines": [{"productId": "p-fuzz", "quantity": 1, "unitPrice": "30.00"}]}})
        ingest("mutation($o: ID!) { updateOrderStatus(id: $o, status: PAID) { id } }", {"o": ORDER})
        state.settle()
        yield client, state
    state.close()
    loop.close()


def callers_for(field: str) -> st.SearchStrategy[str]:
    """Mostly the caller the operation is meant for (its rules run), sometimes any other."""
    entitled = ENTITLED[RULES[field]]
    return st.one_of(st.just(entitled), st.sampled_from(sorted(CALLERS)))


def fuzz(field: str, kind: str, world) -> None:
    client, state = world
    failures: list[str] = []
    dirty = [True]  # a call went through: its events may still be landing

    def call(document: str, variables: dict, caller: str) -> None:
        before = (state.settle() if dirty[0] else state.snapshot()) if kind == "mutation" else None
        response = client.post(gateway_url(), json={"query": document, "variables": variables},
                               headers=CALLERS[caller])
        try:
            body = response.json()
        except ValueError:
            body = response.text
        found = problems_in(response.status_code, body)
        failed = isinstance(body, dict) and body.get("errors") and not (body.get("data") or {}).get(field)
        if kind == "mutation" and failed:
            after = state.snapshot()
            if after != before:  # something else may still be landing: look again once all is quiet
                after = state.settle()
            if after != before:
                found.append(f"failed mutation changed {changed(before, after)}")
        dirty[0] = dirty[0] or not failed
        if found:
            failures.append(f"as {caller}: {found}\n{document}\nvariables: {str(variables)[:400]}"
                            f"\n→ {str(body)[:600]}")

    shapes = from_schema(SCHEMA, fields=[field], custom_scalars=CUSTOM_SCALARS)
    common = {"derandomize": True, "deadline": None, "database": None, "phases": [Phase.generate],
              "suppress_health_check": list(HealthCheck)}

    @settings(max_examples=EXAMPLES, **common)
    @given(document=shapes, caller=callers_for(field))
    def by_shape(document: str, caller: str) -> None:
        call(document, {}, caller)

    @settings(max_examples=2 * EXAMPLES, **common)
    @given(request=with_variables(field, kind), caller=callers_for(field))
    def by_value(request: tuple[str, dict], caller: str) -> None:
        call(*request, caller)

    by_shape()
    by_value()
    invariant = state.loop.run_until_complete(ledger_violations(SHOP))
    assert not failures, f"{len(failures)} bad answer(s) for {field}:\n\n" + "\n\n".join(failures)
    assert not invariant, invariant


@pytest.mark.parametrize("field", QUERIES)
def test_queries_answer_arbitrary_arguments_cleanly(field, world):
    fuzz(field, "query", world)


@pytest.mark.parametrize("field", MUTATIONS)
def test_mutations_refuse_or_apply_arbitrary_input_whole(field, world):
    fuzz(field, "mutation", world)


def test_the_leak_detector_sees_what_it_should():
    assert problems_in(502, {}) == ["HTTP 502"]
    assert problems_in(200, {"errors": [{"message": "x", "extensions": {"code": "INTERNAL_SERVER_ERROR"}}]})
    assert problems_in(200, {"errors": [{"message": 'duplicate key value violates unique constraint "p"',
                                         "extensions": {"code": "BAD_USER_INPUT"}}]})
    assert problems_in(200, {"errors": [{"message": "no code"}]})
    assert not problems_in(200, {"data": None, "errors": [{"message": "unknown reward",
                                                           "extensions": {"code": "NOT_FOUND"}}]})
