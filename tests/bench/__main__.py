"""`make bench`: figures for the running stack, printed and written to bench/results/.

    .venv/bin/python -m tests.bench [--seconds 10] [--concurrency 16] [--orders 200]

Measures, through the real gateway:
  read.me             `me { loyalty { balance } }` with a different customer token per request (the
                      gateway merges identical in-flight requests, so every request differs)
  read.customer_view  an admin view across three subgraphs (customers, points, referrals)
  write.order_paid    recordOrder + updateOrderStatus(PAID), as the commerce platform sends them
  events.order_to_ledger  from the PAID response to the points ledger row: outbox relay, RabbitMQ,
                      inbox and ledger; reported as events/s and p50/p99 lag
  latency.order_to_balance  one order at a time: from sending recordOrder to the customer's
                      `me { loyalty { pending } }` showing its points, all through the gateway
  write.redeem_reward redeemReward with 50 customers redeeming at once, several rounds
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import time
from datetime import UTC, datetime

import httpx

from tests.conftest import ROOT
from tests.e2e.conftest import RECORD, STATUS, UPSERT, order_input
from tests.stack import ADMIN, INGEST, customer_token, db, ensure_stack, gateway_url, unique

RESULTS = ROOT / "bench" / "results"


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[index]


def summary(latencies: list[float], elapsed: float, errors: int) -> dict:
    return {
        "requests": len(latencies),
        "errors": errors,
        "requests_per_s": round(len(latencies) / elapsed, 1) if elapsed else 0.0,
        "p50_ms": round(percentile(latencies, 50) * 1000, 2) if latencies else None,
        "p99_ms": round(percentile(latencies, 99) * 1000, 2) if latencies else None,
        "mean_ms": round(statistics.fmean(latencies) * 1000, 2) if latencies else None,
    }


async def load(client: httpx.AsyncClient, make_request, seconds: float, concurrency: int) -> dict:
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds

    async def worker(n: int) -> None:
        nonlocal errors
        i = n
        while time.perf_counter() < deadline:
            body, headers = make_request(i)
            started = time.perf_counter()
            response = await client.post(gateway_url(), json=body, headers=headers)
            latencies.append(time.perf_counter() - started)
            if response.status_code != 200 or response.json().get("errors"):
                errors += 1
            i += concurrency

    started = time.perf_counter()
    await asyncio.gather(*(worker(n) for n in range(concurrency)))
    return summary(latencies, time.perf_counter() - started, errors)


async def ledger_times(order_ids: list[str]) -> dict[str, datetime]:
    conn = await db("points")
    try:
        rows = await conn.fetch(
            "SELECT idempotency_key, created_at FROM ledger_entries WHERE idempotency_key = ANY($1::text[])",
            [f"order:{o}:earn" for o in order_ids])
    finally:
        await conn.close()
    return {r["idempotency_key"].split(":")[1]: r["created_at"] for r in rows}


async def run(seconds: float, concurrency: int, orders: int) -> dict:
    ensure_stack()
    limits = httpx.Limits(max_connections=concurrency * 2, max_keepalive_connections=concurrency * 2)
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:
        async def ok(query: str, variables: dict, headers: dict) -> dict:
            body = (await client.post(gateway_url(), json={"query": query, "variables": variables},
                                      headers=headers)).json()
            assert not body.get("errors"), body
            return body["data"]

        customers = [unique("bench") for _ in range(max(concurrency * 4, 32))]
        for customer_id in customers:
            await ok(UPSERT, {"input": {"id": customer_id, "email": f"{customer_id}@example.com",
                                        "firstName": "Bench"}}, INGEST)
        tokens = [customer_token(c, ttl=3600) for c in customers]

        me = await load(client, lambda i: ({"query": "{ me { loyalty { balance } } }"}, tokens[i % len(tokens)]),
                        seconds, concurrency)
        view_query = "query($id: ID!) { customer(id: $id) { email loyalty { balance } referralCode } }"
        view = await load(client, lambda i: ({"query": view_query, "variables": {"id": customers[i % len(customers)]}},
                                             ADMIN), seconds, concurrency)

        # The write path: each worker records and pays its share of the orders.
        paid_at: dict[str, float] = {}
        write_latencies: list[float] = []
        queue: asyncio.Queue[str] = asyncio.Queue()
        for i in range(orders):
            queue.put_nowait(customers[i % len(customers)])

        async def writer() -> None:
            while not queue.empty():
                order = order_input(queue.get_nowait())
                started = time.perf_counter()
                await ok(RECORD, {"input": order}, INGEST)
                await ok(STATUS, {"id": order["id"], "status": "PAID"}, INGEST)
                write_latencies.append(time.perf_counter() - started)
                paid_at[order["id"]] = time.time()

        started = time.perf_counter()
        await asyncio.gather(*(writer() for _ in range(min(concurrency, 8))))
        write_elapsed = time.perf_counter() - started
        first_paid = min(paid_at.values())

        deadline = time.monotonic() + 120
        while True:
            landed = await ledger_times(list(paid_at))
            if len(landed) == len(paid_at) or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.2)
        lags = [landed[o].timestamp() - paid_at[o] for o in landed]
        last_landed = max(t.timestamp() for t in landed.values()) if landed else first_paid

        order_to_balance = await order_to_balance_latency(client, ok, customers[:10], tokens[:10], samples=20)
        redeem = await redeem_under_contention(client, ok, rounds=4, concurrent=50)

    return {
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "settings": {"seconds": seconds, "concurrency": concurrency, "orders": orders},
        "read.me": me,
        "read.customer_view": view,
        "write.order_paid": {**summary(write_latencies, write_elapsed, 0), "note": "two mutations per order"},
        "events.order_to_ledger": {
            "orders": len(paid_at),
            "credited": len(landed),
            "events_per_s": round(len(landed) / max(last_landed - first_paid, 1e-6), 1),
            "lag_p50_ms": round(percentile(lags, 50) * 1000, 1) if lags else None,
            "lag_p99_ms": round(percentile(lags, 99) * 1000, 1) if lags else None,
        },
        "latency.order_to_balance": order_to_balance,
        "write.redeem_reward": redeem,
    }


PENDING = "{ me { loyalty { pending } } }"


async def order_to_balance_latency(client, ok, customers: list[str], tokens: list[dict], samples: int) -> dict:
    """recordOrder + PAID, then poll the customer's pending points through the gateway."""
    latencies = []
    for i in range(samples):
        customer, token = customers[i % len(customers)], tokens[i % len(tokens)]
        before = (await ok(PENDING, {}, token))["me"]["loyalty"]["pending"]
        order = order_input(customer)
        started = time.perf_counter()
        await ok(RECORD, {"input": order}, INGEST)
        await ok(STATUS, {"id": order["id"], "status": "PAID"}, INGEST)
        while (await ok(PENDING, {}, token))["me"]["loyalty"]["pending"] <= before:
            if time.perf_counter() - started > 30:
                break
            await asyncio.sleep(0.01)
        latencies.append(time.perf_counter() - started)
    return {"samples": samples, "p50_ms": round(percentile(latencies, 50) * 1000, 1),
            "p99_ms": round(percentile(latencies, 99) * 1000, 1), "max_ms": round(max(latencies) * 1000, 1)}


async def redeem_under_contention(client, ok, rounds: int, concurrent: int) -> dict:
    reward = (await ok("""mutation { upsertReward(input: {name: "Bench voucher", kind: FIXED_AMOUNT, pointsCost: 10,
                          value: "1.00"}) { id } }""", {}, ADMIN))["upsertReward"]["id"]
    customers = [unique("redeem") for _ in range(concurrent)]
    for customer_id in customers:
        await ok(UPSERT, {"input": {"id": customer_id, "email": f"{customer_id}@example.com"}}, INGEST)
        await ok("""mutation($c: ID!, $k: String!) { adjustPoints(customerId: $c, delta: 1000, reason: "bench",
                    idempotencyKey: $k) { balance } }""", {"c": customer_id, "k": unique("bench")}, ADMIN)
    tokens = [customer_token(c, ttl=3600) for c in customers]
    latencies: list[float] = []
    errors = 0
    redeem = "mutation($r: ID!, $k: String!) { redeemReward(rewardId: $r, idempotencyKey: $k) { code } }"

    async def one(token: dict) -> None:
        nonlocal errors
        started = time.perf_counter()
        response = await client.post(gateway_url(), json={"query": redeem, "variables": {"r": reward,
                                                                                      "k": unique("k")}},
                                     headers=token)
        latencies.append(time.perf_counter() - started)
        if response.json().get("errors"):
            errors += 1

    started = time.perf_counter()
    for _ in range(rounds):
        await asyncio.gather(*(one(token) for token in tokens))
    return {**summary(latencies, time.perf_counter() - started, errors), "concurrent_customers": concurrent}


def main() -> None:
    parser = argparse.ArgumentParser(description="Flywheel benchmarks against the running stack")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--orders", type=int, default=200)
    args = parser.parse_args()
    result = asyncio.run(run(args.seconds, args.concurrency, args.orders))
    RESULTS.mkdir(parents=True, exist_ok=True)
    text = json.dumps(result, indent=2)
    (RESULTS / f"bench-{result['at'].replace(':', '')}.json").write_text(text + "\n")
    (RESULTS / "latest.json").write_text(text + "\n")
    print(text)
    print(f"\nwritten to {RESULTS.relative_to(ROOT)}/latest.json")


if __name__ == "__main__":
    main()
