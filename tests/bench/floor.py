"""The floor under the read path's goals (issue 21): what the parts cost before any of Flywheel's own
work, measured in the same run as the real thing, so the goals can be held against what this machine
and this stack can do at best.

  subgraph   `{ __typename }` straight to each Python subgraph at a fixed rate: one request's fixed
             cost (HTTP, ASGI, auth, strawberry, the request's span) with no resolver and no SQL.
  gateway    the rewards panel through Hive Gateway alone (gateway/bench.config.ts: the supergraph, the
             subgraph URLs and headers; none of Flywheel's plugins, no cache, no limits), started
             beside the real one: what planning, calling five subgraphs and merging their answers
             cost in the gateway before anything of ours.
  flywheel   the same panels through the real gateway, every one a cold miss (a key never seen), and
             then answered from its cache (hits).

From these, the floor of one cold panel is the bare gateway's CPU plus the subgraph floor of each of
its five subgraph calls (points twice: its root fields, then its Customer fields). On two cores,
2000 ms / floor is the most cold panels a second the stack could serve if every resolver and every
statement were free; and one gateway process (one event loop) can take at most 1000 ms of gateway work
a second, which bounds the read mix (one request in ten a miss) by the gateway alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from tests.bench import cpu, readpath
from tests.conftest import ROOT
from tests.stack import customer_token, subgraph_url

GATEWAY = ROOT / "gateway"
SUBGRAPHS = ("customers", "points", "referrals", "reviews")
# The panel's subgraph calls (RewardsPanel's plan): customers `me`, points' root fields beside it,
# then points, referrals and reviews for the Customer's fields.
PANEL_CALLS = {"customers": 1, "points": 2, "referrals": 1, "reviews": 1}
TYPENAME = "query Floor { __typename }"
WARM_UP = 300


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def bare_gateway(log: Path) -> Iterator[tuple[str, int]]:
    """Hive Gateway with gateway/bench.config.ts on a free port: (its URL, its pid). Started through a
    shell that leaves it behind, so it is not a child of this process and the meter does not count it
    as the load generator's."""
    port = _free_port()
    command = (f"exec node_modules/.bin/hive-gateway supergraph --config-path bench.config.ts "
               f"--host 127.0.0.1 --port {port} > {log} 2>&1 & echo $!")
    pid = int(subprocess.run(["sh", "-c", command], cwd=GATEWAY, env={**os.environ, "NO_COLOR": "1"},
                             capture_output=True, text=True, check=True).stdout.strip())
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthcheck", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"the bare gateway did not start; see {log}")
            time.sleep(0.2)
        yield f"http://127.0.0.1:{port}/graphql", pid
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, 15)


async def run(customers: list[str], seconds: float, cold_rate: float = 30, hit_rate: float = 200,
              subgraph_rate: float = 100, warm_up: int = WARM_UP) -> dict:
    tokens = [customer_token(c, shop=readpath.SHOP, ttl=3600) for c in customers]
    n = len(customers)
    out: dict = {"seconds": seconds, "cold_rate": cold_rate, "hit_rate": hit_rate,
                 "subgraph_rate": subgraph_rate, "subgraph": {}}

    for service in SUBGRAPHS:
        print(f"  floor: {{ __typename }} straight to {service} at {subgraph_rate:g}/s …", flush=True)
        requests = [[0, 0, None, "typename"] for _ in range(int(subgraph_rate * seconds))]
        result = await readpath.open_loop(requests, [], subgraph_rate, url=subgraph_url(service),
                                          templates=[TYPENAME])
        out["subgraph"][service] = {"cpu_ms": result["cpu_ms_per_request"].get(service, 0.0),
                                    "p50_ms": result["all"]["p50_ms"], "errors": result["all"]["errors"]}

    def cold(run: str, count: int = int(cold_rate * seconds)) -> list[list]:
        return [[readpath.PANEL, 1 + i % n, {"visit": f"{run}-{i}"}, "panel"] for i in range(count)]

    print(f"  floor: the panel through Hive Gateway alone at {cold_rate:g}/s …", flush=True)
    with bare_gateway(ROOT / ".run" / "logs" / "bare-gateway.log") as (url, pid):
        # Node compiles what runs often only after a few hundred requests.
        await readpath.open_loop(cold("bare-warm", warm_up), tokens, 50, url=url)
        before = cpu.cpu_seconds(pid)
        bare = await readpath.open_loop(cold(f"bare-{time.time()}"), tokens, cold_rate, url=url)
        bare_gateway_ms = round((cpu.cpu_seconds(pid) - before) * 1000 / max(bare["all"]["requests"], 1), 2)
    # The meter saw the real gateway idle and not the bare one: put the bare one's CPU in its place.
    spent = bare["cpu_ms_per_request"]
    spent["total"] = round(spent["total"] - spent.get("gateway", 0.0) + bare_gateway_ms, 2)
    spent["gateway"] = bare_gateway_ms
    out["bare_gateway"] = bare

    print(f"  floor: the panel through Flywheel's gateway at {cold_rate:g}/s (misses) …", flush=True)
    # The same warm-up as the bare one's: with `--only floor` right after `make up` the real gateway
    # had served nothing, and its first few hundred misses ran before Node compiled them (13.2 ms of
    # gateway CPU a miss, then 10.6 warmed, Hive alone 8.2 and 8.8: bench/floor-warmup-2026-12-07.json).
    await readpath.open_loop(cold("flywheel-warm", warm_up), tokens, 50)
    out["flywheel_cold"] = await readpath.open_loop(cold(f"cold-{time.time()}"), tokens, cold_rate)
    print(f"  floor: the panel from Flywheel's cache at {hit_rate:g}/s (hits) …", flush=True)
    hits = [[readpath.PANEL, 1 + i % n, {"visit": "floor-hits"}, "panel"] for i in range(int(hit_rate * seconds))]
    await readpath.open_loop(hits[:n], tokens, 25)  # one entry per customer
    await asyncio.sleep(1)
    await readpath.open_loop(hits[:n], tokens, 25)  # entries an event's hold kept out are stored now
    out["flywheel_hits"] = await readpath.open_loop(hits, tokens, hit_rate)
    out["derived"] = derived(out)
    return out


def derived(out: dict) -> dict:
    """The bounds the measured floors put on issue 21's goals (two cores, one gateway process)."""
    subgraph_floor = sum(out["subgraph"][s]["cpu_ms"] * calls for s, calls in PANEL_CALLS.items())
    gateway_floor = out["bare_gateway"]["cpu_ms_per_request"]["gateway"]
    cold_floor = gateway_floor + subgraph_floor
    hit = out["flywheel_hits"]["cpu_ms_per_request"]
    cold = out["flywheel_cold"]["cpu_ms_per_request"]
    # The read mix at 500/s: one request in ten is a visit's first panel read, a miss.
    mix_gateway_ms_per_s = 50 * cold.get("gateway", 0.0) + 450 * hit.get("gateway", 0.0)
    mix_gateway_floor_ms_per_s = 50 * gateway_floor + 450 * hit.get("gateway", 0.0)
    return {
        "cold_panel_floor_ms": round(cold_floor, 2),
        "cold_panel_floor_gateway_ms": gateway_floor,
        "cold_panel_floor_subgraphs_ms": round(subgraph_floor, 2),
        "cold_panel_flywheel_ms": cold.get("total", 0.0),
        "cold_per_s_at_most_if_only_the_floor": round(2000 / cold_floor) if cold_floor else None,
        "cold_per_s_at_most_as_is": round(2000 / cold["total"]) if cold.get("total") else None,
        "hit_gateway_ms": hit.get("gateway", 0.0),
        "mix_500_gateway_ms_per_s": round(mix_gateway_ms_per_s),
        "mix_500_gateway_ms_per_s_if_only_the_floor": round(mix_gateway_floor_ms_per_s),
    }


def rows(result: dict) -> list[tuple[str, str, str, str]]:
    d = result["derived"]
    out = [(f"floor: {{ __typename }} to {s} at {result['subgraph_rate']:g}/s", f"{v['cpu_ms']} ms CPU each",
            f"{v['p50_ms']} ms", "") for s, v in result["subgraph"].items()]
    for name, key in (("Hive Gateway alone", "bare_gateway"), ("Flywheel's gateway, misses", "flywheel_cold"),
                      ("Flywheel's gateway, hits", "flywheel_hits")):
        r, spent = result[key], result[key]["cpu_ms_per_request"]
        # A hit's "in all" is within the meter's noise (Postgres backends that end mid-run drop out of it).
        in_all = f", {spent.get('total', 0)} ms in all" if key != "flywheel_hits" else ""
        out.append((f"floor: panel via {name}", f"{spent.get('gateway', 0)} ms gateway CPU{in_all}",
                    f"{r['all']['p50_ms']} ms", f"{r['all']['p99_ms']} ms"))
    out.append(("floor: one cold panel, gateway alone + 5 bare subgraph calls",
                f"{d['cold_panel_floor_ms']} ms CPU: ≤ {d['cold_per_s_at_most_if_only_the_floor']}/s on 2 cores "
                f"(as is: {d['cold_panel_flywheel_ms']} ms, ≤ {d['cold_per_s_at_most_as_is']}/s)", "", ""))
    out.append(("floor: read mix at 500/s, gateway work a second",
                f"{d['mix_500_gateway_ms_per_s']} ms as is, {d['mix_500_gateway_ms_per_s_if_only_the_floor']} ms "
                "with misses at the bare gateway's cost (one event loop: 1000)", "", ""))
    return out
