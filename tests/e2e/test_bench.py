"""`make bench` keeps working: its sections run briefly against the real stack and print their table.
(The scale seed is checked on throwaway databases: tests/integration/test_bench_scale_seed.py.)"""

from __future__ import annotations

import argparse

from tests.bench import __main__ as bench


async def test_the_bench_sections_run_and_print_a_table(stack):
    args = argparse.Namespace(seconds=1, concurrency=2, orders=4, events=20,
                              only="ledger_limit,consume,panel,readpath,floor,redeem,codes", small_only=True,
                              reseed=False, rate=10, rates="10", readpath_customers=5)
    result = await bench.run(args)
    assert result["ledger_limit"]["tx_per_s"] > 0 and result["ledger_limit"]["transactions"] > 0
    assert result["consume"]["credited"] == 20  # every event of the burst reached the ledger
    assert result["consume"]["cpu_ms_per_event"]["points"] > 0
    for part in ("gateway_full_panel", "gateway_points_part", "points_subgraph_direct"):
        assert result["panel"][part]["requests"] > 0
        assert result["panel"][part]["errors"] == 0, result["panel"][part].get("first_error")
        assert result["panel"][part]["cpu_ms_per_request"]["gateway" if part != "points_subgraph_direct"
                                                            else "points"] > 0
    assert result["panel"]["gateway_full_panel_cached"]["errors"] == 0
    mix, cold = result["readpath"]["rates"]["10"]["mix"], result["readpath"]["rates"]["10"]["cold"]
    assert (mix["all"]["requests"], mix["all"]["errors"], mix["all"]["refused"]) == (10, 0, 0), mix
    assert (cold["all"]["requests"], cold["all"]["errors"]) == (10, 0), cold
    assert cold["by"]["cache:miss"]["requests"] == 10  # every cold request executed
    assert result["readpath"]["after_overload"]["all"]["errors"] == 0
    floor = result["floor"]
    for service in ("customers", "points", "referrals", "reviews"):  # each subgraph answered and was measured
        assert floor["subgraph"][service]["errors"] == 0 and floor["subgraph"][service]["cpu_ms"] > 0
    for part in ("bare_gateway", "flywheel_cold", "flywheel_hits"):  # Hive Gateway alone served the panel too
        assert (floor[part]["all"]["errors"], floor[part]["all"]["refused"]) == (0, 0), floor[part]
        assert floor[part]["cpu_ms_per_request"]["gateway"] > 0
    assert floor["flywheel_cold"]["by"]["cache:miss"]["requests"] == floor["flywheel_cold"]["all"]["requests"]
    assert floor["flywheel_hits"]["by"].get("cache:hit", {}).get("requests", 0) > 0
    assert floor["derived"]["cold_panel_floor_ms"] > floor["derived"]["cold_panel_floor_gateway_ms"] > 0
    fixed = result["redeem"]["open_loop"]  # redeemReward at the offered rate, every call answered
    assert (fixed["requests"], fixed["errors"]) == (10, 0), fixed.get("first_error")
    assert fixed["cpu_ms_per_request"]["points"] > 0
    for call in ("check_code", "redeem_code"):  # every call answered, at the rate offered
        assert (result["codes"][call]["requests"], result["codes"][call]["errors"]) == (10, 0)
    printed = bench.table(result)
    assert "ledger tx, pgbench" in printed and "rewards panel via gateway" in printed
    assert "burst of 20 order.paid" in printed and "checkCode, 10/s offered (open loop)" in printed
    assert "read mix at 10/s, all" in printed and "cold misses at 10/s" in printed and "overload:" in printed
    assert "floor: panel via Hive Gateway alone" in printed and "redeemReward, 10/s offered (open loop)" in printed
