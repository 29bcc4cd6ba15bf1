"""GATEWAY_RUNTIME=router (gateway/gateway.config.ts): Hive Router's query planner and executor in
place of the stitching runtime. The storefront's rewards panel, planned across four subgraphs, answers
the same data under both, and the response cache, the load shedding's slots and the subgraph hooks
still act on it: a customer's first read is a miss and stored, the next a hit, an event drops it."""

from __future__ import annotations

from tests.e2e.test_gateway_cache import customer, read
from tests.gateways import gateway_process
from tests.stack import ADMIN, ROOT, customer_token, unique
from tests.support import eventually

PANEL = (ROOT / "gateway" / "persisted" / "RewardsPanel.graphql").read_text()
ADJUST = """mutation($c: ID!, $k: String!) { adjustPoints(customerId: $c, delta: 25, reason: "runtime test",
  idempotencyKey: $k) { balance } }"""


async def test_the_router_runtime_answers_the_panel_as_the_stitching_one_and_caches_it(http, gql):
    customer_id = await customer(gql)
    token = customer_token(customer_id)
    log = ROOT / ".run" / "logs" / "gateway-router-runtime.log"
    written_before = log.stat().st_size if log.exists() else 0
    with gateway_process("router-runtime", GATEWAY_RUNTIME="router") as router:
        assert "[gateway] runtime: router" in log.read_bytes()[written_before:].decode(errors="replace")
        first, first_status = await read(http, PANEL, token, url=router)
        again, again_status = await read(http, PANEL, token, url=router)
        stitched, _ = await read(http, PANEL, token)  # the stack's own gateway: the stitching runtime
        assert first == stitched
        assert (first_status, again_status) == ("miss", "hit")
        assert first["me"]["id"] == customer_id and first["me"]["loyalty"]["balance"] == 0

        await gql.ok(ADJUST, {"c": customer_id, "k": unique("runtime")}, ADMIN)

        async def adjusted():  # the points event drops the stored panel (invalidation.ts)
            data, _ = await read(http, PANEL, token, url=router)
            return data["me"]["loyalty"]["balance"] == 25
        await eventually(adjusted, timeout=10, interval=0.1, what="the router gateway to show the adjustment")
