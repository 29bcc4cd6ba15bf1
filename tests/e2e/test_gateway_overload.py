"""Load shedding (gateway/overload.ts, shared/runtime.py): past its limits the gateway, and a subgraph,
refuse at once with 503, Retry-After and UNAVAILABLE instead of queueing; mutations have slots of
their own; and the stack serves normally again as soon as the burst is over, without a restart. Small
limits on a second gateway (and a second points instance) make the overload cheap to cause."""

from __future__ import annotations

import asyncio
import time

import pytest

from tests.e2e.customers_support import customer
from tests.gateways import gateway_log, gateway_process, log_since, service_process
from tests.stack import ADMIN, INGEST, PUBLIC, customer_token, unique
from tests.support import eventually

# Not cacheable (an admin's read): every one executes.
HEAVY = """query($id: ID!) { customer(id: $id) { id loyalty { balance tier { name } } referralStats { invited }
  pendingReviews { orderId } challengeProgress { progress } } }"""
CHECK = """mutation($cart: CartInput!) { checkCode(code: "NO-SUCH-CODE", cart: $cart) { valid reason } }"""
CART = {"cart": {"currency": "EUR", "subtotal": "30.00", "customerId": "c-overload"}}
# A customer's read, which the response cache stores: a `visit` variable makes each one a new entry.
PANEL = "query OverloadPanel { me { id loyalty { balance tier { name } } referralStats { invited } } }"
UNCALLED = "cached execute function was not called"


@pytest.fixture(scope="module")
def small_gateway(stack):
    with gateway_process("overload", GATEWAY_MAX_READS="2", GATEWAY_QUEUED_READS="2",
                         GATEWAY_MAX_WRITES="4", GATEWAY_QUEUED_WRITES="64") as url:
        yield url


async def timed(http, url: str, body: dict, headers: dict) -> tuple[float, object]:
    started = time.perf_counter()
    response = await http.post(url, json=body, headers=headers)
    return time.perf_counter() - started, response


async def test_an_overloaded_gateway_refuses_fast_keeps_checkouts_and_recovers(http, small_gateway):
    reads = [timed(http, small_gateway, {"query": HEAVY, "variables": {"id": unique("c")}}, ADMIN)
             for _ in range(40)]
    checks = [timed(http, small_gateway, {"query": CHECK, "variables": CART}, INGEST) for _ in range(8)]
    answers = await asyncio.gather(*reads, *checks)
    read_answers, check_answers = answers[:40], answers[40:]

    refused = [(t, r) for t, r in read_answers if r.status_code == 503]
    served = [(t, r) for t, r in read_answers if r.status_code == 200]
    assert refused and served, [r.status_code for _, r in read_answers]
    for _, response in refused:
        assert response.headers["retry-after"] == "1"
        assert [e["extensions"]["code"] for e in response.json()["errors"]] == ["UNAVAILABLE"]
        assert "data" not in response.json() or response.json()["data"] is None
    for _, response in served:
        assert not response.json().get("errors"), response.json()
    # A refusal waits for nothing: on a busy shared machine it still comes back well before the reads
    # that were let in (each of those waits for four subgraphs).
    fastest_refusals = sorted(t for t, _ in refused)[: len(refused) // 2 or 1]
    assert max(fastest_refusals) < sorted(t for t, _ in served)[-1]
    # Checkout calls have slots of their own: a flood of reads refuses none of them.
    for _, response in check_answers:
        assert response.status_code == 200 and response.json()["data"]["checkCode"]["valid"] is False

    # Over at once: the same gateway serves everything again.
    for _ in range(5):
        response = await http.post(small_gateway, json={"query": HEAVY, "variables": {"id": unique("c")}},
                                   headers=ADMIN)
        assert response.status_code == 200 and not response.json().get("errors")


async def test_a_subgraph_over_its_limit_refuses_fast_and_recovers(http, stack):
    with service_process("points-overload", "points", SUBGRAPH_MAX_CONCURRENT="1") as base:
        body = {"query": "{ tiers { name } rewardsCatalog { id } badgeCatalog { name } }"}
        answers = await asyncio.gather(*(http.post(f"{base}/graphql", json=body, headers=PUBLIC) for _ in range(30)))
        statuses = [a.status_code for a in answers]
        assert 503 in statuses and 200 in statuses, statuses
        refused = next(a for a in answers if a.status_code == 503)
        assert refused.headers["retry-after"] == "1"
        assert refused.json()["errors"][0]["extensions"]["code"] == "UNAVAILABLE"
        for _ in range(3):
            assert (await http.post(f"{base}/graphql", json=body, headers=PUBLIC)).status_code == 200


async def test_requests_a_rate_limit_stops_give_their_slots_back(http, small_gateway):
    # The rate limiter ends these before they execute: each must still hand its slot back, or two
    # of them would leave this gateway (2 read slots) refusing everything.
    landing = "query($c: String!) { referralLanding(code: $c) { code } }"
    client = {**PUBLIC, "x-forwarded-for": "198.51.100.21"}
    codes = []
    for _ in range(66):
        body = (await http.post(small_gateway, json={"query": landing, "variables": {"c": "NO-SUCH"}},
                                headers=client)).json()
        codes += [e["extensions"]["code"] for e in body.get("errors", [])]
    assert codes.count("RATE_LIMITED") >= 5
    for _ in range(4):
        response = await http.post(small_gateway, json={"query": HEAVY, "variables": {"id": unique("c")}},
                                   headers=ADMIN)
        assert response.status_code == 200 and not response.json().get("errors")


async def test_refused_customer_reads_leave_the_response_cache_whole(http, gql, small_gateway):
    # The cache's execute wrapper is the outer one, around the slot's (gateway.config.ts): a refused
    # read goes through it and is not stored. With the slot outside it, every refused read left it
    # uncalled and it logged a warning each time (293,062 lines in one day's .run/logs/gateway.log).
    token = customer_token(await customer(gql, INGEST))

    async def read(visit: str):
        return await http.post(small_gateway, json={"query": PANEL, "variables": {"visit": visit}}, headers=token)

    async def stored() -> bool:  # the new customer's event may hold their entries back a moment
        return (await read("warm")).headers.get("x-flywheel-cache") == "hit"
    await eventually(stored, timeout=15, interval=0.2, what="the customer's reads stored")

    written = log_since(gateway_log("overload"))
    visits = [unique("visit") for _ in range(40)]
    answers = await asyncio.gather(*(read(v) for v in visits))
    statuses = [a.status_code for a in answers]
    assert 503 in statuses and 200 in statuses, statuses
    assert {a.headers["x-flywheel-cache"] for a in answers} == {"miss"}
    # What was served was stored, what was refused was not.
    served = next(v for v, a in zip(visits, answers, strict=True) if a.status_code == 200)
    refused = next(v for v, a in zip(visits, answers, strict=True) if a.status_code == 503)
    assert (await read(served)).headers["x-flywheel-cache"] == "hit"
    again = await read(refused)
    assert again.status_code == 200 and again.headers["x-flywheel-cache"] == "miss", again.text
    assert UNCALLED not in written()


async def test_a_storefront_read_gives_up_on_a_slow_subgraph_sooner_than_an_admins(http, gql):
    """Subgraph calls of a customer's or an anonymous query time out after GATEWAY_READ_TIMEOUT_MS
    (5 s by default), an admin's after 30 s (overload.ts, upstreamTimeout). With 1 ms every subgraph
    is too slow for the storefront's reads (a call takes a few ms here), never for the admin's."""
    customer_id = await customer(gql, INGEST)
    read = "{ me { id loyalty { balance } } }"
    with gateway_process("read-timeout", GATEWAY_READ_TIMEOUT_MS="1") as url:
        answers = [await http.post(url, json={"query": read}, headers=customer_token(customer_id)),
                   await http.post(url, json={"query": "{ tiers { name } }"}, headers=PUBLIC)]
        assert [a.status_code for a in answers] == [504, 504]  # Hive's status for a subgraph that timed out
        timed_out, public = (a.json() for a in answers)
        admin = (await http.post(url, json={"query": "query($id: ID!) { customer(id: $id) { id loyalty { balance } } }",
                                            "variables": {"id": customer_id}}, headers=ADMIN)).json()
        for answer in (timed_out, public):
            assert [e["extensions"]["code"] for e in answer["errors"]] == ["GATEWAY_TIMEOUT"], answer
            # which subgraph, but not its address nor the query the gateway sent it (protections.ts)
            assert [set(e["extensions"]) for e in answer["errors"]] == [{"code", "serviceName"}], answer
            assert not any((answer.get("data") or {}).values()), answer
        assert admin == {"data": {"customer": {"id": customer_id, "loyalty": {"balance": 0}}}}, admin
