"""The console's live stream (/live): RabbitMQ events reach the signed-in customer's browser as
server-sent events, only their own, and only with a valid credential (shared/auth.py)."""

from __future__ import annotations

import asyncio
import json
import os

import httpx
import pytest

from tests.e2e.conftest import RECORD, STATUS, order_input
from tests.stack import INGEST, customer_token, new_shop, unique

UPSERT = "mutation($i: CustomerInput!) { upsertCustomer(input: $i) { id } }"


def live_url() -> str:
    return f"http://127.0.0.1:{os.environ.get('CONSOLE_PORT', '4100')}/live"


async def next_event(lines, timeout: float = 20) -> dict:
    async def read():
        event: dict = {}
        async for line in lines:
            if line.startswith("event: "):
                event["type"] = line[7:]
            elif line.startswith("data: "):
                event["data"] = json.loads(line[6:])
            elif line == "" and event:
                return event
    return await asyncio.wait_for(read(), timeout)


async def connected(lines) -> None:
    first = await asyncio.wait_for(lines.__anext__(), 10)
    assert first == ": connected"


@pytest.mark.parametrize("headers, status", [
    ({}, 401), (INGEST, 403), ({"authorization": "Bearer forged.token.x"}, 401)])
async def test_live_needs_a_customer_or_admin_credential(stack, http, headers, status):
    response = await http.get(live_url(), headers=headers)
    assert response.status_code == status
    assert response.json()["code"] in ("UNAUTHENTICATED", "FORBIDDEN")


async def test_a_paid_order_reaches_only_its_customer_live(stack, gql):
    shop, admin = new_shop()
    anna, ben = unique("c"), unique("c")
    for cid in (anna, ben):
        await gql.ok(UPSERT, {"i": {"id": cid, "email": f"{cid}@example.com"}}, admin)
    async with httpx.AsyncClient(timeout=None) as client, \
            client.stream("GET", live_url(), headers=customer_token(anna, shop=shop)) as anna_stream, \
            client.stream("GET", live_url(), headers=customer_token(ben, shop=shop)) as ben_stream, \
            client.stream("GET", live_url(), headers=admin) as admin_stream:
        assert anna_stream.headers["content-type"].startswith("text/event-stream")
        anna_lines, ben_lines, admin_lines = (s.aiter_lines() for s in (anna_stream, ben_stream, admin_stream))
        for lines in (anna_lines, ben_lines, admin_lines):
            await connected(lines)

        order = order_input(anna)
        await gql.ok(RECORD, {"input": order}, admin)
        await gql.ok(STATUS, {"id": order["id"], "status": "PAID"}, admin)

        # Her own sign-up's first tier announcement may still come first (a busy machine: it left
        # points after her stream connected); nothing of anyone else's may.
        event = await next_event(anna_lines)
        while event["type"] == "tier.changed":
            assert event["data"]["data"]["customer_id"] == anna, event
            event = await next_event(anna_lines)
        assert event["type"] == "points.earned"
        assert event["data"]["data"] == {"customer_id": anna, "points": 45, "balance": 0, "pending": True}
        # The admin hears the whole shop: both sign-ups' first tier announcements may come first.
        seen_by_admin = await next_event(admin_lines)
        while seen_by_admin["type"] == "tier.changed":
            seen_by_admin = await next_event(admin_lines)
        assert seen_by_admin["type"] == "points.earned"
        assert seen_by_admin["data"]["data"]["customer_id"] == anna
        heard_by_ben = []
        with pytest.raises(TimeoutError):
            while True:  # his own sign-up's tier announcement may arrive; nothing of anna's may
                heard_by_ben.append(await next_event(ben_lines, timeout=1.5))
        assert all(e["data"]["data"]["customer_id"] == ben for e in heard_by_ben), heard_by_ben
