"""Talking to the running stack: the gateway, the subgraphs, their databases, the mail sink."""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import subprocess
import time
import uuid
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import aio_pika
import asyncpg
import httpx
import jwt

from shared.bus import EXCHANGE
from shared.db import Connection, init_connection
from shared.events import EventData, new_envelope
from tests.conftest import ROOT

SERVICES = ("customers", "points", "referrals", "reviews", "notifications")
T = TypeVar("T")


def port(name: str) -> int:
    return int(os.environ[f"{name.upper()}_PORT"])


def gateway_url() -> str:
    return f"http://127.0.0.1:{port('gateway')}/graphql"


def subgraph_url(service: str) -> str:
    return f"http://127.0.0.1:{port(service)}/graphql"


def mailsink_url() -> str:
    return f"http://127.0.0.1:{os.environ['MAILSINK_HTTP_PORT']}"


def dsn(service: str) -> str:
    return (f"postgresql://{os.environ['PG_USER']}:{os.environ['PG_PASSWORD']}@{os.environ['PG_HOST']}:"
            f"{os.environ['PG_PORT']}/flywheel_{service}")


def amqp_url() -> str:
    e = os.environ
    return f"amqp://{e['AMQP_USER']}:{e['AMQP_PASSWORD']}@{e['AMQP_HOST']}:{e['AMQP_PORT']}/{e['AMQP_VHOST']}"


# The suite's own shop. Tests never write into DEFAULT_SHOP (`default`): that is the developer's, where
# the README's quickstart runs; after `make test` it holds nothing but what it held before
# (tests/e2e/test_default_shop.py). .env.example's API_KEYS give this shop an admin and an ingest key.
TEST_SHOP = "tests"
ADMIN = {"x-api-key": "tests-admin-key"}
INGEST = {"x-api-key": "tests-ingest-key"}
PUBLIC = {"x-shop": TEST_SHOP}  # a caller without credentials, looking at the suite's shop
DEFAULT_SHOP = os.environ.get("DEFAULT_SHOP", "default")  # only to check that no test wrote there


def customer_token(sub: str, *, shop: str | None = TEST_SHOP, secret: str | None = None, ttl: int = 600,
                   **claims: Any) -> dict[str, str]:
    """A customer's JWT, of the suite's shop unless `shop` names another (None: no shop claim, which
    means DEFAULT_SHOP: only for reads that check that rule)."""
    payload = {"sub": sub, "exp": int(time.time()) + ttl, **claims}
    if shop:
        payload["shop"] = shop
    token = jwt.encode(payload, secret or os.environ["JWT_SECRET"], algorithm="HS256")
    return {"authorization": f"Bearer {token}"}


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def healthy(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def all_ready() -> bool:
    return healthy(f"http://127.0.0.1:{port('gateway')}/healthcheck") and all(
        healthy(f"http://127.0.0.1:{port(s)}/readyz") for s in SERVICES)


def ensure_stack() -> None:
    """Reuse a running stack, or start it the way `make up` does; then note what the default shop
    holds before the suite writes anything (tests/e2e/test_default_shop.py compares at the end)."""
    if not all_ready():
        subprocess.run([str(ROOT / "infra/local/stack.sh"), "up"], check=True, cwd=ROOT)
    _check_test_keys()
    global DEFAULT_SHOP_BEFORE
    if DEFAULT_SHOP_BEFORE is None:
        DEFAULT_SHOP_BEFORE = _in_a_thread(default_shop_rows)


def _check_test_keys() -> None:
    answer = httpx.post(gateway_url(), json={"query": "{ program { version } }"}, headers=ADMIN, timeout=30)
    if answer.status_code == 401:
        raise RuntimeError(
            "the running stack does not know the test suite's API keys (tests-admin-key, tests-ingest-key, "
            "bench-…): copy API_KEYS from .env.example into .env, then `make down && make up`")


def _in_a_thread(work: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine to its end from sync code, whether or not an event loop runs in this thread."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, work()).result()


DEFAULT_SHOP_BEFORE: dict[str, int] | None = None


async def default_shop_rows() -> dict[str, int]:
    """Rows of DEFAULT_SHOP in every table of every service's database that has a shop_id column,
    by "<service>.<table>" (only tables that hold some)."""
    counts: dict[str, int] = {}
    for service in SERVICES:
        conn = await asyncpg.connect(dsn(service))
        try:
            tables = await conn.fetch(
                """SELECT table_name FROM information_schema.columns
                   WHERE table_schema = 'public' AND column_name = 'shop_id' ORDER BY table_name""")
            for (table,) in tables:
                n = await conn.fetchval(f'SELECT count(*) FROM "{table}" WHERE shop_id = $1', DEFAULT_SHOP)
                if n:
                    counts[f"{service}.{table}"] = n
        finally:
            await conn.close()
    return counts


class GraphQL:
    def __init__(self, client: httpx.AsyncClient, url: str) -> None:
        self.client = client
        self.url = url

    async def __call__(self, query: str, variables: dict | None = None, headers: dict | None = None,
                       url: str | None = None) -> dict:
        response = await self.client.post(url or self.url, json={"query": query, "variables": variables or {}},
                                          headers=headers or {})
        body = response.json()
        assert "errors" in body or "data" in body, body
        return body

    async def ok(self, query: str, variables: dict | None = None, headers: dict | None = None,
                 url: str | None = None) -> dict:
        body = await self(query, variables, headers, url)
        assert not body.get("errors"), body["errors"]
        return body["data"]


def codes(body: dict) -> list[str]:
    return [e.get("extensions", {}).get("code") for e in body.get("errors", [])]


def throttled(response: httpx.Response, window: int = 60) -> int:
    """A gateway rate limit's refusal (gateway/protections.ts, callers.ts): the request refused as a
    whole with RATE_LIMITED and HTTP 429, and Retry-After, the whole seconds until the caller's window
    frees a slot (1 to the window), also as extensions.retryAfter. Answers that number."""
    body = response.json()
    assert (response.status_code, codes(body)) == (429, ["RATE_LIMITED"]), (response.status_code, body)
    retry_after = int(response.headers["retry-after"])
    assert 1 <= retry_after <= window and body["errors"][0]["extensions"]["retryAfter"] == retry_after, body
    return retry_after


async def db(service: str) -> Connection:
    conn = await asyncpg.connect(dsn(service))
    await init_connection(conn)  # json/jsonb as Python values, as in the services
    return conn


async def publish_raw(body: bytes, routing_key: str, message_id: str) -> None:
    """Put bytes on the services' exchange as a producer would (replays, poison messages)."""
    connection = await aio_pika.connect(amqp_url())
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        exchange = await channel.get_exchange(EXCHANGE)
        await exchange.publish(aio_pika.Message(body, message_id=message_id,
                                                delivery_mode=aio_pika.DeliveryMode.PERSISTENT),
                               routing_key=routing_key)


async def publish_event(data: EventData, event_id: str | None = None) -> str:
    """Put a catalog event on the exchange as its producing service would; return its id."""
    envelope = new_envelope(data, source="tests", event_id=event_id)
    await publish_raw(envelope.model_dump_json().encode(), envelope.type, envelope.id)
    return envelope.id


def shop_admin(shop: str) -> dict[str, str]:
    """An admin JWT for a shop (admins may also ingest)."""
    return customer_token("admin", shop=shop, roles=["admin"])


def new_shop() -> tuple[str, dict[str, str]]:
    """A shop of its own and its admin, so a test's data and settings never mix with others'."""
    shop = unique("shop")
    return shop, shop_admin(shop)
