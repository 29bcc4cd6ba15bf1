"""The read path under open-loop load (issue 21): the storefront's reads through the gateway and its
response cache, offered at fixed rates by tests/bench/openloop.mjs (latency from each request's due
time), in two series per rate, then the overload row:

  mix    the realistic read mix, below. Reported whole and split by the answer's x-flywheel-cache:
         hits (answered from the cache) and misses (executed on the subgraphs).
  cold   every request a cache miss: the rewards panel of one of the customers with a key never seen
         before (a `visit` variable), so each one runs the four subgraphs. What the stack does when
         nothing is cached (after a flush, for a new customer, after an event).
  overload  cold misses at twice the highest cold rate achieved: the accepted requests' p99 and how
         fast the rest were refused (503, Retry-After).

The mix, per storefront visit of a signed-in customer (one of `customers`, drawn at random): 5 page
views, each reading the rewards panel (the widget: RewardsPanel, private to the customer), and beside
them 3 product pages (ProductReviews for one of 50 products, the popular ones more often), the rewards
catalog and tiers once (RewardsCatalog) and the active challenges once (ActiveChallenges): public
reads of the shop. 10 requests, half of them the panel. The visit's first panel read misses (a new
visit: something may have happened since the last one) and the next four hit; 50 visits are under way
at any time, their requests interleaved, so one visit's reads are 50 requests apart. The measurement
starts in that steady state: each of the first 50 visits is at a random point of itself, and what it
read before that point is sent first, unmeasured, with the public reads (they hit unless an event
dropped them). Started all at once instead, the first 50 requests would be 50 misses in half a
second at 100/s, a burst no steady storefront traffic makes.
"""

from __future__ import annotations

import asyncio
import random

from tests.bench import load
from tests.conftest import ROOT
from tests.stack import customer_token, gateway_url

PERSISTED = ROOT / "gateway" / "persisted"
RATES = (50, 100, 250, 500, 1000)
PRODUCTS = [f"bench-product-{i}" for i in range(50)]
ACTIVE_VISITS = 50
SHOP = "bench"  # the benchmarks' own shop (tests/bench/__main__.py's BENCH_SHOP)
PANEL, PRODUCT, CATALOG, CHALLENGES = 0, 1, 2, 3
LABELS = {PANEL: "panel", PRODUCT: "product", CATALOG: "catalog", CHALLENGES: "challenges"}


def read_templates() -> list[str]:
    return [(PERSISTED / f"{name}.graphql").read_text() for name in
            ("RewardsPanel", "ProductReviews", "RewardsCatalog", "ActiveChallenges")]


def product(rng: random.Random) -> str:
    return PRODUCTS[min(int(rng.paretovariate(1.2)) - 1, len(PRODUCTS) - 1)]  # a few products get most views


def mix_requests(n: int, customers: int, rng: random.Random, run: str) -> tuple[list[list], list[list]]:
    """What the visits under way read before the measurement, and then n requests of interleaved
    visits; headers index 0 is the anonymous shop, 1+c customer c."""
    def visit(number: int) -> list[list]:
        c = rng.randrange(customers)
        panel = [[PANEL, 1 + c, {"visit": f"{run}-{number}"}, LABELS[PANEL]] for _ in range(5)]
        public = [[PRODUCT, 0, {"id": product(rng), "first": 5}, LABELS[PRODUCT]] for _ in range(3)]
        public += [[CATALOG, 0, None, LABELS[CATALOG]], [CHALLENGES, 0, None, LABELS[CHALLENGES]]]
        rng.shuffle(public)
        # panel first (the page), then the page views in turn with a public read each
        return [panel[0]] + [r for pair in zip(public, panel[1:] + [None] * 5, strict=False) for r in pair if r]

    visits, before = [], []
    for number in range(ACTIVE_VISITS):
        whole = visit(number)
        done = rng.randrange(len(whole))
        before += whole[:done]
        visits.append(whole[done:])
    started, out = ACTIVE_VISITS, []
    slot = 0
    while len(out) < n:
        if not visits[slot]:
            visits[slot] = visit(started)
            started += 1
        out.append(visits[slot].pop(0))
        slot = (slot + 1) % ACTIVE_VISITS
    return before, out


def cold_requests(n: int, customers: int, run: str) -> list[list]:
    return [[PANEL, 1 + i % customers, {"visit": f"{run}-cold-{i}"}, LABELS[PANEL]] for i in range(n)]


def warm_requests() -> list[list]:
    reads = [[PRODUCT, 0, {"id": p, "first": 5}, LABELS[PRODUCT]] for p in PRODUCTS]
    return reads + [[CATALOG, 0, None, LABELS[CATALOG]], [CHALLENGES, 0, None, LABELS[CHALLENGES]]]


async def open_loop(requests: list[list], tokens: list[dict], rate: float, *, url: str | None = None,
                    templates: list[str] | None = None) -> dict:
    """To the gateway with the read path's templates unless `url` and `templates` say otherwise;
    headers index 0 is the anonymous shop, 1 + c customer c's token."""
    # Anonymous reads look at the benchmarks' shop, as the customers' tokens do (never `default`).
    return await load.open_loop(url or gateway_url(), rate, templates or read_templates(),
                                [{"x-shop": SHOP}, *tokens], requests)


async def run(customers: list[str], seconds: float, rates: tuple[int, ...] = RATES, seed: int = 21) -> dict:
    rng = random.Random(seed)
    tokens = [customer_token(c, shop=SHOP, ttl=3600) for c in customers]
    out: dict = {"customers": len(customers), "seconds": seconds, "rates": {}}
    for rate in rates:
        n = int(rate * seconds)
        print(f"  read path at {rate}/s: mix …", flush=True)
        before, requests = mix_requests(n, len(customers), rng, f"r{rate}-{rng.random()}")
        await open_loop(warm_requests() + before, tokens, 100)
        mix = await open_loop(requests, tokens, rate)
        print(f"  read path at {rate}/s: cold misses …", flush=True)
        cold = await open_loop(cold_requests(n, len(customers), f"r{rate}-{rng.random()}"), tokens, rate)
        out["rates"][str(rate)] = {"mix": mix, "cold": cold}
        await asyncio.sleep(1)  # let the queues drain between runs
    capacity = max(r["cold"]["all"]["achieved_per_s"] for r in out["rates"].values())
    overload = max(int(capacity * 2), 20)
    print(f"  read path: overload, cold misses at {overload}/s (2x {capacity}/s) …", flush=True)
    out["overload"] = {"cold_capacity_per_s": capacity,
                       **await open_loop(cold_requests(int(overload * seconds), len(customers),
                                                       f"overload-{rng.random()}"), tokens, overload)}
    # And back: the same stack right after, without a restart.
    await asyncio.sleep(2)
    out["after_overload"] = await open_loop(cold_requests(int(50 * seconds / 2), len(customers),
                                                          f"after-{rng.random()}"), tokens, 50)
    return out


def rows(result: dict) -> list[tuple[str, str, str, str]]:
    """Table rows: what, throughput (achieved of offered, errors, refused), p50, p99."""
    def line(name: str, s: dict, offered: float) -> tuple[str, str, str, str]:
        extra = "".join(f", {s[k]} {k}" for k in ("errors", "refused") if s.get(k))
        return (name, f"{s['achieved_per_s']} of {offered:g} req/s{extra}", f"{s['p50_ms']} ms", f"{s['p99_ms']} ms")

    out = []
    for rate, r in result["rates"].items():
        mix, by = r["mix"], r["mix"]["by"]
        offered = float(rate)
        out.append(line(f"read mix at {rate}/s, all", mix["all"], offered))
        for status, name in (("hit", "hits"), ("miss", "misses")):
            if (s := by.get(f"cache:{status}")) and s["requests"]:
                share = round(100 * s["requests"] / mix["all"]["requests"])
                out.append(line(f"  {name} ({share} %)", s, offered * s["requests"] / mix["all"]["requests"]))
        out.append(line(f"cold misses at {rate}/s", r["cold"]["all"], offered))
    o = result["overload"]
    s = o["all"]
    out.append((f"overload: cold misses at {o['offered_per_s']:g}/s (2x {o['cold_capacity_per_s']})",
                f"{s['achieved_per_s']} req/s accepted, {s['refused']} refused, {s['errors']} errors",
                f"{s['p50_ms']} ms", f"{s['p99_ms']} ms"))
    out.append(("  the refusals", f"{s['refused']} x 503", f"{s['refused_p50_ms']} ms", f"{s['refused_p99_ms']} ms"))
    a = result["after_overload"]["all"]
    out.append(line("cold misses at 50/s right after", a, 50))
    return out
