"""GATEWAY_RUNTIME (gateway/gateway.config.ts): Hive Router's query planner and executor (router, the
default) or Hive Gateway's own stitching runtime (stitching, to compare and fall back on). The
storefront's rewards panel, planned across four subgraphs, answers the same data under both, and the
response cache, the load shedding's slots and the subgraph hooks act under the router: a customer's
first read is a miss and stored, the next a hit, an event drops it. Any other value stops the gateway
at start. (docs/api.md's error table under both: tests/e2e/test_error_table.py; the client's operation
name on the subgraph calls: tests/e2e/test_events.py.)"""

from __future__ import annotations

import pytest

from tests.e2e.test_gateway_cache import customer, read
from tests.gateways import gateway_log, gateway_process, log_since
from tests.stack import ADMIN, ROOT, customer_token, unique
from tests.support import eventually

PANEL = (ROOT / "gateway" / "persisted" / "RewardsPanel.graphql").read_text()
ADJUST = """mutation($c: ID!, $k: String!) { adjustPoints(customerId: $c, delta: 25, reason: "runtime test",
  idempotencyKey: $k) { balance } }"""


async def test_the_router_runtime_answers_the_panel_as_the_stitching_one_and_caches_it(http, gql):
    customer_id = await customer(gql)
    token = customer_token(customer_id)
    router_log, stitching_log = log_since(gateway_log("router-runtime")), log_since(gateway_log("stitching-runtime"))
    with gateway_process("router-runtime", GATEWAY_RUNTIME="router") as router, \
            gateway_process("stitching-runtime", GATEWAY_RUNTIME="stitching") as stitching:
        assert "[gateway] runtime: router" in router_log()
        assert "[gateway] runtime: stitching" in stitching_log()
        first, first_status = await read(http, PANEL, token, url=router)
        again, again_status = await read(http, PANEL, token, url=router)
        stitched, _ = await read(http, PANEL, token, url=stitching)
        assert first == stitched
        assert (first_status, again_status) == ("miss", "hit")
        assert first["me"]["id"] == customer_id and first["me"]["loyalty"]["balance"] == 0

        await gql.ok(ADJUST, {"c": customer_id, "k": unique("runtime")}, ADMIN)

        async def adjusted():  # the points event drops the stored panel (invalidation.ts)
            data, _ = await read(http, PANEL, token, url=router)
            return data["me"]["loyalty"]["balance"] == 25
        await eventually(adjusted, timeout=10, interval=0.1, what="the router gateway to show the adjustment")


def test_an_unknown_runtime_stops_the_gateway_at_start():
    """A misspelt GATEWAY_RUNTIME is not taken for either runtime: the gateway does not start, and its
    log says what it accepts."""
    log = log_since(gateway_log("unknown-runtime"))
    with pytest.raises(RuntimeError, match="exited"):
        with gateway_process("unknown-runtime", GATEWAY_RUNTIME="rust"):
            pass
    assert 'GATEWAY_RUNTIME must be router or stitching, got \\"rust\\"' in log()  # the log escapes quotes
