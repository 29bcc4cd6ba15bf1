"""RabbitMQ stopped under a warm response cache: the gateway's invalidation consumer loses the broker,
so customer entries are neither served nor stored (a change made meanwhile, whose event waits in an
outbox, is read fresh); public entries stay. Once the broker is back the consumer reconnects, the cache
starts empty and serves customer entries again, still fresh."""

from __future__ import annotations

import subprocess

import httpx
import pytest

from tests.conftest import ROOT
from tests.stack import ADMIN, INGEST, PUBLIC, GraphQL, all_ready, customer_token, ensure_stack, gateway_url, unique
from tests.support import eventually

pytestmark = pytest.mark.chaos
RABBIT = str(ROOT / "infra/local/rabbitmq.sh")
BALANCE = "query OutageBalance { me { id loyalty { balance } } }"
TIERS = "query OutageTiers { tiers { name } }"
ADJUST = """mutation($c: ID!, $k: String!) { adjustPoints(customerId: $c, delta: 25, reason: "outage",
  idempotencyKey: $k) { balance } }"""


async def read(client: httpx.AsyncClient, query: str, headers: dict) -> tuple[dict, str]:
    response = await client.post(gateway_url(), json={"query": query}, headers=headers)
    body = response.json()
    assert response.status_code == 200 and not body.get("errors"), body
    return body["data"], response.headers["x-flywheel-cache"]


async def test_without_the_broker_customer_entries_are_not_served_and_reads_stay_fresh():
    ensure_stack()
    async with httpx.AsyncClient(timeout=30) as client:
        gql = GraphQL(client, gateway_url())
        anna = unique("c")
        await gql.ok("mutation($i: CustomerInput!) { upsertCustomer(input: $i) { id } }",
                     {"i": {"id": anna, "email": f"{anna}@example.com"}}, INGEST)
        token = customer_token(anna, ttl=900)

        async def status_of(query: str, headers: dict, wanted: str) -> bool:
            return (await read(client, query, headers))[1] == wanted
        await eventually(lambda: status_of(BALANCE, token, "hit"), timeout=30, what="anna's balance cached")
        await eventually(lambda: status_of(TIERS, PUBLIC, "hit"), timeout=30, what="the tiers cached")

        subprocess.run([RABBIT, "stop"], check=True)
        try:
            await eventually(lambda: status_of(BALANCE, token, "bypass"), timeout=30,
                             what="the gateway to stop serving customer entries")
            await gql.ok(ADJUST, {"c": anna, "k": unique("k")}, ADMIN)  # its points.earned waits in the outbox
            for _ in range(3):
                data, status = await read(client, BALANCE, token)
                assert (data["me"]["loyalty"]["balance"], status) == (25, "bypass")
            assert (await read(client, TIERS, PUBLIC))[1] == "hit"  # public entries stay
        finally:
            subprocess.run([RABBIT, "start"], check=True)

        await eventually(lambda: status_of(BALANCE, token, "hit"), timeout=90,
                         what="customer entries served again once the consumer is back")
        data, _ = await read(client, BALANCE, token)
        assert data["me"]["loyalty"]["balance"] == 25
        await eventually(all_ready, timeout=60, what="every service ready again")
