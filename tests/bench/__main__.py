"""`make bench`: figures for the running stack on this machine, printed as a table and written to
bench/results.json (and a dated copy in bench/results/).

    .venv/bin/python -m tests.bench [--seconds 10] [--concurrency 16] [--orders 200] [--only panel,scale]

Sections (issue 9's list), all in one run on the same machine, in the shops `bench` (API_KEYS in
.env.example), `bench-consume-…` and the scale shops: never in `default`:
  ledger_limit     pgbench on the points schema: insert a ledger row with a unique key + update the
                   balance. The machine's own ceiling for points changes.
  orders_to_points recordOrder + PAID through the gateway by the commerce platform's key; from the PAID
                   answer to the ledger row (outbox relay, RabbitMQ, inbox, earn rule): events/s and lag;
                   reported as a share of ledger_limit (orders/s: the goal is 150). Also one order at a
                   time, the time until the
                   customer's own `me { loyalty { pending } }` shows its points.
  consume          a burst of order.paid put on the exchange at once: events/s into the ledger as a share
                   of ledger_limit, and the CPU milliseconds one event costs each part of the stack.
  latency          order.paid -> ledger row at fixed offered rates (--latency-rates, default 10,50,200 per second,
                   open loop; tests/bench/pipeline.py): published on the exchange for --seconds (the
                   pipeline alone), and as orders through the gateway (from when each order was due; at
                   most --orders of them); p50/p99 of when each row became visible.
  panel            closed loop (--concurrency workers): the storefront rewards panel through the gateway
                   (`me` → loyalty and tier, referral link, pending reviews, challenge progress: four
                   subgraphs), the points part of it through the gateway, and the same points data from
                   the points subgraph directly; a different customer on every request (the gateway
                   merges identical requests), every request a cache miss (a `visit` variable no request
                   had before); and the full panel again from the response cache (hits).
  readpath         open loop (tests/bench/readpath.py, openloop.mjs): the realistic read mix and cold
                   misses at 50, 100, 250, 500, 1000 req/s offered (--rates), hits and misses apart, and
                   the overload row (cold misses at twice what they achieved).
  floor            what the read path's parts cost before any of Flywheel's work (tests/bench/floor.py):
                   `{ __typename }` straight to each subgraph, the panel through Hive Gateway alone (no
                   plugins, no cache) and through Flywheel's, misses and hits; and the bounds these put
                   on issue 21's goals on this machine.
  redeem           redeemReward with 50 customers redeeming at once, and at 50/s offered (open loop).
  codes            the checkout's checkCode and redeemCode (a shop's server key, through the gateway) at a
                   fixed offered rate (open loop, --rate per second): throughput and p50/p99 from when
                   each call was due. checkCode on one shareable code with varying carts; redeemCode
                   on single-use codes, one per order.
  scale_out        orders -> points (the burst) and the rewards panel again with SCALE=1 and SCALE=2
                   (`make up SCALE=N`: N instances of every service behind haproxy), back to the
                   scale the stack had: what a second instance of everything buys on this machine.
  scale            a 1M-customer shop (10M ledger rows, 5M orders) beside a 10k one, seeded in SQL:
                   balance reads, tier reads, retentionMetrics over a year and segmentCounts on both.
  simulation       a year of the scale shops replayed with the earn rate doubled: simulateProgram on the
                   10k shop (answered at once), startProgramSimulation polled to the end on both
                   (--small-only: the 10k shop alone); on the 10k shop also refreshPredictions and
                   one customer's prediction read.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import subprocess
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import aio_pika
import httpx

from services.points.loyalty import simulating
from shared import events
from shared.bus import EXCHANGE
from shared.events import new_envelope
from tests.bench import floor, ledger_limit, pipeline, readpath, scale
from tests.bench.cpu import Meter
from tests.bench.load import as_summary, load, open_loop, percentile, summary, timed
from tests.conftest import ROOT
from tests.e2e.conftest import RECORD, STATUS, UPSERT, order_input
from tests.stack import (
    amqp_url,
    customer_token,
    db,
    ensure_stack,
    gateway_url,
    shop_admin,
    subgraph_url,
    unique,
)

# The benchmarks' own shop (never `default`, the developer's): its keys are in .env.example's API_KEYS.
BENCH_SHOP = "bench"
ADMIN = {"x-api-key": "bench-admin-key"}
INGEST = {"x-api-key": "bench-ingest-key"}

# The bench shop's rewards catalog, the same in every run: what the rewards panel and the catalog read
# show (and cost). Three like a new shop's starter catalog, two more, and the voucher the redeem
# section redeems. Before, that section added a reward of its own on every run, so the panel grew run
# after run (56 rewards on a developer's stack after a day of runs, ~10 KB of JSON; at 63, a cold
# panel cost ~4 ms more CPU than at six, bench/catalog-size-2026-12-07.json) and read figures of
# different runs were not of the same panel.
BENCH_VOUCHER = "bench-voucher"
BENCH_CATALOG = [
    {"id": "r-5-off", "name": "5 off your next order", "kind": "FIXED_AMOUNT", "pointsCost": 200, "value": "5"},
    {"id": "r-free-shipping", "name": "Free shipping", "kind": "FREE_SHIPPING", "pointsCost": 120},
    {"id": "r-5-credit", "name": "5 in store credit", "kind": "STORE_CREDIT", "pointsCost": 200, "value": "5"},
    {"id": "r-10-off", "name": "10 off your next order", "kind": "FIXED_AMOUNT", "pointsCost": 400, "value": "10"},
    {"id": "r-15-percent", "name": "15 % off", "kind": "PERCENTAGE", "pointsCost": 600, "value": "15"},
    {"id": BENCH_VOUCHER, "name": "Bench voucher", "kind": "FIXED_AMOUNT", "pointsCost": 10, "value": "1.00"},
]
UPSERT_REWARD = """mutation($input: RewardInput!) { upsertReward(input: $input) { id active } }"""

RESULTS = ROOT / "bench" / "results.json"
HISTORY = ROOT / "bench" / "results"
SECTIONS = ("ledger_limit", "orders_to_points", "consume", "latency", "panel", "readpath", "floor", "redeem", "codes",
            "scale", "scale_out", "simulation")

PANEL = """query Panel { me { id
  loyalty { balance pending tier { name } nextTier { name } amountToNextTier { amount currency } }
  referralLink
  pendingReviews { orderId product { id } }
  challengeProgress { progress completed challenge { id title } } } }"""
PANEL_POINTS = """query PanelPoints { me { id
  loyalty { balance pending tier { name } nextTier { name } amountToNextTier { amount currency } }
  challengeProgress { progress completed challenge { id title } } } }"""
POINTS_DIRECT = """query PanelPointsDirect($r: [_Any!]!) { _entities(representations: $r) { ... on Customer {
  id loyalty { balance pending tier { name } nextTier { name } amountToNextTier { amount currency } }
  challengeProgress { progress completed challenge { id title } } } } }"""
BALANCE = "query Balance { me { loyalty { balance } } }"
TIER = "query Tier { me { loyalty { tier { name } nextTier { name } amountToNextTier { amount currency } } } }"
RETENTION = """query Retention($from: DateTime!, $to: DateTime!) { retentionMetrics(from: $from, to: $to) {
  customerRetentionRate churnRate repeatPurchaseRate purchaseFrequency averageOrderValue { amount }
  customerLifetimeValue { amount } referralRate reorderRate60d medianDaysToSecondOrder customersAtStart
  customersAtEnd newCustomers orders cohorts { month size retention } } }"""
SEGMENTS = "query Segments { segmentCounts { segment count } }"
SIMULATION_FIELDS = """orders pointsIssued pointsPending pointsAvailable pointsExpired effectiveCashback
  liability { amount } rewardCost { amount } withinCeiling withinBand tierDistribution { tier customers }"""
SIMULATE = f"""query Simulate($from: DateTime!, $to: DateTime!) {{ simulateProgram(input: {{earnRate: "2"}},
  from: $from, to: $to) {{ proposed {{ {SIMULATION_FIELDS} }} current {{ {SIMULATION_FIELDS} }} notes }} }}"""
PREDICTION = "query Prediction($id: ID!) { customer(id: $id) { prediction { probabilityActive expectedOrders90d } } }"
START_SIMULATION = """mutation Start($from: DateTime!, $to: DateTime!) { startProgramSimulation(
  input: {earnRate: "2"}, from: $from, to: $to) { id } }"""
POLL_SIMULATION = f"""query Poll($id: ID!) {{ programSimulation(id: $id) {{ done customersDone
  comparison {{ proposed {{ {SIMULATION_FIELDS} }} current {{ {SIMULATION_FIELDS} }} }} }} }}"""


class Bench:
    def __init__(self, client: httpx.AsyncClient, seconds: float, concurrency: int, rate: float = 50):
        self.client, self.seconds, self.concurrency, self.rate = client, seconds, concurrency, rate

    async def ok(self, query: str, variables: dict, headers: dict) -> dict:
        body = (await self.client.post(gateway_url(), json={"query": query, "variables": variables},
                                       headers=headers)).json()
        assert not body.get("errors"), body
        return body["data"]

    async def customers(self, n: int, prefix: str = "bench") -> list[str]:
        ids = [unique(prefix) for _ in range(n)]
        for customer_id in ids:
            await self.ok(UPSERT, {"input": {"id": customer_id, "email": f"{customer_id}@example.com",
                                             "firstName": "Bench"}}, INGEST)
        return ids

    async def fixed_catalog(self) -> int:
        """Make the bench shop's catalog BENCH_CATALOG: those rewards upserted, any other one the catalog
        shows (an earlier run's; it shows active rewards only, to admins too) made inactive. Answers how
        many were made inactive."""
        shown = (await self.ok("{ rewardsCatalog { id name kind pointsCost value { amount } percentOff } }",
                               {}, ADMIN))["rewardsCatalog"]
        wanted = {r["id"] for r in BENCH_CATALOG}
        others = [r for r in shown if r["id"] not in wanted]
        for r in others:
            value = r["percentOff"] or (r["value"] or {}).get("amount")
            await self.ok(UPSERT_REWARD, {"input": {"id": r["id"], "name": r["name"], "kind": r["kind"],
                                                    "pointsCost": r["pointsCost"], "value": value,
                                                    "active": False}}, ADMIN)
        for r in BENCH_CATALOG:
            await self.ok(UPSERT_REWARD, {"input": {**r, "active": True}}, ADMIN)
        return len(others)

    # -- orders -> points ---------------------------------------------------------------------

    async def orders_to_points(self, orders: int, ledger_tx_per_s: float | None) -> dict:
        customers = await self.customers(32)
        tokens = [customer_token(c, shop=BENCH_SHOP, ttl=3600) for c in customers]
        paid_at: dict[str, float] = {}
        write_latencies: list[float] = []
        queue: asyncio.Queue[str] = asyncio.Queue()
        for i in range(orders):
            queue.put_nowait(customers[i % len(customers)])

        async def writer() -> None:
            while not queue.empty():
                order = order_input(queue.get_nowait())
                started = time.perf_counter()
                await self.ok(RECORD, {"input": order}, INGEST)
                await self.ok(STATUS, {"id": order["id"], "status": "PAID"}, INGEST)
                write_latencies.append(time.perf_counter() - started)
                paid_at[order["id"]] = time.time()

        started = time.perf_counter()
        with Meter() as meter:
            await asyncio.gather(*(writer() for _ in range(min(self.concurrency, 8))))
            write_elapsed = time.perf_counter() - started
            first_paid = min(paid_at.values())
            deadline = time.monotonic() + 180
            while True:
                landed = await ledger_times(BENCH_SHOP, list(paid_at))
                if len(landed) == len(paid_at) or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.2)
        lags = [landed[o].timestamp() - paid_at[o] for o in landed]
        last_landed = max(t.timestamp() for t in landed.values()) if landed else first_paid
        events_per_s = len(landed) / max(last_landed - first_paid, 1e-6)
        return {
            "write": {**summary(write_latencies, write_elapsed, 0), "note": "recordOrder + PAID per order"},
            "orders": len(paid_at),
            "credited": len(landed),
            "events_per_s": round(events_per_s, 1),
            "lag_p50_ms": round(percentile(lags, 50) * 1000, 1) if lags else None,
            "lag_p99_ms": round(percentile(lags, 99) * 1000, 1) if lags else None,
            "share_of_ledger_limit": round(events_per_s / ledger_tx_per_s, 4) if ledger_tx_per_s else None,
            # Everything an order costs (two mutations, the event to every consumer, its emails):
            "cpu_ms_per_order": meter.per_request(len(paid_at)),
            "order_to_balance": await self.order_to_balance(customers[:10], tokens[:10], samples=20),
        }

    async def order_to_balance(self, customers: list[str], tokens: list[dict], samples: int) -> dict:
        query = "{ me { loyalty { pending } } }"
        latencies = []
        for i in range(samples):
            customer, token = customers[i % len(customers)], tokens[i % len(tokens)]
            before = (await self.ok(query, {}, token))["me"]["loyalty"]["pending"]
            order = order_input(customer)
            started = time.perf_counter()
            await self.ok(RECORD, {"input": order}, INGEST)
            await self.ok(STATUS, {"id": order["id"], "status": "PAID"}, INGEST)
            while (await self.ok(query, {}, token))["me"]["loyalty"]["pending"] <= before:
                if time.perf_counter() - started > 30:
                    break
                await asyncio.sleep(0.01)
            latencies.append(time.perf_counter() - started)
        return {"samples": samples, "p50_ms": round(percentile(latencies, 50) * 1000, 1),
                "p99_ms": round(percentile(latencies, 99) * 1000, 1)}

    async def consume(self, events_count: int) -> dict:
        """A burst of order.paid events put straight on the exchange (as the customers service's relay
        would): how fast the points consumer turns them into ledger rows, with every other consumer of
        order.paid (referrals, notifications, challenges) working on the same burst."""
        shop = unique("bench-consume")
        customers = [unique("c") for _ in range(100)]
        envelopes = [new_envelope(events.OrderPaid(
            shop=shop, order_id=unique("o"), customer_id=customers[i % len(customers)], currency="EUR",
            total=Decimal("59.90"), net_amount=Decimal("50.00"), placed_at=datetime.now(UTC)), source="bench")
            for i in range(events_count)]
        connection = await aio_pika.connect(amqp_url())
        async with connection:
            channel = await connection.channel(publisher_confirms=True)
            exchange = await channel.get_exchange(EXCHANGE)
            with Meter() as meter:
                started = time.perf_counter()
                await asyncio.gather(*(exchange.publish(
                    aio_pika.Message(e.model_dump_json().encode(), message_id=e.id,
                                     delivery_mode=aio_pika.DeliveryMode.PERSISTENT), routing_key=e.type)
                    for e in envelopes))
                published = time.perf_counter() - started
                order_ids = [e.data["order_id"] for e in envelopes]
                deadline = time.monotonic() + 300
                while True:
                    landed = await ledger_times(shop, order_ids)
                    if len(landed) == len(order_ids) or time.monotonic() > deadline:
                        break
                    await asyncio.sleep(0.5)
                elapsed = time.perf_counter() - started
        return {"events": events_count, "credited": len(landed), "publish_s": round(published, 2),
                "events_per_s": round(len(landed) / elapsed, 1), "cpu_ms_per_event": meter.per_request(len(landed))}

    async def latency(self, rates: list[float], most: int) -> dict:
        """order.paid -> ledger row at each offered rate, on the bus and through the gateway."""
        customers = await self.customers(32, "latency")
        out: dict = {"bus": {}, "gateway": {}}
        for rate in rates:
            print(f"  latency: {rate:g} order.paid/s on the bus …", flush=True)
            out["bus"][f"{rate:g}"] = await pipeline.bus_latency(rate, self.seconds)
            print(f"  latency: {rate:g} orders/s through the gateway …", flush=True)
            out["gateway"][f"{rate:g}"] = await pipeline.gateway_latency(
                self.ok, RECORD, STATUS, order_input, INGEST, BENCH_SHOP, customers, rate, self.seconds, most)
        return out

    # -- the storefront rewards panel -----------------------------------------------------------

    async def panel(self) -> dict:
        customers = await self.customers(max(self.concurrency * 4, 64), "panel")
        tokens = [customer_token(c, shop=BENCH_SHOP, ttl=3600) for c in customers]
        n = len(customers)
        gateway, points = gateway_url(), subgraph_url("points")
        run = unique("closed")  # each request a key never seen: a miss, as before the cache

        def cold(query: str):
            return lambda i: ({"query": query, "variables": {"visit": f"{run}-{i}"}}, tokens[i % n])
        full = await metered(load(self.client, gateway, cold(PANEL), self.seconds, self.concurrency))
        points_part = await metered(load(self.client, gateway, cold(PANEL_POINTS), self.seconds, self.concurrency))
        for i in range(n):  # warm: one entry per customer
            await self.client.post(gateway, json={"query": PANEL}, headers=tokens[i])
        cached = await metered(load(self.client, gateway, lambda i: ({"query": PANEL}, tokens[i % n]),
                                    self.seconds, self.concurrency))
        direct = await metered(load(
            self.client, points,
            lambda i: ({"query": POINTS_DIRECT,
                        "variables": {"r": [{"__typename": "Customer", "id": customers[i % n]}]}}, tokens[i % n]),
            self.seconds, self.concurrency))
        return {"gateway_full_panel": full, "gateway_points_part": points_part, "points_subgraph_direct": direct,
                "gateway_full_panel_cached": cached, "customers": n, "concurrency": self.concurrency}

    # -- redeemReward under contention ------------------------------------------------------------

    async def redeem(self, rounds: int = 4, concurrent: int = 50) -> dict:
        reward = BENCH_VOUCHER  # in the fixed catalog (fixed_catalog)
        customers = await self.customers(concurrent, "redeem")
        for customer_id in customers:
            await self.ok("""mutation($c: ID!, $k: String!) { adjustPoints(customerId: $c, delta: 1000,
                             reason: "bench", idempotencyKey: $k) { balance } }""",
                          {"c": customer_id, "k": unique("bench")}, ADMIN)
        tokens = [customer_token(c, shop=BENCH_SHOP, ttl=3600) for c in customers]
        latencies: list[float] = []
        errors = 0
        redeem = "mutation($r: ID!, $k: String!) { redeemReward(rewardId: $r, idempotencyKey: $k) { code } }"

        async def one(token: dict) -> None:
            nonlocal errors
            started = time.perf_counter()
            response = await self.client.post(gateway_url(), headers=token, json={
                "query": redeem, "variables": {"r": reward, "k": unique("k")}})
            latencies.append(time.perf_counter() - started)
            if response.json().get("errors"):
                errors += 1

        started = time.perf_counter()
        for _ in range(rounds):
            await asyncio.gather(*(one(token) for token in tokens))
        at_once = {**summary(latencies, time.perf_counter() - started, errors), "concurrent_customers": concurrent}
        # The burst's events (two per redemption, to three consumers) are still being applied: let them
        # finish, or the fixed-rate run below measures the burst's aftermath too.
        await asyncio.sleep(5)
        # At a fixed offered rate, each customer redeeming now and then (open loop, from the due time).
        # Each customer has 1000 points, 100 redemptions: enough for any --seconds at 50/s over 50.
        fixed = as_summary(await open_loop(gateway_url(), self.rate, [redeem], tokens, [
            [0, i % concurrent, {"r": reward, "k": unique("k")}, "redeemReward"]
            for i in range(int(self.rate * self.seconds))]))
        return {**at_once, "open_loop": fixed}

    # -- checkCode and redeemCode at a fixed offered rate ------------------------------------------

    async def codes(self, rate: float) -> dict:
        issue = """mutation($k: String!, $n: Int!) { issueOffer(input: {kind: PERCENTAGE, value: "10",
                   usageLimit: $n, validDays: 30, idempotencyKey: $k}) { code } }"""
        shared = (await self.ok(issue, {"k": unique("bench-shared"), "n": 1_000_000}, ADMIN))["issueOffer"]["code"]
        calls = int(rate * self.seconds)
        single = [(await self.ok(issue, {"k": unique("bench-single"), "n": 1}, ADMIN))["issueOffer"]["code"]
                  for _ in range(calls)]
        check = """mutation BenchCheck($code: String!, $cart: CartInput!) { checkCode(code: $code, cart: $cart) {
                   valid reason discount { amount } } }"""
        redeem = """mutation BenchRedeem($code: String!, $order: ID!, $cart: CartInput!) { redeemCode(code: $code,
                    orderId: $order, cart: $cart) { valid reason discount { amount } } }"""

        def cart(i: int) -> dict:
            return {"currency": "EUR", "subtotal": f"{20 + i % 80}.{i % 100:02d}", "shippingTotal": "4.90"}
        gateway = gateway_url()
        checks = as_summary(await open_loop(gateway, rate, [check], [INGEST], [
            [0, 0, {"code": shared, "cart": cart(i)}, "checkCode"] for i in range(calls)]))
        redeems = as_summary(await open_loop(gateway, rate, [redeem], [INGEST], [
            [0, 0, {"code": single[i], "order": unique("bench-o"), "cart": cart(i)}, "redeemCode"]
            for i in range(calls)]))
        return {"check_code": checks, "redeem_code": redeems, "offered_per_s": rate}

    # -- scale --------------------------------------------------------------------------------------

    async def scale(self, sizes: list[scale.ShopSize], reseed: bool) -> dict:
        out: dict = {}
        for size in sizes:
            seeded = await scale.ensure_seeded(size, reseed)
            tokens = [customer_token(f"c{1 + (i * 7919) % size.customers}", shop=size.shop, ttl=3600)
                      for i in range(500)]
            admin = shop_admin(size.shop)
            gateway = gateway_url()
            now = datetime.now(UTC).replace(microsecond=0)
            year = {"from": (now - timedelta(days=365)).isoformat(), "to": now.isoformat()}
            month = {"from": (now - timedelta(days=30)).isoformat(), "to": now.isoformat()}
            out[size.shop] = {
                "size": seeded,
                "balance_read": await load(self.client, gateway, lambda i, t=tokens: ({"query": BALANCE}, t[i % 500]),
                                           self.seconds / 2, self.concurrency),
                "tier_read": await load(self.client, gateway, lambda i, t=tokens: ({"query": TIER}, t[i % 500]),
                                        self.seconds / 2, self.concurrency),
                "retention_metrics_30d": await timed(self.client, gateway,
                                                     {"query": RETENTION, "variables": month}, admin, samples=3),
                "retention_metrics_1y": await timed(self.client, gateway,
                                                    {"query": RETENTION, "variables": year}, admin, samples=3),
                "segment_counts": await timed(self.client, gateway, {"query": SEGMENTS}, admin, samples=3),
            }
        return out


    # -- simulateProgram on the scale shops --------------------------------------------------------

    async def simulation(self, sizes: list[scale.ShopSize], reseed: bool) -> dict:
        out: dict = {}
        for size in sizes:
            seeded = await scale.ensure_seeded(size, reseed)
            admin = shop_admin(size.shop)
            now = datetime.now(UTC).replace(microsecond=0)
            year = {"from": (now - timedelta(days=365)).isoformat(), "to": now.isoformat()}
            result: dict = {"size": seeded}
            if size.orders <= simulating.SYNC_ORDERS:  # larger shops: startProgramSimulation alone
                result["at_once"] = await timed(self.client, gateway_url(), {"query": SIMULATE, "variables": year},
                                                admin, samples=3)
                # Beside it, the shop's prediction fit on demand and one customer's prediction read.
                result["refresh_predictions"] = await timed(
                    self.client, gateway_url(), {"query": "mutation { refreshPredictions { status } }"}, admin,
                    samples=1)
                result["prediction_read"] = await timed(
                    self.client, gateway_url(), {"query": PREDICTION, "variables": {"id": "c1"}}, admin, samples=5)
            started = time.perf_counter()
            run = (await self.ok(START_SIMULATION, year, admin))["startProgramSimulation"]["id"]
            while True:
                polled = (await self.ok(POLL_SIMULATION, {"id": run}, admin))["programSimulation"]
                if polled["done"] or time.perf_counter() - started > 1800:
                    break
                await asyncio.sleep(1)
            result["as_job"] = {"seconds": round(time.perf_counter() - started, 1), "done": polled["done"],
                                "customers": polled["customersDone"], "comparison": polled["comparison"]}
            out[size.shop] = result
        return out


def running_scale() -> int:
    out = subprocess.run([str(ROOT / "infra/local/stack.sh"), "scale"], capture_output=True, text=True, cwd=ROOT)
    digits = "".join(ch for ch in out.stdout.split("\n")[0] if ch.isdigit())
    return int(digits or 1)


def set_scale(n: int) -> None:
    subprocess.run([str(ROOT / "infra/local/stack.sh"), "up"], check=True, cwd=ROOT,
                   env={**os.environ, "SCALE": str(n)}, stdout=subprocess.DEVNULL)


async def metered(measure) -> dict:
    """Run a load and add the CPU milliseconds each request cost each part of the stack."""
    with Meter() as meter:
        result = await measure
    result["cpu_ms_per_request"] = meter.per_request(result["requests"])
    return result


async def ledger_times(shop: str, order_ids: list[str]) -> dict[str, datetime]:
    """When each order's earn row was written (its transaction's start: tests/bench/pipeline.py has
    the visibility times)."""
    conn = await db("points")
    try:
        rows = await conn.fetch(
            "SELECT idempotency_key, created_at FROM ledger_entries"
            " WHERE shop_id = $1 AND idempotency_key = ANY($2::text[])", shop, [f"order:{o}:earn" for o in order_ids])
    finally:
        await conn.close()
    return {r["idempotency_key"].split(":")[1]: r["created_at"] for r in rows}


def machine() -> dict:
    model = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")),
                 platform.processor())
    memory = next(int(line.split()[1]) for line in open("/proc/meminfo") if line.startswith("MemTotal"))
    return {"cpus": os.cpu_count(), "cpu": model, "memory_gib": round(memory / 1024 / 1024, 1),
            "python": platform.python_version(), "scale": int(os.environ.get("SCALE", "1") or 1),
            "load_before": os.getloadavg()[0]}


async def run(args: argparse.Namespace) -> dict:
    ensure_stack()
    wanted = set(args.only.split(",")) if args.only else set(SECTIONS)
    result: dict = {"at": datetime.now(UTC).isoformat(timespec="seconds"), "machine": machine(),
                    "settings": {"seconds": args.seconds, "concurrency": args.concurrency, "orders": args.orders,
                                 "rate": args.rate, "events": args.events,
                                 "rates": getattr(args, "rates", "")}}
    if "ledger_limit" in wanted:
        print("ledger_limit: pgbench …", flush=True)
        result["ledger_limit"] = await ledger_limit.run(args.seconds, clients=8)
    limits = httpx.Limits(max_connections=args.concurrency * 4, max_keepalive_connections=args.concurrency * 4)
    async with httpx.AsyncClient(timeout=120, limits=limits) as client:
        bench = Bench(client, args.seconds, args.concurrency, args.rate)
        result["settings"]["catalog"] = {"rewards": len(BENCH_CATALOG), "retired": await bench.fixed_catalog()}
        if "orders_to_points" in wanted:
            print("orders_to_points …", flush=True)
            result["orders_to_points"] = await bench.orders_to_points(
                args.orders, result.get("ledger_limit", {}).get("tx_per_s"))
        if "consume" in wanted:
            print("consume …", flush=True)
            result["consume"] = await bench.consume(args.events)
            if ledger_tx := result.get("ledger_limit", {}).get("tx_per_s"):
                result["consume"]["share_of_ledger_limit"] = round(result["consume"]["events_per_s"] / ledger_tx, 4)
        if "latency" in wanted:
            print("latency …", flush=True)
            result["latency"] = await bench.latency([float(r) for r in args.latency_rates.split(",") if r], args.orders)
        if "panel" in wanted:
            print("panel …", flush=True)
            result["panel"] = await bench.panel()
        if "readpath" in wanted:
            print("readpath (open loop) …", flush=True)
            rates = tuple(int(r) for r in args.rates.split(","))
            result["readpath"] = await readpath.run(await bench.customers(args.readpath_customers, "read"),
                                                    args.seconds, rates)
        if "floor" in wanted:
            print("floor …", flush=True)
            result["floor"] = await floor.run(await bench.customers(50, "floor"), args.seconds,
                                              warm_up=min(floor.WARM_UP, int(50 * args.seconds)))
        if "redeem" in wanted:
            print("redeem …", flush=True)
            result["redeem"] = await bench.redeem()
        if "codes" in wanted:
            print(f"codes: checkCode, redeemCode at {args.rate}/s …", flush=True)
            result["codes"] = await bench.codes(args.rate)
        if "scale_out" in wanted:
            before = running_scale()
            result["scale_out"] = {}
            try:
                for n in (1, 2):
                    print(f"scale_out: SCALE={n} …", flush=True)
                    set_scale(n)
                    result["scale_out"][str(n)] = {"consume": await bench.consume(args.events),
                                                   "panel": await bench.panel()}
            finally:
                set_scale(before)
        if "scale" in wanted:
            print("scale (seeding takes minutes the first time) …", flush=True)
            sizes = [scale.SMALL, scale.LARGE] if not args.small_only else [scale.SMALL]
            result["scale"] = await bench.scale(sizes, args.reseed)
        if "simulation" in wanted:
            print("simulation (seeding takes minutes the first time) …", flush=True)
            sizes = [scale.SMALL, scale.LARGE] if not args.small_only else [scale.SMALL]
            result["simulation"] = await bench.simulation(sizes, args.reseed)
    result["machine"]["load_after"] = os.getloadavg()[0]
    return result


def cpu_parts(cpu: dict[str, float], top: int = 6) -> str:
    """`total 17.4: points 6.2, notifications 3.8, …` (the costliest parts first)."""
    parts = [(k, v) for k, v in cpu.items() if k not in ("total", "cores_busy")][:top]
    return (f"total {cpu['total']}, {cpu['cores_busy']} cores busy: "
            + ", ".join(f"{k} {v}" for k, v in parts))


def table(result: dict) -> str:
    rows: list[tuple[str, str, str, str]] = []

    def load_row(name: str, r: dict | None) -> None:
        if r:
            errors = f"  ({r['errors']} errors)" if r.get("errors") else ""
            rows.append((name, f"{r['requests_per_s']} req/s{errors}", f"{r['p50_ms']} ms", f"{r['p99_ms']} ms"))

    if ledger := result.get("ledger_limit"):
        rows.append(("ledger tx, pgbench (machine limit)", f"{ledger['tx_per_s']} tx/s",
                     f"{ledger['p50_ms']} ms", f"{ledger['p99_ms']} ms"))
    if o := result.get("orders_to_points"):
        share = f" = {o['share_of_ledger_limit'] * 100:.1f} % of limit" if o.get("share_of_ledger_limit") else ""
        rows.append(("order.paid -> ledger row (lag)", f"{o['events_per_s']} events/s{share}",
                     f"{o['lag_p50_ms']} ms", f"{o['lag_p99_ms']} ms"))
        rows.append(("  CPU ms per order", cpu_parts(o["cpu_ms_per_order"]), "", ""))
        load_row("recordOrder + PAID (writes)", o["write"])
        b = o["order_to_balance"]
        rows.append(("order -> customer sees pending points", "one at a time", f"{b['p50_ms']} ms",
                     f"{b['p99_ms']} ms"))
    if c := result.get("consume"):
        share = f" = {c['share_of_ledger_limit'] * 100:.1f} % of limit" if c.get("share_of_ledger_limit") else ""
        rows.append((f"burst of {c['events']} order.paid -> ledger", f"{c['events_per_s']} events/s{share}", "", ""))
        rows.append(("  CPU ms per event of the burst", cpu_parts(c["cpu_ms_per_event"]), "", ""))
    if lat := result.get("latency"):
        for rate, r in lat["bus"].items():
            rows.append((f"order.paid -> ledger, {rate}/s offered (bus)", f"{r['credited']}/{r['sent']} credited",
                         f"{r['p50_ms']} ms", f"{r['p99_ms']} ms"))
        for rate, r in lat["gateway"].items():
            errors = f", {r['errors']} errors" if r.get("errors") else ""
            rows.append((f"order due -> ledger, {rate} orders/s offered (gateway)",
                         f"{r['orders_per_s']} orders/s{errors}", f"{r['p50_ms']} ms", f"{r['p99_ms']} ms"))
    if p := result.get("panel"):
        load_row("rewards panel via gateway (4 subgraphs), misses, closed loop", p["gateway_full_panel"])
        load_row("points part via gateway, misses, closed loop", p["gateway_points_part"])
        load_row("points part, points subgraph direct, closed loop", p["points_subgraph_direct"])
        if p.get("gateway_full_panel_cached"):
            load_row("rewards panel via gateway, cache hits, closed loop", p["gateway_full_panel_cached"])
    if rp := result.get("readpath"):
        rows.extend(readpath.rows(rp))
    if fl := result.get("floor"):
        rows.extend(floor.rows(fl))
    if r := result.get("redeem"):
        load_row(f"redeemReward, {r['concurrent_customers']} at once", r)
        if r.get("open_loop"):
            load_row(f"redeemReward, {r['open_loop']['offered_per_s']:g}/s offered (open loop)", r["open_loop"])
    if k := result.get("codes"):
        load_row(f"checkCode, {k['offered_per_s']:g}/s offered (open loop)", k["check_code"])
        load_row(f"redeemCode, {k['offered_per_s']:g}/s offered (open loop)", k["redeem_code"])
    for n, s in (result.get("scale_out") or {}).items():
        rows.append((f"SCALE={n}: burst of {s['consume']['events']} order.paid -> ledger",
                     f"{s['consume']['events_per_s']} events/s", "", ""))
        load_row(f"SCALE={n}: rewards panel via gateway", s["panel"]["gateway_full_panel"])
    for s in (result.get("scale") or {}).values():
        label = f"{s['size']['customers']:,} customers"
        load_row(f"balance read, {label}", s["balance_read"])
        load_row(f"tier read, {label}", s["tier_read"])
        for key, span in (("retention_metrics_30d", "30 days"), ("retention_metrics_1y", "1 year")):
            m = s[key]
            failed = f" ({', '.join(sorted(set(m['errors'])))})" if m.get("errors") else ""
            rows.append((f"retentionMetrics {span}, {s['size']['orders']:,} orders", f"one at a time{failed}",
                         f"{m['p50_ms']} ms", f"max {m['max_ms']} ms"))
        c = s["segment_counts"]
        rows.append((f"segmentCounts, {label}", "one at a time", f"{c['p50_ms']} ms", f"max {c['max_ms']} ms"))
    for s in (result.get("simulation") or {}).values():
        label = f"{s['size']['customers']:,} customers, {s['size']['orders']:,} orders"
        if m := s.get("at_once"):
            failed = f" ({', '.join(sorted(set(m['errors'])))})" if m.get("errors") else ""
            rows.append((f"simulateProgram 1 year, {label}", f"one at a time{failed}", f"{m['p50_ms']} ms",
                         f"max {m['max_ms']} ms"))
        for key, what in (("refresh_predictions", "refreshPredictions"), ("prediction_read", "Customer.prediction")):
            if m := s.get(key):
                rows.append((f"{what}, {label}", "one at a time", f"{m['p50_ms']} ms", f"max {m['max_ms']} ms"))
        j = s["as_job"]
        rows.append((f"startProgramSimulation 1 year, {label}", f"{j['customers']:,} customers replayed",
                     f"{j['seconds']} s", "" if j["done"] else "not done"))
    width = max(len(r[0]) for r in rows) if rows else 10
    lines = [f"{'measure':<{width}}  {'throughput':<34} {'p50':>11} {'p99':>13}"]
    lines += [f"{a:<{width}}  {b:<34} {c:>11} {d:>13}" for a, b, c, d in rows]
    m = result["machine"]
    after = f", after: {m['load_after']:.2f}" if "load_after" in m else ""
    lines.append(f"\nmachine: {m['cpus']} cores ({m['cpu']}), {m['memory_gib']} GiB, SCALE={m['scale']}, "
                 f"load average before: {m['load_before']:.2f}{after}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description="Flywheel benchmarks against the running stack")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--orders", type=int, default=200)
    parser.add_argument("--events", type=int, default=1000, help="consume: order.paid events in the burst")
    parser.add_argument("--rate", type=float, default=50,
                        help="codes, redeem: calls per second offered (open loop)")
    parser.add_argument("--rates", default=",".join(map(str, readpath.RATES)),
                        help="readpath: offered rates, req/s")
    parser.add_argument("--readpath-customers", type=int, default=200, help="readpath: signed-in customers")
    parser.add_argument("--latency-rates", default="10,50,200",
                        help="latency: offered order.paid (and orders) per second")
    parser.add_argument("--only", default="", help=f"comma-separated subset of {','.join(SECTIONS)}")
    parser.add_argument("--small-only", action="store_true", help="scale: only the 10k-customer shop")
    parser.add_argument("--reseed", action="store_true", help="scale: drop and seed the shops again")
    parser.add_argument("--output", default=str(RESULTS))
    args = parser.parse_args()
    result = asyncio.run(run(args))
    text = json.dumps(result, indent=2)
    HISTORY.mkdir(parents=True, exist_ok=True)
    (HISTORY / f"bench-{result['at'].replace(':', '')}.json").write_text(text + "\n")
    output = os.path.abspath(args.output)
    with open(output, "w") as f:
        f.write(text + "\n")
    print()
    print(table(result))
    print(f"\nwritten to {os.path.relpath(output, ROOT)}")


if __name__ == "__main__":
    main()
