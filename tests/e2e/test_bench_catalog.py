"""The benchmarks measure the same rewards panel in every run: before any section the bench shop's
active catalog is made BENCH_CATALOG again (tests/bench/__main__.py, fixed_catalog), whatever earlier
runs or anyone else added to it. Without this the redeem section's reward of each run piled up (56
on a developer's stack in a day) and the panel every read figure measures grew run after run."""

from __future__ import annotations

from tests.bench.__main__ import ADMIN, BENCH_CATALOG, BENCH_SHOP, UPSERT_REWARD, Bench
from tests.stack import unique

PUBLIC_CATALOG = "{ rewardsCatalog { id name pointsCost } }"


async def test_the_bench_shop_shows_the_same_six_rewards_after_anything_was_added(http, gql):
    bench = Bench(http, seconds=1, concurrency=1)
    await bench.fixed_catalog()
    extra = unique("r-extra")  # what an earlier run's redeem section used to add
    await gql.ok(UPSERT_REWARD, {"input": {"id": extra, "name": "Bench voucher", "kind": "FIXED_AMOUNT",
                                           "pointsCost": 10, "value": "1.00"}}, ADMIN)
    assert await bench.fixed_catalog() >= 1
    shown = (await gql.ok(PUBLIC_CATALOG, {}, {"x-shop": BENCH_SHOP}))["rewardsCatalog"]
    assert sorted(r["id"] for r in shown) == sorted(r["id"] for r in BENCH_CATALOG) and len(shown) == 6
    assert {r["id"]: r["pointsCost"] for r in shown}["bench-voucher"] == 10
    assert await bench.fixed_catalog() == 0  # nothing more to retire: the same catalog again
