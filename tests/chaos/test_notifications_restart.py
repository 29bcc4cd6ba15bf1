"""A planned message survives a restart of the notifications service: it lives in Postgres (the
delivery log and its scheduled job), not in the process; it goes out once when it is due."""

from __future__ import annotations

import subprocess

import httpx
import pytest

from tests.conftest import ROOT
from tests.e2e.conftest import RECORD, order_input
from tests.e2e.notifications_support import UPDATE_FLOW, add_customer, having, log, mails
from tests.stack import GraphQL, all_ready, ensure_stack, gateway_url, new_shop
from tests.support import eventually

pytestmark = pytest.mark.chaos
STACK = str(ROOT / "infra/local/stack.sh")


async def test_a_delayed_message_planned_before_a_restart_is_sent_once_after_it():
    ensure_stack()
    async with httpx.AsyncClient(timeout=30) as client:
        gql = GraphQL(client, gateway_url())
        shop, admin = new_shop()
        await gql.ok(UPDATE_FLOW, {"input": {"key": "order_care_tips", "steps": [
            {"key": "care_tips", "delaySeconds": 6}]}}, admin)
        customer_id = await add_customer(gql, admin)
        await gql.ok(RECORD, {"input": order_input(customer_id)}, admin)

        async def planned():
            return having(await log(gql, admin, customer_id), template="care_tips", status="SCHEDULED")
        await eventually(planned, what="the planned care tips")
        subprocess.run([STACK, "restart", "notifications"], check=True)
        await eventually(all_ready, timeout=60, what="notifications ready again")

        async def sent():
            return having(await log(gql, admin, customer_id), template="care_tips", status="SENT")
        await eventually(sent, timeout=60, what="the care tips after the restart")
        got = [m for m in await mails(f"{customer_id}@example.com") if "Getting the most" in m["subject"]]
        assert len(got) == 1
